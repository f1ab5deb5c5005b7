// The pieces that let threads share a trial on a shared machine: the
// spin-then-block barrier (src/common/barrier.hpp) and the decisions of
// SharingPlan (src/sim/sharing.hpp), fed with made-up timings. That the
// forward pass gives the same bits under every decision is test_sim's.
#include "common/barrier.hpp"
#include "sim/sharing.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>
#include <vector>

using namespace homeostat;
using homeostat::sim_detail::SharingPlan;

TEST(SpinThenBlockBarrier, EveryThreadSeesTheCompletionOfEachPhase) {
  constexpr int threads = 4, phases = 2000;
  // A short spin: most waits below end blocked in the kernel, on 2 cores.
  SpinThenBlockBarrier barrier(threads, std::chrono::microseconds(1));
  int completed = 0;  // plain int: the barrier orders the accesses
  std::vector<int> written(threads, 0);
  std::vector<int> errors(threads, 0);
  std::vector<std::thread> team;
  for (int t = 0; t < threads; ++t) {
    team.emplace_back([&, t] {
      for (int p = 0; p < phases; ++p) {
        written[t] = p;
        // The last to arrive sees every thread's write of this phase.
        barrier.arrive_and_wait([&] {
          for (int k = 0; k < threads; ++k) errors[t] += written[k] != p;
          ++completed;
        });
        errors[t] += completed != p + 1;
        // Sleep now and then, so that the others block instead of spinning.
        if (p % 500 == t) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  for (auto& th : team) th.join();
  EXPECT_EQ(completed, phases);
  for (int t = 0; t < threads; ++t) EXPECT_EQ(errors[t], 0) << "thread " << t;
}

namespace {

using homeostat::sim_detail::rebalance;

// Feeds `plan` barriers of steps [from, to): each step takes `work[k]`
// seconds of member k's work and `wall` seconds of wall time (the slowest
// member's work plus what it waited). Stops early when the team shrinks.
std::int64_t feed(SharingPlan& plan, double& now, std::int64_t from, std::int64_t to, const std::vector<double>& work,
                  double wall) {
  const int team = plan.team_size();
  for (std::int64_t s = from; s < to; ++s) {
    for (std::size_t k = 0; k < work.size(); ++k)
      if (plan.member(static_cast<int>(k))) plan.busy[k] += work[k];
    now += wall;
    plan.decide(s, now);
    if (plan.team_size() < team) return s;
  }
  return to;
}

// What an earlier call measured: one thread alone needs `seconds` a step
// (so that a plan starts with every thread instead of measuring first).
ThreadSharing measured(double seconds = 10e-6) {
  ThreadSharing carry;
  carry.solo_seconds_per_step = seconds;
  return carry;
}

std::vector<int> team_of(const SharingPlan& plan, int threads) {
  std::vector<int> team;
  for (int k = 0; k < threads; ++k)
    if (plan.member(k)) team.push_back(k);
  return team;
}

// Shares for 10 steps, then member `lagging` is descheduled for `stall`
// seconds in step `at` + 10: returns that step (the plan has reduced the
// team there, or not).
std::int64_t stall_once(SharingPlan& plan, double& now, std::int64_t at, int threads, int lagging, double stall) {
  std::vector<double> work(threads, 10e-6 / threads);
  EXPECT_EQ(feed(plan, now, at, at + 10, work, 6e-6), at + 10);
  for (int k = 0; k < threads; ++k) plan.busy[k] += k == lagging ? stall : work[k];
  now += stall;
  plan.decide(at + 10, now);
  return at + 10;
}

}  // namespace

TEST(SharingPlan, WithNothingMeasuredThreadZeroRunsAloneFirst) {
  double now = 0;
  SharingPlan plan(SharedTrial::adaptive, 2, 5000, 10000, now);
  EXPECT_EQ(team_of(plan, 2), std::vector<int>{0});
  EXPECT_EQ(plan.solo_seconds_per_step(), 0);
  EXPECT_EQ(feed(plan, now, 0, SharingPlan::window, {12e-6, 0}, 12e-6), SharingPlan::window);
  EXPECT_NEAR(plan.solo_seconds_per_step(), 12e-6, 1e-9);
  plan.busy[0] += 12e-6;
  plan.decide(SharingPlan::window, now + 12e-6);
  EXPECT_EQ(plan.team_size(), 2);  // then every thread
  EXPECT_EQ(plan.reductions(), 0);
  ThreadSharing carry;
  plan.save(carry);
  EXPECT_NEAR(carry.solo_seconds_per_step, 12e-6, 1e-9);
  // A call that knows starts with every thread.
  EXPECT_EQ(SharingPlan(SharedTrial::adaptive, 2, 5000, 10000, now, carry).team_size(), 2);
}

TEST(SharingPlan, SharingThatLosesToTheMeasuredThreadStops) {
  // One thread was measured at 10 us a step. Shared, each member works 7 us
  // on its half (sharing slows both down: 14 us for all neurons at that
  // speed) and a step takes 12 us: the estimate alone would keep sharing.
  double now = 0;
  SharingPlan plan(SharedTrial::adaptive, 2, 5000, 10000, now, measured(10e-6));
  const std::int64_t at = feed(plan, now, 0, SharingPlan::window, {7e-6, 7e-6}, 12e-6);
  EXPECT_LT(at, SharingPlan::window);
  EXPECT_EQ(plan.team_size(), 1);
}

TEST(SharingPlan, BalancedThreadsStayShared) {
  double now = 1.0;
  SharingPlan plan(SharedTrial::adaptive, 2, 5000, 10000, now, measured());
  // 10 us of one thread's work per step, halved, plus 1 us at the barrier.
  EXPECT_EQ(feed(plan, now, 0, 1000, {5e-6, 5e-6}, 6e-6), 1000);
  EXPECT_EQ(plan.reductions(), 0);
  EXPECT_EQ(plan.team_size(), 2);
  EXPECT_EQ(plan.bounds, (std::vector<std::int64_t>{0, 2496, 5000}));
}

TEST(SharingPlan, RangesFollowTheThreadsSpeeds) {
  double now = 0;
  SharingPlan plan(SharedTrial::adaptive, 2, 5000, 10000, now, measured());
  const std::uint64_t epoch = plan.epoch();
  // Thread 1 takes 1.5 times as long for the same neurons: still faster
  // shared (8 us a step against 10 us at thread 0's speed for all of them).
  feed(plan, now, 0, SharingPlan::window, {5e-6, 7.5e-6}, 8e-6);
  EXPECT_EQ(plan.team_size(), 2);
  EXPECT_NE(plan.epoch(), epoch);  // the threads take their new ranges
  EXPECT_GT(plan.bounds[1], 2496);
  EXPECT_LT(plan.bounds[1], 3000);  // halfway towards 3/5 of the neurons
}

TEST(SharingPlan, RebalanceLeavesThreadsOutsideTheTeamWithoutNeurons) {
  // Threads 0 and 2 of 3 share; thread 2 twice as fast.
  std::vector<std::int64_t> bounds{0, 2496, 2496, 5000};
  std::vector<double> busy{2e-3, 0.0, 1e-3};
  rebalance(bounds, busy);
  EXPECT_EQ(bounds[1], bounds[2]);
  EXPECT_LT(bounds[1], 2496);  // halfway towards 1/3 of the neurons
  EXPECT_GT(bounds[1], 1666);
  EXPECT_EQ(bounds[3], 5000);
  EXPECT_EQ(busy, (std::vector<double>{0, 0, 0}));
}

TEST(SharingPlan, ALaggingThreadSendsTheTrialToOneThreadAndSharingIsTriedAgain) {
  double now = 0;
  SharingPlan plan(SharedTrial::adaptive, 2, 5000, 100000, now, measured());
  // Thread 1 is descheduled for 4 ms in step 10 (another process on its core).
  stall_once(plan, now, 0, 2, 1, 4e-3);
  ASSERT_EQ(plan.team_size(), 1);
  EXPECT_EQ(team_of(plan, 2), std::vector<int>{0});
  EXPECT_EQ(plan.bounds, (std::vector<std::int64_t>{0, 5000, 5000}));
  EXPECT_EQ(plan.reductions(), 1);
  EXPECT_EQ(plan.lost_tries(), 1);
  // The failed window (about 4 ms) costs at most 5% of the stretch alone:
  // 20 x 4 ms at 10 us a step, about 8000 steps.
  const std::int64_t stretch = plan.stretch_end() - 10;
  EXPECT_GE(stretch, 7000);
  EXPECT_LE(stretch, 9000);
  // Thread 0 alone meets its own barrier every step until the stretch ends.
  EXPECT_EQ(feed(plan, now, 11, plan.stretch_end(), {10e-6, 0}, 10e-6), plan.stretch_end());
  EXPECT_EQ(plan.team_size(), 1);
  plan.busy[0] += 10e-6;
  now += 10e-6;
  plan.decide(plan.stretch_end(), now);
  EXPECT_EQ(plan.team_size(), 2);
  EXPECT_EQ(feed(plan, now, plan.stretch_end() + 1, plan.stretch_end() + 200, {5e-6, 5e-6}, 6e-6),
            plan.stretch_end() + 200);
}

TEST(SharingPlan, TriesThatKeepLosingBackOffExponentially) {
  double now = 0;
  SharingPlan plan(SharedTrial::adaptive, 2, 5000, 1'000'000'000, now, measured());
  std::vector<std::int64_t> stretches;
  std::int64_t s = 0;
  for (int t = 0; t < SharingPlan::max_doublings + 3; ++t) {
    s = stall_once(plan, now, s, 2, 1, 4e-3);
    ASSERT_EQ(plan.team_size(), 1) << "try " << t;
    EXPECT_EQ(plan.lost_tries(), std::min(t + 1, SharingPlan::max_doublings));
    stretches.push_back(plan.stretch_end() - s);
    // The stretch alone at 10 us a step, then all threads again.
    now += static_cast<double>(plan.stretch_end() - s) * 10e-6;
    s = plan.stretch_end();
    plan.busy[0] += 10e-6;
    plan.decide(s++, now);
    ASSERT_EQ(plan.team_size(), 2);
  }
  // Each stretch twice the one before, until 2^max_doublings times the first.
  for (std::size_t t = 1; t < stretches.size(); ++t) {
    const double ratio = static_cast<double>(stretches[t]) / static_cast<double>(stretches[t - 1]);
    if (static_cast<int>(t) <= SharingPlan::max_doublings) EXPECT_NEAR(ratio, 2.0, 0.01) << "try " << t;
    else EXPECT_NEAR(ratio, 1.0, 0.01) << "try " << t;
  }
}

TEST(SharingPlan, ATryThatWonStartsTheBackoffAgain) {
  double now = 0;
  SharingPlan plan(SharedTrial::adaptive, 2, 5000, 1'000'000'000, now, measured());
  std::int64_t s = stall_once(plan, now, 0, 2, 1, 4e-3);
  const std::int64_t first = plan.stretch_end() - s;
  s = plan.stretch_end();
  plan.busy[0] += 10e-6;
  plan.decide(s++, now);
  s = stall_once(plan, now, s, 2, 1, 4e-3);
  ASSERT_EQ(plan.lost_tries(), 2);
  s = plan.stretch_end();
  plan.busy[0] += 10e-6;
  plan.decide(s++, now);
  ASSERT_EQ(plan.team_size(), 2);
  // Sharing pays for 10 000 steps (6 us a step against 10 us alone: 40 ms
  // won), then one 4 ms hiccup: the try won, all told.
  EXPECT_EQ(feed(plan, now, s, s + 10000, {5e-6, 5e-6}, 6e-6), s + 10000);
  s = stall_once(plan, now, s + 10000, 2, 1, 4e-3);
  ASSERT_EQ(plan.team_size(), 1);
  EXPECT_EQ(plan.lost_tries(), 0);
  // The stretch is the first one's again (give or take the failed window's
  // length), not 4 times it.
  EXPECT_LT(static_cast<double>(plan.stretch_end() - s), 1.5 * static_cast<double>(first));
}

TEST(SharingPlan, ALaggingThreadLeavesTheOthersSharing) {
  // Four threads; thread 2's core is taken: the other three continue.
  double now = 0;
  SharingPlan plan(SharedTrial::adaptive, 4, 8000, 100000, now, measured());
  stall_once(plan, now, 0, 4, 2, 4e-3);
  EXPECT_EQ(team_of(plan, 4), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(plan.bounds[2], plan.bounds[3]);
  EXPECT_EQ(plan.bounds[4], 8000);
  // Thread 0 lagging: threads 1-3 continue without it.
  SharingPlan first_lags(SharedTrial::adaptive, 4, 8000, 100000, now, measured());
  stall_once(first_lags, now, 0, 4, 0, 4e-3);
  EXPECT_EQ(team_of(first_lags, 4), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(first_lags.bounds[0], 0);
  EXPECT_EQ(first_lags.bounds[1], 0);
}

TEST(SharingPlan, SeveralLaggingThreadsLeaveTogetherAndATeamShrinksFurther) {
  double now = 0;
  SharingPlan plan(SharedTrial::adaptive, 4, 8000, 100000, now, measured());
  // Threads 1 and 3 stall in the same step: both leave.
  std::vector<double> work(4, 2.5e-6);
  feed(plan, now, 0, 10, work, 6e-6);
  plan.busy = {2.5e-6, 4e-3, 2.5e-6, 3e-3};
  now += 4e-3;
  plan.decide(10, now);
  ASSERT_EQ(team_of(plan, 4), (std::vector<int>{0, 2}));
  const std::int64_t end = plan.stretch_end();
  // Then thread 2 stalls too: thread 0 alone, to the end of the longer stretch.
  EXPECT_EQ(feed(plan, now, 11, 20, {5e-6, 0, 5e-6, 0}, 6e-6), 20);
  plan.busy[0] += 5e-6;
  plan.busy[2] += 4e-3;
  now += 4e-3;
  plan.decide(20, now);
  EXPECT_EQ(team_of(plan, 4), std::vector<int>{0});
  EXPECT_GE(plan.stretch_end(), end);
  EXPECT_EQ(plan.reductions(), 2);
}

TEST(SharingPlan, AStretchOnFewerThreadsCarriesOverToTheNextCall) {
  double now = 0;
  SharingPlan first(SharedTrial::adaptive, 3, 5000, 300, now, measured());
  first.busy = {5e-3, 3e-6, 3e-6};
  first.decide(0, now + 5e-3);
  ASSERT_EQ(team_of(first, 3), (std::vector<int>{1, 2}));
  ThreadSharing carry;
  first.save(carry);
  EXPECT_EQ(carry.reduced_steps_left, first.stretch_end() - 300);
  EXPECT_GT(carry.reduced_steps_left, 0);
  EXPECT_EQ(carry.reduced_team, (std::vector<int>{1, 2}));
  EXPECT_EQ(carry.lost_tries, 1);
  SharingPlan next(SharedTrial::adaptive, 3, 5000, 300, now, carry);
  EXPECT_EQ(team_of(next, 3), (std::vector<int>{1, 2}));
  EXPECT_EQ(next.stretch_end(), carry.reduced_steps_left);
  EXPECT_EQ(next.lost_tries(), 1);
  // `always` ignores what an adaptive call left, and so does a call with
  // fewer threads than the team names.
  EXPECT_EQ(SharingPlan(SharedTrial::always, 3, 5000, 300, now, carry).team_size(), 3);
  EXPECT_EQ(SharingPlan(SharedTrial::adaptive, 2, 5000, 300, now, carry).team_size(), 2);
  // A stretch that ends within the call leaves nothing to carry.
  SharingPlan last(SharedTrial::adaptive, 3, 5000, 1'000'000, now, measured());
  last.busy = {5e-3, 3e-6, 3e-6};
  last.decide(0, now + 5e-3);
  last.save(carry);
  EXPECT_EQ(carry.reduced_steps_left, 0);
  EXPECT_TRUE(carry.reduced_team.empty());
}

TEST(SharingPlan, AlwaysSharesWhateverItCosts) {
  double now = 0;
  SharingPlan plan(SharedTrial::always, 3, 5000, 10000, now);
  EXPECT_EQ(feed(plan, now, 0, 1000, {5e-6, 5e-6, 5e-6}, 4e-3), 1000);
  EXPECT_EQ(plan.reductions(), 0);
}

TEST(SharingPlan, AlternatingChangesTeamsOnAFixedSchedule) {
  // Whatever the timings, the same teams at the same steps: every size from
  // 1 to threads - 1, with and without thread 0.
  auto schedule = [](double wall) {
    double now = 0;
    SharingPlan plan(SharedTrial::alternating, 3, 5000, 200, now);
    std::vector<std::pair<std::int64_t, std::vector<int>>> teams;
    for (std::int64_t s = 0; s < 200; ++s) {
      for (int k = 0; k < 3; ++k)
        if (plan.member(k)) plan.busy[k] = 5e-6 * (k + 1);
      now += wall;
      const std::uint64_t epoch = plan.epoch();
      plan.decide(s, now);
      if (plan.epoch() != epoch) teams.emplace_back(s, team_of(plan, 3));
    }
    return teams;
  };
  const auto fast = schedule(6e-6), slow = schedule(1e-2);
  EXPECT_EQ(fast, slow);
  std::set<std::vector<int>> seen;
  for (const auto& [s, team] : fast) seen.insert(team);
  for (const auto& team : std::vector<std::vector<int>>{{0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {0, 1, 2}})
    EXPECT_TRUE(seen.count(team)) << "team of " << team.size() << " starting at " << team[0];
}
