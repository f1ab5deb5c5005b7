// The acceptance check of issues 4 and 6, shared by the `train` and
// `feedback` convergence tests: every cell type's mean rate within 10% of its
// target and at least 95% of its neurons active.
#pragma once

#include "homeostat/connectome.hpp"
#include "homeostat/inputs.hpp"
#include "homeostat/sim.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace homeostat::testing {

// Per cell type: mean rate (Hz) and fraction of neurons with a spike.
struct TypeRates {
  std::vector<double> rate, active;
};

// 10 s of one fresh trial (input seed + 1) from the initial state.
inline TypeRates ten_seconds(const Config& config, const Network& net, const LoweredModel<float>& model) {
  const double dt = config.simulation.dt;
  const PoissonInputs inputs(config.simulation.seed + 1, net.input_type, config.feedforward.firing_rate, dt);
  std::vector<TrialState<float>> state(1, initial_state(model));
  std::vector<TrialRecord> records;
  const auto steps = static_cast<std::int64_t>(std::llround(10000.0 / dt));
  run_chunk(model, inputs, state, 0, 0, steps, RecordSpec{}, &records);
  std::vector<double> count(net.n, 0.0);
  for (const auto j : records[0].spike_neuron) count[j] += 1;
  const auto types = config.recurrent.type_names.size();
  TypeRates out{std::vector<double>(types, 0.0), std::vector<double>(types, 0.0)};
  std::vector<double> n(types, 0.0);
  for (std::int64_t i = 0; i < net.n; ++i) {
    out.rate[net.cell_type[i]] += count[i] / 10.0;
    out.active[net.cell_type[i]] += count[i] > 0;
    n[net.cell_type[i]] += 1;
  }
  for (std::size_t t = 0; t < types; ++t) {
    out.rate[t] /= n[t];
    out.active[t] /= n[t];
  }
  return out;
}

// Every type's rate within 10% of its target, >= 95% of its neurons active.
inline void expect_targets_met(const Config& config, const std::vector<double>& rate,
                               const std::vector<double>& active) {
  for (std::size_t type = 0; type < rate.size(); ++type) {
    const double target = config.targets.per_type[type].firing_rate;
    EXPECT_NEAR(rate[type], target, 0.1 * target) << config.recurrent.type_names[type];
    EXPECT_GE(active[type], 0.95) << config.recurrent.type_names[type];
  }
}

}  // namespace homeostat::testing
