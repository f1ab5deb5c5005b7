#include "canvas.hpp"

#include "homeostat/io/files.hpp"

#include <plplot/plstream.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

namespace homeostat::plot {

namespace fs = std::filesystem;

std::mutex& plot_mutex() {
  // PLplot's current stream is process-wide state; this lock is the one
  // place that knows it.
  static std::mutex m;
  return m;
}

namespace {

// The file ends with a PNG's last chunk: IEND, no data, its fixed CRC.
bool png_complete(const fs::path& path) {
  static constexpr unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  unsigned char tail[12] = {};
  const bool ok = std::fseek(f, -12, SEEK_END) == 0 && std::fread(tail, 1, 12, f) == 12;
  std::fclose(f);
  return ok && std::memcmp(tail, iend, 12) == 0;
}

}  // namespace

Canvas::Canvas(fs::path png, int width, int height) : png_(std::move(png)), width_(width), height_(height) {
  if (width < 100 || height < 100) throw std::invalid_argument("figure size below 100 px");
  temp_ = io::temp_path(png_);  // the temp name every writer uses, so that a reader skips it
  // PLplot meets a file it cannot open by prompting on stdin for another name
  // and then calling exit(): a read-only or missing directory would end the
  // whole process (a training run without its checkpoint). Refused here first.
  if (std::FILE* f = std::fopen(temp_.c_str(), "wb")) {
    std::fclose(f);
  } else {
    throw std::system_error(errno, std::generic_category(), "cannot create " + temp_.string());
  }
  pls_ = std::make_unique<plstream>();
  pls_->sdev("pngcairo");
  pls_->sfnam(temp_.c_str());
  pls_->spage(0, 0, width, height, 0, 0);
  pls_->scmap0n(256);
  pls_->scolbg(255, 255, 255);
  pls_->scol0(1, 0, 0, 0);
  pls_->sesc('#');
  pls_->init();
  pls_->adv(0);
  pls_->col0(1);
  pls_->schr(0, base_scale_);
}

Canvas::~Canvas() {
  if (!finished_) {
    pls_.reset();  // ends the stream
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void Canvas::finish() {
  pls_.reset();  // plend1: the cairo driver writes the PNG
  finished_ = true;
  std::error_code ec;
  if (!fs::exists(temp_, ec)) throw std::runtime_error(png_.string() + ": PLplot wrote no file (is plplot-driver-cairo installed?)");
  // Cairo's PNG writer reports a failed write (a full disk) to PLplot, which
  // ignores it: a PNG is complete only when it ends with its IEND chunk. A
  // file that cannot be written is a std::system_error, as for other writes.
  if (!png_complete(temp_)) {
    fs::remove(temp_, ec);
    throw std::system_error(std::make_error_code(std::errc::no_space_on_device),
                            "cannot write " + png_.string() + ": the PNG was cut short");
  }
  io::commit_temp_file(temp_, png_);
}

int Canvas::colour_index(Rgb c, double alpha) {
  // Indices 0 (background) and 1 (black) are fixed; the rest are handed out
  // per call, cycling within the 256 of cmap0 (a figure uses far fewer).
  if (alpha >= 1.0 && c == palette::black) return 1;
  const int i = next_colour_;
  next_colour_ = next_colour_ >= 255 ? 16 : next_colour_ + 1;
  pls_->scol0a(i, c.r, c.g, c.b, alpha);
  return i;
}

void Canvas::char_scale(double scale) { pls_->schr(0, base_scale_ * scale); }

double Canvas::line_height() const {
  PLFLT def = 0, ht = 0, x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  pls_->gchr(def, ht);  // [mm], current scale
  pls_->gspa(x0, x1, y0, y1);
  return y1 > y0 ? def * base_scale_ / (y1 - y0) : 0.03;
}

void Canvas::title(const std::string& text, const std::string& subtitle) {
  pls_->vpor(0, 1, 0, 1);
  pls_->wind(0, 1, 0, 1);
  pls_->col0(1);
  char_scale(1.3);
  pls_->mtex("t", -1.4, 0.5, 0.5, text.c_str());
  if (!subtitle.empty()) {
    char_scale(0.95);
    pls_->col0(colour_index(palette::dark_grey));
    pls_->mtex("t", -3.6, 0.5, 0.5, subtitle.c_str());
  }
  char_scale(1.0);
}

std::vector<Box> Canvas::grid(int rows, int cols, Box area, double gap_x, double gap_y) {
  std::vector<Box> out;
  const double w = (area.x1 - area.x0 - gap_x * (cols - 1)) / cols;
  const double h = (area.y1 - area.y0 - gap_y * (rows - 1)) / rows;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const double x0 = area.x0 + c * (w + gap_x);
      const double y1 = area.y1 - r * (h + gap_y);
      out.push_back({x0, x0 + w, y1 - h, y1});
    }
  return out;
}

double Canvas::y_tick_chars(const Axes& a) {
  // PLplot's tick labels: about 6 major ticks, as many decimals as the
  // spacing needs; on log axes 10^k.
  if (a.log_y) return 4.0;
  const double span = std::abs(a.y_max - a.y_min);
  if (!(span > 0)) return 3.0;
  const double spacing = span / 6;
  const double decimals = std::max(0.0, -std::floor(std::log10(spacing)));
  const double biggest = std::max({std::abs(a.y_min), std::abs(a.y_max), 1.0});
  const double digits = std::floor(std::log10(biggest)) + 1;
  if (digits > std::max(5, a.y_digits)) return 5.0;  // PLplot writes x10^k beside the axis
  return digits + (decimals > 0 ? decimals + 1 : 0) + (std::min(a.y_min, a.y_max) < 0 ? 1 : 0);
}

double Canvas::tx(double x) const { return axes_.log_x ? std::log10(std::max(x, 1e-300)) : x; }
double Canvas::ty(double y) const { return axes_.log_y ? std::log10(std::max(y, 1e-300)) : y; }

void Canvas::panel(const Box& box, const Axes& axes) {
  axes_ = axes;
  pls_->vpor(box.x0, box.x1, box.y0, box.y1);
  pls_->wind(tx(axes.x_min), tx(axes.x_max), ty(axes.y_min), ty(axes.y_max));
  pls_->col0(1);
  pls_->width(1.0);
  pls_->lsty(1);
  std::string xopt = axes.ticks ? "bcst" : "bc", yopt = axes.ticks ? "bcstv" : "bcv";
  if (axes.x_numbers) xopt += "n";
  if (axes.y_numbers) yopt += "n";
  if (axes.log_x) xopt += "l";
  if (axes.log_y) yopt += "l";
  pls_->syax(axes.y_digits, 0);
  pls_->box(xopt.c_str(), axes.log_x ? 0 : axes.x_tick, 0, yopt.c_str(), axes.log_y ? 0 : axes.y_tick, 0);
  // Log tick labels (10^k) are taller: the label goes a little lower.
  if (!axes.x_label.empty()) pls_->mtex("b", axes.log_x ? 3.5 : 3.0, 0.5, 0.5, axes.x_label.c_str());
  if (!axes.y_label.empty())
    pls_->mtex("l", axes.y_numbers ? 1.4 + 0.7 * y_tick_chars(axes) : 1.2, 0.5, 0.5, axes.y_label.c_str());
  if (!axes.title.empty()) pls_->mtex("t", 0.8, 0.5, 0.5, axes.title.c_str());
}

void Canvas::line(const std::vector<double>& x, const std::vector<double>& y, Rgb colour, double width, int style) {
  pls_->col0(colour_index(colour));
  pls_->width(width);
  pls_->lsty(style);
  // Non-finite points break the line.
  std::vector<PLFLT> px, py;
  auto flush = [&] {
    if (px.size() > 1) pls_->line(static_cast<PLINT>(px.size()), px.data(), py.data());
    px.clear();
    py.clear();
  };
  for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
    const double a = tx(x[i]), b = ty(y[i]);
    if (!std::isfinite(a) || !std::isfinite(b) || (axes_.log_x && x[i] <= 0) || (axes_.log_y && y[i] <= 0)) {
      flush();
      continue;
    }
    px.push_back(a);
    py.push_back(b);
  }
  flush();
  pls_->lsty(1);
  pls_->width(1.0);
}

void Canvas::segments(const std::vector<double>& x0, const std::vector<double>& y0, const std::vector<double>& x1,
                      const std::vector<double>& y1, Rgb colour, double width) {
  pls_->col0(colour_index(colour));
  pls_->width(width);
  for (std::size_t i = 0; i < x0.size(); ++i) pls_->join(tx(x0[i]), ty(y0[i]), tx(x1[i]), ty(y1[i]));
  pls_->width(1.0);
}

void Canvas::vline(double x, Rgb colour, double width, int style) {
  line({x, x}, {axes_.y_min, axes_.y_max}, colour, width, style);
}

void Canvas::hline(double y, Rgb colour, double width, int style) {
  line({axes_.x_min, axes_.x_max}, {y, y}, colour, width, style);
}

void Canvas::points(const std::vector<double>& x, const std::vector<double>& y, Rgb colour, double scale) {
  pls_->col0(colour_index(colour));
  pls_->ssym(0, scale);
  std::vector<PLFLT> px, py;
  for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    px.push_back(tx(x[i]));
    py.push_back(ty(y[i]));
  }
  if (!px.empty()) pls_->string(static_cast<PLINT>(px.size()), px.data(), py.data(), "#(728)");
  pls_->ssym(0, 1.0);
}

