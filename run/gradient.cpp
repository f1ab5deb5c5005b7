// `homeostat gradient`: one chunk forward and backward from the initial
// state, every loss and the gradient of the weighted total (and of each
// requested loss) with respect to every synaptic weight, as named arrays
// (the CLI writes them to an npz, Python hands them over as numpy arrays).
#include "internal.hpp"

#include "homeostat/grad.hpp"
#include "homeostat/parallel/ranks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace homeostat::run {

namespace {

template <class T>
NamedArray array(const std::string& name, const std::vector<T>& values, std::vector<std::int64_t> shape) {
  NamedArray a{name, io::dtype_of<T>(), std::move(shape), std::vector<std::uint8_t>(values.size() * sizeof(T))};
  std::memcpy(a.bytes.data(), values.data(), a.bytes.size());
  return a;
}

template <class Real>
GradientResult run_gradient(const Config& config, const Network& net, const InputSource& inputs,
                            const GradientRequest& request, std::int64_t batch, std::int64_t steps,
                            const Callbacks& callbacks) {
  // Several ranks: whole atoms of trials each (the gradient's sums are per atom).
  const detail::Ranks ranks{request.mpi};
  // The stop flag only for one process: a rank stopping alone inside
  // chunk_gradient would leave the others waiting at its reduction forever.
  // Under mpirun, Ctrl-C ends every rank as mpirun ends them.
  const std::atomic<int>* stop = ranks.size() > 1 ? nullptr : callbacks.stop;
  GradientResult out;
  if (stop != nullptr && stop->load() != 0) {
    out.status = Status::interrupted;
    return out;
  }
  const LoweredModel<Real> model = lower<Real>(config, net);
  const TrialRange mine = ranks.trials(batch, trial_atom);
  std::optional<parallel::MpiReduction> reduction;
  if (ranks.size() > 1) reduction.emplace(*request.mpi, mine);
  std::vector<TrialState<Real>> states(mine.count, initial_state(model));
  const LossContext ctx = loss_context(config, net.cell_type, batch, steps);
  // MODEL.md 6-7: in `weights` mode the weight ratio is over the weights; in
  // the scaling-factor modes over the factors (all 1 here: the gradient is
  // taken at the network as it is).
  const Optimisable mode = config.training.optimisable;
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
  options.checkpoint_every = request.checkpoint_every;
  options.sparse_cutoff = request.sparse_cutoff;
  options.terms = request.losses;
  options.stop = stop;
  options.reduction = reduction ? &*reduction : nullptr;

  const auto start = std::chrono::steady_clock::now();
  ChunkGradient g = chunk_gradient(model, inputs, states, mine.first, 0, steps, ctx, ratio, options);
  if (g.stopped) {
    out.status = Status::interrupted;
    return out;
  }
  if (reduction) g.records = parallel::gather_records(*request.mpi, g.records);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.trials = batch;
  out.steps = steps;
  out.checkpoint_every = g.checkpoint_every;
  out.peak_state_bytes = static_cast<std::int64_t>(g.peak_state_bytes);
  if (!ranks.root()) return out;  // rank 0 has every array

  auto& arrays = out.arrays;
  auto scalar = [&](const std::string& name, double x) { arrays.push_back(array(name, std::vector<double>{x}, {})); };
  scalar("loss_total", g.losses.total);
  for (const LossTerm t : all_loss_terms) scalar("loss_" + to_string(t), g.losses.term[static_cast<int>(t)]);
  scalar("weight_ratio", ratio.value);
  const std::vector<double> w_rec(model.rec_weight.begin(), model.rec_weight.end());
  const std::vector<double> w_ff(model.ff_weight.begin(), model.ff_weight.end());
  // Dense [pre, post] float32 per-edge gradients: dL/dw, or dL/d ln w = w dL/dw.
  auto dense = [&](bool recurrent, const std::vector<double>& d, const std::vector<double>* w) {
    return Csr::dense<float>(recurrent ? model.rec_row : model.ff_row, recurrent ? model.rec_post : model.ff_post,
                             recurrent ? net.n : net.m, net.n,
                             [&](std::int64_t e) { return static_cast<float>(d[e] * (w ? (*w)[e] : 1.0)); });
  };
  auto grads = [&](const std::string& prefix, std::size_t set) {
    arrays.push_back(array(prefix + "recurrent_log_weights", dense(true, g.d_rec[set], &w_rec), {net.n, net.n}));
    arrays.push_back(array(prefix + "feedforward_log_weights", dense(false, g.d_ff[set], &w_ff), {net.m, net.n}));
    arrays.push_back(array(prefix + "recurrent_weights", dense(true, g.d_rec[set], nullptr), {net.n, net.n}));
    arrays.push_back(array(prefix + "feedforward_weights", dense(false, g.d_ff[set], nullptr), {net.m, net.n}));
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
        arrays.push_back(array(prefix + "recurrent_log_scaling_factors", blocks.rec, {n_rtypes, n_rtypes}));
      if (trains_feedforward_factors(mode))
        arrays.push_back(array(prefix + "feedforward_log_scaling_factors", blocks.ff, {n_itypes, n_rtypes}));
    };
    factor_grads("grad_", 0);
    for (std::size_t k = 0; k < options.terms.size(); ++k)
      factor_grads("grad_" + to_string(options.terms[k]) + "_", 1 + k);
  }
  NamedArray spikes{"output_spikes", io::DType::b1, {batch, steps, net.n},
                    std::vector<std::uint8_t>(static_cast<std::size_t>(batch * steps * net.n), 0)};
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::size_t e = 0; e < g.records[b].spike_step.size(); ++e)
      spikes.bytes[(b * steps + g.records[b].spike_step[e]) * net.n + g.records[b].spike_neuron[e]] = 1;
  arrays.push_back(std::move(spikes));
  return out;
}

}  // namespace

