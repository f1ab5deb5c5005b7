// Reverse-mode BPTT through MODEL.md section 4 with the surrogate of
// section 5. The derivation and the memory scheme are in bptt.md.
#include "homeostat/grad.hpp"

#include "common/first_error.hpp"
#include "common/simd.hpp"
#include "common/subnormals.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <type_traits>

namespace homeostat {

namespace {
std::vector<bool> excitatory_sources(const Config& config, const std::vector<std::vector<ReceptorConfig>>& synapses) {
  double max_theta = -INFINITY;
  for (const auto& p : config.recurrent.physiology) max_theta = std::max(max_theta, p.theta);
  std::vector<bool> out;
  for (const auto& receptors : synapses) {
    bool exc = !receptors.empty();
    for (const auto& r : receptors) exc = exc && r.E_syn > max_theta;
    out.push_back(exc);
  }
  return out;
}
}  // namespace

std::vector<bool> excitatory_types(const Config& config) {
  return excitatory_sources(config, config.recurrent.synapses);
}

std::vector<bool> excitatory_input_types(const Config& config) {
  return excitatory_sources(config, config.feedforward.synapses);
}

template <class Real>
WeightRatio weight_ratio(const LoweredModel<Real>& lm, const std::vector<bool>& excitatory) {
  WeightRatio r;
  r.d_rec.assign(lm.rec_weight.size(), 0.0);
  r.d_ff.assign(lm.ff_weight.size(), 0.0);
  double sum_e = 0, sum_f = 0;
  std::int64_t n_e = 0;
  for (std::int64_t j = 0; j < lm.n; ++j) {
    if (!excitatory[lm.cell_type[j]]) continue;
    for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e) sum_e += lm.rec_weight[e];
    n_e += lm.rec_row[j + 1] - lm.rec_row[j];
  }
  for (const Real w : lm.ff_weight) sum_f += w;
  const auto n_f = static_cast<std::int64_t>(lm.ff_weight.size());
  if (n_e == 0 || n_f == 0 || sum_f <= 0) return r;  // undefined: no such edges; contributes nothing
  const double mean_e = sum_e / static_cast<double>(n_e), mean_f = sum_f / static_cast<double>(n_f);
  r.value = mean_e / mean_f;
  for (std::int64_t j = 0; j < lm.n; ++j) {
    if (!excitatory[lm.cell_type[j]]) continue;
    for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e) r.d_rec[e] = 1.0 / (static_cast<double>(n_e) * mean_f);
  }
  for (auto& d : r.d_ff) d = -mean_e / (mean_f * mean_f * static_cast<double>(n_f));
  return r;
}

template <class Real>
BlockGradient block_gradient(const LoweredModel<Real>& lm, const std::vector<double>& d_rec,
                             const std::vector<double>& d_ff) {
  const auto nt = static_cast<std::int64_t>(lm.rec_first.size());
  const auto ni = static_cast<std::int64_t>(lm.ff_first.size());
  BlockGradient g;
  g.rec.assign(nt * nt, 0.0);
  g.ff.assign(ni * nt, 0.0);
  for (std::int64_t j = 0; j < lm.n; ++j)
    for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e)
      g.rec[lm.cell_type[j] * nt + lm.cell_type[lm.rec_post[e]]] += lm.rec_weight[e] * d_rec[e];
  for (std::int64_t j = 0; j < lm.m; ++j)
    for (std::int64_t e = lm.ff_row[j]; e < lm.ff_row[j + 1]; ++e)
      g.ff[lm.input_type[j] * nt + lm.cell_type[lm.ff_post[e]]] += lm.ff_weight[e] * d_ff[e];
  return g;
}

FactorRatio factor_ratio(const std::vector<double>& f_rec, const std::vector<double>& f_ff,
                         const std::vector<bool>& excitatory, std::int64_t nt) {
  FactorRatio r;
  r.d_log.rec.assign(f_rec.size(), 0.0);
  r.d_log.ff.assign(f_ff.size(), 0.0);
  double sum_e = 0, sum_f = 0;
  std::int64_t n_e = 0;
  for (std::int64_t a = 0; a < nt; ++a)
    if (excitatory[a])
      for (std::int64_t b = 0; b < nt; ++b, ++n_e) sum_e += f_rec[a * nt + b];
  for (const double f : f_ff) sum_f += f;
  if (n_e == 0 || f_ff.empty() || sum_f <= 0) return r;
  const double mean_e = sum_e / static_cast<double>(n_e);
  const double mean_f = sum_f / static_cast<double>(f_ff.size());
  r.value = mean_e / mean_f;
  // d/d ln f = f d/df
  for (std::int64_t a = 0; a < nt; ++a)
    if (excitatory[a])
      for (std::int64_t b = 0; b < nt; ++b)
        r.d_log.rec[a * nt + b] = f_rec[a * nt + b] / (static_cast<double>(n_e) * mean_f);
  for (std::size_t k = 0; k < f_ff.size(); ++k)
    r.d_log.ff[k] = -f_ff[k] * mean_e / (mean_f * mean_f * static_cast<double>(f_ff.size()));
  return r;
}

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

