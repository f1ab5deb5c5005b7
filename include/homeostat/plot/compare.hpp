// Several training runs side by side (`homeostat compare RUN...`): where
// each ended against its targets, and their rate and loss curves on common
// axes.
#pragma once

#include "homeostat/plot/figures.hpp"
#include "homeostat/plot/training_log.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace homeostat::plot {

// Where one cell type of a run stands at its end.
struct TypeOutcome {
  std::string name;
  double target_rate = 0;   // Hz
  double rate = 0;          // Hz
  double fraction_active = 0;
  double mean_cv = 0;       // NaN when no neuron had enough spikes
  double target_cv = 1;
  double membrane_ratio = 0;  // from the last logged chunk (NaN if none)
  double target_membrane_ratio = 0;

  double rate_error_percent() const {  // 100 (rate - target) / target; NaN for a target of 0
    return target_rate > 0 ? 100.0 * (rate - target_rate) / target_rate : NAN;
  }
};

// metadata.json's "target_summary" of a finished training run, so that runs
// compare by a script: {"rates_from": "final_state", "membrane_ratio_from_chunk":
// C, "types": {<type>: {"rate_hz", "target_rate_hz", "error_percent",
// "active_percent", "cv", "target_cv", "membrane_ratio",
// "target_membrane_ratio"}}}; a value that does not exist (CV without
// neurons of >= 3 spikes, membrane ratio without a chunk) is null.
nlohmann::ordered_json target_summary_json(const std::vector<TypeOutcome>& types, std::int64_t membrane_chunk);
// Its types back, in the file's order; throws naming what is missing.
std::vector<TypeOutcome> read_target_summary(const nlohmann::ordered_json& summary);

struct RunOutcome {
  std::filesystem::path dir;
  std::string label;        // what tables and legends call it: the directory's name, made unique
  TrainingLog log;
  std::string method;       // "train" or "feedback" (metadata.json's block)
  double chunks_logged = 0; // the last logged chunk
  double last_total_loss = 0;
  // "final state": metadata.json's target_summary (the final state's
  // `simulation.duration` run after training); "last chunk": the run
  // stopped before its final state (or predates the summary), so from the
  // last metrics row (rates over the chunk's trials).
  std::string source;
  std::vector<TypeOutcome> types;
};

// Reads DIR/training_metrics.csv, DIR/parameters.toml and, when present,
// the target_summary of DIR/metadata.json. Throws
// std::runtime_error naming the file when DIR is not a training run.
RunOutcome load_run_outcome(const std::filesystem::path& dir);

// Labels from the directories' names, with parent folders added where two
// would be the same.
void label_runs(std::vector<RunOutcome>& runs);

// The comparison's figures into `dir`: compare_rates.png (each type's mean
// rate per chunk for every run, targets dashed) and compare_losses.png
// (total loss per chunk). Returns the files written.
std::vector<std::filesystem::path> render_compare_figures(const std::vector<RunOutcome>& runs,
                                                          const std::filesystem::path& dir,
                                                          const FigureOptions& options = {});

}  // namespace homeostat::plot
