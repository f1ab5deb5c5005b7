// The extension module `homeostat._homeostat`: the C++ half of the Python
// package. Python's homeostat/ wraps it (argument checks, docstrings, result
// dictionaries); nothing here reimplements a run: the run driver
// (homeostat/run.hpp) does the work, as it does for the command line.
#pragma once

#include "homeostat/config.hpp"
#include "homeostat/connectome.hpp"

#include <pybind11/pybind11.h>

#include <stdexcept>

namespace homeostat::python {

// A network or input-spike file (or array) that cannot be used: raised in
// Python as homeostat.NetworkError.
class NetworkError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void bind_config_network(pybind11::module_& m);
void bind_runs(pybind11::module_& m);

}  // namespace homeostat::python
