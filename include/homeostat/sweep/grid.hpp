// A parameter sweep: the sweep file (TOML) read into axes over config keys
// and the grid of points they span, each point a list of `--set` overrides.
//
//   command = "simulate"                  # simulate | train | feedback
//   base = "params.toml"                  # optional, relative to the sweep file
//   set = { "simulation.duration" = 2000.0 }   # optional, every point
//   args = ["--no-figures"]               # optional, passed to every point's command
//   [[axis]]
//   key = "feedforward.activity.mitral.firing_rate"
//   name = "rate"                         # optional label (default: the key's last part)
//   labels = ["low", "mid", "high"]       # optional names of the values in point names and figures
//   zip = "g"                             # optional: axes of one zip group vary together
//   values = [5.0, 10.0, 20.0]            # any TOML values
//
// Points are the product of the dimensions (a lone axis, or a zip group),
// the first dimension varying slowest. Every error is a ConfigError naming
// the sweep file, the key and the reason.
#pragma once

#include "homeostat/config.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace homeostat::sweep {

enum class Command { simulate, train, feedback };
std::string to_string(Command command);

struct Axis {
  std::string key;                  // dotted config key
  std::string label;                // column name and part of point names
  std::string zip;                  // zip group, empty: a dimension of its own
  std::vector<std::string> values;  // each value as TOML text, as `--set key=TEXT` receives it
  std::vector<double> numbers;      // each value as a number, NaN when it is not one
  std::vector<std::string> names;   // each value in point names and figures: its `labels` entry, else
                                    // "10", "abc", or "v<k>" for arrays, tables and long text
  bool is_seed() const;             // the key's last part is "seed": averaged over in figures
};

// A dimension of the grid: one axis, or every axis of a zip group.
struct Dimension {
  std::string label;               // the axis label, or the zip label
  std::vector<std::size_t> axes;   // indices into Sweep::axes
  std::size_t size = 0;            // number of values
  bool is_seed = false;            // a lone seed axis
};

struct Point {
  std::int64_t index = 0;
  std::string name;                     // "<index>_<label>=<value>_...", a directory name
  std::vector<std::size_t> value;       // [axis] index into Axis::values
  std::vector<std::string> overrides;   // "key=TEXT": the sweep's set, then the axes
};

struct Sweep {
  std::filesystem::path file;      // the sweep file as given
  std::string text;                // its contents
  Command command = Command::simulate;
  std::filesystem::path base;      // absolute; empty: built-in defaults
  std::vector<std::string> set;    // "key=TEXT"
  std::vector<std::string> args;   // extra arguments to every point's command
  std::vector<Axis> axes;
  std::vector<Dimension> dimensions;
  std::vector<Point> points;
};

// Reads and checks a sweep file (structure only; see validate_points).
Sweep load_sweep(const std::filesystem::path& file);
// The same from text; `file` names the source and anchors a relative base.
Sweep parse_sweep(std::string_view text, const std::filesystem::path& file);

// Every point's configuration, parsed and validated in-process (the base
// with the point's overrides). Throws ConfigError naming the point and key.
std::vector<Config> validate_points(const Sweep& sweep);

}  // namespace homeostat::sweep
