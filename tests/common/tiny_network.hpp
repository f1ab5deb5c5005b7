// Hand-made networks for engine tests: a config from the built-in defaults
// (with --set style overrides) and a Network whose edges the test chooses.
#pragma once

#include "homeostat/connectome.hpp"
#include "homeostat/io/config_toml.hpp"
#include "homeostat/sim.hpp"

#include <cstdint>
#include <vector>

namespace homeostat::testing {

inline Config defaults_with(std::vector<std::string> overrides) { return io::load_config("", overrides); }

// The built-in physiology on a network small enough for training tests:
// 80 neurons in 2 assemblies, 30 inputs, 3 trials of 500 steps of 0.1 ms, plus `extra`.
inline Config small_training_config(std::vector<std::string> extra = {}) {
  std::vector<std::string> o = {"recurrent.topology.num_neurons=80", "recurrent.topology.num_assemblies=2",
                                "feedforward.topology.num_neurons=30", "simulation.chunk_size=500",
                                "training.batch_size=3", "simulation.dt=0.1"};
  o.insert(o.end(), extra.begin(), extra.end());
  return defaults_with(o);
}

struct Edge {
  std::int32_t pre, post;
  double weight;
};

// N recurrent neurons of the given types, M inputs of type 0, chosen edges.
inline Network hand_network(std::vector<std::int32_t> cell_type, std::int64_t m, const std::vector<Edge>& recurrent,
                            const std::vector<Edge>& feedforward) {
  Network net;
  net.n = static_cast<std::int64_t>(cell_type.size());
  net.m = m;
  net.cell_type = std::move(cell_type);
  net.assembly.assign(net.n, 0);
  net.input_type.assign(m, 0);
  auto csr = [](std::int64_t n_pre, std::int64_t n_post, const std::vector<Edge>& edges) {
    std::vector<std::int32_t> pre, post;
    std::vector<double> w;
    for (const auto& e : edges) {
      pre.push_back(e.pre);
      post.push_back(e.post);
      w.push_back(e.weight);
    }
    return Csr::from_edges(n_pre, n_post, pre, post, w);
  };
  net.recurrent = csr(net.n, net.n, recurrent);
  net.feedforward = csr(m, net.n, feedforward);
  return net;
}

// Input spikes given as (trial, step, input) triples, replayed.
struct SpikeAt {
  std::int64_t trial, step;
  std::int32_t input;
};
inline ReplayInputs replay(std::int64_t trials, std::int64_t steps, std::int64_t m, const std::vector<SpikeAt>& spikes) {
  std::vector<std::uint8_t> dense(static_cast<std::size_t>(trials * steps * m), 0);
  for (const auto& s : spikes) dense[(s.trial * steps + s.step) * m + s.input] = 1;
  return ReplayInputs(trials, steps, m, dense);
}

}  // namespace homeostat::testing
