// TOML <-> Config, driven by the schema (homeostat/schema.hpp): every key of
// the table is read with its type checked, every key of the file must be one
// of them, and every problem of a file is reported at once (one ConfigError
// listing them all). Writing walks the same table, so that parameters.toml
// and `homeostat config --defaults` list the same keys in the same order.
#include "homeostat/io/config_toml.hpp"

#include "homeostat/io/files.hpp"
#include "homeostat/schema.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace homeostat::io {
namespace {

using schema::Key;
using schema::Kind;
using schema::PerType;
using schema::Value;

// Segments of a dotted path; `<type>` stays one segment.
using Path = std::vector<std::string>;

std::string join(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string s;
  for (const auto& it : items) s += (s.empty() ? "" : std::string(sep)) + it;
  return s;
}

std::string dotted(const Path& p, std::size_t n) {
  return join(std::vector<std::string>(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n)), ".");
}

Path split(std::string_view dotted_path) {
  Path out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= dotted_path.size(); ++i) {
    if (i == dotted_path.size() || dotted_path[i] == '.') {
      out.emplace_back(dotted_path.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// A key's segments with <type> replaced by `type`.
Path key_path(const Key& k, const std::string& type) {
  Path p = split(k.path());
  for (auto& s : p)
    if (s == schema::type_placeholder) s = type;
  return p;
}

std::size_t type_segment(const Key& k) {
  const Path p = split(k.path());
  return static_cast<std::size_t>(std::find(p.begin(), p.end(), schema::type_placeholder) - p.begin());
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

// Optimal string alignment distance (edits, with adjacent transpositions).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The candidate nearest to `word` when it is a likely misspelling of it:
// at most one edit per three characters (and at least one, at most three).
std::string nearest(const std::string& word, const std::set<std::string>& candidates) {
  const std::size_t allowed = std::clamp<std::size_t>(word.size() / 3, 1, 3);
  std::string best;
  std::size_t best_d = allowed + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

std::string did_you_mean(const std::string& suggestion) {
  return suggestion.empty() ? std::string() : fmt::format("; did you mean `{}`?", suggestion);
}

// One reading of a TOML document into a Config: every error is collected.
class Reader {
 public:
  explicit Reader(const toml::table& root) : root_(root) {}

  Config read();

  // Errors in reading order; `structural` ones (missing, unknown, wrong
  // type) leave the Config incomplete, the others are out-of-range values.
  std::vector<ConfigError> errors;
  bool structural = false;

 private:
  void fail(std::string key, std::string reason) {
    structural = true;
    errors.emplace_back(std::move(key), std::move(reason));
  }
  // Reports an error at `key` once, however many keys lie below it.
  void fail_once(const std::string& key, std::string reason) {
    if (reported_.insert(key).second) fail(key, std::move(reason));
  }
  const toml::node* find(const Key& k, const Path& p, const std::vector<std::string>& types);
  // A table keyed by cell type (`table`) lacks `type`, or has an entry
  // `name` that is no cell type (reported as `key`: `reason` when alone).
  void missing_type(const std::string& table, const std::string& type, const std::vector<std::string>& types);
  void unknown_type(const std::string& table, const std::string& name, const std::vector<std::string>& types,
                    std::string key, std::string reason);
  void report_type_tables();
  std::optional<Value> value(const Key& k, const toml::node& n, const std::string& key);
  std::optional<double> number(const toml::node& n, const std::string& key);
  void read_key(const Key& k, std::size_t type, const std::vector<std::string>& types, Config& c,
                std::map<std::string, std::size_t>& receptor_counts);
  void reject_unknown(const toml::table& t, const Path& at, const Config& c);
  bool types_known(PerType per) const { return per == PerType::none || types_ok_[static_cast<int>(per)]; }

  const toml::table& root_;
  std::set<std::string> reported_;
  std::array<bool, 3> types_ok_{true, true, true};
  // Per table keyed by cell type, in the order found: the types it lacks and
  // the entries that are no type. One of them is reported as it is; more
  // (cell types renamed, added or removed) as one line for the table.
  struct TypeTable {
    std::string table;
    std::vector<std::string> types, missing, unknown;
    std::string key, reason;  // of the single unknown entry
  };
  std::vector<TypeTable> type_tables_;
  TypeTable& type_table(const std::string& table, const std::vector<std::string>& types);
};

Reader::TypeTable& Reader::type_table(const std::string& table, const std::vector<std::string>& types) {
  for (auto& t : type_tables_)
    if (t.table == table) return t;
  return type_tables_.emplace_back(TypeTable{table, types, {}, {}, {}, {}});
}

void Reader::missing_type(const std::string& table, const std::string& type, const std::vector<std::string>& types) {
  auto& t = type_table(table, types);
  if (std::find(t.missing.begin(), t.missing.end(), type) == t.missing.end()) t.missing.push_back(type);
}

void Reader::unknown_type(const std::string& table, const std::string& name, const std::vector<std::string>& types,
                          std::string key, std::string reason) {
  auto& t = type_table(table, types);
  t.unknown.push_back(name);
  t.key = std::move(key);
  t.reason = std::move(reason);
}

void Reader::report_type_tables() {
  for (const auto& t : type_tables_) {
    if (t.missing.size() + t.unknown.size() == 1) {
      if (t.missing.empty()) fail(t.key, t.reason);
      else fail(t.table + "." + t.missing.front(),
                fmt::format("missing: every cell type needs an entry (cell types: {})", join(t.types)));
      continue;
    }
    std::vector<std::string> parts;
    if (!t.missing.empty()) parts.push_back("no entry for " + join(t.missing));
    if (!t.unknown.empty()) parts.push_back("entries for " + join(t.unknown) + ", which are no cell types");
    fail(t.table, fmt::format("{}{} (cell types: {})", join(parts, "; "),
                              t.missing.empty() ? "" : ": every cell type needs an entry", join(t.types)));
  }
}

// The node of key path `p`, or nullptr (then reported, unless it is
// optional and absent).
const toml::node* Reader::find(const Key& k, const Path& p, const std::vector<std::string>& types) {
  const toml::table* t = &root_;
  const std::size_t type_at = type_segment(k);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const toml::node* n = t->get(p[i]);
    const std::string here = dotted(p, i + 1);
    if (!n) {
      if (k.optional) return nullptr;
      if (i == type_at) missing_type(dotted(p, i), p[i], types);
      else fail_once(here, "missing (required)");
      return nullptr;
    }
    if (i + 1 == p.size()) return n;
    if (!n->is_table()) {
      fail_once(here, fmt::format("expected a table, got {}{}", type_name(*n), where(*n)));
      return nullptr;
    }
    t = n->as_table();
  }
  return nullptr;
}

std::optional<double> Reader::number(const toml::node& n, const std::string& key) {
  if (n.is_floating_point()) return n.as_floating_point()->get();
  if (n.is_integer()) return static_cast<double>(n.as_integer()->get());
  fail(key, fmt::format("expected a number, got {}{}", type_name(n), where(n)));
  return std::nullopt;
}

// The node as a value of the key's kind, or nullopt (reported).
std::optional<Value> Reader::value(const Key& k, const toml::node& n, const std::string& key) {
  auto array = [&]() -> const toml::array* {
    if (!n.is_array()) fail(key, fmt::format("expected an array, got {}{}", type_name(n), where(n)));
    return n.as_array();
  };
  auto index = [&](std::size_t i) { return fmt::format("{}[{}]", key, i); };
  switch (k.kind) {
    case Kind::integer:
      if (n.is_integer()) return Value(n.as_integer()->get());
      fail(key, fmt::format("expected an integer, got {}{}", type_name(n), where(n)));
      return std::nullopt;
    case Kind::number:
      if (auto x = number(n, key)) return Value(*x);
      return std::nullopt;
    case Kind::boolean:
      if (n.is_boolean()) return Value(n.as_boolean()->get());
      fail(key, fmt::format("expected true or false, got {}{}", type_name(n), where(n)));
      return std::nullopt;
    case Kind::choice: {
      if (!n.is_string()) {
        fail(key, fmt::format("expected a string, got {}{}", type_name(n), where(n)));
        return std::nullopt;
      }
      const std::string s = n.as_string()->get();
      if (std::find(k.choices.begin(), k.choices.end(), s) != k.choices.end()) return Value(s);
      std::vector<std::string> quoted;
      for (const auto& c : k.choices) quoted.push_back(fmt::format("\"{}\"", c));
      const std::string last = quoted.back();
      quoted.pop_back();
      fail(key, fmt::format("unknown value '{}'{} (expected {} or {}){}", s, where(n), join(quoted), last,
                            did_you_mean(nearest(s, std::set<std::string>(k.choices.begin(), k.choices.end())))));
      return std::nullopt;
    }
    case Kind::strings: {
      const toml::array* a = array();
      if (!a) return std::nullopt;
      std::vector<std::string> out;
      bool ok = true;
      for (std::size_t i = 0; i < a->size(); ++i) {
        if ((*a)[i].is_string()) {
          out.push_back((*a)[i].as_string()->get());
        } else {
          fail(index(i), fmt::format("expected a string, got {}{}", type_name((*a)[i]), where((*a)[i])));
          ok = false;
        }
      }
      return ok ? std::optional<Value>(std::move(out)) : std::nullopt;
    }
    case Kind::numbers: {
      const toml::array* a = array();
      if (!a) return std::nullopt;
      std::vector<double> out;
      bool ok = true;
      for (std::size_t i = 0; i < a->size(); ++i) {
        if (auto x = number((*a)[i], index(i))) out.push_back(*x);
        else ok = false;
      }
      return ok ? std::optional<Value>(std::move(out)) : std::nullopt;
    }
    case Kind::matrix: {
      const toml::array* a = array();
      if (!a) return std::nullopt;
      Matrix out;
      bool ok = true;
      for (std::size_t i = 0; i < a->size(); ++i) {
        const toml::node& row = (*a)[i];
        if (!row.is_array()) {
          fail(index(i), fmt::format("expected a row (array of numbers), got {}{}", type_name(row), where(row)));
          ok = false;
          continue;
        }
        std::vector<double> values;
        for (std::size_t j = 0; j < row.as_array()->size(); ++j) {
          if (auto x = number((*row.as_array())[j], fmt::format("{}[{}]", index(i), j))) values.push_back(*x);
          else ok = false;
        }
        out.push_back(std::move(values));
      }
      return ok ? std::optional<Value>(std::move(out)) : std::nullopt;
    }
  }
  return std::nullopt;
}

std::size_t length(const Value& v) {
  if (const auto* s = std::get_if<std::vector<std::string>>(&v)) return s->size();
  if (const auto* x = std::get_if<std::vector<double>>(&v)) return x->size();
  return 0;
}

void Reader::read_key(const Key& k, std::size_t type, const std::vector<std::string>& types, Config& c,
                      std::map<std::string, std::size_t>& receptor_counts) {
  const std::string type_name = k.per == PerType::none ? std::string() : types[type];
  const Path p = key_path(k, type_name);
  const std::string key = schema::expand(k.path(), type_name);
  const toml::node* n = find(k, p, types);
  if (!n) {
    if (k.optional) k.access.set(c, type, schema::absent_value(k, type));
    return;
  }
  std::optional<Value> v = value(k, *n, key);
  if (!v) return;
  // Parallel receptor arrays: as many entries as `names` of the same table.
  const std::string table = schema::expand(k.section, type_name);
  if (k.kind == Kind::strings && k.per != PerType::none) receptor_counts[table] = length(*v);
  if (k.one_per_receptor && receptor_counts.count(table) && length(*v) != receptor_counts[table]) {
    fail(key, fmt::format("has {} entries but names has {}: one per receptor", length(*v), receptor_counts[table]));
    return;
  }
  schema::check_range(k, *v, key, errors);
  k.access.set(c, type, *v);
}

Config Reader::read() {
  Config c{};
  std::map<std::string, std::size_t> receptor_counts;
  const std::vector<std::string> no_types;
  // The cell-type names first: the keys with <type> range over them. Where
  // they cannot be read, keys with <type> of that layer are not read either
  // (each would only repeat the error).
  for (const PerType per : {PerType::recurrent, PerType::feedforward}) {
    const std::size_t before = errors.size();
    const Key& k = schema::names_key(per);
    read_key(k, 0, no_types, c, receptor_counts);
    types_ok_[static_cast<int>(per)] = errors.size() == before;
  }
  for (const Key& k : schema::keys())
    if (k.per == PerType::none && &k != &schema::names_key(PerType::recurrent) &&
        &k != &schema::names_key(PerType::feedforward))
      read_key(k, 0, no_types, c, receptor_counts);
  for (const Key& k : schema::keys()) {
    if (k.per == PerType::none || !types_known(k.per)) continue;
    const auto& types = schema::type_names(c, k.per);
    for (std::size_t t = 0; t < types.size(); ++t) read_key(k, t, types, c, receptor_counts);
  }
  reject_unknown(root_, {}, c);
  report_type_tables();
  return c;
}

// Every key of table `t` (at path `at`) must be a key of the schema or a
// table on the way to one; an unknown one is reported with the nearest valid
// key at that place.
void Reader::reject_unknown(const toml::table& t, const Path& at, const Config& c) {
  const std::size_t depth = at.size();
  // Whether the first `n` segments of `q` match key `k` (a <type> matches
  // any cell type of its layer; any name at all where those are unknown).
  auto matches = [&](const Key& k, const Path& pattern, const Path& q, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (pattern[i] == schema::type_placeholder) {
        if (!types_known(k.per)) continue;
        const auto& types = schema::type_names(c, k.per);
        if (std::find(types.begin(), types.end(), q[i]) == types.end()) return false;
      } else if (pattern[i] != q[i]) {
        return false;
      }
    }
    return true;
  };
  for (const auto& [name, node] : t) {
    Path q = at;
    q.emplace_back(name.str());
    bool leaf = false, prefix = false, type_slot = false;
    const Key* type_key = nullptr;
    std::set<std::string> siblings;  // valid names at this place
    for (const Key& k : schema::keys()) {
      const Path pattern = split(k.path());
      if (pattern.size() <= depth || !matches(k, pattern, q, depth)) continue;
      if (pattern[depth] == schema::type_placeholder) {
        type_slot = true;
        type_key = &k;
      } else {
        siblings.insert(pattern[depth]);
      }
      if (!matches(k, pattern, q, depth + 1)) continue;
      (pattern.size() == q.size() ? leaf : prefix) = true;
    }
    if (leaf) continue;
    if (prefix) {
      if (node.is_table()) reject_unknown(*node.as_table(), q, c);
      continue;  // a value where a table belongs: reported when its keys were read
    }
    const std::string key = dotted(q, q.size());
    const std::string here = depth ? dotted(at, depth) + "." : std::string();
    if (type_slot) {
      const auto& types = schema::type_names(c, type_key->per);
      const std::string guess = nearest(q.back(), std::set<std::string>(types.begin(), types.end()));
      unknown_type(dotted(at, depth), q.back(), types, key,
                   fmt::format("no cell type named '{}'{} (cell types: {}){}", q.back(), where(node), join(types),
                               did_you_mean(guess.empty() ? guess : here + guess)));
      continue;
    }
    std::string guess = nearest(q.back(), siblings);
    if (!guess.empty()) {
      guess = here + guess;
    } else {
      for (const Key& k : schema::keys())  // the right name in the wrong table
        if (split(k.path()).back() == q.back()) guess = k.path();
    }
    std::string hint = did_you_mean(guess);
    if (hint.empty() && depth == 0)
      hint = "; top-level sections are simulation, training, targets, hyperparameters, feedback, recurrent, feedforward";
    fail(key, fmt::format("unknown key{}{}", where(node), hint));
  }
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

// A value as TOML text.
std::string value_text(const Key& k, const Value& v) {
  switch (k.kind) {
    case Kind::integer: return fmt::format("{}", std::get<std::int64_t>(v));
    case Kind::number: return num(std::get<double>(v));
    case Kind::boolean: return std::get<bool>(v) ? "true" : "false";
    case Kind::choice: return fmt::format("\"{}\"", std::get<std::string>(v));
    case Kind::strings: return list(std::get<std::vector<std::string>>(v));
    case Kind::numbers: return list(std::get<std::vector<double>>(v));
    case Kind::matrix: return matrix(std::get<Matrix>(v));
  }
  return {};
}

// The documentation of a key: "meaning [unit]; allowed values; optional".
std::string comment(const Key& k) {
  std::string s(k.doc);
  if (!k.unit.empty()) s += fmt::format(" [{}]", k.unit);
  const std::string range = schema::range_text(k);
  if (!range.empty()) s += "; " + range;
  if (k.optional) s += "; optional";
  return s;
}

void line(std::string& out, const Key& k, const Config& c, std::size_t type, const std::string& name, bool commented) {
  const std::string text = name + " = " + value_text(k, k.access.get(c, type));
  out += commented ? fmt::format("{:<25} # {}\n", text, comment(k)) : text + "\n";
}

// Every key of `c` in the order of the schema, one table per section (and
// per cell type where the section has <type>); with the keys' documentation
// as comments where `commented` (then only on the first cell type's lines).
std::string write_toml(const Config& c, bool commented) {
  std::string o;
  const auto ks = schema::keys();
  for (std::size_t i = 0; i < ks.size();) {
    std::size_t j = i;
    while (j < ks.size() && ks[j].section == ks[i].section) ++j;
    const auto group = ks.subspan(i, j - i);
    if (group.front().per_type_section()) {
      const auto& types = schema::type_names(c, group.front().per);
      for (std::size_t t = 0; t < types.size(); ++t) {
        o += fmt::format("\n[{}]\n", schema::expand(group.front().section, quoted_key(types[t])));
        for (const Key& k : group) line(o, k, c, t, std::string(k.name), commented && t == 0);
      }
    } else {
      o += fmt::format("\n[{}]\n", group.front().section);
      for (const Key& k : group) {
        if (k.per == PerType::none) {
          line(o, k, c, 0, std::string(k.name), commented);
          continue;
        }
        const auto& types = schema::type_names(c, k.per);
        for (std::size_t t = 0; t < types.size(); ++t)
          line(o, k, c, t, schema::expand(k.name, quoted_key(types[t])), commented && t == 0);
      }
    }
    i = j;
  }
  return o;
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
  } catch (const toml::parse_error& e) {
    // Only a bare word is a string; what looks like a number, array or
    // quoted string but does not parse (1e400, 10^30 as digits, [1, 2) is
    // reported as what it is, not as "got a string".
    const unsigned char first = value.empty() ? 0 : static_cast<unsigned char>(value.front());
    if (!(std::isalpha(first) || first == '_'))
      throw ConfigError(path, fmt::format("'{}' is not a valid TOML value: {}", value, e.description()));
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
  std::vector<ConfigError> errors;
  for (const auto& arg : overrides) {
    try {
      apply_override(root, arg);
    } catch (const ConfigError& e) {
      errors.push_back(e.with_source("--set " + arg));
    }
  }
  if (!errors.empty()) throw ConfigError::combine(std::move(errors));

  Reader reader(root);
  Config c = reader.read();
  // A complete Config is validated as a whole (ranges and relations); an
  // incomplete one reports what was read wrong and the values out of range.
  errors = reader.structural ? std::move(reader.errors) : config_errors(c);
  if (!errors.empty())
    throw ConfigError::combine(std::move(errors))
        .with_source(overrides.empty() ? source : source + " (with --set overrides)");
  return c;
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
  return "# Resolved homeostat configuration (every key, defaults included).\n" + write_toml(c, false);
}

std::string to_commented_toml(const Config& c) { return write_toml(c, true); }

std::string reference_markdown() {
  const Config defaults = schema::default_config();
  std::string o = "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
  for (const Key& k : schema::keys()) {
    std::string value;
    if (k.defaults.size() == 1) {
      value = value_text(k, k.defaults.front());
    } else {
      const auto& types = schema::type_names(defaults, k.per);
      for (std::size_t t = 0; t < types.size(); ++t)
        value += fmt::format("{}{}: {}", t ? ", " : "", types[t], value_text(k, schema::default_value(k, t)));
    }
    std::string meaning(k.doc);
    if (!k.unit.empty()) meaning += fmt::format(" [{}]", k.unit);
    if (k.optional) meaning = "optional: " + meaning;
    o += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", k.path(), schema::kind_name(k.kind), value,
                     schema::range_text(k), meaning);
  }
  return o;
}

}  // namespace homeostat::io
