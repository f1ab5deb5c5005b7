// TOML -> Config with strict checking: every key must be known, of the right
// type and present when required; the typed struct is then validated.
#include "homeostat/io/config_toml.hpp"

#include "homeostat/io/files.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace homeostat::io {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& it : items) s += (s.empty() ? "" : ", ") + it;
  return s;
}

// Where a value came from: its line in the file, or the --set argument
// (apply_override parses each one as a one-line document of its own).
std::string where(const toml::node& node) {
  const auto& src = node.source();
  if (src.path && src.path->rfind("--set ", 0) == 0) return fmt::format(" (from {})", *src.path);
  return src.begin.line > 0 ? fmt::format(" (line {})", src.begin.line) : std::string();
}

const char* type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date/time";
  }
}

// One TOML table being read: remembers which keys were consumed so that the
// rest can be reported as unknown.
class Section {
 public:
  Section(const toml::table& table, std::string prefix) : table_(table), prefix_(std::move(prefix)) {}

  std::string key(std::string_view k) const { return prefix_.empty() ? std::string(k) : prefix_ + "." + std::string(k); }
  bool has(std::string_view k) const { return table_.contains(k); }

  const toml::node& node(std::string_view k) {
    const toml::node* n = table_.get(k);
    if (!n) throw ConfigError(key(k), "missing (required)");
    used_.insert(std::string(k));
    return *n;
  }
  Section table(std::string_view k) {
    const toml::node& n = node(k);
    if (!n.is_table()) throw ConfigError(key(k), fmt::format("expected a table, got {}{}", type_name(n), where(n)));
    return Section(*n.as_table(), key(k));
  }
  double number(std::string_view k) { return as_number(node(k), key(k)); }
  double number_or(std::string_view k, double fallback) { return has(k) ? number(k) : fallback; }
  std::int64_t integer(std::string_view k) { return as_integer(node(k), key(k)); }
  bool boolean_or(std::string_view k, bool fallback) {
    if (!has(k)) return fallback;
    const toml::node& n = node(k);
    if (!n.is_boolean()) throw ConfigError(key(k), fmt::format("expected true or false, got {}{}", type_name(n), where(n)));
    return n.as_boolean()->get();
  }
  std::string string(std::string_view k) {
    const toml::node& n = node(k);
    if (!n.is_string()) throw ConfigError(key(k), fmt::format("expected a string, got {}{}", type_name(n), where(n)));
    return n.as_string()->get();
  }
  std::vector<double> numbers(std::string_view k) {
    const toml::array& a = array(k);
    std::vector<double> out;
    for (std::size_t i = 0; i < a.size(); ++i) out.push_back(as_number(a[i], fmt::format("{}[{}]", key(k), i)));
    return out;
  }
  std::vector<std::string> strings(std::string_view k) {
    const toml::array& a = array(k);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_string())
        throw ConfigError(fmt::format("{}[{}]", key(k), i), fmt::format("expected a string, got {}{}", type_name(a[i]), where(a[i])));
      out.push_back(a[i].as_string()->get());
    }
    return out;
  }
  Matrix matrix(std::string_view k) {
    const toml::array& a = array(k);
    Matrix out;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const std::string row_key = fmt::format("{}[{}]", key(k), i);
      if (!a[i].is_array())
        throw ConfigError(row_key, fmt::format("expected a row (array of numbers), got {}{}", type_name(a[i]), where(a[i])));
      const toml::array& row = *a[i].as_array();
      std::vector<double> values;
      for (std::size_t j = 0; j < row.size(); ++j) values.push_back(as_number(row[j], fmt::format("{}[{}]", row_key, j)));
      out.push_back(std::move(values));
    }
    return out;
  }
  // Keys of this table in file order is not kept by toml++; sorted is fine.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : table_) out.emplace_back(k.str());
    return out;
  }
  void reject_unknown(std::string_view hint = {}) const {
    for (const auto& [k, v] : table_) {
      if (!used_.count(std::string(k.str()))) {
        throw ConfigError(key(k.str()), fmt::format("unknown key{}{}", where(v),
                                                    hint.empty() ? std::string() : "; " + std::string(hint)));
      }
    }
  }

 private:
  const toml::array& array(std::string_view k) {
    const toml::node& n = node(k);
    if (!n.is_array()) throw ConfigError(key(k), fmt::format("expected an array, got {}{}", type_name(n), where(n)));
    return *n.as_array();
  }
  static double as_number(const toml::node& n, const std::string& k) {
    if (n.is_floating_point()) return n.as_floating_point()->get();
    if (n.is_integer()) return static_cast<double>(n.as_integer()->get());
    throw ConfigError(k, fmt::format("expected a number, got {}{}", type_name(n), where(n)));
  }
  static std::int64_t as_integer(const toml::node& n, const std::string& k) {
    if (n.is_integer()) return n.as_integer()->get();
    throw ConfigError(k, fmt::format("expected an integer, got {}{}", type_name(n), where(n)));
  }

  const toml::table& table_;
  std::string prefix_;
  std::set<std::string> used_;
};

