// homeostat: connectome-constrained spiking networks trained to homeostatic
// targets. Thin wiring: each subcommand lives in its own cmd_*.cpp.
#include "commands.hpp"
#include "common.hpp"

#include "homeostat/config.hpp"
#include "homeostat/version.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include <unistd.h>

int main(int argc, char** argv) {
  using namespace homeostat::cli;
  // Batch jobs (output to a file or pipe): each line reaches the log as it is
  // written, not when a 4 KB buffer fills.
  if (!isatty(STDOUT_FILENO)) std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"homeostat: build connectome-constrained spiking networks of conductance-based LIF neurons,\n"
               "simulate them and train them to homeostatic targets."};
  app.set_version_flag("--version", fmt::format("homeostat {} ({})", homeostat::version, homeostat::git_commit));
  app.require_subcommand(1);
  app.footer("Run `homeostat COMMAND --help` for the options of a command.");

  Action config = setup_config(app);
  Action simulate = setup_simulate(app, argc, argv);
  Action plot = setup_plot(app);
  Action gradient = setup_gradient(app, argc, argv);
  Action train = setup_train(app, argc, argv);
  Action feedback = setup_feedback(app, argc, argv);
  Action sweep = setup_sweep(app);
  Action export_network = setup_export(app);
  Action compare = setup_compare(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a wrong command line is a usage error,
    // exit 2 as a configuration error (not CLI11's own codes, 105 and up).
    return app.exit(e) == 0 ? exit_ok : exit_config;
  }
  try {
    for (const auto* sub : app.get_subcommands()) {
      if (sub->get_name() == "config") return config();
      if (sub->get_name() == "simulate") return simulate();
      if (sub->get_name() == "plot") return plot();
      if (sub->get_name() == "gradient") return gradient();
      if (sub->get_name() == "train") return train();
      if (sub->get_name() == "feedback") return feedback();
      if (sub->get_name() == "sweep") return sweep();
      if (sub->get_name() == "export") return export_network();
      if (sub->get_name() == "compare") return compare();
    }
  } catch (const homeostat::ConfigError& e) {
    for (const auto& one : e.errors()) fmt::print(stderr, "error: {}\n", one.what());
    return exit_config;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return exit_error;
  }
  return exit_error;
}
