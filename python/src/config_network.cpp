// Config and Network: thin holders of the library's structs. Reading,
// checking and writing go through io/ (config_toml, network_io), the same
// code as the command line's.
#include "arrays.hpp"
#include "module.hpp"

#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/io/network_io.hpp"

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cmath>

namespace py = pybind11;

namespace homeostat::python {
namespace {

// Runs `f`, turning any error but a ConfigError into a NetworkError that
// names what was being done.
template <class F>
auto network_errors(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    throw NetworkError(e.what());
  }
}

py::tuple csr_arrays(const Csr& c) {
  return py::make_tuple(to_numpy(c.row_ptr), to_numpy(c.post), to_numpy(c.weight));
}

py::array_t<double> dense_array(const Csr& c) {
  return to_numpy(c.dense(), {static_cast<py::ssize_t>(c.n_pre), static_cast<py::ssize_t>(c.n_post)});
}

std::vector<std::int64_t> widen(const std::vector<std::int32_t>& v) { return {v.begin(), v.end()}; }

// A dense [n_pre, n_post] float64 array -> CSR (an edge where w != 0).
Csr csr_from_dense(const py::array_t<double, py::array::c_style | py::array::forcecast>& w, std::int64_t n_pre,
                   std::int64_t n_post, const char* name) {
  if (w.ndim() != 2 || w.shape(0) != n_pre || w.shape(1) != n_post)
    throw NetworkError(std::string(name) + ": expected shape (" + std::to_string(n_pre) + ", " +
                       std::to_string(n_post) + ")");
  std::vector<double> values(w.data(), w.data() + w.size());
  std::vector<std::uint8_t> mask(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) mask[i] = values[i] != 0.0;
  return network_errors([&] { return Csr::from_dense(n_pre, n_post, values, mask); });
}

}  // namespace

void bind_config_network(py::module_& m) {
  m.def(
      "write_file_atomic",
      [](const std::filesystem::path& path, const std::string& text) { io::write_file_atomic(path, text); },
      py::arg("path"), py::arg("text"));
  py::class_<Config>(m, "Config", "A validated configuration (the C++ struct).")
      .def_static("defaults", [] { return io::load_config({}); })
      .def_static(
          "load",
          [](const std::filesystem::path& path, const std::vector<std::string>& overrides) {
            return io::load_config(path, overrides);
          },
          py::arg("path"), py::arg("overrides") = std::vector<std::string>{})
      .def_static("parse", &io::parse_config, py::arg("text"), py::arg("source"),
                  py::arg("overrides") = std::vector<std::string>{})
      .def("to_toml", [](const Config& c) { return io::to_toml(c); })
      .def("__eq__", [](const Config& a, const Config& b) { return a == b; })
      .def_property_readonly("steps",
                             [](const Config& c) { return std::llround(c.simulation.duration / c.simulation.dt); })
      .def_property_readonly("num_neurons", [](const Config& c) { return c.recurrent.num_neurons; })
      .def_property_readonly("num_inputs", [](const Config& c) { return c.feedforward.num_neurons; })
      .def_property_readonly("cell_type_names", [](const Config& c) { return c.recurrent.type_names; })
      .def_property_readonly("input_type_names", [](const Config& c) { return c.feedforward.type_names; })
      .def_property_readonly("receptor_names", [](const Config& c) {
        std::vector<std::string> names;  // the columns of output_conductances' last axis
        for (const auto& type : c.recurrent.synapses)
          for (const auto& r : type) names.push_back(r.name);
        for (const auto& type : c.feedforward.synapses)
          for (const auto& r : type) names.push_back(r.name);
        return names;
      });

  py::class_<Network>(m, "Network", "A connectome (the C++ struct).")
      .def_static(
          "generate",
          [](const Config& c) {
            py::gil_scoped_release release;
            return generate_network(c);
          },
          py::arg("config"))
      .def_static(
          "load",
          [](const std::filesystem::path& path, const Config& c) {
            py::gil_scoped_release release;
            return network_errors([&] { return io::load_network(path, c); });
          },
          py::arg("path"), py::arg("config"))
      .def(
          "save",
          [](const Network& n, const std::filesystem::path& path) {
            py::gil_scoped_release release;
            io::save_network(path, n);
          },
          py::arg("path"))
      .def(
          "check", [](const Network& n, const Config& c) { network_errors([&] { check_network(n, c); }); },
          py::arg("config"))
      .def(
          "with_weights",
          [](const Network& n, const Config& c, const py::object& recurrent, const py::object& feedforward) {
            Network out = n;
            if (!recurrent.is_none())
              out.recurrent = csr_from_dense(recurrent.cast<py::array_t<double, py::array::c_style | py::array::forcecast>>(),
                                             n.n, n.n, "recurrent_weights");
            if (!feedforward.is_none())
              out.feedforward = csr_from_dense(
                  feedforward.cast<py::array_t<double, py::array::c_style | py::array::forcecast>>(), n.m, n.n,
                  "feedforward_weights");
            network_errors([&] { check_network(out, c); });
            return out;
          },
          py::arg("config"), py::arg("recurrent") = py::none(), py::arg("feedforward") = py::none())
      .def("__eq__", [](const Network& a, const Network& b) {
        auto same = [](const Csr& x, const Csr& y) {
          return x.n_pre == y.n_pre && x.n_post == y.n_post && x.row_ptr == y.row_ptr && x.post == y.post &&
                 x.weight == y.weight;
        };
        return a.n == b.n && a.m == b.m && a.cell_type == b.cell_type && a.assembly == b.assembly &&
               a.input_type == b.input_type && same(a.recurrent, b.recurrent) && same(a.feedforward, b.feedforward);
      })
      .def_readonly("n", &Network::n)
      .def_readonly("m", &Network::m)
      .def_property_readonly("cell_types", [](const Network& n) { return to_numpy(widen(n.cell_type)); })
      .def_property_readonly("assemblies", [](const Network& n) { return to_numpy(widen(n.assembly)); })
      .def_property_readonly("input_types", [](const Network& n) { return to_numpy(widen(n.input_type)); })
      .def_property_readonly("num_recurrent_edges", [](const Network& n) { return n.recurrent.n_edges(); })
      .def_property_readonly("num_feedforward_edges", [](const Network& n) { return n.feedforward.n_edges(); })
      .def("recurrent_csr", [](const Network& n) { return csr_arrays(n.recurrent); })
      .def("feedforward_csr", [](const Network& n) { return csr_arrays(n.feedforward); })
      .def("dense_recurrent_weights", [](const Network& n) { return dense_array(n.recurrent); })
      .def("dense_feedforward_weights", [](const Network& n) { return dense_array(n.feedforward); });
}

}  // namespace homeostat::python