TopologyMethod parse_method(Section& s) {
  const std::string m = s.string("method");
  if (m == "configuration") return TopologyMethod::configuration;
  if (m == "erdos-renyi") return TopologyMethod::erdos_renyi;
  throw ConfigError(s.key("method"), fmt::format("unknown method '{}' (expected \"configuration\" or \"erdos-renyi\")", m));
}

// [<layer>.synapses.<type>]: parallel arrays, one entry per receptor.
std::vector<ReceptorConfig> parse_receptors(Section s) {
  const auto names = s.strings("names");
  const auto tau_rise = s.numbers("tau_rise");
  const auto tau_decay = s.numbers("tau_decay");
  const auto e_syn = s.numbers("E_syn");
  const auto g_bar = s.numbers("g_bar");
  const std::pair<const char*, std::size_t> lengths[] = {
      {"tau_rise", tau_rise.size()}, {"tau_decay", tau_decay.size()}, {"E_syn", e_syn.size()}, {"g_bar", g_bar.size()}};
  for (const auto& [k, n] : lengths) {
    if (n != names.size())
      throw ConfigError(s.key(k), fmt::format("has {} entries but names has {}: one per receptor", n, names.size()));
  }
  s.reject_unknown();
  std::vector<ReceptorConfig> out;
  for (std::size_t r = 0; r < names.size(); ++r) out.push_back({names[r], tau_rise[r], tau_decay[r], e_syn[r], g_bar[r]});
  return out;
}

// A table keyed by cell-type name ([recurrent.physiology], targets.cv, ...):
// every key must be a known type. Returns the sub-sections in type order;
// a type without an entry is an error unless `optional`.
template <class Fn>
void per_type(Section& parent, std::string_view k, const std::vector<std::string>& types, bool optional, Fn&& fn) {
  if (optional && !parent.has(k)) return;
  Section s = parent.table(k);
  for (const auto& name : s.keys()) {
    if (std::find(types.begin(), types.end(), name) == types.end())
      throw ConfigError(s.key(name), fmt::format("no cell type named '{}' (cell types: {})", name, join(types)));
  }
  for (std::size_t t = 0; t < types.size(); ++t) {
    if (!s.has(types[t])) {
      if (optional) continue;
      throw ConfigError(s.key(types[t]), fmt::format("missing: every cell type needs an entry (cell types: {})", join(types)));
    }
    fn(s, types[t], t);
  }
  s.reject_unknown();
}

// [<layer>.cell_types] and [<layer>.weights]: the same keys in both layers.
void read_cell_types(Section& layer, std::vector<std::string>& names, std::vector<double>& proportion) {
  Section t = layer.table("cell_types");
  names = t.strings("names");
  proportion = t.numbers("proportion");
  t.reject_unknown();
}

