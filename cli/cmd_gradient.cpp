// `homeostat gradient`: one chunk forward and backward from the initial
// state; writes every loss and the gradient of the weighted total (and of
// each requested loss) with respect to every synaptic weight, as dense
// [pre, post] arrays. "Which synapses does homeostasis want to change?"
#include "commands.hpp"
#include "common.hpp"

#include "homeostat/grad.hpp"
#include "homeostat/io/input_spikes.hpp"
#include "homeostat/optim.hpp"
#include "homeostat/io/network_io.hpp"
#include "homeostat/io/npy.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <memory>

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
  RunInfo info;
};

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // kB on Linux
}

// Dense [pre, post] from per-edge values (0 where there is no edge).
std::vector<float> dense(const std::vector<std::int64_t>& row, const std::vector<std::int32_t>& post,
                         std::int64_t n_pre, std::int64_t n_post, const std::vector<double>& per_edge,
                         const std::vector<double>* times) {
  std::vector<float> out(static_cast<std::size_t>(n_pre * n_post), 0.0f);
  for (std::int64_t j = 0; j < n_pre; ++j)
    for (std::int64_t e = row[j]; e < row[j + 1]; ++e)
      out[j * n_post + post[e]] = static_cast<float>(per_edge[e] * (times ? (*times)[e] : 1.0));
  return out;
}

template <class Real>
int run(GradientCliOptions& o, const Config& config, const Network& net, const InputSource& inputs,
        std::int64_t batch, std::int64_t steps, int threads) {
  const LoweredModel<Real> model = lower<Real>(config, net);
  std::vector<TrialState<Real>> states(batch, initial_state(model));
  const LossContext ctx = loss_context(config, net.cell_type, batch, steps);
  // MODEL.md 6-7: in `weights` mode the weight ratio is over the weights; in
  // the scaling-factor modes over the factors (all 1 here: the gradient is
  // taken at the network as it is).
  const Optimisable mode = parse_optimisable(config.training.optimisable);
  const std::vector<bool> excitatory = excitatory_types(config);
  const auto n_rtypes = static_cast<std::int64_t>(config.recurrent.type_names.size());
  const auto n_itypes = static_cast<std::int64_t>(config.feedforward.type_names.size());
  const FactorRatio factors = factor_ratio(std::vector<double>(n_rtypes * n_rtypes, 1.0),
                                           std::vector<double>(n_itypes * n_rtypes, 1.0), excitatory, n_rtypes);
  WeightRatio ratio;
  if (mode == Optimisable::weights) ratio = weight_ratio(model, excitatory);
  else ratio.value = factors.value;
  GradientOptions options;
  options.surrogate_scale = config.hyperparameters.surrgrad_scale;
  options.checkpoint_every = o.checkpoint_every;
  options.sparse_cutoff = o.sparse_cutoff;
  for (const auto& name : o.losses) options.terms.push_back(parse_loss_term(name));

  fmt::print("homeostat gradient: N = {}, M = {}, {} trial(s) x {} steps, {} precision, {} thread(s), trains {}\n",
             net.n, net.m, batch, steps, o.double_precision ? "double" : "float", threads, config.training.optimisable);
  fmt::print("  rate loss: {}\n", describe_rate_loss(ctx.rate_loss, batch));
  const auto start = std::chrono::steady_clock::now();
  const ChunkGradient g = chunk_gradient(model, inputs, states, 0, 0, steps, ctx, ratio, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::vector<double> w_rec(model.rec_weight.begin(), model.rec_weight.end());
  const std::vector<double> w_ff(model.ff_weight.begin(), model.ff_weight.end());
  io::NpzWriter npz;
  auto scalar = [&](const std::string& name, double x) { npz.add(name, io::DType::f8, {}, &x); };
  scalar("loss_total", g.losses.total);
  for (const LossTerm t : all_loss_terms) scalar("loss_" + to_string(t), g.losses.term[static_cast<int>(t)]);
  scalar("weight_ratio", ratio.value);
  auto grads = [&](const std::string& prefix, std::size_t set) {
    npz.add(prefix + "recurrent_log_weights", dense(model.rec_row, model.rec_post, net.n, net.n, g.d_rec[set], &w_rec),
            {net.n, net.n});
    npz.add(prefix + "feedforward_log_weights", dense(model.ff_row, model.ff_post, net.m, net.n, g.d_ff[set], &w_ff),
            {net.m, net.n});
    npz.add(prefix + "recurrent_weights", dense(model.rec_row, model.rec_post, net.n, net.n, g.d_rec[set], nullptr),
            {net.n, net.n});
    npz.add(prefix + "feedforward_weights", dense(model.ff_row, model.ff_post, net.m, net.n, g.d_ff[set], nullptr),
            {net.m, net.n});
  };
  grads("grad_", 0);
  for (std::size_t k = 0; k < options.terms.size(); ++k) grads("grad_" + to_string(options.terms[k]) + "_", 1 + k);
  if (mode != Optimisable::weights) {
    // d/d ln f per block: the dynamics through every edge of the block, plus
    // the weight ratio over the factors.
    auto factor_grads = [&](const std::string& prefix, std::size_t set) {
      BlockGradient blocks = block_gradient(model, g.d_rec[set], g.d_ff[set]);
      for (std::size_t k = 0; k < blocks.rec.size(); ++k) blocks.rec[k] += g.d_weight_ratio[set] * factors.d_log.rec[k];
      for (std::size_t k = 0; k < blocks.ff.size(); ++k) blocks.ff[k] += g.d_weight_ratio[set] * factors.d_log.ff[k];
      if (trains_recurrent_factors(mode))
        npz.add(prefix + "recurrent_log_scaling_factors", blocks.rec, {n_rtypes, n_rtypes});
      if (trains_feedforward_factors(mode))
        npz.add(prefix + "feedforward_log_scaling_factors", blocks.ff, {n_itypes, n_rtypes});
    };
    factor_grads("grad_", 0);
    for (std::size_t k = 0; k < options.terms.size(); ++k)
      factor_grads("grad_" + to_string(options.terms[k]) + "_", 1 + k);
  }
  std::vector<std::uint8_t> spikes(static_cast<std::size_t>(batch * steps * net.n), 0);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::size_t e = 0; e < g.records[b].spike_step.size(); ++e)
      spikes[(b * steps + g.records[b].spike_step[e]) * net.n + g.records[b].spike_neuron[e]] = 1;
  npz.add("output_spikes", io::DType::b1, {batch, steps, net.n}, spikes.data());
  npz.write(o.out);

  fmt::print("  total loss {:.6g}\n", g.losses.total);
  for (const LossTerm t : all_loss_terms)
    fmt::print("  {}_loss: {:.6g}\n", to_string(t), g.losses.term[static_cast<int>(t)]);
  fmt::print("  forward + backward: {:.3g} s; checkpoints every {} steps; state memory {:.3g} MB; peak RSS {:.0f} MB\n",
             seconds, g.checkpoint_every, static_cast<double>(g.peak_state_bytes) / 1e6, peak_rss_mb());
  fmt::print("✓ Wrote {}\n", o.out);
  return 0;
}

