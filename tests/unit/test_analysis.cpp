// Tests of activity statistics on spike trains whose statistics are known:
// regular trains (CV 0, Fano 0 at multiples of the period), Bernoulli
// (discrete Poisson) trains (CV ~ 1, Fano ~ 1), and hand-counted examples.
#include "homeostat/analysis.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace homeostat {
namespace {

using Steps = std::vector<std::int64_t>;
using Table = std::vector<std::vector<std::string>>;

Steps regular_train(std::int64_t first, std::int64_t period, std::int64_t n_steps) {
  Steps s;
  for (std::int64_t t = first; t < n_steps; t += period) s.push_back(t);
  return s;
}

// Bernoulli(p) spike per step: the discrete-time Poisson process the engine
// uses for inputs. ISIs are geometric: CV = sqrt(1 - p); counts in w steps are
// Binomial(w, p): Fano = 1 - p. The uniform is built by hand from the top 53
// bits so that the train does not depend on the standard library's
// distribution implementation.
Steps bernoulli_train(double p, std::int64_t n_steps, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Steps s;
  for (std::int64_t t = 0; t < n_steps; ++t) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    if (u < p) s.push_back(t);
  }
  return s;
}

Table parse_csv(const std::string& text) {
  Table rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::string field;
    std::istringstream ls(line);
    while (std::getline(ls, field, ',')) fields.push_back(field);
    if (!line.empty() && line.back() == ',') fields.emplace_back();
    rows.push_back(fields);
  }
  return rows;
}

double num(const std::string& s) { return std::stod(s); }

// ---------------------------------------------------------------- rates

TEST(FiringRates, ExactForHandMadeTrains) {
  SpikeTrains tr;
  tr.n_steps = 20000;  // 2 s at dt = 0.1 ms
  tr.dt = 0.1;
  tr.times = {{}, {7}, {0, 1, 2, 3, 19999}};
  const auto r = firing_rates(tr);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], 0.0);
  EXPECT_DOUBLE_EQ(r[1], 0.5);
  EXPECT_DOUBLE_EQ(r[2], 2.5);

  SpikeTrains tr2;
  tr2.n_steps = 400;  // 0.2 s at dt = 0.5 ms
  tr2.dt = 0.5;
  tr2.times = {{1, 2, 3}};
  EXPECT_DOUBLE_EQ(firing_rates(tr2)[0], 15.0);
}

TEST(FiringRates, ZeroLengthRecordingIsRejected) {
  SpikeTrains tr;
  tr.n_steps = 0;
  tr.times = {{}};
  EXPECT_THROW(firing_rates(tr), std::invalid_argument);
}

// ---------------------------------------------------------------- CV

TEST(IsiCv, RegularTrainIsExactlyZero) {
  EXPECT_EQ(isi_cv(regular_train(3, 7, 100000)), 0.0);
  EXPECT_EQ(isi_cv({5, 6, 7}), 0.0);
}

TEST(IsiCv, HandComputed) {
  // ISIs 10, 20: mean 15, population sd 5.
  EXPECT_DOUBLE_EQ(isi_cv({0, 10, 30}), 1.0 / 3.0);
  // ISIs 1, 2, 3: mean 2, population sd sqrt(2/3).
  EXPECT_DOUBLE_EQ(isi_cv({0, 1, 3, 6}), std::sqrt(2.0 / 3.0) / 2.0);
}

TEST(IsiCv, FewerThanThreeSpikesIsNan) {
  EXPECT_TRUE(std::isnan(isi_cv({})));
  EXPECT_TRUE(std::isnan(isi_cv({5})));
  EXPECT_TRUE(std::isnan(isi_cv({5, 9})));
}

TEST(IsiCv, UnsortedTrainIsRejected) {
  EXPECT_THROW(isi_cv({0, 10, 5}), std::invalid_argument);
  EXPECT_THROW(isi_cv({0, 10, 10}), std::invalid_argument);
}

