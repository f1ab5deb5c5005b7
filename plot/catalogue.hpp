// A catalogue of figures drawn from one kind of data (a simulate run's
// RunData, a training run's TrainingLog): listing, drawing one by name, and
// drawing all into a folder, written once for both.
#pragma once

#include "canvas.hpp"
#include "homeostat/plot/figures.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace homeostat::plot {

template <class Data>
struct FigureEntry {
  FigureInfo info;
  std::string (*missing)(const Data&);  // why it cannot be drawn ("" = it can)
  void (*draw)(const Data&, const FigureOptions&, Canvas&);
};

template <class Data>
std::vector<FigureInfo> infos_of(const std::vector<FigureEntry<Data>>& catalogue) {
  std::vector<FigureInfo> out;
  for (const auto& e : catalogue) out.push_back(e.info);
  return out;
}

// Draws figure `name` into `png`; returns why it was skipped ("" = drawn).
template <class Data>
std::string render_entry(const std::vector<FigureEntry<Data>>& catalogue, const std::string& name, const Data& data,
                         const std::filesystem::path& png, const FigureOptions& options) {
  const auto it = std::find_if(catalogue.begin(), catalogue.end(),
                               [&](const FigureEntry<Data>& e) { return e.info.name == name; });
  if (it == catalogue.end()) throw std::invalid_argument("unknown figure '" + name + "'");
  if (std::string why = it->missing(data); !why.empty()) return why;
  std::lock_guard lock(plot_mutex());
  Canvas canvas(png, options.width, options.height);
  it->draw(data, options, canvas);
  canvas.finish();
  return "";
}

// Every figure of `catalogue` into `dir`; `stop` (when given) is asked
// before each one, and once it says true the rest are not drawn.
template <class Data>
std::vector<FigureOutcome> render_all(const std::vector<FigureEntry<Data>>& catalogue, const Data& data,
                                      const std::filesystem::path& dir, const FigureOptions& options,
                                      const std::function<bool()>& stop = {}) {
  std::filesystem::create_directories(dir);
  std::vector<FigureOutcome> out;
  for (const auto& e : catalogue) {
    if (stop && stop()) break;
    const auto t0 = std::chrono::steady_clock::now();
    FigureOutcome o;
    o.name = e.info.name;
    const std::filesystem::path png = dir / (e.info.name + ".png");
    o.skipped = render_entry(catalogue, e.info.name, data, png, options);
    if (o.skipped.empty()) o.path = png;
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace homeostat::plot
