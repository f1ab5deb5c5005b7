#include "homeostat/io/network_io.hpp"

#include "homeostat/io/npy.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace homeostat::io {

std::vector<float> dense_weights_f32(const Csr& csr) {
  return Csr::dense<float>(csr.row_ptr, csr.post, csr.n_pre, csr.n_post,
                           [&](std::int64_t e) { return static_cast<float>(csr.weight[e]); });
}

std::vector<bool> dense_mask(const Csr& csr) {
  return Csr::dense<bool>(csr.row_ptr, csr.post, csr.n_pre, csr.n_post, [](std::int64_t) { return true; });
}

namespace {

std::vector<std::uint8_t> mask_bytes(const Csr& csr) {
  const auto m = dense_mask(csr);
  return {m.begin(), m.end()};
}

std::vector<std::int64_t> widen(const std::vector<std::int32_t>& v) { return {v.begin(), v.end()}; }

}  // namespace

void save_sparse_weights(const std::filesystem::path& path, const Csr& csr) {
  std::vector<float> data(csr.weight.begin(), csr.weight.end());
  NpzWriter npz;
  npz.add_bytes("format", "csr");
  npz.add("shape", std::vector<std::int64_t>{csr.n_pre, csr.n_post}, {2});
  npz.add("data", data, {csr.n_edges()});
  npz.add("indices", csr.post, {csr.n_edges()});
  npz.add("indptr", csr.row_ptr, {csr.n_pre + 1});
  npz.write(path);
}

void save_network(const std::filesystem::path& path, const Network& net) {
  NpzWriter npz;
  npz.add("recurrent_weights", dense_weights_f32(net.recurrent), {net.n, net.n});
  npz.add("feedforward_weights", dense_weights_f32(net.feedforward), {net.m, net.n});
  npz.add("recurrent_connectivity", DType::b1, {net.n, net.n}, mask_bytes(net.recurrent).data());
  npz.add("feedforward_connectivity", DType::b1, {net.m, net.n}, mask_bytes(net.feedforward).data());
  npz.add("cell_type_indices", widen(net.cell_type), {net.n});
  npz.add("feedforward_cell_type_indices", widen(net.input_type), {net.m});
  npz.add("assembly_ids", widen(net.assembly), {net.n});
  npz.write(path);
}

Network load_network(const std::filesystem::path& path, const Config& config) {
  const std::int64_t n = config.recurrent.num_neurons;
  const std::int64_t m = config.feedforward.num_neurons;
  std::map<std::string, NpyArray> arrays;
  try {
    arrays = read_npz(path, {{"recurrent_weights", n * n},
                             {"feedforward_weights", m * n},
                             {"recurrent_connectivity", n * n},
                             {"feedforward_connectivity", m * n},
                             {"cell_type_indices", n},
                             {"feedforward_cell_type_indices", m},
                             {"assembly_ids", n}});
  } catch (const NpzBoundError& e) {
    throw std::runtime_error(fmt::format("{} (the config needs N = {}, M = {})", e.what(), n, m));
  }
  auto get = [&](const std::string& name, std::vector<std::int64_t> shape) -> const NpyArray& {
    const auto it = arrays.find(name);
    if (it == arrays.end()) throw std::runtime_error(fmt::format("{}: missing array '{}'", path.string(), name));
    if (it->second.shape != shape) {
      auto show = [](const std::vector<std::int64_t>& s) {
        std::string o = "(";
        for (std::size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
        return o + (s.size() == 1 ? ",)" : ")");
      };
      throw std::runtime_error(fmt::format("{}: '{}' has shape {}, the config needs {} (N = {}, M = {})",
                                           path.string(), name, show(it->second.shape), show(shape), n, m));
    }
    if (it->second.dtype == DType::f4 || it->second.dtype == DType::f8) {
      if (name.find("weights") == std::string::npos)
        throw std::runtime_error(fmt::format("{}: '{}' must hold integers or booleans", path.string(), name));
    }
    return it->second;
  };
  auto indices = [&](const std::string& name, std::int64_t len) {
    const auto v = get(name, {len}).values<std::int64_t>();
    return std::vector<std::int32_t>(v.begin(), v.end());
  };
  auto graph = [&](const std::string& prefix, std::int64_t rows) {
    const auto w = get(prefix + "_weights", {rows, n}).values<double>();
    const auto c = get(prefix + "_connectivity", {rows, n}).values<std::uint8_t>();
    for (std::size_t k = 0; k < w.size(); ++k) {
      if (c[k] && !(std::isfinite(w[k]) && w[k] > 0))
        throw std::runtime_error(fmt::format("{}: {}_weights[{}, {}] = {} on an existing connection: weights must be "
                                             "finite and > 0",
                                             path.string(), prefix, k / n, k % n, w[k]));
      // Zeroing it would silently change the network the file describes.
      if (!c[k] && w[k] != 0)
        throw std::runtime_error(fmt::format("{}: {}_weights[{}, {}] = {} where {}_connectivity has no edge: a weight "
                                             "off the connectivity must be 0",
                                             path.string(), prefix, k / n, k % n, w[k], prefix));
    }
    return Csr::from_dense(rows, n, w, c);
  };

  Network net;
  net.n = n;
  net.m = m;
  net.cell_type = indices("cell_type_indices", n);
  net.input_type = indices("feedforward_cell_type_indices", m);
  net.assembly = indices("assembly_ids", n);
  net.recurrent = graph("recurrent", n);
  net.feedforward = graph("feedforward", m);
  try {
    check_network(net, config);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", path.string(), e.what()));
  }
  return net;
}

}  // namespace homeostat::io
