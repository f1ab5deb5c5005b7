// How threads that share a trial divide it, decided at their per-step
// barrier by the last thread to arrive: which threads form the team (all of
// them, or the fastest few while the others lag, e.g. on a core that another
// process also uses: every step waits for the slowest member) and each
// member's range of neurons (following the members' measured speeds).
// forward.md, "Threads", has the reasoning and the measurements. Which
// thread computes an element never changes what is computed: no decision
// here changes a result.
#pragma once

#include "homeostat/sim.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace homeostat::sim_detail {

// Thread k owns the neurons [bounds[k], bounds[k + 1]); a thread outside the
// team owns an empty range, so the ranges of the members are contiguous and
// ascending in thread number whoever the members are.
inline bool owns_neurons(const std::vector<std::int64_t>& bounds, int k) { return bounds[k + 1] > bounds[k]; }

// Moves the bounds between the members' ranges halfway towards shares of
// the neurons proportional to each member's measured speed (neurons per
// second of `busy`), keeping them 16-aligned with at least 16 neurons each,
// and clears `busy`. Members wait for the slowest one at every step; on a
// virtual machine two cores can differ in speed by up to 2x.
inline void rebalance(std::vector<std::int64_t>& bounds, std::vector<double>& busy) {
  const auto threads = static_cast<int>(busy.size());
  const std::int64_t n = bounds[threads];
  std::vector<int> team;
  for (int k = 0; k < threads; ++k)
    if (owns_neurons(bounds, k)) team.push_back(k);
  const auto m = static_cast<std::int64_t>(team.size());
  std::vector<double> speed(m);
  double total = 0;
  for (std::int64_t j = 0; j < m; ++j) {
    const int k = team[j];
    if (!(busy[k] > 0)) return;  // nothing measured: keep the bounds
    speed[j] = static_cast<double>(bounds[k + 1] - bounds[k]) / busy[k];
    total += speed[j];
  }
  double at = 0;
  for (std::int64_t j = 1; j < m; ++j) {
    at += speed[j - 1] / total * static_cast<double>(n);
    // The bound between members j - 1 and j; threads between them own nothing.
    const int first = team[j - 1] + 1, last = team[j];
    const double target = 0.5 * (static_cast<double>(bounds[last]) + at);
    const std::int64_t low = bounds[team[j - 1]] + 16, high = n - 16 * (m - j);
    const std::int64_t bound = std::clamp<std::int64_t>(std::llround(target / 16) * 16, low, high);
    for (int k = first; k <= last; ++k) bounds[k] = bound;
  }
  std::fill(busy.begin(), busy.end(), 0.0);
}

class SharingPlan {
 public:
  // Steps between rebalances.
  static constexpr std::int64_t window = 128;
  // A team keeps all its members while a window's wall time stays below this
  // fraction of what its fastest members alone would have needed, plus
  // `slack` seconds (a wake-up or a hypervisor hiccup is not a lagging thread).
  static constexpr double keep_below = 0.9;
  static constexpr double slack = 2e-4;
  // A try of all threads that fails costs at most this fraction of the
  // stretch on fewer threads that follows it (at least `window` steps)...
  static constexpr double probe_cost = 0.05;
  // ...and each try in a row that lost time doubles the next stretch, up to
  // 2^max_doublings times: under a lasting load tries become rare, and a
  // try that won (a time lost once to a hiccup) starts the count again.
  static constexpr int max_doublings = 6;

  // `threads` >= 2 share a trial of `n` neurons for `steps` steps from wall
  // time `now` (seconds): all of them with equal 16-aligned ranges; or, for
  // the first steps, the team that an earlier call left (`carried`); or, if
  // nothing is known yet (adaptive), thread 0 alone for `window` steps, to
  // measure what one thread needs before all are tried.
  SharingPlan(SharedTrial policy, int threads, std::int64_t n, std::int64_t steps, double now,
              const ThreadSharing& carried = {})
      : bounds(threads + 1), busy(threads, 0.0), policy_(policy), threads_(threads), steps_(steps),
        lost_(std::clamp(carried.lost_tries, 0, max_doublings)),
        solo_step_(carried.solo_seconds_per_step > 0 ? carried.solo_seconds_per_step : 0) {
    bounds[threads] = n;
    std::vector<int> team = everyone();
    if (policy != SharedTrial::always && carried.reduced_steps_left > 0 && is_team(carried.reduced_team)) {
      team = carried.reduced_team;
      reduced_ = true;
      stretch_end_ = carried.reduced_steps_left;
    } else if (policy == SharedTrial::adaptive && solo_step_ == 0) {
      team = {0};
      reduced_ = true;
      stretch_end_ = window;
    }
    take_team(team, now);
  }

