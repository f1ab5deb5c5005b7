// The connectome: cell types, assemblies and the two weighted directed graphs
// (recurrent N -> N, feedforward M -> N) of MODEL.md sections 1-2.
//
// Edges are stored per presynaptic neuron (CSR): propagating a spike walks
// one contiguous row. Weights are dimensionless multipliers of the receptor's
// peak conductance, always > 0.
#pragma once

#include "homeostat/config.hpp"

#include <cstdint>
#include <vector>

namespace homeostat {

// Sparse rows by presynaptic neuron; targets sorted ascending in each row.
struct Csr {
  std::int64_t n_pre = 0;
  std::int64_t n_post = 0;
  std::vector<std::int64_t> row_ptr;  // [n_pre + 1]
  std::vector<std::int32_t> post;     // [n_edges]
  std::vector<double> weight;         // [n_edges], > 0

  std::int64_t n_edges() const { return static_cast<std::int64_t>(post.size()); }
  // Dense [n_pre, n_post] (row-major) with value_of_edge(e) at each edge's
  // place and T{} elsewhere; the one CSR -> dense conversion (weights, masks,
  // per-edge gradients over a lowered model's row/post arrays).
  template <class T, class F>
  static std::vector<T> dense(const std::vector<std::int64_t>& row_ptr, const std::vector<std::int32_t>& post,
                              std::int64_t n_pre, std::int64_t n_post, F value_of_edge) {
    std::vector<T> out(static_cast<std::size_t>(n_pre * n_post), T{});
    for (std::int64_t j = 0; j < n_pre; ++j)
      for (std::int64_t e = row_ptr[j]; e < row_ptr[j + 1]; ++e) out[j * n_post + post[e]] = value_of_edge(e);
    return out;
  }
  // Builds from an edge list (any order, no duplicates); weights follow.
  static Csr from_edges(std::int64_t n_pre, std::int64_t n_post,
                        const std::vector<std::int32_t>& pre,
                        const std::vector<std::int32_t>& post,
                        const std::vector<double>& weight);
  // Dense [n_pre, n_post], row-major, 0 where no edge.
  std::vector<double> dense() const;
  // From a dense row-major [n_pre, n_post] weight matrix and a connectivity
  // mask of the same shape (an edge where mask is true; its weight must be > 0).
  static Csr from_dense(std::int64_t n_pre, std::int64_t n_post,
                        const std::vector<double>& weights,
                        const std::vector<std::uint8_t>& mask);
};

struct Network {
  std::int64_t n = 0;  // recurrent neurons
  std::int64_t m = 0;  // feedforward inputs
  std::vector<std::int32_t> cell_type;   // [N] index into recurrent.type_names
  std::vector<std::int32_t> assembly;    // [N] assembly id, -1 for none
  std::vector<std::int32_t> input_type;  // [M] index into feedforward.type_names
  Csr recurrent;                         // N -> N
  Csr feedforward;                       // M -> N
};

// Counts per type: round(n * p_c) for all but the last type, which takes the
// remainder (MODEL.md 1). Throws ConfigError if a count would be negative.
std::vector<std::int64_t> type_counts(std::int64_t n, const std::vector<double>& proportion);

// Cell types and assembly ids of the recurrent layer (MODEL.md 1).
void assign_cell_types(const RecurrentConfig& rc, std::uint64_t seed,
                       std::vector<std::int32_t>& cell_type,
                       std::vector<std::int32_t>& assembly);

// Input types: contiguous blocks in type order.
std::vector<std::int32_t> assign_input_types(const FeedforwardConfig& fc);

// The whole connectome from a validated config; a pure function of
// (config, seed).
Network generate_network(const Config& config);

// Checks a loaded network against a config: sizes, type indices in range,
// no self-loops, weights > 0 and finite. Throws std::runtime_error with what
// is wrong.
void check_network(const Network& net, const Config& config);

}  // namespace homeostat
