// Simulations: the chunk loop (stop flag between chunks), the in-memory
// sink, the `simulate` directory writer, and `homeostat simulate` itself.
#include "internal.hpp"

#include "homeostat/io/analysis_csv.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/io/network_io.hpp"
#include "homeostat/io/npy.hpp"
#include "homeostat/model.hpp"
#include "homeostat/parallel/ranks.hpp"
#include "homeostat/plot/figures.hpp"
#include "homeostat/plot/run_data.hpp"

#include <fmt/format.h>

#include "homeostat/io/input_spikes.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>

namespace homeostat::run {

namespace fs = std::filesystem;

std::unique_ptr<ReplayInputs> load_input_spikes(const fs::path& file, std::int64_t m, std::int64_t trials) {
  return io::load_input_spikes(file, m, trials);  // every value and shape checked there
}

// ---- the chunk loop

SimulateResult detail::simulate_traced(const Config& config, const Network& net, const SimulateRequest& req,
                                       RecordSink& sink, const Callbacks& cb, SimulationTrace& trace) {
  const LoweredModel<float> model = lower<float>(config, net);
  const std::int64_t n = net.n, trials = req.trials, steps = req.steps;
  // Several ranks: each simulates its trials; rank 0 gets every record.
  const Ranks ranks{req.mpi};
  const TrialRange mine = ranks.trials(trials, 1);
  // The sink first: it may refuse a shape it cannot hold before anything is allocated.
  if (ranks.root()) sink.begin(SimulationShape{trials, steps, n, net.m, model.n_receptors, req.record});
  std::optional<PoissonInputs> poisson;
  if (!req.replay) poisson.emplace(config.simulation.seed, net.input_type, config.feedforward.firing_rate, config.simulation.dt);
  const InputSource& inputs = req.replay ? *req.replay : static_cast<const InputSource&>(*poisson);

  std::vector<TrialState<float>> states(mine.count, initial_state(model));
  trace.trains.assign(trials, {});
  for (auto& tr : trace.trains) {
    tr.n_steps = steps;
    tr.dt = config.simulation.dt;
    tr.times.assign(n, {});
  }
  trace.v_sum.assign(trials, std::vector<double>(n, 0.0));
  trace.v_sum_sq = trace.v_sum;
  RecordSpec spec = req.record;
  spec.input_spikes = true;

  SimulateResult result;
  const std::int64_t chunk = config.simulation.chunk_size;
  const double total_s = static_cast<double>(steps) * config.simulation.dt / 1000.0;
  std::vector<TrialRecord> records;
  ThreadSharing sharing;  // carried from chunk to chunk
  // Timed: the simulation loop and the sink's writes, not what comes before
  // or after.
  const auto loop_start = std::chrono::steady_clock::now();
  try {
    for (std::int64_t t0 = 0; t0 < steps; t0 += chunk) {
      if (ranks.any(cb.stop_requested())) {  // every rank stops at the same chunk
        result.status = Status::interrupted;
        break;
      }
      const std::int64_t len = std::min(chunk, steps - t0);
      run_chunk(model, inputs, states, mine.first, t0, len, spec, &records, &sharing);
      if (ranks.size() > 1) records = parallel::gather_records(*req.mpi, records);
      for (std::int64_t b = 0; ranks.root() && b < trials; ++b) {
        const TrialRecord& r = records[b];
        for (std::size_t e = 0; e < r.spike_step.size(); ++e)
          trace.trains[b].times[r.spike_neuron[e]].push_back(t0 + r.spike_step[e]);
        result.synaptic_events += synaptic_events(model, r);
        result.recurrent_spikes += static_cast<std::int64_t>(r.spike_step.size());
        result.input_spikes += static_cast<std::int64_t>(r.input_step.size());
        sink.chunk(b, t0, len, r);
        for (std::int64_t i = 0; i < n; ++i) {
          trace.v_sum[b][i] += r.v_sum[i];
          trace.v_sum_sq[b][i] += r.v_sum_sq[i];
        }
      }
      result.steps_done = t0 + len;
      detail::progress(cb, req.progress_label, static_cast<double>(t0 + len) * config.simulation.dt / 1000.0, total_s,
                       "s");
    }
  } catch (...) {
    detail::progress(cb, req.progress_label, static_cast<double>(result.steps_done) * config.simulation.dt / 1000.0,
                     total_s, "s", {}, true);
    sink.abort();
    throw;
  }
  detail::progress(cb, req.progress_label, static_cast<double>(result.steps_done) * config.simulation.dt / 1000.0,
                   total_s, "s", {}, true);
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_start).count();
  if (result.status == Status::interrupted) {
    sink.abort();
    return result;
  }
  if (!ranks.root()) return result;
  sink.finish();
  if (result.steps_done > 0) {
    const TypeGroups groups{config.recurrent.type_names, net.cell_type};
    for (const TypeActivity& a : type_activity(trace.trains, groups)) {
      result.mean_rate_hz.push_back(a.rate.mean);
      result.fraction_active.push_back(a.fraction_active());
      result.mean_cv.push_back(a.cv.mean);
    }
  }
  return result;
}

