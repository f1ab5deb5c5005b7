// The adjoint of the forward step (step.hpp): MODEL.md section 4's steps in
// reverse under the surrogate of section 5, for every trial of a group at
// once (trial-minor layout), reading the recorded trace (trace.hpp). The
// derivation is in README.md here; the driver that recomputes segments and
// runs these over a chunk is src/grad/bptt.cpp.
#pragma once

#include "common/simd.hpp"
#include "common/subnormals.hpp"
#include "homeostat/grad.hpp"
#include "homeostat/loss.hpp"
#include "homeostat/model.hpp"
#include "model/cond_lif/trace.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace homeostat::cond_lif {

// Internal linkage: each driver compiles its own copy of the kernels, which
// the compiler then inlines into the driver's loops as it did when they were
// the driver's own (with external linkage GCC kept current_and_decay and the
// backward steps out of line: the forward step ran 3% slower).
namespace {

// Adjoints dL/dS(t+1) of every trial, trial-minor [.][N][B].
template <class Real>
struct Adjoint {
  std::vector<Real> v, d, u;     // [N][B], [R][N][B], [R][N][B]
  std::vector<Real> spike;       // [N][B] dL/ds_j(t)
  std::vector<Real> nu;          // [types][N][B]: sum over the type's receptors of g_max (dL/dd - dL/du)
  std::vector<std::uint8_t> spiked;  // [N][B] the spikes of step t (for step 5)
  std::vector<std::uint8_t> needed;  // [N] whether row j's product is needed (sparse approximation)
  // dL/dw of each atom of trial_atom trials of the group, accumulated over
  // the chunk (steps descending, the atom's trials ascending): [atom][E].
  std::vector<std::vector<double>> d_rec, d_ff;
};

// Trials [b0, b0 + width of V) of row_product, with V a vector type (or
// Real itself for one trial).
template <class V, class Real>
inline void row_product_tile(const Real* __restrict w, const std::int32_t* __restrict post, std::int64_t begin,
                             std::int64_t end, const Real* __restrict x, std::int64_t batch, std::int64_t b0,
                             Real* __restrict out) {
  auto at = [&](std::int64_t e) {
    if constexpr (std::is_same_v<V, Real>) {
      return x[static_cast<std::int64_t>(post[e]) * batch + b0];
    } else {
      return simd::load<V>(x + static_cast<std::int64_t>(post[e]) * batch + b0);
    }
  };
  V p0{}, p1{}, p2{}, p3{};
  std::int64_t e = begin;
  for (; e + 4 <= end; e += 4) {
    p0 = p0 + w[e] * at(e);
    p1 = p1 + w[e + 1] * at(e + 1);
    p2 = p2 + w[e + 2] * at(e + 2);
    p3 = p3 + w[e + 3] * at(e + 3);
  }
  for (; e < end; ++e) p0 = p0 + w[e] * at(e);
  const V sum = (p0 + p1) + (p2 + p3);
  if constexpr (std::is_same_v<V, Real>) {
    out[b0] += sum;
  } else {
    simd::store(out + b0, simd::load<V>(out + b0) + sum);
  }
}

// out[b] += sum_e w[e] x[post[e]][b] for every trial b of one CSR row: the
// step that costs one multiply-add per synapse, step and trial. Trials go 64,
// 32, then 16 bytes at a time (the row's weights and indices are read once
// per block), the rest one by one; four partial sums over the synapses keep
// the additions from waiting on each other. The order of every addition is fixed
// by the row alone: the same bits whatever the thread count.
template <class Real>
inline void row_product(const Real* __restrict w, const std::int32_t* __restrict post, std::int64_t begin,
                        std::int64_t end, const Real* __restrict x, std::int64_t batch, Real* __restrict out) {
  using V64 = typename simd::Vec64<Real>::type;
  using V32 = typename simd::Vec32<Real>::type;
  using V16 = typename simd::Vec16<Real>::type;
  std::int64_t b0 = 0;
  for (; b0 + simd::Vec64<Real>::width <= batch; b0 += simd::Vec64<Real>::width)
    row_product_tile<V64>(w, post, begin, end, x, batch, b0, out);
  for (; b0 + simd::Vec32<Real>::width <= batch; b0 += simd::Vec32<Real>::width)
    row_product_tile<V32>(w, post, begin, end, x, batch, b0, out);
  for (; b0 + simd::Vec16<Real>::width <= batch; b0 += simd::Vec16<Real>::width)
    row_product_tile<V16>(w, post, begin, end, x, batch, b0, out);
  for (; b0 < batch; ++b0) row_product_tile<Real>(w, post, begin, end, x, batch, b0, out);
}

// Surrogate ds/dv = 1 / (lambda |v - theta| + 1)^2; none while refractory.
// The optional sparse approximation (Perez-Nieves & Goodman 2021) drops
// slopes below `cutoff`, so that whole rows of step (4) can be skipped.
// V is Real or a vector of trials (simd::Lanes), M the matching mask.
template <class V, class M, class Real>
inline V surrogate(V v, Real theta, M refractory, Real lambda, Real cutoff) {
  const V d = v - theta;
  const V x = lambda * (d < Real(0) ? -d : d) + Real(1);  // |d|, the same value for d = -0
  const V slope = refractory ? Real(0) : Real(1) / (x * x);
  return slope < cutoff ? Real(0) : slope;
}

// The loss coefficients of LossGradient for the trials [first, first + batch),
// with the per-(trial, neuron) ones transposed to the adjoints' trial-minor
// layout [N][batch].
struct Coefficients {
  std::vector<double> spike_const, v_const, v_lin;  // [N][batch]
  const std::vector<double>&isi_const, &isi_lin, &isi_sq;  // [N]