void read_weights(Section& layer, Matrix& w_mu, Matrix& w_sigma) {
  Section t = layer.table("weights");
  w_mu = t.matrix("w_mu");
  w_sigma = t.matrix("w_sigma");
  t.reject_unknown();
}

// [<layer>.synapses.<type>] for every cell type of the layer.
std::vector<std::vector<ReceptorConfig>> read_synapses(Section& layer, const std::vector<std::string>& types) {
  std::vector<std::vector<ReceptorConfig>> out(types.size());
  per_type(layer, "synapses", types, false, [&](Section& p, const std::string& name, std::size_t t) {
    out[t] = parse_receptors(p.table(name));
  });
  return out;
}

Config from_table(const toml::table& root) {
  Section top(root, "");
  Config c;

  {
    Section s = top.table("simulation");
    const std::int64_t seed = s.integer("seed");
    if (seed < 0) throw ConfigError("simulation.seed", "must be >= 0");
    c.simulation.seed = static_cast<std::uint64_t>(seed);
    c.simulation.dt = s.number("dt");
    c.simulation.chunk_size = s.integer("chunk_size");
    c.simulation.num_chunks = s.integer("num_chunks");
    c.simulation.duration = s.number("duration");
    c.simulation.saturate = s.boolean_or("saturate", true);
    s.reject_unknown();
  }
  {
    Section s = top.table("training");
    c.training.batch_size = s.integer("batch_size");
    c.training.chunks_per_update = s.integer("chunks_per_update");
    c.training.log_interval = s.integer("log_interval");
    c.training.checkpoint_interval = s.integer("checkpoint_interval");
    c.training.optimisable = s.string("optimisable");
    c.training.on_nan = s.has("on_nan") ? s.string("on_nan") : "stop";
    s.reject_unknown();
  }

  // Layers first: targets and receptors are keyed by their cell types.
  {
    Section s = top.table("recurrent");
    RecurrentConfig& rc = c.recurrent;
    read_cell_types(s, rc.type_names, rc.proportion);
    {
      Section t = s.table("topology");
      rc.num_neurons = t.integer("num_neurons");
      rc.num_assemblies = t.integer("num_assemblies");
      rc.method = parse_method(t);
      rc.conn_within = t.matrix("conn_within");
      rc.conn_between = t.matrix("conn_between");
      t.reject_unknown();
    }
    read_weights(s, rc.w_mu, rc.w_sigma);
    rc.physiology.resize(rc.type_names.size());
    per_type(s, "physiology", rc.type_names, false, [&](Section& p, const std::string& name, std::size_t t) {
      Section q = p.table(name);
      rc.physiology[t] = {q.number("tau_mem"), q.number("theta"), q.number("U_reset"),
                          q.number("E_L"), q.number("g_L"), q.number("tau_ref")};
      q.reject_unknown();
    });
    rc.synapses = read_synapses(s, rc.type_names);
    s.reject_unknown();
  }
  {
    Section s = top.table("feedforward");
    FeedforwardConfig& fc = c.feedforward;
    read_cell_types(s, fc.type_names, fc.proportion);
    {
      Section t = s.table("topology");
      fc.num_neurons = t.integer("num_neurons");
      fc.method = parse_method(t);
      fc.conn_inputs = t.matrix("conn_inputs");
      t.reject_unknown();
    }
    read_weights(s, fc.w_mu, fc.w_sigma);
    fc.firing_rate.resize(fc.type_names.size());
    per_type(s, "activity", fc.type_names, false, [&](Section& p, const std::string& name, std::size_t t) {
      Section q = p.table(name);
      fc.firing_rate[t] = q.number("firing_rate");
      q.reject_unknown();
    });
    fc.synapses = read_synapses(s, fc.type_names);
    s.reject_unknown();
  }
  {
    Section s = top.table("targets");
    const auto& types = c.recurrent.type_names;
    c.targets.per_type.assign(types.size(), CellTargets{});
    per_type(s, "firing_rate", types, false, [&](Section& p, const std::string& name, std::size_t t) {
      c.targets.per_type[t].firing_rate = p.number(name);
    });
    per_type(s, "cv", types, true, [&](Section& p, const std::string& name, std::size_t t) {
      c.targets.per_type[t].cv = p.number(name);
    });
    per_type(s, "alpha", types, false, [&](Section& p, const std::string& name, std::size_t t) {
      c.targets.per_type[t].alpha = p.number(name);
    });
    per_type(s, "threshold_ratio", types, false, [&](Section& p, const std::string& name, std::size_t t) {
      c.targets.per_type[t].threshold_ratio = p.number(name);
    });
    c.targets.weight_ratio = s.number("weight_ratio");
    s.reject_unknown();
  }
  {
    Section s = top.table("hyperparameters");
    auto& h = c.hyperparameters;
    h.learning_rate = s.number("learning_rate");
    h.grad_norm_clip = s.number("grad_norm_clip");
    h.surrgrad_scale = s.number("surrgrad_scale");
    Section w = s.table("loss_weight");
    // Each weight is optional, defaulting to the term's weight in the reference
    // configuration (a term added later has 0 there, so older files still load).
    for (const LossTermInfo& t : loss_terms) h.loss_weight[t.term] = w.number_or(t.name, t.reference_weight);
    w.reject_unknown();
    if (s.has("rate_loss")) {  // optional: "split" (default) or "plain"
      const std::string r = s.string("rate_loss");
      try {
        h.rate_loss = parse_rate_loss(r);
      } catch (const std::invalid_argument&) {
        throw ConfigError(s.key("rate_loss"), fmt::format("unknown value '{}' (expected \"split\" or \"plain\")", r));
      }
    }
    s.reject_unknown();
  }
  if (top.has("feedback")) {
    Section s = top.table("feedback");
    auto& f = c.feedback;
    if (s.has("rule")) f.rule = s.string("rule");
    f.tau_homeostatic = s.number_or("tau_homeostatic", f.tau_homeostatic);
    f.max_step = s.number_or("max_step", f.max_step);
    f.eta_excitatory = s.number_or("eta_excitatory", f.eta_excitatory);
    f.eta_inhibitory = s.number_or("eta_inhibitory", f.eta_inhibitory);
    f.tau_avg = s.number_or("tau_avg", f.tau_avg);
    f.min_factor = s.number_or("min_factor", f.min_factor);
    f.max_factor = s.number_or("max_factor", f.max_factor);
    if (s.has("granularity")) f.granularity = s.string("granularity");
    s.reject_unknown();
  }
  top.reject_unknown(
      "top-level sections are simulation, training, targets, hyperparameters, feedback, recurrent, feedforward");
  return c;
}

