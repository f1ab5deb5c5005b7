// The run driver (run.hpp): the in-memory sink matches the files, every
// phase answers the stop flag, --overwrite starts clean, a run directory has
// one owner, checkpoint_best.npz stays consistent over a resume, runs that
// cannot fit are refused before any work.
#include "homeostat/io/checkpoint.hpp"
#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/io/npy.hpp"
#include "homeostat/io/tensorboard.hpp"
#include "homeostat/plot/training_log.hpp"
#include "homeostat/run.hpp"
#include "tensorboard.pb.h"

#include "tiny_network.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <tuple>

namespace homeostat {
namespace {

namespace fs = std::filesystem;
using testing::small_training_config;

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("homeostat_run_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

Config tiny_config(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> o = {"simulation.duration=100.0", "simulation.num_chunks=4", "training.log_interval=2",
                                "training.checkpoint_interval=2"};
  o.insert(o.end(), extra.begin(), extra.end());  // later overrides win
  return small_training_config(o);
}

// A simulate run of the tiny config into `dir`, without figures.
run::SimulateDirRequest quick_simulation(const fs::path& dir, const std::vector<std::string>& extra = {}) {
  run::SimulateDirRequest req;
  req.config = tiny_config(extra);
  req.figures = false;
  req.output_dir = dir;
  return req;
}

// A training run of the tiny config into `dir`.
run::TrainRequest tiny_training(const fs::path& dir) {
  run::TrainRequest req;
  req.config = tiny_config();
  req.output_dir = dir;
  return req;
}

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (io::is_temp_name(e.path().filename().string())) out.push_back(e.path().string());
  return out;
}

// Collects what a run says.
struct Recorder {
  std::vector<std::string> messages, warnings;
  std::vector<run::MetricsRow> rows;
  std::atomic<int> stop{0};
  std::function<bool(const run::MetricsRow&)> on_log;
  run::Callbacks callbacks() {
    run::Callbacks cb;
    cb.on_message = [this](const std::string& s) { messages.push_back(s); };
    cb.on_warning = [this](const std::string& s) { warnings.push_back(s); };
    cb.on_log = [this](const run::MetricsRow& r) {
      rows.push_back(r);
      return on_log ? on_log(r) : true;
    };
    cb.stop = &stop;
    return cb;
  }
  bool said(const std::vector<std::string>& lines, const std::string& what) const {
    for (const auto& l : lines)
      if (l.find(what) != std::string::npos) return true;
    return false;
  }
};

TEST(RunSimulate, ArraySinkHoldsTheBytesOfTheFilesSimulateWrites) {
  const fs::path dir = fresh_dir("arrays");
  run::SimulateDirRequest req;
  req.config = tiny_config({"simulation.chunk_size=300"});  // 1000 steps: chunks of 300, 300, 300, 100
  req.trials = 2;
  req.record.voltages = req.record.conductances = req.record.currents = true;
  req.record.neurons = {0, 5, 41};
  req.default_recording = false;
  req.figures = false;
  req.output_dir = dir;
  run::simulate_to_dir(req);

  run::SimulateRequest sim;
  sim.trials = 2;
  sim.steps = 1000;
  sim.record = req.record;
  run::ArraySink sink;
  const run::SimulateResult r = run::simulate(req.config, generate_network(req.config), sim, sink);
  EXPECT_EQ(r.status, run::Status::completed);
  EXPECT_EQ(r.steps_done, 1000);
  const std::vector<run::NamedArray> arrays = sink.take();
  std::vector<std::string> names;
  for (const auto& a : arrays) {
    names.push_back(a.name);
    const io::NpyArray file = io::read_npy(dir / "results" / (a.name + ".npy"));
    EXPECT_EQ(a.shape, file.shape) << a.name;
    ASSERT_EQ(a.bytes.size(), file.data.size()) << a.name;
    EXPECT_EQ(std::memcmp(a.bytes.data(), file.data.data(), a.bytes.size()), 0) << a.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"output_spikes", "input_spikes", "output_voltages", "output_conductances",
                                             "output_currents", "recorded_neurons"}));
  fs::remove_all(dir);
}

