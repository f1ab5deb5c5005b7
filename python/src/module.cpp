#include "module.hpp"

#include "homeostat/io/config_toml.hpp"
#include "homeostat/run.hpp"
#include "homeostat/train.hpp"
#include "homeostat/version.hpp"

namespace py = pybind11;

namespace homeostat::python {
namespace {

// Raises homeostat.<name>(message) (classes of homeostat/_errors.py) with
// the given attributes set.
void raise(const char* name, const std::string& message, const py::dict& attributes = {}) {
  py::object type = py::module_::import("homeostat._errors").attr(name);
  py::object error = type(message);
  for (auto item : attributes) py::setattr(error, item.first, item.second);
  PyErr_SetObject(type.ptr(), error.ptr());
}

void translate(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const ConfigError& e) {
    raise("ConfigError", e.what(), py::dict(py::arg("key") = e.key(), py::arg("reason") = e.reason(),
                                            py::arg("source") = e.source()));
  } catch (const NetworkError& e) {
    raise("NetworkError", e.what());
  } catch (const run::ResourceError& e) {
    raise("ResourceError", e.what());
  } catch (const run::LockError& e) {
    raise("LockError", e.what());
  } catch (const NonFiniteError& e) {
    raise("NonFiniteError", e.what());
  }
}

}  // namespace
}  // namespace homeostat::python

PYBIND11_MODULE(_homeostat, m) {
  m.doc() = "homeostat's C++ engine; use the `homeostat` package, which wraps this module.";
  m.attr("version") = homeostat::version;
  m.attr("git_commit") = homeostat::git_commit;
  m.attr("max_threads") = homeostat::run::max_threads;
  py::register_exception_translator(&homeostat::python::translate);
  homeostat::python::bind_config_network(m);
  homeostat::python::bind_runs(m);
}