// "a.b.c=value": sets root[a][b][c], creating tables on the way.
void apply_override(toml::table& root, const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("", fmt::format("'{}' is not of the form section.key=value", arg));
  const std::string path = arg.substr(0, eq);
  const std::string value = arg.substr(eq + 1);

  // The value in TOML syntax ("8", "0.5", "[1, 2]", "\"x\"", "true"); a bare
  // word such as scaling_factors is taken as a string.
  toml::table holder;
  try {
    holder = toml::parse(std::string_view("v = " + value), std::string_view("--set " + arg));
  } catch (const toml::parse_error&) {
    holder = toml::table{};
    holder.insert("v", value);
  }

  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '.') {
      if (i == start) throw ConfigError(path, "empty key segment");
      parts.push_back(path.substr(start, i - start));
      start = i + 1;
    }
  }
  toml::table* t = &root;
  std::string sofar;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    sofar += (sofar.empty() ? "" : ".") + parts[i];
    toml::node* n = t->get(parts[i]);
    if (!n) {
      t->insert(parts[i], toml::table{});
      n = t->get(parts[i]);
    }
    if (!n->is_table()) throw ConfigError(sofar, "is a value, not a section: cannot set a key inside it");
    t = n->as_table();
  }
  t->insert_or_assign(parts.back(), std::move(*holder.get("v")));
}

