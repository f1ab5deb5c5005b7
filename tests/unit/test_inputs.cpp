// Poisson inputs: right rate, independent of call order (chunking/threads),
// different across trials; replay returns what was recorded.
#include "homeostat/inputs.hpp"

#include <gtest/gtest.h>

#include <cmath>

using homeostat::PoissonInputs;
using homeostat::ReplayInputs;

TEST(PoissonInputs, CountMatchesRateWithinSamplingError) {
  // Two input types with different rates, in contiguous blocks.
  std::vector<std::int32_t> type(300, 0);
  for (int j = 200; j < 300; ++j) type[j] = 1;
  const PoissonInputs in(42, type, {6.0, 40.0}, 0.1);
  const int steps = 20000;
  std::int64_t count[2] = {0, 0};
  std::vector<std::int32_t> out;
  for (int t = 0; t < steps; ++t) {
    in.spikes(0, t, out);
    for (std::size_t k = 0; k < out.size(); ++k) {
      if (k) {
        ASSERT_LT(out[k - 1], out[k]);
      }
      ASSERT_GE(out[k], 0);
      ASSERT_LT(out[k], 300);
      ++count[out[k] >= 200];
    }
  }
  const double n0 = 200.0 * steps, p0 = 6.0 * 0.1 / 1000, n1 = 100.0 * steps, p1 = 40.0 * 0.1 / 1000;
  EXPECT_NEAR(count[0], n0 * p0, 4 * std::sqrt(n0 * p0 * (1 - p0)));
  EXPECT_NEAR(count[1], n1 * p1, 4 * std::sqrt(n1 * p1 * (1 - p1)));
}

TEST(PoissonInputs, EachInputIsBernoulliPerStep) {
  // Per-input counts over many steps: chi-squared against the binomial mean.
  const std::vector<std::int32_t> type(50, 0);
  const PoissonInputs in(7, type, {50.0}, 0.1);
  const int steps = 40000;
  std::vector<std::int64_t> count(50, 0);
  std::vector<std::int32_t> out;
  for (int t = 0; t < steps; ++t) {
    in.spikes(3, t, out);
    for (auto j : out) ++count[j];
  }
  const double mean = steps * 0.005, var = mean * (1 - 0.005);
  double chi2 = 0;
  for (auto c : count) chi2 += (c - mean) * (c - mean) / var;
  EXPECT_LT(chi2, 86.7);  // 50 degrees of freedom, p = 0.001
  EXPECT_GT(chi2, 24.7);  // and not suspiciously regular (p = 0.999)
}

TEST(PoissonInputs, PureFunctionOfTrialAndStep) {
  const std::vector<std::int32_t> type(100, 0);
  const PoissonInputs a(42, type, {30.0}, 0.1), b(42, type, {30.0}, 0.1), c(43, type, {30.0}, 0.1);
  std::vector<std::int32_t> x, y, z;
  int differ_trial = 0, differ_seed = 0;
  for (int t = 999; t >= 0; --t) {  // reverse order: no hidden sequential state
    a.spikes(2, t, x);
    b.spikes(2, t, y);
    ASSERT_EQ(x, y);
    b.spikes(5, t, y);
    c.spikes(2, t, z);
    differ_trial += x != y;
    differ_seed += x != z;
  }
  EXPECT_GT(differ_trial, 100);
  EXPECT_GT(differ_seed, 100);
}

TEST(PoissonInputs, ZeroAndSaturatedRates) {
  std::vector<std::int32_t> type = {0, 0, 1, 1, 1};
  const PoissonInputs in(1, type, {0.0, 10000.0}, 0.1);  // p = 0 and p = 1
  std::vector<std::int32_t> out;
  for (int t = 0; t < 100; ++t) {
    in.spikes(0, t, out);
    EXPECT_EQ(out, (std::vector<std::int32_t>{2, 3, 4}));
  }
}

TEST(ReplayInputs, ReturnsRecordedSpikesAndRefusesBeyondTheEnd) {
  // [2 trials, 3 steps, 4 inputs]
  std::vector<std::uint8_t> dense(24, 0);
  dense[(0 * 3 + 1) * 4 + 2] = 1;
  dense[(1 * 3 + 2) * 4 + 0] = 1;
  dense[(1 * 3 + 2) * 4 + 3] = 1;
  const ReplayInputs r(2, 3, 4, dense);
  std::vector<std::int32_t> out;
  r.spikes(0, 1, out);
  EXPECT_EQ(out, (std::vector<std::int32_t>{2}));
  r.spikes(1, 2, out);
  EXPECT_EQ(out, (std::vector<std::int32_t>{0, 3}));
  r.spikes(1, 0, out);
  EXPECT_TRUE(out.empty());
  EXPECT_THROW(r.spikes(0, 3, out), std::out_of_range);
  EXPECT_THROW(r.spikes(2, 0, out), std::out_of_range);
  EXPECT_THROW(ReplayInputs(2, 3, 5, dense), std::invalid_argument);
}