  Coefficients(const LossGradient& lg, std::int64_t n, std::int64_t first, std::int64_t batch)
      : spike_const(transpose(lg.spike_const, n, first, batch)),
        v_const(transpose(lg.v_const, n, first, batch)),
        v_lin(transpose(lg.v_lin, n, first, batch)),
        isi_const(lg.isi_const),
        isi_lin(lg.isi_lin),
        isi_sq(lg.isi_sq) {}

  static std::vector<double> transpose(const std::vector<double>& bn, std::int64_t n, std::int64_t first,
                                       std::int64_t batch) {
    std::vector<double> nb(n * batch);
    for (std::int64_t i0 = 0; i0 < n; i0 += 16)
      gather_trials<0>(bn.data() + first * n, n, batch, i0, std::min<std::int64_t>(16, n - i0), nb.data() + i0 * batch);
    return nb;
  }
};

// Steps t in reverse for all trials, numbered (1)-(6) as the adjoint's steps
// in README.md: (1) the loss on v(t+1), (2) MODEL.md step 6 (clamp), (3)-(5)
// step 5 (increment), (6) steps 4, 3, 2 and 1's surrogate. The per-neuron
// parts of a step, (1-3) and (6), are split over neurons, (4-5) over
// presynaptic rows; a step's (6)
// and the previous step's (1-3) run in one pass over the neurons (both touch
// only the neuron's own adjoints), so the adjoints are streamed once per step.
// The trials of one neuron are contiguous in every array. W > 0 fixes their
// number at compile time (then `trials` is W): the dense steps then take
// them as one vector of W lanes (simd::Lanes; GCC's own vectorisation gave
// up on these loops); W = 0 takes `trials`, one at a time.
template <int W, class Real>
struct BackwardSteps {
  using L = simd::Lanes<W, Real>;  // the trials of one neuron
  using V = typename L::V;
  using D = typename L::D;
  using I = typename L::I;
  const LoweredModel<Real>& lm;
  Real surrogate_scale, sparse_cutoff;
  std::int64_t trials;

