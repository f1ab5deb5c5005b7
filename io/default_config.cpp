// The built-in configuration as a commented TOML file: the values are the
// schema's defaults (src/config/schema.cpp), the comments its documentation.
#include "homeostat/io/config_toml.hpp"
#include "homeostat/schema.hpp"

namespace homeostat::io {

std::string default_config_toml() {
  return R"(# homeostat built-in defaults (print with `homeostat config --defaults`).
# A 1000-neuron Dp-like network with 300 mitral-cell inputs; physiology and
# receptors after Meissner-Bernard et al. (2025), doi:10.1016/j.celrep.2025.115330.
# It is the reference network of params/homeostatic-plasticity.toml (N = 5000,
# M = 1500) scaled down, with connection probabilities raised so that each
# neuron receives about as many inputs (in-degree, not probability, sets the
# drive). Training differs from the reference where the README explains why:
#   dt = 1 ms (reference 0.1): each chunk observes 10x more time for the same work;
#   chunk_size = 4000 (4 s): the per-chunk rate loss is biased downwards by
#     about 1 / observed seconds;
#   learning_rate = 0.04 halving its way to 0.01 every 15 chunks (reference 5e-4,
#     constant, which moves a weight by at most ~4% in 80 chunks; a constant 0.01
#     stalls below the rate targets, 0.02 overshoots and swings around them);
#   threshold_ratio = 0.35 / 0.43 (reference 0.8, out of this network's reach
#     at its rate targets);
#   loss_weight.firing_rate = 2 (reference 1): the rates are what the demo must reach.
# Each key: its meaning [unit]; allowed values; "optional" where it may be left
# out (the value shown is then used). Matrices are [presynaptic type][postsynaptic type].
)" + to_commented_toml(schema::default_config());
}

}  // namespace homeostat::io
