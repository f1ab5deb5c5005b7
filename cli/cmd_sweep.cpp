// `homeostat sweep`: a grid of configurations, each point a complete run of
// simulate, train or feedback; locally (--jobs), under mpirun, or as a Slurm
// array job (--slurm writes it, each task runs --point K).
#include "commands.hpp"
#include "common.hpp"

#include "homeostat/io/files.hpp"
#include "homeostat/parallel/mpi.hpp"
#include "homeostat/sweep/grid.hpp"
#include "homeostat/sweep/runner.hpp"
#include "homeostat/sweep/summary.hpp"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <thread>

namespace homeostat::cli {

namespace {

namespace fs = std::filesystem;
using namespace homeostat::sweep;

struct SweepOptions {
  std::string file;
  std::string out;
  std::string summarize;
  int jobs = 1;
  int threads = 0;
  bool list = false;
  std::int64_t point = -1;
  bool slurm = false;
  std::vector<std::string> slurm_options;
  int slurm_max = 0;
};

fs::path self_exe() { return fs::read_symlink("/proc/self/exe"); }

int cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Summaries may be rebuilt by several processes at once (Slurm array tasks
// ending together): one at a time, each seeing every marker written before.
class DirLock {
 public:
  explicit DirLock(const fs::path& out) : fd_(::open((out / ".sweep.lock").c_str(), O_RDWR | O_CREAT, 0644)) {
    if (fd_ < 0) throw std::runtime_error(fmt::format("{}: cannot open the lock file", (out / ".sweep.lock").string()));
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~DirLock() { ::close(fd_); }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_;
};

int print_summary(const SummaryCounts& c, const fs::path& out) {
  fmt::print("Summary: {} done, {} failed, {} pending -> {}/sweep_summary.csv, sweep_status.csv{}\n", c.done, c.failed,
             c.pending, out.string(), c.done > 0 ? ", figures/" : "");
  return c.failed > 0 || c.pending > 0 ? 1 : 0;
}

int list_points(const Sweep& sweep) {
  fmt::print("{} points of `homeostat {}`{}:\n", sweep.points.size(), to_string(sweep.command),
             sweep.base.empty() ? " (built-in defaults)" : " on " + sweep.base.string());
  for (const auto& o : sweep.set) fmt::print("  every point: --set {}\n", o);
  for (const Point& p : sweep.points) {
    std::string axes;
    for (std::size_t a = 0; a < sweep.axes.size(); ++a)
      axes += fmt::format("  {}={}", sweep.axes[a].key, sweep.axes[a].values[p.value[a]]);
    fmt::print("{:>6}  {}{}\n", p.index, p.name, axes);
  }
  return 0;
}

int write_slurm(const Sweep& sweep, const SweepOptions& o, const fs::path& out) {
  const fs::path dir = fs::absolute(out).lexically_normal();
  const fs::path file = fs::absolute(sweep.file).lexically_normal();
  const std::size_t n = sweep.points.size();
  std::string s = "#!/bin/bash\n";
  s += fmt::format("# homeostat sweep of {}: {} points, one array task each.\n", file.string(), n);
  s += "# Points already finished are skipped; resubmit after a failure or timeout to finish the rest.\n";
  s += fmt::format("#SBATCH --job-name=homeostat-sweep\n#SBATCH --array=0-{}{}\n", n - 1,
                   o.slurm_max > 0 ? fmt::format("%{}", o.slurm_max) : "");
  s += fmt::format("#SBATCH --output={}\n", (dir / "logs" / "slurm-%A_%a.out").string());
  for (const auto& opt : o.slurm_options) s += "#SBATCH " + opt + "\n";
  s += "set -euo pipefail\n";
  s += fmt::format("exec {} sweep {} -o {} --point \"$SLURM_ARRAY_TASK_ID\" --threads \"${{SLURM_CPUS_PER_TASK:-{}}}\"\n",
                   shell_quote(self_exe().string()), shell_quote(file.string()), shell_quote(dir.string()), o.threads);
  io::write_file_atomic(dir / "sweep.sbatch", s);
  fmt::print("Wrote {} ({} array tasks). Submit with:\n  sbatch {}\n", (dir / "sweep.sbatch").string(), n,
             shell_quote((dir / "sweep.sbatch").string()));
  fmt::print("Each task rebuilds the summary when it ends; `homeostat sweep --summarize {}` does it by hand.\n",
             shell_quote(dir.string()));
  return 0;
}

int run_one_point(const Sweep& sweep, const SweepOptions& o, const fs::path& out) {
  if (o.point >= static_cast<std::int64_t>(sweep.points.size()))
    throw std::invalid_argument(fmt::format("--point {}: the sweep has points 0 to {}", o.point, sweep.points.size() - 1));
  prepare_sweep_dir(sweep, out, /*shared=*/true);
  const Point& p = sweep.points[static_cast<std::size_t>(o.point)];
  PointStatus status = read_status(out, p);
  if (finished(status)) {
    fmt::print("Point {} ({}) already finished\n", p.index, p.name);
  } else {
    fmt::print("Point {} ({}): homeostat {} -> {}\n", p.index, p.name, to_string(sweep.command), run_dir(out, p).string());
    std::fflush(stdout);
    PointProcess process(sweep, p, out, self_exe(), o.threads);
    status = process.wait();
    fmt::print("Point {} {} in {:.1f} s{}\n", p.index, status.state, status.wall_seconds,
               status.error.empty() ? "" : ": " + status.error);
  }
  SummaryCounts counts;
  {
    DirLock lock(out);
    const bool last = std::none_of(sweep.points.begin(), sweep.points.end(),
                                   [&](const Point& q) { return read_status(out, q).state == "pending"; });
    counts = write_summary(sweep, out, /*figures=*/last);  // the last task to end draws the figures
  }
  fmt::print("Sweep: {} done, {} failed, {} pending\n", counts.done, counts.failed, counts.pending);
  return finished(status) ? 0 : 1;
}

// A point's extra `args` are options of its command: parsed by that command's
// own parser (without running it) before anything runs, as the points'
// configurations are validated, instead of failing every point one by one.
void check_point_args(const Sweep& sweep) {
  if (sweep.args.empty()) return;
  std::vector<std::string> words = point_command(sweep, sweep.points.front(), "DIR", "homeostat", 1);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  const int argc = static_cast<int>(argv.size());
  CLI::App probe;
  switch (sweep.command) {
    case Command::simulate: setup_simulate(probe, argc, argv.data()); break;
    case Command::train: setup_train(probe, argc, argv.data()); break;
    case Command::feedback: setup_feedback(probe, argc, argv.data()); break;
  }
  try {
    probe.parse(argc, argv.data());
  } catch (const CLI::Success&) {  // --help, --version: what the points would print instead of running
    throw ConfigError("args", "--help and --version print, they do not run a point", sweep.file.string());
  } catch (const CLI::ParseError& e) {
    throw ConfigError("args", fmt::format("not options of `homeostat {}`: {}", to_string(sweep.command), e.what()),
                      sweep.file.string());
  }
}

int run_sweep(const SweepOptions& o) {
  if (!o.summarize.empty()) {
    const fs::path out = o.summarize;
    const Sweep sweep = load_sweep(out / "sweep.toml");
    DirLock lock(out);
    return print_summary(write_summary(sweep, out, true), out);
  }
  if (o.file.empty()) throw std::invalid_argument("sweep: give the sweep file (or --summarize DIR)");
  // The whole grid is checked before anything is written.
  const Sweep sweep = load_sweep(o.file);
  validate_points(sweep);
  check_point_args(sweep);
  if (o.list) return list_points(sweep);
  if (o.out.empty()) throw std::invalid_argument("sweep: -o DIR is required");
  const fs::path out = o.out;
  if (o.slurm) {
    prepare_sweep_dir(sweep, out);
    return write_slurm(sweep, o, out);
  }
  if (o.point >= 0) return run_one_point(sweep, o, out);

  if (parallel::launched_by_mpi()) {
    parallel::MpiContext mpi;
    return mpi.run_guarded([&] {
      if (mpi.root()) prepare_sweep_dir(sweep, out);
      mpi.barrier();  // the directory exists before any rank writes into it
      const int threads = o.threads > 0 ? o.threads : std::max(1, cores() / parallel::local_ranks());
      const ScheduleResult r = run_mpi(mpi, sweep, out, self_exe(), threads);
      if (!mpi.root()) return 0;
      DirLock lock(out);
      const int rc = print_summary(write_summary(sweep, out, true), out);
      return r.failed > 0 ? 1 : rc;
    });
  }

  prepare_sweep_dir(sweep, out);
  const int total = o.threads > 0 ? o.threads : cores();
  const int jobs = std::max(1, o.jobs);
  const int threads = std::max(1, total / jobs);
  fmt::print("homeostat sweep: {} points of `homeostat {}`, {} at a time, {} thread(s) each -> {}\n",
             sweep.points.size(), to_string(sweep.command), jobs, threads, out.string());
  std::fflush(stdout);
  const ScheduleResult r = run_local(sweep, out, self_exe(), jobs, threads);
  DirLock lock(out);
  const int rc = print_summary(write_summary(sweep, out, true), out);
  if (r.interrupted) {
    fmt::print(stderr, "Interrupted: rerun the same command to finish the remaining points.\n");
    return 130;
  }
  return rc;
}

}  // namespace

Action setup_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "Run a grid of configurations: locally, under mpirun, or as a Slurm array");
  auto o = std::make_shared<SweepOptions>();
  cmd->add_option("sweep", o->file, "Sweep file (TOML): command, base, set, [[axis]] key/values")
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", o->out, "Sweep directory (runs/, logs/, CSV summaries, figures/)");
  cmd->add_option("--jobs", o->jobs, "Points run at the same time (locally)")
      ->check(whole_number(1, std::numeric_limits<int>::max()));
  cmd->add_option("--threads", o->threads, "Threads in all, split between the running points (0 = all cores)")
      ->check(whole_number(0, run::max_threads));
  cmd->add_flag("--list", o->list, "Print the points (index, name, overrides); run nothing");
  cmd->add_option("--point", o->point, "Run point K only (what a Slurm array task calls)")
      ->check(whole_number(0, std::numeric_limits<int>::max()));
  cmd->add_flag("--slurm", o->slurm, "Write DIR/sweep.sbatch, a Slurm array job of the points, and print its sbatch line");
  cmd->add_option("--slurm-option", o->slurm_options, "An #SBATCH option for --slurm, e.g. --time=02:00:00 (repeatable)")
      ->allow_extra_args(false)
      ->check(CLI::Validator(  // one #SBATCH line each: a line break would put its rest into the script as a command
          [](std::string& opt) -> std::string {
            return opt.find_first_of("\n\r") == std::string::npos ? "" : "holds a line break; give one option each";
          },
          "ONE LINE"));
  cmd->add_option("--slurm-max", o->slurm_max, "At most N array tasks at once (--array=0-(n-1)%N)")
      ->check(whole_number(1, std::numeric_limits<int>::max()));
  cmd->add_option("--summarize", o->summarize, "Rebuild DIR's status, summary and figures from its runs")
      ->check(CLI::ExistingDirectory);
  cmd->footer(
      "Each point is `homeostat COMMAND BASE --set KEY=VALUE ... -o DIR/runs/<index>_<name>`; finished points are\n"
      "skipped when the same sweep is run again. Under `mpirun -np R homeostat sweep ...` ranks share the points.");
  return [o] { return run_sweep(*o); };
}

}  // namespace homeostat::cli
