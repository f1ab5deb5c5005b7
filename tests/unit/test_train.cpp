// The training loop's invariants (ggml test-opt style): accumulating k chunks
// then stepping equals doing it by hand; results do not depend on threads;
// non-finite values stop the update; and that training works: a half-size
// version of the built-in defaults reaches its targets.
#include "homeostat/train.hpp"
#include "targets.hpp"
#include "tiny_network.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

using namespace homeostat;

TEST(Trainer, AccumulatesChunksThenStepsAsByHand) {
  const Config config = homeostat::testing::small_training_config({"training.chunks_per_update=2"});
  const Network net = generate_network(config);
  Trainer trainer(config, net);
  const std::vector<double> before = trainer.parameters().values();
  const ChunkMetrics first = trainer.run_chunk();
  EXPECT_FALSE(first.updated);
  EXPECT_EQ(trainer.parameters().values(), before);  // no step after one of two chunks
  const ChunkMetrics second = trainer.run_chunk();
  EXPECT_TRUE(second.updated);

  // By hand: the two chunks' gradients (each scaled by 1/2), summed, clipped, one Adam step.
  auto model = lower<float>(config, net);
  Parameters params(Optimisable::weights, model);
  const PoissonInputs inputs(config.simulation.seed, net.input_type, config.feedforward.firing_rate,
                             config.simulation.dt);
  std::vector<TrialState<float>> states(3, initial_state(model));
  const LossContext ctx = loss_context(config, net.cell_type, 3, 500);
  const auto exc = excitatory_types(config);
  std::vector<double> sum(params.values().size(), 0.0);
  for (int c = 0; c < 2; ++c) {
    const auto g = chunk_gradient(model, inputs, states, 0, c * 500, 500, ctx, weight_ratio(model, exc));
    const auto d = params.gradient(model, g, 0, exc);
    for (std::size_t k = 0; k < d.size(); ++k) sum[k] += d[k];
  }
  EXPECT_DOUBLE_EQ(clip_global_norm(sum, config.hyperparameters.grad_norm_clip), second.grad_norm);
  Adam adam;
  const HyperparametersConfig& h = config.hyperparameters;  // the step after one chunk: the schedule's rate at 1
  adam.learning_rate = scheduled_learning_rate(h.learning_rate, h.lr_final_fraction, h.lr_half_life, 1);
  EXPECT_EQ(second.learning_rate, adam.learning_rate);
  adam.update(params.values(), sum);
  EXPECT_EQ(trainer.parameters().values(), params.values());
  EXPECT_NE(params.values(), before);
}

// The learning-rate schedule: halfway to lr_final_fraction x learning_rate
// every lr_half_life chunks, counted from the first chunk; 0 keeps it.
TEST(Trainer, LearningRateHalvesItsWayToTheFinalFractionEveryHalfLife) {
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(0.04, 0.25, 15, 0), 0.04);
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(0.04, 0.25, 15, 15), 0.04 * (0.25 + 0.75 / 2));
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(0.04, 0.25, 15, 30), 0.04 * (0.25 + 0.75 / 4));
  EXPECT_NEAR(scheduled_learning_rate(0.04, 0.25, 15, 1000), 0.01, 1e-15);
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(0.04, 0.25, 0, 30), 0.04);  // no decay
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(0.04, 1.0, 15, 30), 0.04);  // decays to itself
}

// Each chunk steps with the schedule's rate for the chunks before it (the
// metrics' learning_rate), and a run restored mid-decay continues the same
// sequence with the same parameters bit for bit: the rate depends on the
// chunk, not on the run's length or where it was resumed.
TEST(Trainer, ResumedMidDecayStepsWithTheSameLearningRates) {
  const Config config = homeostat::testing::small_training_config(
      {"hyperparameters.learning_rate=0.04", "hyperparameters.lr_half_life=2", "hyperparameters.lr_final_fraction=0.25"});
  const Network net = generate_network(config);
  Trainer straight(config, net);
  std::vector<double> rates;
  for (int c = 0; c < 6; ++c) rates.push_back(straight.run_chunk().learning_rate);
  for (int c = 0; c < 6; ++c) EXPECT_DOUBLE_EQ(rates[c], scheduled_learning_rate(0.04, 0.25, 2, c)) << c;
  EXPECT_LT(rates[5], 0.5 * rates[0]);

  Trainer first(config, net);
  for (int c = 0; c < 3; ++c) first.run_chunk();
  Trainer resumed(config, net);
  resumed.restore(first.state());
  for (int c = 3; c < 6; ++c) EXPECT_EQ(resumed.run_chunk().learning_rate, rates[c]) << c;
  EXPECT_EQ(resumed.parameters().values(), straight.parameters().values());
}

TEST(Trainer, BitIdenticalForOneAndTwoThreads) {
  const Config config = homeostat::testing::small_training_config();
  const Network net = generate_network(config);
  auto run = [&](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    Trainer t(config, net);
    std::vector<double> losses;
    for (int c = 0; c < 3; ++c) losses.push_back(t.run_chunk().losses.total);
    omp_set_num_threads(saved);
    return std::make_pair(t.parameters().values(), losses);
  };
  const auto a = run(1), b = run(2);
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(a.second, b.second);
}

