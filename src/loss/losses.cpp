// The loss table's names and the closed-form gradient of the weighted total
// (evaluate_losses in loss.hpp is the definition; the gradient checks compare
// the two through dual numbers).
#include "homeostat/config.hpp"
#include "homeostat/loss.hpp"

#include <stdexcept>

namespace homeostat {

std::string to_string(LossTerm term) { return std::string(loss_terms.at(index_of(term)).name); }

LossTerm parse_loss_term(const std::string& name) {
  std::string known;
  for (const LossTermInfo& t : loss_terms) {
    if (t.name == name) return t.term;
    known += (known.empty() ? "" : ", ") + std::string(t.name);
  }
  throw std::invalid_argument("unknown loss '" + name + "' (" + known + ")");
}

std::string loss_weight_key(LossTerm term) { return "hyperparameters.loss_weight." + to_string(term); }

std::string to_string(RateLoss kind) { return std::string(enum_names<RateLoss>()[static_cast<std::size_t>(kind)]); }

std::string describe_rate_loss(RateLoss kind, std::int64_t batch) {
  if (kind == RateLoss::plain) return "plain";
  return batch >= 2 ? "split (unbiased)" : "plain (split needs training.batch_size >= 2)";
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
  c.rate_loss = config.hyperparameters.rate_loss;
  c.weights = config.hyperparameters.loss_weight.by_term;
  c.scale = 1.0 / static_cast<double>(config.training.chunks_per_update);
  return c;
}

LossGradient loss_gradient(const LossSums<double>& sums, const LossContext& c, const LossTerm* only) {
  const std::int64_t n = c.n, batch = c.batch;
  LossGradient g;
  g.spike_const.assign(n * batch, 0.0);
  g.v_const.assign(n * batch, 0.0);
  g.v_lin.assign(n * batch, 0.0);
  g.isi_const.assign(n, 0.0);
  g.isi_lin.assign(n, 0.0);
  g.isi_sq.assign(n, 0.0);
  for (const LossTermInfo& t : loss_terms) {
    // Factor of each term in what is differentiated.
    const double factor = only ? (*only == t.term ? 1.0 : 0.0) : c.weights[index_of(t.term)] * c.scale;
    t.add_gradient(sums, c, factor, g);
  }
  return g;
}

}  // namespace homeostat
