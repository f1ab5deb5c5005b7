#include "homeostat/sweep/summary.hpp"

#include "csv.hpp"
#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/plot/sweep_figures.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace homeostat::sweep {

namespace fs = std::filesystem;

namespace {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  int column(const std::string& name) const {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  }
};

Table read_table(const fs::path& path) {
  auto rows = parse_csv(io::read_file(path));
  if (rows.empty()) throw std::runtime_error(fmt::format("{}: empty", path.string()));
  Table t{std::move(rows.front()), {}};
  t.rows.assign(std::make_move_iterator(rows.begin() + 1), std::make_move_iterator(rows.end()));
  return t;
}

double number(const std::string& cell) {
  if (cell.empty()) return NAN;
  try {
    std::size_t used = 0;
    const double x = std::stod(cell, &used);
    return used == cell.size() ? x : NAN;
  } catch (const std::exception&) {
    return NAN;  // "nan", "inf" words stod may refuse, or text
  }
}

// Per-type columns of an analysis CSV (one row per cell_type) into `out`
// as "<name>/<type>".
void per_type(const fs::path& csv, const std::vector<std::pair<std::string, std::string>>& columns,
              std::vector<std::pair<std::string, double>>& out) {
  const Table t = read_table(csv);
  const int type_col = t.column("cell_type");
  if (type_col < 0) throw std::runtime_error(fmt::format("{}: no cell_type column", csv.string()));
  for (const auto& [source, name] : columns) {
    const int c = t.column(source);
    if (c < 0) throw std::runtime_error(fmt::format("{}: no column '{}'", csv.string(), source));
    for (const auto& row : t.rows)
      if (static_cast<int>(row.size()) > std::max(c, type_col)) out.emplace_back(name + "/" + row[type_col], number(row[c]));
  }
}

std::string format_value(double x) { return std::isfinite(x) ? fmt::format("{}", x) : std::isnan(x) ? "nan" : x > 0 ? "inf" : "-inf"; }

plot::SweepData figure_data(const Sweep& sweep, const std::vector<std::vector<std::pair<std::string, double>>>& metrics,
                            const std::vector<PointStatus>& status, const fs::path& out) {
  plot::SweepData d;
  fs::path dir = fs::absolute(out).lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();  // "DIR/"
  d.title = "sweep " + dir.filename().string();
  for (const Dimension& dim : sweep.dimensions) {
    plot::SweepDimension sd;
    sd.label = dim.label;
    sd.is_seed = dim.is_seed;
    for (std::size_t k = 0; k < dim.size; ++k) {
      std::string label;
      for (const std::size_t a : dim.axes) label += (label.empty() ? "" : "/") + sweep.axes[a].names[k];
      sd.value_labels.push_back(label);
      sd.numbers.push_back(dim.axes.size() == 1 ? sweep.axes[dim.axes[0]].numbers[k] : NAN);
    }
    d.dimensions.push_back(std::move(sd));
  }
  // Cell types and targets from the first finished point's resolved config.
  for (const Point& p : sweep.points) {
    if (!finished(status[p.index])) continue;
    const Config c = io::load_config(run_dir(out, p) / "parameters.toml");
    d.types = c.recurrent.type_names;
    for (std::size_t t = 0; t < d.types.size(); ++t)
      d.target_rate.push_back(t < c.targets.per_type.size() ? c.targets.per_type[t].firing_rate : NAN);
    break;
  }
  for (const Point& p : sweep.points) {
    std::vector<std::size_t> pos;
    for (const Dimension& dim : sweep.dimensions) pos.push_back(p.value[dim.axes[0]]);
    d.position.push_back(std::move(pos));
    std::vector<double> rate(d.types.size(), NAN), active(d.types.size(), NAN);
    for (const auto& [name, value] : metrics[p.index])
      for (std::size_t t = 0; t < d.types.size(); ++t) {
        if (name == "mean_rate_hz/" + d.types[t]) rate[t] = value;
        if (name == "fraction_active/" + d.types[t]) active[t] = value;
      }
    d.rate.push_back(std::move(rate));
    d.fraction_active.push_back(std::move(active));
  }
  return d;
}

}  // namespace

std::vector<std::pair<std::string, double>> point_metrics(Command command, const fs::path& run) {
  const fs::path analysis = command == Command::simulate ? run / "analysis" : run / "final_state" / "analysis";
  std::vector<std::pair<std::string, double>> out;
  per_type(analysis / "firing_rate_statistics.csv",
           {{"mean_rate_hz", "mean_rate_hz"}, {"std_rate_hz", "std_rate_hz"}, {"fraction_active", "fraction_active"}},
           out);
  per_type(analysis / "cv_statistics.csv", {{"mean_cv", "mean_cv"}}, out);
  per_type(analysis / "voltage_statistics.csv", {{"mean_membrane_ratio", "membrane_ratio"}}, out);
  if (command != Command::simulate) {
    const Table t = read_table(run / "training_metrics.csv");
    if (t.rows.empty()) throw std::runtime_error(fmt::format("{}: no rows", (run / "training_metrics.csv").string()));
    const auto& last = t.rows.back();
    for (std::size_t c = 0; c < t.header.size() && c < last.size(); ++c) {
      const std::string& h = t.header[c];
      if (h == "chunk" || h == "total_loss" || (h.size() > 5 && h.compare(h.size() - 5, 5, "_loss") == 0))
        out.emplace_back(h, number(last[c]));
    }
  }
  return out;
}

SummaryCounts write_summary(const Sweep& sweep, const fs::path& out, bool figures) {
  SummaryCounts counts;
  std::vector<PointStatus> status;
  std::vector<std::vector<std::pair<std::string, double>>> metrics(sweep.points.size());
  std::vector<std::string> columns;  // union of metric names, first seen first
  for (const Point& p : sweep.points) {
    status.push_back(read_status(out, p));
    PointStatus& s = status.back();
    if (finished(s)) {
      try {
        metrics[p.index] = point_metrics(sweep.command, run_dir(out, p));
      } catch (const std::exception& e) {  // finished but unreadable: report, keep the rest
        s.state = "failed";
        s.error = fmt::format("summary: {}", e.what());
      }
      for (const auto& [name, value] : metrics[p.index])
        if (std::find(columns.begin(), columns.end(), name) == columns.end()) columns.push_back(name);
    }
    (s.state == "done" ? counts.done : s.state == "failed" ? counts.failed : counts.pending)++;
  }
  write_status_csv(sweep, status, out);

  std::string csv = "index,name,state";
  for (const Axis& a : sweep.axes) append_cell(csv, a.label);
  for (const auto& c : columns) append_cell(csv, c);
  csv += ",wall_seconds\n";
  for (const Point& p : sweep.points) {
    const PointStatus& s = status[p.index];
    csv += fmt::format("{},{},{}", p.index, csv_field(p.name), s.state);
    for (std::size_t a = 0; a < sweep.axes.size(); ++a) append_cell(csv, sweep.axes[a].values[p.value[a]]);
    for (const auto& c : columns) {
      const auto it = std::find_if(metrics[p.index].begin(), metrics[p.index].end(),
                                   [&](const auto& m) { return m.first == c; });
      append_cell(csv, it == metrics[p.index].end() ? std::string() : format_value(it->second));
    }
    csv += s.state == "pending" ? ",\n" : fmt::format(",{:.3f}\n", s.wall_seconds);
  }
  io::write_file_atomic(out / "sweep_summary.csv", csv);

  if (figures && counts.done > 0) plot::render_sweep_figures(figure_data(sweep, metrics, status, out), out / "figures");
  return counts;
}

}  // namespace homeostat::sweep
