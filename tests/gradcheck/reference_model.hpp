// A deliberately plain, dense re-implementation of MODEL.md section 4 on dual
// numbers: forward-mode differentiation of the same surrogate dynamics, to
// check the BPTT adjoint against.
//
// Differences from the engine are on purpose: every presynaptic neuron's
// increment is applied at every step (a non-spiking neuron has s = 0 but a
// nonzero tangent through the surrogate), the clamp is applied once after all
// increments, and there is no event list. The arithmetic on values is in the
// engine's order, so spike trains match the engine's exactly.
#pragma once

#include "dual.hpp"

#include "homeostat/grad.hpp"
#include "homeostat/inputs.hpp"
#include "homeostat/loss.hpp"
#include "homeostat/model.hpp"

#include <cmath>
#include <vector>

namespace homeostat::gradcheck {

// Which parameter (log weight) each tangent direction k differentiates:
// rec_tangent[e] = k or -1; ff_tangent[e] likewise.
struct Seeds {
  std::vector<int> rec_tangent, ff_tangent;
};

template <class T, int K>
LossValues<Dual<double, K>> reference_losses(const LoweredModel<T>& lm, const InputSource& inputs,
                                             const std::vector<TrialState<T>>& initial, std::int64_t t0,
                                             std::int64_t steps, const LossContext& ctx,
                                             const std::vector<bool>& excitatory, double surrogate_scale,
                                             const Seeds& seeds) {
  using D = Dual<T, K>;
  using DD = Dual<double, K>;
  const std::int64_t n = lm.n, n_rec = lm.n_receptors;
  const auto batch = static_cast<std::int64_t>(initial.size());

  // Weights as functions of their log: w = exp(theta), dw/dtheta = w.
  auto weights = [](const std::vector<T>& w, const std::vector<int>& seed) {
    std::vector<D> out;
    for (std::size_t e = 0; e < w.size(); ++e) {
      D x(w[e]);
      if (seed[e] >= 0) x.d[seed[e]] = w[e];
      out.push_back(x);
    }
    return out;
  };
  const std::vector<D> w_rec = weights(lm.rec_weight, seeds.rec_tangent);
  const std::vector<D> w_ff = weights(lm.ff_weight, seeds.ff_tangent);

  LossSums<DD> sums;
  for (auto* v : {&sums.spikes, &sums.isi_count, &sums.isi_sum, &sums.isi_sum_sq, &sums.v_sum, &sums.v_sum_sq})
    v->assign(batch * n, DD(0.0));

  for (std::int64_t b = 0; b < batch; ++b) {
    const TrialState<T>& s0 = initial[b];
    std::vector<D> v(s0.v.begin(), s0.v.end());
    std::vector<D> d(s0.g_decay.begin(), s0.g_decay.end()), u(s0.g_rise.begin(), s0.g_rise.end());
    std::vector<std::int32_t> ref = s0.refractory;
    std::vector<std::int64_t> last = s0.last_spike;
    std::vector<D> s(n);
    std::vector<std::int32_t> x;
    for (std::int64_t step = 0; step < steps; ++step) {
      const std::int64_t t = t0 + step;
      // 1. Spike, with the surrogate derivative (none while refractory).
      for (std::int64_t i = 0; i < n; ++i) {
        const bool refractory = ref[i] > 0;
        const bool spike = !refractory && v[i].v > lm.theta[i];
        s[i] = D(spike ? T(1) : T(0));
        if (!refractory) {
          const T z = static_cast<T>(surrogate_scale) * std::abs(v[i].v - lm.theta[i]) + T(1);
          const T slope = T(1) / (z * z);
          for (int k = 0; k < K; ++k) s[i].d[k] = slope * v[i].d[k];
        }
        const std::int64_t bi = b * n + i;
        const DD sd(s[i]);
        sums.spikes[bi] += sd;
        if (last[i] >= 0) {
          const double tau = static_cast<double>(t - last[i]);
          sums.isi_count[bi] += sd;
          sums.isi_sum[bi] += sd * tau;
          sums.isi_sum_sq[bi] += sd * (tau * tau);
        }
      }
      // 2-3. Currents and membrane; the reset is a constant.
      for (std::int64_t i = 0; i < n; ++i) {
        D cur(T(0));
        for (std::int64_t k = 0; k < n_rec; ++k) cur += (d[k * n + i] + u[k * n + i]) * (v[i] - lm.e_syn[k]);
        const D free = (v[i] - lm.e_leak[i]) * lm.beta[i] + D(lm.e_leak[i]) - cur * lm.dt_over_cm[i];
        const bool spike = s[i].v > T(0);
        if (spike) {
          v[i] = D(lm.u_reset[i]);
          ref[i] = lm.n_ref[i];
          last[i] = t;
        } else if (ref[i] > 0) {
          v[i] = D(lm.u_reset[i]);
          --ref[i];
        } else {
          v[i] = free;
        }
      }
      // 4. Decay.
      for (std::int64_t k = 0; k < n_rec; ++k)
        for (std::int64_t i = 0; i < n; ++i) {
          d[k * n + i] *= lm.alpha_decay[k];
          u[k * n + i] *= lm.alpha_rise[k];
        }
      // 5. Increment from every recurrent neuron (dense) and the spiking inputs.
      for (std::int64_t j = 0; j < n; ++j) {
        const std::int32_t type = lm.cell_type[j];
        for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e) {
          const std::int32_t i = lm.rec_post[e];
          for (std::int32_t c = 0; c < lm.rec_count[type]; ++c) {
            const std::int32_t k = lm.rec_first[type] + c;
            const D inc = w_rec[e] * lm.g_max[k] * s[j];
            d[k * n + i] += inc;
            u[k * n + i] -= inc;
          }
        }
      }
      inputs.spikes(b, t, x);
      for (const std::int32_t j : x) {
        const std::int32_t type = lm.input_type[j];
        for (std::int64_t e = lm.ff_row[j]; e < lm.ff_row[j + 1]; ++e) {
          const std::int32_t i = lm.ff_post[e];
          for (std::int32_t c = 0; c < lm.ff_count[type]; ++c) {
            const std::int32_t k = lm.ff_first[type] + c;
            const D inc = w_ff[e] * lm.g_max[k];
            d[k * n + i] += inc;
            u[k * n + i] -= inc;
          }
        }
      }
      // 6. Clamp: a clamped value is the bound, a constant.
      if (lm.saturate)
        for (std::int64_t k = 0; k < n_rec; ++k)
          for (std::int64_t i = 0; i < n; ++i) {
            if (d[k * n + i].v >= lm.g_max[k]) d[k * n + i] = D(lm.g_max[k]);
            if (u[k * n + i].v <= -lm.g_max[k]) u[k * n + i] = D(-lm.g_max[k]);
          }
      for (std::int64_t i = 0; i < n; ++i) {
        const DD vd(v[i]);
        sums.v_sum[b * n + i] += vd;
        sums.v_sum_sq[b * n + i] += vd * vd;
      }
    }
  }

  // Weight ratio: mean weight of excitatory recurrent edges / mean feedforward weight.
  DD sum_e(0.0), sum_f(0.0);
  std::int64_t n_e = 0;
  for (std::int64_t j = 0; j < n; ++j) {
    if (!excitatory[lm.cell_type[j]]) continue;
    for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e, ++n_e) sum_e += DD(w_rec[e]);
  }
  for (const D& w : w_ff) sum_f += DD(w);
  sums.weight_ratio = (sum_e * (1.0 / static_cast<double>(n_e))) / (sum_f * (1.0 / static_cast<double>(w_ff.size())));
  return evaluate_losses(sums, ctx);
}

}  // namespace homeostat::gradcheck