  // The number of trials, a constant where W > 0.
  std::int64_t width() const { return W > 0 ? W : trials; }

  // Fuses adjoint steps (1)-(3), the reverse of MODEL.md steps 6 and 5's
  // per-target part: (1) explicit loss term on v(t+1); (2) zero where the
  // clamp acted after step t; (3) nu per presynaptic type; for neuron i (li
  // = i - i0 in the tile). Also prepares step (4-5) of t: dL/ds_i(t)'s explicit part, the
  // spikes of t and, with the sparse approximation, whether the row counts.
  void enter(std::int64_t i, std::int64_t li, const StepTile<Real>& st, const Coefficients& lg,
             Adjoint<Real>& a) const {
    using Int = typename L::Int;
    const std::int64_t batch = width();
    const std::int64_t n = lm.n, nr = lm.n_receptors;
    const auto n_rtypes = static_cast<std::int64_t>(lm.rec_first.size());
    const auto n_types = n_rtypes + static_cast<std::int64_t>(lm.ff_first.size());
    for (std::int64_t b = 0; b < batch; b += L::width) {
      const std::int64_t ib = i * batch + b, lb = li * batch + b;
      Real* av = a.v.data() + ib;
      L::store(av, L::load(av) + L::to_real(L::load(lg.v_const.data() + ib) +
                                            L::load(lg.v_lin.data() + ib) * L::to_double(L::load(st.v1 + lb))));
      const I bits = L::widen(st.bits + lb);
      if (lm.saturate) {
        for (std::int64_t k = 0; k < nr; ++k) {
          Real* ad = a.d.data() + k * n * batch + ib;
          Real* au = a.u.data() + k * n * batch + ib;
          L::store(ad, (bits & static_cast<Int>(clamp_d_bit << k)) != 0 ? Real(0) : L::load(ad));
          L::store(au, (bits & static_cast<Int>(clamp_u_bit << k)) != 0 ? Real(0) : L::load(au));
        }
      }
      for (std::int64_t p = 0; p < n_types; ++p) {
        const bool ff = p >= n_rtypes;
        const std::int32_t first = ff ? lm.ff_first[p - n_rtypes] : lm.rec_first[p];
        const std::int32_t count = ff ? lm.ff_count[p - n_rtypes] : lm.rec_count[p];
        V nu{};
        for (std::int32_t c = 0; c < count; ++c) {
          const std::int64_t k = first + c;
          nu = nu + lm.g_max[k] * (L::load(a.d.data() + k * n * batch + ib) - L::load(a.u.data() + k * n * batch + ib));
        }
        L::store(a.nu.data() + p * n * batch + ib, nu);
      }
      // dL/ds_i(t) explicit: spike_const + h (isi_const + isi_lin tau + isi_sq tau^2)
      const D x = L::load(lg.spike_const.data() + ib);
      const D tau = L::to_double(L::load(st.tau + lb));
      L::store(a.spike.data() + ib,
               L::to_real(tau >= 0 ? x + (lg.isi_const[i] + tau * (lg.isi_lin[i] + tau * lg.isi_sq[i])) : x));
    }
    for (std::int64_t b = 0; b < batch; ++b) a.spiked[i * batch + b] = (st.bits[li * batch + b] & spiked_bit) != 0;
    if (sparse_cutoff > 0) {
      // dL/ds_i only matters through ds_i/dv_i: a row whose every trial has
      // a dropped slope is not computed at all.
      bool needed = false;
      for (std::int64_t b = 0; b < batch && !needed; ++b)
        needed = surrogate(st.v0[li * batch + b], lm.theta[i], (st.bits[li * batch + b] & refractory_bit) != 0,
                           surrogate_scale, sparse_cutoff) > 0;
      a.needed[i] = needed;
      if (!needed) std::fill(a.spike.data() + i * batch, a.spike.data() + (i + 1) * batch, Real(0));
    }
  }

