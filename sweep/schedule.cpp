// Which point runs where and when: locally, J child processes at a time; under
// MPI, rank 0 hands points to ranks as they become free.
#include "homeostat/parallel/mpi.hpp"
#include "homeostat/sweep/runner.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <thread>

namespace homeostat::sweep {

namespace fs = std::filesystem;

namespace {

std::atomic<int> stop_signal{0};
extern "C" void on_stop(int sig) { stop_signal.store(sig); }

// SIGINT/SIGTERM set stop_signal while it lives; the old handlers come back after.
class StopSignals {
 public:
  StopSignals() {
    stop_signal.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

void report(const Point& p, const PointStatus& s, std::size_t finished_count, std::size_t total, int rank = -1) {
  const std::string where = rank >= 0 ? fmt::format(" (rank {})", rank) : "";
  if (s.state == "done")
    fmt::print("[{}/{}] {} done in {:.1f} s{}\n", finished_count, total, p.name, s.wall_seconds, where);
  else if (s.state == "busy")
    fmt::print("[{}/{}] {} not run{}: {}\n", finished_count, total, p.name, where, s.error);
  else
    fmt::print("[{}/{}] {} FAILED after {:.1f} s{}: {}\n", finished_count, total, p.name, s.wall_seconds, where,
               s.error);
  std::fflush(stdout);
}

std::deque<const Point*> unfinished(const Sweep& sweep, const fs::path& out, ScheduleResult& r) {
  std::deque<const Point*> queue;
  for (const Point& p : sweep.points) {
    if (finished(read_status(out, p))) ++r.skipped;
    else queue.push_back(&p);
  }
  if (r.skipped > 0)
    fmt::print("{} of {} points already finished; running the other {}\n", r.skipped, sweep.points.size(),
               queue.size());
  return queue;
}

void count(const PointStatus& s, ScheduleResult& r) { (s.state == "done" ? r.done : r.failed)++; }

constexpr auto poll_interval = std::chrono::milliseconds(20);

}  // namespace

ScheduleResult run_local(const Sweep& sweep, const fs::path& out, const fs::path& exe, int jobs, int threads) {
  ScheduleResult r;
  std::deque<const Point*> queue = unfinished(sweep, out, r);
  std::vector<PointStatus> status;
  for (const Point& p : sweep.points) status.push_back(read_status(out, p));
  std::vector<std::unique_ptr<PointProcess>> running;
  StopSignals signals;
  bool forwarded = false;
  while (!queue.empty() || !running.empty()) {
    if (stop_signal.load() != 0) {
      r.interrupted = true;
      queue.clear();
      if (!forwarded)
        for (auto& p : running) p->signal(stop_signal.load());
      forwarded = true;
    }
    while (!queue.empty() && static_cast<int>(running.size()) < jobs) {
      running.push_back(std::make_unique<PointProcess>(sweep, *queue.front(), out, exe, threads));
      queue.pop_front();
    }
    bool any = false;
    for (std::size_t k = 0; k < running.size();) {
      if (!running[k]->poll()) {
        ++k;
        continue;
      }
      any = true;
      count(running[k]->status(), r);
      status[running[k]->point().index] = running[k]->status();
      report(running[k]->point(), running[k]->status(), r.skipped + r.done + r.failed, sweep.points.size());
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
    }
    if (any) write_status_csv(sweep, status, out);
    else std::this_thread::sleep_for(poll_interval);
  }
  return r;
}

namespace {
constexpr int tag_request = 1;  // worker -> 0: {index finished or -1, 1 done / 0 failed}
constexpr int tag_assign = 2;   // 0 -> worker: {index to run, or -1: no more}
}  // namespace

ScheduleResult run_mpi(const parallel::MpiContext& mpi, const Sweep& sweep, const fs::path& out, const fs::path& exe,
                       int threads) {
  ScheduleResult r;
  if (!mpi.root()) {  // worker: ask, run, report, until told to stop
    std::int64_t last = -1, ok = 0;
    for (;;) {
      mpi.send(0, tag_request, {last, ok});
      const std::int64_t index = mpi.receive(0, tag_assign).at(0);
      if (index < 0) return r;
      PointProcess p(sweep, sweep.points.at(static_cast<std::size_t>(index)), out, exe, threads);
      ok = p.wait().state == "done";
      count(p.status(), r);
      last = index;
    }
  }
  std::deque<const Point*> queue = unfinished(sweep, out, r);
  std::vector<PointStatus> status;
  for (const Point& p : sweep.points) status.push_back(read_status(out, p));
  fmt::print("{} ranks share {} points\n", mpi.size(), queue.size());
  std::unique_ptr<PointProcess> own;
  int workers = mpi.size() - 1;
  while (workers > 0 || own || !queue.empty()) {
    bool any = false;
    if (!own && !queue.empty()) {
      own = std::make_unique<PointProcess>(sweep, *queue.front(), out, exe, threads);
      queue.pop_front();
    }
    if (own && own->poll()) {
      count(own->status(), r);
      status[own->point().index] = own->status();
      report(own->point(), own->status(), r.skipped + r.done + r.failed, sweep.points.size(), 0);
      own.reset();
      any = true;
    }
    while (mpi.probe(tag_request)) {
      int from = 0;
      const auto msg = mpi.receive(-1, tag_request, &from);
      if (msg.at(0) >= 0) {
        const Point& p = sweep.points.at(static_cast<std::size_t>(msg[0]));
        status[p.index] = read_status(out, p);  // the worker wrote the marker
        msg.at(1) ? ++r.done : ++r.failed;
        report(p, status[p.index], r.skipped + r.done + r.failed, sweep.points.size(), from);
      }
      if (queue.empty()) {
        mpi.send(from, tag_assign, {-1});
        --workers;
      } else {
        mpi.send(from, tag_assign, {queue.front()->index});
        queue.pop_front();
      }
      any = true;
    }
    if (any) write_status_csv(sweep, status, out);
    else std::this_thread::sleep_for(poll_interval);
  }
  return r;
}

}  // namespace homeostat::sweep
