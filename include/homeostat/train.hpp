// Gradient-based homeostatic training (stage 2), the library side of
// `homeostat train`: chunk after chunk of B Poisson trials, exact BPTT
// gradients summed over `chunks_per_update` chunks, global-norm clipping,
// Adam on the log-parameters, network state carried across chunks.
//
// Everything that determines the next chunk is in the Trainer's state
// (parameters, Adam moments and step, accumulated gradient, trial states,
// chunk number); inputs are a pure function of (seed, trial, step). So a
// run resumed from that state continues exactly, whatever the thread count.
#pragma once

#include "homeostat/grad.hpp"
#include "homeostat/optim.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace homeostat {

// A NaN or Inf in a loss, a gradient or a parameter: `where` says which
// (e.g. "loss cv", "gradient of the parameters"), `chunk` when.
class NonFiniteError : public std::runtime_error {
 public:
  NonFiniteError(std::string where, std::int64_t chunk)
      : std::runtime_error(where + " is not finite at chunk " + std::to_string(chunk)), where_(std::move(where)),
        chunk_(chunk) {}
  const std::string& where() const { return where_; }
  std::int64_t chunk() const { return chunk_; }

 private:
  std::string where_;
  std::int64_t chunk_;
};

// What one chunk did, per cell type where it says [type].
struct ChunkMetrics {
  std::int64_t chunk = 0;          // 1-based number of the chunk just run
  LossValues<double> losses;
  std::vector<double> mean_rate;   // [type] Hz, over neurons and trials
  std::vector<double> std_rate;    // [type] Hz, over neuron-trials
  std::vector<double> fraction_active;  // [type] neuron-trials with a spike
  std::vector<double> mean_cv;     // [type] over neurons with >= 2 ISIs (pooled over trials); NaN if none
  std::vector<double> membrane_ratio;   // [type] mean sd(V) / (theta - mean(V))
  bool updated = false;            // an optimiser step followed this chunk
  std::string skipped;             // with training.on_nan = "skip": what was not finite (the update was dropped)
  double grad_norm = 0;            // before clipping (update chunks)
  double learning_rate = 0;
};

ChunkMetrics chunk_metrics(const ChunkGradient& g, const LossContext& ctx, const std::vector<std::int32_t>& cell_type,
                           std::int64_t n_types);

// Everything that determines how a training run continues (a checkpoint's
// content): parameters, Adam moments and step, the gradient accumulated
// since the last step, every trial's network state, the chunk count; plus
// the loss bookkeeping of the run. Random numbers need no state: inputs are
// a pure function of (seed, trial, global step).
struct TrainerState {
  std::int64_t chunks_done = 0;
  std::vector<double> parameters;
  std::vector<double> adam_m, adam_v;
  std::int64_t adam_step = 0;
  std::vector<double> accumulated;
  std::vector<TrialState<float>> trials;
  std::vector<double> loss_history;  // total loss of every chunk so far (but skipped non-finite ones)
  double best_loss = 0;              // lowest total loss so far (NaN before the first chunk)
  std::int64_t best_chunk = 0;
};

class Trainer {
 public:
  Trainer(const Config& config, const Network& network);

  // Runs the next chunk forward and backward, adds its gradient, and after
  // every `chunks_per_update`-th chunk clips and takes an Adam step. On a
  // NaN/Inf the parameters stay unchanged and, with training.on_nan = "stop"
  // (or when the network state itself is no longer finite), NonFiniteError
  // is thrown; with "skip" the gradient accumulated so far is dropped and
  // ChunkMetrics::skipped says why.
  ChunkMetrics run_chunk();

  std::int64_t chunks_done() const { return chunk_; }
  double best_loss() const { return best_loss_; }        // lowest total loss so far (NaN before any chunk)
  std::int64_t best_chunk() const { return best_chunk_; }

  // The state to checkpoint, and continuing from one (which must come from
  // a run of the same config and network; shapes are checked).
  TrainerState state() const;
  void restore(const TrainerState& state);
  const Parameters& parameters() const { return params_; }
  const LoweredModel<float>& model() const { return model_; }

 private:
  Config config_;
  std::vector<bool> excitatory_;
  LoweredModel<float> model_;
  Parameters params_;
  Adam adam_;
  PoissonInputs inputs_;
  std::vector<TrialState<float>> states_;  // [batch]
  std::vector<double> accumulated_;        // dL/dparameters summed since the last step
  std::int64_t chunk_ = 0;                 // chunks done
  bool states_finite() const;
  ChunkMetrics skip_or_throw(ChunkMetrics m, const std::string& where);
  std::vector<double> loss_history_;
  double best_loss_;
  std::int64_t best_chunk_ = 0;
};

}  // namespace homeostat
