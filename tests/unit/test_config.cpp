// Config: the reference file loads as is, defaults round-trip through
// parameters.toml, --set overrides apply, every kind of bad input is
// rejected with the source, the key and the reason (all of a file's errors
// at once, misspellings with the key meant), and the schema table drives it
// all: every key is read from its place, enums round-trip, limits hold, and
// README's reference is the table's.
#include "homeostat/model.hpp"
#include "homeostat/schema.hpp"
#include "homeostat/io/checkpoint.hpp"
#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

using homeostat::Config;
using homeostat::ConfigError;
using homeostat::Granularity;
using homeostat::OnNan;
using homeostat::Optimisable;
namespace schema = homeostat::schema;
using homeostat::io::default_config_toml;
using homeostat::io::load_config;
using homeostat::io::parse_config;
using homeostat::io::read_file;
using homeostat::io::to_toml;

namespace {

// The repository's copy of the reference configuration (params/), so that a
// clone alone tests; ReferenceCopyMatchesShared catches drift from the
// original in ../shared where that exists.
const std::string reference_path = std::string(HOMEOSTAT_PARAMS_DIR) + "/homeostatic-plasticity.toml";

// Expects parsing to fail with an error naming `key` whose reason contains `reason`.
void expect_error(const std::string& text, const std::vector<std::string>& overrides, const std::string& key,
                  const std::string& reason) {
  try {
    parse_config(text, "test.toml", overrides);
    FAIL() << "accepted a config that should fail at " << key;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), key) << e.what();
    EXPECT_NE(e.reason().find(reason), std::string::npos) << "reason was: " << e.reason();
    EXPECT_NE(std::string(e.what()).find("test.toml"), std::string::npos) << e.what();
  }
}

// The built-in defaults as parameters.toml writes them: one key a line.
std::string defaults() { return to_toml(load_config("")); }

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

}  // namespace

TEST(Config, ReferenceFileLoadsAsIs) {
  const Config c = load_config(reference_path);
  EXPECT_EQ(c.simulation.seed, 42u);
  EXPECT_DOUBLE_EQ(c.simulation.dt, 0.1);
  EXPECT_EQ(c.simulation.chunk_size, 5000);
  EXPECT_TRUE(c.simulation.saturate);  // not in the file: default on
  EXPECT_EQ(c.training.batch_size, 32);
  EXPECT_EQ(c.recurrent.num_neurons, 5000);
  EXPECT_EQ(c.recurrent.num_assemblies, 20);
  EXPECT_EQ(c.feedforward.num_neurons, 1500);
  ASSERT_EQ(c.recurrent.type_names, (std::vector<std::string>{"excitatory", "inhibitory"}));
  EXPECT_DOUBLE_EQ(c.recurrent.conn_within[1][0], 0.4);
  EXPECT_DOUBLE_EQ(c.recurrent.physiology[1].g_L, 0.9);
  ASSERT_EQ(c.recurrent.synapses[0].size(), 2u);
  EXPECT_EQ(c.recurrent.synapses[0][1].name, "NMDA");
  EXPECT_DOUBLE_EQ(c.recurrent.synapses[0][1].tau_decay, 70.0);
  EXPECT_DOUBLE_EQ(c.feedforward.firing_rate[0], 6.0);
  EXPECT_DOUBLE_EQ(c.targets.per_type[1].firing_rate, 5.0);
  EXPECT_DOUBLE_EQ(c.hyperparameters.loss_weight[homeostat::LossTerm::membrane_variance], 0.1);
}

TEST(Config, ReferenceCopyMatchesShared) {
  const std::filesystem::path original = std::string(HOMEOSTAT_SHARED_DIR) + "/params/homeostatic-plasticity.toml";
  if (!std::filesystem::exists(original)) GTEST_SKIP() << "no " << original << " beside this checkout";
  EXPECT_EQ(read_file(reference_path), read_file(original))
      << "params/homeostatic-plasticity.toml differs from " << original << ": copy it again";
}

