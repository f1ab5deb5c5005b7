#include "simulate_run.hpp"

#include "common.hpp"

#include "homeostat/analysis.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/io/network_io.hpp"
#include "homeostat/io/npy.hpp"
#include "homeostat/model.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <stdexcept>

namespace homeostat::cli {

namespace fs = std::filesystem;

std::vector<std::int64_t> parse_neuron_list(const std::string& spec, std::int64_t n) {
  std::vector<std::int64_t> out;
  auto number = [&](const std::string& s) -> std::int64_t {
    std::size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || s.empty() || v < 0)
      throw std::invalid_argument(fmt::format("--neurons: '{}' is not a neuron index", s));
    return v;
  };
  std::size_t start = 0;
  while (start <= spec.size()) {
    const std::size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string item = spec.substr(start, comma - start);
    const std::size_t colon = item.find(':');
    std::int64_t lo, hi;
    if (colon == std::string::npos) {
      lo = number(item);
      hi = lo + 1;
    } else {
      lo = number(item.substr(0, colon));
      hi = number(item.substr(colon + 1));
      if (hi <= lo) throw std::invalid_argument(fmt::format("--neurons: empty range '{}' (use FIRST:END, END excluded)", item));
    }
    if (hi > n) throw std::invalid_argument(fmt::format("--neurons: '{}' reaches beyond the {} neurons", item, n));
    for (std::int64_t i = lo; i < hi; ++i) out.push_back(i);
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

// Voltage statistics per cell type from each neuron-trial's running moments.
std::string voltage_statistics_csv(const std::vector<std::vector<double>>& v_sum,
                                   const std::vector<std::vector<double>>& v_sum_sq, std::int64_t steps,
                                   const Config& config, const Network& net) {
  const auto& names = config.recurrent.type_names;
  std::vector<std::vector<double>> mean(names.size()), sd(names.size()), ratio(names.size());
  for (std::size_t b = 0; b < v_sum.size(); ++b) {
    for (std::int64_t i = 0; i < net.n; ++i) {
      const double mu = v_sum[b][i] / static_cast<double>(steps);
      const double var = std::max(0.0, v_sum_sq[b][i] / static_cast<double>(steps) - mu * mu);
      const double theta = config.recurrent.physiology[net.cell_type[i]].theta;
      const auto t = static_cast<std::size_t>(net.cell_type[i]);
      mean[t].push_back(mu);
      sd[t].push_back(std::sqrt(var));
      ratio[t].push_back(std::sqrt(var) / (theta - mu));
    }
  }
  std::string out = "cell_type,n,mean_v_mv,mean_sd_v_mv,mean_membrane_ratio,std_membrane_ratio\n";
  for (std::size_t t = 0; t < names.size(); ++t) {
    const Summary m = summarize(mean[t]), s = summarize(sd[t]), r = summarize(ratio[t]);
    out += fmt::format("{},{},{:.6g},{:.6g},{:.6g},{:.6g}\n", names[t], m.count, m.mean, s.mean, r.mean, r.std);
  }
  return out;
}

std::string isi_histogram_csv(const std::vector<SpikeTrains>& trials, const Config& config, const Network& net) {
  // Log-spaced bins from one step to the recording length cover both bursts
  // and long silences.
  const double dt = config.simulation.dt;
  const double t_max = std::max(2 * dt, trials.empty() ? dt : trials[0].n_steps * dt);
  std::vector<double> edges;
  const int n_bins = 60;
  for (int k = 0; k <= n_bins; ++k) edges.push_back(dt * std::pow(t_max / dt, static_cast<double>(k) / n_bins));
  edges.back() = t_max + dt;
  const auto& names = config.recurrent.type_names;
  std::vector<std::vector<std::int64_t>> counts(names.size(), std::vector<std::int64_t>(n_bins, 0));
  for (std::size_t t = 0; t < names.size(); ++t) {
    std::vector<std::int64_t> members;
    for (std::int64_t i = 0; i < net.n; ++i)
      if (net.cell_type[i] == static_cast<std::int32_t>(t)) members.push_back(i);
    for (const auto& tr : trials) {
      const auto c = isi_histogram(tr, members, edges);
      for (int k = 0; k < n_bins; ++k) counts[t][k] += c[k];
    }
  }
  std::string out = "bin_start_ms,bin_end_ms";
  for (const auto& nm : names) out += "," + nm;
  out += "\n";
  for (int k = 0; k < n_bins; ++k) {
    out += fmt::format("{:.6g},{:.6g}", edges[k], edges[k + 1]);
    for (std::size_t t = 0; t < names.size(); ++t) out += fmt::format(",{}", counts[t][k]);
    out += "\n";
  }
  return out;
}

}  // namespace

SimulateSummary simulate_to_dir(const Config& config, const Network& net, const SimulateRequest& req,
                                const fs::path& dir) {
  const LoweredModel<float> model = lower<float>(config, net);
  const std::int64_t n = net.n, m = net.m, trials = req.trials, steps = req.steps;
  const std::int64_t n_rec = model.n_receptors;
  const auto n_watch = static_cast<std::int64_t>(req.record.neurons.size());
  const fs::path results = dir / "results";
  fs::create_directories(results);
  fs::create_directories(dir / "analysis");

  // The connectome first: it is what every later file refers to.
  io::save_network(dir / "network_structure.npz", net);
  io::write_npy(results / "recurrent_weights.npy", io::dense_weights_f32(net.recurrent), {n, n});
  io::write_npy(results / "feedforward_weights.npy", io::dense_weights_f32(net.feedforward), {m, n});
  {
    const auto rc = io::dense_mask(net.recurrent), fc = io::dense_mask(net.feedforward);
    const std::vector<std::uint8_t> rcb(rc.begin(), rc.end()), fcb(fc.begin(), fc.end());
    io::write_npy(results / "recurrent_connectivity.npy", io::DType::b1, {n, n}, rcb.data());
    io::write_npy(results / "feedforward_connectivity.npy", io::DType::b1, {m, n}, fcb.data());
  }

  // Recordings stream to disk chunk by chunk: memory stays bounded whatever
  // the duration.
  io::NpyStreamWriter spikes_out(results / "output_spikes.npy", io::DType::b1, {trials, steps, n});
  io::NpyStreamWriter inputs_out(results / "input_spikes.npy", io::DType::b1, {trials, steps, m});
  std::unique_ptr<io::NpyStreamWriter> volt_out, cond_out, curr_out;
  if (req.record.voltages)
    volt_out = std::make_unique<io::NpyStreamWriter>(results / "output_voltages.npy", io::DType::f4,
                                                     std::vector<std::int64_t>{trials, steps, n_watch});
  if (req.record.conductances)
    cond_out = std::make_unique<io::NpyStreamWriter>(results / "output_conductances.npy", io::DType::f4,
                                                     std::vector<std::int64_t>{trials, steps, n_watch, 2, n_rec});
  if (req.record.currents)
    curr_out = std::make_unique<io::NpyStreamWriter>(results / "output_currents.npy", io::DType::f4,
                                                     std::vector<std::int64_t>{trials, steps, n_watch, n_rec});

  std::optional<PoissonInputs> poisson;
  if (!req.replay) poisson.emplace(config.simulation.seed, net.input_type, config.feedforward.firing_rate, config.simulation.dt);
  const InputSource& inputs = req.replay ? *req.replay : static_cast<const InputSource&>(*poisson);

  std::vector<TrialState<float>> states(trials, initial_state(model));
  std::vector<SpikeTrains> trains(trials);
  for (auto& tr : trains) {
    tr.n_steps = steps;
    tr.dt = config.simulation.dt;
    tr.times.assign(n, {});
  }
  std::vector<std::vector<double>> v_sum(trials, std::vector<double>(n, 0.0)), v_sum_sq = v_sum;
  RecordSpec spec = req.record;
  spec.input_spikes = true;

  SimulateSummary summary;
  const std::int64_t chunk = config.simulation.chunk_size;
  const double total_ms = static_cast<double>(steps) * config.simulation.dt;
  Progress progress(req.progress_label, total_ms / 1000.0, "s");
  std::vector<TrialRecord> records;
  std::vector<std::uint8_t> slab;
  // Timed: the simulation loop and its streaming writes, not the network
  // files before it or the analysis after it.
  const auto loop_start = std::chrono::steady_clock::now();
  for (std::int64_t t0 = 0; t0 < steps; t0 += chunk) {
    const std::int64_t len = std::min(chunk, steps - t0);
    run_chunk(model, inputs, states, 0, t0, len, spec, &records);
    for (std::int64_t b = 0; b < trials; ++b) {
      const TrialRecord& r = records[b];
      slab.assign(static_cast<std::size_t>(len * n), 0);
      for (std::size_t e = 0; e < r.spike_step.size(); ++e) {
        slab[r.spike_step[e] * n + r.spike_neuron[e]] = 1;
        trains[b].times[r.spike_neuron[e]].push_back(t0 + r.spike_step[e]);
      }
      summary.synaptic_events += synaptic_events(model, r);
      spikes_out.write((b * steps + t0) * n, slab.data(), len * n);
      summary.recurrent_spikes += static_cast<std::int64_t>(r.spike_step.size());
      slab.assign(static_cast<std::size_t>(len * m), 0);
      for (std::size_t e = 0; e < r.input_step.size(); ++e) {
        slab[r.input_step[e] * m + r.input_neuron[e]] = 1;
      }
      inputs_out.write((b * steps + t0) * m, slab.data(), len * m);
      summary.input_spikes += static_cast<std::int64_t>(r.input_step.size());
      if (volt_out) volt_out->write((b * steps + t0) * n_watch, r.voltages.data(), len * n_watch);
      if (cond_out)
        cond_out->write((b * steps + t0) * n_watch * 2 * n_rec, r.conductances.data(), len * n_watch * 2 * n_rec);
      if (curr_out) curr_out->write((b * steps + t0) * n_watch * n_rec, r.currents.data(), len * n_watch * n_rec);
      for (std::int64_t i = 0; i < n; ++i) {
        v_sum[b][i] += r.v_sum[i];
        v_sum_sq[b][i] += r.v_sum_sq[i];
      }
    }
    progress.update(static_cast<double>(t0 + len) * config.simulation.dt / 1000.0);
  }
  progress.finish();
  summary.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_start).count();
  spikes_out.commit();
  inputs_out.commit();
  if (volt_out) volt_out->commit();
  if (cond_out) cond_out->commit();
  if (curr_out) curr_out->commit();
  if (n_watch > 0 && (volt_out || cond_out || curr_out))
    io::write_npy(results / "recorded_neurons.npy", req.record.neurons, {n_watch});

  TypeGroups groups{config.recurrent.type_names, net.cell_type};
  const std::vector<TypeActivity> activity = type_activity(trains, groups);
  io::write_file_atomic(dir / "analysis" / "firing_rate_statistics.csv", firing_rate_csv(activity, groups));
  io::write_file_atomic(dir / "analysis" / "cv_statistics.csv", cv_csv(activity, groups));
  io::write_file_atomic(dir / "analysis" / "fano_factor.csv",
                        fano_csv(trains, groups, {1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0}));
  io::write_file_atomic(dir / "analysis" / "isi_histogram.csv", isi_histogram_csv(trains, config, net));
  io::write_file_atomic(dir / "analysis" / "voltage_statistics.csv",
                        voltage_statistics_csv(v_sum, v_sum_sq, steps, config, net));

  for (const TypeActivity& a : activity) {
    summary.mean_rate_hz.push_back(a.rate.mean);
    summary.fraction_active.push_back(a.fraction_active());
    summary.mean_cv.push_back(a.cv.mean);
  }
  return summary;
}

}  // namespace homeostat::cli
