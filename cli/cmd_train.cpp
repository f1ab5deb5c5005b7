// `homeostat train` and `homeostat feedback`: stage 2, homeostatic training
// by gradients or by the feedback rule, with the same outputs: checkpoints,
// exact resume, Ctrl-C handling, the metrics CSV, TensorBoard, figures.
#include "commands.hpp"
#include "common.hpp"

#include "homeostat/io/checkpoint.hpp"
#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/io/network_io.hpp"
#include "homeostat/io/npy.hpp"
#include "homeostat/io/tensorboard.hpp"
#include "homeostat/plot/run_data.hpp"
#include "homeostat/train.hpp"
#include "simulate_run.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <chrono>
#include <csignal>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>

namespace homeostat::cli {

namespace {

namespace fs = std::filesystem;

// Set by SIGINT/SIGTERM; the loop finishes the current chunk, checkpoints
// and exits.
std::atomic<int> stop_signal{0};
extern "C" void on_stop_signal(int sig) { stop_signal.store(sig); }

struct TrainOptions {
  Method method = Method::gradient;
  CommonOptions common;
  std::string out;
  std::string network;
  std::string resume;
  bool overwrite = false;
  RunInfo info;
};

// One row of the metrics CSV (and of TensorBoard) as (column, value) pairs:
// the losses and per-type activity, then what the method did to the weights
// (gradient: its norm and the learning rate; feedback: the mean factors
// per postsynaptic type), then the wall time.
std::vector<std::pair<std::string, double>> metric_columns(const Config& c, Method method, const ChunkMetrics& m,
                                                           double wall) {
  const std::size_t n_types = c.recurrent.type_names.size();
  auto type_value = [&](const std::vector<double>& v, std::size_t t) {
    return t < v.size() ? v[t] : std::numeric_limits<double>::quiet_NaN();  // empty: no update (skipped)
  };
  std::vector<std::pair<std::string, double>> cols{{"total_loss", m.losses.total}};
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
  cols.emplace_back("wall_seconds", wall);
  return cols;
}

std::string csv_header(const Config& c, Method method) {
  std::string h = "chunk";
  for (const auto& [name, value] : metric_columns(c, method, ChunkMetrics{}, 0)) h += "," + name;
  return h + "\n";
}

std::string csv_row(const Config& c, Method method, const ChunkMetrics& m, double wall) {
  std::string r = fmt::format("{}", m.chunk);
  for (const auto& [name, value] : metric_columns(c, method, m, wall))
    r += name == "wall_seconds" ? fmt::format(",{:.3f}", value) : fmt::format(",{:.9g}", value);
  return r + "\n";
}

// The CSV row's values as TensorBoard scalars, under the CSV's column names.
void log_scalars(io::TensorBoardWriter& tb, const Config& c, Method method, const ChunkMetrics& m, double wall) {
  for (const auto& [name, value] : metric_columns(c, method, m, wall)) tb.scalar(name, value, m.chunk);
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

// Keeps the CSV rows of chunks <= `upto` (a resumed run rewrites what came after).
std::string csv_upto(const fs::path& path, std::int64_t upto) {
  std::ifstream in(path);
  std::string line, out;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      out += line + "\n";
      header = false;
      continue;
    }
    if (std::stoll(line.substr(0, line.find(','))) <= upto) out += line + "\n";
  }
  return out;
}

void print_block(const ChunkMetrics& m, const Config& c, std::int64_t total) {
  fmt::print("Chunk {}/{}:\n  Loss: {:.6f}\n", m.chunk, total, m.losses.total);
  for (const LossTerm t : all_loss_terms)
    fmt::print("  {}_loss: {:.6f}\n", to_string(t), m.losses.term[static_cast<int>(t)]);
  for (std::size_t t = 0; t < c.recurrent.type_names.size(); ++t)
    fmt::print("  mean_firing_rate/{}: {:.3g} Hz (target {:.3g})\n", c.recurrent.type_names[t], m.mean_rate[t],
               c.targets.per_type[t].firing_rate);
  for (std::size_t t = 0; t < c.recurrent.type_names.size(); ++t)
    fmt::print("  fraction_active/{}: {:.2f}\n", c.recurrent.type_names[t], m.fraction_active[t]);
  std::fflush(stdout);
}

// A `simulation.duration` run of one trial with `net`, as `simulate` writes
// it (results, analysis, network_structure.npz) plus its figures, in `dir`:
// the initial and final states of training.
SimulateSummary simulate_state(const Config& config, const Network& net, const fs::path& dir, const std::string& label) {
  SimulateRequest req;
  req.steps = std::llround(config.simulation.duration / config.simulation.dt);
  req.progress_label = label;
  req.record.voltages = req.record.conductances = req.record.currents = true;
  std::vector<std::int64_t> all(net.n);
  for (std::int64_t i = 0; i < net.n; ++i) all[i] = i;
  req.record.neurons = plot::pick_per_type(all, net.cell_type, 3);
  const SimulateSummary s = simulate_to_dir(config, net, req, dir);
  std::string rates;
  for (std::size_t t = 0; t < s.mean_rate_hz.size(); ++t)
    rates += fmt::format("{}{} {:.3g} Hz", t ? ", " : "", config.recurrent.type_names[t], s.mean_rate_hz[t]);
  fmt::print("  {}: {:.3g} s simulated: {}\n", label, config.simulation.duration / 1000.0, rates);
  write_run_figures(dir, dir / "figures", false, {}, &config, &net);
  return s;
}

// Where each target stands at the end: the final state's simulation for the
// rates, activity and CV; the last chunk for the membrane ratio.
void print_target_summary(const Config& c, const SimulateSummary& final_state, const ChunkMetrics& last) {
  fmt::print("Targets after training ({:.3g} s of the final state; membrane ratio from the last chunk):\n",
             c.simulation.duration / 1000.0);
  for (std::size_t t = 0; t < c.recurrent.type_names.size(); ++t) {
    const CellTargets& target = c.targets.per_type[t];
    const double rate = final_state.mean_rate_hz[t];
    const double off = target.firing_rate > 0 ? 100.0 * (rate - target.firing_rate) / target.firing_rate : 0.0;
    fmt::print("  {:<12} rate {:.3g} Hz (target {:.3g}, {:+.1f}%), active {:.1f}%, CV {:.2f} (target {:.2g})",
               c.recurrent.type_names[t], rate, target.firing_rate, off, 100.0 * final_state.fraction_active[t],
               final_state.mean_cv[t], target.cv);
    if (t < last.membrane_ratio.size())
      fmt::print(", membrane ratio {:.2f} (target {:.2g})", last.membrane_ratio[t], target.threshold_ratio);
    fmt::print("\n");
  }
}

Network trained_network(Network net, const Trainer& trainer) {
  const auto& lm = trainer.model();
  net.recurrent.weight.assign(lm.rec_weight.begin(), lm.rec_weight.end());
  net.feedforward.weight.assign(lm.ff_weight.begin(), lm.ff_weight.end());
  return net;
}

// The weights as they stand, dense [pre, post] float32 (as initial_state/).
void write_weight_snapshot(const fs::path& dir, std::int64_t chunk, const Network& net, const Trainer& trainer) {
  const Network now = trained_network(net, trainer);
  io::write_npy(dir / "weights" / fmt::format("recurrent_epoch_{:04}.npy", chunk), io::dense_weights_f32(now.recurrent),
                {net.n, net.n});
  io::write_npy(dir / "weights" / fmt::format("feedforward_epoch_{:04}.npy", chunk),
                io::dense_weights_f32(now.feedforward), {net.m, net.n});
}

int run_train(TrainOptions& o) {
  fs::path dir = o.out;
  Config config;
  Network net;
  std::optional<TrainerState> resumed;
  if (!o.resume.empty()) {
    // A run continues with its own configuration and network.
    if (dir.empty()) dir = fs::path(o.resume).parent_path().parent_path();
    if (!o.common.params.empty() || !o.common.overrides.empty())
      throw std::invalid_argument("--resume continues with the run's own parameters.toml: no PARAMS or --set");
    config = io::load_config(dir / "parameters.toml");
    net = io::load_network(dir / "initial_state" / "network_structure.npz", config);
    resumed = io::load_checkpoint(o.resume, config);
  } else {
    if (dir.empty()) throw std::invalid_argument(to_string(o.method) + ": give the output directory with -o DIR");
    config = resolve_config(o.common);
    net = o.network.empty() ? generate_network(config) : io::load_network(o.network, config);
  }
  const int threads = apply_threads(o.common.threads);
  Trainer trainer(config, net, o.method);
  if (resumed) trainer.restore(*resumed);
  const std::string command = to_string(o.method);
  const std::int64_t start_chunk = trainer.chunks_done();
  const std::int64_t total = config.simulation.num_chunks;

  if (!resumed) {
    prepare_output_dir(dir, o.overwrite);
    io::write_file_atomic(dir / "parameters.toml", io::to_toml(config));
    io::save_network(dir / "initial_state" / "network_structure.npz", net);
    io::write_npy(dir / "initial_state" / "recurrent_weights.npy", io::dense_weights_f32(net.recurrent),
                  {net.n, net.n});
    io::write_npy(dir / "initial_state" / "feedforward_weights.npy", io::dense_weights_f32(net.feedforward),
                  {net.m, net.n});
    simulate_state(config, net, dir / "initial_state", "initial state");
  }
  for (const auto& p : io::remove_stale_temp_files(dir)) fmt::print(stderr, "note: removed {}, left by a killed run\n", p.string());
  io::TensorBoardWriter tb(dir / "tensorboard", resumed ? start_chunk : -1);
  if (!resumed) log_figures(tb, dir / "initial_state" / "figures", "initial_state", 0);
  const fs::path csv_path = dir / "training_metrics.csv";
  std::string csv =
      resumed && fs::exists(csv_path) ? csv_upto(csv_path, start_chunk) : csv_header(config, o.method);

  fmt::print("homeostat {}: N = {}, M = {}, {} trials x {} steps per chunk, chunks {}..{} of {}, {} thread(s)\n",
             command, net.n, net.m, config.training.batch_size, config.simulation.chunk_size, start_chunk + 1, total, total,
             threads);
  if (resumed) fmt::print("  resumed from {} (chunk {})\n", o.resume, start_chunk);
  fmt::print("  rate loss: {}\n", describe_rate_loss(config.hyperparameters.rate_loss, config.training.batch_size));

  stop_signal.store(0);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  const auto wall_start = std::chrono::steady_clock::now();
  Progress progress(command, static_cast<double>(total - start_chunk), "chunks");
  std::optional<TrainerState> best;  // the state at the best chunk, until written
  std::int64_t best_written = resumed ? resumed->best_chunk : 0;
  auto checkpoint = [&] {
    const fs::path ck = dir / "checkpoints";
    if (best && best->best_chunk > best_written) {  // first: a kill between the two leaves the best on disk
      io::save_checkpoint(ck / "checkpoint_best.npz", *best, config);
      best_written = best->best_chunk;
    }
    io::save_checkpoint(ck / "checkpoint_latest.npz", trainer.state(), config);
  };

  ChunkMetrics last;
  while (trainer.chunks_done() < total) {
    ChunkMetrics m;
    try {
      m = trainer.run_chunk();
    } catch (const NonFiniteError& e) {
      progress.finish();
      io::write_file_atomic(csv_path, csv);
      fmt::print(stderr, "error: {}; stopped without writing a checkpoint (the last one, if any, is intact)\n",
                 e.what());
      return 3;
    }
    if (!m.skipped.empty()) {
      progress.finish_line();
      fmt::print(stderr, "warning: {}; update skipped (training.on_nan = \"skip\")\n", m.skipped);
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    if (trainer.best_chunk() == m.chunk) best = trainer.state();
    progress.update(static_cast<double>(m.chunk - start_chunk), fmt::format("loss {:.4g}", m.losses.total));
    if (m.chunk % config.training.log_interval == 0 || m.chunk == total) {
      progress.finish_line();
      print_block(m, config, total);
      csv += csv_row(config, o.method, m, wall);
      io::write_file_atomic(csv_path, csv);
      try {  // training figures from the files just written: `plot DIR [--chunk N]` redraws the same bytes
        const plot::TrainingLog train_log = plot::load_training_log(dir);
        const fs::path chunk_figures = dir / "figures" / fmt::format("chunk_{:04}", m.chunk);
        plot::render_training_figures(train_log, chunk_figures);
        log_figures(tb, chunk_figures, "figures", m.chunk);
        if (m.chunk == total) plot::render_training_figures(train_log, dir / "figures");
      } catch (const std::exception& e) {
        fmt::print(stderr, "warning: training figures of chunk {} not drawn: {}\n", m.chunk, e.what());
      }
      log_scalars(tb, config, o.method, m, wall);
      write_weight_snapshot(dir, m.chunk, net, trainer);
    }
    last = m;
    const bool at_end = m.chunk == total;
    if (m.chunk % config.training.checkpoint_interval == 0 || at_end) checkpoint();
    if (stop_signal.load() != 0 && !at_end) {
      progress.finish();
      checkpoint();
      io::write_file_atomic(csv_path, csv);
      fmt::print(stderr, "Interrupted after chunk {}: checkpoint saved. Resume with:\n  homeostat {} --resume {}\n",
                 m.chunk, command, (dir / "checkpoints" / "checkpoint_latest.npz").string());
      return 130;
    }
  }
  progress.finish();
  const SimulateSummary final_state =
      simulate_state(config, trained_network(net, trainer), dir / "final_state", "final state");
  log_figures(tb, dir / "final_state" / "figures", "final_state", trainer.chunks_done());

  nlohmann::json meta = metadata(o.info, config, threads);
  meta[command] = {{"chunks_done", trainer.chunks_done()},
                   {"best_loss", trainer.best_loss()},
                   {"best_chunk", trainer.best_chunk()},
                   {"resumed_from", resumed ? o.resume : ""},
                   {"resumed_at_chunk", start_chunk},
                   {"rate_loss", describe_rate_loss(config.hyperparameters.rate_loss, config.training.batch_size)}};
  write_run_files(dir, config, meta);
  print_target_summary(config, final_state, last);
  fmt::print("✓ Trained {} chunks ({}); best total loss {:.6g} at chunk {}. Wrote {}/\n", trainer.chunks_done(),
             o.method == Method::gradient ? "gradients" : "feedback rule", trainer.best_loss(), trainer.best_chunk(),
             dir.string());
  return 0;
}

}  // namespace

namespace {

CLI::App* setup_training_command(CLI::App& app, int argc, char** argv, Method method,
                                 const std::shared_ptr<TrainOptions>& o) {
  const bool gradient = method == Method::gradient;
  const std::string name = to_string(method);
  auto* cmd = app.add_subcommand(
      name, gradient ? "Stage 2: train the synaptic weights to the homeostatic targets (BPTT)"
                     : "Stage 2: homeostatic synaptic scaling from observed rates, no gradients ([feedback] section)");
  o->method = method;
  o->info.command = command_line(argc, argv);
  add_common_options(*cmd, o->common);
  cmd->add_option("-o,--output", o->out, "Output directory (with --resume: the run's directory, by default)");
  cmd->add_option("--network", o->network, "Start from network_structure.npz instead of generating one")
      ->check(CLI::ExistingFile);
  cmd->add_option("--resume", o->resume, "Continue a run from DIR/checkpoints/checkpoint_latest.npz")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--overwrite", o->overwrite, "Write into an existing non-empty output directory");
  cmd->footer("Figures every log_interval chunks in DIR/figures/chunk_XXXX/; `homeostat plot DIR` redraws them.");
  return cmd;
}

}  // namespace

Action setup_train(CLI::App& app, int argc, char** argv) {
  auto o = std::make_shared<TrainOptions>();
  setup_training_command(app, argc, argv, Method::gradient, o);
  return [o] { return run_train(*o); };
}

Action setup_feedback(CLI::App& app, int argc, char** argv) {
  auto o = std::make_shared<TrainOptions>();
  setup_training_command(app, argc, argv, Method::feedback, o);
  return [o] { return run_train(*o); };
}

}  // namespace homeostat::cli