TEST(RunSimulate, StoppedSimulationKeepsNoRecordingAndSaysSoInMetadata) {
  const fs::path dir = fresh_dir("sim_stop");
  run::SimulateDirRequest req = quick_simulation(dir);
  Recorder rec;
  rec.stop = 2;  // as SIGINT before the first chunk
  const run::SimulateResult r = run::simulate_to_dir(req, rec.callbacks());
  EXPECT_EQ(r.status, run::Status::interrupted);
  EXPECT_TRUE(temp_files(dir).empty()) << temp_files(dir).front();
  EXPECT_FALSE(fs::exists(dir / "results" / "output_spikes.npy"));
  EXPECT_FALSE(fs::exists(dir / ".homeostat.lock"));
  const auto meta = nlohmann::json::parse(io::read_file(dir / "metadata.json"));
  EXPECT_EQ(meta["simulate"]["status"], "interrupted");
  EXPECT_EQ(meta["simulate"]["steps_done"], 0);
  fs::remove_all(dir);
}

TEST(RunTrain, StopDuringTheInitialStateSaysNothingWasTrained) {
  const fs::path dir = fresh_dir("train_stop0");
  run::TrainRequest req = tiny_training(dir);
  Recorder rec;
  rec.stop = 15;
  const run::TrainSummary s = run::train(req, rec.callbacks());
  EXPECT_EQ(s.status, run::Status::interrupted);
  EXPECT_EQ(s.chunks_done, 0);
  EXPECT_TRUE(rec.said(rec.warnings, "nothing was trained")) << (rec.warnings.empty() ? "" : rec.warnings[0]);
  EXPECT_TRUE(temp_files(dir).empty());
  const auto meta = nlohmann::json::parse(io::read_file(dir / "metadata.json"));  // which method, how it ended
  EXPECT_EQ(meta["train"]["status"], "interrupted");
  EXPECT_EQ(meta["train"]["chunks_done"], 0);
  fs::remove_all(dir);
}

std::vector<fs::path> pngs_in(const fs::path& dir) {
  std::vector<fs::path> out;
  if (fs::exists(dir))
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  return out;
}

TEST(RunTrain, StopWhileTheInitialStateIsDrawnStopsBetweenFigures) {
  // SIGINT as the figures start (after the initial simulation): the run stops
  // after the figure being drawn, not after all of them, and says so.
  const fs::path dir = fresh_dir("train_stop_figures");
  run::TrainRequest req = tiny_training(dir);
  Recorder rec;
  run::Callbacks cb = rec.callbacks();
  cb.on_message = [&](const std::string& s) {
    rec.messages.push_back(s);
    if (s.find("initial state:") != std::string::npos) rec.stop = 2;  // the simulation is done, drawing begins
  };
  const run::TrainSummary s = run::train(req, cb);
  EXPECT_EQ(s.status, run::Status::interrupted);
  EXPECT_EQ(s.chunks_done, 0);
  EXPECT_TRUE(rec.said(rec.warnings, "or its figures, before the first chunk: nothing was trained"))
      << ::testing::PrintToString(rec.warnings);
  EXPECT_FALSE(rec.said(rec.messages, "Saved plots"));
  EXPECT_LT(pngs_in(dir / "initial_state" / "figures").size(), 2u);  // of 14
  EXPECT_FALSE(fs::exists(dir / "checkpoints" / "checkpoint_latest.npz"));
  EXPECT_FALSE(fs::exists(dir / ".homeostat.lock"));
  EXPECT_TRUE(temp_files(dir).empty());
  EXPECT_EQ(nlohmann::json::parse(io::read_file(dir / "metadata.json"))["train"]["status"], "interrupted");
  // Started again as the message says, it runs to the end.
  req.overwrite = true;
  EXPECT_EQ(run::train(req).status, run::Status::completed);
  EXPECT_EQ(pngs_in(dir / "initial_state" / "figures").size(), 14u);
  EXPECT_EQ(nlohmann::json::parse(io::read_file(dir / "metadata.json"))["train"]["status"], "completed");
  fs::remove_all(dir);
}

