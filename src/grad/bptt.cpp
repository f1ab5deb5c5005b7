// The BPTT driver: checkpoints, recomputation, trial groups and the phases
// of chunk_gradient around the model's adjoint step
// (src/model/cond_lif/adjoint.hpp). The memory scheme and the phases are in
// bptt.md, the derivation in src/model/cond_lif/README.md.
#include "homeostat/grad.hpp"

#include "common/first_error.hpp"
#include "model/cond_lif/adjoint.hpp"
#include "model/cond_lif/trace.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace homeostat {

namespace {

using cond_lif::Adjoint;
using cond_lif::BackwardSteps;
using cond_lif::Coefficients;
using cond_lif::record_entry;
using cond_lif::record_exit;
using cond_lif::record_g_sum;
using cond_lif::SegmentTrace;

// Recomputes steps [s0, s0 + len) of the trials `first .. first + batch` of
// `checkpoint` (input trials trial0 + first ..) from their states at s0
// (which it advances to s0 + len), and records what the backward pass
// needs: each trial writes its own contiguous rows. `threads` share the
// work: one trial each, or, with more threads than trials, each trial in
// turn by ranges of neurons as the forward pass shares a trial (`sharing`);
// each piece (a trial, or a range of it) records its own part of the rows.
// `on_piece` (may be empty) is called once per piece, by its thread.
template <class Real>
void recompute_segment(const LoweredModel<Real>& lm, const InputSource& inputs,
                       std::vector<TrialState<Real>>& checkpoint, std::int64_t first, std::int64_t batch,
                       std::int64_t trial0, std::int64_t t_start, std::int64_t len, SegmentTrace<Real>& tr,
                       int threads, ThreadSharing& sharing, const RecomputePieceHook& on_piece, FirstError& error) {
  const std::int64_t n = lm.n;
  tr.resize(len, n, batch);
  auto one = [&](std::int64_t b, int trial_threads) {
    error.guard([&] {
      TrialState<Real>& st = checkpoint[first + b];  // advanced in place: not needed again
      StepObserver<Real> observer;
      // Row s of v, tau and the flags, from the state before step s.
      auto record = [&](std::int64_t s, const TrialState<Real>& at_t, std::int64_t lo, std::int64_t hi) {
        const std::int64_t row = (b * len + s) * n;
        record_entry(lm, at_t, t_start + s, tr.v.data() + (b * (len + 1) + s) * n, tr.tau.data() + row,
                     tr.bits.data() + row, lo, hi);
      };
      observer.before = [&](std::int64_t s, const TrialState<Real>& at_t, std::int64_t lo, std::int64_t hi) {
        if (s > 0) return;  // rows after the first come from the previous step's `after`
        if (on_piece) on_piece(trial0 + first + b, lo, hi);
        record(0, at_t, lo, hi);
        record_g_sum(lm, at_t, tr.g_sum.data() + b * len * n, lo, hi);
      };
      // After step s: where it clamped (row s) and, in the same pass over the
      // conductances, sum_k g_k of step s + 1; then row s + 1 of the rest.
      observer.after = [&](std::int64_t s, const TrialState<Real>& next, const std::vector<std::int32_t>& in,
                           std::int64_t lo, std::int64_t hi) {
        if (lo == 0) tr.input_spikes[s * batch + b] = in;  // one range starts at 0
        const bool more = s + 1 < len;
        record_exit(lm, next, more, tr.bits.data() + (b * len + s) * n,
                    tr.g_sum.data() + (b * len + std::min(s + 1, len - 1)) * n, lo, hi);
        if (more) {
          record(s + 1, next, lo, hi);
        } else {
          std::copy(next.v.begin() + lo, next.v.begin() + hi, tr.v.begin() + (b * (len + 1) + len) * n + lo);
        }
      };
      run_trial_observed(lm, inputs, st, trial0 + first + b, t_start, len, observer, trial_threads, &sharing);
    });
  };
  if (threads <= batch) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (std::int64_t b = 0; b < batch; ++b) one(b, 1);
  } else {
    for (std::int64_t b = 0; b < batch; ++b) one(b, threads);
  }
}

