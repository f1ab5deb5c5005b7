// Reads parts of a large .npy without loading it: the header, then slabs of
// elements at any offset. For rasters of 100 MB and more that the figures
// walk once (io::read_npy would hold the whole file in memory).
#pragma once

#include "homeostat/io/npy.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace homeostat::plot {

class NpySlabReader {
 public:
  // Opens `path` and checks the header (C order, a dtype of io::DType) and
  // that the file holds exactly the data the shape needs.
  explicit NpySlabReader(const std::filesystem::path& path);

  io::DType dtype() const { return dtype_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  // Reads `count` elements from flat element index `offset` as raw bytes.
  void read(std::int64_t offset, std::int64_t count, std::string& out);
  // The same, converted (f4 only for float; b1/u1 for uint8).
  std::vector<float> read_f32(std::int64_t offset, std::int64_t count);

 private:
  std::filesystem::path path_;
  std::ifstream in_;
  io::DType dtype_ = io::DType::u1;
  std::vector<std::int64_t> shape_;
  std::int64_t data_start_ = 0;
};

}  // namespace homeostat::plot
