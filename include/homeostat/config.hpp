// Typed configuration of a run: what the TOML file says, nothing derived.
//
// The core never parses files: io/config_toml turns TOML into these structs,
// `validate` checks them (every error names its key), and model/ lowers them
// into plain per-neuron and per-receptor arrays for the kernels.
// Matrices are indexed [pre type][post type]; per-type vectors follow the
// order of `type_names`.
#pragma once

#include "homeostat/loss.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace homeostat {

using Matrix = std::vector<std::vector<double>>;

enum class TopologyMethod { erdos_renyi, configuration };

struct SimulationConfig {
  std::uint64_t seed = 42;
  double dt = 0.1;                // ms
  std::int64_t chunk_size = 5000; // steps per chunk
  std::int64_t num_chunks = 500;  // training length in chunks
  double duration = 10000.0;      // ms, for `simulate`
  bool saturate = true;           // clamp each receptor at g_bar (MODEL.md 3)

  bool operator==(const SimulationConfig&) const = default;
};

struct TrainingConfig {
  std::int64_t batch_size = 32;
  std::int64_t chunks_per_update = 1;
  std::int64_t log_interval = 5;
  std::int64_t checkpoint_interval = 50;
  std::string optimisable = "weights";
  std::string on_nan = "stop";  // NaN/Inf in a loss, gradient or parameter: "stop" the run or "skip" the update

  bool operator==(const TrainingConfig&) const = default;
};

struct CellTargets {  // for one recurrent cell type
  double firing_rate = 0.0;      // Hz
  double cv = 1.0;
  double alpha = 0.01;           // silent-penalty strength [1/Hz]
  double threshold_ratio = 0.8;  // sd(V) / (theta - mean(V))

  bool operator==(const CellTargets&) const = default;
};

struct TargetsConfig {
  std::vector<CellTargets> per_type;  // [recurrent type]
  double weight_ratio = 2.0;

  bool operator==(const TargetsConfig&) const = default;
};

// hyperparameters.loss_weight.<name>: one weight per row of loss.hpp's table.
struct LossWeights {
  std::array<double, n_loss_terms> by_term = reference_loss_weights;  // by LossTerm

  double& operator[](LossTerm term) { return by_term[index_of(term)]; }
  double operator[](LossTerm term) const { return by_term[index_of(term)]; }
  bool operator==(const LossWeights&) const = default;
};

struct HyperparametersConfig {
  double learning_rate = 5e-4;
  double grad_norm_clip = 1.0;
  double surrgrad_scale = 200.0;  // 1/mV
  LossWeights loss_weight;
  RateLoss rate_loss = RateLoss::split;  // optional key; with batch_size = 1 the plain form is used

  bool operator==(const HyperparametersConfig&) const = default;
};

struct PhysiologyConfig {
  double tau_mem;   // ms
  double theta;     // mV
  double U_reset;   // mV
  double E_L;       // mV
  double g_L;       // nS
  double tau_ref;   // ms

  bool operator==(const PhysiologyConfig&) const = default;
};

struct ReceptorConfig {
  std::string name;
  double tau_rise;   // ms
  double tau_decay;  // ms
  double E_syn;      // mV
  double g_bar;      // nS

  bool operator==(const ReceptorConfig&) const = default;
};

// Receptor columns (every receptor of every presynaptic type, recurrent and
// feedforward together) that a model may have: the gradient engine keeps
// where each one saturated in one 32-bit word per neuron and step.
inline constexpr int max_receptor_columns = 15;

