// Weight-ratio loss (MODEL.md 7): (mean excitatory recurrent weight / mean
// feedforward weight - target)^2, or the same over the scaling factors.
#pragma once

#include "homeostat/loss/common.hpp"

namespace homeostat {

struct WeightRatioLoss {
  static constexpr const char* name = "weight_ratio";
  static constexpr double reference_weight = 0.01;

  template <class S>
  static S value(const LossSums<S>& sums, const LossTargets& c) {
    const S d = sums.weight_ratio - c.weight_ratio_target;
    return d * d;
  }

  static void add_gradient(const LossSums<double>& sums, const LossTargets& c, double factor, LossGradient& g) {
    g.d_weight_ratio += factor * 2.0 * (sums.weight_ratio - c.weight_ratio_target);
  }
};

}  // namespace homeostat
