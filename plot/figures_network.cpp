// Network structure: block densities, weight matrices, in-degrees and
// summed synaptic input.
#include "figure_common.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace homeostat::plot {

namespace {

// Light to dark, colour-blind-safe (ColorBrewer YlGnBu).
const ColourMap sequential{{{0.0, {255, 255, 217}}, {0.25, {199, 233, 180}}, {0.5, {65, 182, 196}},
                            {0.75, {34, 94, 168}}, {1.0, {8, 29, 88}}}};
// Inhibitory (negative, vermillion) - excitatory (positive, blue): the
// colours of the cell types.
const ColourMap diverging{{{0.0, {110, 40, 0}}, {0.25, {213, 94, 0}}, {0.499, {250, 222, 200}}, {0.5, {255, 255, 255}},
                           {0.501, {205, 228, 245}}, {0.75, {0, 114, 178}}, {1.0, {0, 45, 95}}}};

// A group of consecutive rows/columns to label on a matrix axis.
struct Group {
  double from, to;  // matrix coordinates
  std::string label;
  Rgb colour;
};

// Labels the groups along the bottom (x) and left (y, top = first) of the
// current panel and separates them with lines. `flip_y`: matrix row r is
// drawn at y = size - r.
void label_groups(Canvas& c, const std::vector<Group>& x_groups, const std::vector<Group>& y_groups, double x_size,
                  double y_size) {
  for (std::size_t g = 0; g < x_groups.size(); ++g) {
    const auto& gr = x_groups[g];
    c.edge_text("b", 1.1, (gr.from + gr.to) / 2 / x_size, 0.5, gr.label, 0.9, gr.colour);
    if (g > 0) c.line({gr.from, gr.from}, {0, y_size}, palette::black, 1.5);
  }
  for (std::size_t g = 0; g < y_groups.size(); ++g) {
    const auto& gr = y_groups[g];
    c.edge_text("l", 1.0, 1 - (gr.from + gr.to) / 2 / y_size, 0.5, gr.label, 0.9, gr.colour);
    if (g > 0) c.line({0, x_size}, {y_size - gr.from, y_size - gr.from}, palette::black, 1.5);
  }
}

// Type groups over a sorted order of neurons.
std::vector<Group> type_groups(const RunData& d, const std::vector<std::int64_t>& order, double scale) {
  std::vector<Group> out;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const int t = d.network.cell_type[order[k]];
    if (out.empty() || out.back().label != type_name(d, t)) out.push_back({k * scale, k * scale, type_name(d, t), type_colour(t)});
    out.back().to = (k + 1) * scale;
  }
  return out;
}

// A square panel of height `h` (page units) at left x0 on a width x height page.
Box square(const FigureOptions& o, double x0, double y0, double h) {
  const double w = h * o.height / o.width;
  return {x0, x0 + w, y0, y0 + h};
}

void draw_binned_matrix(const RunData& d, const FigureOptions& o, Canvas& c, const Csr& csr,
                        const std::vector<std::int64_t>& pre_pos, const std::vector<std::int64_t>& post_pos,
                        const std::vector<double>& sign, Box box, const std::string& x_label, const std::string& y_label,
                        const std::string& bar_label, const ColourMap& map, bool signed_scale,
                        const std::vector<Group>& x_groups, const std::vector<Group>& y_groups) {
  (void)d;
  const std::int64_t n_pre = csr.n_pre, n_post = csr.n_post;
  const std::int64_t bin = std::max<std::int64_t>(
      1, (std::max(n_pre, n_post) + o.matrix_max_bins - 1) / o.matrix_max_bins);
  const int nx = static_cast<int>((n_post + bin - 1) / bin), ny = static_cast<int>((n_pre + bin - 1) / bin);
  std::vector<double> v(static_cast<std::size_t>(nx) * ny, 0.0);
  for (std::int64_t i = 0; i < n_pre; ++i) {
    const std::int64_t row = ny - 1 - pre_pos[i] / bin;  // first neuron at the top
    for (std::int64_t e = csr.row_ptr[i]; e < csr.row_ptr[i + 1]; ++e)
      v[static_cast<std::size_t>(row) * nx + post_pos[csr.post[e]] / bin] += sign[i] * csr.weight[e];
  }
  std::vector<double> magnitudes;
  for (const double x : v)
    if (x != 0) magnitudes.push_back(std::abs(x));
  // Robust range: the 99th percentile, so that a few large log-normal
  // weights do not wash out the rest.
  const double v_max = std::max(quantile(magnitudes, 0.99), 1e-12);
  const double blank = 3 * v_max;  // outside the range: not drawn
  for (auto& x : v) x = x == 0 ? blank : std::clamp(x, -v_max, v_max);
  const double lo = signed_scale ? -v_max : 0.0;
  c.panel(box, Axes{0, static_cast<double>(n_post), 0, static_cast<double>(n_pre), false, false, "", "", "", false,
                    false});
  c.image(v, nx, ny, map, signed_scale ? lo : v_max * 1e-9, v_max);
  label_groups(c, x_groups, y_groups, static_cast<double>(n_post), static_cast<double>(n_pre));
  c.edge_text("b", 2.6, 0.5, 0.5, x_label);
  c.edge_text("l", 2.3, 0.5, 0.5, y_label);
  // Each image cell sums a block of bin x bin neurons (kept short: the label
  // runs along the bar and must fit its height).
  const std::string bins = bin > 1 ? fmt::format(" per {} x {} neurons", bin, bin) : "";
  c.colour_bar({box.x1 + 0.025, box.x1 + 0.045, box.y0, box.y1}, map, lo, v_max, bar_label + bins);
}

}  // namespace

