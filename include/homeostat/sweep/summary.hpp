// The summary of a sweep, rebuilt from its run directories alone (so after
// a crash, from Slurm array tasks, or by `homeostat sweep --summarize DIR`):
// DIR/sweep_status.csv, DIR/sweep_summary.csv and DIR/figures/.
#pragma once

#include "homeostat/sweep/grid.hpp"
#include "homeostat/sweep/runner.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace homeostat::sweep {

// A finished point's final metrics, named as the summary's columns:
// mean_rate_hz/<type>, std_rate_hz/<type>, mean_cv/<type>,
// fraction_active/<type>, membrane_ratio/<type> (from analysis/*.csv, or
// final_state/analysis/ for train and feedback), and for train and feedback
// chunk, total_loss and each <term>_loss from the last training_metrics.csv row.
std::vector<std::pair<std::string, double>> point_metrics(Command command, const std::filesystem::path& run);

struct SummaryCounts {
  std::size_t done = 0, failed = 0, pending = 0;
};

// Reads every point's state and metrics; writes the status and summary CSVs
// and, with `figures`, the figures. Returns the counts of each state.
SummaryCounts write_summary(const Sweep& sweep, const std::filesystem::path& out, bool figures);

}  // namespace homeostat::sweep
