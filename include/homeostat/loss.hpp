// The five homeostatic losses of MODEL.md section 7, per chunk of T steps and
// B trials, written once on a generic scalar so that the same code evaluates
// them in double (training) and on dual numbers (the gradient checks).
//
// Everything a loss needs from the dynamics is a per (trial, neuron) sum over
// the chunk: spike count, the ISI sums of the CV (with ISI lengths tau held
// constant, only the spike indicators s(t) carry a derivative), and the
// membrane moments sum v, sum v^2 over the chunk's recorded voltages
// (index t = state after step t).
#pragma once

#include "homeostat/config.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace homeostat {

enum class LossTerm { firing_rate, cv, silent_penalty, membrane_variance, weight_ratio };
inline constexpr LossTerm all_loss_terms[] = {LossTerm::firing_rate, LossTerm::cv, LossTerm::silent_penalty,
                                              LossTerm::membrane_variance, LossTerm::weight_ratio};
std::string to_string(LossTerm term);  // "firing_rate", ...
LossTerm parse_loss_term(const std::string& name);  // throws std::invalid_argument

// Per-neuron constants of the losses, lowered from the config.
struct LossContext {
  std::int64_t n = 0, batch = 0, steps = 0;
  double dt = 0.1;                      // ms
  std::vector<double> rate_target;      // [N] Hz
  std::vector<double> cv_target;        // [N]
  std::vector<double> alpha;            // [N] 1/Hz
  std::vector<double> theta;            // [N] mV
  std::vector<double> ratio_target;     // [N] sd(V) / (theta - mean(V))
  double weight_ratio_target = 2.0;
  double weights[5] = {1, 0.5, 0.1, 0.1, 0.01};  // by LossTerm
  double scale = 1.0;                   // 1 / chunks_per_update
};
LossContext loss_context(const Config& config, const std::vector<std::int32_t>& cell_type, std::int64_t batch,
                         std::int64_t steps);

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

template <class S>
struct LossValues {
  S term[5] = {};  // by LossTerm, unweighted
  S total = {};    // scale * sum_k weight_k term_k
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

// MODEL.md 7. CV: neurons with at least two ISIs in the chunk (pooled over
// trials) count; CV = sqrt(max(0, m2/m1^2 - 1)) with m1, m2 the ISI moments.
template <class S>
LossValues<S> evaluate_losses(const LossSums<S>& sums, const LossContext& c) {
  using namespace loss_detail;
  LossValues<S> out;
  const double seconds = static_cast<double>(c.steps) * c.dt / 1000.0;
  const auto n = c.n, batch = c.batch;
  S fr = S(0), sp = S(0), mv = S(0), cv = S(0);
  std::int64_t cv_neurons = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    S rate = S(0), isi_n = S(0), isi_1 = S(0), isi_2 = S(0);
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t bi = b * n + i;
      const S r_bi = sums.spikes[bi] * (1.0 / seconds);
      rate = rate + r_bi;
      sp = sp + exp(r_bi * (-c.alpha[i]));
      isi_n = isi_n + sums.isi_count[bi];
      isi_1 = isi_1 + sums.isi_sum[bi];
      isi_2 = isi_2 + sums.isi_sum_sq[bi];
      const S mean = sums.v_sum[bi] * (1.0 / static_cast<double>(c.steps));
      S var = sums.v_sum_sq[bi] * (1.0 / static_cast<double>(c.steps)) - mean * mean;
      const S sd = value_of(var) > 0 ? sqrt(var) : S(0);
      const S ratio = sd / (S(c.theta[i]) - mean) - c.ratio_target[i];
      mv = mv + ratio * ratio;
    }
    rate = rate * (1.0 / static_cast<double>(batch));
    const S dr = rate - c.rate_target[i];
    fr = fr + dr * dr * (1.0 / (c.rate_target[i] + 1.0));
    if (value_of(isi_n) >= 2) {
      ++cv_neurons;
      // m2 / m1^2 = isi_2 * isi_n / isi_1^2
      const S q = isi_2 * isi_n / (isi_1 * isi_1) - 1.0;
      const S cv_i = value_of(q) > 0 ? sqrt(q) : S(0);
      const S dc = cv_i - c.cv_target[i];
      cv = cv + dc * dc;
    }
  }
  const double nb = static_cast<double>(n * batch);
  out.term[0] = fr * (1.0 / static_cast<double>(n));
  out.term[1] = cv_neurons > 0 ? cv * (1.0 / static_cast<double>(cv_neurons)) : S(0);
  out.term[2] = sp * (1.0 / nb);
  out.term[3] = mv * (1.0 / nb);
  const S dw = sums.weight_ratio - c.weight_ratio_target;
  out.term[4] = dw * dw;
  out.total = S(0);
  for (int k = 0; k < 5; ++k) out.total = out.total + out.term[k] * (c.weights[k] * c.scale);
  return out;
}

// The derivative of the weighted total with respect to the spike indicators
// and recorded voltages, in closed form:
//   dL/ds_bi(t) = spike_const[bi] + h(t) (isi_const[i] + isi_lin[i] tau + isi_sq[i] tau^2)
//   dL/dv_bi(t) = v_const[bi] + v_lin[bi] v
// and of the weight ratio. `only` restricts to one term (nullptr: all, weighted).
struct LossGradient {
  std::vector<double> spike_const;             // [B*N]
  std::vector<double> isi_const, isi_lin, isi_sq;  // [N]
  std::vector<double> v_const, v_lin;          // [B*N]
  double d_weight_ratio = 0;                   // dL / d(weight ratio)
};
LossGradient loss_gradient(const LossSums<double>& sums, const LossContext& c, const LossTerm* only = nullptr);

}  // namespace homeostat
