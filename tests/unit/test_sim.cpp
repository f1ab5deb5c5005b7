// Forward engine invariants on a generated network: bit-identical for any
// thread count, for any split into chunks and for any batch composition.
#include "homeostat/model.hpp"
#include "homeostat/sim.hpp"
#include "tiny_network.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <string>
#include <utility>

using namespace homeostat;

namespace {

struct Fixture {
  Config config = homeostat::testing::defaults_with({"recurrent.topology.num_neurons=300", "recurrent.topology.num_assemblies=3",
                                          "feedforward.topology.num_neurons=90"});
  Network net = generate_network(config);
  LoweredModel<float> model = lower<float>(config, net);
  PoissonInputs inputs{config.simulation.seed, net.input_type, config.feedforward.firing_rate, config.simulation.dt};
};

struct Outcome {
  std::vector<TrialState<float>> states;
  std::vector<std::vector<std::int32_t>> spike_step, spike_neuron;  // [trial], global steps
};

Outcome simulate(const Fixture& f, std::int64_t trials, std::int64_t trial0, const std::vector<std::int64_t>& chunks,
                 std::int64_t min_neurons_per_thread = 64) {
  Outcome o;
  o.states.assign(trials, initial_state(f.model));
  o.spike_step.resize(trials);
  o.spike_neuron.resize(trials);
  std::int64_t t0 = 0;
  std::vector<TrialRecord> rec;
  ThreadSharing sharing;
  sharing.min_neurons_per_thread = min_neurons_per_thread;
  for (const auto len : chunks) {
    run_chunk(f.model, f.inputs, o.states, trial0, t0, len, RecordSpec{}, &rec, &sharing);
    for (std::int64_t b = 0; b < trials; ++b) {
      for (std::size_t e = 0; e < rec[b].spike_step.size(); ++e) {
        o.spike_step[b].push_back(static_cast<std::int32_t>(t0 + rec[b].spike_step[e]));
        o.spike_neuron[b].push_back(rec[b].spike_neuron[e]);
      }
    }
    t0 += len;
  }
  return o;
}

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

void expect_identical(const TrialState<float>& a, const TrialState<float>& b) {
  EXPECT_TRUE(bitwise_equal(a.v, b.v));
  EXPECT_TRUE(bitwise_equal(a.g_rise, b.g_rise));
  EXPECT_TRUE(bitwise_equal(a.g_decay, b.g_decay));
  EXPECT_EQ(a.refractory, b.refractory);
  EXPECT_EQ(a.last_spike, b.last_spike);
}

}  // namespace

TEST(Forward, NetworkIsActiveButNotRunaway) {
  const Fixture f;
  const Outcome o = simulate(f, 2, 0, {5000});
  for (int b = 0; b < 2; ++b) {
    const double rate = static_cast<double>(o.spike_step[b].size()) / 300.0 / 0.5;  // Hz over 0.5 s
    EXPECT_GT(rate, 0.05) << "trial " << b;
    EXPECT_LT(rate, 100.0) << "trial " << b;
  }
  // Two trials see different inputs.
  EXPECT_NE(o.spike_step[0], o.spike_step[1]);
}