  // Thread k owns neurons [bounds[k], bounds[k + 1]); empty outside the team.
  std::vector<std::int64_t> bounds;
  // Seconds each member worked (not waited) since the window began: member
  // k adds to busy[k] before it arrives at the barrier, counting from
  // step_start().
  std::vector<double> busy;

  bool member(int k) const { return owns_neurons(bounds, k); }
  int team_size() const { return team_size_; }
  // Wall time (seconds) at which the last decision released the team: a
  // member's work of a step counts from here, so that a member that was
  // descheduled before it could resume shows as slow.
  double step_start() const { return step_start_; }
  // Changes whenever the team or the bounds change: a member then takes its
  // range again.
  std::uint64_t epoch() const { return epoch_; }
  // Stretches on fewer threads so far, and tries of all threads in a row
  // that lost time (for tests and benchmarks).
  std::int64_t reductions() const { return reductions_; }
  int lost_tries() const { return lost_; }
  // Seconds per step that one thread alone needed in its last full window
  // (0 before any).
  double solo_seconds_per_step() const { return solo_step_; }
  // The step where the current stretch on fewer threads ends (all threads
  // are tried again at that step's barrier); meaningless without one.
  std::int64_t stretch_end() const { return stretch_end_; }

  // Called by the last member to arrive at the barrier of step s (every
  // member's spikes of step s are known), at wall time `now` (seconds).
  void decide(std::int64_t s, double now) {
    step_start_ = now;
    ++window_steps_;
    const double wall = now - window_start_;
    if (team_size_ == 1 && window_steps_ >= window / 2) solo_step_ = wall / static_cast<double>(window_steps_);
    if (reduced_ && s >= stretch_end_) {  // the stretch ends: try every thread again
      reduced_ = false;
      gain_ = 0;
      take_team(everyone(), now);
      return;
    }
    if (policy_ == SharedTrial::alternating) {
      // A fixed schedule of short stretches on changing teams, whatever the
      // timings; ranges rebalanced before each.
      if (window_steps_ >= 1 + s % 3) {
        rebalance(bounds, busy);
        if (reduced_) start_window(now);
        else reduce(s, scheduled_team(), 1 + s % 5, now);
      }
      return;
    }
    if (policy_ == SharedTrial::adaptive && team_size_ > 1 &&
        wall > keep_below * alone_at_most(team_seconds(team_size_)) + slack) {
      const std::vector<int> faster = fastest_members();
      const double faster_seconds = faster_team_seconds(faster);
      if (faster_seconds > 0 && wall > keep_below * faster_seconds + slack) {
        int doublings = lost_;
        if (!reduced_) {
          // A try of all threads ends: did it win or lose time, all told?
          gain_ += faster_seconds - wall;
          doublings = gain_ < 0 ? lost_ : 0;
          lost_ = gain_ < 0 ? std::min(lost_ + 1, max_doublings) : 0;
          gain_ = 0;
        }
        // Stay on the faster team long enough that this window cost at most
        // `probe_cost` of the stretch (its wall time counted whole).
        const double per_step = faster_seconds / static_cast<double>(window_steps_);
        const double stretch = std::ldexp(wall / probe_cost / per_step, doublings);
        reduce(s, faster, std::max<std::int64_t>(window, static_cast<std::int64_t>(std::min(stretch, 1e12))), now);
        return;
      }
    }
    if (window_steps_ >= window) {
      if (policy_ == SharedTrial::adaptive && !reduced_ && team_size_ > 1) {
        const double faster_seconds = faster_team_seconds(fastest_members());
        if (faster_seconds > 0) gain_ += faster_seconds - wall;
      }
      rebalance(bounds, busy);
      start_window(now);
    }
  }

  // What the next call starts from (ThreadSharing's carried fields).
  void save(ThreadSharing& carry) const {
    const std::int64_t left = reduced_ ? std::max<std::int64_t>(0, stretch_end_ - steps_) : 0;
    carry.reduced_steps_left = left;
    carry.reduced_team = left > 0 ? members() : std::vector<int>{};
    carry.lost_tries = lost_;
    carry.solo_seconds_per_step = solo_step_;
  }

 private:
  std::vector<int> everyone() const {
    std::vector<int> all(threads_);
    for (int k = 0; k < threads_; ++k) all[k] = k;
    return all;
  }

  std::vector<int> members() const {
    std::vector<int> team;
    for (int k = 0; k < threads_; ++k)
      if (member(k)) team.push_back(k);
    return team;
  }

  // A team that this plan can use: ascending thread numbers below threads_,
  // fewer than all.
  bool is_team(const std::vector<int>& team) const {
    if (team.empty() || static_cast<int>(team.size()) >= threads_) return false;
    for (std::size_t j = 0; j < team.size(); ++j)
      if (team[j] < 0 || team[j] >= threads_ || (j > 0 && team[j] <= team[j - 1])) return false;
    return true;
  }

