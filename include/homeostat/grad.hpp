// Exact surrogate-gradient BPTT through the forward dynamics of one chunk
// (MODEL.md 5-7): a hand-written adjoint of the forward engine, not a tape.
//
// Memory is bounded independently of the chunk length: the forward pass keeps
// the state every K steps (checkpoints); the backward pass recomputes one
// K-step segment at a time and walks it in reverse. See src/grad/bptt.md.
#pragma once

#include "homeostat/loss.hpp"
#include "homeostat/model.hpp"
#include "homeostat/sim.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace homeostat {

// Presynaptic recurrent types that count as excitatory for the weight-ratio
// loss: every receptor of the type reverses above every threshold (it can
// drive any neuron past threshold).
std::vector<bool> excitatory_types(const Config& config);
// The same for the input (feedforward) types.
std::vector<bool> excitatory_input_types(const Config& config);

// Weight ratio of MODEL.md 7 in `weights` mode: mean weight of recurrent edges
// from excitatory types / mean feedforward weight.
struct WeightRatio {
  double value = 0;
  std::vector<double> d_rec;  // [E_rec] d value / d w
  std::vector<double> d_ff;   // [E_ff]
};
template <class Real>
WeightRatio weight_ratio(const LoweredModel<Real>& model, const std::vector<bool>& excitatory);

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

struct GradientOptions {
  double surrogate_scale = 200.0;     // lambda of ds/dv = 1 / (lambda |v - theta| + 1)^2 [1/mV]
  // Sparse backward (off at 0; an approximation, after Perez-Nieves &
  // Goodman 2021): surrogate slopes below this are taken as 0, and neurons
  // with no slope left in any trial skip the backward row product.
  double sparse_cutoff = 0.0;
  std::int64_t checkpoint_every = 0;  // K; 0 = sqrt(steps), at least 16
  // Trials per group of the backward pass (0 = trial_groups' choice). Groups
  // run in parallel; the gradient's rounding depends on the grouping, never
  // on the thread count.
  std::int64_t trial_group = 0;
  std::vector<LossTerm> terms;        // also differentiate each of these alone (unweighted)
};

// The groups of trials [first, first + size) that the backward pass takes
// one at a time, in parallel: `width` trials each (the last one may have
// fewer); width 0 chooses from the batch alone.
struct TrialGroup {
  std::int64_t first = 0, size = 0;
};
std::vector<TrialGroup> trial_groups(std::int64_t batch, std::int64_t width = 0);

// A chunk run forward only: its loss sums and values, and its spikes.
struct ChunkLosses {
  LossSums<double> sums;               // per (trial, neuron) sums of the chunk
  LossValues<double> losses;
  std::vector<TrialRecord> records;    // spikes of every trial (steps local to the chunk)
};

// Runs the chunk forward from `states` (advanced to the chunk's end) and
// evaluates the losses of MODEL.md 7 as chunk_gradient does, without a
// backward pass (the feedback rule needs no gradient).
template <class Real>
ChunkLosses chunk_losses(const LoweredModel<Real>& model, const InputSource& inputs,
                         std::vector<TrialState<Real>>& states, std::int64_t trial0, std::int64_t t0,
                         std::int64_t steps, const LossContext& context, double weight_ratio);

struct ChunkGradient {
  LossSums<double> sums;               // per (trial, neuron) sums of the chunk
  LossValues<double> losses;           // values (weight ratio from `ratio`)
  // dL/dw per edge (CSR order) for the weighted total, then for each of
  // options.terms in order: [1 + terms.size()][E]
  std::vector<std::vector<double>> d_rec, d_ff;
  std::vector<double> d_weight_ratio;  // dL/d(weight ratio) for each set (total, then terms)
  std::vector<TrialRecord> records;    // spikes of every trial (steps local to the chunk)
  std::int64_t checkpoint_every = 0;
  std::size_t peak_state_bytes = 0;    // checkpoints + traces + adjoints + per-group gradient sums
};

// Runs the chunk forward from `states` (advanced to the chunk's end), then
// backward. Gradients do not flow into the states at the chunk's start
// (truncated BPTT per chunk, MODEL.md 4). Trials run forward in parallel,
// and backward in the groups of trial_groups (in parallel when there are
// several, else with the threads sharing the group); the groups' gradients
// are summed in group order, so results are bit-identical for any thread
// count.
//
// `workspace` (optional) keeps the buffers of the pass (the forward
// checkpoints, the recomputed traces, the adjoints) from one call to the
// next: a run that passes the same workspace for every chunk maps their
// memory once (first-touching memory costs 2-4 us per 4 KB page on the
// development VM, about 1 s per chunk of the seed configuration). Results do
// not depend on it.
template <class Real>
struct GradientBuffers;  // bptt.cpp
template <class Real>
struct GradientWorkspace {
  std::shared_ptr<GradientBuffers<Real>> buffers;  // made by the first call that uses it
};

template <class Real>
ChunkGradient chunk_gradient(const LoweredModel<Real>& model, const InputSource& inputs,
                             std::vector<TrialState<Real>>& states, std::int64_t trial0, std::int64_t t0,
                             std::int64_t steps, const LossContext& context, const WeightRatio& ratio,
                             const GradientOptions& options = {}, GradientWorkspace<Real>* workspace = nullptr);

}  // namespace homeostat
