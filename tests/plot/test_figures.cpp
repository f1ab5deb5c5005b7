// Every figure renders from a tiny fixture run (60 neurons, 30 inputs,
// 0.5 s): the PNG decodes, has the requested size, is not blank and is
// byte-identical when drawn twice from the same data. Also: missing data
// skips a figure, drawing from two threads at once is safe, and the slab
// reader agrees with io::write_npy. The training figures render from a
// synthetic metrics CSV (with and without nan cells).
#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/npy.hpp"
#include "homeostat/model.hpp"
#include "homeostat/plot/figures.hpp"
#include "homeostat/plot/run_data.hpp"
#include "homeostat/sim.hpp"
#include "canvas.hpp"
#include "figure_common.hpp"
#include "npy_slab.hpp"
#include "tiny_network.hpp"

#include <gtest/gtest.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>
#include <unistd.h>

using namespace homeostat;
namespace fs = std::filesystem;

namespace {

constexpr int width = 640, height = 420;

// A short simulation of a generated 60-neuron network, recorded for the figures.
const plot::RunData& fixture() {
  static const plot::RunData data = [] {
    plot::RunData d;
    d.config = homeostat::testing::defaults_with({"recurrent.topology.num_neurons=60", "recurrent.topology.num_assemblies=3",
                                       "feedforward.topology.num_neurons=30", "simulation.duration=500.0",
                                       "simulation.chunk_size=1000"});
    d.network = generate_network(d.config);
    const auto model = lower<float>(d.config, d.network);
    PoissonInputs inputs(d.config.simulation.seed, d.network.input_type, d.config.feedforward.firing_rate,
                         d.config.simulation.dt);
    std::vector<std::int64_t> all(d.network.n);
    std::iota(all.begin(), all.end(), 0);
    RecordSpec spec;
    spec.neurons = plot::pick_per_type(all, d.network.cell_type, 3);
    spec.voltages = spec.conductances = spec.currents = spec.input_spikes = true;
    const std::int64_t steps = 5000, chunk = 1000;
    std::vector<TrialState<float>> states(1, initial_state(model));
    std::vector<TrialRecord> rec;
    SpikeTrains out{steps, d.config.simulation.dt, std::vector<std::vector<std::int64_t>>(d.network.n)};
    SpikeTrains in{steps, d.config.simulation.dt, std::vector<std::vector<std::int64_t>>(d.network.m)};
    plot::Dynamics& dy = d.dynamics;
    dy.neurons = spec.neurons;
    dy.n_steps = steps;
    dy.n_receptors = model.n_receptors;
    for (std::int64_t t0 = 0; t0 < steps; t0 += chunk) {
      run_chunk(model, inputs, states, 0, t0, chunk, spec, &rec);
      const TrialRecord& r = rec[0];
      for (std::size_t e = 0; e < r.spike_step.size(); ++e) out.times[r.spike_neuron[e]].push_back(t0 + r.spike_step[e]);
      for (std::size_t e = 0; e < r.input_step.size(); ++e) in.times[r.input_neuron[e]].push_back(t0 + r.input_step[e]);
      dy.voltages.insert(dy.voltages.end(), r.voltages.begin(), r.voltages.end());
      dy.conductances.insert(dy.conductances.end(), r.conductances.begin(), r.conductances.end());
      dy.currents.insert(dy.currents.end(), r.currents.begin(), r.currents.end());
    }
    d.output_spikes = {out, out};  // two trials (the same): pooled statistics
    d.input_spikes = in;
    return d;
  }();
  return data;
}

plot::FigureOptions small() {
  plot::FigureOptions o;
  o.width = width;
  o.height = height;
  return o;
}

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> gray;  // luminance per pixel
};

Image decode_png(const fs::path& path) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path.c_str())) throw std::runtime_error("cannot decode " + path.string());
  img.format = PNG_FORMAT_GRAY;
  Image out;
  out.width = static_cast<int>(img.width);
  out.height = static_cast<int>(img.height);
  out.gray.resize(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, out.gray.data(), 0, nullptr))
    throw std::runtime_error("cannot decode " + path.string() + ": " + img.message);
  return out;
}

double variance(const std::vector<std::uint8_t>& v) {
  double s = 0, s2 = 0;
  for (const auto x : v) s += x, s2 += double(x) * x;
  const double m = s / v.size();
  return s2 / v.size() - m * m;
}

