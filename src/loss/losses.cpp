// Closed-form derivatives of the losses (evaluate_losses in loss.hpp is the
// definition; the gradient checks compare the two through dual numbers).
#include "homeostat/loss.hpp"

#include <stdexcept>

namespace homeostat {

std::string to_string(LossTerm term) {
  switch (term) {
    case LossTerm::firing_rate: return "firing_rate";
    case LossTerm::cv: return "cv";
    case LossTerm::silent_penalty: return "silent_penalty";
    case LossTerm::membrane_variance: return "membrane_variance";
    case LossTerm::weight_ratio: return "weight_ratio";
  }
  return "?";
}

LossTerm parse_loss_term(const std::string& name) {
  for (const LossTerm t : all_loss_terms)
    if (to_string(t) == name) return t;
  throw std::invalid_argument("unknown loss '" + name +
                              "' (firing_rate, cv, silent_penalty, membrane_variance, weight_ratio)");
}

LossContext loss_context(const Config& config, const std::vector<std::int32_t>& cell_type, std::int64_t batch,
                         std::int64_t steps) {
  LossContext c;
  c.n = static_cast<std::int64_t>(cell_type.size());
  c.batch = batch;
  c.steps = steps;
  c.dt = config.simulation.dt;
  for (const std::int32_t t : cell_type) {
    const CellTargets& x = config.targets.per_type.at(t);
    c.rate_target.push_back(x.firing_rate);
    c.cv_target.push_back(x.cv);
    c.alpha.push_back(x.alpha);
    c.theta.push_back(config.recurrent.physiology.at(t).theta);
    c.ratio_target.push_back(x.threshold_ratio);
  }
  c.weight_ratio_target = config.targets.weight_ratio;
  const auto& w = config.hyperparameters.loss_weight;
  const double weights[5] = {w.firing_rate, w.cv, w.silent_penalty, w.membrane_variance, w.weight_ratio};
  std::copy(weights, weights + 5, c.weights);
  c.scale = 1.0 / static_cast<double>(config.training.chunks_per_update);
  return c;
}

LossGradient loss_gradient(const LossSums<double>& sums, const LossContext& c, const LossTerm* only) {
  const std::int64_t n = c.n, batch = c.batch;
  const double seconds = static_cast<double>(c.steps) * c.dt / 1000.0;
  const double steps = static_cast<double>(c.steps);
  const double nb = static_cast<double>(n * batch);
  // Factor of each term in what is differentiated.
  double f[5];
  for (int k = 0; k < 5; ++k) {
    f[k] = only ? (static_cast<int>(*only) == k ? 1.0 : 0.0) : c.weights[k] * c.scale;
  }

  LossGradient g;
  g.spike_const.assign(n * batch, 0.0);
  g.v_const.assign(n * batch, 0.0);
  g.v_lin.assign(n * batch, 0.0);
  g.isi_const.assign(n, 0.0);
  g.isi_lin.assign(n, 0.0);
  g.isi_sq.assign(n, 0.0);

  // CV: the set of neurons that count is fixed by the values.
  std::int64_t cv_neurons = 0;
  std::vector<double> isi_n(n, 0.0), isi_1(n, 0.0), isi_2(n, 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t b = 0; b < batch; ++b) {
      isi_n[i] += sums.isi_count[b * n + i];
      isi_1[i] += sums.isi_sum[b * n + i];
      isi_2[i] += sums.isi_sum_sq[b * n + i];
    }
    if (isi_n[i] >= 2) ++cv_neurons;
  }

  for (std::int64_t i = 0; i < n; ++i) {
    double rate = 0;
    for (std::int64_t b = 0; b < batch; ++b) rate += sums.spikes[b * n + i] / seconds;
    rate /= static_cast<double>(batch);
    // Firing rate: (1/N) sum (r_i - r*)^2 / (r* + 1), r_i = mean_b count / seconds.
    const double d_fr = f[0] * 2.0 * (rate - c.rate_target[i]) / (c.rate_target[i] + 1.0) /
                        (static_cast<double>(n) * static_cast<double>(batch) * seconds);
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t bi = b * n + i;
      // Silent penalty: mean_{b,i} exp(-alpha r_bi).
      const double r_bi = sums.spikes[bi] / seconds;
      const double d_sp = f[2] * (-c.alpha[i]) * std::exp(-c.alpha[i] * r_bi) / (nb * seconds);
      g.spike_const[bi] = d_fr + d_sp;

      // Membrane variance: mean_{b,i} (sd / (theta - mean) - rho*)^2.
      const double mean = sums.v_sum[bi] / steps;
      const double var = sums.v_sum_sq[bi] / steps - mean * mean;
      if (var > 0) {
        const double sd = std::sqrt(var), gap = c.theta[i] - mean;
        const double k2 = f[3] * 2.0 * (sd / gap - c.ratio_target[i]) / nb;
        // d rho / d v(t) = (v - mean) / (T sd gap) + sd / (T gap^2)
        g.v_lin[bi] = k2 / (steps * sd * gap);
        g.v_const[bi] = k2 * (-mean / (steps * sd * gap) + sd / (steps * gap * gap));
      }
    }
    // CV, through the spike indicators with tau constant:
    // q = S2 A / S1^2, dq/ds(t) = h(t) (tau^2 A / S1^2 + S2 / S1^2 - 2 S2 A tau / S1^3).
    if (isi_n[i] >= 2) {
      const double a = isi_n[i], s1 = isi_1[i], s2 = isi_2[i];
      const double q = s2 * a / (s1 * s1) - 1.0;
      if (q > 0) {
        const double cv = std::sqrt(q);
        const double k = f[1] * (cv - c.cv_target[i]) / (static_cast<double>(cv_neurons) * cv);
        g.isi_const[i] = k * s2 / (s1 * s1);
        g.isi_lin[i] = -2.0 * k * s2 * a / (s1 * s1 * s1);
        g.isi_sq[i] = k * a / (s1 * s1);
      }
    }
  }
  g.d_weight_ratio = f[4] * 2.0 * (sums.weight_ratio - c.weight_ratio_target);
  return g;
}

}  // namespace homeostat
