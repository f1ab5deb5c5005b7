// The sweep file -> axes, dimensions and points; each point's config
// validated in-process before anything runs.
#include "homeostat/sweep/grid.hpp"

#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

namespace homeostat::sweep {

namespace fs = std::filesystem;

std::string to_string(Command command) {
  switch (command) {
    case Command::simulate: return "simulate";
    case Command::train: return "train";
    case Command::feedback: return "feedback";
  }
  return "?";
}

bool Axis::is_seed() const {
  const auto dot = key.rfind('.');
  return key.substr(dot == std::string::npos ? 0 : dot + 1) == "seed";
}

namespace {

// Shortest TOML text that reads back as the same value: floats as the
// shortest round-trip decimal (always with a point or exponent, so they stay
// floats), strings quoted, arrays and inline tables element by element.
std::string toml_text(const toml::node& n) {
  if (const auto* f = n.as_floating_point()) {
    const double x = f->get();
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    std::string s = fmt::format("{}", x);
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
  }
  if (const auto* i = n.as_integer()) return fmt::format("{}", i->get());
  if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* a = n.as_array()) {
    std::string s = "[";
    for (std::size_t k = 0; k < a->size(); ++k) s += (k ? ", " : "") + toml_text((*a)[k]);
    return s + "]";
  }
  if (const auto* t = n.as_table()) {
    std::string s = "{";
    bool first = true;
    for (const auto& [k, v] : *t) {
      std::ostringstream key;
      key << toml::value<std::string>(std::string(k.str()));
      s += (first ? " " : ", ") + key.str() + " = " + toml_text(v);
      first = false;
    }
    return s + (first ? "}" : " }");
  }
  std::ostringstream o;  // strings (quoted, escaped) and dates
  n.visit([&](const auto& v) { o << v; });
  return o.str();
}

// A value as it appears in a point's name: numbers and words as they are,
// anything else (arrays, tables, long text) as "v<position in the axis>".
std::string name_part(const toml::node& n, std::size_t position) {
  std::string s;
  if (const auto* f = n.as_floating_point()) s = fmt::format("{}", f->get());
  else if (const auto* i = n.as_integer()) s = fmt::format("{}", i->get());
  else if (const auto* b = n.as_boolean()) s = b->get() ? "true" : "false";
  else if (const auto* str = n.as_string()) s = str->get();
  const bool plain = !s.empty() && s.size() <= 24 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == '_';
  });
  return plain ? s : fmt::format("v{}", position);
}

bool is_label(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// "set" table -> "key=TEXT": quoted dotted keys ("simulation.duration") and
// nested tables (simulation.duration) both reach the same config key.
void flatten(const toml::table& t, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& [k, v] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = v.as_table()) flatten(*sub, key, out);
    else out.push_back(key + "=" + toml_text(v));
  }
}

std::string override_key(const std::string& override_text) { return override_text.substr(0, override_text.find('=')); }

// One table of the sweep file: keys consumed, the rest reported as unknown.
class Reader {
 public:
  Reader(const toml::table& t, std::string prefix) : t_(t), prefix_(std::move(prefix)) {}
  std::string key(std::string_view k) const { return prefix_ + std::string(k); }
  const toml::node* get(std::string_view k) {
    used_.insert(std::string(k));
    return t_.get(k);
  }
  std::string string(std::string_view k, const std::string& fallback, bool required = false) {
    const toml::node* n = get(k);
    if (!n) {
      if (required) throw ConfigError(key(k), "missing (required)");
      return fallback;
    }
    if (!n->is_string()) throw ConfigError(key(k), "expected a string");
    return n->as_string()->get();
  }
  void reject_unknown(const std::string& known) const {
    for (const auto& [k, v] : t_)
      if (!used_.count(std::string(k.str())))
        throw ConfigError(key(k.str()), fmt::format("unknown key (line {}); known keys: {}", v.source().begin.line, known));
  }

 private:
  const toml::table& t_;
  std::string prefix_;
  std::set<std::string> used_;
};

