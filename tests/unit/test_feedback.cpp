// The feedback rule (homeostatic synaptic scaling, `homeostat feedback`):
// the factors as the rule writes them, the integral rule's gain in observed
// seconds, its stability on a small network started far below target, scaling onto existing edges by input
// sign, a forward-only loss evaluation equal to the gradient pass's, the
// trainer's determinism and exact resume, and that it actually works: on the
// built-in default network it brings every cell type to its target rate with
// (nearly) every neuron active.
#include "homeostat/feedback.hpp"
#include "homeostat/io/checkpoint.hpp"
#include "homeostat/schema.hpp"
#include "homeostat/train.hpp"
#include "targets.hpp"
#include "tiny_network.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>

using namespace homeostat;

namespace {


FeedbackConfig rule(double lo, double hi, Granularity granularity = Granularity::neuron) {
  FeedbackConfig f = schema::default_config().feedback;
  f.min_factor = lo;
  f.max_factor = hi;
  f.granularity = granularity;
  return f;
}

}  // namespace

TEST(FeedbackRule, FactorsFollowTheRelativeRateError) {
  // Targets 0.5 and 5 Hz; rates below, at, above target and silent.
  const std::vector<std::int32_t> type{0, 0, 0, 1, 1};
  const std::vector<double> target{0.5, 0.5, 0.5, 5.0, 5.0};
  const std::vector<double> rate{0.25, 0.5, 0.75, 0.0, 6.0};
  const ScalingFactors f = scaling_factors(rule(0.5, 2.0), {0.2, 0.1, 1}, rate, target, type, 2);
  // e = (r* - r) / r*: 0.5, 0, -0.5, 1, -0.2
  const double e[] = {0.5, 0.0, -0.5, 1.0, -0.2};
  for (int i = 0; i < 5; ++i) {
    EXPECT_DOUBLE_EQ(f.excitatory[i], 1.0 + 0.2 * e[i]) << i;
    EXPECT_DOUBLE_EQ(f.inhibitory[i], 1.0 - 0.1 * e[i]) << i;
  }
}

TEST(FeedbackRule, FactorsAreClippedPerStep) {
  const std::vector<std::int32_t> type{0, 0};
  const std::vector<double> target{1.0, 1.0};
  const std::vector<double> rate{0.0, 30.0};  // e = 1 and -29
  const ScalingFactors f = scaling_factors(rule(0.9, 1.1), {0.5, 0.5, 1}, rate, target, type, 1);
  EXPECT_DOUBLE_EQ(f.excitatory[0], 1.1);
  EXPECT_DOUBLE_EQ(f.inhibitory[0], 0.9);
  EXPECT_DOUBLE_EQ(f.excitatory[1], 0.9);
  EXPECT_DOUBLE_EQ(f.inhibitory[1], 1.1);
}

TEST(FeedbackRule, CellTypeGranularityUsesTheTypeMean) {
  const std::vector<std::int32_t> type{0, 0, 1, 1};
  const std::vector<double> target{1.0, 1.0, 4.0, 4.0};
  const std::vector<double> rate{0.0, 1.0, 2.0, 4.0};  // type means 0.5 and 3
  const ScalingFactors f = scaling_factors(rule(0.5, 2.0, Granularity::cell_type), {0.2, 0.2, 1}, rate, target, type, 2);
  EXPECT_DOUBLE_EQ(f.excitatory[0], 1.1);
  EXPECT_DOUBLE_EQ(f.excitatory[1], 1.1);
  EXPECT_DOUBLE_EQ(f.excitatory[2], 1.05);
  EXPECT_DOUBLE_EQ(f.inhibitory[3], 0.95);
}

