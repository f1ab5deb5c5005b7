// Connectome: type counts, cell-type and assembly layout, CSR building,
// generated networks' invariants and determinism, and check_network.
// Statistical properties of the generators live in stats/test_topology_stats.cpp.
#include "fixtures.hpp"
#include "homeostat/connectome.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <utility>

namespace homeostat {
namespace {

// ------------------------------------------------------------ type_counts

TEST(TypeCounts, RoundsAllButLastWhichTakesTheRemainder) {
  EXPECT_EQ(type_counts(10, {0.8, 0.2}), (std::vector<std::int64_t>{8, 2}));
  EXPECT_EQ(type_counts(5000, {0.8, 0.2}), (std::vector<std::int64_t>{4000, 1000}));
  // round(3.5) = 4 (half away from zero); the last type takes what is left.
  EXPECT_EQ(type_counts(7, {0.5, 0.5}), (std::vector<std::int64_t>{4, 3}));
  // round(1.2) = 1 twice, remainder 1 although 0.2 * 3 = 0.6.
  EXPECT_EQ(type_counts(3, {0.4, 0.4, 0.2}), (std::vector<std::int64_t>{1, 1, 1}));
  // The remainder, not round(N * p_last): 0.33 + 0.33 + 0.34 of 10 -> 3, 3, 4.
  EXPECT_EQ(type_counts(10, {0.33, 0.33, 0.34}), (std::vector<std::int64_t>{3, 3, 4}));
  EXPECT_EQ(type_counts(10, {1.0}), (std::vector<std::int64_t>{10}));
  EXPECT_EQ(type_counts(0, {0.8, 0.2}), (std::vector<std::int64_t>{0, 0}));
}

TEST(TypeCounts, NegativeCountThrowsConfigErrorNamingTheKey) {
  // round(1.5) + round(1.5) = 4 > 3: the last type would get -1.
  try {
    type_counts(3, {0.5, 0.5, 0.0});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "recurrent.cell_types.proportion");
  }
  EXPECT_THROW(type_counts(10, {-0.1, 1.1}), ConfigError);  // round(-1) < 0
  EXPECT_THROW(type_counts(10, {}), ConfigError);
}

// ------------------------------------------------------ assign_cell_types

struct Layout {
  std::vector<std::int32_t> cell_type, assembly;
};

Layout layout(std::int64_t n, std::int64_t n_assemblies, std::vector<double> proportion,
              std::uint64_t seed = 42) {
  RecurrentConfig rc = tiny_config(static_cast<int>(n), 1, static_cast<int>(n_assemblies)).recurrent;
  rc.proportion = std::move(proportion);
  Layout l;
  assign_cell_types(rc, seed, l.cell_type, l.assembly);
  return l;
}

TEST(AssignCellTypes, AssembliesAreContiguousBlocksOfSizeNOverA) {
  const std::int64_t n = 1003, n_assemblies = 7, size = n / n_assemblies;  // S = 143, 2 left
  const Layout l = layout(n, n_assemblies, {0.8, 0.2});
  ASSERT_EQ(l.assembly.size(), static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int32_t expected = k < size * n_assemblies ? static_cast<std::int32_t>(k / size) : -1;
    ASSERT_EQ(l.assembly[k], expected) << "neuron " << k;
  }
}

TEST(AssignCellTypes, EveryAssemblyHoldsTheGlobalProportions) {
  struct Case { std::int64_t n, n_assemblies; std::vector<double> proportion; };
  const std::vector<Case> cases = {
      {5000, 20, {0.8, 0.2}}, {1000, 3, {0.8, 0.2}}, {1003, 5, {0.8, 0.2}},
      {997, 13, {0.8, 0.2}},  {100, 7, {0.5, 0.3, 0.2}}, {50, 1, {0.8, 0.2}},
      {10, 4, {0.7, 0.3}},    {3, 5, {0.8, 0.2}},  // more assemblies than neurons: S = 0
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("N=" + std::to_string(c.n) + " A=" + std::to_string(c.n_assemblies));
    const Layout l = layout(c.n, c.n_assemblies, c.proportion);
    const std::vector<std::int64_t> global = type_counts(c.n, c.proportion);
    const std::size_t n_types = global.size();
    const std::int64_t size = c.n / c.n_assemblies;
    // count[g][t], g = n_assemblies for the leftovers.
    std::vector<std::vector<std::int64_t>> count(c.n_assemblies + 1,
                                                 std::vector<std::int64_t>(n_types, 0));
    for (std::int64_t k = 0; k < c.n; ++k) {
      const std::int32_t g = l.assembly[k] < 0 ? static_cast<std::int32_t>(c.n_assemblies)
                                               : l.assembly[k];
      ASSERT_GE(l.cell_type[k], 0);
      ASSERT_LT(l.cell_type[k], static_cast<std::int32_t>(n_types));
      ++count[g][l.cell_type[k]];
    }
    for (std::size_t t = 0; t < n_types; ++t) {
      std::int64_t total = 0, lo = INT64_MAX, hi = 0;
      for (std::int64_t g = 0; g <= c.n_assemblies; ++g) total += count[g][t];
      EXPECT_EQ(total, global[t]) << "type " << t << ": totals must be exact";
      if (size == 0) continue;
      const double proportional = static_cast<double>(size * global[t]) / static_cast<double>(c.n);
      for (std::int64_t g = 0; g < c.n_assemblies; ++g) {
        EXPECT_LT(std::abs(static_cast<double>(count[g][t]) - proportional), 1.0)
            << "type " << t << " assembly " << g;
        lo = std::min(lo, count[g][t]);
        hi = std::max(hi, count[g][t]);
      }
      EXPECT_LE(hi - lo, 1) << "type " << t;
    }
    for (std::int64_t g = 0; g < c.n_assemblies; ++g) {
      std::int64_t s = 0;
      for (std::int64_t v : count[g]) s += v;
      EXPECT_EQ(s, size);
    }
  }
}

TEST(AssignCellTypes, ShuffledInsideAssembliesAndSeeded) {
  const Layout a = layout(5000, 20, {0.8, 0.2}, 42);
  const Layout b = layout(5000, 20, {0.8, 0.2}, 42);
  const Layout c = layout(5000, 20, {0.8, 0.2}, 43);
  EXPECT_EQ(a.cell_type, b.cell_type);
  EXPECT_NE(a.cell_type, c.cell_type);
  EXPECT_EQ(a.assembly, c.assembly);  // the layout of assemblies is not random
  // Inside assembly 0 (250 neurons, 50 inhibitory) the inhibitory neurons are
  // spread out, not a sorted tail: some sit in the first half.
  int inhibitory_first_half = 0;
  for (int k = 0; k < 125; ++k) inhibitory_first_half += a.cell_type[k] == 1;
  EXPECT_GT(inhibitory_first_half, 10);
  EXPECT_LT(inhibitory_first_half, 40);
}

TEST(AssignCellTypes, RejectsZeroAssemblies) {
  RecurrentConfig rc = tiny_config(10, 1, 1).recurrent;
  rc.num_assemblies = 0;
  std::vector<std::int32_t> t, g;
  EXPECT_THROW(assign_cell_types(rc, 1, t, g), ConfigError);
}

TEST(AssignInputTypes, ContiguousBlocksInTypeOrder) {
  FeedforwardConfig fc = tiny_config(10, 7, 1).feedforward;
  fc.type_names = {"a", "b"};
  fc.proportion = {0.5, 0.5};
  EXPECT_EQ(assign_input_types(fc), (std::vector<std::int32_t>{0, 0, 0, 0, 1, 1, 1}));
  fc.proportion = {1.5, 0.5};  // round(10.5) = 11 > 7
  try {
    assign_input_types(fc);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "feedforward.cell_types.proportion");
  }
}

