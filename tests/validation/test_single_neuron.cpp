// Analytic validation of the forward engine (MODEL.md 3-4 and 8): one neuron
// and one input spike against the closed-form dual exponential and PSP; a
// constant conductance against the membrane steady state; refractoriness;
// the order of the named steps; saturation.
#include "homeostat/model.hpp"
#include "homeostat/sim.hpp"
#include "tiny_network.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace homeostat;
using homeostat::testing::defaults_with;
using homeostat::testing::hand_network;
using homeostat::testing::replay;

namespace {

// The built-in defaults at the reference step, dt = 0.1 ms, which the closed
// forms below assume (overrides may set another).
Config validation_config(std::vector<std::string> extra) {
  std::vector<std::string> o = {"simulation.dt=0.1"};
  o.insert(o.end(), extra.begin(), extra.end());
  return defaults_with(o);
}

// One excitatory neuron with one input whose single receptor is `receptor`.
Config one_receptor_config(std::vector<std::string> extra) {
  std::vector<std::string> o = {"feedforward.synapses.mitral.names=[\"X\"]"};
  o.insert(o.end(), extra.begin(), extra.end());
  return validation_config(o);
}

std::vector<TrialRecord> run(const Config& c, const Network& net, const InputSource& in, std::int64_t steps,
                             RecordSpec spec, std::vector<TrialState<double>>* out_states = nullptr) {
  const auto model = lower<double>(c, net);
  std::vector<TrialState<double>> states(1, initial_state(model));
  if (out_states && !out_states->empty()) states = *out_states;
  std::vector<TrialRecord> rec;
  run_chunk(model, in, states, 0, 0, steps, spec, &rec);
  if (out_states) *out_states = states;
  return rec;
}

RecordSpec all_of(std::int64_t n) {
  RecordSpec s;
  for (std::int64_t i = 0; i < n; ++i) s.neurons.push_back(i);
  s.voltages = s.conductances = true;
  return s;
}

}  // namespace

TEST(SingleNeuron, ConductanceFollowsClosedFormDualExponential) {
  // tau_rise 2 ms, tau_decay 10 ms, g_bar 1.5 nS, w = 0.6, spike at step 10.
  const Config c = one_receptor_config({"feedforward.synapses.mitral.tau_rise=[2.0]",
                                            "feedforward.synapses.mitral.tau_decay=[10.0]",
                                            "feedforward.synapses.mitral.E_syn=[0.0]",
                                            "feedforward.synapses.mitral.g_bar=[1.5]"});
  const Network net = hand_network({0}, 1, {}, {{0, 0, 0.6}});
  const std::int64_t steps = 2000, s0 = 10;
  const auto in = replay(1, steps, 1, {{0, s0, 0}});
  const auto rec = run(c, net, in, steps, all_of(1));
  const std::int64_t r = lower<double>(c, net).n_receptors;
  ASSERT_EQ(r, 4);  // E: AMPA, NMDA; I: GABA_A; mitral: X (column 3)
  const double dt = 0.1, eta = dual_exp_peak(2.0, 10.0);
  double peak = 0;
  for (std::int64_t s = 0; s < steps; ++s) {
    const float u = rec[0].conductances[(s * 2 + 0) * r + 3];
    const float d = rec[0].conductances[(s * 2 + 1) * r + 3];
    const double t = (s - s0) * dt;
    const double expected = s < s0 ? 0.0 : 0.6 * 1.5 / eta * (std::exp(-t / 10.0) - std::exp(-t / 2.0));
    ASSERT_NEAR(d + u, expected, 1e-6) << "step " << s;
    peak = std::max(peak, static_cast<double>(d + u));
  }
  // Normalisation: a spike of weight w peaks at w * g_bar (grid-sampled peak).
  EXPECT_NEAR(peak, 0.6 * 1.5, 1e-3);
}