std::string bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("homeostat_plot_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

class EveryFigure : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryFigure, RendersDecodesNotBlankDeterministic) {
  TempDir dir;
  const std::string name = GetParam();
  const fs::path a = dir.path() / "a.png", b = dir.path() / "b.png";
  ASSERT_EQ(plot::render_figure(name, fixture(), a, small()), "");
  ASSERT_EQ(plot::render_figure(name, fixture(), b, small()), "");
  const Image img = decode_png(a);
  EXPECT_EQ(img.width, width);
  EXPECT_EQ(img.height, height);
  // Not blank: a white page with a frame and a title already has some
  // variance; a figure with data has far more.
  EXPECT_GT(variance(img.gray), 150.0) << name;
  EXPECT_EQ(bytes(a), bytes(b)) << name << ": not deterministic";
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find("homeostat-tmp"), std::string::npos) << "temporary file left: " << e.path();
}

std::vector<std::string> figure_names() {
  std::vector<std::string> out;
  for (const auto& f : plot::simulate_figures()) out.push_back(f.name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Plot, EveryFigure, ::testing::ValuesIn(figure_names()),
                         [](const auto& info) { return info.param; });

TEST(Figures, CatalogueCoversTheIssue) {
  EXPECT_EQ(plot::simulate_figures().size(), 14u);
  EXPECT_THROW(plot::render_figure("no_such_figure", fixture(), "x.png"), std::invalid_argument);
}

TEST(Figures, MissingDynamicsAreSkippedNotDrawn) {
  TempDir dir;
  plot::RunData d = fixture();
  d.dynamics = {};
  const auto outcomes = plot::render_simulate_figures(d, dir.path(), small());
  int skipped = 0;
  for (const auto& o : outcomes) {
    if (o.name.rfind("dynamics_", 0) == 0) {
      EXPECT_FALSE(o.skipped.empty()) << o.name;
      EXPECT_FALSE(fs::exists(dir.path() / (o.name + ".png")));
      ++skipped;
    } else {
      EXPECT_TRUE(o.skipped.empty()) << o.name << ": " << o.skipped;
      EXPECT_TRUE(fs::exists(o.path));
    }
  }
  EXPECT_EQ(skipped, 3);
  d.dynamics = fixture().dynamics;
  d.dynamics.conductances.clear();
  EXPECT_NE(plot::render_figure("dynamics_conductances", d, dir.path() / "g.png", small()), "");
  EXPECT_EQ(plot::render_figure("dynamics_voltages", d, dir.path() / "v.png", small()), "");
}

TEST(Figures, TwoThreadsDrawTheSameBytesAsOne) {
  TempDir dir;
  const auto o = small();
  plot::render_figure("output_raster", fixture(), dir.path() / "serial.png", o);
  std::thread t1([&] { plot::render_figure("output_raster", fixture(), dir.path() / "t1.png", o); });
  std::thread t2([&] { plot::render_figure("output_raster", fixture(), dir.path() / "t2.png", o); });
  t1.join();
  t2.join();
  EXPECT_EQ(bytes(dir.path() / "serial.png"), bytes(dir.path() / "t1.png"));
  EXPECT_EQ(bytes(dir.path() / "serial.png"), bytes(dir.path() / "t2.png"));
}

TEST(Figures, PickPerTypeSpreadsEvenly) {
  const std::vector<std::int32_t> type = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
  std::vector<std::int64_t> all(10);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(plot::pick_per_type(all, type, 2), (std::vector<std::int64_t>{1, 4, 7, 9}));
  EXPECT_EQ(plot::pick_per_type({0, 7}, type, 3), (std::vector<std::int64_t>{0, 7}));
}

// Rates counted over a trial are multiples of q = 1000 / T Hz: every edge
// lies half way between two of them, so each bin holds whole counts and no
// bin between two occupied ones is empty (log bins on such rates leave a comb).
TEST(FiringRateBins, EdgesAlignedToTheRateQuantum) {
  for (const double duration : {10000.0, 2000.0, 500.0, 4000.0}) {
    const double q = 1000.0 / duration, hi = 125.0;
    const auto e = plot::rate_edges(duration, hi);
    ASSERT_GE(e.size(), 2u);
    EXPECT_DOUBLE_EQ(e.front(), q / 2) << duration;
    EXPECT_GE(e.back(), hi);
    for (std::size_t k = 0; k < e.size(); ++k) {
      const double half = e[k] / q - 0.5;
      EXPECT_NEAR(half, std::round(half), 1e-9) << "edge " << e[k] << " of T = " << duration;
      if (k > 0) {
        EXPECT_GT(e[k], e[k - 1]);
      }
    }
    // Every possible rate 1..K quanta up to hi: no empty bin anywhere.
    std::vector<double> rates;
    for (double r = q; r <= e.back(); r += q) rates.push_back(std::round(r / q) * q);
    const auto h = plot::histogram_fractions(rates, e);
    for (std::size_t k = 0; k < h.size(); ++k) EXPECT_GT(h[k], 0.0) << "empty bin " << e[k] << "-" << e[k + 1];
    // Where quanta are dense the bins are log-spaced, not one per quantum.
    EXPECT_LT(e.size(), 12 * std::log10(2 * hi / q) + 3);
  }
}

TEST(FiringRateBins, AxisEndsAtTheRefractoryLimitOfTheConfiguration) {
  Config c = fixture().config;
  for (auto& p : c.recurrent.physiology) p.tau_ref = 8.0;
  c.recurrent.physiology.back().tau_ref = 4.0;
  EXPECT_DOUBLE_EQ(plot::max_rate_hz(c), 250.0);  // the shortest refractory period bounds every rate
  for (auto& p : c.recurrent.physiology) p.tau_ref = 0.0;
  EXPECT_DOUBLE_EQ(plot::max_rate_hz(c), 1000.0 / c.simulation.dt);  // one spike per step
}

TEST(Axes, FractionAxisNeverPastOne) {
  for (const double f : {0.0, 1e-4, 0.03, 0.5, 0.8, 0.87, 0.9, 0.99, 1.0}) {
    const double top = plot::fraction_axis_max(f);
    EXPECT_LE(top, 1.0) << f;
    EXPECT_GE(top, f) << f;
  }
  EXPECT_DOUBLE_EQ(plot::fraction_axis_max(0.3), 0.4);  // room above the data when it is small
  EXPECT_DOUBLE_EQ(plot::nice_step(3.3), 5.0);
  EXPECT_DOUBLE_EQ(plot::nice_step(0.15), 0.2);
  EXPECT_DOUBLE_EQ(plot::nice_step(1.0), 1.0);
}

// Image cells tile the panel: one lit cell of a 2 x 2 image fills the bottom
// left quarter and nothing else (plimagefr stretches nx cells over nx - 1
// intervals unless told where the last cell starts).
TEST(Canvas, ImageCellsTileThePanel) {
  TempDir dir;
  const fs::path png = dir.path() / "image.png";
  {
    std::lock_guard lock(plot::plot_mutex());
    plot::Canvas c(png, 200, 200);
    c.panel({0.1, 0.9, 0.1, 0.9}, plot::Axes{0, 2, 0, 2, false, false, "", "", "", false, false});
    const plot::ColourMap black{{{0.0, {0, 0, 0}}, {1.0, {0, 0, 0}}}};
    c.image({1.0, 5.0, 5.0, 5.0}, 2, 2, black, 0.0, 2.0);  // row 0 (bottom): lit, blank; row 1: blank, blank
    c.finish();
  }
  const Image img = decode_png(png);
  auto at = [&](int x, int y) { return img.gray[static_cast<std::size_t>(y) * img.width + x]; };
  // Cell centres (image rows from the top): bottom left (60, 140), the rest.
  EXPECT_LT(at(60, 140), 50);
  EXPECT_LT(at(25, 175), 50);   // near the frame's corner: the cell reaches it
  EXPECT_LT(at(95, 105), 50);   // near the middle: the cell reaches it
  EXPECT_GT(at(140, 140), 200);
  EXPECT_GT(at(60, 60), 200);
  EXPECT_GT(at(140, 60), 200);
  EXPECT_GT(at(106, 94), 200);  // just past the middle: the lit cell stops there
}

// A PNG that cannot be created (a missing or read-only directory) is an
// exception naming it, not PLplot's prompt on stdin and exit().
TEST(Canvas, AnUnwritablePathThrowsNamingIt) {
  TempDir dir;
  const fs::path png = dir.path() / "no_such_dir" / "figure.png";
  std::lock_guard lock(plot::plot_mutex());
  try {
    plot::Canvas c(png, 200, 200);
    ADD_FAILURE() << "a canvas was opened in a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_dir/.figure.png.homeostat-tmp."), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.path() / "no_such_dir"));
}

