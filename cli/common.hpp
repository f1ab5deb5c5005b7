// Shared command-line wiring: config loading with the file/--set options,
// output directories, metadata.json, a progress bar.
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/inputs.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace homeostat::cli {

// Options every working command shares.
struct CommonOptions {
  std::string params;                 // PARAMS.toml, empty = built-in defaults
  std::vector<std::string> overrides; // --set section.key=value
  int threads = 0;                    // 0 = all cores
};
void add_common_options(CLI::App& cmd, CommonOptions& opts);

// The resolved config (throws ConfigError) and the thread count applied.
Config resolve_config(const CommonOptions& opts);
int apply_threads(int threads);

// Refuses an existing non-empty directory unless `overwrite`; creates it.
// Call only after every input has been checked, so that a rejected run
// leaves nothing behind.
void prepare_output_dir(const std::filesystem::path& dir, bool overwrite);

// What a run records about itself (metadata.json).
struct RunInfo {
  std::string command;  // command line as typed
  std::chrono::system_clock::time_point start = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point start_steady = std::chrono::steady_clock::now();
};
std::string command_line(int argc, char** argv);
nlohmann::json metadata(const RunInfo& info, const Config& config, int threads);
std::string iso_time(std::chrono::system_clock::time_point t);

// Writes parameters.toml and metadata.json into `dir`.
void write_run_files(const std::filesystem::path& dir, const Config& config, const nlohmann::json& meta);

// A one-line progress bar on stderr with rate and time left; silent when
// stderr is not a terminal.
class Progress {
 public:
  Progress(std::string label, double total, std::string unit);
  ~Progress();
  void update(double done, const std::string& extra = {});
  void finish_line();  // clears the bar so that other output starts on a clean line
  void finish();

 private:
  std::string label_, unit_;
  double total_;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace homeostat::cli
