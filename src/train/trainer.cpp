#include "homeostat/train.hpp"

#include <cmath>
#include <limits>

namespace homeostat {

ChunkMetrics chunk_metrics(const ChunkGradient& g, const LossContext& ctx, const std::vector<std::int32_t>& cell_type,
                           std::int64_t n_types) {
  const std::int64_t n = ctx.n, batch = ctx.batch;
  const double seconds = static_cast<double>(ctx.steps) * ctx.dt / 1000.0, steps = static_cast<double>(ctx.steps);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ChunkMetrics m;
  m.losses = g.losses;
  std::vector<double> count(n_types, 0), rate_sum(n_types, 0), rate_sq(n_types, 0), active(n_types, 0),
      ratio_sum(n_types, 0), cv_sum(n_types, 0), cv_count(n_types, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t t = cell_type[i];
    double isi_n = 0, isi_1 = 0, isi_2 = 0;
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t bi = b * n + i;
      const double r = g.sums.spikes[bi] / seconds;
      count[t] += 1;
      rate_sum[t] += r;
      rate_sq[t] += r * r;
      active[t] += g.sums.spikes[bi] > 0;
      const double mean = g.sums.v_sum[bi] / steps;
      const double var = std::max(0.0, g.sums.v_sum_sq[bi] / steps - mean * mean);
      ratio_sum[t] += std::sqrt(var) / (ctx.theta[i] - mean);
      isi_n += g.sums.isi_count[bi];
      isi_1 += g.sums.isi_sum[bi];
      isi_2 += g.sums.isi_sum_sq[bi];
    }
    if (isi_n >= 2) {  // as the CV loss: pooled over trials
      cv_sum[t] += std::sqrt(std::max(0.0, isi_2 * isi_n / (isi_1 * isi_1) - 1.0));
      cv_count[t] += 1;
    }
  }
  for (std::int64_t t = 0; t < n_types; ++t) {
    const double c = count[t];
    const double mean = c > 0 ? rate_sum[t] / c : nan;
    m.mean_rate.push_back(mean);
    m.std_rate.push_back(c > 0 ? std::sqrt(std::max(0.0, rate_sq[t] / c - mean * mean)) : nan);
    m.fraction_active.push_back(c > 0 ? active[t] / c : nan);
    m.membrane_ratio.push_back(c > 0 ? ratio_sum[t] / c : nan);
    m.mean_cv.push_back(cv_count[t] > 0 ? cv_sum[t] / cv_count[t] : nan);
  }
  return m;
}

Trainer::Trainer(const Config& config, const Network& network)
    : config_(config),
      excitatory_(excitatory_types(config)),
      model_(lower<float>(config, network)),
      params_(parse_optimisable(config.training.optimisable), model_),
      inputs_(config.simulation.seed, network.input_type, config.feedforward.firing_rate, config.simulation.dt),
      states_(config.training.batch_size, initial_state(model_)),
      best_loss_(std::numeric_limits<double>::quiet_NaN()) {
  adam_.learning_rate = config.hyperparameters.learning_rate;
}

bool Trainer::states_finite() const {
  for (const auto& st : states_) {
    for (const float x : st.v)
      if (!std::isfinite(x)) return false;
    for (const float x : st.g_decay)
      if (!std::isfinite(x)) return false;
  }
  return true;
}

ChunkMetrics Trainer::skip_or_throw(ChunkMetrics m, const std::string& where) {
  if (config_.training.on_nan != "skip" || !states_finite()) throw NonFiniteError(where, chunk_);
  std::fill(accumulated_.begin(), accumulated_.end(), 0.0);
  m.updated = false;
  m.skipped = NonFiniteError(where, chunk_).what();
  return m;
}

TrainerState Trainer::state() const {
  TrainerState s;
  s.chunks_done = chunk_;
  s.parameters = params_.values();
  s.adam_m = adam_.m;
  s.adam_v = adam_.v;
  s.adam_step = adam_.step;
  s.accumulated = accumulated_;
  s.trials = states_;
  s.loss_history = loss_history_;
  s.best_loss = best_loss_;
  s.best_chunk = best_chunk_;
  return s;
}

