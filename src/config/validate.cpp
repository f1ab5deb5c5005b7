// Value checks on a parsed Config. The TOML layer has already checked key
// names, presence and types; here: ranges, shapes, sums and the physics
// constraints of MODEL.md (tau_rise < tau_decay, probabilities in [0,1], ...).
#include "homeostat/config.hpp"

#include <charconv>
#include <cmath>
#include <set>
#include <string>

namespace homeostat {
namespace {

// Shortest text that reads back as x ("0.1", not "0.100000").
std::string num(double x) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

std::string idx(const std::string& key, std::size_t i) { return key + "[" + std::to_string(i) + "]"; }

void finite(const std::string& key, double x) {
  if (!std::isfinite(x)) throw ConfigError(key, "must be a finite number, got " + num(x));
}
void positive(const std::string& key, double x) {
  finite(key, x);
  if (!(x > 0)) throw ConfigError(key, "must be > 0, got " + num(x));
}
void non_negative(const std::string& key, double x) {
  finite(key, x);
  if (x < 0) throw ConfigError(key, "must be >= 0, got " + num(x));
}
void at_least(const std::string& key, std::int64_t x, std::int64_t lo) {
  if (x < lo) throw ConfigError(key, "must be >= " + std::to_string(lo) + ", got " + num(x));
}

void names(const std::string& key, const std::vector<std::string>& v) {
  if (v.empty()) throw ConfigError(key, "needs at least one cell type");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i].empty()) throw ConfigError(idx(key, i), "empty name");
    if (!seen.insert(v[i]).second) throw ConfigError(idx(key, i), "duplicate name '" + v[i] + "'");
  }
}

void proportions(const std::string& key, const std::vector<double>& p, std::size_t n_types) {
  if (p.size() != n_types)
    throw ConfigError(key, "has " + std::to_string(p.size()) + " entries for " + std::to_string(n_types) +
                               " cell types: one per type");
  double sum = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    non_negative(idx(key, i), p[i]);
    if (p[i] > 1) throw ConfigError(idx(key, i), "a proportion must be in [0, 1]");
    sum += p[i];
  }
  if (std::abs(sum - 1.0) > 1e-6) throw ConfigError(key, "proportions must sum to 1, they sum to " + num(sum));
}

// A [rows][cols] matrix; `check` is applied to every element.
template <class Check>
void matrix(const std::string& key, const Matrix& m, std::size_t rows, std::size_t cols,
            const char* what_rows, const char* what_cols, Check&& check) {
  if (m.size() != rows)
    throw ConfigError(key, "has " + std::to_string(m.size()) + " rows, expected " + std::to_string(rows) + " (" +
                               what_rows + ")");
  for (std::size_t i = 0; i < rows; ++i) {
    if (m[i].size() != cols)
      throw ConfigError(idx(key, i), "has " + std::to_string(m[i].size()) + " columns, expected " +
                                         std::to_string(cols) + " (" + what_cols + ")");
    for (std::size_t j = 0; j < cols; ++j) check(idx(idx(key, i), j), m[i][j]);
  }
}

void probability(const std::string& key, double p) {
  non_negative(key, p);
  if (p > 1) throw ConfigError(key, "a connection probability must be in [0, 1], got " + num(p));
}

void receptors(const std::string& key, const std::vector<ReceptorConfig>& rs) {
  std::set<std::string> seen;
  for (std::size_t r = 0; r < rs.size(); ++r) {
    const auto& x = rs[r];
    if (x.name.empty()) throw ConfigError(idx(key + ".names", r), "empty receptor name");
    if (!seen.insert(x.name).second) throw ConfigError(idx(key + ".names", r), "duplicate receptor '" + x.name + "'");
    positive(idx(key + ".tau_rise", r), x.tau_rise);
    positive(idx(key + ".tau_decay", r), x.tau_decay);
    if (!(x.tau_rise < x.tau_decay))
      throw ConfigError(idx(key + ".tau_rise", r), "tau_rise (" + num(x.tau_rise) +
                                                       ") must be < tau_decay (" + num(x.tau_decay) +
                                                       ") for receptor '" + x.name + "'");
    finite(idx(key + ".E_syn", r), x.E_syn);
    non_negative(idx(key + ".g_bar", r), x.g_bar);
  }
}

}  // namespace

