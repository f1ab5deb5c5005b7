// Statistics of simulated activity, per neuron and per cell type:
// firing rates, ISI coefficient of variation, Fano factor over window sizes,
// ISI distributions and membrane-potential statistics.
//
// Input is spike times as step indices (the engine's recording), the step
// length dt [ms] and the number of steps T of the recording.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace homeostat {

// Spike steps of every neuron in one trial: times[i] ascending, in [0, n_steps).
struct SpikeTrains {
  std::int64_t n_steps = 0;
  double dt = 0.1;                               // ms
  std::vector<std::vector<std::int64_t>> times;  // [neuron][spike]
};

// Rate of each neuron [Hz] = count / (n_steps * dt / 1000).
std::vector<double> firing_rates(const SpikeTrains& trains);

// CV of the inter-spike intervals of one spike train (population standard
// deviation / mean); NaN when it has fewer than 3 spikes.
double isi_cv(const std::vector<std::int64_t>& steps);

// Fano factor var(count)/mean(count) of spike counts in consecutive
// non-overlapping windows of `window_ms`, per neuron; NaN for a neuron with no
// spike or when fewer than 2 windows fit.
std::vector<double> fano_factors(const SpikeTrains& trains, double window_ms);

// Histogram of ISIs [ms] pooled over `neurons`: counts for bins
// [edges[k], edges[k+1]); ISIs outside the edges are not counted.
std::vector<std::int64_t> isi_histogram(const SpikeTrains& trains,
                                        const std::vector<std::int64_t>& neurons,
                                        const std::vector<double>& edges_ms);

// Summary of a set of values, NaNs skipped (count = non-NaN values).
struct Summary {
  std::int64_t count = 0;
  double mean = 0.0, std = 0.0, min = 0.0, median = 0.0, max = 0.0;  // NaN if count == 0
};
Summary summarize(const std::vector<double>& values);

// Per-type tables (io/analysis_csv.hpp writes them as analysis/*.csv). Rows follow the cell-type order; each
// trial's neurons are pooled (a neuron in B trials counts B times).
struct TypeGroups {
  std::vector<std::string> names;        // [type]
  std::vector<std::int32_t> cell_type;   // [neuron]
};

// Activity of each cell type over neuron-trials: rates, silent ones, ISI CVs
// (NaN, so not counted, for a neuron-trial with < 3 spikes). The numbers of
// firing_rate_statistics.csv and cv_statistics.csv.
struct TypeActivity {
  std::int64_t n = 0;       // neuron-trials
  std::int64_t silent = 0;  // neuron-trials without a spike
  Summary rate;             // [Hz]
  Summary cv;               // cv.count = neuron-trials with a CV
  double fraction_active() const;  // 1 - silent / n; NaN if n == 0
};
std::vector<TypeActivity> type_activity(const std::vector<SpikeTrains>& trials, const TypeGroups& types);

// Fano factors per cell type, for each window: [window][type] the summary
// over neuron-trials with a defined factor (count = those neuron-trials).
std::vector<std::vector<Summary>> fano_summaries(const std::vector<SpikeTrains>& trials, const TypeGroups& types,
                                                 const std::vector<double>& windows_ms);

// Per cell type over neuron-trials: mean V, sd V and membrane ratio, from
// moments v_sum[trial][neuron], v_sum_sq[trial][neuron] over `steps` steps,
// thresholds theta[neuron] (voltage_statistics.csv); membrane_moments of
// loss/common.hpp, the one definition the loss and the training metrics use.
struct MembraneStatistics {
  Summary mean_v, sd_v, ratio;  // [mV], [mV], 1
};
std::vector<MembraneStatistics> membrane_statistics(const std::vector<std::vector<double>>& v_sum,
                                                    const std::vector<std::vector<double>>& v_sum_sq,
                                                    std::int64_t steps, const std::vector<double>& theta,
                                                    const TypeGroups& types);

// ISI histogram per cell type over every trial, on `n_bins` log-spaced bins
// from one step to the recording's length (bursts and long silences alike).
struct IsiTable {
  std::vector<double> edges_ms;                   // [n_bins + 1]
  std::vector<std::vector<std::int64_t>> counts;  // [type][bin]
};
IsiTable isi_table(const std::vector<SpikeTrains>& trials, const TypeGroups& types, int n_bins = 60);

}  // namespace homeostat
