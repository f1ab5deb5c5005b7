// What the training figures are drawn from: a training run's metrics
// (DIR/training_metrics.csv, one row every log_interval chunks, or every
// chunk with training.metrics_every_chunk) and its
// configuration (DIR/parameters.toml: cell types, targets, loss weights).
//
// The CSV reader is deliberately small: a header of column names, then rows
// of numbers separated by commas; "nan", "inf" (any case, signed) and empty
// cells are accepted as NaN/Inf. Training draws its figures from the files it
// has just written, so `homeostat plot DIR` redraws the same bytes.
#pragma once

#include "homeostat/config.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace homeostat::plot {

struct MetricsTable {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;  // [row][column]

  // Index of `name`, or -1.
  int index(const std::string& name) const;
  bool has(const std::string& name) const { return index(name) >= 0; }
  // The column's values, one per row; throws std::out_of_range if absent.
  std::vector<double> column(const std::string& name) const;
};

// Parses CSV text; `what` names the source in errors. Throws
// std::runtime_error naming the line and cell that is not a number, or a row
// with the wrong number of cells.
MetricsTable parse_metrics_csv(std::string_view text, const std::string& what = "metrics CSV");
MetricsTable read_metrics_csv(const std::filesystem::path& path);

struct TrainingLog {
  Config config;
  MetricsTable metrics;  // rows in file order, chunk column "chunk"
};

// Reads DIR/training_metrics.csv and DIR/parameters.toml; with upto_chunk >=
// 0 keeps only the rows of chunks <= upto_chunk. Throws std::runtime_error
// (ConfigError for the TOML) naming the file.
TrainingLog load_training_log(const std::filesystem::path& dir, std::int64_t upto_chunk = -1);

// The metrics column of the weight change of block (pre type, post type):
// "weight_change/<kind>/<pre>_to_<post>", kind "recurrent" or "feedforward"
// (train.hpp, BlockWeightChange; a fraction, 0.1 = +10%).
std::string weight_change_column(std::string_view kind, const std::string& pre, const std::string& post);

// A training run directory: it has training_metrics.csv and no results/.
bool is_training_run(const std::filesystem::path& dir);

}  // namespace homeostat::plot
