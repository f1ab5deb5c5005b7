// The run driver: what `homeostat simulate | gradient | train | feedback` do,
// as a library that any front end calls (the command line, the Python
// package). It sits above the core (which knows no file formats), io/ and
// plot/, as Arbor's arborio sits beside arbor: the driver owns the run
// directory (layout, checkpoints, resume, metrics CSV, TensorBoard, figures,
// metadata.json, the lock), the front end owns the console and the signals.
//
// Nothing here is global. A front end passes Callbacks: console lines and
// progress come back through them, and a stop flag it owns (set by a signal
// handler, or by Python's Ctrl-C check) is polled at every safe point: between
// training chunks, between simulation chunks. A stopped run returns normally
// with Status::interrupted after leaving its directory consistent (training:
// a checkpoint; simulate: no temporary files and a metadata.json that says so).
//
// Errors are exceptions: ConfigError for a bad configuration, ResourceError
// for a run that would not fit the machine, LockError for a directory another
// process owns, std::runtime_error naming the file and reason for the rest.
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/connectome.hpp"
#include "homeostat/inputs.hpp"
#include "homeostat/io/npy.hpp"
#include "homeostat/loss.hpp"
#include "homeostat/sim.hpp"
#include "homeostat/train.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace homeostat::plot {
struct FigureOptions;
}
namespace homeostat::parallel {
class MpiContext;
}

namespace homeostat::run {

// The most worker threads a run takes (`threads` of every request, --threads):
// far beyond any node's cores, and refused above it before any work, since an
// OpenMP team that the OS cannot create ends the process (and Python's
// interpreter with it) with no message of ours.
inline constexpr int max_threads = 1024;

// ---------------------------------------------------------------- callbacks

// One row of training_metrics.csv as (column, value) pairs in the CSV's
// order, "chunk" first: the losses, per-type activity, what the method did to
// the weights, "wall_seconds" last. The same names are TensorBoard's tags.
using MetricsRow = std::vector<std::pair<std::string, double>>;

// Where a long phase stands ("train", "initial state", "simulate", ...).
struct ProgressUpdate {
  std::string phase;
  double done = 0;       // in `unit`, since the phase began
  double total = 0;
  std::string unit;      // "chunks", "s" (simulated seconds)
  std::string detail;    // e.g. "loss 0.1234"; may be empty
  bool end = false;      // the phase is over (finished or stopped): close its line
};

// How a run talks to its front end. Every member may be left empty.
struct Callbacks {
  // Every log_interval chunks (and at the last chunk), after the row is in
  // the CSV. Returning false stops the run as the stop flag does.
  std::function<bool(const MetricsRow&)> on_log;
  // Console lines for the user (the CLI prints them on stdout), without '\n';
  // a multi-line block comes as one call with embedded '\n'.
  std::function<void(const std::string&)> on_message;
  // Warnings (the CLI prints them on stderr as they come).
  std::function<void(const std::string&)> on_warning;
  // Progress of long phases: after every chunk (the printer throttles), and
  // once with `end` set when the phase is over.
  std::function<void(const ProgressUpdate&)> on_progress;
  // Nonzero = stop at the next safe point. Owned by the caller, which may
  // set it from a signal handler or another thread.
  const std::atomic<int>* stop = nullptr;
  // How this front end's user goes on after a stopped training run, for its
  // message: resume it from `checkpoint`, or start it again over `dir`.
  // Empty: the command line's "homeostat train --resume PATH" and
  // "homeostat train ... -o DIR --overwrite".
  std::function<std::string(const std::string& command, const std::filesystem::path& checkpoint)> resume_hint;
  std::function<std::string(const std::string& command, const std::filesystem::path& dir)> restart_hint;