  // SharedTrial::alternating's next team: 1 to threads - 1 consecutive
  // thread numbers (wrapping around), starting at each thread in turn,
  // thread 0 included or not.
  std::vector<int> scheduled_team() const {
    const auto first = static_cast<int>(reductions_ % threads_);
    const auto size = static_cast<int>(1 + (reductions_ / threads_) % (threads_ - 1));
    std::vector<int> team;
    for (int j = 0; j < size; ++j) team.push_back((first + j) % threads_);
    std::sort(team.begin(), team.end());
    return team;
  }

  // Each member's speed in neurons per second of work this window (0 when
  // a member has not measured anything yet), by thread number.
  double speed(int k) const {
    return busy[k] > 0 ? static_cast<double>(bounds[k + 1] - bounds[k]) / busy[k] : 0.0;
  }

  // What the `size` fastest members alone would have needed for the
  // window's steps, each on a share proportional to its speed (0 when a
  // member has not measured anything).
  double team_seconds(int size) const {
    std::vector<double> speeds;
    for (int k = 0; k < threads_; ++k) {
      if (!member(k)) continue;
      const double v = speed(k);
      if (!(v > 0)) return 0;
      speeds.push_back(v);
    }
    std::sort(speeds.rbegin(), speeds.rend());
    double total = 0;
    for (int j = 0; j < size && j < static_cast<int>(speeds.size()); ++j) total += speeds[j];
    return static_cast<double>(bounds[threads_]) / total;
  }

  // `seconds` for the window's steps, or less if one thread alone was
  // measured to need less: the estimate from the members' speeds is
  // optimistic for one thread when sharing slows every member down (a
  // loaded machine, threads on sibling hyperthreads or one memory bus).
  double alone_at_most(double seconds) const {
    const double measured = solo_step_ * static_cast<double>(window_steps_);
    return solo_step_ > 0 && (seconds <= 0 || measured < seconds) ? measured : seconds;
  }

  // What `faster` (fastest_members()) alone would have needed for the
  // window's steps; 0 if unknown.
  double faster_team_seconds(const std::vector<int>& faster) const {
    if (faster.empty()) return 0;
    const double estimate = team_seconds(static_cast<int>(faster.size()));
    return faster.size() == 1 ? alone_at_most(estimate) : estimate;
  }

  // The members at least half as fast as the fastest, or, if that is all of
  // them, all but the slowest (ascending thread numbers); empty when a
  // member has not measured anything.
  std::vector<int> fastest_members() const {
    std::vector<int> team = members();
    double fastest = 0;
    for (const int k : team) {
      if (!(speed(k) > 0)) return {};
      fastest = std::max(fastest, speed(k));
    }
    std::vector<int> fast;
    for (const int k : team)
      if (speed(k) >= 0.5 * fastest) fast.push_back(k);
    if (fast.size() == team.size()) {
      fast.erase(std::min_element(fast.begin(), fast.end(), [&](int a, int b) { return speed(a) < speed(b); }));
    }
    return fast;
  }

  // Equal 16-aligned ranges for the threads of `team`, empty ones for the
  // others; a new window.
  void take_team(const std::vector<int>& team, double now) {
    const std::int64_t n = bounds[threads_];
    const auto m = static_cast<std::int64_t>(team.size());
    std::int64_t j = 0;
    for (int k = 0; k < threads_; ++k) {
      bounds[k] = j == m ? n : (n * j / m) / 16 * 16;
      if (j < m && team[j] == k) ++j;
    }
    team_size_ = static_cast<int>(m);
    start_window(now);
  }

  // The trial continues on `team` (fewer threads than now) from the
  // deliveries of step s, for `stretch` steps.
  void reduce(std::int64_t s, const std::vector<int>& team, std::int64_t stretch, double now) {
    stretch_end_ = reduced_ ? std::max(stretch_end_, s + stretch) : s + stretch;
    reduced_ = true;
    ++reductions_;
    take_team(team, now);
  }

  void start_window(double now) {
    window_start_ = now;
    step_start_ = now;
    window_steps_ = 0;
    std::fill(busy.begin(), busy.end(), 0.0);
    ++epoch_;
  }

  SharedTrial policy_;
  int threads_;
  std::int64_t steps_;
  int team_size_ = 0;
  bool reduced_ = false;        // a stretch on fewer threads than all
  std::int64_t stretch_end_ = 0;  // where it ends (may lie beyond steps_)
  int lost_ = 0;                // tries of all threads in a row that lost time
  double gain_ = 0;             // seconds the current try of all threads won so far (negative: lost)
  double solo_step_ = 0;        // seconds per step of one thread alone, measured
  std::uint64_t epoch_ = 0;
  std::int64_t reductions_ = 0;
  double window_start_ = 0, step_start_ = 0;
  std::int64_t window_steps_ = 0;
};

}  // namespace homeostat::sim_detail
