// The built-in configuration: the reference Dp network of
// shared/params/homeostatic-plasticity.toml scaled down so that `train`
// reaches its targets in a few minutes on 2 cores. Physiology, receptors and
// targets are the reference values; the network is smaller (N=1000, M=300)
// with connection probabilities raised so that each neuron receives about as
// many inputs as in the reference network (in-degree, not probability, sets
// the drive). Training differs from the reference where the README explains
// why: dt 1 ms and 4 s chunks (the per-chunk rate loss is biased downwards by
// about 1 / observed seconds), learning rate 0.02, rate-loss weight 2.
#include "homeostat/io/config_toml.hpp"

namespace homeostat::io {

std::string_view default_config_toml() {
  return R"(# homeostat built-in defaults (print with `homeostat config --defaults`).
# A 1000-neuron Dp-like network with 300 mitral-cell inputs; physiology and
# receptors after Meissner-Bernard et al. (2025), doi:10.1016/j.celrep.2025.115330.

[simulation]
seed = 42
dt = 1.0                 # ms (reference: 0.1); 1 ms gives each chunk 10x more observed time for the same work
chunk_size = 4000        # timesteps per chunk (4 s): 8 trials x 4 s = 32 s of spikes per neuron and chunk
num_chunks = 80          # training length in chunks
duration = 10000.0       # ms, for `simulate`
saturate = true          # clamp each receptor at its peak conductance

[training]
batch_size = 8           # independent input trials run in parallel
chunks_per_update = 1    # chunks whose gradients are summed before a step
log_interval = 5         # metrics, console block, figures, weight snapshot
checkpoint_interval = 20 # checkpoint_latest (+ checkpoint_best when better)
optimisable = "weights"  # or "scaling_factors", "scaling_factors_recurrent", "scaling_factors_feedforward"
on_nan = "stop"          # NaN/Inf in a loss, gradient or parameter: "stop" (exit 3) or "skip" the update

[targets]
firing_rate.excitatory = 0.5     # Hz
firing_rate.inhibitory = 5.0
cv.excitatory = 1.0
cv.inhibitory = 1.0
alpha.excitatory = 0.01          # silent-penalty strength
alpha.inhibitory = 0.01
threshold_ratio.excitatory = 0.8 # sd(V) / (theta - mean(V))
threshold_ratio.inhibitory = 0.8
weight_ratio = 2.0               # mean recurrent E weight / mean feedforward weight

[hyperparameters]
learning_rate = 0.02      # Adam; the reference 5e-4 moves a weight by at most ~4% in 80 chunks
grad_norm_clip = 1.0
surrgrad_scale = 200.0   # 1/mV
loss_weight.firing_rate = 2.0    # reference 1.0: the rates are what the demo must reach
loss_weight.cv = 0.5
loss_weight.silent_penalty = 0.1
loss_weight.membrane_variance = 0.1
loss_weight.weight_ratio = 0.01
rate_loss = "split"      # firing-rate loss on two halves of the batch, unbiased (MODEL.md 7); "plain": the reference's

[feedback]               # `homeostat feedback`: synaptic scaling from observed rates, no gradients
rule = "integral"        # excitatory inputs x (1 + eta (r* - r) / r*), inhibitory x (1 - eta (r* - r) / r*) per chunk
tau_homeostatic = 50.0   # integral: s of observed activity; eta = min(batch x chunk seconds / tau_homeostatic, max_step)
max_step = 0.03          # integral: largest eta per chunk (no overshoot while eta x network gain <= 1/4)
eta_excitatory = 0.02    # rule "ema" (the first rule): eta on excitatory inputs per chunk
eta_inhibitory = 0.02    # ema: eta on inhibitory inputs
tau_avg = 5.0            # ema: chunks, the rate estimate r is a moving average (1 = this chunk only)
min_factor = 0.9         # bounds of every factor per chunk
max_factor = 1.1
granularity = "neuron"   # or "cell_type": one factor per (input sign, postsynaptic cell type)

[recurrent.cell_types]
names = ["excitatory", "inhibitory"]
proportion = [0.8, 0.2]

[recurrent.topology]
num_neurons = 1000
num_assemblies = 10
method = "configuration"
# rows: presynaptic type, columns: postsynaptic type
conn_within = [[0.5, 0.5], [1.0, 0.5]]
conn_between = [[0.25, 0.25], [0.25, 0.25]]

[recurrent.weights]
w_mu = [[0.1, 0.05], [0.2, 0.19]]     # mean weight
w_sigma = [[0.1, 0.1], [0.1, 0.1]]    # standard deviation of the weight

[recurrent.physiology.excitatory]
tau_mem = 85.0     # ms
theta = -38.0      # mV
U_reset = -60.0    # mV
E_L = -60.0        # mV
g_L = 1.35         # nS
tau_ref = 8.0      # ms

[recurrent.physiology.inhibitory]
tau_mem = 50.0
theta = -45.0
U_reset = -60.0
E_L = -60.0
g_L = 0.9
tau_ref = 8.0

[recurrent.synapses.excitatory]
names = ["AMPA", "NMDA"]
tau_rise = [0.1, 10.0]    # ms
tau_decay = [5.0, 70.0]   # ms
E_syn = [0.0, 0.0]        # mV
g_bar = [4.177, 0.448]    # nS

[recurrent.synapses.inhibitory]
names = ["GABA_A"]
tau_rise = [1.0]
tau_decay = [6.0]
E_syn = [-70.0]
g_bar = [8.139]

[feedforward.cell_types]
names = ["mitral"]
proportion = [1.0]

[feedforward.topology]
num_neurons = 300
method = "configuration"
conn_inputs = [[0.25, 0.25]]          # mitral -> excitatory, inhibitory

[feedforward.weights]
w_mu = [[0.05, 0.02]]
w_sigma = [[0.1, 0.1]]

[feedforward.activity.mitral]
firing_rate = 6.0         # Hz, Poisson

[feedforward.synapses.mitral]
names = ["AMPA", "NMDA"]
tau_rise = [0.1, 10.0]
tau_decay = [5.0, 70.0]
E_syn = [0.0, 0.0]
g_bar = [4.177, 0.448]
)";
}

}  // namespace homeostat::io