// Trials handed out to threads as they become free: whoever runs a trial,
// the same bits (5 trials: a thread may run 1, 2 or 3 of them).
TEST(Forward, BitIdenticalForOneAndSeveralThreadsOneTrialEach) {
  const Fixture f;
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const Outcome one = simulate(f, 5, 0, {3000});
  for (const int threads : {2, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    omp_set_num_threads(threads);
    const Outcome more = simulate(f, 5, 0, {3000});
    for (int b = 0; b < 5; ++b) {
      EXPECT_EQ(one.spike_step[b], more.spike_step[b]);
      EXPECT_EQ(one.spike_neuron[b], more.spike_neuron[b]);
      expect_identical(one.states[b], more.states[b]);
    }
  }
  omp_set_num_threads(before);
}

// One trial, several threads: each thread owns a range of neurons, the
// ranges move with the threads' measured speeds, and fewer threads (down to
// one, thread 0 among them or not) run stretches when sharing among all is
// slower (forced by SharedTrial::alternating, which changes the team every
// few steps; adaptive decides by the clock). What each thread
// computes and records must not depend on any of it.
TEST(Forward, BitIdenticalWhenThreadsShareOneTrial) {
  const Fixture f;
  RecordSpec spec;
  spec.neurons = {0, 7, 150, 151, 299};
  spec.voltages = spec.conductances = spec.currents = spec.input_spikes = true;
  auto run = [&](int threads, SharedTrial policy) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    std::vector<TrialState<float>> states(1, initial_state(f.model));
    std::vector<TrialRecord> records;
    ThreadSharing sharing;
    sharing.min_neurons_per_thread = 16;
    sharing.policy = policy;
    for (const std::int64_t len : {150, 250}) {  // the state and `sharing` carry over
      // The second chunk starts on the last thread alone, as after a
      // stretch on it that the first chunk did not finish.
      if (!records.empty() && policy == SharedTrial::alternating) {
        sharing.reduced_steps_left = 37;
        sharing.reduced_team = {threads - 1};
      }
      std::vector<TrialRecord> rec;
      run_chunk(f.model, f.inputs, states, 0, records.empty() ? 0 : 150, len, spec, &rec, &sharing);
      records.push_back(rec[0]);
    }
    omp_set_num_threads(before);
    return std::make_pair(states[0], records);
  };
  const auto [one_state, one] = run(1, SharedTrial::always);
  ASSERT_GT(one[0].spike_step.size() + one[1].spike_step.size(), 0u);
  const std::pair<SharedTrial, const char*> policies[] = {
      {SharedTrial::always, "always"}, {SharedTrial::alternating, "alternating"}, {SharedTrial::adaptive, "adaptive"}};
  for (const auto& [policy, name] : policies) {
    for (const int threads : {2, 3, 5, 8}) {
      SCOPED_TRACE(std::string(name) + ", " + std::to_string(threads) + " threads");
      const auto [state, records] = run(threads, policy);
      expect_identical(one_state, state);
      for (std::size_t c = 0; c < one.size(); ++c) {
        EXPECT_EQ(one[c].spike_step, records[c].spike_step);
        EXPECT_EQ(one[c].spike_neuron, records[c].spike_neuron);
        EXPECT_EQ(one[c].input_neuron, records[c].input_neuron);
        EXPECT_TRUE(bitwise_equal(one[c].voltages, records[c].voltages));
        EXPECT_TRUE(bitwise_equal(one[c].conductances, records[c].conductances));
        EXPECT_TRUE(bitwise_equal(one[c].currents, records[c].currents));
        EXPECT_TRUE(bitwise_equal(one[c].v_sum, records[c].v_sum));
        EXPECT_TRUE(bitwise_equal(one[c].v_sum_sq, records[c].v_sum_sq));
      }
    }
  }
}

TEST(Forward, ChunkBoundariesDoNotChangeTheRun) {
  const Fixture f;
  const Outcome whole = simulate(f, 2, 0, {3000});
  const Outcome split = simulate(f, 2, 0, {700, 1, 1299, 1000});
  for (int b = 0; b < 2; ++b) {
    ASSERT_GT(whole.spike_step[b].size(), 0u);
    EXPECT_EQ(whole.spike_step[b], split.spike_step[b]);
    EXPECT_EQ(whole.spike_neuron[b], split.spike_neuron[b]);
    expect_identical(whole.states[b], split.states[b]);
  }
}

TEST(Forward, TrialDoesNotDependOnItsBatch) {
  const Fixture f;
  const Outcome batch = simulate(f, 3, 0, {2000});
  const Outcome alone = simulate(f, 1, 2, {2000});  // trial 2 on its own
  EXPECT_EQ(batch.spike_step[2], alone.spike_step[0]);
  EXPECT_EQ(batch.spike_neuron[2], alone.spike_neuron[0]);
  expect_identical(batch.states[2], alone.states[0]);
}

TEST(Forward, MembraneMomentsMatchRecordedVoltages) {
  const Fixture f;
  std::vector<TrialState<float>> states(1, initial_state(f.model));
  RecordSpec spec;
  spec.voltages = true;
  spec.neurons = {0, 17, 299};
  std::vector<TrialRecord> rec;
  run_chunk(f.model, f.inputs, states, 0, 0, 1500, spec, &rec);
  for (std::size_t k = 0; k < spec.neurons.size(); ++k) {
    double s = 0, s2 = 0;
    for (int t = 0; t < 1500; ++t) {
      const double v = rec[0].voltages[t * 3 + k];
      s += v;
      s2 += v * v;
    }
    EXPECT_DOUBLE_EQ(rec[0].v_sum[spec.neurons[k]], s);
    EXPECT_DOUBLE_EQ(rec[0].v_sum_sq[spec.neurons[k]], s2);
  }
}

TEST(Forward, LastSpikeAndRefractoryStateMatchTheSpikes) {
  const Fixture f;
  const Outcome o = simulate(f, 1, 0, {4000});
  std::vector<std::int64_t> last(300, -1);
  for (std::size_t e = 0; e < o.spike_step[0].size(); ++e) last[o.spike_neuron[0][e]] = o.spike_step[0][e];
  EXPECT_EQ(o.states[0].last_spike, last);
  for (int i = 0; i < 300; ++i) {
    // Spiked at t: n_ref refractory steps follow, the first of them t + 1.
    const std::int64_t since = last[i] < 0 ? 1 << 30 : 3999 - last[i];
    const std::int64_t expected = std::max<std::int64_t>(0, f.model.n_ref[i] - since);
    EXPECT_EQ(o.states[0].refractory[i], expected) << "neuron " << i;
  }
}
