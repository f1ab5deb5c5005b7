// The forward driver: trials, threads sharing a trial, recording and
// observers around the model's step (src/model/cond_lif/step.hpp). See
// forward.md for the layout and the threading scheme.
#include "homeostat/sim.hpp"

#include "common/barrier.hpp"
#include "common/first_error.hpp"
#include "common/subnormals.hpp"
#include "model/cond_lif/step.hpp"
#include "sim/sharing.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <memory>
#include <optional>

namespace homeostat {

template <class Real>
TrialState<Real> initial_state(const LoweredModel<Real>& lm) {
  TrialState<Real> st;
  st.v = lm.u_reset;
  st.refractory.assign(lm.n, 0);
  st.g_rise.assign(lm.n_receptors * lm.n, Real(0));
  st.g_decay.assign(lm.n_receptors * lm.n, Real(0));
  st.last_spike.assign(lm.n, -1);
  return st;
}

namespace {

using cond_lif::collect_flags;
using cond_lif::current_and_decay;
using cond_lif::deliver;
using cond_lif::membrane_pass;
using cond_lif::TypeTables;

// What run_trial records of one trial (RecordSpec) into a TrialRecord,
// each part of it at the point of the step where MODEL.md 4's recording
// convention takes it. A thread records the watched neurons of its range
// [w_lo, w_hi) (indices into spec.neurons); the one whose range starts at
// neuron 0 the spikes.
template <class Real>
struct TrialRecorder {
  const LoweredModel<Real>& lm;
  const RecordSpec& spec;
  TrialRecord& rec;
  std::int64_t n_watch;

  TrialRecorder(const LoweredModel<Real>& model, const RecordSpec& s, TrialRecord& r, std::int64_t steps)
      : lm(model), spec(s), rec(r), n_watch(static_cast<std::int64_t>(s.neurons.size())) {
    const std::int64_t n_rec = lm.n_receptors;
    rec = TrialRecord{};
    if (spec.voltages) rec.voltages.resize(steps * n_watch);
    if (spec.conductances) rec.conductances.resize(steps * n_watch * 2 * n_rec);
    if (spec.currents) rec.currents.resize(steps * n_watch * n_rec);
    rec.v_sum.assign(lm.n, 0.0);
    rec.v_sum_sq.assign(lm.n, 0.0);
  }

  // Before step 2: every receptor column's current of step s.
  void currents(std::int64_t s, const TrialState<Real>& st, std::int64_t w_lo, std::int64_t w_hi) {
    if (!spec.currents) return;
    const std::int64_t n = lm.n, n_rec = lm.n_receptors;
    for (std::int64_t w = w_lo; w < w_hi; ++w) {
      const std::int64_t i = spec.neurons[w];
      for (std::int64_t k = 0; k < n_rec; ++k)
        rec.currents[(s * n_watch + w) * n_rec + k] = static_cast<float>(
            cond_lif::receptor_current(st.g_decay[k * n + i], st.g_rise[k * n + i], st.v[i], lm.e_syn[k]));
    }
  }

  // After step 3: the membrane.
  void voltages(std::int64_t s, const TrialState<Real>& st, std::int64_t w_lo, std::int64_t w_hi) {
    if (!spec.voltages) return;
    for (std::int64_t w = w_lo; w < w_hi; ++w) rec.voltages[s * n_watch + w] = static_cast<float>(st.v[spec.neurons[w]]);
  }

