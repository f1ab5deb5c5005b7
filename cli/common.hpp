// Shared command-line wiring: config loading with the file/--set options,
// the console (messages, progress) and the stop flag that the run driver
// (homeostat/run.hpp) reports to and polls, exit codes.
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/run.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
class Validator;
}
namespace homeostat::parallel {
class MpiContext;
}

namespace homeostat::cli {

// Exit codes of every command (README "Exit codes").
inline constexpr int exit_ok = 0, exit_error = 1, exit_config = 2, exit_non_finite = 3, exit_interrupted = 130;
int exit_code(run::Status status);

// Options every working command shares.
struct CommonOptions {
  std::string params;                 // PARAMS.toml, empty = built-in defaults
  std::vector<std::string> overrides; // --set section.key=value
  int threads = 0;                    // 0 = all cores
};
void add_common_options(CLI::App& cmd, CommonOptions& opts);

// The resolved config (throws ConfigError).
Config resolve_config(const CommonOptions& opts);

std::string command_line(int argc, char** argv);

// Option checks with messages that name the bounds: CLI11's NonNegativeNumber
// and PositiveNumber print DBL_MAX's 309 digits and let NaN through.
CLI::Validator whole_number(long long lo, long long hi);  // an integer in [lo, hi]
CLI::Validator finite_at_least(double lo);                // a finite number >= lo

// A single-file output (-o of gradient, export), checked before any work: not
// empty, not a directory or device, not an existing file unless `overwrite`, and never one of the files
// the command reads (`inputs`: what each is, its path; empty paths skipped),
// which --overwrite would destroy.
void check_output_file(const std::string& out, bool overwrite,
                       const std::vector<std::pair<std::string, std::filesystem::path>>& inputs);

// Says on stderr what io::remove_stale_temp_files[_of] removed: temporary
// files a killed earlier command left half-written.
void report_removed(const std::vector<std::filesystem::path>& removed);

// Runs a command as one rank of an MPI job when a launcher started this
// process (`mpirun -np R homeostat ...`; README "Running on a cluster"),
// with the job's context (nullptr for a single rank), else as one process
// with nullptr, exactly as without MPI. An error on any rank ends every
// rank with exit code 1 and the message (MpiContext::run_guarded).
int with_ranks(const std::function<int(const parallel::MpiContext*)>& command);

// A progress line on stderr with rate and time left: redrawn in place on a
// terminal; otherwise one plain line every `record_seconds` (batch jobs'
// logs), and one at the end.
class Progress {
 public:
  Progress(std::string label, double total, std::string unit);
  ~Progress();
  void update(double done, const std::string& extra = {});
  void finish_line();  // clears the bar so that other output starts on a clean line
  void finish();
  static constexpr double record_seconds = 30;

 private:
  std::string label_, unit_;
  double total_;
  bool terminal_;
  bool finished_ = false;
  double done_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
};

// The console of a run: prints the driver's messages (stdout) and warnings
// (stderr), draws its progress, and owns the stop flag that SIGINT/SIGTERM,
// SIGUSR1 (which mpirun forwards to its ranks without killing them), SIGHUP
// (a closed terminal) and SIGPIPE (a closed stdout) set while it lives
// (`stoppable`; otherwise they keep their default action, for commands that
// have no safe point to stop at). Its writes never throw.
class Console {
 public:
  explicit Console(bool stoppable = true);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;
  const run::Callbacks& callbacks() const { return callbacks_; }

 private:
  run::Callbacks callbacks_;
  std::unique_ptr<Progress> progress_;
  std::string phase_;
  bool stoppable_;
};

}  // namespace homeostat::cli