TEST(IsiCv, PoissonTrainIsNearOne) {
  // p = 0.002 per step (20 Hz at dt = 0.1 ms) over 1e7 steps: ~20000 ISIs.
  // Expected CV sqrt(1 - p) = 0.999. For exponential ISIs the CV estimator
  // has var(log CV) ~ 1/n (delta method: 2/n from sd, 1/n from mean, -2/n
  // covariance), so SE ~ 1/sqrt(20000) = 0.007; 0.04 is over 5 SE, while a
  // broken estimator (e.g. sample sd with wrong ISIs, or variance instead of
  // sd) lands far outside.
  const Steps s = bernoulli_train(0.002, 10'000'000, 12345);
  ASSERT_GT(s.size(), 19000u);
  ASSERT_LT(s.size(), 21000u);
  EXPECT_NEAR(isi_cv(s), 1.0, 0.04);
}

// ---------------------------------------------------------------- Fano

TEST(FanoFactors, RegularTrainIsZeroAtMultiplesOfThePeriod) {
  SpikeTrains tr;
  tr.n_steps = 100000;
  tr.dt = 0.1;
  // Period 10 steps = 1 ms; any window of k periods holds exactly k spikes,
  // whatever the phase.
  tr.times = {regular_train(0, 10, tr.n_steps), regular_train(4, 10, tr.n_steps)};
  for (const double w : {1.0, 5.0, 10.0, 50.0}) {
    const auto f = fano_factors(tr, w);
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0], 0.0) << "window " << w;
    EXPECT_EQ(f[1], 0.0) << "window " << w;
  }
  // 1.5 periods: counts alternate 2, 1 (6666 windows, an even number, so the
  // pattern is complete): mean 1.5, variance 0.25, Fano 1/6.
  const auto f = fano_factors(tr, 1.5);
  EXPECT_NEAR(f[0], 1.0 / 6.0, 1e-12);
}

TEST(FanoFactors, HandComputedWithTrailingPartialWindowIgnored) {
  SpikeTrains tr;
  tr.n_steps = 11;  // 5 full windows of 2 steps, step 10 is a partial window
  tr.dt = 1.0;
  tr.times = {{0, 1, 4, 9, 10}};
  // Counts 2,0,1,0,1: mean 0.8, variance (1.44+0.64+0.04+0.64+0.04)/5 = 0.56.
  EXPECT_NEAR(fano_factors(tr, 2.0)[0], 0.7, 1e-12);
}

TEST(FanoFactors, UndefinedCasesAreNan) {
  SpikeTrains tr;
  tr.n_steps = 10;
  tr.dt = 1.0;
  tr.times = {{}, {0, 3, 9}, {9}};
  // 5 windows of 2 steps: neuron 0 has no spike; neuron 2 only in the last window.
  auto f = fano_factors(tr, 2.0);
  EXPECT_TRUE(std::isnan(f[0]));
  EXPECT_FALSE(std::isnan(f[1]));
  EXPECT_FALSE(std::isnan(f[2]));
  // 3 windows of 3 steps cover [0, 9): neuron 2's only spike is in the
  // partial window, so it has mean 0 -> NaN.
  f = fano_factors(tr, 3.0);
  EXPECT_TRUE(std::isnan(f[2]));
  // 6 steps: one window only.
  f = fano_factors(tr, 6.0);
  for (const double x : f) EXPECT_TRUE(std::isnan(x));
}

TEST(FanoFactors, WindowShorterThanAStepIsUndefinedNotAnError) {
  // A short run at a coarse dt must still give its tables: such a window
  // cannot be resolved, so every neuron's Fano factor is NaN (undefined).
  SpikeTrains tr;
  tr.n_steps = 100;
  tr.dt = 0.1;
  tr.times = {{1}, {2, 5}};
  for (const double x : fano_factors(tr, 0.04)) EXPECT_TRUE(std::isnan(x));
  EXPECT_FALSE(std::isnan(fano_factors(tr, 0.06)[1]));  // rounds to 1 step
  // What cannot be a window at all is still a caller's error.
  for (const double bad : {0.0, -1.0, std::nan(""), HUGE_VAL})
    EXPECT_THROW(fano_factors(tr, bad), std::invalid_argument) << bad;
}

