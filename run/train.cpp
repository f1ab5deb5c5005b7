// Training runs (`homeostat train` and `homeostat feedback`): the run
// directory, checkpoints and exact resume, the metrics CSV, TensorBoard,
// figures, the initial and final states; stops cleanly on the stop flag.
#include "internal.hpp"

#include "homeostat/io/checkpoint.hpp"
#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/io/network_io.hpp"
#include "homeostat/io/npy.hpp"
#include "homeostat/io/tensorboard.hpp"
#include "homeostat/parallel/ranks.hpp"
#include "homeostat/plot/compare.hpp"
#include "homeostat/plot/figures.hpp"
#include "homeostat/plot/run_data.hpp"
#include "homeostat/plot/training_log.hpp"
#include "homeostat/schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <system_error>
#include <cmath>
#include <fstream>
#include <limits>
#include <tuple>

namespace homeostat::run {

namespace {

namespace fs = std::filesystem;
using detail::message;
using detail::warning;

// One row of the metrics CSV (and of TensorBoard) as (column, value) pairs:
// the chunk, the losses and per-type activity, then what the method did to
// the weights (gradient: its norm and the learning rate; feedback: the mean
// factors per postsynaptic type), the change of each block's weights since
// the start, then the wall time.
MetricsRow metric_columns(const Config& c, Method method, const ChunkMetrics& m, const BlockWeightChange& dw,
                          double wall) {
  const std::size_t n_types = c.recurrent.type_names.size();
  auto type_value = [&](const std::vector<double>& v, std::size_t t) {
    return t < v.size() ? v[t] : std::numeric_limits<double>::quiet_NaN();  // empty: no update (skipped)
  };
  MetricsRow cols{{"chunk", static_cast<double>(m.chunk)}, {"total_loss", m.losses.total}};
  for (const LossTerm t : all_loss_terms) cols.emplace_back(to_string(t) + "_loss", m.losses.term[static_cast<int>(t)]);
  const std::pair<const char*, const std::vector<double>*> per_type[] = {
      {"mean_rate_hz", &m.mean_rate}, {"std_rate_hz", &m.std_rate}, {"fraction_active", &m.fraction_active},
      {"mean_cv", &m.mean_cv}, {"membrane_ratio", &m.membrane_ratio}};
  for (const auto& [what, values] : per_type)
    for (std::size_t t = 0; t < n_types; ++t)
      cols.emplace_back(fmt::format("{}/{}", what, c.recurrent.type_names[t]), type_value(*values, t));
  if (method == Method::gradient) {
    cols.emplace_back("grad_norm", m.grad_norm);
    cols.emplace_back("learning_rate", m.learning_rate);
  } else {
    for (std::size_t t = 0; t < n_types; ++t)
      cols.emplace_back("excitatory_scaling/" + c.recurrent.type_names[t], type_value(m.excitatory_scaling, t));
    for (std::size_t t = 0; t < n_types; ++t)
      cols.emplace_back("inhibitory_scaling/" + c.recurrent.type_names[t], type_value(m.inhibitory_scaling, t));
  }
  for (const auto& [kind, pre_names, change] :
       {std::tuple{"recurrent", &c.recurrent.type_names, &dw.recurrent},
        std::tuple{"feedforward", &c.feedforward.type_names, &dw.feedforward}})
    for (std::size_t a = 0; a < pre_names->size(); ++a)
      for (std::size_t b = 0; b < n_types; ++b)
        cols.emplace_back(plot::weight_change_column(kind, (*pre_names)[a], c.recurrent.type_names[b]),
                          type_value(*change, a * n_types + b));
  cols.emplace_back("wall_seconds", wall);
  return cols;
}

std::string csv_header(const Config& c, Method method) {
  std::string h;
  for (const auto& [name, value] : metric_columns(c, method, ChunkMetrics{}, BlockWeightChange{}, 0))
    h += (h.empty() ? "" : ",") + name;
  return h + "\n";
}

std::string csv_row(const MetricsRow& row) {
  std::string r;
  for (const auto& [name, value] : row) {
    if (name == "chunk") r += fmt::format("{}", static_cast<std::int64_t>(value));
    else r += name == "wall_seconds" ? fmt::format(",{:.3f}", value) : fmt::format(",{:.9g}", value);
  }
  return r + "\n";
}

// What the final state's simulation gives per cell type (its rates,
// activity and CV over simulation.duration: where acceptance is judged), as
// TensorBoard scalars "final_state/<what>/<type>"; NaN without a result (for
// the names alone).
MetricsRow final_state_columns(const Config& c, const SimulateResult* final_state) {
  MetricsRow cols;
  const std::pair<const char*, const std::vector<double> SimulateResult::*> per_type[] = {
      {"mean_rate_hz", &SimulateResult::mean_rate_hz}, {"fraction_active", &SimulateResult::fraction_active},
      {"mean_cv", &SimulateResult::mean_cv}};
  for (const auto& [what, member] : per_type)
    for (std::size_t t = 0; t < c.recurrent.type_names.size(); ++t) {
      const std::vector<double>* values = final_state ? &(final_state->*member) : nullptr;
      cols.emplace_back(fmt::format("final_state/{}/{}", what, c.recurrent.type_names[t]),
                        values && t < values->size() ? (*values)[t] : std::numeric_limits<double>::quiet_NaN());
    }
  return cols;
}

// The run as a whole for TensorBoard: parameters.toml on the Text tab, and
// its scalar keys as hyperparameters beside the metrics (the CSV's columns
// and the final state's) on the HParams tab.
void log_run_description(io::TensorBoardWriter& tb, const Config& c, Method method) {
  std::string markdown = "The resolved configuration of this run (`parameters.toml`):\n\n";
  const std::string toml = io::to_toml(c);
  for (std::size_t at = 0; at < toml.size();) {  // indented: a code block
    const std::size_t end = std::min(toml.find('\n', at), toml.size());
    markdown += "    " + toml.substr(at, end - at) + "\n";
    at = end + 1;
  }
  tb.text("config/parameters.toml", markdown, 0);
  std::vector<io::HParam> values;
  for (const auto& [path, value] : schema::scalar_values(c)) {
    if (const auto* i = std::get_if<std::int64_t>(&value)) values.push_back({path, static_cast<double>(*i)});
    else if (const auto* x = std::get_if<double>(&value)) values.push_back({path, *x});
    else if (const auto* b = std::get_if<bool>(&value)) values.push_back({path, *b});
    else values.push_back({path, std::get<std::string>(value)});
  }
  std::vector<std::string> metrics;
  for (const auto& [name, value] : metric_columns(c, method, ChunkMetrics{}, BlockWeightChange{}, 0))
    if (name != "chunk" && name != "wall_seconds") metrics.push_back(name);
  for (const auto& [name, value] : final_state_columns(c, nullptr)) metrics.push_back(name);
  tb.hparams(values, metrics);
  tb.flush();
}

// The CSV row's values as TensorBoard scalars, under the CSV's column names.
void log_scalars(io::TensorBoardWriter& tb, const MetricsRow& row, std::int64_t chunk) {
  for (const auto& [name, value] : row)
    if (name != "chunk") tb.scalar(name, value, chunk);
  tb.flush();
}

// Every PNG of `figures` as an image summary `prefix/<name>` at `step`.
void log_figures(io::TensorBoardWriter& tb, const fs::path& figures, const std::string& prefix, std::int64_t step) {
  if (!fs::exists(figures)) return;
  std::vector<fs::path> pngs;
  for (const auto& e : fs::directory_iterator(figures))
    if (e.path().extension() == ".png" && !io::is_temp_name(e.path().filename().string())) pngs.push_back(e.path());
  std::sort(pngs.begin(), pngs.end());
  for (const auto& p : pngs) {
    const std::string png = io::read_file(p);
    if (png.size() < 24) continue;
    auto be32 = [&](std::size_t at) {
      return static_cast<int>((static_cast<unsigned char>(png[at]) << 24) | (static_cast<unsigned char>(png[at + 1]) << 16) |
                              (static_cast<unsigned char>(png[at + 2]) << 8) | static_cast<unsigned char>(png[at + 3]));
    };
    tb.image(prefix + "/" + p.stem().string(), png, be32(16), be32(20), step);  // IHDR width, height
  }
  tb.flush();
}

// Keeps the CSV rows of chunks <= `upto` that `keep` accepts (a resumed run
// rewrites what came after).
template <class Keep>
std::string csv_upto(const fs::path& path, std::int64_t upto, Keep keep) {
  std::ifstream in(path);
  std::string line, out;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      out += line + "\n";
      header = false;
      continue;
    }
    const std::int64_t chunk = std::stoll(line.substr(0, line.find(',')));
    if (chunk <= upto && keep(chunk)) out += line + "\n";
  }
  return out;
}

