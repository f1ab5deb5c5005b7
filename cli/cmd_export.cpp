// `homeostat export CHECKPOINT -o network_structure.npz`: the network a
// training checkpoint (latest or best, of `train` or `feedback`) stands for,
// as the file every command (`--network`) and stage 3 load.
#include "commands.hpp"
#include "common.hpp"

#include "homeostat/io/files.hpp"

#include "homeostat/io/checkpoint.hpp"
#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/network_io.hpp"
#include "homeostat/train.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace homeostat::cli {

namespace {

namespace fs = std::filesystem;

struct ExportOptions {
  std::string checkpoint;
  std::string out;
  bool overwrite = false;
};

// Mean |ln(w / w_initial)| over the edges: how far training moved the weights.
double mean_log_change(const Csr& now, const Csr& initial) {
  double sum = 0;
  for (std::size_t e = 0; e < now.weight.size(); ++e) sum += std::abs(std::log(now.weight[e] / initial.weight[e]));
  return now.weight.empty() ? 0.0 : sum / static_cast<double>(now.weight.size());
}

int run_export(const ExportOptions& o) {
  // A checkpoint belongs to its run directory: DIR/checkpoints/NAME.npz, with
  // the run's configuration and starting network beside it.
  const fs::path checkpoint = o.checkpoint;
  const fs::path dir = checkpoint.parent_path().parent_path();
  const fs::path params = dir / "parameters.toml", initial = dir / "initial_state" / "network_structure.npz";
  for (const fs::path& p : {params, initial})
    if (!fs::exists(p))
      throw std::runtime_error(fmt::format("{}: {} not found; a checkpoint is exported from its run directory "
                                           "(DIR/checkpoints/*.npz beside DIR/parameters.toml and DIR/initial_state/)",
                                           checkpoint.string(), p.string()));
  // The run's own files are never replaced, --overwrite or not: exporting
  // checkpoint_best over checkpoint_latest would end the run's resume.
  const fs::path checkpoints = checkpoint.parent_path();
  check_output_file(o.out, o.overwrite,
                    {{"the checkpoint", checkpoint},
                     {"the run's checkpoint", checkpoints / "checkpoint_latest.npz"},
                     {"the run's checkpoint", checkpoints / "checkpoint_best.npz"},
                     {"the run's configuration", params},
                     {"the run's initial network", initial}});
  const Config config = io::load_run_config(params);
  const Network start = io::load_network(initial, config);
  const TrainerState state = io::load_checkpoint(checkpoint, config);
  const Network net = trained_network(config, start, state);
  report_removed(io::remove_stale_temp_files_of(o.out));  // what a killed export left
  io::save_network(o.out, net);
  fmt::print("homeostat export: {} ({} chunks of `homeostat {}`) -> {}\n", checkpoint.string(), state.chunks_done,
             to_string(state.method), o.out);
  fmt::print("  N = {}, M = {}; mean |ln(w / w_initial)|: recurrent {:.4g}, feedforward {:.4g}\n", net.n, net.m,
             mean_log_change(net.recurrent, start.recurrent), mean_log_change(net.feedforward, start.feedforward));
  return 0;
}

}  // namespace

Action setup_export(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "export", "Write the network of a training checkpoint as network_structure.npz (for --network and stage 3)");
  auto o = std::make_shared<ExportOptions>();
  cmd->add_option("checkpoint", o->checkpoint, "DIR/checkpoints/checkpoint_latest.npz or checkpoint_best.npz")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", o->out, "The network file to write (.npz)")->required();
  cmd->add_flag("--overwrite", o->overwrite, "Replace an existing output file");
  cmd->footer("The run's parameters.toml and initial_state/network_structure.npz are read from the checkpoint's run "
              "directory.");
  return [o] { return run_export(*o); };
}

}  // namespace homeostat::cli