TEST(FanoCsv, AOneStepRunGivesEveryRowMarkedUndefined) {
  SpikeTrains tr;
  tr.n_steps = 1;
  tr.dt = 0.1;
  tr.times = {{0}, {}};
  const TypeGroups types{{"a", "b"}, {0, 1}};
  const Table t = parse_csv(fano_csv({tr}, types, {0.01, 1.0, 1000.0}));
  ASSERT_EQ(t.size(), 7u);
  for (std::size_t r = 1; r < t.size(); ++r) {
    EXPECT_EQ(t[r][2], "0") << r;  // no neuron-trial with a defined Fano factor
    EXPECT_EQ(t[r][3], "nan") << r;
    EXPECT_EQ(t[r][4], "nan") << r;
  }
}

TEST(FanoFactors, PoissonTrainIsNearOne) {
  SpikeTrains tr;
  tr.n_steps = 10'000'000;
  tr.dt = 0.1;
  tr.times = {bernoulli_train(0.002, tr.n_steps, 777)};
  // Expected 1 - p = 0.998. For Poisson counts var(F_hat) ~ 2 / W with W
  // windows (delta method on s^2 / mean). 10 ms: W = 1e5, SE 0.0045;
  // 50 ms: W = 2e4, SE 0.010; 200 ms: W = 5000, SE 0.020. Tolerances are
  // 5 SE; a regular train gives 0 and a bursty one > 1.3 at these sizes.
  EXPECT_NEAR(fano_factors(tr, 10.0)[0], 1.0, 0.0225);
  EXPECT_NEAR(fano_factors(tr, 50.0)[0], 1.0, 0.05);
  EXPECT_NEAR(fano_factors(tr, 200.0)[0], 1.0, 0.1);
}

// ---------------------------------------------------------------- ISI histogram

TEST(IsiHistogram, CountsByHand) {
  SpikeTrains tr;
  tr.n_steps = 1000;
  tr.dt = 0.5;
  // ISIs in ms: neuron 0: 1, 2, 5;  neuron 1: 0.5, 10;  neuron 2 (excluded): 1, 1.
  tr.times = {{0, 2, 6, 16}, {0, 1, 21}, {0, 2, 4}};
  const std::vector<double> edges = {0.0, 1.0, 2.0, 5.0, 6.0};
  const auto h = isi_histogram(tr, {0, 1}, edges);
  // [0,1): 0.5   [1,2): 1   [2,5): 2   [5,6): 5   10 is outside.
  EXPECT_EQ(h, (std::vector<std::int64_t>{1, 1, 1, 1}));
  const auto h2 = isi_histogram(tr, {2, 0}, edges);
  EXPECT_EQ(h2, (std::vector<std::int64_t>{0, 3, 1, 1}));
  // A neuron listed twice counts twice (pooling is over the given list).
  EXPECT_EQ(isi_histogram(tr, {2, 2}, edges), (std::vector<std::int64_t>{0, 4, 0, 0}));
  EXPECT_TRUE(isi_histogram(tr, {0}, {1.0}).empty());
}

