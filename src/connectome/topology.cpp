// Topology generators (MODEL.md section 2) and log-normal weights.
//
// A *block* is the set of allowed pairs for one (pre type a, post type b) and
// one kind: recurrent within-assembly, recurrent between, or feedforward.
// Recurrent pair (j, i) is allowed when j != i; it is "within" when
// assembly[j] == assembly[i] != -1, else "between".
//
// erdos-renyi: every allowed pair independently with its probability, drawn
//   by geometric skipping over the candidate posts of each (pre, post type),
//   so the cost is O(edges), not O(pairs).
// configuration: per block exactly round(p * C) edges (C = allowed pairs),
//   built in four steps: balanced out-degree targets, a greedy fill that
//   keeps in-degrees balanced, a repair pass for in-degrees, and
//   degree-preserving double-edge swaps that randomize the graph. The within
//   block is realized assembly by assembly (its pairs decompose that way), its
//   total apportioned over assemblies in proportion to their pairs.
//
// "Out- and in-degrees differ by at most one where the block allows it"
// means, here:
// - out-degrees: within each realized block (a within block: within each
//   assembly), every pre neuron gets min(cap_j, t) or t + 1 edges, cap_j being
//   its number of allowed posts: the spread is <= 1 except for neurons that
//   hold every allowed pair (cap_j < t), which cannot take more.
// - in-degrees: the same target, approached greedily and then repaired by
//   moving single edges k -> hi onto k -> lo (hi the most, lo the least
//   connected post that still has an unused allowed pair) until the spread is
//   <= 1 or no such move exists. With sparse blocks (any p < 1 on networks of
//   more than a handful of neurons) the spread ends <= 1.
// - across assemblies of a within block: the per-assembly totals differ by at
//   most one edge, so block-wide spreads are <= 1 when the assemblies have
//   the same type composition (S * p_c integral, as in the reference); with
//   uneven assemblies they may reach 2.
#include "topology.hpp"

#include "apportion.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace homeostat::detail {