// A training run's initial_state/ and final_state/ have no parameters.toml
// of their own: they were simulated with the run's.
TEST(RunData, StateDirectoryUsesTheRunsParameters) {
  TempDir dir;
  std::ofstream(dir.path() / "parameters.toml") << io::to_toml(fixture().config);
  fs::create_directories(dir.path() / "final_state" / "results");
  std::ofstream(dir.path() / "final_state" / "network_structure.npz") << "x";
  EXPECT_EQ(fs::canonical(plot::run_parameters(dir.path() / "final_state")), fs::canonical(dir.path() / "parameters.toml"));
  EXPECT_EQ(fs::canonical(plot::run_parameters(dir.path() / "final_state/")), fs::canonical(dir.path() / "parameters.toml"));
  EXPECT_EQ(plot::run_parameters(dir.path()), dir.path() / "parameters.toml");
  // Not a state directory (no network): the error will name its own file.
  fs::create_directories(dir.path() / "other");
  EXPECT_EQ(plot::run_parameters(dir.path() / "other"), dir.path() / "other" / "parameters.toml");
}

TEST(NpySlabReader, ReadsSlabsOfWhatIoWrites) {
  TempDir dir;
  std::vector<float> v(2 * 3 * 4);
  std::iota(v.begin(), v.end(), 0.5f);
  io::write_npy(dir.path() / "v.npy", v, {2, 3, 4});
  plot::NpySlabReader r(dir.path() / "v.npy");
  EXPECT_EQ(r.shape(), (std::vector<std::int64_t>{2, 3, 4}));
  EXPECT_EQ(r.read_f32(13, 3), (std::vector<float>{13.5f, 14.5f, 15.5f}));
  std::ofstream(dir.path() / "bad.npy", std::ios::binary) << bytes(dir.path() / "v.npy").substr(0, 100);
  EXPECT_THROW(plot::NpySlabReader(dir.path() / "bad.npy"), std::runtime_error);
}

