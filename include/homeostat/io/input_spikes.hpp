// Recorded input spikes for replay (`simulate --inputs`, `gradient --inputs`):
// an .npy of shape [trials, steps, M], one 0/1 per input neuron and step.
#pragma once

#include "homeostat/inputs.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>

namespace homeostat::io {

// Reads and checks the whole file before anything runs: rank 3, at least one
// trial and one step, M = `m` inputs, every value 0 or 1 (bool or integer
// dtypes; floats only when exactly 0.0 or 1.0), and `trials` (0 = all in
// the file) no more than it holds. Throws std::runtime_error naming the
// file, what is wrong and, for a bad value, its first [trial, step, input].
std::unique_ptr<ReplayInputs> load_input_spikes(const std::filesystem::path& path, std::int64_t m,
                                                std::int64_t trials);

}  // namespace homeostat::io
