// The run directory: preparation (--overwrite), the lock, metadata.json,
// and the messages every phase sends through the callbacks.
#include "internal.hpp"

#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/parallel/mpi.hpp"
#include "homeostat/version.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <omp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace homeostat::run::detail {

void message(const Callbacks& cb, const std::string& text) {
  if (cb.on_message) cb.on_message(text);
}

void warning(const Callbacks& cb, const std::string& text) {
  if (cb.on_warning) cb.on_warning(text);
}

void progress(const Callbacks& cb, const std::string& phase, double done, double total, const std::string& unit,
              const std::string& detail, bool end) {
  if (cb.on_progress) cb.on_progress(ProgressUpdate{phase, done, total, unit, detail, end});
}

namespace {

std::string host_name() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

// A lock file's owner, "pid host"; pid 0 when unreadable.
std::pair<long, std::string> lock_owner(const fs::path& path) {
  std::ifstream in(path);
  long pid = 0;
  std::string host;
  in >> pid >> host;
  return {pid, host};
}


}  // namespace

}  // namespace homeostat::run::detail

namespace homeostat::run {

RunLock::RunLock(const std::filesystem::path& dir) : path_(dir / file_name) {
  const std::string me = detail::host_name();
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      const std::string text = fmt::format("{} {}\n", static_cast<long>(getpid()), me);
      const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
      ::close(fd);
      if (!ok) {
        ::unlink(path_.c_str());
        throw std::runtime_error(fmt::format("{}: cannot write the lock file", path_.string()));
      }
      return;
    }
    if (errno != EEXIST)
      throw std::runtime_error(fmt::format("{}: cannot create the lock file: {}", path_.string(), std::strerror(errno)));
    const auto [pid, host] = detail::lock_owner(path_);
    if (host == me && pid > 0 && !io::process_alive(pid)) {
      ::unlink(path_.c_str());  // stale: its process is gone
      continue;
    }
    // No owner in it: created and never written (a kill -9 between the two),
    // or damaged. A live process writes its pid right after creating it, so
    // one that stays without an owner for a while is stale too.
    std::error_code ec;
    const auto written = std::filesystem::last_write_time(path_, ec);
    if (pid <= 0 && !ec && std::filesystem::file_time_type::clock::now() - written > std::chrono::seconds(10)) {
      ::unlink(path_.c_str());
      continue;
    }
    throw LockError(fmt::format(
        "{}: the run directory is in use by process {} on host {} ({}); wait for it, or remove the lock file if "
        "that process is gone",
        dir.string(), pid, host.empty() ? "?" : host, path_.string()));
  }
  throw LockError(fmt::format("{}: could not take the lock (another process keeps taking it)", path_.string()));
}

RunLock::~RunLock() { ::unlink(path_.c_str()); }

}  // namespace homeostat::run

namespace homeostat::run::detail {

std::unique_ptr<RunLock> prepare_output_dir(const fs::path& dir, bool overwrite) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir))
    throw std::runtime_error(fmt::format("{}: exists and is not a directory", dir.string()));
  if (fs::is_symlink(fs::symlink_status(dir, ec)) && !fs::exists(dir, ec))
    throw std::runtime_error(fmt::format("{}: a symbolic link to {}, which does not exist; create that directory or "
                                         "choose another -o",
                                         dir.string(), fs::read_symlink(dir, ec).string()));
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot create directory: {}", dir.string(), ec.message()));
  auto lock = std::make_unique<RunLock>(dir);
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != RunLock::file_name) entries.push_back(e.path());
  if (entries.empty()) return lock;
  if (!overwrite)
    throw std::runtime_error(fmt::format(
        "{}: directory exists and is not empty; choose another -o or pass --overwrite", dir.string()));
  const bool is_run = fs::exists(dir / "parameters.toml") || fs::exists(dir / "metadata.json");
  if (!is_run) {
    std::sort(entries.begin(), entries.end());
    std::string names;
    for (std::size_t i = 0; i < std::min<std::size_t>(entries.size(), 5); ++i)
      names += (i ? ", " : "") + entries[i].filename().string();
    if (entries.size() > 5) names += fmt::format(", ... ({} entries)", entries.size());
    throw std::runtime_error(fmt::format(
        "{}: --overwrite empties a homeostat run directory (parameters.toml or metadata.json), and this one is not: "
        "it holds {}; choose another -o",
        dir.string(), names));
  }
  // A new run over an old one: nothing of the old run may survive (weight
  // snapshots, chunk figures, TensorBoard events, recordings).
  for (const auto& p : entries) {
    fs::remove_all(p, ec);
    if (ec) throw std::runtime_error(fmt::format("{}: cannot remove: {}", p.string(), ec.message()));
  }
  return lock;
}

namespace {
std::string iso_time(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

nlohmann::ordered_json metadata(const RunClock& clock, const std::string& command, const Config& config, int threads) {
  const auto now = std::chrono::system_clock::now();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - clock.start_steady).count();
  return {{"program", "homeostat"},
          {"version", homeostat::version},
          {"git_commit", homeostat::git_commit},
          {"command", command},
          {"seed", config.simulation.seed},
          {"threads", threads},
          {"host", host_name()},
          {"start_time", iso_time(clock.start)},
          {"end_time", iso_time(now)},
          {"wall_seconds", wall}};
}

void write_run_files(const fs::path& dir, const Config& config, const nlohmann::ordered_json& meta) {
  io::write_file_atomic(dir / "parameters.toml", io::to_toml(config));
  io::write_file_atomic(dir / "metadata.json", meta.dump(2) + "\n");
}

int apply_threads(int threads) {
  if (threads < 0 || threads > max_threads)
    throw std::invalid_argument(fmt::format("threads: {} is outside 0 (all cores) to {}", threads, max_threads));
  if (threads > 0) omp_set_num_threads(threads);
  return omp_get_max_threads();
}

int apply_threads(int threads, const Ranks& ranks) {
  // All cores, shared by the ranks on this node.
  if (threads <= 0 && ranks.size() > 1) threads = std::max(1, omp_get_num_procs() / parallel::local_ranks());
  return apply_threads(threads);
}

// ---- ranks

int Ranks::size() const { return mpi ? mpi->size() : 1; }
int Ranks::rank() const { return mpi ? mpi->rank() : 0; }
bool Ranks::any(bool mine) const { return mpi ? mpi->any(mine) : mine; }

TrialRange Ranks::trials(std::int64_t batch, std::int64_t unit) const {
  return rank_trials(batch, unit, rank(), size());
}

std::string Ranks::split_text(std::int64_t batch, std::int64_t unit) const {
  if (size() <= 1) return {};
  std::string s = fmt::format("  {} ranks share the {} trials:", size(), batch);
  for (int r = 0; r < size(); ++r) {
    const TrialRange t = rank_trials(batch, unit, r, size());
    s += fmt::format("{} [{}, {})", r ? "," : "", t.first, t.first + t.count);
  }
  return s;
}

Callbacks Ranks::callbacks(const Callbacks& callbacks) const {
  if (root()) return callbacks;
  Callbacks quiet;
  quiet.stop = callbacks.stop;
  return quiet;
}

}  // namespace homeostat::run::detail

namespace homeostat::run {

std::string clock_text(double seconds) {
  if (!(seconds >= 0) || seconds > 359999) return "--:--";
  const long s = static_cast<long>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace homeostat::run
