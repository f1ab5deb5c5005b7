// Checkpoints: a run resumed from one ends bit-identical to a run that never
// stopped (also on another thread count); damaged files, other configs and
// non-finite states are refused; a refused save leaves the old file intact.
#include "homeostat/io/checkpoint.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/io/npy.hpp"
#include "tiny_network.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <limits>

using namespace homeostat;
namespace fs = std::filesystem;

namespace {

// The tiny training network, 400-step chunks, gradients over 2 chunks (so
// that a checkpoint can fall in the middle of an accumulation), plus `extra`.
Config small_config(std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), {"simulation.chunk_size=400", "training.chunks_per_update=2"});
  return homeostat::testing::small_training_config(extra);
}

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("homeostat_ckpt_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A trainer one chunk in, and its checkpoint saved to DIR/checkpoint_latest.npz.
struct SavedAfterOneChunk {
  Config config = small_config();
  Trainer trainer{config, generate_network(config)};
  fs::path dir, path;
  std::string bytes;

  explicit SavedAfterOneChunk(const std::string& name) : dir(temp_dir(name)), path(dir / "checkpoint_latest.npz") {
    trainer.run_chunk();
    io::save_checkpoint(path, trainer.state(), config);
    bytes = io::read_file(path);
  }
  ~SavedAfterOneChunk() { fs::remove_all(dir); }
};

void expect_throw_containing(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    FAIL() << "no exception; expected one mentioning '" << text << "'";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Checkpoint, ResumedRunEndsBitIdenticalToAnUninterruptedOne) {
  const Config config = small_config();
  const Network net = generate_network(config);
  const fs::path dir = temp_dir("resume");

  Trainer straight(config, net);
  for (int c = 0; c < 5; ++c) straight.run_chunk();

  // Stop after 3 chunks: in the middle of a 2-chunk accumulation.
  {
    Trainer first(config, net);
    for (int c = 0; c < 3; ++c) first.run_chunk();
    io::save_checkpoint(dir / "checkpoint_latest.npz", first.state(), config);
  }
  for (const int threads : {1, 2}) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    Trainer resumed(config, net);
    resumed.restore(io::load_checkpoint(dir / "checkpoint_latest.npz", config));
    EXPECT_EQ(resumed.chunks_done(), 3);
    for (int c = 0; c < 2; ++c) resumed.run_chunk();
    omp_set_num_threads(saved);
    const TrainerState a = straight.state(), b = resumed.state();
    EXPECT_EQ(a.parameters, b.parameters) << threads << " thread(s)";
    EXPECT_EQ(a.adam_m, b.adam_m);
    EXPECT_EQ(a.adam_step, b.adam_step);
    EXPECT_EQ(a.loss_history, b.loss_history);
    EXPECT_EQ(a.best_chunk, b.best_chunk);
    ASSERT_EQ(a.trials.size(), b.trials.size());
    for (std::size_t t = 0; t < a.trials.size(); ++t) {
      EXPECT_EQ(a.trials[t].v, b.trials[t].v);
      EXPECT_EQ(a.trials[t].g_decay, b.trials[t].g_decay);
      EXPECT_EQ(a.trials[t].last_spike, b.trials[t].last_spike);
    }
  }
  fs::remove_all(dir);
}

TEST(Checkpoint, DamagedFilesAndOtherConfigsAreRefused) {
  const SavedAfterOneChunk saved("damaged");
  const Config& config = saved.config;
  const fs::path &dir = saved.dir, &good = saved.path;
  const std::string& bytes = saved.bytes;

  // Truncated (a crash mid-copy by some other tool).
  io::write_file_atomic(dir / "truncated.npz", bytes.substr(0, bytes.size() / 2));
  expect_throw_containing([&] { io::load_checkpoint(dir / "truncated.npz", config); }, "truncated.npz");

  // One byte changed inside the data.
  std::string flipped = bytes;
  flipped[bytes.size() / 3] = static_cast<char>(flipped[bytes.size() / 3] ^ 0x5a);
  io::write_file_atomic(dir / "flipped.npz", flipped);
  expect_throw_containing([&] { io::load_checkpoint(dir / "flipped.npz", config); }, "not a usable checkpoint");

  // Written for another configuration: refused naming the key and both values.
  const Config other = small_config({"hyperparameters.learning_rate=0.001"});
  expect_throw_containing([&] { io::load_checkpoint(good, other); },
                          "it was written for a different configuration: hyperparameters.learning_rate is 0.04 there, "
                          "0.001 here");

  // The good one still loads.
  EXPECT_EQ(io::load_checkpoint(good, config).chunks_done, 1);
}

TEST(Checkpoint, NonFiniteStateIsNeverWrittenAndTheOldFileSurvives) {
  const SavedAfterOneChunk saved("nan");
  const Config& config = saved.config;
  const fs::path &dir = saved.dir, &path = saved.path;
  const std::string& before = saved.bytes;

  TrainerState bad = saved.trainer.state();
  bad.parameters[0] = std::nan("");
  expect_throw_containing([&] { io::save_checkpoint(path, bad, config); }, "non-finite parameter");
  EXPECT_EQ(io::read_file(path), before);
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename(), "checkpoint_latest.npz") << "left behind: " << entry.path();

  // A numpy user can open it.
  const std::string script = "import numpy as np; c = np.load('" + path.string() +
                             "'); assert int(c['chunks_done'][0]) == 1 and c['state_v'].shape == (3, 80)";
  EXPECT_EQ(std::system(("/usr/bin/python3 -c \"" + script + "\"").c_str()), 0);
}

