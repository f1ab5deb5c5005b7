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
#include <type_traits>

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

// Transposes R rows of 16 four-byte values (R = 2, 4, 8 or 16) in
// registers: on return x[0..R) hold element i of row r at flat position
// i R + r (row-major [16][R]). log2(R) rounds; each zips rows j and
// j + R/2 lane by lane into rows 2j (their first halves) and 2j + 1.
using U32x16 = std::uint32_t __attribute__((vector_size(64)));
template <int R>
inline void zip_transpose(U32x16 (&x)[R]) {
  static_assert(R == 2 || R == 4 || R == 8 || R == 16);
  U32x16 lo, hi;
  for (std::uint32_t l = 0; l < 16; ++l) {
    lo[l] = l / 2 + (l % 2) * 16;
    hi[l] = 8 + l / 2 + (l % 2) * 16;
  }
  for (int round = 1; round < R; round *= 2) {
    U32x16 y[R];
    for (int j = 0; j < R / 2; ++j) {
      y[2 * j] = __builtin_shuffle(x[j], x[j + R / 2], lo);
      y[2 * j + 1] = __builtin_shuffle(x[j], x[j + R / 2], hi);
    }
    for (int j = 0; j < R; ++j) x[j] = y[j];
  }
}

// The trials of one neuron in a kernel whose trial count W is fixed at
// compile time: one vector of W lanes (V of Real, D of double, I of integers
// as wide as Real: the masks of V's comparisons). W = 0 stands for a count
// known only at run time: then the lanes are single values (Real, double,
// std::int32_t) and the kernel loops over the trials one at a time. A kernel
// written once with these types gives the same bits for both.
template <int W, class Real>
struct Lanes {
  using Int = std::conditional_t<sizeof(Real) == 4, std::int32_t, std::int64_t>;
  static constexpr std::int64_t width = W;
  typedef Real V __attribute__((vector_size(W * sizeof(Real))));
  typedef double D __attribute__((vector_size(W * sizeof(double))));
  typedef Int I __attribute__((vector_size(W * sizeof(Int))));

  // Real lanes from Real, double lanes from double.
  template <class T>
  static auto load(const T* p) {
    // (not std::conditional_t: template arguments drop vector attributes)
    if constexpr (std::is_same_v<T, double>) {
      return simd::load<D>(p);
    } else {
      return simd::load<V>(p);
    }
  }
  static void store(Real* p, const V& x) { simd::store(p, x); }
  // Narrow integers (flags, bit sets) widened to mask lanes.
  template <class T>
  static I widen(const T* __restrict p) {
    I x;
    for (int b = 0; b < W; ++b) x[b] = static_cast<Int>(p[b]);
    return x;
  }
  static D to_double(const V& x) { return __builtin_convertvector(x, D); }
  static V to_real(const D& x) { return __builtin_convertvector(x, V); }
};

template <class Real>
struct Lanes<0, Real> {
  using Int = std::int32_t;
  static constexpr std::int64_t width = 1;
  using V = Real;
  using D = double;
  using I = Int;

  template <class T>
  static T load(const T* p) { return *p; }
  static void store(Real* p, Real x) { *p = x; }
  template <class T>
  static I widen(const T* p) { return static_cast<I>(*p); }
  static double to_double(Real x) { return static_cast<double>(x); }
  static Real to_real(double x) { return static_cast<Real>(x); }
};

}  // namespace homeostat::simd
