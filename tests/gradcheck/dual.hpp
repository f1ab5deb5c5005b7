// Forward-mode dual numbers with K tangent directions: x = value + sum_k d_k e_k.
// Only what the reference model and the losses use.
#pragma once

#include <array>
#include <cmath>

namespace homeostat::gradcheck {

template <class T, int K>
struct Dual {
  T v = 0;
  std::array<T, K> d{};

  Dual() = default;
  Dual(T value) : v(value) {}  // NOLINT: constants convert implicitly
  template <class U>
  explicit Dual(const Dual<U, K>& o) : v(static_cast<T>(o.v)) {
    for (int k = 0; k < K; ++k) d[k] = static_cast<T>(o.d[k]);
  }
  T value() const { return v; }

  friend Dual operator+(const Dual& a, const Dual& b) {
    Dual r(a.v + b.v);
    for (int k = 0; k < K; ++k) r.d[k] = a.d[k] + b.d[k];
    return r;
  }
  friend Dual operator-(const Dual& a, const Dual& b) {
    Dual r(a.v - b.v);
    for (int k = 0; k < K; ++k) r.d[k] = a.d[k] - b.d[k];
    return r;
  }
  friend Dual operator*(const Dual& a, const Dual& b) {
    Dual r(a.v * b.v);
    for (int k = 0; k < K; ++k) r.d[k] = a.d[k] * b.v + a.v * b.d[k];
    return r;
  }
  friend Dual operator/(const Dual& a, const Dual& b) {
    Dual r(a.v / b.v);
    for (int k = 0; k < K; ++k) r.d[k] = (a.d[k] * b.v - a.v * b.d[k]) / (b.v * b.v);
    return r;
  }
  friend Dual operator+(const Dual& a, T b) { return a + Dual(b); }
  friend Dual operator-(const Dual& a, T b) { return a - Dual(b); }
  friend Dual operator*(const Dual& a, T b) {
    Dual r(a.v * b);
    for (int k = 0; k < K; ++k) r.d[k] = a.d[k] * b;
    return r;
  }
  Dual& operator+=(const Dual& b) { return *this = *this + b; }
  Dual& operator-=(const Dual& b) { return *this = *this - b; }
  Dual& operator*=(T b) { return *this = *this * b; }
  friend Dual exp(const Dual& a) {
    Dual r(std::exp(a.v));
    for (int k = 0; k < K; ++k) r.d[k] = a.d[k] * r.v;
    return r;
  }
  friend Dual sqrt(const Dual& a) {
    Dual r(std::sqrt(a.v));
    for (int k = 0; k < K; ++k) r.d[k] = a.d[k] / (2 * r.v);
    return r;
  }
};

}  // namespace homeostat::gradcheck