void read_axes(const toml::node* node, Sweep& s) {
  if (!node) throw ConfigError("axis", "missing: at least one [[axis]] with key and values");
  const toml::array* arr = node->as_array();
  if (!arr || arr->empty() || !arr->is_array_of_tables())
    throw ConfigError("axis", "expected one or more [[axis]] tables");
  std::set<std::string> keys, labels;
  for (std::size_t a = 0; a < arr->size(); ++a) {
    Reader r(*(*arr)[a].as_table(), fmt::format("axis[{}].", a));
    Axis axis;
    axis.key = r.string("key", "", true);
    if (axis.key.empty() || axis.key.front() == '.' || axis.key.back() == '.' || axis.key.find("..") != std::string::npos ||
        axis.key.find('=') != std::string::npos)
      throw ConfigError(r.key("key"), fmt::format("'{}' is not a dotted config key such as simulation.seed", axis.key));
    const auto dot = axis.key.rfind('.');
    axis.label = r.string("name", axis.key.substr(dot == std::string::npos ? 0 : dot + 1));
    if (!is_label(axis.label))
      throw ConfigError(r.key("name"), fmt::format("'{}': use letters, digits, '_', '-', '.'", axis.label));
    axis.zip = r.string("zip", "");
    const toml::node* values = r.get("values");
    if (!values) throw ConfigError(r.key("values"), "missing (required)");
    if (!values->is_array() || values->as_array()->empty())
      throw ConfigError(r.key("values"), "expected a non-empty array of values");
    const toml::array& v = *values->as_array();
    std::set<std::string> seen;
    for (std::size_t k = 0; k < v.size(); ++k) {
      const std::string text = toml_text(v[k]);
      if (!seen.insert(text).second)
        throw ConfigError(fmt::format("{}values[{}]", r.key(""), k), fmt::format("{} appears twice", text));
      axis.values.push_back(text);
      axis.numbers.push_back(v[k].is_number() ? v[k].value<double>().value() : NAN);
      axis.names.push_back(name_part(v[k], k));
    }
    if (const toml::node* labels = r.get("labels")) {
      const toml::array* l = labels->as_array();
      if (!l || l->size() != v.size())
        throw ConfigError(r.key("labels"), fmt::format("expected an array of {} strings, one per value", v.size()));
      std::set<std::string> unique;
      for (std::size_t k = 0; k < l->size(); ++k) {
        const std::string text = (*l)[k].is_string() ? (*l)[k].as_string()->get() : std::string();
        if (!is_label(text) || !unique.insert(text).second)
          throw ConfigError(fmt::format("{}labels[{}]", r.key(""), k),
                            "expected a distinct string of letters, digits, '_', '-', '.'");
        axis.names[k] = text;
      }
    }
    r.reject_unknown("key, values, name, labels, zip");
    if (!keys.insert(axis.key).second) throw ConfigError(r.key("key"), fmt::format("{} is swept by two axes", axis.key));
    if (!labels.insert(axis.label).second)
      throw ConfigError(r.key("name"), fmt::format("label '{}' is used by two axes; give one a name", axis.label));
    for (const auto& o : s.set)
      if (override_key(o) == axis.key)
        throw ConfigError(r.key("key"), fmt::format("{} is both in set and swept", axis.key));
    s.axes.push_back(std::move(axis));
  }
}

// Lone axes and zip groups, in the order of their first axis.
void build_dimensions(Sweep& s) {
  std::map<std::string, std::size_t> group;
  for (std::size_t a = 0; a < s.axes.size(); ++a) {
    const Axis& axis = s.axes[a];
    if (!axis.zip.empty() && group.count(axis.zip)) {
      Dimension& d = s.dimensions[group[axis.zip]];
      if (axis.values.size() != d.size)
        throw ConfigError(fmt::format("axis[{}].values", a),
                          fmt::format("{} values, but the other axes of zip group '{}' have {}: zipped axes vary "
                                      "together and need equal lengths",
                                      axis.values.size(), axis.zip, d.size));
      d.axes.push_back(a);
      d.is_seed = false;
      continue;
    }
    if (!axis.zip.empty()) group[axis.zip] = s.dimensions.size();
    s.dimensions.push_back({axis.zip.empty() ? axis.label : axis.zip, {a}, axis.values.size(), axis.is_seed()});
  }
}

