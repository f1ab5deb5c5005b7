// Homeostatic training (stage 2), the library side of `homeostat train` and
// `homeostat feedback`: chunk after chunk of B Poisson trials with the
// network state carried across chunks, and after each chunk either
//  - Method::gradient: exact BPTT gradients summed over `chunks_per_update`
//    chunks, global-norm clipping, Adam on the log-parameters; or
//  - Method::feedback: no backward pass; the weights are scaled from the
//    observed rates by the rule of feedback.hpp.
// Both evaluate the same losses on every chunk, so their runs compare.
//
// Everything that determines the next chunk is in the Trainer's state
// (parameters, Adam moments and step, accumulated gradient, trial states,
// chunk number); inputs are a pure function of (seed, trial, step). So a
// run resumed from that state continues exactly, whatever the thread count.
#pragma once

#include "homeostat/feedback.hpp"
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
  bool updated = false;            // an update of the weights followed this chunk
  std::string skipped;             // with training.on_nan = "skip": what was not finite (the update was dropped)
  double grad_norm = 0;            // gradient: before clipping (update chunks)
  double learning_rate = 0;        // gradient
  std::vector<double> excitatory_scaling;  // feedback: [type] geometric mean factor on excitatory inputs
  std::vector<double> inhibitory_scaling;  // feedback: [type] geometric mean factor on inhibitory inputs
};

ChunkMetrics chunk_metrics(const LossSums<double>& sums, const LossValues<double>& losses, const LossContext& ctx,
                           const std::vector<std::int32_t>& cell_type, std::int64_t n_types);

enum class Method { gradient, feedback };
std::string to_string(Method method);  // "train", "feedback": the command that runs it

// Everything that determines how a training run continues (a checkpoint's
// content): parameters, Adam moments and step, the gradient accumulated
// since the last step, every trial's network state, the chunk count; plus
// the loss bookkeeping of the run. Random numbers need no state: inputs are
// a pure function of (seed, trial, global step).
struct TrainerState {
  Method method = Method::gradient;
  std::int64_t chunks_done = 0;
  std::vector<double> parameters;
  std::vector<double> adam_m, adam_v;
  std::int64_t adam_step = 0;
  std::vector<double> accumulated;
  std::vector<double> rate_estimate;  // feedback: [N] smoothed rates (empty before the first chunk)
  std::vector<TrialState<float>> trials;  // [batch]; Trainer::state(): this process's trials only
  std::vector<double> loss_history;  // total loss of every chunk so far (but skipped non-finite ones)
  double best_loss = 0;              // lowest total loss so far (NaN before the first chunk)
  std::int64_t best_chunk = 0;
};

class Trainer {
 public:
  // Method::feedback always scales the weights themselves (whatever
  // training.optimisable says) and needs every target rate > 0.
  // With `reduction` (kept by reference), processes share the batch: this
  // one holds and advances the trials reduction->trials() names, and the
  // chunk's losses and gradients are the whole batch's (grad.hpp,
  // ChunkReduction), so every process takes the same steps, bit for bit.
  Trainer(const Config& config, const Network& network, Method method = Method::gradient,
          const ChunkReduction* reduction = nullptr);

  // Runs the next chunk and updates the weights. gradient: forward and
  // backward, adds the chunk's gradient, and after every
  // `chunks_per_update`-th chunk clips and takes an Adam step. feedback:
  // forward only, then the scaling rule. On a NaN/Inf the parameters stay
  // unchanged and, with training.on_nan = "stop" (or when the network state
  // itself is no longer finite), NonFiniteError is thrown; with "skip" the
  // update (and any gradient accumulated so far) is dropped and
  // ChunkMetrics::skipped says why.
  ChunkMetrics run_chunk();
  Method method() const { return method_; }

  std::int64_t chunks_done() const { return chunk_; }
  double best_loss() const { return best_loss_; }        // lowest total loss so far (NaN before any chunk)
  std::int64_t best_chunk() const { return best_chunk_; }

  // The state to checkpoint, and continuing from one (which must come from
  // a run of the same config and network; shapes are checked). state()
  // holds this process's trials (trials()); restore() takes the whole
  // batch's and keeps this process's.
  TrainerState state() const;
  void restore(const TrainerState& state);
  const TrialRange& trials() const { return trials_; }
  const Parameters& parameters() const { return params_; }
  const LoweredModel<float>& model() const { return model_; }

 private:
  Config config_;
  Method method_;
  std::vector<bool> excitatory_;           // [recurrent type]
  std::vector<bool> excitatory_inputs_;    // [input type]
  std::vector<double> rate_target_;        // [N] Hz
  std::vector<double> rate_estimate_;      // feedback: [N] smoothed rates
  LoweredModel<float> model_;
  Parameters params_;
  Adam adam_;
  PoissonInputs inputs_;
  const ChunkReduction* reduction_;        // nullptr: this process has the whole batch
  TrialRange trials_;                      // this process's trials
  std::vector<TrialState<float>> states_;  // [trials_.count]
  GradientWorkspace<float> workspace_;     // chunk_gradient's buffers, mapped once for the run
  std::vector<double> accumulated_;        // dL/dparameters summed since the last step
  std::int64_t chunk_ = 0;                 // chunks done
  bool states_finite() const;
  ChunkMetrics skip_or_throw(ChunkMetrics m, const std::string& where);
  // The loss bookkeeping of a finished chunk; false (after skip_or_throw) when a loss is not finite.
  bool record_losses(ChunkMetrics& m);
  ChunkMetrics gradient_update(ChunkMetrics m, const ChunkGradient& g);
  ChunkMetrics feedback_update(ChunkMetrics m, const LossSums<double>& sums, const LossContext& ctx);
  std::vector<double> loss_history_;
  double best_loss_;
  std::int64_t best_chunk_ = 0;
};

// The network a training state stands for: `initial` (the run's starting
// network, initial_state/network_structure.npz) with the weights that
// `state`'s parameters set (training.optimisable for `train`, every weight
// for `feedback`). Throws std::invalid_argument when the state does not fit
// the configuration and network.
Network trained_network(const Config& config, const Network& initial, const TrainerState& state);
// The same for a live trainer (a run's snapshots and final state).
Network trained_network(const Network& initial, const Trainer& trainer);

// How much each block of weights (pre type, post type) has moved since the
// start: the relative change of the block's mean weight, mean w / mean w0 - 1
// over its edges (the connectome is fixed, so also the change of the block's
// total weight: of the drive one type gives another). In the scaling modes it
// is the block's factor - 1. NaN for a block without edges.
struct BlockWeightChange {
  std::vector<double> recurrent;    // [pre type * n_types + post type]
  std::vector<double> feedforward;  // [input type * n_types + post type]
};
// From `initial` (the run's starting network, as float32 like the trainer's
// weights) to the trainer's current weights.
BlockWeightChange block_weight_change(const Network& initial, const Trainer& trainer);

}  // namespace homeostat
