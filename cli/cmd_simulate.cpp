// `homeostat simulate`: stage 1. Generate (or load) a connectome, simulate
// `duration`, write results, analysis and the run's files.
#include "commands.hpp"
#include "common.hpp"
#include "simulate_run.hpp"

#include "homeostat/io/files.hpp"
#include "homeostat/io/input_spikes.hpp"
#include "homeostat/io/network_io.hpp"
#include "homeostat/io/npy.hpp"
#include "homeostat/plot/run_data.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <set>
#include <sstream>

namespace homeostat::cli {

namespace {

struct SimulateOptions {
  CommonOptions common;
  std::string out;
  std::string network;
  std::string inputs;
  std::vector<std::string> record;
  std::string neurons;
  std::int64_t trials = 0;  // 0: 1, or the number of trials in --inputs
  bool overwrite = false;
  bool no_figures = false;
  RunInfo info;
};

int run_simulate(SimulateOptions& o) {
  // Everything is checked before the output directory is touched.
  const Config config = resolve_config(o.common);
  const int threads = apply_threads(o.common.threads);
  const std::int64_t n = config.recurrent.num_neurons;
  const std::int64_t m = config.feedforward.num_neurons;

  SimulateRequest req;
  req.steps = std::llround(config.simulation.duration / config.simulation.dt);
  for (const auto& what : o.record) {
    if (what == "voltages") req.record.voltages = true;
    else if (what == "conductances") req.record.conductances = true;
    else if (what == "currents") req.record.currents = true;
    else throw std::invalid_argument(fmt::format("--record: unknown quantity '{}' (voltages, conductances, currents)", what));
  }
  if (!o.neurons.empty()) req.record.neurons = parse_neuron_list(o.neurons, n);
  else for (std::int64_t i = 0; i < n; ++i) req.record.neurons.push_back(i);

  Network net;
  if (!o.network.empty()) net = io::load_network(o.network, config);
  else net = generate_network(config);
  // Without --record, the dynamics figures get a small default recording:
  // 3 neurons per cell type, evenly spread (a few MB per simulated second).
  if (o.record.empty() && !o.no_figures) {
    req.record.voltages = req.record.conductances = req.record.currents = true;
    if (o.neurons.empty()) req.record.neurons = plot::pick_per_type(req.record.neurons, net.cell_type, 3);
  }

  std::unique_ptr<ReplayInputs> replay;
  req.trials = o.trials > 0 ? o.trials : 1;
  if (!o.inputs.empty()) {
    replay = io::load_input_spikes(o.inputs, m, o.trials);
    if (o.trials == 0) req.trials = replay->n_trials();
    if (replay->n_steps() < req.steps)
      throw std::runtime_error(fmt::format(
          "{}: holds {} steps ({} ms), the simulation needs {} ({} ms); shorten it with --set simulation.duration=...",
          o.inputs, replay->n_steps(), static_cast<double>(replay->n_steps()) * config.simulation.dt, req.steps,
          config.simulation.duration));
    req.replay = replay.get();
  }

  const auto k = static_cast<double>(req.record.neurons.size());
  const double gb = static_cast<double>(req.trials * req.steps) *
                    (static_cast<double>(n + m) + 4.0 * k * (req.record.voltages + 0.0) +
                     4.0 * k * 5.0 * (2.0 * req.record.conductances + req.record.currents)) / 1e9;
  prepare_output_dir(o.out, o.overwrite);
  for (const auto& p : io::remove_stale_temp_files(o.out)) fmt::print(stderr, "note: removed {}, left by a killed run\n", p.string());
  fmt::print("homeostat simulate: N = {} neurons, M = {} inputs, {} trial(s) x {} ms ({} steps), {} thread(s)\n", n, m,
             req.trials, config.simulation.duration, req.steps, threads);
  fmt::print("  network: {}; inputs: {}; recordings about {:.2g} GB\n",
             o.network.empty() ? fmt::format("generated ({}, seed {})", to_string(config.recurrent.method), config.simulation.seed)
                               : o.network,
             o.inputs.empty() ? "Poisson" : o.inputs, gb);

  const SimulateSummary s = simulate_to_dir(config, net, req, o.out);

  const double sim_seconds = static_cast<double>(req.trials) * config.simulation.duration / 1000.0;
  nlohmann::json meta = metadata(o.info, config, threads);
  meta["simulate"] = {{"trials", req.trials},
                      {"steps", req.steps},
                      {"network_source", o.network.empty() ? "generated" : o.network},
                      {"input_source", o.inputs.empty() ? "poisson" : o.inputs},
                      {"recorded_neurons", req.record.neurons.size()},
                      {"recurrent_spikes", s.recurrent_spikes},
                      {"input_spikes", s.input_spikes},
                      {"synaptic_events", s.synaptic_events},
                      {"simulation_wall_seconds", s.wall_seconds},
                      {"realtime_factor", sim_seconds / s.wall_seconds}};
  write_run_files(o.out, config, meta);

  for (std::size_t t = 0; t < s.mean_rate_hz.size(); ++t)
    fmt::print("  mean firing rate {}: {:.3g} Hz\n", config.recurrent.type_names[t], s.mean_rate_hz[t]);
  fmt::print("  {:.3g} s simulated in {:.3g} s wall ({:.3g}x real time), {:.3g} synaptic events/s\n", sim_seconds,
             s.wall_seconds, sim_seconds / s.wall_seconds, static_cast<double>(s.synaptic_events) / s.wall_seconds);
  fmt::print("✓ Wrote {}/ (results/, analysis/, network_structure.npz, parameters.toml, metadata.json)\n", o.out);
  if (!o.no_figures) write_run_figures(o.out, std::filesystem::path(o.out) / "figures", false, {}, &config, &net);
  return 0;
}

}  // namespace

Action setup_simulate(CLI::App& app, int argc, char** argv) {
  auto* cmd = app.add_subcommand("simulate", "Stage 1: generate or load a connectome and simulate it");
  auto o = std::make_shared<SimulateOptions>();
  o->info.command = command_line(argc, argv);
  add_common_options(*cmd, o->common);
  cmd->add_option("-o,--output", o->out, "Output directory")->required();
  cmd->add_option("--network", o->network, "Load network_structure.npz instead of generating one")
      ->check(CLI::ExistingFile);
  cmd->add_option("--inputs", o->inputs, "Replay input spikes from an .npy of shape [trials, steps, M]")
      ->check(CLI::ExistingFile);
  cmd->add_option("--record", o->record,
                  "Also record: voltages, conductances, currents (comma-separated; default: all three for 3 "
                  "neurons per cell type, for the figures)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--neurons", o->neurons, "Neurons to record, e.g. 0:100,250 (default all)");
  cmd->add_option("--trials", o->trials, "Independent trials (default 1, or all trials in --inputs)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--overwrite", o->overwrite, "Write into an existing non-empty output directory");
  cmd->add_flag("--no-figures", o->no_figures, "Skip DIR/figures/ (and the default recording made for them)");
  return [o] { return run_simulate(*o); };
}

}  // namespace homeostat::cli
