#include "homeostat/io/files.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace homeostat::io {
namespace {

std::string os_reason(int err) { return err != 0 ? std::strerror(err) : "unknown error"; }

[[noreturn]] void fail(const std::string& action, const std::filesystem::path& path, int err) {
  throw std::runtime_error(action + " " + path.string() + ": " + os_reason(err));
}

constexpr std::string_view temp_marker = ".homeostat-tmp.";

void create_parent(const std::filesystem::path& path) {
  const auto parent = path.parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    throw std::runtime_error("cannot create directory " + parent.string() + " for " +
                             path.string() + ": " + ec.message());
  }
}

void fsync_path(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open for fsync", path, errno);
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("cannot fsync", path, err);
  }
  if (::close(fd) != 0) fail("cannot close", path, errno);
}

// Makes the rename itself durable. Best effort: some filesystems refuse to
// fsync directories, and the data is already safe in the renamed file.
void fsync_parent_dir(const std::filesystem::path& path) {
  auto dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void rename_into_place(const std::filesystem::path& temp, const std::filesystem::path& path) {
  // A rename puts a regular file in the place of whatever has the name: as
  // root, `-o /dev/null` would replace the machine's /dev/null.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISDIR(st.st_mode))
    throw std::runtime_error(path.string() + ": not a regular file (a device, FIFO or socket), which writing a file "
                                             "there would replace; choose a file");
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    throw std::runtime_error("cannot rename " + temp.string() + " to " + path.string() + ": " +
                             os_reason(err));
  }
  fsync_parent_dir(path);
}