// ---- training figures ----

// A training run directory with a synthetic metrics CSV (the columns `train`
// writes) and its parameters.toml; `nan_cells` puts nan into a few cells.
void write_training_run(const fs::path& dir, bool nan_cells, int rows = 12) {
  const Config c = fixture().config;
  std::ofstream(dir / "parameters.toml") << io::to_toml(c);
  std::string h = "chunk,total_loss";
  for (const LossTermInfo& t : loss_terms) h.append(",").append(t.name).append("_loss");
  for (const char* what : {"mean_rate_hz", "std_rate_hz", "fraction_active", "mean_cv", "membrane_ratio"})
    for (const auto& type : c.recurrent.type_names) h.append(",").append(what).append("/").append(type);
  h += ",grad_norm,learning_rate";
  for (const auto& [kind, pre_types] : {std::pair{"recurrent", c.recurrent.type_names},
                                        std::pair{"feedforward", c.feedforward.type_names}})
    for (const auto& pre : pre_types)
      for (const auto& post : c.recurrent.type_names) h.append(",").append(plot::weight_change_column(kind, pre, post));
  h += ",wall_seconds\n";
  std::ofstream out(dir / "training_metrics.csv");
  out << h;
  for (int r = 1; r <= rows; ++r) {
    const double x = r * 5.0, decay = std::exp(-r / 4.0);
    // Loss terms spanning several decades (log axis), one zero throughout.
    const double fr = 2.0 * decay, cv = 0.3 * decay + 0.05, silent = 0.0, mem = 0.01 * decay, wr = 1e-4 * (1 + decay);
    out << x << "," << (fr + 0.5 * cv + 0.1 * silent + 0.1 * mem + 0.01 * wr) << "," << fr << "," << cv << ","
        << silent << "," << (nan_cells && r == 3 ? "nan" : std::to_string(mem)) << "," << wr;
    out << "," << 0.5 * (1 - decay) << "," << (nan_cells && r == 5 ? "nan" : std::to_string(5.0 - 3 * decay));
    out << ",0.2,1.5";                                                     // std_rate
    out << "," << 0.3 + 0.5 * (1 - decay) << "," << (nan_cells && r == 7 ? "NaN" : "1");  // fraction_active
    out << ",0.8,0.9,0.5,0.6";                                             // mean_cv, membrane_ratio
    out << ",0.7,0.01";
    // Weight change: E->E, E->I, I->E, I->I, mitral->E, mitral->I.
    out << "," << 0.3 * (1 - decay) << "," << -0.2 * (1 - decay) << ",0.05," << (nan_cells ? "nan" : "-0.01") << ","
        << 0.1 * (1 - decay) << ",0";
    out << "," << r * 1.25 << "\n";
  }
}

