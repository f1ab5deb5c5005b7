// `homeostat gradient`: one chunk forward and backward from the initial
// state; writes every loss and the gradient of the weighted total (and of
// each requested loss) with respect to every synaptic weight, as dense
// [pre, post] arrays. "Which synapses does homeostasis want to change?"
#include "commands.hpp"
#include "common.hpp"

#include "homeostat/grad.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/io/network_io.hpp"
#include "homeostat/io/npy.hpp"
#include "homeostat/parallel/mpi.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <filesystem>
#include <limits>
#include <memory>
#include <stdexcept>

namespace homeostat::cli {

namespace {

struct GradientCliOptions {
  CommonOptions common;
  std::string out;
  std::string network;
  std::string inputs;
  std::vector<std::string> losses;
  std::int64_t trials = 0;
  std::int64_t checkpoint_every = 0;
  bool double_precision = false;
  double sparse_cutoff = 0.0;
  bool overwrite = false;
  bool force = false;
};

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // kB on Linux
}

int run_gradient(const GradientCliOptions& o, const parallel::MpiContext* mpi) {
  // Refused before any work, as the other commands refuse an existing output.
  check_output_file(o.out, o.overwrite,
                    {{"the configuration", o.common.params}, {"the --network file", o.network},
                     {"the --inputs file", o.inputs}});
  // A directory it cannot write into is found now, not after the work.
  const std::filesystem::path out_dir = std::filesystem::path(o.out).parent_path();
  if (::access(out_dir.empty() ? "." : out_dir.c_str(), W_OK) != 0)
    throw std::runtime_error(fmt::format("{}: cannot write into {}: {}", o.out,
                                         out_dir.empty() ? "." : out_dir.string(), std::strerror(errno)));
  const Config config = resolve_config(o.common);
  run::GradientRequest req;
  for (const auto& name : o.losses) req.losses.push_back(parse_loss_term(name));  // reject before any work
  req.trials = o.trials;
  req.checkpoint_every = o.checkpoint_every;
  req.double_precision = o.double_precision;
  req.sparse_cutoff = o.sparse_cutoff;
  req.threads = o.common.threads;
  req.force = o.force;
  req.mpi = mpi;
  const bool root = mpi == nullptr || mpi->root();  // rank 0 alone prints and writes
  // One process: Ctrl-C from here on stops at the next safe point (between
  // BPTT segments) and writes nothing. Several ranks: no rank may stop alone
  // inside the gradient (the others would wait at its reduction), so the
  // signals keep their default and mpirun ends every rank.
  const Console console(mpi == nullptr);
  const Network net = o.network.empty() ? generate_network(config) : io::load_network(o.network, config);
  std::unique_ptr<ReplayInputs> replay;
  if (!o.inputs.empty()) replay = run::load_input_spikes(o.inputs, net.m, o.trials);
  const int threads = omp_get_max_threads();
  if (root) fmt::print("homeostat gradient: N = {}, M = {}, {} trial(s) x {} steps, {} precision, {} thread(s), trains {}\n",
             net.n, net.m,
             o.trials > 0 ? o.trials : replay ? replay->n_trials() : config.training.batch_size,
             replay ? replay->n_steps() : config.simulation.chunk_size, o.double_precision ? "double" : "float",
             o.common.threads > 0 ? o.common.threads : threads, to_string(config.training.optimisable));
  if (root) fmt::print("  rate loss: {}\n",
             describe_rate_loss(config.hyperparameters.rate_loss,
                                o.trials > 0 ? o.trials : replay ? replay->n_trials() : config.training.batch_size));
  if (mpi && root) fmt::print("  {} ranks share the trials, whole atoms of {} trials each\n", mpi->size(), trial_atom);
  std::fflush(stdout);
  const run::GradientResult g = run::gradient(config, net, replay.get(), req, console.callbacks());
  if (g.status == run::Status::interrupted) {
    fmt::print(stderr, "Interrupted: no gradient computed, {} not written\n", o.out);
    return exit_code(g.status);
  }
  if (!root) return 0;

  report_removed(io::remove_stale_temp_files_of(o.out));  // what a killed gradient left
  io::NpzWriter npz;
  for (const run::NamedArray& a : g.arrays) npz.add(a.name, a.dtype, a.shape, a.bytes.data());
  npz.write(o.out);
  auto scalar = [&](const std::string& name) {
    for (const run::NamedArray& a : g.arrays)
      if (a.name == name) return *reinterpret_cast<const double*>(a.bytes.data());
    return 0.0;
  };
  fmt::print("  total loss {:.6g}\n", scalar("loss_total"));
  for (const LossTerm t : all_loss_terms) fmt::print("  {}_loss: {:.6g}\n", to_string(t), scalar("loss_" + to_string(t)));
  fmt::print("  forward + backward: {:.3g} s; checkpoints every {} steps; state memory {:.3g} MB; peak RSS {:.0f} MB\n",
             g.seconds, g.checkpoint_every, static_cast<double>(g.peak_state_bytes) / 1e6, peak_rss_mb());
  fmt::print("✓ Wrote {}\n", o.out);
  return 0;
}

}  // namespace

Action setup_gradient(CLI::App& app, int /*argc*/, char** /*argv*/) {
  auto* cmd = app.add_subcommand(
      "gradient", "One chunk forward and backward: every loss and its gradient w.r.t. every synaptic weight");
  auto o = std::make_shared<GradientCliOptions>();
  add_common_options(*cmd, o->common);
  cmd->add_option("-o,--output", o->out, "Output .npz (losses, gradients as dense [pre, post] arrays, spikes)")
      ->required();
  cmd->add_flag("--overwrite", o->overwrite, "Replace an existing output file");
  cmd->add_flag("--force", o->force, "Go ahead although the estimated memory exceeds what the machine has");
  cmd->add_option("--network", o->network, "Load network_structure.npz instead of generating one")
      ->check(CLI::ExistingFile);
  cmd->add_option("--inputs", o->inputs,
                  "Input spikes .npy [trials, steps, M]: the chunk is its length (default: Poisson, chunk_size steps)")
      ->check(CLI::ExistingFile);
  std::string term_names;
  for (const LossTermInfo& t : loss_terms) term_names += (term_names.empty() ? "" : ", ") + std::string(t.name);
  cmd->add_option("--losses", o->losses,
                  "Also the gradient of each of these alone: " + term_names + " (comma-separated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--trials", o->trials, "Trials (default training.batch_size, or all trials in --inputs)")
      ->check(whole_number(1, std::numeric_limits<std::int64_t>::max()));
  cmd->add_option("--checkpoint-every", o->checkpoint_every,
                  "Keep the state every K steps (default sqrt(steps), at least 16)")
      ->check(whole_number(0, std::numeric_limits<std::int64_t>::max()));
  cmd->add_flag("--double", o->double_precision, "Simulate and differentiate in double precision (default float)");
  cmd->add_option("--sparse-cutoff", o->sparse_cutoff,
                  "Approximate: drop surrogate slopes below this (e.g. 1e-3) and skip the neurons left without "
                  "one (default 0: exact)")
      ->check(finite_at_least(0));
  cmd->footer("Exit codes: 0 done, 1 error, 2 configuration error, 130 interrupted (nothing written).");
  return [o] { return with_ranks([&](const parallel::MpiContext* mpi) { return run_gradient(*o, mpi); }); };
}

}  // namespace homeostat::cli
