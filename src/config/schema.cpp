// The table of configuration keys (see homeostat/schema.hpp). The defaults
// are the built-in configuration: the reference Dp network of
// params/homeostatic-plasticity.toml scaled down so that `train` reaches its
// targets in a few minutes on 2 cores (README, "Configuration reference").
#include "homeostat/schema.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace homeostat::schema {
namespace {

// ---- Value <-> member -------------------------------------------------------

template <class T>
Value to_value(const T& x) {
  if constexpr (std::is_enum_v<T>) {
    return std::string(enum_names<T>()[static_cast<std::size_t>(x)]);
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    return static_cast<std::int64_t>(x);
  } else {
    return x;
  }
}

template <class T>
void from_value(const Value& v, T& x) {
  if constexpr (std::is_enum_v<T>) {
    const auto names = enum_names<T>();
    const auto it = std::find(names.begin(), names.end(), std::get<std::string>(v));
    if (it == names.end()) throw std::invalid_argument("unknown value '" + std::get<std::string>(v) + "'");
    x = static_cast<T>(it - names.begin());
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    x = static_cast<std::uint64_t>(std::get<std::int64_t>(v));
  } else {
    x = std::get<T>(v);
  }
}

template <class T>
T& grow(std::vector<T>& v, std::size_t i) {
  if (v.size() <= i) v.resize(i + 1);
  return v[i];
}

// A member reached from Config through a chain of member pointers:
// field<&Config::simulation, &SimulationConfig::dt>.
template <auto M, auto... Ms, class S>
auto& follow(S& s) {
  if constexpr (sizeof...(Ms) == 0) {
    return s.*M;
  } else {
    return follow<Ms...>(s.*M);
  }
}

template <auto... Ms>
constexpr Access field() {
  return {[](const Config& c, std::size_t) { return to_value(follow<Ms...>(c)); },
          [](Config& c, std::size_t, const Value& v) { from_value(v, follow<Ms...>(c)); }};
}

// c.recurrent.physiology[type].*M
template <auto M>
constexpr Access physiology() {
  return {[](const Config& c, std::size_t t) { return to_value(c.recurrent.physiology.at(t).*M); },
          [](Config& c, std::size_t t, const Value& v) { from_value(v, grow(c.recurrent.physiology, t).*M); }};
}

// c.targets.per_type[type].*M
template <auto M>
constexpr Access target() {
  return {[](const Config& c, std::size_t t) { return to_value(c.targets.per_type.at(t).*M); },
          [](Config& c, std::size_t t, const Value& v) { from_value(v, grow(c.targets.per_type, t).*M); }};
}

// c.feedforward.firing_rate[type]
constexpr Access input_rate() {
  return {[](const Config& c, std::size_t t) { return Value(c.feedforward.firing_rate.at(t)); },
          [](Config& c, std::size_t t, const Value& v) { grow(c.feedforward.firing_rate, t) = std::get<double>(v); }};
}

// The receptors of presynaptic type `type` of a layer, one member of each
// as a parallel array: (c.*Layer).synapses[type][receptor].*M
template <auto Layer, auto M>
constexpr Access receptors() {
  using T = std::remove_cvref_t<decltype(std::declval<ReceptorConfig>().*M)>;
  return {[](const Config& c, std::size_t t) {
            std::vector<T> out;
            for (const auto& r : (c.*Layer).synapses.at(t)) out.push_back(r.*M);
            return Value(std::move(out));
          },
          [](Config& c, std::size_t t, const Value& v) {
            const auto& values = std::get<std::vector<T>>(v);
            auto& rs = grow((c.*Layer).synapses, t);
            rs.resize(values.size());
            for (std::size_t r = 0; r < values.size(); ++r) rs[r].*M = values[r];
          }};
}

// ---- ranges -----------------------------------------------------------------

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr Range any{};
constexpr Range positive{.min = 0, .max = inf, .min_exclusive = true};
constexpr Range non_negative{.min = 0};
constexpr Range at_least_one{.min = 1};
constexpr Range unit_interval{.min = 0, .max = 1};
constexpr Range count_up_to(double max) { return {.min = 1, .max = max}; }

// Limits on sizes (issue 14): far beyond any network or run that fits a
// machine, there to refuse a typo (an extra zero or three) with the key named
// before memory or disk runs out.
constexpr double max_neurons = 1e7;      // per layer
constexpr double max_chunk_steps = 1e7;  // steps per chunk
constexpr double max_batch = 1e5;        // trials run together
constexpr double max_chunks = 1e7;
constexpr double max_chunks_per_update = 1e6;

using I = std::int64_t;
using Numbers = std::vector<double>;
using Strings = std::vector<std::string>;

// The keys before the loss weights: [simulation], [training], [targets] and
// the first three of [hyperparameters].
std::vector<Key> head_keys() {
  const auto on_nan = enum_names<OnNan>();
  const auto optimisable = enum_names<Optimisable>();
  const auto snapshot_format = enum_names<SnapshotFormat>();
  constexpr auto R = PerType::recurrent;
  using K = Kind;
  using C = Config;
  using SC = SimulationConfig;
  using TC = TrainingConfig;
  using HC = HyperparametersConfig;
  using CT = CellTargets;

  return {
      // [simulation]
      {"simulation", "seed", K::integer, {}, false, false, {I{42}}, non_negative, {}, "",
       "seed of every random draw: the run is a pure function of it", field<&C::simulation, &SC::seed>()},
      {"simulation", "dt", K::number, {}, false, false, {1.0}, {.min = 1e-4, .max = 10}, {}, "ms",
       "time step", field<&C::simulation, &SC::dt>()},
      {"simulation", "chunk_size", K::integer, {}, false, false, {I{4000}}, count_up_to(max_chunk_steps), {}, "steps",
       "time steps per chunk: the training unit; `simulate` streams in chunks of this size",
       field<&C::simulation, &SC::chunk_size>()},
      {"simulation", "num_chunks", K::integer, {}, false, false, {I{80}}, count_up_to(max_chunks), {}, "chunks",
       "training length", field<&C::simulation, &SC::num_chunks>()},
      {"simulation", "duration", K::number, {}, false, false, {10000.0}, positive, {}, "ms",
       "time simulated by `simulate`", field<&C::simulation, &SC::duration>()},
      {"simulation", "saturate", K::boolean, {}, true, false, {true}, any, {}, "",
       "clamp each receptor's d to [0, g_bar/eta] and u to [-g_bar/eta, 0] after each increment (MODEL.md 3)",
       field<&C::simulation, &SC::saturate>()},

      // [training]
      {"training", "batch_size", K::integer, {}, false, false, {I{8}}, count_up_to(max_batch), {}, "trials",
       "independent input trials run together", field<&C::training, &TC::batch_size>()},
      {"training", "chunks_per_update", K::integer, {}, false, false, {I{1}}, count_up_to(max_chunks_per_update), {},
       "chunks", "chunks whose gradients are summed before a step", field<&C::training, &TC::chunks_per_update>()},
      {"training", "log_interval", K::integer, {}, false, false, {I{5}}, at_least_one, {}, "chunks",
       "metrics, console block, figures and weight snapshot every this many chunks",
       field<&C::training, &TC::log_interval>()},
      {"training", "metrics_every_chunk", K::boolean, {}, true, false, {false}, any, {}, "",
       "a metrics row (training_metrics.csv, TensorBoard, on_log) after every chunk; console block, figures and "
       "weight snapshot stay at log_interval",
       field<&C::training, &TC::metrics_every_chunk>()},
      {"training", "weight_snapshots", K::choice, {}, true, false, {std::string("auto")}, any, snapshot_format, "",
       "weights/ snapshots as dense .npy, or as edge lists (scipy CSR .npz); auto: edge lists above 16 MB a snapshot",
       field<&C::training, &TC::weight_snapshots>()},
      {"training", "checkpoint_interval", K::integer, {}, false, false, {I{20}}, at_least_one, {}, "chunks",
       "checkpoint_latest (and checkpoint_best when better) every this many chunks",
       field<&C::training, &TC::checkpoint_interval>()},
      {"training", "optimisable", K::choice, {}, false, false, {std::string("weights")}, any, optimisable, "",
       "what is trained (WORKFLOW.md): every weight, or one scaling factor per (pre type, post type) block",
       field<&C::training, &TC::optimisable>()},
      {"training", "on_nan", K::choice, {}, true, false, {std::string("stop")}, any, on_nan, "",
       "NaN/Inf in a loss, the gradient or the parameters: stop the run (status 3) or skip the update",
       field<&C::training, &TC::on_nan>()},

      // [targets]
      {"targets", "firing_rate.<type>", K::number, R, false, false, {0.5, 5.0}, {.min = 0, .max = 1000}, {}, "Hz",
       "target firing rate", target<&CT::firing_rate>()},
      {"targets", "cv.<type>", K::number, R, true, false, {1.0}, non_negative, {}, "",
       "target coefficient of variation of the inter-spike intervals", target<&CT::cv>()},
      {"targets", "alpha.<type>", K::number, R, false, false, {0.01}, non_negative, {}, "1/Hz",
       "silent-penalty strength", target<&CT::alpha>()},
      // What the built-in network reaches at its rate targets (README, "Can the CV and membrane-ratio
      // targets be met?"); the reference configuration's 0.8 is out of its reach.
      {"targets", "threshold_ratio.<type>", K::number, R, false, false, {0.35, 0.43}, positive, {}, "",
       "target sd(V) / (theta - mean(V))", target<&CT::threshold_ratio>()},
      {"targets", "weight_ratio", K::number, {}, false, false, {2.0}, positive, {}, "",
       "target mean recurrent excitatory weight / mean feedforward weight", field<&C::targets, &TargetsConfig::weight_ratio>()},

      // [hyperparameters]
      {"hyperparameters", "learning_rate", K::number, {}, false, false, {0.04}, positive, {}, "",
       "Adam step size on the log-parameters at the first chunk", field<&C::hyperparameters, &HC::learning_rate>()},
      // A decay that depends on the chunk alone (not num_chunks): resume and extension step as a planned run.
      // 0.04 halving its way to 0.01 every 15 chunks brings the built-in network to its rate targets
      // (README, "The two methods on the built-in defaults"); a constant rate either stalls or swings.
      {"hyperparameters", "lr_half_life", K::number, {}, true, false, {15.0}, non_negative, {}, "chunks",
       "chunks in which the step size moves halfway to lr_final_fraction x learning_rate; 0 (also when left out, "
       "as in files written before the key): constant",
       field<&C::hyperparameters, &HC::lr_half_life>(), Value(0.0)},
      {"hyperparameters", "lr_final_fraction", K::number, {}, true, false, {0.25}, unit_interval, {}, "",
       "where the step size decays to, as a fraction of learning_rate", field<&C::hyperparameters, &HC::lr_final_fraction>()},
      {"hyperparameters", "grad_norm_clip", K::number, {}, false, false, {1.0}, positive, {}, "",
       "largest gradient norm; larger gradients are scaled down to it", field<&C::hyperparameters, &HC::grad_norm_clip>()},
      {"hyperparameters", "surrgrad_scale", K::number, {}, false, false, {200.0}, positive, {}, "1/mV",
       "steepness of the surrogate spike derivative", field<&C::hyperparameters, &HC::surrgrad_scale>()},
  };
}

// hyperparameters.loss_weight.<term>: c.hyperparameters.loss_weight.by_term[K]
template <std::size_t K>
constexpr Access loss_weight() {
  return {[](const Config& c, std::size_t) { return Value(c.hyperparameters.loss_weight.by_term[K]); },
          [](Config& c, std::size_t, const Value& v) { c.hyperparameters.loss_weight.by_term[K] = std::get<double>(v); }};
}

// One key per row of loss.hpp's table; the built-in defaults weigh the rate
// loss 2 (README: the rates are what the demo must reach), the others as the
// reference configuration, which is also what a left-out weight reads as.
void add_loss_weights(std::vector<Key>& table) {
  static const std::array<std::string, n_loss_terms> names = [] {
    std::array<std::string, n_loss_terms> out;
    for (std::size_t k = 0; k < n_loss_terms; ++k) out[k] = "loss_weight." + std::string(loss_terms[k].name);
    return out;
  }();
  static const std::array<std::string, n_loss_terms> docs = [] {
    std::array<std::string, n_loss_terms> out;
    for (std::size_t k = 0; k < n_loss_terms; ++k) out[k] = "weight of the " + std::string(loss_terms[k].name) + " loss (MODEL.md 7)";
    return out;
  }();
  [&]<std::size_t... k>(std::index_sequence<k...>) {
    (table.push_back(Key{"hyperparameters", names[k], Kind::number, PerType::none, true, false,
                         {loss_terms[k].term == LossTerm::firing_rate ? 2.0 : loss_terms[k].reference_weight},
                         non_negative, {}, "", docs[k], loss_weight<k>(), Value(loss_terms[k].reference_weight)}),
     ...);
  }(std::make_index_sequence<n_loss_terms>{});
}

std::vector<Key> make_table() {
  const auto on_nan = enum_names<OnNan>();
  const auto optimisable = enum_names<Optimisable>();
  const auto granularity = enum_names<Granularity>();
  const auto feedback_rule = enum_names<FeedbackRule>();
  const auto method = enum_names<TopologyMethod>();
  const auto rate_loss = enum_names<RateLoss>();
  constexpr auto R = PerType::recurrent;
  constexpr auto F = PerType::feedforward;
  using K = Kind;
  using C = Config;
  using HC = HyperparametersConfig;
  using FC = FeedbackConfig;
  using RC = RecurrentConfig;
  using FF = FeedforwardConfig;
  using PC = PhysiologyConfig;
  using RE = ReceptorConfig;

  std::vector<Key> table = head_keys();
  add_loss_weights(table);
  std::vector<Key> tail = {
      {"hyperparameters", "rate_loss", K::choice, {}, true, false, {std::string("split")}, any, rate_loss, "",
       "firing-rate loss on two halves of the batch, unbiased (MODEL.md 7), or on the batch mean (plain)",
       field<&C::hyperparameters, &HC::rate_loss>()},

      // [feedback]: `homeostat feedback`, synaptic scaling from observed rates
      {"feedback", "rule", K::choice, {}, true, false, {std::string("integral")}, any, feedback_rule, "",
       "integral: this chunk's rate, eta = min(observed seconds / tau_homeostatic, max_step); ema: the first rule",
       field<&C::feedback, &FC::rule>()},
      {"feedback", "tau_homeostatic", K::number, {}, true, false, {50.0}, positive, {}, "s",
       "integral: seconds of observed activity (batch x chunk) per unit gain", field<&C::feedback, &FC::tau_homeostatic>()},
      {"feedback", "max_step", K::number, {}, true, false, {0.03}, positive, {}, "",
       "integral: largest eta per chunk (no overshoot while eta x network gain <= 1/4)",
       field<&C::feedback, &FC::max_step>()},
      {"feedback", "eta_excitatory", K::number, {}, true, false, {0.02}, non_negative, {}, "",
       "ema: excitatory inputs x (1 + eta_excitatory (r* - r) / r*) after each chunk",
       field<&C::feedback, &FC::eta_excitatory>()},
      {"feedback", "eta_inhibitory", K::number, {}, true, false, {0.02}, non_negative, {}, "",
       "ema: inhibitory inputs x (1 - eta_inhibitory (r* - r) / r*) after each chunk",
       field<&C::feedback, &FC::eta_inhibitory>()},
      {"feedback", "tau_avg", K::number, {}, true, false, {5.0}, at_least_one, {}, "chunks",
       "ema: the rate estimate r is a moving average over this many chunks (1 = this chunk only)",
       field<&C::feedback, &FC::tau_avg>()},
      {"feedback", "min_factor", K::number, {}, true, false, {0.9}, {.min = 0, .max = 1, .min_exclusive = true}, {}, "",
       "lower bound of every factor per chunk", field<&C::feedback, &FC::min_factor>()},
      {"feedback", "max_factor", K::number, {}, true, false, {1.1}, {.min = 1}, {}, "",
       "upper bound of every factor per chunk", field<&C::feedback, &FC::max_factor>()},
      {"feedback", "granularity", K::choice, {}, true, false, {std::string("neuron")}, any, granularity, "",
       "one factor per neuron, or per (input sign, postsynaptic cell type)", field<&C::feedback, &FC::granularity>()},

      // [recurrent.*]
      {"recurrent.cell_types", "names", K::strings, {}, false, false, {Strings{"excitatory", "inhibitory"}}, any, {}, "",
       "recurrent cell types, in the order of every per-type list and matrix", field<&C::recurrent, &RC::type_names>()},
      {"recurrent.cell_types", "proportion", K::numbers, {}, false, false, {Numbers{0.8, 0.2}}, unit_interval, {}, "",
       "fraction of each type (sum 1): n_c = round(N p_c), the last type takes the remainder",
       field<&C::recurrent, &RC::proportion>()},
      {"recurrent.topology", "num_neurons", K::integer, {}, false, false, {I{1000}}, count_up_to(max_neurons), {}, "",
       "N, recurrent neurons", field<&C::recurrent, &RC::num_neurons>()},
      {"recurrent.topology", "num_assemblies", K::integer, {}, false, false, {I{10}}, count_up_to(max_neurons), {}, "",
       "A: the first A * (N // A) neurons form A contiguous assemblies, cell types spread evenly over them", field<&C::recurrent, &RC::num_assemblies>()},
      {"recurrent.topology", "method", K::choice, {}, false, false, {std::string("configuration")}, any, method, "",
       "configuration: exact edge count per block, degrees balanced to within one; erdos-renyi: independent edges",
       field<&C::recurrent, &RC::method>()},
      {"recurrent.topology", "conn_within", K::matrix, {}, false, false, {Matrix{{0.5, 0.5}, {1.0, 0.5}}},
       unit_interval, {}, "", "connection probability inside an assembly [pre type][post type]",
       field<&C::recurrent, &RC::conn_within>()},
      {"recurrent.topology", "conn_between", K::matrix, {}, false, false, {Matrix{{0.25, 0.25}, {0.25, 0.25}}},
       unit_interval, {}, "", "connection probability between assemblies [pre type][post type]",
       field<&C::recurrent, &RC::conn_between>()},
      {"recurrent.weights", "w_mu", K::matrix, {}, false, false, {Matrix{{0.1, 0.05}, {0.2, 0.19}}}, positive, {}, "",
       "mean of the log-normal weights (linear space) [pre type][post type]", field<&C::recurrent, &RC::w_mu>()},
      {"recurrent.weights", "w_sigma", K::matrix, {}, false, false, {Matrix{{0.1, 0.1}, {0.1, 0.1}}}, non_negative, {},
       "", "standard deviation of the weights (linear space) [pre type][post type]",
       field<&C::recurrent, &RC::w_sigma>()},
      {"recurrent.physiology.<type>", "tau_mem", K::number, R, false, false, {85.0, 50.0}, positive, {}, "ms",
       "membrane time constant", physiology<&PC::tau_mem>()},
      {"recurrent.physiology.<type>", "theta", K::number, R, false, false, {-38.0, -45.0}, any, {}, "mV",
       "spike threshold (above U_reset)", physiology<&PC::theta>()},
      {"recurrent.physiology.<type>", "U_reset", K::number, R, false, false, {-60.0}, any, {}, "mV",
       "reset potential", physiology<&PC::U_reset>()},
      {"recurrent.physiology.<type>", "E_L", K::number, R, false, false, {-60.0}, any, {}, "mV",
       "leak reversal potential", physiology<&PC::E_L>()},
      {"recurrent.physiology.<type>", "g_L", K::number, R, false, false, {1.35, 0.9}, positive, {}, "nS",
       "leak conductance", physiology<&PC::g_L>()},
      {"recurrent.physiology.<type>", "tau_ref", K::number, R, false, false, {8.0}, non_negative, {}, "ms",
       "refractory period", physiology<&PC::tau_ref>()},
      {"recurrent.synapses.<type>", "names", K::strings, R, false, false,
       {Strings{"AMPA", "NMDA"}, Strings{"GABA_A"}}, any, {}, "",
       "receptors of the presynaptic type (at most 15 receptor columns over all types of both layers)",
       receptors<&C::recurrent, &RE::name>()},
      {"recurrent.synapses.<type>", "tau_rise", K::numbers, R, false, true, {Numbers{0.1, 10.0}, Numbers{1.0}},
       positive, {}, "ms", "rise time constant of each receptor (< tau_decay)", receptors<&C::recurrent, &RE::tau_rise>()},
      {"recurrent.synapses.<type>", "tau_decay", K::numbers, R, false, true, {Numbers{5.0, 70.0}, Numbers{6.0}},
       positive, {}, "ms", "decay time constant of each receptor", receptors<&C::recurrent, &RE::tau_decay>()},
      {"recurrent.synapses.<type>", "E_syn", K::numbers, R, false, true, {Numbers{0.0, 0.0}, Numbers{-70.0}}, any, {},
       "mV", "reversal potential of each receptor", receptors<&C::recurrent, &RE::E_syn>()},
      {"recurrent.synapses.<type>", "g_bar", K::numbers, R, false, true, {Numbers{4.177, 0.448}, Numbers{8.139}},
       non_negative, {}, "nS", "peak conductance of a spike of weight 1, per receptor",
       receptors<&C::recurrent, &RE::g_bar>()},

      // [feedforward.*]
      {"feedforward.cell_types", "names", K::strings, {}, false, false, {Strings{"mitral"}}, any, {}, "",
       "input cell types (contiguous blocks of the input layer)", field<&C::feedforward, &FF::type_names>()},
      {"feedforward.cell_types", "proportion", K::numbers, {}, false, false, {Numbers{1.0}}, unit_interval, {}, "",
       "fraction of each input type (sum 1)", field<&C::feedforward, &FF::proportion>()},
      {"feedforward.topology", "num_neurons", K::integer, {}, false, false, {I{300}}, count_up_to(max_neurons), {}, "",
       "M, input neurons", field<&C::feedforward, &FF::num_neurons>()},
      {"feedforward.topology", "method", K::choice, {}, false, false, {std::string("configuration")}, any, method, "",
       "as recurrent.topology.method", field<&C::feedforward, &FF::method>()},
      {"feedforward.topology", "conn_inputs", K::matrix, {}, false, false, {Matrix{{0.25, 0.25}}}, unit_interval, {},
       "", "connection probability [input type][recurrent type]", field<&C::feedforward, &FF::conn_inputs>()},
      {"feedforward.weights", "w_mu", K::matrix, {}, false, false, {Matrix{{0.05, 0.02}}}, positive, {}, "",
       "mean weight [input type][recurrent type]", field<&C::feedforward, &FF::w_mu>()},
      {"feedforward.weights", "w_sigma", K::matrix, {}, false, false, {Matrix{{0.1, 0.1}}}, non_negative, {}, "",
       "standard deviation of the weights [input type][recurrent type]", field<&C::feedforward, &FF::w_sigma>()},
      {"feedforward.activity.<type>", "firing_rate", K::number, F, false, false, {6.0}, non_negative, {}, "Hz",
       "Poisson rate of the input type (at most one spike per step: rate * dt <= 1)", input_rate()},
      {"feedforward.synapses.<type>", "names", K::strings, F, false, false, {Strings{"AMPA", "NMDA"}}, any, {}, "",
       "receptors of the input type", receptors<&C::feedforward, &RE::name>()},
      {"feedforward.synapses.<type>", "tau_rise", K::numbers, F, false, true, {Numbers{0.1, 10.0}}, positive, {},
       "ms", "rise time constant of each receptor (< tau_decay)", receptors<&C::feedforward, &RE::tau_rise>()},
      {"feedforward.synapses.<type>", "tau_decay", K::numbers, F, false, true, {Numbers{5.0, 70.0}}, positive, {},
       "ms", "decay time constant of each receptor", receptors<&C::feedforward, &RE::tau_decay>()},
      {"feedforward.synapses.<type>", "E_syn", K::numbers, F, false, true, {Numbers{0.0, 0.0}}, any, {}, "mV",
       "reversal potential of each receptor", receptors<&C::feedforward, &RE::E_syn>()},
      {"feedforward.synapses.<type>", "g_bar", K::numbers, F, false, true, {Numbers{4.177, 0.448}}, non_negative, {},
       "nS", "peak conductance of a spike of weight 1, per receptor", receptors<&C::feedforward, &RE::g_bar>()},
  };
  table.insert(table.end(), tail.begin(), tail.end());
  return table;
}

// A bound or value as the key's kind writes it: integers without exponent.
std::string bound(const Key& key, double x) {
  if (key.kind == Kind::integer && std::abs(x) < 1e18) return std::to_string(static_cast<std::int64_t>(x));
  return number_text(x);
}

std::string join(std::span<const std::string_view> items, std::string_view last) {
  std::string s;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) s += i + 1 == items.size() ? last : ", ";
    s += items[i];
  }
  return s;
}

