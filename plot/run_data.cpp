// load_run: a simulate run directory -> RunData, reading each raster once in
// slabs of steps and keeping only sparse spike times and a short window of
// the recordings.
#include "homeostat/plot/run_data.hpp"

#include "npy_slab.hpp"

#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/network_io.hpp"
#include "homeostat/io/npy.hpp"
#include "homeostat/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace homeostat::plot {

namespace fs = std::filesystem;

namespace {

// Spike trains of trials [0, n_trials) of a bool raster [trials, steps, n].
std::vector<SpikeTrains> read_raster(const fs::path& path, std::int64_t n, std::int64_t n_trials_max, double dt) {
  NpySlabReader r(path);
  const auto& shape = r.shape();
  if (shape.size() != 3 || shape[2] != n)
    throw std::runtime_error(path.string() + ": expected shape [trials, steps, " + std::to_string(n) + "]");
  if (r.dtype() != io::DType::b1 && r.dtype() != io::DType::u1)
    throw std::runtime_error(path.string() + ": expected a bool raster");
  const std::int64_t trials = std::min(shape[0], n_trials_max), steps = shape[1];
  std::vector<SpikeTrains> out(trials);
  // About 16 MB per read.
  const std::int64_t slab = std::max<std::int64_t>(1, (std::int64_t{16} << 20) / std::max<std::int64_t>(n, 1));
  std::string buf;
  for (std::int64_t b = 0; b < trials; ++b) {
    out[b].n_steps = steps;
    out[b].dt = dt;
    out[b].times.assign(n, {});
    for (std::int64_t t0 = 0; t0 < steps; t0 += slab) {
      const std::int64_t len = std::min(slab, steps - t0);
      r.read((b * steps + t0) * n, len * n, buf);
      // Whole words of zeros are skipped: spikes are rare.
      const char* p = buf.data();
      const std::size_t size = buf.size();
      std::size_t k = 0;
      while (k < size) {
        if (k + 8 <= size) {
          std::uint64_t word;
          std::memcpy(&word, p + k, 8);
          if (word == 0) {
            k += 8;
            continue;
          }
        }
        const std::size_t end = std::min(size, k + 8);
        for (; k < end; ++k)
          if (p[k]) out[b].times[static_cast<std::int64_t>(k) % n].push_back(t0 + static_cast<std::int64_t>(k) / n);
      }
    }
  }
  return out;
}

// The window [0, steps) of trial 0 of a recording [trials, T, K, row...],
// columns `ks` only: [steps][ks.size()][row].
std::vector<float> read_window(const fs::path& path, std::int64_t k_total, std::int64_t row,
                               const std::vector<std::size_t>& ks, std::int64_t steps) {
  NpySlabReader r(path);
  const auto& shape = r.shape();
  if (shape.size() < 3 || shape[2] != k_total)
    throw std::runtime_error(path.string() + ": expected " + std::to_string(k_total) + " recorded neurons on axis 2");
  std::int64_t row_elems = 1;
  for (std::size_t a = 3; a < shape.size(); ++a) row_elems *= shape[a];
  if (row_elems != row) throw std::runtime_error(path.string() + ": unexpected shape");
  steps = std::min(steps, shape[1]);
  std::vector<float> out;
  out.reserve(static_cast<std::size_t>(steps) * ks.size() * row);
  const std::int64_t step_elems = k_total * row;
  if (step_elems * steps <= (std::int64_t{64} << 20) / 4) {
    // Small: one read, then pick the columns.
    const auto all = r.read_f32(0, step_elems * steps);
    for (std::int64_t s = 0; s < steps; ++s)
      for (const auto k : ks) {
        const auto* src = all.data() + s * step_elems + static_cast<std::int64_t>(k) * row;
        out.insert(out.end(), src, src + row);
      }
  } else {
    for (std::int64_t s = 0; s < steps; ++s)
      for (const auto k : ks) {
        const auto v = r.read_f32(s * step_elems + static_cast<std::int64_t>(k) * row, row);
        out.insert(out.end(), v.begin(), v.end());
      }
  }
  return out;
}

}  // namespace

