// Activity: input and output spike rasters (a stratified subset over the
// first window of trial 0) with population rates, and the firing-rate
// distribution per type.
#include "figure_common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace homeostat::plot {

namespace {

std::string seconds_text(double ms) { return ms >= 1000 ? format_number(ms / 1000) + " s" : format_number(ms) + " ms"; }

// Every k-th of `order` so that at most `max_rows` remain: proportional to
// every group the order is sorted by.
std::vector<std::int64_t> every_kth(const std::vector<std::int64_t>& order, int max_rows, std::int64_t& k) {
  k = std::max<std::int64_t>(1, (static_cast<std::int64_t>(order.size()) + max_rows - 1) / max_rows);
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < order.size(); i += static_cast<std::size_t>(k)) out.push_back(order[i]);
  return out;
}

// Raster of `rows` (top first) over [0, window_ms) in `box`: one tick per
// spike. A tick is at least `min_tick_px` tall and wide, however many rows
// share the pixels, so that a neuron firing once in the window still shows.
void raster(Canvas& c, const SpikeTrains& trains, const std::vector<std::int64_t>& rows,
            const std::vector<Rgb>& row_colour, double window_ms, Box box, const std::string& y_label,
            double label_disp) {
  constexpr double min_tick_px = 6.0;
  const auto n = static_cast<double>(rows.size());
  c.panel(box, Axes{0, window_ms, 0, n, false, false, "", "", "", false, false});
  c.edge_text("l", label_disp, 0.5, 0.5, y_label);
  const double row_px = (box.y1 - box.y0) * c.height_px() / std::max(n, 1.0);
  const double tick = std::max(0.9, min_tick_px / row_px);  // [rows]
  const double tick_width = row_px < 3 ? 3.0 : 2.2;
  // Draw each colour in one go (fewer colour switches).
  std::vector<Rgb> colours;
  for (const auto& col : row_colour)
    if (std::find(colours.begin(), colours.end(), col) == colours.end()) colours.push_back(col);
  for (const auto& col : colours) {
    std::vector<double> x0, y0, x1, y1;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (!(row_colour[r] == col)) continue;
      const double y = n - 1 - static_cast<double>(r) + 0.5;
      for (const auto s : trains.times[rows[r]]) {
        const double t = static_cast<double>(s) * trains.dt;
        if (t >= window_ms) break;
        x0.push_back(t), x1.push_back(t);
        y0.push_back(std::max(0.0, y - tick / 2)), y1.push_back(std::min(n, y + tick / 2));
      }
    }
    c.segments(x0, y0, x1, y1, col, tick_width);
  }
}

// Population rate [Hz per neuron] of `members` in bins of `bin_ms` over [0, window_ms).
std::vector<double> population_rate(const SpikeTrains& trains, const std::vector<std::int64_t>& members,
                                    double window_ms, double bin_ms) {
  const auto bins = static_cast<std::size_t>(std::ceil(window_ms / bin_ms));
  std::vector<double> out(bins, 0.0);
  for (const auto i : members)
    for (const auto s : trains.times[i]) {
      const double t = static_cast<double>(s) * trains.dt;
      if (t >= window_ms) break;
      out[static_cast<std::size_t>(t / bin_ms)] += 1;
    }
  if (!members.empty())
    for (auto& v : out) v *= 1000.0 / (bin_ms * static_cast<double>(members.size()));
  return out;
}

// The population rates below a raster, in `box`; the legend (one line per
// rate, `names`) outside on the right.
void rate_panel(Canvas& c, Box box, double window_ms, const std::vector<std::vector<double>>& rates,
                const std::vector<Rgb>& colours, const std::vector<std::string>& names, double bin_ms) {
  double y_max = 0;
  for (const auto& r : rates)
    for (const double v : r) y_max = std::max(y_max, v);
  Axes a{0, window_ms, 0, nice_ceil(std::max(y_max, 1e-3) * 1.05), false, false, "time [ms]", "rate [Hz]", ""};
  a.y_tick = nice_step(a.y_max / 3);  // a short panel: few labels
  c.panel(box, a);
  c.edge_text("t", 0.5, 1.0, 1.0, "population rate per neuron, " + format_number(bin_ms) + " ms bins", 0.8,
              palette::dark_grey);
  std::vector<LegendEntry> legend;
  for (std::size_t k = 0; k < rates.size(); ++k) {
    std::vector<double> x, y;
    for (std::size_t b = 0; b < rates[k].size(); ++b) {
      x.push_back((static_cast<double>(b) + 0.5) * bin_ms);
      y.push_back(rates[k][b]);
    }
    c.line(x, y, colours[k], 1.8);
    legend.push_back({names[k], colours[k], LegendEntry::line, 1, 1.8});
  }
  c.legend(legend, "out", 0.7);
}