SimulateResult simulate(const Config& config, const Network& network, const SimulateRequest& request,
                        RecordSink& sink, const Callbacks& callbacks) {
  detail::SimulationTrace trace;
  return detail::simulate_traced(config, network, request, sink, callbacks, trace);
}

// ---- in memory

namespace {
// The spikes of one chunk as a dense bool slab [steps, width].
void mark(std::uint8_t* slab, std::int64_t width, const std::vector<std::int32_t>& step,
          const std::vector<std::int32_t>& index) {
  for (std::size_t e = 0; e < step.size(); ++e) slab[static_cast<std::int64_t>(step[e]) * width + index[e]] = 1;
}
}  // namespace

void ArraySink::begin(const SimulationShape& s) {
  shape_ = s;
  arrays_.clear();
  const std::int64_t k = static_cast<std::int64_t>(s.record.neurons.size());
  // Refused before any allocation when the arrays cannot fit (not std::bad_alloc).
  const double cells = static_cast<double>(s.trials) * static_cast<double>(s.steps);
  const double bytes = cells * (static_cast<double>(s.n + s.m) +
                                4.0 * static_cast<double>(k) *
                                    (s.record.voltages + 2.0 * static_cast<double>(s.receptors) * s.record.conductances +
                                     static_cast<double>(s.receptors) * s.record.currents));
  if (bytes > 0.9 * detail::machine_memory())
    throw ResourceError(fmt::format("simulate would hold about {} of arrays in memory ({} trials x {} steps of N + M "
                                    "spikes and {} recorded neurons), this machine has {}: fewer trials or steps, or "
                                    "write them to a directory instead",
                                    detail::bytes_text(bytes), s.trials, s.steps, k,
                                    detail::bytes_text(detail::machine_memory())));
  auto add = [&](const std::string& name, io::DType dtype, std::vector<std::int64_t> shape) {
    std::int64_t count = 1;
    for (const auto d : shape) count *= d;
    arrays_.push_back({name, dtype, std::move(shape), std::vector<std::uint8_t>(count * io::dtype_size(dtype), 0)});
  };
  add("output_spikes", io::DType::b1, {s.trials, s.steps, s.n});
  add("input_spikes", io::DType::b1, {s.trials, s.steps, s.m});
  if (s.record.voltages) add("output_voltages", io::DType::f4, {s.trials, s.steps, k});
  if (s.record.conductances) add("output_conductances", io::DType::f4, {s.trials, s.steps, k, 2, s.receptors});
  if (s.record.currents) add("output_currents", io::DType::f4, {s.trials, s.steps, k, s.receptors});
  if (k > 0 && (s.record.voltages || s.record.conductances || s.record.currents)) {
    add("recorded_neurons", io::DType::i8, {k});
    std::memcpy(arrays_.back().bytes.data(), s.record.neurons.data(), k * sizeof(std::int64_t));
  }
}

void ArraySink::chunk(std::int64_t trial, std::int64_t t0, std::int64_t steps, const TrialRecord& r) {
  const std::int64_t at = trial * shape_.steps + t0;  // row of [trials, steps] where the chunk starts
  (void)steps;
  for (auto& a : arrays_) {
    const std::int64_t row = a.shape.size() > 2 ? a.bytes.size() / (shape_.trials * shape_.steps) : 0;
    if (a.name == "output_spikes") mark(a.bytes.data() + at * row, shape_.n, r.spike_step, r.spike_neuron);
    else if (a.name == "input_spikes") mark(a.bytes.data() + at * row, shape_.m, r.input_step, r.input_neuron);
    else if (a.name == "output_voltages") std::memcpy(a.bytes.data() + at * row, r.voltages.data(), r.voltages.size() * 4);
    else if (a.name == "output_conductances")
      std::memcpy(a.bytes.data() + at * row, r.conductances.data(), r.conductances.size() * 4);
    else if (a.name == "output_currents") std::memcpy(a.bytes.data() + at * row, r.currents.data(), r.currents.size() * 4);
  }
}

std::vector<NamedArray> ArraySink::take() { return std::move(arrays_); }

// ---- into a directory

