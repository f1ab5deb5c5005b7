// A PNG figure drawn with PLplot: one PLplot stream per Canvas, ended and
// renamed into place by finish(). Keeps the figure code free of PLplot's
// C-style calls: panels with axes and labels, lines, filled histograms,
// images with a colour bar, legends. Log axes take data in linear units.
//
// Not thread-safe by itself: the caller holds plot_mutex() while a Canvas
// lives (see figures.hpp).
#pragma once

#include "palette.hpp"

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

class plstream;

namespace homeostat::plot {

// The one lock around every PLplot call in the process.
std::mutex& plot_mutex();

struct Box {  // a viewport in normalised page coordinates (0..1)
  double x0, x1, y0, y1;
};

struct Axes {
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  bool log_x = false, log_y = false;
  std::string x_label, y_label, title;
  bool x_numbers = true, y_numbers = true;  // tick labels
  double x_tick = 0, y_tick = 0;            // major tick interval (linear axes), 0 = PLplot's choice
  bool ticks = true;                        // false: the frame alone (a heatmap of labelled cells)
  int y_digits = 0;  // y tick labels with up to this many digits are written out, not as "(x10^k)"; 0 = PLplot's 4
};

struct LegendEntry {
  std::string text;
  Rgb colour;
  enum Kind { line, box } kind = line;
  int style = 1;  // PLplot line style: 1 solid, 2 dashed, 3 dotted ...
  double width = 2.0;
};

// A colour map for images and colour bars: control points (position 0..1,
// colour), interpolated linearly in RGB.
struct ColourMap {
  std::vector<std::pair<double, Rgb>> points;
};

// The colour of `x` in [0, 1] on `map` (linear between its control points):
// cells drawn as rectangles in the colours of a colour_bar.
Rgb colour_at(const ColourMap& map, double x);

class Canvas {
 public:
  Canvas(std::filesystem::path png, int width, int height);
  ~Canvas();
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  // Ends the stream (the driver writes the PNG) and renames it into place.
  void finish();

  // Figure title above everything, and an optional smaller second line.
  void title(const std::string& text, const std::string& subtitle = {});
  // rows x cols panels inside `area`, row-major from the top left, with room
  // for axis labels between them (gaps in normalised page units).
  static std::vector<Box> grid(int rows, int cols, Box area = {0.08, 0.97, 0.1, 0.86}, double gap_x = 0.07,
                               double gap_y = 0.11);

  // Sets viewport and window, draws the frame, ticks and labels.
  void panel(const Box& box, const Axes& axes);
  // The current panel's axes (after panel()).
  const Axes& axes() const { return axes_; }

  void line(const std::vector<double>& x, const std::vector<double>& y, Rgb colour, double width = 1.5,
            int style = 1);
  // Segments (x0[i], y0[i]) - (x1[i], y1[i]), e.g. spike ticks.
  void segments(const std::vector<double>& x0, const std::vector<double>& y0, const std::vector<double>& x1,
                const std::vector<double>& y1, Rgb colour, double width = 1.0);
  void vline(double x, Rgb colour, double width = 2.0, int style = 2);
  void hline(double y, Rgb colour, double width = 2.0, int style = 2);
  void points(const std::vector<double>& x, const std::vector<double>& y, Rgb colour, double scale = 1.0);
  void error_bars(const std::vector<double>& x, const std::vector<double>& lo, const std::vector<double>& hi,
                  Rgb colour, double width = 1.5);
  // A histogram: bars over edges[k]..edges[k+1] of height values[k], filled
  // with a light tint of `colour` and outlined in it.
  void histogram(const std::vector<double>& edges, const std::vector<double>& values, Rgb colour,
                 double fill_alpha = 0.3);
  void rectangle(double x0, double x1, double y0, double y1, Rgb colour, double alpha = 1.0);
  // Text at world (x, y); just 0 = left, 0.5 = centred, 1 = right.
  void text(double x, double y, const std::string& s, double just = 0.5, Rgb colour = palette::black,
            double scale = 1.0, bool vertical = false);
  // Text relative to the current panel's edge (PLplot mtex): side "t", "b",
  // "l", "r" (add "v" for perpendicular), displacement in character heights.
  void edge_text(const std::string& side, double disp, double pos, double just, const std::string& s,
                 double scale = 1.0, Rgb colour = palette::black);
  // Legend inside the current panel, corner "tr", "tl", "br", "bl", or
  // "out": outside on the right, centred vertically.
  void legend(const std::vector<LegendEntry>& entries, const std::string& corner = "tr", double scale = 0.85);

  // values [ny][nx] row-major (row 0 at y_min) over the current panel's
  // window; cells outside [v_min, v_max] (e.g. 0 = no synapse) are left blank.
  void image(const std::vector<double>& values, int nx, int ny, const ColourMap& map, double v_min, double v_max);
  // A vertical colour bar in `box` for [v_min, v_max], labelled on its right;
  // `tick`: the interval of its numbers (0 = PLplot's choice).
  void colour_bar(const Box& box, const ColourMap& map, double v_min, double v_max, const std::string& label,
                  double tick = 0);

  void char_scale(double scale);  // relative to the default character height
  // Height of one line of text at scale 1, as a fraction of the page height:
  // text keeps its size in pixels, so layouts that must fit text between
  // panels (titles of stacked panels) scale their gaps with it.
  double line_height() const;
  int width_px() const { return width_; }
  int height_px() const { return height_; }

 private:
  int colour_index(Rgb c, double alpha = 1.0);
  void load_map(const ColourMap& map);
  double tx(double x) const;  // data -> window (log10 on log axes)
  double ty(double y) const;
  static double y_tick_chars(const Axes& axes);  // estimated width of the y tick labels [characters]

  std::filesystem::path png_, temp_;
  int width_ = 0, height_ = 0;
  std::unique_ptr<plstream> pls_;
  Axes axes_;
  int next_colour_ = 16;
  double base_scale_ = 0.85;  // every text, relative to PLplot's default height
  bool finished_ = false;
};

}  // namespace homeostat::plot
