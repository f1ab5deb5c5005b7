// One function per subcommand: `setup_X` declares its options on the app and
// returns the action to run once parsing has succeeded.
#pragma once

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

}  // namespace homeostat::cli