TEST(FeedbackRule, IntegralGainIsProportionalToTheObservedSecondsUpToMaxStep) {
  const Config base = homeostat::testing::defaults_with(
      {"feedback.tau_homeostatic=100", "feedback.max_step=0.05", "simulation.dt=0.1", "simulation.chunk_size=1000",
       "training.batch_size=4"});
  EXPECT_DOUBLE_EQ(observed_seconds(base), 0.4);  // 4 trials x 1000 x 0.1 ms
  // dt, chunk length and batch trade against each other: the same observed
  // seconds per chunk give the same step, whatever the mix.
  for (const auto& mix : {std::vector<std::string>{"simulation.dt=1.0", "simulation.chunk_size=100", "training.batch_size=4"},
                          std::vector<std::string>{"simulation.dt=0.1", "simulation.chunk_size=4000", "training.batch_size=1"},
                          std::vector<std::string>{"simulation.dt=0.5", "simulation.chunk_size=400", "training.batch_size=2"}}) {
    std::vector<std::string> o = {"feedback.tau_homeostatic=100", "feedback.max_step=0.05"};
    o.insert(o.end(), mix.begin(), mix.end());
    const Config other = homeostat::testing::defaults_with(o);
    EXPECT_DOUBLE_EQ(observed_seconds(other), observed_seconds(base)) << mix[0];
    const ScalingStep a = scaling_step(base.feedback, observed_seconds(base));
    const ScalingStep b = scaling_step(other.feedback, observed_seconds(other));
    EXPECT_EQ(a.eta_excitatory, b.eta_excitatory);
    EXPECT_EQ(a.eta_inhibitory, b.eta_inhibitory);
    EXPECT_EQ(a.tau_avg, b.tau_avg);
  }
  // eta = T_obs / tau_homeostatic for both signs, this chunk's rate only.
  const ScalingStep s = scaling_step(base.feedback, 0.4);
  EXPECT_DOUBLE_EQ(s.eta_excitatory, 0.004);
  EXPECT_DOUBLE_EQ(s.eta_inhibitory, 0.004);
  EXPECT_EQ(s.tau_avg, 1.0);
  EXPECT_DOUBLE_EQ(scaling_step(base.feedback, 4.0).eta_excitatory, 0.04);  // 10x the seconds, 10x the gain
  EXPECT_DOUBLE_EQ(scaling_step(base.feedback, 40.0).eta_excitatory, 0.05); // capped at max_step
  // So the same rates give the same factors for the same observed seconds.
  const std::vector<std::int32_t> type{0, 1};
  const std::vector<double> target{0.5, 5.0}, rate{0.0, 7.5};
  const ScalingFactors f = scaling_factors(base.feedback, s, rate, target, type, 2);
  EXPECT_DOUBLE_EQ(f.excitatory[0], 1.004);  // silent: e = 1, a finite step up
  EXPECT_DOUBLE_EQ(f.inhibitory[0], 0.996);
  EXPECT_DOUBLE_EQ(f.excitatory[1], 1.0 - 0.004 * 0.5);
  EXPECT_DOUBLE_EQ(f.inhibitory[1], 1.0 + 0.004 * 0.5);
}

TEST(FeedbackRule, EmaRuleKeepsItsPerChunkGainsAndAverage) {
  FeedbackConfig f;
  f.rule = FeedbackRule::ema;
  f.eta_excitatory = 0.03;
  f.eta_inhibitory = 0.01;
  f.tau_avg = 5;
  for (const double seconds : {0.4, 32.0}) {  // independent of the observed time
    const ScalingStep s = scaling_step(f, seconds);
    EXPECT_EQ(s.eta_excitatory, 0.03);
    EXPECT_EQ(s.eta_inhibitory, 0.01);
    EXPECT_EQ(s.tau_avg, 5.0);
  }
}

TEST(FeedbackRule, RateEstimateIsAMovingAverageOverChunks) {
  std::vector<double> est;
  update_rate_estimate(est, {2.0, 0.0}, 4.0);
  EXPECT_EQ(est, (std::vector<double>{2.0, 0.0}));  // starts at the first chunk
  update_rate_estimate(est, {6.0, 4.0}, 4.0);
  EXPECT_DOUBLE_EQ(est[0], 3.0);
  EXPECT_DOUBLE_EQ(est[1], 1.0);
  update_rate_estimate(est, {0.0, 0.0}, 1.0);  // tau 1: this chunk only
  EXPECT_EQ(est, (std::vector<double>{0.0, 0.0}));
}

TEST(FeedbackRule, ScalesExistingEdgesByTheSignOfTheirSource) {
  const Config config = homeostat::testing::small_training_config();
  const Network net = generate_network(config);
  const auto model = lower<float>(config, net);
  Parameters params(Optimisable::weights, model);
  const std::vector<double> before = params.values();
  ScalingFactors f;
  for (std::int64_t i = 0; i < net.n; ++i) {
    f.excitatory.push_back(1.0 + 0.001 * static_cast<double>(i));
    f.inhibitory.push_back(1.0 - 0.0005 * static_cast<double>(i));
  }
  std::vector<double> after = before;
  apply_scaling(after, model, excitatory_types(config), excitatory_input_types(config), f);
  const auto exc = excitatory_types(config);
  ASSERT_TRUE(exc[0]);
  ASSERT_FALSE(exc[1]);
  std::size_t e = 0;
  for (std::int64_t pre = 0; pre < net.n; ++pre)
    for (std::int64_t k = model.rec_row[pre]; k < model.rec_row[pre + 1]; ++k, ++e) {
      const std::int32_t post = model.rec_post[k];
      const double factor = exc[model.cell_type[pre]] ? f.excitatory[post] : f.inhibitory[post];
      EXPECT_NEAR(std::exp(after[e]), std::exp(before[e]) * factor, 1e-12);
    }
  for (std::size_t k = 0; k < model.ff_post.size(); ++k, ++e)  // mitral inputs are excitatory
    EXPECT_NEAR(std::exp(after[e]), std::exp(before[e]) * f.excitatory[model.ff_post[k]], 1e-12);
  EXPECT_EQ(e, after.size());  // one parameter per existing edge, no more
}