// Shortest text that reads back as the same double, always with a decimal
// point so that TOML keeps it a float.
std::string num(double x) {
  std::string s = fmt::format("{}", x);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string list(const std::vector<double>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + num(v[i]);
  return s + "]";
}

std::string list(const std::vector<std::string>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::ostringstream q;
    q << toml::value<std::string>(v[i]);
    s += (i ? ", " : "") + q.str();
  }
  return s + "]";
}

std::string matrix(const Matrix& m) {
  std::string s = "[";
  for (std::size_t i = 0; i < m.size(); ++i) s += (i ? ", " : "") + list(m[i]);
  return s + "]";
}

std::string quoted_key(const std::string& k) {
  const bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
  });
  if (bare) return k;
  std::ostringstream q;
  q << toml::value<std::string>(k);
  return q.str();
}

void receptors(std::string& out, const std::string& header, const std::vector<ReceptorConfig>& rs) {
  std::vector<std::string> names;
  std::vector<double> tr, td, es, gb;
  for (const auto& r : rs) {
    names.push_back(r.name);
    tr.push_back(r.tau_rise);
    td.push_back(r.tau_decay);
    es.push_back(r.E_syn);
    gb.push_back(r.g_bar);
  }
  out += fmt::format("\n[{}]\nnames = {}\ntau_rise = {}\ntau_decay = {}\nE_syn = {}\ng_bar = {}\n", header,
                     list(names), list(tr), list(td), list(es), list(gb));
}

}  // namespace

Config parse_config(std::string_view text, const std::string& source, const std::vector<std::string>& overrides) {
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(source));
  } catch (const toml::parse_error& e) {
    throw ConfigError("", fmt::format("not valid TOML: {} (line {}, column {})", e.description(),
                                      e.source().begin.line, e.source().begin.column),
                      source);
  }
  for (const auto& arg : overrides) {
    try {
      apply_override(root, arg);
    } catch (const ConfigError& e) {
      throw e.with_source("--set " + arg);
    }
  }
  try {
    Config c = from_table(root);
    validate(c);
    return c;
  } catch (const ConfigError& e) {
    throw e.with_source(overrides.empty() ? source : source + " (with --set overrides)");
  }
}

Config load_config(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  if (path.empty()) return parse_config(default_config_toml(), "built-in defaults", overrides);
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::exception& e) {
    throw ConfigError("", fmt::format("cannot read the file: {}", e.what()), path.string());
  }
  return parse_config(text, path.string(), overrides);
}

