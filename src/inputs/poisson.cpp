#include "homeostat/inputs.hpp"

#include "homeostat/rng.hpp"

#include <cmath>
#include <stdexcept>

namespace homeostat {

PoissonInputs::PoissonInputs(std::uint64_t seed, const std::vector<std::int32_t>& input_type,
                             const std::vector<double>& rate_hz, double dt_ms)
    : seed_(seed) {
  const auto m = static_cast<std::int32_t>(input_type.size());
  for (std::int32_t j = 0; j < m;) {
    std::int32_t end = j;
    while (end < m && input_type[end] == input_type[j]) ++end;
    const double p = rate_hz.at(input_type[j]) * dt_ms / 1000.0;
    if (!(p >= 0.0 && p <= 1.0)) throw std::invalid_argument("input spike probability per step outside [0, 1]");
    blocks_.push_back({j, end, p, std::log1p(-p)});
    j = end;
  }
}

void PoissonInputs::spikes(std::int64_t trial, std::int64_t step, std::vector<std::int32_t>& out) const {
  out.clear();
  Philox rng(seed_, Stream::inputs, static_cast<std::uint32_t>(trial), static_cast<std::uint32_t>(step));
  for (const Block& b : blocks_) {
    if (b.p <= 0.0) continue;
    if (b.p >= 1.0) {
      for (std::int32_t j = b.first; j < b.end; ++j) out.push_back(j);
      continue;
    }
    // Number of silent inputs before the next spike ~ Geometric(p):
    // P(gap >= k) = P(u <= (1-p)^k) = (1-p)^k for u uniform in (0, 1].
    double pos = static_cast<double>(b.first) - 1.0;
    for (;;) {
      const double gap = std::floor(std::log(rng.uniform_open()) / b.log_q);
      pos += gap + 1.0;
      if (pos >= static_cast<double>(b.end)) break;
      out.push_back(static_cast<std::int32_t>(pos));
    }
  }
}

ReplayInputs::ReplayInputs(std::int64_t n_trials, std::int64_t n_steps, std::int64_t m,
                           const std::vector<std::uint8_t>& dense)
    : n_trials_(n_trials), n_steps_(n_steps) {
  if (static_cast<std::int64_t>(dense.size()) != n_trials * n_steps * m)
    throw std::invalid_argument("replayed input spikes: size does not match [trials, steps, inputs]");
  offset_.reserve(static_cast<std::size_t>(n_trials * n_steps + 1));
  offset_.push_back(0);
  for (std::int64_t r = 0; r < n_trials * n_steps; ++r) {
    const std::uint8_t* row = dense.data() + r * m;
    for (std::int64_t j = 0; j < m; ++j)
      if (row[j]) index_.push_back(static_cast<std::int32_t>(j));
    offset_.push_back(static_cast<std::int64_t>(index_.size()));
  }
}

void ReplayInputs::spikes(std::int64_t trial, std::int64_t step, std::vector<std::int32_t>& out) const {
  if (trial < 0 || trial >= n_trials_ || step < 0 || step >= n_steps_)
    throw std::out_of_range("replayed input spikes end before the simulation does (trial " + std::to_string(trial) +
                            ", step " + std::to_string(step) + ")");
  const std::int64_t r = trial * n_steps_ + step;
  out.assign(index_.begin() + offset_[r], index_.begin() + offset_[r + 1]);
}

}  // namespace homeostat
