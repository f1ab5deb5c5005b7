// The catalogue of figures and the helpers they share.
#include "catalogue.hpp"
#include "figure_common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace homeostat::plot {

namespace fs = std::filesystem;

namespace {

std::string no_dynamics(const RunData& d, bool need_v, bool need_g, bool need_i) {
  const Dynamics& dy = d.dynamics;
  if (dy.empty()) return "no recorded neurons (simulate --record voltages,conductances,currents)";
  if (dy.n_steps < 2) return "not enough data: a trace needs two recorded steps, the run has one";
  if (need_v && dy.voltages.empty()) return "voltages not recorded (simulate --record voltages)";
  if (need_g && dy.conductances.empty()) return "conductances not recorded (simulate --record conductances)";
  if (need_i && dy.currents.empty()) return "currents not recorded (simulate --record currents)";
  return "";
}
std::string always(const RunData&) { return ""; }
std::string need_spikes(const RunData& d) { return d.output_spikes.empty() ? "no output spikes" : ""; }
std::string need_inputs(const RunData& d) {
  return d.input_spikes.times.empty() ? "no input spikes (results/input_spikes.npy)" : "";
}
// No interval is shorter than the refractory period: a run no longer than it has none.
std::string need_isis(const RunData& d) {
  double tau_ref = 1e30;
  for (const auto& p : d.config.recurrent.physiology) tau_ref = std::min(tau_ref, p.tau_ref);
  if (!d.output_spikes.empty() && run_duration_ms(d) <= tau_ref)
    return fmt::format("not enough data: the run ({} ms) is no longer than the refractory period ({} ms)",
                       run_duration_ms(d), tau_ref);
  return need_spikes(d);
}
std::string need_voltages(const RunData& d) { return no_dynamics(d, true, false, false); }
// Currents figure: receptor currents and the leak from the voltage.
std::string need_currents(const RunData& d) { return no_dynamics(d, true, false, true); }
std::string need_conductances(const RunData& d) { return no_dynamics(d, false, true, false); }

const std::vector<FigureEntry<RunData>>& catalogue() {
  static const std::vector<FigureEntry<RunData>> entries = {
      {{"network_assembly_graph", "connection probability between blocks of (cell type, assembly)"}, always,
       draw_assembly_graph},
      {{"network_connectivity", "recurrent weights, sorted by type and assembly, binned to pixels"}, always,
       draw_connectivity_matrix},
      {{"network_in_degree", "in-degree per postsynaptic type, by presynaptic source"}, always, draw_in_degree},
      {{"network_synaptic_input", "total synaptic weight in per neuron, by presynaptic source"}, always,
       draw_synaptic_input},
      {{"input_raster", "mitral-cell spikes, first window of trial 0"}, need_inputs, draw_input_raster},
      {{"input_feedforward_connectivity", "feedforward weights (inputs x neurons)"}, always,
       draw_feedforward_connectivity},
      {{"output_raster", "network spikes by assembly and type, first window of trial 0"}, need_spikes,
       draw_output_raster},
      {{"output_firing_rates", "firing-rate distribution per type, target marked"}, need_spikes, draw_firing_rates},
      {{"dynamics_voltages", "membrane voltages of a few neurons per type, threshold marked"}, need_voltages,
       draw_voltages},
      {{"dynamics_currents", "excitatory, inhibitory and leak currents of one neuron per type"}, need_currents,
       draw_currents},
      {{"dynamics_conductances", "conductance per receptor of one neuron per type"}, need_conductances,
       draw_conductances},
      {{"statistics_fano_factor", "Fano factor of spike counts vs window size"}, need_spikes, draw_fano_factor},
      {{"statistics_cv", "ISI coefficient of variation per type, target marked"}, need_spikes, draw_cv_histogram},
      {{"statistics_isi", "inter-spike-interval distribution per type"}, need_isis, draw_isi_distribution},
  };
  return entries;
}

}  // namespace

const std::vector<FigureInfo>& simulate_figures() {
  static const std::vector<FigureInfo> infos = infos_of(catalogue());
  return infos;
}

std::string render_figure(const std::string& name, const RunData& data, const fs::path& png,
                          const FigureOptions& options) {
  return render_entry(catalogue(), name, data, png, options);
}

std::vector<FigureOutcome> render_simulate_figures(const RunData& data, const fs::path& dir,
                                                   const FigureOptions& options, const std::function<bool()>& stop) {
  return render_all(catalogue(), data, dir, options, stop);
}

// ---- helpers ----

int n_types(const RunData& d) { return static_cast<int>(d.config.recurrent.type_names.size()); }
const std::string& type_name(const RunData& d, int type) { return d.config.recurrent.type_names.at(type); }

bool is_inhibitory(const Config& config, int type) {
  const auto& receptors = config.recurrent.synapses.at(type);
  const double theta = config.recurrent.physiology.at(type).theta;
  if (receptors.empty()) return false;
  return std::all_of(receptors.begin(), receptors.end(), [&](const ReceptorConfig& r) { return r.E_syn < theta; });
}

std::vector<std::vector<std::int64_t>> members_by_type(const RunData& d) {
  std::vector<std::vector<std::int64_t>> out(n_types(d));
  for (std::int64_t i = 0; i < d.network.n; ++i) out[d.network.cell_type[i]].push_back(i);
  return out;
}