TEST(TrainingFigures, CatalogueAndList) {
  ASSERT_EQ(plot::training_figures().size(), 3u);
  EXPECT_EQ(plot::training_figures()[0].name, "training_losses");
  EXPECT_EQ(plot::training_figures()[1].name, "training_rates");
  EXPECT_EQ(plot::training_figures()[2].name, "training_weight_change");
  EXPECT_THROW(plot::render_training_figure("output_raster", {}, "x.png"), std::invalid_argument);
}

TEST(TrainingFigures, RenderDecodeNotBlankDeterministic) {
  for (const bool nan_cells : {false, true}) {
    TempDir dir;
    write_training_run(dir.path(), nan_cells);
    ASSERT_TRUE(plot::is_training_run(dir.path()));
    const plot::TrainingLog log = plot::load_training_log(dir.path());
    ASSERT_EQ(log.metrics.rows.size(), 12u);
    for (const auto& f : plot::training_figures()) {
      const fs::path a = dir.path() / (f.name + "_a.png"), b = dir.path() / (f.name + "_b.png");
      ASSERT_EQ(plot::render_training_figure(f.name, log, a, small()), "") << f.name;
      ASSERT_EQ(plot::render_training_figure(f.name, log, b, small()), "") << f.name;
      const Image img = decode_png(a);
      EXPECT_EQ(img.width, width);
      EXPECT_EQ(img.height, height);
      EXPECT_GT(variance(img.gray), 150.0) << f.name;
      EXPECT_EQ(bytes(a), bytes(b)) << f.name << ": not deterministic";
    }
    for (const auto& e : fs::directory_iterator(dir.path()))
      EXPECT_EQ(e.path().filename().string().find("homeostat-tmp"), std::string::npos) << "temporary file left: " << e.path();
  }
}

TEST(TrainingFigures, UpToChunkAndOneRow) {
  TempDir dir;
  write_training_run(dir.path(), false);
  const auto log = plot::load_training_log(dir.path(), 10);
  ASSERT_EQ(log.metrics.rows.size(), 2u);  // chunks 5 and 10
  EXPECT_EQ(log.metrics.column("chunk"), (std::vector<double>{5, 10}));
  const auto outcomes = plot::render_training_figures(plot::load_training_log(dir.path(), 5), dir.path() / "one", small());
  for (const auto& o : outcomes) EXPECT_TRUE(o.skipped.empty() && fs::exists(o.path)) << o.name << ": " << o.skipped;
  // No rows yet: skipped with a reason, nothing written.
  const auto none = plot::render_training_figures(plot::load_training_log(dir.path(), 1), dir.path() / "none", small());
  for (const auto& o : none) EXPECT_FALSE(o.skipped.empty()) << o.name;
  EXPECT_TRUE(fs::is_empty(dir.path() / "none"));
}

// RGB pixels of a PNG.
std::vector<plot::Rgb> decode_rgb(const fs::path& path) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path.c_str())) throw std::runtime_error("cannot decode " + path.string());
  img.format = PNG_FORMAT_RGB;
  std::vector<std::uint8_t> raw(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, raw.data(), 0, nullptr)) throw std::runtime_error(img.message);
  std::vector<plot::Rgb> out;
  for (std::size_t k = 0; k + 2 < raw.size(); k += 3) out.push_back({raw[k], raw[k + 1], raw[k + 2]});
  return out;
}

std::size_t pixels_near(const std::vector<plot::Rgb>& pixels, plot::Rgb c) {
  return static_cast<std::size_t>(std::count_if(pixels.begin(), pixels.end(), [&](plot::Rgb p) {
    return std::abs(p.r - c.r) + std::abs(p.g - c.g) + std::abs(p.b - c.b) <= 6;
  }));
}