// Recomputes steps [s0, s0 + len) of the trials `first .. first + batch` of
// `checkpoint` (input trials trial0 + first ..) from their states at s0
// (which it advances to s0 + len), on `threads` threads (trials in
// parallel), and records what the backward pass needs: each trial writes its
// own contiguous rows.
template <class Real>
void recompute_segment(const LoweredModel<Real>& lm, const InputSource& inputs,
                       std::vector<TrialState<Real>>& checkpoint, std::int64_t first, std::int64_t batch,
                       std::int64_t trial0, std::int64_t t_start, std::int64_t len, SegmentTrace<Real>& tr,
                       int threads) {
  const std::int64_t n = lm.n, nr = lm.n_receptors;
  tr.resize(len, n, batch);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t b = 0; b < batch; ++b) {
    TrialState<Real>& st = checkpoint[first + b];  // advanced in place: not needed again
    StepObserver<Real> observer;
    // Row s of v, tau and the flags, from the state before step s.
    auto record = [&](std::int64_t s, const TrialState<Real>& at_t) {
      const std::int64_t t = t_start + s, row = (b * len + s) * n;
      Real* __restrict v = tr.v.data() + (b * (len + 1) + s) * n;
      Real* __restrict tau = tr.tau.data() + row;
      std::uint32_t* __restrict bits = tr.bits.data() + row;
      for (std::int64_t i = 0; i < n; ++i) {
        const bool refractory = at_t.refractory[i] > 0;
        const bool spiked = !refractory && at_t.v[i] > lm.theta[i];
        v[i] = at_t.v[i];
        tau[i] = at_t.last_spike[i] >= 0 ? static_cast<Real>(t - at_t.last_spike[i]) : Real(-1);
        bits[i] = (refractory ? refractory_bit : 0) | (spiked ? spiked_bit : 0);
      }
    };
    observer.before = [&](std::int64_t s, const TrialState<Real>& at_t) {
      if (s > 0) return;  // rows after the first come from the previous step's `after`
      record(0, at_t);
      Real* __restrict g = tr.g_sum.data() + b * len * n;
      std::fill(g, g + n, Real(0));
      for (std::int64_t k = 0; k < nr; ++k) {
        const Real* __restrict d = at_t.g_decay.data() + k * n;
        const Real* __restrict u = at_t.g_rise.data() + k * n;
        for (std::int64_t i = 0; i < n; ++i) g[i] += d[i] + u[i];
      }
    };
    // After step s: where it clamped (row s) and, in the same pass over the
    // conductances, sum_k g_k of step s + 1; then row s + 1 of the rest.
    observer.after = [&](std::int64_t s, const TrialState<Real>& next, const std::vector<std::int32_t>& in) {
      tr.input_spikes[s * batch + b] = in;
      const bool more = s + 1 < len;
      std::uint32_t* __restrict bits = tr.bits.data() + (b * len + s) * n;
      Real* __restrict g = tr.g_sum.data() + (b * len + std::min(s + 1, len - 1)) * n;
      if (more) std::fill(g, g + n, Real(0));
      for (std::int64_t k = 0; k < nr; ++k) {
        const Real g_max = lm.g_max[k];
        const Real* __restrict d = next.g_decay.data() + k * n;
        const Real* __restrict u = next.g_rise.data() + k * n;
        if (lm.saturate && more) {
          for (std::int64_t i = 0; i < n; ++i) {
            bits[i] |= (d[i] == g_max ? clamp_d_bit << k : 0) | (u[i] == -g_max ? clamp_u_bit << k : 0);
            g[i] += d[i] + u[i];
          }
        } else if (lm.saturate) {
          for (std::int64_t i = 0; i < n; ++i)
            bits[i] |= (d[i] == g_max ? clamp_d_bit << k : 0) | (u[i] == -g_max ? clamp_u_bit << k : 0);
        } else if (more) {
          for (std::int64_t i = 0; i < n; ++i) g[i] += d[i] + u[i];
        }
      }
      if (more) {
        record(s + 1, next);
      } else {
        std::copy(next.v.begin(), next.v.end(), tr.v.begin() + (b * (len + 1) + len) * n);
      }
    };
    run_trial_observed(lm, inputs, st, trial0 + first + b, t_start, len, observer);
  }
}