namespace {

// Recordings stream to results/*.npy chunk by chunk: memory stays bounded
// whatever the duration. Not committed (aborted), no file is left.
class DirSink final : public RecordSink {
 public:
  explicit DirSink(fs::path results) : results_(std::move(results)) {}
  void begin(const SimulationShape& s) override {
    s_ = s;
    k_ = static_cast<std::int64_t>(s.record.neurons.size());
    spikes_ = std::make_unique<io::NpyStreamWriter>(results_ / "output_spikes.npy", io::DType::b1,
                                                    std::vector<std::int64_t>{s.trials, s.steps, s.n});
    inputs_ = std::make_unique<io::NpyStreamWriter>(results_ / "input_spikes.npy", io::DType::b1,
                                                    std::vector<std::int64_t>{s.trials, s.steps, s.m});
    if (s.record.voltages)
      volt_ = std::make_unique<io::NpyStreamWriter>(results_ / "output_voltages.npy", io::DType::f4,
                                                    std::vector<std::int64_t>{s.trials, s.steps, k_});
    if (s.record.conductances)
      cond_ = std::make_unique<io::NpyStreamWriter>(results_ / "output_conductances.npy", io::DType::f4,
                                                    std::vector<std::int64_t>{s.trials, s.steps, k_, 2, s.receptors});
    if (s.record.currents)
      curr_ = std::make_unique<io::NpyStreamWriter>(results_ / "output_currents.npy", io::DType::f4,
                                                    std::vector<std::int64_t>{s.trials, s.steps, k_, s.receptors});
  }
  void chunk(std::int64_t b, std::int64_t t0, std::int64_t len, const TrialRecord& r) override {
    const std::int64_t n = s_.n, m = s_.m, nr = s_.receptors, at = b * s_.steps + t0;
    slab_.assign(static_cast<std::size_t>(len * n), 0);
    mark(slab_.data(), n, r.spike_step, r.spike_neuron);
    spikes_->write(at * n, slab_.data(), len * n);
    slab_.assign(static_cast<std::size_t>(len * m), 0);
    mark(slab_.data(), m, r.input_step, r.input_neuron);
    inputs_->write(at * m, slab_.data(), len * m);
    if (volt_) volt_->write(at * k_, r.voltages.data(), len * k_);
    if (cond_) cond_->write(at * k_ * 2 * nr, r.conductances.data(), len * k_ * 2 * nr);
    if (curr_) curr_->write(at * k_ * nr, r.currents.data(), len * k_ * nr);
  }
  void finish() override {
    spikes_->commit();
    inputs_->commit();
    if (volt_) volt_->commit();
    if (cond_) cond_->commit();
    if (curr_) curr_->commit();
    if (k_ > 0 && (volt_ || cond_ || curr_)) io::write_npy(results_ / "recorded_neurons.npy", s_.record.neurons, {k_});
  }
  void abort() override {  // destroyed uncommitted: the temporary files go
    spikes_.reset();
    inputs_.reset();
    volt_.reset();
    cond_.reset();
    curr_.reset();
  }

 private:
  fs::path results_;
  SimulationShape s_;
  std::int64_t k_ = 0;
  std::unique_ptr<io::NpyStreamWriter> spikes_, inputs_, volt_, cond_, curr_;
  std::vector<std::uint8_t> slab_;
};

}  // namespace

SimulateResult detail::simulate_into(const Config& config, const Network& net, const SimulateRequest& req,
                                     const fs::path& dir, const Callbacks& cb, bool dense_results) {
  const std::int64_t n = net.n, m = net.m;
  const fs::path results = dir / "results";
  fs::create_directories(results);
  fs::create_directories(dir / "analysis");

  // The connectome first: it is what every later file refers to.
  io::save_network(dir / "network_structure.npz", net);
  if (dense_results) {
    io::write_npy(results / "recurrent_weights.npy", io::dense_weights_f32(net.recurrent), {n, n});
    io::write_npy(results / "feedforward_weights.npy", io::dense_weights_f32(net.feedforward), {m, n});
    const auto rc = io::dense_mask(net.recurrent), fc = io::dense_mask(net.feedforward);
    const std::vector<std::uint8_t> rcb(rc.begin(), rc.end()), fcb(fc.begin(), fc.end());
    io::write_npy(results / "recurrent_connectivity.npy", io::DType::b1, {n, n}, rcb.data());
    io::write_npy(results / "feedforward_connectivity.npy", io::DType::b1, {m, n}, fcb.data());
  }

  DirSink sink(results);
  SimulationTrace trace;
  const SimulateResult result = simulate_traced(config, net, req, sink, cb, trace);
  if (result.status != Status::completed) return result;

  const TypeGroups groups{config.recurrent.type_names, net.cell_type};
  const std::vector<TypeActivity> activity = type_activity(trace.trains, groups);
  const std::vector<double> windows_ms = {1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0};
  std::vector<double> theta(net.n);
  for (std::int64_t i = 0; i < net.n; ++i) theta[i] = config.recurrent.physiology[net.cell_type[i]].theta;
  const fs::path analysis = dir / "analysis";
  io::write_file_atomic(analysis / "firing_rate_statistics.csv", io::firing_rate_csv(activity, groups));
  io::write_file_atomic(analysis / "cv_statistics.csv", io::cv_csv(activity, groups));
  io::write_file_atomic(analysis / "fano_factor.csv",
                        io::fano_csv(windows_ms, fano_summaries(trace.trains, groups, windows_ms), groups));
  io::write_file_atomic(analysis / "isi_histogram.csv", io::isi_histogram_csv(isi_table(trace.trains, groups), groups));
  io::write_file_atomic(analysis / "voltage_statistics.csv",
                        io::voltage_statistics_csv(
                            membrane_statistics(trace.v_sum, trace.v_sum_sq, req.steps, theta, groups), groups));
  return result;
}