TEST(SingleNeuron, PspMatchesAnalyticSolutionOfTheLinearMembrane) {
  // Small weight: the driving force stays ~(E_syn - E_L), so the membrane is
  // linear and the PSP has a closed form. dt small so that forward Euler on
  // the synaptic current is accurate to well under 1%.
  const double tau_r = 2.0, tau_d = 10.0, g_bar = 1.0, w = 0.01, e_syn = 0.0;
  const Config c = one_receptor_config({"feedforward.synapses.mitral.tau_rise=[2.0]",
                                            "feedforward.synapses.mitral.tau_decay=[10.0]",
                                            "feedforward.synapses.mitral.E_syn=[0.0]",
                                            "feedforward.synapses.mitral.g_bar=[1.0]", "simulation.dt=0.01"});
  const Network net = hand_network({0}, 1, {}, {{0, 0, w}});
  const std::int64_t steps = 30000, s0 = 100;
  const auto rec = run(c, net, replay(1, steps, 1, {{0, s0, 0}}), steps, all_of(1));
  const auto& p = c.recurrent.physiology[0];
  const double dt = 0.01, cm = p.tau_mem * p.g_L, tau_m = p.tau_mem;
  const double amp = w * g_bar / dual_exp_peak(tau_r, tau_d) * (e_syn - p.E_L) / cm;
  auto f = [&](double t, double tau) { return (std::exp(-t / tau) - std::exp(-t / tau_m)) / (1 / tau_m - 1 / tau); };
  double peak_model = 0, peak_analytic = 0, max_err = 0;
  for (std::int64_t s = 0; s < steps; ++s) {
    const double t = (s - s0) * dt;
    const double analytic = s < s0 ? 0.0 : amp * (f(t, tau_d) - f(t, tau_r));
    const double model = rec[0].voltages[s] - p.E_L;
    peak_model = std::max(peak_model, model);
    peak_analytic = std::max(peak_analytic, analytic);
    max_err = std::max(max_err, std::abs(model - analytic));
  }
  EXPECT_GT(peak_analytic, 0.01);  // a real PSP (about 0.08 mV), not noise
  EXPECT_NEAR(peak_model, peak_analytic, 0.01 * peak_analytic);
  EXPECT_LT(max_err, 0.01 * peak_analytic);
}

TEST(SingleNeuron, ConstantConductanceReachesAnalyticSteadyState) {
  // tau_decay so long that the conductance is constant over the run.
  const double g = 2.0;
  const Config c = one_receptor_config({"feedforward.synapses.mitral.tau_rise=[0.1]",
                                            "feedforward.synapses.mitral.tau_decay=[1e9]",
                                            "feedforward.synapses.mitral.E_syn=[0.0]",
                                            "feedforward.synapses.mitral.g_bar=[2.0]",
                                            "recurrent.physiology.excitatory.theta=50.0"});
  const Network net = hand_network({0}, 1, {}, {{0, 0, 1.0}});
  const std::int64_t steps = 8000;  // 800 ms, > 20 effective membrane time constants
  const auto rec = run(c, net, replay(1, steps, 1, {{0, 0, 0}}), steps, all_of(1));
  const auto& p = c.recurrent.physiology[0];
  const double analytic = (p.g_L * p.E_L + g * 0.0) / (p.g_L + g);
  const double v_end = rec[0].voltages[steps - 1];
  EXPECT_NEAR(v_end, analytic, 0.02);  // the discrete fixed point differs by O(dt/tau): ~0.008 mV here
  // And the discrete fixed point of MODEL.md's update itself, much tighter.
  const double one_minus_beta = 1 - std::exp(-0.1 / p.tau_mem), k = 0.1 * g / (p.tau_mem * p.g_L);
  EXPECT_NEAR(v_end, (p.E_L * one_minus_beta) / (one_minus_beta + k), 1e-4);
  EXPECT_TRUE(rec[0].spike_step.empty());
}

TEST(SingleNeuron, RefractoryNeuronNeverExceedsBound) {
  for (const double tau_ref : {0.0, 2.0, 8.0}) {
    // Unsaturated: with saturation, an input at every step pins d at +g_max
    // and u at -g_max, and their sum (the conductance) at zero.
    const Config c = validation_config({"recurrent.physiology.excitatory.tau_ref=" + std::to_string(tau_ref),
                                    "simulation.saturate=false"});
    const Network net = hand_network({0}, 1, {}, {{0, 0, 1.0}});
    const std::int64_t steps = 3000;
    std::vector<homeostat::testing::SpikeAt> every_step;
    for (std::int64_t s = 0; s < steps; ++s) every_step.push_back({0, s, 0});
    const auto rec = run(c, net, replay(1, steps, 1, every_step), steps, all_of(1));
    const std::int64_t n_ref = std::llround(tau_ref / 0.1);
    const auto& sp = rec[0].spike_step;
    ASSERT_GT(sp.size(), 10u) << "the drive must make it fire";
    EXPECT_LE(static_cast<std::int64_t>(sp.size()), steps / (n_ref + 1));
    for (std::size_t k = 1; k < sp.size(); ++k) {
      ASSERT_GE(sp[k] - sp[k - 1], n_ref + 1);
      // Held at U_reset while refractory (indices hold v after each step).
      for (std::int64_t s = sp[k - 1]; s <= sp[k - 1] + n_ref; ++s)
        ASSERT_EQ(rec[0].voltages[s], static_cast<float>(c.recurrent.physiology[0].U_reset));
    }
  }
}

