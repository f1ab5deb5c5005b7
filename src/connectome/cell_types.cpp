// Cell types, assemblies and input types (MODEL.md section 1).
#include "apportion.hpp"
#include "homeostat/connectome.hpp"
#include "homeostat/rng.hpp"

#include <cmath>
#include <string>

namespace homeostat {

std::vector<std::int64_t> type_counts(std::int64_t n, const std::vector<double>& proportion) {
  const std::string key = "recurrent.cell_types.proportion";
  if (proportion.empty()) throw ConfigError(key, "no cell types");
  if (n < 0) throw ConfigError(key, "negative number of neurons " + std::to_string(n));
  std::vector<std::int64_t> counts(proportion.size(), 0);
  std::int64_t rest = n;
  for (std::size_t c = 0; c + 1 < proportion.size(); ++c) {
    const double quota = static_cast<double>(n) * proportion[c];
    if (!std::isfinite(quota))
      throw ConfigError(key, "proportion[" + std::to_string(c) + "] is not finite");
    counts[c] = std::llround(quota);  // halves round away from zero
    if (counts[c] < 0)
      throw ConfigError(key, "type " + std::to_string(c) + " would get " +
                                 std::to_string(counts[c]) + " neurons");
    rest -= counts[c];
  }
  if (rest < 0)
    throw ConfigError(key, "the last type would get " + std::to_string(rest) + " of " +
                               std::to_string(n) + " neurons (the others' rounded counts exceed " +
                               "the total)");
  counts.back() = rest;
  return counts;
}

namespace {

// Writes `count[c]` copies of each type c, shuffled, into cell_type[first...].
void fill_shuffled(const std::vector<std::int64_t>& count, Philox rng, std::int64_t first,
                   std::vector<std::int32_t>& cell_type) {
  std::vector<std::int32_t> types;
  for (std::size_t c = 0; c < count.size(); ++c)
    types.insert(types.end(), static_cast<std::size_t>(count[c]), static_cast<std::int32_t>(c));
  rng.shuffle(types);
  std::copy(types.begin(), types.end(), cell_type.begin() + first);
}

}  // namespace

// Layout: assembly g holds neurons [g*S, (g+1)*S); neurons [S*A, N) are the
// leftovers (id -1). Type c has T_c neurons inside the assemblies, apportioned
// from its global count n_c by largest remainder (quota n_c * S*A / N, so
// T_c <= n_c), and n_c - T_c among the leftovers. Each assembly gets
// floor(T_c / A) of type c; the T_c % A extras are dealt round-robin over the
// assemblies, type after type, from a random starting assembly. Because
// sum_c T_c = S*A, the extras fill whole rounds: every assembly gets the same
// number of extras (so exactly S neurons), a type's extras land in distinct
// assemblies (so its per-assembly counts differ by at most one), and each count
// lies within one of the proportional S * n_c / N.
void assign_cell_types(const RecurrentConfig& rc, std::uint64_t seed,
                       std::vector<std::int32_t>& cell_type,
                       std::vector<std::int32_t>& assembly) {
  const std::int64_t n = rc.num_neurons;
  const std::int64_t n_assemblies = rc.num_assemblies;
  if (n_assemblies < 1)
    throw ConfigError("recurrent.topology.num_assemblies",
                      "must be >= 1, got " + std::to_string(n_assemblies));
  const std::vector<std::int64_t> count = type_counts(n, rc.proportion);
  const std::size_t n_types = count.size();
  const std::int64_t size = n / n_assemblies;  // S
  const std::int64_t in_assemblies = size * n_assemblies;

  cell_type.assign(static_cast<std::size_t>(n), 0);
  assembly.assign(static_cast<std::size_t>(n), -1);

  const std::vector<std::int64_t> inside =
      n > 0 ? detail::apportion(in_assemblies, count, detail::identity_order(n_types))
            : std::vector<std::int64_t>(n_types, 0);
  if (size > 0) {
    // per_assembly[g][c]: neurons of type c in assembly g.
    std::vector<std::vector<std::int64_t>> per_assembly(
        static_cast<std::size_t>(n_assemblies), std::vector<std::int64_t>(n_types));
    std::int64_t cursor = static_cast<std::int64_t>(
        Philox(seed, Stream::cell_types, 0, 1).below(static_cast<std::uint64_t>(n_assemblies)));
    for (std::size_t c = 0; c < n_types; ++c) {
      for (auto& counts : per_assembly) counts[c] = inside[c] / n_assemblies;
      for (std::int64_t k = 0; k < inside[c] % n_assemblies; ++k) {
        ++per_assembly[static_cast<std::size_t>(cursor)][c];
        cursor = (cursor + 1) % n_assemblies;
      }
    }
    for (std::int64_t g = 0; g < n_assemblies; ++g) {
      fill_shuffled(per_assembly[static_cast<std::size_t>(g)],
                    Philox(seed, Stream::cell_types, static_cast<std::uint32_t>(g)), g * size,
                    cell_type);
      std::fill(assembly.begin() + g * size, assembly.begin() + (g + 1) * size,
                static_cast<std::int32_t>(g));
    }
  }
  std::vector<std::int64_t> leftover(n_types);
  for (std::size_t c = 0; c < n_types; ++c) leftover[c] = count[c] - inside[c];
  fill_shuffled(leftover,
                Philox(seed, Stream::cell_types, static_cast<std::uint32_t>(n_assemblies)),
                in_assemblies, cell_type);
}

std::vector<std::int32_t> assign_input_types(const FeedforwardConfig& fc) {
  std::vector<std::int64_t> count;
  try {
    count = type_counts(fc.num_neurons, fc.proportion);
  } catch (const ConfigError& e) {
    throw ConfigError("feedforward.cell_types.proportion", e.reason());
  }
  std::vector<std::int32_t> input_type;
  input_type.reserve(static_cast<std::size_t>(fc.num_neurons));
  for (std::size_t c = 0; c < count.size(); ++c)
    input_type.insert(input_type.end(), static_cast<std::size_t>(count[c]),
                      static_cast<std::int32_t>(c));
  return input_type;
}

}  // namespace homeostat
