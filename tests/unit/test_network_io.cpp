// network_structure.npz (io/network_io.cpp): a saved network loads back the
// same; a file that does not describe a network of the config is refused
// with the file, the array and the first bad index named.
#include "fixtures.hpp"
#include "homeostat/io/network_io.hpp"
#include "homeostat/io/npy.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

using namespace homeostat;
namespace fs = std::filesystem;

namespace {

class NetworkFile : public ::testing::Test {
 protected:
  Config config = tiny_config(60, 20, 2);
  Network net = generate_network(config);
  fs::path dir = fs::temp_directory_path() / ("homeostat_netio_" + std::to_string(::getpid()));
  fs::path good = dir / "network_structure.npz";

  void SetUp() override {
    fs::create_directories(dir);
    io::save_network(good, net);
  }
  void TearDown() override { fs::remove_all(dir); }

  // The good file with one array changed by `edit`, written to bad.npz.
  fs::path edited(const std::string& name, const std::function<void(io::NpyArray&)>& edit) {
    auto arrays = io::read_npz(good);
    edit(arrays.at(name));
    io::NpzWriter npz;
    for (const auto& [key, a] : arrays) npz.add(key, a.dtype, a.shape, a.data.data());
    const fs::path bad = dir / "bad.npz";
    npz.write(bad);
    return bad;
  }

  // The message load_network throws for `path`; a failure if it loads.
  std::string refusal(const fs::path& path, const Config& c) {
    try {
      io::load_network(path, c);
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "accepted " << path;
    return {};
  }
};

template <class T>
void set(io::NpyArray& a, std::size_t k, T value) {
  std::memcpy(a.data.data() + k * sizeof(T), &value, sizeof(T));
}

}  // namespace

TEST_F(NetworkFile, RoundTrips) {
  const Network back = io::load_network(good, config);
  EXPECT_EQ(back.cell_type, net.cell_type);
  EXPECT_EQ(back.input_type, net.input_type);
  EXPECT_EQ(back.assembly, net.assembly);
  EXPECT_EQ(io::dense_weights_f32(back.recurrent), io::dense_weights_f32(net.recurrent));
  EXPECT_EQ(io::dense_mask(back.feedforward), io::dense_mask(net.feedforward));
}

TEST_F(NetworkFile, AWeightOffTheConnectivityIsRefusedNotZeroed) {
  const auto mask = io::dense_mask(net.recurrent);
  std::size_t absent = 0;
  while (mask[absent]) ++absent;
  const auto message = refusal(edited("recurrent_weights", [&](io::NpyArray& a) { set(a, absent, 0.5f); }), config);
  EXPECT_NE(message.find(fmt::format("recurrent_weights[{}, {}] = 0.5 where recurrent_connectivity has no edge",
                                     absent / 60, absent % 60)),
            std::string::npos)
      << message;
}

TEST_F(NetworkFile, NonFiniteOrNonPositiveWeightsOnEdgesAreRefused) {
  const auto mask = io::dense_mask(net.feedforward);
  std::size_t edge = 0;
  while (!mask[edge]) ++edge;
  for (const float bad : {std::nanf(""), 0.0f, -1.0f}) {
    const auto message = refusal(edited("feedforward_weights", [&](io::NpyArray& a) { set(a, edge, bad); }), config);
    EXPECT_NE(message.find(fmt::format("feedforward_weights[{}, {}]", edge / 60, edge % 60)), std::string::npos)
        << message;
  }
}

TEST_F(NetworkFile, CellTypeCountsMustFollowTheConfigsProportions) {
  // 60 neurons at 0.8/0.2: 48 excitatory, 12 inhibitory. One relabelled.
  std::size_t first_exc = 0;
  while (net.cell_type[first_exc] != 0) ++first_exc;
  const auto message = refusal(
      edited("cell_type_indices", [&](io::NpyArray& a) { set<std::int64_t>(a, first_exc, 1); }), config);
  EXPECT_NE(message.find("cell_type has 47 neurons of type 0 ('excitatory')"), std::string::npos)
      << message;
  EXPECT_NE(message.find("gives 48"), std::string::npos) << message;
}

TEST_F(NetworkFile, ALargerNetworkIsRefusedBeforeItIsInflated) {
  const Config smaller = tiny_config(40, 20, 2);
  const auto message = refusal(good, smaller);
  EXPECT_NE(message.find("more than"), std::string::npos) << message;
  EXPECT_NE(message.find("expected: refused before reading its data (the config needs N = 40, M = 20)"), std::string::npos) << message;
}
