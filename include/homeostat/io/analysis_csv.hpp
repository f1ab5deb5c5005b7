// The analysis tables of a simulation as CSV (DIR/analysis/*.csv): the core
// computes the statistics (analysis.hpp), this writes them. Type names are
// quoted (RFC 4180) only when they need it.
#pragma once

#include "homeostat/analysis.hpp"

#include <string>
#include <vector>

namespace homeostat::io {

// firing_rate_statistics.csv: cell_type,n,mean_rate_hz,std_rate_hz,
// min_rate_hz,median_rate_hz,max_rate_hz,silent_count,fraction_active
std::string firing_rate_csv(const std::vector<TypeActivity>& activity, const TypeGroups& types);

// cv_statistics.csv: cell_type,n,n_with_cv,mean_cv,std_cv,median_cv
// (neurons with >= 3 spikes in a trial contribute that trial's CV).
std::string cv_csv(const std::vector<TypeActivity>& activity, const TypeGroups& types);

// fano_factor.csv: window_ms,cell_type,n,mean_fano,std_fano, from
// fano_summaries(trials, types, windows_ms) (n = neuron-trials with a factor).
std::string fano_csv(const std::vector<double>& windows_ms, const std::vector<std::vector<Summary>>& fano,
                     const TypeGroups& types);

// voltage_statistics.csv: cell_type,n,mean_v_mv,mean_sd_v_mv,
// mean_membrane_ratio,std_membrane_ratio (n = neuron-trials).
std::string voltage_statistics_csv(const std::vector<MembraneStatistics>& stats, const TypeGroups& types);

// isi_histogram.csv: bin_start_ms,bin_end_ms,<type>... (counts).
std::string isi_histogram_csv(const IsiTable& table, const TypeGroups& types);

}  // namespace homeostat::io