// The loss sums of a chunk, added up from the records of its forward pass
// (one or several consecutive pieces of it).
class SumAccumulator {
 public:
  template <class Real>
  SumAccumulator(LossSums<double>& sums, const std::vector<TrialState<Real>>& states, double weight_ratio)
      : sums_(sums), n_(states.empty() ? 0 : static_cast<std::int64_t>(states[0].v.size())) {
    const auto batch = static_cast<std::int64_t>(states.size());
    for (auto* v : {&sums.spikes, &sums.isi_count, &sums.isi_sum, &sums.isi_sum_sq, &sums.v_sum, &sums.v_sum_sq})
      v->assign(batch * n_, 0.0);
    sums.weight_ratio = weight_ratio;
    last_spike_.resize(batch * n_);
    for (std::int64_t b = 0; b < batch; ++b)
      std::copy(states[b].last_spike.begin(), states[b].last_spike.end(), last_spike_.begin() + b * n_);
  }

  // One piece starting at global step `t_global`, local step `s0` of the
  // chunk; its spikes are appended to `records` in chunk-local steps.
  void add(const std::vector<TrialRecord>& piece, std::int64_t t_global, std::int64_t s0,
           std::vector<TrialRecord>& records) {
    for (std::size_t b = 0; b < piece.size(); ++b) {
      const TrialRecord& r = piece[b];
      const auto base = static_cast<std::int64_t>(b) * n_;
      for (std::size_t e = 0; e < r.spike_step.size(); ++e) {
        const std::int32_t j = r.spike_neuron[e];
        const std::int64_t t = t_global + r.spike_step[e];
        const std::int64_t bj = base + j;
        sums_.spikes[bj] += 1;
        if (last_spike_[bj] >= 0) {
          const double tau = static_cast<double>(t - last_spike_[bj]);
          sums_.isi_count[bj] += 1;
          sums_.isi_sum[bj] += tau;
          sums_.isi_sum_sq[bj] += tau * tau;
        }
        last_spike_[bj] = t;
        records[b].spike_step.push_back(static_cast<std::int32_t>(s0 + r.spike_step[e]));
        records[b].spike_neuron.push_back(j);
      }
      for (std::int64_t i = 0; i < n_; ++i) {
        sums_.v_sum[base + i] += r.v_sum[i];
        sums_.v_sum_sq[base + i] += r.v_sum_sq[i];
      }
    }
  }

 private:
  LossSums<double>& sums_;
  std::int64_t n_;
  std::vector<std::int64_t> last_spike_;  // [B * N] global step of the last spike, -1 if none
};

}  // namespace

// What chunk_gradient keeps between calls (GradientWorkspace).
template <class Real>
struct GradientBuffers {
  std::vector<std::vector<TrialState<Real>>> checkpoints;  // [segment][trial]
  std::vector<SegmentTrace<Real>> traces;                  // [group]
  std::vector<std::vector<Adjoint<Real>>> adjoints;        // [group][set of loss coefficients]
};

std::vector<TrialGroup> trial_atoms(std::int64_t batch) {
  std::vector<TrialGroup> atoms;
  for (std::int64_t b = 0; b < batch; b += trial_atom) atoms.push_back({b, std::min(trial_atom, batch - b)});
  return atoms;
}

std::vector<TrialGroup> trial_groups(std::int64_t batch, std::int64_t width) {
  const std::int64_t n_atoms = (batch + trial_atom - 1) / trial_atom;
  // Half the trials, at most 16 (64 bytes of float: one vector in the row
  // product), at least one atom (4: narrower rows cost more per synapse
  // than a second thread gains); in whole atoms.
  std::int64_t atoms_per_group = std::clamp<std::int64_t>((n_atoms + 1) / 2, 1, 16 / trial_atom);
  if (width > 0) atoms_per_group = (width + trial_atom - 1) / trial_atom;
  const std::int64_t group_width = atoms_per_group * trial_atom;
  std::vector<TrialGroup> groups;
  for (std::int64_t b = 0; b < batch; b += group_width) groups.push_back({b, std::min(group_width, batch - b)});
  return groups;
}

