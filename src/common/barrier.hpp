// A barrier for a team of threads on a machine that may be shared: a
// waiting thread spins briefly (most waits end within a few microseconds),
// then yields, then blocks in the kernel (std::atomic::wait, a futex on
// Linux), so that a thread waiting for a descheduled peer gives its core
// away instead of burning it. The last thread to arrive runs a completion
// (like std::barrier's) while the others still wait: whatever it writes is
// seen by every thread after the wait, without a second barrier.
//
// Why not OpenMP's barrier: libgomp spins a fixed number of iterations
// (GOMP_SPINCOUNT, 300 000 by default, 30 000 000 000 with
// OMP_WAIT_POLICY=active; 1000 when it knows it is oversubscribed), which
// is 1-15 ms of a busy core depending on the CPU's pause latency, and it
// reads the setting once, at program start, for the whole process. A waiting
// thread that keeps its core busy also stops the kernel from moving the
// descheduled peer onto it. OMP_WAIT_POLICY=passive blocks at once and pays
// a wake-up (tens of microseconds on a VM) at every step. See
// src/sim/forward.md, "Threads".
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace homeostat {

class SpinThenBlockBarrier {
 public:
  using Clock = std::chrono::steady_clock;

  // `threads` must arrive at each phase; a waiter spins for `spin`, then
  // yields for as long again, then blocks.
  explicit SpinThenBlockBarrier(int threads, Clock::duration spin = std::chrono::microseconds(50))
      : threads_(threads), spin_(spin) {}
  SpinThenBlockBarrier(const SpinThenBlockBarrier&) = delete;
  SpinThenBlockBarrier& operator=(const SpinThenBlockBarrier&) = delete;

  // Waits until all threads have arrived; the last one runs `completion`
  // first. Memory written by any thread before it arrives is visible to
  // every thread after it returns.
  template <class Completion>
  void arrive_and_wait(Completion&& completion) {
    // Read before arriving: the phase cannot end before this thread arrives.
    const std::uint32_t phase = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads_) {
      completion();
      arrived_.store(0, std::memory_order_relaxed);  // seen by whoever sees the new phase
      phase_.store(phase + 1, std::memory_order_release);
      phase_.notify_all();  // a no-op unless someone blocks
      return;
    }
    wait_for_next(phase);
  }

  void arrive_and_wait() {
    arrive_and_wait([] {});
  }

 private:
  bool ended(std::uint32_t phase) const { return phase_.load(std::memory_order_acquire) != phase; }

  void wait_for_next(std::uint32_t phase) const {
    const Clock::time_point start = Clock::now();
    for (int i = 1;; ++i) {
      if (ended(phase)) return;
#if defined(__x86_64__) || defined(__i386__)
      _mm_pause();
#endif
      if (i % 64 == 0 && Clock::now() - start > spin_) break;
    }
    // Yielding lets a peer that shares this core (more threads than cores)
    // run; it returns at once when nothing else wants the core.
    while (Clock::now() - start < 2 * spin_) {
      if (ended(phase)) return;
      std::this_thread::yield();
    }
    while (!ended(phase)) phase_.wait(phase, std::memory_order_acquire);
  }

  const int threads_;
  const Clock::duration spin_;
  alignas(64) std::atomic<int> arrived_{0};
  alignas(64) std::atomic<std::uint32_t> phase_{0};
};

}  // namespace homeostat
