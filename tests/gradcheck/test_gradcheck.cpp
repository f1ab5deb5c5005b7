// Gradient checks: the BPTT adjoint (chunk_gradient) against forward-mode
// differentiation (dual numbers) of the same surrogate dynamics, for every
// loss term and every weight, on small networks with E and I spikes, with
// and without refractoriness and saturation, in double and in float.
#include "reference_model.hpp"
#include "tiny_network.hpp"

#include "homeostat/grad.hpp"
#include "homeostat/optim.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

using namespace homeostat;
using homeostat::gradcheck::Dual;
using homeostat::gradcheck::Seeds;

namespace {

constexpr int K = 32;  // tangent directions per reference run

struct Case {
  std::vector<std::string> overrides;
  std::int64_t steps = 800, batch = 2, warmup = 300, checkpoint_every = 37;
  std::int64_t trial_group = 0;  // GradientOptions::trial_group
};

std::vector<std::string> small_network(std::vector<std::string> extra) {
  std::vector<std::string> o = {"simulation.dt=0.1", "recurrent.topology.num_neurons=24", "recurrent.topology.num_assemblies=2",
                                "feedforward.topology.num_neurons=12", "feedforward.activity.mitral.firing_rate=300.0",
                                "recurrent.physiology.excitatory.tau_ref=2.0",
                                "recurrent.physiology.inhibitory.tau_ref=2.0"};
  o.insert(o.end(), extra.begin(), extra.end());
  return o;
}

// A problem for the engine-level gradient tests: the built-in defaults with
// `overrides`, their network, lowered model and Poisson inputs, and the loss
// context and weight ratio of `batch` trials x `steps`.
template <class Real>
struct Problem {
  Config config;
  Network net;
  LoweredModel<Real> lm;
  PoissonInputs inputs;
  LossContext ctx;
  WeightRatio ratio;