TEST(RunTrain, OnLogFalseStopsWithACheckpointAndTheRunResumesToTheEnd) {
  const fs::path dir = fresh_dir("train_onlog");
  run::TrainRequest req = tiny_training(dir);
  Recorder rec;
  rec.on_log = [](const run::MetricsRow&) { return false; };
  const run::TrainSummary s = run::train(req, rec.callbacks());
  EXPECT_EQ(s.status, run::Status::interrupted);
  EXPECT_EQ(s.chunks_done, 2);
  ASSERT_EQ(rec.rows.size(), 1u);
  // The row is the CSV's: same columns, chunk first, wall_seconds last.
  const std::string header = io::read_file(dir / "training_metrics.csv").substr(0, io::read_file(dir / "training_metrics.csv").find('\n'));
  std::string names;
  for (const auto& [name, value] : rec.rows[0]) names += (names.empty() ? "" : ",") + name;
  EXPECT_EQ(names, header);
  EXPECT_EQ(rec.rows[0].front().second, 2.0);
  const TrainerState saved = io::load_checkpoint(dir / "checkpoints" / "checkpoint_latest.npz", req.config);
  EXPECT_EQ(saved.chunks_done, 2);
  const auto stopped = nlohmann::json::parse(io::read_file(dir / "metadata.json"));
  EXPECT_EQ(stopped["train"]["status"], "interrupted");
  EXPECT_EQ(stopped["train"]["chunks_done"], 2);
  EXPECT_FALSE(stopped.contains("target_summary"));

  run::TrainRequest resume;
  resume.resume = dir / "checkpoints" / "checkpoint_latest.npz";
  const run::TrainSummary done = run::train(resume);
  EXPECT_EQ(done.status, run::Status::completed);
  EXPECT_EQ(done.start_chunk, 2);
  EXPECT_EQ(done.chunks_done, 4);
  fs::remove_all(dir);
}

// The steps of every scalar `tag` in the run's event files, in file order.
std::vector<std::int64_t> tensorboard_steps(const fs::path& dir, const std::string& tag) {
  std::vector<std::int64_t> steps;
  for (const auto& f : fs::directory_iterator(dir / "tensorboard"))
    for (const auto& record : io::TensorBoardWriter::read_records(f.path())) {
      tensorflow::Event e;
      EXPECT_TRUE(e.ParseFromString(record));
      for (const auto& v : e.summary().value())
        if (v.tag() == tag) steps.push_back(e.step());
    }
  return steps;
}

