// `homeostat simulate`: stage 1. Generate (or load) a connectome, simulate
// `duration`, write results, analysis and the run's files
// (run::simulate_to_dir does the work).
#include "commands.hpp"
#include "common.hpp"

#include "homeostat/io/network_io.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>

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
  bool force = false;
  bool no_figures = false;
  std::string command;
};

// "0:100,250" -> {0..99, 250}: sorted, unique, each < n. Throws on bad syntax.
std::vector<std::int64_t> parse_neuron_list(const std::string& spec, std::int64_t n) {
  std::vector<std::int64_t> out;
  auto number = [&](const std::string& s) -> std::int64_t {
    std::size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || s.empty() || v < 0)
      throw std::invalid_argument(fmt::format("--neurons: '{}' is not a neuron index", s));
    return v;
  };
  std::size_t start = 0;
  while (start <= spec.size()) {
    const std::size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string item = spec.substr(start, comma - start);
    const std::size_t colon = item.find(':');
    std::int64_t lo, hi;
    if (colon == std::string::npos) {
      lo = number(item);
      hi = lo + 1;
    } else {
      lo = number(item.substr(0, colon));
      hi = number(item.substr(colon + 1));
      if (hi <= lo) throw std::invalid_argument(fmt::format("--neurons: empty range '{}' (use FIRST:END, END excluded)", item));
    }
    if (hi > n) throw std::invalid_argument(fmt::format("--neurons: '{}' reaches beyond the {} neurons", item, n));
    for (std::int64_t i = lo; i < hi; ++i) out.push_back(i);
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int run_simulate(const SimulateOptions& o, const parallel::MpiContext* mpi) {
  // Everything is checked before the output directory is touched.
  run::SimulateDirRequest req;
  req.config = resolve_config(o.common);
  const Config& config = req.config;
  for (const auto& what : o.record) {
    if (what == "voltages") req.record.voltages = true;
    else if (what == "conductances") req.record.conductances = true;
    else if (what == "currents") req.record.currents = true;
    else throw std::invalid_argument(fmt::format("--record: unknown quantity '{}' (voltages, conductances, currents)", what));
  }
  if (!o.neurons.empty()) req.record.neurons = parse_neuron_list(o.neurons, config.recurrent.num_neurons);
  req.default_recording = o.record.empty();
  req.figures = !o.no_figures;
  if (!o.network.empty()) {
    req.network = io::load_network(o.network, config);
    req.network_source = o.network;
  }
  std::unique_ptr<ReplayInputs> replay;
  req.trials = o.trials > 0 ? o.trials : 1;
  if (!o.inputs.empty()) {
    replay = run::load_input_spikes(o.inputs, config.feedforward.num_neurons, o.trials);
    if (o.trials == 0) req.trials = replay->n_trials();
    req.replay = replay.get();
    req.input_source = o.inputs;
  }
  req.output_dir = o.out;
  req.overwrite = o.overwrite;
  req.force = o.force;
  req.threads = o.common.threads;
  req.command_line = o.command;
  req.mpi = mpi;
  const Console console;
  return exit_code(run::simulate_to_dir(req, console.callbacks()).status);
}

}  // namespace

Action setup_simulate(CLI::App& app, int argc, char** argv) {
  auto* cmd = app.add_subcommand("simulate", "Stage 1: generate or load a connectome and simulate it");
  auto o = std::make_shared<SimulateOptions>();
  o->command = command_line(argc, argv);
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
      ->check(whole_number(1, std::numeric_limits<std::int64_t>::max()));
  cmd->add_flag("--overwrite", o->overwrite, "Empty an existing homeostat run directory and write into it");
  cmd->add_flag("--force", o->force, "Go ahead although the estimated memory or disk exceeds what the machine has");
  cmd->add_flag("--no-figures", o->no_figures, "Skip DIR/figures/ (and the default recording made for them)");
  cmd->footer("Exit codes: 0 done, 1 error, 2 configuration error, 130 interrupted (no recordings kept).");
  return [o] { return with_ranks([&](const parallel::MpiContext* mpi) { return run_simulate(*o, mpi); }); };
}

}  // namespace homeostat::cli