std::vector<std::int64_t> type_assembly_order(const RunData& d) {
  std::vector<std::int64_t> order(d.network.n);
  std::iota(order.begin(), order.end(), 0);
  const auto& net = d.network;
  auto key = [&](std::int64_t i) {
    const std::int64_t a = net.assembly[i] < 0 ? std::numeric_limits<std::int32_t>::max() : net.assembly[i];
    return std::tuple(net.cell_type[i], a, i);
  };
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return key(a) < key(b); });
  return order;
}

std::vector<double> histogram_fractions(const std::vector<double>& values, const std::vector<double>& edges,
                                        double total) {
  const std::size_t bins = edges.size() - 1;
  std::vector<double> out(bins, 0.0);
  double counted = 0;
  for (const double v : values) {
    if (!std::isfinite(v) || v < edges.front() || v > edges.back()) continue;
    auto k = static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin());
    k = k == 0 ? 0 : std::min(k - 1, bins - 1);
    out[k] += 1;
    counted += 1;
  }
  const double denom = total > 0 ? total : counted;
  if (denom > 0)
    for (auto& c : out) c /= denom;
  return out;
}

std::vector<double> linear_edges(double lo, double hi, int bins) {
  std::vector<double> e(bins + 1);
  for (int k = 0; k <= bins; ++k) e[k] = lo + (hi - lo) * k / bins;
  return e;
}

std::vector<double> log_edges(double lo, double hi, int bins) {
  std::vector<double> e(bins + 1);
  for (int k = 0; k <= bins; ++k) e[k] = lo * std::pow(hi / lo, static_cast<double>(k) / bins);
  return e;
}

std::vector<double> rate_edges(double duration_ms, double hi_hz, int per_decade) {
  if (!(duration_ms > 0) || !std::isfinite(duration_ms)) return log_edges(0.1, std::max(hi_hz, 1.0), 24);
  const double q = 1000.0 / duration_ms, lo = q / 2;
  if (!(hi_hz > lo)) hi_hz = 10 * lo;
  const int n = std::max(1, static_cast<int>(std::ceil(per_decade * std::log10(hi_hz / lo))));
  // Edge k + 1/2 quanta; half-integers are exact in binary for any k < 2^52.
  auto edge = [&](double k) { return (k + 0.5) * q; };
  std::vector<double> e{lo};
  for (int i = 1; i <= n; ++i) {
    const double target = lo * std::pow(hi_hz / lo, static_cast<double>(i) / n);
    const double k = std::max(0.0, std::round(target / q - 0.5));
    if (edge(k) > e.back()) e.push_back(edge(k));
  }
  if (e.back() < hi_hz) e.push_back(edge(std::ceil(hi_hz / q - 0.5)));
  return e;
}

double max_rate_hz(const Config& config) {
  double tau_ref = INFINITY;
  for (const auto& p : config.recurrent.physiology) tau_ref = std::min(tau_ref, p.tau_ref);
  return 1000.0 / std::max(std::isfinite(tau_ref) ? tau_ref : 0.0, config.simulation.dt);
}

double fraction_axis_max(double max_fraction) {
  return std::min(1.0, nice_ceil(std::max(max_fraction, 1e-3) * 1.15));
}

double nice_step(double x) {
  if (!(x > 0) || !std::isfinite(x)) return 1.0;
  const double p = std::pow(10.0, std::floor(std::log10(x)));
  for (const double m : {1.0, 2.0, 5.0})
    if (m * p >= x * (1 - 1e-12)) return m * p;
  return 10 * p;
}

double nice_ceil(double x) {
  if (!(x > 0) || !std::isfinite(x)) return 1.0;
  const double p = std::pow(10.0, std::floor(std::log10(x)));
  for (const double m : {1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0})
    if (m * p >= x * (1 - 1e-12)) return m * p;
  return 10 * p;
}

// Positive finite range of some series: {min, max}; {0, 0} when none.
static std::pair<double, double> positive_range(const std::vector<std::vector<double>>& series) {
  double lo = INFINITY, hi = 0;
  for (const auto& s : series)
    for (const double v : s)
      if (std::isfinite(v) && v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
  return hi > 0 ? std::pair{lo, hi} : std::pair{0.0, 0.0};
}

static double finite_max(const std::vector<std::vector<double>>& series) {
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
    a.y_max = nice_ceil(finite_max(series) * 1.1);
  }
}

double quantile(std::vector<double> values, double q) {
  std::erase_if(values, [](double v) { return !std::isfinite(v); });
  if (values.empty()) return 0.0;
  const auto k = static_cast<std::size_t>(std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

std::string format_number(double x) {
  if (std::abs(x) >= 1e3 && std::abs(x) < 1e6 && x == std::round(x)) return fmt::format("{:.0f}", x);
  return fmt::format("{:.3g}", x);
}

double run_duration_ms(const RunData& d) {
  if (d.output_spikes.empty()) return d.config.simulation.duration;
  return static_cast<double>(d.output_spikes[0].n_steps) * d.output_spikes[0].dt;
}

}  // namespace homeostat::plot
