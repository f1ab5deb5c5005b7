#include "homeostat/optim.hpp"

#include <cmath>
#include <stdexcept>

namespace homeostat {

template <class Real>
Parameters::Parameters(Optimisable mode, const LoweredModel<Real>& base)
    : mode_(mode),
      n_rec_types_(static_cast<std::int64_t>(base.rec_first.size())),
      n_in_types_(static_cast<std::int64_t>(base.ff_first.size())),
      base_rec_(base.rec_weight.begin(), base.rec_weight.end()),
      base_ff_(base.ff_weight.begin(), base.ff_weight.end()) {
  if (mode == Optimisable::weights) {
    for (const double w : base_rec_) values_.push_back(std::log(w));
    for (const double w : base_ff_) values_.push_back(std::log(w));
    return;
  }
  // ln f = 0: the factors start at 1, i.e. at the network as generated.
  if (trains_recurrent_factors(mode)) values_.resize(values_.size() + n_rec_types_ * n_rec_types_, 0.0);
  if (trains_feedforward_factors(mode)) values_.resize(values_.size() + n_in_types_ * n_rec_types_, 0.0);
}

std::vector<double> Parameters::factors_rec() const {
  std::vector<double> f(n_rec_types_ * n_rec_types_, 1.0);
  if (trains_recurrent_factors(mode_))
    for (std::size_t k = 0; k < f.size(); ++k) f[k] = std::exp(values_[k]);
  return f;
}

std::vector<double> Parameters::factors_ff() const {
  std::vector<double> f(n_in_types_ * n_rec_types_, 1.0);
  if (trains_feedforward_factors(mode_)) {
    const std::size_t offset = trains_recurrent_factors(mode_) ? n_rec_types_ * n_rec_types_ : 0;
    for (std::size_t k = 0; k < f.size(); ++k) f[k] = std::exp(values_[offset + k]);
  }
  return f;
}

template <class Real>
void Parameters::apply(LoweredModel<Real>& model) const {
  const std::size_t e_rec = model.rec_weight.size();
  if (mode_ == Optimisable::weights) {
    for (std::size_t e = 0; e < e_rec; ++e) model.rec_weight[e] = static_cast<Real>(std::exp(values_[e]));
    for (std::size_t e = 0; e < model.ff_weight.size(); ++e)
      model.ff_weight[e] = static_cast<Real>(std::exp(values_[e_rec + e]));
    return;
  }
  const auto f_rec = factors_rec(), f_ff = factors_ff();
  const std::int64_t nt = n_rec_types_;
  for (std::int64_t j = 0; j < model.n; ++j)
    for (std::int64_t e = model.rec_row[j]; e < model.rec_row[j + 1]; ++e)
      model.rec_weight[e] =
          static_cast<Real>(f_rec[model.cell_type[j] * nt + model.cell_type[model.rec_post[e]]] * base_rec_[e]);
  for (std::int64_t j = 0; j < model.m; ++j)
    for (std::int64_t e = model.ff_row[j]; e < model.ff_row[j + 1]; ++e)
      model.ff_weight[e] =
          static_cast<Real>(f_ff[model.input_type[j] * nt + model.cell_type[model.ff_post[e]]] * base_ff_[e]);
}

template <class Real>
WeightRatio Parameters::weight_ratio_of(const LoweredModel<Real>& model, const std::vector<bool>& excitatory) const {
  if (mode_ == Optimisable::weights) return weight_ratio(model, excitatory);
  WeightRatio r;  // over the factors: no per-edge term
  r.value = factor_ratio(factors_rec(), factors_ff(), excitatory, n_rec_types_).value;
  return r;
}

template <class Real>
std::vector<double> Parameters::gradient(const LoweredModel<Real>& model, const ChunkGradient& g, std::size_t set,
                                         const std::vector<bool>& excitatory) const {
  std::vector<double> out;
  out.reserve(values_.size());
  if (mode_ == Optimisable::weights) {
    // dL/d ln w = w dL/dw
    for (std::size_t e = 0; e < model.rec_weight.size(); ++e) out.push_back(model.rec_weight[e] * g.d_rec[set][e]);
    for (std::size_t e = 0; e < model.ff_weight.size(); ++e) out.push_back(model.ff_weight[e] * g.d_ff[set][e]);
    return out;
  }
  BlockGradient blocks = block_gradient(model, g.d_rec[set], g.d_ff[set]);
  const FactorRatio ratio = factor_ratio(factors_rec(), factors_ff(), excitatory, n_rec_types_);
  if (trains_recurrent_factors(mode_))
    for (std::size_t k = 0; k < blocks.rec.size(); ++k)
      out.push_back(blocks.rec[k] + g.d_weight_ratio[set] * ratio.d_log.rec[k]);
  if (trains_feedforward_factors(mode_))
    for (std::size_t k = 0; k < blocks.ff.size(); ++k)
      out.push_back(blocks.ff[k] + g.d_weight_ratio[set] * ratio.d_log.ff[k]);
  return out;
}

double clip_global_norm(std::vector<double>& grad, double max_norm) {
  double sum = 0;
  for (const double x : grad) sum += x * x;
  const double norm = std::sqrt(sum);
  // As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when below 1.
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (double& x : grad) x *= coef;
  return norm;
}

double scheduled_learning_rate(double lr_0, double final_fraction, double half_life, std::int64_t chunks_done) {
  if (half_life == 0) return lr_0;
  return lr_0 * (final_fraction + (1 - final_fraction) * std::exp2(-static_cast<double>(chunks_done) / half_life));
}

void Adam::update(std::vector<double>& params, const std::vector<double>& grad) {
  if (grad.size() != params.size()) throw std::invalid_argument("Adam: gradient and parameters differ in size");
  if (m.empty()) {
    m.assign(params.size(), 0.0);
    v.assign(params.size(), 0.0);
  }
  ++step;
  const double c1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double c2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  for (std::size_t k = 0; k < params.size(); ++k) {
    m[k] = beta1 * m[k] + (1.0 - beta1) * grad[k];
    v[k] = beta2 * v[k] + (1.0 - beta2) * grad[k] * grad[k];
    params[k] -= learning_rate * (m[k] / c1) / (std::sqrt(v[k] / c2) + epsilon);
  }
}

template Parameters::Parameters(Optimisable, const LoweredModel<float>&);
template Parameters::Parameters(Optimisable, const LoweredModel<double>&);
template void Parameters::apply(LoweredModel<float>&) const;
template void Parameters::apply(LoweredModel<double>&) const;
template WeightRatio Parameters::weight_ratio_of(const LoweredModel<float>&, const std::vector<bool>&) const;
template WeightRatio Parameters::weight_ratio_of(const LoweredModel<double>&, const std::vector<bool>&) const;
template std::vector<double> Parameters::gradient(const LoweredModel<float>&, const ChunkGradient&, std::size_t,
                                                  const std::vector<bool>&) const;
template std::vector<double> Parameters::gradient(const LoweredModel<double>&, const ChunkGradient&, std::size_t,
                                                  const std::vector<bool>&) const;

}  // namespace homeostat
