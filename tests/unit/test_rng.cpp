// Philox wrapper: a pure function of (seed, stream, a, b); distributions right.
#include "homeostat/rng.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

using homeostat::Philox;
using homeostat::Stream;

TEST(Rng, SameKeySameNumbersDifferentKeyDifferent) {
  Philox a(42, Stream::inputs, 3, 7), b(42, Stream::inputs, 3, 7);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.next_u32(), b.next_u32());
  const std::uint32_t base = Philox(42, Stream::inputs, 3, 7).next_u32();
  EXPECT_NE(Philox(43, Stream::inputs, 3, 7).next_u32(), base);
  EXPECT_NE(Philox(42, Stream::cell_types, 3, 7).next_u32(), base);
  EXPECT_NE(Philox(42, Stream::inputs, 4, 7).next_u32(), base);
  EXPECT_NE(Philox(42, Stream::inputs, 3, 8).next_u32(), base);
  // The high half of a 64-bit seed matters too.
  EXPECT_NE(Philox(42 + (1ULL << 32), Stream::inputs, 3, 7).next_u32(), base);
}

TEST(Rng, UniformAndNormalMoments) {
  Philox r(1, Stream::inputs);
  const int n = 200000;
  double s = 0, s2 = 0, z = 0, z2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = r.uniform_open();
    ASSERT_GT(u, 0.0);
    ASSERT_LE(u, 1.0);
    s += u;
    s2 += u * u;
    const double g = r.normal();
    z += g;
    z2 += g * g;
  }
  // Standard errors: uniform mean 0.29/sqrt(n) ~ 6.5e-4; normal mean 1/sqrt(n) ~ 2.2e-3.
  EXPECT_NEAR(s / n, 0.5, 5 * 6.5e-4);
  EXPECT_NEAR(s2 / n - (s / n) * (s / n), 1.0 / 12.0, 1e-3);
  EXPECT_NEAR(z / n, 0.0, 5 * 2.2e-3);
  EXPECT_NEAR(z2 / n, 1.0, 5 * 3.2e-3);  // sd of the sample variance: sqrt(2/n)
}

TEST(Rng, BelowIsUniformOverItsRange) {
  Philox r(5, Stream::recurrent_topology);
  const int k = 7, n = 70000;
  std::vector<int> counts(k, 0);
  for (int i = 0; i < n; ++i) {
    const auto x = r.below(k);
    ASSERT_LT(x, static_cast<std::uint64_t>(k));
    ++counts[x];
  }
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / k) * (c - n / k) / static_cast<double>(n / k);
  EXPECT_LT(chi2, 22.5);  // chi-squared, 6 degrees of freedom, p = 0.001
}

TEST(Rng, ShuffleIsAPermutationAndDeterministic) {
  std::vector<int> a(50), b;
  for (int i = 0; i < 50; ++i) a[i] = i;
  b = a;
  Philox(9, Stream::cell_types).shuffle(a);
  Philox(9, Stream::cell_types).shuffle(b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(std::set<int>(a.begin(), a.end()).size(), 50u);
  int fixed = 0;
  for (int i = 0; i < 50; ++i) fixed += a[i] == i;
  EXPECT_LT(fixed, 10);
}