void draw_assembly_graph(const RunData& d, const FigureOptions& o, Canvas& c) {
  const Network& net = d.network;
  // Blocks: (type, assembly), assembly -1 ("none") last within a type.
  std::vector<std::pair<int, int>> blocks;
  for (std::int64_t i = 0; i < net.n; ++i) blocks.emplace_back(net.cell_type[i], net.assembly[i] < 0 ? 1 << 30 : net.assembly[i]);
  std::sort(blocks.begin(), blocks.end());
  blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
  const int nb = static_cast<int>(blocks.size());
  std::vector<int> block_of(net.n);
  std::vector<double> size(nb, 0.0);
  for (std::int64_t i = 0; i < net.n; ++i) {
    const std::pair<int, int> key{net.cell_type[i], net.assembly[i] < 0 ? 1 << 30 : net.assembly[i]};
    block_of[i] = static_cast<int>(std::lower_bound(blocks.begin(), blocks.end(), key) - blocks.begin());
    size[block_of[i]] += 1;
  }
  std::vector<double> edges(static_cast<std::size_t>(nb) * nb, 0.0);
  for (std::int64_t i = 0; i < net.n; ++i)
    for (std::int64_t e = net.recurrent.row_ptr[i]; e < net.recurrent.row_ptr[i + 1]; ++e)
      edges[static_cast<std::size_t>(block_of[i]) * nb + block_of[net.recurrent.post[e]]] += 1;
  std::vector<double> v(static_cast<std::size_t>(nb) * nb);
  double v_max = 0;
  for (int a = 0; a < nb; ++a)
    for (int b = 0; b < nb; ++b) {
      const double pairs = size[a] * (size[b] - (a == b ? 1 : 0));
      const double p = pairs > 0 ? edges[static_cast<std::size_t>(a) * nb + b] / pairs : 0.0;
      v[static_cast<std::size_t>(nb - 1 - a) * nb + b] = p;  // presynaptic block a: row from the top
      v_max = std::max(v_max, p);
    }
  v_max = nice_ceil(v_max);
  c.title("Assembly graph", "connection probability between blocks of neurons (cell type, assembly number)");
  const Box box = square(o, 0.26, 0.14, 0.7);
  c.panel(box, Axes{0, static_cast<double>(nb), 0, static_cast<double>(nb), false, false, "", "", "", false, false});
  c.image(v, nb, nb, sequential, -1e-12, v_max);
  // Assembly numbers on the blocks (every k-th when crowded), type groups.
  const int every = nb <= 24 ? 1 : (nb <= 48 ? 2 : 5);
  std::vector<Group> groups;
  for (int b = 0; b < nb; ++b) {
    const auto [t, a] = blocks[b];
    if (groups.empty() || groups.back().label != type_name(d, t)) groups.push_back({double(b), double(b), type_name(d, t), type_colour(t)});
    groups.back().to = b + 1;
    if (b % every == 0) {
      const std::string s = a == 1 << 30 ? "-" : std::to_string(a);
      c.edge_text("b", 1.0, (b + 0.5) / nb, 0.5, s, 0.7);
      c.edge_text("lv", 0.6, 1 - (b + 0.5) / nb, 1.0, s, 0.7);
    }
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& gr = groups[g];
    c.edge_text("b", 2.3, (gr.from + gr.to) / 2 / nb, 0.5, gr.label, 1.0, gr.colour);
    c.edge_text("l", 2.4, 1 - (gr.from + gr.to) / 2 / nb, 0.5, gr.label, 1.0, gr.colour);
    if (g > 0) {
      c.line({gr.from, gr.from}, {0, double(nb)}, palette::black, 2.0);
      c.line({0, double(nb)}, {nb - gr.from, nb - gr.from}, palette::black, 2.0);
    }
  }
  c.edge_text("b", 3.7, 0.5, 0.5, "postsynaptic block: cell type, assembly number");
  c.edge_text("l", 3.9, 0.5, 0.5, "presynaptic block: cell type, assembly number");
  c.colour_bar({box.x1 + 0.03, box.x1 + 0.05, box.y0, box.y1}, sequential, 0, v_max,
               "connection probability (edges / neuron pairs)");
}