std::vector<std::int64_t> pick_per_type(const std::vector<std::int64_t>& recorded,
                                        const std::vector<std::int32_t>& cell_type, int per_type) {
  std::int32_t n_types = 0;
  for (const auto i : recorded) n_types = std::max(n_types, cell_type.at(i) + 1);
  std::vector<std::int64_t> out;
  for (std::int32_t t = 0; t < n_types; ++t) {
    std::vector<std::int64_t> m;
    for (const auto i : recorded)
      if (cell_type.at(i) == t) m.push_back(i);
    const auto size = static_cast<std::int64_t>(m.size());
    const std::int64_t take = std::min<std::int64_t>(size, per_type);
    for (std::int64_t j = 0; j < take; ++j) out.push_back(m[static_cast<std::size_t>((2 * j + 1) * size / (2 * take))]);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

fs::path run_parameters(const fs::path& dir) {
  const fs::path own = dir / "parameters.toml";
  if (fs::exists(own)) return own;
  // A state directory of a training run (DIR/initial_state, DIR/final_state)
  // was simulated with the run's configuration, one level up.
  fs::path state = fs::absolute(dir).lexically_normal();
  if (state.filename().empty()) state = state.parent_path();  // "DIR/final_state/"
  const fs::path run = state.parent_path() / "parameters.toml";
  if (fs::exists(dir / "network_structure.npz") && fs::exists(run)) return run;
  return own;  // the error names the file a simulate run has
}

RunData load_run(const fs::path& dir, const LoadOptions& options) {
  if (!fs::is_directory(dir)) throw std::runtime_error(dir.string() + ": not a run directory");
  RunData d;
  d.config = io::load_config(run_parameters(dir));
  d.network = io::load_network(dir / "network_structure.npz", d.config);
  load_recordings(dir, d, options);
  return d;
}

void load_recordings(const fs::path& dir, RunData& d, const LoadOptions& options) {
  const double dt = d.config.simulation.dt;
  const fs::path results = dir / "results";
  d.output_spikes = read_raster(results / "output_spikes.npy", d.network.n, std::numeric_limits<std::int64_t>::max(), dt);
  if (fs::exists(results / "input_spikes.npy")) {
    auto in = read_raster(results / "input_spikes.npy", d.network.m, 1, dt);
    if (!in.empty()) d.input_spikes = std::move(in[0]);
  }

  const fs::path rec = results / "recorded_neurons.npy";
  if (!fs::exists(rec)) return;
  const auto recorded = io::read_npy(rec).values<std::int64_t>();
  for (const auto i : recorded)
    if (i < 0 || i >= d.network.n) throw std::runtime_error(rec.string() + ": neuron index out of range");
  Dynamics& dy = d.dynamics;
  dy.neurons = pick_per_type(recorded, d.network.cell_type, options.dynamics_per_type);
  std::vector<std::size_t> ks;
  for (const auto i : dy.neurons)
    ks.push_back(static_cast<std::size_t>(std::lower_bound(recorded.begin(), recorded.end(), i) - recorded.begin()));
  const auto k_total = static_cast<std::int64_t>(recorded.size());
  dy.n_receptors = static_cast<std::int64_t>(receptor_columns(d.config).size());
  const std::int64_t total_steps = d.output_spikes.empty() ? 0 : d.output_spikes[0].n_steps;
  dy.n_steps = std::min<std::int64_t>(total_steps, std::llround(options.dynamics_window_ms / dt));
  if (fs::exists(results / "output_voltages.npy"))
    dy.voltages = read_window(results / "output_voltages.npy", k_total, 1, ks, dy.n_steps);
  if (fs::exists(results / "output_conductances.npy"))
    dy.conductances = read_window(results / "output_conductances.npy", k_total, 2 * dy.n_receptors, ks, dy.n_steps);
  if (fs::exists(results / "output_currents.npy"))
    dy.currents = read_window(results / "output_currents.npy", k_total, dy.n_receptors, ks, dy.n_steps);
}

}  // namespace homeostat::plot
