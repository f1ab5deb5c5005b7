// The weight-ratio loss of MODEL.md 7 in `weights` mode (its value and
// derivative per edge), and the presynaptic types it counts as excitatory.
// The loss term itself is in loss.hpp; the ratio over block scaling
// factors is in optim.hpp (factor_ratio).
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/model.hpp"

#include <vector>

namespace homeostat {

// Presynaptic recurrent types that count as excitatory for the weight-ratio
// loss: every receptor of the type reverses above every threshold (it can
// drive any neuron past threshold).
std::vector<bool> excitatory_types(const Config& config);
// The same for the input (feedforward) types.
std::vector<bool> excitatory_input_types(const Config& config);

// Weight ratio of MODEL.md 7 in `weights` mode: mean weight of recurrent edges
// from excitatory types / mean feedforward weight.
struct WeightRatio {
  double value = 0;
  std::vector<double> d_rec;  // [E_rec] d value / d w
  std::vector<double> d_ff;   // [E_ff]
};
template <class Real>
WeightRatio weight_ratio(const LoweredModel<Real>& model, const std::vector<bool>& excitatory);

}  // namespace homeostat
