// `homeostat plot DIR`: regenerates every figure of a run directory from its
// saved files alone (DIR/figures/*.png), as `simulate` draws them
// (run::write_run_figures). On a training run (metrics CSV, no
// results/) it redraws the training figures, as `train` draws them.
#include "commands.hpp"
#include "common.hpp"

#include "homeostat/io/files.hpp"
#include "homeostat/plot/figures.hpp"
#include "homeostat/plot/run_data.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <limits>
#include <memory>
#include <vector>

namespace homeostat::cli {

namespace fs = std::filesystem;

namespace {

struct PlotOptions {
  std::string dir;
  std::string out;
  bool list = false;
  std::int64_t chunk = -1;
  plot::FigureOptions figure;
};

// The training figures of run `dir` (metrics up to `chunk`, or all) into `out`.
int write_training_figures(const fs::path& dir, const fs::path& out, std::int64_t chunk,
                           const plot::FigureOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const plot::TrainingLog log = plot::load_training_log(dir, chunk);
  if (log.metrics.rows.empty())
    throw std::invalid_argument(fmt::format("plot: {} has no metrics rows{}", (dir / "training_metrics.csv").string(),
                                            chunk >= 0 ? fmt::format(" up to chunk {}", chunk) : ""));
  if (chunk >= 0) {
    // Figures named after a chunk the run has not reached would show an
    // earlier chunk's metrics under its name.
    const std::vector<double> logged = plot::load_training_log(dir).metrics.column("chunk");
    if (static_cast<double>(chunk) > logged.back())
      throw std::invalid_argument(fmt::format("plot: --chunk {}: {} has metrics up to chunk {} only", chunk,
                                              (dir / "training_metrics.csv").string(), logged.back()));
  }
  int drawn = 0;
  for (const auto& o : plot::render_training_figures(log, out, options)) {
    if (o.skipped.empty()) {
      ++drawn;
      fmt::print("  {:<32} {:.2f} s\n", o.name + ".png", o.seconds);
    } else {
      fmt::print("  skipped {}: {}\n", o.name, o.skipped);
    }
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("✓ Saved plots to {} ({} figures in {:.2g} s)\n", out.string(), drawn, total);
  return 0;
}

int run_plot(const PlotOptions& o) {
  if (o.list) {
    for (const auto& f : plot::simulate_figures()) fmt::print("{:<32} {}\n", f.name + ".png", f.what);
    fmt::print("training runs (homeostat train):\n");
    for (const auto& f : plot::training_figures()) fmt::print("{:<32} {}\n", f.name + ".png", f.what);
    return 0;
  }
  if (o.dir.empty()) throw std::invalid_argument("plot: give the run directory (homeostat plot DIR)");
  if (plot::is_training_run(o.dir)) {
    fs::path out = o.out.empty() ? fs::path(o.dir) / "figures" : fs::path(o.out);
    if (o.chunk >= 0) out /= fmt::format("chunk_{:04}", o.chunk);
    fmt::print("homeostat plot: {} (training run)\n", o.dir);
    report_removed(io::remove_stale_temp_files(out));
    return write_training_figures(o.dir, out, o.chunk, o.figure);
  }
  if (o.chunk >= 0)
    throw std::invalid_argument("plot: --chunk is for training runs (DIR/training_metrics.csv, no DIR/results/)");
  const fs::path out = o.out.empty() ? fs::path(o.dir) / "figures" : fs::path(o.out);
  fmt::print("homeostat plot: {}\n", o.dir);
  report_removed(io::remove_stale_temp_files(out));  // what a killed plot left
  const Console console(false);
  run::write_run_figures(o.dir, out, true, o.figure, console.callbacks());
  return 0;
}

}  // namespace

Action setup_plot(CLI::App& app) {
  auto* cmd = app.add_subcommand("plot", "Regenerate every figure of a run directory from its saved data");
  auto o = std::make_shared<PlotOptions>();
  cmd->add_option("DIR", o->dir, "Run directory written by `homeostat simulate` or `homeostat train`")->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--output", o->out, "Where to write the PNGs (default DIR/figures)");
  cmd->add_flag("--list", o->list, "List the figures and what each shows");
  cmd->add_option("--chunk", o->chunk, "Training run: only the metrics up to chunk N, into DIR/figures/chunk_NNNN/")
      ->check(whole_number(0, std::numeric_limits<int>::max()));
  cmd->add_option("--width", o->figure.width, "Figure width [px]")->capture_default_str()->check(CLI::Range(400, 8000));
  cmd->add_option("--height", o->figure.height, "Figure height [px]")->capture_default_str()->check(CLI::Range(300, 8000));
  cmd->footer("On a training run (DIR/training_metrics.csv, no DIR/results/) draws the training figures: losses, "
              "rates vs targets and active fractions over chunks.");
  return [o] { return run_plot(*o); };
}

}  // namespace homeostat::cli
