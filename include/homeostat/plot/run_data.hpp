// What the figures of a run are drawn from, in memory: the configuration,
// the connectome, the spike trains of every trial, the inputs of trial 0 and
// a short window of recorded dynamics for a few neurons per cell type.
//
// `load_run` fills it from a `simulate` run directory (results/*.npy,
// network_structure.npz, parameters.toml), reading the large rasters once,
// slab by slab, into sparse spike trains; a caller that holds the data
// already (tests, training) fills it directly. Statistics are recomputed from
// the spikes, so the figures depend on the saved data alone.
#pragma once

#include "homeostat/analysis.hpp"
#include "homeostat/config.hpp"
#include "homeostat/connectome.hpp"

#include <cstdint>
#include <filesystem>
#include <vector>

namespace homeostat::plot {

// A window of trial 0 for a few recorded neurons (MODEL.md 4 recording
// convention: index t holds the state after step t). Each array is empty
// when that quantity was not recorded.
struct Dynamics {
  std::vector<std::int64_t> neurons;  // [K] global neuron indices, ascending
  std::int64_t t0 = 0;                // first global step of the window
  std::int64_t n_steps = 0;
  std::int64_t n_receptors = 0;       // R, receptor columns (model.hpp order)
  std::vector<float> voltages;        // [n_steps][K] mV
  std::vector<float> conductances;    // [n_steps][K][2][R] nS, part 0 = rise u, 1 = decay d
  std::vector<float> currents;        // [n_steps][K][R] pA, outward positive

  bool empty() const { return neurons.empty() || n_steps == 0; }
};

struct RunData {
  Config config;
  Network network;
  std::vector<SpikeTrains> output_spikes;  // [trial] recurrent neurons
  SpikeTrains input_spikes;                // trial 0, neurons = inputs (times empty: not available)
  Dynamics dynamics;
};

struct LoadOptions {
  double dynamics_window_ms = 1000.0;  // from the start of trial 0
  int dynamics_per_type = 3;           // recorded neurons kept per cell type, evenly spread
};

// The configuration of run directory `dir`: DIR/parameters.toml, or for a
// state directory of a training run (DIR/initial_state, DIR/final_state:
// network_structure.npz and results/, no parameters.toml) the run's own,
// DIR/../parameters.toml.
std::filesystem::path run_parameters(const std::filesystem::path& dir);

// Reads a `simulate` run directory or a training run's state directory. Throws std::runtime_error (or
// ConfigError for parameters.toml) naming the file and what is wrong.
// Recordings (output_voltages/conductances/currents.npy) are optional.
RunData load_run(const std::filesystem::path& dir, const LoadOptions& options = {});

// The recordings only (spikes, inputs, dynamics), into `data` whose config
// and network are set already: `simulate` still holds them in memory, and
// reloading a large network_structure.npz (deflated) costs seconds.
void load_recordings(const std::filesystem::path& dir, RunData& data, const LoadOptions& options = {});

// Up to `per_type` of `recorded` (ascending) for each cell type, evenly
// spread over that type's recorded neurons; ascending.
std::vector<std::int64_t> pick_per_type(const std::vector<std::int64_t>& recorded,
                                        const std::vector<std::int32_t>& cell_type, int per_type);

}  // namespace homeostat::plot
