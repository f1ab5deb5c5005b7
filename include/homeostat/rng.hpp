// Counter-based random numbers (Random123 Philox4x32-10).
//
// Every random number of a run is a pure function of (seed, stream, a, b, i):
// there is no generator state to share between threads or to save in a
// checkpoint beyond the counters themselves. `a` and `b` name the sub-stream
// (e.g. trial and time step for Poisson inputs, block index for topology);
// `i` counts 32-bit words drawn inside it.
#pragma once

#include <Random123/philox.h>
#include <Random123/uniform.hpp>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace homeostat {

// One id per consumer of randomness, so that adding draws to one consumer
// never shifts another's numbers.
enum class Stream : std::uint32_t {
  cell_types = 1,
  recurrent_topology = 2,
  feedforward_topology = 3,
  recurrent_weights = 4,
  feedforward_weights = 5,
  inputs = 6,
};

class Philox {
 public:
  Philox(std::uint64_t seed, Stream stream, std::uint32_t a = 0, std::uint32_t b = 0)
      : key_{{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}},
        ctr_{{static_cast<std::uint32_t>(stream), a, b, 0}} {}

  std::uint32_t next_u32() {
    if (used_ == 4) {
      block_ = gen_(ctr_, key_);
      ++ctr_.v[3];
      used_ = 0;
    }
    return block_.v[used_++];
  }
  std::uint64_t next_u64() {
    const std::uint64_t lo = next_u32();
    return (static_cast<std::uint64_t>(next_u32()) << 32) | lo;
  }
  // Uniform in (0, 1]: never 0, so log() of it is finite.
  double uniform_open() { return r123::u01<double>(next_u64()); }
  // Uniform in [0, 1).
  double uniform() { return 1.0 - uniform_open(); }
  // Standard normal (Box-Muller; one value per call, the pair's twin is dropped
  // so that the count of words drawn per value is fixed).
  double normal() {
    const double u1 = uniform_open();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Unbiased integer in [0, n), n > 0 (Lemire's multiply-and-reject).
  std::uint64_t below(std::uint64_t n) {
    if (n <= 0xffffffffULL) {
      const auto n32 = static_cast<std::uint32_t>(n);
      std::uint64_t m = static_cast<std::uint64_t>(next_u32()) * n32;
      auto low = static_cast<std::uint32_t>(m);
      if (low < n32) {
        const std::uint32_t threshold = static_cast<std::uint32_t>(-n32) % n32;
        while (low < threshold) {
          m = static_cast<std::uint64_t>(next_u32()) * n32;
          low = static_cast<std::uint32_t>(m);
        }
      }
      return m >> 32;
    }
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do x = next_u64();
    while (x >= limit);
    return x % n;
  }
  // Fisher-Yates, identical on every platform (std::shuffle is not).
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }
  template <class It>
  void shuffle(It first, It last) {
    for (auto n = last - first; n > 1; --n) std::swap(first[n - 1], first[below(n)]);
  }

 private:
  using Gen = r123::Philox4x32;
  Gen gen_;
  Gen::key_type key_;
  Gen::ctr_type ctr_;
  Gen::ctr_type block_{};
  int used_ = 4;
};

}  // namespace homeostat