void Canvas::error_bars(const std::vector<double>& x, const std::vector<double>& lo, const std::vector<double>& hi,
                        Rgb colour, double width) {
  pls_->col0(colour_index(colour));
  pls_->width(width);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(lo[i]) || !std::isfinite(hi[i])) continue;
    if (axes_.log_y && lo[i] <= 0) continue;
    PLFLT xs = tx(x[i]), ylo = ty(lo[i]), yhi = ty(hi[i]);
    pls_->erry(1, &xs, &ylo, &yhi);
  }
  pls_->width(1.0);
}

void Canvas::rectangle(double x0, double x1, double y0, double y1, Rgb colour, double alpha) {
  pls_->col0(colour_index(colour, alpha));
  PLFLT xs[4] = {tx(x0), tx(x1), tx(x1), tx(x0)}, ys[4] = {ty(y0), ty(y0), ty(y1), ty(y1)};
  pls_->fill(4, xs, ys);
}

void Canvas::histogram(const std::vector<double>& edges, const std::vector<double>& values, Rgb colour,
                       double fill_alpha) {
  const double base = axes_.log_y ? axes_.y_min : 0.0;
  // The step curve, filled as one polygon (no seams between bars).
  std::vector<double> x{edges.front()}, y{base};
  for (std::size_t k = 0; k < values.size(); ++k) {
    const double v = std::clamp(values[k], base, axes_.y_max);
    x.push_back(edges[k]);
    y.push_back(v);
    x.push_back(edges[k + 1]);
    y.push_back(v);
  }
  x.push_back(edges.back());
  y.push_back(base);
  if (fill_alpha > 0) {
    pls_->col0(colour_index(colour, fill_alpha));
    std::vector<PLFLT> px, py;
    for (std::size_t i = 0; i < x.size(); ++i) px.push_back(tx(x[i])), py.push_back(ty(y[i]));
    pls_->fill(static_cast<PLINT>(px.size()), px.data(), py.data());
  }
  line(x, y, colour, 2.0);
}

