// Activity statistics (see analysis.hpp and docs/MODEL.md section 7).
//
// Everything here is linear in the size of the recording: spike trains are
// sparse time lists, so per-neuron work is proportional to its spike count
// (never to n_steps), and voltages are read once, in memory order.
#include "homeostat/analysis.hpp"

#include "homeostat/loss/common.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace homeostat {

namespace {

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();

// Recording length in seconds; a zero-length or dt <= 0 recording has no
// defined rate, which is a caller bug rather than a statistic.
double duration_s(const SpikeTrains& trains) {
  if (trains.n_steps <= 0 || !(trains.dt > 0.0)) {
    throw std::invalid_argument("analysis: recording needs n_steps > 0 and dt > 0 (got n_steps=" +
                                std::to_string(trains.n_steps) +
                                ", dt=" + std::to_string(trains.dt) + ")");
  }
  return static_cast<double>(trains.n_steps) * trains.dt / 1000.0;
}

// Only the ends are checked (O(1)); ordering is checked by the loops that walk
// consecutive spikes anyway.
void check_range(const std::vector<std::int64_t>& times, std::int64_t n_steps) {
  if (!times.empty() && (times.front() < 0 || times.back() >= n_steps)) {
    throw std::invalid_argument("analysis: spike step outside [0, n_steps)");
  }
}

[[noreturn]] void throw_unsorted() {
  throw std::invalid_argument("analysis: spike steps must be strictly increasing");
}

// Every neuron must have a valid type, and every trial must cover all neurons:
// a mismatch would silently mislabel rows.
void check_types(const TypeGroups& types) {
  const auto n_types = static_cast<std::int64_t>(types.names.size());
  for (const std::int32_t t : types.cell_type) {
    if (t < 0 || t >= n_types) {
      throw std::invalid_argument("analysis: cell_type index " + std::to_string(t) +
                                  " outside [0, " + std::to_string(n_types) + ")");
    }
  }
}

void check_trials(const std::vector<SpikeTrains>& trials, const TypeGroups& types) {
  check_types(types);
  for (std::size_t b = 0; b < trials.size(); ++b) {
    if (trials[b].times.size() != types.cell_type.size()) {
      throw std::invalid_argument("analysis: trial " + std::to_string(b) + " has " +
                                  std::to_string(trials[b].times.size()) + " neurons, types cover " +
                                  std::to_string(types.cell_type.size()));
    }
  }
}

// Window length in steps for this trial's dt (trials may differ in dt).
std::int64_t window_steps_for(double window_ms, double dt) {
  if (!(dt > 0.0)) throw std::invalid_argument("analysis: dt must be > 0");
  const double steps = std::round(window_ms / dt);
  if (!(steps >= 1.0) || steps > static_cast<double>(std::numeric_limits<std::int64_t>::max())) {
    throw std::invalid_argument("analysis: Fano window of " + std::to_string(window_ms) +
                                " ms is shorter than one step (dt=" + std::to_string(dt) + ")");
  }
  return static_cast<std::int64_t>(steps);
}

// Fano factor of one train over `n_windows` windows of `window` steps
// starting at step 0; spikes in the trailing partial window are ignored.
double fano_one(const std::vector<std::int64_t>& times, std::int64_t window,
                std::int64_t n_windows) {
  const std::int64_t limit = n_windows * window;
  // Spikes counted = those before `limit`; known up front, so the mean is
  // exact before the variance pass (two-pass accuracy in one pass).
  const auto end = std::lower_bound(times.begin(), times.end(), limit);
  const auto total = static_cast<std::int64_t>(end - times.begin());
  if (total == 0) return nan_value;
  const double mean = static_cast<double>(total) / static_cast<double>(n_windows);

  // Walk runs of spikes sharing a window: only non-empty windows are visited,
  // the empty ones contribute mean^2 each, added in bulk afterwards.
  double ss = 0.0;
  std::int64_t nonempty = 0;
  auto it = times.begin();
  std::int64_t prev = -1;
  while (it != end) {
    const std::int64_t w = *it / window;
    std::int64_t c = 0;
    while (it != end && *it / window == w) {
      if (*it <= prev) throw_unsorted();
      prev = *it;
      ++c;
      ++it;
    }
    const double d = static_cast<double>(c) - mean;
    ss += d * d;
    ++nonempty;
  }
  ss += static_cast<double>(n_windows - nonempty) * mean * mean;
  const double var = ss / static_cast<double>(n_windows);  // population (ddof 0)
  return var / mean;
}

// One value per neuron-trial, grouped by cell type (index = type).
using PerType = std::vector<std::vector<double>>;

}  // namespace

