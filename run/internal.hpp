// What the run driver's files share: the run directory (preparation, lock,
// metadata), the resource check, messages through the callbacks, and the
// simulation loop that the directory writer and the training states use.
// Private to homeostat_run.
#pragma once

#include "homeostat/analysis.hpp"
#include "homeostat/grad.hpp"
#include "homeostat/run.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace homeostat::plot {
struct FigureOptions;
}

namespace homeostat::run::detail {

namespace fs = std::filesystem;

// ---- messages
void message(const Callbacks& cb, const std::string& text);
void warning(const Callbacks& cb, const std::string& text);
void progress(const Callbacks& cb, const std::string& phase, double done, double total, const std::string& unit,
              const std::string& detail = {}, bool end = false);

// ---- ranks (README "Running on a cluster")

// The processes of a run: the ranks of an MPI job that share its trials, or
// one process (no context). Rank 0 alone writes files and talks to the user.
struct Ranks {
  const parallel::MpiContext* mpi = nullptr;
  int size() const;
  int rank() const;
  bool root() const { return rank() == 0; }
  bool any(bool mine) const;  // the same answer on every rank
  // The trials of this rank (rank_trials: whole units of `unit` trials), every rank's
  // for the console, and what the ranks agree on: `callbacks` on rank 0,
  // only the stop flag on the others.
  TrialRange trials(std::int64_t batch, std::int64_t unit) const;
  std::string split_text(std::int64_t batch, std::int64_t unit) const;  // "" for one process
  Callbacks callbacks(const Callbacks& callbacks) const;
};

// ---- the run directory

// Creates `dir` and locks it. An existing non-empty directory is refused
// unless `overwrite`; then it is emptied first, but only when it looks like
// a homeostat run (parameters.toml or metadata.json in it); anything else is
// refused naming what is there. Call only after every input has been
// checked, so that a rejected run leaves nothing behind.
std::unique_ptr<RunLock> prepare_output_dir(const fs::path& dir, bool overwrite);

// Start times of a run, for metadata.json.
struct RunClock {
  std::chrono::system_clock::time_point start = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point start_steady = std::chrono::steady_clock::now();
};
nlohmann::ordered_json metadata(const RunClock& clock, const std::string& command, const Config& config, int threads);
// Writes parameters.toml and metadata.json into `dir`.
void write_run_files(const fs::path& dir, const Config& config, const nlohmann::ordered_json& meta);
int apply_threads(int threads);  // the thread count in effect
// The same for one of `ranks`: 0 = this node's cores shared by its ranks.
int apply_threads(int threads, const Ranks& ranks);

// Throws ResourceError when `e` exceeds 90% of the machine's memory or half
// the free disk under `dir`, unless `force`; returns that free space [bytes]
// (-1: unknown). `dir` empty: nothing is written (memory only). Before the
// free space, `dir` must be a place for files: where it is (or would be
// created) a writable directory on a read-write filesystem; one that reports
// no size (/proc, /sys) is refused unless `force`. Each error names the path
// and what is wrong there.
double check_resources(const ResourceEstimate& e, const fs::path& dir, bool force, const std::string& command);
// The console line a run starts with: its expected disk use, total and every
// part ("expected disk use about 1.2 GB: <part> 1 GB; <part> 200 MB; ...");
// a run writing more than 1 GB (or over half of `free_bytes`) says it once,
// as a warning ("note: ...") with the directory and its free space.
void say_disk_use(const Callbacks& callbacks, const ResourceEstimate& e, const fs::path& dir, double free_bytes);
std::string bytes_text(double bytes);  // "1.2 GB"
double machine_memory();               // physical memory [bytes]

// Training's weight snapshots as edge lists (training.weight_snapshots;
// "auto": when one dense snapshot of [N, N] and [M, N] float32 would exceed
// sparse_snapshot_bytes and the network's `edges` take less).
inline constexpr double sparse_snapshot_bytes = 16e6;
bool sparse_snapshots(const Config& config, std::int64_t edges);

// ---- simulations

// What the loop keeps beside the sink: spike trains and membrane moments of
// every neuron-trial, for the analysis tables.
struct SimulationTrace {
  std::vector<SpikeTrains> trains;                      // [trial]
  std::vector<std::vector<double>> v_sum, v_sum_sq;     // [trial][neuron] over the steps done
};
SimulateResult simulate_traced(const Config& config, const Network& network, const SimulateRequest& request,
                               RecordSink& sink, const Callbacks& callbacks, SimulationTrace& trace);

// Writes results/ (streamed), analysis/ and network_structure.npz of a
// simulation into `dir` (the `simulate` layout); figures are separate.
// `dense_results`: results/ also holds the dense weight and connectivity
// matrices (`simulate`); training's states leave out these copies of
// network_structure.npz. Interrupted: no recording is left, temporary files
// removed.
SimulateResult simulate_into(const Config& config, const Network& network, const SimulateRequest& request,
                             const fs::path& dir, const Callbacks& callbacks, bool dense_results);

// Every simulate figure of run `dir` into `out` (cmd `plot`, simulate,
// training states); with config and network, those in memory are used.
// Checks the stop flag between figures: `interrupted` leaves the rest
// undrawn, and no "Saved plots" line.
Status write_run_figures(const fs::path& dir, const fs::path& out, bool verbose, const plot::FigureOptions& options,
                       const Config* config, const Network* network, const Callbacks& callbacks);

// The estimate of a `simulation.duration` run as written into a directory
// (`dense_results`: with results/'s dense weight and connectivity matrices).
ResourceEstimate simulate_estimate(const Config& config, std::int64_t trials, std::int64_t steps,
                                   const RecordSpec& record, bool dense_results);

}  // namespace homeostat::run::detail