  Problem(const std::vector<std::string>& overrides, std::int64_t batch, std::int64_t steps)
      : config(homeostat::testing::defaults_with(overrides)),
        net(generate_network(config)),
        lm(lower<Real>(config, net)),
        inputs(config.simulation.seed, net.input_type, config.feedforward.firing_rate, config.simulation.dt),
        ctx(loss_context(config, net.cell_type, batch, steps)),
        ratio(weight_ratio(lm, excitatory_types(config))) {}
};
using FloatProblem = Problem<float>;

struct Compared {
  double worst_total = 0, worst_term[n_loss_terms] = {};  // max |error| / max |reference|
  std::int64_t spikes = 0, exc_spikes = 0, inh_spikes = 0, cv_neurons = 0, clamped = 0;
};

template <class T>
Compared compare(const Case& c) {
  const Config config = homeostat::testing::defaults_with(c.overrides);
  const Network net = generate_network(config);
  const LoweredModel<T> lm = lower<T>(config, net);
  const PoissonInputs inputs(config.simulation.seed, net.input_type, config.feedforward.firing_rate,
                             config.simulation.dt);
  // Start from a state in motion: conductances, refractory neurons, earlier spikes.
  std::vector<TrialState<T>> states(c.batch, initial_state(lm));
  run_chunk(lm, inputs, states, 0, 0, c.warmup, RecordSpec{}, nullptr);
  const std::vector<TrialState<T>> start = states;

  const LossContext ctx = loss_context(config, net.cell_type, c.batch, c.steps);
  const std::vector<bool> exc = excitatory_types(config);
  const WeightRatio ratio = weight_ratio(lm, exc);
  GradientOptions options;
  options.surrogate_scale = config.hyperparameters.surrgrad_scale;
  options.checkpoint_every = c.checkpoint_every;
  options.trial_group = c.trial_group;
  options.terms.assign(std::begin(all_loss_terms), std::end(all_loss_terms));
  const ChunkGradient g = chunk_gradient(lm, inputs, states, 0, c.warmup, c.steps, ctx, ratio, options);

  Compared out;
  for (std::int64_t b = 0; b < c.batch; ++b) {
    for (const auto j : g.records[b].spike_neuron) {
      ++out.spikes;
      ++(net.cell_type[j] == 0 ? out.exc_spikes : out.inh_spikes);
    }
  }
  // How often the clamp acted (so that the check covers it).
  for (std::int64_t b = 0; b < c.batch && lm.saturate; ++b) {
    TrialState<T> s = start[b];
    for (std::int64_t t = 0; t < c.steps; ++t) {
      run_trial_serial(lm, inputs, s, b, c.warmup + t, 1);
      for (std::int64_t k = 0; k < lm.n_receptors; ++k)
        for (std::int64_t i = 0; i < lm.n; ++i) out.clamped += s.g_decay[k * lm.n + i] == lm.g_max[k];
    }
  }

  const std::size_t e_rec = lm.rec_weight.size(), e_ff = lm.ff_weight.size(), p = e_rec + e_ff;
  std::vector<std::vector<double>> ref_grad(1 + n_loss_terms, std::vector<double>(p, 0.0));  // total, terms
  LossValues<Dual<double, K>> values;
  for (std::size_t first = 0; first < p; first += K) {
    Seeds seeds{std::vector<int>(e_rec, -1), std::vector<int>(e_ff, -1)};
    for (std::size_t q = first; q < std::min(p, first + K); ++q)
      (q < e_rec ? seeds.rec_tangent[q] : seeds.ff_tangent[q - e_rec]) = static_cast<int>(q - first);
    values = gradcheck::reference_losses<T, K>(lm, inputs, start, c.warmup, c.steps, ctx, exc,
                                                options.surrogate_scale, seeds);
    for (std::size_t q = first; q < std::min(p, first + K); ++q) {
      ref_grad[0][q] = values.total.d[q - first];
      for (std::size_t t = 0; t < n_loss_terms; ++t) ref_grad[1 + t][q] = values.term[t].d[q - first];
    }
  }

  // Values agree.
  const double value_tol = std::is_same_v<T, float> ? 1e-4 : 1e-10;
  for (std::size_t t = 0; t < n_loss_terms; ++t)
    EXPECT_NEAR(g.losses.term[t], values.term[t].v, value_tol * std::max(1.0, std::abs(values.term[t].v)))
        << to_string(all_loss_terms[t]);
  EXPECT_NEAR(g.losses.total, values.total.v, value_tol * std::max(1.0, std::abs(values.total.v)));
  std::int64_t isi_neurons = 0;
  for (std::int64_t i = 0; i < lm.n; ++i) {
    double a = 0;
    for (std::int64_t b = 0; b < c.batch; ++b) a += g.sums.isi_count[b * lm.n + i];
    isi_neurons += a >= 2;
  }
  out.cv_neurons = isi_neurons;

  // Gradients agree: engine dL/dw times w = dL/d(log w).
  for (std::size_t set = 0; set <= n_loss_terms; ++set) {
    double worst = 0, scale = 0;
    for (std::size_t q = 0; q < p; ++q) {
      const double w = q < e_rec ? lm.rec_weight[q] : lm.ff_weight[q - e_rec];
      const double engine = w * (q < e_rec ? g.d_rec[set][q] : g.d_ff[set][q - e_rec]);
      worst = std::max(worst, std::abs(engine - ref_grad[set][q]));
      scale = std::max(scale, std::abs(ref_grad[set][q]));
    }
    const double rel = scale > 0 ? worst / scale : worst;
    if (set == 0) out.worst_total = rel;
    else out.worst_term[set - 1] = rel;
    if (set > 0) {
      EXPECT_GT(scale, 0.0) << "loss " << to_string(all_loss_terms[set - 1]) << " passes no gradient";
    }
  }
  return out;
}

void expect_close(const Compared& r, double tol) {
  EXPECT_LT(r.worst_total, tol);
  for (std::size_t t = 0; t < n_loss_terms; ++t) EXPECT_LT(r.worst_term[t], tol) << to_string(all_loss_terms[t]);
  // The case must exercise what it claims to: E and I spikes, CVs.
  EXPECT_GT(r.exc_spikes, 0);
  EXPECT_GT(r.inh_spikes, 0);
  EXPECT_GT(r.cv_neurons, 0);
}

// The small network with `batch` trials of `steps` steps, taken backward in
// groups of `trial_group` trials (0: trial_groups' choice).
Case trials(std::int64_t batch, std::int64_t trial_group, std::int64_t steps) {
  Case c{small_network({})};
  c.batch = batch;
  c.trial_group = trial_group;
  c.steps = steps;
  return c;
}

}  // namespace

TEST(GradCheck, DoubleSaturatingRefractory) {
  const Compared r = compare<double>({small_network({})});
  expect_close(r, 1e-8);
  EXPECT_GT(r.clamped, 0) << "the clamp never acted: this case does not test it";
}

TEST(GradCheck, DoubleNoRefractoriness) {
  const Compared r = compare<double>({small_network({"recurrent.physiology.excitatory.tau_ref=0.0",
                                                     "recurrent.physiology.inhibitory.tau_ref=0.0"})});
  expect_close(r, 1e-8);
}

TEST(GradCheck, DoubleWithoutSaturation) {
  expect_close(compare<double>({small_network({"simulation.saturate=false"})}), 1e-8);
}

TEST(GradCheck, DoubleLongerChunkOneSegment) {
  Case c{small_network({"recurrent.topology.num_neurons=40", "feedforward.topology.num_neurons=16"})};
  c.steps = 2000;
  c.batch = 1;
  c.checkpoint_every = 5000;  // one segment: no recomputation boundary
  expect_close(compare<double>(c), 1e-8);
}

// The backward row product takes trials 64, 32, then 16 bytes at a time,
// then one by one: one group of trials that needs all four (8 + 4 + 2 + 1
// doubles, 16 + 8 + 4 + 1 floats), with the number of trials known only at
// run time.
TEST(GradCheck, DoubleEveryTrialBlockWidth) { expect_close(compare<double>(trials(15, 15, 400)), 1e-8); }

