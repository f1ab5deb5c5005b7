// The sweep file: axes, zip groups, the product of points, their names and
// overrides, and the errors for malformed sweeps and invalid points.
#include "csv.hpp"
#include "homeostat/sweep/grid.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace homeostat::sweep {
namespace {

constexpr const char* three_axes = R"(
command = "simulate"
set = { "simulation.duration" = 200.0 }
[[axis]]
key = "feedforward.activity.mitral.firing_rate"
name = "rate"
values = [5.0, 10.0, 20.0]
[[axis]]
key = "recurrent.weights.w_mu"
values = [ [[0.1, 0.05], [0.2, 0.19]], [[0.2, 0.05], [0.2, 0.19]] ]
[[axis]]
key = "simulation.seed"
values = [1, 2]
)";

std::string error_of(const std::string& text) {
  try {
    parse_sweep(text, "s.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(SweepGrid, PointsAreTheProductLastAxisFastest) {
  const Sweep s = parse_sweep(three_axes, "dir/s.toml");
  ASSERT_EQ(s.points.size(), 12u);
  ASSERT_EQ(s.dimensions.size(), 3u);
  EXPECT_TRUE(s.dimensions[2].is_seed);
  EXPECT_FALSE(s.dimensions[0].is_seed);
  const Point& p = s.points[7];  // rate 1 (10.0), w_mu 1, seed 1 (2)
  EXPECT_EQ(p.value, (std::vector<std::size_t>{1, 1, 1}));
  EXPECT_EQ(p.name, "07_rate=10_w_mu=v1_seed=2");
  EXPECT_EQ(p.overrides, (std::vector<std::string>{"simulation.duration=200.0",
                                                   "feedforward.activity.mitral.firing_rate=10.0",
                                                   "recurrent.weights.w_mu=[[0.2, 0.05], [0.2, 0.19]]",
                                                   "simulation.seed=2"}));
  EXPECT_EQ(s.points[0].name, "00_rate=5_w_mu=v0_seed=1");
  EXPECT_EQ(s.points[11].name, "11_rate=20_w_mu=v1_seed=2");
  EXPECT_EQ(s.axes[0].numbers, (std::vector<double>{5.0, 10.0, 20.0}));
  EXPECT_TRUE(std::isnan(s.axes[1].numbers[0]));
  EXPECT_TRUE(s.base.empty());
}

TEST(SweepGrid, ValuesKeepTheirTomlTypeAndExactDigits) {
  const Sweep s = parse_sweep(R"(
[[axis]]
key = "hyperparameters.learning_rate"
values = [0.1, 1e-4, 3, 0.30000000000000004]
[[axis]]
key = "training.optimisable"
values = ["weights", "scaling factors"]
)",
                              "s.toml");
  EXPECT_EQ(s.axes[0].values, (std::vector<std::string>{"0.1", "0.0001", "3", "0.30000000000000004"}));
  EXPECT_EQ(s.axes[1].values, (std::vector<std::string>{"'weights'", "'scaling factors'"}));  // TOML literal strings
  EXPECT_EQ(s.axes[1].names, (std::vector<std::string>{"weights", "v1"}));  // a space: by position
  EXPECT_EQ(s.axes[0].names[0], "0.1");
  const Sweep labelled = parse_sweep(R"(
[[axis]]
key = "recurrent.weights.w_mu"
name = "w_EE"
labels = ["weak", "strong"]
values = [ [[0.1, 0.05], [0.2, 0.19]], [[0.2, 0.05], [0.2, 0.19]] ]
)",
                                     "s.toml");
  EXPECT_EQ(labelled.points[1].name, "1_w_EE=strong");
  EXPECT_NE(error_of("[[axis]]\nkey = \"a.b\"\nvalues = [1, 2]\nlabels = [\"x\"]\n").find("axis[0].labels"),
            std::string::npos);
}

TEST(SweepGrid, ZippedAxesVaryTogether) {
  const Sweep s = parse_sweep(R"(
[[axis]]
key = "simulation.seed"
values = [1, 2, 3]
[[axis]]
key = "targets.firing_rate.excitatory"
zip = "target"
values = [0.5, 1.0]
[[axis]]
key = "targets.firing_rate.inhibitory"
zip = "target"
values = [5.0, 10.0]
)",
                              "s.toml");
  ASSERT_EQ(s.dimensions.size(), 2u);
  EXPECT_EQ(s.dimensions[1].label, "target");
  EXPECT_EQ(s.points.size(), 6u);
  for (const Point& p : s.points) EXPECT_EQ(p.value[1], p.value[2]);
  EXPECT_EQ(s.points[3].overrides[1], "targets.firing_rate.excitatory=1.0");
  EXPECT_EQ(s.points[3].overrides[2], "targets.firing_rate.inhibitory=10.0");
}

TEST(SweepGrid, SetAcceptsQuotedAndNestedKeys) {
  const Sweep a = parse_sweep("set = { \"simulation.duration\" = 2.0 }\n[[axis]]\nkey = \"simulation.seed\"\nvalues = [1]\n", "s");
  const Sweep b = parse_sweep("[set.simulation]\nduration = 2.0\n[[axis]]\nkey = \"simulation.seed\"\nvalues = [1]\n", "s");
  EXPECT_EQ(a.set, (std::vector<std::string>{"simulation.duration=2.0"}));
  EXPECT_EQ(a.set, b.set);
}

