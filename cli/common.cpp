#include "common.hpp"

#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/io/npy.hpp"
#include "homeostat/version.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <omp.h>
#include <unistd.h>

#include <ctime>
#include <stdexcept>

namespace homeostat::cli {

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

int apply_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
  return omp_get_max_threads();
}

void prepare_output_dir(const std::filesystem::path& dir, bool overwrite) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir)) throw std::runtime_error(fmt::format("{}: exists and is not a directory", dir.string()));
    if (!fs::is_empty(dir) && !overwrite)
      throw std::runtime_error(fmt::format(
          "{}: directory exists and is not empty; choose another -o or pass --overwrite", dir.string()));
  }
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot create directory: {}", dir.string(), ec.message()));
}

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.find_first_of(" \t\"'") != std::string::npos) a = "'" + a + "'";
    s += (i ? " " : "") + a;
  }
  return s;
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json metadata(const RunInfo& info, const Config& config, int threads) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const auto now = std::chrono::system_clock::now();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - info.start_steady).count();
  return {{"program", "homeostat"},
          {"version", homeostat::version},
          {"git_commit", homeostat::git_commit},
          {"command", info.command},
          {"seed", config.simulation.seed},
          {"threads", threads},
          {"host", host},
          {"start_time", iso_time(info.start)},
          {"end_time", iso_time(now)},
          {"wall_seconds", wall}};
}

void write_run_files(const std::filesystem::path& dir, const Config& config, const nlohmann::json& meta) {
  io::write_file_atomic(dir / "parameters.toml", io::to_toml(config));
  io::write_file_atomic(dir / "metadata.json", meta.dump(2) + "\n");
}

Progress::Progress(std::string label, double total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), enabled_(isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { finish(); }

namespace {
std::string clock_text(double seconds) {
  if (!(seconds >= 0) || seconds > 359999) return "--:--";
  const long s = static_cast<long>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}
}  // namespace

void Progress::update(double done, const std::string& extra) {
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double frac = total_ > 0 ? std::min(1.0, done / total_) : 1.0;
  const int width = 30;
  const int filled = static_cast<int>(frac * width);
  const double rate = elapsed > 0 ? done / elapsed : 0.0;
  const double left = rate > 0 ? (total_ - done) / rate : -1.0;
  fmt::print(stderr, "\r{} [{}{}] {:3.0f}%  {:.4g}/{:.4g} {}  {:.3g} {}/s  {} left{}\x1b[K", label_,
             std::string(filled, '#'), std::string(width - filled, '.'), frac * 100.0, done, total_, unit_, rate,
             unit_, clock_text(left), extra.empty() ? "" : "  " + extra);
  std::fflush(stderr);
}

void Progress::finish_line() {
  if (!enabled_ || finished_) return;
  fmt::print(stderr, "\r\x1b[K");
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  fmt::print(stderr, "\r{} done in {}\x1b[K\n", label_, clock_text(elapsed));
}

}  // namespace homeostat::cli
