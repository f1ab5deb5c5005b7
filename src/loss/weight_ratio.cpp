// The weight-ratio loss's ratio of MODEL.md 7 over the weights, and which
// presynaptic types count as excitatory for it.
#include "homeostat/weight_ratio.hpp"

#include <algorithm>
#include <cmath>

namespace homeostat {

namespace {
std::vector<bool> excitatory_sources(const Config& config, const std::vector<std::vector<ReceptorConfig>>& synapses) {
  double max_theta = -INFINITY;
  for (const auto& p : config.recurrent.physiology) max_theta = std::max(max_theta, p.theta);
  std::vector<bool> out;
  for (const auto& receptors : synapses) {
    bool exc = !receptors.empty();
    for (const auto& r : receptors) exc = exc && r.E_syn > max_theta;
    out.push_back(exc);
  }
  return out;
}
}  // namespace

std::vector<bool> excitatory_types(const Config& config) {
  return excitatory_sources(config, config.recurrent.synapses);
}

std::vector<bool> excitatory_input_types(const Config& config) {
  return excitatory_sources(config, config.feedforward.synapses);
}

template <class Real>
WeightRatio weight_ratio(const LoweredModel<Real>& lm, const std::vector<bool>& excitatory) {
  WeightRatio r;
  r.d_rec.assign(lm.rec_weight.size(), 0.0);
  r.d_ff.assign(lm.ff_weight.size(), 0.0);
  double sum_e = 0, sum_f = 0;
  std::int64_t n_e = 0;
  for (std::int64_t j = 0; j < lm.n; ++j) {
    if (!excitatory[lm.cell_type[j]]) continue;
    for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e) sum_e += lm.rec_weight[e];
    n_e += lm.rec_row[j + 1] - lm.rec_row[j];
  }
  for (const Real w : lm.ff_weight) sum_f += w;
  const auto n_f = static_cast<std::int64_t>(lm.ff_weight.size());
  if (n_e == 0 || n_f == 0 || sum_f <= 0) return r;  // undefined: no such edges; contributes nothing
  const double mean_e = sum_e / static_cast<double>(n_e), mean_f = sum_f / static_cast<double>(n_f);
  r.value = mean_e / mean_f;
  for (std::int64_t j = 0; j < lm.n; ++j) {
    if (!excitatory[lm.cell_type[j]]) continue;
    for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e) r.d_rec[e] = 1.0 / (static_cast<double>(n_e) * mean_f);
  }
  for (auto& d : r.d_ff) d = -mean_e / (mean_f * mean_f * static_cast<double>(n_f));
  return r;
}

template WeightRatio weight_ratio(const LoweredModel<float>&, const std::vector<bool>&);
template WeightRatio weight_ratio(const LoweredModel<double>&, const std::vector<bool>&);

}  // namespace homeostat
