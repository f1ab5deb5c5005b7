// The metrics CSV of a training run and its configuration.
#include "homeostat/plot/training_log.hpp"

#include "homeostat/io/config_toml.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace homeostat::plot {

namespace fs = std::filesystem;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    out.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// A number, or NaN/Inf spelled out; nullopt-like false when it is neither.
bool parse_number(std::string_view cell, double& out) {
  if (cell.empty()) {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  std::string_view body = cell;
  double sign = 1.0;
  if (body.front() == '+' || body.front() == '-') {
    if (body.front() == '-') sign = -1.0;
    body.remove_prefix(1);
  }
  const std::string word = lower(body);
  if (word == "nan") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (word == "inf" || word == "infinity") {
    out = sign * std::numeric_limits<double>::infinity();
    return true;
  }
  if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), out);
  return ec == std::errc() && end == cell.data() + cell.size();
}

}  // namespace

int MetricsTable::index(const std::string& name) const {
  const auto it = std::find(columns.begin(), columns.end(), name);
  return it == columns.end() ? -1 : static_cast<int>(it - columns.begin());
}

std::vector<double> MetricsTable::column(const std::string& name) const {
  const int k = index(name);
  if (k < 0) throw std::out_of_range("no column '" + name + "'");
  std::vector<double> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r[static_cast<std::size_t>(k)]);
  return out;
}

MetricsTable parse_metrics_csv(std::string_view text, const std::string& what) {
  // Every line homeostat writes ends with '\n': a file that does not was cut
  // short (a copy or a disk that failed), and its last line, header or row,
  // may read as something it is not (a header cut after "grad" has no
  // grad_norm column; a row cut inside a number holds another number).
  if (!text.empty() && text.back() != '\n') {
    const std::size_t last = text.rfind('\n') == std::string_view::npos ? 0 : text.rfind('\n') + 1;
    const auto line_no = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(last), '\n');
    const std::string_view tail = text.substr(std::max(last, text.size() - std::min<std::size_t>(text.size(), 40)));
    throw std::runtime_error(what + ": cut short " +
                             (line_no == 1 ? std::string("inside its header") : "in line " + std::to_string(line_no)) +
                             ": the file ends without an end of line, after '" + std::string(tail) +
                             "'; not a whole metrics CSV");
  }
  MetricsTable t;
  std::size_t pos = 0;
  int line_no = 0;
  bool header = true;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (line.empty()) continue;
    const auto cells = split(line);
    if (header) {
      for (const auto c : cells) t.columns.emplace_back(c);
      header = false;
      continue;
    }
    if (cells.size() != t.columns.size())
      throw std::runtime_error(what + ": line " + std::to_string(line_no) + " has " + std::to_string(cells.size()) +
                               " cells, the header " + std::to_string(t.columns.size()));
    std::vector<double> row(cells.size());
    for (std::size_t k = 0; k < cells.size(); ++k)
      if (!parse_number(cells[k], row[k]))
        throw std::runtime_error(what + ": line " + std::to_string(line_no) + ", column '" + t.columns[k] +
                                 "': not a number: '" + std::string(cells[k]) + "'");
    t.rows.push_back(std::move(row));
  }
  if (header) throw std::runtime_error(what + ": empty (no header)");
  return t;
}

MetricsTable read_metrics_csv(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_metrics_csv(ss.str(), path.string());
}

TrainingLog load_training_log(const fs::path& dir, std::int64_t upto_chunk) {
  TrainingLog log;
  log.config = io::load_config(dir / "parameters.toml");
  log.metrics = read_metrics_csv(dir / "training_metrics.csv");
  const int chunk = log.metrics.index("chunk");
  if (chunk < 0) throw std::runtime_error((dir / "training_metrics.csv").string() + ": no 'chunk' column");
  if (upto_chunk >= 0)
    std::erase_if(log.metrics.rows, [&](const std::vector<double>& r) {
      return !(r[static_cast<std::size_t>(chunk)] <= static_cast<double>(upto_chunk));
    });
  return log;
}

std::string weight_change_column(std::string_view kind, const std::string& pre, const std::string& post) {
  return "weight_change/" + std::string(kind) + "/" + pre + "_to_" + post;
}

bool is_training_run(const fs::path& dir) {
  return fs::exists(dir / "training_metrics.csv") && !fs::exists(dir / "results");
}

}  // namespace homeostat::plot