  // After steps 5-6: the conductances, and (thread 0) the step's spikes.
  void step_end(std::int64_t s, const TrialState<Real>& st, std::int64_t w_lo, std::int64_t w_hi, bool first_thread,
                const std::vector<std::vector<std::int32_t>>& spikes, const std::vector<std::int32_t>& input_spikes) {
    const std::int64_t n = lm.n, n_rec = lm.n_receptors;
    if (spec.conductances) {
      for (std::int64_t w = w_lo; w < w_hi; ++w) {
        const std::int64_t i = spec.neurons[w];
        float* out = rec.conductances.data() + (s * n_watch + w) * 2 * n_rec;
        for (std::int64_t k = 0; k < n_rec; ++k) out[k] = static_cast<float>(st.g_rise[k * n + i]);
        for (std::int64_t k = 0; k < n_rec; ++k) out[n_rec + k] = static_cast<float>(st.g_decay[k * n + i]);
      }
    }
    if (!first_thread) return;
    for (const auto& part : spikes) {
      for (const std::int32_t j : part) {
        rec.spike_step.push_back(static_cast<std::int32_t>(s));
        rec.spike_neuron.push_back(j);
      }
    }
    if (spec.input_spikes) {
      for (const std::int32_t j : input_spikes) {
        rec.input_step.push_back(static_cast<std::int32_t>(s));
        rec.input_neuron.push_back(j);
      }
    }
  }
};

// What the threads advancing one trial share: the trial, its state, the
// flags and spike lists between the halves of a step, the recorder.
template <class Real>
struct TrialContext {
  const LoweredModel<Real>& lm;
  const InputSource& inputs;
  TrialState<Real>& st;
  std::int64_t trial, t0;
  const RecordSpec& spec;
  TrialRecord* rec;
  const StepObserver<Real>* observer;
  TypeTables<Real> types;
  std::vector<Real> i_syn;
  std::vector<std::int32_t> can_spike;  // int32: same width as float, so the pass vectorises
  // Spikes of each thread's range, double-buffered by step parity: while a
  // thread delivers step s, another may already collect step s + 1.
  std::vector<std::vector<std::int32_t>> spikes[2];
  std::optional<TrialRecorder<Real>> recorder;

  TrialContext(const LoweredModel<Real>& model, const InputSource& in, TrialState<Real>& state, std::int64_t tr,
               std::int64_t first_step, std::int64_t steps, const RecordSpec& s, TrialRecord* r,
               const StepObserver<Real>* obs, int parts)
      : lm(model), inputs(in), st(state), trial(tr), t0(first_step), spec(s), rec(r), observer(obs), types(model),
        i_syn(model.n), can_spike(model.n) {
    for (std::int64_t i = 0; i < lm.n; ++i)
      can_spike[i] = cond_lif::spike_condition(st.refractory[i], st.v[i], lm.theta[i]);
    for (auto& buf : spikes) {
      buf.resize(parts);
      for (auto& v : buf) v.reserve(lm.n / parts + 1);
    }
    if (rec) recorder.emplace(lm, spec, *rec, steps);
  }
};

// One thread's part of each step: the neurons [lo, hi) (their membrane,
// their conductances, their incoming synapses), its spikes in part `part`
// of the spike lists.
template <class Real>
class RangeWorker {
 public:
  RangeWorker(TrialContext<Real>& c, int part) : c_(c), part_(part) {}

  void take_range(std::int64_t lo, std::int64_t hi) {
    lo_ = lo;
    hi_ = hi;
    // Watched neurons in this range: [w_lo, w_hi) of spec.neurons.
    const auto& watch = c_.spec.neurons;
    w_lo_ = std::lower_bound(watch.begin(), watch.end(), lo) - watch.begin();
    w_hi_ = std::lower_bound(watch.begin(), watch.end(), hi) - watch.begin();
    flagged_ = 0;
    for (std::int64_t i = lo; i < hi; ++i) flagged_ += c_.can_spike[i];
  }

  // Steps 1-3 of step s: after them this range's spikes of step s are known.
  void spike_and_integrate(std::int64_t s) {
    const LoweredModel<Real>& lm = c_.lm;
    TrialState<Real>& st = c_.st;
    std::vector<std::int32_t>& mine = c_.spikes[s & 1][part_];
    if (c_.observer) c_.observer->before(s, st);

    // 1. Spike: above threshold and not refractory (flagged by the
    // previous step's membrane pass).
    collect_flags(c_.can_spike.data(), lo_, hi_, flagged_, mine);

    if (c_.recorder) c_.recorder->currents(s, st, w_lo_, w_hi_);

    // 2. Currents I_syn = sum_k g_k (v - E_k), fused with 4. decay (which
    // only touches g after its current has been taken).
    current_and_decay(lm, st, c_.i_syn.data(), lo_, hi_);

    // 3. Membrane: exact leak, forward-Euler synaptic current; held at
    // U_reset while refractory; reset on a spike. Branch-free so that it
    // vectorises; it also flags who may spike at the next step's step 1.
    TrialRecord* rec = c_.rec;
    flagged_ = membrane_pass(lm, c_.types, st.v.data(), st.refractory.data(), c_.i_syn.data(), c_.can_spike.data(),
                             rec ? rec->v_sum.data() : nullptr, rec ? rec->v_sum_sq.data() : nullptr, lo_, hi_);
    for (const std::int32_t j : mine) st.last_spike[j] = c_.t0 + s;
    if (c_.recorder) c_.recorder->voltages(s, st, w_lo_, w_hi_);
  }