// Adjoints dL/dS(t+1) of every trial, trial-minor [.][N][B].
template <class Real>
struct Adjoint {
  std::vector<Real> v, d, u;     // [N][B], [R][N][B], [R][N][B]
  std::vector<Real> spike;       // [N][B] dL/ds_j(t)
  std::vector<Real> nu;          // [types][N][B]: sum over the type's receptors of g_max (dL/dd - dL/du)
  std::vector<std::uint8_t> spiked;  // [N][B] the spikes of step t (for step 5)
  std::vector<std::uint8_t> needed;  // [N] whether row j's product is needed (sparse approximation)
  std::vector<double> d_rec, d_ff;  // dL/dw, accumulated over the chunk
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

// A step's trace for a block of at most 16 neurons [i0, i0 + count),
// gathered into the adjoints' trial-minor layout: element (i, b) at
// (i - i0) B + b. Each part reads the fields it needs.
template <class Real>
struct StepTile {
  const Real *v0, *v1, *g_sum, *tau;  // v(t), v(t+1), sum_k g_k(t), time since the last spike
  const std::uint32_t* bits;          // SegmentTrace::bits of step t
};

// Steps t in reverse for all trials. The per-neuron parts of a step, (1-3)
// and (6), are split over neurons, (4-5) over presynaptic rows; a step's (6)
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

  // (1) Explicit loss term on v(t+1); (2) zero where the clamp acted after
  // step t; (3) nu per presynaptic type; for neuron i (li = i - i0 in the
  // tile). Also prepares step (4-5) of t: dL/ds_i(t)'s explicit part, the
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

  // (4) dL/ds_j(t) for every recurrent j (the surrogate makes every neuron
  // count), and (5) the weight gradients of the presynaptic neurons (and
  // inputs) that spiked at t. Rows are split over threads: each edge and
  // each j is one thread's. Needs nu of every neuron (a barrier before).
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
        for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e)
          a.d_rec[e] += nu[static_cast<std::int64_t>(lm.rec_post[e]) * batch + b];
      }
    }
    // Inputs: few spikes per step; one thread, trials in order.
#pragma omp single
    for (std::int64_t b = 0; b < batch; ++b) {
      for (const std::int32_t j : tr.input_spikes[s * batch + b]) {
        const Real* nu = a.nu.data() + (n_rtypes + lm.input_type[j]) * n * batch;
        for (std::int64_t e = lm.ff_row[j]; e < lm.ff_row[j + 1]; ++e)
          a.d_ff[e] += nu[static_cast<std::int64_t>(lm.ff_post[e]) * batch + b];
      }
    }
    // implicit barriers: dL/ds complete
  }

  // (6) Membrane and decay of neuron i in reverse. v(t+1) = m free(t) +
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

std::vector<TrialGroup> trial_groups(std::int64_t batch, std::int64_t width) {
  if (width <= 0) {
    // Half the batch, at most 16 trials (64 bytes of float: one vector in
    // the row product), at least 4 (narrower rows cost more per synapse
    // than the second thread gains).
    width = std::max(std::min<std::int64_t>(16, (batch + 1) / 2), std::min<std::int64_t>(batch, 4));
  }
  std::vector<TrialGroup> groups;
  for (std::int64_t b = 0; b < batch; b += width) groups.push_back({b, std::min(width, batch - b)});
  return groups;
}

template <class Real>
ChunkLosses chunk_losses(const LoweredModel<Real>& lm, const InputSource& inputs, std::vector<TrialState<Real>>& states,
                         std::int64_t trial0, std::int64_t t0, std::int64_t steps, const LossContext& ctx,
                         double weight_ratio) {
  ChunkLosses out;
  SumAccumulator sums_acc(out.sums, states, weight_ratio);
  out.records.resize(states.size());
  std::vector<TrialRecord> rec;
  run_chunk(lm, inputs, states, trial0, t0, steps, RecordSpec{}, &rec);
  sums_acc.add(rec, t0, 0, out.records);
  out.losses = evaluate_losses(out.sums, ctx);
  return out;
}