void draw_connectivity_matrix(const RunData& d, const FigureOptions& o, Canvas& c) {
  const auto order = type_assembly_order(d);
  std::vector<std::int64_t> pos(d.network.n);
  for (std::size_t k = 0; k < order.size(); ++k) pos[order[k]] = static_cast<std::int64_t>(k);
  std::vector<double> sign(d.network.n);
  for (std::int64_t i = 0; i < d.network.n; ++i) sign[i] = is_inhibitory(d.config, d.network.cell_type[i]) ? -1.0 : 1.0;
  const auto groups = type_groups(d, order, 1.0);
  c.title("Recurrent connectivity",
          "synaptic weights, inhibitory shown negative; neurons sorted by cell type, then assembly");
  draw_binned_matrix(d, o, c, d.network.recurrent, pos, pos, sign, square(o, 0.24, 0.12, 0.72),
                     "postsynaptic neuron", "presynaptic neuron", "summed weight [x g_bar]", diverging, true, groups,
                     groups);
}

void draw_feedforward_connectivity(const RunData& d, const FigureOptions& o, Canvas& c) {
  const auto order = type_assembly_order(d);
  std::vector<std::int64_t> post_pos(d.network.n), pre_pos(d.network.m);
  for (std::size_t k = 0; k < order.size(); ++k) post_pos[order[k]] = static_cast<std::int64_t>(k);
  for (std::int64_t j = 0; j < d.network.m; ++j) pre_pos[j] = j;  // inputs are contiguous blocks of their type
  std::vector<double> sign(d.network.m, 1.0);
  std::vector<Group> input_groups;
  for (std::int64_t j = 0; j < d.network.m; ++j) {
    const int t = d.network.input_type[j];
    const auto& name = d.config.feedforward.type_names.at(t);
    if (input_groups.empty() || input_groups.back().label != name) input_groups.push_back({double(j), double(j), name, input_colour(t)});
    input_groups.back().to = j + 1;
  }
  const ColourMap map{{{0.0, {215, 240, 228}}, {0.5, {0, 158, 115}}, {1.0, {0, 60, 42}}}};
  c.title("Feedforward connectivity", "input weights onto the network; neurons sorted by cell type, then assembly");
  draw_binned_matrix(d, o, c, d.network.feedforward, pre_pos, post_pos, sign, {0.1, 0.8, 0.12, 0.84},
                     "postsynaptic neuron", "input neuron", "summed weight [x g_bar]", map, false,
                     type_groups(d, order, 1.0), input_groups);
}

