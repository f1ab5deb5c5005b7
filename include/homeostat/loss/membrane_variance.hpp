// Membrane variance loss (MODEL.md 7): mean_{b,i} (sd_bi / (theta_i - mean_bi) - rho*_i)^2,
// mean and sd of v_bi(t) over the chunk.
#pragma once

#include "homeostat/loss/common.hpp"

namespace homeostat {

struct MembraneVarianceLoss {
  static constexpr const char* name = "membrane_variance";
  static constexpr double reference_weight = 0.1;

  template <class S>
  static S value(const LossSums<S>& sums, const LossTargets& c) {
    S mv = S(0);
    for (std::int64_t i = 0; i < c.n; ++i)
      for (std::int64_t b = 0; b < c.batch; ++b) {
        const std::int64_t bi = b * c.n + i;
        const MembraneMoments<S> m =
            membrane_moments(sums.v_sum[bi], sums.v_sum_sq[bi], c.steps, c.theta[i], MeanBy::reciprocal);
        const S d = m.ratio() - c.ratio_target[i];
        mv = mv + d * d;
      }
    return mv * (1.0 / static_cast<double>(c.n * c.batch));
  }

  // d rho / d v(t) = (v - mean) / (T sd gap) + sd / (T gap^2); none where sd = 0.
  static void add_gradient(const LossSums<double>& sums, const LossTargets& c, double factor, LossGradient& g) {
    const double steps = static_cast<double>(c.steps), nb = static_cast<double>(c.n * c.batch);
    for (std::int64_t i = 0; i < c.n; ++i)
      for (std::int64_t b = 0; b < c.batch; ++b) {
        const std::int64_t bi = b * c.n + i;
        const MembraneMoments<double> m = membrane_moments(sums.v_sum[bi], sums.v_sum_sq[bi], c.steps, c.theta[i]);
        if (!(m.sd > 0)) continue;
        const double k = factor * 2.0 * (m.ratio() - c.ratio_target[i]) / nb;
        g.v_lin[bi] += k / (steps * m.sd * m.gap);
        g.v_const[bi] += k * (-m.mean / (steps * m.sd * m.gap) + m.sd / (steps * m.gap * m.gap));
      }
  }
};

}  // namespace homeostat
