// The figures of a training run, from its metrics CSV: the losses and the
// per-type rates (with their targets) and fractions of active neurons, each
// against the training chunk.
#include "canvas.hpp"
#include "catalogue.hpp"
#include "homeostat/plot/figures.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

namespace homeostat::plot {

namespace fs = std::filesystem;

namespace {


double nice_up(double x) {
  if (!(x > 0) || !std::isfinite(x)) return 1.0;
  const double p = std::pow(10.0, std::floor(std::log10(x)));
  for (const double m : {1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0})
    if (m * p >= x * (1 - 1e-12)) return m * p;
  return 10 * p;
}

std::string num(double x) { return fmt::format("{:.3g}", x); }

// Positive finite range of some series: {min, max}; {0, 0} when none.
std::pair<double, double> positive_range(const std::vector<std::vector<double>>& series) {
  double lo = INFINITY, hi = 0;
  for (const auto& s : series)
    for (const double v : s)
      if (std::isfinite(v) && v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
  return hi > 0 ? std::pair{lo, hi} : std::pair{0.0, 0.0};
}

double finite_max(const std::vector<std::vector<double>>& series) {
  double hi = 0;
  for (const auto& s : series)
    for (const double v : s)
      if (std::isfinite(v)) hi = std::max(hi, v);
  return hi;
}

// y axis for non-negative series: log when the positive values span more
// than two decades, else linear from 0.
void y_range(const std::vector<std::vector<double>>& series, Axes& a) {
  const auto [lo, hi] = positive_range(series);
  if (hi > 0 && hi / lo > 100.0) {
    a.log_y = true;
    a.y_min = std::pow(10.0, std::floor(std::log10(lo)));
    a.y_max = std::pow(10.0, std::ceil(std::log10(hi) + 0.05));
  } else {
    a.y_min = 0;
    a.y_max = nice_up(finite_max(series) * 1.1);
  }
}

// x axis: the chunks logged, from 0.
void x_range(const std::vector<double>& chunks, Axes& a) {
  double hi = 1;
  for (const double c : chunks)
    if (std::isfinite(c)) hi = std::max(hi, c);
  a.x_min = 0;
  a.x_max = hi <= 10 ? std::ceil(hi) : nice_up(hi);
}

std::string chunk_label(const Config& c) {
  return fmt::format("training chunk (each {} trials x {:.6g} ms)", c.training.batch_size,
                     static_cast<double>(c.simulation.chunk_size) * c.simulation.dt);
}

std::string span_text(const std::vector<double>& chunks) {
  if (chunks.empty()) return "";
  return chunks.size() == 1 ? fmt::format("chunk {}", num(chunks.front()))
                            : fmt::format("chunks {}-{}, {} rows", num(chunks.front()), num(chunks.back()),
                                          chunks.size());
}

// Few rows: mark each logged point; many: the line alone.
void series(Canvas& c, const std::vector<double>& x, const std::vector<double>& y, Rgb colour, double width,
            int style) {
  c.line(x, y, colour, width, style);
  if (x.size() <= 40) {
    std::vector<double> px, py;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (std::isfinite(y[i]) && (!c.axes().log_y || y[i] > 0)) px.push_back(x[i]), py.push_back(y[i]);
    c.points(px, py, colour, 0.6);
  }
}

std::string need_losses(const TrainingLog& log) {
  if (log.metrics.rows.empty()) return "no metrics rows yet";
  for (const std::string col : {"chunk", "total_loss"})
    if (!log.metrics.has(col)) return "training_metrics.csv has no column '" + col + "'";
  return "";
}

std::string need_rates(const TrainingLog& log) {
  if (log.metrics.rows.empty()) return "no metrics rows yet";
  if (!log.metrics.has("chunk")) return "training_metrics.csv has no column 'chunk'";
  for (const auto& type : log.config.recurrent.type_names)
    for (const char* what : {"mean_rate_hz/", "fraction_active/"})
      if (!log.metrics.has(what + type)) return "training_metrics.csv has no column '" + (what + type) + "'";
  return "";
}

void draw_training_losses(const TrainingLog& log, const FigureOptions&, Canvas& c) {
  const auto& m = log.metrics;
  const auto chunks = m.column("chunk");
  struct Curve {
    std::string label;
    std::vector<double> y;
    Rgb colour;
    int style;
    double width;
  };
  std::vector<Curve> curves;
  curves.push_back({"total", m.column("total_loss"), palette::black, 1, 2.6});
  const Rgb colours[] = {palette::blue, palette::vermillion, palette::bluish_green, palette::reddish_purple,
                         palette::orange, palette::sky_blue};
  const int styles[] = {1, 2, 1, 2, 1, 2};
  int k = 0;
  for (const LossTermInfo& term : loss_terms) {
    const std::string col = std::string(term.name) + "_loss";
    if (!m.has(col)) continue;
    curves.push_back({fmt::format("{} (x {})", term.name, num(log.config.hyperparameters.loss_weight[term.term])), m.column(col),
                      colours[k % 6], styles[k % 6], 1.8});
    ++k;
  }
  std::vector<std::vector<double>> ys;
  for (const auto& cv : curves) ys.push_back(cv.y);
  Axes a;
  x_range(chunks, a);
  y_range(ys, a);
  a.x_label = chunk_label(log.config);
  a.y_label = "loss (dimensionless)";
  c.title("Training losses",
          fmt::format("terms unweighted; total = sum of w x term, w in the legend ({}, logged every {})", span_text(chunks),
                      log.config.training.log_interval));
  c.panel({0.09, 0.66, 0.11, 0.84}, a);
  std::vector<LegendEntry> legend;
  for (const auto& cv : curves) {
    series(c, chunks, cv.y, cv.colour, cv.width, cv.style);
    std::string text = cv.label;
    const bool any_finite = std::any_of(cv.y.begin(), cv.y.end(), [](double v) { return std::isfinite(v); });
    const bool all_zero = std::all_of(cv.y.begin(), cv.y.end(), [](double v) { return v == 0.0; });
    if (!any_finite) text += ": no values";
    else if (a.log_y && all_zero) text += ": 0, not drawn";
    legend.push_back({text, cv.colour, LegendEntry::line, cv.style, cv.width});
  }
  c.legend(legend, "out", 0.8);
}

void draw_training_rates(const TrainingLog& log, const FigureOptions&, Canvas& c) {
  const auto& m = log.metrics;
  const auto& types = log.config.recurrent.type_names;
  const int nt = static_cast<int>(types.size());
  const auto chunks = m.column("chunk");
  std::vector<std::vector<double>> rates(nt), active(nt);
  std::vector<double> targets(nt);
  for (int t = 0; t < nt; ++t) {
    rates[t] = m.column("mean_rate_hz/" + types[t]);
    active[t] = m.column("fraction_active/" + types[t]);
    targets[t] = log.config.targets.per_type.at(t).firing_rate;
  }
  c.title("Firing rates and active neurons during training",
          fmt::format("mean over each type's neurons and the chunk's trials ({}); dashed: the target rate",
                      span_text(chunks)));
  const Box top{0.09, 0.74, 0.50, 0.84}, bottom{0.09, 0.74, 0.11, 0.38};
  Axes a;
  x_range(chunks, a);
  auto with_targets = rates;
  for (int t = 0; t < nt; ++t) with_targets.push_back({targets[t]});
  y_range(with_targets, a);
  a.y_label = a.log_y ? "mean rate [Hz] (log)" : "mean rate [Hz]";
  c.panel(top, a);
  std::vector<LegendEntry> legend;
  for (int t = 0; t < nt; ++t) {
    if (targets[t] > 0 || !a.log_y) c.hline(targets[t], type_colour(t), 1.6, 2);
    series(c, chunks, rates[t], type_colour(t), 2.2, 1);
    const double last = rates[t].empty() ? NAN : rates[t].back();
    legend.push_back({fmt::format("{}: {} Hz", types[t], std::isfinite(last) ? num(last) : "nan"), type_colour(t),
                      LegendEntry::line, 1, 2.2});
    legend.push_back({fmt::format("target {} Hz", num(targets[t])), type_colour(t), LegendEntry::line, 2, 1.6});
  }
  c.legend(legend, "out", 0.8);

  Axes b;
  x_range(chunks, b);
  b.y_min = 0;
  b.y_max = 100;
  b.x_label = chunk_label(log.config);
  b.y_label = "active [%]";
  c.panel(bottom, b);
  c.edge_text("t", 0.8, 0.5, 0.5, "neurons of each type that fired in a trial (mean over the chunk's trials)", 0.9);
  std::vector<LegendEntry> legend_b;
  for (int t = 0; t < nt; ++t) {
    std::vector<double> percent;
    for (const double f : active[t]) percent.push_back(100 * f);
    series(c, chunks, percent, type_colour(t), 2.2, 1);
    const double last = percent.empty() ? NAN : percent.back();
    legend_b.push_back({fmt::format("{}: {}%", types[t], std::isfinite(last) ? fmt::format("{:.0f}", last) : "nan"),
                        type_colour(t), LegendEntry::line, 1, 2.2});
  }
  c.legend(legend_b, "out", 0.8);
}

const std::vector<FigureEntry<TrainingLog>>& catalogue() {
  static const std::vector<FigureEntry<TrainingLog>> entries = {
      {{"training_losses", "total loss and each loss term vs training chunk"}, need_losses, draw_training_losses},
      {{"training_rates", "mean rate per type vs chunk with its target; fraction of active neurons"}, need_rates,
       draw_training_rates},
  };
  return entries;
}

}  // namespace

const std::vector<FigureInfo>& training_figures() {
  static const std::vector<FigureInfo> infos = infos_of(catalogue());
  return infos;
}

std::string render_training_figure(const std::string& name, const TrainingLog& log, const fs::path& png,
                                   const FigureOptions& options) {
  return render_entry(catalogue(), name, log, png, options);
}

std::vector<FigureOutcome> render_training_figures(const TrainingLog& log, const fs::path& dir,
                                                   const FigureOptions& options) {
  return render_all(catalogue(), log, dir, options);
}

}  // namespace homeostat::plot