void Canvas::text(double x, double y, const std::string& s, double just, Rgb colour, double scale, bool vertical) {
  pls_->col0(colour_index(colour));
  char_scale(scale);
  pls_->ptex(tx(x), ty(y), vertical ? 0.0 : 1.0, vertical ? 1.0 : 0.0, just, s.c_str());
  char_scale(1.0);
}

void Canvas::edge_text(const std::string& side, double disp, double pos, double just, const std::string& s,
                       double scale, Rgb colour) {
  pls_->col0(colour_index(colour));
  char_scale(scale);
  pls_->mtex(side.c_str(), disp, pos, just, s.c_str());
  char_scale(1.0);
}

void Canvas::legend(const std::vector<LegendEntry>& entries, const std::string& corner, double scale) {
  if (entries.empty()) return;
  const auto n = static_cast<PLINT>(entries.size());
  std::vector<PLINT> opt(n), text_colours(n, 1), line_colours(n), line_styles(n), box_colours(n), box_patterns(n, 0);
  std::vector<PLFLT> line_widths(n), box_scales(n, 0.8), box_line_widths(n, 1.0);
  std::vector<const char*> texts(n);
  for (PLINT i = 0; i < n; ++i) {
    const auto& e = entries[i];
    opt[i] = e.kind == LegendEntry::line ? PL_LEGEND_LINE : PL_LEGEND_COLOR_BOX;
    line_colours[i] = box_colours[i] = colour_index(e.colour);
    line_styles[i] = e.style;
    line_widths[i] = e.width;
    texts[i] = e.text.c_str();
  }
  // "out": to the right of the panel, top aligned.
  const bool outside = corner == "out";
  PLINT position = (outside ? PL_POSITION_OUTSIDE : PL_POSITION_INSIDE) | PL_POSITION_VIEWPORT;
  if (outside) {
    position |= PL_POSITION_RIGHT;
  } else {
    position |= corner[0] == 't' ? PL_POSITION_TOP : PL_POSITION_BOTTOM;
    position |= corner[1] == 'r' ? PL_POSITION_RIGHT : PL_POSITION_LEFT;
  }
  const int bg = colour_index(palette::white, 0.85);
  PLFLT w = 0, h = 0;
  pls_->width(1.0);
  char_scale(1.0);
  pls_->legend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, position, outside ? 0.01 : 0.02, outside ? 0.0 : 0.03, 0.06, bg, 1, 1, 0, 0, n,
               opt.data(), 0.8, scale, 1.8, 0.0, text_colours.data(), texts.data(), box_colours.data(),
               box_patterns.data(), box_scales.data(), box_line_widths.data(), line_colours.data(),
               line_styles.data(), line_widths.data(), nullptr, nullptr, nullptr, nullptr);
  pls_->lsty(1);
}