  bool stop_requested() const { return stop != nullptr && stop->load() != 0; }
};

// A duration for the console: "4:05", "1:02:03"; "--:--" when unknown.
std::string clock_text(double seconds);

// How a run ended. The CLI's exit codes: completed 0, non_finite 3,
// interrupted 130 (errors, as exceptions: 1, or 2 for a ConfigError).
enum class Status { completed, interrupted, non_finite };

// The run would exceed the machine's memory or disk (see estimate below).
class ResourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// The run directory is owned by another live process (DIR/.homeostat.lock).
class LockError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Owns DIR/.homeostat.lock ("pid host\n", created with O_EXCL) while alive:
// every run holds its directory's; a sweep holds a point's while it empties
// it. A lock left by a dead process on this host is stale and taken over;
// one held by a live process (or on another host) throws LockError naming it.
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  static constexpr const char* file_name = ".homeostat.lock";

 private:
  std::filesystem::path path_;
};

// ------------------------------------------------------- resource estimate

// Memory and disk a run will need, by what drives them (largest first):
// ("recording output_voltages", 2.1e10), ("BPTT state checkpoints", 3e9), ...
// Checked before any work against sysconf(_SC_PHYS_PAGES) (90% of it) and
// statvfs of the output directory (half of the free space); over either, the
// run throws ResourceError naming the drivers and the estimate, unless the
// request says `force`. Every run states its disk use, total and parts,
// before it starts: through on_message, or, for one that writes more than
// 1 GB (or over half the free space, forced), once through on_warning.
struct ResourceEstimate {
  double memory_bytes = 0;
  double disk_bytes = 0;
  std::vector<std::pair<std::string, double>> memory_drivers;
  std::vector<std::pair<std::string, double>> disk_drivers;
};

// The estimates train() and simulate_to_dir() check (the whole run, also
// when resumed); for a front end that wants to show them first. Training's
// depends on the network's edges (the snapshots' format and size): the
// request's network, or the one its config generates.
struct TrainRequest;
struct SimulateDirRequest;
ResourceEstimate estimate(const TrainRequest& request);
ResourceEstimate estimate(const SimulateDirRequest& request);

// ------------------------------------------------------------------ training

struct TrainRequest {
  Method method = Method::gradient;
  Config config;                     // ignored when resuming (the run's parameters.toml is used)
  std::optional<Network> network;    // the starting network; generated from `config` when absent
  std::filesystem::path output_dir;  // with `resume` empty: the new run's directory (required)
                                     // with `resume`: default = the checkpoint's run directory
  std::filesystem::path resume;      // DIR/checkpoints/checkpoint_latest.npz; empty = a new run
  // With `resume`: "simulation.num_chunks=N" (--set's KEY=VALUE) extends the
  // run to N chunks, with the same bits as a run planned for N (nothing in
  // training depends on num_chunks); any other key, or an N below the chunks
  // done, is refused. parameters.toml then says N.
  std::vector<std::string> overrides;
  bool overwrite = false;            // empty an existing homeostat run directory first
  bool force = false;                // go ahead although the resource estimate exceeds the machine
  int threads = 0;                   // 0 = all cores; results do not depend on it
  std::string command_line;          // for metadata.json
  // The ranks of an MPI job that share the batch (README "Running on a
  // cluster"); nullptr: one process. Every rank calls train() alike; rank 0
  // alone writes and talks (the others' callbacks get no messages).
  const parallel::MpiContext* mpi = nullptr;
};

struct TrainSummary {
  Status status = Status::completed;
  std::filesystem::path dir;
  std::int64_t start_chunk = 0;      // chunks already done when this call began (resume)
  std::int64_t chunks_done = 0;
  std::int64_t total_chunks = 0;     // simulation.num_chunks
  double best_loss = 0;
  std::int64_t best_chunk = 0;
  std::filesystem::path checkpoint;  // checkpoint_latest.npz; empty if none was written
  std::string reason;                // non_finite: what was not finite
};

// A training run into `request.output_dir` (train or feedback): the
// directory, checkpoints, metrics, figures and final state of README's
// "Outputs of train". Resume continues bit-identically.
TrainSummary train(const TrainRequest& request, const Callbacks& callbacks = {});