std::string to_toml(const Config& c) {
  std::string o;
  const auto& s = c.simulation;
  o += "# Resolved homeostat configuration (every key, defaults included).\n";
  o += fmt::format("\n[simulation]\nseed = {}\ndt = {}\nchunk_size = {}\nnum_chunks = {}\nduration = {}\nsaturate = {}\n",
                   s.seed, num(s.dt), s.chunk_size, s.num_chunks, num(s.duration), s.saturate);
  const auto& t = c.training;
  o += fmt::format(
      "\n[training]\nbatch_size = {}\nchunks_per_update = {}\nlog_interval = {}\ncheckpoint_interval = {}\noptimisable = \"{}\"\n"
      "on_nan = \"{}\"\n",
      t.batch_size, t.chunks_per_update, t.log_interval, t.checkpoint_interval, t.optimisable, t.on_nan);

  const auto& types = c.recurrent.type_names;
  o += "\n[targets]\n";
  const std::pair<const char*, double CellTargets::*> target_keys[] = {
      {"firing_rate", &CellTargets::firing_rate}, {"cv", &CellTargets::cv},
      {"alpha", &CellTargets::alpha}, {"threshold_ratio", &CellTargets::threshold_ratio}};
  for (const auto& [k, member] : target_keys)
    for (std::size_t i = 0; i < types.size(); ++i)
      o += fmt::format("{}.{} = {}\n", k, quoted_key(types[i]), num(c.targets.per_type[i].*member));
  o += fmt::format("weight_ratio = {}\n", num(c.targets.weight_ratio));

  const auto& h = c.hyperparameters;
  o += fmt::format("\n[hyperparameters]\nlearning_rate = {}\ngrad_norm_clip = {}\nsurrgrad_scale = {}\n",
                   num(h.learning_rate), num(h.grad_norm_clip), num(h.surrgrad_scale));
  for (const LossTermInfo& t : loss_terms) o += fmt::format("loss_weight.{} = {}\n", t.name, num(h.loss_weight[t.term]));
  o += fmt::format("rate_loss = \"{}\"\n", to_string(h.rate_loss));

  const auto& f = c.feedback;
  o += fmt::format(
      "\n[feedback]\nrule = \"{}\"\ntau_homeostatic = {}\nmax_step = {}\neta_excitatory = {}\neta_inhibitory = {}\n"
      "tau_avg = {}\nmin_factor = {}\nmax_factor = {}\ngranularity = \"{}\"\n",
      f.rule, num(f.tau_homeostatic), num(f.max_step), num(f.eta_excitatory), num(f.eta_inhibitory), num(f.tau_avg), num(f.min_factor), num(f.max_factor),
      f.granularity);

  const auto& rc = c.recurrent;
  o += fmt::format("\n[recurrent.cell_types]\nnames = {}\nproportion = {}\n", list(rc.type_names), list(rc.proportion));
  o += fmt::format("\n[recurrent.topology]\nnum_neurons = {}\nnum_assemblies = {}\nmethod = \"{}\"\nconn_within = {}\nconn_between = {}\n",
                   rc.num_neurons, rc.num_assemblies, to_string(rc.method), matrix(rc.conn_within), matrix(rc.conn_between));
  o += fmt::format("\n[recurrent.weights]\nw_mu = {}\nw_sigma = {}\n", matrix(rc.w_mu), matrix(rc.w_sigma));
  for (std::size_t i = 0; i < types.size(); ++i) {
    const auto& p = rc.physiology[i];
    o += fmt::format("\n[recurrent.physiology.{}]\ntau_mem = {}\ntheta = {}\nU_reset = {}\nE_L = {}\ng_L = {}\ntau_ref = {}\n",
                     quoted_key(types[i]), num(p.tau_mem), num(p.theta), num(p.U_reset), num(p.E_L), num(p.g_L), num(p.tau_ref));
  }
  for (std::size_t i = 0; i < types.size(); ++i)
    receptors(o, "recurrent.synapses." + quoted_key(types[i]), rc.synapses[i]);

  const auto& fc = c.feedforward;
  o += fmt::format("\n[feedforward.cell_types]\nnames = {}\nproportion = {}\n", list(fc.type_names), list(fc.proportion));
  o += fmt::format("\n[feedforward.topology]\nnum_neurons = {}\nmethod = \"{}\"\nconn_inputs = {}\n",
                   fc.num_neurons, to_string(fc.method), matrix(fc.conn_inputs));
  o += fmt::format("\n[feedforward.weights]\nw_mu = {}\nw_sigma = {}\n", matrix(fc.w_mu), matrix(fc.w_sigma));
  for (std::size_t i = 0; i < fc.type_names.size(); ++i)
    o += fmt::format("\n[feedforward.activity.{}]\nfiring_rate = {}\n", quoted_key(fc.type_names[i]), num(fc.firing_rate[i]));
  for (std::size_t i = 0; i < fc.type_names.size(); ++i)
    receptors(o, "feedforward.synapses." + quoted_key(fc.type_names[i]), fc.synapses[i]);
  return o;
}

}  // namespace homeostat::io
