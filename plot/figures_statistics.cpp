// Spike-train statistics per cell type, recomputed from the spikes:
// Fano factor vs counting window, ISI CV histogram, ISI distribution.
#include "figure_common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace homeostat::plot {

void draw_fano_factor(const RunData& d, const FigureOptions&, Canvas& c) {
  const double duration = run_duration_ms(d);
  std::vector<double> windows;
  for (const double w : {1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0})
    if (w <= duration / 10) windows.push_back(w);  // at least 10 windows per estimate
  if (windows.empty()) windows.push_back(duration / 10);
  const int nt = n_types(d);
  std::vector<std::vector<double>> mean(nt), lo(nt), hi(nt);
  double y_max = 1.5;
  for (const double w : windows) {
    std::vector<std::vector<double>> per_type(nt);
    for (const auto& tr : d.output_spikes) {
      const auto f = fano_factors(tr, w);
      for (std::int64_t i = 0; i < d.network.n; ++i) per_type[d.network.cell_type[i]].push_back(f[i]);
    }
    for (int t = 0; t < nt; ++t) {
      const Summary s = summarize(per_type[t]);
      mean[t].push_back(s.count ? s.mean : NAN);
      lo[t].push_back(s.count ? std::max(0.0, s.mean - s.std) : NAN);
      hi[t].push_back(s.count ? s.mean + s.std : NAN);
      if (s.count) y_max = std::max(y_max, s.mean + s.std);
    }
  }
  c.title("Fano factor vs counting window",
          "var(count) / mean(count) per neuron, mean +- sd over the neurons of a type (silent neurons left out)");
  c.panel({0.09, 0.97, 0.11, 0.84}, Axes{windows.front() / 1.5, windows.back() * 1.5, 0, nice_ceil(y_max * 1.1), true,
                                        false, "counting window [ms]", "Fano factor", ""});
  c.hline(1.0, palette::grey, 1.5, 2);
  std::vector<LegendEntry> legend;
  for (int t = 0; t < nt; ++t) {
    // Offset the error bars of the types a little so they do not overlap.
    std::vector<double> x;
    for (const double w : windows) x.push_back(w * std::pow(1.06, t - (nt - 1) / 2.0));
    c.error_bars(x, lo[t], hi[t], type_colour(t), 1.2);
    c.line(x, mean[t], type_colour(t), 2.0);
    c.points(x, mean[t], type_colour(t), 1.3);
    legend.push_back({type_name(d, t), type_colour(t)});
  }
  legend.push_back({"Poisson process (F = 1)", palette::grey, LegendEntry::line, 2});
  c.legend(legend, "tl", 0.75);
}

void draw_cv_histogram(const RunData& d, const FigureOptions&, Canvas& c) {
  const int nt = n_types(d);
  std::vector<std::vector<double>> cv(nt);
  for (const auto& tr : d.output_spikes)
    for (std::int64_t i = 0; i < d.network.n; ++i) {
      const double x = isi_cv(tr.times[i]);
      if (std::isfinite(x)) cv[d.network.cell_type[i]].push_back(x);
    }
  double hi = 2.0;
  for (int t = 0; t < nt; ++t) hi = std::max({hi, quantile(cv[t], 0.995) * 1.05, d.config.targets.per_type.at(t).cv * 1.5});
  hi = nice_ceil(hi);
  const auto edges = linear_edges(0, hi, 40);
  const auto boxes = Canvas::grid(1, nt, {0.08, 0.98, 0.11, 0.82}, 0.07);
  c.title("Irregularity: CV of inter-spike intervals",
          "sd / mean of each neuron's ISIs (neurons with >= 3 spikes), per cell type; dashed: the target");
  for (int t = 0; t < nt; ++t) {
    const auto h = histogram_fractions(cv[t], edges);
    const double y_max = nice_ceil(std::max(*std::max_element(h.begin(), h.end()), 1e-3) * 1.5);
    c.panel(boxes[t], Axes{0, hi, 0, y_max, false, false, "CV of ISIs", t == 0 ? "fraction of neurons" : "", ""});
    c.edge_text("t", 0.8, 0.5, 0.5, type_name(d, t), 1.0, type_colour(t));
    c.histogram(edges, h, type_colour(t), 0.35);
    const double target = d.config.targets.per_type.at(t).cv;
    c.vline(target, palette::black, 2.0, 2);
    const Summary s = summarize(cv[t]);
    c.legend({{fmt::format("{} {} with a CV", cv[t].size(), d.output_spikes.size() > 1 ? "neuron-trials" : "neurons"),
               type_colour(t), LegendEntry::box},
              {fmt::format("mean {}, median {}", format_number(s.mean), format_number(s.median)), type_colour(t),
               LegendEntry::box},
              {fmt::format("target {}", format_number(target)), palette::black, LegendEntry::line, 2}},
             "tr", 0.7);
  }
}