TEST(GradCheck, FloatEveryTrialBlockWidth) { expect_close(compare<float>(trials(29, 29, 400)), 2e-3); }

// Groups of trials taken backward separately and summed, with the group
// widths compiled in: 3 x 4 trials (double) and the default 2 x 16 for a
// batch of 32 (float).
TEST(GradCheck, DoubleThreeGroupsOfFour) { expect_close(compare<double>(trials(12, 4, 400)), 1e-8); }

TEST(GradCheck, FloatTwoGroupsOfSixteen) {
  ASSERT_EQ(trial_groups(32).size(), 2u);
  expect_close(compare<float>(trials(32, 0, 300)), 2e-3);
}

// The firing-rate loss in both forms of MODEL.md 7 (hyperparameters.rate_loss):
// the split form with an even and an odd batch (halves of equal and unequal
// size), and the plain form. (The cases above run the default, split; the one
// with one trial, the plain form it falls back to.)
namespace {
Case rate_loss_case(const char* kind, std::int64_t batch, std::int64_t steps) {
  Case c = trials(batch, 0, steps);
  c.overrides.push_back(std::string("hyperparameters.rate_loss=") + kind);
  return c;
}
}  // namespace

TEST(GradCheck, DoubleSplitRateLossEvenBatch) { expect_close(compare<double>(rate_loss_case("split", 4, 500)), 1e-8); }

TEST(GradCheck, DoubleSplitRateLossOddBatch) { expect_close(compare<double>(rate_loss_case("split", 5, 500)), 1e-8); }

TEST(GradCheck, DoublePlainRateLoss) { expect_close(compare<double>(rate_loss_case("plain", 3, 500)), 1e-8); }

TEST(GradCheck, FloatSplitRateLossOddBatch) { expect_close(compare<float>(rate_loss_case("split", 7, 400)), 2e-3); }

TEST(GradCheck, TrialGroupsAreWholeAtomsInOrder) {
  for (std::int64_t batch = 1; batch <= 40; ++batch) {
    const auto atoms = trial_atoms(batch);
    std::int64_t next = 0;
    for (const auto& a : atoms) {
      EXPECT_EQ(a.first, next);
      EXPECT_EQ(a.size, std::min(trial_atom, batch - a.first));
      next += a.size;
    }
    EXPECT_EQ(next, batch);
    for (std::int64_t width : {0, 1, 3, 4, 6, 16}) {
      const auto groups = trial_groups(batch, width);
      next = 0;
      for (const auto& g : groups) {
        EXPECT_EQ(g.first, next);
        EXPECT_EQ(g.first % trial_atom, 0) << "batch " << batch << ", width " << width;
        EXPECT_GT(g.size, 0);
        // Whole atoms: a multiple of the atom unless it ends the batch.
        if (g.first + g.size < batch) {
          EXPECT_EQ(g.size % trial_atom, 0) << "batch " << batch << ", width " << width;
        }
        if (width > 0) {
          EXPECT_LE(g.size, (width + trial_atom - 1) / trial_atom * trial_atom);
        }
        next += g.size;
      }
      EXPECT_EQ(next, batch) << "batch " << batch << ", width " << width;
    }
  }
  // The choice depends on the number of trials only: half of them, 4 to 16
  // trials, in whole atoms.
  EXPECT_EQ(trial_groups(1).size(), 1u);
  EXPECT_EQ(trial_groups(4).size(), 1u);
  EXPECT_EQ(trial_groups(8).size(), 2u);
  EXPECT_EQ(trial_groups(8)[1].size, 4);
  EXPECT_EQ(trial_groups(12)[0].size, 8);
  EXPECT_EQ(trial_groups(32)[0].size, 16);
  EXPECT_EQ(trial_groups(64).size(), 4u);
}

TEST(GradCheck, RankTrialsAreWholeUnitsInRankOrder) {
  // Every R up to the number of units (atoms for the gradient, single trials
  // for forward-only runs): consecutive shares of whole units that cover the
  // batch, at least one unit each.
  for (const std::int64_t batch : {1, 5, 8, 36, 64, 100})
    for (const std::int64_t unit : {trial_atom, std::int64_t{1}}) {
      const std::int64_t n_units = (batch + unit - 1) / unit;
      for (int ranks = 1; ranks <= static_cast<int>(n_units); ++ranks) {
        std::int64_t next = 0;
        for (int r = 0; r < ranks; ++r) {
          const TrialRange t = rank_trials(batch, unit, r, ranks);
          EXPECT_EQ(t.first, next) << batch << " trials, unit " << unit << ", rank " << r << " of " << ranks;
          EXPECT_GT(t.count, 0);
          EXPECT_EQ(t.batch, batch);
          EXPECT_EQ(t.first % unit, 0);
          next = t.first + t.count;
        }
        EXPECT_EQ(next, batch) << batch << " trials, unit " << unit << ", " << ranks << " ranks";
      }
      EXPECT_THROW(rank_trials(batch, unit, 0, static_cast<int>(n_units) + 1), std::invalid_argument);
    }
  // Shares as even as the units allow: 16 + 20 trials, not 32 + 4; the seed
  // configuration's 32 trials on up to 8 ranks.
  EXPECT_EQ(rank_trials(36, trial_atom, 0, 2).count, 16);
  EXPECT_EQ(rank_trials(36, trial_atom, 1, 2).count, 20);
  EXPECT_EQ(rank_trials(32, trial_atom, 7, 8).count, 4);
  EXPECT_THROW(rank_trials(32, trial_atom, 0, 9), std::invalid_argument);
  EXPECT_EQ(rank_trials(10, 1, 0, 3).count, 3);
  EXPECT_EQ(rank_trials(10, 1, 1, 3).count, 4);
  EXPECT_EQ(rank_trials(10, 1, 2, 3).count, 3);
}

