// Atomic file output: everything homeostat writes goes through here.
//
// A file is written to a temporary sibling ("NAME.tmp.<pid>"), flushed and
// fsync'ed, then renamed over NAME: a reader (or a crash) sees the old file
// or the new one, never half of one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

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

std::string read_file(const std::filesystem::path& path);

}  // namespace homeostat::io