void draw_isi_distribution(const RunData& d, const FigureOptions&, Canvas& c) {
  const double dt = d.config.simulation.dt;
  // No ISI is longer than a trial: the bins end there, and the axis goes on
  // a little to show the region no interval can reach.
  const double t_max = std::max(10 * dt, run_duration_ms(d));
  // No ISI is shorter than the refractory period: start a decade below it.
  double tau_ref = 1e30;
  for (const auto& p : d.config.recurrent.physiology) tau_ref = std::min(tau_ref, p.tau_ref);
  const double t_min = std::max(dt, std::pow(10.0, std::floor(std::log10(std::max(tau_ref, dt)))));
  const auto edges = log_edges(t_min, t_max, static_cast<int>(std::ceil(12 * std::log10(t_max / t_min))));
  const auto members = members_by_type(d);
  const int nt = n_types(d);
  std::vector<std::vector<double>> frac(nt);
  std::vector<std::int64_t> total(nt, 0);
  double y_max = 0;
  for (int t = 0; t < nt; ++t) {
    std::vector<std::int64_t> counts(edges.size() - 1, 0);
    for (const auto& tr : d.output_spikes) {
      const auto h = isi_histogram(tr, members[t], edges);
      for (std::size_t k = 0; k < h.size(); ++k) counts[k] += h[k];
    }
    for (const auto x : counts) total[t] += x;
    for (const auto x : counts) frac[t].push_back(total[t] ? static_cast<double>(x) / static_cast<double>(total[t]) : 0.0);
    y_max = std::max(y_max, *std::max_element(frac[t].begin(), frac[t].end()));
  }
  c.title("Inter-spike intervals",
          fmt::format("pooled over neurons and trials, log bins; none can exceed the trial ({}), long ones are "
                      "under-counted",
                      t_max >= 1000 ? format_number(t_max / 1000) + " s" : format_number(t_max) + " ms"));
  const double x_max = t_max * 3;
  c.panel({0.09, 0.97, 0.11, 0.84}, Axes{edges.front(), x_max, 0, nice_ceil(std::max(y_max, 1e-3) * 1.2), true,
                                        false, "inter-spike interval [ms]", "fraction of ISIs per bin", ""});
  c.rectangle(t_max, x_max, 0, c.axes().y_max, palette::light_grey, 0.5);
  c.text(std::sqrt(t_max * x_max), c.axes().y_max * 0.5, "longer than a trial", 0.5, palette::dark_grey, 0.8, true);
  std::vector<LegendEntry> legend;
  for (int t = 0; t < nt; ++t) {
    c.histogram(edges, frac[t], type_colour(t), 0.2);
    legend.push_back({fmt::format("{} ({} ISIs)", type_name(d, t), total[t]), type_colour(t), LegendEntry::box});
  }
  const auto& phys = d.config.recurrent.physiology;
  c.vline(phys.at(0).tau_ref, palette::grey, 1.2, 3);
  legend.push_back({fmt::format("refractory period {} ms", format_number(phys.at(0).tau_ref)), palette::grey,
                    LegendEntry::line, 3});
  c.legend(legend, "tr", 0.75);
}

}  // namespace homeostat::plot