std::vector<double> firing_rates(const SpikeTrains& trains) {
  const double seconds = duration_s(trains);
  std::vector<double> rates(trains.times.size());
  for (std::size_t i = 0; i < rates.size(); ++i) {
    rates[i] = static_cast<double>(trains.times[i].size()) / seconds;
  }
  return rates;
}

double isi_cv(const std::vector<std::int64_t>& steps) {
  if (steps.size() < 3) return nan_value;
  const auto n_isi = static_cast<double>(steps.size() - 1);
  // ISIs telescope, so the mean is exact without a first pass; a regular
  // train then gives deviations of exactly 0 and CV == 0.
  const double mean = static_cast<double>(steps.back() - steps.front()) / n_isi;
  double ss = 0.0;
  for (std::size_t k = 1; k < steps.size(); ++k) {
    const std::int64_t isi = steps[k] - steps[k - 1];
    if (isi <= 0) throw_unsorted();
    const double d = static_cast<double>(isi) - mean;
    ss += d * d;
  }
  return std::sqrt(ss / n_isi) / mean;
}

std::vector<double> fano_factors(const SpikeTrains& trains, double window_ms) {
  const std::int64_t window = window_steps_for(window_ms, trains.dt);
  const std::int64_t n_windows = trains.n_steps / window;
  std::vector<double> out(trains.times.size(), nan_value);
  if (n_windows < 2) return out;  // a variance over one window means nothing
  for (std::size_t i = 0; i < out.size(); ++i) {
    check_range(trains.times[i], trains.n_steps);
    out[i] = fano_one(trains.times[i], window, n_windows);
  }
  return out;
}

std::vector<std::int64_t> isi_histogram(const SpikeTrains& trains,
                                        const std::vector<std::int64_t>& neurons,
                                        const std::vector<double>& edges_ms) {
  if (edges_ms.size() < 2) return {};
  for (std::size_t k = 1; k < edges_ms.size(); ++k) {
    // !(a < b) also rejects NaN edges, which would break the binary search.
    if (!(edges_ms[k - 1] < edges_ms[k])) {
      throw std::invalid_argument("analysis: histogram edges must be strictly increasing");
    }
  }
  const auto n_bins = static_cast<std::ptrdiff_t>(edges_ms.size() - 1);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(n_bins), 0);
  for (const std::int64_t i : neurons) {
    if (i < 0 || i >= static_cast<std::int64_t>(trains.times.size())) {
      throw std::out_of_range("analysis: isi_histogram neuron " + std::to_string(i) +
                              " out of range");
    }
    const auto& t = trains.times[static_cast<std::size_t>(i)];
    for (std::size_t k = 1; k < t.size(); ++k) {
      const std::int64_t isi = t[k] - t[k - 1];
      if (isi <= 0) throw_unsorted();
      const double isi_ms = static_cast<double>(isi) * trains.dt;
      // Bin k holds [edges[k], edges[k+1]): the last edge <= isi names the bin.
      const auto b =
          std::upper_bound(edges_ms.begin(), edges_ms.end(), isi_ms) - edges_ms.begin() - 1;
      if (b >= 0 && b < n_bins) ++counts[static_cast<std::size_t>(b)];
    }
  }
  return counts;
}

Summary summarize(const std::vector<double>& values) {
  std::vector<double> v;
  v.reserve(values.size());
  for (const double x : values) {
    if (!std::isnan(x)) v.push_back(x);
  }
  Summary s;
  s.count = static_cast<std::int64_t>(v.size());
  if (v.empty()) {
    s.mean = s.std = s.min = s.median = s.max = nan_value;
    return s;
  }
  const auto n = static_cast<double>(v.size());
  double sum = 0.0;
  for (const double x : v) sum += x;
  s.mean = sum / n;
  double ss = 0.0;  // second pass about the mean: no cancellation
  for (const double x : v) ss += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(ss / n);
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  s.min = *lo;
  s.max = *hi;
  // Linear-time median; nth_element leaves the lower half before `mid`, so
  // the lower middle of an even count is that half's maximum.
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  s.median = *mid;
  if (v.size() % 2 == 0) s.median = 0.5 * (s.median + *std::max_element(v.begin(), mid));
  return s;
}

double TypeActivity::fraction_active() const {
  return n > 0 ? 1.0 - static_cast<double>(silent) / static_cast<double>(n) : nan_value;
}