namespace {

// Swap attempts per edge: each edge is picked ~2x this often, enough to erase
// the greedy fill's structure (see tests/stats: common-target statistics).
constexpr std::int64_t swaps_per_edge = 10;
// Sub-stream b of the recurrent topology stream used to break ties when a
// within block's total is split over assemblies (b = 0 is the between block,
// b = 1 + g the within block of assembly g).
constexpr std::uint32_t split_substream = 0xffffffffu;

// ---------------------------------------------------------------- grouping

struct Groups {
  std::vector<std::vector<std::int32_t>> by_type;                         // [type][k]
  std::vector<std::vector<std::vector<std::int32_t>>> by_type_assembly;   // [type][g][k]
};

Groups group_neurons(const std::vector<std::int32_t>& type, std::size_t n_types,
                     const std::vector<std::int32_t>* assembly, std::int64_t n_assemblies) {
  Groups groups;
  groups.by_type.resize(n_types);
  groups.by_type_assembly.assign(
      n_types, std::vector<std::vector<std::int32_t>>(static_cast<std::size_t>(n_assemblies)));
  for (std::size_t k = 0; k < type.size(); ++k) {
    const auto id = static_cast<std::int32_t>(k);
    groups.by_type[type[k]].push_back(id);
    if (assembly && (*assembly)[k] >= 0)
      groups.by_type_assembly[type[k]][(*assembly)[k]].push_back(id);
  }
  return groups;
}

// ------------------------------------------------------------ erdos-renyi

// Calls visit(candidates[k]) for each k independently with probability p:
// the gap to the next success is geometric, floor(ln U / ln(1 - p)).
template <class Visit>
void for_each_bernoulli(const std::vector<std::int32_t>& candidates, double p, Philox& rng,
                        Visit&& visit) {
  const auto n = static_cast<std::int64_t>(candidates.size());
  if (!(p > 0.0) || n == 0) return;
  if (p >= 1.0) {
    for (std::int32_t c : candidates) visit(c);
    return;
  }
  const double log_q = std::log1p(-p);
  for (std::int64_t k = -1;;) {
    const double gap = std::floor(std::log(rng.uniform_open()) / log_q);
    if (gap >= static_cast<double>(n - 1 - k)) break;
    k += 1 + static_cast<std::int64_t>(gap);
    visit(candidates[static_cast<std::size_t>(k)]);
  }
}

// Sub-streams (a, b) = (pre j, 2 * post type + {0 within, 1 between}). The
// candidate lists hold more than the block (the pre itself; for "between",
// the pre's own assembly): hits there are dropped, which leaves every allowed
// pair an independent Bernoulli draw with its probability.
EdgeList erdos_renyi_recurrent(const RecurrentConfig& rc, const Groups& groups,
                               const std::vector<std::int32_t>& cell_type,
                               const std::vector<std::int32_t>& assembly, std::uint64_t seed) {
  EdgeList edges;
  const std::size_t n_types = groups.by_type.size();
  for (std::size_t j = 0; j < cell_type.size(); ++j) {
    const auto pre = static_cast<std::int32_t>(j);
    const std::int32_t a = cell_type[j];
    const std::int32_t g = assembly[j];
    auto add = [&](std::int32_t post) {
      edges.pre.push_back(pre);
      edges.post.push_back(post);
    };
    for (std::size_t b = 0; b < n_types; ++b) {
      const auto sub = static_cast<std::uint32_t>(2 * b);
      if (g >= 0) {
        Philox rng(seed, Stream::recurrent_topology, static_cast<std::uint32_t>(j), sub);
        for_each_bernoulli(groups.by_type_assembly[b][g], rc.conn_within[a][b], rng,
                           [&](std::int32_t i) { if (i != pre) add(i); });
      }
      Philox rng(seed, Stream::recurrent_topology, static_cast<std::uint32_t>(j), sub + 1);
      for_each_bernoulli(groups.by_type[b], rc.conn_between[a][b], rng, [&](std::int32_t i) {
        if (i != pre && (g < 0 || assembly[i] != g)) add(i);
      });
    }
  }
  return edges;
}

// ---------------------------------------------------------- configuration

// Membership of (local pre, local post) pairs: a bitset while it is small
// (the reference's largest block, 4000 x 4000, is 2 MB), a hash set beyond.
class PairSet {
 public:
  PairSet(std::int64_t n_pre, std::int64_t n_post) : n_post_(n_post) {
    const std::int64_t n_bits = n_pre * n_post;
    use_bits_ = n_bits <= (std::int64_t{1} << 28);
    if (use_bits_) bits_.assign(static_cast<std::size_t>((n_bits + 63) / 64), 0);
  }
  bool contains(std::int32_t j, std::int32_t i) const {
    const std::uint64_t k = key(j, i);
    return use_bits_ ? (bits_[k >> 6] >> (k & 63)) & 1 : hashed_.count(k) != 0;
  }
  void insert(std::int32_t j, std::int32_t i) {
    const std::uint64_t k = key(j, i);
    if (use_bits_) bits_[k >> 6] |= std::uint64_t{1} << (k & 63);
    else hashed_.insert(k);
  }
  void erase(std::int32_t j, std::int32_t i) {
    const std::uint64_t k = key(j, i);
    if (use_bits_) bits_[k >> 6] &= ~(std::uint64_t{1} << (k & 63));
    else hashed_.erase(k);
  }

