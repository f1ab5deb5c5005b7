// Gradient-engine benchmarks (issue 3): one chunk forward + backward with
// exact gradients, for networks of N neurons with M = 0.3 N inputs and the
// reference physiology and connection probabilities, T = 1000 steps, B
// trials; and the seed configuration (N = 5000, M = 1500, B = 32, T = 5000)
// as `seed_config` (long: run it on its own, --benchmark_filter=seed).
//
// Counters: per-chunk wall time (the benchmark time), synapse_steps_per_s =
// recurrent synapses x steps x trials per second (the bound is one
// multiply-add per synapse per step per trial), state_MB = checkpoints +
// traces + per-trial gradients.
#include "bench_common.hpp"

#include "homeostat/grad.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>

namespace {

using namespace homeostat;

// Reference probabilities and physiology; 20 assemblies as in the reference
// (fewer for small N so that assemblies keep >= 25 neurons).
const bench::Setup& setup(std::int64_t n) {
  const std::int64_t assemblies = std::max<std::int64_t>(1, std::min<std::int64_t>(20, n / 25));
  return bench::setup(bench::reference_params,
                      {"recurrent.topology.num_neurons=" + std::to_string(n),
                       "recurrent.topology.num_assemblies=" + std::to_string(assemblies),
                       "feedforward.topology.num_neurons=" + std::to_string(std::llround(0.3 * n))});
}

void run(benchmark::State& state, std::int64_t n, std::int64_t batch, std::int64_t steps, double cutoff = 0) {
  const bench::Setup& s = setup(n);
  std::vector<TrialState<float>> states(batch, initial_state(s.model));
  // Leave the initial transient (0.2 s) before timing.
  run_chunk(s.model, *s.inputs, states, 0, 0, 2000, RecordSpec{}, nullptr);
  const LossContext ctx = loss_context(s.config, s.network.cell_type, batch, steps);
  const WeightRatio ratio = weight_ratio(s.model, excitatory_types(s.config));
  GradientOptions options;
  options.surrogate_scale = s.config.hyperparameters.surrgrad_scale;
  if (cutoff > 0) {
    // How close the approximation is: cosine similarity to the exact gradient
    // of the same chunk (untimed).
    auto copy = states;
    const ChunkGradient exact = chunk_gradient(s.model, *s.inputs, copy, 0, 2000, steps, ctx, ratio, options);
    copy = states;
    options.sparse_cutoff = cutoff;
    const ChunkGradient approx = chunk_gradient(s.model, *s.inputs, copy, 0, 2000, steps, ctx, ratio, options);
    double dot = 0, na = 0, nb = 0;
    for (std::size_t e = 0; e < exact.d_rec[0].size(); ++e) {
      dot += exact.d_rec[0][e] * approx.d_rec[0][e];
      na += exact.d_rec[0][e] * exact.d_rec[0][e];
      nb += approx.d_rec[0][e] * approx.d_rec[0][e];
    }
    state.counters["cosine"] = dot / std::sqrt(na * nb);
  }
  std::int64_t t0 = 2000;
  // One untimed chunk first: a training run maps its buffers once (one
  // GradientWorkspace for all its chunks), and on the development VM
  // first-touching a page costs ~2-4 us (about 1 s per chunk of the seed
  // configuration), which every later chunk is spared.
  GradientWorkspace<float> workspace;
  {
    const ChunkGradient warm =
        chunk_gradient(s.model, *s.inputs, states, 0, t0, steps, ctx, ratio, options, &workspace);
    benchmark::DoNotOptimize(warm.d_rec[0].data());
    t0 += steps;
  }
  std::size_t bytes = 0;
  for (auto _ : state) {
    const ChunkGradient g = chunk_gradient(s.model, *s.inputs, states, 0, t0, steps, ctx, ratio, options, &workspace);
    benchmark::DoNotOptimize(g.d_rec[0].data());
    bytes = g.peak_state_bytes;
    t0 += steps;
  }
  const double synapse_steps = static_cast<double>(s.model.rec_weight.size()) * static_cast<double>(steps * batch);
  state.counters["synapse_steps_per_s"] =
      benchmark::Counter(synapse_steps * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["state_MB"] = static_cast<double>(bytes) / 1e6;
  state.counters["E_rec"] = static_cast<double>(s.model.rec_weight.size());
}

void chunk(benchmark::State& state) { run(state, state.range(0), state.range(1), 1000); }
// The sparse approximation (surrogate slopes below 1e-3 dropped).
void sparse(benchmark::State& state) { run(state, state.range(0), state.range(1), 1000, 1e-3); }
void seed_config(benchmark::State& state) { run(state, 5000, 32, 5000); }

BENCHMARK(chunk)
    ->ArgsProduct({{250, 500, 1000, 2000, 5000}, {1, 8, 32}})
    ->ArgNames({"N", "B"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);
BENCHMARK(sparse)
    ->ArgsProduct({{1000, 5000}, {8, 32}})
    ->ArgNames({"N", "B"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);
BENCHMARK(seed_config)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