TEST(StepOrder, SpikeResetsAtNextStepAndReachesTargetsThroughTheDualExponential) {
  // Neuron 0 starts above threshold and spikes at t = 0; neuron 1 is its target.
  const Config c = validation_config({"simulation.saturate=false"});
  const Network net = hand_network({0, 0}, 1, {{0, 1, 1.0}}, {});
  const auto model = lower<double>(c, net);
  std::vector<TrialState<double>> states(1, initial_state(model));
  states[0].v[0] = -30.0;
  const auto in = replay(1, 100, 1, {});
  std::vector<TrialRecord> rec;
  run_chunk(model, in, states, 0, 0, 100, all_of(2), &rec);
  const auto& r = rec[0];
  ASSERT_FALSE(r.spike_step.empty());
  EXPECT_EQ(r.spike_step[0], 0);
  EXPECT_EQ(r.spike_neuron[0], 0);
  const float u_reset = static_cast<float>(c.recurrent.physiology[0].U_reset);
  const std::int64_t R = model.n_receptors;
  auto v = [&](std::int64_t s, int i) { return r.voltages[s * 2 + i]; };
  auto g = [&](std::int64_t s, int i, int k, int part) { return r.conductances[((s * 2 + i) * 2 + part) * R + k]; };
  // Index 0 holds v(1): the spiking neuron shows U_reset.
  EXPECT_EQ(v(0, 0), u_reset);
  // Step 5 of t = 0 already incremented the target's AMPA parts...
  EXPECT_GT(g(0, 1, 0, 1), 0.0f);
  EXPECT_LT(g(0, 1, 0, 0), 0.0f);
  // ...but d + u = 0 right after a spike (the dual exponential starts at 0),
  // so the current of step 1 is zero and v(2) (index 1) is still at rest;
  // the target first moves at v(3) (index 2).
  EXPECT_EQ(g(0, 1, 0, 0) + g(0, 1, 0, 1), 0.0f);
  EXPECT_EQ(v(0, 1), u_reset);
  EXPECT_EQ(v(1, 1), u_reset);
  EXPECT_GT(v(2, 1), u_reset);
}

TEST(Saturation, ClampBoundsEachReceptorAtItsMaximalConductance) {
  for (const bool saturate : {true, false}) {
    const Config c = validation_config({std::string("simulation.saturate=") + (saturate ? "true" : "false"),
                                    "recurrent.physiology.excitatory.theta=50.0"});
    const Network net = hand_network({0}, 1, {}, {{0, 0, 0.7}});
    const std::int64_t steps = 2000;
    std::vector<homeostat::testing::SpikeAt> every_step;
    for (std::int64_t s = 0; s < steps; ++s) every_step.push_back({0, s, 0});
    const auto rec = run(c, net, replay(1, steps, 1, every_step), steps, all_of(1));
    const auto model = lower<double>(c, net);
    const std::int64_t R = model.n_receptors;
    double worst = 0;  // max over time and receptors of g / g_max
    for (std::int64_t s = 0; s < steps; ++s)
      for (std::int64_t k = 0; k < R; ++k) {
        const float u = rec[0].conductances[(s * 2 + 0) * R + k], d = rec[0].conductances[(s * 2 + 1) * R + k];
        if (saturate) {
          ASSERT_LE(d, static_cast<float>(model.g_max[k]));
          ASSERT_GE(u, -static_cast<float>(model.g_max[k]));
          ASSERT_GE(d + u, 0.0f);
        }
        worst = std::max(worst, (d + u) / model.g_max[k]);
      }
    if (saturate) {
      EXPECT_LE(worst, 1.0);
    } else {
      EXPECT_GT(worst, 5.0) << "without the clamp, input at every step must pile up";
    }
  }
}
