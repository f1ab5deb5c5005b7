// Csr construction from edge lists and dense matrices.
//
// Invariant of every Csr built here: rows sorted by presynaptic neuron,
// targets strictly ascending inside a row (so no duplicate edges), and
// row_ptr[n_pre] == n_edges.
#include "homeostat/connectome.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace homeostat {

namespace {

void check_shape(std::int64_t n_pre, std::int64_t n_post) {
  if (n_pre < 0 || n_post < 0)
    throw std::invalid_argument("Csr: negative shape " + std::to_string(n_pre) + " x " +
                                std::to_string(n_post));
  // Targets are stored as int32.
  if (n_post > std::numeric_limits<std::int32_t>::max())
    throw std::invalid_argument("Csr: n_post " + std::to_string(n_post) + " exceeds int32");
}

}  // namespace

Csr Csr::from_edges(std::int64_t n_pre, std::int64_t n_post,
                    const std::vector<std::int32_t>& pre,
                    const std::vector<std::int32_t>& post,
                    const std::vector<double>& weight) {
  check_shape(n_pre, n_post);
  if (pre.size() != post.size() || pre.size() != weight.size())
    throw std::invalid_argument("Csr::from_edges: pre, post and weight have sizes " +
                                std::to_string(pre.size()) + ", " +
                                std::to_string(post.size()) + ", " +
                                std::to_string(weight.size()));
  const std::size_t n_edges = pre.size();
  for (std::size_t e = 0; e < n_edges; ++e) {
    if (pre[e] < 0 || pre[e] >= n_pre || post[e] < 0 || post[e] >= n_post)
      throw std::invalid_argument("Csr::from_edges: edge " + std::to_string(pre[e]) + " -> " +
                                  std::to_string(post[e]) + " out of range for shape " +
                                  std::to_string(n_pre) + " x " + std::to_string(n_post));
  }

  Csr csr;
  csr.n_pre = n_pre;
  csr.n_post = n_post;
  csr.row_ptr.assign(static_cast<std::size_t>(n_pre) + 1, 0);
  for (std::size_t e = 0; e < n_edges; ++e) ++csr.row_ptr[static_cast<std::size_t>(pre[e]) + 1];
  std::partial_sum(csr.row_ptr.begin(), csr.row_ptr.end(), csr.row_ptr.begin());

  // Counting sort by pre (stable), then each row by post.
  std::vector<std::int64_t> order(n_edges);
  std::vector<std::int64_t> fill(csr.row_ptr.begin(), csr.row_ptr.end() - 1);
  for (std::size_t e = 0; e < n_edges; ++e) order[fill[pre[e]]++] = static_cast<std::int64_t>(e);
  for (std::int64_t j = 0; j < n_pre; ++j) {
    const auto first = order.begin() + csr.row_ptr[j];
    const auto last = order.begin() + csr.row_ptr[j + 1];
    std::sort(first, last, [&](std::int64_t x, std::int64_t y) { return post[x] < post[y]; });
    for (auto it = first; it + 1 < last; ++it) {
      if (post[*it] == post[*(it + 1)])
        throw std::invalid_argument("Csr::from_edges: duplicate edge " + std::to_string(j) +
                                    " -> " + std::to_string(post[*it]));
    }
  }
  csr.post.resize(n_edges);
  csr.weight.resize(n_edges);
  for (std::size_t k = 0; k < n_edges; ++k) {
    csr.post[k] = post[order[k]];
    csr.weight[k] = weight[order[k]];
  }
  return csr;
}

std::vector<double> Csr::dense() const {
  std::vector<double> out(static_cast<std::size_t>(n_pre * n_post), 0.0);
  for (std::int64_t j = 0; j < n_pre; ++j)
    for (std::int64_t e = row_ptr[j]; e < row_ptr[j + 1]; ++e)
      out[static_cast<std::size_t>(j * n_post + post[e])] = weight[e];
  return out;
}

Csr Csr::from_dense(std::int64_t n_pre, std::int64_t n_post, const std::vector<double>& weights,
                    const std::vector<std::uint8_t>& mask) {
  check_shape(n_pre, n_post);
  const auto size = static_cast<std::size_t>(n_pre * n_post);
  if (weights.size() != size || mask.size() != size)
    throw std::invalid_argument("Csr::from_dense: expected " + std::to_string(size) +
                                " entries for shape " + std::to_string(n_pre) + " x " +
                                std::to_string(n_post) + ", got weights " +
                                std::to_string(weights.size()) + ", mask " +
                                std::to_string(mask.size()));
  Csr csr;
  csr.n_pre = n_pre;
  csr.n_post = n_post;
  csr.row_ptr.assign(static_cast<std::size_t>(n_pre) + 1, 0);
  for (std::int64_t j = 0; j < n_pre; ++j) {
    for (std::int64_t i = 0; i < n_post; ++i) {
      const auto k = static_cast<std::size_t>(j * n_post + i);
      if (!mask[k]) continue;
      if (!(weights[k] > 0.0) || !std::isfinite(weights[k]))
        throw std::invalid_argument("Csr::from_dense: edge " + std::to_string(j) + " -> " +
                                    std::to_string(i) + " has weight " +
                                    std::to_string(weights[k]) + ", must be finite and > 0");
      csr.post.push_back(static_cast<std::int32_t>(i));
      csr.weight.push_back(weights[k]);
    }
    csr.row_ptr[static_cast<std::size_t>(j) + 1] = csr.n_edges();
  }
  return csr;
}

}  // namespace homeostat
