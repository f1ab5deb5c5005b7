// TensorBoard event files (io/tensorboard.cpp): what a resumed run does with
// the files of the run before it. A torn end (kill -9, full disk) is
// repaired: its whole records are carried, the rest dropped with a warning.
// Damage before the end is refused, naming the file and the byte, and
// leaves the directory as it was.
#include "homeostat/io/files.hpp"
#include "homeostat/io/tensorboard.hpp"
#include "hparams.pb.h"
#include "tensorboard.pb.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

using namespace homeostat;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("homeostat_tb_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::vector<fs::path> event_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  return out;
}

// A run's event file: the version record and `chunks` scalars; its path.
fs::path write_run(const fs::path& dir, int chunks) {
  io::TensorBoardWriter tb(dir);
  for (int c = 1; c <= chunks; ++c) tb.scalar("total_loss", 1.0 / c, c);
  tb.flush();
  return event_files(dir).at(0);
}

// The records of the single event file in `dir` (besides `other`) after a
// resume at `upto`, and what the resume printed on stderr.
std::vector<std::string> resume_keeping(const fs::path& dir, std::int64_t upto, const fs::path& other,
                                        std::string* warning) {
  ::testing::internal::CaptureStderr();
  { io::TensorBoardWriter tb(dir, upto); }
  *warning = ::testing::internal::GetCapturedStderr();
  auto files = event_files(dir);
  std::erase(files, other);
  EXPECT_EQ(files.size(), 1u);
  return io::TensorBoardWriter::read_records(files.at(0));
}

std::vector<std::string> resume(const fs::path& dir, std::int64_t upto, std::string* warning) {
  return resume_keeping(dir, upto, {}, warning);
}

}  // namespace

TEST(TensorBoard, ResumeCarriesTheEventsUpToItsChunk) {
  const fs::path dir = fresh_dir("carry");
  const fs::path first = write_run(dir, 5);
  ASSERT_EQ(io::TensorBoardWriter::read_records(first).size(), 6u);  // version + 5 scalars
  std::string warning;
  EXPECT_EQ(resume(dir, 3, &warning).size(), 4u);  // new version + scalars 1..3
  EXPECT_EQ(warning, "");
  EXPECT_FALSE(fs::exists(first));
  fs::remove_all(dir);
}

TEST(TensorBoard, ARunStartedOverShowsNoEventOfTheOldOne) {
  // train --overwrite after a run killed before its first checkpoint.
  const fs::path dir = fresh_dir("restart");
  const fs::path old = write_run(dir, 3);
  fs::resize_file(old, fs::file_size(old) - 3);  // even a torn one
  std::string warning;
  EXPECT_EQ(resume(dir, -1, &warning).size(), 1u);  // the version record only
  EXPECT_EQ(warning, "");
  EXPECT_FALSE(fs::exists(old));
  fs::remove_all(dir);
}

TEST(TensorBoard, ATornEndIsRepairedWithAWarning) {
  for (const std::size_t cut : {1, 5, 13, 20}) {  // bytes cut off the end: footer, data, header
    const fs::path dir = fresh_dir("torn" + std::to_string(cut));
    const fs::path first = write_run(dir, 5);
    fs::resize_file(first, fs::file_size(first) - cut);
    const auto scan = io::TensorBoardWriter::scan(first);
    EXPECT_EQ(scan.records.size(), 5u) << cut;  // the last scalar is gone
    EXPECT_FALSE(scan.torn_tail.empty());
    EXPECT_THROW(io::TensorBoardWriter::read_records(first), std::runtime_error);  // the strict reader
    std::string warning;
    EXPECT_EQ(resume(dir, 5, &warning).size(), 5u) << cut;  // version + scalars 1..4
    EXPECT_NE(warning.find(first.string() + ": torn end"), std::string::npos) << warning;
    EXPECT_NE(warning.find("the 5 whole records before it are kept"), std::string::npos) << warning;
    fs::remove_all(dir);
  }
}

TEST(TensorBoard, ZerosAfterTheLastRecordAreATornEnd) {
  // What a crash leaves where the file was extended but the data never landed.
  const fs::path dir = fresh_dir("zeros");
  const fs::path first = write_run(dir, 3);
  fs::resize_file(first, fs::file_size(first) + 4096);
  std::string warning;
  EXPECT_EQ(resume(dir, 3, &warning).size(), 4u);
  EXPECT_NE(warning.find("zero bytes"), std::string::npos) << warning;
  fs::remove_all(dir);
}

TEST(TensorBoard, DamageBeforeTheEndIsRefusedAndNothingIsCreated) {
  const fs::path dir = fresh_dir("damaged");
  const fs::path first = write_run(dir, 5);
  std::string bytes = io::read_file(first);
  const std::size_t version_end = io::TensorBoardWriter::scan(first).records.at(0).size() + 16;
  bytes[version_end + 14] ^= 0x20;  // a byte of the first scalar's data
  io::write_file_atomic(first, bytes);
  for (int retry = 0; retry < 2; ++retry) {
    try {
      io::TensorBoardWriter tb(dir, 5);
      FAIL() << "a damaged event file was accepted";
    } catch (const std::runtime_error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(first.string()), std::string::npos) << message;
      EXPECT_NE(message.find("a record fails its checksum at byte " + std::to_string(version_end)), std::string::npos)
          << message;
    }
    EXPECT_EQ(event_files(dir), std::vector<fs::path>{first}) << "a refused resume left a file behind";
  }
  EXPECT_EQ(io::read_file(first), bytes);
  fs::remove_all(dir);
}