TrialRange rank_trials(std::int64_t batch, std::int64_t unit, int rank, int ranks) {
  if (ranks < 1 || rank < 0 || rank >= ranks || unit < 1)
    throw std::invalid_argument("rank_trials: rank " + std::to_string(rank) + " of " + std::to_string(ranks));
  const std::int64_t n_units = (batch + unit - 1) / unit;
  if (ranks > n_units)
    throw std::invalid_argument(std::to_string(ranks) + " processes share a batch of " + std::to_string(batch) +
                                " trials" +
                                (unit == 1 ? "" : " in " + std::to_string(n_units) + " atoms of " +
                                                      std::to_string(unit) + " trials (the gradient's sums)") +
                                ": at most " + std::to_string(n_units) + " can");
  // Rank r's units start at the unit boundary nearest to r batch / ranks
  // trials (at least one unit each): shares as even as the units allow.
  std::vector<std::int64_t> start(ranks + 1, 0);
  start[ranks] = n_units;
  auto off = [&](std::int64_t u, std::int64_t r) { return std::abs(u * unit * ranks - r * batch); };
  for (std::int64_t r = 1; r < ranks; ++r) {
    start[r] = start[r - 1] + 1;
    for (std::int64_t u = start[r] + 1; u <= n_units - (ranks - r); ++u)
      if (off(u, r) < off(start[r], r)) start[r] = u;
  }
  const std::int64_t first = start[rank] * unit, end = std::min(batch, start[rank + 1] * unit);
  return {first, end - first, batch};
}

namespace {

// The default ChunkReduction: this process has every trial.
const ChunkReduction whole_batch;

}  // namespace

// Losses are means over trials and steps: an empty chunk has none (0/0).
static void require_nonempty_chunk(std::size_t trials, std::int64_t steps) {
  if (trials < 1 || steps < 1)
    throw std::invalid_argument("a chunk needs at least one trial and one step (got " + std::to_string(trials) +
                                " trials, " + std::to_string(steps) + " steps)");
}

// The trials `reduction` says this process computes, which must be the
// `local` states it holds.
static TrialRange process_trials(const ChunkReduction& reduction, std::int64_t local) {
  const TrialRange trials = reduction.trials(local);
  if (trials.count != local)
    throw std::invalid_argument("this process holds " + std::to_string(local) + " trial states for its trials [" +
                                std::to_string(trials.first) + ", " + std::to_string(trials.first + trials.count) +
                                ")");
  return trials;
}

AtomGradient ChunkReduction::sum_atom_gradients(std::int64_t first_atom, std::vector<AtomGradient>& atoms) const {
  const std::size_t mine = atoms.size();
  gather_atom_gradients(first_atom, atoms);
  // Every edge's sum in atom order, edges in blocks shared by the threads
  // (one pass over all the atoms' sums instead of one per atom). The first
  // atom's buffers become the sum.
  auto add_up = [&](std::vector<double>& sum, auto part) {
    const auto edges = static_cast<std::int64_t>(sum.size());
    constexpr std::int64_t block = 2048;
#pragma omp parallel for schedule(static)
    for (std::int64_t e0 = 0; e0 < edges; e0 += block) {
      const std::int64_t e1 = std::min(edges, e0 + block);
      for (std::size_t k = 1; k < atoms.size(); ++k) {
        const double* from = part(atoms[k]).data();
        for (std::int64_t e = e0; e < e1; ++e) sum[e] += from[e];
      }
    }
  };
  AtomGradient sum;
  for (std::size_t c = 0; c < atoms[0].d_rec.size(); ++c) {
    std::vector<double> d_rec = std::move(atoms[0].d_rec[c]), d_ff = std::move(atoms[0].d_ff[c]);
    add_up(d_rec, [c](AtomGradient& a) -> std::vector<double>& { return a.d_rec[c]; });
    add_up(d_ff, [c](AtomGradient& a) -> std::vector<double>& { return a.d_ff[c]; });
    sum.d_rec.push_back(std::move(d_rec));
    sum.d_ff.push_back(std::move(d_ff));
  }
  // Back to this process's atoms.
  atoms.erase(atoms.begin() + first_atom + static_cast<std::ptrdiff_t>(mine), atoms.end());
  atoms.erase(atoms.begin(), atoms.begin() + first_atom);
  return sum;
}

template <class Real>
ChunkLosses chunk_losses(const LoweredModel<Real>& lm, const InputSource& inputs, std::vector<TrialState<Real>>& states,
                         std::int64_t trial0, std::int64_t t0, std::int64_t steps, const LossContext& ctx,
                         double weight_ratio, const ChunkReduction* reduction) {
  require_nonempty_chunk(states.size(), steps);
  const ChunkReduction& seams = reduction ? *reduction : whole_batch;
  process_trials(seams, static_cast<std::int64_t>(states.size()));
  ChunkLosses out;
  SumAccumulator sums_acc(out.sums, states, weight_ratio);
  out.records.resize(states.size());
  std::vector<TrialRecord> rec;
  run_chunk(lm, inputs, states, trial0, t0, steps, RecordSpec{}, &rec);
  sums_acc.add(rec, t0, 0, out.records);
  // Seam 1 (as chunk_gradient's): the loss sums of the whole batch.
  seams.gather_loss_sums(out.sums);
  out.losses = evaluate_losses(out.sums, ctx);
  return out;
}