// The console block of a log interval, with where the run stands in time.
std::string block_text(const ChunkMetrics& m, const Config& c, std::int64_t total, std::int64_t chunks_this_call,
                       double elapsed) {
  std::string s = fmt::format("Chunk {}/{}:\n  Loss: {:.6f}\n", m.chunk, total, m.losses.total);
  for (const LossTerm t : all_loss_terms)
    s += fmt::format("  {}_loss: {:.6f}\n", to_string(t), m.losses.term[static_cast<int>(t)]);
  for (std::size_t t = 0; t < c.recurrent.type_names.size(); ++t)
    s += fmt::format("  mean_firing_rate/{}: {:.3g} Hz (target {:.3g})\n", c.recurrent.type_names[t], m.mean_rate[t],
                     c.targets.per_type[t].firing_rate);
  for (std::size_t t = 0; t < c.recurrent.type_names.size(); ++t)
    s += fmt::format("  fraction_active/{}: {:.2f}\n", c.recurrent.type_names[t], m.fraction_active[t]);
  const double rate = elapsed > 0 ? static_cast<double>(chunks_this_call) / elapsed : 0.0;
  s += fmt::format("  elapsed {}, {:.3g} chunks/s, {} left", clock_text(elapsed), rate,
                   clock_text(rate > 0 ? static_cast<double>(total - m.chunk) / rate : -1.0));
  return s;
}

