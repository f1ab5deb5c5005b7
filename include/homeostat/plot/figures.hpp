// Figures of a run, one PNG each (PLplot, cairo `pngcairo` device).
//
// The catalogue is a list of named figures, each a function of plain data
// (RunData) and FigureOptions; nothing here knows the command line. A figure
// whose data is missing (e.g. no recorded voltages) is skipped with a reason
// rather than drawn empty. Training figures (loss curves, rates vs targets
// over chunks) are a second catalogue over a training log (TrainingLog),
// drawn by the same canvas.
//
// Threads: PLplot keeps its current stream in a process-wide variable and is
// not thread-safe, so every figure is drawn while holding one library-wide
// mutex. Any thread may call these functions (e.g. a background worker during
// training); figures are drawn one at a time.
//
// Determinism: the same data and options give byte-identical PNGs (cairo
// writes no timestamp or metadata chunk).
#pragma once

#include "homeostat/plot/run_data.hpp"
#include "homeostat/plot/training_log.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace homeostat::plot {

struct FigureOptions {
  int width = 1200;                 // px
  int height = 800;                 // px
  double raster_window_ms = 2000.0; // rasters show the first window of trial 0
  int raster_max_neurons = 300;     // rows of the output raster (a stratified subset)
  int raster_max_inputs = 300;      // rows of the input raster
  int matrix_max_bins = 250;        // connectivity matrices are binned to at most this many cells a side
};

struct FigureInfo {
  std::string name;  // file stem: DIR/NAME.png
  std::string what;  // one line: what it shows
};

// The figures of a `simulate` run, in drawing order.
const std::vector<FigureInfo>& simulate_figures();

// Draws figure `name` to `png` (written atomically). Returns "" when drawn,
// otherwise why it was skipped (missing data). Throws std::invalid_argument
// for an unknown name, std::runtime_error when drawing fails.
std::string render_figure(const std::string& name, const RunData& data, const std::filesystem::path& png,
                          const FigureOptions& options = {});

struct FigureOutcome {
  std::string name;
  std::filesystem::path path;  // empty when skipped
  std::string skipped;         // reason, empty when drawn
  double seconds = 0.0;        // wall time to draw and write
};

// Every figure of simulate_figures() into `dir` (created), as DIR/NAME.png.
// `stop`, when given, is asked before each figure: once it says true the
// rest are left undrawn (those drawn are whole: every PNG is written
// atomically) and only the figures attempted are returned.
std::vector<FigureOutcome> render_simulate_figures(const RunData& data, const std::filesystem::path& dir,
                                                   const FigureOptions& options = {},
                                                   const std::function<bool()>& stop = {});

// The figures of a training run (from training_metrics.csv), in drawing order.
const std::vector<FigureInfo>& training_figures();

// As render_figure, for a figure of training_figures().
std::string render_training_figure(const std::string& name, const TrainingLog& log, const std::filesystem::path& png,
                                   const FigureOptions& options = {});

// Every figure of training_figures() into `dir` (created), as DIR/NAME.png.
std::vector<FigureOutcome> render_training_figures(const TrainingLog& log, const std::filesystem::path& dir,
                                                   const FigureOptions& options = {});

}  // namespace homeostat::plot
