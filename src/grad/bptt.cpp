// Reverse-mode BPTT through MODEL.md section 4 with the surrogate of
// section 5. The derivation and the memory scheme are in bptt.md.
#include "homeostat/grad.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>

namespace homeostat {

std::vector<bool> excitatory_types(const Config& config) {
  double max_theta = -INFINITY;
  for (const auto& p : config.recurrent.physiology) max_theta = std::max(max_theta, p.theta);
  std::vector<bool> out;
  for (const auto& receptors : config.recurrent.synapses) {
    bool exc = !receptors.empty();
    for (const auto& r : receptors) exc = exc && r.E_syn > max_theta;
    out.push_back(exc);
  }
  return out;
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

namespace {

// Adjoint state of one trial: dL/d(state at t+1) while processing step t.
template <class Real>
struct Adjoint {
  std::vector<Real> v;                  // [N]
  std::vector<Real> d, u;               // [R][N]
  std::vector<Real> spike;              // [N] dL/ds_j(t)
  std::vector<Real> nu;                 // [T_rec + T_in][N] sum over the type's receptors of mu
  std::vector<Real> mu;                 // [R][N] g_max_k (dL/dd_pre - dL/du_pre)
  std::vector<double> d_rec, d_ff;      // dL/dw, accumulated over the chunk
};

// One step t in reverse. `before` = S(t), `after` = S(t+1); `inputs_t` the
// input spikes of step t. On entry a holds dL/dS(t+1) (without the explicit
// loss term on v(t+1)); on exit dL/dS(t).
template <class Real>
void backward_step(const LoweredModel<Real>& lm, const LossGradient& lg, double surrogate_scale,
                   std::int64_t b, std::int64_t t, const TrialState<Real>& before, const TrialState<Real>& after,
                   const std::vector<std::int32_t>& inputs_t, Adjoint<Real>& a) {
  const std::int64_t n = lm.n, n_rec = lm.n_receptors;
  const auto n_rtypes = static_cast<std::int64_t>(lm.rec_first.size());
  const auto n_itypes = static_cast<std::int64_t>(lm.ff_first.size());

  // Explicit loss term on the recorded voltage v(t+1) (membrane variance).
  for (std::int64_t i = 0; i < n; ++i)
    a.v[i] += static_cast<Real>(lg.v_const[b * n + i] + lg.v_lin[b * n + i] * static_cast<double>(after.v[i]));

  // Through the clamp of step 6 (zero where it clamped: the value sits at
  // the bound), then the increment of step 5: mu = g_max (dL/dd - dL/du).
  for (std::int64_t k = 0; k < n_rec; ++k) {
    const Real g_max = lm.g_max[k];
    Real* ad = a.d.data() + k * n;
    Real* au = a.u.data() + k * n;
    Real* mu = a.mu.data() + k * n;
    const Real* d1 = after.g_decay.data() + k * n;
    const Real* u1 = after.g_rise.data() + k * n;
    for (std::int64_t i = 0; i < n; ++i) {
      if (lm.saturate) {
        if (d1[i] == g_max) ad[i] = 0;
        if (u1[i] == -g_max) au[i] = 0;
      }
      mu[i] = g_max * (ad[i] - au[i]);
    }
  }
  // nu[type][i]: what one unit of weight from a presynaptic neuron of `type`
  // onto i is worth (all receptor columns of that type).
  for (std::int64_t p = 0; p < n_rtypes + n_itypes; ++p) {
    const bool ff = p >= n_rtypes;
    const std::int32_t first = ff ? lm.ff_first[p - n_rtypes] : lm.rec_first[p];
    const std::int32_t count = ff ? lm.ff_count[p - n_rtypes] : lm.rec_count[p];
    Real* nu = a.nu.data() + p * n;
    std::fill(nu, nu + n, Real(0));
    for (std::int32_t c = 0; c < count; ++c) {
      const Real* mu = a.mu.data() + (first + c) * n;
      for (std::int64_t i = 0; i < n; ++i) nu[i] += mu[i];
    }
  }

  // dL/ds_j(t): explicit loss terms plus the increments s_j caused.
  for (std::int64_t j = 0; j < n; ++j) {
    double explicit_term = lg.spike_const[b * n + j];
    const std::int64_t last = before.last_spike[j];
    if (last >= 0) {
      const double tau = static_cast<double>(t - last);
      explicit_term += lg.isi_const[j] + tau * (lg.isi_lin[j] + tau * lg.isi_sq[j]);
    }
    const Real* nu = a.nu.data() + lm.cell_type[j] * n;
    Real acc = 0;
    for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e) acc += lm.rec_weight[e] * nu[lm.rec_post[e]];
    a.spike[j] = static_cast<Real>(explicit_term) + acc;
  }

  // Weight gradients: only edges whose presynaptic neuron spiked at t.
  for (std::int64_t j = 0; j < n; ++j) {
    const bool spiked = before.refractory[j] == 0 && before.v[j] > lm.theta[j];
    if (!spiked) continue;
    const Real* nu = a.nu.data() + lm.cell_type[j] * n;
    for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e) a.d_rec[e] += nu[lm.rec_post[e]];
  }
  for (const std::int32_t j : inputs_t) {
    const Real* nu = a.nu.data() + (n_rtypes + lm.input_type[j]) * n;
    for (std::int64_t e = lm.ff_row[j]; e < lm.ff_row[j + 1]; ++e) a.d_ff[e] += nu[lm.ff_post[e]];
  }

  // Steps 2-4 in reverse. v(t+1) = m free(t) + (1 - m) U_reset with
  // m = (1 - s)(1 - refractory) held constant (detached reset);
  // free = E_L + (v - E_L) beta - c sum_k g_k (v - E_k), g_k = d_k + u_k
  // before the decay d *= alpha_d, u *= alpha_u.
  const Real lambda = static_cast<Real>(surrogate_scale);
  for (std::int64_t i = 0; i < n; ++i) {
    const bool refractory = before.refractory[i] > 0;
    const bool spiked = !refractory && before.v[i] > lm.theta[i];
    const Real dv_free = (refractory || spiked) ? Real(0) : a.v[i];  // dL/dfree
    const Real vi = before.v[i];
    Real g_sum = 0;
    for (std::int64_t k = 0; k < n_rec; ++k) {
      const Real g = before.g_decay[k * n + i] + before.g_rise[k * n + i];
      g_sum += g;
      const Real dg = -dv_free * lm.dt_over_cm[i] * (vi - lm.e_syn[k]);  // dL/dg_k(t) via the current
      a.d[k * n + i] = lm.alpha_decay[k] * a.d[k * n + i] + dg;
      a.u[k * n + i] = lm.alpha_rise[k] * a.u[k * n + i] + dg;
    }
    // Surrogate ds/dv = 1 / (lambda |v - theta| + 1)^2; none while refractory.
    const Real x = lambda * std::abs(vi - lm.theta[i]) + Real(1);
    const Real surrogate = refractory ? Real(0) : Real(1) / (x * x);
    a.v[i] = dv_free * (lm.beta[i] - lm.dt_over_cm[i] * g_sum) + a.spike[i] * surrogate;
  }
}

}  // namespace