void Trainer::restore(const TrainerState& s) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("checkpoint does not fit this run: " + what);
  };
  if (s.parameters.size() != params_.values().size()) fail("number of parameters");
  if (!s.adam_m.empty() && (s.adam_m.size() != s.parameters.size() || s.adam_v.size() != s.parameters.size()))
    fail("optimizer moments");
  if (!s.accumulated.empty() && s.accumulated.size() != s.parameters.size()) fail("accumulated gradient");
  if (s.trials.size() != states_.size()) fail("number of trials (training.batch_size)");
  for (const auto& t : s.trials)
    if (t.v.size() != states_[0].v.size() || t.g_rise.size() != states_[0].g_rise.size() ||
        t.g_decay.size() != states_[0].g_decay.size() || t.refractory.size() != states_[0].refractory.size() ||
        t.last_spike.size() != states_[0].last_spike.size())
      fail("network state shapes");
  if (static_cast<std::int64_t>(s.loss_history.size()) > s.chunks_done) fail("loss history length");
  chunk_ = s.chunks_done;
  params_.values() = s.parameters;
  params_.apply(model_);
  adam_.m = s.adam_m;
  adam_.v = s.adam_v;
  adam_.step = s.adam_step;
  accumulated_ = s.accumulated;
  states_ = s.trials;
  loss_history_ = s.loss_history;
  best_loss_ = s.best_loss;
  best_chunk_ = s.best_chunk;
}

ChunkMetrics Trainer::run_chunk() {
  const std::int64_t steps = config_.simulation.chunk_size, batch = config_.training.batch_size;
  const LossContext ctx = loss_context(config_, model_.cell_type, batch, steps);
  GradientOptions options;
  options.surrogate_scale = config_.hyperparameters.surrgrad_scale;
  // Global steps continue across chunks: every chunk sees new input spikes.
  const ChunkGradient g = chunk_gradient(model_, inputs_, states_, 0, chunk_ * steps, steps, ctx,
                                         params_.weight_ratio_of(model_, excitatory_), options);
  ++chunk_;
  ChunkMetrics m = chunk_metrics(g, ctx, model_.cell_type, static_cast<std::int64_t>(config_.recurrent.type_names.size()));
  m.chunk = chunk_;
  m.learning_rate = adam_.learning_rate;

  for (const LossTerm t : all_loss_terms)
    if (!std::isfinite(g.losses.term[static_cast<int>(t)])) return skip_or_throw(m, "loss " + to_string(t));
  loss_history_.push_back(g.losses.total);
  if (!(g.losses.total >= best_loss_)) {  // also when best_loss_ is NaN (first chunk)
    best_loss_ = g.losses.total;
    best_chunk_ = chunk_;
  }
  const std::vector<double> grad = params_.gradient(model_, g, 0, excitatory_);
  for (const double x : grad)
    if (!std::isfinite(x)) return skip_or_throw(m, "gradient of the " + config_.training.optimisable + " parameters");
  if (accumulated_.empty()) accumulated_.assign(grad.size(), 0.0);
  for (std::size_t k = 0; k < grad.size(); ++k) accumulated_[k] += grad[k];

  if (chunk_ % config_.training.chunks_per_update != 0) return m;
  m.updated = true;
  m.grad_norm = clip_global_norm(accumulated_, config_.hyperparameters.grad_norm_clip);
  // Step a copy: a non-finite result must leave parameters and moments as they were.
  Adam next = adam_;
  std::vector<double> values = params_.values();
  next.update(values, accumulated_);
  // Parameters are logarithms: each must give a finite, positive weight or factor.
  for (const double x : values) {
    const double w = std::exp(x);
    if (!std::isfinite(w) || !(w > 0))
      return skip_or_throw(m, config_.training.optimisable + " after the update (exp of a log-parameter)");
  }
  adam_ = std::move(next);
  params_.values() = std::move(values);
  params_.apply(model_);
  std::fill(accumulated_.begin(), accumulated_.end(), 0.0);
  return m;
}

}  // namespace homeostat