// The feedback rule of `homeostat feedback` (multiplicative synaptic scaling,
// no gradients): after each chunk, with r the observed rate of the
// postsynaptic neuron (or the mean over its cell type) and r* its target,
// excitatory inputs are scaled by 1 + eta (r* - r) / r* and inhibitory inputs
// by 1 - eta (r* - r) / r*, each factor clipped to [min_factor, max_factor].
// rule "integral": r is this chunk's rate and eta = min(T_obs /
// tau_homeostatic, max_step) for both signs, T_obs the chunk's observed
// seconds (batch_size x chunk duration); rule "ema": r is a moving average
// over tau_avg chunks and eta_excitatory / eta_inhibitory are per chunk.
struct FeedbackConfig {
  std::string rule = "integral";  // or "ema" (the first rule, kept for comparison)
  double tau_homeostatic = 50.0;  // integral: s of observed activity per unit gain
  double max_step = 0.03;         // integral: largest gain per chunk (no overshoot: eta G <= 1/4)
  double eta_excitatory = 0.02;   // ema: gain on the excitatory inputs (recurrent E and feedforward)
  double eta_inhibitory = 0.02;   // ema: gain on the inhibitory inputs
  double tau_avg = 5.0;           // ema: chunks, rate estimate r <- r + (r_chunk - r) / tau_avg (1 = this chunk only)
  double min_factor = 0.9;        // per-chunk bounds of every factor
  double max_factor = 1.1;
  std::string granularity = "neuron";  // or "cell_type": one factor per (input sign, postsynaptic type)
  bool operator==(const FeedbackConfig&) const = default;
};

struct RecurrentConfig {
  std::vector<std::string> type_names;
  std::vector<double> proportion;
  std::int64_t num_neurons = 0;
  std::int64_t num_assemblies = 1;
  TopologyMethod method = TopologyMethod::configuration;
  Matrix conn_within;   // [type][type]
  Matrix conn_between;  // [type][type]
  Matrix w_mu;          // [type][type] mean weight
  Matrix w_sigma;       // [type][type] standard deviation of the weight
  std::vector<PhysiologyConfig> physiology;            // [type]
  std::vector<std::vector<ReceptorConfig>> synapses;   // [type][receptor]

  bool operator==(const RecurrentConfig&) const = default;
};

struct FeedforwardConfig {
  std::vector<std::string> type_names;
  std::vector<double> proportion;
  std::int64_t num_neurons = 0;
  TopologyMethod method = TopologyMethod::configuration;
  Matrix conn_inputs;  // [input type][recurrent type]
  Matrix w_mu;         // [input type][recurrent type]
  Matrix w_sigma;      // [input type][recurrent type]
  std::vector<double> firing_rate;                     // [input type] Hz
  std::vector<std::vector<ReceptorConfig>> synapses;   // [input type][receptor]

  bool operator==(const FeedforwardConfig&) const = default;
};

struct Config {
  SimulationConfig simulation;
  TrainingConfig training;
  TargetsConfig targets;
  HyperparametersConfig hyperparameters;
  FeedbackConfig feedback;  // optional section: these defaults when absent
  RecurrentConfig recurrent;
  FeedforwardConfig feedforward;

  bool operator==(const Config&) const = default;
};

// A configuration error: `key` is the dotted TOML key it concerns
// (e.g. "recurrent.synapses.excitatory.tau_rise[1]"); `source` is filled in
// by the I/O layer with the file it came from.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, std::string reason, std::string source = {})
      : std::runtime_error(format(source, key, reason)),
        key_(std::move(key)), reason_(std::move(reason)), source_(std::move(source)) {}
  const std::string& key() const { return key_; }
  const std::string& reason() const { return reason_; }
  const std::string& source() const { return source_; }
  ConfigError with_source(const std::string& source) const { return {key_, reason_, source}; }

 private:
  static std::string format(const std::string& source, const std::string& key,
                            const std::string& reason) {
    std::string s = source.empty() ? std::string("config") : source;
    if (!key.empty()) s += ": " + key;
    return s + ": " + reason;
  }
  std::string key_, reason_, source_;
};

// Checks every value that the TOML types cannot: ranges, shapes, sums,
// tau_rise < tau_decay. Throws ConfigError naming the key.
void validate(const Config& config);

std::string to_string(TopologyMethod method);

}  // namespace homeostat
