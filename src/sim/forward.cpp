// CPU forward kernel. See forward.md for the layout and the threading scheme.
//
// Conductances are receptor-major [R][N] so that the per-step current/decay
// pass is a unit-stride loop the compiler vectorises; spike delivery scatters
// into it along one CSR row per spike.
#include "homeostat/sim.hpp"

#include "common/first_error.hpp"
#include "common/simd.hpp"
#include "common/subnormals.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

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

// Step 5 + 6 for one presynaptic spike, restricted to targets in [lo, hi):
// every receptor column of the presynaptic type on every target gets +w*g_max
// on d and -w*g_max on u, clamped at +-g_max when saturating. Weights are > 0,
// so d only grows and u only falls here: the clamp needs only the one bound,
// and clamping after each increment equals clamping after all of them.
template <class Real>
inline void deliver(const LoweredModel<Real>& lm, TrialState<Real>& st, const std::int64_t* row,
                    const std::int32_t* post, const Real* weight, std::int32_t first, std::int32_t count,
                    std::int32_t pre, std::int32_t lo, std::int32_t hi, bool whole_row) {
  // Rows are sorted by target: a thread's share of a row is contiguous.
  std::int64_t begin = row[pre], end = row[pre + 1];
  if (!whole_row) {
    begin = std::lower_bound(post + begin, post + end, lo) - post;
    end = std::lower_bound(post + begin, post + end, hi) - post;
  }
  const std::int64_t n = lm.n;
  // One walk of the row for up to 4 columns at a time (the same increments,
  // in the same order, as one walk per column).
  constexpr std::int32_t per_walk = 4;
  for (std::int32_t c0 = 0; c0 < count; c0 += per_walk) {
    const std::int32_t cols = std::min(per_walk, count - c0);
    Real* d[per_walk];
    Real* u[per_walk];
    Real g_max[per_walk];
    for (std::int32_t c = 0; c < cols; ++c) {
      d[c] = st.g_decay.data() + (first + c0 + c) * n;
      u[c] = st.g_rise.data() + (first + c0 + c) * n;
      g_max[c] = lm.g_max[first + c0 + c];
    }
    for (std::int64_t e = begin; e < end; ++e) {
      const std::int32_t i = post[e];
      const Real w = weight[e];
      for (std::int32_t c = 0; c < cols; ++c) {
        const Real inc = w * g_max[c];
        if (lm.saturate) {
          d[c][i] = std::min(d[c][i] + inc, g_max[c]);
          u[c][i] = std::max(u[c][i] - inc, -g_max[c]);
        } else {
          d[c][i] += inc;
          u[c][i] -= inc;
        }
      }
    }
  }
}

// Indices in [lo, hi) of the nonzero flags, ascending; there are `count` of
// them. Spikes are rare: skip 8 flags at a time while they are all zero, and
// stop after the last one.
inline void collect_flags(const std::int32_t* flag, std::int64_t lo, std::int64_t hi, std::int64_t count,
                          std::vector<std::int32_t>& out) {
  out.clear();
  std::int64_t i = lo;
  for (; i + 8 <= hi && static_cast<std::int64_t>(out.size()) < count; i += 8) {
    std::int32_t any = 0;
    for (std::int64_t k = i; k < i + 8; ++k) any |= flag[k];
    if (any == 0) continue;
    for (std::int64_t k = i; k < i + 8; ++k)
      if (flag[k]) out.push_back(static_cast<std::int32_t>(k));
  }
  for (; i < hi && static_cast<std::int64_t>(out.size()) < count; ++i)
    if (flag[i]) out.push_back(static_cast<std::int32_t>(i));
}

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

// Steps 2 and 4 on neurons [lo, hi): I_syn = sum_k (d_k + u_k)(v - E_k),
// summed over k in column order starting from 0, then d_k *= alpha_decay,
// u_k *= alpha_rise. One pass over the neurons, 64 bytes at a time, with every
// receptor column of a block handled while the current stays in a register
// (explicit vectors: with 2R + 2 streams GCC's auto-vectoriser falls back to
// scalar code). Same operations in the same order as the scalar tail.
template <class Real>
void current_and_decay(const LoweredModel<Real>& lm, TrialState<Real>& st, Real* cur, std::int64_t lo,
                       std::int64_t hi) {
  using V = typename simd::Vec64<Real>::type;
  constexpr std::int64_t width = simd::Vec64<Real>::width;
  const std::int64_t n = lm.n, nr = lm.n_receptors;
  Real* __restrict d = st.g_decay.data();
  Real* __restrict u = st.g_rise.data();
  const Real* __restrict v = st.v.data();
  const Real* e_syn = lm.e_syn.data();
  const Real* a_d = lm.alpha_decay.data();
  const Real* a_u = lm.alpha_rise.data();
  std::int64_t i = lo;
  for (; i + width <= hi; i += width) {
    const V vi = simd::load<V>(v + i);
    V c = {};
    for (std::int64_t k = 0; k < nr; ++k) {
      const V dk = simd::load<V>(d + k * n + i), uk = simd::load<V>(u + k * n + i);
      c = c + (dk + uk) * (vi - e_syn[k]);
      simd::store(d + k * n + i, dk * a_d[k]);
      simd::store(u + k * n + i, uk * a_u[k]);
    }
    simd::store(cur + i, c);
  }
  for (; i < hi; ++i) {
    Real c = 0;
    for (std::int64_t k = 0; k < nr; ++k) {
      c += (d[k * n + i] + u[k * n + i]) * (v[i] - e_syn[k]);
      d[k * n + i] *= a_d[k];
      u[k * n + i] *= a_u[k];
    }
    cur[i] = c;
  }
}

