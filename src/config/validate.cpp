// Value checks on a Config: the single-key ranges of the schema, then the
// relations between keys that no single range expresses (shapes against the
// cell types, sums, tau_rise < tau_decay, theta > U_reset, rate * dt <= 1,
// the receptor-column limit, the number of steps). Every problem is
// collected, each naming its key; a check whose premise failed (a matrix of
// the wrong shape, a type count that does not match) is not followed by the
// checks that would only repeat it.
#include "homeostat/config.hpp"
#include "homeostat/schema.hpp"

#include <array>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string>

namespace homeostat {
namespace {

constexpr std::array<std::string_view, 2> topology_method_names = {"erdos-renyi", "configuration"};
constexpr std::array<std::string_view, 2> on_nan_names = {"stop", "skip"};
constexpr std::array<std::string_view, 3> snapshot_format_names = {"auto", "sparse", "dense"};
constexpr std::array<std::string_view, 2> granularity_names = {"neuron", "cell_type"};
constexpr std::array<std::string_view, 2> feedback_rule_names = {"integral", "ema"};
constexpr std::array<std::string_view, 2> rate_loss_names = {"split", "plain"};
constexpr std::array<std::string_view, 4> optimisable_names = {"weights", "scaling_factors",
                                                               "scaling_factors_recurrent",
                                                               "scaling_factors_feedforward"};

// Most time steps of one `simulate` run or one training run (issue 14):
// 10^10 steps is 11 days of network time at dt = 0.1 ms.
constexpr double max_steps = 1e10;

std::string num(double x) { return schema::number_text(x); }

std::string idx(const std::string& key, std::size_t i) { return key + "[" + std::to_string(i) + "]"; }

class Checker {
 public:
  std::vector<ConfigError> errors;

  void error(std::string key, std::string reason) { errors.emplace_back(std::move(key), std::move(reason)); }

  void names(const std::string& key, const std::vector<std::string>& v) {
    if (v.empty()) error(key, "needs at least one cell type");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i].empty()) error(idx(key, i), "empty name");
      else if (!seen.insert(v[i]).second) error(idx(key, i), "duplicate name '" + v[i] + "'");
    }
  }

  void proportions(const std::string& key, const std::vector<double>& p, std::size_t n_types) {
    if (p.size() != n_types) {
      error(key, "has " + std::to_string(p.size()) + " entries for " + std::to_string(n_types) +
                     " cell types: one per type");
      return;
    }
    double sum = 0;
    for (const double x : p) sum += x;
    if (std::isfinite(sum) && std::abs(sum - 1.0) > 1e-6) error(key, "proportions must sum to 1, they sum to " + num(sum));
  }

  // A [rows][cols] matrix (the schema checks its elements).
  void shape(const std::string& key, const Matrix& m, std::size_t rows, std::size_t cols, const char* what_rows,
             const char* what_cols) {
    if (m.size() != rows) {
      error(key, "has " + std::to_string(m.size()) + " rows, expected " + std::to_string(rows) + " (" + what_rows + ")");
      return;
    }
    for (std::size_t i = 0; i < rows; ++i) {
      if (m[i].size() != cols)
        error(idx(key, i), "has " + std::to_string(m[i].size()) + " columns, expected " + std::to_string(cols) + " (" +
                               what_cols + ")");
    }
  }

  void receptors(const std::string& key, const std::vector<ReceptorConfig>& rs) {
    std::set<std::string> seen;
    for (std::size_t r = 0; r < rs.size(); ++r) {
      const auto& x = rs[r];
      if (x.name.empty()) error(idx(key + ".names", r), "empty receptor name");
      else if (!seen.insert(x.name).second) error(idx(key + ".names", r), "duplicate receptor '" + x.name + "'");
      if (x.tau_rise > 0 && std::isfinite(x.tau_decay) && !(x.tau_rise < x.tau_decay))
        error(idx(key + ".tau_rise", r), "tau_rise (" + num(x.tau_rise) + ") must be < tau_decay (" +
                                             num(x.tau_decay) + ") for receptor '" + x.name + "'");
    }
  }
};

