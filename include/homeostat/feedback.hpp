// The feedback rule of `homeostat feedback`: homeostatic synaptic scaling
// from observed rates, no gradients (Turrigiano et al. 1998; the
// multiplicative form of van Rossum, Bi & Turrigiano 2000).
//
// After each chunk every neuron i has a rate estimate r_i and its type's
// target r*_i. With e_i = (r*_i - r_i) / r*_i, the relative rate error,
// every excitatory input onto i (from an excitatory recurrent or input type,
// as excitatory_types says: for the Dp model recurrent E and every mitral
// input) is multiplied by 1 + eta_E e_i and every inhibitory
// input by 1 - eta_I e_i, each factor clipped to [min_factor, max_factor].
// Scaling is multiplicative, so weights stay positive, absent edges stay
// absent and the relative strengths of a neuron's inputs are kept.
// With granularity "cell_type", r_i is the mean estimate over i's cell
// type: one factor per (input sign, postsynaptic type), a block scaling.
//
// Rule "integral" (the default): r_i is this chunk's rate and the gain is
// proportional to the seconds of activity the chunk observed, eta_E = eta_I
// = min(T_obs / tau_homeostatic, max_step): ln w integrates the error at a
// rate set in observed seconds, so the weight noise and the speed per
// observed second are the same for any dt, chunk length and batch, and the
// per-chunk loop gain eta G (G = d ln r / d ln w of the network) stays below
// G max_step, which keeps it monotone. Rule "ema" (the first rule): r_i is a
// moving average over tau_avg chunks and the gains are per chunk; the
// average adds a lag to the integrator, and the loop rings (poles of modulus
// sqrt(1 - 1/tau_avg)) unless eta G <= 1 / (4 tau_avg).
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/model.hpp"

#include <cstdint>
#include <vector>

namespace homeostat {

struct ScalingFactors {
  std::vector<double> excitatory;  // [N] factor on the excitatory inputs of each neuron
  std::vector<double> inhibitory;  // [N] factor on its inhibitory inputs
};

// Seconds of activity one chunk observes per neuron: batch_size trials of
// chunk_size steps of dt.
double observed_seconds(const Config& config);

// The gains and the smoothing of one chunk that observed `observed_seconds`
// of activity per neuron.
struct ScalingStep {
  double eta_excitatory = 0, eta_inhibitory = 0;
  double tau_avg = 1;  // chunks
};
ScalingStep scaling_step(const FeedbackConfig& feedback, double observed_seconds);

// Moves `estimate` towards this chunk's rates (an exponential moving average
// over chunks); an empty estimate starts at `rate`.
void update_rate_estimate(std::vector<double>& estimate, const std::vector<double>& rate, double tau_avg);

// The factors of the rule for the rate estimates `rate` [N].
ScalingFactors scaling_factors(const FeedbackConfig& feedback, const ScalingStep& step, const std::vector<double>& rate,
                               const std::vector<double>& target, const std::vector<std::int32_t>& cell_type,
                               std::int64_t n_types);

// Applies the factors to log-weights in the layout of Parameters' `weights`
// mode ([E_rec] ln w in CSR order, then [E_ff] ln w): ln w += ln f.
// `excitatory[t]` / `excitatory_inputs[t]`: whether recurrent / input type t
// is excitatory.
void apply_scaling(std::vector<double>& log_weights, const LoweredModel<float>& model,
                   const std::vector<bool>& excitatory, const std::vector<bool>& excitatory_inputs,
                   const ScalingFactors& factors);

}  // namespace homeostat
