// Whole-connectome generation and the consistency check of loaded networks.
#include "homeostat/connectome.hpp"
#include "topology.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

namespace homeostat {

namespace {

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

// The engine and the network files hold weights in float32: a drawn weight
// that float32 cannot hold (overflow to inf, underflow to 0) would give a run
// that its own network_structure.npz cannot reproduce. Refused as the
// config's error, naming the block of w_mu / w_sigma that gave it.
void require_float_weights(const Csr& csr, const std::vector<std::int32_t>& pre_type,
                           const std::vector<std::int32_t>& post_type, const Matrix& w_mu, const Matrix& w_sigma,
                           const std::string& section) {
  for (std::int64_t j = 0; j < csr.n_pre; ++j)
    for (std::int64_t e = csr.row_ptr[j]; e < csr.row_ptr[j + 1]; ++e) {
      const auto w = static_cast<float>(csr.weight[e]);
      if (std::isfinite(w) && w > 0.0f) continue;
      const std::size_t a = pre_type[j], b = post_type[csr.post[e]];
      throw ConfigError(section + ".w_mu",
                        "[" + std::to_string(a) + "][" + std::to_string(b) + "] = " + number(w_mu[a][b]) +
                            " with w_sigma " + number(w_sigma[a][b]) + " draws the weight " +
                            number(csr.weight[e]) +
                            ", which float32 (the engine's precision) cannot hold finite and > 0");
    }
}

}  // namespace

Network generate_network(const Config& config) {
  const RecurrentConfig& rc = config.recurrent;
  const FeedforwardConfig& fc = config.feedforward;
  const std::uint64_t seed = config.simulation.seed;
  // Neuron ids are int32 in the CSR targets and in the edge lists.
  constexpr std::int64_t max_neurons = std::numeric_limits<std::int32_t>::max();
  if (rc.num_neurons < 0 || rc.num_neurons > max_neurons)
    throw ConfigError("recurrent.topology.num_neurons", "must be in [0, 2^31)");
  if (fc.num_neurons < 0 || fc.num_neurons > max_neurons)
    throw ConfigError("feedforward.topology.num_neurons", "must be in [0, 2^31)");

  Network net;
  net.n = rc.num_neurons;
  net.m = fc.num_neurons;
  assign_cell_types(rc, seed, net.cell_type, net.assembly);
  net.input_type = assign_input_types(fc);

  const detail::EdgeList recurrent =
      detail::recurrent_edges(rc, net.cell_type, net.assembly, seed);
  net.recurrent = Csr::from_edges(net.n, net.n, recurrent.pre, recurrent.post,
                                  std::vector<double>(recurrent.size(), 1.0));
  detail::draw_lognormal_weights(net.recurrent, net.cell_type, net.cell_type, rc.w_mu,
                                 rc.w_sigma, seed, Stream::recurrent_weights);

  const detail::EdgeList feedforward = detail::feedforward_edges(
      fc, net.input_type, net.cell_type, rc.proportion.size(), seed);
  net.feedforward = Csr::from_edges(net.m, net.n, feedforward.pre, feedforward.post,
                                    std::vector<double>(feedforward.size(), 1.0));
  detail::draw_lognormal_weights(net.feedforward, net.input_type, net.cell_type, fc.w_mu,
                                 fc.w_sigma, seed, Stream::feedforward_weights);
  require_float_weights(net.recurrent, net.cell_type, net.cell_type, rc.w_mu, rc.w_sigma, "recurrent.weights");
  require_float_weights(net.feedforward, net.input_type, net.cell_type, fc.w_mu, fc.w_sigma, "feedforward.weights");
  return net;
}

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("network does not match the config: " + what);
}

