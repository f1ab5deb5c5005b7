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
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

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
  // The key's value as the user wrote it, and what "auto" resolved to.
  const std::string format = sparse ? "sparse" : "dense";
  e.disk_drivers.emplace_back(fmt::format("{} weight snapshots, {} (training.log_interval, simulation.num_chunks, "
                                          "training.weight_snapshots = {})",
                                          logs, sparse ? "edge lists" : "dense",
                                          c.training.weight_snapshots == SnapshotFormat::by_size ? "auto: " + format
                                                                                                  : format),
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

namespace {
std::string disk_text(const ResourceEstimate& e) {
  std::string parts;
  for (const auto& [name, bytes] : e.disk_drivers)
    if (bytes >= 1e3) parts += fmt::format("{}{} {}", parts.empty() ? "" : "; ", name, bytes_text(bytes));
  return fmt::format("expected disk use about {}: {}", bytes_text(e.disk_bytes), parts);
}

std::string drivers_text(const Drivers& d) {
  std::string s;
  for (std::size_t i = 0; i < std::min<std::size_t>(d.size(), 3); ++i)
    s += fmt::format("{}{} {}", i ? "; " : "", d[i].first, bytes_text(d[i].second));
  return s;
}

// Whether a run writing `e` into a disk with `free_bytes` (-1: unknown) is
// announced as large: more than 1 GB, or more than half of what is free.
bool large_write(const ResourceEstimate& e, double free_bytes) {
  return e.disk_bytes > 1e9 || (free_bytes >= 0 && e.disk_bytes > 0.5 * free_bytes);
}

// The free bytes of the filesystem `dir` is (or would be created) on, after
// checking that files can be written there at all: its nearest existing
// ancestor is a writable directory on a read-write filesystem that reports
// a size. Each failure says which, naming both paths; none of them is a
// matter of free space, so a "0 kB free" never stands for one.
double free_space_for_output(const fs::path& dir, bool force) {
  std::error_code ec;
  const fs::path wanted = fs::absolute(dir, ec);
  fs::path at = wanted;
  while (!at.empty() && !fs::exists(at, ec) && at != at.parent_path()) at = at.parent_path();
  // "DIR: it is ..." or "DIR: /a, where it would be created, is ...".
  const std::string subject = at == wanted ? "it" : fmt::format("{}, where it would be created,", at.string());
  auto why = [&](const std::string& what) { return fmt::format("{}: {} {}", dir.string(), subject, what); };
  if (!fs::is_directory(at, ec)) throw std::runtime_error(why("is not a directory"));
  struct statvfs vfs {};
  if (statvfs(at.c_str(), &vfs) != 0)
    throw std::runtime_error(why(fmt::format("cannot be examined (statvfs: {})", std::strerror(errno))));
  if (vfs.f_flag & ST_RDONLY) throw std::runtime_error(why("is on a read-only filesystem; choose another -o"));
  if (::access(at.c_str(), W_OK) != 0)
    throw std::runtime_error(why(fmt::format("is not writable ({}); choose another -o", std::strerror(errno))));
  if (vfs.f_blocks == 0) {
    // proc, sysfs and the like: no size, no free space, not a place for files.
    if (!force)
      throw ResourceError(why("is on a filesystem that reports no space at all (a size of 0 blocks: a pseudo "
                              "filesystem such as /proc or /sys, not a place for files); choose another -o, or pass "
                              "--force if it does hold files"));
    return -1;
  }
  return static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize);
}
}  // namespace

double machine_memory() {
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

double check_resources(const ResourceEstimate& e, const fs::path& dir, bool force, const std::string& command) {
  const double memory = machine_memory();
  const double disk = dir.empty() ? -1 : free_space_for_output(dir, force);
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
  return disk;
}

void say_disk_use(const Callbacks& cb, const ResourceEstimate& e, const fs::path& dir, double free_bytes) {
  // Large but allowed: the same line as a warning, with the free space, so
  // that it is seen before the work starts, never found out later.
  if (large_write(e, free_bytes))
    warning(cb, fmt::format("note: {} into {} ({})", disk_text(e), dir.string(),
                            free_bytes >= 0 ? bytes_text(free_bytes) + " free" : "free space unknown"));
  else
    message(cb, "  " + disk_text(e));
}

}  // namespace detail

}  // namespace homeostat::run
