// CV loss (MODEL.md 7): mean_i (CV_i - CV*_i)^2 over the neurons with at least
// two ISIs in the chunk, pooled over trials. The gradient flows through the
// spike indicators with the ISI lengths tau held constant.
#pragma once

#include "homeostat/loss/common.hpp"

namespace homeostat {

struct CvLoss {
  static constexpr const char* name = "cv";
  static constexpr double reference_weight = 0.5;

  template <class S>
  static S value(const LossSums<S>& sums, const LossTargets& c) {
    S cv = S(0);
    std::int64_t counted = 0;
    for (std::int64_t i = 0; i < c.n; ++i) {
      const PooledIsi<S> isi = pooled_isi(sums, i, c.n, c.batch);
      if (!isi.counts()) continue;
      ++counted;
      const S dc = isi.cv() - c.cv_target[i];
      cv = cv + dc * dc;
    }
    return counted > 0 ? S(cv * (1.0 / static_cast<double>(counted))) : S(0);
  }

  // With A = count, S1 = sum tau, S2 = sum tau^2 and q = S2 A / S1^2 (CV^2 + 1):
  // dq/ds(t) = h(t) (tau^2 A / S1^2 + S2 / S1^2 - 2 S2 A tau / S1^3). The set
  // of neurons that count is fixed by the values.
  static void add_gradient(const LossSums<double>& sums, const LossTargets& c, double factor, LossGradient& g) {
    std::vector<PooledIsi<double>> isi;
    std::int64_t counted = 0;
    for (std::int64_t i = 0; i < c.n; ++i) {
      isi.push_back(pooled_isi(sums, i, c.n, c.batch));
      counted += isi.back().counts();
    }
    for (std::int64_t i = 0; i < c.n; ++i) {
      if (!isi[i].counts()) continue;
      const double cv = isi[i].cv();
      if (!(cv > 0)) continue;
      const double a = isi[i].count, s1 = isi[i].sum, s2 = isi[i].sum_sq;
      const double k = factor * (cv - c.cv_target[i]) / (static_cast<double>(counted) * cv);
      g.isi_const[i] += k * s2 / (s1 * s1);
      g.isi_lin[i] += -2.0 * k * s2 * a / (s1 * s1 * s1);
      g.isi_sq[i] += k * a / (s1 * s1);
    }
  }
};

}  // namespace homeostat