GradientResult gradient(const Config& config, const Network& network, const InputSource* replay,
                        const GradientRequest& request, const Callbacks& callbacks) {
  // What the command line's option checks refuse, refused for every caller.
  if (request.trials < 0 || request.checkpoint_every < 0)
    throw std::invalid_argument(fmt::format("gradient: trials ({}) and checkpoint_every ({}) must be >= 0 (0 = default)",
                                            request.trials, request.checkpoint_every));
  if (!std::isfinite(request.sparse_cutoff) || request.sparse_cutoff < 0)
    throw std::invalid_argument(fmt::format("gradient: sparse_cutoff must be a finite number >= 0, got {}",
                                            request.sparse_cutoff));
  for (std::size_t i = 0; i < request.losses.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (request.losses[i] == request.losses[j])
        throw std::invalid_argument(fmt::format("gradient: loss '{}' asked for twice", to_string(request.losses[i])));
  const detail::Ranks ranks{request.mpi};
  detail::apply_threads(request.threads, ranks);
  std::int64_t steps = config.simulation.chunk_size;
  std::int64_t batch = request.trials > 0 ? request.trials : config.training.batch_size;
  std::unique_ptr<InputSource> poisson;
  if (replay) {
    const auto* recorded = dynamic_cast<const ReplayInputs*>(replay);
    if (recorded) {
      if (request.trials == 0) batch = recorded->n_trials();
      steps = recorded->n_steps();  // one chunk: the recording's length
    }
  } else {
    poisson = std::make_unique<PoissonInputs>(config.simulation.seed, network.input_type,
                                              config.feedforward.firing_rate, config.simulation.dt);
  }
  // Memory before any work (a ResourceError naming trials and steps, not
  // std::bad_alloc): the BPTT buffers as training estimates them, plus the
  // spikes handed back.
  TrainRequest sized;
  sized.config = config;
  sized.config.training.batch_size = batch;
  sized.config.simulation.chunk_size = steps;
  ResourceEstimate need;
  for (const auto& driver : estimate(sized).memory_drivers)
    if (driver.first.rfind("BPTT", 0) == 0 || driver.first.rfind("spike records", 0) == 0)
      need.memory_drivers.push_back(driver);
  need.memory_drivers.emplace_back("output_spikes (trials x steps x N)", static_cast<double>(batch) *
                                                                            static_cast<double>(steps) *
                                                                            static_cast<double>(network.n));
  for (const auto& driver : need.memory_drivers) need.memory_bytes += driver.second;
  std::stable_sort(need.memory_drivers.begin(), need.memory_drivers.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  // Rank 0 alone checks, as in train: its refusal ends every rank.
  if (ranks.root()) detail::check_resources(need, {}, request.force, "gradient");
  const InputSource& inputs = replay ? *replay : *poisson;
  return request.double_precision ? run_gradient<double>(config, network, inputs, request, batch, steps, callbacks)
                                  : run_gradient<float>(config, network, inputs, request, batch, steps, callbacks);
}

}  // namespace homeostat::run
