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

double last_of(const MetricsTable& m, const std::string& column) {
  if (!m.has(column) || m.rows.empty()) return NAN;
  return m.column(column).back();
}

// A JSON number, or NaN for null (a value that did not exist).
double number(const nlohmann::ordered_json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) throw std::runtime_error(fmt::format("no '{}'", key));
  return it->is_null() ? NAN : it->get<double>();
}

}  // namespace

nlohmann::ordered_json target_summary_json(const std::vector<TypeOutcome>& types, std::int64_t membrane_chunk) {
  // nlohmann writes NaN as null.
  nlohmann::ordered_json per_type = nlohmann::ordered_json::object();
  for (const TypeOutcome& o : types)
    per_type[o.name] = {{"rate_hz", o.rate},
                        {"target_rate_hz", o.target_rate},
                        {"error_percent", o.rate_error_percent()},
                        {"active_percent", 100.0 * o.fraction_active},
                        {"cv", o.mean_cv},
                        {"target_cv", o.target_cv},
                        {"membrane_ratio", o.membrane_ratio},
                        {"target_membrane_ratio", o.target_membrane_ratio}};
  return {{"rates_from", "final_state"},
          {"membrane_ratio_from_chunk", membrane_chunk > 0 ? nlohmann::ordered_json(membrane_chunk) : nullptr},
          {"types", per_type}};
}

std::vector<TypeOutcome> read_target_summary(const nlohmann::ordered_json& summary) {
  std::vector<TypeOutcome> out;
  const auto types = summary.find("types");
  if (types == summary.end() || !types->is_object()) throw std::runtime_error("no 'types'");
  for (const auto& [name, t] : types->items()) {
    TypeOutcome o;
    o.name = name;
    try {
      o.rate = number(t, "rate_hz");
      o.target_rate = number(t, "target_rate_hz");
      o.fraction_active = number(t, "active_percent") / 100.0;
      o.mean_cv = number(t, "cv");
      o.target_cv = number(t, "target_cv");
      o.membrane_ratio = number(t, "membrane_ratio");
      o.target_membrane_ratio = number(t, "target_membrane_ratio");
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("types.{}: {}", name, e.what()));
    }
    out.push_back(o);
  }
  return out;
}

namespace {

// The method that wrote a run: the name of metadata.json's block ("train" or
// "feedback"; written from a run's start on). A run stopped by a version
// that wrote metadata.json only at its end has none: then its metrics
// header, which load_training_log has checked to be whole, says it by the
// columns only one method writes. Either way the header must hold them.
std::string run_method(const nlohmann::ordered_json& meta, const fs::path& meta_path, const MetricsTable& m,
                       const fs::path& csv_path) {
  const bool gradient_columns = m.has("grad_norm");
  const bool feedback_columns =
      std::any_of(m.columns.begin(), m.columns.end(), [](const std::string& c) { return c.rfind("excitatory_scaling/", 0) == 0; });
  std::string method;
  if (!meta.is_null()) {
    for (const char* name : {"train", "feedback"})
      if (meta.contains(name) && meta[name].is_object()) method = name;
    if (method.empty())
      throw std::runtime_error(fmt::format("{}: no 'train' or 'feedback' block: not the metadata of a training run",
                                           meta_path.string()));
  } else if (gradient_columns != feedback_columns) {
    method = gradient_columns ? "train" : "feedback";
  } else {
    throw std::runtime_error(fmt::format("{}: no metadata.json beside it, and its header has {} of grad_norm (train) "
                                         "and excitatory_scaling/* (feedback): which method wrote it is unknown",
                                         csv_path.string(), gradient_columns ? "both" : "neither"));
  }
  if (method == "train" ? !gradient_columns : !feedback_columns)
    throw std::runtime_error(fmt::format("{}: {} says '{}', but the header has no {} column", csv_path.string(),
                                         meta_path.filename().string(), method,
                                         method == "train" ? "grad_norm" : "excitatory_scaling/*"));
  return method;
}

}  // namespace

RunOutcome load_run_outcome(const fs::path& dir) {
  if (!is_training_run(dir))
    throw std::runtime_error(fmt::format("{}: not a training run (no training_metrics.csv)", dir.string()));
  RunOutcome r;
  r.dir = dir;
  r.log = load_training_log(dir);
  const MetricsTable& m = r.log.metrics;
  const fs::path meta_path = dir / "metadata.json";
  nlohmann::ordered_json meta;  // null: none
  if (fs::exists(meta_path)) {
    try {
      meta = nlohmann::ordered_json::parse(io::read_file(meta_path));
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{}: not readable JSON: {}", meta_path.string(), e.what()));
    }
    if (!meta.is_object()) throw std::runtime_error(fmt::format("{}: not a JSON object", meta_path.string()));
  }
  r.method = run_method(meta, meta_path, m, dir / "training_metrics.csv");
  r.chunks_logged = last_of(m, "chunk");
  r.last_total_loss = last_of(m, "total_loss");
  // A finished run's own summary; a run stopped before its final state has
  // none, or one of an earlier end (an interrupted extension), and is judged
  // by its last chunk.
  if (!meta.is_null()) {
    const auto& block = meta[r.method];
    const bool current = block.contains("chunks_done") && block["chunks_done"].get<double>() == r.chunks_logged;
    if (current && meta.contains("target_summary")) {
      try {
        r.types = read_target_summary(meta["target_summary"]);
      } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("{}: target_summary.{}", meta_path.string(), e.what()));
      }
      r.source = "final state";
      return r;
    }
  }
  r.source = "last chunk";
  const Config& c = r.log.config;
  for (std::size_t t = 0; t < c.recurrent.type_names.size(); ++t) {
    const std::string& name = c.recurrent.type_names[t];
    TypeOutcome o;
    o.name = name;
    o.target_rate = c.targets.per_type[t].firing_rate;
    o.target_cv = c.targets.per_type[t].cv;
    o.target_membrane_ratio = c.targets.per_type[t].threshold_ratio;
    o.membrane_ratio = last_of(m, "membrane_ratio/" + name);
    o.rate = last_of(m, "mean_rate_hz/" + name);
    o.fraction_active = last_of(m, "fraction_active/" + name);
    o.mean_cv = last_of(m, "mean_cv/" + name);
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
