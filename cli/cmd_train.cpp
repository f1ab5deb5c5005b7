// `homeostat train` and `homeostat feedback`: stage 2, homeostatic training
// by gradients or by the feedback rule (run::train does the work).
#include "commands.hpp"
#include "common.hpp"

#include "homeostat/io/network_io.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <memory>

namespace homeostat::cli {

namespace {

struct TrainOptions {
  Method method = Method::gradient;
  CommonOptions common;
  std::string out;
  std::string network;
  std::string resume;
  bool overwrite = false;
  bool force = false;
  std::string command;
};

int run_train(const TrainOptions& o, const parallel::MpiContext* mpi) {
  run::TrainRequest req;
  req.mpi = mpi;
  req.method = o.method;
  req.output_dir = o.out;
  req.resume = o.resume;
  req.overwrite = o.overwrite;
  req.force = o.force;
  req.threads = o.common.threads;
  req.command_line = o.command;
  if (!o.resume.empty()) {
    if (!o.common.params.empty())
      throw std::invalid_argument("--resume continues with the run's own parameters.toml: no PARAMS (only --set "
                                  "simulation.num_chunks=N, to extend the run)");
    if (!o.network.empty())
      throw std::invalid_argument("--resume continues from the run's own initial_state/network_structure.npz: no "
                                  "--network");
    req.overrides = o.common.overrides;
  } else {
    if (o.out.empty()) throw std::invalid_argument(to_string(o.method) + ": give the output directory with -o DIR");
    req.config = resolve_config(o.common);
    if (!o.network.empty()) req.network = io::load_network(o.network, req.config);
  }
  const Console console;
  const run::TrainSummary s = run::train(req, console.callbacks());
  if (s.status == run::Status::non_finite)
    fmt::print(stderr, "error: {}; stopped without writing a checkpoint (the last one, if any, is intact)\n", s.reason);
  return exit_code(s.status);
}

void setup_training_command(CLI::App& app, int argc, char** argv, Method method, const std::shared_ptr<TrainOptions>& o) {
  const bool gradient = method == Method::gradient;
  const std::string name = to_string(method);
  auto* cmd = app.add_subcommand(
      name, gradient ? "Stage 2: train the synaptic weights to the homeostatic targets (BPTT)"
                     : "Stage 2: homeostatic synaptic scaling from observed rates, no gradients ([feedback] section)");
  o->method = method;
  o->command = command_line(argc, argv);
  add_common_options(*cmd, o->common);
  cmd->add_option("-o,--output", o->out, "Output directory (with --resume: the run's directory, by default)");
  cmd->add_option("--network", o->network, "Start from network_structure.npz instead of generating one")
      ->check(CLI::ExistingFile);
  cmd->add_option("--resume", o->resume,
                  "Continue a run from DIR/checkpoints/checkpoint_latest.npz; with --set simulation.num_chunks=N, "
                  "extend it to N chunks")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--overwrite", o->overwrite, "Empty an existing homeostat run directory and start a new run in it");
  cmd->add_flag("--force", o->force, "Go ahead although the estimated memory or disk exceeds what the machine has");
  cmd->footer("Figures every log_interval chunks in DIR/figures/chunk_XXXX/; `homeostat plot DIR` redraws them.\n"
              "Exit codes: 0 done, 1 error, 2 configuration error, 3 non-finite values, 130 interrupted "
              "(checkpoint written; resume with --resume).");
}

}  // namespace

Action setup_train(CLI::App& app, int argc, char** argv) {
  auto o = std::make_shared<TrainOptions>();
  setup_training_command(app, argc, argv, Method::gradient, o);
  return [o] { return with_ranks([&](const parallel::MpiContext* mpi) { return run_train(*o, mpi); }); };
}

Action setup_feedback(CLI::App& app, int argc, char** argv) {
  auto o = std::make_shared<TrainOptions>();
  setup_training_command(app, argc, argv, Method::feedback, o);
  return [o] { return with_ranks([&](const parallel::MpiContext* mpi) { return run_train(*o, mpi); }); };
}

}  // namespace homeostat::cli