namespace {

// Writes `arrays` as a checkpoint to `out` with the checksum recomputed as
// io/checkpoint.cpp does (CRC-32 of each name and data block, in name order).
void write_checksummed(const std::map<std::string, io::NpyArray>& arrays, const fs::path& out) {
  uLong crc = crc32(0L, Z_NULL, 0);
  io::NpzWriter npz;
  for (const auto& [key, array] : arrays) {
    if (key == "checksum") continue;
    crc = crc32(crc, reinterpret_cast<const Bytef*>(key.data()), static_cast<uInt>(key.size()));
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(array.data.data()), array.data.size());
    npz.add(key, array.dtype, array.shape, array.data.data());
  }
  npz.add("checksum", std::vector<std::uint32_t>{static_cast<std::uint32_t>(crc)}, {1});
  npz.write(out);
}

// The saved checkpoint with one element of array `name` set to `value`, its
// checksum valid: a file only values can tell apart from a good one.
template <class T>
fs::path crafted(const SavedAfterOneChunk& saved, const std::string& name, std::size_t element, T value) {
  auto arrays = io::read_npz(saved.path);
  io::NpyArray& a = arrays.at(name);
  EXPECT_EQ(io::dtype_size(a.dtype), sizeof(T)) << name;
  EXPECT_LT(element, static_cast<std::size_t>(a.size())) << name;
  if (element >= static_cast<std::size_t>(a.size())) return saved.path;
  std::memcpy(a.data.data() + element * sizeof(T), &value, sizeof(T));
  const fs::path out = saved.dir / ("crafted_" + name + ".npz");
  write_checksummed(arrays, out);
  return out;
}

// FNV-1a 64, as config_hash.
std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// `text` without its line `line` (which must be there).
std::string without_line(std::string text, const std::string& line) {
  const std::size_t at = text.find("\n" + line + "\n");
  EXPECT_NE(at, std::string::npos) << line;
  if (at != std::string::npos) text.erase(at + 1, line.size() + 1);
  return text;
}

// The saved checkpoint as a version would have written it whose
// configuration text was `text` (config_toml and config_hash; with
// `keep_text` false, only the hash: a checkpoint of a version before
// config_toml).
fs::path with_config_text(const SavedAfterOneChunk& saved, const std::string& text, bool keep_text,
                          const fs::path& out) {
  auto arrays = io::read_npz(saved.path);
  const std::uint64_t h = fnv1a(text);
  const std::vector<std::uint32_t> hash{static_cast<std::uint32_t>(h), static_cast<std::uint32_t>(h >> 32)};
  arrays.at("config_hash").data.assign(reinterpret_cast<const char*>(hash.data()), 8);
  if (keep_text) arrays.at("config_toml").data = text, arrays.at("config_toml").shape = {static_cast<std::int64_t>(text.size())};
  else arrays.erase("config_toml");
  fs::create_directories(out.parent_path());
  write_checksummed(arrays, out);
  return out;
}

}  // namespace