TEST(SweepGrid, BaseIsRelativeToTheSweepFile) {
  const Sweep s = parse_sweep("base = \"../params/p.toml\"\n[[axis]]\nkey = \"simulation.seed\"\nvalues = [1]\n",
                              "/data/sweeps/s.toml");
  EXPECT_EQ(s.base, std::filesystem::path("/data/params/p.toml"));
}

TEST(SweepGrid, MalformedSweepsAreRefusedNamingTheKey) {
  EXPECT_NE(error_of("command = \"simulate\"\n").find("axis: missing"), std::string::npos);
  EXPECT_NE(error_of("comand = 1\n[[axis]]\nkey = \"a.b\"\nvalues = [1]\n").find("comand: unknown key"), std::string::npos);
  EXPECT_NE(error_of("command = \"run\"\n[[axis]]\nkey = \"a.b\"\nvalues = [1]\n").find("command: 'run'"), std::string::npos);
  EXPECT_NE(error_of("[[axis]]\nkey = \"a.b\"\nvalues = []\n").find("axis[0].values"), std::string::npos);
  EXPECT_NE(error_of("[[axis]]\nkey = \"a.b\"\nvalues = [1, 1]\n").find("appears twice"), std::string::npos);
  EXPECT_NE(error_of("[[axis]]\nkey = \"a.b\"\nvalues = [1]\nstep = 2\n").find("axis[0].step: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("[[axis]]\nkey = \"a.seed\"\nvalues = [1]\n[[axis]]\nkey = \"b.seed\"\nvalues = [1]\n")
                .find("label 'seed' is used by two axes"),
            std::string::npos);
  EXPECT_NE(error_of("set = { \"a.b\" = 1 }\n[[axis]]\nkey = \"a.b\"\nvalues = [2]\n").find("both in set and swept"),
            std::string::npos);
  EXPECT_NE(error_of("args = [\"-o\"]\n[[axis]]\nkey = \"a.b\"\nvalues = [2]\n").find("set by the sweep itself"),
            std::string::npos);
  const std::string zip = error_of(
      "[[axis]]\nkey = \"a.b\"\nzip = \"z\"\nvalues = [1, 2]\n[[axis]]\nkey = \"a.c\"\nzip = \"z\"\nvalues = [1]\n");
  EXPECT_NE(zip.find("zip group 'z'"), std::string::npos) << zip;
  EXPECT_EQ(zip.rfind("s.toml: ", 0), 0u) << zip;  // the sweep file comes first
}

TEST(SweepGrid, ValidationNamesThePointAndTheKey) {
  const Sweep s = parse_sweep(R"(
[[axis]]
key = "feedforward.activity.mitral.firing_rate"
name = "rate"
values = [5.0, -1.0]
)",
                              "s.toml");
  try {
    validate_points(s);
    FAIL() << "a negative rate passed validation";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "feedforward.activity.mitral.firing_rate");
    EXPECT_NE(std::string(e.what()).find("point 1 (1_rate=-1)"), std::string::npos) << e.what();
  }
  const Sweep ok = parse_sweep("[[axis]]\nkey = \"simulation.seed\"\nvalues = [1, 2]\n", "s.toml");
  const auto configs = validate_points(ok);
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_EQ(configs[1].simulation.seed, 2u);
  const Sweep unknown = parse_sweep("[[axis]]\nkey = \"simulation.sed\"\nvalues = [1]\n", "s.toml");
  EXPECT_THROW(validate_points(unknown), ConfigError);
}

TEST(SweepGrid, ValidationReportsEveryErrorOfAPoint) {
  const Sweep s = parse_sweep(R"(
set = { "simulation.dt" = -1.0 }
[[axis]]
key = "training.batch_size"
values = [0]
)",
                              "s.toml");
  try {
    validate_points(s);
    FAIL() << "a negative dt and a batch of 0 passed validation";
  } catch (const ConfigError& e) {
    std::vector<std::string> keys;
    for (const ConfigError& one : e.errors()) {
      keys.push_back(one.key());
      EXPECT_NE(std::string(one.what()).find("s.toml: point 0 (0_batch_size=0)"), std::string::npos) << one.what();
    }
    EXPECT_NE(std::find(keys.begin(), keys.end(), "simulation.dt"), keys.end()) << e.what();
    EXPECT_NE(std::find(keys.begin(), keys.end(), "training.batch_size"), keys.end()) << e.what();
  }
}

TEST(SweepCsv, FieldsRoundTrip) {
  const std::string text = "a,b\n" + csv_field("[[0.1, 0.05], [0.2, 0.19]]") + "," + csv_field("say \"hi\"") + "\n1,\n";
  const auto rows = parse_csv(text);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"[[0.1, 0.05], [0.2, 0.19]]", "say \"hi\""}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"1", ""}));
}

}  // namespace
}  // namespace homeostat::sweep
