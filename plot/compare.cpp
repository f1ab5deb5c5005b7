// `homeostat compare`: several training runs, their outcomes and curves.
#include "homeostat/plot/compare.hpp"

#include "figure_common.hpp"
#include "homeostat/io/files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace homeostat::plot {

namespace fs = std::filesystem;

namespace {

// One analysis CSV (header, then one row per cell type, first column the
// type's name): the value of `column` for `type`, NaN when absent.
class TypeTable {
 public:
  explicit TypeTable(const fs::path& path) {
    std::istringstream in(io::read_file(path));
    std::string line;
    bool header = true;
    while (std::getline(in, line)) {
      std::vector<std::string> cells;
      std::stringstream row(line);
      for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
      if (header) {
        columns_ = cells;
        header = false;
      } else if (!cells.empty()) {
        rows_[cells[0]] = cells;
      }
    }
  }
  double get(const std::string& type, const std::string& column) const {
    const auto c = std::find(columns_.begin(), columns_.end(), column);
    const auto r = rows_.find(type);
    if (c == columns_.end() || r == rows_.end()) return NAN;
    const auto k = static_cast<std::size_t>(c - columns_.begin());
    if (k >= r->second.size()) return NAN;
    try {
      return std::stod(r->second[k]);
    } catch (const std::exception&) {
      return NAN;
    }
  }

 private:
  std::vector<std::string> columns_;
  std::map<std::string, std::vector<std::string>> rows_;
};

double last_of(const MetricsTable& m, const std::string& column) {
  if (!m.has(column) || m.rows.empty()) return NAN;
  return m.column(column).back();
}

}  // namespace

RunOutcome load_run_outcome(const fs::path& dir) {
  if (!is_training_run(dir))
    throw std::runtime_error(fmt::format("{}: not a training run (no training_metrics.csv)", dir.string()));
  RunOutcome r;
  r.dir = dir;
  r.log = load_training_log(dir);
  const MetricsTable& m = r.log.metrics;
  r.method = m.has("grad_norm") ? "train" : "feedback";
  r.chunks_logged = last_of(m, "chunk");
  r.last_total_loss = last_of(m, "total_loss");
  const fs::path analysis = dir / "final_state" / "analysis";
  const bool final_state = fs::exists(analysis / "firing_rate_statistics.csv") && fs::exists(analysis / "cv_statistics.csv");
  r.source = final_state ? "final state" : "last chunk";
  const Config& c = r.log.config;
  std::optional<TypeTable> rates, cvs;
  if (final_state) {
    rates.emplace(analysis / "firing_rate_statistics.csv");
    cvs.emplace(analysis / "cv_statistics.csv");
  }
  for (std::size_t t = 0; t < c.recurrent.type_names.size(); ++t) {
    const std::string& name = c.recurrent.type_names[t];
    TypeOutcome o;
    o.name = name;
    o.target_rate = c.targets.per_type[t].firing_rate;
    o.target_cv = c.targets.per_type[t].cv;
    o.target_membrane_ratio = c.targets.per_type[t].threshold_ratio;
    o.membrane_ratio = last_of(m, "membrane_ratio/" + name);
    if (final_state) {
      o.rate = rates->get(name, "mean_rate_hz");
      o.fraction_active = rates->get(name, "fraction_active");
      o.mean_cv = cvs->get(name, "mean_cv");
    } else {
      o.rate = last_of(m, "mean_rate_hz/" + name);
      o.fraction_active = last_of(m, "fraction_active/" + name);
      o.mean_cv = last_of(m, "mean_cv/" + name);
    }
    r.types.push_back(o);
  }
  return r;
}

void label_runs(std::vector<RunOutcome>& runs) {
  // The last path component, then more of the path while two labels collide.
  for (int depth = 1; depth <= 8; ++depth) {
    std::map<std::string, int> seen;
    for (auto& r : runs) {
      fs::path p = fs::weakly_canonical(r.dir), label;
      std::vector<fs::path> parts(p.begin(), p.end());
      parts.erase(std::remove(parts.begin(), parts.end(), fs::path("")), parts.end());
      const int from = std::max(0, static_cast<int>(parts.size()) - depth);
      for (int k = from; k < static_cast<int>(parts.size()); ++k)
        if (parts[k] != "/") label /= parts[k];
      r.label = label.string();
      ++seen[r.label];
    }
    if (std::all_of(seen.begin(), seen.end(), [](const auto& kv) { return kv.second == 1; })) return;
  }
}

