// The forward driver: trials, threads sharing a trial, recording and
// observers around the model's step (src/model/cond_lif/step.hpp). See
// forward.md for the layout and the threading scheme.
#include "homeostat/sim.hpp"

#include "common/first_error.hpp"
#include "common/subnormals.hpp"
#include "model/cond_lif/step.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
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

// Moves the bounds of the threads' ranges halfway towards shares of the
// neurons proportional to each thread's measured speed (neurons per second
// of `busy`), keeping them 16-aligned with at least 16 neurons each, and
// clears `busy`. Threads sharing a trial wait for the slowest one at every
// step; on a virtual machine two cores can differ in speed by up to 2x.
inline void rebalance(std::vector<std::int64_t>& bounds, std::vector<double>& busy) {
  const auto threads = static_cast<std::int64_t>(busy.size());
  const std::int64_t n = bounds[threads];
  std::vector<double> speed(threads);
  double total = 0;
  for (std::int64_t k = 0; k < threads; ++k) {
    if (!(busy[k] > 0)) return;  // nothing measured: keep the bounds
    speed[k] = static_cast<double>(bounds[k + 1] - bounds[k]) / busy[k];
    total += speed[k];
  }
  double at = 0;
  for (std::int64_t k = 1; k < threads; ++k) {
    at += speed[k - 1] / total * static_cast<double>(n);
    const double target = 0.5 * (static_cast<double>(bounds[k]) + at);
    const std::int64_t low = bounds[k - 1] + 16, high = n - 16 * (threads - k);
    bounds[k] = std::clamp<std::int64_t>(std::llround(target / 16) * 16, low, high);
  }
  std::fill(busy.begin(), busy.end(), 0.0);
}

// What run_trial records of one trial (RecordSpec) into a TrialRecord,
// each part of it at the point of the step where MODEL.md 4's recording
// convention takes it. A thread records the watched neurons of its range
// [w_lo, w_hi) (indices into spec.neurons); thread 0 the spikes.
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

// One trial advanced by `n_threads` threads, each owning a contiguous range of
// neurons (their membrane, their conductances, their incoming synapses). The
// arithmetic on every element is the same sequence whatever the number of
// ranges, so results are bit-identical for any thread count.
template <class Real>
void run_trial(const LoweredModel<Real>& lm, const InputSource& inputs, TrialState<Real>& st, std::int64_t trial,
               std::int64_t t0, std::int64_t steps, const RecordSpec& spec, TrialRecord* rec, int n_threads,
               std::int64_t min_neurons_per_thread, const StepObserver<Real>* observer = nullptr) {
  const std::int64_t n = lm.n;
  // Sharing a trial costs a barrier per step: only worth it for large N.
  const std::int64_t max_ranges = n / std::max<std::int64_t>(1, min_neurons_per_thread);
  n_threads = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(n_threads, max_ranges)));
  // An input source that cannot serve the whole chunk (a replay that ends
  // early) must say so here: nothing may throw inside the parallel region.
  if (steps > 0) {
    std::vector<std::int32_t> probe;
    inputs.spikes(trial, t0, probe);
    inputs.spikes(trial, t0 + steps - 1, probe);
  }

  std::vector<Real> i_syn(n);
  std::vector<std::int32_t> can_spike(n);  // int32: same width as float, so the pass vectorises
  for (std::int64_t i = 0; i < n; ++i) can_spike[i] = cond_lif::spike_condition(st.refractory[i], st.v[i], lm.theta[i]);
  // Spikes of each thread's range, double-buffered by step parity: while a
  // thread delivers step s, another may already collect step s + 1.
  std::vector<std::vector<std::int32_t>> spikes[2];
  spikes[0].resize(n_threads);
  spikes[1].resize(n_threads);
  for (auto& buf : spikes)
    for (auto& v : buf) v.reserve(n / n_threads + 1);

  std::optional<TrialRecorder<Real>> recorder;
  if (rec) recorder.emplace(lm, spec, *rec, steps);

  // Thread k owns neurons [bounds[k], bounds[k + 1]), 16-aligned (64 bytes
  // of float: no false sharing). The bounds follow each thread's measured
  // speed (see rebalance); which thread computes an element never changes
  // what is computed.
  std::vector<std::int64_t> bounds(n_threads + 1);
  for (int k = 0; k <= n_threads; ++k)
    bounds[k] = k == n_threads ? n : std::min<std::int64_t>(n, (n * k / n_threads) / 16 * 16);
  std::vector<double> busy(n_threads, 0.0);  // seconds of work of each thread since the last rebalance
  const TypeTables<Real> types(lm);
  constexpr std::int64_t rebalance_every = 128;