// ---------------------------------------------------------------- simulation

struct SimulateRequest {
  std::int64_t trials = 1;
  std::int64_t steps = 0;
  RecordSpec record;                    // neurons (K of them) and which per-neuron traces
  const InputSource* replay = nullptr;  // recorded inputs (>= trials x steps) instead of Poisson
  std::string progress_label = "simulate";
  // Ranks sharing the trials (as TrainRequest::mpi): each simulates its
  // own, rank 0 gets every chunk's records and alone feeds the sink.
  const parallel::MpiContext* mpi = nullptr;
};

// The shapes a sink is told before the first chunk.
struct SimulationShape {
  std::int64_t trials = 0, steps = 0;
  std::int64_t n = 0, m = 0;  // recurrent neurons, inputs
  std::int64_t receptors = 0; // R
  RecordSpec record;          // as requested (neurons = the K recorded neurons)
};

// Receives a simulation's recordings chunk by chunk, in trial then time
// order. begin() before the first chunk; finish() after the last when it
// completed, abort() instead when it stopped early or threw.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void begin(const SimulationShape& shape) = 0;
  // `record` covers steps [t0, t0 + record's length) of `trial`; its spike
  // and input steps are local to the chunk.
  virtual void chunk(std::int64_t trial, std::int64_t t0, std::int64_t steps, const TrialRecord& record) = 0;
  virtual void finish() = 0;
  virtual void abort() {}
};

// An array with its numpy dtype and shape, C order; `bytes` holds
// product(shape) * dtype_size(dtype) bytes.
struct NamedArray {
  std::string name;
  io::DType dtype = io::DType::f8;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;
};

// Keeps every recording in memory as the arrays of results/, named as its
// files: output_spikes bool [trials, steps, N], input_spikes bool
// [trials, steps, M], and as recorded: output_voltages f32 [trials, steps, K],
// output_conductances f32 [trials, steps, K, 2, R], output_currents f32
// [trials, steps, K, R], recorded_neurons i64 [K].
class ArraySink final : public RecordSink {
 public:
  void begin(const SimulationShape& shape) override;
  void chunk(std::int64_t trial, std::int64_t t0, std::int64_t steps, const TrialRecord& record) override;
  void finish() override {}
  // The arrays, in the order above; moved out (call once).
  std::vector<NamedArray> take();

 private:
  SimulationShape shape_;
  std::vector<NamedArray> arrays_;
};

// What every simulation reports (metadata.json's "simulate" block; the
// figures' and training summaries' numbers).
struct SimulateResult {
  Status status = Status::completed;       // interrupted: stopped between chunks
  std::int64_t steps_done = 0;             // per trial
  std::int64_t recurrent_spikes = 0;
  std::int64_t input_spikes = 0;
  std::int64_t synaptic_events = 0;        // spike deliveries to targets x receptors
  double wall_seconds = 0;                 // the simulation loop (with the sink's writes)
  std::vector<double> mean_rate_hz;        // [cell type]
  std::vector<double> fraction_active;     // [cell type] neuron-trials with at least one spike
  std::vector<double> mean_cv;             // [cell type] ISI CV over neuron-trials with >= 3 spikes
};

// Simulates `request.trials` trials of `request.steps` steps from the
// initial state (Poisson inputs from simulation.seed unless replayed),
// handing each chunk to `sink`; polls the stop flag between chunks.
SimulateResult simulate(const Config& config, const Network& network, const SimulateRequest& request,
                        RecordSink& sink, const Callbacks& callbacks = {});

