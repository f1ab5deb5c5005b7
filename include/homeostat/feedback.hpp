// The feedback rule of `homeostat feedback`: homeostatic synaptic scaling
// from observed rates, no gradients (Turrigiano et al. 1998; the
// multiplicative form of van Rossum, Bi & Turrigiano 2000).
//
// After each chunk every neuron i has a rate estimate r_i (the chunk's mean
// over trials, smoothed over chunks with time constant tau_avg) and its
// type's target r*_i. With e_i = (r*_i - r_i) / r*_i, the relative rate error,
// every excitatory input onto i (from an excitatory recurrent or input type,
// as excitatory_types says: for the Dp model recurrent E and every mitral
// input) is multiplied by 1 + eta_E e_i and every inhibitory
// input by 1 - eta_I e_i, each factor clipped to [min_factor, max_factor].
// Scaling is multiplicative, so weights stay positive, absent edges stay
// absent and the relative strengths of a neuron's inputs are kept.
// With granularity "cell_type", r_i is the mean estimate over i's cell
// type: one factor per (input sign, postsynaptic type), a block scaling.
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

// Moves `estimate` towards this chunk's rates (an exponential moving average
// over chunks); an empty estimate starts at `rate`.
void update_rate_estimate(std::vector<double>& estimate, const std::vector<double>& rate, double tau_avg);

// The factors of the rule for the rate estimates `rate` [N].
ScalingFactors scaling_factors(const FeedbackConfig& feedback, const std::vector<double>& rate,
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