TEST(GradCheck, FloatSaturatingRefractory) {
  expect_close(compare<float>({small_network({})}), 2e-3);
}

TEST(GradCheck, WeightedTotalIsTheSumOfWeightedTerms) {
  const Config config = homeostat::testing::defaults_with(small_network({"training.chunks_per_update=2"}));
  const Network net = generate_network(config);
  const auto lm = lower<double>(config, net);
  const PoissonInputs inputs(config.simulation.seed, net.input_type, config.feedforward.firing_rate,
                             config.simulation.dt);
  std::vector<TrialState<double>> states(2, initial_state(lm));
  const LossContext ctx = loss_context(config, net.cell_type, 2, 600);
  GradientOptions options;
  options.terms.assign(std::begin(all_loss_terms), std::end(all_loss_terms));
  const auto g = chunk_gradient(lm, inputs, states, 0, 0, 600, ctx, weight_ratio(lm, excitatory_types(config)), options);
  double scale = 0;
  for (double x : g.d_rec[0]) scale = std::max(scale, std::abs(x));
  ASSERT_GT(scale, 0);
  for (std::size_t e = 0; e < g.d_rec[0].size(); ++e) {
    double sum = 0;
    for (std::size_t t = 0; t < n_loss_terms; ++t) sum += ctx.weights[t] * 0.5 * g.d_rec[1 + t][e];
    ASSERT_NEAR(g.d_rec[0][e], sum, 1e-12 * scale);
  }
}

namespace {

// Every bit a chunk's gradient computes: losses, sums, gradients of every set.
void expect_same_bits(const ChunkGradient& a, const ChunkGradient& b, const std::string& what) {
  EXPECT_EQ(a.losses.total, b.losses.total) << what;
  for (std::size_t t = 0; t < n_loss_terms; ++t) EXPECT_EQ(a.losses.term[t], b.losses.term[t]) << what;
  EXPECT_TRUE(a.sums.v_sum_sq == b.sums.v_sum_sq) << what;
  ASSERT_EQ(a.d_rec.size(), b.d_rec.size()) << what;
  for (std::size_t c = 0; c < a.d_rec.size(); ++c) {
    EXPECT_EQ(0, std::memcmp(a.d_rec[c].data(), b.d_rec[c].data(), a.d_rec[c].size() * sizeof(double)))
        << what << ", set " << c;
    EXPECT_EQ(0, std::memcmp(a.d_ff[c].data(), b.d_ff[c].data(), a.d_ff[c].size() * sizeof(double)))
        << what << ", set " << c;
  }
  EXPECT_TRUE(a.d_weight_ratio == b.d_weight_ratio) << what;
}

// Chunks of `batch` trials on 1-8 threads (more than this machine's
// cores) in groups of 4, 8, 16 trials and the default: teams of threads
// share groups (the threshold lowered), groups run in parallel, teams
// wider than their trials share each trial's recomputation by neuron
// ranges (falling back to one thread and sharing again), and the
// gradient, summed in atoms of trial_atom trials, keeps every bit.
template <class Real>
void expect_bits_independent_of_threads_and_groups(std::int64_t batch, std::int64_t steps) {
  const Problem<Real> p({"simulation.dt=0.1", "recurrent.topology.num_neurons=200",
                         "recurrent.topology.num_assemblies=2", "feedforward.topology.num_neurons=60"},
                        batch, steps);
  std::vector<TrialState<Real>> start(batch, initial_state(p.lm));
  run_chunk(p.lm, p.inputs, start, 0, 0, 300, RecordSpec{}, nullptr);
  auto run = [&](int threads, std::int64_t group, std::int64_t every = 0,
                 SharedTrial policy = SharedTrial::adaptive) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    std::vector<TrialState<Real>> states = start;
    GradientOptions options;
    options.checkpoint_every = every;
    options.trial_group = group;
    options.min_shared_neuron_trials = 1;
    options.sharing.policy = policy;
    options.sharing.min_neurons_per_thread = 16;
    options.terms = {LossTerm::cv};
    auto g = chunk_gradient(p.lm, p.inputs, states, 0, 300, steps, p.ctx, p.ratio, options);
    omp_set_num_threads(before);
    return g;
  };
  const ChunkGradient one = run(1, 0);
  double scale = 0;
  for (double x : one.d_rec[0]) scale = std::max(scale, std::abs(x));
  ASSERT_GT(scale, 0.0) << batch << " trials";
  for (const int threads : {1, 2, 3, 5, 8})
    for (const std::int64_t group : {0, 4, 8, 16})
      expect_same_bits(one, run(threads, group),
                       std::to_string(batch) + " trials, " + std::to_string(threads) + " threads, groups of " +
                           std::to_string(group));
  // Recomputation shared at every step, and switching between sharing and
  // one thread on a fixed schedule, within and across segments (what the
  // default does under load).
  for (const int threads : {2, 3, 5, 8})
    for (const SharedTrial policy : {SharedTrial::always, SharedTrial::alternating})
      expect_same_bits(one, run(threads, 0, 0, policy),
                       std::to_string(batch) + " trials, " + std::to_string(threads) + " threads, policy " +
                           std::to_string(static_cast<int>(policy)));
  // Another checkpoint interval groups the forward membrane sums
  // differently: equal to rounding, not bit for bit.
  const ChunkGradient other = run(2, 0, 7);
  for (std::size_t e = 0; e < one.d_rec[0].size(); ++e) ASSERT_NEAR(one.d_rec[0][e], other.d_rec[0][e], 1e-6 * scale);
  EXPECT_NEAR(one.losses.total, other.losses.total, 1e-9 * std::abs(one.losses.total));
}

}  // namespace