TEST(IsiHistogram, BadInputIsRejected) {
  SpikeTrains tr;
  tr.n_steps = 100;
  tr.times = {{0, 5}};
  EXPECT_THROW(isi_histogram(tr, {0}, {0.0, 2.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(isi_histogram(tr, {1}, {0.0, 1.0}), std::out_of_range);
}

// ---------------------------------------------------------------- summarize

TEST(Summarize, SkipsNanAndUsesPopulationSd) {
  const double nan = std::nan("");
  const Summary s = summarize({3.0, nan, 1.0, 2.0, nan, 10.0});
  EXPECT_EQ(s.count, 4);
  EXPECT_DOUBLE_EQ(s.mean, 4.0);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt((1.0 + 9.0 + 4.0 + 36.0) / 4.0));
  EXPECT_EQ(s.min, 1.0);
  EXPECT_EQ(s.max, 10.0);
  EXPECT_DOUBLE_EQ(s.median, 2.5);  // even count: mean of 2 and 3

  const Summary odd = summarize({5.0, nan, 1.0, 3.0});
  EXPECT_EQ(odd.count, 3);
  EXPECT_EQ(odd.median, 3.0);

  const Summary one = summarize({nan, 7.0});
  EXPECT_EQ(one.count, 1);
  EXPECT_EQ(one.std, 0.0);
  EXPECT_EQ(one.median, 7.0);
}

TEST(Summarize, AllNanOrEmptyGivesNanFields) {
  for (const auto& v : {std::vector<double>{}, std::vector<double>{std::nan(""), std::nan("")}}) {
    const Summary s = summarize(v);
    EXPECT_EQ(s.count, 0);
    EXPECT_TRUE(std::isnan(s.mean));
    EXPECT_TRUE(std::isnan(s.std));
    EXPECT_TRUE(std::isnan(s.min));
    EXPECT_TRUE(std::isnan(s.median));
    EXPECT_TRUE(std::isnan(s.max));
  }
}

// ---------------------------------------------------------------- CSVs

// Two types, three neurons (types 0, 1, 0), two trials of 1 s.
struct TinyExample {
  TypeGroups types{{"excitatory", "inhibitory"}, {0, 1, 0}};
  std::vector<SpikeTrains> trials;
  TinyExample() {
    SpikeTrains a;
    a.n_steps = 10000;
    a.dt = 0.1;
    SpikeTrains b = a;
    a.times = {{0, 10, 30}, {0, 1, 3, 6}, {}};  // CVs 1/3, sqrt(2/3)/2, NaN
    b.times = {{5, 9}, {}, {0, 100, 200}};       // CVs NaN (2 spikes), NaN, 0
    trials = {a, b};
  }
};

TEST(FiringRateCsv, ParsesBackToHandComputedValues) {
  const TinyExample ex;
  const Table t = parse_csv(firing_rate_csv(type_activity(ex.trials, ex.types), ex.types));
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], (std::vector<std::string>{"cell_type", "n", "mean_rate_hz", "std_rate_hz",
                                            "min_rate_hz", "median_rate_hz", "max_rate_hz",
                                            "silent_count", "fraction_active"}));
  // excitatory neuron-trials: rates 3, 0, 2, 3 Hz.
  ASSERT_EQ(t[1].size(), 9u);
  EXPECT_EQ(t[1][0], "excitatory");
  EXPECT_EQ(num(t[1][1]), 4);
  EXPECT_DOUBLE_EQ(num(t[1][2]), 2.0);
  EXPECT_DOUBLE_EQ(num(t[1][3]), std::sqrt((1.0 + 4.0 + 0.0 + 1.0) / 4.0));
  EXPECT_DOUBLE_EQ(num(t[1][4]), 0.0);
  EXPECT_DOUBLE_EQ(num(t[1][5]), 2.5);
  EXPECT_DOUBLE_EQ(num(t[1][6]), 3.0);
  EXPECT_EQ(t[1][7], "1");
  EXPECT_DOUBLE_EQ(num(t[1][8]), 0.75);
  // inhibitory: rates 4, 0 Hz.
  ASSERT_EQ(t[2].size(), 9u);
  EXPECT_EQ(t[2][0], "inhibitory");
  EXPECT_EQ(num(t[2][1]), 2);
  EXPECT_DOUBLE_EQ(num(t[2][2]), 2.0);
  EXPECT_DOUBLE_EQ(num(t[2][3]), 2.0);
  EXPECT_DOUBLE_EQ(num(t[2][4]), 0.0);
  EXPECT_DOUBLE_EQ(num(t[2][5]), 2.0);
  EXPECT_DOUBLE_EQ(num(t[2][6]), 4.0);
  EXPECT_EQ(t[2][7], "1");
  EXPECT_DOUBLE_EQ(num(t[2][8]), 0.5);
}

TEST(FiringRateCsv, EmptyTypeGivesNanRowAndNamesAreQuoted) {
  TinyExample ex;
  ex.types.names = {"exc, layer 2", "inhibitory", "unused"};
  const std::string csv = firing_rate_csv(type_activity(ex.trials, ex.types), ex.types);
  EXPECT_NE(csv.find("\n\"exc, layer 2\",4,"), std::string::npos);
  EXPECT_NE(csv.find("\nunused,0,nan,nan,nan,nan,nan,0,nan\n"), std::string::npos) << csv;
}

TEST(FiringRateCsv, SilentMeansExactlyZeroSpikes) {
  SpikeTrains tr;
  tr.n_steps = 100;
  tr.dt = 1.0;
  tr.times = {{}, {3}, {1, 2}};  // a single spike is active, not silent
  const Table t = parse_csv(firing_rate_csv(type_activity({tr}, TypeGroups{{"x"}, {0, 0, 0}}), TypeGroups{{"x"}, {0, 0, 0}}));
  EXPECT_EQ(t[1][7], "1");
  EXPECT_DOUBLE_EQ(num(t[1][8]), 2.0 / 3.0);
}

