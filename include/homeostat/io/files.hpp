// Atomic file output: everything homeostat writes goes through here.
//
// A file is written to a hidden temporary sibling (".NAME.homeostat-tmp.<pid>",
// temp_path), flushed and fsync'ed, then renamed over NAME: a reader (or a
// crash) sees the old file or the new one, never half of one. A kill -9 can
// leave the temporary behind: readers that scan directories skip temp names
// (is_temp_name) and a run that owns a directory removes the stale ones at
// its start (remove_stale_temp_files).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace homeostat::io {

// Writes `bytes` to `path` atomically; creates parent directories.
// Throws std::runtime_error naming the path and the OS reason on failure.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// A file being written: write through stream(), then commit() to rename it
// into place. Destroyed without commit(), it removes its temporary file.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::fstream& stream() { return out_; }
  const std::filesystem::path& temp_path() const { return temp_; }
  void commit();  // flush, fsync, close, rename; throws on any failure

 private:
  std::filesystem::path path_, temp_;
  std::fstream out_;
  bool committed_ = false;
};

// The whole file; a directory or device is refused naming it, and a named
// pipe nobody writes to is an error, not a wait.
std::string read_file(const std::filesystem::path& path);

// Throws unless `path` is a regular file (for readers that must seek, e.g.
// an .npz archive), naming what it is instead.
void require_regular_file(const std::filesystem::path& path);

// The temporary sibling every atomic write of `path` goes through:
// DIR/.NAME.homeostat-tmp.<pid of this process>.
std::filesystem::path temp_path(const std::filesystem::path& path);

// Makes a finished temporary file durable and puts it in place: fsync, rename
// over `path`, fsync of the directory. Throws naming both paths; the
// temporary is removed on failure.
void commit_temp_file(const std::filesystem::path& temp, const std::filesystem::path& path);

// True for a file name (no directory) that temp_path makes, and for the
// "NAME.tmp.<pid>" / "STEM.tmp.<pid>.png" names of earlier versions; the pid
// is returned through `pid` when given.
bool is_temp_name(std::string_view filename, long* pid = nullptr);

// Removes, under `dir` (recursively), the temporary files of processes that
// are no longer alive: what a kill -9 or power loss during a write left.
// Touches no other file and no temporary of another live process. Call it at
// the start of a run that owns `dir`, before the run writes there: a
// temporary with this process's own pid is then an earlier process's (pids
// repeat, in containers especially) and is removed too. Returns what it
// removed, sorted; a missing `dir` is not an error.
std::vector<std::filesystem::path> remove_stale_temp_files(const std::filesystem::path& dir);
// The same for the temporaries of one file `path` only (its directory is not
// searched further): for commands that write single files (gradient, export).
std::vector<std::filesystem::path> remove_stale_temp_files_of(const std::filesystem::path& path);

// Whether process `pid` (> 0) on this host still runs: a zombie (killed,
// not yet reaped) does not. For stale temporary files and run locks.
bool process_alive(long pid);

}  // namespace homeostat::io