TEST(TensorBoard, TempNamesAreNotEventFiles) {
  const fs::path dir = fresh_dir("temp");
  const fs::path first = write_run(dir, 2);
  const fs::path temp = io::temp_path(first);  // what a killed copy of it would leave
  io::write_file_atomic(temp, "not records");
  std::string warning;
  EXPECT_EQ(resume_keeping(dir, 2, temp, &warning).size(), 3u);
  EXPECT_EQ(warning, "");
  fs::remove_all(dir);
}

// The run description (text and hparams plugins) reads back with the public
// schema, and a resumed run does not carry it: it writes its own.
TEST(TensorBoard, TextAndHparamsReadBackAndAreNotCarried) {
  const fs::path dir = fresh_dir("hparams");
  const std::string markdown = "The configuration:\n\n    batch_size = 8\n";
  {
    io::TensorBoardWriter tb(dir);
    tb.text("config/parameters.toml", markdown, 0);
    tb.hparams({{"training.batch_size", 8.0}, {"simulation.saturate", true}, {"training.optimisable", std::string("weights")}},
               {"total_loss", "final_state/mean_rate_hz/excitatory"});
    tb.scalar("total_loss", 0.5, 1);
    tb.hparams_end(true, 1);
    tb.flush();
  }
  const auto records = io::TensorBoardWriter::read_records(event_files(dir).at(0));
  ASSERT_EQ(records.size(), 6u);  // version, text, experiment, session start, scalar, session end
  std::vector<tensorflow::Event> e(records.size());
  for (std::size_t k = 0; k < records.size(); ++k) ASSERT_TRUE(e[k].ParseFromString(records[k]));

  const auto& text = e[1].summary().value(0);
  EXPECT_EQ(text.tag(), "config/parameters.toml");
  EXPECT_EQ(text.metadata().plugin_data().plugin_name(), "text");
  EXPECT_EQ(text.tensor().dtype(), tensorflow::DT_STRING);
  EXPECT_EQ(text.tensor().tensor_shape().dim_size(), 0);
  ASSERT_EQ(text.tensor().string_val_size(), 1);
  EXPECT_EQ(text.tensor().string_val(0), markdown);

  auto plugin_data = [&](std::size_t k, const std::string& tag) {
    const auto& v = e[k].summary().value(0);
    EXPECT_EQ(v.tag(), tag);
    EXPECT_EQ(v.metadata().plugin_data().plugin_name(), "hparams");
    tensorboard::hparams::HParamsPluginData data;
    EXPECT_TRUE(data.ParseFromString(v.metadata().plugin_data().content()));
    EXPECT_EQ(data.version(), 0);
    return data;
  };
  const auto experiment = plugin_data(2, "_hparams_/experiment").experiment();
  ASSERT_EQ(experiment.hparam_infos_size(), 3);
  EXPECT_EQ(experiment.hparam_infos(0).name(), "training.batch_size");
  EXPECT_EQ(experiment.hparam_infos(0).type(), tensorboard::hparams::DATA_TYPE_FLOAT64);
  EXPECT_EQ(experiment.hparam_infos(1).type(), tensorboard::hparams::DATA_TYPE_BOOL);
  EXPECT_EQ(experiment.hparam_infos(2).type(), tensorboard::hparams::DATA_TYPE_STRING);
  ASSERT_EQ(experiment.metric_infos_size(), 2);
  EXPECT_EQ(experiment.metric_infos(1).name().tag(), "final_state/mean_rate_hz/excitatory");
  const auto start = plugin_data(3, "_hparams_/session_start_info").session_start_info();
  EXPECT_EQ(start.hparams().at("training.batch_size").number_value(), 8.0);
  EXPECT_TRUE(start.hparams().at("simulation.saturate").bool_value());
  EXPECT_EQ(start.hparams().at("training.optimisable").string_value(), "weights");
  EXPECT_GT(start.start_time_secs(), 1.6e9);
  const auto end = plugin_data(5, "_hparams_/session_end_info").session_end_info();
  EXPECT_EQ(end.status(), tensorboard::hparams::STATUS_SUCCESS);
  EXPECT_EQ(e[5].step(), 1);

  std::string warning;
  const auto kept = resume(dir, 1, &warning);
  ASSERT_EQ(kept.size(), 2u);  // the version and the scalar
  tensorflow::Event scalar;
  ASSERT_TRUE(scalar.ParseFromString(kept[1]));
  EXPECT_EQ(scalar.summary().value(0).tag(), "total_loss");
  fs::remove_all(dir);
}
