// Firing-rate loss (MODEL.md 7), per neuron against its type's target r*:
// mean_i (r_i - r*_i)^2 / (r*_i + 1 Hz), r_i the batch's mean rate.
#pragma once

#include "homeostat/loss/common.hpp"

namespace homeostat {

struct FiringRateLoss {
  static constexpr const char* name = "firing_rate";
  static constexpr double reference_weight = 1.0;

  template <class S>
  static S value(const LossSums<S>& sums, const LossTargets& c) {
    S fr = S(0);
    const double seconds = c.seconds();
    for (std::int64_t i = 0; i < c.n; ++i) {
      S rate = S(0);
      for (std::int64_t b = 0; b < c.batch; ++b) rate = rate + sums.spikes[b * c.n + i] * (1.0 / seconds);
      rate = rate * (1.0 / static_cast<double>(c.batch));
      const S dr = rate - c.rate_target[i];
      fr = fr + dr * dr * (1.0 / (c.rate_target[i] + 1.0));
    }
    return fr * (1.0 / static_cast<double>(c.n));
  }

  // dL/ds_bi(t) is constant over the chunk: 2 (r_i - r*) / ((r* + 1) N B seconds).
  static void add_gradient(const LossSums<double>& sums, const LossTargets& c, double factor, LossGradient& g) {
    const std::int64_t n = c.n, batch = c.batch;
    const double seconds = c.seconds();
    for (std::int64_t i = 0; i < n; ++i) {
      double rate = 0;
      for (std::int64_t b = 0; b < batch; ++b) rate += sums.spikes[b * n + i] / seconds;
      rate /= static_cast<double>(batch);
      const double d = factor * 2.0 * (rate - c.rate_target[i]) / (c.rate_target[i] + 1.0) /
                       (static_cast<double>(n) * static_cast<double>(batch) * seconds);
      for (std::int64_t b = 0; b < batch; ++b) g.spike_const[b * n + i] += d;
    }
  }
};

}  // namespace homeostat
