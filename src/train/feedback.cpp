#include "homeostat/feedback.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace homeostat {

double observed_seconds(const Config& c) {
  return static_cast<double>(c.training.batch_size * c.simulation.chunk_size) * c.simulation.dt / 1000.0;
}

ScalingStep scaling_step(const FeedbackConfig& f, double observed_seconds) {
  if (f.rule == FeedbackRule::ema) return {f.eta_excitatory, f.eta_inhibitory, f.tau_avg};
  const double eta = std::min(observed_seconds / f.tau_homeostatic, f.max_step);
  return {eta, eta, 1.0};
}

void update_rate_estimate(std::vector<double>& estimate, const std::vector<double>& rate, double tau_avg) {
  if (estimate.empty()) {
    estimate = rate;
    return;
  }
  if (estimate.size() != rate.size()) throw std::invalid_argument("rate estimate and rates differ in size");
  for (std::size_t i = 0; i < rate.size(); ++i) estimate[i] += (rate[i] - estimate[i]) / tau_avg;
}

ScalingFactors scaling_factors(const FeedbackConfig& f, const ScalingStep& step, const std::vector<double>& rate,
                               const std::vector<double>& target, const std::vector<std::int32_t>& cell_type,
                               std::int64_t n_types) {
  const std::size_t n = rate.size();
  std::vector<double> r = rate;
  if (f.granularity == Granularity::cell_type) {
    std::vector<double> sum(n_types, 0.0), count(n_types, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      sum[cell_type[i]] += rate[i];
      count[cell_type[i]] += 1;
    }
    for (std::size_t i = 0; i < n; ++i) r[i] = sum[cell_type[i]] / count[cell_type[i]];
  }
  ScalingFactors out;
  out.excitatory.resize(n);
  out.inhibitory.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double error = (target[i] - r[i]) / target[i];
    out.excitatory[i] = std::clamp(1.0 + step.eta_excitatory * error, f.min_factor, f.max_factor);
    out.inhibitory[i] = std::clamp(1.0 - step.eta_inhibitory * error, f.min_factor, f.max_factor);
  }
  return out;
}

void apply_scaling(std::vector<double>& log_weights, const LoweredModel<float>& model,
                   const std::vector<bool>& excitatory, const std::vector<bool>& excitatory_inputs,
                   const ScalingFactors& factors) {
  const std::size_t e_rec = model.rec_post.size(), e_ff = model.ff_post.size();
  if (log_weights.size() != e_rec + e_ff) throw std::invalid_argument("apply_scaling: not one log-weight per edge");
  std::vector<double> log_e(factors.excitatory.size()), log_i(factors.inhibitory.size());
  for (std::size_t i = 0; i < log_e.size(); ++i) {
    log_e[i] = std::log(factors.excitatory[i]);
    log_i[i] = std::log(factors.inhibitory[i]);
  }
  for (std::int64_t pre = 0; pre < model.n; ++pre) {
    const std::vector<double>& by_post = excitatory[model.cell_type[pre]] ? log_e : log_i;
    for (std::int64_t e = model.rec_row[pre]; e < model.rec_row[pre + 1]; ++e) log_weights[e] += by_post[model.rec_post[e]];
  }
  for (std::int64_t pre = 0; pre < model.m; ++pre) {
    const std::vector<double>& by_post = excitatory_inputs[model.input_type[pre]] ? log_e : log_i;
    for (std::int64_t e = model.ff_row[pre]; e < model.ff_row[pre + 1]; ++e)
      log_weights[e_rec + e] += by_post[model.ff_post[e]];
  }
}

}  // namespace homeostat
