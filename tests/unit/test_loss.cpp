// Losses on hand-made spike trains and voltages, against values computed by
// hand from MODEL.md section 7.
#include "homeostat/loss.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace homeostat;

namespace {

// Context: neuron 0 excitatory (target 0.5 Hz), neuron 1 inhibitory (5 Hz);
// 1 s chunks (10000 steps of 0.1 ms), B trials.
LossContext context(std::int64_t batch) {
  LossContext c;
  c.n = 2;
  c.batch = batch;
  c.steps = 10000;
  c.dt = 0.1;
  c.rate_target = {0.5, 5.0};
  c.cv_target = {1.0, 0.5};
  c.alpha = {0.01, 0.02};
  c.theta = {-38.0, -45.0};
  c.ratio_target = {0.8, 0.8};
  c.weight_ratio_target = 2.0;
  return c;
}

// Sums of spike trains [trial][neuron] -> steps, no spike before the chunk;
// voltages constant per (trial, neuron).
LossSums<double> sums_of(const std::vector<std::vector<std::vector<std::int64_t>>>& trains,
                         const std::vector<std::vector<double>>& v_const, std::int64_t steps) {
  LossSums<double> s;
  const auto batch = static_cast<std::int64_t>(trains.size());
  const std::int64_t n = 2;
  for (auto* x : {&s.spikes, &s.isi_count, &s.isi_sum, &s.isi_sum_sq, &s.v_sum, &s.v_sum_sq}) x->assign(batch * n, 0);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t i = 0; i < n; ++i) {
      const auto& t = trains[b][i];
      s.spikes[b * n + i] = static_cast<double>(t.size());
      for (std::size_t k = 1; k < t.size(); ++k) {
        const double tau = static_cast<double>(t[k] - t[k - 1]);
        s.isi_count[b * n + i] += 1;
        s.isi_sum[b * n + i] += tau;
        s.isi_sum_sq[b * n + i] += tau * tau;
      }
      s.v_sum[b * n + i] = v_const[b][i] * static_cast<double>(steps);
      s.v_sum_sq[b * n + i] = v_const[b][i] * v_const[b][i] * static_cast<double>(steps);
    }
  s.weight_ratio = 2.5;
  return s;
}

std::vector<std::int64_t> regular(std::int64_t first, std::int64_t period, int count) {
  std::vector<std::int64_t> t;
  for (int k = 0; k < count; ++k) t.push_back(first + k * period);
  return t;
}

}  // namespace

TEST(Loss, FiringRateSilentPenaltyAndWeightRatioByHand) {
  // Trial 0: neuron 0 fires 3 times, neuron 1 5 times; trial 1: 5 and 5.
  const auto s = sums_of({{regular(0, 100, 3), regular(0, 100, 5)}, {regular(0, 100, 5), regular(0, 100, 5)}},
                         {{-60, -60}, {-60, -60}}, 10000);
  auto c = context(2);
  c.rate_loss = RateLoss::plain;
  const auto v = evaluate_losses(s, c);
  // Plain rate loss: rates 4 Hz (mean of 3 and 5) and 5 Hz: ((4 - 0.5)^2 / 1.5 + 0) / 2.
  EXPECT_NEAR(v.term[0], (3.5 * 3.5 / 1.5) / 2.0, 1e-12);
  // Silent penalty: mean over (b, i) of exp(-alpha r_bi).
  const double sp = (std::exp(-0.01 * 3) + std::exp(-0.02 * 5) + std::exp(-0.01 * 5) + std::exp(-0.02 * 5)) / 4.0;
  EXPECT_NEAR(v.term[2], sp, 1e-12);
  EXPECT_NEAR(v.term[4], 0.25, 1e-12);  // (2.5 - 2)^2
}

TEST(Loss, RegularTrainHasCvZeroAndFewSpikesAreExcluded) {
  // Neuron 0: regular, 3 spikes per trial (2 ISIs each): CV 0, (0 - 1)^2.
  // Neuron 1: 1 spike per trial: no ISI: excluded from the mean.
  const auto s = sums_of({{regular(10, 250, 3), {40}}, {regular(500, 250, 3), {70}}}, {{-60, -60}, {-60, -60}},
                         10000);
  const auto v = evaluate_losses(s, context(2));
  EXPECT_NEAR(v.term[1], 1.0, 1e-12);
  // Only one ISI in total for a neuron (pooled): still excluded.
  const auto one_isi = sums_of({{{10, 30}, {40}}}, {{-60, -60}}, 10000);
  EXPECT_EQ(evaluate_losses(one_isi, context(1)).term[1], 0.0);
}

