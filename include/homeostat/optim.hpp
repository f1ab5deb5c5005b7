// Optimisation of the trainable parameters (MODEL.md 6): their mapping to
// synaptic weights, global-norm gradient clipping and Adam.
//
// Parameters are logarithms (ln w per edge, or ln f per block), so weights
// stay positive and absent edges stay absent: the connectome is a hard
// constraint. Everything here is double precision and sequential, so a run
// is bit-identical whatever the thread count.
#pragma once

#include "homeostat/grad.hpp"

#include <cstdint>
#include <vector>

namespace homeostat {

// dL/d ln f for every block factor, from dL/dw per edge: with w = f w_base,
// dL/d ln f_ab = sum over the block's edges of w dL/dw.
struct BlockGradient {
  std::vector<double> rec;  // [T_rec][T_rec] (pre type, post type)
  std::vector<double> ff;   // [T_in][T_rec]
};
template <class Real>
BlockGradient block_gradient(const LoweredModel<Real>& model, const std::vector<double>& d_rec,
                             const std::vector<double>& d_ff);

// The weight ratio of MODEL.md 7 in scaling-factor mode: mean of the factors
// of recurrent blocks from excitatory types / mean of the feedforward factors,
// and its derivative with respect to every ln f.
struct FactorRatio {
  double value = 0;
  BlockGradient d_log;
};
FactorRatio factor_ratio(const std::vector<double>& f_rec, const std::vector<double>& f_ff,
                         const std::vector<bool>& excitatory, std::int64_t n_rec_types);

// The flat parameter vector of one `optimisable` mode and the weights it sets.
//   weights:                      [E_rec] ln w, then [E_ff] ln w (CSR order)
//   scaling_factors:              [T_rec * T_rec] ln f, then [T_in * T_rec] ln f
//   scaling_factors_recurrent:    [T_rec * T_rec] ln f
//   scaling_factors_feedforward:  [T_in * T_rec] ln f
// In the scaling modes every edge of block (pre type a, post type b) has
// w = f_ab w_base; the factors start at 1.
class Parameters {
 public:
  template <class Real>
  Parameters(Optimisable mode, const LoweredModel<Real>& base);

  Optimisable mode() const { return mode_; }
  std::vector<double>& values() { return values_; }
  const std::vector<double>& values() const { return values_; }

  // Writes the weights these parameters stand for into `model`.
  template <class Real>
  void apply(LoweredModel<Real>& model) const;

  // The weight ratio of MODEL.md 7 for this mode (over weights or factors),
  // and its gradient with respect to the parameters.
  template <class Real>
  WeightRatio weight_ratio_of(const LoweredModel<Real>& model, const std::vector<bool>& excitatory) const;

  // dL/d(parameters) from one set of a chunk's dL/dw (`set` 0 = weighted
  // total): the chain rule through w = exp(theta) or w = f w_base, plus the
  // weight-ratio term in the scaling modes (in `weights` mode chunk_gradient
  // already includes it).
  template <class Real>
  std::vector<double> gradient(const LoweredModel<Real>& model, const ChunkGradient& g, std::size_t set,
                               const std::vector<bool>& excitatory) const;

 private:
  Optimisable mode_;
  std::int64_t n_rec_types_ = 0, n_in_types_ = 0;
  std::vector<double> base_rec_, base_ff_;  // [E] weights at construction (scaling modes)
  std::vector<double> values_;
  std::vector<double> factors_rec() const;  // [T_rec^2] (1 where not trained)
  std::vector<double> factors_ff() const;   // [T_in T_rec]
};

// Scales `grad` so that its Euclidean norm is at most `max_norm`; returns the
// norm before clipping.
double clip_global_norm(std::vector<double>& grad, double max_norm);

// Adam (Kingma & Ba 2015) with bias correction, as torch.optim.Adam with
// default betas and epsilon: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
// The Adam step size for the chunk that follows `chunks_done` chunks:
// lr_0 (f + (1 - f) 2^(-chunks_done / half_life)) with f = final_fraction,
// lr_0 throughout for half_life 0. It depends on the chunk alone, not on how
// many a run plans, so a resumed or extended run steps as the planned run does.
double scheduled_learning_rate(double lr_0, double final_fraction, double half_life, std::int64_t chunks_done);

struct Adam {
  double learning_rate = 5e-4;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  std::vector<double> m, v;  // first and second moments, [parameters]
  std::int64_t step = 0;

  void update(std::vector<double>& params, const std::vector<double>& grad);
};

}  // namespace homeostat