namespace {

// K, the checkpoint interval: `requested`, or sqrt(T) and at least 16; at
// most T. Checkpoints cost B T/K states, traces K steps of every trial.
std::int64_t checkpoint_interval(std::int64_t requested, std::int64_t steps) {
  std::int64_t k_every = requested;
  if (k_every <= 0) k_every = std::max<std::int64_t>(16, static_cast<std::int64_t>(std::sqrt(static_cast<double>(steps))));
  return std::min(k_every, std::max<std::int64_t>(1, steps));
}

// This process's trial groups: trial_groups of its trials [first, first +
// count), which must be whole atoms; `first_atom` is the batch's index of
// its first atom.
std::vector<TrialGroup> process_groups(const TrialRange& trials, std::int64_t width, std::int64_t& first_atom) {
  const bool whole_atoms = trials.first % trial_atom == 0 &&
                           (trials.count % trial_atom == 0 || trials.first + trials.count == trials.batch);
  if (trials.first < 0 || trials.count <= 0 || trials.first + trials.count > trials.batch || !whole_atoms)
    throw std::invalid_argument("chunk_gradient: this process's trials [" + std::to_string(trials.first) + ", " +
                                std::to_string(trials.first + trials.count) + ") of a batch of " +
                                std::to_string(trials.batch) + " are not whole atoms of " +
                                std::to_string(trial_atom) + " trials");
  first_atom = trials.first / trial_atom;
  std::vector<TrialGroup> groups = trial_groups(trials.count, width);
  for (TrialGroup& g : groups) g.first += trials.first;
  return groups;
}

// The memory of the pass (ChunkGradient::peak_state_bytes): the checkpoints
// of `batch` trials, the traces and adjoints of the trial groups in flight
// at once (`in_flight` trials: one group per team of threads), and the
// gradient sums of this process's `n_atoms` atoms.
template <class Real>
std::size_t gradient_state_bytes(const LoweredModel<Real>& lm, std::int64_t batch, std::int64_t n_segments,
                                 std::int64_t k_every, std::int64_t in_flight, std::int64_t n_atoms,
                                 std::size_t n_sets) {
  const std::int64_t n = lm.n, nr = lm.n_receptors;
  const std::size_t e_rec = lm.rec_weight.size(), e_ff = lm.ff_weight.size();
  const auto n_types = static_cast<std::int64_t>(lm.rec_first.size() + lm.ff_first.size());
  const std::size_t state_bytes =
      n * (sizeof(Real) * (1 + 2 * nr) + sizeof(std::int32_t) + sizeof(std::int64_t));
  // Trace per step and trial, for the trials of the groups in flight at once.
  const std::size_t trace_bytes_per_trial_step = n * (3 * sizeof(Real) + sizeof(std::uint32_t));
  return state_bytes * batch * n_segments + trace_bytes_per_trial_step * in_flight * (k_every + 1) +
         n_sets * ((3 + 2 * nr + n_types) * n * in_flight * sizeof(Real) + n * (in_flight + 1) +
                   n_atoms * (e_rec + e_ff) * sizeof(double));
}

// Calls f with a group's number of trials as a compile-time constant where
// the adjoint's dense steps are compiled for it (the widths trial_groups
// chooses for common batches: 4, 8, 16), else with 0 (a run-time width).
template <class F>
void with_group_width(std::int64_t width, F&& f) {
  switch (width) {
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 8: f(std::integral_constant<int, 8>{}); break;
    case 16: f(std::integral_constant<int, 16>{}); break;
    default: f(std::integral_constant<int, 0>{});
  }
}

bool stop_requested(const std::atomic<int>* stop) { return stop != nullptr && stop->load() != 0; }

// Phase 1 (with phase 2, the loss sums): the chunk forward K steps at a
// time, keeping each segment's starting state in `checkpoints`; each
// segment's records are added to the loss sums (`sums`) as it ends, so that
// only one segment's records are held at once.
template <class Real>
void forward_with_checkpoints(const LoweredModel<Real>& lm, const InputSource& inputs,
                              std::vector<TrialState<Real>>& states, std::int64_t trial0, std::int64_t t0,
                              std::int64_t steps, std::int64_t k_every,
                              std::vector<std::vector<TrialState<Real>>>& checkpoints, SumAccumulator& sums,
                              std::vector<TrialRecord>& records, const std::atomic<int>* stop) {
  const std::int64_t n_segments = (steps + k_every - 1) / k_every;
  checkpoints.resize(n_segments);
  RecordSpec spec;
  std::vector<TrialRecord> rec;
  ThreadSharing sharing;  // carried from segment to segment
  for (std::int64_t seg = 0; seg < n_segments; ++seg) {
    if (stop_requested(stop)) return;
    const std::int64_t s0 = seg * k_every, len = std::min(k_every, steps - s0);
    checkpoints[seg] = states;
    run_chunk(lm, inputs, states, trial0, t0 + s0, len, spec, &rec, &sharing);
    sums.add(rec, t0 + s0, s0, records);
  }
}

// Phase 4: the loss coefficients of the batch's sums. One adjoint per set:
// the weighted total, then each requested term alone (the adjoint is linear
// in them).
std::vector<LossGradient> loss_coefficients(const LossSums<double>& sums, const LossContext& ctx,
                                            const std::vector<LossTerm>& terms) {
  std::vector<LossGradient> gradients{loss_gradient(sums, ctx)};
  for (const LossTerm term : terms) gradients.push_back(loss_gradient(sums, ctx, &term));
  return gradients;
}

// The threads of the backward pass in teams: one per trial group, or one
// thread per team when there are at least as many groups as threads; the
// first `threads % teams` teams have one thread more.
struct Teams {
  int count = 1, threads = 1;
  int size(int team) const { return threads / count + (team < threads % count ? 1 : 0); }
};

Teams backward_teams(std::int64_t n_groups, int threads) {
  return {static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(n_groups, threads))), threads};
}