TEST(FeedbackRule, ForwardOnlyLossesEqualThoseOfTheGradientPass) {
  // Inputs strong enough for recurrent spikes (and ISIs) within the chunk.
  const Config config = homeostat::testing::small_training_config({"feedforward.activity.mitral.firing_rate=60.0",
                                                                    "feedforward.weights.w_mu=[[0.3, 0.06]]"});
  const Network net = generate_network(config);
  const auto model = lower<float>(config, net);
  const PoissonInputs inputs(config.simulation.seed, net.input_type, config.feedforward.firing_rate,
                             config.simulation.dt);
  const LossContext ctx = loss_context(config, net.cell_type, 3, 500);
  const auto exc = excitatory_types(config);
  std::vector<TrialState<float>> a(3, initial_state(model)), b = a;
  const WeightRatio ratio = weight_ratio(model, exc);
  const ChunkLosses f = chunk_losses(model, inputs, a, 0, 0, 500, ctx, ratio.value);
  const ChunkGradient g = chunk_gradient(model, inputs, b, 0, 0, 500, ctx, ratio);
  EXPECT_EQ(f.sums.spikes, g.sums.spikes);
  EXPECT_EQ(f.sums.isi_sum, g.sums.isi_sum);
  EXPECT_EQ(f.records[1].spike_neuron, g.records[1].spike_neuron);
  for (int k = 0; k < 5; ++k) EXPECT_NEAR(f.losses.term[k], g.losses.term[k], 1e-9 * (1 + std::abs(g.losses.term[k])));
  for (std::size_t t = 0; t < a.size(); ++t) EXPECT_EQ(a[t].v, b[t].v);  // both leave the state at the chunk's end
  double isis = 0;
  for (const double s : f.sums.isi_count) isis += s;
  EXPECT_GT(isis, 10);
}

TEST(FeedbackTrainer, BitIdenticalForOneAndTwoThreadsAndResumesExactly) {
  const Config config = homeostat::testing::small_training_config();
  const Network net = generate_network(config);
  auto run = [&](int threads, int chunks, const TrainerState* from) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    Trainer t(config, net, Method::feedback);
    if (from) t.restore(*from);
    while (t.chunks_done() < chunks) t.run_chunk();
    omp_set_num_threads(saved);
    return t.state();
  };
  const TrainerState straight = run(1, 6, nullptr);
  const TrainerState two = run(2, 6, nullptr);
  EXPECT_EQ(straight.parameters, two.parameters);
  EXPECT_EQ(straight.loss_history, two.loss_history);
  const TrainerState half = run(1, 3, nullptr);
  const TrainerState resumed = run(2, 6, &half);
  EXPECT_EQ(resumed.parameters, straight.parameters);
  EXPECT_EQ(resumed.rate_estimate, straight.rate_estimate);
  EXPECT_EQ(resumed.loss_history, straight.loss_history);
  EXPECT_EQ(straight.method, Method::feedback);
  EXPECT_TRUE(straight.adam_m.empty());
  EXPECT_NE(straight.parameters, Trainer(config, net, Method::feedback).parameters().values());

  // A feedback state does not continue a gradient run, nor the reverse.
  Trainer gradient(config, net, Method::gradient);
  EXPECT_THROW(gradient.restore(straight), std::invalid_argument);
  Trainer feedback(config, net, Method::feedback);
  EXPECT_THROW(feedback.restore(gradient.state()), std::invalid_argument);

  // The checkpoint keeps the method and the rate estimate.
  const auto path = std::filesystem::temp_directory_path() / ("homeostat_fb_" + std::to_string(::getpid()) + ".npz");
  io::save_checkpoint(path, straight, config);
  const TrainerState loaded = io::load_checkpoint(path, config);
  EXPECT_EQ(loaded.method, Method::feedback);
  EXPECT_EQ(loaded.rate_estimate, straight.rate_estimate);
  std::filesystem::remove(path);
}

TEST(FeedbackTrainer, NeedsPositiveTargets) {
  const Config config = homeostat::testing::small_training_config({"targets.firing_rate.excitatory=0"});
  try {
    Trainer t(config, generate_network(config), Method::feedback);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "targets.firing_rate.excitatory");
  }
}

