// The forward step of the conductance-based LIF model (MODEL.md section 4)
// as its named steps, for the drivers in src/sim (run_trial) and src/grad
// (recomputation): 1. spike, 2. currents, 3. membrane, 4. decay,
// 5. increment, 6. clamp. Each kernel says which steps it fuses (measured:
// bench/README.md); their adjoints are in adjoint.hpp, the recorded trace
// they leave for the backward pass in trace.hpp. See README.md here.
#pragma once

#include "common/simd.hpp"
#include "homeostat/model.hpp"
#include "homeostat/sim.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace homeostat::cond_lif {

// Internal linkage: each driver compiles its own copy of the kernels, which
// the compiler then inlines into the driver's loops as it did when they were
// the driver's own (with external linkage GCC kept current_and_decay and the
// backward steps out of line: the forward step ran 3% slower).
namespace {

// Step 1's condition, the one definition of a spike: not refractory and
// above threshold. For one neuron (0 or 1) or a vector of neurons (a lane
// mask: all bits set where it spikes); `refractory` is the number of
// refractory steps left.
template <class I, class V, class T>
inline auto spike_condition(I refractory, V v, T theta) {
  return (refractory == 0) & (v > theta);
}

// Step 1 on neurons [lo, hi): the spiking neurons, as flagged by the
// previous step's membrane pass (spike_condition): the indices of the
// nonzero flags, ascending; there are `count` of them. Spikes are rare: skip 8 flags at a time while they are all zero, and
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

// Step 2's current of one receptor column, g_k (v - E_k) with g_k = d_k +
// u_k, for one neuron or a vector of them.
template <class V, class Real>
inline V receptor_current(V d, V u, V v, Real e_syn) {
  return (d + u) * (v - e_syn);
}

// Steps 2 and 4 on the neurons [i, i + lanes of V), V a vector of Real or
// Real itself (one neuron): I_syn = sum_k (d_k + u_k)(v - E_k), summed over
// k in column order starting from 0, then d_k *= alpha_decay, u_k *=
// alpha_rise. Conductances [R][N] at stride n.
template <class V, class Real>
inline void current_and_decay_at(std::int64_t i, std::int64_t n, std::int64_t nr, Real* __restrict d,
                                 Real* __restrict u, const Real* __restrict v, const Real* e_syn, const Real* a_d,
                                 const Real* a_u, Real* __restrict cur) {
  const V vi = simd::load<V>(v + i);
  V c = {};
  for (std::int64_t k = 0; k < nr; ++k) {
    const V dk = simd::load<V>(d + k * n + i), uk = simd::load<V>(u + k * n + i);
    c = c + receptor_current(dk, uk, vi, e_syn[k]);
    simd::store(d + k * n + i, dk * a_d[k]);
    simd::store(u + k * n + i, uk * a_u[k]);
  }
  simd::store(cur + i, c);
}

// Steps 2 and 4 fused, on neurons [lo, hi) (`current_and_decay_at`; the
// decay only touches g after its current has been taken). One pass over the
// neurons, 64 bytes at a time, with every receptor column of a block handled
// while the current stays in a register (explicit vectors: with 2R + 2
// streams GCC's auto-vectoriser falls back to scalar code), the tail one
// neuron at a time.
template <class Real>
void current_and_decay(const LoweredModel<Real>& lm, TrialState<Real>& st, Real* cur, std::int64_t lo,
                       std::int64_t hi) {
  using V = typename simd::Vec64<Real>::type;
  constexpr std::int64_t width = simd::Vec64<Real>::width;
  const std::int64_t n = lm.n, nr = lm.n_receptors;
  Real* d = st.g_decay.data();
  Real* u = st.g_rise.data();
  const Real* v = st.v.data();
  const Real* e_syn = lm.e_syn.data();
  const Real* a_d = lm.alpha_decay.data();
  const Real* a_u = lm.alpha_rise.data();
  std::int64_t i = lo;
  for (; i + width <= hi; i += width) current_and_decay_at<V>(i, n, nr, d, u, v, e_syn, a_d, a_u, cur);
  for (; i < hi; ++i) current_and_decay_at<Real>(i, n, nr, d, u, v, e_syn, a_d, a_u, cur);
}

// The membrane constants of step 3 for one neuron (V = Real, I = int32) or
// for a vector of neurons (V, I vectors of as many lanes).
template <class V, class I>
struct MembraneConstants {
  V e_leak, beta, dt_cm, u_reset, theta;
  I n_ref;
};

// Step 3 for one neuron or a vector of them: exact leak, forward-Euler
// synaptic current `cur`; held at U_reset while refractory (`r` steps left);
// reset to U_reset and made refractory where `spiking` (nonzero: it spikes
// at this step, step 1). Updates v and r and returns the spike condition of
// the next step's step 1 (U_reset < theta, validated: a reset neuron never
// spikes). Branch-free, for vectors lane by lane.
template <class V, class I, class S>
inline auto membrane(const MembraneConstants<V, I>& c, V& v, I& r, V cur, S spiking) {
  const V free = c.e_leak + (v - c.e_leak) * c.beta - c.dt_cm * cur;
  const auto refractory = r > 0;
  v = (refractory | spiking) ? c.u_reset : free;
  r = spiking ? c.n_ref : (refractory ? r - 1 : I{});
  return spike_condition(r, v, c.theta);
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
  MembraneConstants<V, I> table{};

  explicit TypeTables(const LoweredModel<Real>& lm) {
    if constexpr (std::is_same_v<Real, float>) {
      for (std::int64_t i = 0; i < lm.n; ++i) {
        const std::int32_t t = lm.cell_type[i];
        if (t < 0 || t >= 16) return;  // not usable
        table.e_leak[t] = lm.e_leak[i];
        table.beta[t] = lm.beta[i];
        table.dt_cm[t] = lm.dt_over_cm[i];
        table.u_reset[t] = lm.u_reset[i];
        table.theta[t] = lm.theta[i];
        table.n_ref[t] = lm.n_ref[i];
      }
      usable = true;
    }
  }

  // The constants of 16 neurons of the given types.
  MembraneConstants<V, I> of(I type) const {
    return {__builtin_shuffle(table.e_leak, type), __builtin_shuffle(table.beta, type),
            __builtin_shuffle(table.dt_cm, type),  __builtin_shuffle(table.u_reset, type),
            __builtin_shuffle(table.theta, type),  __builtin_shuffle(table.n_ref, type)};
  }
};

// Step 3 (`membrane`) on neurons [lo, hi), fused with step 1's spike
// condition of the next step and the membrane moments: where `flag` (set by
// the previous step's pass) says the neuron spikes now it is reset; it then
// flags who may spike at the next step (returning how many) and adds v and
// v^2 to the membrane moments `vs`, `vs2` if given. For float 16 neurons at
// a time with the constants from `types`, the rest one at a time with
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
        const MembraneConstants<V, I> c = types.of(simd::load<I>(lm.cell_type.data() + i));
        V vn = simd::load<V>(v + i);
        I rn = simd::load<I>(ref + i);
        const I f = membrane(c, vn, rn, simd::load<V>(cur + i), simd::load<I>(flag + i) != 0) & 1;
        simd::store(v + i, vn);
        simd::store(ref + i, rn);
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
    const MembraneConstants<Real, std::int32_t> c{e_leak[i], beta[i], dt_cm[i], u_reset[i], theta[i], n_ref[i]};
    Real vn = v[i];
    std::int32_t rn = ref[i];
    const std::int32_t f = membrane(c, vn, rn, cur[i], flag[i]);
    v[i] = vn;
    ref[i] = rn;
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

}  // namespace
}  // namespace homeostat::cond_lif