// In double every contribution to dL/dw has all 53 bits, so any other order
// of the sums would show; float's contributions, summed in double, would
// rarely (the sums of a few are exact).
TEST(GradCheck, BitIdenticalForAnyThreadCountAndGroupingDouble) {
  for (const std::int64_t batch : {5, 7, 32}) expect_bits_independent_of_threads_and_groups<double>(batch, 100);
}

TEST(GradCheck, BitIdenticalForAnyThreadCountAndGroupingFloat) {
  expect_bits_independent_of_threads_and_groups<float>(32, 100);
}

// With more threads than trials, the recomputation shares each trial by
// ranges of neurons: every thread of the team gets pieces of it (the
// policy `always` shares every step), each segment's pieces of a trial
// cover its neurons once, and the bits are those of one thread.
TEST(GradCheck, MoreThreadsThanTrialsAllRecompute) {
  const std::int64_t steps = 64, every = 16, n = 200;
  for (const std::int64_t batch : {1, 2}) {
    const FloatProblem p({"simulation.dt=0.1", "recurrent.topology.num_neurons=200",
                          "recurrent.topology.num_assemblies=2", "feedforward.topology.num_neurons=60"},
                         batch, steps);
    std::vector<TrialState<float>> start(batch, initial_state(p.lm));
    run_chunk(p.lm, p.inputs, start, 0, 0, 300, RecordSpec{}, nullptr);
    ChunkGradient one;  // on 1 thread, the first
    for (const int threads : {1, 2, 5}) {
      std::mutex mutex;
      std::set<int> workers;  // OpenMP thread numbers
      std::map<std::int64_t, std::int64_t> covered;  // neurons per trial, over all pieces
      std::int64_t pieces = 0;
      GradientOptions options;
      options.checkpoint_every = every;
      options.sharing.policy = SharedTrial::always;
      options.sharing.min_neurons_per_thread = 16;
      options.on_recompute_piece = [&](std::int64_t trial, std::int64_t lo, std::int64_t hi) {
        const std::lock_guard<std::mutex> lock(mutex);
        workers.insert(omp_get_thread_num());
        covered[trial] += hi - lo;
        ++pieces;
      };
      const int before = omp_get_max_threads();
      omp_set_num_threads(threads);
      std::vector<TrialState<float>> states = start;
      const ChunkGradient g = chunk_gradient(p.lm, p.inputs, states, 0, 300, steps, p.ctx, p.ratio, options);
      omp_set_num_threads(before);
      const std::string what = std::to_string(batch) + " trials, " + std::to_string(threads) + " threads";
      EXPECT_EQ(static_cast<std::int64_t>(workers.size()), threads) << what;
      EXPECT_EQ(*workers.rbegin(), threads - 1) << what;
      EXPECT_EQ(pieces, steps / every * batch * (threads > batch ? threads : 1)) << what;
      ASSERT_EQ(static_cast<std::int64_t>(covered.size()), batch) << what;
      for (const auto& [trial, neurons] : covered) EXPECT_EQ(neurons, steps / every * n) << what << ", trial " << trial;
      if (threads == 1) one = g;
      expect_same_bits(one, g, what);
    }
  }
}

