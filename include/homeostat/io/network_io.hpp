// network_structure.npz: the connectome in the layout the original Python
// project writes, so networks move between the two.
//
// Keys: recurrent_weights [N,N] (pre, post) f4, feedforward_weights [M,N] f4,
// recurrent_connectivity [N,N] bool, feedforward_connectivity [M,N] bool,
// cell_type_indices [N] i8, feedforward_cell_type_indices [M] i8,
// assembly_ids [N] i8 (-1 = no assembly).
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/connectome.hpp"

#include <filesystem>

namespace homeostat::io {

void save_network(const std::filesystem::path& path, const Network& network);

// Loads and checks against `config` (sizes, type indices, dtypes, weights on
// every edge > 0 and finite); errors name the file, the array and the reason.
Network load_network(const std::filesystem::path& path, const Config& config);

// Dense weight matrices as float32 [pre, post] for results/*.npy.
std::vector<float> dense_weights_f32(const Csr& csr);
std::vector<bool> dense_mask(const Csr& csr);

}  // namespace homeostat::io
