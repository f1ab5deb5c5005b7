// TOML <-> Config: parsing with strict key checking, command-line overrides,
// built-in defaults and the resolved `parameters.toml` written by every run.
//
// Every error is a ConfigError naming the source (file, "built-in defaults"
// or the --set argument), the dotted key and the reason.
#pragma once

#include "homeostat/config.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace homeostat::io {

// The built-in configuration (what `homeostat config --defaults` prints).
std::string_view default_config_toml();

// TOML text -> validated Config. `overrides` are "section.key=value" strings
// (value in TOML syntax; a bare word is taken as a string) applied before
// the keys are read.
Config parse_config(std::string_view text, const std::string& source,
                    const std::vector<std::string>& overrides = {});

// Reads PARAMS.toml, or the built-in defaults when `path` is empty.
Config load_config(const std::filesystem::path& path,
                   const std::vector<std::string>& overrides = {});

// The full, resolved configuration as TOML; parse_config(to_toml(c)) == c.
std::string to_toml(const Config& config);

}  // namespace homeostat::io