double bin_for(double window_ms) { return window_ms >= 1000 ? 10.0 : std::max(1.0, window_ms / 100); }

}  // namespace

void draw_output_raster(const RunData& d, const FigureOptions& o, Canvas& c) {
  const SpikeTrains& trains = d.output_spikes.at(0);
  const double window = std::min(o.raster_window_ms, run_duration_ms(d));
  const Network& net = d.network;
  // Sorted by assembly (none last), then type, then index.
  std::vector<std::int64_t> order(net.n);
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](std::int64_t i) {
    return std::tuple(net.assembly[i] < 0 ? std::numeric_limits<std::int32_t>::max() : net.assembly[i], net.cell_type[i], i);
  };
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return key(a) < key(b); });
  std::int64_t k = 1;
  const auto rows = every_kth(order, o.raster_max_neurons, k);
  std::vector<Rgb> colour;
  for (const auto i : rows) colour.push_back(type_colour(net.cell_type[i]));
  c.title("Network spikes", fmt::format("first {} of trial 0; {} of {} neurons{}, sorted by assembly, then cell type",
                                       seconds_text(window), rows.size(), net.n,
                                       k > 1 ? fmt::format(" (every {}th)", k) : ""));
  const Box top{0.09, 0.79, 0.34, 0.84}, bottom{0.09, 0.79, 0.1, 0.27};
  const int n_assemblies = static_cast<int>(d.config.recurrent.num_assemblies);
  // The axis title clears the widest assembly number.
  const double digits = n_assemblies > 0 ? std::floor(std::log10(std::max(n_assemblies - 1, 1))) + 1 : 1;
  raster(c, trains, rows, colour, window, top, "neurons by assembly (number)", 1.6 + 0.8 * 0.75 * digits);
  // Assembly boundaries and numbers.
  const double n = static_cast<double>(rows.size());
  std::size_t start = 0;
  const int label_every = n_assemblies <= 12 ? 1 : (n_assemblies <= 30 ? 2 : 5);
  for (std::size_t r = 1; r <= rows.size(); ++r) {
    if (r < rows.size() && net.assembly[rows[r]] == net.assembly[rows[start]]) continue;
    const std::int32_t a = net.assembly[rows[start]];
    if (start > 0) c.hline(n - static_cast<double>(start), palette::grey, 1.0, 1);
    if (a < 0 || a % label_every == 0)
      c.edge_text("lv", 0.5, 1 - (static_cast<double>(start + r) / 2) / n, 1.0, a < 0 ? "-" : std::to_string(a), 0.8);
    start = r;
  }
  std::vector<LegendEntry> legend;
  for (int t = 0; t < n_types(d); ++t) legend.push_back({type_name(d, t), type_colour(t), LegendEntry::box});
  c.legend(legend, "out", 0.75);
  const auto members = members_by_type(d);
  std::vector<std::vector<double>> rates;
  std::vector<Rgb> colours;
  std::vector<std::string> names;
  const double bin = bin_for(window);
  for (int t = 0; t < n_types(d); ++t) {
    rates.push_back(population_rate(trains, members[t], window, bin));
    colours.push_back(type_colour(t));
    names.push_back(fmt::format("{} {}", members[t].size(), type_name(d, t)));
  }
  rate_panel(c, bottom, window, rates, colours, names, bin);
}