// The weight-change heatmaps colour each block by the sign and size of its
// last change: the colour scale ends at the largest change (dark teal for
// +, dark brown for -), a block without edges is light grey; a run of an
// older homeostat (no such columns) is skipped with the reason.
TEST(TrainingFigures, WeightChangeCellsFollowTheLastRow) {
  const plot::Rgb increase{1, 102, 94}, decrease{140, 81, 10};
  auto draw = [](const std::string& last_row_changes) {
    TempDir dir;
    write_training_run(dir.path(), false, 3);
    // Replace the weight-change cells of the last row: E->E, E->I, I->E, I->I, mitral->E, mitral->I.
    std::string csv = bytes(dir.path() / "training_metrics.csv");
    std::vector<std::string> lines;
    for (std::size_t at = 0; at < csv.size();) {
      const std::size_t end = csv.find('\n', at);
      lines.push_back(csv.substr(at, end - at));
      at = end + 1;
    }
    std::string& last = lines.back();
    std::size_t cut = last.size();
    for (int k = 0; k < 7; ++k) cut = last.rfind(',', cut - 1);  // before the 6 changes and wall_seconds
    last = last.substr(0, cut) + "," + last_row_changes + ",3.75";
    csv.clear();
    for (const auto& l : lines) csv += l + "\n";
    std::ofstream(dir.path() / "training_metrics.csv") << csv;
    const auto log = plot::load_training_log(dir.path());
    EXPECT_EQ(log.metrics.column("weight_change/recurrent/excitatory_to_inhibitory").back(),
              std::stod(last_row_changes.substr(last_row_changes.find(',') + 1)));
    const fs::path png = dir.path() / "w.png";
    EXPECT_EQ(plot::render_training_figure("training_weight_change", log, png, small()), "");
    return decode_rgb(png);
  };
  const auto both = draw("0.4,-0.4,0.05,nan,0.1,0");
  EXPECT_GT(pixels_near(both, increase), 2000u);  // a whole cell: about 78 x 78 px at 640 x 420
  EXPECT_GT(pixels_near(both, decrease), 2000u);
  EXPECT_GT(pixels_near(both, plot::Rgb{200, 200, 200}), 2000u);  // the block without edges
  const auto up = draw("0.4,0.2,0.05,0.01,0.1,0");
  EXPECT_GT(pixels_near(up, increase), 2000u);
  EXPECT_LT(pixels_near(up, decrease), 150u);  // the colour bar's end only
  const auto down = draw("-0.4,-0.2,-0.05,-0.01,-0.1,0");
  EXPECT_LT(pixels_near(down, increase), 150u);
  EXPECT_GT(pixels_near(down, decrease), 2000u);

  TempDir old;
  write_training_run(old.path(), false);
  plot::TrainingLog log = plot::load_training_log(old.path());
  *std::find(log.metrics.columns.begin(), log.metrics.columns.end(), "weight_change/feedforward/mitral_to_inhibitory") =
      "an_older_column";
  EXPECT_NE(plot::render_training_figure("training_weight_change", log, old.path() / "x.png", small()).find(
                "no column 'weight_change/feedforward/mitral_to_inhibitory'"),
            std::string::npos);
}

TEST(MetricsCsv, ParsesNanEmptyAndRejectsText) {
  const auto t = plot::parse_metrics_csv("chunk,a,b\n1,nan,2.5\n2,,-inf\n\n3,1e-3, NaN \n");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"chunk", "a", "b"}));
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_TRUE(std::isnan(t.rows[0][1]) && std::isnan(t.rows[1][1]) && std::isnan(t.rows[2][2]));
  EXPECT_EQ(t.rows[1][2], -INFINITY);
  EXPECT_EQ(t.column("a")[2], 1e-3);
  EXPECT_EQ(t.index("zzz"), -1);
  EXPECT_THROW(t.column("zzz"), std::out_of_range);
  EXPECT_THROW(plot::parse_metrics_csv("chunk,a\n1,abc\n"), std::runtime_error);
  EXPECT_THROW(plot::parse_metrics_csv("chunk,a\n1,2,3\n"), std::runtime_error);
  EXPECT_THROW(plot::parse_metrics_csv(""), std::runtime_error);
}

TEST(MetricsCsv, AFileCutShortIsRefusedNamingWhere) {
  // Cut inside the header (after "grad"), or inside a number (1.25 -> 1.2): each would read as something else.
  auto refusal = [](std::string_view text) {
    try {
      plot::parse_metrics_csv(text, "m.csv");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refusal("chunk,total_loss,grad"),
            "m.csv: cut short inside its header: the file ends without an end of line, after "
            "'chunk,total_loss,grad'; not a whole metrics CSV");
  EXPECT_EQ(refusal("chunk,a\n1,2.5\n2,1.2"),
            "m.csv: cut short in line 3: the file ends without an end of line, after '2,1.2'; not a whole metrics CSV");
  EXPECT_EQ(plot::parse_metrics_csv("chunk,a\n1,2.5\n").rows.size(), 1u);
}

}  // namespace
