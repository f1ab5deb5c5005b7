// Parameters (MODEL.md 6), gradient clipping and Adam.
#include "homeostat/optim.hpp"
#include "tiny_network.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace homeostat;

TEST(Adam, TwoStepsByHand) {
  Adam adam;
  adam.learning_rate = 0.1;
  std::vector<double> p = {1.0};
  adam.update(p, {0.5});
  // m = 0.05, v = 0.00025; bias-corrected 0.5 and 0.25.
  const double p1 = 1.0 - 0.1 * 0.5 / (0.5 + 1e-8);
  EXPECT_NEAR(p[0], p1, 1e-15);
  adam.update(p, {-0.25});
  // m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225,
  // corrections 1 - 0.81 = 0.19 and 1 - 0.998001 = 0.001999.
  EXPECT_NEAR(p[0], p1 - 0.1 * (0.02 / 0.19) / (std::sqrt(0.00031225 / 0.001999) + 1e-8), 1e-12);
  EXPECT_EQ(adam.step, 2);
  EXPECT_THROW(adam.update(p, {1.0, 2.0}), std::invalid_argument);
}

TEST(ClipGlobalNorm, ScalesOnlyAboveTheBound) {
  std::vector<double> g = {3.0, 4.0};
  EXPECT_DOUBLE_EQ(clip_global_norm(g, 10.0), 5.0);
  EXPECT_EQ(g, (std::vector<double>{3.0, 4.0}));
  EXPECT_DOUBLE_EQ(clip_global_norm(g, 1.0), 5.0);
  EXPECT_NEAR(std::hypot(g[0], g[1]), 1.0, 1e-6);
  EXPECT_NEAR(g[0] / g[1], 0.75, 1e-15);
}

namespace {

struct Small {
  Config config = homeostat::testing::defaults_with({"recurrent.topology.num_neurons=60",
                                                     "recurrent.topology.num_assemblies=2",
                                                     "feedforward.topology.num_neurons=20",
                                                     "feedforward.activity.mitral.firing_rate=200.0",
                                                     "simulation.dt=0.1",
                                                     "hyperparameters.loss_weight.weight_ratio=0.0"});
  Network net = generate_network(config);
  LoweredModel<double> model = lower<double>(config, net);
  std::vector<bool> exc = excitatory_types(config);
};

ChunkGradient gradient_of(const Small& s, const Parameters& p) {
  LoweredModel<double> m = s.model;
  p.apply(m);
  const PoissonInputs inputs(s.config.simulation.seed, s.net.input_type, s.config.feedforward.firing_rate,
                             s.config.simulation.dt);
  std::vector<TrialState<double>> states(2, initial_state(m));
  return chunk_gradient(m, inputs, states, 0, 0, 500, loss_context(s.config, s.net.cell_type, 2, 500),
                        p.weight_ratio_of(m, s.exc));
}

}  // namespace

TEST(Parameters, WeightsModeIsLogWeights) {
  const Small s;
  Parameters p(Optimisable::weights, s.model);
  ASSERT_EQ(p.values().size(), s.model.rec_weight.size() + s.model.ff_weight.size());
  EXPECT_NEAR(std::exp(p.values()[0]), s.model.rec_weight[0], 1e-15);
  p.values()[0] += std::log(2.0);
  LoweredModel<double> m = s.model;
  p.apply(m);
  EXPECT_NEAR(m.rec_weight[0], 2 * s.model.rec_weight[0], 1e-15);
  EXPECT_EQ(m.rec_weight[1], s.model.rec_weight[1]);
}

TEST(Parameters, ScalingFactorsScaleWholeBlocks) {
  const Small s;
  Parameters p(Optimisable::scaling_factors, s.model);
  ASSERT_EQ(p.values().size(), 4u + 2u);  // 2 x 2 recurrent blocks, 1 x 2 feedforward
  p.values()[1] = std::log(3.0);          // excitatory -> inhibitory
  p.values()[4] = std::log(0.5);          // mitral -> excitatory
  LoweredModel<double> m = s.model;
  p.apply(m);
  for (std::int64_t j = 0; j < m.n; ++j)
    for (std::int64_t e = m.rec_row[j]; e < m.rec_row[j + 1]; ++e) {
      const bool block = m.cell_type[j] == 0 && m.cell_type[m.rec_post[e]] == 1;
      EXPECT_NEAR(m.rec_weight[e], (block ? 3.0 : 1.0) * s.model.rec_weight[e], 1e-12);
    }
  for (std::int64_t j = 0; j < m.m; ++j)
    for (std::int64_t e = m.ff_row[j]; e < m.ff_row[j + 1]; ++e)
      EXPECT_NEAR(m.ff_weight[e], (m.cell_type[m.ff_post[e]] == 0 ? 0.5 : 1.0) * s.model.ff_weight[e], 1e-12);
  Parameters rec_only(Optimisable::scaling_factors_recurrent, s.model);
  Parameters ff_only(Optimisable::scaling_factors_feedforward, s.model);
  EXPECT_EQ(rec_only.values().size(), 4u);
  EXPECT_EQ(ff_only.values().size(), 2u);
}

TEST(Parameters, FactorGradientIsTheBlockSumOfLogWeightGradients) {
  // At f = 1 both modes describe the same network: d/d ln f_ab must be the
  // sum over block (a, b) of d/d ln w (weight-ratio loss off: it differs by
  // definition between the modes).
  const Small s;
  const Parameters weights(Optimisable::weights, s.model), factors(Optimisable::scaling_factors, s.model);
  const auto gw = weights.gradient(s.model, gradient_of(s, weights), 0, s.exc);
  const auto gf = factors.gradient(s.model, gradient_of(s, factors), 0, s.exc);
  std::vector<double> blocks(6, 0.0);
  for (std::int64_t j = 0; j < s.model.n; ++j)
    for (std::int64_t e = s.model.rec_row[j]; e < s.model.rec_row[j + 1]; ++e)
      blocks[s.model.cell_type[j] * 2 + s.model.cell_type[s.model.rec_post[e]]] += gw[e];
  const std::size_t e_rec = s.model.rec_weight.size();
  for (std::int64_t j = 0; j < s.model.m; ++j)
    for (std::int64_t e = s.model.ff_row[j]; e < s.model.ff_row[j + 1]; ++e)
      blocks[4 + s.model.cell_type[s.model.ff_post[e]]] += gw[e_rec + e];
  double scale = 0;
  for (const double b : blocks) scale = std::max(scale, std::abs(b));
  ASSERT_GT(scale, 0.0);
  for (std::size_t k = 0; k < 6; ++k) EXPECT_NEAR(gf[k], blocks[k], 1e-9 * scale) << "block " << k;
}
