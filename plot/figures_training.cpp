// The figures of a training run, from its metrics CSV: the losses and the
// per-type rates (with their targets) and fractions of active neurons, each
// against the training chunk.
#include "canvas.hpp"
#include "catalogue.hpp"
#include "figure_common.hpp"
#include "homeostat/plot/figures.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

namespace homeostat::plot {

namespace fs = std::filesystem;

namespace {


// The project's acceptance for activity (README): at least 95% of each
// type's neurons fire in a fresh run of simulation.duration.
constexpr double acceptance_percent = 95.0;

std::string num(double x) { return fmt::format("{:.3g}", x); }


// x axis: from chunk 0 to a margin past the last chunk logged (half a log
// interval, at least 5% of the span), so that the last points, or a single
// one, do not sit on the frame.
void x_range(const std::vector<double>& chunks, double log_interval, Axes& a) {
  double hi = 1;
  for (const double c : chunks)
    if (std::isfinite(c)) hi = std::max(hi, c);
  a.x_min = 0;
  a.x_max = hi + std::max(0.5 * log_interval, 0.05 * hi);
}

// A linear y axis around the finite values of one series (not from 0: each
// term on its own scale, so that a term that barely moves still shows its
// trend); {lo, hi} with a margin, a fixed band around a constant.
std::pair<double, double> own_range(const std::vector<double>& y) {
  double lo = INFINITY, hi = -INFINITY;
  for (const double v : y)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) return {0.0, 1.0};
  const double span = hi - lo, scale = std::max(std::abs(lo), std::abs(hi));
  if (span <= 1e-9 * scale || span == 0) {
    const double half = scale > 0 ? 0.05 * scale : 1.0;
    return {lo - half, hi + half};
  }
  return {lo - 0.08 * span, hi + 0.08 * span};
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
    c.points(px, py, colour, x.size() <= 3 ? 1.3 : 0.6);  // one or two points: easy to find
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

// One small panel per loss term (and the total), each on its own linear
// scale: the terms differ by orders of magnitude and some barely move (the
// silent penalty sits near exp(-alpha r) ~ 1), so a shared axis would show
// one flat line and hide the others' trends.
void draw_training_losses(const TrainingLog& log, const FigureOptions&, Canvas& c) {
  const auto& m = log.metrics;
  const auto chunks = m.column("chunk");
  struct Curve {
    std::string title;
    std::vector<double> y;
    Rgb colour;
  };
  std::vector<Curve> curves;
  curves.push_back({"total loss", m.column("total_loss"), palette::black});
  const Rgb colours[] = {palette::blue, palette::vermillion, palette::bluish_green, palette::reddish_purple,
                         palette::orange, palette::sky_blue};
  int k = 0;
  for (const LossTermInfo& term : loss_terms) {
    const std::string col = std::string(term.name) + "_loss";
    if (!m.has(col)) continue;
    curves.push_back({fmt::format("{} (w = {})", term.name, num(log.config.hyperparameters.loss_weight[term.term])),
                      m.column(col), colours[k % 6]});
    ++k;
  }
  c.title("Training losses",
          fmt::format("each term unweighted, on its own scale (not from 0); total = sum of w x term; {}",
                      span_text(chunks)));
  const int cols = curves.size() > 4 ? 3 : 2;
  const int rows = static_cast<int>((curves.size() + cols - 1) / cols);
  // Between rows: the panel's two title lines (the chunk axis is shared and
  // numbered on the bottom row only).
  const double gap_y = 3.4 * c.line_height();
  const auto boxes = Canvas::grid(rows, cols, {0.1, 0.98, 0.1, 0.87 - gap_y}, 0.1, gap_y);
  for (std::size_t i = 0; i < curves.size(); ++i) {
    const auto& cv = curves[i];
    Axes a;
    x_range(chunks, log.config.training.log_interval, a);
    std::tie(a.y_min, a.y_max) = own_range(cv.y);
    a.y_digits = 6;
    const bool bottom_row = static_cast<int>(i) + cols >= static_cast<int>(curves.size());
    a.x_numbers = bottom_row;
    if (bottom_row) a.x_label = "training chunk";
    c.panel(boxes[i], a);
    const bool any_finite = std::any_of(cv.y.begin(), cv.y.end(), [](double v) { return std::isfinite(v); });
    const double last = cv.y.empty() ? NAN : cv.y.back();
    c.edge_text("t", 2.0, 0.0, 0.0, cv.title, 0.95, cv.colour);
    c.edge_text("t", 0.7, 0.0, 0.0, any_finite ? "last " + num(last) : "no values", 0.8, palette::dark_grey);
    series(c, chunks, cv.y, cv.colour, i == 0 ? 2.4 : 2.0, 1);
  }
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
          fmt::format("each chunk: {} trials of {:.6g} ms ({}); acceptance ({:.0f}% active) is judged on a {:.3g} s run",
                      log.config.training.batch_size,
                      static_cast<double>(log.config.simulation.chunk_size) * log.config.simulation.dt,
                      span_text(chunks), acceptance_percent, log.config.simulation.duration / 1000));
  const double gap = 2.4 * c.line_height();
  const Box top{0.09, 0.7, 0.52, 0.86 - gap}, bottom{0.09, 0.7, 0.11, 0.52 - 2.6 * gap};
  Axes a;
  x_range(chunks, log.config.training.log_interval, a);
  auto with_targets = rates;
  for (int t = 0; t < nt; ++t) with_targets.push_back({targets[t]});
  y_range(with_targets, a);
  a.y_label = a.log_y ? "rate [Hz] (log)" : "rate [Hz]";
  c.panel(top, a);
  c.edge_text("t", 1.0, 0.0, 0.0, "mean rate over the type's neurons and the chunk's trials; dashed: target", 0.85);
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