namespace {

// Runs are told apart by colour (and line style past the palette's end);
// every run keeps its colour in both figures.
Rgb run_colour(std::size_t k) {
  constexpr Rgb colours[] = {palette::blue,          palette::vermillion, palette::bluish_green,
                             palette::reddish_purple, palette::orange,     palette::sky_blue,
                             palette::dark_grey};
  return colours[k % 7];
}
int run_style(std::size_t k) { return 1 + static_cast<int>(k / 7) % 3; }

double max_chunk(const std::vector<RunOutcome>& runs) {
  double hi = 1;
  for (const auto& r : runs)
    if (std::isfinite(r.chunks_logged)) hi = std::max(hi, r.chunks_logged);
  return hi <= 10 ? std::ceil(hi) : nice_ceil(hi);
}

std::vector<LegendEntry> run_legend(const std::vector<RunOutcome>& runs) {
  std::vector<LegendEntry> out;
  for (std::size_t k = 0; k < runs.size(); ++k)
    out.push_back({fmt::format("{} ({})", runs[k].label, runs[k].method), run_colour(k), LegendEntry::line,
                   run_style(k), 2.0});
  return out;
}

}  // namespace

std::vector<fs::path> render_compare_figures(const std::vector<RunOutcome>& runs, const fs::path& dir,
                                             const FigureOptions& options) {
  if (runs.empty()) throw std::invalid_argument("compare: no runs");
  fs::create_directories(dir);
  std::vector<fs::path> written;
  const double x_max = max_chunk(runs);

  // Rates: one panel per cell type of the first run (runs may differ in
  // their types; a run without the type is left out of that panel).
  {
    const auto& types = runs[0].log.config.recurrent.type_names;
    const int nt = static_cast<int>(types.size());
    const fs::path png = dir / "compare_rates.png";
    std::lock_guard lock(plot_mutex());
    Canvas c(png, options.width, options.height);
    c.title("Mean firing rate during training, run by run",
            "mean over each type's neurons and the chunk's trials; dashed: each run's target");
    const auto boxes = Canvas::grid(nt, 1, {0.09, 0.70, 0.10, 0.86}, 0.07, 0.09);
    for (int t = 0; t < nt; ++t) {
      const std::string column = "mean_rate_hz/" + types[t];
      double hi = 0;
      for (const auto& r : runs) {
        if (!r.log.metrics.has(column)) continue;
        for (const double v : r.log.metrics.column(column))
          if (std::isfinite(v)) hi = std::max(hi, v);
        for (const auto& o : r.types)
          if (o.name == types[t]) hi = std::max(hi, o.target_rate);
      }
      Axes a;
      a.x_min = 0;
      a.x_max = x_max;
      a.y_min = 0;
      a.y_max = nice_ceil(hi * 1.1);
      a.y_label = types[t] + " rate [Hz]";
      if (t == nt - 1) a.x_label = "training chunk";
      c.panel(boxes[t], a);
      for (std::size_t k = 0; k < runs.size(); ++k) {
        const auto& r = runs[k];
        if (!r.log.metrics.has(column)) continue;
        for (const auto& o : r.types)
          if (o.name == types[t]) c.hline(o.target_rate, run_colour(k), 1.2, 2);
        c.line(r.log.metrics.column("chunk"), r.log.metrics.column(column), run_colour(k), 2.0, run_style(k));
      }
      if (t == 0) c.legend(run_legend(runs), "out", 0.8);
    }
    c.finish();
    written.push_back(png);
  }

  // Total loss: log axis when it spans more than two decades.
  {
    const fs::path png = dir / "compare_losses.png";
    std::lock_guard lock(plot_mutex());
    Canvas c(png, options.width, options.height);
    c.title("Total loss during training, run by run",
            "each run's own loss weights: compare shapes, not levels, when they differ");
    std::vector<std::vector<double>> losses;
    for (const auto& r : runs) losses.push_back(r.log.metrics.column("total_loss"));
    Axes a;
    a.x_min = 0;
    a.x_max = x_max;
    y_range(losses, a);
    a.x_label = "training chunk";
    a.y_label = "total loss";
    c.panel({0.09, 0.70, 0.11, 0.84}, a);
    for (std::size_t k = 0; k < runs.size(); ++k)
      c.line(runs[k].log.metrics.column("chunk"), runs[k].log.metrics.column("total_loss"), run_colour(k), 2.0,
             run_style(k));
    c.legend(run_legend(runs), "out", 0.8);
    c.finish();
    written.push_back(png);
  }
  return written;
}

}  // namespace homeostat::plot