 private:
  std::uint64_t key(std::int32_t j, std::int32_t i) const {
    return static_cast<std::uint64_t>(j) * static_cast<std::uint64_t>(n_post_) +
           static_cast<std::uint64_t>(i);
  }
  std::int64_t n_post_;
  bool use_bits_;
  std::vector<std::uint64_t> bits_;
  std::unordered_set<std::uint64_t> hashed_;
};

// A block in local indices: pre j is neuron pre[j], post i is neuron post[i].
// A pair is allowed unless it is a self-pair (same_layer) or, when groups are
// given (the between block), both ends share an assembly.
struct Block {
  std::vector<std::int32_t> pre;         // [np] global ids
  std::vector<std::int32_t> post;        // [nq] global ids
  std::vector<std::int32_t> pre_group;   // [np] assembly, or empty
  std::vector<std::int32_t> post_group;  // [nq] assembly, or empty
  bool same_layer = false;               // pre and post index the same neurons

  bool allowed(std::int32_t j, std::int32_t i) const {
    if (same_layer && pre[j] == post[i]) return false;
    return pre_group.empty() || pre_group[j] < 0 || pre_group[j] != post_group[i];
  }
};

// Allowed partners per neuron: out[j] posts for pre j, in[i] pres for post i.
struct Caps {
  std::vector<std::int64_t> out;  // [np]
  std::vector<std::int64_t> in;   // [nq]
  std::int64_t pairs = 0;         // sum(out) == sum(in)
};

// cap(x) = |other side| - |other side in x's assembly| - [x itself on the
// other side and not already excluded by its assembly].
std::vector<std::int64_t> side_caps(const std::vector<std::int32_t>& self,
                                    const std::vector<std::int32_t>& self_group,
                                    const std::vector<std::int32_t>& other,
                                    const std::vector<std::int32_t>& other_group,
                                    bool same_layer) {
  std::vector<std::int64_t> group_size;
  for (std::int32_t g : other_group) {
    if (g < 0) continue;
    if (static_cast<std::size_t>(g) >= group_size.size()) group_size.resize(g + 1, 0);
    ++group_size[g];
  }
  std::vector<std::int32_t> others_sorted;
  if (same_layer) {
    others_sorted = other;
    std::sort(others_sorted.begin(), others_sorted.end());
  }
  std::vector<std::int64_t> cap(self.size());
  for (std::size_t x = 0; x < self.size(); ++x) {
    const std::int32_t g = self_group.empty() ? -1 : self_group[x];
    std::int64_t c = static_cast<std::int64_t>(other.size());
    if (g >= 0 && static_cast<std::size_t>(g) < group_size.size()) c -= group_size[g];
    const bool self_excluded_by_group = g >= 0;
    if (same_layer && !self_excluded_by_group &&
        std::binary_search(others_sorted.begin(), others_sorted.end(), self[x]))
      c -= 1;
    cap[x] = c;
  }
  return cap;
}

Caps block_caps(const Block& block) {
  Caps caps;
  caps.out = side_caps(block.pre, block.pre_group, block.post, block.post_group, block.same_layer);
  caps.in = side_caps(block.post, block.post_group, block.pre, block.pre_group, block.same_layer);
  caps.pairs = std::accumulate(caps.out.begin(), caps.out.end(), std::int64_t{0});
  return caps;
}

std::int64_t block_edge_count(double p, std::int64_t pairs) {
  if (!(p > 0.0)) return 0;
  return std::clamp<std::int64_t>(std::llround(p * static_cast<double>(pairs)), 0, pairs);
}

// Degrees as equal as the caps allow: min(cap_j, t), plus one for `total -
// sum` neurons chosen at random among those with cap_j > t, t the largest
// level with sum_j min(cap_j, t) <= total. Requires total <= sum(cap).
std::vector<std::int64_t> balanced_degrees(const std::vector<std::int64_t>& cap,
                                           std::int64_t total, Philox& rng) {
  auto filled = [&](std::int64_t t) {
    std::int64_t s = 0;
    for (std::int64_t c : cap) s += std::min(c, t);
    return s;
  };
  std::int64_t lo = 0, hi = cap.empty() ? 0 : *std::max_element(cap.begin(), cap.end());
  while (lo < hi) {  // largest t with filled(t) <= total
    const std::int64_t mid = lo + (hi - lo + 1) / 2;
    if (filled(mid) <= total) lo = mid;
    else hi = mid - 1;
  }
  std::vector<std::int64_t> degree(cap.size());
  std::vector<std::size_t> room;  // neurons that can take one more
  for (std::size_t j = 0; j < cap.size(); ++j) {
    degree[j] = std::min(cap[j], lo);
    if (cap[j] > lo) room.push_back(j);
  }
  const std::int64_t extra = total - filled(lo);
  for (std::int64_t k = 0; k < extra; ++k) {  // partial Fisher-Yates
    const auto r = static_cast<std::size_t>(k) + rng.below(room.size() - k);
    std::swap(room[k], room[r]);
    ++degree[room[k]];
  }
  return degree;
}

// A block's graph under construction, local indices. Edges are stored as
// (pre, post) pairs side by side: a swap touches two random edges, one cache
// line each.
struct LocalEdge {
  std::int32_t pre, post;
};

struct LocalGraph {
  std::vector<LocalEdge> edges;         // [n_edges]
  std::vector<std::int64_t> in_degree;  // [nq]
  PairSet pairs;