  // Active: per trial of the chunk, so it reads lower than the fraction
  // active over the longer run that acceptance is judged on.
  Axes b;
  x_range(chunks, log.config.training.log_interval, b);
  b.y_min = 0;
  b.y_max = 100;
  b.y_tick = 20;
  b.x_label = "training chunk";
  b.y_label = "active [%]";
  c.panel(bottom, b);
  c.edge_text("t", 1.0, 0.0, 0.0,
              "neurons that fired in one trial of the chunk, mean over its trials", 0.85);
  c.hline(acceptance_percent, palette::grey, 1.4, 3);
  std::vector<LegendEntry> legend_b;
  for (int t = 0; t < nt; ++t) {
    std::vector<double> percent;
    for (const double f : active[t]) percent.push_back(100 * f);
    series(c, chunks, percent, type_colour(t), 2.2, 1);
    const double last = percent.empty() ? NAN : percent.back();
    legend_b.push_back({fmt::format("{}: {}%", types[t], std::isfinite(last) ? fmt::format("{:.0f}", last) : "nan"),
                        type_colour(t), LegendEntry::line, 1, 2.2});
  }
  legend_b.push_back({fmt::format("acceptance {:.0f}%", acceptance_percent), palette::grey, LegendEntry::line, 3, 1.4});
  c.legend(legend_b, "out", 0.8);
}

// ---- weight change per block

// Decrease (brown) - no change (white) - increase (teal): ColorBrewer BrBG,
// colour-blind safe and apart from the cell types' blue and vermillion.
const ColourMap change_map{{{0.0, {140, 81, 10}}, {0.25, {216, 179, 101}}, {0.5, {245, 245, 245}},
                            {0.75, {90, 180, 172}}, {1.0, {1, 102, 94}}}};

// The blocks of one connection matrix: pre types x recurrent post types.
struct BlockSet {
  const char* kind;  // "recurrent", "feedforward"
  const std::vector<std::string>* pre;
  bool input;        // presynaptic types are input types (their colours)
};

std::vector<BlockSet> block_sets(const TrainingLog& log) {
  return {{"recurrent", &log.config.recurrent.type_names, false},
          {"feedforward", &log.config.feedforward.type_names, true}};
}

std::string need_weight_change(const TrainingLog& log) {
  if (log.metrics.rows.empty()) return "no metrics rows yet";
  if (!log.metrics.has("chunk")) return "training_metrics.csv has no column 'chunk'";
  for (const BlockSet& set : block_sets(log))
    for (const auto& pre : *set.pre)
      for (const auto& post : log.config.recurrent.type_names)
        if (const std::string col = weight_change_column(set.kind, pre, post); !log.metrics.has(col))
          return "training_metrics.csv has no column '" + col + "' (a run of an older homeostat)";
  return "";
}

std::string percent_text(double fraction) {
  if (!std::isfinite(fraction)) return "no edges";
  const double p = 100 * fraction;
  return std::abs(p) < 0.05 ? "0%" : fmt::format("{:+.{}f}%", p, std::abs(p) < 10 ? 1 : 0);
}

// Left: each block's change at the last logged chunk, one heatmap per
// connection matrix (rows: presynaptic type, columns: postsynaptic type);
// right: every block's change against the chunk.
void draw_weight_change(const TrainingLog& log, const FigureOptions& o, Canvas& c) {
  const auto& m = log.metrics;
  const auto& post_types = log.config.recurrent.type_names;
  const auto chunks = m.column("chunk");
  const auto sets = block_sets(log);
  const int n_post = static_cast<int>(post_types.size());
  c.title("Weight change per block",
          fmt::format("relative change of each block's mean weight since the start, mean w / mean w0 - 1; {}",
                      span_text(chunks)));
  // [set][pre][post] series in percent, and the colour scale: symmetric
  // around 0, up to the largest change at the last chunk.
  std::vector<std::vector<std::vector<std::vector<double>>>> pct(sets.size());
  double largest = 0;
  for (std::size_t s = 0; s < sets.size(); ++s)
    for (const auto& pre : *sets[s].pre) {
      auto& row = pct[s].emplace_back();
      for (const auto& post : post_types) {
        auto& y = row.emplace_back(m.column(weight_change_column(sets[s].kind, pre, post)));
        for (double& v : y) v *= 100;
        if (!y.empty() && std::isfinite(y.back())) largest = std::max(largest, std::abs(y.back()));
      }
    }
  const double lim = nice_ceil(std::max(largest, 0.1));

  // Square cells, at most 110 px, all of both heatmaps in the left column;
  // type names on the left and below, the colour bar beside the first.
  int rows_total = 0;
  std::size_t widest = 0;
  for (std::size_t s = 0; s < sets.size(); ++s) {
    rows_total += static_cast<int>(pct[s].size());
    for (const auto& pre : *sets[s].pre) widest = std::max(widest, pre.size());
  }
  const double cell_px = std::min({110.0, 240.0 / n_post, 0.5 * o.height / std::max(rows_total, 1)});
  const double cell_w = cell_px / o.width, cell_h = cell_px / o.height;
  const double x0 = 0.17, gap = 3.4 * c.line_height();
  double top = 0.86 - gap;
  for (std::size_t s = 0; s < sets.size(); ++s) {
    const int n_pre = static_cast<int>(pct[s].size());
    const Box box{x0, x0 + n_post * cell_w, top - n_pre * cell_h, top};
    top = box.y0 - gap - 2.6 * c.line_height();  // below: the post types and the axis title
    Axes a;
    a.x_min = 0, a.x_max = n_post, a.y_min = 0, a.y_max = n_pre;
    a.x_numbers = a.y_numbers = a.ticks = false;
    a.title = fmt::format("{}, chunk {}", sets[s].kind, num(chunks.back()));
    c.panel(box, a);
    for (int i = 0; i < n_pre; ++i)
      for (int j = 0; j < n_post; ++j) {
        const double v = pct[s][i][j].empty() ? NAN : pct[s][i][j].back();
        const double y = n_pre - 1 - i;  // first type at the top
        const Rgb fill = std::isfinite(v) ? colour_at(change_map, 0.5 + 0.5 * std::clamp(v / lim, -1.0, 1.0))
                                          : palette::light_grey;
        c.rectangle(j, j + 1, y, y + 1, fill);
        const bool dark = std::isfinite(v) && std::abs(v) > 0.6 * lim;
        c.text(j + 0.5, y + 0.4, percent_text(v / 100), 0.5, dark ? palette::white : palette::black,
               cell_px >= 70 ? 0.9 : 0.7);
      }
    for (int k = 1; k < n_post; ++k) c.line({double(k), double(k)}, {0.0, double(n_pre)}, palette::white, 2.0);
    for (int k = 1; k < n_pre; ++k) c.line({0.0, double(n_post)}, {double(k), double(k)}, palette::white, 2.0);
    c.panel(box, a);  // the frame over the cells
    for (int i = 0; i < n_pre; ++i)
      c.edge_text("lv", 0.6, (n_pre - 0.5 - i) / n_pre, 1.0, (*sets[s].pre)[i], 0.8,
                  sets[s].input ? input_colour(i) : type_colour(i));
    c.edge_text("l", 1.6 + 0.75 * static_cast<double>(widest), 0.5, 0.5, "presynaptic", 0.8);
    for (int j = 0; j < n_post; ++j) c.edge_text("b", 1.2, (j + 0.5) / n_post, 0.5, post_types[j], 0.8, type_colour(j));
    c.edge_text("b", 2.6, 0.5, 0.5, "postsynaptic", 0.8);
    if (s == 0)
      c.colour_bar({box.x1 + 0.015, box.x1 + 0.03, box.y0, box.y1}, change_map, -lim, lim, "change [%]", lim / 2);
  }

  // Right: the change of every block against the chunk.
  Axes b;
  x_range(chunks, log.config.training.log_interval, b);
  double lo = 0, hi = 0;
  for (const auto& set : pct)
    for (const auto& row : set)
      for (const auto& y : row)
        for (const double v : y)
          if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  std::tie(b.y_min, b.y_max) = own_range({lo, hi});
  b.x_label = "training chunk";
  b.y_label = "change [%]";
  b.title = "every block against the chunk";
  c.panel({0.555, 0.72, 0.11, 0.86 - gap}, b);  // room on the right for the legend
  c.hline(0, palette::grey, 1.0, 1);
  std::vector<LegendEntry> legend;
  for (std::size_t s = 0; s < sets.size(); ++s)
    for (std::size_t i = 0; i < pct[s].size(); ++i)
      for (int j = 0; j < n_post; ++j) {
        const Rgb colour = sets[s].input ? input_colour(static_cast<int>(i)) : type_colour(static_cast<int>(i));
        const int style = 1 + j % 8;
        series(c, chunks, pct[s][i][j], colour, 2.0, style);
        legend.push_back({fmt::format("{} to {}", (*sets[s].pre)[i], post_types[j]), colour, LegendEntry::line,
                          style, 2.0});
      }
  c.legend(legend, "out", 0.75);
}

const std::vector<FigureEntry<TrainingLog>>& catalogue() {
  static const std::vector<FigureEntry<TrainingLog>> entries = {
      {{"training_losses", "total loss and each loss term vs training chunk"}, need_losses, draw_training_losses},
      {{"training_rates", "mean rate per type vs chunk with its target; fraction of active neurons"}, need_rates,
       draw_training_rates},
      {{"training_weight_change", "relative change of each block's mean weight (pre type x post type, recurrent and "
                                  "feedforward) at the last chunk and against the chunk"},
       need_weight_change, draw_weight_change},
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
