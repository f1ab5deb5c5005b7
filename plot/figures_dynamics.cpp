// Dynamics of a few recorded neurons over the window of RunData::dynamics:
// membrane voltages with threshold and spikes, synaptic and leak currents,
// conductances per receptor column.
#include "figure_common.hpp"

#include "homeostat/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace homeostat::plot {

namespace {

// The types present among the recorded neurons, with their columns k.
std::vector<std::pair<int, std::vector<std::size_t>>> recorded_by_type(const RunData& d) {
  std::vector<std::pair<int, std::vector<std::size_t>>> out;
  for (int t = 0; t < n_types(d); ++t) {
    std::vector<std::size_t> ks;
    for (std::size_t k = 0; k < d.dynamics.neurons.size(); ++k)
      if (d.network.cell_type[d.dynamics.neurons[k]] == t) ks.push_back(k);
    if (!ks.empty()) out.emplace_back(t, ks);
  }
  return out;
}

std::vector<double> time_axis(const RunData& d) {
  std::vector<double> t(d.dynamics.n_steps);
  for (std::int64_t s = 0; s < d.dynamics.n_steps; ++s) t[s] = static_cast<double>(d.dynamics.t0 + s) * d.config.simulation.dt;
  return t;
}

// Several neurons of one type: the type's colour at clearly different
// lightness (dark, as is, light) and line style (solid, dashed, dotted), so
// that they stay apart in grey scale too.
struct Trace {
  Rgb colour;
  int style;
};
Trace trace_style(Rgb c, std::size_t k) {
  const double f[] = {-0.5, 0.0, 0.55};  // <0: darker, >0: towards white
  const int styles[] = {1, 3, 2};
  const double x = f[k % 3];
  auto mix = [&](std::uint8_t v) {
    return static_cast<std::uint8_t>(std::lround(x < 0 ? v * (1 + x) : v + (255 - v) * x));
  };
  return {{mix(c.r), mix(c.g), mix(c.b)}, styles[k % 3]};
}

// One panel per row, legends outside on the right, time axis numbered on
// the last row only; between rows room for a panel title (text keeps its
// size in pixels, so the gap is measured in lines of text).
std::vector<Box> rows_of(const Canvas& c, std::size_t n) {
  const double gap = 2.6 * c.line_height();
  return Canvas::grid(static_cast<int>(n), 1, {0.09, 0.74, 0.1, 0.86 - gap}, 0.0, gap);
}

std::string spikes_text(std::size_t n) { return fmt::format("{} spike{}", n, n == 1 ? "" : "s"); }

std::string window_text(const RunData& d) {
  const double a = static_cast<double>(d.dynamics.t0) * d.config.simulation.dt;
  const double b = static_cast<double>(d.dynamics.t0 + d.dynamics.n_steps) * d.config.simulation.dt;
  return fmt::format("{:g}-{:g} ms of trial 0", a, b);
}

Axes time_axes(const std::vector<double>& t, double y_min, double y_max, bool last, const std::string& y_label,
               const std::string& title) {
  Axes a{t.front(), t.back(), y_min, y_max, false, false, last ? "time [ms]" : "", y_label, title};
  a.x_numbers = last;
  return a;
}

// An Rgb for "excitatory" and "inhibitory" quantities: the colour of the
// first type of that kind (blue and vermillion in the defaults).
Rgb kind_colour(const RunData& d, bool inhibitory) {
  for (int t = 0; t < n_types(d); ++t)
    if (is_inhibitory(d.config, t) == inhibitory) return type_colour(t);
  return inhibitory ? palette::vermillion : palette::blue;
}

}  // namespace

void draw_voltages(const RunData& d, const FigureOptions&, Canvas& c) {
  const Dynamics& dy = d.dynamics;
  const auto groups = recorded_by_type(d);
  const auto boxes = rows_of(c, groups.size());
  const auto t = time_axis(d);
  const auto K = dy.neurons.size();
  c.title("Membrane voltage", fmt::format("{} recorded neurons, {}; a spike is drawn as a stroke above the threshold",
                                          K, window_text(d)));
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& [type, ks] = groups[g];
    const auto& phys = d.config.recurrent.physiology.at(type);
    double lo = phys.U_reset, hi = phys.theta;
    std::vector<std::vector<double>> v(ks.size());
    for (std::size_t j = 0; j < ks.size(); ++j) {
      for (std::int64_t s = 0; s < dy.n_steps; ++s) {
        const double x = dy.voltages[static_cast<std::size_t>(s) * K + ks[j]];
        v[j].push_back(x);
        lo = std::min(lo, x), hi = std::max(hi, x);
      }
    }
    const double spike_top = phys.theta + 0.25 * (phys.theta - lo);
    c.panel(boxes[g], time_axes(t, lo - 0.05 * (spike_top - lo), spike_top + 0.05 * (spike_top - lo),
                                g + 1 == groups.size(), "V [mV]", ""));
    c.edge_text("t", 0.9, 0.5, 0.5, type_name(d, type), 1.0, type_colour(type));
    std::vector<LegendEntry> legend;
    for (std::size_t j = 0; j < ks.size(); ++j) {
      const std::int64_t neuron = dy.neurons[ks[j]];
      const auto [col, style] = trace_style(type_colour(type), j);
      c.line(t, v[j], col, 1.4, style);
      // Spikes (the trace resets at once): a stroke from threshold up.
      std::vector<double> x0, y0, y1;
      if (!d.output_spikes.empty())
        for (const auto s : d.output_spikes[0].times[neuron]) {
          if (s < dy.t0) continue;
          if (s >= dy.t0 + dy.n_steps) break;
          x0.push_back(static_cast<double>(s) * d.config.simulation.dt);
          y0.push_back(phys.theta);
          y1.push_back(spike_top);
        }
      c.segments(x0, y0, x0, y1, col, 1.4);
      legend.push_back({fmt::format("neuron {} ({})", neuron, spikes_text(x0.size())), col, LegendEntry::line, style});
    }
    c.hline(phys.theta, palette::black, 1.5, 2);
    legend.push_back({fmt::format("threshold {} mV", format_number(phys.theta)), palette::black, LegendEntry::line, 2});
    c.legend(legend, "out", 0.7);
  }
}