// A `simulation.duration` run of one trial with `net`, as `simulate` writes
// it (results, analysis, network_structure.npz) plus its figures, in `dir`:
// the initial and final states of training.
SimulateResult simulate_state(const Config& config, const Network& net, const fs::path& dir, const std::string& label,
                              const Callbacks& cb) {
  SimulateRequest req;
  req.steps = std::llround(config.simulation.duration / config.simulation.dt);
  req.progress_label = label;
  req.record.voltages = req.record.conductances = req.record.currents = true;
  std::vector<std::int64_t> all(net.n);
  for (std::int64_t i = 0; i < net.n; ++i) all[i] = i;
  req.record.neurons = plot::pick_per_type(all, net.cell_type, 3);
  const SimulateResult s = detail::simulate_into(config, net, req, dir, cb, false);
  if (s.status != Status::completed) return s;
  std::string rates;
  for (std::size_t t = 0; t < s.mean_rate_hz.size(); ++t)
    rates += fmt::format("{}{} {:.3g} Hz", t ? ", " : "", config.recurrent.type_names[t], s.mean_rate_hz[t]);
  message(cb, fmt::format("  {}: {:.3g} s simulated: {}", label, config.simulation.duration / 1000.0, rates));
  if (detail::write_run_figures(dir, dir / "figures", false, {}, &config, &net, cb) == Status::completed) return s;
  SimulateResult stopped = s;  // between two figures: each drawn one is whole, the rest are missing
  stopped.status = Status::interrupted;
  return stopped;
}

// Where each target stands at the end: the final state's simulation for the
// rates, activity and CV; the last chunk for the membrane ratio (NaN when
// this call trained none). The console's summary and metadata.json's
// "target_summary" (which `homeostat compare` reads back).
std::vector<plot::TypeOutcome> target_outcomes(const Config& c, const SimulateResult& final_state,
                                               const ChunkMetrics& last) {
  std::vector<plot::TypeOutcome> out;
  for (std::size_t t = 0; t < c.recurrent.type_names.size(); ++t) {
    const CellTargets& target = c.targets.per_type[t];
    plot::TypeOutcome o;
    o.name = c.recurrent.type_names[t];
    o.target_rate = target.firing_rate;
    o.rate = final_state.mean_rate_hz[t];
    o.fraction_active = final_state.fraction_active[t];
    o.mean_cv = final_state.mean_cv[t];
    o.target_cv = target.cv;
    o.membrane_ratio = t < last.membrane_ratio.size() ? last.membrane_ratio[t] : std::nan("");
    o.target_membrane_ratio = target.threshold_ratio;
    out.push_back(o);
  }
  return out;
}