  // Steps 5-6 of step s: increment (and clamp) from every range's recurrent
  // spikes and the input spikes, in a fixed order: recurrent ascending, then
  // inputs ascending.
  void deliver_spikes(std::int64_t s) {
    const LoweredModel<Real>& lm = c_.lm;
    TrialState<Real>& st = c_.st;
    const auto lo = static_cast<std::int32_t>(lo_), hi = static_cast<std::int32_t>(hi_);
    const bool whole = lo_ == 0 && hi_ == lm.n;
    for (const auto& part : c_.spikes[s & 1])
      for (const std::int32_t j : part)
        deliver(lm, st, lm.rec_row.data(), lm.rec_post.data(), lm.rec_weight.data(), lm.rec_first[lm.cell_type[j]],
                lm.rec_count[lm.cell_type[j]], j, lo, hi, whole);
    c_.inputs.spikes(c_.trial, c_.t0 + s, input_spikes_);
    for (const std::int32_t j : input_spikes_)
      deliver(lm, st, lm.ff_row.data(), lm.ff_post.data(), lm.ff_weight.data(), lm.ff_first[lm.input_type[j]],
              lm.ff_count[lm.input_type[j]], j, lo, hi, whole);
    if (c_.observer) c_.observer->after(s, st, input_spikes_);

    // The member whose range starts at neuron 0 records the step's spikes.
    if (c_.recorder) c_.recorder->step_end(s, st, w_lo_, w_hi_, lo_ == 0, c_.spikes[s & 1], input_spikes_);
  }

 private:
  TrialContext<Real>& c_;
  int part_;
  std::int64_t lo_ = 0, hi_ = 0, w_lo_ = 0, w_hi_ = 0;
  std::int64_t flagged_ = 0;  // neurons of [lo, hi) flagged to spike at the next step
  std::vector<std::int32_t> input_spikes_;
};

// One trial advanced by a team of up to `n_threads` threads, each member
// owning a contiguous range of neurons; while some threads lag (SharingPlan)
// the team is their faster part, down to one thread, and the others wait,
// blocked, until it calls them back. The arithmetic on every element is the
// same sequence whoever computes it, so results are bit-identical for any
// thread count and any team. Without `sharing` the trial runs on the
// calling thread.
template <class Real>
void run_trial(const LoweredModel<Real>& lm, const InputSource& inputs, TrialState<Real>& st, std::int64_t trial,
               std::int64_t t0, std::int64_t steps, const RecordSpec& spec, TrialRecord* rec, int n_threads,
               ThreadSharing* sharing, const StepObserver<Real>* observer = nullptr) {
  const std::int64_t n = lm.n;
  // Sharing a trial costs a barrier per step: only worth it for large N
  // (and ranges are 16-aligned with at least 16 neurons each).
  const std::int64_t max_ranges = sharing ? n / std::max<std::int64_t>(16, sharing->min_neurons_per_thread) : 1;
  n_threads = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(n_threads, max_ranges)));
  // An input source that cannot serve the whole chunk (a replay that ends
  // early) must say so here: nothing may throw inside the parallel region.
  if (steps > 0) {
    std::vector<std::int32_t> probe;
    inputs.spikes(trial, t0, probe);
    inputs.spikes(trial, t0 + steps - 1, probe);
  }
  TrialContext<Real> c(lm, inputs, st, trial, t0, steps, spec, rec, observer, n_threads);
  if (steps <= 0) return;
  const simd::FlushSubnormals flush;

  if (n_threads == 1) {
    RangeWorker<Real> alone(c, 0);
    alone.take_range(0, n);
    for (std::int64_t s = 0; s < steps; ++s) {
      alone.spike_and_integrate(s);
      alone.deliver_spikes(s);
    }
    if (sharing) {
      sharing->reduced_steps_left = 0;
      sharing->reduced_team.clear();
    }
    return;
  }

