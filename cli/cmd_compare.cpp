// `homeostat compare RUN...`: training runs side by side, a table of where
// each ended against its targets and, with -o, their rate and loss curves
// drawn together.
#include "commands.hpp"

#include "homeostat/plot/compare.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <memory>

namespace homeostat::cli {

namespace {

struct CompareOptions {
  std::vector<std::string> runs;
  std::string out;
};

std::string value(double x, const char* spec) {
  return std::isfinite(x) ? fmt::format(fmt::runtime(spec), x) : "-";
}

int run_compare(const CompareOptions& o) {
  std::vector<plot::RunOutcome> runs;
  for (const auto& dir : o.runs) runs.push_back(plot::load_run_outcome(dir));
  plot::label_runs(runs);
  std::size_t width = 4;
  for (const auto& r : runs) width = std::max(width, r.label.size());

  fmt::print("{:<{}}  {:<8} {:>6} {:>10}  {}\n", "run", width, "method", "chunks", "last loss", "end state from");
  for (const auto& r : runs)
    fmt::print("{:<{}}  {:<8} {:>6} {:>10}  {}\n", r.label, width, r.method, value(r.chunks_logged, "{:.0f}"),
               value(r.last_total_loss, "{:.4g}"), r.source);
  // One table per cell type of the first run.
  for (const auto& type : runs[0].types) {
    fmt::print("\n{} (target {} Hz):\n", type.name, value(type.target_rate, "{:.3g}"));
    fmt::print("  {:<{}}  {:>9} {:>8} {:>8} {:>6} {:>9}\n", "run", width, "rate [Hz]", "error", "active", "CV",
               "membrane");
    for (const auto& r : runs) {
      for (const auto& t : r.types) {
        if (t.name != type.name) continue;
        const double error = t.target_rate > 0 ? 100.0 * (t.rate - t.target_rate) / t.target_rate : NAN;
        fmt::print("  {:<{}}  {:>9} {:>8} {:>8} {:>6} {:>9}\n", r.label, width, value(t.rate, "{:.3g}"),
                   value(error, "{:+.1f}%"), value(100.0 * t.fraction_active, "{:.1f}%"), value(t.mean_cv, "{:.2f}"),
                   value(t.membrane_ratio, "{:.2f}"));
      }
    }
  }
  fmt::print("\nrate, active and CV: {}; membrane ratio: the last logged chunk\n",
             "the final state's simulation (or the last chunk where a run has none)");
  if (!o.out.empty()) {
    for (const auto& png : plot::render_compare_figures(runs, o.out)) fmt::print("✓ Wrote {}\n", png.string());
  }
  return 0;
}

}  // namespace

Action setup_compare(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "Training runs side by side: where each ended, and their curves together");
  auto o = std::make_shared<CompareOptions>();
  cmd->add_option("runs", o->runs, "Run directories of `train` or `feedback`")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--output", o->out, "Also draw compare_rates.png and compare_losses.png into this directory");
  return [o] { return run_compare(*o); };
}

}  // namespace homeostat::cli