// `homeostat simulate`: into a directory (results/*.npy streamed,
// analysis/*.csv, network_structure.npz, figures/, parameters.toml,
// metadata.json).
struct SimulateDirRequest {
  Config config;
  std::optional<Network> network;    // generated from `config` when absent
  std::string network_source;        // for metadata: the file it came from; empty = generated
  const ReplayInputs* replay = nullptr;  // recorded inputs (>= trials x duration) instead of Poisson
  std::string input_source;          // for metadata: the file replayed; empty = Poisson
  std::int64_t trials = 1;
  RecordSpec record;                 // what to record (voltages, ... for `neurons`; empty = all neurons)
  bool default_recording = true;     // nothing asked: record all three traces of 3 neurons per
                                     // type (or of record.neurons when given), for the figures
  bool figures = true;
  std::filesystem::path output_dir;
  bool overwrite = false;
  bool force = false;
  int threads = 0;
  std::string command_line;
  const parallel::MpiContext* mpi = nullptr;  // as TrainRequest::mpi: rank 0 alone writes
};
SimulateResult simulate_to_dir(const SimulateDirRequest& request, const Callbacks& callbacks = {});

// Every figure of the simulate run in `dir` (from its files) into `out`
// (`homeostat plot DIR`); one line per figure when `verbose`. The stop flag
// is checked between figures: `interrupted` leaves the rest undrawn (each
// figure drawn is whole).
Status write_run_figures(const std::filesystem::path& dir, const std::filesystem::path& out, bool verbose,
                       const plot::FigureOptions& options, const Callbacks& callbacks = {});

// Recorded input spikes from an .npy of shape [trials, steps, m] (nonzero =
// spike), for replay; `trials` (0 = all) must not exceed what it holds.
// Throws naming the file and what is wrong.
std::unique_ptr<ReplayInputs> load_input_spikes(const std::filesystem::path& path, std::int64_t m,
                                                std::int64_t trials);

// ------------------------------------------------------------------ gradient

struct GradientRequest {
  std::vector<LossTerm> losses;       // also the gradient of each of these alone
  std::int64_t trials = 0;            // 0: training.batch_size, or every trial of the replay
  std::int64_t checkpoint_every = 0;  // BPTT state checkpoints (0: sqrt(steps), at least 16)
  bool double_precision = false;
  double sparse_cutoff = 0;           // 0: exact
  int threads = 0;
  bool force = false;                 // go ahead although the memory estimate exceeds the machine
  // Ranks sharing the trials, whole atoms each (as TrainRequest::mpi):
  // rank 0 gets the arrays, the others an empty list.
  const parallel::MpiContext* mpi = nullptr;
};

struct GradientResult {
  Status status = Status::completed;  // interrupted: stopped by the stop flag; nothing else is set
  // `homeostat gradient`'s npz entries, in its order: loss_total,
  // loss_<term>, weight_ratio (f8 scalars); grad_recurrent_log_weights [N, N],
  // grad_feedforward_log_weights [M, N], grad_recurrent_weights,
  // grad_feedforward_weights (f4, dense [pre, post], 0 where no synapse);
  // the same per requested loss (grad_<loss>_...); in the scaling-factor
  // modes grad_[<loss>_]{recurrent,feedforward}_log_scaling_factors (f8,
  // [pre type, post type]); output_spikes bool [trials, steps, N].
  std::vector<NamedArray> arrays;
  std::int64_t trials = 0, steps = 0;
  double seconds = 0;                 // forward + backward
  std::int64_t checkpoint_every = 0;  // as used
  std::int64_t peak_state_bytes = 0;
};

// One chunk forward and backward from the initial state: the chunk is
// simulation.chunk_size steps of Poisson input, or the whole replay. The stop
// flag is polled between the passes' segments (BPTT checkpoints): a stopped
// gradient returns Status::interrupted and no arrays. With several ranks
// (request.mpi) the flag is not polled: no rank may stop alone inside the
// gradient, whose reductions wait for every rank.
GradientResult gradient(const Config& config, const Network& network, const InputSource* replay,
                        const GradientRequest& request, const Callbacks& callbacks = {});

}  // namespace homeostat::run