TEST(Config, ResolvedTomlReloadsToTheSameConfig) {
  for (const Config& c : {load_config(""), load_config(reference_path),
                          load_config("", {"simulation.saturate=false", "simulation.seed=7", "simulation.dt=0.05"})}) {
    const std::string text = to_toml(c);
    const Config again = parse_config(text, "parameters.toml");
    EXPECT_TRUE(again == c) << text;
    EXPECT_EQ(to_toml(again), text);
  }
}

TEST(Config, OverridesApplyBeforeValidation) {
  const Config c = load_config("", {"training.batch_size=3", "training.optimisable=scaling_factors",
                                    "recurrent.topology.conn_within=[[0.1, 0.2], [0.3, 0.4]]",
                                    "targets.cv.inhibitory=0.5", "simulation.saturate=false"});
  EXPECT_EQ(c.training.batch_size, 3);
  EXPECT_EQ(c.training.optimisable, Optimisable::scaling_factors);
  EXPECT_DOUBLE_EQ(c.recurrent.conn_within[1][0], 0.3);
  EXPECT_DOUBLE_EQ(c.targets.per_type[1].cv, 0.5);
  EXPECT_DOUBLE_EQ(c.targets.per_type[0].cv, 1.0);
  EXPECT_FALSE(c.simulation.saturate);
}

TEST(Config, OverrideErrorsNameTheArgument) {
  try {
    load_config("", {"training.batch_sise=3"});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "training.batch_sise");
    EXPECT_NE(std::string(e.what()).find("--set"), std::string::npos) << e.what();
    // Not the line of the one-line document the override was parsed as.
    EXPECT_EQ(e.reason(), "unknown key (from --set training.batch_sise=3); did you mean `training.batch_size`?");
  }
  try {
    load_config("", {"simulation.dt=[0.1]"});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "simulation.dt");
    EXPECT_EQ(e.reason(), "expected a number, got an array (from --set simulation.dt=[0.1])");
  }
  EXPECT_THROW(load_config("", {"no_equals_sign"}), ConfigError);
  EXPECT_THROW(load_config("", {"simulation.dt.x=1"}), ConfigError);
}

TEST(Config, CvTargetsAreOptional) {
  std::string text = defaults();
  text = replace(text, "cv.excitatory = 1.0\n", "");
  text = replace(text, "cv.inhibitory = 1.0\n", "cv.inhibitory = 0.7\n");
  const Config c = parse_config(text, "test.toml");
  EXPECT_DOUBLE_EQ(c.targets.per_type[0].cv, 1.0);
  EXPECT_DOUBLE_EQ(c.targets.per_type[1].cv, 0.7);
}

TEST(Config, FeedbackSectionIsOptionalAndEachKeyDefaults) {
  const Config reference = load_config(reference_path);  // has no [feedback]
  EXPECT_TRUE(reference.feedback == schema::default_config().feedback);
  const Config c = load_config("", {"feedback.eta_inhibitory=0.0", "feedback.granularity=\"cell_type\""});
  EXPECT_DOUBLE_EQ(c.feedback.eta_inhibitory, 0.0);
  EXPECT_EQ(c.feedback.granularity, Granularity::cell_type);
  std::string text = defaults();
  text = replace(text, "tau_avg = 5.0\n", "# no tau_avg\n");
  EXPECT_DOUBLE_EQ(parse_config(text, "test.toml").feedback.tau_avg, schema::default_config().feedback.tau_avg);
}

TEST(ConfigErrors, FeedbackValues) {
  expect_error(defaults(), {"feedback.eta=0.1"}, "feedback.eta", "unknown key");
  expect_error(defaults(), {"feedback.eta_excitatory=-0.1"}, "feedback.eta_excitatory", ">= 0");
  expect_error(defaults(), {"feedback.tau_avg=0.5"}, "feedback.tau_avg", ">= 1");
  expect_error(defaults(), {"feedback.min_factor=1.2"}, "feedback.min_factor", "<= 1");
  expect_error(defaults(), {"feedback.min_factor=0.0"}, "feedback.min_factor", "> 0");
  expect_error(defaults(), {"feedback.max_factor=0.9"}, "feedback.max_factor", ">= 1");
  expect_error(defaults(), {"feedback.granularity=\"synapse\""}, "feedback.granularity", "unknown value");
}