TEST(Loss, CvOfKnownIntervals) {
  // Neuron 1 (target CV 0.5), ISIs 100 and 300 steps: mean 200, population
  // sd 100, CV 0.5 -> loss 0. Neuron 0 (target 1): ISIs 100, 100, 400: mean
  // 200, sd sqrt((100^2 + 100^2 + 200^2) / 3) = 141.42, CV 0.7071.
  const auto s = sums_of({{{0, 100, 200, 600}, {0, 100, 400}}}, {{-60, -60}}, 10000);
  const auto v = evaluate_losses(s, context(1));
  const double cv0 = std::sqrt((100.0 * 100 + 100.0 * 100 + 200.0 * 200) / 3.0) / 200.0;
  EXPECT_NEAR(v.term[1], ((cv0 - 1.0) * (cv0 - 1.0) + 0.0) / 2.0, 1e-12);
}

TEST(Loss, MembraneVarianceByHand) {
  // Constant voltage: sd 0, ratio 0 -> (0 - 0.8)^2 for every neuron-trial.
  const auto flat = sums_of({{{}, {}}}, {{-60, -50}}, 10000);
  EXPECT_NEAR(evaluate_losses(flat, context(1)).term[3], 0.64, 1e-12);
  // A two-level trace: half the steps at -60, half at -50: mean -55, sd 5;
  // neuron 0: 5 / (-38 + 55) = 0.2941; neuron 1: 5 / (-45 + 55) = 0.5.
  auto s = flat;
  for (int i = 0; i < 2; ++i) {
    s.v_sum[i] = 5000 * -60.0 + 5000 * -50.0;
    s.v_sum_sq[i] = 5000 * 3600.0 + 5000 * 2500.0;
  }
  const double r0 = 5.0 / 17.0 - 0.8, r1 = 0.5 - 0.8;
  EXPECT_NEAR(evaluate_losses(s, context(1)).term[3], (r0 * r0 + r1 * r1) / 2.0, 1e-9);
}

TEST(Loss, TotalIsTheWeightedScaledSum) {
  auto c = context(1);
  c.scale = 0.25;  // chunks_per_update = 4
  const auto s = sums_of({{regular(0, 300, 4), regular(7, 90, 9)}}, {{-60, -55}}, 10000);
  const auto v = evaluate_losses(s, c);
  double expected = 0;
  for (std::size_t k = 0; k < n_loss_terms; ++k) expected += c.weights[k] * 0.25 * v.term[k];
  EXPECT_NEAR(v.total, expected, 1e-12);
  EXPECT_GT(v.term[1], 0.0);
}

TEST(Loss, ParseNames) {
  EXPECT_EQ(parse_loss_term("membrane_variance"), LossTerm::membrane_variance);
  EXPECT_EQ(to_string(LossTerm::silent_penalty), "silent_penalty");
  EXPECT_THROW(parse_loss_term("variance"), std::invalid_argument);
}

// MODEL.md 7, split form: trials A = {0, 1}, B' = {2, 3} (B = 4), or
// A = {0}, B' = {1, 2} (B = 3).
TEST(Loss, SplitRateByHand) {
  // Neuron 0 (target 0.5 Hz): 1, 3 | 2, 6 spikes in 1 s; neuron 1 (5 Hz): 5, 5 | 4, 4.
  const auto s = sums_of({{regular(0, 100, 1), regular(0, 100, 5)},
                          {regular(0, 100, 3), regular(0, 100, 5)},
                          {regular(0, 100, 2), regular(0, 100, 4)},
                          {regular(0, 100, 6), regular(0, 100, 4)}},
                         {{-60, -60}, {-60, -60}, {-60, -60}, {-60, -60}}, 10000);
  auto c = context(4);
  c.rate_loss = RateLoss::split;
  const double e = (2.0 - 0.5) * (4.0 - 0.5) / 1.5, i = (5.0 - 5.0) * (4.0 - 5.0) / 6.0;
  EXPECT_NEAR(evaluate_losses(s, c).term[0], (e + i) / 2.0, 1e-12);
  // Odd B: A = {0}, B' = {1, 2}.
  const auto s3 = sums_of({{regular(0, 100, 1), regular(0, 100, 5)},
                           {regular(0, 100, 3), regular(0, 100, 5)},
                           {regular(0, 100, 2), regular(0, 100, 8)}},
                          {{-60, -60}, {-60, -60}, {-60, -60}}, 10000);
  auto c3 = context(3);
  c3.rate_loss = RateLoss::split;
  const double e3 = (1.0 - 0.5) * (2.5 - 0.5) / 1.5, i3 = (5.0 - 5.0) * (6.5 - 5.0) / 6.0;
  EXPECT_NEAR(evaluate_losses(s3, c3).term[0], (e3 + i3) / 2.0, 1e-12);
  // Near the target the split value can be negative; the plain one cannot.
  auto plain = c;
  plain.rate_loss = RateLoss::plain;
  const auto near = sums_of({{{}, regular(0, 100, 5)}, {{}, regular(0, 100, 5)},
                             {regular(0, 100, 1), regular(0, 100, 5)}, {regular(0, 100, 1), regular(0, 100, 5)}},
                            {{-60, -60}, {-60, -60}, {-60, -60}, {-60, -60}}, 10000);
  EXPECT_NEAR(evaluate_losses(near, c).term[0], (0.0 - 0.5) * (1.0 - 0.5) / 1.5 / 2.0, 1e-12);
  EXPECT_NEAR(evaluate_losses(near, plain).term[0], 0.0, 1e-12);  // mean 0.5 Hz: on target
}

