// What every loss term of MODEL.md section 7 reads (the chunk's sums and the
// per-neuron targets) and writes (its closed-form gradient coefficients), and
// the statistics that more than one term or report computes: the membrane
// ratio sd(V) / (theta - mean(V)) and the pooled ISI CV. Each is written once,
// on a generic scalar S: double in training, dual numbers in the gradient
// checks.
//
// Everything a loss needs from the dynamics is a per (trial, neuron) sum over
// the chunk: spike count, the ISI sums of the CV (with ISI lengths tau held
// constant, only the spike indicators s(t) carry a derivative), and the
// membrane moments sum v, sum v^2 over the chunk's recorded voltages
// (index t = state after step t).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace homeostat {

// hyperparameters.rate_loss: the firing-rate loss on the batch's mean rate
// ("plain"), or its unbiased form on two fixed halves of the batch ("split",
// MODEL.md section 7; with one trial the plain form is used).
enum class RateLoss { split, plain };
std::string to_string(RateLoss kind);  // the configuration's names, enum_names<RateLoss>(): "split", "plain"
// The form used with `batch` trials, for the console: "split (unbiased)", "plain", ...
std::string describe_rate_loss(RateLoss kind, std::int64_t batch);

// Per-neuron constants of the losses, lowered from the config (the part of
// LossContext the terms read).
struct LossTargets {
  std::int64_t n = 0, batch = 0, steps = 0;
  double dt = 0.1;                      // ms
  std::vector<double> rate_target;      // [N] Hz
  std::vector<double> cv_target;        // [N]
  std::vector<double> alpha;            // [N] 1/Hz
  std::vector<double> theta;            // [N] mV
  std::vector<double> ratio_target;     // [N] sd(V) / (theta - mean(V))
  double weight_ratio_target = 2.0;
  RateLoss rate_loss = RateLoss::split;  // as configured; see split_rate()

  double seconds() const { return static_cast<double>(steps) * dt / 1000.0; }  // of one trial's chunk
  // The split rate loss needs two trials: with one, the plain form is used.
  bool split_rate() const { return rate_loss == RateLoss::split && batch >= 2; }
};

// Sums of one chunk, [B * N] (trial-major).
template <class S>
struct LossSums {
  std::vector<S> spikes;        // sum_t s(t)
  std::vector<S> isi_count;     // sum_t s(t) h(t): spikes with a previous spike (the ISIs)
  std::vector<S> isi_sum;       // sum_t s(t) tau(t)     [steps]
  std::vector<S> isi_sum_sq;    // sum_t s(t) tau(t)^2   [steps^2]
  std::vector<S> v_sum;         // sum_t v(t)            [mV]
  std::vector<S> v_sum_sq;      // sum_t v(t)^2          [mV^2]
  S weight_ratio;               // mean recurrent E weight / mean feedforward weight (or of factors)
};

// The derivative of a loss with respect to the spike indicators and recorded
// voltages, in closed form:
//   dL/ds_bi(t) = spike_const[bi] + h(t) (isi_const[i] + isi_lin[i] tau + isi_sq[i] tau^2)
//   dL/dv_bi(t) = v_const[bi] + v_lin[bi] v
// and of the weight ratio. Each term adds its part.
struct LossGradient {
  std::vector<double> spike_const;             // [B*N]
  std::vector<double> isi_const, isi_lin, isi_sq;  // [N]
  std::vector<double> v_const, v_lin;          // [B*N]
  double d_weight_ratio = 0;                   // dL / d(weight ratio)
};

namespace loss_detail {
using std::exp;
using std::sqrt;
template <class S>
double value_of(const S& x) {
  if constexpr (std::is_arithmetic_v<S>) return static_cast<double>(x);
  else return x.value();
}
}  // namespace loss_detail

// Membrane statistics of one (trial, neuron) over the chunk's T steps:
// mean and population sd of v(t), gap = theta - mean.
template <class S>
struct MembraneMoments {
  S mean, sd, gap;
  S ratio() const { return sd / gap; }  // MODEL.md 7: sd / (theta - mean)
};
// How the sums become means. The loss value multiplies them by 1/T; the
// gradient and the statistics divide them by T. The two round differently in
// the last bit; each is kept as every earlier version computed it, so that
// loss values, gradients and statistics stay byte-identical across versions
// (scripts/compare_runs.sh).
enum class MeanBy { division, reciprocal };
template <class S>
MembraneMoments<S> membrane_moments(const S& v_sum, const S& v_sum_sq, std::int64_t steps, double theta,
                                    MeanBy by = MeanBy::division) {
  using namespace loss_detail;
  const double t = static_cast<double>(steps);
  const bool divide = by == MeanBy::division;
  const S mean = divide ? S(v_sum / S(t)) : S(v_sum * (1.0 / t));
  const S var = (divide ? S(v_sum_sq / S(t)) : S(v_sum_sq * (1.0 / t))) - mean * mean;
  return {mean, value_of(var) > 0 ? S(sqrt(var)) : S(0), S(theta) - mean};
}

// ISI sums of neuron i pooled over the batch's trials (MODEL.md 7: n_i ISIs,
// sum tau, sum tau^2).
template <class S>
struct PooledIsi {
  S count = S(0), sum = S(0), sum_sq = S(0);
  bool counts() const { return loss_detail::value_of(count) >= 2; }  // enters the CV loss
  // CV = sqrt(max(0, m2 / m1^2 - 1)), with m2 / m1^2 = sum_sq * count / sum^2.
  S cv() const {
    using namespace loss_detail;
    const S q = sum_sq * count / (sum * sum) - 1.0;
    return value_of(q) > 0 ? S(sqrt(q)) : S(0);
  }
};
template <class S>
PooledIsi<S> pooled_isi(const LossSums<S>& sums, std::int64_t i, std::int64_t n, std::int64_t batch) {
  PooledIsi<S> p;
  for (std::int64_t b = 0; b < batch; ++b) {
    p.count = p.count + sums.isi_count[b * n + i];
    p.sum = p.sum + sums.isi_sum[b * n + i];
    p.sum_sq = p.sum_sq + sums.isi_sum_sq[b * n + i];
  }
  return p;
}

}  // namespace homeostat
