// `homeostat config`: print the built-in defaults, or check a configuration
// and print it fully resolved, or print the reference of every key.
#include "commands.hpp"
#include "common.hpp"

#include "homeostat/io/config_toml.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <memory>

namespace homeostat::cli {

Action setup_config(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "Print the built-in defaults, or check a config and print it resolved");
  struct Opts {
    CommonOptions common;
    bool defaults = false;
    bool reference = false;
  };
  auto opts = std::make_shared<Opts>();
  cmd->add_flag("--defaults", opts->defaults, "Print the built-in default configuration (commented TOML)");
  cmd->add_flag("--reference", opts->reference,
                 "Print every key with its type, default, allowed values and meaning (Markdown table)");
  add_common_options(*cmd, opts->common);
  return [opts] {
    if (opts->reference) {
      fmt::print("{}", io::reference_markdown());
      return 0;
    }
    if (opts->defaults && opts->common.params.empty() && opts->common.overrides.empty()) {
      fmt::print("{}", io::default_config_toml());
      return 0;
    }
    const Config c = resolve_config(opts->common);
    fmt::print("{}", io::to_toml(c));
    return 0;
  };
}

}  // namespace homeostat::cli
