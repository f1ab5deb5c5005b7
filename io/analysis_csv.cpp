#include "homeostat/io/analysis_csv.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string_view>

namespace homeostat::io {

namespace {

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

}  // namespace

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

std::string fano_csv(const std::vector<double>& windows_ms, const std::vector<std::vector<Summary>>& fano,
                     const TypeGroups& types) {
  std::string out = "window_ms,cell_type,n,mean_fano,std_fano\n";
  for (std::size_t w = 0; w < windows_ms.size(); ++w) {
    for (std::size_t t = 0; t < types.names.size(); ++t) {
      const Summary& s = fano[w][t];
      append_number(out, windows_ms[w]);
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

std::string voltage_statistics_csv(const std::vector<MembraneStatistics>& stats, const TypeGroups& types) {
  std::string out = "cell_type,n,mean_v_mv,mean_sd_v_mv,mean_membrane_ratio,std_membrane_ratio\n";
  for (std::size_t t = 0; t < types.names.size(); ++t) {
    const MembraneStatistics& s = stats[t];
    out += fmt::format("{},{},{:.6g},{:.6g},{:.6g},{:.6g}\n", types.names[t], s.mean_v.count, s.mean_v.mean,
                       s.sd_v.mean, s.ratio.mean, s.ratio.std);
  }
  return out;
}

std::string isi_histogram_csv(const IsiTable& table, const TypeGroups& types) {
  std::string out = "bin_start_ms,bin_end_ms";
  for (const auto& name : types.names) out += "," + name;
  out += "\n";
  for (std::size_t k = 0; k + 1 < table.edges_ms.size(); ++k) {
    out += fmt::format("{:.6g},{:.6g}", table.edges_ms[k], table.edges_ms[k + 1]);
    for (std::size_t t = 0; t < types.names.size(); ++t) out += fmt::format(",{}", table.counts[t][k]);
    out += "\n";
  }
  return out;
}

}  // namespace homeostat::io
