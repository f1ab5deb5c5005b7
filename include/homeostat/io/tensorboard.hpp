// TensorBoard event files: TFRecord framing (length, masked CRC-32C of the
// length, an Event protobuf, masked CRC-32C of the data) of Event messages
// with scalar and PNG image summaries, a text summary (the text plugin) and
// the hparams plugin's records. `tensorboard --logdir DIR` shows them;
// `wandb sync --sync-tensorboard DIR` uploads the scalars and images (W&B's
// importer reads neither text nor hparams summaries).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

namespace homeostat::io {

// CRC-32C (Castagnoli), as TFRecord uses; no Debian package provides it.
std::uint32_t crc32c(const void* data, std::size_t size);

// The records of an event file read up to its first damage.
struct EventFile {
  std::vector<std::string> records;  // raw Event bytes, both CRCs checked
  std::size_t valid_bytes = 0;       // the bytes those records span
  std::string torn_tail;             // empty, or what is wrong with the end after them
};

// One hyperparameter of the hparams plugin: a number, a flag or a word.
struct HParam {
  std::string name;
  std::variant<double, bool, std::string> value;
};

class TensorBoardWriter {
 public:
  // Opens DIR/events.out.tfevents.<seconds>.homeostat and removes the
  // earlier event files in DIR, so that TensorBoard shows one run. When
  // `keep_upto` >= 0 (a resumed run), their events with step <= keep_upto
  // are carried into the new file first, so that a resumed run shows no step
  // twice; otherwise (a run started over in its directory) none is. An earlier file with a torn end (kill -9
  // or a full disk during a write) gives its whole records and a warning on
  // stderr; one damaged before its end is refused (see scan) and nothing is
  // created. Text and hparams summaries are never carried: they describe the
  // run as a whole, and the resumed run writes them anew.
  TensorBoardWriter(const std::filesystem::path& dir, std::int64_t keep_upto = -1);

  void scalar(const std::string& tag, double value, std::int64_t step);
  void image(const std::string& tag, const std::string& png, int width, int height, std::int64_t step);
  // Markdown for TensorBoard's Text tab (a scalar string tensor, plugin "text").
  void text(const std::string& tag, const std::string& markdown, std::int64_t step);
  // The hparams plugin's experiment (every hyperparameter with its type, and
  // `metric_tags`: scalar tags of this file that the table shows the last
  // value of) and this run's session start with the values.
  void hparams(const std::vector<HParam>& values, const std::vector<std::string>& metric_tags);
  // The hparams plugin's session end: the run finished, or failed.
  void hparams_end(bool success, std::int64_t step);
  void flush();

  // The plugins whose summaries the writer never carries into a resumed run.
  static constexpr const char* text_plugin = "text";
  static constexpr const char* hparams_plugin = "hparams";

  // Every record of an event file, as raw Event bytes (checking both CRCs);
  // throws on a damaged record or a torn end.
  static std::vector<std::string> read_records(const std::filesystem::path& file);

  // The whole records of an event file and what is wrong with its end, if
  // anything: a torn end is a last record (or header) cut short, one whose
  // data fails its CRC and ends the file, or zero bytes in place of records.
  // Damage with records after it (a CRC failing in the middle) is not what a
  // crash leaves: it throws, naming the file and the byte offset.
  static EventFile scan(const std::filesystem::path& file);

 private:
  void write_record(const std::string& event);
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace homeostat::io