// Phase 5: the backward pass of this process's trial groups (bptt.md,
// "Threads and determinism"): each group is recomputed segment by segment,
// last to first, from the checkpoints and taken backward on its own, with
// adjoints and per-atom gradient sums of its own (adjoints[g][set].d_rec,
// d_ff); the teams take the groups in order. Group g's trials are the
// process's trials [groups[g].first - first, ...) (input trials trial0 +
// that).
template <class Real>
void backward(const LoweredModel<Real>& lm, const InputSource& inputs, std::int64_t trial0, std::int64_t first,
              std::int64_t t0, std::int64_t steps, std::int64_t k_every, const std::vector<TrialGroup>& groups,
              const std::vector<LossGradient>& gradients, const GradientOptions& options, int threads,
              GradientBuffers<Real>& buffers) {
  const std::int64_t n = lm.n, nr = lm.n_receptors;
  const std::size_t e_rec = lm.rec_weight.size(), e_ff = lm.ff_weight.size();
  const auto n_types = static_cast<std::int64_t>(lm.rec_first.size() + lm.ff_first.size());
  const std::int64_t n_segments = (steps + k_every - 1) / k_every;
  const auto n_groups = static_cast<std::int64_t>(groups.size());
  const Teams teams = backward_teams(n_groups, threads);
  std::vector<std::vector<Coefficients>> coefficients(n_groups);
  auto& adjoints = buffers.adjoints;
  adjoints.resize(n_groups);
  for (auto& a : adjoints) a.resize(gradients.size());
  buffers.traces.resize(n_groups);
  for (std::int64_t g = 0; g < n_groups; ++g)
    for (const LossGradient& lg : gradients) coefficients[g].emplace_back(lg, n, groups[g].first, groups[g].size);

  const Real lambda = static_cast<Real>(options.surrogate_scale);
  const Real cutoff = static_cast<Real>(options.sparse_cutoff);
  FirstError error;
  // Group g, by a team of `team` threads: recomputation with the trials
  // shared, the adjoint steps with neurons and rows shared.
  auto group = [&](std::int64_t g, int team) {
    const std::int64_t local = groups[g].first - first, width = groups[g].size;
    const std::int64_t n_atoms = (width + trial_atom - 1) / trial_atom;
    for (auto& a : adjoints[g]) {
      a.v.assign(n * width, 0);
      a.d.assign(nr * n * width, 0);
      a.u.assign(nr * n * width, 0);
      a.spike.assign(n * width, 0);
      a.nu.assign(n_types * n * width, 0);
      a.spiked.assign(n * width, 0);
      a.needed.assign(n, 1);
      a.d_rec.resize(n_atoms);
      a.d_ff.resize(n_atoms);
      for (auto& d : a.d_rec) d.assign(e_rec, 0.0);
      for (auto& d : a.d_ff) d.assign(e_ff, 0.0);
    }
    SegmentTrace<Real>& trace = buffers.traces[g];
    // Sized for the longest segment at once (the last one, taken first, may be shorter).
    trace.resize(k_every, n, width);
    const int shared = n * width >= options.min_shared_neuron_trials ? team : 1;
    // Carried from segment to segment: how the recomputation's shared
    // trials went.
    ThreadSharing recompute_sharing = options.sharing;
    with_group_width(width, [&](auto fixed_width) {
      const BackwardSteps<decltype(fixed_width)::value, Real> back{lm, lambda, cutoff, width};
      for (std::int64_t seg = n_segments - 1; seg >= 0; --seg) {
        if (stop_requested(options.stop)) return;
        const std::int64_t s0 = seg * k_every, len = std::min(k_every, steps - s0);
        recompute_segment(lm, inputs, buffers.checkpoints[seg], local, width, trial0, t0 + s0, len, trace, team,
                          recompute_sharing, options.on_recompute_piece, error);
#pragma omp parallel num_threads(shared) if (shared > 1)
        back.segment(len, trace, coefficients[g], adjoints[g]);
      }
    });
  };
  // Teams of several threads are nested parallel regions.
  const int levels = omp_get_max_active_levels();
  omp_set_max_active_levels(std::max(levels, 2));
  std::atomic<std::int64_t> next{0};
#pragma omp parallel num_threads(teams.count) if (teams.count > 1)
  {
    const int team = teams.size(omp_get_thread_num());
    for (std::int64_t g = next++; g < n_groups; g = next++) error.guard([&] { group(g, team); });
  }
  omp_set_max_active_levels(levels);
  error.rethrow();
}

