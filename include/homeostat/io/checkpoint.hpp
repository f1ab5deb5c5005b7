// Training checkpoints (of `train` and `feedback`, told apart by `method`): one .npz (numpy opens it) holding a TrainerState,
// the hash of the configuration that produced it and a checksum of every
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

void save_checkpoint(const std::filesystem::path& path, const TrainerState& state, const Config& config);

// Loads and checks a checkpoint against `config` (hash and shapes); throws
// std::runtime_error naming the file and the problem.
TrainerState load_checkpoint(const std::filesystem::path& path, const Config& config);

}  // namespace homeostat::io
