// The sweep figures from plain data: which files, that they decode with the
// requested size, are not blank, and are byte-identical when redrawn; and
// the MPI wrapper outside a launcher (a single rank that never calls MPI).
#include "homeostat/parallel/mpi.hpp"
#include "homeostat/plot/sweep_figures.hpp"

#include <gtest/gtest.h>
#include <png.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace homeostat {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("homeostat_sweep_fig_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

std::string bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// 3 input rates x 2 weight variants x 2 seeds; the rate grows with both, one
// point failed (NaN).
plot::SweepData data() {
  plot::SweepData d;
  d.title = "test";
  d.dimensions = {{"rate", {"5", "10", "20"}, {5, 10, 20}, false},
                  {"w", {"v0", "v1"}, {NAN, NAN}, false},
                  {"seed", {"1", "2"}, {1, 2}, true}};
  d.types = {"excitatory", "inhibitory"};
  d.target_rate = {0.5, 5.0};
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t w = 0; w < 2; ++w)
      for (std::size_t s = 0; s < 2; ++s) {
        d.position.push_back({r, w, s});
        const double base = 0.2 * (r + 1) * (w + 1) + 0.05 * s;
        const bool failed = r == 2 && w == 1 && s == 1;
        d.rate.push_back({failed ? NAN : base, failed ? NAN : 10 * base});
        d.fraction_active.push_back({failed ? NAN : base / 2, failed ? NAN : 0.9});
      }
  return d;
}

TEST(SweepFigures, HeatmapPerPairLinePerAxisSeedAveraged) {
  TempDir dir;
  plot::FigureOptions o;
  o.width = 600;
  o.height = 400;
  const auto drawn = plot::render_sweep_figures(data(), dir.path / "a", o);
  std::set<std::string> names;
  for (const auto& f : drawn) names.insert(f.name);
  EXPECT_EQ(names, (std::set<std::string>{"sweep_heatmap_rate_w", "sweep_line_rate", "sweep_line_w"}));
  plot::render_sweep_figures(data(), dir.path / "b", o);
  for (const auto& name : names) {
    const fs::path a = dir.path / "a" / (name + ".png"), b = dir.path / "b" / (name + ".png");
    EXPECT_EQ(bytes(a), bytes(b)) << name << " is not deterministic";
    png_image img{};
    img.version = PNG_IMAGE_VERSION;
    ASSERT_TRUE(png_image_begin_read_from_file(&img, a.c_str())) << name;
    img.format = PNG_FORMAT_RGB;
    std::vector<unsigned char> px(PNG_IMAGE_SIZE(img));
    ASSERT_TRUE(png_image_finish_read(&img, nullptr, px.data(), 0, nullptr)) << name;
    EXPECT_EQ(img.width, 600u);
    EXPECT_EQ(img.height, 400u);
    std::set<int> colours;  // not blank: many colours (cells, lines, text)
    for (std::size_t i = 0; i + 2 < px.size(); i += 3) colours.insert(px[i] << 16 | px[i + 1] << 8 | px[i + 2]);
    EXPECT_GT(colours.size(), 20u) << name;
  }
}

TEST(SweepFigures, NothingToPlotAgainstGivesNoFigures) {
  TempDir dir;
  plot::SweepData d = data();
  d.dimensions = {{"seed", {"1", "2"}, {1, 2}, true}};
  d.position = {{0}, {1}};
  d.rate.resize(2);
  d.fraction_active.resize(2);
  EXPECT_TRUE(plot::render_sweep_figures(d, dir.path).empty());
}

TEST(Mpi, WithoutALauncherASingleRankThatNeverCallsMpi) {
  ASSERT_FALSE(parallel::launched_by_mpi()) << "run the unit tests without mpirun";
  parallel::MpiContext mpi;
  EXPECT_EQ(mpi.rank(), 0);
  EXPECT_EQ(mpi.size(), 1);
  EXPECT_FALSE(mpi.active());
  std::vector<double> v{1.5, 2.5};
  mpi.allreduce_sum(v);  // one rank: the sum is the value
  EXPECT_EQ(v, (std::vector<double>{1.5, 2.5}));
  mpi.barrier();
  EXPECT_EQ(mpi.run_guarded([] { return 7; }), 7);
  EXPECT_THROW(mpi.run_guarded([]() -> int { throw std::runtime_error("x"); }), std::runtime_error);
  EXPECT_THROW(parallel::MpiContext{}, std::logic_error);  // MPI starts once per process
}

TEST(Mpi, ChildEnvironmentHasNoLauncherVariables) {
  ::setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  ::setenv("PMIX_RANK", "1", 1);
  ::setenv("SLURM_PROCID", "1", 1);
  EXPECT_TRUE(parallel::launched_by_mpi());
  const auto env = parallel::environment_without_launcher();
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  ::unsetenv("PMIX_RANK");
  ::unsetenv("SLURM_PROCID");
  EXPECT_FALSE(parallel::launched_by_mpi());
  bool has_path = false;
  for (const auto& e : env) {
    EXPECT_NE(e.rfind("OMPI_", 0), 0u) << e;
    EXPECT_NE(e.rfind("PMIX_", 0), 0u) << e;
    EXPECT_NE(e.rfind("SLURM_PROCID=", 0), 0u) << e;
    has_path = has_path || e.rfind("PATH=", 0) == 0;
  }
  EXPECT_TRUE(has_path) << "other variables are kept";
}

}  // namespace
}  // namespace homeostat