TEST(CvCsv, ParsesBackToHandComputedValues) {
  const TinyExample ex;
  const Table t = parse_csv(cv_csv(type_activity(ex.trials, ex.types), ex.types));
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], (std::vector<std::string>{"cell_type", "n", "n_with_cv", "mean_cv", "std_cv",
                                            "median_cv"}));
  // excitatory: CVs 1/3, NaN (0 spikes), NaN (2 spikes: excluded), 0.
  ASSERT_EQ(t[1].size(), 6u);
  EXPECT_EQ(t[1][0], "excitatory");
  EXPECT_EQ(t[1][1], "4");
  EXPECT_EQ(t[1][2], "2");
  EXPECT_DOUBLE_EQ(num(t[1][3]), 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(num(t[1][4]), 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(num(t[1][5]), 1.0 / 6.0);
  // inhibitory: sqrt(2/3)/2, NaN.
  ASSERT_EQ(t[2].size(), 6u);
  EXPECT_EQ(t[2][0], "inhibitory");
  EXPECT_EQ(t[2][1], "2");
  EXPECT_EQ(t[2][2], "1");
  EXPECT_DOUBLE_EQ(num(t[2][3]), std::sqrt(2.0 / 3.0) / 2.0);
  EXPECT_EQ(num(t[2][4]), 0.0);
  EXPECT_DOUBLE_EQ(num(t[2][5]), std::sqrt(2.0 / 3.0) / 2.0);
}

TEST(CvCsv, NoDefinedCvWritesNan) {
  TinyExample ex;
  ex.trials[0].times[1] = {1, 2};
  const Table t = parse_csv(cv_csv(type_activity(ex.trials, ex.types), ex.types));
  EXPECT_EQ(t[2], (std::vector<std::string>{"inhibitory", "2", "0", "nan", "nan", "nan"}));
}

TEST(FanoCsv, RowsPerWindowAndType) {
  SpikeTrains tr;
  tr.n_steps = 1000;
  tr.dt = 1.0;
  // Neuron 0 (type a): regular, period 10 -> Fano 0 at 10 and 20 ms.
  // Neuron 1 (type b): counts 2,0,2,0,... in 10 ms windows (spikes at 0 and
  // 1 of every 20 steps): mean 1, variance 1 -> Fano 1; at 20 ms all windows
  // hold 2 -> 0. Neuron 2 (type b): silent -> excluded.
  Steps burst;
  for (std::int64_t t = 0; t < 1000; t += 20) {
    burst.push_back(t);
    burst.push_back(t + 1);
  }
  tr.times = {regular_train(0, 10, 1000), burst, {}};
  const TypeGroups types{{"a", "b"}, {0, 1, 1}};
  const Table t = parse_csv(fano_csv({tr}, types, {10.0, 20.0}));
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[0], (std::vector<std::string>{"window_ms", "cell_type", "n", "mean_fano", "std_fano"}));
  EXPECT_EQ(t[1], (std::vector<std::string>{"10", "a", "1", "0", "0"}));
  EXPECT_EQ(t[2], (std::vector<std::string>{"10", "b", "1", "1", "0"}));
  EXPECT_EQ(t[3], (std::vector<std::string>{"20", "a", "1", "0", "0"}));
  EXPECT_EQ(t[4], (std::vector<std::string>{"20", "b", "1", "0", "0"}));
}

TEST(Csv, InconsistentTypesAreRejected) {
  TinyExample ex;
  TypeGroups short_types{{"excitatory", "inhibitory"}, {0, 1}};
  EXPECT_THROW(type_activity(ex.trials, short_types), std::invalid_argument);
  TypeGroups bad_index{{"excitatory", "inhibitory"}, {0, 2, 0}};
  EXPECT_THROW(type_activity(ex.trials, bad_index), std::invalid_argument);
}

// ---------------------------------------------------------------- voltages

