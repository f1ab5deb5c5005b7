// Largest-remainder apportionment, shared by cell-type assignment and the
// configuration method (private to src/connectome).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace homeostat::detail {

// Splits `total` into integer parts proportional to `weight` (all >= 0, not
// all 0 unless total is 0): part_k = floor(total * w_k / W) plus one for the
// parts with the largest remainders. Ties between equal remainders go to the
// index that comes first in `tie_order` (a permutation of the indices; pass
// a random one to avoid favouring low indices). Exact integer arithmetic, so
// parts sum to `total` and each differs from its quota by less than one.
inline std::vector<std::int64_t> apportion(std::int64_t total,
                                           const std::vector<std::int64_t>& weight,
                                           const std::vector<std::size_t>& tie_order) {
  const std::size_t n = weight.size();
  std::vector<std::int64_t> part(n, 0);
  if (total == 0) return part;
  const std::int64_t sum = std::accumulate(weight.begin(), weight.end(), std::int64_t{0});
  if (total < 0 || sum <= 0 || tie_order.size() != n)
    throw std::invalid_argument("apportion: nothing to apportion over");
  // total * w can exceed 64 bits for large blocks (pairs ~ N^2): use 128.
  using wide = __int128;
  std::vector<std::int64_t> remainder(n);
  std::int64_t assigned = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const wide q = static_cast<wide>(total) * weight[k];
    part[k] = static_cast<std::int64_t>(q / sum);
    remainder[k] = static_cast<std::int64_t>(q % sum);
    assigned += part[k];
  }
  std::vector<std::size_t> by_remainder(tie_order);
  std::stable_sort(by_remainder.begin(), by_remainder.end(),
                   [&](std::size_t x, std::size_t y) { return remainder[x] > remainder[y]; });
  for (std::int64_t r = 0; r < total - assigned; ++r) ++part[by_remainder[r]];
  return part;
}

inline std::vector<std::size_t> identity_order(std::size_t n) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  return order;
}

}  // namespace homeostat::detail
