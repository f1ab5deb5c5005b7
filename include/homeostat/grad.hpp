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
#include "homeostat/weight_ratio.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace homeostat {

class ChunkReduction;

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
  // Where the batch's trials are split across processes, how they combine
  // their parts (ChunkReduction); nullptr: this process has every trial.
  const ChunkReduction* reduction = nullptr;
};

// The groups of trials [first, first + size) that the backward pass takes
// one at a time, in parallel: `width` trials each (the last one may have
// fewer); width 0 chooses from the batch alone.
struct TrialGroup {
  std::int64_t first = 0, size = 0;
};
std::vector<TrialGroup> trial_groups(std::int64_t batch, std::int64_t width = 0);

// The trials one process computes: [first, first + count) of a batch of
// `batch` trials.
struct TrialRange {
  std::int64_t first = 0, count = 0, batch = 0;
};

// The trials of rank `rank` when `ranks` processes share a batch:
// consecutive whole groups of trial_groups(batch, width), in rank order,
// the shares of trials as even as the groups allow. Width 1 splits single
// trials (the forward-only runs). Throws std::invalid_argument when there
// are more ranks than groups. Every split of a batch made here gives the
// bits of one process (ChunkReduction).
TrialRange rank_trials(std::int64_t batch, std::int64_t width, int rank, int ranks);

// One trial group's dL/dw (CSR order) for every set of loss coefficients
// (the weighted total, then each requested term): [set][E].
struct GroupGradient {
  std::vector<std::vector<double>> d_rec, d_ff;
};

// The two seams of chunk_gradient where processes that share a batch
// combine what each computed (the MPI work of issue 15: a batch's trials
// split across ranks). Everything between the seams is per trial or per
// trial group, so a split that gives each process whole trial groups, with
// seams that gather in trial and group order, gives every process the
// bits of one process computing the whole batch, for any number of
// processes. This base class is that one process: `trials` is the whole
// batch and both seams leave their argument as it is.
//
// The MPI reduction (parallel::MpiReduction, include/homeostat/parallel/
// ranks.hpp) gives each rank the consecutive whole groups of rank_trials
// and all-gathers the loss sums and the group sums in rank order.
// chunk_gradient's `states` and `trial0` are then the rank's trials; its
// `context` is the whole batch's.
class ChunkReduction {
 public:
  virtual ~ChunkReduction() = default;
  // The trials this process computes. `local`: how many states it holds;
  // the one process has them all ([0, local)); a reduction that splits a
  // batch knows its range.
  virtual TrialRange trials(std::int64_t local) const { return {0, local, local}; }
  // Whether `mine` holds in every process (all call it alike): decisions
  // taken from a process's own trials, such as whether their states are
  // still finite, must be the same everywhere.
  virtual bool all(bool mine) const { return mine; }
  // Seam 1, after the forward pass: `sums` holds this process's trials
  // ([count][N] each, weight_ratio the same everywhere); make them the
  // batch's ([batch][N], trials in batch order).
  virtual void gather_loss_sums(LossSums<double>& /*sums*/) const {}
  // Seam 2, after the backward pass: `groups` holds the gradient sums of
  // this process's trial groups, which are groups [first_group,
  // first_group + groups.size()) of the batch; make it every group of the
  // batch in group order. chunk_gradient adds them up in that order.
  virtual void gather_group_gradients(std::int64_t /*first_group*/, std::vector<GroupGradient>& /*groups*/) const {}
};

// A chunk run forward only: its loss sums and values, and its spikes.
struct ChunkLosses {
  LossSums<double> sums;               // per (trial, neuron) sums of the chunk
  LossValues<double> losses;
  std::vector<TrialRecord> records;    // spikes of this process's trials (steps local to the chunk)
};

// Runs the chunk forward from `states` (advanced to the chunk's end) and
// evaluates the losses of MODEL.md 7 as chunk_gradient does, without a
// backward pass (the feedback rule needs no gradient). With `reduction`,
// `states` are this process's trials and the sums are gathered at seam 1
// (gather_loss_sums): the losses and sums are the whole batch's; `records`
// are this process's trials.
template <class Real>
ChunkLosses chunk_losses(const LoweredModel<Real>& model, const InputSource& inputs,
                         std::vector<TrialState<Real>>& states, std::int64_t trial0, std::int64_t t0,
                         std::int64_t steps, const LossContext& context, double weight_ratio,
                         const ChunkReduction* reduction = nullptr);

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
// count. With options.reduction, `states` are this process's part of the
// batch (ChunkReduction); the losses and gradients are the whole batch's.
//
// `workspace` (optional) keeps the buffers of the pass (the forward
// checkpoints, the recomputed traces, the adjoints) from one call to the
// next: a run that passes the same workspace for every chunk maps their
// memory once (first-touching memory is slow: bench/README.md). Results do
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
