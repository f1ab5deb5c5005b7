// numpy <-> the library's arrays: NamedArray (the run driver's named results)
// and plain vectors become C-contiguous numpy arrays that own their bytes.
#pragma once

#include "homeostat/io/npy.hpp"
#include "homeostat/run.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

namespace homeostat::python {

pybind11::dtype numpy_dtype(io::DType dtype);

// Moves the bytes into the array (no copy).
pybind11::array to_numpy(run::NamedArray&& a);

// A copy of `values` as a 1-D (or `shape`d) array of the same element type.
template <class T>
pybind11::array_t<T> to_numpy(const std::vector<T>& values, std::vector<pybind11::ssize_t> shape = {}) {
  if (shape.empty()) shape.push_back(static_cast<pybind11::ssize_t>(values.size()));
  pybind11::array_t<T> out(shape);
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

// {"name": array, ...} in the order given; scalars (shape ()) as numpy
// scalars so that `g["loss_total"]` is a float.
pybind11::dict to_dict(std::vector<run::NamedArray>&& arrays);

}  // namespace homeostat::python
