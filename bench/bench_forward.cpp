// Forward-engine benchmarks: the reference network (shared/params, N=5000,
// M=1500) at 1 and 32 trials, and a 1000-neuron network (the built-in
// defaults). Each iteration simulates one chunk; the state carries over, so
// the network is in its steady regime after the warm-up iterations.
//
// Counters: sim_s_per_wall_s = simulated seconds (all trials) per wall
// second; realtime_x = simulated seconds of one trial per wall second;
// events_per_s = synaptic deliveries (target x receptor) per wall second.
#include "bench_common.hpp"

#include <benchmark/benchmark.h>

namespace {

using namespace homeostat;

void forward(benchmark::State& state, const std::string& which) {
  const bench::Setup& s = bench::setup(which == "reference" ? bench::reference_params : std::string());
  const std::int64_t trials = state.range(0);
  const std::int64_t steps = 2000;  // 200 ms per iteration
  std::vector<TrialState<float>> states(trials, initial_state(s.model));
  RecordSpec spec;
  spec.input_spikes = true;  // to count events; spikes are recorded anyway
  std::vector<TrialRecord> rec;
  // Warm-up: 0.5 s so that the network leaves its initial transient.
  run_chunk(s.model, *s.inputs, states, 0, 0, 5000, RecordSpec{}, nullptr);
  std::int64_t t0 = 5000, events = 0;
  for (auto _ : state) {
    run_chunk(s.model, *s.inputs, states, 0, t0, steps, spec, &rec);
    t0 += steps;
    for (const auto& r : rec) events += synaptic_events(s.model, r);
  }
  const double sim_s = static_cast<double>(state.iterations() * steps) * s.config.simulation.dt / 1000.0;
  state.counters["sim_s_per_wall_s"] = benchmark::Counter(sim_s * trials, benchmark::Counter::kIsRate);
  state.counters["realtime_x"] = benchmark::Counter(sim_s, benchmark::Counter::kIsRate);
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["N"] = static_cast<double>(s.model.n);
}

BENCHMARK_CAPTURE(forward, reference_N5000, std::string("reference"))
    ->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
BENCHMARK_CAPTURE(forward, defaults_N1000, std::string("defaults"))
    ->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
