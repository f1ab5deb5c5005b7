// Typed configuration of a run: what the TOML file says, nothing derived.
//
// The core never parses files: io/config_toml turns TOML into these structs
// following the schema (homeostat/schema.hpp: every key, its default and
// range), `validate` checks them (every error names its key), and model/
// lowers them into plain per-neuron and per-receptor arrays for the kernels.
// Matrices are indexed [pre type][post type]; per-type vectors follow the
// order of `type_names`.
#pragma once

#include "homeostat/loss.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace homeostat {

using Matrix = std::vector<std::vector<double>>;

// Closed choices of the file. Each enum's names (the strings of the TOML
// file) are listed once, in enum order: `enum_names<E>()` below.
enum class TopologyMethod { erdos_renyi, configuration };
enum class OnNan { stop, skip };  // NaN/Inf in a loss, gradient or parameter: stop the run or skip the update
// How training writes its weight snapshots: dense [pre, post] .npy, or the
// edge list (scipy's CSR .npz); `by_size` ("auto"): the edge list when one
// dense snapshot would exceed sparse_snapshot_bytes and the list is smaller.
enum class SnapshotFormat { by_size, sparse, dense };
enum class Granularity { neuron, cell_type };  // feedback factors per neuron or per (input sign, postsynaptic type)
enum class FeedbackRule { integral, ema };    // feedback: gain per observed second, or the first rule (a moving average)
// MODEL.md 6: what is trained. `weights`: ln w of every existing edge.
// `scaling_factors*`: ln f of one factor per (pre type, post type) block
// multiplying all weights of the block (recurrent, feedforward, or both).
enum class Optimisable { weights, scaling_factors, scaling_factors_recurrent, scaling_factors_feedforward };

// The members carry no defaults: the built-in values are those of the schema
// (homeostat/schema.hpp), `schema::default_config()`.
struct SimulationConfig {
  std::uint64_t seed;
  double dt;                // ms
  std::int64_t chunk_size;  // steps per chunk
  std::int64_t num_chunks;  // training length in chunks
  double duration;          // ms, for `simulate`
  bool saturate;            // clamp each receptor at g_bar (MODEL.md 3)

  bool operator==(const SimulationConfig&) const = default;
};

struct TrainingConfig {
  std::int64_t batch_size;
  std::int64_t chunks_per_update;
  std::int64_t log_interval;
  bool metrics_every_chunk;  // a metrics row after every chunk, not only every log_interval
  SnapshotFormat weight_snapshots;
  std::int64_t checkpoint_interval;
  Optimisable optimisable;
  OnNan on_nan;

  bool operator==(const TrainingConfig&) const = default;
};

struct CellTargets {  // for one recurrent cell type
  double firing_rate;      // Hz
  double cv;
  double alpha;            // silent-penalty strength [1/Hz]
  double threshold_ratio;  // sd(V) / (theta - mean(V))

  bool operator==(const CellTargets&) const = default;
};

struct TargetsConfig {
  std::vector<CellTargets> per_type;  // [recurrent type]
  double weight_ratio;

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
  double learning_rate;  // at the first chunk
  double lr_half_life;   // chunks; 0: no decay
  double lr_final_fraction;  // of learning_rate, what it decays to
  double grad_norm_clip;
  double surrgrad_scale;  // 1/mV
  LossWeights loss_weight;
  RateLoss rate_loss;  // with batch_size = 1 the plain form is used

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
// excitatory inputs are scaled by 1 + eta (r* - r) / r* and inhibitory
// inputs by 1 - eta (r* - r) / r*, each factor clipped to [min_factor,
// max_factor]. Rule "integral": r is this chunk's rate and eta =
// min(T_obs / tau_homeostatic, max_step), T_obs the chunk's observed
// seconds (batch_size x chunk duration); rule "ema": r is a moving average
// over tau_avg chunks and eta_excitatory / eta_inhibitory are per chunk.
struct FeedbackConfig {
  FeedbackRule rule;
  double tau_homeostatic;  // integral: s of observed activity per unit gain
  double max_step;         // integral: largest gain per chunk
  double eta_excitatory;   // gain on the excitatory inputs (recurrent E and feedforward)
  double eta_inhibitory;   // gain on the inhibitory inputs
  double tau_avg;          // chunks: rate estimate r <- r + (r_chunk - r) / tau_avg (1 = this chunk only)
  double min_factor;       // per-chunk bounds of every factor
  double max_factor;
  Granularity granularity;
  bool operator==(const FeedbackConfig&) const = default;
};

struct RecurrentConfig {
  std::vector<std::string> type_names;
  std::vector<double> proportion;
  std::int64_t num_neurons;
  std::int64_t num_assemblies;
  TopologyMethod method;
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
  std::int64_t num_neurons;
  TopologyMethod method;
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
  FeedbackConfig feedback;  // optional section
  RecurrentConfig recurrent;
  FeedforwardConfig feedforward;

  bool operator==(const Config&) const = default;
};

// A configuration error: `key` is the dotted TOML key it concerns
// (e.g. "recurrent.synapses.excitatory.tau_rise[1]"); `source` is filled in
// by the I/O layer with the file it came from. Several errors found in one
// file travel as one ConfigError (`combine`): key(), reason() and source()
// are the first's, what() lists every error on a line of its own.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, std::string reason, std::string source = {})
      : std::runtime_error(format(source, key, reason)),
        key_(std::move(key)), reason_(std::move(reason)), source_(std::move(source)) {}
  // `errors` must not be empty; one error is returned as it is.
  static ConfigError combine(std::vector<ConfigError> errors);

  const std::string& key() const { return key_; }
  const std::string& reason() const { return reason_; }
  const std::string& source() const { return source_; }
  // Every error: this one alone, or those combined.
  std::vector<ConfigError> errors() const;
  // The same error(s), all attributed to `source`.
  ConfigError with_source(const std::string& source) const;

 private:
  static std::string format(const std::string& source, const std::string& key, const std::string& reason) {
    std::string s = source.empty() ? std::string("config") : source;
    if (!key.empty()) s += ": " + key;
    return s + ": " + reason;
  }
  ConfigError(std::vector<ConfigError> errors, const std::string& what);
  std::string key_, reason_, source_;
  std::vector<ConfigError> combined_;  // empty for a single error
};

// Checks every value that the TOML types cannot: the ranges of the schema,
// then shapes, sums, tau_rise < tau_decay and the other relations between
// keys. Throws one ConfigError listing every problem, each naming its key.
void validate(const Config& config);
// The same checks, returned rather than thrown (empty: valid).
std::vector<ConfigError> config_errors(const Config& config);

// The strings of each enum's values in the file, in enum order
// (defined for the four enums above and loss.hpp's RateLoss), and the
// conversions.
template <class Enum>
std::span<const std::string_view> enum_names();
std::string to_string(TopologyMethod method);
std::string to_string(OnNan on_nan);
std::string to_string(SnapshotFormat format);
std::string to_string(Granularity granularity);
std::string to_string(FeedbackRule rule);
std::string to_string(Optimisable optimisable);
Optimisable parse_optimisable(const std::string& name);  // throws std::invalid_argument
bool trains_recurrent_factors(Optimisable mode);
bool trains_feedforward_factors(Optimisable mode);

}  // namespace homeostat