template <std::size_t N>
std::string enum_string(const std::array<std::string_view, N>& names, std::size_t i) {
  return std::string(names.at(i));
}

}  // namespace

template <>
std::span<const std::string_view> enum_names<TopologyMethod>() { return topology_method_names; }
template <>
std::span<const std::string_view> enum_names<OnNan>() { return on_nan_names; }
template <>
std::span<const std::string_view> enum_names<SnapshotFormat>() { return snapshot_format_names; }
template <>
std::span<const std::string_view> enum_names<Granularity>() { return granularity_names; }
template <>
std::span<const std::string_view> enum_names<FeedbackRule>() { return feedback_rule_names; }
template <>
std::span<const std::string_view> enum_names<Optimisable>() { return optimisable_names; }
template <>
std::span<const std::string_view> enum_names<RateLoss>() { return rate_loss_names; }

std::string to_string(TopologyMethod x) { return enum_string(topology_method_names, static_cast<std::size_t>(x)); }
std::string to_string(OnNan x) { return enum_string(on_nan_names, static_cast<std::size_t>(x)); }
std::string to_string(SnapshotFormat x) {
  return enum_string(snapshot_format_names, static_cast<std::size_t>(x));
}
std::string to_string(Granularity x) { return enum_string(granularity_names, static_cast<std::size_t>(x)); }
std::string to_string(FeedbackRule x) { return enum_string(feedback_rule_names, static_cast<std::size_t>(x)); }
std::string to_string(Optimisable x) { return enum_string(optimisable_names, static_cast<std::size_t>(x)); }

Optimisable parse_optimisable(const std::string& name) {
  for (std::size_t i = 0; i < optimisable_names.size(); ++i)
    if (optimisable_names[i] == name) return static_cast<Optimisable>(i);
  throw std::invalid_argument("unknown optimisable '" + name + "'");
}

bool trains_recurrent_factors(Optimisable mode) {
  return mode == Optimisable::scaling_factors || mode == Optimisable::scaling_factors_recurrent;
}
bool trains_feedforward_factors(Optimisable mode) {
  return mode == Optimisable::scaling_factors || mode == Optimisable::scaling_factors_feedforward;
}

ConfigError ConfigError::combine(std::vector<ConfigError> errors) {
  if (errors.empty()) throw std::logic_error("ConfigError::combine of no errors");
  if (errors.size() == 1) return errors.front();
  std::string what;
  for (const auto& e : errors) {
    if (!what.empty()) what += '\n';
    what += e.what();
  }
  return ConfigError(std::move(errors), what);
}

ConfigError::ConfigError(std::vector<ConfigError> errors, const std::string& what)
    : std::runtime_error(what),
      key_(errors.front().key_),
      reason_(errors.front().reason_),
      source_(errors.front().source_),
      combined_(std::move(errors)) {}

std::vector<ConfigError> ConfigError::errors() const {
  return combined_.empty() ? std::vector<ConfigError>{*this} : combined_;
}

ConfigError ConfigError::with_source(const std::string& source) const {
  std::vector<ConfigError> all;
  for (const auto& e : errors()) all.emplace_back(e.key_, e.reason_, source);
  return combine(std::move(all));
}

