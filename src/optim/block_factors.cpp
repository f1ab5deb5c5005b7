// The chain rule from per-edge gradients to block scaling factors, and the
// weight ratio over the factors (MODEL.md 6-7, scaling-factor modes).
#include "homeostat/optim.hpp"

namespace homeostat {

template <class Real>
BlockGradient block_gradient(const LoweredModel<Real>& lm, const std::vector<double>& d_rec,
                             const std::vector<double>& d_ff) {
  const auto nt = static_cast<std::int64_t>(lm.rec_first.size());
  const auto ni = static_cast<std::int64_t>(lm.ff_first.size());
  BlockGradient g;
  g.rec.assign(nt * nt, 0.0);
  g.ff.assign(ni * nt, 0.0);
  for (std::int64_t j = 0; j < lm.n; ++j)
    for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e)
      g.rec[lm.cell_type[j] * nt + lm.cell_type[lm.rec_post[e]]] += lm.rec_weight[e] * d_rec[e];
  for (std::int64_t j = 0; j < lm.m; ++j)
    for (std::int64_t e = lm.ff_row[j]; e < lm.ff_row[j + 1]; ++e)
      g.ff[lm.input_type[j] * nt + lm.cell_type[lm.ff_post[e]]] += lm.ff_weight[e] * d_ff[e];
  return g;
}

FactorRatio factor_ratio(const std::vector<double>& f_rec, const std::vector<double>& f_ff,
                         const std::vector<bool>& excitatory, std::int64_t nt) {
  FactorRatio r;
  r.d_log.rec.assign(f_rec.size(), 0.0);
  r.d_log.ff.assign(f_ff.size(), 0.0);
  double sum_e = 0, sum_f = 0;
  std::int64_t n_e = 0;
  for (std::int64_t a = 0; a < nt; ++a)
    if (excitatory[a])
      for (std::int64_t b = 0; b < nt; ++b, ++n_e) sum_e += f_rec[a * nt + b];
  for (const double f : f_ff) sum_f += f;
  if (n_e == 0 || f_ff.empty() || sum_f <= 0) return r;
  const double mean_e = sum_e / static_cast<double>(n_e);
  const double mean_f = sum_f / static_cast<double>(f_ff.size());
  r.value = mean_e / mean_f;
  // d/d ln f = f d/df
  for (std::int64_t a = 0; a < nt; ++a)
    if (excitatory[a])
      for (std::int64_t b = 0; b < nt; ++b)
        r.d_log.rec[a * nt + b] = f_rec[a * nt + b] / (static_cast<double>(n_e) * mean_f);
  for (std::size_t k = 0; k < f_ff.size(); ++k)
    r.d_log.ff[k] = -f_ff[k] * mean_e / (mean_f * mean_f * static_cast<double>(f_ff.size()));
  return r;
}


template BlockGradient block_gradient(const LoweredModel<float>&, const std::vector<double>&,
                                      const std::vector<double>&);
template BlockGradient block_gradient(const LoweredModel<double>&, const std::vector<double>&,
                                      const std::vector<double>&);

}  // namespace homeostat
