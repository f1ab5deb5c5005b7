// Running the points of a sweep: each point is a child process of this same
// binary (`homeostat <command> BASE --set ... -o DIR/runs/<name>`), so its
// run directory holds exactly what the single command writes, plus the
// marker sweep_point.json, written last.
//
// Layout of a sweep directory:
//   DIR/sweep.toml           the sweep file, copied
//   DIR/points.csv           index, name, each axis's value
//   DIR/runs/<name>/         one complete run per point (+ sweep_point.json)
//   DIR/logs/<name>.log      the point's stdout and stderr
//   DIR/sweep_status.csv     index, name, state (done/failed/busy/pending), wall seconds, error
//   DIR/sweep_summary.csv    axis values and final metrics of every point
//   DIR/figures/             heatmaps and line plots over the axes
//
// A point is finished when its run directory has metadata.json and a
// sweep_point.json saying "done"; anything else is run again: a train or
// feedback point with a checkpoint of its configuration continues from it
// (`--resume`), any other has its directory emptied first. So a sweep killed
// at any moment resumes where it stopped, its training points included.
#pragma once

#include "homeostat/sweep/grid.hpp"

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/types.h>

namespace homeostat::sweep {

struct PointStatus {
  std::string state = "pending";  // done, failed, pending; busy: another live process runs it (not started)
  double wall_seconds = 0;
  std::string error;              // why it failed
};

std::filesystem::path run_dir(const std::filesystem::path& out, const Point& point);
std::filesystem::path log_path(const std::filesystem::path& out, const Point& point);
// The point's state from its run directory (pending when it has no marker).
PointStatus read_status(const std::filesystem::path& out, const Point& point);
bool finished(const PointStatus& status);

// Creates DIR and writes sweep.toml and points.csv. Refuses a DIR that holds
// a different sweep (its sweep.toml differs), or, unless `shared` (Slurm
// array tasks starting together), other files without one.
void prepare_sweep_dir(const Sweep& sweep, const std::filesystem::path& out, bool shared = false);

// DIR/sweep_status.csv from `status` [point].
void write_status_csv(const Sweep& sweep, const std::vector<PointStatus>& status, const std::filesystem::path& out);

// One point running as a child process. The constructor empties the point's
// run directory (or keeps it, to resume its checkpoint) and starts the child, unless another live process holds the
// directory's run lock (.homeostat.lock): then nothing is touched and the
// point is done at once as "busy", naming that process; poll() or wait() collect it and write
// the marker. `threads` goes to the child's --threads.
class PointProcess {
 public:
  PointProcess(const Sweep& sweep, const Point& point, const std::filesystem::path& out,
               const std::filesystem::path& exe, int threads);
  PointProcess(const PointProcess&) = delete;
  PointProcess& operator=(const PointProcess&) = delete;
  ~PointProcess();  // a child still running is killed and reaped

  const Point& point() const { return point_; }
  pid_t pid() const { return pid_; }
  bool poll();              // non-blocking: true once the child has ended (status() then valid)
  const PointStatus& wait();  // blocks until the child ends
  const PointStatus& status() const { return status_; }
  void signal(int sig) const;  // forwards a signal to the child while it runs

 private:
  void collect(int wait_status);

  Point point_;
  std::filesystem::path out_;
  pid_t pid_ = -1;
  bool done_ = false;
  std::chrono::steady_clock::time_point start_;
  PointStatus status_;
};

// The child's command line, for --list and logs.
std::vector<std::string> point_command(const Sweep& sweep, const Point& point, const std::filesystem::path& out,
                                       const std::filesystem::path& exe, int threads);

struct ScheduleResult {
  std::size_t done = 0, failed = 0, skipped = 0;  // skipped: finished before this call
  bool interrupted = false;                       // SIGINT/SIGTERM: stopped starting points
};

// Runs every unfinished point, `jobs` at a time, each child with `threads`
// threads. Prints a line per point; a failing point does not stop the others.
// SIGINT/SIGTERM stop new starts, are passed on to the running children, and
// end the call once they have ended.
ScheduleResult run_local(const Sweep& sweep, const std::filesystem::path& out, const std::filesystem::path& exe,
                         int jobs, int threads);

}  // namespace homeostat::sweep

namespace homeostat::parallel {
class MpiContext;
}

namespace homeostat::sweep {

// The same over the ranks of an MPI job: rank 0 hands out points as ranks
// become free (itself included, between messages); every rank runs one
// point at a time. Collective: every rank calls it. Counts are rank 0's.
ScheduleResult run_mpi(const parallel::MpiContext& mpi, const Sweep& sweep, const std::filesystem::path& out,
                       const std::filesystem::path& exe, int threads);

}  // namespace homeostat::sweep
