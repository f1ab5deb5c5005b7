// The configuration schema: every key of the TOML file written down once,
// with its type, built-in default, allowed range, unit and one-line meaning,
// and the member of Config it fills. Reading (io/config_toml), the range
// checks of `validate`, the resolved parameters.toml, `homeostat config
// --defaults` and the README's configuration reference all walk this table;
// checks that relate several keys stay as code in src/config/validate.cpp.
//
// Keys that exist once per cell type carry a `<type>` segment, in the table
// header (`recurrent.physiology.<type>`, one table per type) or in the key
// (`targets.firing_rate.<type>`, one key per type); it stands for each name
// of `recurrent.cell_types.names` or `feedforward.cell_types.names`.
#pragma once

#include "homeostat/config.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace homeostat::schema {

// The placeholder for a cell-type name in a key's section or name.
inline constexpr std::string_view type_placeholder = "<type>";

enum class Kind {
  integer,  // TOML integer
  number,   // TOML float or integer, finite
  boolean,
  choice,   // one of `choices` (an enum of config.hpp)
  strings,  // array of strings
  numbers,  // array of numbers, finite
  matrix,   // array of rows of numbers, finite
};

// The alternative of Value that holds each Kind, in Kind order.
using Value = std::variant<std::int64_t, double, bool, std::string, std::vector<std::string>, std::vector<double>,
                           Matrix>;

// Whose cell types a `<type>` segment ranges over.
enum class PerType { none, recurrent, feedforward };

// Allowed values of a number, an integer, or each element of an array or
// matrix: min <= x (min < x when min_exclusive) and x <= max.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;
};

// How to reach a key's member of Config: `type` is the cell-type index (0
// for keys without <type>); `set` sizes the per-type vectors as needed.
struct Access {
  Value (*get)(const Config& config, std::size_t type);
  void (*set)(Config& config, std::size_t type, const Value& value);
};

struct Key {
  std::string_view section;  // TOML table header: "simulation", "recurrent.physiology.<type>"
  std::string_view name;     // key inside it, may be dotted: "loss_weight.cv", "firing_rate.<type>"
  Kind kind;
  PerType per = PerType::none;
  bool optional = false;        // may be left out: its default then (the same for every cell type)
  bool one_per_receptor = false;  // parallel array of a synapses table: one entry per element of `names`
  std::vector<Value> defaults;  // the built-in value; per cell type: one, or one per built-in type
  Range range;
  std::span<const std::string_view> choices;  // Kind::choice: the enum's names
  std::string_view unit;  // "ms", "Hz", "" ...
  std::string_view doc;   // one line
  Access access;
  // An optional key left out takes this value where it is not the built-in
  // default (the loss weights: the reference configuration's, so that files
  // written before a term existed still load).
  std::optional<Value> when_absent = std::nullopt;

  std::string path() const;  // section.name, with <type> left in
  bool per_type_section() const { return section.find(type_placeholder) != std::string_view::npos; }
};

// Every key, in the order of parameters.toml.
std::span<const Key> keys();

// The key whose path (section.name, with <type>) is `path`; nullptr if none.
const Key* find(std::string_view path);

// The cell-type names that `<type>` ranges over in `config` (empty for none).
const std::vector<std::string>& type_names(const Config& config, PerType per);

// The key that holds the cell-type names a `<type>` of `per` ranges over
// (recurrent.cell_types.names or feedforward.cell_types.names).
const Key& names_key(PerType per);

// `pattern` with its <type> segment replaced by `type` (raw, as in messages).
std::string expand(std::string_view pattern, const std::string& type);

// Every key of `config` with one value (integer, number, boolean, choice;
// arrays and matrices left out) as its dotted path with the cell types
// written in ("targets.firing_rate.excitatory"), in the order of
// parameters.toml: the hyperparameters TensorBoard's hparams table shows.
std::vector<std::pair<std::string, Value>> scalar_values(const Config& config);

// The built-in configuration: every key's default.
Config default_config();

// What a left-out optional `key` of cell type `type` reads as.
const Value& absent_value(const Key& key, std::size_t type);

// The default of `key` for cell type `type` of the built-in types (or any
// type, when the key has one default).
const Value& default_value(const Key& key, std::size_t type);

// Appends an error naming `path` (and `path[i]`, `path[i][j]` for elements)
// when `value` is outside the key's range or not finite.
void check_range(const Key& key, const Value& value, const std::string& path, std::vector<ConfigError>& errors);

// Shortest text that reads back as x, without exponent from 1e-5 to 1e16
// ("0.0001", "10000000000"): how configuration messages write numbers.
std::string number_text(double x);

// "[1, 10000000]", "> 0", "[0, 1]", "any" ...: the range as text for docs.
std::string range_text(const Key& key);

// The kind as the README's reference names it: "integer", "number", ...
std::string_view kind_name(Kind kind);

}  // namespace homeostat::schema
