// Config: the reference file loads as is, defaults round-trip through
// parameters.toml, --set overrides apply, and every kind of bad input is
// rejected with the source, the key and the reason.
#include "homeostat/model.hpp"
#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

using homeostat::Config;
using homeostat::ConfigError;
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

std::string defaults() { return std::string(default_config_toml()); }

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
  EXPECT_EQ(c.training.optimisable, "scaling_factors");
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
    EXPECT_EQ(e.reason(), "unknown key (from --set training.batch_sise=3)");
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
  EXPECT_TRUE(reference.feedback == homeostat::FeedbackConfig{});
  const Config c = load_config("", {"feedback.eta_inhibitory=0.0", "feedback.granularity=\"cell_type\""});
  EXPECT_DOUBLE_EQ(c.feedback.eta_inhibitory, 0.0);
  EXPECT_EQ(c.feedback.granularity, "cell_type");
  std::string text = defaults();
  text = replace(text, "tau_avg = 5.0 ", "# no tau_avg ");
  EXPECT_DOUBLE_EQ(parse_config(text, "test.toml").feedback.tau_avg, homeostat::FeedbackConfig{}.tau_avg);
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
  expect_error(replace(defaults(), "tau_ref = 8.0      # ms\n", ""), {}, "recurrent.physiology.excitatory.tau_ref",
               "missing");
  expect_error(replace(defaults(), "firing_rate.inhibitory = 5.0\n", ""), {}, "targets.firing_rate.inhibitory",
               "missing");
}

TEST(ConfigErrors, ImpossibleValues) {
  expect_error(defaults(), {"feedforward.activity.mitral.firing_rate=-1.0"},
               "feedforward.activity.mitral.firing_rate", "must be >= 0");
  expect_error(defaults(), {"simulation.dt=nan"}, "simulation.dt", "finite");
  expect_error(defaults(), {"simulation.dt=-0.1"}, "simulation.dt", "must be > 0");
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
  const std::string line = "loss_weight.firing_rate = 2.0    # reference 1.0: the rates are what the demo must reach\n";
  const Config c = parse_config(replace(defaults(), line, ""), "test.toml");
  EXPECT_EQ(c.hyperparameters.loss_weight[homeostat::LossTerm::firing_rate], 1.0);  // the reference, not the file's 2.0
  EXPECT_EQ(c.hyperparameters.loss_weight[homeostat::LossTerm::cv], 0.5);           // as the file says
  expect_error(defaults(), {"hyperparameters.loss_weight.rate=1.0"}, "hyperparameters.loss_weight.rate", "unknown key");
}