// -------------------------------------------------------------------- Csr

TEST(Csr, FromEdgesSortsByPreThenPostAndWeightsFollow) {
  const Csr csr = Csr::from_edges(3, 4, {2, 0, 0, 2, 1}, {1, 3, 0, 0, 2},
                                  {0.21, 0.03, 0.5, 0.20, 0.12});
  EXPECT_EQ(csr.n_pre, 3);
  EXPECT_EQ(csr.n_post, 4);
  EXPECT_EQ(csr.row_ptr, (std::vector<std::int64_t>{0, 2, 3, 5}));
  EXPECT_EQ(csr.post, (std::vector<std::int32_t>{0, 3, 2, 0, 1}));
  EXPECT_EQ(csr.weight, (std::vector<double>{0.5, 0.03, 0.12, 0.20, 0.21}));
  EXPECT_EQ(csr.n_edges(), 5);
}

TEST(Csr, FromEdgesRejectsDuplicatesOutOfRangeAndSizeMismatch) {
  EXPECT_THROW(Csr::from_edges(2, 2, {0, 1, 0}, {1, 0, 1}, {1, 1, 1}), std::invalid_argument);
  EXPECT_THROW(Csr::from_edges(2, 2, {2}, {0}, {1}), std::invalid_argument);
  EXPECT_THROW(Csr::from_edges(2, 2, {0}, {2}, {1}), std::invalid_argument);
  EXPECT_THROW(Csr::from_edges(2, 2, {-1}, {0}, {1}), std::invalid_argument);
  EXPECT_THROW(Csr::from_edges(2, 2, {0}, {-1}, {1}), std::invalid_argument);
  EXPECT_THROW(Csr::from_edges(2, 2, {0, 1}, {0}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(Csr::from_edges(2, 2, {0}, {0}, {}), std::invalid_argument);
  EXPECT_NO_THROW(Csr::from_edges(0, 0, {}, {}, {}));
}

TEST(Csr, DenseRoundTrip) {
  const Csr csr = Csr::from_edges(3, 5, {0, 0, 2, 2, 2}, {4, 1, 0, 3, 2},
                                  {0.1, 0.2, 0.3, 0.4, 0.5});
  const std::vector<double> dense = csr.dense();
  ASSERT_EQ(dense.size(), 15u);
  EXPECT_EQ(dense[0 * 5 + 4], 0.1);
  EXPECT_EQ(dense[2 * 5 + 3], 0.4);
  EXPECT_EQ(std::count(dense.begin(), dense.end(), 0.0), 10);
  std::vector<std::uint8_t> mask(dense.size());
  for (std::size_t k = 0; k < dense.size(); ++k) mask[k] = dense[k] != 0.0;
  const Csr back = Csr::from_dense(3, 5, dense, mask);
  EXPECT_EQ(back.row_ptr, csr.row_ptr);
  EXPECT_EQ(back.post, csr.post);
  EXPECT_EQ(back.weight, csr.weight);
}

TEST(Csr, FromDenseRejectsNonPositiveWeightsAndBadSizes) {
  EXPECT_THROW(Csr::from_dense(1, 2, {0.0, 1.0}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(Csr::from_dense(1, 2, {-1.0, 1.0}, {1, 0}), std::invalid_argument);
  EXPECT_THROW(Csr::from_dense(1, 2, {1.0}, {1, 0}), std::invalid_argument);
  // Masked-out entries may hold anything.
  EXPECT_EQ(Csr::from_dense(1, 2, {-1.0, 1.0}, {0, 1}).n_edges(), 1);
}

// ------------------------------------------------------- generate_network

void expect_simple_graph(const Csr& csr, bool recurrent) {
  for (std::int64_t j = 0; j < csr.n_pre; ++j) {
    for (std::int64_t e = csr.row_ptr[j]; e < csr.row_ptr[j + 1]; ++e) {
      if (recurrent) {
        ASSERT_NE(csr.post[e], j) << "self-loop";
      }
      if (e > csr.row_ptr[j]) {
        ASSERT_LT(csr.post[e - 1], csr.post[e]) << "duplicate or unsorted";
      }
    }
  }
}

Config with_method(Config c, TopologyMethod method) {
  c.recurrent.method = method;
  c.feedforward.method = method;
  return c;
}

TEST(GenerateNetwork, SimpleGraphsOfTheRightShapeForBothMethods) {
  for (TopologyMethod method : {TopologyMethod::configuration, TopologyMethod::erdos_renyi}) {
    SCOPED_TRACE(method == TopologyMethod::configuration ? "configuration" : "erdos-renyi");
    const Config c = with_method(tiny_config(503, 120, 4), method);
    const Network net = generate_network(c);
    EXPECT_EQ(net.n, 503);
    EXPECT_EQ(net.m, 120);
    EXPECT_EQ(net.recurrent.n_pre, 503);
    EXPECT_EQ(net.recurrent.n_post, 503);
    EXPECT_EQ(net.feedforward.n_pre, 120);
    EXPECT_EQ(net.feedforward.n_post, 503);
    EXPECT_GT(net.recurrent.n_edges(), 0);
    EXPECT_GT(net.feedforward.n_edges(), 0);
    expect_simple_graph(net.recurrent, true);
    expect_simple_graph(net.feedforward, false);
    EXPECT_NO_THROW(check_network(net, c));
  }
}

TEST(GenerateNetwork, SameSeedIdenticalDifferentSeedDifferent) {
  for (TopologyMethod method : {TopologyMethod::configuration, TopologyMethod::erdos_renyi}) {
    Config c = with_method(tiny_config(400, 100, 4), method);
    const Network a = generate_network(c);
    const Network b = generate_network(c);
    EXPECT_EQ(a.cell_type, b.cell_type);
    EXPECT_EQ(a.recurrent.row_ptr, b.recurrent.row_ptr);
    EXPECT_EQ(a.recurrent.post, b.recurrent.post);
    EXPECT_EQ(a.recurrent.weight, b.recurrent.weight);
    EXPECT_EQ(a.feedforward.post, b.feedforward.post);
    EXPECT_EQ(a.feedforward.weight, b.feedforward.weight);
    c.simulation.seed = 43;
    const Network d = generate_network(c);
    EXPECT_NE(a.cell_type, d.cell_type);
    EXPECT_NE(a.recurrent.post, d.recurrent.post);
    EXPECT_NE(a.feedforward.post, d.feedforward.post);
    EXPECT_NE(a.feedforward.weight, d.feedforward.weight);
  }
}

TEST(GenerateNetwork, ZeroSigmaGivesExactlyTheMean) {
  Config c = tiny_config(200, 50, 2);
  c.recurrent.w_sigma = {{0.0, 0.0}, {0.0, 0.0}};
  c.feedforward.w_sigma = {{0.0, 0.0}};
  const Network net = generate_network(c);
  for (std::int64_t j = 0; j < net.n; ++j)
    for (std::int64_t e = net.recurrent.row_ptr[j]; e < net.recurrent.row_ptr[j + 1]; ++e)
      ASSERT_EQ(net.recurrent.weight[e],
                c.recurrent.w_mu[net.cell_type[j]][net.cell_type[net.recurrent.post[e]]]);
  for (std::int64_t j = 0; j < net.m; ++j)
    for (std::int64_t e = net.feedforward.row_ptr[j]; e < net.feedforward.row_ptr[j + 1]; ++e)
      ASSERT_EQ(net.feedforward.weight[e], c.feedforward.w_mu[0][net.cell_type[net.feedforward.post[e]]]);
}

TEST(GenerateNetwork, ProbabilityOneGivesCompleteBlocksAndZeroNone) {
  for (TopologyMethod method : {TopologyMethod::configuration, TopologyMethod::erdos_renyi}) {
    Config c = with_method(tiny_config(60, 10, 3), method);
    c.recurrent.conn_within = {{1.0, 1.0}, {1.0, 1.0}};
    c.recurrent.conn_between = {{0.0, 0.0}, {0.0, 0.0}};
    c.feedforward.conn_inputs = {{1.0, 0.0}};
    const Network net = generate_network(c);
    std::set<std::pair<int, int>> edges;
    for (std::int64_t j = 0; j < net.n; ++j)
      for (std::int64_t e = net.recurrent.row_ptr[j]; e < net.recurrent.row_ptr[j + 1]; ++e)
        edges.insert({static_cast<int>(j), net.recurrent.post[e]});
    for (int j = 0; j < 60; ++j)
      for (int i = 0; i < 60; ++i)
        EXPECT_EQ(edges.count({j, i}) == 1, i != j && net.assembly[i] == net.assembly[j]);
    for (std::int64_t j = 0; j < net.m; ++j) {
      std::int64_t degree = net.feedforward.row_ptr[j + 1] - net.feedforward.row_ptr[j];
      EXPECT_EQ(degree, 48);  // every excitatory neuron, no inhibitory one
    }
  }
}

// Tiny and degenerate sizes (single neurons, one-neuron assemblies, no
// inputs, leftovers) must still give valid networks.
TEST(GenerateNetwork, TinyAndDegenerateSizes) {
  for (TopologyMethod method : {TopologyMethod::configuration, TopologyMethod::erdos_renyi}) {
    for (int n : {0, 1, 2, 3, 5, 10, 17}) {
      for (int n_assemblies : {1, 2, 3, 8}) {
        for (int m : {0, 1, 4}) {
          SCOPED_TRACE("N=" + std::to_string(n) + " A=" + std::to_string(n_assemblies) +
                       " M=" + std::to_string(m));
          Config c = with_method(tiny_config(n, m, n_assemblies), method);
          c.recurrent.conn_within = {{0.5, 0.7}, {0.9, 0.5}};
          c.recurrent.conn_between = {{0.3, 0.5}, {0.5, 0.5}};
          c.feedforward.conn_inputs = {{0.5, 0.5}};
          const Network net = generate_network(c);
          EXPECT_NO_THROW(check_network(net, c));
        }
      }
    }
  }
}

// ---------------------------------------------------------- check_network

class CheckNetwork : public ::testing::Test {
 protected:
  Config config = tiny_config(120, 30, 3);
  Network good = generate_network(config);

  // Expects check_network to reject `good` after `defect`, naming `what`.
  void expect_rejected(const std::function<void(Network&)>& defect, const std::string& what) {
    Network net = good;
    defect(net);
    try {
      check_network(net, config);
      ADD_FAILURE() << "accepted a network with: " << what;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
};

TEST_F(CheckNetwork, AcceptsGeneratedAndForeignLayouts) {
  EXPECT_NO_THROW(check_network(good, config));
  // A network from another program need not follow the generator's layout
  // (types in blocks, assemblies), only the per-type counts of the config.
  Network foreign = good;
  std::reverse(foreign.cell_type.begin(), foreign.cell_type.end());
  std::fill(foreign.assembly.begin(), foreign.assembly.end(), -1);
  EXPECT_NO_THROW(check_network(foreign, config));
}

TEST_F(CheckNetwork, RejectsWeightsThatFloat32CannotHold) {
  // Finite as doubles, but inf or 0 in the engine's float32.
  expect_rejected([](Network& n) { n.recurrent.weight[0] = 1e300; }, "not finite and > 0 in float32");
  expect_rejected([](Network& n) { n.feedforward.weight[0] = 1e-300; }, "not finite and > 0 in float32");
}

TEST(GenerateNetwork, RefusesWeightParametersThatFloat32CannotHold) {
  // A config whose weights overflow (or underflow) float32 would write a
  // network_structure.npz that homeostat itself refuses to load.
  for (const double w : {1e300, 1e-300}) {
    Config c = tiny_config(120, 30, 3);
    c.recurrent.w_mu[0][1] = w;
    c.recurrent.w_sigma[0][1] = 0.0;
    try {
      generate_network(c);
      ADD_FAILURE() << "w_mu " << w << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.key(), "recurrent.weights.w_mu");
      EXPECT_NE(std::string(e.what()).find("[0][1] = "), std::string::npos) << e.what();
    }
  }
  Config c = tiny_config(120, 30, 3);
  c.feedforward.w_mu[0][0] = 1e39;
  EXPECT_THROW(generate_network(c), ConfigError);
}

TEST_F(CheckNetwork, RejectsTypeCountsAgainstTheProportions) {
  // The same rule as load_network: round(N p) neurons of each type.
  expect_rejected([](Network& n) { std::fill(n.cell_type.begin(), n.cell_type.end(), 1); },
                  "cell_type has 0 neurons of type 0");
  expect_rejected([](Network& n) { n.cell_type[0] = n.cell_type[0] == 0 ? 1 : 0; }, "cell_type has");
  Config two_inputs = config;
  two_inputs.feedforward.type_names.push_back("second");
  two_inputs.feedforward.proportion = {0.5, 0.5};
  EXPECT_THROW(check_network(good, two_inputs), std::runtime_error);  // all 30 inputs of type 0
}

TEST_F(CheckNetwork, RejectsEachKindOfDefect) {
  ASSERT_GT(good.recurrent.row_ptr[1], 1);  // row 0 has two edges or more
  expect_rejected([](Network& n) { n.n += 1; }, "N =");
  expect_rejected([](Network& n) { n.m -= 1; }, "M =");
  expect_rejected([](Network& n) { n.cell_type.pop_back(); }, "cell_type has");
  expect_rejected([](Network& n) { n.cell_type[5] = 2; }, "cell_type[5]");
  expect_rejected([](Network& n) { n.cell_type[5] = -1; }, "cell_type[5]");
  expect_rejected([](Network& n) { n.assembly[7] = 3; }, "assembly[7]");
  expect_rejected([](Network& n) { n.assembly[7] = -2; }, "assembly[7]");
  expect_rejected([](Network& n) { n.input_type[2] = 1; }, "input_type[2]");
  expect_rejected([](Network& n) { n.input_type.push_back(0); }, "input_type has");
  expect_rejected([](Network& n) { n.recurrent.n_post = 119; }, "recurrent has shape");
  expect_rejected([](Network& n) { n.feedforward.n_pre = 31; }, "feedforward has shape");
  expect_rejected([](Network& n) { n.recurrent.row_ptr.pop_back(); }, "recurrent.row_ptr has");
  expect_rejected([](Network& n) { n.recurrent.row_ptr.back() -= 1; }, "recurrent.row_ptr must");
  expect_rejected([](Network& n) { std::swap(n.recurrent.row_ptr[1], n.recurrent.row_ptr[2]); },
                  "recurrent.row_ptr decreases");
  expect_rejected([](Network& n) { n.recurrent.weight.pop_back(); }, "weights for");
  expect_rejected([](Network& n) { n.feedforward.post[0] = 120; }, "target out of range");
  expect_rejected([](Network& n) { n.recurrent.post[0] = -1; }, "target out of range");
  expect_rejected([](Network& n) { n.recurrent.post[1] = n.recurrent.post[0]; },
                  "not strictly ascending");
  expect_rejected([](Network& n) { std::swap(n.recurrent.post[0], n.recurrent.post[1]); },
                  "not strictly ascending");
  expect_rejected([](Network& n) { n.recurrent.post[0] = 0; }, "self-connection");
  expect_rejected([](Network& n) { n.recurrent.weight[3] = 0.0; }, "weight");
  expect_rejected([](Network& n) { n.recurrent.weight[3] = -0.1; }, "weight");
  expect_rejected([](Network& n) { n.feedforward.weight[3] = std::nan(""); }, "weight");
  expect_rejected(
      [](Network& n) { n.feedforward.weight[3] = std::numeric_limits<double>::infinity(); },
      "weight");
}

}  // namespace
}  // namespace homeostat