void write_all(int fd, std::string_view bytes, const std::filesystem::path& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", path, errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  create_parent(path);
  const auto temp = temp_path(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail("cannot create", temp, errno);
  try {
    write_all(fd, bytes, temp);
    if (::fsync(fd) != 0) fail("cannot fsync", temp, errno);
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail("cannot close", temp, err);
  }
  try {
    rename_into_place(temp, path);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

AtomicFile::AtomicFile(std::filesystem::path path)
    : path_(std::move(path)), temp_(io::temp_path(path_)) {
  create_parent(path_);
  errno = 0;
  out_.open(temp_, std::ios::out | std::ios::binary | std::ios::trunc);
  if (!out_.is_open()) fail("cannot create", temp_, errno);
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  out_.close();
  std::error_code ignored;
  std::filesystem::remove(temp_, ignored);
}

void AtomicFile::commit() {
  if (committed_) throw std::runtime_error("AtomicFile for " + path_.string() + " committed twice");
  // errno is cleared so a stream failure reports its own cause, not a stale one;
  // a stream already failed by an earlier write has no errno left to report.
  errno = 0;
  if (!out_.flush()) {
    throw std::runtime_error("error writing " + temp_.string() + ": " +
                             (errno != 0 ? os_reason(errno) : "stream in a failed state"));
  }
  out_.close();
  if (out_.fail()) fail("cannot close", temp_, errno);
  // std::fstream exposes no descriptor: reopen the closed file to fsync it.
  commit_temp_file(temp_, path_);
  committed_ = true;
}

std::filesystem::path temp_path(const std::filesystem::path& path) {
  // The pid keeps two processes writing the same output from sharing a temp
  // file, and tells remove_stale_temp_files whether its writer is gone. The
  // leading dot hides it from `ls` and from globs such as *.png.
  std::string name = ".";
  name += path.filename().string();
  name += temp_marker;
  name += std::to_string(::getpid());
  return path.parent_path() / name;
}

void commit_temp_file(const std::filesystem::path& temp, const std::filesystem::path& path) {
  try {
    fsync_path(temp);
    rename_into_place(temp, path);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

namespace {

// `digits` as a pid (all decimal digits, > 0), else -1.
long parse_pid(std::string_view digits) {
  long pid = -1;
  if (digits.empty()) return -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (ec != std::errc{} || end != digits.data() + digits.size() || pid <= 0) return -1;
  return pid;
}

}  // namespace

bool process_alive(long pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  // A process killed a moment ago can linger as a zombie until its parent (or
  // init) reaps it: it holds nothing any more. /proc/PID/stat: "pid (comm) S ...".
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return true;  // no /proc: trust kill()
  const auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || (stat[close + 2] != 'Z' && stat[close + 2] != 'X');
}

bool is_temp_name(std::string_view name, long* pid) {
  long found = -1;
  if (const auto at = name.rfind(temp_marker); name.starts_with('.') && at != std::string_view::npos && at > 1) {
    found = parse_pid(name.substr(at + temp_marker.size()));  // .NAME.homeostat-tmp.PID
  } else if (const auto old = name.rfind(".tmp."); old != std::string_view::npos && old > 0) {
    std::string_view rest = name.substr(old + 5);  // NAME.tmp.PID or STEM.tmp.PID.png (earlier versions)
    if (rest.ends_with(".png")) rest.remove_suffix(4);
    found = parse_pid(rest);
  }
  if (pid != nullptr) *pid = found;
  return found > 0;
}

namespace {

// Whether `entry` is a temporary file whose writer is gone. Our own pid
// counts as gone: this runs before the caller writes, so such a file is an
// earlier process's that had the same pid (containers).
bool stale_temp(const std::filesystem::directory_entry& entry) {
  long pid = -1;
  std::error_code ec;
  if (!is_temp_name(entry.path().filename().string(), &pid) || !entry.is_regular_file(ec)) return false;
  return pid == static_cast<long>(::getpid()) || !process_alive(pid);
}

// Removes `stale` (sorted first) and returns it.
std::vector<std::filesystem::path> remove_all_of(std::vector<std::filesystem::path> stale) {
  std::sort(stale.begin(), stale.end());
  std::error_code ec;
  for (const auto& path : stale)
    if (!std::filesystem::remove(path, ec) && ec)
      throw std::runtime_error("cannot remove the stale temporary file " + path.string() + ": " + ec.message());
  return stale;
}

}  // namespace

std::vector<std::filesystem::path> remove_stale_temp_files(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::vector<fs::path> stale;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return stale;
  const auto fail = [&](const std::string& what) {
    throw std::runtime_error("cannot " + what + ": " + ec.message());
  };
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) fail("list " + dir.string());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) fail("list " + dir.string());
    if (stale_temp(*it)) stale.push_back(it->path());
  }
  return remove_all_of(std::move(stale));
}

std::vector<std::filesystem::path> remove_stale_temp_files_of(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::vector<fs::path> stale;
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  const std::string own = temp_path(path).filename().string();  // .NAME.homeostat-tmp.<pid>
  const std::string prefix = own.substr(0, own.size() - std::to_string(::getpid()).size());
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().rfind(prefix, 0) == 0 && stale_temp(*it))
      stale.push_back(path.parent_path() / it->path().filename());
  return remove_all_of(std::move(stale));
}

// What a path that is not a regular file is ("a directory", ...); empty for
// a regular file.
static std::string_view not_a_file_kind(mode_t mode) {
  if (S_ISREG(mode)) return {};
  if (S_ISFIFO(mode)) return "a named pipe";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

[[noreturn]] static void refuse_not_a_file(const std::filesystem::path& path, std::string_view kind) {
  throw std::runtime_error("cannot read " + path.string() + ": it is " + std::string(kind) + ", not a file");
}

void require_regular_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail("cannot open", path, errno);
  if (const std::string_view kind = not_a_file_kind(st.st_mode); !kind.empty()) refuse_not_a_file(path, kind);
}

std::string read_file(const std::filesystem::path& path) {
  // Non-blocking open: a named pipe nobody writes to must not hang the
  // command (a pipe with a writer, e.g. bash's <(...), reads as usual).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail("cannot read", path, err);
  }
  const bool pipe = S_ISFIFO(st.st_mode);  // read as a file: bash's <(...) is one
  if (const std::string_view kind = not_a_file_kind(st.st_mode); !kind.empty() && !pipe) {
    ::close(fd);
    refuse_not_a_file(path, kind);
  }
  if (pipe) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::string bytes;
  if (!pipe) bytes.reserve(static_cast<std::size_t>(st.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail("cannot read", path, err);
    }
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (pipe && bytes.empty())
    throw std::runtime_error("cannot read " + path.string() + ": it is a named pipe and nothing was written to it");
  return bytes;
}

}  // namespace homeostat::io