  LocalGraph(std::int64_t np, std::int64_t nq)
      : in_degree(static_cast<std::size_t>(nq), 0), pairs(np, nq) {}
  void add(std::int32_t j, std::int32_t i) {
    edges.push_back({j, i});
    ++in_degree[i];
    pairs.insert(j, i);
  }
};

// Each pre neuron, in random order, takes its out-degree's worth of allowed
// posts among those with the fewest in-edges so far (random among ties).
// `order` keeps the posts sorted by in-degree, run_start[c] being the first
// position with in-degree >= c, so raising a post's degree by one is a swap
// with the last of its run (the bucket trick of Batagelj-Zaversnik).
void greedy_fill(const Block& block, const std::vector<std::int64_t>& out_degree, Philox& rng,
                 LocalGraph& graph) {
  const auto np = static_cast<std::int64_t>(block.pre.size());
  const auto nq = static_cast<std::int64_t>(block.post.size());
  std::vector<std::int32_t> order(nq), pos(nq);
  std::iota(order.begin(), order.end(), 0);
  std::iota(pos.begin(), pos.end(), 0);
  std::vector<std::int64_t> run_start(static_cast<std::size_t>(np) + 2, nq);
  run_start[0] = 0;
  auto swap_positions = [&](std::int64_t x, std::int64_t y) {
    std::swap(order[x], order[y]);
    pos[order[x]] = static_cast<std::int32_t>(x);
    pos[order[y]] = static_cast<std::int32_t>(y);
  };

  std::vector<std::int32_t> pre_order(np);
  std::iota(pre_order.begin(), pre_order.end(), 0);
  rng.shuffle(pre_order);
  std::vector<std::int32_t> picks;
  for (std::int32_t j : pre_order) {
    const std::int64_t need = out_degree[j];
    picks.clear();
    // Walk the runs from the lowest in-degree up; inside a run, visit in
    // random order (partial Fisher-Yates) unless the whole run is wanted.
    for (std::int64_t s = 0; static_cast<std::int64_t>(picks.size()) < need && s < nq;) {
      const std::int64_t e = run_start[graph.in_degree[order[s]] + 1];
      const bool whole_run = need - static_cast<std::int64_t>(picks.size()) >= e - s;
      for (std::int64_t k = s; k < e && static_cast<std::int64_t>(picks.size()) < need; ++k) {
        if (!whole_run) swap_positions(k, k + static_cast<std::int64_t>(rng.below(e - k)));
        if (block.allowed(j, order[k])) picks.push_back(order[k]);
      }
      s = e;
    }
    if (static_cast<std::int64_t>(picks.size()) < need)
      throw std::logic_error("configuration: out-degree above the neuron's allowed posts");
    for (std::int32_t i : picks) {  // raise after picking, so no post is picked twice
      const std::int64_t last = --run_start[graph.in_degree[i] + 1];
      swap_positions(pos[i], last);
      graph.add(j, i);
    }
  }
}

// Moves single edges k -> hi to k -> lo (hi a post of maximal in-degree, lo
// one of minimal in-degree with an unused allowed pair) while the spread
// exceeds one. Out-degrees are untouched; each move lowers sum(in_degree^2),
// so this ends.
void balance_in_degrees(const Block& block, const Caps& caps, LocalGraph& graph) {
  const auto nq = static_cast<std::int32_t>(block.post.size());
  auto unsaturated = [&](std::int32_t i) { return graph.in_degree[i] < caps.in[i]; };
  auto extremes = [&](std::int64_t& max_in, std::int64_t& min_in) {
    max_in = 0;
    min_in = INT64_MAX;
    for (std::int32_t i = 0; i < nq; ++i) {
      max_in = std::max(max_in, graph.in_degree[i]);
      if (unsaturated(i)) min_in = std::min(min_in, graph.in_degree[i]);
    }
    return min_in != INT64_MAX && max_in - min_in > 1;
  };
  std::int64_t max_in, min_in;
  if (!extremes(max_in, min_in)) return;

  std::vector<std::vector<std::size_t>> in_edges(static_cast<std::size_t>(nq));
  for (std::size_t e = 0; e < graph.edges.size(); ++e) in_edges[graph.edges[e].post].push_back(e);
  auto try_move = [&](std::int32_t hi, std::int32_t lo) {
    auto& from = in_edges[hi];
    for (std::size_t x = 0; x < from.size(); ++x) {
      const std::size_t e = from[x];
      const std::int32_t k = graph.edges[e].pre;
      if (!block.allowed(k, lo) || graph.pairs.contains(k, lo)) continue;
      graph.pairs.erase(k, hi);
      graph.pairs.insert(k, lo);
      graph.edges[e].post = lo;
      --graph.in_degree[hi];
      ++graph.in_degree[lo];
      from[x] = from.back();
      from.pop_back();
      in_edges[lo].push_back(e);
      return true;
    }
    return false;
  };
  do {
    bool moved = false;
    for (std::int32_t hi = 0; hi < nq && !moved; ++hi) {
      if (graph.in_degree[hi] != max_in) continue;
      for (std::int32_t lo = 0; lo < nq && !moved; ++lo)
        if (graph.in_degree[lo] == min_in && unsaturated(lo)) moved = try_move(hi, lo);
    }
    if (!moved) return;  // the block allows no better
  } while (extremes(max_in, min_in));
}

// Degree-preserving double-edge swaps (a->b, c->d) -> (a->d, c->b), accepted
// when both new pairs are allowed and absent. (Most of the generation time:
// two random accesses into the edges and two into the pair set per attempt.)
void randomize_by_swaps(const Block& block, Philox& rng, LocalGraph& graph) {
  const std::uint64_t n_edges = graph.edges.size();
  if (n_edges < 2) return;
  const std::int64_t attempts = swaps_per_edge * static_cast<std::int64_t>(n_edges);
  for (std::int64_t t = 0; t < attempts; ++t) {
    const std::size_t e1 = rng.below(n_edges), e2 = rng.below(n_edges);
    const std::int32_t a = graph.edges[e1].pre, b = graph.edges[e1].post;
    const std::int32_t c = graph.edges[e2].pre, d = graph.edges[e2].post;
    if (a == c || b == d) continue;
    if (!block.allowed(a, d) || !block.allowed(c, b)) continue;
    if (graph.pairs.contains(a, d) || graph.pairs.contains(c, b)) continue;
    graph.pairs.erase(a, b);
    graph.pairs.erase(c, d);
    graph.pairs.insert(a, d);
    graph.pairs.insert(c, b);
    graph.edges[e1].post = d;
    graph.edges[e2].post = b;
  }
}

// Appends `n_edges` edges of the block (n_edges <= caps.pairs) to `out`.
void realize_block(const Block& block, const Caps& caps, std::int64_t n_edges, Philox& rng,
                   EdgeList& out) {
  if (n_edges <= 0) return;
  if (n_edges > caps.pairs) throw std::logic_error("configuration: more edges than pairs");
  LocalGraph graph(static_cast<std::int64_t>(block.pre.size()),
                   static_cast<std::int64_t>(block.post.size()));
  graph.edges.reserve(static_cast<std::size_t>(n_edges));
  greedy_fill(block, balanced_degrees(caps.out, n_edges, rng), rng, graph);
  balance_in_degrees(block, caps, graph);
  randomize_by_swaps(block, rng, graph);
  for (const LocalEdge& e : graph.edges) {
    out.pre.push_back(block.pre[e.pre]);
    out.post.push_back(block.post[e.post]);
  }
}

std::vector<std::int32_t> gather(const std::vector<std::int32_t>& values,
                                 const std::vector<std::int32_t>& index) {
  std::vector<std::int32_t> out(index.size());
  for (std::size_t k = 0; k < index.size(); ++k) out[k] = values[index[k]];
  return out;
}

// Sub-streams: a = a_type * n_types + b_type; b = 0 between, 1 + g within
// assembly g, split_substream for apportioning the within total.
EdgeList configuration_recurrent(const RecurrentConfig& rc, const Groups& groups,
                                 const std::vector<std::int32_t>& assembly, std::uint64_t seed) {
  EdgeList edges;
  const std::size_t n_types = groups.by_type.size();
  const std::size_t n_assemblies = groups.by_type_assembly.empty()
                                       ? 0 : groups.by_type_assembly[0].size();
  for (std::size_t a = 0; a < n_types; ++a) {
    for (std::size_t b = 0; b < n_types; ++b) {
      const auto block_id = static_cast<std::uint32_t>(a * n_types + b);

      std::vector<Block> within(n_assemblies);
      std::vector<Caps> within_caps(n_assemblies);
      std::vector<std::int64_t> within_pairs(n_assemblies);
      for (std::size_t g = 0; g < n_assemblies; ++g) {
        within[g].pre = groups.by_type_assembly[a][g];
        within[g].post = groups.by_type_assembly[b][g];
        within[g].same_layer = true;
        within_caps[g] = block_caps(within[g]);
        within_pairs[g] = within_caps[g].pairs;
      }
      const std::int64_t pairs =
          std::accumulate(within_pairs.begin(), within_pairs.end(), std::int64_t{0});
      const std::int64_t total = block_edge_count(rc.conn_within[a][b], pairs);
      if (total > 0) {
        Philox split_rng(seed, Stream::recurrent_topology, block_id, split_substream);
        std::vector<std::size_t> tie_order = identity_order(n_assemblies);
        split_rng.shuffle(tie_order);
        const auto part = apportion(total, within_pairs, tie_order);
        for (std::size_t g = 0; g < n_assemblies; ++g) {
          Philox rng(seed, Stream::recurrent_topology, block_id, static_cast<std::uint32_t>(1 + g));
          realize_block(within[g], within_caps[g], part[g], rng, edges);
        }
      }

      Block between;
      between.pre = groups.by_type[a];
      between.post = groups.by_type[b];
      between.pre_group = gather(assembly, between.pre);
      between.post_group = gather(assembly, between.post);
      between.same_layer = true;
      const Caps caps = block_caps(between);
      Philox rng(seed, Stream::recurrent_topology, block_id, 0);
      realize_block(between, caps, block_edge_count(rc.conn_between[a][b], caps.pairs), rng,
                    edges);
    }
  }
  return edges;
}

}  // namespace

