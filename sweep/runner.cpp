#include "homeostat/sweep/runner.hpp"

#include "csv.hpp"
#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/parallel/mpi.hpp"
#include "homeostat/run.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace homeostat::sweep {

namespace fs = std::filesystem;

namespace {
constexpr const char* marker_name = "sweep_point.json";

// The last "error: ..." line of a log (what homeostat prints before failing).
std::string last_error_line(const fs::path& log) {
  std::ifstream in(log);
  std::string line, found;
  while (std::getline(in, line))
    if (line.rfind("error", 0) == 0) found = line;
  return found;
}
}  // namespace

fs::path run_dir(const fs::path& out, const Point& point) { return out / "runs" / point.name; }
fs::path log_path(const fs::path& out, const Point& point) { return out / "logs" / (point.name + ".log"); }

PointStatus read_status(const fs::path& out, const Point& point) {
  PointStatus s;
  const fs::path dir = run_dir(out, point);
  std::error_code ec;
  if (!fs::exists(dir / marker_name, ec)) return s;
  try {
    const auto j = nlohmann::json::parse(io::read_file(dir / marker_name));
    s.state = j.at("state").get<std::string>();
    s.wall_seconds = j.at("wall_seconds").get<double>();
    s.error = j.value("error", "");
  } catch (const std::exception& e) {  // a damaged marker: the point is run again
    s = PointStatus{};
  }
  if (s.state == "done" && !fs::exists(dir / "metadata.json", ec)) s = PointStatus{};
  return s;
}

bool finished(const PointStatus& status) { return status.state == "done"; }

void prepare_sweep_dir(const Sweep& sweep, const fs::path& out, bool shared) {
  std::error_code ec;
  const fs::path copy = out / "sweep.toml";
  if (fs::exists(copy, ec)) {
    if (io::read_file(copy) != sweep.text)
      throw std::runtime_error(fmt::format(
          "{}: holds a different sweep (its sweep.toml differs from {}); choose another -o", out.string(),
          sweep.file.string()));
  } else if (!shared && fs::exists(out, ec) && (!fs::is_directory(out, ec) || !fs::is_empty(out, ec))) {
    throw std::runtime_error(
        fmt::format("{}: exists and is not an empty directory or a sweep of this file; choose another -o", out.string()));
  }
  fs::create_directories(out / "runs", ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot create directory: {}", out.string(), ec.message()));
  fs::create_directories(out / "logs", ec);
  io::write_file_atomic(copy, sweep.text);
  std::string csv = "index,name";
  for (const Axis& a : sweep.axes) append_cell(csv, a.label);
  csv += "\n";
  for (const Point& p : sweep.points) {
    csv += fmt::format("{},{}", p.index, csv_field(p.name));
    for (std::size_t a = 0; a < sweep.axes.size(); ++a) append_cell(csv, sweep.axes[a].values[p.value[a]]);
    csv += "\n";
  }
  io::write_file_atomic(out / "points.csv", csv);
}

void write_status_csv(const Sweep& sweep, const std::vector<PointStatus>& status, const fs::path& out) {
  std::string csv = "index,name,state,wall_seconds,error\n";
  for (const Point& p : sweep.points) {
    const PointStatus& s = status.at(static_cast<std::size_t>(p.index));
    csv += fmt::format("{},{},{},{:.3f},{}\n", p.index, csv_field(p.name), s.state, s.wall_seconds, csv_field(s.error));
  }
  io::write_file_atomic(out / "sweep_status.csv", csv);
}

std::vector<std::string> point_command(const Sweep& sweep, const Point& point, const fs::path& out, const fs::path& exe,
                                       int threads) {
  std::vector<std::string> argv{exe.string(), to_string(sweep.command)};
  if (!sweep.base.empty()) argv.push_back(sweep.base.string());
  for (const auto& o : point.overrides) argv.insert(argv.end(), {"--set", o});
  argv.insert(argv.end(), sweep.args.begin(), sweep.args.end());
  argv.insert(argv.end(), {"-o", run_dir(out, point).string(), "--threads", std::to_string(threads)});
  return argv;
}

namespace {
// The checkpoint a stopped train/feedback point continues from; empty: start over.
fs::path resumable_checkpoint(const Sweep& sweep, const Point& point, const fs::path& dir) {
  if (sweep.command == Command::simulate) return {};
  const fs::path checkpoint = dir / "checkpoints" / "checkpoint_latest.npz";
  std::error_code ec;
  if (!fs::is_regular_file(checkpoint, ec) || !fs::is_regular_file(dir / "parameters.toml", ec)) return {};
  try {
    if (io::read_file(dir / "parameters.toml") != io::to_toml(io::load_config(sweep.base, point.overrides))) return {};
  } catch (const std::exception&) {
    return {};  // a base file that no longer reads: the run is started again, and its error shown
  }
  return checkpoint;
}

std::vector<std::string> resume_command(const Sweep& sweep, const fs::path& checkpoint, const fs::path& exe,
                                        int threads) {
  std::vector<std::string> argv{exe.string(), to_string(sweep.command), "--resume", checkpoint.string()};
  if (std::find(sweep.args.begin(), sweep.args.end(), "--force") != sweep.args.end()) argv.emplace_back("--force");
  argv.insert(argv.end(), {"--threads", std::to_string(threads)});
  return argv;
}
}  // namespace

PointProcess::PointProcess(const Sweep& sweep, const Point& point, const fs::path& out, const fs::path& exe,
                           int threads)
    : point_(point), out_(out), start_(std::chrono::steady_clock::now()) {
  const fs::path dir = run_dir(out, point);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!ec) fs::create_directories(log_path(out, point).parent_path(), ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot create: {}", dir.string(), ec.message()));
  fs::path checkpoint;
  try {
    // Under the run's own lock: a point that another live process runs
    // (another sweep over the same directory) is left alone; a lock whose
    // process is gone is taken over. The child takes the lock again when this
    // one is released. A train or feedback point that stopped with a
    // checkpoint (a Slurm time limit, Ctrl-C, a lost node) and whose
    // parameters.toml is still this point's configuration continues from it,
    // ending bit-identical to a run that never stopped; any other
    // half-written run starts again from nothing.
    const run::RunLock lock(dir);
    checkpoint = resumable_checkpoint(sweep, point, dir);
    if (checkpoint.empty()) {
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().filename() == run::RunLock::file_name) continue;
        fs::remove_all(entry.path(), ec);
        if (ec) throw std::runtime_error(fmt::format("{}: cannot empty: {}", dir.string(), ec.message()));
      }
    }
  } catch (const run::LockError& e) {
    done_ = true;
    status_.state = "busy";
    status_.error = e.what();
    return;
  }

  const std::vector<std::string> args =
      checkpoint.empty() ? point_command(sweep, point, out, exe, threads) : resume_command(sweep, checkpoint, exe, threads);
  const std::vector<std::string> env = parallel::environment_without_launcher();
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  const std::string log = log_path(out, point).string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // A resumed point's log keeps what its first part said.
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | (checkpoint.empty() ? O_TRUNC : O_APPEND),
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(fmt::format("{}: cannot start: {}", args[0], std::strerror(rc)));
}

