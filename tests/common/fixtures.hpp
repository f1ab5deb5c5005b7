// Test fixtures: complete configurations built in code, so tests need no
// TOML parser. Values are those of shared/params/homeostatic-plasticity.toml;
// only the sizes are chosen by the caller.
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/schema.hpp"

namespace homeostat {

// The reference configuration with N = n_neurons recurrent neurons
// (excitatory/inhibitory, 0.8/0.2), M = n_inputs mitral inputs at 6 Hz and
// n_assemblies assemblies; configuration method, dt 0.1 ms, seed 42. Keys
// the reference file leaves out (on_nan, [feedback]) keep the built-in defaults.
inline Config tiny_config(int n_neurons, int n_inputs, int n_assemblies) {
  Config c = schema::default_config();

  c.simulation.seed = 42;
  c.simulation.dt = 0.1;
  c.simulation.chunk_size = 5000;
  c.simulation.num_chunks = 500;
  c.simulation.duration = 10000.0;
  c.simulation.saturate = true;

  c.training.batch_size = 32;
  c.training.chunks_per_update = 1;
  c.training.log_interval = 5;
  c.training.checkpoint_interval = 50;
  c.training.optimisable = Optimisable::weights;

  c.targets.per_type = {
      CellTargets{.firing_rate = 0.5, .cv = 1.0, .alpha = 0.01, .threshold_ratio = 0.8},
      CellTargets{.firing_rate = 5.0, .cv = 1.0, .alpha = 0.01, .threshold_ratio = 0.8},
  };
  c.targets.weight_ratio = 2.0;

  c.hyperparameters.learning_rate = 5e-4;
  c.hyperparameters.lr_half_life = 0;  // constant, as the reference's original
  c.hyperparameters.lr_final_fraction = 0.25;
  c.hyperparameters.grad_norm_clip = 1.0;
  c.hyperparameters.surrgrad_scale = 200.0;
  c.hyperparameters.loss_weight = LossWeights{};  // the reference weights (loss.hpp's table)

  // Receptors shared by excitatory and mitral cells.
  const std::vector<ReceptorConfig> glutamatergic = {
      ReceptorConfig{.name = "AMPA", .tau_rise = 0.1, .tau_decay = 5.0, .E_syn = 0.0,
                     .g_bar = 4.177},
      ReceptorConfig{.name = "NMDA", .tau_rise = 10.0, .tau_decay = 70.0, .E_syn = 0.0,
                     .g_bar = 0.448},
  };

  RecurrentConfig& rc = c.recurrent;
  rc.type_names = {"excitatory", "inhibitory"};
  rc.proportion = {0.8, 0.2};
  rc.num_neurons = n_neurons;
  rc.num_assemblies = n_assemblies;
  rc.method = TopologyMethod::configuration;
  rc.conn_within = {{0.2, 0.2}, {0.4, 0.2}};  // [pre type][post type]
  rc.conn_between = {{0.05, 0.05}, {0.05, 0.05}};
  rc.w_mu = {{0.1, 0.05}, {0.2, 0.19}};
  rc.w_sigma = {{0.1, 0.1}, {0.1, 0.1}};
  rc.physiology = {
      PhysiologyConfig{.tau_mem = 85.0, .theta = -38.0, .U_reset = -60.0, .E_L = -60.0,
                       .g_L = 1.35, .tau_ref = 8.0},
      PhysiologyConfig{.tau_mem = 50.0, .theta = -45.0, .U_reset = -60.0, .E_L = -60.0,
                       .g_L = 0.9, .tau_ref = 8.0},
  };
  rc.synapses = {
      glutamatergic,
      {ReceptorConfig{.name = "GABA_A", .tau_rise = 1.0, .tau_decay = 6.0, .E_syn = -70.0,
                      .g_bar = 8.139}},
  };

  FeedforwardConfig& fc = c.feedforward;
  fc.type_names = {"mitral"};
  fc.proportion = {1.0};
  fc.num_neurons = n_inputs;
  fc.method = TopologyMethod::configuration;
  fc.conn_inputs = {{0.05, 0.05}};  // [input type][recurrent type]
  fc.w_mu = {{0.05, 0.02}};
  fc.w_sigma = {{0.1, 0.1}};
  fc.firing_rate = {6.0};
  fc.synapses = {glutamatergic};

  return c;
}

}  // namespace homeostat