void draw_currents(const RunData& d, const FigureOptions&, Canvas& c) {
  const Dynamics& dy = d.dynamics;
  const auto cols = receptor_columns(d.config);
  const auto R = static_cast<std::size_t>(dy.n_receptors);
  const auto K = dy.neurons.size();
  const auto groups = recorded_by_type(d);
  const auto boxes = rows_of(c, groups.size());
  const auto t = time_axis(d);
  const Rgb exc = kind_colour(d, false), inh = kind_colour(d, true);
  c.title("Synaptic and leak currents",
          fmt::format("one neuron per cell type, {}; outward positive (excitatory currents are negative)", window_text(d)));
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& [type, ks] = groups[g];
    const std::size_t k = ks.front();
    const auto& phys = d.config.recurrent.physiology.at(type);
    std::vector<double> e(dy.n_steps, 0.0), i(dy.n_steps, 0.0), leak(dy.n_steps, 0.0);
    double lo = 0, hi = 0;
    for (std::int64_t s = 0; s < dy.n_steps; ++s) {
      for (std::size_t r = 0; r < R && r < cols.size(); ++r) {
        const double x = dy.currents[(static_cast<std::size_t>(s) * K + k) * R + r];
        (cols[r].receptor.E_syn < phys.theta ? i : e)[s] += x;
      }
      // The current of step s uses v(s), the state after step s - 1.
      const double v = s > 0 ? dy.voltages[(static_cast<std::size_t>(s) - 1) * K + k]
                             : (dy.t0 == 0 ? phys.U_reset : dy.voltages[k]);
      leak[s] = phys.g_L * (v - phys.E_L);
      for (const double x : {e[s], i[s], leak[s]}) lo = std::min(lo, x), hi = std::max(hi, x);
    }
    const double pad = 0.08 * std::max(hi - lo, 1e-6);
    c.panel(boxes[g], time_axes(t, lo - pad, hi + pad, g + 1 == groups.size(), "current [pA]", ""));
    c.edge_text("t", 0.9, 0.5, 0.5, fmt::format("{} neuron {}", type_name(d, type), dy.neurons[k]), 1.0,
                type_colour(type));
    c.hline(0.0, palette::light_grey, 1.0, 1);
    c.line(t, leak, palette::grey, 1.4);
    c.line(t, e, exc, 1.4);
    c.line(t, i, inh, 1.4);
    c.legend({{"excitatory", exc}, {"inhibitory", inh}, {"leak  g_L (V - E_L)", palette::grey}}, "out", 0.7);
  }
}

void draw_conductances(const RunData& d, const FigureOptions&, Canvas& c) {
  const Dynamics& dy = d.dynamics;
  const auto cols = receptor_columns(d.config);
  const auto labels = receptor_labels(cols);
  const auto R = static_cast<std::size_t>(dy.n_receptors);
  const auto K = dy.neurons.size();
  const auto groups = recorded_by_type(d);
  const auto boxes = rows_of(c, groups.size());
  const auto t = time_axis(d);
  c.title("Synaptic conductances", fmt::format("per receptor (presynaptic type:receptor), one neuron per cell type, {}",
                                              window_text(d)));
  // Colour: the presynaptic type's; line style: the receptor within it.
  std::vector<Rgb> colour(R);
  std::vector<int> style(R);
  for (std::size_t r = 0; r < R && r < cols.size(); ++r) {
    colour[r] = cols[r].feedforward ? input_colour(cols[r].presyn_type) : type_colour(cols[r].presyn_type);
    int within = 0;
    for (std::size_t q = 0; q < r; ++q)
      within += cols[q].feedforward == cols[r].feedforward && cols[q].presyn_type == cols[r].presyn_type;
    style[r] = std::array{1, 3, 2, 4}[within % 4];
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& [type, ks] = groups[g];
    const std::size_t k = ks.front();
    std::vector<std::vector<double>> gr(R, std::vector<double>(dy.n_steps));
    double hi = 0;
    for (std::int64_t s = 0; s < dy.n_steps; ++s)
      for (std::size_t r = 0; r < R; ++r) {
        const std::size_t base = ((static_cast<std::size_t>(s) * K + k) * 2) * R;
        gr[r][s] = dy.conductances[base + r] + dy.conductances[base + R + r];
        hi = std::max(hi, gr[r][s]);
      }
    c.panel(boxes[g], time_axes(t, 0, std::max(hi, 1e-6) * 1.05, g + 1 == groups.size(), "conductance [nS]", ""));
    c.edge_text("t", 0.9, 0.5, 0.5, fmt::format("{} neuron {}", type_name(d, type), dy.neurons[k]), 1.0,
                type_colour(type));
    std::vector<LegendEntry> legend;
    for (std::size_t r = 0; r < R; ++r) {
      c.line(t, gr[r], colour[r], 1.4, style[r]);
      legend.push_back({r < labels.size() ? labels[r] : fmt::format("receptor {}", r), colour[r], LegendEntry::line,
                        style[r]});
    }
    c.legend(legend, "out", 0.7);
  }
}

}  // namespace homeostat::plot
