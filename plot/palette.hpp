// Colours of every figure. Okabe & Ito's colour-blind-safe palette; each
// recurrent cell type keeps one colour everywhere (type 0, excitatory in the
// defaults: blue; type 1, inhibitory: vermillion), input types another set.
#pragma once

#include <cstdint>

namespace homeostat::plot {

struct Rgb {
  std::uint8_t r, g, b;
  bool operator==(const Rgb&) const = default;
};

namespace palette {
inline constexpr Rgb black{0, 0, 0};
inline constexpr Rgb grey{120, 120, 120};
inline constexpr Rgb dark_grey{70, 70, 70};
inline constexpr Rgb light_grey{200, 200, 200};
inline constexpr Rgb white{255, 255, 255};
inline constexpr Rgb blue{0, 114, 178};
inline constexpr Rgb vermillion{213, 94, 0};
inline constexpr Rgb orange{230, 159, 0};
inline constexpr Rgb sky_blue{86, 180, 233};
inline constexpr Rgb bluish_green{0, 158, 115};
inline constexpr Rgb reddish_purple{204, 121, 167};
inline constexpr Rgb yellow{240, 228, 66};
}  // namespace palette

// Colour of recurrent cell type `type` (index into recurrent.type_names).
inline Rgb type_colour(int type) {
  constexpr Rgb colours[] = {palette::blue, palette::vermillion, palette::orange, palette::sky_blue,
                             palette::reddish_purple, palette::yellow};
  return colours[static_cast<unsigned>(type) % 6];
}

// Colour of input (feedforward) type `type`.
inline Rgb input_colour(int type) {
  constexpr Rgb colours[] = {palette::bluish_green, palette::reddish_purple, palette::orange};
  return colours[static_cast<unsigned>(type) % 3];
}

}  // namespace homeostat::plot
