// Input-spike files for replay (io/input_spikes.cpp): every value 0 or 1,
// every shape checked, errors naming the file and the first bad index.
#include "homeostat/io/input_spikes.hpp"
#include "homeostat/io/npy.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace homeostat;
namespace fs = std::filesystem;

namespace {

class InputFile : public ::testing::Test {
 protected:
  fs::path path = fs::temp_directory_path() / ("homeostat_inputs_" + std::to_string(::getpid()) + ".npy");
  void TearDown() override { fs::remove(path); }

  std::string refusal(std::int64_t m, std::int64_t trials = 0) {
    try {
      io::load_input_spikes(path, m, trials);
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "accepted";
    return {};
  }
};

// The inputs that spike at (trial, step).
std::vector<std::int32_t> spikes_at(std::int64_t trial, std::int64_t step, const ReplayInputs& r) {
  std::vector<std::int32_t> out;
  r.spikes(trial, step, out);
  return out;
}

}  // namespace

TEST_F(InputFile, ZerosAndOnesOfEveryDtypeAreSpikes) {
  // [2 trials, 3 steps, 4 inputs]; spikes at (0, 1, 2) and (1, 2, 0).
  std::vector<double> v(24, 0.0);
  v[(0 * 3 + 1) * 4 + 2] = 1.0;
  v[(1 * 3 + 2) * 4 + 0] = 1.0;
  const std::vector<io::DType> dtypes = {io::DType::b1, io::DType::u1, io::DType::i1, io::DType::i4,
                                         io::DType::i8, io::DType::u4, io::DType::f4, io::DType::f8};
  for (const io::DType dtype : dtypes) {
    io::NpyArray a;
    a.dtype = dtype;
    a.shape = {2, 3, 4};
    std::vector<char> raw(24 * io::dtype_size(dtype), 0);
    for (std::size_t k = 0; k < 24; ++k) {
      if (v[k] == 0.0) continue;
      if (dtype == io::DType::f4) {
        const float one = 1.0f;
        std::memcpy(raw.data() + 4 * k, &one, 4);
      } else if (dtype == io::DType::f8) {
        std::memcpy(raw.data() + 8 * k, &v[k], 8);
      } else {
        raw[k * io::dtype_size(dtype)] = 1;  // little-endian 1
      }
    }
    io::write_npy(path, dtype, a.shape, raw.data());
    const auto r = io::load_input_spikes(path, 4, 0);
    EXPECT_EQ(r->n_trials(), 2);
    EXPECT_EQ(r->n_steps(), 3);
    EXPECT_EQ(spikes_at(0, 1, *r), std::vector<std::int32_t>{2}) << io::dtype_descr(dtype);
    EXPECT_EQ(spikes_at(1, 2, *r), std::vector<std::int32_t>{0}) << io::dtype_descr(dtype);
    EXPECT_TRUE(spikes_at(0, 0, *r).empty());
  }
}

TEST_F(InputFile, ValuesOtherThanZeroAndOneAreRefusedAtTheirIndex) {
  std::vector<std::uint8_t> counts(2 * 3 * 4, 0);
  counts[(1 * 3 + 2) * 4 + 3] = 2;
  io::write_npy(path, counts, {2, 3, 4});
  EXPECT_NE(refusal(4).find("element [1, 2, 3] is 2 (|u1)"), std::string::npos);
  std::vector<std::int64_t> sevens(2 * 3 * 4, 0);
  sevens[5] = 7;
  sevens[9] = -1;
  io::write_npy(path, sevens, {2, 3, 4});
  EXPECT_NE(refusal(4).find("element [0, 1, 1] is 7 (<i8)"), std::string::npos);
  std::vector<float> half(2 * 3 * 4, 1.0f);
  half[23] = 0.5f;
  io::write_npy(path, half, {2, 3, 4});
  EXPECT_NE(refusal(4).find("element [1, 2, 3] is 0.5 (<f4)"), std::string::npos);
  std::vector<double> nan(2 * 3 * 4, 0.0);
  nan[0] = std::nan("");
  io::write_npy(path, nan, {2, 3, 4});
  EXPECT_NE(refusal(4).find("element [0, 0, 0] is nan"), std::string::npos);
}

TEST_F(InputFile, ShapesThatCannotBeReplayedAreRefused) {
  io::write_npy(path, std::vector<std::uint8_t>{}, {0, 10, 4});
  EXPECT_NE(refusal(4).find("hold 0 trials of 10 steps"), std::string::npos);
  io::write_npy(path, std::vector<std::uint8_t>{}, {2, 0, 4});
  EXPECT_NE(refusal(4).find("hold 2 trials of 0 steps"), std::string::npos);
  io::write_npy(path, std::vector<std::uint8_t>(24, 0), {2, 3, 4});
  EXPECT_NE(refusal(5).find("have shape [2, 3, 4], they must have [trials, steps, 5]"), std::string::npos);
  EXPECT_NE(refusal(4, 3).find("holds 2 trials, --trials asks for 3"), std::string::npos);
  io::write_npy(path, std::vector<std::uint8_t>(24, 0), {24});
  EXPECT_NE(refusal(4).find("have shape [24]"), std::string::npos);
}