TEST(GradCheck, AReusedWorkspaceChangesNothing) {
  // One workspace through chunks of other shapes (trials, segments, groups)
  // gives the bits of a fresh one each time.
  const std::int64_t steps = 120;
  const FloatProblem p({"simulation.dt=0.1", "recurrent.topology.num_neurons=520",
                        "recurrent.topology.num_assemblies=4", "feedforward.topology.num_neurons=150"},
                       16, steps);
  auto run = [&](std::int64_t batch, std::int64_t every, std::int64_t group, GradientWorkspace<float>* workspace) {
    std::vector<TrialState<float>> states(batch, initial_state(p.lm));
    GradientOptions options;
    options.checkpoint_every = every;
    options.trial_group = group;
    const LossContext ctx = loss_context(p.config, p.net.cell_type, batch, steps);
    return chunk_gradient(p.lm, p.inputs, states, 0, 0, steps, ctx, p.ratio, options, workspace);
  };
  GradientWorkspace<float> workspace;
  const std::int64_t shapes[][3] = {{16, 0, 0}, {5, 7, 0}, {16, 50, 16}, {16, 0, 0}};
  for (const auto& [batch, every, group] : shapes) {
    const auto fresh = run(batch, every, group, nullptr), reused = run(batch, every, group, &workspace);
    double scale = 0;
    for (double x : fresh.d_rec[0]) scale = std::max(scale, std::abs(x));
    ASSERT_GT(scale, 0.0);
    EXPECT_TRUE(fresh.d_rec[0] == reused.d_rec[0]) << batch << " trials, K = " << every << ", group " << group;
    EXPECT_TRUE(fresh.d_ff[0] == reused.d_ff[0]) << batch << " trials, K = " << every << ", group " << group;
    EXPECT_EQ(fresh.losses.total, reused.losses.total);
  }
  EXPECT_TRUE(workspace.buffers != nullptr);
}
namespace {

// A stand-in for the MPI reduction of issue 15: each "process" is a thread
// computing consecutive trials of one batch, and the seams gather through
// shared memory in rank order.
class SharedMemoryReduction : public ChunkReduction {
 public:
  struct World {
    explicit World(int ranks) : barrier(ranks), sums(ranks), atoms(ranks) {}
    std::barrier<> barrier;
    std::vector<LossSums<double>> sums;            // [rank]
    std::vector<std::vector<AtomGradient>> atoms;  // [rank][its atoms]
    int sums_seen = 0, atoms_seen = 0;             // seam calls, rank 0's
  };

  SharedMemoryReduction(World& world, int rank, TrialRange range) : world_(world), rank_(rank), range_(range) {}

  TrialRange trials(std::int64_t local) const override {
    EXPECT_EQ(local, range_.count);
    return range_;
  }

  void gather_loss_sums(LossSums<double>& sums) const override {
    EXPECT_EQ(sums.spikes.size(), sums.v_sum.size());
    world_.sums[rank_] = sums;
    world_.barrier.arrive_and_wait();
    LossSums<double> all{};
    all.weight_ratio = sums.weight_ratio;
    for (const LossSums<double>& part : world_.sums) {
      EXPECT_EQ(part.weight_ratio, sums.weight_ratio);
      for (auto [to, from] : {std::pair{&all.spikes, &part.spikes}, {&all.isi_count, &part.isi_count},
                              {&all.isi_sum, &part.isi_sum}, {&all.isi_sum_sq, &part.isi_sum_sq},
                              {&all.v_sum, &part.v_sum}, {&all.v_sum_sq, &part.v_sum_sq}})
        to->insert(to->end(), from->begin(), from->end());
    }
    world_.barrier.arrive_and_wait();  // every rank has read every part
    sums = std::move(all);
    if (rank_ == 0) ++world_.sums_seen;
  }

  void gather_atom_gradients(std::int64_t first_atom, std::vector<AtomGradient>& atoms) const override {
    std::int64_t expected_first = 0, expected_count = 0;
    for (const TrialGroup& a : trial_atoms(range_.batch)) {
      expected_first += a.first < range_.first;
      expected_count += a.first >= range_.first && a.first < range_.first + range_.count;
    }
    EXPECT_EQ(first_atom, expected_first);
    EXPECT_EQ(static_cast<std::int64_t>(atoms.size()), expected_count);
    world_.atoms[rank_] = atoms;
    world_.barrier.arrive_and_wait();
    std::vector<AtomGradient> all;
    for (const auto& part : world_.atoms) all.insert(all.end(), part.begin(), part.end());
    world_.barrier.arrive_and_wait();
    atoms = std::move(all);
    if (rank_ == 0) ++world_.atoms_seen;
  }

 private:
  World& world_;
  int rank_;
  TrialRange range_;
};

}  // namespace