TEST(ConfigErrors, UnknownKeys) {
  expect_error(defaults(), {"simulation.stepsize=1"}, "simulation.stepsize", "unknown key");
  expect_error(replace(defaults(), "[training]", "[trainig]\nx=1\n[training]"), {}, "trainig", "unknown key");
  expect_error(defaults(), {"recurrent.physiology.excitatory.C_m=1"}, "recurrent.physiology.excitatory.C_m",
               "unknown key");
}

TEST(ConfigErrors, WrongTypes) {
  expect_error(defaults(), {"simulation.dt=\"fast\""}, "simulation.dt", "expected a number, got a string");
  expect_error(defaults(), {"training.batch_size=8.5"}, "training.batch_size", "expected an integer");
  expect_error(defaults(), {"recurrent.cell_types.proportion=0.8"}, "recurrent.cell_types.proportion",
               "expected an array");
  expect_error(defaults(), {"simulation.saturate=1"}, "simulation.saturate", "expected true or false");
  expect_error(defaults(), {"recurrent.topology.conn_within=[[0.1, \"a\"], [0.1, 0.1]]"},
               "recurrent.topology.conn_within[0][1]", "expected a number");
}

TEST(ConfigErrors, MissingSectionsAndKeys) {
  std::string text = defaults();
  const auto start = text.find("[hyperparameters]");
  const auto end = text.find("[recurrent.cell_types]");
  expect_error(text.substr(0, start) + text.substr(end), {}, "hyperparameters", "missing");
  expect_error(replace(defaults(), "tau_ref = 8.0\n", ""), {}, "recurrent.physiology.excitatory.tau_ref",
               "missing");
  expect_error(replace(defaults(), "firing_rate.inhibitory = 5.0\n", ""), {}, "targets.firing_rate.inhibitory",
               "missing");
}

TEST(ConfigErrors, ImpossibleValues) {
  expect_error(defaults(), {"feedforward.activity.mitral.firing_rate=-1.0"},
               "feedforward.activity.mitral.firing_rate", "must be >= 0");
  expect_error(defaults(), {"simulation.dt=nan"}, "simulation.dt", "finite");
  expect_error(defaults(), {"simulation.dt=-0.1"}, "simulation.dt", "must be >= 0.0001");
  expect_error(defaults(), {"recurrent.synapses.excitatory.tau_rise=[5.0, 10.0]"},
               "recurrent.synapses.excitatory.tau_rise[0]", "must be < tau_decay");
  expect_error(defaults(), {"recurrent.topology.conn_between=[[0.25, 1.5], [0.25, 0.25]]"},
               "recurrent.topology.conn_between[0][1]", "[0, 1]");
  expect_error(defaults(), {"recurrent.cell_types.proportion=[0.7, 0.2]"}, "recurrent.cell_types.proportion",
               "sum to 1");
  expect_error(defaults(), {"training.batch_size=0"}, "training.batch_size", ">= 1");
  expect_error(defaults(), {"training.optimisable=everything"}, "training.optimisable", "unknown value");
  expect_error(defaults(), {"recurrent.physiology.inhibitory.theta=-70.0"}, "recurrent.physiology.inhibitory.theta",
               "above U_reset");
  expect_error(defaults(), {"recurrent.weights.w_mu=[[0.1, 0.05], [0.2, 0.0]]"}, "recurrent.weights.w_mu[1][1]",
               "must be > 0");
  expect_error(defaults(), {"simulation.seed=-1"}, "simulation.seed", ">= 0");
}

TEST(ConfigErrors, ShapesMustMatchCellTypes) {
  expect_error(defaults(), {"recurrent.topology.conn_within=[[0.1, 0.1]]"}, "recurrent.topology.conn_within",
               "expected 2");
  expect_error(defaults(), {"feedforward.weights.w_mu=[[0.05]]"}, "feedforward.weights.w_mu[0]", "expected 2");
  expect_error(defaults(), {"recurrent.synapses.excitatory.g_bar=[1.0]"}, "recurrent.synapses.excitatory.g_bar",
               "one per receptor");
}