// The membrane constants of every cell type as 16-lane tables, for the
// float membrane pass to look up by the neuron's type (one int32 stream
// instead of six per-neuron parameter streams). Empty for double or more
// than 16 types.
template <class Real>
struct TypeTables {
  using V = typename simd::Vec64<float>::type;
  using I = simd::Vec64<std::int32_t>::type;
  bool usable = false;
  V e_leak{}, beta{}, dt_cm{}, u_reset{}, theta{};
  I n_ref{};

  explicit TypeTables(const LoweredModel<Real>& lm) {
    if constexpr (std::is_same_v<Real, float>) {
      for (std::int64_t i = 0; i < lm.n; ++i) {
        const std::int32_t t = lm.cell_type[i];
        if (t < 0 || t >= 16) return;  // not usable
        e_leak[t] = lm.e_leak[i];
        beta[t] = lm.beta[i];
        dt_cm[t] = lm.dt_over_cm[i];
        u_reset[t] = lm.u_reset[i];
        theta[t] = lm.theta[i];
        n_ref[t] = lm.n_ref[i];
      }
      usable = true;
    }
  }
};

// Step 3 on neurons [lo, hi): exact leak, forward-Euler synaptic current;
// held at U_reset while refractory; reset to U_reset and made refractory
// where `flag` (set by the previous step's pass) says the neuron spikes now.
// It then flags who may spike at the next step (returning how many) and adds
// v and v^2 to the membrane moments `vs`, `vs2` if given. Branch-free; for
// float 16 neurons at a time with the constants from `types`, the rest with
// unconditional loads (if-convertible): the same operations either way.
template <class Real>
std::int64_t membrane_pass(const LoweredModel<Real>& lm, const TypeTables<Real>& types, Real* __restrict v,
                           std::int32_t* __restrict ref, const Real* __restrict cur, std::int32_t* __restrict flag,
                           double* __restrict vs, double* __restrict vs2, std::int64_t lo, std::int64_t hi) {
  std::int64_t i = lo, count = 0;
  if constexpr (std::is_same_v<Real, float>) {
    if (types.usable) {
      using V = typename simd::Vec64<float>::type;
      using I = simd::Vec64<std::int32_t>::type;
      using H = simd::Vec32<float>::type;
      using D = simd::Vec64<double>::type;
      I counts = {};
      for (; i + 16 <= hi; i += 16) {
        const I type = simd::load<I>(lm.cell_type.data() + i);
        const V e_leak = __builtin_shuffle(types.e_leak, type);
        const V free = e_leak + (simd::load<V>(v + i) - e_leak) * __builtin_shuffle(types.beta, type) -
                       __builtin_shuffle(types.dt_cm, type) * simd::load<V>(cur + i);
        const I r = simd::load<I>(ref + i), spikes = simd::load<I>(flag + i) != 0;
        const I refractory = r > 0;
        const V vn = (refractory | spikes) ? __builtin_shuffle(types.u_reset, type) : free;
        const I rn = spikes ? __builtin_shuffle(types.n_ref, type) : (refractory ? r - 1 : I{});
        simd::store(v + i, vn);
        simd::store(ref + i, rn);
        const I f = (rn == 0) & (vn > __builtin_shuffle(types.theta, type)) & 1;
        simd::store(flag + i, f);
        counts += f;
        if (vs) {
          for (int h = 0; h < 2; ++h) {
            H half;
            std::memcpy(&half, reinterpret_cast<const char*>(&vn) + 32 * h, sizeof half);
            const D y = __builtin_convertvector(half, D);
            simd::store(vs + i + 8 * h, simd::load<D>(vs + i + 8 * h) + y);
            simd::store(vs2 + i + 8 * h, simd::load<D>(vs2 + i + 8 * h) + y * y);
          }
        }
      }
      for (int q = 0; q < 16; ++q) count += counts[q];
    }
  }
  const Real* __restrict e_leak = lm.e_leak.data();
  const Real* __restrict beta = lm.beta.data();
  const Real* __restrict dt_cm = lm.dt_over_cm.data();
  const Real* __restrict u_reset = lm.u_reset.data();
  const Real* __restrict theta = lm.theta.data();
  const std::int32_t* __restrict n_ref = lm.n_ref.data();
  for (; i < hi; ++i) {
    const Real free = e_leak[i] + (v[i] - e_leak[i]) * beta[i] - dt_cm[i] * cur[i];
    const std::int32_t r = ref[i], spikes = flag[i];
    const Real reset = u_reset[i], threshold = theta[i];  // unconditional loads: if-convertible
    const std::int32_t refractory_steps = n_ref[i];
    const Real vn = r > 0 || spikes ? reset : free;
    const std::int32_t rn = spikes ? refractory_steps : (r > 0 ? r - 1 : 0);
    v[i] = vn;
    ref[i] = rn;
    const std::int32_t f = rn == 0 && vn > threshold;  // U_reset < theta (validated): never a spiker
    flag[i] = f;
    count += f;
    if (vs) {
      const double y = static_cast<double>(vn);
      vs[i] += y;
      vs2[i] += y * y;
    }
  }
  return count;
}

