// A simulation written to a directory: results/ (NPY), network_structure.npz
// and analysis/ (CSV). Used by `simulate` and, for the initial and final
// states, by the training commands.
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/connectome.hpp"
#include "homeostat/inputs.hpp"
#include "homeostat/sim.hpp"

#include <filesystem>
#include <string>

namespace homeostat::cli {

struct SimulateRequest {
  std::int64_t trials = 1;
  std::int64_t steps = 0;
  RecordSpec record;                      // neurons, voltages, conductances, currents
  const InputSource* replay = nullptr;    // recorded inputs instead of Poisson
  std::string progress_label = "simulate";
};

// Summary printed by the command and stored in metadata.json.
struct SimulateSummary {
  std::int64_t recurrent_spikes = 0;
  std::int64_t input_spikes = 0;
  std::int64_t synaptic_events = 0;  // spike deliveries to targets x receptors
  double wall_seconds = 0;          // the simulation loop (with its streaming writes) only
  std::vector<double> mean_rate_hz;     // [cell type]
  std::vector<double> fraction_active;  // [cell type] neuron-trials with at least one spike
  std::vector<double> mean_cv;          // [cell type] ISI CV over neuron-trials with >= 3 spikes (NaN if none)
};

SimulateSummary simulate_to_dir(const Config& config, const Network& network, const SimulateRequest& request,
                                const std::filesystem::path& dir);

// "0:100,250" -> {0..99, 250}: sorted, unique, each < n. Throws on bad syntax.
std::vector<std::int64_t> parse_neuron_list(const std::string& spec, std::int64_t n);

}  // namespace homeostat::cli