TEST(ConfigErrors, AtMostFifteenReceptorColumns) {
  // The excitatory type with k receptors; with the inhibitory type's one and
  // the mitral type's two, k + 3 columns.
  auto receptors = [](int k) {
    std::string names, rise, decay, e_syn, g_bar;
    for (int r = 0; r < k; ++r) {
      const std::string sep = r == 0 ? "" : ", ";
      names += sep + "\"R" + std::to_string(r) + "\"";
      rise += sep + "0.5";
      decay += sep + "5.0";
      e_syn += sep + "0.0";
      g_bar += sep + "1.0";
    }
    const std::string key = "recurrent.synapses.excitatory.";
    return std::vector<std::string>{key + "names=[" + names + "]", key + "tau_rise=[" + rise + "]",
                                    key + "tau_decay=[" + decay + "]", key + "E_syn=[" + e_syn + "]",
                                    key + "g_bar=[" + g_bar + "]"};
  };
  EXPECT_EQ(receptor_columns(parse_config(defaults(), "test.toml", receptors(12))).size(), 15u);
  expect_error(defaults(), receptors(13), "feedforward.synapses.mitral.names", "at most 15");
}

TEST(ConfigErrors, TargetsForUnknownCellTypes) {
  expect_error(defaults(), {"targets.firing_rate.pyramidal=1.0"}, "targets.firing_rate.pyramidal",
               "no cell type named 'pyramidal'");
  expect_error(defaults(), {"recurrent.physiology.granule.tau_mem=10.0"}, "recurrent.physiology.granule",
               "no cell type named");
}