void check_number(const Key& key, double x, const std::string& path, std::vector<ConfigError>& errors) {
  if (!std::isfinite(x)) {
    errors.emplace_back(path, "must be a finite number, got " + number_text(x));
    return;
  }
  const Range& r = key.range;
  const bool low = r.min_exclusive ? !(x > r.min) : x < r.min;
  if (!low && !(x > r.max)) return;
  std::string reason = "must be ";
  reason += low ? (r.min_exclusive ? "> " : ">= ") + bound(key, r.min) : "<= " + bound(key, r.max);
  if (std::isfinite(r.min) && std::isfinite(r.max)) reason += " (" + range_text(key) + ")";
  errors.emplace_back(path, reason + ", got " + bound(key, x));
}

std::string index(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

}  // namespace

std::string number_text(double x) {
  char buf[64];
  const bool plain = x == 0 || (std::abs(x) >= 1e-5 && std::abs(x) < 1e16);
  const auto r = plain ? std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed)
                       : std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

std::span<const Key> keys() {
  static const std::vector<Key> table = make_table();
  return table;
}

std::string Key::path() const { return std::string(section) + "." + std::string(name); }

const Key* find(std::string_view path) {
  for (const Key& k : keys())
    if (k.path() == path) return &k;
  return nullptr;
}