void draw_input_raster(const RunData& d, const FigureOptions& o, Canvas& c) {
  const SpikeTrains& trains = d.input_spikes;
  const double window = std::min(o.raster_window_ms, static_cast<double>(trains.n_steps) * trains.dt);
  const Network& net = d.network;
  std::vector<std::int64_t> order(net.m);
  std::iota(order.begin(), order.end(), 0);
  std::int64_t k = 1;
  const auto rows = every_kth(order, o.raster_max_inputs, k);
  std::vector<Rgb> colour;
  for (const auto j : rows) colour.push_back(input_colour(net.input_type[j]));
  std::string poisson;
  for (std::size_t t = 0; t < d.config.feedforward.type_names.size(); ++t)
    poisson += fmt::format("{} {} {} Hz", t ? "," : "; Poisson:", d.config.feedforward.type_names[t],
                           format_number(d.config.feedforward.firing_rate.at(t)));
  c.title("Input spikes", fmt::format("first {} of trial 0; {} of {} input neurons{}{}", seconds_text(window),
                                      rows.size(), net.m, k > 1 ? fmt::format(" (every {}th)", k) : "", poisson));
  const Box top{0.09, 0.79, 0.34, 0.84}, bottom{0.09, 0.79, 0.1, 0.27};
  const double digits = std::floor(std::log10(std::max<double>(static_cast<double>(net.m), 1.0))) + 1;
  raster(c, trains, rows, colour, window, top, "input neuron", 1.6 + 0.8 * 0.75 * digits);
  // Input index ticks on the left: a few round numbers.
  const double n = static_cast<double>(rows.size());
  const std::int64_t step = static_cast<std::int64_t>(nice_ceil(static_cast<double>(net.m) / 6));
  for (std::int64_t j = 0; j < net.m; j += step)
    c.edge_text("lv", 0.5, 1 - (static_cast<double>(j / k) + 0.5) / n, 1.0, std::to_string(j), 0.8);
  std::vector<std::vector<double>> rates;
  std::vector<Rgb> colours;
  std::vector<std::string> names;
  const double bin = bin_for(window);
  const int ni = static_cast<int>(d.config.feedforward.type_names.size());
  for (int t = 0; t < ni; ++t) {
    std::vector<std::int64_t> members;
    for (std::int64_t j = 0; j < net.m; ++j)
      if (net.input_type[j] == t) members.push_back(j);
    rates.push_back(population_rate(trains, members, window, bin));
    colours.push_back(input_colour(t));
    names.push_back(fmt::format("{} {}", members.size(), d.config.feedforward.type_names[t]));
  }
  rate_panel(c, bottom, window, rates, colours, names, bin);
}

void draw_firing_rates(const RunData& d, const FigureOptions&, Canvas& c) {
  const int nt = n_types(d);
  // Rates pooled over trials; silent neurons counted apart (log axis).
  std::vector<std::vector<double>> rates(nt);
  for (const auto& tr : d.output_spikes) {
    const auto r = firing_rates(tr);
    for (std::int64_t i = 0; i < d.network.n; ++i) rates[d.network.cell_type[i]].push_back(r[i]);
  }
  // The axis depends on the configuration alone (trial length, refractory
  // period), not on the rates: the initial and final states of a training
  // run are drawn on the same axis.
  const double duration = run_duration_ms(d);
  const double quantum = 1000.0 / duration;
  const auto edges = rate_edges(duration, max_rate_hz(d.config));
  const double lo = edges.front(), hi = edges.back();
  const auto boxes = Canvas::grid(1, nt, {0.08, 0.98, 0.12, 0.82}, 0.07);
  c.title("Firing rates",
          fmt::format("{} trial{} of {}; bins hold whole spike counts (rates are multiples of {} Hz); axis to 1 / "
                      "refractory period",
                      d.output_spikes.size(), d.output_spikes.size() == 1 ? "" : "s", seconds_text(duration),
                      format_number(quantum)));
  for (int t = 0; t < nt; ++t) {
    const auto h = histogram_fractions(rates[t], edges, static_cast<double>(rates[t].size()));
    const double y_max = nice_ceil(std::max(*std::max_element(h.begin(), h.end()), 1e-3) * 1.5);
    const double target = d.config.targets.per_type.at(t).firing_rate;
    c.panel(boxes[t], Axes{lo, hi, 0, y_max, true, false, "firing rate [Hz]",
                           t == 0 ? "fraction of neurons per bin" : "", ""});
    c.edge_text("t", 0.8, 0.5, 0.5, type_name(d, t), 1.0, type_colour(t));
    c.histogram(edges, h, type_colour(t), 0.35);
    if (target > lo && target < hi) c.vline(target, palette::black, 2.0, 2);
    const auto silent = std::count(rates[t].begin(), rates[t].end(), 0.0);
    const auto above = std::count_if(rates[t].begin(), rates[t].end(), [&](double r) { return r > hi; });
    double mean = 0;
    for (const double v : rates[t]) mean += v;
    mean /= std::max<double>(1.0, static_cast<double>(rates[t].size()));
    std::vector<LegendEntry> legend{
        {fmt::format("{} {}", rates[t].size(), d.output_spikes.size() > 1 ? "neuron-trials" : "neurons"),
         type_colour(t), LegendEntry::box},
        {fmt::format("mean {} Hz, median {} Hz", format_number(mean), format_number(quantile(rates[t], 0.5))),
         type_colour(t), LegendEntry::box},
        {fmt::format("silent (not shown): {}", silent), palette::light_grey, LegendEntry::box}};
    if (above > 0)
      legend.push_back({fmt::format("above {} Hz (not shown): {}", format_number(hi), above), palette::light_grey,
                        LegendEntry::box});
    legend.push_back({fmt::format("target {} Hz", format_number(target)), palette::black, LegendEntry::line, 2});
    c.legend(legend, "tr", 0.7);
  }
}

}  // namespace homeostat::plot