template <class Real>
ChunkGradient chunk_gradient(const LoweredModel<Real>& lm, const InputSource& inputs,
                             std::vector<TrialState<Real>>& states, std::int64_t trial0, std::int64_t t0,
                             std::int64_t steps, const LossContext& ctx, const WeightRatio& ratio,
                             const GradientOptions& options) {
  const auto batch = static_cast<std::int64_t>(states.size());
  const std::int64_t n = lm.n;
  const int threads = omp_get_max_threads();
  std::int64_t k_every = options.checkpoint_every;
  if (k_every <= 0)
    k_every = std::max<std::int64_t>(
        16, static_cast<std::int64_t>(std::sqrt(static_cast<double>(steps * batch) / std::max(1, threads))));
  k_every = std::min(k_every, std::max<std::int64_t>(1, steps));
  const std::int64_t n_segments = (steps + k_every - 1) / k_every;

  ChunkGradient out;
  out.checkpoint_every = k_every;
  auto& sums = out.sums;
  for (auto* v : {&sums.spikes, &sums.isi_count, &sums.isi_sum, &sums.isi_sum_sq, &sums.v_sum, &sums.v_sum_sq})
    v->assign(batch * n, 0.0);
  sums.weight_ratio = ratio.value;
  out.records.resize(batch);

  // Forward: K steps at a time, keeping each segment's starting state.
  std::vector<std::vector<TrialState<Real>>> checkpoints(n_segments);
  std::vector<std::int64_t> last_spike(batch * n);
  for (std::int64_t b = 0; b < batch; ++b)
    std::copy(states[b].last_spike.begin(), states[b].last_spike.end(), last_spike.begin() + b * n);
  RecordSpec spec;
  std::vector<TrialRecord> rec;
  for (std::int64_t seg = 0; seg < n_segments; ++seg) {
    const std::int64_t s0 = seg * k_every, len = std::min(k_every, steps - s0);
    checkpoints[seg] = states;
    run_chunk(lm, inputs, states, trial0, t0 + s0, len, spec, &rec);
    for (std::int64_t b = 0; b < batch; ++b) {
      const TrialRecord& r = rec[b];
      for (std::size_t e = 0; e < r.spike_step.size(); ++e) {
        const std::int32_t j = r.spike_neuron[e];
        const std::int64_t t = t0 + s0 + r.spike_step[e];
        const std::int64_t bj = b * n + j;
        sums.spikes[bj] += 1;
        if (last_spike[bj] >= 0) {
          const double tau = static_cast<double>(t - last_spike[bj]);
          sums.isi_count[bj] += 1;
          sums.isi_sum[bj] += tau;
          sums.isi_sum_sq[bj] += tau * tau;
        }
        last_spike[bj] = t;
        out.records[b].spike_step.push_back(static_cast<std::int32_t>(s0 + r.spike_step[e]));
        out.records[b].spike_neuron.push_back(j);
      }
      for (std::int64_t i = 0; i < n; ++i) {
        sums.v_sum[b * n + i] += r.v_sum[i];
        sums.v_sum_sq[b * n + i] += r.v_sum_sq[i];
      }
    }
  }
  out.losses = evaluate_losses(sums, ctx);

  // One backward pass per set of loss coefficients: the weighted total, then
  // each requested term alone (the adjoint is linear in them).
  std::vector<LossGradient> coefficients{loss_gradient(sums, ctx)};
  std::vector<double> ratio_factor{coefficients[0].d_weight_ratio};
  for (const LossTerm term : options.terms) {
    coefficients.push_back(loss_gradient(sums, ctx, &term));
    ratio_factor.push_back(coefficients.back().d_weight_ratio);
  }

  const std::size_t e_rec = lm.rec_weight.size(), e_ff = lm.ff_weight.size();
  const std::size_t state_bytes = n * (sizeof(Real) * (1 + 2 * lm.n_receptors) + sizeof(std::int32_t) + sizeof(std::int64_t));
  out.peak_state_bytes = state_bytes * batch * n_segments +                 // checkpoints
                         state_bytes * (k_every + 1) * std::min<std::int64_t>(threads, batch) +  // traces
                         (e_rec + e_ff) * sizeof(double) * batch;           // per-trial gradients

  for (std::size_t c = 0; c < coefficients.size(); ++c) {
    std::vector<std::vector<double>> trial_rec(batch), trial_ff(batch);
    std::exception_ptr error;
    std::mutex error_mutex;
#pragma omp parallel for schedule(static)
    for (std::int64_t b = 0; b < batch; ++b) {
      try {
        Adjoint<Real> a;
        a.v.assign(n, 0);
        a.d.assign(lm.n_receptors * n, 0);
        a.u.assign(lm.n_receptors * n, 0);
        a.spike.assign(n, 0);
        a.mu.assign(lm.n_receptors * n, 0);
        a.nu.assign((lm.rec_first.size() + lm.ff_first.size()) * n, 0);
        a.d_rec.assign(e_rec, 0.0);
        a.d_ff.assign(e_ff, 0.0);
        std::vector<TrialState<Real>> trace;
        std::vector<std::int32_t> in_t;
        for (std::int64_t seg = n_segments - 1; seg >= 0; --seg) {
          const std::int64_t s0 = seg * k_every, len = std::min(k_every, steps - s0);
          TrialState<Real> st = checkpoints[seg][b];
          run_traced(lm, inputs, st, trial0 + b, t0 + s0, len, trace);
          for (std::int64_t s = len - 1; s >= 0; --s) {
            const std::int64_t t = t0 + s0 + s;
            inputs.spikes(trial0 + b, t, in_t);
            backward_step(lm, coefficients[c], options.surrogate_scale, b, t, trace[s], trace[s + 1], in_t, a);
          }
        }
        trial_rec[b] = std::move(a.d_rec);
        trial_ff[b] = std::move(a.d_ff);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    // Sum over trials in trial order (deterministic), plus the weight ratio.
    std::vector<double> d_rec(e_rec, 0.0), d_ff(e_ff, 0.0);
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::size_t e = 0; e < e_rec; ++e) d_rec[e] += trial_rec[b][e];
      for (std::size_t e = 0; e < e_ff; ++e) d_ff[e] += trial_ff[b][e];
    }
    if (!ratio.d_rec.empty()) {
      for (std::size_t e = 0; e < e_rec; ++e) d_rec[e] += ratio_factor[c] * ratio.d_rec[e];
      for (std::size_t e = 0; e < e_ff; ++e) d_ff[e] += ratio_factor[c] * ratio.d_ff[e];
    }
    out.d_rec.push_back(std::move(d_rec));
    out.d_ff.push_back(std::move(d_ff));
  }
  return out;
}

template WeightRatio weight_ratio(const LoweredModel<float>&, const std::vector<bool>&);
template WeightRatio weight_ratio(const LoweredModel<double>&, const std::vector<bool>&);
template ChunkGradient chunk_gradient(const LoweredModel<float>&, const InputSource&, std::vector<TrialState<float>>&,
                                      std::int64_t, std::int64_t, std::int64_t, const LossContext&, const WeightRatio&,
                                      const GradientOptions&);
template ChunkGradient chunk_gradient(const LoweredModel<double>&, const InputSource&,
                                      std::vector<TrialState<double>>&, std::int64_t, std::int64_t, std::int64_t,
                                      const LossContext&, const WeightRatio&, const GradientOptions&);

}  // namespace homeostat
