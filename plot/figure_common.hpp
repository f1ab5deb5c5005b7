// Shared by the figure files: the draw functions of the catalogue and small
// helpers over RunData (types, histograms, windows).
#pragma once

#include "canvas.hpp"
#include "homeostat/plot/figures.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace homeostat::plot {

// Network structure
void draw_assembly_graph(const RunData&, const FigureOptions&, Canvas&);
void draw_connectivity_matrix(const RunData&, const FigureOptions&, Canvas&);
void draw_in_degree(const RunData&, const FigureOptions&, Canvas&);
void draw_synaptic_input(const RunData&, const FigureOptions&, Canvas&);
void draw_feedforward_connectivity(const RunData&, const FigureOptions&, Canvas&);
// Activity
void draw_input_raster(const RunData&, const FigureOptions&, Canvas&);
void draw_output_raster(const RunData&, const FigureOptions&, Canvas&);
void draw_firing_rates(const RunData&, const FigureOptions&, Canvas&);
// Dynamics
void draw_voltages(const RunData&, const FigureOptions&, Canvas&);
void draw_currents(const RunData&, const FigureOptions&, Canvas&);
void draw_conductances(const RunData&, const FigureOptions&, Canvas&);
// Statistics
void draw_fano_factor(const RunData&, const FigureOptions&, Canvas&);
void draw_cv_histogram(const RunData&, const FigureOptions&, Canvas&);
void draw_isi_distribution(const RunData&, const FigureOptions&, Canvas&);

// ---- helpers ----

int n_types(const RunData& d);
const std::string& type_name(const RunData& d, int type);
// A type whose receptors all reverse below its own threshold inhibits.
bool is_inhibitory(const Config& config, int type);
// Neurons of each type, ascending: [type][i].
std::vector<std::vector<std::int64_t>> members_by_type(const RunData& d);
// Sorting order for matrices: by type, then assembly (-1 last), then index.
std::vector<std::int64_t> type_assembly_order(const RunData& d);

// Fraction of `values` in each bin [edges[k], edges[k+1]) (last bin closed);
// non-finite values skipped; divided by `total` (default: the values counted).
std::vector<double> histogram_fractions(const std::vector<double>& values, const std::vector<double>& edges,
                                        double total = -1);
std::vector<double> linear_edges(double lo, double hi, int bins);
std::vector<double> log_edges(double lo, double hi, int bins);
// Bin edges for firing rates counted over trials of `duration_ms`. Such
// rates are multiples of the quantum q = 1000 / duration_ms Hz, so every edge
// lies half way between two of them, (k + 1/2) q, and every bin holds at
// least one possible rate (log bins on quantised rates leave empty teeth).
// About `per_decade` log-spaced bins from q / 2 up to at least `hi_hz`,
// widened to one quantum where the quanta are sparser than that.
std::vector<double> rate_edges(double duration_ms, double hi_hz, int per_decade = 12);
// The highest rate a neuron of the configuration can fire [Hz]: one spike
// per refractory period (or per step), whatever the weights; the firing-rate
// axes end there, so the figures of one configuration (a training run's
// initial and final state) share them.
double max_rate_hz(const Config& config);
// Top of an axis of fractions whose largest value is `max_fraction`: room
// above the data, never past 1.
double fraction_axis_max(double max_fraction);
// The smallest of 1, 2, 5 x 10^k that is >= x: a tick interval.
double nice_step(double x);
// A round upper limit >= x (1, 2, 2.5, 5 x 10^k).
double nice_ceil(double x);
// y axis for non-negative series: log when the positive values span more
// than two decades, else linear from 0 to a round limit.
void y_range(const std::vector<std::vector<double>>& series, Axes& a);
// The q-quantile (0..1) of the finite values; 0 if none.
double quantile(std::vector<double> values, double q);

std::string format_number(double x);  // shortest readable form: 0.5, 12, 1.2e+03
double run_duration_ms(const RunData& d);

}  // namespace homeostat::plot