  // Adjoint steps (4)-(5), the reverse of MODEL.md step 5 per presynaptic
  // row: (4) dL/ds_j(t) for every recurrent j (the surrogate makes every neuron
  // count), and (5) the weight gradients of the presynaptic neurons (and
  // inputs) that spiked at t, into the sums of the trial's atom. Rows are
  // split over threads: each edge and each j is one thread's. Needs nu of
  // every neuron (a barrier before).
  void propagate(std::int64_t s, const SegmentTrace<Real>& tr, Adjoint<Real>& a) const {
    const std::int64_t batch = width();
    const std::int64_t n = lm.n;
    const auto n_rtypes = static_cast<std::int64_t>(lm.rec_first.size());
#pragma omp for schedule(dynamic, 64)
    for (std::int64_t j = 0; j < n; ++j) {
      const Real* nu = a.nu.data() + static_cast<std::int64_t>(lm.cell_type[j]) * n * batch;
      if (sparse_cutoff <= 0 || a.needed[j])
        row_product(lm.rec_weight.data(), lm.rec_post.data(), lm.rec_row[j], lm.rec_row[j + 1], nu, batch,
                    a.spike.data() + j * batch);
      for (std::int64_t b = 0; b < batch; ++b) {
        if (!a.spiked[j * batch + b]) continue;
        double* d_rec = a.d_rec[b / trial_atom].data();
        for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e)
          d_rec[e] += nu[static_cast<std::int64_t>(lm.rec_post[e]) * batch + b];
      }
    }
    // Inputs: few spikes per step; one thread, trials in order.
#pragma omp single
    for (std::int64_t b = 0; b < batch; ++b) {
      double* d_ff = a.d_ff[b / trial_atom].data();
      for (const std::int32_t j : tr.input_spikes[s * batch + b]) {
        const Real* nu = a.nu.data() + (n_rtypes + lm.input_type[j]) * n * batch;
        for (std::int64_t e = lm.ff_row[j]; e < lm.ff_row[j + 1]; ++e)
          d_ff[e] += nu[static_cast<std::int64_t>(lm.ff_post[e]) * batch + b];
      }
    }
    // implicit barriers: dL/ds complete
  }

  // Adjoint step (6), the reverse of MODEL.md steps 4, 3 and 2 and step 1's
  // surrogate: membrane and decay of neuron i in reverse. v(t+1) = m free(t) +
  // (1 - m) U_reset with m = (1 - s)(1 - refractory) held constant (detached
  // reset).
  void leave(std::int64_t i, std::int64_t li, const StepTile<Real>& st, Adjoint<Real>& a) const {
    using Int = typename L::Int;
    const std::int64_t batch = width();
    const std::int64_t n = lm.n, nr = lm.n_receptors;
    const Real c = lm.dt_over_cm[i], beta = lm.beta[i], theta = lm.theta[i];
    for (std::int64_t b = 0; b < batch; b += L::width) {
      const std::int64_t ib = i * batch + b, lb = li * batch + b;
      const I bits = L::widen(st.bits + lb);
      const V vi = L::load(st.v0 + lb);
      // dL/dfree(t): zero where the neuron was held (refractory or spiked).
      const V free = (bits & static_cast<Int>(refractory_bit | spiked_bit)) != 0 ? Real(0) : L::load(a.v.data() + ib);
      for (std::int64_t k = 0; k < nr; ++k) {
        Real* ad = a.d.data() + k * n * batch + ib;
        Real* au = a.u.data() + k * n * batch + ib;
        const V dg = -free * c * (vi - lm.e_syn[k]);  // dL/dg_k(t) through the current
        L::store(ad, lm.alpha_decay[k] * L::load(ad) + dg);
        L::store(au, lm.alpha_rise[k] * L::load(au) + dg);
      }
      const V slope =
          surrogate(vi, theta, (bits & static_cast<Int>(refractory_bit)) != 0, surrogate_scale, sparse_cutoff);
      L::store(a.v.data() + ib, free * (beta - c * L::load(st.g_sum + lb)) + L::load(a.spike.data() + ib) * slope);
    }
  }

