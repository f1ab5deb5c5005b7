// What every benchmark needs once per network: the resolved config, the
// generated connectome, the lowered model and Poisson inputs (generation takes
// seconds for the reference network, so each is built once and cached).
#pragma once

#include "homeostat/io/config_toml.hpp"
#include "homeostat/model.hpp"
#include "homeostat/sim.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace homeostat::bench {

inline const std::string reference_params = std::string(HOMEOSTAT_PARAMS_DIR) + "/homeostatic-plasticity.toml";

struct Setup {
  Config config;
  Network network;
  LoweredModel<float> model;
  std::unique_ptr<PoissonInputs> inputs;
};

// The network of `params` (empty: built-in defaults) with `overrides`,
// built on first use.
inline const Setup& setup(const std::string& params, const std::vector<std::string>& overrides = {}) {
  static std::map<std::string, std::unique_ptr<Setup>> cache;
  std::string key = params;
  for (const auto& o : overrides) key += "|" + o;
  auto& s = cache[key];
  if (!s) {
    s = std::make_unique<Setup>();
    s->config = io::load_config(params, overrides);
    s->network = generate_network(s->config);
    s->model = lower<float>(s->config, s->network);
    s->inputs = std::make_unique<PoissonInputs>(s->config.simulation.seed, s->network.input_type,
                                                s->config.feedforward.firing_rate, s->config.simulation.dt);
  }
  return *s;
}

}  // namespace homeostat::bench