  // Thread k owns neurons [plan.bounds[k], plan.bounds[k + 1]), 16-aligned
  // (64 bytes of float: no false sharing), empty while it is not a member.
  // Which thread computes an element never changes what is computed.
  sim_detail::SharingPlan plan(sharing->policy, n_threads, n, steps, omp_get_wtime(), *sharing);
  // A team of m members meets at barriers[m] (a barrier counts arrivals,
  // not threads: one per size serves every team of that size in turn).
  std::vector<std::unique_ptr<SpinThenBlockBarrier>> barriers(n_threads + 1);
  for (int m = 1; m <= n_threads; ++m) barriers[m] = std::make_unique<SpinThenBlockBarrier>(m);
  // call[k]: the step from whose deliveries thread k works as a member,
  // `first_team` for a member of the team the plan starts with (it begins
  // with the spikes of step 0), `outside` while it waits outside the team,
  // `steps` once the chunk is done. Written by the decision at a barrier,
  // read by thread k after that barrier or while it waits (a thread may
  // start late: by then the first team may have called it in at a later
  // step); the plan it reads after a change was written before it.
  constexpr std::int64_t outside = -1, first_team = -2;
  std::vector<std::atomic<std::int64_t>> call(n_threads);
  for (int k = 0; k < n_threads; ++k) call[k].store(plan.member(k) ? first_team : outside, std::memory_order_relaxed);

  // Run by the last member to arrive at the barrier of step u: decide, call
  // in the new members, send away the old ones; the spike lists of threads
  // outside the team stay empty (collect_flags fills a member's own).
  auto decide = [&](std::int64_t u) {
    plan.decide(u, omp_get_wtime());
    for (int k = 0; k < n_threads; ++k) {
      const bool member = plan.member(k);
      const std::int64_t was = call[k].load(std::memory_order_relaxed);
      if (member && was == outside) {
        call[k].store(u, std::memory_order_release);
        call[k].notify_all();  // all: atomics of 8 bytes may share a futex
      } else if (!member && was != outside) {
        call[k].store(outside, std::memory_order_release);
      }
      if (!member) c.spikes[(u + 1) & 1][k].clear();  // every member has delivered step u - 1
      if (!member && u == steps - 1) {
        call[k].store(steps, std::memory_order_release);
        call[k].notify_all();
      }
    }
  };

#pragma omp parallel num_threads(n_threads)
  {
    const int tid = omp_get_thread_num();
    const simd::FlushSubnormals thread_flush;
    RangeWorker<Real> worker(c, tid);
    std::int64_t joined = call[tid].load(std::memory_order_acquire);
    for (;;) {
      while (joined == outside) {  // blocked until called
        call[tid].wait(outside, std::memory_order_acquire);
        joined = call[tid].load(std::memory_order_acquire);
      }
      if (joined >= steps) break;
      // A member from step u: the first team computes its spikes first, a
      // member called in later starts with the deliveries of that step.
      bool wait = joined == first_team;
      std::int64_t u = wait ? 0 : joined;
      worker.take_range(plan.bounds[tid], plan.bounds[tid + 1]);
      std::uint64_t epoch = plan.epoch();
      double since = plan.step_start();
      if (wait) worker.spike_and_integrate(u);
      std::int64_t next = joined;
      while (u < steps) {
        if (wait) {
          plan.busy[tid] += omp_get_wtime() - since;
          // Every range's spikes of step u are needed by every member below.
          barriers[plan.team_size()]->arrive_and_wait([&] { decide(u); });
          next = call[tid].load(std::memory_order_acquire);
          if (next != joined) break;  // sent away, or sent away and called in again since
          since = plan.step_start();
          if (plan.epoch() != epoch) {
            worker.take_range(plan.bounds[tid], plan.bounds[tid + 1]);
            epoch = plan.epoch();
          }
        }
        wait = true;
        worker.deliver_spikes(u);
        if (++u < steps) worker.spike_and_integrate(u);
      }
      if (u >= steps) break;
      joined = next;
    }
  }
  plan.save(*sharing);
}

}  // namespace