TEST(Trainer, NonFiniteParametersStopTheUpdate) {
  // A learning rate so large that exp(ln w - lr) overflows or vanishes.
  const Config config = homeostat::testing::small_training_config({"hyperparameters.learning_rate=1000.0"});
  Trainer trainer(config, generate_network(config));
  const std::vector<double> before = trainer.parameters().values();
  try {
    trainer.run_chunk();
    FAIL() << "no NonFiniteError";
  } catch (const NonFiniteError& e) {
    EXPECT_EQ(e.chunk(), 1);
    EXPECT_NE(e.where().find("after the update"), std::string::npos) << e.what();
  }
  EXPECT_EQ(trainer.parameters().values(), before);
}

// Issue 4's acceptance check, at half the size of the built-in defaults (its
// training settings, 500 neurons in 5 assemblies of the default size, 150
// inputs, connection probabilities raised to keep every in-degree): 80
// chunks of gradient training take every cell type from far below its
// target (E ~0.01 Hz with 6% of the neurons active) to within 10% of it, with
// >= 95% of the neurons active in a fresh 10 s trial, and halve the loss.
// Where training ended is the mean rate of its last 10 chunks (8 trials x 4 s
// each): one 10 s trial of 400 E neurons at 0.5 Hz varies by about +-10%
// from run to run on its own. About 50 s on 2 cores.
// The weight change per block (train.hpp) in the scaling modes is each
// block's factor - 1: all weights of a block move together.
TEST(Trainer, BlockWeightChangeIsEachBlocksFactorMinusOne) {
  const Config config = homeostat::testing::small_training_config(
      {"training.optimisable=scaling_factors", "hyperparameters.learning_rate=0.2"});
  const Network net = generate_network(config);
  Trainer trainer(config, net);
  const BlockWeightChange start = block_weight_change(net, trainer);
  ASSERT_EQ(start.recurrent.size(), 4u);
  ASSERT_EQ(start.feedforward.size(), 2u);
  for (const double x : start.recurrent) EXPECT_EQ(x, 0.0);
  for (const double x : start.feedforward) EXPECT_EQ(x, 0.0);
  for (int c = 0; c < 3; ++c) trainer.run_chunk();
  const BlockWeightChange now = block_weight_change(net, trainer);
  const std::vector<double>& log_factor = trainer.parameters().values();  // [rec pre x post, ff input x post]
  ASSERT_EQ(log_factor.size(), 6u);
  double moved = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    EXPECT_NEAR(now.recurrent[k], std::exp(log_factor[k]) - 1, 2e-6) << k;
    moved = std::max(moved, std::abs(now.recurrent[k]));
  }
  for (std::size_t k = 0; k < 2; ++k) EXPECT_NEAR(now.feedforward[k], std::exp(log_factor[4 + k]) - 1, 2e-6) << k;
  EXPECT_GT(moved, 1e-3) << "the scenario needs factors that moved";
}

TEST(Trainer, BlockWeightChangeIsNanForABlockWithoutEdges) {
  const Config config = homeostat::testing::small_training_config(
      {"recurrent.topology.conn_within=[[0.5, 0.5], [1.0, 0.0]]",
       "recurrent.topology.conn_between=[[0.25, 0.25], [0.25, 0.0]]"});  // no inhibitory -> inhibitory edge
  const Network net = generate_network(config);
  Trainer trainer(config, net);
  trainer.run_chunk();
  const BlockWeightChange d = block_weight_change(net, trainer);
  EXPECT_TRUE(std::isnan(d.recurrent[3]));
  for (std::size_t k = 0; k < 3; ++k) EXPECT_TRUE(std::isfinite(d.recurrent[k])) << k;
}

TEST(Trainer, BringsAHalfSizeDefaultNetworkToItsTargets) {
  const Config config = homeostat::testing::defaults_with(
      {"recurrent.topology.num_neurons=500", "recurrent.topology.num_assemblies=5",
       "feedforward.topology.num_neurons=150", "recurrent.topology.conn_between=[[0.5625,0.5625],[0.5625,0.5625]]",
       "feedforward.topology.conn_inputs=[[0.5,0.5]]"});
  const Network net = generate_network(config);
  const auto before = homeostat::testing::ten_seconds(config, net, lower<float>(config, net));
  Trainer trainer(config, net);
  const std::int64_t chunks = config.simulation.num_chunks;
  const std::size_t types = config.recurrent.type_names.size();
  double first_loss = 0, last_loss = 0;
  std::vector<double> rate(types, 0.0);
  for (std::int64_t c = 0; c < chunks; ++c) {
    const ChunkMetrics m = trainer.run_chunk();
    if (c < 5) first_loss += m.losses.total / 5;
    if (c >= chunks - 5) last_loss += m.losses.total / 5;
    if (c >= chunks - 10)
      for (std::size_t t = 0; t < types; ++t) rate[t] += m.mean_rate[t] / 10;
  }
  EXPECT_LT(last_loss, 0.5 * first_loss);
  const auto after = homeostat::testing::ten_seconds(config, net, trainer.model());
  homeostat::testing::expect_targets_met(config, rate, after.active);
  // The check has something to show: the untrained network misses both.
  EXPECT_LT(before.rate[0], 0.5 * config.targets.per_type[0].firing_rate);
  EXPECT_LT(before.active[0], 0.5);
}