std::vector<ConfigError> config_errors(const Config& c) {
  Checker x;
  const auto& rc = c.recurrent;
  const auto& fc = c.feedforward;
  const std::size_t nt = rc.type_names.size(), ni = fc.type_names.size();

  // Per-type lists must match the type names before the schema can walk them
  // (the TOML reader guarantees it; a Config built in code may not).
  const bool sized = rc.physiology.size() == nt && rc.synapses.size() == nt && c.targets.per_type.size() == nt &&
                     fc.firing_rate.size() == ni && fc.synapses.size() == ni;
  if (!sized) x.error("", "per-cell-type lists (physiology, synapses, targets, activity) do not match the cell types");

  for (const schema::Key& k : schema::keys()) {
    if (k.per == schema::PerType::none) {
      schema::check_range(k, k.access.get(c, 0), k.path(), x.errors);
    } else if (sized) {
      const auto& types = schema::type_names(c, k.per);
      for (std::size_t t = 0; t < types.size(); ++t)
        schema::check_range(k, k.access.get(c, t), schema::expand(k.path(), types[t]), x.errors);
    }
  }

  const auto& s = c.simulation;
  if (s.dt > 0 && s.duration > 0) {
    const double steps = std::round(s.duration / s.dt);
    if (steps < 1) x.error("simulation.duration", "shorter than one time step");
    if (steps > max_steps)
      x.error("simulation.duration", "duration / dt is " + num(steps) + " steps: at most " + num(max_steps));
  }
  if (static_cast<double>(s.chunk_size) * static_cast<double>(s.num_chunks) > max_steps)
    x.error("simulation.num_chunks", "num_chunks * chunk_size is " +
                                         num(static_cast<double>(s.chunk_size) * static_cast<double>(s.num_chunks)) +
                                         " steps: at most " + num(max_steps));

  x.names("recurrent.cell_types.names", rc.type_names);
  x.proportions("recurrent.cell_types.proportion", rc.proportion, nt);
  if (rc.num_assemblies > rc.num_neurons)
    x.error("recurrent.topology.num_assemblies", "more assemblies (" + std::to_string(rc.num_assemblies) +
                                                     ") than neurons (" + std::to_string(rc.num_neurons) + ")");
  x.shape("recurrent.topology.conn_within", rc.conn_within, nt, nt, "presynaptic types", "postsynaptic types");
  x.shape("recurrent.topology.conn_between", rc.conn_between, nt, nt, "presynaptic types", "postsynaptic types");
  x.shape("recurrent.weights.w_mu", rc.w_mu, nt, nt, "presynaptic types", "postsynaptic types");
  x.shape("recurrent.weights.w_sigma", rc.w_sigma, nt, nt, "presynaptic types", "postsynaptic types");

  x.names("feedforward.cell_types.names", fc.type_names);
  x.proportions("feedforward.cell_types.proportion", fc.proportion, ni);
  x.shape("feedforward.topology.conn_inputs", fc.conn_inputs, ni, nt, "input types", "recurrent types");
  x.shape("feedforward.weights.w_mu", fc.w_mu, ni, nt, "input types", "recurrent types");
  x.shape("feedforward.weights.w_sigma", fc.w_sigma, ni, nt, "input types", "recurrent types");
  if (!sized) return x.errors;

  for (std::size_t i = 0; i < nt; ++i) {
    const auto& p = rc.physiology[i];
    if (std::isfinite(p.theta) && std::isfinite(p.U_reset) && !(p.theta > p.U_reset))
      x.error("recurrent.physiology." + rc.type_names[i] + ".theta",
              "the threshold must be above U_reset, or the neuron fires at every step");
    x.receptors("recurrent.synapses." + rc.type_names[i], rc.synapses[i]);
  }
  for (std::size_t i = 0; i < ni; ++i) {
    if (fc.firing_rate[i] * s.dt / 1000.0 > 1.0)
      x.error("feedforward.activity." + fc.type_names[i] + ".firing_rate", "rate * dt exceeds one spike per step");
    x.receptors("feedforward.synapses." + fc.type_names[i], fc.synapses[i]);
  }

  std::size_t columns = 0;
  auto count_columns = [&](const std::string& key, const std::vector<ReceptorConfig>& rs) {
    const bool within = columns <= static_cast<std::size_t>(max_receptor_columns);
    columns += rs.size();
    if (within && columns > static_cast<std::size_t>(max_receptor_columns))
      x.error(key + ".names", std::to_string(columns) + " receptor columns so far: at most " +
                                  std::to_string(max_receptor_columns) +
                                  " (every receptor of every presynaptic type, recurrent and feedforward)");
  };
  for (std::size_t i = 0; i < nt; ++i) count_columns("recurrent.synapses." + rc.type_names[i], rc.synapses[i]);
  for (std::size_t i = 0; i < ni; ++i) count_columns("feedforward.synapses." + fc.type_names[i], fc.synapses[i]);
  return x.errors;
}

void validate(const Config& c) {
  auto errors = config_errors(c);
  if (!errors.empty()) throw ConfigError::combine(std::move(errors));
}

}  // namespace homeostat