template <class Real>
std::int64_t synaptic_events(const LoweredModel<Real>& lm, const TrialRecord& r) {
  std::int64_t events = 0;
  for (const std::int32_t j : r.spike_neuron) events += (lm.rec_row[j + 1] - lm.rec_row[j]) * lm.rec_count[lm.cell_type[j]];
  for (const std::int32_t j : r.input_neuron) events += (lm.ff_row[j + 1] - lm.ff_row[j]) * lm.ff_count[lm.input_type[j]];
  return events;
}

template <class Real>
void run_chunk(const LoweredModel<Real>& lm, const InputSource& inputs, std::vector<TrialState<Real>>& states,
               std::int64_t trial0, std::int64_t t0, std::int64_t steps, const RecordSpec& spec,
               std::vector<TrialRecord>* records, ThreadSharing* sharing) {
  const auto batch = static_cast<std::int64_t>(states.size());
  if (records) records->resize(batch);
  const int threads = omp_get_max_threads();
  ThreadSharing defaults;
  if (!sharing) sharing = &defaults;
  FirstError error;
  auto one = [&](std::int64_t b, int inner_threads, ThreadSharing* shared) {
    error.guard([&] {
      run_trial(lm, inputs, states[b], trial0 + b, t0, steps, spec, records ? &(*records)[b] : nullptr, inner_threads,
                shared);
    });
  };
  if (batch >= threads) {
    // Enough trials to keep every thread busy: each thread its own trials,
    // handed out one at a time as threads become free, so that a thread
    // whose core another process also uses runs fewer of them (a static
    // split would give it as many as a free one; bench/README.md, "Shared
    // machines"). Trials are independent: the same bits whoever runs each.
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t b = 0; b < batch; ++b) one(b, 1, nullptr);
  } else {
    // Fewer trials than threads: all threads on one trial at a time.
    for (std::int64_t b = 0; b < batch; ++b) one(b, threads, sharing);
  }
  error.rethrow();
}

template <class Real>
void run_trial_serial(const LoweredModel<Real>& lm, const InputSource& inputs, TrialState<Real>& st,
                      std::int64_t trial, std::int64_t t0, std::int64_t steps) {
  run_trial(lm, inputs, st, trial, t0, steps, RecordSpec{}, nullptr, 1, nullptr);
}

template <class Real>
void run_trial_observed(const LoweredModel<Real>& lm, const InputSource& inputs, TrialState<Real>& st,
                        std::int64_t trial, std::int64_t t0, std::int64_t steps, const StepObserver<Real>& observer) {
  run_trial(lm, inputs, st, trial, t0, steps, RecordSpec{}, nullptr, 1, nullptr, &observer);
}

template void run_trial_observed(const LoweredModel<float>&, const InputSource&, TrialState<float>&, std::int64_t,
                                 std::int64_t, std::int64_t, const StepObserver<float>&);
template void run_trial_observed(const LoweredModel<double>&, const InputSource&, TrialState<double>&, std::int64_t,
                                 std::int64_t, std::int64_t, const StepObserver<double>&);
template void run_trial_serial(const LoweredModel<float>&, const InputSource&, TrialState<float>&, std::int64_t,
                               std::int64_t, std::int64_t);
template void run_trial_serial(const LoweredModel<double>&, const InputSource&, TrialState<double>&, std::int64_t,
                               std::int64_t, std::int64_t);
template std::int64_t synaptic_events(const LoweredModel<float>&, const TrialRecord&);
template std::int64_t synaptic_events(const LoweredModel<double>&, const TrialRecord&);
template TrialState<float> initial_state(const LoweredModel<float>&);
template TrialState<double> initial_state(const LoweredModel<double>&);
template void run_chunk(const LoweredModel<float>&, const InputSource&, std::vector<TrialState<float>>&, std::int64_t,
                        std::int64_t, std::int64_t, const RecordSpec&, std::vector<TrialRecord>*, ThreadSharing*);
template void run_chunk(const LoweredModel<double>&, const InputSource&, std::vector<TrialState<double>>&,
                        std::int64_t, std::int64_t, std::int64_t, const RecordSpec&, std::vector<TrialRecord>*,
                        ThreadSharing*);

}  // namespace homeostat