const std::vector<std::string>& type_names(const Config& config, PerType per) {
  static const std::vector<std::string> none;
  if (per == PerType::recurrent) return config.recurrent.type_names;
  if (per == PerType::feedforward) return config.feedforward.type_names;
  return none;
}

const Key& names_key(PerType per) {
  static const Key& recurrent = *find("recurrent.cell_types.names");
  static const Key& feedforward = *find("feedforward.cell_types.names");
  if (per == PerType::none) throw std::invalid_argument("names_key: no cell types for PerType::none");
  return per == PerType::recurrent ? recurrent : feedforward;
}

std::string expand(std::string_view pattern, const std::string& type) {
  std::string s(pattern);
  const auto at = s.find(type_placeholder);
  if (at != std::string::npos) s.replace(at, type_placeholder.size(), type);
  return s;
}

std::vector<std::pair<std::string, Value>> scalar_values(const Config& config) {
  std::vector<std::pair<std::string, Value>> out;
  for (const Key& k : keys()) {
    if (k.kind != Kind::integer && k.kind != Kind::number && k.kind != Kind::boolean && k.kind != Kind::choice)
      continue;
    if (k.per == PerType::none) {
      out.emplace_back(k.path(), k.access.get(config, 0));
      continue;
    }
    const auto& types = type_names(config, k.per);
    for (std::size_t t = 0; t < types.size(); ++t)
      out.emplace_back(expand(k.path(), types[t]), k.access.get(config, t));
  }
  return out;
}