std::string target_summary(const Config& c, const std::vector<plot::TypeOutcome>& types) {
  std::string s = fmt::format(
      "Targets after training ({:.3g} s of the final state; membrane ratio from the last chunk):",
      c.simulation.duration / 1000.0);
  for (const plot::TypeOutcome& o : types) {
    s += fmt::format("\n  {:<12} rate {:.3g} Hz (target {:.3g}, {:+.1f}%), active {:.1f}%, CV {:.2f} (target {:.2g})",
                     o.name, o.rate, o.target_rate, o.rate_error_percent(), 100.0 * o.fraction_active, o.mean_cv,
                     o.target_cv);
    if (std::isfinite(o.membrane_ratio))
      s += fmt::format(", membrane ratio {:.2f} (target {:.2g})", o.membrane_ratio, o.target_membrane_ratio);
  }
  return s;
}

// The weights as they stand: dense [pre, post] float32 .npy, or the edge
// lists as scipy CSR .npz (training.weight_snapshots).
void write_weight_snapshot(const fs::path& dir, std::int64_t chunk, const Network& net, const Trainer& trainer,
                           bool sparse) {
  const Network now = trained_network(net, trainer);
  const fs::path rec = dir / "weights" / fmt::format("recurrent_epoch_{:04}", chunk);
  const fs::path ff = dir / "weights" / fmt::format("feedforward_epoch_{:04}", chunk);
  if (sparse) {
    io::save_sparse_weights(rec.string() + ".npz", now.recurrent);
    io::save_sparse_weights(ff.string() + ".npz", now.feedforward);
  } else {
    io::write_npy(rec.string() + ".npy", io::dense_weights_f32(now.recurrent), {net.n, net.n});
    io::write_npy(ff.string() + ".npy", io::dense_weights_f32(now.feedforward), {net.m, net.n});
  }
}

// Whether a run planned for `total` chunks logs chunk `chunk` (metrics row,
// figures, snapshot): every log_interval chunks and the last.
bool logged_chunk(const Config& c, std::int64_t chunk, std::int64_t total) {
  return chunk % c.training.log_interval == 0 || chunk == total;
}

// An extension (`--resume` with --set simulation.num_chunks=N): the run's
// configuration with N, after checking that nothing else is asked for and
// that N does not cut the chunks done. `overrides` are --set's KEY=VALUE.
Config extended_config(const fs::path& parameters, const Config& config, const std::vector<std::string>& overrides,
                       std::int64_t chunks_done, const std::string& command) {
  for (const std::string& o : overrides) {
    std::string key = o.substr(0, o.find('='));
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    if (key != "simulation.num_chunks")
      throw std::invalid_argument(fmt::format(
          "--set {}: {} --resume continues with the run's own {}; only simulation.num_chunks may be set (to extend "
          "the run)",
          o, command, parameters.string()));
  }
  Config asked = io::load_config(parameters, overrides);
  if (asked.simulation.num_chunks < chunks_done)
    throw std::invalid_argument(fmt::format(
        "--set simulation.num_chunks={}: the run has done {} chunks; a run is extended, never cut (its later "
        "checkpoints and outputs would not belong to it)",
        asked.simulation.num_chunks, chunks_done));
  Config out = config;
  out.simulation.num_chunks = asked.simulation.num_chunks;
  return out;
}

// What a run that ended at `old_total` wrote only because it ended there
// (not on a log interval of the longer run): its metrics row goes with the
// CSV's rewrite, its weight snapshot and chunk figures here.
void remove_end_outputs(const fs::path& dir, const Config& c, std::int64_t old_total, std::int64_t total) {
  if (logged_chunk(c, old_total, total)) return;
  for (const char* which : {"recurrent", "feedforward"})
    for (const char* ext : {".npy", ".npz"})
      fs::remove(dir / "weights" / fmt::format("{}_epoch_{:04}{}", which, old_total, ext));
  fs::remove_all(dir / "figures" / fmt::format("chunk_{:04}", old_total));
}

