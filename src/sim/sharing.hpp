// How threads that share one trial divide it, decided at their per-step
// barrier by the last thread to arrive: each thread's range of neurons
// (following the threads' measured speeds), and whether the next steps run
// shared at all or on one thread alone while the others sleep (a thread that
// lags, e.g. on a core that another process also uses, makes every step wait
// for it). forward.md, "Threads", has the reasoning and the measurements.
// Which thread computes an element never changes what is computed: no
// decision here changes a result.
#pragma once

#include "homeostat/sim.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace homeostat::sim_detail {

// Moves the bounds of the threads' ranges halfway towards shares of the
// neurons proportional to each thread's measured speed (neurons per second
// of `busy`), keeping them 16-aligned with at least 16 neurons each, and
// clears `busy`. Threads sharing a trial wait for the slowest one at every
// step; on a virtual machine two cores can differ in speed by up to 2x.
inline void rebalance(std::vector<std::int64_t>& bounds, std::vector<double>& busy) {
  const auto threads = static_cast<std::int64_t>(busy.size());
  const std::int64_t n = bounds[threads];
  std::vector<double> speed(threads);
  double total = 0;
  for (std::int64_t k = 0; k < threads; ++k) {
    if (!(busy[k] > 0)) return;  // nothing measured: keep the bounds
    speed[k] = static_cast<double>(bounds[k + 1] - bounds[k]) / busy[k];
    total += speed[k];
  }
  double at = 0;
  for (std::int64_t k = 1; k < threads; ++k) {
    at += speed[k - 1] / total * static_cast<double>(n);
    const double target = 0.5 * (static_cast<double>(bounds[k]) + at);
    const std::int64_t low = bounds[k - 1] + 16, high = n - 16 * (threads - k);
    bounds[k] = std::clamp<std::int64_t>(std::llround(target / 16) * 16, low, high);
  }
  std::fill(busy.begin(), busy.end(), 0.0);
}

class SharingPlan {
 public:
  // Steps between rebalances while shared.
  static constexpr std::int64_t window = 128;
  // Sharing continues while a window's wall time stays below this fraction
  // of what one thread would have needed, plus `slack` seconds (a wake-up
  // or a hypervisor hiccup is not a lagging thread).
  static constexpr double keep_below = 0.9;
  static constexpr double slack = 2e-4;
  // A failed try of sharing costs at most this fraction of the one-thread
  // stretch that follows it (at least `window` steps).
  static constexpr double probe_cost = 0.05;

  // `threads` >= 2 share a trial of `n` neurons for `steps` steps from wall
  // time `now` (seconds), with equal 16-aligned ranges; shared from the
  // start, or on one thread alone for the first `alone` steps (what an
  // earlier call left of a stretch alone, ThreadSharing::solo_steps_left).
  SharingPlan(SharedTrial policy, int threads, std::int64_t n, std::int64_t steps, double now,
              std::int64_t alone = 0)
      : bounds(threads + 1), busy(threads, 0.0), policy_(policy), steps_(steps) {
    for (int k = 0; k <= threads; ++k)
      bounds[k] = k == threads ? n : std::min<std::int64_t>(n, (n * k / threads) / 16 * 16);
    start_window(now);
    if (alone > 0 && policy != SharedTrial::always) {
      solo_ = true;
      solo_end_ = alone;
    }
  }

  // Thread k owns neurons [bounds[k], bounds[k + 1]) while shared.
  std::vector<std::int64_t> bounds;
  // Seconds each thread worked (not waited) since the window began; thread
  // k adds to busy[k] before it arrives at the barrier.
  std::vector<double> busy;

  // True while one thread runs alone: it delivers the step of the barrier
  // where this was decided, runs the steps up to solo_until() and, unless
  // that is the end of the chunk, steps 1-3 of that step; then decide() at
  // that step starts sharing again.
  bool solo() const { return solo_; }
  std::int64_t solo_until() const { return std::min(solo_end_, steps_); }
  // Steps of the current stretch alone beyond this call's steps.
  std::int64_t solo_left() const { return solo_ ? std::max<std::int64_t>(0, solo_end_ - steps_) : 0; }
  // Changes whenever the mode or the bounds change: a thread then takes
  // its range again.
  std::uint64_t epoch() const { return epoch_; }
  // Stretches run on one thread so far (for tests and benchmarks).
  std::int64_t fallbacks() const { return fallbacks_; }

  // Called by the last thread to arrive at the barrier of step s (every
  // thread's spikes of step s are known), at wall time `now` (seconds).
  void decide(std::int64_t s, double now) {
    if (solo_) {  // a stretch alone ends: try sharing again
      solo_ = false;
      start_window(now);
      return;
    }
    ++window_steps_;
    const double wall = now - window_start_;
    if (policy_ == SharedTrial::alternating) {
      // A fixed schedule of short stretches, ranges rebalanced before each.
      if (window_steps_ >= 1 + s % 3) {
        rebalance(bounds, busy);
        go_solo(s, 1 + s % 5);
      }
      return;
    }
    if (policy_ == SharedTrial::adaptive) {
      const double one_thread = one_thread_seconds();
      if (one_thread > 0 && wall > keep_below * one_thread + slack) {
        // One thread is faster: stay on it long enough that this try cost
        // at most `probe_cost` of the stretch (its wall time counted whole).
        const double per_step = one_thread / static_cast<double>(window_steps_);
        const double stretch = wall / probe_cost / per_step;
        go_solo(s, std::max<std::int64_t>(window, static_cast<std::int64_t>(std::min(stretch, 1e12))));
        return;
      }
    }
    if (window_steps_ >= window) {
      rebalance(bounds, busy);
      start_window(now);
    }
  }

 private:
  // What one thread would have needed for the window's steps: the neurons
  // per second of the fastest thread, for all of them.
  double one_thread_seconds() const {
    double best = 0;
    for (std::size_t k = 0; k < busy.size(); ++k) {
      if (!(busy[k] > 0)) return 0;
      const double seconds = busy[k] * static_cast<double>(bounds.back()) / static_cast<double>(bounds[k + 1] - bounds[k]);
      if (best == 0 || seconds < best) best = seconds;
    }
    return best;
  }

  void go_solo(std::int64_t s, std::int64_t stretch) {
    solo_ = true;
    solo_end_ = s + stretch;
    ++fallbacks_;
    ++epoch_;
  }

  void start_window(double now) {
    window_start_ = now;
    window_steps_ = 0;
    std::fill(busy.begin(), busy.end(), 0.0);
    ++epoch_;
  }

  SharedTrial policy_;
  std::int64_t steps_;
  bool solo_ = false;
  std::int64_t solo_end_ = 0;  // the step where the stretch alone ends (may lie beyond steps_)
  std::uint64_t epoch_ = 0;
  std::int64_t fallbacks_ = 0;
  double window_start_ = 0;
  std::int64_t window_steps_ = 0;
};

}  // namespace homeostat::sim_detail
