// Edge generation (MODEL.md section 2) and log-normal weights, private to
// src/connectome; generate_network (network.cpp) is the public entry point.
//
// Randomness: topology draws come from Stream::recurrent_topology /
// feedforward_topology, weights from Stream::recurrent_weights /
// feedforward_weights with one sub-stream per presynaptic neuron, so a change
// in how edges are drawn never shifts the weights of untouched rows.
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/connectome.hpp"
#include "homeostat/rng.hpp"

#include <cstdint>
#include <vector>

namespace homeostat::detail {

// Unsorted edge list, global neuron indices.
struct EdgeList {
  std::vector<std::int32_t> pre;   // [n_edges]
  std::vector<std::int32_t> post;  // [n_edges]
  std::size_t size() const { return pre.size(); }
};

// Recurrent N -> N edges. cell_type and assembly: [N] as from assign_cell_types.
EdgeList recurrent_edges(const RecurrentConfig& rc, const std::vector<std::int32_t>& cell_type,
                         const std::vector<std::int32_t>& assembly, std::uint64_t seed);

// Feedforward M -> N edges. input_type: [M]; cell_type: [N], values in
// [0, n_types) (the recurrent types, columns of conn_inputs).
EdgeList feedforward_edges(const FeedforwardConfig& fc,
                           const std::vector<std::int32_t>& input_type,
                           const std::vector<std::int32_t>& cell_type, std::size_t n_types,
                           std::uint64_t seed);

// Overwrites csr.weight with log-normal draws of mean w_mu[a][b] and standard
// deviation w_sigma[a][b] (a = pre_type[pre], b = post_type[post]); exactly
// w_mu where w_sigma is 0. Row j draws from Philox(seed, stream, j), one
// normal per edge in row order.
void draw_lognormal_weights(Csr& csr, const std::vector<std::int32_t>& pre_type,
                            const std::vector<std::int32_t>& post_type, const Matrix& w_mu,
                            const Matrix& w_sigma, std::uint64_t seed, Stream stream);

}  // namespace homeostat::detail