template <class Real>
ChunkGradient chunk_gradient(const LoweredModel<Real>& lm, const InputSource& inputs,
                             std::vector<TrialState<Real>>& states, std::int64_t trial0, std::int64_t t0,
                             std::int64_t steps, const LossContext& ctx, const WeightRatio& ratio,
                             const GradientOptions& options, GradientWorkspace<Real>* workspace) {
  const auto batch = static_cast<std::int64_t>(states.size());
  const std::int64_t n = lm.n, nr = lm.n_receptors;
  // Checkpoints cost B T/K states, traces K steps of every trial: K ~ sqrt(T).
  std::int64_t k_every = options.checkpoint_every;
  if (k_every <= 0) k_every = std::max<std::int64_t>(16, static_cast<std::int64_t>(std::sqrt(static_cast<double>(steps))));
  k_every = std::min(k_every, std::max<std::int64_t>(1, steps));
  const std::int64_t n_segments = (steps + k_every - 1) / k_every;

  ChunkGradient out;
  out.checkpoint_every = k_every;
  auto& sums = out.sums;
  SumAccumulator sums_acc(sums, states, ratio.value);
  out.records.resize(batch);

  GradientWorkspace<Real> local;
  if (workspace == nullptr) workspace = &local;
  if (!workspace->buffers) workspace->buffers = std::make_shared<GradientBuffers<Real>>();
  GradientBuffers<Real>& buffers = *workspace->buffers;

  // Forward: K steps at a time, keeping each segment's starting state.
  auto& checkpoints = buffers.checkpoints;
  checkpoints.resize(n_segments);
  RecordSpec spec;
  std::vector<TrialRecord> rec;
  for (std::int64_t seg = 0; seg < n_segments; ++seg) {
    const std::int64_t s0 = seg * k_every, len = std::min(k_every, steps - s0);
    checkpoints[seg] = states;
    run_chunk(lm, inputs, states, trial0, t0 + s0, len, spec, &rec);
    sums_acc.add(rec, t0 + s0, s0, out.records);
  }
  out.losses = evaluate_losses(sums, ctx);

  // One adjoint per set of loss coefficients: the weighted total, then each
  // requested term alone (the adjoint is linear in them).
  std::vector<LossGradient> gradients{loss_gradient(sums, ctx)};
  for (const LossTerm term : options.terms) gradients.push_back(loss_gradient(sums, ctx, &term));
  const std::size_t e_rec = lm.rec_weight.size(), e_ff = lm.ff_weight.size();
  const auto n_types = static_cast<std::int64_t>(lm.rec_first.size() + lm.ff_first.size());
  const std::size_t n_sets = gradients.size();

  // The backward pass runs in groups of trials (bptt.md, "Trial groups"): each
  // group is recomputed and taken backward on its own, with adjoints and
  // gradient sums of its own, and groups run in parallel. The grouping
  // depends on the batch only, never on the thread count, and the groups'
  // gradients are summed in group order: bit-identical for any thread count.
  const std::vector<TrialGroup> groups = trial_groups(batch, options.trial_group);
  const auto n_groups = static_cast<std::int64_t>(groups.size());
  const int threads = omp_get_max_threads();
  // Several groups: one thread per group. One group: all threads on it
  // (trials in parallel when recomputing, neurons when going backward).
  const bool per_group = n_groups > 1;
  const int inner = per_group ? 1 : threads;
  std::vector<std::vector<Coefficients>> coefficients(n_groups);
  auto& adjoints = buffers.adjoints;
  adjoints.resize(n_groups);
  for (auto& a : adjoints) a.resize(n_sets);
  buffers.traces.resize(n_groups);
  for (std::int64_t g = 0; g < n_groups; ++g)
    for (const LossGradient& lg : gradients) coefficients[g].emplace_back(lg, n, groups[g].first, groups[g].size);

  const std::size_t state_bytes =
      n * (sizeof(Real) * (1 + 2 * nr) + sizeof(std::int32_t) + sizeof(std::int64_t));
  // Trace per step and trial, for the trials of the groups in flight at once.
  const std::size_t trace_bytes_per_trial_step = n * (3 * sizeof(Real) + sizeof(std::uint32_t));
  std::int64_t in_flight = 0;
  for (std::int64_t g = 0; g < std::min<std::int64_t>(n_groups, per_group ? threads : 1); ++g)
    in_flight += groups[g].size;
  out.peak_state_bytes = state_bytes * batch * n_segments + trace_bytes_per_trial_step * in_flight * (k_every + 1) +
                         n_sets * ((3 + 2 * nr + n_types) * n * in_flight * sizeof(Real) + n * (in_flight + 1) +
                                   n_groups * (e_rec + e_ff) * sizeof(double));

  const Real lambda = static_cast<Real>(options.surrogate_scale);
  const Real cutoff = static_cast<Real>(options.sparse_cutoff);
  FirstError error;
#pragma omp parallel for schedule(dynamic, 1) if (per_group)
  for (std::int64_t g = 0; g < n_groups; ++g) {
    error.guard([&] {
      const std::int64_t first = groups[g].first, width = groups[g].size;
      for (auto& a : adjoints[g]) {
        a.v.assign(n * width, 0);
        a.d.assign(nr * n * width, 0);
        a.u.assign(nr * n * width, 0);
        a.spike.assign(n * width, 0);
        a.nu.assign(n_types * n * width, 0);
        a.spiked.assign(n * width, 0);
        a.needed.assign(n, 1);
        a.d_rec.assign(e_rec, 0.0);
        a.d_ff.assign(e_ff, 0.0);
      }
      SegmentTrace<Real>& trace = buffers.traces[g];
      // Sized for the longest segment at once (the last one, taken first, may be shorter).
      trace.resize(k_every, n, width);
      for (std::int64_t seg = n_segments - 1; seg >= 0; --seg) {
        const std::int64_t s0 = seg * k_every, len = std::min(k_every, steps - s0);
        recompute_segment(lm, inputs, checkpoints[seg], first, width, trial0, t0 + s0, len, trace, inner);
        // Small problems run on one thread: a step is then shorter than the
        // barriers between its phases.
        auto steps_back = [&](auto fixed_width) {
          const BackwardSteps<decltype(fixed_width)::value, Real> back{lm, lambda, cutoff, width};
#pragma omp parallel num_threads(inner) if (inner > 1 && n * width >= 8192)
          back.segment(len, trace, coefficients[g], adjoints[g]);
        };
        switch (width) {  // the widths trial_groups chooses for common batches
          case 4: steps_back(std::integral_constant<int, 4>{}); break;
          case 8: steps_back(std::integral_constant<int, 8>{}); break;
          case 16: steps_back(std::integral_constant<int, 16>{}); break;
          default: steps_back(std::integral_constant<int, 0>{});
        }
      }
    });
  }
  error.rethrow();

  for (std::size_t c = 0; c < n_sets; ++c) {
    out.d_weight_ratio.push_back(gradients[c].d_weight_ratio);
    std::vector<double> d_rec = std::move(adjoints[0][c].d_rec), d_ff = std::move(adjoints[0][c].d_ff);
    for (std::int64_t g = 1; g < n_groups; ++g) {
      for (std::size_t e = 0; e < e_rec; ++e) d_rec[e] += adjoints[g][c].d_rec[e];
      for (std::size_t e = 0; e < e_ff; ++e) d_ff[e] += adjoints[g][c].d_ff[e];
    }
    if (!ratio.d_rec.empty()) {
      const double f = gradients[c].d_weight_ratio;
      for (std::size_t e = 0; e < e_rec; ++e) d_rec[e] += f * ratio.d_rec[e];
      for (std::size_t e = 0; e < e_ff; ++e) d_ff[e] += f * ratio.d_ff[e];
    }
    out.d_rec.push_back(std::move(d_rec));
    out.d_ff.push_back(std::move(d_ff));
  }
  return out;
}