// The chunk that checkpoint_best.npz holds, or -1 when there is none (or it
// cannot be read).
std::int64_t best_file_chunk(const fs::path& path, const Config& config) {
  if (!fs::exists(path)) return -1;
  try {
    return io::load_checkpoint(path, config).chunks_done;
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

TrainSummary train(const TrainRequest& request, const Callbacks& callbacks) {
  const detail::RunClock clock;
  // Every rank runs what follows alike; rank 0 alone writes files and talks
  // (README "Running on a cluster").
  const detail::Ranks ranks{request.mpi};
  const bool root = ranks.root();
  const Callbacks cb = ranks.callbacks(callbacks);
  TrainSummary summary;
  fs::path dir = request.output_dir;
  Config config;
  Network net;
  std::optional<TrainerState> resumed;
  std::unique_ptr<RunLock> lock;
  const std::string command = to_string(request.method);
  std::int64_t extended_from = 0;  // the run's simulation.num_chunks before this call extended it; 0 = not extended
  if (!request.resume.empty()) {
    // A run continues with its own configuration and network, only its
    // length may grow (the checkpoint's hash leaves num_chunks out).
    // Nothing of a new run goes with it: silently ignored, a starting network
    // or --overwrite would look as if it had been used.
    if (request.network)
      throw std::invalid_argument(command + " --resume continues from the run's own initial_state/network_structure.npz: "
                                            "no --network");
    if (request.overwrite)
      throw std::invalid_argument(command + " --resume continues a run in its directory: no --overwrite (that starts a "
                                            "new run)");
    if (dir.empty()) dir = request.resume.parent_path().parent_path();
    if (root) lock = std::make_unique<RunLock>(dir);
    config = io::load_run_config(dir / "parameters.toml");
    net = io::load_network(dir / "initial_state" / "network_structure.npz", config);
    resumed = io::load_checkpoint(request.resume, config);
    if (!request.overrides.empty()) {
      const Config longer = extended_config(dir / "parameters.toml", config, request.overrides, resumed->chunks_done,
                                            command);
      if (longer.simulation.num_chunks != config.simulation.num_chunks) extended_from = config.simulation.num_chunks;
      config = longer;
    }
  } else {
    if (dir.empty()) throw std::invalid_argument(command + ": give the output directory with -o DIR");
    if (!request.overrides.empty())
      throw std::invalid_argument(command + ": overrides extend a resumed run; a new run takes them in its config");
    config = request.config;
    net = request.network ? *request.network : generate_network(config);
  }
  TrainRequest sized = request;
  sized.config = config;
  sized.network = net;
  const ResourceEstimate resources = estimate(sized);
  const double free_disk = root ? detail::check_resources(resources, dir, request.force, command) : -1;
  const bool sparse = detail::sparse_snapshots(config, net.recurrent.n_edges() + net.feedforward.n_edges());
  const int threads = detail::apply_threads(request.threads, ranks);
  // Several ranks: whole atoms of trials each for the gradient (its sums are
  // per atom), single trials for the feedback rule (whose chunks are forward
  // only).
  const std::int64_t split_unit = request.method == Method::gradient ? trial_atom : 1;
  std::optional<parallel::MpiReduction> reduction;
  if (ranks.size() > 1) reduction.emplace(*request.mpi, ranks.trials(config.training.batch_size, split_unit));
  Trainer trainer(config, net, request.method, reduction ? &*reduction : nullptr);
  if (resumed) trainer.restore(*resumed);
  // The state of every trial (rank 0; gathered from every rank, which all call it alike).
  auto batch_state = [&] {
    TrainerState s = trainer.state();
    if (reduction) s.trials = parallel::gather_states(*request.mpi, s.trials);
    return s;
  };
  const std::int64_t start_chunk = trainer.chunks_done();
  const std::int64_t total = config.simulation.num_chunks;
  summary.dir = dir;
  summary.start_chunk = start_chunk;
  summary.total_chunks = total;
  const fs::path ck = dir / "checkpoints";
  const fs::path latest_path = ck / "checkpoint_latest.npz", best_path = ck / "checkpoint_best.npz";
  auto resume_command = [&] {  // what the user runs to continue
    return cb.resume_hint ? cb.resume_hint(command, latest_path)
                          : fmt::format("homeostat {} --resume {}", command, latest_path.string());
  };
  // metadata.json from the start, so that a stopped run says too which
  // method wrote it (the block's name: `homeostat compare` reads it) and how
  // it ended: "running" (until it ends: a killed run keeps it), then
  // "completed", "interrupted" or "non_finite" with the chunks done.
  bool metadata_started = false;
  nlohmann::ordered_json outcome;  // the target summary, once the final state is simulated
  auto write_metadata = [&](const char* status) {
    if (!root || !metadata_started) return;
    nlohmann::ordered_json meta = detail::metadata(clock, request.command_line, config, threads);
    if (ranks.size() > 1) meta["ranks"] = ranks.size();
    nlohmann::ordered_json& block = meta[command];
    block["status"] = status;
    if (std::string_view(status) != "running") {
      block["chunks_done"] = trainer.chunks_done();
      block["best_loss"] = trainer.best_loss();
      block["best_chunk"] = trainer.best_chunk();
    }
    block["resumed_from"] = resumed ? request.resume.string() : "";
    block["resumed_at_chunk"] = start_chunk;
    block["extended_from_chunks"] = extended_from;
    block["weight_snapshots"] = sparse ? "sparse" : "dense";
    block["rate_loss"] = describe_rate_loss(config.hyperparameters.rate_loss, config.training.batch_size);
    if (!outcome.is_null()) meta["target_summary"] = outcome;
    io::write_file_atomic(dir / "metadata.json", meta.dump(2) + "\n");
  };
  auto finish_summary = [&](Status status) {
    summary.status = status;
    summary.chunks_done = trainer.chunks_done();
    summary.best_loss = trainer.best_loss();
    summary.best_chunk = trainer.best_chunk();
    if (fs::exists(latest_path)) summary.checkpoint = latest_path;
    write_metadata(status == Status::completed     ? "completed"
                   : status == Status::interrupted ? "interrupted"
                                                   : "non_finite");
    return summary;
  };

  bool interrupted = false;  // during the initial-state simulation
  if (!resumed && root) {
    lock = detail::prepare_output_dir(dir, request.overwrite);
    io::write_file_atomic(dir / "parameters.toml", io::to_toml(config));
    io::save_network(dir / "initial_state" / "network_structure.npz", net);
  }
  metadata_started = true;
  write_metadata("running");
  // What the run is, and what it will write, before any work.
  message(cb, fmt::format(
      "homeostat {}: N = {}, M = {}, {} trials x {} steps per chunk, chunks {}..{} of {}, {} thread(s)", command,
      net.n, net.m, config.training.batch_size, config.simulation.chunk_size, start_chunk + 1, total, total, threads));
  if (ranks.size() > 1) message(cb, ranks.split_text(config.training.batch_size, split_unit));
  if (resumed) message(cb, fmt::format("  resumed from {} (chunk {})", request.resume.string(), start_chunk));
  if (extended_from > 0)
    message(cb, fmt::format("  extended from {} to {} chunks: the same chunks as a run planned for {} (nothing in "
                            "training depends on simulation.num_chunks)",
                            extended_from, total, total));
  detail::say_disk_use(cb, resources, dir, free_disk);
  message(cb, fmt::format("  rate loss: {}",
                          describe_rate_loss(config.hyperparameters.rate_loss, config.training.batch_size)));
  if (!resumed && root)
    interrupted =
        simulate_state(config, net, dir / "initial_state", "initial state", cb).status == Status::interrupted;
  if (ranks.any(interrupted)) {
    warning(cb, fmt::format("Interrupted during the initial-state simulation or its figures, before the first chunk: "
                            "nothing was trained and no checkpoint written. Start again with:\n  {}",
                            cb.restart_hint ? cb.restart_hint(command, dir)
                                            : fmt::format("homeostat {} ... -o {} --overwrite", command, dir.string())));
    return finish_summary(Status::interrupted);
  }
  // A resumed run keeps what a run planned for `total` chunks had written by
  // its start (a metrics row at every log interval, or every chunk with
  // training.metrics_every_chunk): an extended run drops what its earlier end
  // added.
  const auto planned = [&](std::int64_t chunk) {
    return logged_chunk(config, chunk, total) || config.training.metrics_every_chunk;
  };
  // Rank 0's files: what a killed run left half-written is removed before
  // anything is read back.
  std::optional<io::TensorBoardWriter> tb;
  const fs::path csv_path = dir / "training_metrics.csv";
  std::string csv;
  if (root) {
    for (const auto& p : io::remove_stale_temp_files(dir))
      warning(cb, fmt::format("removed {}, left half-written by a killed run", p.string()));
    tb.emplace(dir / "tensorboard", !resumed ? -1 : planned(start_chunk) ? start_chunk : start_chunk - 1);
    log_run_description(*tb, config, request.method);
    if (!resumed) log_figures(*tb, dir / "initial_state" / "figures", "initial_state", 0);
    csv = resumed && fs::exists(csv_path) ? csv_upto(csv_path, start_chunk, planned) : csv_header(config, request.method);
    if (extended_from > 0) {
      remove_end_outputs(dir, config, extended_from, total);
      io::write_file_atomic(csv_path, csv);
      io::write_file_atomic(dir / "parameters.toml", io::to_toml(config));  // a plain --resume now continues to N
    }
  }

  // checkpoint_best.npz is written before checkpoint_latest.npz: a kill
  // between the two leaves a best at least as new as the latest's record of
  // it, never an older one that the resumed run would keep forever.
  std::optional<TrainerState> best;  // the state at the best chunk, until written
  std::int64_t best_written = 0;
  if (root && resumed && resumed->best_chunk > 0) {
    const std::int64_t on_disk = best_file_chunk(best_path, config);
    if (on_disk >= resumed->best_chunk) {
      best_written = resumed->best_chunk;
    } else if (resumed->chunks_done == resumed->best_chunk) {
      io::save_checkpoint(best_path, *resumed, config);  // the latest is the best: its file was lost
      best_written = resumed->best_chunk;
    } else {
      warning(cb, fmt::format("warning: {} holds {} but the run's best is chunk {}, whose state is gone; it is "
                              "rewritten at the next improvement",
                              best_path.string(), on_disk < 0 ? "no readable checkpoint" : fmt::format("chunk {}", on_disk),
                              resumed->best_chunk));
      best_written = std::max<std::int64_t>(on_disk, 0);
    }
  }
  auto checkpoint = [&] {
    const TrainerState latest = batch_state();
    if (!root) return;
    if (best && best->best_chunk > best_written) {
      io::save_checkpoint(best_path, *best, config);
      best_written = best->best_chunk;
    }
    io::save_checkpoint(latest_path, latest, config);
  };

  const auto wall_start = std::chrono::steady_clock::now();
  ChunkMetrics last;
  bool stop = false;
  while (trainer.chunks_done() < total) {
    // Every rank stops at the same chunk, when any was asked to.
    if (ranks.any(cb.stop_requested() || stop)) {
      detail::progress(cb, command, static_cast<double>(trainer.chunks_done() - start_chunk),
                       static_cast<double>(total - start_chunk), "chunks", {}, true);
      checkpoint();
      if (root) io::write_file_atomic(csv_path, csv);
      warning(cb, fmt::format("Interrupted after chunk {}: checkpoint saved. Resume with:\n  {}", trainer.chunks_done(),
                              resume_command()));
      return finish_summary(Status::interrupted);
    }
    ChunkMetrics m;
    try {
      m = trainer.run_chunk();
    } catch (const NonFiniteError& e) {
      detail::progress(cb, command, static_cast<double>(trainer.chunks_done() - start_chunk),
                       static_cast<double>(total - start_chunk), "chunks", {}, true);
      if (root) {
        io::write_file_atomic(csv_path, csv);
        tb->hparams_end(false, trainer.chunks_done());
        tb->flush();
      }
      summary.reason = e.what();
      return finish_summary(Status::non_finite);
    }
    if (!m.skipped.empty())
      warning(cb, fmt::format("warning: {}; update skipped (training.on_nan = \"skip\")", m.skipped));
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    if (trainer.best_chunk() == m.chunk) best = batch_state();
    detail::progress(cb, command, static_cast<double>(m.chunk - start_chunk), static_cast<double>(total - start_chunk),
                     "chunks", fmt::format("loss {:.4g}", m.losses.total));
    const bool log_chunk = logged_chunk(config, m.chunk, total);
    const bool checkpoint_chunk = m.chunk % config.training.checkpoint_interval == 0 || m.chunk == total;
    if (root && (log_chunk || config.training.metrics_every_chunk)) {
      const MetricsRow row = metric_columns(config, request.method, m, block_weight_change(net, trainer), wall);
      csv += csv_row(row);
      // The file at every log and checkpoint: a resumed run keeps the rows up
      // to its checkpoint, so none is lost, and it is not rewritten each chunk.
      if (log_chunk || checkpoint_chunk) io::write_file_atomic(csv_path, csv);
      if (log_chunk) {
        message(cb, block_text(m, config, total, m.chunk - start_chunk, wall));
        try {  // training figures from the files just written: `plot DIR [--chunk N]` redraws the same bytes
          const plot::TrainingLog train_log = plot::load_training_log(dir);
          const fs::path chunk_figures = dir / "figures" / fmt::format("chunk_{:04}", m.chunk);
          plot::render_training_figures(train_log, chunk_figures);
          log_figures(*tb, chunk_figures, "figures", m.chunk);
          if (m.chunk == total) plot::render_training_figures(train_log, dir / "figures");
        } catch (const std::system_error&) {
          // A figure that cannot be written (a full disk) stops the run as any
          // other write does, before this chunk's checkpoint: the resumed run
          // draws them again instead of missing them.
          throw;
        } catch (const std::exception& e) {
          warning(cb, fmt::format("warning: training figures of chunk {} not drawn: {}", m.chunk, e.what()));
        }
      }
      log_scalars(*tb, row, m.chunk);
      if (log_chunk) write_weight_snapshot(dir, m.chunk, net, trainer, sparse);
      if (cb.on_log && !cb.on_log(row)) stop = true;
    }
    last = m;
    if (checkpoint_chunk) checkpoint();
  }
  detail::progress(cb, command, static_cast<double>(total - start_chunk), static_cast<double>(total - start_chunk),
                   "chunks", {}, true);
  SimulateResult final_state;
  if (root) final_state = simulate_state(config, trained_network(net, trainer), dir / "final_state", "final state", cb);
  if (ranks.any(final_state.status == Status::interrupted)) {
    warning(cb, fmt::format("Interrupted during the final-state simulation or its figures: all {} chunks are trained "
                            "and checkpointed, {}/final_state/ is incomplete. Resume (it simulates and draws the final "
                            "state again) with:\n  {}",
                            trainer.chunks_done(), dir.string(),
                            resume_command()));
    return finish_summary(Status::interrupted);
  }
  if (!root) return finish_summary(Status::completed);
  log_figures(*tb, dir / "final_state" / "figures", "final_state", trainer.chunks_done());
  for (const auto& [name, value] : final_state_columns(config, &final_state))
    tb->scalar(name, value, trainer.chunks_done());
  tb->hparams_end(true, trainer.chunks_done());
  tb->flush();

  const std::vector<plot::TypeOutcome> outcomes = target_outcomes(config, final_state, last);
  outcome = plot::target_summary_json(outcomes, last.chunk);
  io::write_file_atomic(dir / "parameters.toml", io::to_toml(config));
  message(cb, target_summary(config, outcomes));
  message(cb, fmt::format("✓ Trained {} chunks ({}); best total loss {:.6g} at chunk {}. Wrote {}/",
                          trainer.chunks_done(), request.method == Method::gradient ? "gradients" : "feedback rule",
                          trainer.best_loss(), trainer.best_chunk(), dir.string()));
  return finish_summary(Status::completed);
}

}  // namespace homeostat::run