void check_indices(const std::vector<std::int32_t>& values, std::int64_t expected_size,
                   std::int64_t lo, std::int64_t hi, const std::string& name) {
  if (static_cast<std::int64_t>(values.size()) != expected_size)
    fail(name + " has " + std::to_string(values.size()) + " entries, expected " +
         std::to_string(expected_size));
  for (std::size_t k = 0; k < values.size(); ++k)
    if (values[k] < lo || values[k] >= hi)
      fail(name + "[" + std::to_string(k) + "] = " + std::to_string(values[k]) +
           " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
}

// Shape, row pointers, targets in range and strictly ascending per row (so no
// duplicates), no self-loops if `recurrent`, weights finite and > 0.
void check_csr(const Csr& csr, std::int64_t n_pre, std::int64_t n_post, bool recurrent,
               const std::string& name) {
  if (csr.n_pre != n_pre || csr.n_post != n_post)
    fail(name + " has shape " + std::to_string(csr.n_pre) + " x " + std::to_string(csr.n_post) +
         ", expected " + std::to_string(n_pre) + " x " + std::to_string(n_post));
  if (static_cast<std::int64_t>(csr.row_ptr.size()) != n_pre + 1)
    fail(name + ".row_ptr has " + std::to_string(csr.row_ptr.size()) + " entries, expected " +
         std::to_string(n_pre + 1));
  if (csr.row_ptr.front() != 0 || csr.row_ptr.back() != csr.n_edges())
    fail(name + ".row_ptr must run from 0 to the edge count " + std::to_string(csr.n_edges()));
  if (csr.weight.size() != csr.post.size())
    fail(name + " has " + std::to_string(csr.weight.size()) + " weights for " +
         std::to_string(csr.post.size()) + " edges");
  for (std::int64_t j = 0; j < n_pre; ++j)
    if (csr.row_ptr[j] > csr.row_ptr[j + 1])
      fail(name + ".row_ptr decreases at row " + std::to_string(j));
  for (std::int64_t j = 0; j < n_pre; ++j) {
    const std::int64_t first = csr.row_ptr[j], last = csr.row_ptr[j + 1];
    for (std::int64_t e = first; e < last; ++e) {
      auto edge = [&] {
        return name + " edge " + std::to_string(j) + " -> " + std::to_string(csr.post[e]);
      };
      if (csr.post[e] < 0 || csr.post[e] >= n_post) fail(edge() + ": target out of range");
      if (e > first && csr.post[e] <= csr.post[e - 1])
        fail(edge() + ": targets not strictly ascending (unsorted or duplicate edge)");
      if (recurrent && csr.post[e] == j) fail(edge() + ": self-connection");
      // Finite and > 0 in float32, the engine's precision (a double 1e300 is inf there).
      const auto w = static_cast<float>(csr.weight[e]);
      if (!std::isfinite(w) || !(w > 0.0f))
        fail(edge() + ": weight " + number(csr.weight[e]) + " is not finite and > 0 in float32");
    }
  }
}

// The physiology and targets are per type, so the per-type counts are part
// of what the config describes: round(N p_c) as MODEL.md 1 defines, for a
// generated network and one from elsewhere alike. `types` are valid indices.
void check_type_counts(const std::vector<std::int32_t>& types, std::int64_t size,
                       const std::vector<double>& proportion, const std::vector<std::string>& type_names,
                       const std::string& name, const std::string& key) {
  const std::vector<std::int64_t> expected = type_counts(size, proportion);
  std::vector<std::int64_t> have(expected.size(), 0);
  for (const auto t : types) ++have[static_cast<std::size_t>(t)];
  for (std::size_t c = 0; c < expected.size(); ++c)
    if (have[c] != expected[c])
      fail(name + " has " + std::to_string(have[c]) + " neurons of type " + std::to_string(c) + " ('" +
           type_names[c] + "'), the config's " + key + " gives " + std::to_string(expected[c]) +
           " (round(n p), MODEL.md 1)");
}

}  // namespace

void check_network(const Network& net, const Config& config) {
  const RecurrentConfig& rc = config.recurrent;
  const FeedforwardConfig& fc = config.feedforward;
  if (net.n != rc.num_neurons)
    fail("N = " + std::to_string(net.n) + ", config says " + std::to_string(rc.num_neurons));
  if (net.m != fc.num_neurons)
    fail("M = " + std::to_string(net.m) + ", config says " + std::to_string(fc.num_neurons));
  check_indices(net.cell_type, net.n, 0, static_cast<std::int64_t>(rc.type_names.size()),
                "cell_type");
  check_indices(net.assembly, net.n, -1, rc.num_assemblies, "assembly");
  check_indices(net.input_type, net.m, 0, static_cast<std::int64_t>(fc.type_names.size()),
                "input_type");
  check_type_counts(net.cell_type, net.n, rc.proportion, rc.type_names, "cell_type",
                    "recurrent.cell_types.proportion");
  check_type_counts(net.input_type, net.m, fc.proportion, fc.type_names, "input_type",
                    "feedforward.cell_types.proportion");
  check_csr(net.recurrent, net.n, net.n, true, "recurrent");
  check_csr(net.feedforward, net.m, net.n, false, "feedforward");
}

}  // namespace homeostat
