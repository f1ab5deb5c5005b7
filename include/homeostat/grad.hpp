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

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace homeostat {

class ChunkReduction;

using RecomputePieceHook = std::function<void(std::int64_t trial, std::int64_t lo, std::int64_t hi)>;

struct GradientOptions {
  double surrogate_scale = 200.0;     // lambda of ds/dv = 1 / (lambda |v - theta| + 1)^2 [1/mV]
  // Sparse backward (off at 0; an approximation, after Perez-Nieves &
  // Goodman 2021): surrogate slopes below this are taken as 0, and neurons
  // with no slope left in any trial skip the backward row product.
  double sparse_cutoff = 0.0;
  std::int64_t checkpoint_every = 0;  // K; 0 = sqrt(steps), at least 16
  // Trials per group of the backward pass (0 = trial_groups' choice; else
  // rounded up to whole atoms of trial_atom trials). Neither the grouping
  // nor the thread count changes a bit of the result.
  std::int64_t trial_group = 0;
  // A group's team of threads splits its adjoint steps by neurons and rows
  // only from this many neurons x trials: below it a step is shorter than
  // the barriers between its parts (bptt.md); tests lower it to exercise
  // the path. Results do not depend on it.
  std::int64_t min_shared_neuron_trials = 8192;
  // How a team wider than its group's trials shares each trial's
  // recomputation by ranges of neurons, as the forward pass does (bptt.md):
  // at least `min_neurons_per_thread` neurons per range, and by `policy`
  // on one thread for stretches while sharing is slower. Tests force the
  // other modes. Results do not depend on it.
  ThreadSharing sharing;
  // For tests: called once per piece of recomputation (a trial, or a range
  // [lo, hi) of its neurons) and segment, by the thread that does it.
  RecomputePieceHook on_recompute_piece;
  std::vector<LossTerm> terms;        // also differentiate each of these alone (unweighted)
  // Where the batch's trials are split across processes, how they combine
  // their parts (ChunkReduction); nullptr: this process has every trial.
  const ChunkReduction* reduction = nullptr;
  // Polled between segments of the forward and the backward pass (nonzero =
  // stop): chunk_gradient then returns at once with `stopped` set, no
  // losses and no gradient (the states stand where the forward pass got to).
  // A process sharing its batch through `reduction` must not stop alone.
  const std::atomic<int>* stop = nullptr;
};

// Trials [first, first + size) of a batch.
struct TrialGroup {
  std::int64_t first = 0, size = 0;
};

// The backward pass adds up dL/dw in **atoms** of `trial_atom` consecutive
// trials (the last atom of a batch may have fewer): within an atom steps
// descending, trials ascending; then the atoms' sums in atom order. Trial
// groups, threads and processes all split the batch into whole atoms, so
// none of them changes a bit of the gradient (src/grad/bptt.md).
inline constexpr std::int64_t trial_atom = 4;
std::vector<TrialGroup> trial_atoms(std::int64_t batch);

// The groups of trials that the backward pass takes one at a time (in
// parallel, each by a team of threads): whole atoms, `width` trials each
// rounded up to a multiple of trial_atom (the last group may have fewer);
// width 0 chooses from the number of trials alone.
std::vector<TrialGroup> trial_groups(std::int64_t batch, std::int64_t width = 0);

// The trials one process computes: [first, first + count) of a batch of
// `batch` trials.
struct TrialRange {
  std::int64_t first = 0, count = 0, batch = 0;
};

// The trials of rank `rank` when `ranks` processes share a batch:
// consecutive whole units of `unit` trials (trial_atom for chunk_gradient,
// whose sums are per atom; 1 for the forward-only runs), in rank order, the
// shares as even as the units allow. Throws std::invalid_argument when there
// are more ranks than units. Every split of a batch made here gives the bits
// of one process (ChunkReduction).
TrialRange rank_trials(std::int64_t batch, std::int64_t unit, int rank, int ranks);

// One atom's dL/dw (CSR order) for every set of loss coefficients (the
// weighted total, then each requested term): [set][E].
struct AtomGradient {
  std::vector<std::vector<double>> d_rec, d_ff;
};

// The two seams of chunk_gradient where processes that share a batch
// combine what each computed (the MPI work of issue 15: a batch's trials
// split across ranks). Everything between the seams is per trial or per
// atom of trials, so a split that gives each process whole atoms, with
// seams that gather in trial and atom order, gives every process the bits
// of one process computing the whole batch, for any number of processes.
// This base class is that one process: `trials` is the whole batch and
// both seams leave their argument as it is.
//
// The MPI reduction (parallel::MpiReduction, include/homeostat/parallel/
// ranks.hpp) gives each rank the consecutive whole atoms of rank_trials,
// all-gathers the loss sums in rank order and passes the atoms' running sum
// from rank to rank.
// chunk_gradient's `states` and `trial0` are then the rank's trials; its
// `context` is the whole batch's.
class ChunkReduction {
 public:
  virtual ~ChunkReduction() = default;
  // The trials this process computes. `local`: how many states it holds;
  // the one process has them all ([0, local)); a reduction that splits a
  // batch knows its range (whole atoms for chunk_gradient: anything else is
  // refused).
  virtual TrialRange trials(std::int64_t local) const { return {0, local, local}; }
  // Whether `mine` holds in every process (all call it alike): decisions
  // taken from a process's own trials, such as whether their states are
  // still finite, must be the same everywhere.
  virtual bool all(bool mine) const { return mine; }
  // Seam 1, after the forward pass: `sums` holds this process's trials
  // ([count][N] each, weight_ratio the same everywhere); make them the
  // batch's ([batch][N], trials in batch order).
  virtual void gather_loss_sums(LossSums<double>& /*sums*/) const {}
  // Seam 2, after the backward pass: `atoms` holds the gradient sums of
  // this process's atoms, which are atoms [first_atom, first_atom +
  // atoms.size()) of the batch; returns the sum of every atom of the batch
  // added in atom order (atom 0, + atom 1, + atom 2, ...; [set][E]), and
  // leaves `atoms` this process's atoms (the one that starts the sum may
  // have given it its buffers). This default gathers every atom
  // (gather_atom_gradients) and adds them up, edges shared by the threads.
  virtual AtomGradient sum_atom_gradients(std::int64_t first_atom, std::vector<AtomGradient>& atoms) const;
  // For the default sum_atom_gradients: make `atoms` every atom of the batch
  // in atom order (one process has them all already).
  virtual void gather_atom_gradients(std::int64_t /*first_atom*/, std::vector<AtomGradient>& /*atoms*/) const {}
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
  std::size_t peak_state_bytes = 0;    // checkpoints + traces + adjoints + per-atom gradient sums
  bool stopped = false;                // options.stop was set: nothing above is valid
};

// Runs the chunk forward from `states` (advanced to the chunk's end), then
// backward. Gradients do not flow into the states at the chunk's start
// (truncated BPTT per chunk, MODEL.md 4). Trials run forward in parallel,
// and backward in the groups of trial_groups, each by a team of threads
// (all of them for one group); the gradient is summed in atoms of
// trial_atom trials, added in atom order, so results are bit-identical for
// any thread count and any grouping. With options.reduction, `states` are
// this process's part of the batch (ChunkReduction); the losses and
// gradients are the whole batch's.
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
