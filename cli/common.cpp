#include "common.hpp"

#include "homeostat/io/config_toml.hpp"
#include "homeostat/parallel/mpi.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

namespace homeostat::cli {

int exit_code(run::Status status) {
  switch (status) {
    case run::Status::completed: return exit_ok;
    case run::Status::interrupted: return exit_interrupted;
    case run::Status::non_finite: return exit_non_finite;
  }
  return exit_error;
}

void add_common_options(CLI::App& cmd, CommonOptions& opts) {
  cmd.add_option("params", opts.params, "Configuration file (TOML); built-in defaults when omitted")
      ->check(CLI::ExistingFile);
  cmd.add_option("--set", opts.overrides, "Override a config key, e.g. --set training.batch_size=8 (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);  // one KEY=VALUE per --set: a PARAMS file after it stays positional
  cmd.add_option("--threads", opts.threads, "Worker threads (0 = all cores); results do not depend on it")
      ->check(CLI::NonNegativeNumber);
}

Config resolve_config(const CommonOptions& opts) { return io::load_config(opts.params, opts.overrides); }

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.find_first_of(" \t\"'") != std::string::npos) a = "'" + a + "'";
    s += (i ? " " : "") + a;
  }
  return s;
}

void report_removed(const std::vector<std::filesystem::path>& removed) {
  for (const auto& p : removed) fmt::print(stderr, "removed {}, left half-written by a killed run\n", p.string());
}

int with_ranks(const std::function<int(const parallel::MpiContext*)>& command) {
  if (!parallel::launched_by_mpi()) return command(nullptr);
  parallel::MpiContext mpi;
  return mpi.run_guarded([&] { return command(mpi.size() > 1 ? &mpi : nullptr); });
}

// ---- Progress

Progress::Progress(std::string label, double total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), terminal_(isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { finish(); }

using run::clock_text;

void Progress::update(double done, const std::string& extra) {
  if (finished_) return;
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  const auto every = terminal_ ? std::chrono::duration<double>(0.1) : std::chrono::duration<double>(record_seconds);
  if (terminal_ ? (done < total_ && now - last_draw_ < every) : (now - start_ < every || now - last_draw_ < every))
    return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double frac = total_ > 0 ? std::min(1.0, done / total_) : 1.0;
  const double rate = elapsed > 0 ? done / elapsed : 0.0;
  const double left = rate > 0 ? (total_ - done) / rate : -1.0;
  if (terminal_) {
    const int width = 30;
    const int filled = static_cast<int>(frac * width);
    fmt::print(stderr, "\r{} [{}{}] {:3.0f}%  {:.4g}/{:.4g} {}  {:.3g} {}/s  {} left{}\x1b[K", label_,
               std::string(filled, '#'), std::string(width - filled, '.'), frac * 100.0, done, total_, unit_, rate,
               unit_, clock_text(left), extra.empty() ? "" : "  " + extra);
  } else {  // a log file: one plain record per line
    fmt::print(stderr, "{}: {:.4g}/{:.4g} {} ({:.0f}%), elapsed {}, {:.3g} {}/s, {} left{}\n", label_, done, total_,
               unit_, frac * 100.0, clock_text(elapsed), rate, unit_, clock_text(left),
               extra.empty() ? "" : ", " + extra);
  }
  std::fflush(stderr);
}

void Progress::finish_line() {
  if (!terminal_ || finished_) return;
  fmt::print(stderr, "\r\x1b[K");
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (terminal_) fmt::print(stderr, "\r{} done in {}\x1b[K\n", label_, clock_text(elapsed));
  else if (elapsed >= record_seconds)
    fmt::print(stderr, "{}: {:.4g}/{:.4g} {} in {}\n", label_, done_, total_, unit_, clock_text(elapsed));
  std::fflush(stderr);
}

// ---- Console

namespace {
// Set by SIGINT/SIGTERM while a Console lives; the run stops at its next safe point.
std::atomic<int> stop_flag{0};
extern "C" void on_stop_signal(int sig) { stop_flag.store(sig); }
}  // namespace

Console::Console(bool stoppable) : stoppable_(stoppable) {
  if (stoppable_) {
    stop_flag.store(0);
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGUSR1, on_stop_signal);
    callbacks_.stop = &stop_flag;
  }
  callbacks_.on_message = [this](const std::string& text) {
    if (progress_) progress_->finish_line();
    fmt::print("{}\n", text);
    std::fflush(stdout);
  };
  callbacks_.on_warning = [this](const std::string& text) {
    if (progress_) progress_->finish_line();
    std::fflush(stdout);
    fmt::print(stderr, "{}\n", text);
    std::fflush(stderr);
  };
  callbacks_.on_progress = [this](const run::ProgressUpdate& p) {
    if (!progress_ || phase_ != p.phase) {
      progress_ = std::make_unique<Progress>(p.phase, p.total, p.unit);
      phase_ = p.phase;
    }
    if (p.end) {
      progress_->finish();
      progress_.reset();
      phase_.clear();
    } else {
      progress_->update(p.done, p.detail);
    }
  };
}

Console::~Console() {
  progress_.reset();
  if (stoppable_) {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGUSR1, SIG_DFL);
  }
}

}  // namespace homeostat::cli