int run_gradient(GradientCliOptions& o) {
  const Config config = resolve_config(o.common);
  const int threads = apply_threads(o.common.threads);
  for (const auto& name : o.losses) parse_loss_term(name);  // reject before any work
  const Network net = o.network.empty() ? generate_network(config) : io::load_network(o.network, config);
  std::int64_t steps = config.simulation.chunk_size;
  std::int64_t batch = o.trials > 0 ? o.trials : config.training.batch_size;
  std::unique_ptr<InputSource> inputs;
  if (!o.inputs.empty()) {
    auto replay = io::load_input_spikes(o.inputs, net.m, o.trials);
    if (o.trials == 0) batch = replay->n_trials();
    steps = replay->n_steps();  // one chunk: the recording's length
    inputs = std::move(replay);
  } else {
    inputs = std::make_unique<PoissonInputs>(config.simulation.seed, net.input_type, config.feedforward.firing_rate,
                                             config.simulation.dt);
  }
  return o.double_precision ? run<double>(o, config, net, *inputs, batch, steps, threads)
                            : run<float>(o, config, net, *inputs, batch, steps, threads);
}

}  // namespace

Action setup_gradient(CLI::App& app, int argc, char** argv) {
  auto* cmd = app.add_subcommand(
      "gradient", "One chunk forward and backward: every loss and its gradient w.r.t. every synaptic weight");
  auto o = std::make_shared<GradientCliOptions>();
  o->info.command = command_line(argc, argv);
  add_common_options(*cmd, o->common);
  cmd->add_option("-o,--output", o->out, "Output .npz (losses, gradients as dense [pre, post] arrays, spikes)")
      ->required();
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
      ->check(CLI::PositiveNumber);
  cmd->add_option("--checkpoint-every", o->checkpoint_every,
                  "Keep the state every K steps (default sqrt(steps), at least 16)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--double", o->double_precision, "Simulate and differentiate in double precision (default float)");
  cmd->add_option("--sparse-cutoff", o->sparse_cutoff,
                  "Approximate: drop surrogate slopes below this (e.g. 1e-3) and skip the neurons left without "
                  "one (default 0: exact)")
      ->check(CLI::NonNegativeNumber);
  return [o] { return run_gradient(*o); };
}

}  // namespace homeostat::cli