TEST(VoltageCsv, SinusoidAndConstantTraces) {
  // Global neurons: 0 excitatory (not recorded), 1 inhibitory, 2 excitatory.
  const TypeGroups types{{"excitatory", "inhibitory"}, {0, 1, 0}};
  const std::vector<double> theta = {-50.0, -45.0, -52.0};
  const std::vector<std::int64_t> neurons = {2, 1};  // recorded columns
  const std::int64_t n_trials = 2, n_steps = 1000;
  const double pi = 3.14159265358979323846;
  std::vector<float> v(static_cast<std::size_t>(n_trials * n_steps * 2));
  auto at = [&](std::int64_t b, std::int64_t t, std::int64_t k) -> float& {
    return v[static_cast<std::size_t>((b * n_steps + t) * 2 + k)];
  };
  for (std::int64_t t = 0; t < n_steps; ++t) {
    // Trial 0: neuron 2 is -60 + 3 sin over 10 whole periods (mean -60,
    // population sd 3/sqrt 2); neuron 1 is constant -55 (sd 0).
    at(0, t, 0) = static_cast<float>(-60.0 + 3.0 * std::sin(2.0 * pi * t / 100.0));
    at(0, t, 1) = -55.0f;
    // Trial 1: neuron 2 constant -65; neuron 1 alternates -56/-54 (mean -55, sd 1).
    at(1, t, 0) = -65.0f;
    at(1, t, 1) = (t % 2 == 0) ? -56.0f : -54.0f;
  }
  const Table t = parse_csv(voltage_csv(v, n_trials, n_steps, neurons, theta, types));
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], (std::vector<std::string>{"cell_type", "n", "mean_v_mv", "mean_sd_v_mv",
                                            "mean_membrane_ratio"}));
  const double sd_sin = 3.0 / std::sqrt(2.0);
  // Tolerance covers float storage of the sinusoid (~4e-6 mV per sample).
  EXPECT_EQ(t[1][0], "excitatory");
  EXPECT_EQ(t[1][1], "2");
  EXPECT_NEAR(num(t[1][2]), (-60.0 - 65.0) / 2.0, 1e-5);
  EXPECT_NEAR(num(t[1][3]), sd_sin / 2.0, 1e-5);
  EXPECT_NEAR(num(t[1][4]), (sd_sin / (-52.0 + 60.0) + 0.0) / 2.0, 1e-5);
  // Inhibitory values are exact in float and double.
  EXPECT_EQ(t[2][0], "inhibitory");
  EXPECT_EQ(t[2][1], "2");
  EXPECT_DOUBLE_EQ(num(t[2][2]), -55.0);
  EXPECT_DOUBLE_EQ(num(t[2][3]), 0.5);
  EXPECT_DOUBLE_EQ(num(t[2][4]), (0.0 + 1.0 / 10.0) / 2.0);
}

TEST(VoltageCsv, ConstantTraceHasExactlyZeroSd) {
  // -65.3 is not representable: a naive sum-of-squares variance would leave
  // a rounding residue; the shifted sums give exactly 0.
  const TypeGroups types{{"only"}, {0}};
  const std::vector<float> v(5000, -65.3f);
  const Table t = parse_csv(voltage_csv(v, 1, 5000, {0}, {-50.0}, types));
  EXPECT_DOUBLE_EQ(num(t[1][2]), static_cast<double>(-65.3f));
  EXPECT_EQ(num(t[1][3]), 0.0);
  EXPECT_EQ(num(t[1][4]), 0.0);
}

TEST(VoltageCsv, BadShapesAreRejected) {
  const TypeGroups types{{"only"}, {0, 0}};
  const std::vector<double> theta = {-50.0, -50.0};
  const std::vector<float> v(10, -60.0f);
  EXPECT_NO_THROW(voltage_csv(v, 1, 5, {0, 1}, theta, types));
  EXPECT_THROW(voltage_csv(v, 1, 4, {0, 1}, theta, types), std::invalid_argument);
  EXPECT_THROW(voltage_csv(v, 2, 5, {0, 1}, theta, types), std::invalid_argument);
  EXPECT_THROW(voltage_csv(v, 1, 5, {0, 2}, theta, types), std::out_of_range);
  EXPECT_THROW(voltage_csv(v, 1, 0, {0, 1}, theta, types), std::invalid_argument);
}

}  // namespace
}  // namespace homeostat
