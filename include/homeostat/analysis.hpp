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
// non-overlapping windows of `window_ms` (> 0), per neuron; NaN for a neuron
// with no spike, and for every neuron when fewer than 2 windows fit in the
// recording or the window is shorter than half a step (a short run still
// gives its table, with these rows marked n = 0, NaN).
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

// Per-type tables for analysis/*.csv. Rows follow the cell-type order; each
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

// firing_rate_statistics.csv: cell_type,n,mean_rate_hz,std_rate_hz,
// min_rate_hz,median_rate_hz,max_rate_hz,silent_count,fraction_active
std::string firing_rate_csv(const std::vector<TypeActivity>& activity, const TypeGroups& types);

// cv_statistics.csv: cell_type,n,n_with_cv,mean_cv,std_cv,median_cv
// (neurons with >= 3 spikes in a trial contribute that trial's CV).
std::string cv_csv(const std::vector<TypeActivity>& activity, const TypeGroups& types);

// fano_factor.csv: window_ms,cell_type,n,mean_fano,std_fano
std::string fano_csv(const std::vector<SpikeTrains>& trials, const TypeGroups& types,
                     const std::vector<double>& windows_ms);

// Membrane statistics of recorded voltages v[trial][step][k] for the recorded
// neurons `neurons[k]` with thresholds theta[neuron]:
// voltage_statistics.csv: cell_type,n,mean_v_mv,mean_sd_v_mv,mean_membrane_ratio
// where membrane_ratio = sd(v) / (theta - mean(v)) per neuron and trial.
std::string voltage_csv(const std::vector<float>& voltages, std::int64_t n_trials,
                        std::int64_t n_steps, const std::vector<std::int64_t>& neurons,
                        const std::vector<double>& theta, const TypeGroups& types);

}  // namespace homeostat