  // The step's values (trial b's at rows + b * stride) of neurons [i0, i0 +
  // count) into a tile.
  template <class T>
  void gather(const T* rows, std::int64_t stride, std::int64_t i0, std::int64_t count, T* __restrict tile) const {
    gather_trials<W>(rows, stride, width(), i0, count, tile);
  }

  // Every step of a recomputed segment of `len` steps, last to first, for
  // each set of loss coefficients; call from inside a parallel region. The
  // neurons go in blocks of 16, whose trace is gathered into tiles (this
  // thread's) and whose adjoints stay in L1 between the parts of a step.
  void segment(std::int64_t len, const SegmentTrace<Real>& tr, const std::vector<Coefficients>& sets,
               std::vector<Adjoint<Real>>& adjoints) const {
    constexpr std::int64_t block = 16;
    const std::int64_t batch = width();
    const std::int64_t n = lm.n;
    const std::int64_t stride = len * n, stride_v = (len + 1) * n;  // from one trial's rows to the next
    const simd::FlushSubnormals flush;  // adjoints decaying towards 0 (see forward.md)
    // Step t's v, g_sum, bits (for step 6 of t); step t - 1's v, tau, bits
    // (for steps 1-3 of t - 1; v only for the sparse approximation).
    std::vector<Real> v_t(block * batch), g_t(block * batch), v_e(block * batch), tau_e(block * batch);
    std::vector<std::uint32_t> bits_t(block * batch), bits_e(block * batch);
    auto gather_entry = [&](std::int64_t t, std::int64_t i0, std::int64_t count) {
      gather(tr.tau.data() + t * n, stride, i0, count, tau_e.data());
      gather(tr.bits.data() + t * n, stride, i0, count, bits_e.data());
      if (sparse_cutoff > 0) gather(tr.v.data() + t * n, stride_v, i0, count, v_e.data());
    };
    const StepTile<Real> now{v_t.data(), nullptr, g_t.data(), nullptr, bits_t.data()};
    const StepTile<Real> entry{v_e.data(), v_t.data(), nullptr, tau_e.data(), bits_e.data()};
#pragma omp for schedule(static)
    for (std::int64_t i0 = 0; i0 < n; i0 += block) {
      const std::int64_t count = std::min(block, n - i0);
      gather(tr.v.data() + len * n, stride_v, i0, count, v_t.data());  // v(t + 1) of the last step
      gather_entry(len - 1, i0, count);
      for (std::size_t c = 0; c < sets.size(); ++c)
        for (std::int64_t i = i0; i < i0 + count; ++i) enter(i, i - i0, entry, sets[c], adjoints[c]);
    }
    // implicit barrier: nu complete
    for (std::int64_t s = len - 1; s >= 0; --s) {
      for (std::size_t c = 0; c < sets.size(); ++c) propagate(s, tr, adjoints[c]);
#pragma omp for schedule(static)
      for (std::int64_t i0 = 0; i0 < n; i0 += block) {
        const std::int64_t count = std::min(block, n - i0);
        gather(tr.v.data() + s * n, stride_v, i0, count, v_t.data());
        gather(tr.g_sum.data() + s * n, stride, i0, count, g_t.data());
        gather(tr.bits.data() + s * n, stride, i0, count, bits_t.data());
        if (s > 0) gather_entry(s - 1, i0, count);
        for (std::size_t c = 0; c < sets.size(); ++c) {
          for (std::int64_t i = i0; i < i0 + count; ++i) leave(i, i - i0, now, adjoints[c]);
          if (s > 0)
            for (std::int64_t i = i0; i < i0 + count; ++i) enter(i, i - i0, entry, sets[c], adjoints[c]);
        }
      }
      // implicit barrier: nu of step s - 1 complete
    }
  }
};

}  // namespace
}  // namespace homeostat::cond_lif
