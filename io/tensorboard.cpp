#include "homeostat/io/tensorboard.hpp"

#include "homeostat/io/files.hpp"
#include "hparams.pb.h"
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

// Makes `e` an event at `step` now, of one summary value: that value.
tensorflow::Summary::Value* summary_value(tensorflow::Event& e, std::int64_t step) {
  e.set_wall_time(now_seconds());
  e.set_step(step);
  return e.mutable_summary()->add_value();
}

// A record of plugin data that is not carried into a resumed run.
bool describes_the_run(const tensorflow::Event& e) {
  for (const auto& v : e.summary().value()) {
    const std::string& plugin = v.metadata().plugin_data().plugin_name();
    if (plugin == TensorBoardWriter::text_plugin || plugin == TensorBoardWriter::hparams_plugin) return true;
  }
  return false;
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
        if (e.has_summary() && e.step() <= keep_upto && !describes_the_run(e)) carried.push_back(record);
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
  tensorflow::Summary::Value* v = summary_value(e, step);
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  write_record(e.SerializeAsString());
}

void TensorBoardWriter::image(const std::string& tag, const std::string& png, int width, int height,
                              std::int64_t step) {
  tensorflow::Event e;
  tensorflow::Summary::Value* v = summary_value(e, step);
  v->set_tag(tag);
  auto* img = v->mutable_image();
  img->set_width(width);
  img->set_height(height);
  img->set_colorspace(4);
  img->set_encoded_image_string(png);
  write_record(e.SerializeAsString());
}

void TensorBoardWriter::text(const std::string& tag, const std::string& markdown, std::int64_t step) {
  tensorflow::Event e;
  tensorflow::Summary::Value* v = summary_value(e, step);
  v->set_tag(tag);
  v->mutable_metadata()->mutable_plugin_data()->set_plugin_name(text_plugin);  // content: TextPluginData{version 0}
  v->mutable_metadata()->set_data_class(tensorflow::DATA_CLASS_TENSOR);
  auto* t = v->mutable_tensor();
  t->set_dtype(tensorflow::DT_STRING);
  t->mutable_tensor_shape();  // no dimension: a scalar
  t->add_string_val(markdown);
  write_record(e.SerializeAsString());
}

namespace {

// A record of the hparams plugin: `data` as the content of a value tagged
// `tag`, with the empty float tensor TensorBoard expects beside it.
std::string hparams_record(const char* tag, const tensorboard::hparams::HParamsPluginData& data,
                           std::int64_t step) {
  tensorflow::Event e;
  tensorflow::Summary::Value* v = summary_value(e, step);
  v->set_tag(tag);
  auto* meta = v->mutable_metadata();
  meta->mutable_plugin_data()->set_plugin_name(TensorBoardWriter::hparams_plugin);
  meta->mutable_plugin_data()->set_content(data.SerializeAsString());
  meta->set_data_class(tensorflow::DATA_CLASS_TENSOR);
  auto* t = v->mutable_tensor();
  t->set_dtype(tensorflow::DT_FLOAT);
  t->mutable_tensor_shape()->add_dim()->set_size(0);
  return e.SerializeAsString();
}

}  // namespace

void TensorBoardWriter::hparams(const std::vector<HParam>& values, const std::vector<std::string>& metric_tags) {
  namespace hp = tensorboard::hparams;
  const double now = now_seconds();
  hp::HParamsPluginData experiment, start;
  auto* ex = experiment.mutable_experiment();
  ex->set_time_created_secs(now);
  auto* session = start.mutable_session_start_info();
  session->set_start_time_secs(now);
  for (const HParam& h : values) {
    auto* info = ex->add_hparam_infos();
    info->set_name(h.name);
    google::protobuf::Value& value = (*session->mutable_hparams())[h.name];
    if (const double* x = std::get_if<double>(&h.value)) {
      info->set_type(hp::DATA_TYPE_FLOAT64);
      value.set_number_value(*x);
    } else if (const bool* b = std::get_if<bool>(&h.value)) {
      info->set_type(hp::DATA_TYPE_BOOL);
      value.set_bool_value(*b);
    } else {
      info->set_type(hp::DATA_TYPE_STRING);
      value.set_string_value(std::get<std::string>(h.value));
    }
  }
  for (const std::string& tag : metric_tags) ex->add_metric_infos()->mutable_name()->set_tag(tag);
  write_record(hparams_record("_hparams_/experiment", experiment, 0));
  write_record(hparams_record("_hparams_/session_start_info", start, 0));
}

void TensorBoardWriter::hparams_end(bool success, std::int64_t step) {
  namespace hp = tensorboard::hparams;
  hp::HParamsPluginData end;
  end.mutable_session_end_info()->set_status(success ? hp::STATUS_SUCCESS : hp::STATUS_FAILURE);
  end.mutable_session_end_info()->set_end_time_secs(now_seconds());
  write_record(hparams_record("_hparams_/session_end_info", end, step));
}

void TensorBoardWriter::flush() {
  out_.flush();
  if (!out_) throw std::runtime_error(fmt::format("{}: write failed", path_.string()));
}

}  // namespace homeostat::io