EdgeList recurrent_edges(const RecurrentConfig& rc, const std::vector<std::int32_t>& cell_type,
                         const std::vector<std::int32_t>& assembly, std::uint64_t seed) {
  const Groups groups =
      group_neurons(cell_type, rc.proportion.size(), &assembly, rc.num_assemblies);
  if (rc.method == TopologyMethod::erdos_renyi)
    return erdos_renyi_recurrent(rc, groups, cell_type, assembly, seed);
  return configuration_recurrent(rc, groups, assembly, seed);
}

// Sub-streams: erdos-renyi (input j, post type b); configuration
// (input type a * n_types + b, 0). Every pair of a feedforward block is allowed.
EdgeList feedforward_edges(const FeedforwardConfig& fc,
                           const std::vector<std::int32_t>& input_type,
                           const std::vector<std::int32_t>& cell_type, std::size_t n_types,
                           std::uint64_t seed) {
  const std::size_t n_input_types = fc.proportion.size();
  const Groups targets = group_neurons(cell_type, n_types, nullptr, 0);
  EdgeList edges;
  if (fc.method == TopologyMethod::erdos_renyi) {
    for (std::size_t j = 0; j < input_type.size(); ++j) {
      const auto pre = static_cast<std::int32_t>(j);
      for (std::size_t b = 0; b < n_types; ++b) {
        Philox rng(seed, Stream::feedforward_topology, static_cast<std::uint32_t>(j),
                   static_cast<std::uint32_t>(b));
        for_each_bernoulli(targets.by_type[b], fc.conn_inputs[input_type[j]][b], rng,
                           [&](std::int32_t i) {
                             edges.pre.push_back(pre);
                             edges.post.push_back(i);
                           });
      }
    }
    return edges;
  }
  const Groups sources = group_neurons(input_type, n_input_types, nullptr, 0);
  for (std::size_t a = 0; a < n_input_types; ++a) {
    for (std::size_t b = 0; b < n_types; ++b) {
      Block block;
      block.pre = sources.by_type[a];
      block.post = targets.by_type[b];
      const Caps caps = block_caps(block);
      Philox rng(seed, Stream::feedforward_topology, static_cast<std::uint32_t>(a * n_types + b), 0);
      realize_block(block, caps, block_edge_count(fc.conn_inputs[a][b], caps.pairs), rng, edges);
    }
  }
  return edges;
}

