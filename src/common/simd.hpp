// Fixed-width vectors for the hot kernels (GCC vector extensions).
//
// Auto-vectorisation gives up on loops with many streams (alias versioning)
// or that need registers kept across an inner loop; these types make the
// vector width explicit instead. Every operation is element-wise and, with
// -ffp-contract=off, rounds exactly like the scalar code it replaces, so a
// kernel written with them gives the same bits as its scalar form. Without
// AVX-512, GCC splits a 64-byte vector into narrower instructions.
#pragma once

#include <cstdint>
#include <cstring>

namespace homeostat::simd {

// 64 bytes of Real: 16 floats or 8 doubles.
template <class Real>
struct Vec64 {
  typedef Real type __attribute__((vector_size(64)));
  static constexpr std::int64_t width = 64 / static_cast<std::int64_t>(sizeof(Real));
};

// 32 bytes of Real: 8 floats or 4 doubles.
template <class Real>
struct Vec32 {
  typedef Real type __attribute__((vector_size(32)));
  static constexpr std::int64_t width = 32 / static_cast<std::int64_t>(sizeof(Real));
};

// 16 bytes of Real: 4 floats or 2 doubles.
template <class Real>
struct Vec16 {
  typedef Real type __attribute__((vector_size(16)));
  static constexpr std::int64_t width = 16 / static_cast<std::int64_t>(sizeof(Real));
};

template <class V, class Real>
inline V load(const Real* p) {
  V x;
  std::memcpy(&x, p, sizeof x);
  return x;
}

template <class V, class Real>
inline void store(Real* p, const V& x) {
  std::memcpy(p, &x, sizeof x);
}

}  // namespace homeostat::simd