// ---- figures of a simulate directory

Status detail::write_run_figures(const fs::path& dir, const fs::path& out, bool verbose,
                               const plot::FigureOptions& options, const Config* config, const Network* network,
                               const Callbacks& cb) {
  const auto start = std::chrono::steady_clock::now();
  plot::RunData data;
  if (config && network) {
    data.config = *config;
    data.network = *network;
    // As network_structure.npz stores them (float32): the figures are then
    // the same bytes as `plot DIR` draws from the files.
    for (auto* w : {&data.network.recurrent.weight, &data.network.feedforward.weight})
      for (auto& x : *w) x = static_cast<double>(static_cast<float>(x));
    plot::load_recordings(dir, data);
  } else {
    data = plot::load_run(dir);
  }
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto outcomes = plot::render_simulate_figures(data, out, options, [&] { return cb.stop_requested(); });
  int drawn = 0;
  for (const auto& o : outcomes) {
    if (o.skipped.empty()) {
      ++drawn;
      if (verbose) message(cb, fmt::format("  {:<32} {:.2f} s", o.name + ".png", o.seconds));
    } else {
      message(cb, fmt::format("  skipped {}: {}", o.name, o.skipped));
    }
  }
  if (outcomes.size() < plot::simulate_figures().size()) return Status::interrupted;
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  message(cb, fmt::format("✓ Saved plots to {} ({} figures in {:.2g} s, of which {:.2g} s reading the run)",
                          out.string(), drawn, total, load_s));
  return Status::completed;
}

Status write_run_figures(const fs::path& dir, const fs::path& out, bool verbose, const plot::FigureOptions& options,
                         const Callbacks& callbacks) {
  return detail::write_run_figures(dir, out, verbose, options, nullptr, nullptr, callbacks);
}

// ---- `homeostat simulate`