void draw_lognormal_weights(Csr& csr, const std::vector<std::int32_t>& pre_type,
                            const std::vector<std::int32_t>& post_type, const Matrix& w_mu,
                            const Matrix& w_sigma, std::uint64_t seed, Stream stream) {
  // Log-space parameters per (pre type, post type): mean w_mu and standard
  // deviation w_sigma in linear space (MODEL.md 2).
  Matrix mu_ln = w_mu, sigma_ln = w_sigma;
  for (std::size_t a = 0; a < w_mu.size(); ++a) {
    for (std::size_t b = 0; b < w_mu[a].size(); ++b) {
      const double cv = w_sigma[a][b] / w_mu[a][b];
      const double var_ln = std::log1p(cv * cv);
      sigma_ln[a][b] = std::sqrt(var_ln);
      mu_ln[a][b] = std::log(w_mu[a][b]) - 0.5 * var_ln;
    }
  }
  for (std::int64_t j = 0; j < csr.n_pre; ++j) {
    Philox rng(seed, stream, static_cast<std::uint32_t>(j));
    const std::int32_t a = pre_type[j];
    for (std::int64_t e = csr.row_ptr[j]; e < csr.row_ptr[j + 1]; ++e) {
      const std::int32_t b = post_type[csr.post[e]];
      const double z = rng.normal();  // drawn even when unused: fixed words per edge
      csr.weight[e] = w_sigma[a][b] == 0.0 ? w_mu[a][b]
                                           : std::exp(mu_ln[a][b] + sigma_ln[a][b] * z);
    }
  }
}

}  // namespace homeostat::detail