namespace {

// In-degree (count) or summed weight into every neuron from each source:
// recurrent types first, then input types. [source][neuron]
std::vector<std::vector<double>> input_by_source(const RunData& d, bool weights, std::vector<std::string>& names,
                                                 std::vector<Rgb>& colours) {
  const int nt = n_types(d);
  const int ni = static_cast<int>(d.config.feedforward.type_names.size());
  std::vector<std::vector<double>> out(nt + ni, std::vector<double>(d.network.n, 0.0));
  for (int t = 0; t < nt; ++t) names.push_back(type_name(d, t)), colours.push_back(type_colour(t));
  for (int t = 0; t < ni; ++t) names.push_back(d.config.feedforward.type_names[t]), colours.push_back(input_colour(t));
  const Csr& r = d.network.recurrent;
  for (std::int64_t i = 0; i < r.n_pre; ++i)
    for (std::int64_t e = r.row_ptr[i]; e < r.row_ptr[i + 1]; ++e)
      out[d.network.cell_type[i]][r.post[e]] += weights ? r.weight[e] : 1.0;
  const Csr& f = d.network.feedforward;
  for (std::int64_t j = 0; j < f.n_pre; ++j)
    for (std::int64_t e = f.row_ptr[j]; e < f.row_ptr[j + 1]; ++e)
      out[nt + d.network.input_type[j]][f.post[e]] += weights ? f.weight[e] : 1.0;
  return out;
}

void draw_input_histograms(const RunData& d, const FigureOptions&, Canvas& c, bool weights) {
  std::vector<std::string> names;
  std::vector<Rgb> colours;
  const auto by_source = input_by_source(d, weights, names, colours);
  const auto members = members_by_type(d);
  const int ns = static_cast<int>(by_source.size());
  const auto boxes = Canvas::grid(1, ns, {0.08, 0.98, 0.22, 0.82}, 0.06);
  c.title(weights ? "Synaptic input per neuron" : "In-degree per neuron",
          weights ? "summed weight of the synapses into each neuron, by presynaptic cell type"
                  : "number of synapses into each neuron, by presynaptic cell type; side by side: one bar per "
                    "postsynaptic type");
  for (int s = 0; s < ns; ++s) {
    const auto& x = by_source[s];
    double lo = quantile(x, 0.0), hi = quantile(x, 1.0);
    // A narrow spread (the configuration method balances degrees to within
    // one) is shown around its mean, not stretched over the panel.
    const double centre = (lo + hi) / 2, min_span = std::max(weights ? 1e-6 : 10.0, (weights ? 0.3 : 0.1) * std::abs(centre));
    if (hi - lo < min_span) lo = std::max(0.0, centre - min_span / 2), hi = centre + min_span / 2;
    double a = std::floor(lo), b = std::ceil(hi) + 1;
    int bins = 40;
    // Counts over a small range: one bin per integer, the types' bars side
    // by side inside it (a single-valued distribution would hide another).
    const bool integer_bins = !weights && b - a <= 60;
    if (integer_bins) bins = static_cast<int>(b - a), a -= 0.5, b -= 0.5;
    if (weights) {
      const double span = hi - lo;
      a = std::max(0.0, lo - 0.05 * span);
      b = hi + 0.05 * span;
    }
    const auto edges = linear_edges(a, b, std::max(bins, 1));
    std::vector<std::vector<double>> h;
    double y_max = 0;
    for (const auto& m : members) {
      std::vector<double> vals;
      for (const auto i : m) vals.push_back(x[i]);
      h.push_back(histogram_fractions(vals, edges));
      for (const double f : h.back()) y_max = std::max(y_max, f);
    }
    Axes axes{a, b, 0, fraction_axis_max(y_max), false, false, weights ? "summed weight [x g_bar]" : "synapses in",
              s == 0 ? "fraction of neurons" : "", ""};
    c.panel(boxes[s], axes);
    const auto nt = static_cast<double>(members.size());
    for (std::size_t t = 0; t < members.size(); ++t) {
      if (members[t].empty()) continue;
      const Rgb colour = type_colour(static_cast<int>(t));
      if (integer_bins) {
        const double w = 0.8 / nt;
        for (std::size_t k = 0; k + 1 < edges.size(); ++k) {
          if (h[t][k] <= 0) continue;
          const double x0 = edges[k] + 0.1 + w * static_cast<double>(t);
          c.rectangle(x0, x0 + w, 0, h[t][k], colour, 0.55);
          c.line({x0, x0, x0 + w, x0 + w}, {0, h[t][k], h[t][k], 0}, colour, 1.5);
        }
      } else {
        c.histogram(edges, h[t], colour, 0.25);
      }
      double mean = 0;
      for (const auto i : members[t]) mean += x[i];
      mean /= static_cast<double>(members[t].size());
      // The legend below the axis, in the type's colour: no box over the bars.
      c.edge_text("b", 5.4 + 1.3 * static_cast<double>(t), 0.5, 0.5,
                  fmt::format("onto {}: mean {}", type_name(d, static_cast<int>(t)), format_number(mean)), 0.85,
                  colour);
    }
    c.edge_text("t", 0.8, 0.5, 0.5, "from " + names[s], 1.0, colours[s]);
  }
}

}  // namespace

void draw_in_degree(const RunData& d, const FigureOptions& o, Canvas& c) { draw_input_histograms(d, o, c, false); }
void draw_synaptic_input(const RunData& d, const FigureOptions& o, Canvas& c) { draw_input_histograms(d, o, c, true); }

}  // namespace homeostat::plot