std::vector<TypeActivity> type_activity(const std::vector<SpikeTrains>& trials, const TypeGroups& types) {
  check_trials(trials, types);
  const std::size_t n_types = types.names.size();
  // NaN CVs (< 3 spikes) are kept in the per-type lists; summarize() drops them.
  PerType rates(n_types), cvs(n_types);
  std::vector<TypeActivity> out(n_types);
  for (const SpikeTrains& tr : trials) {
    const double seconds = duration_s(tr);
    for (std::size_t i = 0; i < tr.times.size(); ++i) {
      const auto t = static_cast<std::size_t>(types.cell_type[i]);
      const std::size_t count = tr.times[i].size();
      rates[t].push_back(static_cast<double>(count) / seconds);
      cvs[t].push_back(isi_cv(tr.times[i]));
      if (count == 0) ++out[t].silent;
    }
  }
  for (std::size_t t = 0; t < n_types; ++t) {
    out[t].n = static_cast<std::int64_t>(rates[t].size());
    out[t].rate = summarize(rates[t]);
    out[t].cv = summarize(cvs[t]);
  }
  return out;
}

std::vector<std::vector<Summary>> fano_summaries(const std::vector<SpikeTrains>& trials, const TypeGroups& types,
                                                 const std::vector<double>& windows_ms) {
  check_trials(trials, types);
  const std::size_t n_types = types.names.size();
  std::vector<std::vector<Summary>> out;
  PerType fanos(n_types);
  for (const double window_ms : windows_ms) {
    for (auto& f : fanos) f.clear();
    for (const SpikeTrains& tr : trials) {
      const std::vector<double> f = fano_factors(tr, window_ms);
      for (std::size_t i = 0; i < f.size(); ++i) fanos[static_cast<std::size_t>(types.cell_type[i])].push_back(f[i]);
    }
    std::vector<Summary> row;
    for (std::size_t t = 0; t < n_types; ++t) row.push_back(summarize(fanos[t]));
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<MembraneStatistics> membrane_statistics(const std::vector<std::vector<double>>& v_sum,
                                                    const std::vector<std::vector<double>>& v_sum_sq,
                                                    std::int64_t steps, const std::vector<double>& theta,
                                                    const TypeGroups& types) {
  check_types(types);
  const std::size_t n = types.cell_type.size();
  if (steps < 1) throw std::invalid_argument("analysis: membrane statistics need steps >= 1");
  if (v_sum_sq.size() != v_sum.size() || theta.size() != n)
    throw std::invalid_argument("analysis: membrane statistics need as many trials of v^2 as of v sums and a "
                                "threshold per neuron");
  const std::size_t n_types = types.names.size();
  PerType means(n_types), sds(n_types), ratios(n_types);
  for (std::size_t b = 0; b < v_sum.size(); ++b) {
    if (v_sum[b].size() != n || v_sum_sq[b].size() != n)
      throw std::invalid_argument("analysis: trial " + std::to_string(b) + " has membrane sums of " +
                                  std::to_string(v_sum[b].size()) + " neurons, types cover " + std::to_string(n));
    for (std::size_t i = 0; i < n; ++i) {
      const MembraneMoments<double> m = membrane_moments(v_sum[b][i], v_sum_sq[b][i], steps, theta[i]);
      const auto t = static_cast<std::size_t>(types.cell_type[i]);
      means[t].push_back(m.mean);
      sds[t].push_back(m.sd);
      ratios[t].push_back(m.ratio());
    }
  }
  std::vector<MembraneStatistics> out;
  for (std::size_t t = 0; t < n_types; ++t) out.push_back({summarize(means[t]), summarize(sds[t]), summarize(ratios[t])});
  return out;
}

IsiTable isi_table(const std::vector<SpikeTrains>& trials, const TypeGroups& types, int n_bins) {
  check_trials(trials, types);
  IsiTable out;
  const double dt = trials.empty() ? 0.1 : trials[0].dt;
  const double t_max = std::max(2 * dt, trials.empty() ? dt : static_cast<double>(trials[0].n_steps) * dt);
  for (int k = 0; k <= n_bins; ++k)
    out.edges_ms.push_back(dt * std::pow(t_max / dt, static_cast<double>(k) / n_bins));
  out.edges_ms.back() = t_max + dt;
  out.counts.assign(types.names.size(), std::vector<std::int64_t>(n_bins, 0));
  for (std::size_t t = 0; t < types.names.size(); ++t) {
    std::vector<std::int64_t> members;
    for (std::size_t i = 0; i < types.cell_type.size(); ++i)
      if (types.cell_type[i] == static_cast<std::int32_t>(t)) members.push_back(static_cast<std::int64_t>(i));
    for (const auto& tr : trials) {
      const auto c = isi_histogram(tr, members, out.edges_ms);
      for (int k = 0; k < n_bins; ++k) out.counts[t][k] += c[k];
    }
  }
  return out;
}

}  // namespace homeostat
