#include "homeostat/train.hpp"

#include <cmath>
#include <limits>

namespace homeostat {

std::string to_string(Method method) { return method == Method::gradient ? "train" : "feedback"; }

ChunkMetrics chunk_metrics(const LossSums<double>& sums, const LossValues<double>& losses, const LossContext& ctx,
                           const std::vector<std::int32_t>& cell_type, std::int64_t n_types) {
  const std::int64_t n = ctx.n, batch = ctx.batch;
  const double seconds = ctx.seconds();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ChunkMetrics m;
  m.losses = losses;
  std::vector<double> count(n_types, 0), rate_sum(n_types, 0), rate_sq(n_types, 0), active(n_types, 0),
      ratio_sum(n_types, 0), cv_sum(n_types, 0), cv_count(n_types, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t t = cell_type[i];
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t bi = b * n + i;
      const double r = sums.spikes[bi] / seconds;
      count[t] += 1;
      rate_sum[t] += r;
      rate_sq[t] += r * r;
      active[t] += sums.spikes[bi] > 0;
      ratio_sum[t] += membrane_moments(sums.v_sum[bi], sums.v_sum_sq[bi], ctx.steps, ctx.theta[i]).ratio();
    }
    const PooledIsi<double> isi = pooled_isi(sums, i, n, batch);
    if (isi.counts()) {  // as the CV loss
      cv_sum[t] += isi.cv();
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

namespace {

// Per-neuron rates of a chunk, mean over trials [N] Hz.
std::vector<double> neuron_rates(const LossSums<double>& sums, const LossContext& ctx) {
  const double seconds = static_cast<double>(ctx.steps) * ctx.dt / 1000.0;
  std::vector<double> r(ctx.n, 0.0);
  for (std::int64_t b = 0; b < ctx.batch; ++b)
    for (std::int64_t i = 0; i < ctx.n; ++i) r[i] += sums.spikes[b * ctx.n + i];
  for (double& x : r) x /= seconds * static_cast<double>(ctx.batch);
  return r;
}

// Geometric mean of `factor` over the neurons of each type.
std::vector<double> type_geometric_mean(const std::vector<double>& factor, const std::vector<std::int32_t>& cell_type,
                                        std::int64_t n_types) {
  std::vector<double> log_sum(n_types, 0.0), count(n_types, 0.0);
  for (std::size_t i = 0; i < factor.size(); ++i) {
    log_sum[cell_type[i]] += std::log(factor[i]);
    count[cell_type[i]] += 1;
  }
  for (std::int64_t t = 0; t < n_types; ++t) log_sum[t] = count[t] > 0 ? std::exp(log_sum[t] / count[t]) : 1.0;
  return log_sum;
}

// Parameters are logarithms: each must give a finite, positive weight or factor.
bool exp_finite_positive(const std::vector<double>& log_values) {
  for (const double x : log_values) {
    const double w = std::exp(x);
    if (!std::isfinite(w) || !(w > 0)) return false;
  }
  return true;
}

}  // namespace

Trainer::Trainer(const Config& config, const Network& network, Method method, const ChunkReduction* reduction)
    : config_(config),
      method_(method),
      excitatory_(excitatory_types(config)),
      excitatory_inputs_(excitatory_input_types(config)),
      model_(lower<float>(config, network)),
      params_(method == Method::feedback ? Optimisable::weights : config.training.optimisable,
              model_),
      inputs_(config.simulation.seed, network.input_type, config.feedforward.firing_rate, config.simulation.dt),
      reduction_(reduction),
      trials_(reduction ? reduction->trials(config.training.batch_size)
                        : TrialRange{0, config.training.batch_size, config.training.batch_size}),
      states_(trials_.count, initial_state(model_)),
      best_loss_(std::numeric_limits<double>::quiet_NaN()) {
  for (const std::int32_t t : model_.cell_type) rate_target_.push_back(config.targets.per_type[t].firing_rate);
  if (method == Method::feedback)
    for (std::size_t t = 0; t < config.recurrent.type_names.size(); ++t)
      if (!(config.targets.per_type[t].firing_rate > 0))
        throw ConfigError("targets.firing_rate." + config.recurrent.type_names[t],
                          "must be > 0 for the feedback rule (it scales by the relative rate error)");
}

bool Trainer::states_finite() const {
  bool finite = true;
  for (const auto& st : states_) {
    for (const float x : st.v) finite = finite && std::isfinite(x);
    for (const float x : st.g_decay) finite = finite && std::isfinite(x);
  }
  return reduction_ ? reduction_->all(finite) : finite;  // every process decides alike
}

ChunkMetrics Trainer::skip_or_throw(ChunkMetrics m, const std::string& where) {
  if (config_.training.on_nan != OnNan::skip || !states_finite()) throw NonFiniteError(where, chunk_);
  std::fill(accumulated_.begin(), accumulated_.end(), 0.0);
  m.updated = false;
  m.skipped = NonFiniteError(where, chunk_).what();
  return m;
}

TrainerState Trainer::state() const {
  TrainerState s;
  s.method = method_;
  s.chunks_done = chunk_;
  s.parameters = params_.values();
  s.adam_m = adam_.m;
  s.adam_v = adam_.v;
  s.adam_step = adam_.step;
  s.accumulated = accumulated_;
  s.rate_estimate = rate_estimate_;
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
  if (s.method != method_)
    fail("it was written by `homeostat " + to_string(s.method) + "`; continue it with `homeostat " +
         to_string(s.method) + " --resume`");
  if (s.parameters.size() != params_.values().size()) fail("number of parameters");
  if (!s.rate_estimate.empty() && s.rate_estimate.size() != rate_target_.size()) fail("rate estimate");
  if (!s.adam_m.empty() && (s.adam_m.size() != s.parameters.size() || s.adam_v.size() != s.parameters.size()))
    fail("optimizer moments");
  if (!s.accumulated.empty() && s.accumulated.size() != s.parameters.size()) fail("accumulated gradient");
  if (static_cast<std::int64_t>(s.trials.size()) != trials_.batch) fail("number of trials (training.batch_size)");
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
  rate_estimate_ = s.rate_estimate;
  states_.assign(s.trials.begin() + trials_.first, s.trials.begin() + trials_.first + trials_.count);
  loss_history_ = s.loss_history;
  best_loss_ = s.best_loss;
  best_chunk_ = s.best_chunk;
}

bool Trainer::record_losses(ChunkMetrics& m) {
  for (const LossTerm t : all_loss_terms)
    if (!std::isfinite(m.losses.term[static_cast<int>(t)])) {
      m = skip_or_throw(m, "loss " + to_string(t));
      return false;
    }
  loss_history_.push_back(m.losses.total);
  if (!(m.losses.total >= best_loss_)) {  // also when best_loss_ is NaN (first chunk)
    best_loss_ = m.losses.total;
    best_chunk_ = chunk_;
  }
  return true;
}

ChunkMetrics Trainer::run_chunk() {
  const std::int64_t steps = config_.simulation.chunk_size, batch = config_.training.batch_size;
  const LossContext ctx = loss_context(config_, model_.cell_type, batch, steps);
  const auto n_types = static_cast<std::int64_t>(config_.recurrent.type_names.size());
  // Global steps continue across chunks: every chunk sees new input spikes.
  const std::int64_t t0 = chunk_ * steps;
  const WeightRatio ratio = params_.weight_ratio_of(model_, excitatory_);
  if (method_ == Method::feedback) {
    const ChunkLosses f = chunk_losses(model_, inputs_, states_, trials_.first, t0, steps, ctx, ratio.value, reduction_);
    ++chunk_;
    ChunkMetrics m = chunk_metrics(f.sums, f.losses, ctx, model_.cell_type, n_types);
    m.chunk = chunk_;
    return feedback_update(std::move(m), f.sums, ctx);
  }
  GradientOptions options;
  options.surrogate_scale = config_.hyperparameters.surrgrad_scale;
  options.reduction = reduction_;
  const ChunkGradient g =
      chunk_gradient(model_, inputs_, states_, trials_.first, t0, steps, ctx, ratio, options, &workspace_);
  const HyperparametersConfig& h = config_.hyperparameters;
  adam_.learning_rate = scheduled_learning_rate(h.learning_rate, h.lr_final_fraction, h.lr_half_life, chunk_);
  ++chunk_;
  ChunkMetrics m = chunk_metrics(g.sums, g.losses, ctx, model_.cell_type, n_types);
  m.chunk = chunk_;
  m.learning_rate = adam_.learning_rate;
  return gradient_update(std::move(m), g);
}

ChunkMetrics Trainer::feedback_update(ChunkMetrics m, const LossSums<double>& sums, const LossContext& ctx) {
  if (!record_losses(m)) return m;
  const auto n_types = static_cast<std::int64_t>(config_.recurrent.type_names.size());
  std::vector<double> estimate = rate_estimate_;
  const ScalingStep step = scaling_step(config_.feedback, observed_seconds(config_));
  update_rate_estimate(estimate, neuron_rates(sums, ctx), step.tau_avg);
  const ScalingFactors f = scaling_factors(config_.feedback, step, estimate, rate_target_, model_.cell_type, n_types);
  std::vector<double> values = params_.values();
  apply_scaling(values, model_, excitatory_, excitatory_inputs_, f);
  if (!exp_finite_positive(values)) return skip_or_throw(m, "weights after the scaling step");
  rate_estimate_ = std::move(estimate);
  params_.values() = std::move(values);
  params_.apply(model_);
  m.updated = true;
  m.excitatory_scaling = type_geometric_mean(f.excitatory, model_.cell_type, n_types);
  m.inhibitory_scaling = type_geometric_mean(f.inhibitory, model_.cell_type, n_types);
  return m;
}

ChunkMetrics Trainer::gradient_update(ChunkMetrics m, const ChunkGradient& g) {
  if (!record_losses(m)) return m;
  const std::vector<double> grad = params_.gradient(model_, g, 0, excitatory_);
  for (const double x : grad)
    if (!std::isfinite(x)) return skip_or_throw(m, "gradient of the " + to_string(config_.training.optimisable) + " parameters");
  if (accumulated_.empty()) accumulated_.assign(grad.size(), 0.0);
  for (std::size_t k = 0; k < grad.size(); ++k) accumulated_[k] += grad[k];

  if (chunk_ % config_.training.chunks_per_update != 0) return m;
  m.updated = true;
  m.grad_norm = clip_global_norm(accumulated_, config_.hyperparameters.grad_norm_clip);
  // Step a copy: a non-finite result must leave parameters and moments as they were.
  Adam next = adam_;
  std::vector<double> values = params_.values();
  next.update(values, accumulated_);
  if (!exp_finite_positive(values))
    return skip_or_throw(m, to_string(config_.training.optimisable) + " after the update (exp of a log-parameter)");
  adam_ = std::move(next);
  params_.values() = std::move(values);
  params_.apply(model_);
  std::fill(accumulated_.begin(), accumulated_.end(), 0.0);
  return m;
}

}  // namespace homeostat
