// Activity statistics (see analysis.hpp and docs/MODEL.md section 7).
//
// Everything here is linear in the size of the recording: spike trains are
// sparse time lists, so per-neuron work is proportional to its spike count
// (never to n_steps), and voltages are read once, in memory order.
#include "homeostat/analysis.hpp"

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

// Shortest representation that parses back to the same double; NaN always as
// "nan" (to_chars may write "-nan"), infinities as "inf"/"-inf".
void append_number(std::string& out, double x) {
  if (std::isnan(x)) {
    out += "nan";
    return;
  }
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, x);
  out.append(buf, res.ptr);
}

void append_number(std::string& out, std::int64_t x) { out += std::to_string(x); }

// RFC 4180 quoting, only when the name needs it (type names are normally
// plain identifiers, so the common case stays unquoted).
void append_field(std::string& out, std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += s;
    return;
  }
  out += '"';
  for (const char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// Window length in steps for this trial's dt (trials may differ in dt); 0
// for a window shorter than half a step, which no recording at this dt can
// resolve (its Fano factor is undefined, as for a window longer than the run).
std::int64_t window_steps_for(double window_ms, double dt) {
  if (!(dt > 0.0)) throw std::invalid_argument("analysis: dt must be > 0");
  if (!(window_ms > 0.0) || !std::isfinite(window_ms))
    throw std::invalid_argument("analysis: Fano window of " + std::to_string(window_ms) + " ms is not > 0");
  const double steps = std::round(window_ms / dt);
  if (steps > static_cast<double>(std::numeric_limits<std::int64_t>::max()))
    throw std::invalid_argument("analysis: Fano window of " + std::to_string(window_ms) + " ms is too long");
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
  const std::int64_t n_windows = window > 0 ? trains.n_steps / window : 0;
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

std::string firing_rate_csv(const std::vector<TypeActivity>& activity, const TypeGroups& types) {
  std::string out =
      "cell_type,n,mean_rate_hz,std_rate_hz,min_rate_hz,median_rate_hz,max_rate_hz,"
      "silent_count,fraction_active\n";
  for (std::size_t t = 0; t < activity.size(); ++t) {
    const Summary& s = activity[t].rate;
    append_field(out, types.names[t]);
    out += ',';
    append_number(out, activity[t].n);
    for (const double x : {s.mean, s.std, s.min, s.median, s.max}) {
      out += ',';
      append_number(out, x);
    }
    out += ',';
    append_number(out, activity[t].silent);
    out += ',';
    append_number(out, activity[t].fraction_active());
    out += '\n';
  }
  return out;
}

std::string cv_csv(const std::vector<TypeActivity>& activity, const TypeGroups& types) {
  std::string out = "cell_type,n,n_with_cv,mean_cv,std_cv,median_cv\n";
  for (std::size_t t = 0; t < activity.size(); ++t) {
    const Summary& s = activity[t].cv;
    append_field(out, types.names[t]);
    out += ',';
    append_number(out, activity[t].n);
    out += ',';
    append_number(out, s.count);
    for (const double x : {s.mean, s.std, s.median}) {
      out += ',';
      append_number(out, x);
    }
    out += '\n';
  }
  return out;
}

std::string fano_csv(const std::vector<SpikeTrains>& trials, const TypeGroups& types,
                     const std::vector<double>& windows_ms) {
  check_trials(trials, types);
  const std::size_t n_types = types.names.size();
  std::string out = "window_ms,cell_type,n,mean_fano,std_fano\n";
  PerType fanos(n_types);
  for (const double window_ms : windows_ms) {
    for (auto& f : fanos) f.clear();
    for (const SpikeTrains& tr : trials) {
      const std::vector<double> f = fano_factors(tr, window_ms);
      for (std::size_t i = 0; i < f.size(); ++i) {
        fanos[static_cast<std::size_t>(types.cell_type[i])].push_back(f[i]);
      }
    }
    for (std::size_t t = 0; t < n_types; ++t) {
      // Here n is the number of neuron-trials with a defined Fano factor (the
      // sample behind mean/std): the header has no separate total.
      const Summary s = summarize(fanos[t]);
      append_number(out, window_ms);
      out += ',';
      append_field(out, types.names[t]);
      out += ',';
      append_number(out, s.count);
      out += ',';
      append_number(out, s.mean);
      out += ',';
      append_number(out, s.std);
      out += '\n';
    }
  }
  return out;
}

std::string voltage_csv(const std::vector<float>& voltages, std::int64_t n_trials,
                        std::int64_t n_steps, const std::vector<std::int64_t>& neurons,
                        const std::vector<double>& theta, const TypeGroups& types) {
  check_types(types);
  if (n_trials < 0 || n_steps < 1) {
    throw std::invalid_argument("analysis: voltage_csv needs n_trials >= 0 and n_steps >= 1");
  }
  const std::size_t n_rec = neurons.size();
  const auto trials = static_cast<std::size_t>(n_trials);
  const auto steps = static_cast<std::size_t>(n_steps);
  // Checked as a chain of divisions so that a huge shape cannot overflow into
  // a matching size.
  const bool shape_ok = (n_rec == 0 || trials == 0)
                            ? voltages.empty()
                            : voltages.size() % n_rec == 0 &&
                                  voltages.size() / n_rec % steps == 0 &&
                                  voltages.size() / n_rec / steps == trials;
  if (!shape_ok) {
    throw std::invalid_argument("analysis: voltage_csv got " + std::to_string(voltages.size()) +
                                " values for " + std::to_string(n_trials) + " trials x " +
                                std::to_string(n_steps) + " steps x " + std::to_string(n_rec) +
                                " neurons");
  }
  std::vector<std::size_t> type_of(n_rec);
  for (std::size_t k = 0; k < n_rec; ++k) {
    const std::int64_t i = neurons[k];
    if (i < 0 || i >= static_cast<std::int64_t>(types.cell_type.size()) ||
        i >= static_cast<std::int64_t>(theta.size())) {
      throw std::out_of_range("analysis: recorded neuron " + std::to_string(i) +
                              " has no cell type or threshold");
    }
    type_of[k] = static_cast<std::size_t>(types.cell_type[static_cast<std::size_t>(i)]);
  }

  const std::size_t n_types = types.names.size();
  PerType means(n_types), sds(n_types), ratios(n_types);
  // Sums of (v - v[0]) per neuron: shifting by the first sample keeps the
  // one-pass variance free of cancellation (voltages sit ~60 mV from 0 with
  // sd of a few mV) and makes a constant trace give sd exactly 0.
  std::vector<double> shift(n_rec), s1(n_rec), s2(n_rec);
  const double inv_steps = 1.0 / static_cast<double>(n_steps);
  for (std::size_t b = 0; b < trials; ++b) {
    const float* base = voltages.data() + b * steps * n_rec;
    for (std::size_t k = 0; k < n_rec; ++k) {
      shift[k] = static_cast<double>(base[k]);
      s1[k] = 0.0;
      s2[k] = 0.0;
    }
    // Rows are contiguous over recorded neurons: stream them in memory order.
    for (std::size_t t = 0; t < steps; ++t) {
      const float* row = base + t * n_rec;
      for (std::size_t k = 0; k < n_rec; ++k) {
        const double d = static_cast<double>(row[k]) - shift[k];
        s1[k] += d;
        s2[k] += d * d;
      }
    }
    for (std::size_t k = 0; k < n_rec; ++k) {
      const double md = s1[k] * inv_steps;
      const double var = std::max(0.0, s2[k] * inv_steps - md * md);
      const double mean = shift[k] + md;
      const double sd = std::sqrt(var);
      const std::size_t t = type_of[k];
      means[t].push_back(mean);
      sds[t].push_back(sd);
      ratios[t].push_back(sd / (theta[static_cast<std::size_t>(neurons[k])] - mean));
    }
  }

  // n counts recorded neuron-trials; a NaN statistic (diverged trace) is
  // left out of the type means rather than poisoning them.
  std::string out = "cell_type,n,mean_v_mv,mean_sd_v_mv,mean_membrane_ratio\n";
  for (std::size_t t = 0; t < n_types; ++t) {
    append_field(out, types.names[t]);
    out += ',';
    append_number(out, static_cast<std::int64_t>(means[t].size()));
    for (const PerType* p : {&means, &sds, &ratios}) {
      out += ',';
      append_number(out, summarize((*p)[t]).mean);
    }
    out += '\n';
  }
  return out;
}

}  // namespace homeostat
