// NumPy .npy and .npz files (format version 1.0, little-endian, C order).
//
// Readers check magic, header, dtype, shape and size against the file length
// and report the file (and array name inside an .npz) with what is wrong.
// Writers are atomic (see files.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace homeostat::io {

enum class DType { b1, u1, i1, i4, i8, u4, f4, f8 };

std::size_t dtype_size(DType dtype);
std::string dtype_descr(DType dtype);  // "|b1", "<f4", ...

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<bool>() { return DType::b1; }
template <> constexpr DType dtype_of<std::uint8_t>() { return DType::u1; }
template <> constexpr DType dtype_of<std::int8_t>() { return DType::i1; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::i4; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::i8; }
template <> constexpr DType dtype_of<std::uint32_t>() { return DType::u4; }
template <> constexpr DType dtype_of<float>() { return DType::f4; }
template <> constexpr DType dtype_of<double>() { return DType::f8; }

struct NpyArray {
  DType dtype = DType::f8;
  std::vector<std::int64_t> shape;
  std::string data;  // raw little-endian bytes, C order

  std::int64_t size() const;  // product of shape
  // Element values converted to T (any numeric/bool dtype; bool -> 0/1).
  template <class T> std::vector<T> values() const;
};

// The complete bytes of an .npy file. `data` holds size*dtype_size bytes.
std::string npy_bytes(DType dtype, const std::vector<std::int64_t>& shape, const void* data);

// Parses .npy bytes; `what` names the source in errors.
NpyArray parse_npy(const std::string& bytes, const std::string& what);

NpyArray read_npy(const std::filesystem::path& path);
std::map<std::string, NpyArray> read_npz(const std::filesystem::path& path);

// For files from elsewhere (networks, checkpoints): the arrays a reader
// expects, each with the most elements it may hold. Arrays not named are
// skipped unread. A member whose declared uncompressed size, or whose .npy
// header's shape, exceeds its bound is refused before it is inflated, so a
// small crafted zip cannot make the reader allocate or inflate more than the
// expected arrays need.
// Refusals for exceeding a bound are NpzBoundError, so that a reader can say
// what its bounds come from.
using NpzLimits = std::map<std::string, std::int64_t>;
struct NpzBoundError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
std::map<std::string, NpyArray> read_npz(const std::filesystem::path& path, const NpzLimits& limits);

void write_npy(const std::filesystem::path& path, DType dtype,
               const std::vector<std::int64_t>& shape, const void* data);
template <class T>
void write_npy(const std::filesystem::path& path, const std::vector<T>& values,
               const std::vector<std::int64_t>& shape) {
  write_npy(path, dtype_of<T>(), shape, values.data());
}

// Collects arrays, then writes them as one .npz (zip, deflated) atomically.
class NpzWriter {
 public:
  void add(const std::string& name, DType dtype, const std::vector<std::int64_t>& shape,
           const void* data);
  template <class T>
  void add(const std::string& name, const std::vector<T>& values,
           const std::vector<std::int64_t>& shape) {
    add(name, dtype_of<T>(), shape, values.data());
  }
  // A 0-d byte string (numpy dtype |S<len>), as scipy.sparse.save_npz
  // writes its "format"; this module's readers do not read such arrays.
  void add_bytes(const std::string& name, const std::string& text);
  void write(const std::filesystem::path& path) const;

 private:
  void add_entry(const std::string& name, std::string npy);
  std::vector<std::pair<std::string, std::string>> entries_;  // name, npy bytes
};

// An .npy written piece by piece, for recordings too large to hold in memory:
// the header is written first (shape known up front), then slabs at element
// offsets in any order; commit() renames it into place (atomic, as files.hpp).
class NpyStreamWriter {
 public:
  NpyStreamWriter(std::filesystem::path path, DType dtype, std::vector<std::int64_t> shape);
  ~NpyStreamWriter();
  NpyStreamWriter(const NpyStreamWriter&) = delete;
  NpyStreamWriter& operator=(const NpyStreamWriter&) = delete;
  // Writes `count` elements starting at flat element index `offset`.
  void write(std::int64_t offset, const void* data, std::int64_t count);
  void commit();

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace homeostat::io