SimulateResult simulate_to_dir(const SimulateDirRequest& r, const Callbacks& cb) {
  const detail::RunClock clock;
  const Config& config = r.config;
  const detail::Ranks ranks{r.mpi};
  const int threads = detail::apply_threads(r.threads, ranks);
  const std::int64_t n = config.recurrent.num_neurons, m = config.feedforward.num_neurons;
  SimulateRequest req;
  req.mpi = r.mpi;
  req.trials = r.trials;
  req.steps = std::llround(config.simulation.duration / config.simulation.dt);
  req.record = r.record;
  req.replay = r.replay;
  if (r.replay && r.replay->n_steps() < req.steps)
    throw std::runtime_error(fmt::format(
        "{}: holds {} steps ({} ms), the simulation needs {} ({} ms); shorten it with --set simulation.duration=...",
        r.input_source, r.replay->n_steps(), static_cast<double>(r.replay->n_steps()) * config.simulation.dt, req.steps,
        config.simulation.duration));
  const Network net = r.network ? *r.network : generate_network(config);
  const bool neurons_given = !req.record.neurons.empty();
  if (!neurons_given)
    for (std::int64_t i = 0; i < n; ++i) req.record.neurons.push_back(i);
  // Without a recording asked for, the dynamics figures get a small default
  // one: 3 neurons per cell type, evenly spread (a few MB per simulated second).
  if (r.default_recording && r.figures) {
    req.record.voltages = req.record.conductances = req.record.currents = true;
    if (!neurons_given) req.record.neurons = plot::pick_per_type(req.record.neurons, net.cell_type, 3);
  }
  if (!ranks.root()) {  // simulates its trials for rank 0, which writes everything
    class NoSink final : public RecordSink {
      void begin(const SimulationShape&) override {}
      void chunk(std::int64_t, std::int64_t, std::int64_t, const TrialRecord&) override {}
      void finish() override {}
    } none;
    detail::SimulationTrace trace;
    return detail::simulate_traced(config, net, req, none, ranks.callbacks(cb), trace);
  }
  const ResourceEstimate estimate = detail::simulate_estimate(config, req.trials, req.steps, req.record, true);
  const double free_disk = detail::check_resources(estimate, r.output_dir, r.force, "simulate");
  const auto lock = detail::prepare_output_dir(r.output_dir, r.overwrite);
  for (const auto& p : io::remove_stale_temp_files(r.output_dir))
    detail::warning(cb, fmt::format("removed {}, left half-written by a killed run", p.string()));

  detail::message(cb, fmt::format(
      "homeostat simulate: N = {} neurons, M = {} inputs, {} trial(s) x {} ms ({} steps), {} thread(s)", n, m,
      req.trials, config.simulation.duration, req.steps, threads));
  detail::message(cb, fmt::format(
      "  network: {}; inputs: {}",
      r.network_source.empty() ? fmt::format("generated ({}, seed {})", to_string(config.recurrent.method),
                                             config.simulation.seed)
                               : r.network_source,
      r.input_source.empty() ? "Poisson" : r.input_source));
  detail::say_disk_use(cb, estimate, r.output_dir, free_disk);
  if (ranks.size() > 1) detail::message(cb, ranks.split_text(req.trials, 1));

  const SimulateResult s = detail::simulate_into(config, net, req, r.output_dir, cb, true);

  const double sim_seconds =
      static_cast<double>(req.trials) * static_cast<double>(s.steps_done) * config.simulation.dt / 1000.0;
  nlohmann::ordered_json meta = detail::metadata(clock, r.command_line, config, threads);
  if (ranks.size() > 1) meta["ranks"] = ranks.size();
  meta["simulate"] = {{"trials", req.trials},
                      {"steps", req.steps},
                      {"network_source", r.network_source.empty() ? "generated" : r.network_source},
                      {"input_source", r.input_source.empty() ? "poisson" : r.input_source},
                      {"recorded_neurons", req.record.neurons.size()},
                      {"recurrent_spikes", s.recurrent_spikes},
                      {"input_spikes", s.input_spikes},
                      {"synaptic_events", s.synaptic_events},
                      {"simulation_wall_seconds", s.wall_seconds},
                      {"realtime_factor", sim_seconds / s.wall_seconds}};
  if (s.status == Status::interrupted) {
    // No recording was committed: the directory says so, and why.
    meta["simulate"]["status"] = "interrupted";
    meta["simulate"]["steps_done"] = s.steps_done;
    detail::write_run_files(r.output_dir, config, meta);
    detail::message(cb, fmt::format("Interrupted after {:.3g} s of {:.3g} s simulated: no recordings kept; "
                                    "{}/metadata.json says so",
                                    static_cast<double>(s.steps_done) * config.simulation.dt / 1000.0,
                                    config.simulation.duration / 1000.0, r.output_dir.string()));
    return s;
  }
  detail::write_run_files(r.output_dir, config, meta);

  for (std::size_t t = 0; t < s.mean_rate_hz.size(); ++t)
    detail::message(cb, fmt::format("  mean firing rate {}: {:.3g} Hz", config.recurrent.type_names[t], s.mean_rate_hz[t]));
  detail::message(cb, fmt::format("  {:.3g} s simulated in {:.3g} s wall ({:.3g}x real time), {:.3g} synaptic events/s",
                                  sim_seconds, s.wall_seconds, sim_seconds / s.wall_seconds,
                                  static_cast<double>(s.synaptic_events) / s.wall_seconds));
  detail::message(cb, fmt::format(
      "✓ Wrote {}/ (results/, analysis/, network_structure.npz, parameters.toml, metadata.json)", r.output_dir.string()));
  if (r.figures &&
      detail::write_run_figures(r.output_dir, r.output_dir / "figures", false, {}, &config, &net, cb) ==
          Status::interrupted) {
    detail::message(cb, fmt::format("Interrupted while drawing the figures: the results are complete; `homeostat plot "
                                    "{}` draws every figure",
                                    r.output_dir.string()));
    SimulateResult stopped = s;
    stopped.status = Status::interrupted;
    return stopped;
  }
  return s;
}

}  // namespace homeostat::run
