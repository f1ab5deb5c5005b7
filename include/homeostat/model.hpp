// The conductance-based LIF model lowered to plain numbers (MODEL.md 3-4).
//
// `lower` turns a validated Config and a Network into per-neuron and
// per-receptor arrays with the propagators computed once (beta = exp(-dt/tau_mem),
// alpha = exp(-dt/tau), g_max = g_bar/eta). The kernels see only these.
//
// Receptor columns: every receptor type of every recurrent cell type, in
// cell-type order, then those of every input type (MODEL.md 4, recording
// convention). Every neuron carries every column.
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/connectome.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace homeostat {

struct ReceptorColumn {
  std::string name;          // receptor name, e.g. "AMPA"
  std::string source;        // presynaptic cell type, e.g. "excitatory"
  bool feedforward = false;  // driven by input neurons
  std::int32_t presyn_type = 0;
  ReceptorConfig receptor;
  double eta = 1.0;          // peak of the normalised dual exponential
  double g_max = 0.0;        // g_bar / eta [nS]: jump of d per unit weight; clamp bound
};

// Peak of exp(-t/tau_decay) - exp(-t/tau_rise): eta = r^(r/(1-r)) - r^(1/(1-r)),
// r = tau_rise / tau_decay.
double dual_exp_peak(double tau_rise, double tau_decay);

std::vector<ReceptorColumn> receptor_columns(const Config& config);

// Column labels "<source>:<name>" in column order (for files and figures).
std::vector<std::string> receptor_labels(const std::vector<ReceptorColumn>& columns);

template <class Real>
struct LoweredModel {
  std::int64_t n = 0;            // recurrent neurons
  std::int64_t m = 0;            // inputs
  std::int64_t n_receptors = 0;  // receptor columns R
  Real dt = 0;                   // ms
  bool saturate = true;

  // [N]
  std::vector<Real> theta;       // mV
  std::vector<Real> u_reset;     // mV
  std::vector<Real> e_leak;      // mV
  std::vector<Real> beta;        // exp(-dt / tau_mem)
  std::vector<Real> dt_over_cm;  // dt / (tau_mem * g_L) [ms/pF]
  std::vector<std::int32_t> n_ref;  // refractory steps, round(tau_ref / dt)

  // [R]
  std::vector<Real> alpha_rise;   // exp(-dt / tau_rise)
  std::vector<Real> alpha_decay;  // exp(-dt / tau_decay)
  std::vector<Real> e_syn;        // mV
  std::vector<Real> g_max;        // nS

  // Receptor columns hit by a spike of each presynaptic type: [first, first + count).
  std::vector<std::int32_t> rec_first, rec_count;  // [recurrent type]
  std::vector<std::int32_t> ff_first, ff_count;    // [input type]

  std::vector<std::int32_t> cell_type;   // [N]
  std::vector<std::int32_t> input_type;  // [M]

  // Synapses by presynaptic neuron (weights in Real for the kernels).
  std::vector<std::int64_t> rec_row, ff_row;
  std::vector<std::int32_t> rec_post, ff_post;
  std::vector<Real> rec_weight, ff_weight;
};

template <class Real>
LoweredModel<Real> lower(const Config& config, const Network& network);

}  // namespace homeostat