const Value& absent_value(const Key& key, std::size_t type) {
  return key.when_absent ? *key.when_absent : default_value(key, type);
}

const Value& default_value(const Key& key, std::size_t type) {
  return key.defaults.size() == 1 ? key.defaults.front() : key.defaults.at(type);
}

Config default_config() {
  Config c{};
  // Keys without <type> first: the cell-type names size the others.
  for (const Key& k : keys())
    if (k.per == PerType::none) k.access.set(c, 0, k.defaults.front());
  for (const Key& k : keys()) {
    if (k.per == PerType::none) continue;
    for (std::size_t t = 0; t < type_names(c, k.per).size(); ++t) k.access.set(c, t, default_value(k, t));
  }
  return c;
}

void check_range(const Key& key, const Value& value, const std::string& path, std::vector<ConfigError>& errors) {
  switch (key.kind) {
    case Kind::integer: check_number(key, static_cast<double>(std::get<std::int64_t>(value)), path, errors); break;
    case Kind::number: check_number(key, std::get<double>(value), path, errors); break;
    case Kind::numbers: {
      const auto& v = std::get<std::vector<double>>(value);
      for (std::size_t i = 0; i < v.size(); ++i) check_number(key, v[i], index(path, i), errors);
      break;
    }
    case Kind::matrix: {
      const auto& m = std::get<Matrix>(value);
      for (std::size_t i = 0; i < m.size(); ++i)
        for (std::size_t j = 0; j < m[i].size(); ++j) check_number(key, m[i][j], index(index(path, i), j), errors);
      break;
    }
    case Kind::boolean:
    case Kind::choice:
    case Kind::strings: break;  // the reader has checked the choice
  }
}

std::string range_text(const Key& key) {
  if (key.kind == Kind::choice) return join(key.choices, " or ");
  if (key.kind == Kind::boolean) return "true or false";
  if (key.kind == Kind::strings) return "";
  const Range& r = key.range;
  const bool lo = std::isfinite(r.min), hi = std::isfinite(r.max);
  if (lo && hi)
    return (r.min_exclusive ? "(" : "[") + bound(key, r.min) + ", " + bound(key, r.max) + "]";
  if (lo) return (r.min_exclusive ? "> " : ">= ") + bound(key, r.min);
  if (hi) return "<= " + bound(key, r.max);
  return key.kind == Kind::integer ? "" : "finite";
}

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::integer: return "integer";
    case Kind::number: return "number";
    case Kind::boolean: return "boolean";
    case Kind::choice: return "string";
    case Kind::strings: return "array of strings";
    case Kind::numbers: return "array of numbers";
    case Kind::matrix: return "matrix";
  }
  return "";
}

}  // namespace homeostat::schema
