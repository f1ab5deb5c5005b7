// Resource estimates, checked before any work: a run that cannot fit the
// machine's memory or the output disk is refused up front (naming what
// drives the estimate), not found out hours later. Rough upper bounds of the
// large terms only; small buffers are left out.
#include "internal.hpp"

#include "homeostat/model.hpp"

#include <fmt/format.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace homeostat::run {

namespace {

using Drivers = std::vector<std::pair<std::string, double>>;

double total(const Drivers& d) {
  double s = 0;
  for (const auto& [name, bytes] : d) s += bytes;
  return s;
}

void sort_drivers(Drivers& d) {
  std::stable_sort(d.begin(), d.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
}

// The dense [N, N] and [M, N] float32 matrices.
double dense_weights_bytes(const Config& c) {
  const double n = static_cast<double>(c.recurrent.num_neurons), m = static_cast<double>(c.feedforward.num_neurons);
  return 4.0 * (n * n + m * n);
}

// The two edge lists as save_sparse_weights writes them: f4 weight and i4
// target per edge, i8 row pointers.
double sparse_weights_bytes(const Config& c, std::int64_t edges) {
  const double n = static_cast<double>(c.recurrent.num_neurons), m = static_cast<double>(c.feedforward.num_neurons);
  return 8.0 * static_cast<double>(edges) + 8.0 * (n + m + 2);
}

}  // namespace

bool detail::sparse_snapshots(const Config& c, std::int64_t edges) {
  switch (c.training.weight_snapshots) {
    case SnapshotFormat::sparse: return true;
    case SnapshotFormat::dense: return false;
    case SnapshotFormat::by_size: break;
  }
  return dense_weights_bytes(c) > sparse_snapshot_bytes && sparse_weights_bytes(c, edges) < dense_weights_bytes(c);
}

ResourceEstimate detail::simulate_estimate(const Config& c, std::int64_t trials, std::int64_t steps,
                                           const RecordSpec& record, bool dense_results) {
  ResourceEstimate e;
  const double n = static_cast<double>(c.recurrent.num_neurons), m = static_cast<double>(c.feedforward.num_neurons);
  const double ts = static_cast<double>(trials) * static_cast<double>(steps);
  const double k = static_cast<double>(record.neurons.size());
  const double r = static_cast<double>(receptor_columns(c).size());
  e.disk_drivers.emplace_back("recording output_spikes (trials x steps x N)", ts * n);
  e.disk_drivers.emplace_back("recording input_spikes (trials x steps x M)", ts * m);
  if (record.voltages) e.disk_drivers.emplace_back("recording output_voltages (--record voltages, --neurons)", ts * k * 4);
  if (record.conductances)
    e.disk_drivers.emplace_back("recording output_conductances (--record conductances, --neurons)", ts * k * 2 * r * 4);
  if (record.currents)
    e.disk_drivers.emplace_back("recording output_currents (--record currents, --neurons)", ts * k * r * 4);
  // network_structure.npz: dense weights and masks, deflated (at most this).
  e.disk_drivers.emplace_back("network_structure.npz (N, M)", dense_weights_bytes(c) * 1.25);
  if (dense_results) e.disk_drivers.emplace_back("results/ dense weights and masks (N, M)", dense_weights_bytes(c) * 1.25);
  // Memory: the dense arrays written once, one chunk's records of every
  // trial, the network state.
  const double chunk = static_cast<double>(std::min<std::int64_t>(c.simulation.chunk_size, steps));
  const double per_chunk = static_cast<double>(trials) * chunk *
                           (4.0 * k * (record.voltages + 2 * r * record.conductances + r * record.currents) + 2 * (n + m));
  e.memory_drivers.emplace_back("dense weights (N, M)", dense_weights_bytes(c));
  e.memory_drivers.emplace_back("one chunk of recordings (simulation.chunk_size, trials, --neurons)", per_chunk);
  sort_drivers(e.disk_drivers);
  sort_drivers(e.memory_drivers);
  e.disk_bytes = total(e.disk_drivers);
  e.memory_bytes = total(e.memory_drivers);
  return e;
}

ResourceEstimate estimate(const SimulateDirRequest& req) {
  const Config& c = req.config;
  return detail::simulate_estimate(c, req.trials, std::llround(c.simulation.duration / c.simulation.dt), req.record,
                                   true);
}

ResourceEstimate estimate(const TrainRequest& req) {
  const Config& c = req.config;
  ResourceEstimate e;
  const double n = static_cast<double>(c.recurrent.num_neurons);
  const double b = static_cast<double>(c.training.batch_size);
  const double steps = static_cast<double>(c.simulation.chunk_size);
  const double r = static_cast<double>(receptor_columns(c).size());
  // BPTT (grad.hpp chunk_gradient's peak_state_bytes): a state every K =
  // max(16, sqrt(steps)) steps for every trial, the recomputed traces of a
  // segment, the adjoints.
  if (req.method == Method::gradient) {
    const double k_every = std::max(16.0, std::sqrt(steps));
    const double state = n * (4.0 * (1 + 2 * r) + 4 + 8);
    e.memory_drivers.emplace_back("BPTT state checkpoints (training.batch_size, simulation.chunk_size, N)",
                                  state * b * std::ceil(steps / k_every));
    e.memory_drivers.emplace_back("BPTT traces and adjoints (training.batch_size, N)",
                                  n * 16.0 * b * (k_every + 1) + (3 + 2 * r) * n * b * 4.0);
  }
  e.memory_drivers.emplace_back("spike records of a chunk (training.batch_size, simulation.chunk_size)",
                                b * steps * n * 0.05 * 8);  // a spike costs 8 bytes; 5% of neuron-steps is generous
  // The network's edges decide the snapshots' format and size: the
  // request's network, or the one the run would generate.
  const Network generated = req.network ? Network{} : generate_network(c);
  const Network& net = req.network ? *req.network : generated;
  const std::int64_t edges = net.recurrent.n_edges() + net.feedforward.n_edges();
  const bool sparse = detail::sparse_snapshots(c, edges);
  const double snapshot = sparse ? sparse_weights_bytes(c, edges) : dense_weights_bytes(c);
  e.memory_drivers.emplace_back("a weight snapshot (N, M)", snapshot);
  // Disk: a weight snapshot every log_interval chunks (and at the last), the
  // two states' simulations (3 neurons per type recorded), checkpoints.
  const double logs = std::ceil(static_cast<double>(c.simulation.num_chunks) /
                                static_cast<double>(std::max<std::int64_t>(1, c.training.log_interval)));
  e.disk_drivers.emplace_back(fmt::format("{} weight snapshots (training.log_interval, simulation.num_chunks, "
                                          "training.weight_snapshots = {})",
                                          logs, sparse ? "edge lists" : "dense"),
                              logs * snapshot);
  const std::int64_t state_steps = std::llround(c.simulation.duration / c.simulation.dt);
  RecordSpec rec;
  rec.voltages = rec.conductances = rec.currents = true;
  rec.neurons.resize(3 * c.recurrent.type_names.size());
  const ResourceEstimate sim = detail::simulate_estimate(c, 1, state_steps, rec, false);
  e.disk_drivers.emplace_back("initial and final state simulations (simulation.duration)", 2 * sim.disk_bytes);
  // latest and best: the network state of every trial, the parameters and
  // Adam's two moments and accumulated gradient (f8 per edge).
  e.disk_drivers.emplace_back("checkpoints (N, training.batch_size)",
                              2 * (b * n * (4.0 * (1 + 2 * r) + 12) + 32.0 * static_cast<double>(edges)));
  sort_drivers(e.disk_drivers);
  sort_drivers(e.memory_drivers);
  e.disk_bytes = total(e.disk_drivers);
  e.memory_bytes = total(e.memory_drivers);
  return e;
}

namespace detail {

std::string bytes_text(double bytes) {
  if (bytes >= 1e9) return fmt::format("{:.3g} GB", bytes / 1e9);
  if (bytes >= 1e6) return fmt::format("{:.3g} MB", bytes / 1e6);
  return fmt::format("{:.3g} kB", bytes / 1e3);
}

std::string disk_text(const ResourceEstimate& e) {
  std::string parts;
  for (const auto& [name, bytes] : e.disk_drivers)
    if (bytes >= 1e3) parts += fmt::format("{}{} {}", parts.empty() ? "" : "; ", name, bytes_text(bytes));
  return fmt::format("expected disk use about {}: {}", bytes_text(e.disk_bytes), parts);
}

namespace {
std::string drivers_text(const Drivers& d) {
  std::string s;
  for (std::size_t i = 0; i < std::min<std::size_t>(d.size(), 3); ++i)
    s += fmt::format("{}{} {}", i ? "; " : "", d[i].first, bytes_text(d[i].second));
  return s;
}
}  // namespace

double machine_memory() {
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

void check_resources(const ResourceEstimate& e, const fs::path& dir, bool force, const std::string& command,
                     const Callbacks& cb) {
  const double memory = machine_memory();
  // Free space where the directory is (or would be): its nearest existing ancestor.
  fs::path at = fs::absolute(dir);
  while (!at.empty() && !fs::exists(at) && at != at.parent_path()) at = at.parent_path();
  struct statvfs vfs {};
  const double disk = statvfs(at.c_str(), &vfs) == 0 ? static_cast<double>(vfs.f_bavail) * vfs.f_frsize : -1;
  // Memory: most of the machine (the OS and the page cache need the rest).
  // Disk: half of what is free, so that one run does not fill a shared disk.
  const bool memory_over = memory > 0 && e.memory_bytes > 0.9 * memory;
  const bool disk_over = disk >= 0 && e.disk_bytes > 0.5 * disk;
  if (memory_over && !force)
    throw ResourceError(fmt::format(
        "{} would need about {} of memory, this machine has {}: {}. Reduce these, or pass --force to go ahead",
        command, bytes_text(e.memory_bytes), bytes_text(memory), drivers_text(e.memory_drivers)));
  if (disk_over && !force)
    throw ResourceError(fmt::format(
        "{} would write about {} into {}, which has {} free (a run may take half): {}. Reduce these, or pass "
        "--force to go ahead",
        command, bytes_text(e.disk_bytes), dir.string(), bytes_text(disk), drivers_text(e.disk_drivers)));
  // Large but allowed: said before the work starts, never found out later.
  if (e.disk_bytes > 1e9 || disk_over)
    warning(cb, fmt::format("note: {} will write about {} into {} ({} free): {}", command, bytes_text(e.disk_bytes),
                            dir.string(), disk >= 0 ? bytes_text(disk) : "?", drivers_text(e.disk_drivers)));
}

}  // namespace detail

}  // namespace homeostat::run
