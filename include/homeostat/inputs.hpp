// Feedforward input spikes: Poisson (counter-based, MODEL.md 4) or replayed
// from a recording.
//
// A source answers "which inputs spike at global step t of trial b" as a pure
// function of (b, t): the same spikes whatever the thread count and however
// a run is cut into chunks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace homeostat {

class InputSource {
 public:
  virtual ~InputSource() = default;
  // Replaces `out` with the inputs spiking at global step `step` of `trial`,
  // ascending.
  virtual void spikes(std::int64_t trial, std::int64_t step, std::vector<std::int32_t>& out) const = 0;
};

// x_j(t) ~ Bernoulli(rate_j * dt / 1000), independent across inputs, steps and
// trials. Drawn by geometric skipping (gaps between spiking inputs), so the
// cost per step is the number of spikes, not the number of inputs; the random
// numbers of (trial, step) come from Philox(seed, Stream::inputs, trial, step).
class PoissonInputs final : public InputSource {
 public:
  // input_type [M]: contiguous blocks of equal type are drawn together.
  PoissonInputs(std::uint64_t seed, const std::vector<std::int32_t>& input_type,
                const std::vector<double>& rate_hz, double dt_ms);
  void spikes(std::int64_t trial, std::int64_t step, std::vector<std::int32_t>& out) const override;

 private:
  struct Block {
    std::int32_t first, end;
    double p;          // spike probability per step
    double log_q;      // log(1 - p)
  };
  std::uint64_t seed_;
  std::vector<Block> blocks_;
};

// Replays recorded spikes [trials, steps, M] (nonzero = spike), global steps
// 0..steps-1.
class ReplayInputs final : public InputSource {
 public:
  ReplayInputs(std::int64_t n_trials, std::int64_t n_steps, std::int64_t m, const std::vector<std::uint8_t>& dense);
  void spikes(std::int64_t trial, std::int64_t step, std::vector<std::int32_t>& out) const override;
  std::int64_t n_trials() const { return n_trials_; }
  std::int64_t n_steps() const { return n_steps_; }

 private:
  std::int64_t n_trials_, n_steps_;
  std::vector<std::int64_t> offset_;  // [trials * steps + 1] into index_
  std::vector<std::int32_t> index_;
};

}  // namespace homeostat
