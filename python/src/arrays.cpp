#include "arrays.hpp"

#include <memory>

namespace py = pybind11;

namespace homeostat::python {

py::dtype numpy_dtype(io::DType dtype) {
  switch (dtype) {
    case io::DType::b1: return py::dtype("bool");
    case io::DType::u1: return py::dtype("uint8");
    case io::DType::i1: return py::dtype("int8");
    case io::DType::i4: return py::dtype("int32");
    case io::DType::i8: return py::dtype("int64");
    case io::DType::u4: return py::dtype("uint32");
    case io::DType::f4: return py::dtype("float32");
    case io::DType::f8: return py::dtype("float64");
  }
  throw std::logic_error("numpy_dtype: unknown dtype");
}

py::array to_numpy(run::NamedArray&& a) {
  auto* bytes = new std::vector<std::uint8_t>(std::move(a.bytes));
  py::capsule owner(bytes, [](void* p) { delete static_cast<std::vector<std::uint8_t>*>(p); });
  std::vector<py::ssize_t> shape(a.shape.begin(), a.shape.end());
  return py::array(numpy_dtype(a.dtype), shape, bytes->data(), owner);
}

py::dict to_dict(std::vector<run::NamedArray>&& arrays) {
  py::dict out;
  for (auto& a : arrays) {
    const std::string name = a.name;
    py::array arr = to_numpy(std::move(a));
    out[py::str(name)] = arr.ndim() == 0 ? arr[py::tuple()] : py::object(arr);
  }
  return out;
}

}  // namespace homeostat::python