TEST(GradCheck, TrialsSplitAcrossProcessesGiveTheBitsOfOneProcess) {
  // Twelve trials in groups of 4, computed by one process, then by two that
  // share them unevenly (one atom; two atoms) and combine their loss sums
  // and atom gradients through the seams of ChunkReduction: the same bits.
  const std::int64_t batch = 12, steps = 150;
  const FloatProblem p({"simulation.dt=0.1", "recurrent.topology.num_neurons=300",
                        "recurrent.topology.num_assemblies=3", "feedforward.topology.num_neurons=90"},
                       batch, steps);
  GradientOptions options;
  options.trial_group = 4;
  options.checkpoint_every = 40;  // a partial last segment
  options.terms = {LossTerm::cv, LossTerm::membrane_variance};
  std::vector<TrialState<float>> whole_states(batch, initial_state(p.lm));
  const ChunkGradient whole = chunk_gradient(p.lm, p.inputs, whole_states, 0, 0, steps, p.ctx, p.ratio, options);
  double scale = 0;
  for (double x : whole.d_rec[0]) scale = std::max(scale, std::abs(x));
  ASSERT_GT(scale, 0.0);

  const TrialRange ranges[] = {{0, 4, batch}, {4, 8, batch}};
  SharedMemoryReduction::World world(2);
  std::vector<ChunkGradient> parts(2);
  std::vector<std::vector<TrialState<float>>> states(2);
  std::vector<std::exception_ptr> errors(2);
  std::vector<std::thread> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.emplace_back([&, r] {
      try {
        const SharedMemoryReduction reduction(world, r, ranges[r]);
        GradientOptions mine = options;
        mine.reduction = &reduction;
        states[r].assign(ranges[r].count, initial_state(p.lm));
        parts[r] = chunk_gradient(p.lm, p.inputs, states[r], ranges[r].first, 0, steps, p.ctx, p.ratio, mine);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : ranks) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  EXPECT_EQ(world.sums_seen, 1);
  EXPECT_EQ(world.atoms_seen, 1);
  for (int r = 0; r < 2; ++r) {
    const ChunkGradient& part = parts[r];
    EXPECT_TRUE(part.sums.spikes == whole.sums.spikes) << "rank " << r;
    EXPECT_TRUE(part.sums.isi_sum_sq == whole.sums.isi_sum_sq) << "rank " << r;
    EXPECT_TRUE(part.sums.v_sum_sq == whole.sums.v_sum_sq) << "rank " << r;
    EXPECT_EQ(part.losses.total, whole.losses.total) << "rank " << r;
    ASSERT_EQ(part.d_rec.size(), whole.d_rec.size());
    for (std::size_t c = 0; c < whole.d_rec.size(); ++c) {
      EXPECT_TRUE(part.d_rec[c] == whole.d_rec[c]) << "rank " << r << ", set " << c;
      EXPECT_TRUE(part.d_ff[c] == whole.d_ff[c]) << "rank " << r << ", set " << c;
    }
    EXPECT_TRUE(part.d_weight_ratio == whole.d_weight_ratio) << "rank " << r;
    // Its own trials: their spikes and their states at the chunk's end.
    ASSERT_EQ(part.records.size(), static_cast<std::size_t>(ranges[r].count));
    for (std::int64_t b = 0; b < ranges[r].count; ++b) {
      EXPECT_EQ(part.records[b].spike_neuron, whole.records[ranges[r].first + b].spike_neuron);
      EXPECT_TRUE(states[r][b].v == whole_states[ranges[r].first + b].v);
    }
  }
  // A process whose trials are not whole atoms is refused.
  struct Partial : ChunkReduction {
    TrialRange trials(std::int64_t local) const override { return {2, local, batch}; }
  } partial;
  GradientOptions split = options;
  split.reduction = &partial;
  std::vector<TrialState<float>> four(4, initial_state(p.lm));
  EXPECT_THROW(chunk_gradient(p.lm, p.inputs, four, 2, 0, steps, p.ctx, p.ratio, split), std::invalid_argument);
}

TEST(GradCheck, ScalingFactorsAgainstDualNumbers) {
  // w = f_ab w_base on every edge of block (a, b): one tangent per block.
  using T = double;
  const Config config = homeostat::testing::defaults_with(small_network({}));
  const Network net = generate_network(config);
  const auto lm = lower<T>(config, net);
  const PoissonInputs inputs(config.simulation.seed, net.input_type, config.feedforward.firing_rate,
                             config.simulation.dt);
  const std::int64_t batch = 2, steps = 800, nt = 2;
  std::vector<TrialState<T>> states(batch, initial_state(lm));
  run_chunk(lm, inputs, states, 0, 0, 300, RecordSpec{}, nullptr);
  const auto start = states;
  LossContext ctx = loss_context(config, net.cell_type, batch, steps);
  ctx.weights[index_of(LossTerm::weight_ratio)] = 0;  // the weight ratio over factors is checked by hand below
  const auto exc = excitatory_types(config);
  GradientOptions options;
  options.surrogate_scale = config.hyperparameters.surrgrad_scale;
  const auto g = chunk_gradient(lm, inputs, states, 0, 300, steps, ctx, weight_ratio(lm, exc), options);
  const BlockGradient blocks = block_gradient(lm, g.d_rec[0], g.d_ff[0]);

  Seeds seeds{std::vector<int>(lm.rec_weight.size()), std::vector<int>(lm.ff_weight.size())};
  for (std::int64_t j = 0; j < lm.n; ++j)
    for (std::int64_t e = lm.rec_row[j]; e < lm.rec_row[j + 1]; ++e)
      seeds.rec_tangent[e] = lm.cell_type[j] * nt + lm.cell_type[lm.rec_post[e]];
  for (std::int64_t j = 0; j < lm.m; ++j)
    for (std::int64_t e = lm.ff_row[j]; e < lm.ff_row[j + 1]; ++e)
      seeds.ff_tangent[e] = static_cast<int>(nt * nt + lm.cell_type[lm.ff_post[e]]);
  const auto ref = gradcheck::reference_losses<T, K>(lm, inputs, start, 300, steps, ctx, exc,
                                                     options.surrogate_scale, seeds);
  double scale = 0;
  for (int k = 0; k < nt * nt + nt; ++k) scale = std::max(scale, std::abs(ref.total.d[k]));
  ASSERT_GT(scale, 0);
  for (int k = 0; k < nt * nt; ++k) EXPECT_NEAR(blocks.rec[k], ref.total.d[k], 1e-8 * scale) << "block " << k;
  for (int k = 0; k < nt; ++k) EXPECT_NEAR(blocks.ff[k], ref.total.d[nt * nt + k], 1e-8 * scale) << "ff block " << k;
}

TEST(GradCheck, FactorRatioMatchesFiniteDifferences) {
  const std::vector<bool> exc = {true, false};
  std::vector<double> f_rec = {1.3, 0.7, 0.9, 1.1}, f_ff = {0.8, 1.6};
  const FactorRatio r = factor_ratio(f_rec, f_ff, exc, 2);
  EXPECT_NEAR(r.value, ((1.3 + 0.7) / 2) / ((0.8 + 1.6) / 2), 1e-15);
  const double h = 1e-6;
  for (std::size_t k = 0; k < 4; ++k) {
    auto up = f_rec, down = f_rec;
    up[k] *= std::exp(h);
    down[k] *= std::exp(-h);
    const double fd = (factor_ratio(up, f_ff, exc, 2).value - factor_ratio(down, f_ff, exc, 2).value) / (2 * h);
    EXPECT_NEAR(r.d_log.rec[k], fd, 1e-8);
  }
  for (std::size_t k = 0; k < 2; ++k) {
    auto up = f_ff, down = f_ff;
    up[k] *= std::exp(h);
    down[k] *= std::exp(-h);
    const double fd = (factor_ratio(f_rec, up, exc, 2).value - factor_ratio(f_rec, down, exc, 2).value) / (2 * h);
    EXPECT_NEAR(r.d_log.ff[k], fd, 1e-8);
  }
  EXPECT_EQ(parse_optimisable("scaling_factors_recurrent"), Optimisable::scaling_factors_recurrent);
  EXPECT_TRUE(trains_feedforward_factors(Optimisable::scaling_factors));
  EXPECT_FALSE(trains_feedforward_factors(Optimisable::scaling_factors_recurrent));
}

TEST(GradCheck, SparseBackwardIsACloseApproximation) {
  const std::int64_t batch = 4, steps = 1000;
  const FloatProblem p({"simulation.dt=0.1", "recurrent.topology.num_neurons=300",
                        "recurrent.topology.num_assemblies=3", "feedforward.topology.num_neurons=90"},
                       batch, steps);
  auto run = [&](double cutoff) {
    std::vector<TrialState<float>> states(batch, initial_state(p.lm));
    run_chunk(p.lm, p.inputs, states, 0, 0, 2000, RecordSpec{}, nullptr);
    GradientOptions options;
    options.sparse_cutoff = cutoff;
    return chunk_gradient(p.lm, p.inputs, states, 0, 2000, steps, p.ctx, p.ratio, options);
  };
  const auto exact = run(0), negligible = run(1e-30), sparse = run(1e-3);
  // A cutoff below every slope changes nothing.
  EXPECT_TRUE(exact.d_rec[0] == negligible.d_rec[0]);
  EXPECT_TRUE(exact.d_ff[0] == negligible.d_ff[0]);
  // A real cutoff changes the gradient, but keeps its direction.
  double dot = 0, na = 0, nb = 0;
  bool differs = false;
  for (std::size_t e = 0; e < exact.d_rec[0].size(); ++e) {
    dot += exact.d_rec[0][e] * sparse.d_rec[0][e];
    na += exact.d_rec[0][e] * exact.d_rec[0][e];
    nb += sparse.d_rec[0][e] * sparse.d_rec[0][e];
    differs = differs || exact.d_rec[0][e] != sparse.d_rec[0][e];
  }
  EXPECT_TRUE(differs);
  const double cosine = dot / std::sqrt(na * nb);
  EXPECT_GT(cosine, 0.9);
  std::printf("sparse backward (cutoff 1e-3): cosine similarity to exact %.4f\n", cosine);
}
