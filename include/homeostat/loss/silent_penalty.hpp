// Silent penalty (MODEL.md 7): mean_{b,i} exp(-alpha_i r_bi), pushing silent
// neuron-trials to fire.
#pragma once

#include "homeostat/loss/common.hpp"

namespace homeostat {

struct SilentPenaltyLoss {
  static constexpr const char* name = "silent_penalty";
  static constexpr double reference_weight = 0.1;

  template <class S>
  static S value(const LossSums<S>& sums, const LossTargets& c) {
    using loss_detail::exp;
    const double seconds = c.seconds();
    S sp = S(0);
    for (std::int64_t i = 0; i < c.n; ++i)
      for (std::int64_t b = 0; b < c.batch; ++b) {
        const S r_bi = sums.spikes[b * c.n + i] * (1.0 / seconds);
        sp = sp + exp(r_bi * (-c.alpha[i]));
      }
    return sp * (1.0 / static_cast<double>(c.n * c.batch));
  }

  static void add_gradient(const LossSums<double>& sums, const LossTargets& c, double factor, LossGradient& g) {
    const double seconds = c.seconds(), nb = static_cast<double>(c.n * c.batch);
    for (std::int64_t i = 0; i < c.n; ++i)
      for (std::int64_t b = 0; b < c.batch; ++b) {
        const std::int64_t bi = b * c.n + i;
        const double r_bi = sums.spikes[bi] / seconds;
        g.spike_const[bi] += factor * (-c.alpha[i]) * std::exp(-c.alpha[i] * r_bi) / (nb * seconds);
      }
  }
};

}  // namespace homeostat
