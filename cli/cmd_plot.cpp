// `homeostat plot DIR`: regenerates every figure of a run directory from its
// saved files alone (DIR/figures/*.png). `simulate` calls the same
// write_run_figures after writing its run.
#include "commands.hpp"

#include "homeostat/plot/figures.hpp"
#include "homeostat/plot/run_data.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <memory>

namespace homeostat::cli {

namespace fs = std::filesystem;

int write_run_figures(const fs::path& dir, const fs::path& out, bool verbose, const plot::FigureOptions& options,
                      const Config* config, const Network* network) {
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
  const auto outcomes = plot::render_simulate_figures(data, out, options);
  int drawn = 0;
  for (const auto& o : outcomes) {
    if (o.skipped.empty()) {
      ++drawn;
      if (verbose) fmt::print("  {:<32} {:.2f} s\n", o.name + ".png", o.seconds);
    } else {
      fmt::print("  skipped {}: {}\n", o.name, o.skipped);
    }
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("✓ Saved plots to {} ({} figures in {:.2g} s, of which {:.2g} s reading the run)\n", out.string(), drawn,
             total, load_s);
  return 0;
}

namespace {

struct PlotOptions {
  std::string dir;
  std::string out;
  bool list = false;
  plot::FigureOptions figure;
};

int run_plot(const PlotOptions& o) {
  if (o.list) {
    for (const auto& f : plot::simulate_figures()) fmt::print("{:<32} {}\n", f.name + ".png", f.what);
    return 0;
  }
  if (o.dir.empty()) throw std::invalid_argument("plot: give the run directory (homeostat plot DIR)");
  const fs::path out = o.out.empty() ? fs::path(o.dir) / "figures" : fs::path(o.out);
  fmt::print("homeostat plot: {}\n", o.dir);
  return write_run_figures(o.dir, out, true, o.figure);
}

}  // namespace

Action setup_plot(CLI::App& app) {
  auto* cmd = app.add_subcommand("plot", "Regenerate every figure of a run directory from its saved data");
  auto o = std::make_shared<PlotOptions>();
  cmd->add_option("DIR", o->dir, "Run directory written by `homeostat simulate`")->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--output", o->out, "Where to write the PNGs (default DIR/figures)");
  cmd->add_flag("--list", o->list, "List the figures and what each shows");
  cmd->add_option("--width", o->figure.width, "Figure width [px]")->capture_default_str()->check(CLI::Range(400, 8000));
  cmd->add_option("--height", o->figure.height, "Figure height [px]")->capture_default_str()->check(CLI::Range(300, 8000));
  cmd->footer("Training runs (loss curves, rates vs targets over chunks, --chunk N) follow with `homeostat train`.");
  return [o] { return run_plot(*o); };
}

}  // namespace homeostat::cli
