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

// Loads and checks against `config`: sizes (refused before inflating a
// member larger than expected), dtypes, type indices, per-type counts equal
// to round(n p) (MODEL.md 1), weights finite and > 0 on every edge and 0
// off the connectivity. Errors name the file, the array, the first bad index
// and the reason.
Network load_network(const std::filesystem::path& path, const Config& config);

// A weight matrix as the edge list scipy.sparse.save_npz writes for a CSR
// matrix, so that scipy.sparse.load_npz(path) reads it: format b"csr",
// shape i8 [2] = (pre, post), data f4 [E] (the weights), indices i4 [E]
// (postsynaptic neuron), indptr i8 [pre + 1] (row j's edges are
// indptr[j]:indptr[j+1]). E = edges, in the order of training's parameters.
void save_sparse_weights(const std::filesystem::path& path, const Csr& csr);

// Dense weight matrices as float32 [pre, post] for results/*.npy.
std::vector<float> dense_weights_f32(const Csr& csr);
std::vector<bool> dense_mask(const Csr& csr);

}  // namespace homeostat::io