Rgb colour_at(const ColourMap& map, double x) {
  const auto& pts = map.points;
  if (x <= pts.front().first) return pts.front().second;
  for (std::size_t k = 1; k < pts.size(); ++k) {
    if (x > pts[k].first) continue;
    const double f = (x - pts[k - 1].first) / (pts[k].first - pts[k - 1].first);
    const Rgb a = pts[k - 1].second, b = pts[k].second;
    auto mix = [f](std::uint8_t u, std::uint8_t v) { return static_cast<std::uint8_t>(std::lround(u + f * (v - u))); };
    return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
  }
  return pts.back().second;
}

void Canvas::load_map(const ColourMap& map) {
  constexpr int n = 256;
  std::vector<PLINT> r(n), g(n), b(n);
  const auto& p = map.points;
  for (int i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / (n - 1);
    std::size_t k = 0;
    while (k + 2 < p.size() && t > p[k + 1].first) ++k;
    const double span = p[k + 1].first - p[k].first;
    const double f = span > 0 ? std::clamp((t - p[k].first) / span, 0.0, 1.0) : 0.0;
    const Rgb a = p[k].second, c = p[k + 1].second;
    r[i] = static_cast<PLINT>(std::lround(a.r + f * (c.r - a.r)));
    g[i] = static_cast<PLINT>(std::lround(a.g + f * (c.g - a.g)));
    b[i] = static_cast<PLINT>(std::lround(a.b + f * (c.b - a.b)));
  }
  pls_->scmap1n(n);
  pls_->scmap1(r.data(), g.data(), b.data(), n);
}

void Canvas::image(const std::vector<double>& values, int nx, int ny, const ColourMap& map, double v_min,
                   double v_max) {
  load_map(map);
  // PLplot wants columns: data[ix][iy].
  std::vector<PLFLT> columns(static_cast<std::size_t>(nx) * ny);
  std::vector<const PLFLT*> rows(nx);
  for (int ix = 0; ix < nx; ++ix) {
    for (int iy = 0; iy < ny; ++iy) columns[static_cast<std::size_t>(ix) * ny + iy] = values[static_cast<std::size_t>(iy) * nx + ix];
    rows[ix] = &columns[static_cast<std::size_t>(ix) * ny];
  }
  // plimagefr puts the cell of data[0][0] at (xmin, ymin) and that of
  // data[nx-1][ny-1] at (xmax, ymax), each cell (xmax - xmin) / (nx - 1)
  // wide: the cells tile the window only when the last one starts one cell
  // before its end (otherwise the image is stretched by nx / (nx - 1) and
  // the far row and column fall outside the frame).
  const double x0 = tx(axes_.x_min), x1 = tx(axes_.x_max), y0 = ty(axes_.y_min), y1 = ty(axes_.y_max);
  const double x_last = nx > 1 ? x0 + (x1 - x0) * (nx - 1) / nx : x1;
  const double y_last = ny > 1 ? y0 + (y1 - y0) * (ny - 1) / ny : y1;
  pls_->imagefr(rows.data(), nx, ny, x0, x_last, y0, y_last, v_min, v_max, v_min, v_max, nullptr, nullptr);
  // The frame again, over the image's edge cells.
  pls_->col0(1);
  pls_->box("bc", 0, 0, "bc", 0, 0);
}

void Canvas::colour_bar(const Box& box, const ColourMap& map, double v_min, double v_max, const std::string& label,
                        double tick) {
  Axes saved = axes_;
  const int n = 256;
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = v_min + (v_max - v_min) * (i + 0.5) / n;
  axes_ = Axes{};
  axes_.y_min = v_min;
  axes_.y_max = v_max;
  pls_->vpor(box.x0, box.x1, box.y0, box.y1);
  pls_->wind(0, 1, v_min, v_max);
  std::vector<double> two(2 * n);  // PLplot needs at least 2 columns
  for (int i = 0; i < n; ++i) two[2 * i] = two[2 * i + 1] = v[i];
  image(two, 2, n, map, v_min, v_max);
  pls_->col0(1);
  pls_->box("bc", 0, 0, "bcmst", tick, 0);
  pls_->mtex("r", 4.2, 0.5, 0.5, label.c_str());
  axes_ = saved;
}

}  // namespace homeostat::plot
