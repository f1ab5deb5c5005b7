#include "homeostat/io/tensorboard.hpp"

#include "homeostat/io/files.hpp"
#include "tensorboard.pb.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <stdexcept>

namespace homeostat::io {

namespace {

std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
    t[i] = c;
  }
  return t;
}

// TFRecord's mask: rotate right by 15 and add a constant.
std::uint32_t masked(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

void put_le(std::string& s, std::uint64_t x, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

std::uint64_t get_le(const char* p, int bytes) {
  std::uint64_t x = 0;
  for (int i = 0; i < bytes; ++i) x |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return x;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::uint32_t crc32c(const void* data, std::size_t size) {
  static const std::array<std::uint32_t, 256> table = make_table();
  std::uint32_t c = 0xffffffffu;
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

EventFile TensorBoardWriter::scan(const std::filesystem::path& file) {
  const std::string bytes = read_file(file);
  EventFile out;
  std::size_t at = 0;
  auto torn = [&](const std::string& why) {
    out.torn_tail = fmt::format("{} at byte {} of {}", why, at, bytes.size());
    return out;
  };
  auto damaged = [&](const std::string& why) -> EventFile {
    throw std::runtime_error(fmt::format(
        "{}: damaged TensorBoard event file: {} at byte {}, with {} more bytes after it (not a torn end, which "
        "resume repairs); move the file out of the directory to go on without its events",
        file.string(), why, at, bytes.size() - at));
  };
  while (at < bytes.size()) {
    const std::size_t left = bytes.size() - at;
    if (left < 12) return torn("a record header cut short");
    const std::uint64_t len = get_le(bytes.data() + at, 8);
    if (masked(crc32c(bytes.data() + at, 8)) != get_le(bytes.data() + at + 8, 4)) {
      // Blocks of zeros are what a crash leaves where a file was extended
      // but its data never reached the disk.
      if (bytes.find_first_not_of('\0', at) == std::string::npos) return torn("zero bytes in place of records");
      return damaged("a record length fails its checksum");
    }
    if (left - 12 < 4 || len > left - 16) return torn("a record cut short");
    const char* data = bytes.data() + at + 12;
    if (masked(crc32c(data, len)) != get_le(data + len, 4)) {
      if (at + 16 + len == bytes.size()) return torn("a last record that fails its checksum");
      return damaged("a record fails its checksum");
    }
    out.records.emplace_back(data, len);
    at += 16 + len;
    out.valid_bytes = at;
  }
  return out;
}

std::vector<std::string> TensorBoardWriter::read_records(const std::filesystem::path& file) {
  EventFile f = scan(file);
  if (!f.torn_tail.empty()) throw std::runtime_error(fmt::format("{}: torn end: {}", file.string(), f.torn_tail));
  return std::move(f.records);
}

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& dir, std::int64_t keep_upto) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::vector<fs::path> earlier;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("events.out.tfevents.", 0) == 0 && !is_temp_name(name)) earlier.push_back(e.path());
  }
  std::sort(earlier.begin(), earlier.end());
  // A resumed run reads what it carries before it creates anything, so that
  // a refused file leaves the directory as it was (no new file per retry).
  std::vector<std::string> carried;
  if (keep_upto >= 0) {
    for (const auto& file : earlier) {
      const EventFile events = scan(file);
      if (!events.torn_tail.empty())
        fmt::print(stderr, "warning: {}: torn end ({}), as a crash or a full disk leaves it: the {} whole records "
                   "before it are kept, the rest dropped\n", file.string(), events.torn_tail, events.records.size());
      for (const auto& record : events.records) {
        tensorflow::Event e;
        if (!e.ParseFromString(record))
          throw std::runtime_error(fmt::format("{}: an event that passes its checksum does not parse", file.string()));
        if (e.has_summary() && e.step() <= keep_upto) carried.push_back(record);
      }
    }
  }
  const auto seconds = static_cast<long long>(now_seconds());
  path_ = dir / fmt::format("events.out.tfevents.{}.homeostat", seconds);
  for (int k = 1; fs::exists(path_); ++k) path_ = dir / fmt::format("events.out.tfevents.{}.homeostat.{}", seconds, k);
  out_.open(path_, std::ios::binary);
  if (!out_) throw std::runtime_error(fmt::format("{}: cannot create the TensorBoard event file", path_.string()));
  tensorflow::Event version;
  version.set_wall_time(now_seconds());
  version.set_file_version("brain.Event:2");
  write_record(version.SerializeAsString());
  for (const auto& record : carried) write_record(record);
  flush();
  for (const auto& file : earlier) fs::remove(file);
}

void TensorBoardWriter::write_record(const std::string& event) {
  std::string header;
  put_le(header, event.size(), 8);
  const std::uint32_t len_crc = masked(crc32c(header.data(), 8));
  put_le(header, len_crc, 4);
  std::string footer;
  put_le(footer, masked(crc32c(event.data(), event.size())), 4);
  out_.write(header.data(), static_cast<std::streamsize>(header.size()));
  out_.write(event.data(), static_cast<std::streamsize>(event.size()));
  out_.write(footer.data(), static_cast<std::streamsize>(footer.size()));
  if (!out_) throw std::runtime_error(fmt::format("{}: write failed", path_.string()));
}

void TensorBoardWriter::scalar(const std::string& tag, double value, std::int64_t step) {
  tensorflow::Event e;
  e.set_wall_time(now_seconds());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  write_record(e.SerializeAsString());
}

void TensorBoardWriter::image(const std::string& tag, const std::string& png, int width, int height,
                              std::int64_t step) {
  tensorflow::Event e;
  e.set_wall_time(now_seconds());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  auto* img = v->mutable_image();
  img->set_width(width);
  img->set_height(height);
  img->set_colorspace(4);
  img->set_encoded_image_string(png);
  write_record(e.SerializeAsString());
}

void TensorBoardWriter::flush() {
  out_.flush();
  if (!out_) throw std::runtime_error(fmt::format("{}: write failed", path_.string()));
}

}  // namespace homeostat::io
