// The forward engine: a batch of independent trials advanced step by step in
// the order of MODEL.md section 4 (spike, currents, membrane, decay,
// increment, clamp).
//
// Synaptic propagation is event-driven: only neurons that spike (recurrent or
// input) walk their row of targets. Trials run in parallel (OpenMP); each
// trial's arithmetic is sequential and fixed, so results are bit-identical
// for any thread count.
#pragma once

#include "homeostat/inputs.hpp"
#include "homeostat/model.hpp"

#include <cstdint>
#include <functional>
#include <vector>

namespace homeostat {

// State of one trial between steps (carried across chunks).
template <class Real>
struct TrialState {
  std::vector<Real> v;                   // [N] mV
  std::vector<std::int32_t> refractory;  // [N] refractory steps left
  std::vector<Real> g_rise;              // [R][N] nS, rise part u <= 0
  std::vector<Real> g_decay;             // [R][N] nS, decay part d >= 0
  std::vector<std::int64_t> last_spike;  // [N] global step of the last spike, -1 if none
};

// v = U_reset, conductances 0, not refractory, no spike yet.
template <class Real>
TrialState<Real> initial_state(const LoweredModel<Real>& model);

// What to record besides spikes, for the neurons `neurons` (ascending global
// indices; the recording convention of MODEL.md 4).
struct RecordSpec {
  std::vector<std::int64_t> neurons;
  bool voltages = false;
  bool conductances = false;
  bool currents = false;
  bool input_spikes = false;
};

// What one trial did during one chunk. Steps are local to the chunk.
struct TrialRecord {
  std::vector<std::int32_t> spike_step, spike_neuron;  // every recurrent spike, in step order
  std::vector<std::int32_t> input_step, input_neuron;  // every input spike (if recorded)
  std::vector<float> voltages;      // [steps][K] mV, state after each step
  std::vector<float> conductances;  // [steps][K][2][R] nS, part 0 = rise u, 1 = decay d
  std::vector<float> currents;      // [steps][K][R] pA, g_k(t) * (v(t) - E_k) used in step t
  // Running membrane moments over the chunk's steps, every neuron [N]:
  // sum of v and v^2 (after each step), in double.
  std::vector<double> v_sum, v_sum_sq;
};

// Spike deliveries of one recorded chunk: for each recurrent and input
// spike, its targets times its receptor columns (needs input_spikes recorded).
template <class Real>
std::int64_t synaptic_events(const LoweredModel<Real>& model, const TrialRecord& record);

// Advances one trial by `steps` steps on the calling thread, recording
// nothing: for callers that run trials in parallel themselves.
template <class Real>
void run_trial_serial(const LoweredModel<Real>& model, const InputSource& inputs, TrialState<Real>& state,
                      std::int64_t trial, std::int64_t t0, std::int64_t steps);

// Per-step hooks of run_trial_observed, for step t0 + s: `before` sees the
// state at the start of the step (before its spikes), `after` the state after
// it (increments and clamp done) and the input spikes it delivered.
template <class Real>
struct StepObserver {
  std::function<void(std::int64_t s, const TrialState<Real>& state)> before;
  std::function<void(std::int64_t s, const TrialState<Real>& state, const std::vector<std::int32_t>& input_spikes)>
      after;
};

// run_trial_serial that shows every step to `observer` (both hooks required).
template <class Real>
void run_trial_observed(const LoweredModel<Real>& model, const InputSource& inputs, TrialState<Real>& state,
                        std::int64_t trial, std::int64_t t0, std::int64_t steps, const StepObserver<Real>& observer);

// How threads that share one trial react when some of them lag (a core
// shared with another process: every step waits for the slowest thread).
enum class SharedTrial {
  adaptive,     // run on the fastest threads (fewer, down to one) while that is faster than all; try all again later
  always,       // share every step among all threads, whatever it costs
  alternating,  // for tests: short stretches on changing teams of threads, on a fixed schedule
};

// How threads share a trial when a chunk has fewer trials than threads
// (forward.md, "Threads"). A caller that makes many run_chunk calls in a row
// (simulate's chunks, a gradient's forward segments) keeps one and passes it
// to each: it carries what was learned about the machine to the next call.
struct ThreadSharing {
  // Ranges of at least this many neurons. Below that a step is shorter than
  // what sharing costs (a barrier per step; bench/README.md); tests lower it
  // to exercise the path.
  std::int64_t min_neurons_per_thread = 2048;
  // What happens when a thread lags.
  SharedTrial policy = SharedTrial::adaptive;
  // Updated by each call, read by the next, so that a call does not start by
  // trying every thread where the last one found fewer faster: the steps
  // left of a stretch on fewer threads than all, the threads (OpenMP thread
  // numbers, ascending) that run it, how many tries of all threads in a
  // row lost time (the next stretch on fewer threads lasts 2^n times as
  // long), and the seconds per step one thread alone needed when last
  // measured (0: not yet; the first call then starts on one thread to
  // measure it).
  std::int64_t reduced_steps_left = 0;
  std::vector<int> reduced_team;
  int lost_tries = 0;
  double solo_seconds_per_step = 0;
};

// Advances every trial by `steps` steps starting at global step `t0`.
// states[b] is trial b (input trial index `trial0 + b`). records, if given,
// is resized to the batch and filled.
// With fewer trials than threads, the threads share each trial by ranges of
// neurons sized to each thread's measured speed, as `sharing` says (nullptr:
// the defaults of ThreadSharing); no choice there changes a result.
template <class Real>
void run_chunk(const LoweredModel<Real>& model, const InputSource& inputs, std::vector<TrialState<Real>>& states,
               std::int64_t trial0, std::int64_t t0, std::int64_t steps, const RecordSpec& spec,
               std::vector<TrialRecord>* records, ThreadSharing* sharing = nullptr);

}  // namespace homeostat