// Phase 6: dL/dw of every set, the gradient sums of the batch's atoms (this
// process's, with the other processes' through `reduction`) added up in atom
// order.
template <class Real>
void sum_atom_gradients(const ChunkReduction& reduction, std::int64_t first_atom,
                        std::vector<std::vector<Adjoint<Real>>>& adjoints, std::size_t n_sets, ChunkGradient& out) {
  // The sums move out of the adjoints (no copy), and back after.
  std::vector<AtomGradient> atoms;
  for (auto& group : adjoints) {
    for (std::size_t k = 0; k < group[0].d_rec.size(); ++k) {
      AtomGradient& atom = atoms.emplace_back();
      atom.d_rec.resize(n_sets);
      atom.d_ff.resize(n_sets);
      for (std::size_t c = 0; c < n_sets; ++c) {
        atom.d_rec[c].swap(group[c].d_rec[k]);
        atom.d_ff[c].swap(group[c].d_ff[k]);
      }
    }
  }
  AtomGradient sum = reduction.sum_atom_gradients(first_atom, atoms);
  out.d_rec = std::move(sum.d_rec);
  out.d_ff = std::move(sum.d_ff);
  std::size_t k = 0;
  for (auto& group : adjoints) {
    for (std::size_t j = 0; j < group[0].d_rec.size(); ++j, ++k) {
      for (std::size_t c = 0; c < n_sets; ++c) {
        group[c].d_rec[j].swap(atoms[k].d_rec[c]);
        group[c].d_ff[j].swap(atoms[k].d_ff[c]);
      }
    }
  }
}

// Phase 7: the chain rule of the weight-ratio term, dL/dw += dL/d(ratio)
// d(ratio)/dw, for every set.
void add_weight_ratio_term(const WeightRatio& ratio, const std::vector<LossGradient>& gradients, ChunkGradient& out) {
  for (std::size_t c = 0; c < gradients.size(); ++c) {
    out.d_weight_ratio.push_back(gradients[c].d_weight_ratio);
    if (ratio.d_rec.empty()) continue;
    const double f = gradients[c].d_weight_ratio;
    std::vector<double>& d_rec = out.d_rec[c];
    std::vector<double>& d_ff = out.d_ff[c];
    for (std::size_t e = 0; e < d_rec.size(); ++e) d_rec[e] += f * ratio.d_rec[e];
    for (std::size_t e = 0; e < d_ff.size(); ++e) d_ff[e] += f * ratio.d_ff[e];
  }
}

}  // namespace