TEST(Loss, SplitRateWithOneTrialIsThePlainForm) {
  const auto s = sums_of({{regular(0, 100, 3), regular(0, 100, 7)}}, {{-60, -60}}, 10000);
  auto split = context(1), plain = context(1);
  split.rate_loss = RateLoss::split;
  plain.rate_loss = RateLoss::plain;
  EXPECT_FALSE(split.split_rate());
  EXPECT_EQ(evaluate_losses(s, split).term[0], evaluate_losses(s, plain).term[0]);
  EXPECT_NEAR(evaluate_losses(s, split).term[0], (2.5 * 2.5 / 1.5 + 2.0 * 2.0 / 6.0) / 2.0, 1e-12);
  EXPECT_EQ(loss_gradient(s, split).spike_const, loss_gradient(s, plain).spike_const);
}

// The split loss is bilinear in the trials' spike counts, so a unit step of
// one count changes it by exactly its derivative (to rounding): the closed
// form of loss_gradient against evaluate_losses, for even and odd B, both forms.
TEST(Loss, RateGradientMatchesTheValue) {
  for (const RateLoss kind : {RateLoss::split, RateLoss::plain})
    for (const std::int64_t batch : {2, 3, 4, 5}) {
      std::vector<std::vector<std::vector<std::int64_t>>> trains;
      std::vector<std::vector<double>> v;
      for (std::int64_t b = 0; b < batch; ++b) {
        trains.push_back({regular(0, 100, static_cast<int>(b % 3)), regular(0, 100, static_cast<int>(4 + b))});
        v.push_back({-60, -60});
      }
      const auto s = sums_of(trains, v, 10000);
      auto c = context(batch);
      c.rate_loss = kind;
      const LossTerm rate = LossTerm::firing_rate;
      const LossGradient g = loss_gradient(s, c, &rate);
      const double h = 1e-3;
      for (std::int64_t bi = 0; bi < 2 * batch; ++bi) {
        auto up = s, down = s;
        up.spikes[bi] += h;
        down.spikes[bi] -= h;
        const double fd = (evaluate_losses(up, c).term[0] - evaluate_losses(down, c).term[0]) / (2 * h);
        EXPECT_NEAR(g.spike_const[bi], fd, 1e-9 * std::max(1.0, std::abs(fd)))
            << to_string(kind) << ", B = " << batch << ", bi = " << bi;
      }
    }
}

// The point of the split form (MODEL.md 7): with Poisson counts whose mean is
// on the target, the plain loss's expectation is Var(r) / (r* + 1) > 0, the
// split one's 0. 20000 draws of a 4-trial batch, 1 s per trial, at the target
// 5 Hz: Var(r_i) = 5 / 4 Hz^2, so E[plain] = 1.25 / 6 = 0.208.
TEST(Loss, SplitRateIsUnbiasedOnTarget) {
  std::mt19937_64 rng(12345);
  std::poisson_distribution<int> count(5.0);
  auto c = context(4);
  c.n = 1;
  c.rate_target = {5.0};
  auto plain = c;
  c.rate_loss = RateLoss::split;
  plain.rate_loss = RateLoss::plain;
  LossSums<double> s;
  s.spikes.assign(4, 0);
  double sum_split = 0, sum_sq_split = 0, sum_plain = 0;
  const int draws = 20000;
  for (int k = 0; k < draws; ++k) {
    for (double& x : s.spikes) x = count(rng);
    const double a = FiringRateLoss::value(s, c), p = FiringRateLoss::value(s, plain);
    sum_split += a;
    sum_sq_split += a * a;
    sum_plain += p;
  }
  const double mean = sum_split / draws, se = std::sqrt((sum_sq_split / draws - mean * mean) / draws);
  EXPECT_LT(std::abs(mean), 4 * se) << "split: mean " << mean << ", standard error " << se;
  EXPECT_NEAR(sum_plain / draws, 1.25 / 6.0, 0.01);
  EXPECT_GT(sum_plain / draws, mean + 10 * se);
}
