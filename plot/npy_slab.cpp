#include "npy_slab.hpp"

#include <cstring>
#include <stdexcept>

namespace homeostat::plot {

namespace {

// The value of key `key` in an npy header dict, as written by numpy and by
// io::write_npy: 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
std::string header_value(const std::string& header, const std::string& key, const std::string& what) {
  const auto at = header.find("'" + key + "'");
  if (at == std::string::npos) throw std::runtime_error(what + ": .npy header lacks '" + key + "'");
  auto p = header.find(':', at);
  if (p == std::string::npos) throw std::runtime_error(what + ": bad .npy header");
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  std::size_t end = p;
  if (p < header.size() && header[p] == '(') end = header.find(')', p) + 1;
  else if (p < header.size() && header[p] == '\'') end = header.find('\'', p + 1) + 1;
  else end = header.find_first_of(",}", p);
  if (end == std::string::npos || end == 0) throw std::runtime_error(what + ": bad .npy header");
  return header.substr(p, end - p);
}

}  // namespace

NpySlabReader::NpySlabReader(const std::filesystem::path& path) : path_(path), in_(path, std::ios::binary) {
  const std::string what = path.string();
  if (!in_) throw std::runtime_error(what + ": cannot open");
  char prefix[12] = {};
  in_.read(prefix, 10);
  if (in_.gcount() != 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0)
    throw std::runtime_error(what + ": not an .npy file (bad magic)");
  const int major = static_cast<unsigned char>(prefix[6]);
  std::size_t header_len = 0, header_start = 10;
  if (major == 1) {
    header_len = static_cast<unsigned char>(prefix[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(prefix[9])) << 8);
  } else if (major == 2 || major == 3) {
    in_.read(prefix + 10, 2);
    for (int i = 0; i < 4; ++i) header_len |= static_cast<std::size_t>(static_cast<unsigned char>(prefix[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    throw std::runtime_error(what + ": unsupported .npy version " + std::to_string(major));
  }
  std::string header(header_len, '\0');
  in_.read(header.data(), static_cast<std::streamsize>(header_len));
  if (static_cast<std::size_t>(in_.gcount()) != header_len) throw std::runtime_error(what + ": truncated .npy header");
  data_start_ = static_cast<std::int64_t>(header_start + header_len);

  const std::string descr = header_value(header, "descr", what);
  const std::pair<const char*, io::DType> known[] = {
      {"'|b1'", io::DType::b1}, {"'|u1'", io::DType::u1}, {"'|i1'", io::DType::i1}, {"'<i4'", io::DType::i4},
      {"'<i8'", io::DType::i8}, {"'<u4'", io::DType::u4}, {"'<f4'", io::DType::f4}, {"'<f8'", io::DType::f8}};
  bool found = false;
  for (const auto& [text, dtype] : known)
    if (descr == text) dtype_ = dtype, found = true;
  if (!found) throw std::runtime_error(what + ": unsupported dtype " + descr);
  if (header_value(header, "fortran_order", what) != "False")
    throw std::runtime_error(what + ": fortran_order arrays are not supported");
  const std::string shape = header_value(header, "shape", what);
  std::int64_t elements = 1;
  for (std::size_t p = 1; p < shape.size();) {
    while (p < shape.size() && (shape[p] == ' ' || shape[p] == ',')) ++p;
    if (p >= shape.size() || shape[p] == ')') break;
    std::size_t used = 0;
    const long long dim = std::stoll(shape.substr(p), &used);
    if (dim < 0) throw std::runtime_error(what + ": negative dimension in shape " + shape);
    shape_.push_back(dim);
    elements *= dim;
    p += used;
  }
  in_.seekg(0, std::ios::end);
  const std::int64_t size = in_.tellg();
  const std::int64_t need = data_start_ + elements * static_cast<std::int64_t>(io::dtype_size(dtype_));
  if (size != need)
    throw std::runtime_error(what + ": file is " + std::to_string(size) + " bytes, its header promises " +
                             std::to_string(need));
}

void NpySlabReader::read(std::int64_t offset, std::int64_t count, std::string& out) {
  const auto item = static_cast<std::int64_t>(io::dtype_size(dtype_));
  out.resize(static_cast<std::size_t>(count * item));
  in_.clear();
  in_.seekg(data_start_ + offset * item);
  in_.read(out.data(), static_cast<std::streamsize>(out.size()));
  if (in_.gcount() != static_cast<std::streamsize>(out.size()))
    throw std::runtime_error(path_.string() + ": read past the end");
}

std::vector<float> NpySlabReader::read_f32(std::int64_t offset, std::int64_t count) {
  if (dtype_ != io::DType::f4) throw std::runtime_error(path_.string() + ": expected float32 data");
  std::string raw;
  read(offset, count, raw);
  std::vector<float> out(static_cast<std::size_t>(count));
  std::memcpy(out.data(), raw.data(), raw.size());
  return out;
}

}  // namespace homeostat::plot