#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
  {
    const int tid = omp_get_thread_num();
    const simd::FlushSubnormals flush;
    const bool whole = n_threads == 1;
    std::int64_t lo = 0, hi = 0, w_lo = 0, w_hi = 0;
    // Neurons of [lo, hi) flagged to spike at the next step.
    std::int64_t flagged = 0;
    auto take_range = [&] {
      lo = bounds[tid];
      hi = bounds[tid + 1];
      // Watched neurons in this range: [w_lo, w_hi) of spec.neurons.
      w_lo = std::lower_bound(spec.neurons.begin(), spec.neurons.end(), lo) - spec.neurons.begin();
      w_hi = std::lower_bound(spec.neurons.begin(), spec.neurons.end(), hi) - spec.neurons.begin();
      flagged = 0;
      for (std::int64_t i = lo; i < hi; ++i) flagged += can_spike[i];
    };
    take_range();
    double since = omp_get_wtime();
    std::vector<std::int32_t> input_spikes;
    Real* v = st.v.data();
    std::int32_t* ref = st.refractory.data();

    for (std::int64_t s = 0; s < steps; ++s) {
      const std::int64_t t = t0 + s;
      std::vector<std::int32_t>& mine = spikes[s & 1][tid];
      if (observer) observer->before(s, st);

      // 1. Spike: above threshold and not refractory (flagged by the
      // previous step's membrane pass).
      collect_flags(can_spike.data(), lo, hi, flagged, mine);

      if (recorder) recorder->currents(s, st, w_lo, w_hi);

      // 2. Currents I_syn = sum_k g_k (v - E_k), fused with 4. decay (which
      // only touches g after its current has been taken).
      current_and_decay(lm, st, i_syn.data(), lo, hi);

      // 3. Membrane: exact leak, forward-Euler synaptic current; held at
      // U_reset while refractory; reset on a spike. Branch-free so that it
      // vectorises; it also flags who may spike at the next step's step 1.
      flagged = membrane_pass(lm, types, v, ref, i_syn.data(), can_spike.data(), rec ? rec->v_sum.data() : nullptr,
                              rec ? rec->v_sum_sq.data() : nullptr, lo, hi);
      for (const std::int32_t j : mine) st.last_spike[j] = t;
      if (recorder) recorder->voltages(s, st, w_lo, w_hi);

      // Every range's spikes of this step are needed by every thread below.
      if (!whole) busy[tid] += omp_get_wtime() - since;
#pragma omp barrier
      if (!whole && (s + 1) % rebalance_every == 0 && s + 1 < steps) {
#pragma omp single
        rebalance(bounds, busy);
        // implicit barrier: the new bounds are seen by every thread
        take_range();
      }
      if (!whole) since = omp_get_wtime();

      // 5 + 6. Increment (and clamp) from this step's recurrent and input
      // spikes, in a fixed order: recurrent ascending, then inputs ascending.
      for (const auto& part : spikes[s & 1])
        for (const std::int32_t j : part)
          deliver(lm, st, lm.rec_row.data(), lm.rec_post.data(), lm.rec_weight.data(), lm.rec_first[lm.cell_type[j]],
                  lm.rec_count[lm.cell_type[j]], j, static_cast<std::int32_t>(lo), static_cast<std::int32_t>(hi),
                  whole);
      inputs.spikes(trial, t, input_spikes);
      for (const std::int32_t j : input_spikes)
        deliver(lm, st, lm.ff_row.data(), lm.ff_post.data(), lm.ff_weight.data(), lm.ff_first[lm.input_type[j]],
                lm.ff_count[lm.input_type[j]], j, static_cast<std::int32_t>(lo), static_cast<std::int32_t>(hi), whole);
      if (observer) observer->after(s, st, input_spikes);

      if (recorder) recorder->step_end(s, st, w_lo, w_hi, tid == 0, spikes[s & 1], input_spikes);
    }
  }
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
               std::vector<TrialRecord>* records, std::int64_t min_neurons_per_thread) {
  const auto batch = static_cast<std::int64_t>(states.size());
  if (records) records->resize(batch);
  const int threads = omp_get_max_threads();
  FirstError error;
  auto one = [&](std::int64_t b, int inner_threads) {
    error.guard([&] {
      run_trial(lm, inputs, states[b], trial0 + b, t0, steps, spec, records ? &(*records)[b] : nullptr, inner_threads,
                min_neurons_per_thread);
    });
  };
  if (batch >= threads) {
    // Enough trials to keep every thread busy: one trial per thread.
#pragma omp parallel for schedule(static)
    for (std::int64_t b = 0; b < batch; ++b) one(b, 1);
  } else {
    // Fewer trials than threads: all threads on one trial at a time.
    for (std::int64_t b = 0; b < batch; ++b) one(b, threads);
  }
  error.rethrow();
}

template <class Real>
void run_trial_serial(const LoweredModel<Real>& lm, const InputSource& inputs, TrialState<Real>& st,
                      std::int64_t trial, std::int64_t t0, std::int64_t steps) {
  run_trial(lm, inputs, st, trial, t0, steps, RecordSpec{}, nullptr, 1, lm.n);
}

template <class Real>
void run_trial_observed(const LoweredModel<Real>& lm, const InputSource& inputs, TrialState<Real>& st,
                        std::int64_t trial, std::int64_t t0, std::int64_t steps, const StepObserver<Real>& observer) {
  run_trial(lm, inputs, st, trial, t0, steps, RecordSpec{}, nullptr, 1, lm.n, &observer);
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
                        std::int64_t, std::int64_t, const RecordSpec&, std::vector<TrialRecord>*, std::int64_t);
template void run_chunk(const LoweredModel<double>&, const InputSource&, std::vector<TrialState<double>>&,
                        std::int64_t, std::int64_t, std::int64_t, const RecordSpec&, std::vector<TrialRecord>*,
                        std::int64_t);

}  // namespace homeostat