void build_points(Sweep& s) {
  std::int64_t n = 1;
  for (const auto& d : s.dimensions) {
    if (n > 1'000'000 / static_cast<std::int64_t>(d.size))
      throw ConfigError("axis", "more than 1,000,000 points; split the sweep");
    n *= static_cast<std::int64_t>(d.size);
  }
  const int width = static_cast<int>(fmt::format("{}", std::max<std::int64_t>(n - 1, 0)).size());
  for (std::int64_t i = 0; i < n; ++i) {
    Point p;
    p.index = i;
    p.value.assign(s.axes.size(), 0);
    std::int64_t rest = i;
    for (std::size_t d = s.dimensions.size(); d-- > 0;) {  // last dimension varies fastest
      const auto k = static_cast<std::size_t>(rest % static_cast<std::int64_t>(s.dimensions[d].size));
      rest /= static_cast<std::int64_t>(s.dimensions[d].size);
      for (const std::size_t a : s.dimensions[d].axes) p.value[a] = k;
    }
    p.name = fmt::format("{:0{}}", i, width);
    p.overrides = s.set;
    for (std::size_t a = 0; a < s.axes.size(); ++a) {
      p.name += fmt::format("_{}={}", s.axes[a].label, s.axes[a].names[p.value[a]]);
      p.overrides.push_back(s.axes[a].key + "=" + s.axes[a].values[p.value[a]]);
    }
    s.points.push_back(std::move(p));
  }
}

}  // namespace

Sweep parse_sweep(std::string_view text, const fs::path& file) {
  Sweep s;
  s.file = file;
  s.text = std::string(text);
  try {
    toml::table root;
    try {
      root = toml::parse(text, file.string());
    } catch (const toml::parse_error& e) {
      throw ConfigError("", fmt::format("not valid TOML: {} (line {}, column {})", e.description(),
                                        e.source().begin.line, e.source().begin.column));
    }
    Reader r(root, "");
    const std::string command = r.string("command", "simulate");
    if (command == "simulate") s.command = Command::simulate;
    else if (command == "train") s.command = Command::train;
    else if (command == "feedback") s.command = Command::feedback;
    else throw ConfigError("command", fmt::format("'{}': expected \"simulate\", \"train\" or \"feedback\"", command));
    const std::string base = r.string("base", "");
    if (!base.empty()) s.base = fs::absolute(file.parent_path() / base).lexically_normal();
    if (const toml::node* set = r.get("set")) {
      if (!set->is_table()) throw ConfigError("set", "expected a table of config keys and values");
      flatten(*set->as_table(), "", s.set);
    }
    if (const toml::node* args = r.get("args")) {
      if (!args->is_array()) throw ConfigError("args", "expected an array of strings");
      for (std::size_t k = 0; k < args->as_array()->size(); ++k) {
        const toml::node& a = (*args->as_array())[k];
        if (!a.is_string()) throw ConfigError(fmt::format("args[{}]", k), "expected a string");
        const std::string arg = a.as_string()->get();
        for (const char* own : {"-o", "--output", "--threads", "--set"})
          if (arg == own || arg.rfind(std::string(own) + "=", 0) == 0)
            throw ConfigError(fmt::format("args[{}]", k), fmt::format("{} is set by the sweep itself", own));
        s.args.push_back(arg);
      }
    }
    read_axes(r.get("axis"), s);
    r.reject_unknown("command, base, set, args, axis");
    build_dimensions(s);
    build_points(s);
  } catch (const ConfigError& e) {
    throw e.with_source(file.string());
  }
  return s;
}

Sweep load_sweep(const fs::path& file) {
  std::string text;
  try {
    text = io::read_file(file);
  } catch (const std::exception& e) {
    throw ConfigError("", fmt::format("cannot read the sweep file: {}", e.what()), file.string());
  }
  return parse_sweep(text, file);
}

std::vector<Config> validate_points(const Sweep& s) {
  if (!s.base.empty() && !fs::is_regular_file(s.base))
    throw ConfigError("base", fmt::format("{}: no such file", s.base.string()), s.file.string());
  std::vector<Config> configs;
  configs.reserve(s.points.size());
  for (const Point& p : s.points) {
    try {
      configs.push_back(io::load_config(s.base, p.overrides));
    } catch (const ConfigError& e) {  // every error of the point, each naming it
      std::vector<ConfigError> each;
      for (const ConfigError& one : e.errors())
        each.emplace_back(one.key(), one.reason(),
                          fmt::format("{}: point {} ({}): {}", s.file.string(), p.index, p.name, one.source()));
      throw ConfigError::combine(std::move(each));
    }
  }
  return configs;
}

}  // namespace homeostat::sweep
