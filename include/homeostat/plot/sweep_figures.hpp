// Figures of a parameter sweep (`homeostat sweep`), from plain data: the
// grid's dimensions and each point's final rate and fraction of active
// neurons per cell type.
//
//   sweep_heatmap_<a>_<b>.png   for each pair of dimensions: rate and fraction
//                               active per type over the (a, b) grid, each cell
//                               the mean over the other dimensions and seeds
//   sweep_line_<a>.png          for each dimension: the mean over the others
//                               against its values, error bars = sd over seeds
//                               (when a seed axis exists), every point as a dot
//
// A seed axis (key ending in "seed") is averaged over, never plotted against.
// Points without results (failed, pending) are NaN and left out of means.
#pragma once

#include "homeostat/plot/figures.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace homeostat::plot {

struct SweepDimension {
  std::string label;
  std::vector<std::string> value_labels;  // tick labels
  std::vector<double> numbers;            // numeric values (NaN: categorical, plotted by position)
  bool is_seed = false;
};

struct SweepData {
  std::vector<SweepDimension> dimensions;
  std::vector<std::string> types;                    // recurrent cell types
  std::vector<double> target_rate;                   // [type] Hz, NaN when unknown
  std::vector<std::vector<std::size_t>> position;    // [point][dimension] value index
  std::vector<std::vector<double>> rate;             // [point][type] Hz, NaN when no result
  std::vector<std::vector<double>> fraction_active;  // [point][type]
  std::string title;                                 // e.g. the sweep file's name
};

// Every sweep figure into `dir` (created). Returns what was drawn.
std::vector<FigureOutcome> render_sweep_figures(const SweepData& data, const std::filesystem::path& dir,
                                               const FigureOptions& options = {});

}  // namespace homeostat::plot
