// TOML <-> Config: parsing with strict key checking, command-line overrides,
// built-in defaults and the resolved `parameters.toml` written by every run.
//
// Every error is a ConfigError naming the source (file, "built-in defaults"
// or the --set argument), the dotted key and the reason; all the errors of a
// file come together (ConfigError::errors()). The keys, their types, ranges
// and defaults are those of the schema (homeostat/schema.hpp).
#pragma once

#include "homeostat/config.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace homeostat::io {

// The built-in configuration (schema::default_config()) as commented TOML:
// what `homeostat config --defaults` prints.
std::string default_config_toml();

// TOML text -> validated Config. `overrides` are "section.key=value" strings
// (value in TOML syntax; a bare word is taken as a string) applied before
// the keys are read.
Config parse_config(std::string_view text, const std::string& source,
                    const std::vector<std::string>& overrides = {});

// Reads PARAMS.toml, or the built-in defaults when `path` is empty.
Config load_config(const std::filesystem::path& path,
                   const std::vector<std::string>& overrides = {});

// The full, resolved configuration as TOML; parse_config(to_toml(c)) == c.
// Its bytes are part of every checkpoint's config_hash: keep them stable.
std::string to_toml(const Config& config);

// The same keys and values, each line followed by the key's documentation.
std::string to_commented_toml(const Config& config);

// The configuration reference as a Markdown table (key, type, default,
// allowed values, meaning), one row per key of the schema: README.md's
// "Configuration reference" holds a copy (`homeostat config --reference`).
std::string reference_markdown();

}  // namespace homeostat::io
