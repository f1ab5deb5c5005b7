// Checkpoints: a run resumed from one ends bit-identical to a run that never
// stopped (also on another thread count); damaged files, other configs and
// non-finite states are refused; a refused save leaves the old file intact.
#include "homeostat/io/checkpoint.hpp"
#include "homeostat/io/files.hpp"
#include "tiny_network.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <fstream>

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

  // Written for another configuration.
  const Config other = small_config({"hyperparameters.learning_rate=0.001"});
  expect_throw_containing([&] { io::load_checkpoint(good, other); }, "different configuration");

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