// The phases in order; bptt.md, "Phases and seams".
template <class Real>
ChunkGradient chunk_gradient(const LoweredModel<Real>& lm, const InputSource& inputs,
                             std::vector<TrialState<Real>>& states, std::int64_t trial0, std::int64_t t0,
                             std::int64_t steps, const LossContext& ctx, const WeightRatio& ratio,
                             const GradientOptions& options, GradientWorkspace<Real>* workspace) {
  require_nonempty_chunk(states.size(), steps);
  const ChunkReduction& reduction = options.reduction ? *options.reduction : whole_batch;
  const auto batch = static_cast<std::int64_t>(states.size());
  const TrialRange trials = process_trials(reduction, batch);
  std::int64_t first_atom = 0;
  const std::vector<TrialGroup> groups = process_groups(trials, options.trial_group, first_atom);
  const std::int64_t k_every = checkpoint_interval(options.checkpoint_every, steps);
  const std::int64_t n_segments = (steps + k_every - 1) / k_every;
  const int threads = omp_get_max_threads();

  ChunkGradient out;
  out.checkpoint_every = k_every;
  GradientWorkspace<Real> local;
  if (workspace == nullptr) workspace = &local;
  if (!workspace->buffers) workspace->buffers = std::make_shared<GradientBuffers<Real>>();
  GradientBuffers<Real>& buffers = *workspace->buffers;

  // 1-2. Forward with checkpoints; this process's loss sums.
  SumAccumulator sums(out.sums, states, ratio.value);
  out.records.resize(batch);
  forward_with_checkpoints(lm, inputs, states, trial0, t0, steps, k_every, buffers.checkpoints, sums, out.records,
                           options.stop);
  if (stop_requested(options.stop)) {
    out.stopped = true;
    return out;
  }
  // 3. Seam: the loss sums of the whole batch.
  reduction.gather_loss_sums(out.sums);
  out.losses = evaluate_losses(out.sums, ctx);
  // 4. Loss coefficients.
  const std::vector<LossGradient> gradients = loss_coefficients(out.sums, ctx, options.terms);
  std::int64_t in_flight = 0;
  for (std::int64_t g = 0; g < backward_teams(static_cast<std::int64_t>(groups.size()), threads).count; ++g)
    in_flight += groups[g].size;
  out.peak_state_bytes = gradient_state_bytes(lm, batch, n_segments, k_every, in_flight,
                                              (trials.count + trial_atom - 1) / trial_atom, gradients.size());
  // 5. Backward: recomputation and adjoint per trial group.
  backward(lm, inputs, trial0, trials.first, t0, steps, k_every, groups, gradients, options, threads, buffers);
  if (stop_requested(options.stop)) {
    out.stopped = true;
    return out;
  }
  // 6. Seam: the gradient sums of every atom, added in atom order.
  sum_atom_gradients(reduction, first_atom, buffers.adjoints, gradients.size(), out);
  // 7. Chain rule: the weight-ratio term.
  add_weight_ratio_term(ratio, gradients, out);
  return out;
}

template ChunkLosses chunk_losses(const LoweredModel<float>&, const InputSource&, std::vector<TrialState<float>>&,
                                  std::int64_t, std::int64_t, std::int64_t, const LossContext&, double,
                                  const ChunkReduction*);
template ChunkLosses chunk_losses(const LoweredModel<double>&, const InputSource&, std::vector<TrialState<double>>&,
                                  std::int64_t, std::int64_t, std::int64_t, const LossContext&, double,
                                  const ChunkReduction*);
template ChunkGradient chunk_gradient(const LoweredModel<float>&, const InputSource&, std::vector<TrialState<float>>&,
                                      std::int64_t, std::int64_t, std::int64_t, const LossContext&, const WeightRatio&,
                                      const GradientOptions&, GradientWorkspace<float>*);
template ChunkGradient chunk_gradient(const LoweredModel<double>&, const InputSource&,
                                      std::vector<TrialState<double>>&, std::int64_t, std::int64_t, std::int64_t,
                                      const LossContext&, const WeightRatio&, const GradientOptions&,
                                      GradientWorkspace<double>*);

}  // namespace homeostat