// training.metrics_every_chunk: a row per chunk in the CSV, TensorBoard and
// on_log; the console block, figures and weight snapshots stay at
// log_interval; a run stopped between logs resumes with no row lost or twice.
TEST(RunTrain, MetricsEveryChunkGivesOneRowPerChunk) {
  const fs::path dir = fresh_dir("train_every_chunk");
  run::TrainRequest req;
  req.config = tiny_config({"simulation.num_chunks=5", "training.metrics_every_chunk=true"});  // logs at 2, 4, 5
  req.output_dir = dir;
  Recorder rec;
  rec.on_log = [](const run::MetricsRow& row) { return row.front().second != 3.0; };  // stop after chunk 3
  ASSERT_EQ(run::train(req, rec.callbacks()).status, run::Status::interrupted);
  ASSERT_EQ(rec.rows.size(), 3u);
  EXPECT_EQ(plot::read_metrics_csv(dir / "training_metrics.csv").column("chunk"), (std::vector<double>{1, 2, 3}));
  run::TrainRequest resume;
  resume.resume = dir / "checkpoints" / "checkpoint_latest.npz";
  ASSERT_EQ(run::train(resume, rec.callbacks()).status, run::Status::completed);

  const std::vector<double> all{1, 2, 3, 4, 5};
  const plot::MetricsTable csv = plot::read_metrics_csv(dir / "training_metrics.csv");
  EXPECT_EQ(csv.column("chunk"), all);
  std::vector<double> logged;
  for (const auto& row : rec.rows) logged.push_back(row.front().second);
  EXPECT_EQ(logged, all);
  EXPECT_EQ(tensorboard_steps(dir, "total_loss"), (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(tensorboard_steps(dir, "weight_change/recurrent/excitatory_to_inhibitory"),
            (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  std::vector<std::string> blocks;
  for (const auto& m : rec.messages)
    if (m.rfind("Chunk ", 0) == 0) blocks.push_back(m.substr(0, m.find(':')));
  EXPECT_EQ(blocks, (std::vector<std::string>{"Chunk 2/5", "Chunk 4/5", "Chunk 5/5"}));
  for (const int c : {1, 2, 3, 4, 5}) {
    const bool log = c != 1 && c != 3;
    EXPECT_EQ(fs::exists(dir / "weights" / fmt::format("recurrent_epoch_{:04}.npy", c)), log) << c;
    EXPECT_EQ(fs::exists(dir / "figures" / fmt::format("chunk_{:04}", c)), log) << c;
  }
  EXPECT_TRUE(fs::exists(dir / "figures" / "chunk_0004" / "training_weight_change.png"));
  fs::remove_all(dir);
}

// Issue 14.2: a kill between the two checkpoint writes left the best file
// missing (or older than the run's record of it), and the resumed run never
// wrote it again.
TEST(RunTrain, ResumeRewritesALostBestCheckpoint) {
  const fs::path dir = fresh_dir("train_best");
  run::TrainRequest req;
  req.config = tiny_config({"simulation.num_chunks=2"});
  req.output_dir = dir;
  run::train(req);
  const fs::path latest = dir / "checkpoints" / "checkpoint_latest.npz", best = dir / "checkpoints" / "checkpoint_best.npz";
  const TrainerState state = io::load_checkpoint(latest, req.config);
  ASSERT_EQ(state.best_chunk, state.chunks_done) << "the scenario needs a run whose last chunk is its best";
  fs::remove(best);  // as if killed after checkpoint_latest.npz was renamed into place
  Recorder rec;
  run::TrainRequest resume;
  resume.resume = latest;
  EXPECT_EQ(run::train(resume, rec.callbacks()).status, run::Status::completed);
  ASSERT_TRUE(fs::exists(best));
  EXPECT_EQ(io::load_checkpoint(best, req.config).chunks_done, state.best_chunk);
  fs::remove_all(dir);
}

TEST(RunDir, OverwriteEmptiesAnOldRunAndRefusesAnythingElse) {
  const fs::path dir = fresh_dir("overwrite");
  run::SimulateDirRequest req = quick_simulation(dir);
  run::simulate_to_dir(req);
  fs::create_directories(dir / "weights");
  io::write_file_atomic(dir / "weights" / "recurrent_epoch_9999.npy", "old");
  EXPECT_THROW(run::simulate_to_dir(req), std::runtime_error);  // not empty, no --overwrite
  req.overwrite = true;
  run::simulate_to_dir(req);
  EXPECT_FALSE(fs::exists(dir / "weights")) << "a file of the old run survived --overwrite";
  EXPECT_TRUE(fs::exists(dir / "results" / "output_spikes.npy"));

  const fs::path other = fresh_dir("overwrite_other");
  fs::create_directories(other);
  io::write_file_atomic(other / "thesis.tex", "precious");
  req.output_dir = other;
  try {
    run::simulate_to_dir(req);
    ADD_FAILURE() << "--overwrite emptied a directory that is not a homeostat run";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("thesis.tex"), std::string::npos) << e.what();
  }
  EXPECT_EQ(io::read_file(other / "thesis.tex"), "precious");
  fs::remove_all(dir);
  fs::remove_all(other);
}

std::string host_name() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

TEST(RunDir, ALiveOwnerIsRefusedAndAStaleLockTakenOver) {
  const fs::path dir = fresh_dir("lock");
  fs::create_directories(dir);
  run::SimulateDirRequest req = quick_simulation(dir);
  // Owned by a live process (this one, as another run would).
  io::write_file_atomic(dir / ".homeostat.lock", std::to_string(getpid()) + " " + host_name() + "\n");
  try {
    run::simulate_to_dir(req);
    ADD_FAILURE() << "a second process wrote into an owned run directory";
  } catch (const run::LockError& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(getpid())), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "results"));
  // Left by a process that is gone: taken over, and released at the end.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  io::write_file_atomic(dir / ".homeostat.lock", std::to_string(child) + " " + host_name() + "\n");
  EXPECT_EQ(run::simulate_to_dir(req).status, run::Status::completed);
  EXPECT_FALSE(fs::exists(dir / ".homeostat.lock"));
  fs::remove_all(dir);
}

TEST(RunDir, ALockOfAKilledProcessNotYetReapedIsStale) {
  // kill -9 of a run (and of the sweep that started it) leaves a zombie until
  // init reaps it: kill(pid, 0) still answers, yet it holds nothing.
  const fs::path dir = fresh_dir("zombie_lock");
  fs::create_directories(dir);
  const pid_t child = fork();
  if (child == 0) _exit(0);
  for (int i = 0; i < 200; ++i) {  // until it has exited (a zombie: not waited for yet)
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string line;
    std::getline(stat, line);
    if (line.find(") Z") != std::string::npos) break;
    usleep(5000);
  }
  EXPECT_FALSE(io::process_alive(child));
  EXPECT_TRUE(io::process_alive(getpid()));
  io::write_file_atomic(dir / ".homeostat.lock", std::to_string(child) + " " + host_name() + "\n");
  EXPECT_NO_THROW(run::RunLock lock(dir));
  EXPECT_FALSE(fs::exists(dir / ".homeostat.lock"));
  waitpid(child, nullptr, 0);
  fs::remove_all(dir);
}

TEST(RunDir, ALockWithoutAnOwnerIsStaleOnceItIsOld) {
  // kill -9 between creating the lock and writing "pid host" into it.
  const fs::path dir = fresh_dir("empty_lock");
  fs::create_directories(dir);
  const fs::path lock = dir / ".homeostat.lock";
  io::write_file_atomic(lock, "");
  EXPECT_THROW(run::RunLock taken(dir), run::LockError);  // just created: perhaps being written
  fs::last_write_time(lock, fs::file_time_type::clock::now() - std::chrono::minutes(1));
  EXPECT_NO_THROW(run::RunLock taken(dir));
  io::write_file_atomic(lock, "garbage\n");
  fs::last_write_time(lock, fs::file_time_type::clock::now() - std::chrono::minutes(1));
  EXPECT_NO_THROW(run::RunLock taken(dir));
  EXPECT_FALSE(fs::exists(lock));
  fs::remove_all(dir);
}

TEST(RunResources, ARecordingLargerThanTheDiskIsRefusedBeforeAnyWork) {
  const fs::path dir = fresh_dir("resources");
  // 1e10 steps (the largest run the configuration check accepts) x 80 neurons
  run::SimulateDirRequest req = quick_simulation(dir, {"simulation.duration=1e9"});
  try {
    run::simulate_to_dir(req);
    ADD_FAILURE() << "a run of terabytes was not refused";
  } catch (const run::ResourceError& e) {
    EXPECT_NE(std::string(e.what()).find("output_spikes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir));
  const run::ResourceEstimate e = run::estimate(req);
  EXPECT_GT(e.disk_bytes, 5e11);
}

TEST(RunResources, AnOutputPlaceThatHoldsNoFilesIsNamedForWhatItIs) {
  // /proc reports a size of 0: it was refused as "0 kB free", now for what it is.
  run::SimulateDirRequest req = quick_simulation("/proc/homeostat_no_such_run");
  try {
    run::simulate_to_dir(req);
    ADD_FAILURE() << "a run into /proc was not refused";
  } catch (const run::ResourceError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("/proc/homeostat_no_such_run: /proc, where it would be created, is on a filesystem that "
                        "reports no space at all"),
              std::string::npos)
        << what;
    EXPECT_EQ(what.find("kB free"), std::string::npos) << what;
  }
  // A file where a directory would be: said, naming the file.
  const fs::path file = fresh_dir("place_file");
  io::write_file_atomic(file, "x");
  try {
    run::simulate_to_dir(quick_simulation(file / "run"));
    ADD_FAILURE() << "a run under a file was not refused";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), (file / "run").string() + ": " + file.string() +
                                         ", where it would be created, is not a directory")
        << e.what();
  }
  fs::remove(file);
}

TEST(RunResources, ALargeRunSaysItsDiskUseOnceAsAWarning) {
  // 2 GB of output spikes (forced past the free space of a small disk), stopped before the first step.
  const fs::path dir = fresh_dir("large");
  run::SimulateDirRequest req = quick_simulation(dir, {"simulation.duration=2.5e6"});
  req.force = true;
  Recorder rec;
  rec.stop = 2;
  EXPECT_EQ(run::simulate_to_dir(req, rec.callbacks()).status, run::Status::interrupted);
  int lines = 0;
  for (const auto& l : rec.messages) lines += l.find("disk use") != std::string::npos;
  for (const auto& l : rec.warnings) lines += l.find("disk use") != std::string::npos;
  EXPECT_EQ(lines, 1);
  ASSERT_TRUE(rec.said(rec.warnings, "note: expected disk use about 2")) << ::testing::PrintToString(rec.warnings);
  EXPECT_TRUE(rec.said(rec.warnings, fmt::format("into {} (", dir.string())));
  EXPECT_FALSE(rec.said(rec.warnings, "will write"));
  fs::remove_all(dir);
}

// The weight snapshots' line of a training estimate: how many, in which format, and their bytes.
std::pair<std::string, double> snapshot_driver(const run::ResourceEstimate& e) {
  for (const auto& d : e.disk_drivers)
    if (d.first.find("weight snapshots") != std::string::npos) return d;
  ADD_FAILURE() << "no weight snapshots in the estimate";
  return {};
}

TEST(RunResources, SnapshotsAreEdgeListsAboveTheSizeAndDenseOnRequest) {
  // 2100 neurons and 400 inputs: a dense snapshot is 4 (N^2 + M N) = 21 MB, over the 16 MB of "auto".
  const std::vector<std::string> big = {"recurrent.topology.num_neurons=2100", "recurrent.topology.num_assemblies=10",
                                        "feedforward.topology.num_neurons=400", "simulation.num_chunks=10",
                                        "training.log_interval=5"};
  run::TrainRequest req;
  req.config = small_training_config(big);
  req.network = generate_network(req.config);
  const double dense = 4.0 * (2100.0 * 2100.0 + 400.0 * 2100.0);
  const std::int64_t edges = req.network->recurrent.n_edges() + req.network->feedforward.n_edges();
  auto [name, bytes] = snapshot_driver(run::estimate(req));
  EXPECT_NE(name.find("2 weight snapshots"), std::string::npos) << name;
  EXPECT_NE(name.find("edge lists"), std::string::npos) << name;
  EXPECT_NE(name.find("training.weight_snapshots = auto: sparse)"), std::string::npos) << name;
  EXPECT_NEAR(bytes, 2 * (8.0 * static_cast<double>(edges) + 8.0 * (2100 + 400 + 2)), 1.0);
  EXPECT_LT(bytes, 2 * dense);  // the built-in network is dense for a connectome (~28% of the pairs)

  std::vector<std::string> asked = big;
  asked.push_back("training.weight_snapshots=dense");
  req.config = small_training_config(asked);
  std::tie(name, bytes) = snapshot_driver(run::estimate(req));
  EXPECT_NE(name.find("training.weight_snapshots = dense)"), std::string::npos) << name;
  EXPECT_DOUBLE_EQ(bytes, 2 * dense);

  // Small networks keep dense .npy snapshots unless edge lists are asked for.
  run::TrainRequest small;
  small.config = tiny_config();
  EXPECT_NE(snapshot_driver(run::estimate(small)).first.find("dense (training.log_interval, simulation.num_chunks, "
                                                              "training.weight_snapshots = auto: dense)"),
            std::string::npos)
      << snapshot_driver(run::estimate(small)).first;
  small.config = tiny_config({"training.weight_snapshots=sparse"});
  EXPECT_NE(snapshot_driver(run::estimate(small)).first.find("edge lists (training.log_interval, simulation.num_chunks, "
                                                              "training.weight_snapshots = sparse)"),
            std::string::npos);
}

TEST(RunGradient, ArraysAreNamedTypedAndShapedAsTheNpz) {
  const Config c = small_training_config({"simulation.chunk_size=200", "training.batch_size=2"});
  const Network net = generate_network(c);
  run::GradientRequest req;
  req.losses = {LossTerm::firing_rate};
  const run::GradientResult g = run::gradient(c, net, nullptr, req);
  EXPECT_EQ(g.trials, 2);
  EXPECT_EQ(g.steps, 200);
  std::map<std::string, const run::NamedArray*> by_name;
  for (const auto& a : g.arrays) by_name[a.name] = &a;
  ASSERT_EQ(g.arrays.front().name, "loss_total");
  EXPECT_EQ(g.arrays.front().dtype, io::DType::f8);
  EXPECT_TRUE(g.arrays.front().shape.empty());
  for (const char* name : {"grad_recurrent_log_weights", "grad_recurrent_weights", "grad_firing_rate_recurrent_weights"}) {
    ASSERT_TRUE(by_name.count(name)) << name;
    EXPECT_EQ(by_name[name]->dtype, io::DType::f4);
    EXPECT_EQ(by_name[name]->shape, (std::vector<std::int64_t>{net.n, net.n}));
    EXPECT_EQ(by_name[name]->bytes.size(), static_cast<std::size_t>(net.n * net.n * 4));
  }
  ASSERT_TRUE(by_name.count("grad_feedforward_weights"));
  EXPECT_EQ(by_name["grad_feedforward_weights"]->shape, (std::vector<std::int64_t>{net.m, net.n}));
  ASSERT_EQ(g.arrays.back().name, "output_spikes");
  EXPECT_EQ(g.arrays.back().shape, (std::vector<std::int64_t>{2, 200, net.n}));
  // The log-weight gradient is w times the weight gradient at every synapse.
  const auto* lw = reinterpret_cast<const float*>(by_name["grad_recurrent_log_weights"]->bytes.data());
  const auto* dw = reinterpret_cast<const float*>(by_name["grad_recurrent_weights"]->bytes.data());
  int nonzero = 0;
  for (std::int64_t j = 0; j < net.n; ++j)
    for (std::int64_t e = net.recurrent.row_ptr[j]; e < net.recurrent.row_ptr[j + 1]; ++e) {
      const std::int64_t at = j * net.n + net.recurrent.post[e];
      EXPECT_NEAR(lw[at], dw[at] * net.recurrent.weight[e], 1e-6 * std::abs(dw[at] * net.recurrent.weight[e]) + 1e-30);
      nonzero += dw[at] != 0;
    }
  EXPECT_GT(nonzero, 0);
}

}  // namespace
}  // namespace homeostat
