// The pieces that let threads share a trial on a shared machine: the
// spin-then-block barrier (src/common/barrier.hpp) and the decisions of
// SharingPlan (src/sim/sharing.hpp), fed with made-up timings. That the
// forward pass gives the same bits under every decision is test_sim's.
#include "common/barrier.hpp"
#include "sim/sharing.hpp"

#include <gtest/gtest.h>

#include <chrono>
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

// Feeds `plan` barriers of steps [from, to): each step takes `work[k]`
// seconds of thread k's work and `wall` seconds of wall time (the slowest
// thread's work plus what it waited). Stops early when the plan goes solo.
std::int64_t feed(SharingPlan& plan, double& now, std::int64_t from, std::int64_t to, const std::vector<double>& work,
                  double wall) {
  for (std::int64_t s = from; s < to; ++s) {
    for (std::size_t k = 0; k < work.size(); ++k) plan.busy[k] += work[k];
    now += wall;
    plan.decide(s, now);
    if (plan.solo()) return s;
  }
  return to;
}

}  // namespace

TEST(SharingPlan, BalancedThreadsStayShared) {
  double now = 1.0;
  SharingPlan plan(SharedTrial::adaptive, 2, 5000, 10000, now);
  // 10 us of one thread's work per step, halved, plus 1 us at the barrier.
  EXPECT_EQ(feed(plan, now, 0, 1000, {5e-6, 5e-6}, 6e-6), 1000);
  EXPECT_EQ(plan.fallbacks(), 0);
  EXPECT_EQ(plan.bounds, (std::vector<std::int64_t>{0, 2496, 5000}));
}

TEST(SharingPlan, RangesFollowTheThreadsSpeeds) {
  double now = 0;
  SharingPlan plan(SharedTrial::adaptive, 2, 5000, 10000, now);
  const std::uint64_t epoch = plan.epoch();
  // Thread 1 takes 1.5 times as long for the same neurons: still faster
  // shared (8 us a step against 10 us at thread 0's speed for all of them).
  feed(plan, now, 0, SharingPlan::window, {5e-6, 7.5e-6}, 8e-6);
  EXPECT_FALSE(plan.solo());
  EXPECT_NE(plan.epoch(), epoch);  // the threads take their new ranges
  EXPECT_GT(plan.bounds[1], 2496);
  EXPECT_LT(plan.bounds[1], 3000);  // halfway towards 3/5 of the neurons
}

TEST(SharingPlan, ALaggingThreadSendsTheTrialToOneThreadAndSharingIsTriedAgain) {
  double now = 0;
  SharingPlan plan(SharedTrial::adaptive, 2, 5000, 100000, now);
  // Thread 1 is descheduled for 4 ms in step 10 (another process on its core).
  EXPECT_EQ(feed(plan, now, 0, 10, {5e-6, 5e-6}, 6e-6), 10);
  plan.busy[0] += 5e-6;
  plan.busy[1] += 4e-3;
  now += 4e-3;
  plan.decide(10, now);
  ASSERT_TRUE(plan.solo());
  EXPECT_EQ(plan.fallbacks(), 1);
  // The failed window (about 4 ms) costs at most 5% of the stretch alone:
  // 20 x 4 ms at 10 us a step, about 8000 steps.
  const std::int64_t stretch = plan.solo_until() - 10;
  EXPECT_GE(stretch, 7000);
  EXPECT_LE(stretch, 9000);
  // Thread 0 arrives at the end of the stretch: shared again.
  now += static_cast<double>(stretch) * 10e-6;
  plan.decide(plan.solo_until(), now);
  EXPECT_FALSE(plan.solo());
  EXPECT_EQ(feed(plan, now, plan.solo_until() + 1, plan.solo_until() + 200, {5e-6, 5e-6}, 6e-6),
            plan.solo_until() + 200);
}

TEST(SharingPlan, TheStretchAloneEndsWithTheChunk) {
  double now = 0;
  SharingPlan plan(SharedTrial::adaptive, 2, 5000, 300, now);
  plan.busy = {5e-6, 5e-3};
  now += 5e-3;
  plan.decide(0, now);
  ASSERT_TRUE(plan.solo());
  EXPECT_EQ(plan.solo_until(), 300);
}

TEST(SharingPlan, AStretchAloneCarriesOverToTheNextCall) {
  double now = 0;
  SharingPlan first(SharedTrial::adaptive, 2, 5000, 300, now);
  first.busy = {5e-6, 5e-3};
  first.decide(0, now + 5e-3);
  ASSERT_TRUE(first.solo());
  const std::int64_t left = first.solo_left();
  EXPECT_GT(left, 0);
  SharingPlan next(SharedTrial::adaptive, 2, 5000, 300, now, left);
  EXPECT_TRUE(next.solo());
  EXPECT_EQ(next.solo_until(), std::min<std::int64_t>(300, left));
  EXPECT_EQ(next.solo_left(), std::max<std::int64_t>(0, left - 300));
  // `always` ignores what an adaptive call left.
  EXPECT_FALSE(SharingPlan(SharedTrial::always, 2, 5000, 300, now, left).solo());
}

TEST(SharingPlan, AlwaysSharesWhateverItCosts) {
  double now = 0;
  SharingPlan plan(SharedTrial::always, 3, 5000, 10000, now);
  EXPECT_EQ(feed(plan, now, 0, 1000, {5e-6, 5e-6, 5e-6}, 4e-3), 1000);
  EXPECT_EQ(plan.fallbacks(), 0);
}

TEST(SharingPlan, AlternatingSwitchesOnAFixedSchedule) {
  // Whatever the timings, the same stretches.
  auto schedule = [](double wall) {
    double now = 0;
    SharingPlan plan(SharedTrial::alternating, 2, 5000, 100, now);
    std::vector<std::int64_t> solo_at;
    for (std::int64_t s = 0; s < 100;) {
      plan.busy = {5e-6, 5e-6};
      now += wall;
      plan.decide(s, now);
      if (plan.solo()) {
        solo_at.push_back(s);
        s = plan.solo_until();
        if (s < 100) plan.decide(s++, now);  // thread 0 ends its stretch: shared again
      } else {
        ++s;
      }
    }
    return solo_at;
  };
  const std::vector<std::int64_t> fast = schedule(6e-6), slow = schedule(1e-2);
  EXPECT_EQ(fast, slow);
  EXPECT_GT(fast.size(), 10u);
}
