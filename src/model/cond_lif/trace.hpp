// The recorded trace of the conductance-based LIF model: what the backward
// pass (adjoint.hpp) needs of every step of a recomputed segment, its bit
// layout, the functions that record it from the forward step's states
// (step.hpp), and the gather into the adjoints' trial-minor layout. See
// README.md here.
#pragma once

#include "common/simd.hpp"
#include "homeostat/model.hpp"
#include "homeostat/sim.hpp"
#include "model/cond_lif/step.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace homeostat::cond_lif {

// Internal linkage: each driver compiles its own copy of the kernels, which
// the compiler then inlines into the driver's loops as it did when they were
// the driver's own (with external linkage GCC kept current_and_decay and the
// backward steps out of line: the forward step ran 3% slower).
namespace {

// What the backward pass needs of one recomputed segment, for the trials of a
// group, as each trial records it (trial-major: [B][K][N], v [B][K+1][N]).
// The backward pass gathers each step's values for a block of neurons into
// its own trial-minor layout while they are in L1 (StepTile).
template <class Real>
struct SegmentTrace {
  std::vector<Real> v;               // v(t), t = s0 .. s0+K
  std::vector<Real> g_sum;           // sum_k (d_k + u_k)(t)
  std::vector<Real> tau;             // t - last spike before t, -1 if none
  std::vector<std::uint32_t> bits;   // refractory_bit, spiked_bit at t; clamp bits after step t
  std::vector<std::vector<std::int32_t>> input_spikes;  // [K * B] inputs spiking at (t, b)

  void resize(std::int64_t len, std::int64_t n, std::int64_t batch) {
    v.resize((len + 1) * n * batch);
    g_sum.resize(len * n * batch);
    tau.resize(len * n * batch);
    bits.resize(len * n * batch);
    input_spikes.resize(len * batch);
  }
};

// SegmentTrace::bits: the refractory and spike flags of step t, and where the
// clamp acted after it (d_k: clamp_d_bit << k, u_k: clamp_u_bit << k; at
// most max_receptor_columns columns, checked by lower()).
constexpr std::uint32_t refractory_bit = 1, spiked_bit = 2, clamp_d_bit = 4, clamp_u_bit = 1u << 17;

// Row of v, tau and the flags of one trial at step t for the neurons [lo,
// hi), from the state at the start of the step (before its spikes): v(t), the time since the last
// spike (-1 if none), refractory_bit and spiked_bit (step 1's condition).
template <class Real>
inline void record_entry(const LoweredModel<Real>& lm, const TrialState<Real>& at_t, std::int64_t t,
                         Real* __restrict v, Real* __restrict tau, std::uint32_t* __restrict bits, std::int64_t lo,
                         std::int64_t hi) {
  for (std::int64_t i = lo; i < hi; ++i) {
    const bool refractory = at_t.refractory[i] > 0;
    const bool spiked = spike_condition(at_t.refractory[i], at_t.v[i], lm.theta[i]);
    v[i] = at_t.v[i];
    tau[i] = at_t.last_spike[i] >= 0 ? static_cast<Real>(t - at_t.last_spike[i]) : Real(-1);
    bits[i] = (refractory ? refractory_bit : 0) | (spiked ? spiked_bit : 0);
  }
}

// g_sum = sum_k (d_k + u_k) of a state for the neurons [lo, hi), summed
// over k in column order.
template <class Real>
inline void record_g_sum(const LoweredModel<Real>& lm, const TrialState<Real>& at_t, Real* __restrict g,
                         std::int64_t lo, std::int64_t hi) {
  const std::int64_t n = lm.n;
  std::fill(g + lo, g + hi, Real(0));
  for (std::int64_t k = 0; k < lm.n_receptors; ++k) {
    const Real* __restrict d = at_t.g_decay.data() + k * n;
    const Real* __restrict u = at_t.g_rise.data() + k * n;
    for (std::int64_t i = lo; i < hi; ++i) g[i] += d[i] + u[i];
  }
}

// After a step (steps 5-6 done, state `next`), for the neurons [lo, hi):
// where step 6 clamped, into the step's `bits`, and, in the same pass over
// the conductances, the next step's g_sum into `g` if `more` (a next step
// is recorded).
template <class Real>
inline void record_exit(const LoweredModel<Real>& lm, const TrialState<Real>& next, bool more,
                        std::uint32_t* __restrict bits, Real* __restrict g, std::int64_t lo, std::int64_t hi) {
  const std::int64_t n = lm.n;
  if (more) std::fill(g + lo, g + hi, Real(0));
  for (std::int64_t k = 0; k < lm.n_receptors; ++k) {
    const Real g_max = lm.g_max[k];
    const Real* __restrict d = next.g_decay.data() + k * n;
    const Real* __restrict u = next.g_rise.data() + k * n;
    if (lm.saturate && more) {
      for (std::int64_t i = lo; i < hi; ++i) {
        bits[i] |= (d[i] == g_max ? clamp_d_bit << k : 0) | (u[i] == -g_max ? clamp_u_bit << k : 0);
        g[i] += d[i] + u[i];
      }
    } else if (lm.saturate) {
      for (std::int64_t i = lo; i < hi; ++i)
        bits[i] |= (d[i] == g_max ? clamp_d_bit << k : 0) | (u[i] == -g_max ? clamp_u_bit << k : 0);
    } else if (more) {
      for (std::int64_t i = lo; i < hi; ++i) g[i] += d[i] + u[i];
    }
  }
}

// Trial b's values of neurons [i0, i0 + count) start at rows + b * stride;
// they go to `out` trial-minor: element (i, b) at (i - i0) batch + b. With W
// = 4, 8 or 16 trials (then batch is W) of four-byte values and a block of
// 16 neurons, through registers (simd::zip_transpose).
template <int W, class T>
void gather_trials(const T* rows, std::int64_t stride, std::int64_t batch, std::int64_t i0, std::int64_t count,
                   T* __restrict out) {
  if constexpr ((W == 4 || W == 8 || W == 16) && sizeof(T) == 4) {
    if (count == 16) {
      simd::U32x16 x[W];
      for (std::int64_t b = 0; b < W; ++b) std::memcpy(&x[b], rows + b * stride + i0, sizeof x[b]);
      simd::zip_transpose<W>(x);
      std::memcpy(out, x, sizeof x);
      return;
    }
  }
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t li = 0; li < count; ++li) out[li * batch + b] = rows[b * stride + i0 + li];
}

// A step's trace for a block of at most 16 neurons [i0, i0 + count),
// gathered into the adjoints' trial-minor layout: element (i, b) at
// (i - i0) B + b. Each part reads the fields it needs.
template <class Real>
struct StepTile {
  const Real *v0, *v1, *g_sum, *tau;  // v(t), v(t+1), sum_k g_k(t), time since the last spike
  const std::uint32_t* bits;          // SegmentTrace::bits of step t
};

}  // namespace
}  // namespace homeostat::cond_lif
