// Training checkpoints (of `train` and `feedback`, told apart by `method`): one .npz (numpy opens it) holding a TrainerState,
// the configuration that produced it (and its hash) and a checksum of every
// array. Written atomically (temporary file, fsync, rename): a crash during
// a save leaves the previous checkpoint as it was. Refused on load, with
// what is wrong, when an array is missing or misshapen, the checksum does not
// match, or the configuration differs. A state with a NaN or Inf is never
// written.
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/train.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace homeostat::io {

// FNV-1a of the resolved configuration (to_toml) with simulation.num_chunks
// left out: what the checkpoint is valid for. How long a run is planned
// changes nothing in its chunks (no schedule depends on it), so a run
// extended with `--resume --set simulation.num_chunks=N` continues from, and
// writes, the same checkpoints as one planned for N chunks from the start.
std::uint64_t config_hash(const Config& config);

// A run's parameters.toml as the version that wrote it meant it: a key that
// version did not have (added since) takes the value it behaved as, where
// that differs from the key's default (e.g. hyperparameters.rate_loss =
// "plain"). What `--resume` and `export` continue with.
Config load_run_config(const std::filesystem::path& parameters);

void save_checkpoint(const std::filesystem::path& path, const TrainerState& state, const Config& config);

// Loads and checks a checkpoint against `config` (configuration, shapes,
// values); throws std::runtime_error naming the file and the problem. The
// configuration: a checkpoint holds it (`config_toml`, to_toml's text with
// num_chunks 0) and its hash; the same bytes are accepted at once, others
// key by key: a value that differs is refused naming the key and both
// values, as is a key of either side the other does not know, except a key
// an earlier version did not have when `config` holds the value that
// version behaved as (load_run_config's). A checkpoint of a version before
// `config_toml` holds only the hash: its run's parameters.toml (next to
// checkpoints/), when its hash matches, stands for it.
TrainerState load_checkpoint(const std::filesystem::path& path, const Config& config);

}  // namespace homeostat::io
