#include "homeostat/io/input_spikes.hpp"

#include "homeostat/io/npy.hpp"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

namespace homeostat::io {

namespace {

// The elements of `data` (type S) as 0/1 bytes; the flat index of the first
// that is neither 0 nor 1 in `bad` (-1 if none) and its value in `bad_value`.
template <class S>
std::vector<std::uint8_t> binary_values(const std::string& data, std::int64_t& bad, double& bad_value) {
  std::vector<std::uint8_t> out(data.size() / sizeof(S));
  bad = -1;
  for (std::size_t k = 0; k < out.size(); ++k) {
    S v;
    std::memcpy(&v, data.data() + k * sizeof(S), sizeof(S));
    if (v != S(0) && v != S(1)) {
      bad = static_cast<std::int64_t>(k);
      bad_value = static_cast<double>(v);
      break;
    }
    out[k] = v == S(1);
  }
  return out;
}

}  // namespace

std::unique_ptr<ReplayInputs> load_input_spikes(const std::filesystem::path& path, std::int64_t m,
                                                std::int64_t trials) {
  const std::string file = path.string();
  const NpyArray a = read_npy(path);
  if (a.shape.size() != 3 || a.shape[2] != m) {
    std::string shape;
    for (std::size_t i = 0; i < a.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(a.shape[i]);
    throw std::runtime_error(fmt::format("{}: input spikes have shape [{}], they must have [trials, steps, {}] "
                                         "(M = {} inputs)", file, shape, m, m));
  }
  const std::int64_t n_trials = a.shape[0], n_steps = a.shape[1];
  if (n_trials < 1 || n_steps < 1)
    throw std::runtime_error(fmt::format("{}: input spikes hold {} trials of {} steps: at least one of each is needed",
                                         file, n_trials, n_steps));
  if (trials > n_trials)
    throw std::runtime_error(fmt::format("{}: holds {} trials, --trials asks for {}", file, n_trials, trials));
  // Every element is 0 or 1: a 2 or a 0.5 is not a spike count this model
  // can replay, and reading it as "nonzero = spike" would hide the mistake.
  std::int64_t bad = -1;
  double bad_value = 0;
  std::vector<std::uint8_t> spikes;
  switch (a.dtype) {
    case DType::b1:
    case DType::u1: spikes = binary_values<std::uint8_t>(a.data, bad, bad_value); break;
    case DType::i1: spikes = binary_values<std::int8_t>(a.data, bad, bad_value); break;
    case DType::i4: spikes = binary_values<std::int32_t>(a.data, bad, bad_value); break;
    case DType::i8: spikes = binary_values<std::int64_t>(a.data, bad, bad_value); break;
    case DType::u4: spikes = binary_values<std::uint32_t>(a.data, bad, bad_value); break;
    case DType::f4: spikes = binary_values<float>(a.data, bad, bad_value); break;
    case DType::f8: spikes = binary_values<double>(a.data, bad, bad_value); break;
  }
  if (bad >= 0)
    throw std::runtime_error(fmt::format("{}: input spikes must be 0 or 1; element [{}, {}, {}] is {} ({})", file,
                                         bad / (n_steps * m), bad / m % n_steps, bad % m, bad_value,
                                         dtype_descr(a.dtype)));
  return std::make_unique<ReplayInputs>(n_trials, n_steps, m, spikes);
}

}  // namespace homeostat::io
