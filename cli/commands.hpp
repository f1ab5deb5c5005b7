// One function per subcommand: `setup_X` declares its options on the app and
// returns the action to run once parsing has succeeded.
#pragma once

#include "homeostat/plot/figures.hpp"

#include <filesystem>
#include <functional>

namespace CLI {
class App;
}

namespace homeostat::cli {

using Action = std::function<int()>;

Action setup_config(CLI::App& app);
Action setup_simulate(CLI::App& app, int argc, char** argv);
Action setup_plot(CLI::App& app);
Action setup_gradient(CLI::App& app, int argc, char** argv);
Action setup_train(CLI::App& app, int argc, char** argv);
Action setup_feedback(CLI::App& app, int argc, char** argv);
Action setup_sweep(CLI::App& app);
Action setup_export(CLI::App& app);
Action setup_compare(CLI::App& app);

// Draws every figure of the run in `dir` into `out` from the saved files
// (cmd_plot.cpp); used by `simulate` and `plot`.
// `config` and `network`, when given, are the run's own (still in memory)
// and are used instead of reloading parameters.toml and the network.
int write_run_figures(const std::filesystem::path& dir, const std::filesystem::path& out, bool verbose,
                      const plot::FigureOptions& options = {}, const Config* config = nullptr,
                      const Network* network = nullptr);

}  // namespace homeostat::cli
