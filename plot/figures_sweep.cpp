// Figures of a parameter sweep: heatmaps over pairs of dimensions and line
// plots along each dimension, of each cell type's rate and fraction active.
#include "homeostat/plot/sweep_figures.hpp"

#include "canvas.hpp"
#include "figure_common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>

namespace homeostat::plot {

namespace fs = std::filesystem;

namespace {

const ColourMap rate_map{{{0.0, {255, 255, 217}}, {0.25, {199, 233, 180}}, {0.5, {65, 182, 196}},
                          {0.75, {34, 94, 168}}, {1.0, {8, 29, 88}}}};
const ColourMap fraction_map{{{0.0, {255, 247, 236}}, {0.5, {0, 158, 115}}, {1.0, {0, 60, 42}}}};

struct Metric {
  const char* label;
  const char* unit_label;
  const std::vector<std::vector<double>>* values;  // [point][type]
  bool is_rate;
};

std::vector<Metric> metrics(const SweepData& d) {
  return {{"firing rate", "rate [Hz]", &d.rate, true}, {"fraction active", "fraction active", &d.fraction_active, false}};
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  int n = 0;
  for (const double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n ? s / n : NAN;
}

// The seed dimension, or -1.
int seed_dimension(const SweepData& d) {
  for (std::size_t k = 0; k < d.dimensions.size(); ++k)
    if (d.dimensions[k].is_seed) return static_cast<int>(k);
  return -1;
}

std::string short_label(const std::string& s) { return s.size() > 12 ? s.substr(0, 11) + "~" : s; }

bool numeric(const SweepDimension& dim) {
  return std::all_of(dim.numbers.begin(), dim.numbers.end(), [](double x) { return std::isfinite(x); });
}

std::string subtitle(const SweepData& d, const std::vector<std::size_t>& shown) {
  std::string others;
  for (std::size_t k = 0; k < d.dimensions.size(); ++k)
    if (std::find(shown.begin(), shown.end(), k) == shown.end())
      others += (others.empty() ? "" : ", ") + d.dimensions[k].label;
  return others.empty() ? fmt::format("{} points", d.position.size())
                        : fmt::format("{} points; mean over {}", d.position.size(), others);
}

void draw_heatmap(const SweepData& d, std::size_t ax, std::size_t ay, Canvas& c) {
  const SweepDimension& dx = d.dimensions[ax];
  const SweepDimension& dy = d.dimensions[ay];
  const int nx = static_cast<int>(dx.value_labels.size()), ny = static_cast<int>(dy.value_labels.size());
  const int n_types = static_cast<int>(d.types.size());
  c.title(fmt::format("{}: rate and fraction active over {} x {}", d.title, dx.label, dy.label), subtitle(d, {ax, ay}));
  const auto boxes = Canvas::grid(2, n_types, {0.1, 0.89, 0.1, 0.85}, 0.22, 0.14);
  const auto ms = metrics(d);
  for (std::size_t m = 0; m < ms.size(); ++m) {
    for (int t = 0; t < n_types; ++t) {
      std::vector<std::vector<double>> cell(static_cast<std::size_t>(nx * ny));
      for (std::size_t p = 0; p < d.position.size(); ++p)
        cell[d.position[p][ay] * nx + d.position[p][ax]].push_back((*ms[m].values)[p][t]);
      std::vector<double> v(cell.size());
      double hi = 0;
      for (std::size_t k = 0; k < cell.size(); ++k) {
        v[k] = mean_of(cell[k]);
        if (std::isfinite(v[k])) hi = std::max(hi, v[k]);
      }
      const double v_max = ms[m].is_rate ? nice_ceil(hi > 0 ? hi : 1.0) : 1.0;
      const Box& box = boxes[m * n_types + t];
      Axes a;
      a.x_min = -0.5, a.x_max = nx - 0.5, a.y_min = -0.5, a.y_max = ny - 0.5;
      a.x_numbers = a.y_numbers = false;
      a.x_label = dx.label;  // y label drawn below, clear of the value labels
      a.title = fmt::format("{}: {}", d.types[t], ms[m].label);
      c.panel(box, a);
      const ColourMap& map = ms[m].is_rate ? rate_map : fraction_map;
      for (int j = 0; j < ny; ++j)  // one rectangle per cell; no result: left blank
        for (int i = 0; i < nx; ++i)
          if (std::isfinite(v[j * nx + i]))
            c.rectangle(i - 0.5, i + 0.5, j - 0.5, j + 0.5, colour_at(map, std::min(1.0, v[j * nx + i] / v_max)));
      for (int i = 0; i < nx; ++i) c.edge_text("b", 1.2, (i + 0.5) / nx, 0.5, short_label(dx.value_labels[i]), 0.8);
      std::size_t widest = 0;
      for (int j = 0; j < ny; ++j) {
        c.edge_text("lv", 0.6, (j + 0.5) / ny, 1.0, short_label(dy.value_labels[j]), 0.8);
        widest = std::max(widest, short_label(dy.value_labels[j]).size());
      }
      c.edge_text("l", 1.6 + 0.55 * static_cast<double>(widest), 0.5, 0.5, dy.label);
      if (nx * ny <= 64) {
        for (int j = 0; j < ny; ++j)
          for (int i = 0; i < nx; ++i) {
            const double x = v[j * nx + i];
            const bool dark = x > 0.6 * v_max;
            c.text(i, j - 0.1, std::isfinite(x) ? fmt::format("{:.3g}", x) : "no result", 0.5,
                   dark ? palette::white : palette::black, 0.8);
          }
      }
      c.colour_bar({box.x1 + 0.012, box.x1 + 0.027, box.y0, box.y1}, map, 0.0, v_max, ms[m].unit_label);
    }
  }
}

void draw_line(const SweepData& d, std::size_t ax, Canvas& c) {
  const SweepDimension& dim = d.dimensions[ax];
  const int n = static_cast<int>(dim.value_labels.size());
  const int n_types = static_cast<int>(d.types.size());
  const int seed = seed_dimension(d);
  const bool by_value = numeric(dim);
  std::vector<double> xs(n);
  for (int i = 0; i < n; ++i) xs[i] = by_value ? dim.numbers[i] : i;
  const double x_lo = *std::min_element(xs.begin(), xs.end()), x_hi = *std::max_element(xs.begin(), xs.end());
  const bool log_x = by_value && x_lo > 0 && x_hi / x_lo >= 20.0;
  c.title(fmt::format("{}: rate and fraction active against {}", d.title, dim.label),
          subtitle(d, {ax}) + (seed >= 0 ? "; error bars: sd over seeds; dots: every point" : "; dots: every point"));
  const auto boxes = Canvas::grid(2, n_types, {0.09, 0.97, 0.1, 0.85}, 0.08, 0.14);
  const auto ms = metrics(d);
  for (std::size_t m = 0; m < ms.size(); ++m) {
    for (int t = 0; t < n_types; ++t) {
      const Rgb colour = type_colour(t);
      std::vector<double> dot_x, dot_y, mean(n), lo(n), hi(n);
      double top = 0;
      for (int i = 0; i < n; ++i) {
        std::vector<double> all;
        std::map<std::size_t, std::vector<double>> per_seed;
        for (std::size_t p = 0; p < d.position.size(); ++p) {
          if (d.position[p][ax] != static_cast<std::size_t>(i)) continue;
          const double y = (*ms[m].values)[p][t];
          if (!std::isfinite(y)) continue;
          all.push_back(y);
          dot_x.push_back(xs[i]);
          dot_y.push_back(y);
          top = std::max(top, y);
          if (seed >= 0) per_seed[d.position[p][seed]].push_back(y);
        }
        mean[i] = mean_of(all);
        double sd = 0;
        if (per_seed.size() >= 2) {
          std::vector<double> seed_means;
          for (const auto& [s, v] : per_seed) seed_means.push_back(mean_of(v));
          const double mu = mean_of(seed_means);
          for (const double x : seed_means) sd += (x - mu) * (x - mu);
          sd = std::sqrt(sd / static_cast<double>(seed_means.size() - 1));
        }
        lo[i] = mean[i] - sd;
        hi[i] = mean[i] + sd;
        if (std::isfinite(hi[i])) top = std::max(top, hi[i]);
      }
      const double target = ms[m].is_rate && t < static_cast<int>(d.target_rate.size()) ? d.target_rate[t] : NAN;
      if (std::isfinite(target)) top = std::max(top, target);
      Axes a;
      const double pad = log_x ? 0 : (by_value && n > 1 ? 0.06 * (x_hi - x_lo) : 0.5);  // categories: half a slot
      a.x_min = log_x ? x_lo / 1.3 : x_lo - pad;
      a.x_max = log_x ? x_hi * 1.3 : x_hi + pad;
      a.log_x = log_x;
      a.x_numbers = by_value;
      a.y_min = 0;
      a.y_max = ms[m].is_rate ? nice_ceil(top > 0 ? top * 1.1 : 1.0) : 1.05;
      a.x_label = dim.label;
      a.y_label = ms[m].unit_label;
      a.title = fmt::format("{}: {}", d.types[t], ms[m].label);
      c.panel(boxes[m * n_types + t], a);
      if (!by_value)
        for (int i = 0; i < n; ++i)
          c.edge_text("b", 1.2, (xs[i] - a.x_min) / (a.x_max - a.x_min), 0.5, short_label(dim.value_labels[i]), 0.8);
      if (std::isfinite(target)) c.hline(target, palette::grey, 1.5, 2);
      c.points(dot_x, dot_y, palette::light_grey, 0.7);
      std::vector<double> lx, ly, ex, elo, ehi;
      for (int i = 0; i < n; ++i)
        if (std::isfinite(mean[i])) {
          lx.push_back(xs[i]), ly.push_back(mean[i]);
          if (hi[i] > lo[i]) ex.push_back(xs[i]), elo.push_back(std::max(0.0, lo[i])), ehi.push_back(hi[i]);
        }
      c.line(lx, ly, colour, 2.0);
      c.points(lx, ly, colour, 1.0);
      if (!ex.empty()) c.error_bars(ex, elo, ehi, colour, 1.5);
      if (std::isfinite(target) && t == 0) c.legend({{"mean", colour}, {"target", palette::grey, LegendEntry::line, 2, 1.5}}, "tr");
    }
  }
}

FigureOutcome draw(const fs::path& png, const FigureOptions& o, const std::function<void(Canvas&)>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(plot_mutex());
    Canvas canvas(png, o.width, o.height);
    fn(canvas);
    canvas.finish();
  }
  return {png.stem().string(), png, "", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
}

}  // namespace

std::vector<FigureOutcome> render_sweep_figures(const SweepData& d, const fs::path& dir, const FigureOptions& options) {
  fs::create_directories(dir);
  std::vector<FigureOutcome> out;
  if (d.types.empty() || d.position.empty()) return out;
  std::vector<std::size_t> shown;  // dimensions plotted against: not the seed, more than one value
  for (std::size_t k = 0; k < d.dimensions.size(); ++k)
    if (!d.dimensions[k].is_seed && d.dimensions[k].value_labels.size() > 1) shown.push_back(k);
  for (std::size_t i = 0; i < shown.size(); ++i)
    for (std::size_t j = i + 1; j < shown.size(); ++j) {
      const std::size_t ax = shown[i], ay = shown[j];
      const fs::path png = dir / fmt::format("sweep_heatmap_{}_{}.png", d.dimensions[ax].label, d.dimensions[ay].label);
      out.push_back(draw(png, options, [&](Canvas& c) { draw_heatmap(d, ax, ay, c); }));
    }
  for (const std::size_t ax : shown) {
    const fs::path png = dir / fmt::format("sweep_line_{}.png", d.dimensions[ax].label);
    out.push_back(draw(png, options, [&](Canvas& c) { draw_line(d, ax, c); }));
  }
  return out;
}

}  // namespace homeostat::plot