// A checkpoint of an earlier version lacks the keys added since: accepted
// where the configuration holds the value that version behaved as, refused
// naming the key otherwise; a changed or unknown key is refused as before.
TEST(Checkpoint, AKeyAddedSinceTheCheckpointIsAcceptedOnlyAtTheValueThatVersionRanWith) {
  const SavedAfterOneChunk saved("added_key");
  const fs::path dir = saved.dir;
  Config planned = saved.config;  // rate_loss "split", the default; before the key: "plain"
  planned.simulation.num_chunks = 0;
  const std::string now = io::to_toml(planned);
  auto load = [&](const fs::path& file, const Config& c) { return io::load_checkpoint(file, c).chunks_done; };
  const Config plain = small_config({"hyperparameters.rate_loss=\"plain\""});

  // Stored without rate_loss: that version ran the plain loss.
  const fs::path old = with_config_text(saved, without_line(now, "rate_loss = \"split\""), true, dir / "old.npz");
  expect_throw_containing([&] { load(old, saved.config); },
                          "it was written for a different configuration: hyperparameters.rate_loss is not in its "
                          "configuration: the earlier version that wrote it ran as hyperparameters.rate_loss = "
                          "\"plain\"");
  EXPECT_EQ(load(old, plain), 1);
  // Stored without the learning-rate schedule: that version kept the rate
  // constant (lr_half_life 0; lr_final_fraction is then unused, any value).
  const std::string unscheduled = without_line(without_line(now, "lr_half_life = 15.0"), "lr_final_fraction = 0.25");
  const fs::path constant = with_config_text(saved, unscheduled, true, dir / "constant.npz");
  expect_throw_containing([&] { load(constant, saved.config); },
                          "hyperparameters.lr_half_life is not in its configuration: the earlier version that wrote "
                          "it ran as hyperparameters.lr_half_life = 0.0");
  EXPECT_EQ(load(constant, small_config({"hyperparameters.lr_half_life=0", "hyperparameters.lr_final_fraction=0.5"})), 1);
  // A key without a known earlier value (simulation.saturate is not listed): refused by name.
  const fs::path unlisted = with_config_text(saved, without_line(now, "saturate = true"), true, dir / "unlisted.npz");
  expect_throw_containing([&] { load(unlisted, saved.config); },
                          "simulation.saturate is not in its configuration (an earlier version's)");
  // A key this version does not have, and a changed value next to an absent key.
  std::string extra = now;
  extra.insert(extra.find("\nchunk_size = ") + 1, "warp = 9\n");
  expect_throw_containing([&] { load(with_config_text(saved, extra, true, dir / "extra.npz"), saved.config); },
                          "simulation.warp = 9 there is not a key of this version");
  const Config faster = small_config({"hyperparameters.rate_loss=\"plain\"", "hyperparameters.learning_rate=0.5"});
  expect_throw_containing([&] { load(old, faster); }, "hyperparameters.learning_rate is 0.04 there, 0.5 here");

  // A checkpoint of a version before config_toml (only the hash) in its run
  // directory: the run's parameters.toml, as that version wrote it, stands
  // for its configuration, and the run continues with what that version meant.
  const fs::path run = dir / "run";
  Config written = saved.config;
  const std::string file = without_line(io::to_toml(written), "rate_loss = \"split\"");
  io::write_file_atomic(run / "parameters.toml", file);
  const fs::path hashed = with_config_text(saved, without_line(now, "rate_loss = \"split\""), false,
                                           run / "checkpoints" / "checkpoint_latest.npz");
  const Config meant = io::load_run_config(run / "parameters.toml");
  EXPECT_EQ(meant.hyperparameters.rate_loss, RateLoss::plain);
  EXPECT_EQ(load(hashed, meant), 1);
  expect_throw_containing([&] { load(hashed, io::load_config(run / "parameters.toml")); },
                          "hyperparameters.rate_loss is not in its configuration");
  // Edited since, the file is no longer what the checkpoint was written with.
  io::write_file_atomic(run / "parameters.toml", without_line(file, "saturate = true"));
  expect_throw_containing([&] { load(hashed, io::load_run_config(run / "parameters.toml")); },
                          "kept only a hash of it: the run's parameters.toml is not the file it was written with");
}

TEST(Checkpoint, ImpossibleValuesWithAValidChecksumAreRefusedNamingTheArray) {
  const SavedAfterOneChunk saved("crafted");
  const Config& config = saved.config;  // 3 trials x 80 neurons, 400-step chunks, 1 chunk done
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // The craft itself leaves a loadable file: only the values below are refused.
  EXPECT_EQ(io::load_checkpoint(crafted<std::int64_t>(saved, "chunks_done", 0, 1), config).chunks_done, 1);
  auto refused = [&](const fs::path& file, const std::string& text) {
    expect_throw_containing([&] { io::load_checkpoint(file, config); }, text);
  };
  const std::int64_t chunks = config.simulation.num_chunks;
  refused(crafted<std::int64_t>(saved, "chunks_done", 0, chunks + 1),
          fmt::format("array 'chunks_done' holds {} at [0]: chunks done must lie within simulation.num_chunks (0..{})",
                      chunks + 1, chunks));
  refused(crafted<std::int64_t>(saved, "chunks_done", 0, -1), "array 'chunks_done' holds -1");
  refused(crafted<std::int64_t>(saved, "best_chunk", 0, 2), "array 'best_chunk' holds 2 at [0]");
  refused(crafted<std::int64_t>(saved, "adam_step", 0, 2), "array 'adam_step' holds 2 at [0]");
  refused(crafted<double>(saved, "parameters", 7, nan), "array 'parameters' holds nan at [7]: values must be finite");
  refused(crafted<double>(saved, "accumulated_gradient", 3, nan), "array 'accumulated_gradient' holds nan at [3]");
  refused(crafted<double>(saved, "loss_history", 0, std::numeric_limits<double>::infinity()),
          "array 'loss_history' holds inf at [0]");
  refused(crafted<float>(saved, "state_v", 80 + 5, std::nanf("")), "array 'state_v' holds nan at [1, 5]");
  refused(crafted<float>(saved, "state_g_decay", 3, std::numeric_limits<float>::infinity()),
          "array 'state_g_decay' holds inf at [0, 3]");
  refused(crafted<std::int32_t>(saved, "state_refractory", 2 * 80 + 3, -2),
          "array 'state_refractory' holds -2 at [2, 3]: refractory steps left lie in 0..");
  refused(crafted<std::int64_t>(saved, "state_last_spike", 7, 400),
          "array 'state_last_spike' holds 400 at [0, 7]: a last spike lies within the 400 steps done");
  refused(crafted<std::int64_t>(saved, "state_last_spike", 7, -2), "array 'state_last_spike' holds -2 at [0, 7]");
}