PointProcess::~PointProcess() {
  if (done_ || pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
}

void PointProcess::signal(int sig) const {
  if (!done_ && pid_ > 0) ::kill(pid_, sig);
}

bool PointProcess::poll() {
  if (done_) return true;
  int st = 0;
  const pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == 0 || (r < 0 && errno == EINTR)) return false;
  if (r < 0) throw std::runtime_error(fmt::format("waitpid({}): {}", pid_, std::strerror(errno)));
  collect(st);
  return true;
}

const PointStatus& PointProcess::wait() {
  while (!done_) {
    int st = 0;
    const pid_t r = waitpid(pid_, &st, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw std::runtime_error(fmt::format("waitpid({}): {}", pid_, std::strerror(errno)));
    collect(st);
  }
  return status_;
}

void PointProcess::collect(int st) {
  done_ = true;
  status_.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const fs::path dir = run_dir(out_, point_);
  const fs::path log = log_path(out_, point_);
  std::error_code ec;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && fs::exists(dir / "metadata.json", ec)) {
    status_.state = "done";
  } else {
    status_.state = "failed";
    std::string why = WIFSIGNALED(st) ? fmt::format("killed by signal {} ({})", WTERMSIG(st), strsignal(WTERMSIG(st)))
                      : WEXITSTATUS(st) == 0 ? std::string("exited without writing metadata.json")
                                             : fmt::format("exit code {}", WEXITSTATUS(st));
    const std::string line = last_error_line(log);
    status_.error = line.empty() ? why : why + ": " + line;
  }
  const nlohmann::json marker = {{"index", point_.index},       {"name", point_.name},
                                 {"state", status_.state},      {"wall_seconds", status_.wall_seconds},
                                 {"error", status_.error},      {"log", fs::relative(log, out_).string()}};
  io::write_file_atomic(dir / marker_name, marker.dump(2) + "\n");
}

}  // namespace homeostat::sweep