std::string to_string(TopologyMethod method) {
  return method == TopologyMethod::configuration ? "configuration" : "erdos-renyi";
}

void validate(const Config& c) {
  const auto& s = c.simulation;
  positive("simulation.dt", s.dt);
  at_least("simulation.chunk_size", s.chunk_size, 1);
  at_least("simulation.num_chunks", s.num_chunks, 1);
  positive("simulation.duration", s.duration);
  if (std::llround(s.duration / s.dt) < 1) throw ConfigError("simulation.duration", "shorter than one time step");

  const auto& t = c.training;
  at_least("training.batch_size", t.batch_size, 1);
  at_least("training.chunks_per_update", t.chunks_per_update, 1);
  at_least("training.log_interval", t.log_interval, 1);
  at_least("training.checkpoint_interval", t.checkpoint_interval, 1);
  static const std::set<std::string> modes = {"weights", "scaling_factors", "scaling_factors_recurrent",
                                              "scaling_factors_feedforward"};
  if (t.on_nan != "stop" && t.on_nan != "skip")
    throw ConfigError("training.on_nan", "unknown value '" + t.on_nan + "' (expected \"stop\" or \"skip\")");
  if (!modes.count(t.optimisable))
    throw ConfigError("training.optimisable", "unknown value '" + t.optimisable +
                                                  "' (expected weights, scaling_factors, scaling_factors_recurrent "
                                                  "or scaling_factors_feedforward)");

  const auto& f = c.feedback;
  if (f.rule != "integral" && f.rule != "ema")
    throw ConfigError("feedback.rule", "unknown value '" + f.rule + "' (expected \"integral\" or \"ema\")");
  positive("feedback.tau_homeostatic", f.tau_homeostatic);
  positive("feedback.max_step", f.max_step);
  non_negative("feedback.eta_excitatory", f.eta_excitatory);
  non_negative("feedback.eta_inhibitory", f.eta_inhibitory);
  finite("feedback.tau_avg", f.tau_avg);
  if (f.tau_avg < 1) throw ConfigError("feedback.tau_avg", "must be >= 1 (chunks; 1 = no smoothing), got " + num(f.tau_avg));
  positive("feedback.min_factor", f.min_factor);
  if (f.min_factor > 1) throw ConfigError("feedback.min_factor", "must be <= 1, got " + num(f.min_factor));
  finite("feedback.max_factor", f.max_factor);
  if (f.max_factor < 1) throw ConfigError("feedback.max_factor", "must be >= 1, got " + num(f.max_factor));
  if (f.granularity != "neuron" && f.granularity != "cell_type")
    throw ConfigError("feedback.granularity",
                      "unknown value '" + f.granularity + "' (expected \"neuron\" or \"cell_type\")");

  const auto& rc = c.recurrent;
  names("recurrent.cell_types.names", rc.type_names);
  const std::size_t nt = rc.type_names.size();
  proportions("recurrent.cell_types.proportion", rc.proportion, nt);
  at_least("recurrent.topology.num_neurons", rc.num_neurons, 1);
  at_least("recurrent.topology.num_assemblies", rc.num_assemblies, 1);
  if (rc.num_assemblies > rc.num_neurons)
    throw ConfigError("recurrent.topology.num_assemblies", "more assemblies (" + std::to_string(rc.num_assemblies) +
                                                               ") than neurons (" + std::to_string(rc.num_neurons) + ")");
  matrix("recurrent.topology.conn_within", rc.conn_within, nt, nt, "presynaptic types", "postsynaptic types", probability);
  matrix("recurrent.topology.conn_between", rc.conn_between, nt, nt, "presynaptic types", "postsynaptic types", probability);
  matrix("recurrent.weights.w_mu", rc.w_mu, nt, nt, "presynaptic types", "postsynaptic types", positive);
  matrix("recurrent.weights.w_sigma", rc.w_sigma, nt, nt, "presynaptic types", "postsynaptic types", non_negative);
  for (std::size_t i = 0; i < nt; ++i) {
    const std::string key = "recurrent.physiology." + rc.type_names[i];
    const auto& p = rc.physiology.at(i);
    positive(key + ".tau_mem", p.tau_mem);
    positive(key + ".g_L", p.g_L);
    non_negative(key + ".tau_ref", p.tau_ref);
    finite(key + ".E_L", p.E_L);
    finite(key + ".U_reset", p.U_reset);
    finite(key + ".theta", p.theta);
    if (!(p.theta > p.U_reset))
      throw ConfigError(key + ".theta", "the threshold must be above U_reset, or the neuron fires at every step");
    receptors("recurrent.synapses." + rc.type_names[i], rc.synapses.at(i));
  }

  const auto& fc = c.feedforward;
  names("feedforward.cell_types.names", fc.type_names);
  const std::size_t ni = fc.type_names.size();
  proportions("feedforward.cell_types.proportion", fc.proportion, ni);
  at_least("feedforward.topology.num_neurons", fc.num_neurons, 1);
  matrix("feedforward.topology.conn_inputs", fc.conn_inputs, ni, nt, "input types", "recurrent types", probability);
  matrix("feedforward.weights.w_mu", fc.w_mu, ni, nt, "input types", "recurrent types", positive);
  matrix("feedforward.weights.w_sigma", fc.w_sigma, ni, nt, "input types", "recurrent types", non_negative);
  for (std::size_t i = 0; i < ni; ++i) {
    const std::string key = "feedforward.activity." + fc.type_names[i] + ".firing_rate";
    non_negative(key, fc.firing_rate.at(i));
    if (fc.firing_rate[i] * s.dt / 1000.0 > 1.0)
      throw ConfigError(key, "rate * dt exceeds one spike per step");
    receptors("feedforward.synapses." + fc.type_names[i], fc.synapses.at(i));
  }

  std::size_t columns = 0;
  auto count_columns = [&](const std::string& key, const std::vector<ReceptorConfig>& rs) {
    columns += rs.size();
    if (columns > static_cast<std::size_t>(max_receptor_columns))
      throw ConfigError(key + ".names", std::to_string(columns) + " receptor columns so far: at most " +
                                            std::to_string(max_receptor_columns) +
                                            " (every receptor of every presynaptic type, recurrent and feedforward)");
  };
  for (std::size_t i = 0; i < nt; ++i) count_columns("recurrent.synapses." + rc.type_names[i], rc.synapses.at(i));
  for (std::size_t i = 0; i < ni; ++i) count_columns("feedforward.synapses." + fc.type_names[i], fc.synapses.at(i));

  if (c.targets.per_type.size() != nt) throw ConfigError("targets", "needs one entry per recurrent cell type");
  for (std::size_t i = 0; i < nt; ++i) {
    const auto& x = c.targets.per_type[i];
    const std::string& name = rc.type_names[i];
    non_negative("targets.firing_rate." + name, x.firing_rate);
    non_negative("targets.cv." + name, x.cv);
    non_negative("targets.alpha." + name, x.alpha);
    positive("targets.threshold_ratio." + name, x.threshold_ratio);
  }
  positive("targets.weight_ratio", c.targets.weight_ratio);

  const auto& h = c.hyperparameters;
  positive("hyperparameters.learning_rate", h.learning_rate);
  positive("hyperparameters.grad_norm_clip", h.grad_norm_clip);
  positive("hyperparameters.surrgrad_scale", h.surrgrad_scale);
  for (const LossTerm t : all_loss_terms) non_negative(loss_weight_key(t), h.loss_weight[t]);
  // hyperparameters.rate_loss = "split" with training.batch_size = 1 is not an
  // error: the split form needs two trials, so the plain form is used
  // (LossTargets::split_rate), and `train` says so in its header.
}

}  // namespace homeostat