TEST(ConfigErrors, InvalidTomlNamesLine) {
  try {
    parse_config("[simulation]\nseed = = 4\n", "broken.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.toml"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
}

TEST(ConfigErrors, UnreadableFileNamesIt) {
  try {
    load_config("/nonexistent/params.toml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/params.toml"), std::string::npos);
  }
}

// ---- the schema table -------------------------------------------------------

namespace {

// Every error of a failed parse.
std::vector<ConfigError> errors_of(const std::string& text, const std::vector<std::string>& overrides) {
  try {
    parse_config(text, "test.toml", overrides);
  } catch (const ConfigError& e) {
    return e.errors();
  }
  ADD_FAILURE() << "accepted";
  return {};
}

bool has_error(const std::vector<ConfigError>& errors, const std::string& key, const std::string& reason) {
  for (const auto& e : errors)
    if (e.key() == key && e.reason().find(reason) != std::string::npos) return true;
  return false;
}

std::string all(const std::vector<ConfigError>& errors) {
  std::string s;
  for (const auto& e : errors) s += std::string(e.what()) + "\n";
  return s;
}

}  // namespace

TEST(Schema, TableIsConsistent) {
  const Config d = schema::default_config();
  for (const schema::Key& k : schema::keys()) {
    SCOPED_TRACE(k.path());
    const std::size_t types = schema::type_names(d, k.per).size();
    ASSERT_TRUE(k.defaults.size() == 1 || (k.per != schema::PerType::none && k.defaults.size() == types));
    if (k.optional) {
      EXPECT_EQ(k.defaults.size(), 1u) << "an optional key's default must not depend on the type";
    }
    for (const auto& v : k.defaults) EXPECT_EQ(v.index(), static_cast<std::size_t>(k.kind)) << "default of another kind";
    EXPECT_EQ(k.kind == schema::Kind::choice, !k.choices.empty());
    EXPECT_FALSE(k.doc.empty());
    EXPECT_EQ(schema::find(k.path()), &k) << "key listed twice";
    EXPECT_EQ(k.path().find(schema::type_placeholder) != std::string::npos, k.per != schema::PerType::none);
  }
  EXPECT_TRUE(homeostat::config_errors(d).empty()) << all(homeostat::config_errors(d));
}

TEST(Schema, BuiltInDefaultsAreTheTables) {
  const Config d = schema::default_config();
  EXPECT_TRUE(load_config("") == d);
  // The values the README documents for the built-in network.
  EXPECT_EQ(d.recurrent.num_neurons, 1000);
  EXPECT_EQ(d.feedforward.num_neurons, 300);
  EXPECT_DOUBLE_EQ(d.simulation.dt, 1.0);
  EXPECT_EQ(d.simulation.chunk_size, 4000);
  EXPECT_EQ(d.training.batch_size, 8);
  EXPECT_DOUBLE_EQ(d.hyperparameters.learning_rate, 0.04);
  EXPECT_DOUBLE_EQ(d.hyperparameters.lr_half_life, 15.0);
  EXPECT_DOUBLE_EQ(d.hyperparameters.lr_final_fraction, 0.25);
  // Membrane-ratio targets the network reaches at its rate targets (issue 18), not the reference's 0.8.
  EXPECT_DOUBLE_EQ(d.targets.per_type[0].threshold_ratio, 0.35);
  EXPECT_DOUBLE_EQ(d.targets.per_type[1].threshold_ratio, 0.43);
  EXPECT_DOUBLE_EQ(d.hyperparameters.loss_weight[homeostat::LossTerm::firing_rate], 2.0);
  EXPECT_EQ(d.training.on_nan, OnNan::stop);
  EXPECT_DOUBLE_EQ(d.recurrent.physiology[1].tau_mem, 50.0);
  EXPECT_EQ(d.recurrent.synapses[1][0].name, "GABA_A");
  // `config --defaults` is commented and reloads to the same configuration.
  const std::string text = default_config_toml();
  EXPECT_NE(text.find("dt = 1.0"), std::string::npos);
  EXPECT_NE(text.find("# time step [ms]"), std::string::npos) << text;
  EXPECT_TRUE(parse_config(text, "defaults.toml") == d);
}

// Every key of the table is read from its own place in the file: without its
// line a required key is reported missing by name, an optional one takes
// its default; and parameters.toml writes every key back.
TEST(Schema, EveryKeyIsReadFromItsPlace) {
  const Config d = schema::default_config();
  const std::string text = to_toml(d);
  int checked = 0;
  for (const schema::Key& k : schema::keys()) {
    const auto& types = schema::type_names(d, k.per);
    const std::string type = types.empty() ? std::string() : types.back();
    const std::string header = "\n[" + schema::expand(k.section, type) + "]\n";
    const std::string line = schema::expand(k.name, type) + " = ";
    const auto table = text.find(header);
    ASSERT_NE(table, std::string::npos) << header;
    const auto at = text.find("\n" + line, table + header.size() - 1);
    ASSERT_NE(at, std::string::npos) << k.path() << " not written";
    const std::string without = text.substr(0, at) + text.substr(text.find('\n', at + 1));
    const std::string key = schema::expand(k.path(), type);
    if (k.optional) {
      Config expected = d;
      const std::size_t t = types.empty() ? 0 : types.size() - 1;
      k.access.set(expected, t, schema::absent_value(k, t));
      EXPECT_TRUE(parse_config(without, "test.toml") == expected) << key;
    } else {
      const auto errors = errors_of(without, {});
      EXPECT_TRUE(has_error(errors, key, "missing")) << key << ":\n" << all(errors);
      EXPECT_EQ(errors.size(), 1u) << all(errors);
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(schema::keys().size()));
}

TEST(Schema, EnumsRoundTrip) {
  auto check = [](const std::string& key, std::string_view name, auto member, auto expected) {
    const Config c = load_config("", {key + "=\"" + std::string(name) + "\""});
    EXPECT_EQ(member(c), expected) << key << " = " << name;
    const std::string text = to_toml(c);
    const std::string leaf = key.substr(key.rfind('.') + 1);
    EXPECT_NE(text.find("\n" + leaf + " = \"" + std::string(name) + "\"\n"), std::string::npos) << text;
    EXPECT_TRUE(parse_config(text, "parameters.toml") == c);
  };
  const auto optimisable = homeostat::enum_names<Optimisable>();
  for (std::size_t i = 0; i < optimisable.size(); ++i) {
    check("training.optimisable", optimisable[i], [](const Config& c) { return c.training.optimisable; },
          static_cast<Optimisable>(i));
    EXPECT_EQ(homeostat::parse_optimisable(std::string(optimisable[i])), static_cast<Optimisable>(i));
    EXPECT_EQ(homeostat::to_string(static_cast<Optimisable>(i)), optimisable[i]);
  }
  check("training.on_nan", "skip", [](const Config& c) { return c.training.on_nan; }, OnNan::skip);
  check("training.on_nan", "stop", [](const Config& c) { return c.training.on_nan; }, OnNan::stop);
  check("feedback.granularity", "cell_type", [](const Config& c) { return c.feedback.granularity; },
        Granularity::cell_type);
  check("feedback.granularity", "neuron", [](const Config& c) { return c.feedback.granularity; }, Granularity::neuron);
  check("recurrent.topology.method", "erdos-renyi", [](const Config& c) { return c.recurrent.method; },
        homeostat::TopologyMethod::erdos_renyi);
  check("feedforward.topology.method", "erdos-renyi", [](const Config& c) { return c.feedforward.method; },
        homeostat::TopologyMethod::erdos_renyi);
  EXPECT_THROW(homeostat::parse_optimisable("everything"), std::invalid_argument);
  expect_error(defaults(), {"training.on_nan=\"continue\""}, "training.on_nan", "(expected \"stop\" or \"skip\")");
}

// parameters.toml is hashed into every checkpoint: its bytes for the built-in
// defaults and the reference file are those written before the schema
// (commit 92c859e, plus the rate_loss line of b9e94ab and the feedback
// rule's three keys of the feedback-rule merge, plus training.weight_snapshots
// with simulation.num_chunks left out of the hash: issue 19, and the learning
// rate's schedule and the reachable membrane-ratio targets of issue 18), or every saved
// checkpoint would be refused.
TEST(Schema, ResolvedTomlBytesAreStable) {
  EXPECT_EQ(homeostat::io::config_hash(load_config("")), 0xf0b2581dcf4c57c8ULL);
  EXPECT_EQ(homeostat::io::config_hash(load_config(reference_path)), 0x3c7a0b85e626c0b8ULL);
}

// A run extended to more chunks keeps its checkpoints; any other key makes
// them another run's.
TEST(Schema, CheckpointHashLeavesOutOnlyTheNumberOfChunks) {
  const homeostat::Config c = load_config("");
  homeostat::Config longer = c, other = c;
  longer.simulation.num_chunks += 7;
  other.simulation.chunk_size += 1;
  EXPECT_EQ(homeostat::io::config_hash(longer), homeostat::io::config_hash(c));
  EXPECT_NE(homeostat::io::config_hash(other), homeostat::io::config_hash(c));
  EXPECT_NE(homeostat::io::to_toml(longer), homeostat::io::to_toml(c));  // parameters.toml still says it
}

TEST(ConfigErrors, MisspeltKeysSuggestTheRightOne) {
  expect_error(defaults(), {"targets.firing_rte.excitatory=1.0"}, "targets.firing_rte",
               "did you mean `targets.firing_rate`?");
  expect_error(defaults(), {"recurrent.topology.num_nerons=10"}, "recurrent.topology.num_nerons",
               "did you mean `recurrent.topology.num_neurons`?");
  expect_error(defaults(), {"recurrent.physiology.excitatory.tau_mme=10.0"},
               "recurrent.physiology.excitatory.tau_mme", "did you mean `recurrent.physiology.excitatory.tau_mem`?");
  // The right name in the wrong table.
  expect_error(defaults(), {"simulation.batch_size=3"}, "simulation.batch_size", "did you mean `training.batch_size`?");
  // A misspelt cell type, and a misspelt value of a closed choice.
  expect_error(defaults(), {"targets.cv.exitatory=1.0"}, "targets.cv.exitatory", "no cell type named 'exitatory'");
  expect_error(defaults(), {"targets.cv.exitatory=1.0"}, "targets.cv.exitatory",
               "(cell types: excitatory, inhibitory); did you mean `targets.cv.excitatory`?");
  expect_error(defaults(), {"training.optimisable=scaling_factor"}, "training.optimisable",
               "did you mean `scaling_factors`?");
  expect_error(replace(defaults(), "[training]", "[trainig]\nx=1\n[training]"), {}, "trainig",
               "did you mean `training`?");
  // Nothing near: no guess.
  const auto errors = errors_of(defaults(), {"simulation.stepsize=1"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].reason().find("did you mean"), std::string::npos) << errors[0].reason();
}

TEST(ConfigErrors, AllErrorsOfAFileAtOnce) {
  // Read errors (unknown key, wrong type) with a value out of range.
  std::string text = replace(defaults(), "batch_size = 8\n", "batch_sise = 8\n");
  text = replace(text, "chunk_size = 4000\n", "chunk_size = \"long\"\n");
  text = replace(text, "learning_rate = 0.04\n", "learning_rate = -1.0\n");
  auto errors = errors_of(text, {});
  EXPECT_EQ(errors.size(), 4u) << all(errors);
  EXPECT_TRUE(has_error(errors, "simulation.chunk_size", "expected an integer, got a string (line")) << all(errors);
  EXPECT_TRUE(has_error(errors, "training.batch_size", "missing")) << all(errors);
  EXPECT_TRUE(has_error(errors, "training.batch_sise", "did you mean `training.batch_size`?")) << all(errors);
  EXPECT_TRUE(has_error(errors, "hyperparameters.learning_rate", "must be > 0, got -1")) << all(errors);
  // One exception: what() lists them all, one a line, each with file and key;
  // key() is the first's.
  try {
    parse_config(text, "test.toml");
    FAIL();
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_EQ(std::count(what.begin(), what.end(), '\n'), 3) << what;
    EXPECT_EQ(what.find("test.toml: " + e.key() + ": " + e.reason()), 0u) << what;
    for (const auto& one : e.errors()) {
      EXPECT_EQ(one.source(), "test.toml");
      EXPECT_NE(what.find(std::string("test.toml: ") + one.key() + ": "), std::string::npos) << what;
    }
  }

  // Errors of values and of their relations, all found by validation.
  errors = errors_of(defaults(), {"simulation.dt=-1.0", "recurrent.physiology.inhibitory.theta=-70.0",
                                  "recurrent.cell_types.proportion=[0.7, 0.2]", "training.batch_size=0"});
  EXPECT_EQ(errors.size(), 4u) << all(errors);
  EXPECT_TRUE(has_error(errors, "simulation.dt", ">= 0.0001")) << all(errors);
  EXPECT_TRUE(has_error(errors, "recurrent.physiology.inhibitory.theta", "above U_reset")) << all(errors);
  EXPECT_TRUE(has_error(errors, "recurrent.cell_types.proportion", "sum to 1")) << all(errors);
  EXPECT_TRUE(has_error(errors, "training.batch_size", ">= 1")) << all(errors);
  for (const auto& e : errors) EXPECT_NE(std::string(e.what()).find("(with --set overrides)"), std::string::npos);
}

TEST(ConfigErrors, ABrokenBranchIsNotFollowed) {
  // Without readable cell-type names nothing keyed by cell type can be
  // checked: one error, not one for every per-type table.
  auto errors = errors_of(defaults(), {"recurrent.cell_types.names=3"});
  ASSERT_EQ(errors.size(), 1u) << all(errors);
  EXPECT_EQ(errors[0].key(), "recurrent.cell_types.names");
  // A missing table is reported once, not once per key in it.
  std::string text = defaults();
  const auto start = text.find("[hyperparameters]");
  const auto end = text.find("[feedback]");
  errors = errors_of(text.substr(0, start) + text.substr(end), {});
  ASSERT_EQ(errors.size(), 1u) << all(errors);
  // A third cell type without its tables: each table that lacks it, once.
  errors = errors_of(defaults(), {"recurrent.cell_types.names=[\"excitatory\", \"inhibitory\", \"vip\"]"});
  EXPECT_EQ(errors.size(), 5u) << all(errors);  // targets firing_rate, alpha, threshold_ratio; physiology; synapses
  EXPECT_TRUE(has_error(errors, "recurrent.physiology.vip", "every cell type needs an entry")) << all(errors);
  EXPECT_TRUE(has_error(errors, "recurrent.synapses.vip", "every cell type needs an entry")) << all(errors);
  // Cell types renamed without their tables: one line per table keyed by
  // type, not one per type and table.
  errors = errors_of(defaults(), {"recurrent.cell_types.names=[\"exc\", \"inh\"]"});
  EXPECT_EQ(errors.size(), 6u) << all(errors);  // targets firing_rate, cv, alpha, threshold_ratio; physiology; synapses
  EXPECT_TRUE(has_error(errors, "recurrent.physiology",
                        "no entry for exc, inh; entries for excitatory, inhibitory, which are no cell types: every "
                        "cell type needs an entry (cell types: exc, inh)"))
      << all(errors);
  EXPECT_TRUE(has_error(errors, "targets.cv", "entries for excitatory, inhibitory, which are no cell types"))
      << all(errors);
}

TEST(ConfigErrors, UnreasonableSizesAreRefused) {
  expect_error(defaults(), {"simulation.chunk_size=10000001"}, "simulation.chunk_size", "must be <= 10000000");
  expect_error(defaults(), {"training.batch_size=100001"}, "training.batch_size", "must be <= 100000");
  expect_error(defaults(), {"recurrent.topology.num_neurons=20000000"}, "recurrent.topology.num_neurons",
               "must be <= 10000000");
  expect_error(defaults(), {"feedforward.topology.num_neurons=20000000"}, "feedforward.topology.num_neurons",
               "must be <= 10000000");
  expect_error(defaults(), {"simulation.dt=0.00005"}, "simulation.dt", "must be >= 0.0001");
  expect_error(defaults(), {"simulation.duration=1e11"}, "simulation.duration", "at most 10000000000");
  expect_error(defaults(), {"simulation.num_chunks=5000000"}, "simulation.num_chunks", "at most 10000000000");
  // The largest allowed values pass.
  const Config c = load_config("", {"simulation.chunk_size=10000000", "training.batch_size=100000",
                                    "simulation.dt=0.0001", "simulation.duration=1000000.0"});
  EXPECT_EQ(c.simulation.chunk_size, 10000000);
}

// README's configuration reference is the schema's table, as
// `homeostat config --reference` prints it.
TEST(Schema, ReadmeReferenceIsTheTable) {
  const std::string readme = read_file(std::string(HOMEOSTAT_SOURCE_DIR) + "/README.md");
  EXPECT_NE(readme.find(homeostat::io::reference_markdown()), std::string::npos)
      << "README.md's configuration reference differs from the schema; replace it with the output of "
         "`homeostat config --reference`:\n"
      << homeostat::io::reference_markdown();
}

// hyperparameters.rate_loss (MODEL.md 7): optional, "split" by default (the
// reference file, which predates it, gets it too), written by to_toml.
TEST(Config, RateLossIsOptionalAndSplitByDefault) {
  EXPECT_EQ(load_config(reference_path).hyperparameters.rate_loss, homeostat::RateLoss::split);
  EXPECT_EQ(load_config("").hyperparameters.rate_loss, homeostat::RateLoss::split);
  const Config plain = load_config("", {"hyperparameters.rate_loss=\"plain\""});
  EXPECT_EQ(plain.hyperparameters.rate_loss, homeostat::RateLoss::plain);
  EXPECT_NE(to_toml(plain).find("rate_loss = \"plain\"\n"), std::string::npos);
  EXPECT_EQ(parse_config(to_toml(plain), "resolved.toml").hyperparameters.rate_loss, homeostat::RateLoss::plain);
  // One trial: allowed, and the plain form is what is used.
  EXPECT_EQ(homeostat::describe_rate_loss(load_config("", {"training.batch_size=1"}).hyperparameters.rate_loss, 1),
            "plain (split needs training.batch_size >= 2)");
  expect_error(defaults(), {"hyperparameters.rate_loss=\"biased\""}, "hyperparameters.rate_loss", "unknown value");
}

// Each hyperparameters.loss_weight.<term> is optional: a file without one
// gets the term's reference weight (loss.hpp's table).
TEST(Config, LossWeightsDefaultToTheReferenceWeights) {
  const std::string line = "loss_weight.firing_rate = 2.0\n";
  const Config c = parse_config(replace(defaults(), line, ""), "test.toml");
  EXPECT_EQ(c.hyperparameters.loss_weight[homeostat::LossTerm::firing_rate], 1.0);  // the reference, not the file's 2.0
  EXPECT_EQ(c.hyperparameters.loss_weight[homeostat::LossTerm::cv], 0.5);           // as the file says
  expect_error(defaults(), {"hyperparameters.loss_weight.rate=1.0"}, "hyperparameters.loss_weight.rate", "unknown key");
}