// Issue 6's acceptance, on the built-in default network (N = 1000, M = 300)
// with its [feedback] defaults: after 100 chunks a fresh 10 s simulation of
// the scaled network has every type's mean rate within 10% of target and at
// least 95% of neurons active, and the loss is lower than at the start.
// Issue 18: there, on its rate targets, the network also meets the built-in
// membrane-ratio targets (mean of the last 5 chunks within 0.03): the
// defaults ask for a ratio the network reaches at its rates (the reference's
// 0.8 is out of its reach; README, "Can the CV and membrane-ratio targets be
// met?"), and this fails if the targets or the physiology move apart.
TEST(FeedbackTrainer, BringsTheDefaultNetworkToItsTargets) {
  const Config config = homeostat::testing::defaults_with({"simulation.num_chunks=100"});
  const Network net = generate_network(config);
  Trainer trainer(config, net, Method::feedback);
  const std::size_t n_types = config.recurrent.type_names.size();
  double first_loss = 0, last_losses = 0;
  std::vector<double> ratio(n_types, 0.0);  // [type] mean of the last 5 chunks
  for (int c = 0; c < 100; ++c) {
    const ChunkMetrics m = trainer.run_chunk();
    if (c < 5) first_loss += m.losses.total / 5;
    if (c >= 95) {
      last_losses += m.losses.total / 5;
      for (std::size_t t = 0; t < n_types; ++t) ratio[t] += m.membrane_ratio[t] / 5;
    }
  }
  EXPECT_LT(last_losses, first_loss);

  const auto after = homeostat::testing::ten_seconds(config, net, trainer.model());
  homeostat::testing::expect_targets_met(config, after.rate, after.active);
  for (std::size_t t = 0; t < n_types; ++t)
    EXPECT_NEAR(ratio[t], config.targets.per_type[t].threshold_ratio, 0.03) << config.recurrent.type_names[t];
}

// Issue 18: the integral rule with its defaults on a small network (80
// neurons, 8 trials x 2 s of 1 ms per chunk) that starts far below target.
// Its type rates fluctuate by about 20% from chunk to chunk (an 80-neuron
// network bursts together), so the rates judged are means over blocks of 10
// chunks: the first block is below half the target, no block is more than
// 30% above target on the way, and the last three are within 10%.
TEST(FeedbackTrainer, IntegralRuleSettlesASmallNetworkFromFarBelowWithoutOvershoot) {
  const Config config = homeostat::testing::small_training_config(
      {"simulation.dt=1.0", "simulation.chunk_size=2000", "training.batch_size=8"});
  ASSERT_EQ(config.feedback.rule, FeedbackRule::integral);
  const Network net = generate_network(config);
  Trainer trainer(config, net, Method::feedback);
  const std::size_t n_types = config.recurrent.type_names.size();
  const int blocks = 15, block = 10;
  std::vector<std::vector<double>> relative(blocks, std::vector<double>(n_types, 0.0));  // [block][type]
  for (int b = 0; b < blocks; ++b)
    for (int c = 0; c < block; ++c) {
      const ChunkMetrics m = trainer.run_chunk();
      for (std::size_t t = 0; t < n_types; ++t)
        relative[b][t] += m.mean_rate[t] / config.targets.per_type[t].firing_rate / block;
    }
  EXPECT_LT(relative[0][0], 0.5) << "the excitatory rate should start far below target";
  for (int b = 0; b < blocks; ++b)
    for (std::size_t t = 0; t < n_types; ++t) {
      EXPECT_LE(relative[b][t], 1.3) << "block " << b << ", type " << t;
      if (b >= blocks - 3) {
        EXPECT_NEAR(relative[b][t], 1.0, 0.1) << "block " << b << ", type " << t;
      }
    }
}

TEST(FeedbackConfig, RuleAndItsTimeConstantsAreChecked) {
  auto key_of = [](std::vector<std::string> overrides) -> std::string {
    try {
      homeostat::testing::defaults_with(std::move(overrides));
    } catch (const ConfigError& e) {
      return e.key();
    }
    return "";
  };
  EXPECT_EQ(key_of({"feedback.rule=\"pid\""}), "feedback.rule");
  EXPECT_EQ(key_of({"feedback.tau_homeostatic=0"}), "feedback.tau_homeostatic");
  EXPECT_EQ(key_of({"feedback.max_step=-0.1"}), "feedback.max_step");
  EXPECT_EQ(key_of({"feedback.rule=\"ema\""}), "");
  // to_toml writes the new keys back: the config round-trips.
  const Config c = homeostat::testing::defaults_with({"feedback.rule=\"ema\"", "feedback.tau_homeostatic=120",
                                                      "feedback.max_step=0.05"});
  EXPECT_EQ(io::parse_config(io::to_toml(c), "round-trip.toml").feedback, c.feedback);
}
