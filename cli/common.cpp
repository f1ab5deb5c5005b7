#include "common.hpp"

#include "homeostat/io/config_toml.hpp"
#include "homeostat/parallel/mpi.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

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
      ->check(whole_number(0, run::max_threads));
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

CLI::Validator whole_number(long long lo, long long hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        long long v = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, v);
        if (ec != std::errc() || ptr != end || v < lo || v > hi)
          return fmt::format("'{}' is not a whole number from {} to {}", text, lo, hi);
        return {};
      },
      fmt::format("INT in [{} - {}]", lo, hi));
}

CLI::Validator finite_at_least(double lo) {
  return CLI::Validator(
      [lo](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v < lo)
          return fmt::format("'{}' is not a finite number >= {}", text, lo);
        return {};
      },
      fmt::format("FLOAT >= {}", lo));
}

void check_output_file(const std::string& out, bool overwrite,
                       const std::vector<std::pair<std::string, std::filesystem::path>>& inputs) {
  if (out.empty()) throw std::runtime_error("-o: an empty path; name the file to write");
  std::error_code ec;
  if (!std::filesystem::exists(out, ec)) return;
  if (!std::filesystem::is_regular_file(out, ec))
    throw std::runtime_error(fmt::format("{}: exists and is not a regular file (a directory, device or FIFO); "
                                         "choose a file",
                                         out));
  for (const auto& [what, path] : inputs)
    if (!path.empty() && std::filesystem::equivalent(out, path, ec))
      throw std::runtime_error(fmt::format("{}: is {} ({}), which this command reads; --overwrite never replaces "
                                           "an input: choose another -o",
                                           out, what, path.string()));
  if (!overwrite) throw std::runtime_error(fmt::format("{}: exists; choose another -o or pass --overwrite", out));
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

namespace {
// Console output that never throws: a reader that went away (`| head`, a
// closed terminal) raises SIGPIPE or SIGHUP, which stop a run at its next safe
// point (Console); the write itself fails quietly instead of ending the run
// from inside a callback.
void put(std::FILE* f, const std::string& text) {
  std::fputs(text.c_str(), f);
  std::fflush(f);
}
}  // namespace

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
    put(stderr, fmt::format("\r{} [{}{}] {:3.0f}%  {:.4g}/{:.4g} {}  {:.3g} {}/s  {} left{}\x1b[K", label_,
                            std::string(filled, '#'), std::string(width - filled, '.'), frac * 100.0, done, total_,
                            unit_, rate, unit_, clock_text(left), extra.empty() ? "" : "  " + extra));
  } else {  // a log file: one plain record per line
    put(stderr, fmt::format("{}: {:.4g}/{:.4g} {} ({:.0f}%), elapsed {}, {:.3g} {}/s, {} left{}\n", label_, done,
                            total_, unit_, frac * 100.0, clock_text(elapsed), rate, unit_, clock_text(left),
                            extra.empty() ? "" : ", " + extra));
  }
}

void Progress::finish_line() {
  if (!terminal_ || finished_) return;
  put(stderr, "\r\x1b[K");
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (terminal_) put(stderr, fmt::format("\r{} done in {}\x1b[K\n", label_, clock_text(elapsed)));
  else if (elapsed >= record_seconds)
    put(stderr, fmt::format("{}: {:.4g}/{:.4g} {} in {}\n", label_, done_, total_, unit_, clock_text(elapsed)));
}

// ---- Console

namespace {
// Set by a stop signal while a Console lives; the run stops at its next safe point.
std::atomic<int> stop_flag{0};
extern "C" void on_stop_signal(int sig) { stop_flag.store(sig); }
// Ctrl-C, kill, mpirun's forwarded SIGUSR1, a closed terminal (SIGHUP) and a
// reader that went away (SIGPIPE, `homeostat train ... | head`): each would
// otherwise end a run on the spot, with no checkpoint since the last interval.
constexpr int stop_signals[] = {SIGINT, SIGTERM, SIGUSR1, SIGHUP, SIGPIPE};
}  // namespace

Console::Console(bool stoppable) : stoppable_(stoppable) {
  if (stoppable_) {
    stop_flag.store(0);
    for (const int sig : stop_signals) std::signal(sig, on_stop_signal);
    callbacks_.stop = &stop_flag;
  }
  callbacks_.on_message = [this](const std::string& text) {
    if (progress_) progress_->finish_line();
    put(stdout, text + "\n");
  };
  callbacks_.on_warning = [this](const std::string& text) {
    if (progress_) progress_->finish_line();
    std::fflush(stdout);
    put(stderr, text + "\n");
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
    // Once the reader is gone, a last write (exit's flush) must not kill the
    // process that stopped cleanly.
    for (const int sig : stop_signals) std::signal(sig, sig == SIGPIPE && stop_flag.load() == SIGPIPE ? SIG_IGN : SIG_DFL);
  }
}

}  // namespace homeostat::cli