// One trial advanced by `n_threads` threads, each owning a contiguous range of
// neurons (their membrane, their conductances, their incoming synapses). The
// arithmetic on every element is the same sequence whatever the number of
// ranges, so results are bit-identical for any thread count.
template <class Real>
void run_trial(const LoweredModel<Real>& lm, const InputSource& inputs, TrialState<Real>& st, std::int64_t trial,
               std::int64_t t0, std::int64_t steps, const RecordSpec& spec, TrialRecord* rec, int n_threads,
               std::int64_t min_neurons_per_thread, const StepObserver<Real>* observer = nullptr) {
  const std::int64_t n = lm.n;
  const std::int64_t n_rec = lm.n_receptors;
  const auto n_watch = static_cast<std::int64_t>(spec.neurons.size());
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
  for (std::int64_t i = 0; i < n; ++i) can_spike[i] = st.refractory[i] == 0 && st.v[i] > lm.theta[i];
  // Spikes of each thread's range, double-buffered by step parity: while a
  // thread delivers step s, another may already collect step s + 1.
  std::vector<std::vector<std::int32_t>> spikes[2];
  spikes[0].resize(n_threads);
  spikes[1].resize(n_threads);
  for (auto& buf : spikes)
    for (auto& v : buf) v.reserve(n / n_threads + 1);

  if (rec) {
    *rec = TrialRecord{};
    if (spec.voltages) rec->voltages.resize(steps * n_watch);
    if (spec.conductances) rec->conductances.resize(steps * n_watch * 2 * n_rec);
    if (spec.currents) rec->currents.resize(steps * n_watch * n_rec);
    rec->v_sum.assign(n, 0.0);
    rec->v_sum_sq.assign(n, 0.0);
  }

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

      if (rec && spec.currents) {
        for (std::int64_t w = w_lo; w < w_hi; ++w) {
          const std::int64_t i = spec.neurons[w];
          for (std::int64_t k = 0; k < n_rec; ++k)
            rec->currents[(s * n_watch + w) * n_rec + k] =
                static_cast<float>((st.g_decay[k * n + i] + st.g_rise[k * n + i]) * (v[i] - lm.e_syn[k]));
        }
      }

      // 2. Currents I_syn = sum_k g_k (v - E_k), fused with 4. decay (which
      // only touches g after its current has been taken).
      current_and_decay(lm, st, i_syn.data(), lo, hi);

      // 3. Membrane: exact leak, forward-Euler synaptic current; held at
      // U_reset while refractory; reset on a spike. Branch-free so that it
      // vectorises; it also flags who may spike at the next step's step 1.
      flagged = membrane_pass(lm, types, v, ref, i_syn.data(), can_spike.data(), rec ? rec->v_sum.data() : nullptr,
                              rec ? rec->v_sum_sq.data() : nullptr, lo, hi);
      for (const std::int32_t j : mine) st.last_spike[j] = t;
      if (rec && spec.voltages)
        for (std::int64_t w = w_lo; w < w_hi; ++w)
          rec->voltages[s * n_watch + w] = static_cast<float>(v[spec.neurons[w]]);

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

      if (!rec) continue;
      if (spec.conductances) {
        for (std::int64_t w = w_lo; w < w_hi; ++w) {
          const std::int64_t i = spec.neurons[w];
          float* out = rec->conductances.data() + (s * n_watch + w) * 2 * n_rec;
          for (std::int64_t k = 0; k < n_rec; ++k) out[k] = static_cast<float>(st.g_rise[k * n + i]);
          for (std::int64_t k = 0; k < n_rec; ++k) out[n_rec + k] = static_cast<float>(st.g_decay[k * n + i]);
        }
      }
      if (tid == 0) {
        for (const auto& part : spikes[s & 1]) {
          for (const std::int32_t j : part) {
            rec->spike_step.push_back(static_cast<std::int32_t>(s));
            rec->spike_neuron.push_back(j);
          }
        }
        if (spec.input_spikes) {
          for (const std::int32_t j : input_spikes) {
            rec->input_step.push_back(static_cast<std::int32_t>(s));
            rec->input_neuron.push_back(j);
          }
        }
      }
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
