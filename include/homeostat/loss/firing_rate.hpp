// Firing-rate loss (MODEL.md 7), per neuron against its type's target r*:
//   plain: mean_i (r_i - r*_i)^2 / (r*_i + 1 Hz), r_i the batch's mean rate;
//   split: mean_i (r_i^A - r*_i) (r_i^B' - r*_i) / (r*_i + 1 Hz), with the
//          trials in two fixed halves A = [0, B/2), B' = [B/2, B): the halves
//          are independent, so the expectation is (mu_i - r*_i)^2 / (r*_i + 1)
//          without the plain form's Var(r_i), and the minimum lies on the
//          target (the plain one lies ~1 / (2 T_obs) Hz below it).
#pragma once

#include "homeostat/loss/common.hpp"

namespace homeostat {

// Mean rate [Hz] of neuron i over the trials [first, last).
template <class S>
S rate_of_trials(const LossSums<S>& sums, const LossTargets& c, std::int64_t i, std::int64_t first, std::int64_t last) {
  S count = S(0);
  for (std::int64_t b = first; b < last; ++b) count = count + sums.spikes[b * c.n + i];
  return count / S(static_cast<double>(last - first) * c.seconds());
}

struct FiringRateLoss {
  static constexpr const char* name = "firing_rate";
  static constexpr double reference_weight = 1.0;

  template <class S>
  static S value(const LossSums<S>& sums, const LossTargets& c) {
    S fr = S(0);
    if (c.split_rate()) {
      const std::int64_t half = c.batch / 2;
      for (std::int64_t i = 0; i < c.n; ++i) {
        const S a = rate_of_trials(sums, c, i, 0, half) - c.rate_target[i];
        const S b = rate_of_trials(sums, c, i, half, c.batch) - c.rate_target[i];
        fr = fr + a * b * (1.0 / (c.rate_target[i] + 1.0));
      }
      return fr * (1.0 / static_cast<double>(c.n));
    }
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

  // dL/ds_bi(t) is constant over the chunk: plain 2 (r_i - r*) / ((r* + 1) N B seconds);
  // split, for b in A: (r_i^B' - r*) / ((r* + 1) N |A| seconds), and symmetrically.
  static void add_gradient(const LossSums<double>& sums, const LossTargets& c, double factor, LossGradient& g) {
    const std::int64_t n = c.n, batch = c.batch;
    const double seconds = c.seconds();
    if (c.split_rate()) {
      const std::int64_t half = batch / 2;
      for (std::int64_t i = 0; i < n; ++i) {
        const double scale = factor / ((c.rate_target[i] + 1.0) * static_cast<double>(n));
        const double to_a = scale * (rate_of_trials(sums, c, i, half, batch) - c.rate_target[i]) /
                            (static_cast<double>(half) * seconds);
        const double to_b = scale * (rate_of_trials(sums, c, i, 0, half) - c.rate_target[i]) /
                            (static_cast<double>(batch - half) * seconds);
        for (std::int64_t b = 0; b < batch; ++b) g.spike_const[b * n + i] += b < half ? to_a : to_b;
      }
      return;
    }
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