template BlockGradient block_gradient(const LoweredModel<float>&, const std::vector<double>&,
                                      const std::vector<double>&);
template BlockGradient block_gradient(const LoweredModel<double>&, const std::vector<double>&,
                                      const std::vector<double>&);
template WeightRatio weight_ratio(const LoweredModel<float>&, const std::vector<bool>&);
template WeightRatio weight_ratio(const LoweredModel<double>&, const std::vector<bool>&);
template ChunkLosses chunk_losses(const LoweredModel<float>&, const InputSource&, std::vector<TrialState<float>>&,
                                  std::int64_t, std::int64_t, std::int64_t, const LossContext&, double);
template ChunkLosses chunk_losses(const LoweredModel<double>&, const InputSource&, std::vector<TrialState<double>>&,
                                  std::int64_t, std::int64_t, std::int64_t, const LossContext&, double);
template ChunkGradient chunk_gradient(const LoweredModel<float>&, const InputSource&, std::vector<TrialState<float>>&,
                                      std::int64_t, std::int64_t, std::int64_t, const LossContext&, const WeightRatio&,
                                      const GradientOptions&, GradientWorkspace<float>*);
template ChunkGradient chunk_gradient(const LoweredModel<double>&, const InputSource&,
                                      std::vector<TrialState<double>>&, std::int64_t, std::int64_t, std::int64_t,
                                      const LossContext&, const WeightRatio&, const GradientOptions&,
                                      GradientWorkspace<double>*);

}  // namespace homeostat
