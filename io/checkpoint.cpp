#include "homeostat/io/checkpoint.hpp"

#include "homeostat/io/config_toml.hpp"
#include "homeostat/io/files.hpp"
#include "homeostat/io/npy.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

namespace homeostat::io {

namespace {

// The arrays of a checkpoint by name, with the bytes the checksum covers.
class Arrays {
 public:
  template <class T>
  void add(const std::string& name, const std::vector<T>& values, std::vector<std::int64_t> shape) {
    entries_[name] = {dtype_of<T>(), std::move(shape),
                      std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T))};
  }
  // CRC-32 over every name and data block in name order.
  std::uint32_t checksum() const {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (const auto& [name, e] : entries_) {
      crc = crc32(crc, reinterpret_cast<const Bytef*>(name.data()), static_cast<uInt>(name.size()));
      crc = crc32_z(crc, reinterpret_cast<const Bytef*>(e.data.data()), e.data.size());
    }
    return static_cast<std::uint32_t>(crc);
  }
  void write(const std::filesystem::path& path) const {
    NpzWriter npz;
    for (const auto& [name, e] : entries_) npz.add(name, e.dtype, e.shape, e.data.data());
    const std::vector<std::uint32_t> crc{checksum()};
    npz.add("checksum", crc, {1});
    npz.write(path);
  }

 private:
  struct Entry {
    DType dtype;
    std::vector<std::int64_t> shape;
    std::string data;
  };
  std::map<std::string, Entry> entries_;
};

void require_finite(const std::vector<double>& v, const char* what) {
  for (const double x : v)
    if (!std::isfinite(x)) throw std::runtime_error(fmt::format("refusing to checkpoint a non-finite {}", what));
}

// Refuses the first value of array `name` outside [lo, hi] (NaN included),
// naming its index ([trial, neuron] for a [B, N] array).
template <class T>
void require_in(const std::filesystem::path& path, const std::string& name, const std::vector<T>& values, T lo, T hi,
                const std::string& rule, std::int64_t row_length = 0) {
  for (std::size_t k = 0; k < values.size(); ++k) {
    if (values[k] >= lo && values[k] <= hi) continue;
    const auto i = static_cast<std::int64_t>(k);
    const std::string index =
        row_length > 0 ? fmt::format("[{}, {}]", i / row_length, i % row_length) : fmt::format("[{}]", i);
    throw std::runtime_error(fmt::format("{}: not a usable checkpoint: array '{}' holds {} at {}: {}", path.string(),
                                         name, values[k], index, rule));
  }
}

template <class T>
void require_finite_array(const std::filesystem::path& path, const std::string& name, const std::vector<T>& values,
                          std::int64_t row_length = 0) {
  require_in(path, name, values, std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max(),
             "values must be finite", row_length);
}

// What a checkpoint written by a run of `config` can hold (the network
// state is checked by check_state): a file with a valid checksum may still
// have been crafted or written by a broken build.
void check_values(const std::filesystem::path& path, const TrainerState& s, const Config& config) {
  const std::int64_t chunks = config.simulation.num_chunks;
  auto one = [&](const std::string& name, std::int64_t value, std::int64_t lo, std::int64_t hi, const char* rule) {
    require_in(path, name, std::vector<std::int64_t>{value}, lo, hi, fmt::format("{} ({}..{})", rule, lo, hi));
  };
  one("chunks_done", s.chunks_done, 0, chunks, "chunks done must lie within simulation.num_chunks");
  one("adam_step", s.adam_step, 0, s.chunks_done, "there is at most one optimizer step per chunk done");
  one("best_chunk", s.best_chunk, 0, s.chunks_done, "the best chunk must be one of the chunks done");
  if (static_cast<std::int64_t>(s.loss_history.size()) > s.chunks_done)
    throw std::runtime_error(fmt::format("{}: not a usable checkpoint: array 'loss_history' holds {} losses for {} "
                                         "chunks done", path.string(), s.loss_history.size(), s.chunks_done));
  require_finite_array(path, "parameters", s.parameters);
  require_finite_array(path, "adam_m", s.adam_m);
  require_in(path, "adam_v", s.adam_v, 0.0, std::numeric_limits<double>::max(), "second moments are finite and >= 0");
  require_finite_array(path, "accumulated_gradient", s.accumulated);
  require_in(path, "rate_estimate", s.rate_estimate, 0.0, std::numeric_limits<double>::max(),
             "rates are finite and >= 0");
  require_finite_array(path, "loss_history", s.loss_history);
  if (!s.loss_history.empty()) require_finite_array(path, "best_loss", std::vector<double>{s.best_loss});
}

// The network state, [B, N] (v, refractory, last spike) and [B, K*N]
// (conductances) arrays as stored.
void check_state(const std::filesystem::path& path, const Config& config, std::int64_t chunks_done, std::int64_t n,
                 std::int64_t gn, const std::vector<float>& v, const std::vector<float>& g_rise,
                 const std::vector<float>& g_decay, const std::vector<std::int32_t>& refractory,
                 const std::vector<std::int64_t>& last_spike) {
  require_finite_array(path, "state_v", v, n);
  require_finite_array(path, "state_g_rise", g_rise, gn);
  require_finite_array(path, "state_g_decay", g_decay, gn);
  std::int32_t max_refractory = 0;
  for (const auto& p : config.recurrent.physiology)
    max_refractory = std::max(max_refractory, static_cast<std::int32_t>(std::llround(p.tau_ref / config.simulation.dt)));
  require_in(path, "state_refractory", refractory, 0, max_refractory,
             fmt::format("refractory steps left lie in 0..{} (tau_ref / dt)", max_refractory), n);
  const std::int64_t steps_done = chunks_done * config.simulation.chunk_size;
  require_in(path, "state_last_spike", last_spike, std::int64_t{-1}, steps_done - 1,
             fmt::format("a last spike lies within the {} steps done, or is -1 (none)", steps_done), n);
}

// The resolved configuration a checkpoint belongs to: to_toml with
// simulation.num_chunks 0 (not part of it, see the header).
std::string planned_toml(const Config& config) {
  Config planned = config;
  planned.simulation.num_chunks = 0;
  return to_toml(planned);
}

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// Keys added since checkpoints exist whose default does not reproduce what
// a version without them did, with the value that does ("" = any value:
// unused under the value another entry pins). A parameters.toml or
// checkpoint of such a version lacks the key; its run continues with this
// value. A key added later whose default changes behaviour belongs here;
// one absent from here and from an old checkpoint is refused, by name.
struct ImpliedKey {
  std::string_view key, value, why;
};
constexpr ImpliedKey implied_keys[] = {
    {"training.metrics_every_chunk", "false", "metrics rows every log_interval chunks only"},
    {"training.weight_snapshots", "\"dense\"", "dense .npy weight snapshots"},
    {"hyperparameters.rate_loss", "\"plain\"", "the plain rate loss, the split one's predecessor"},
    {"hyperparameters.lr_half_life", "0.0", "a constant learning rate"},
    {"hyperparameters.lr_final_fraction", "", "unused without decay"},
    {"feedback.rule", "\"ema\"", "the moving-average rule, the integral one's predecessor"},
    {"feedback.tau_homeostatic", "", "unused by the \"ema\" rule"},
    {"feedback.max_step", "", "unused by the \"ema\" rule"},
};

const ImpliedKey* implied(std::string_view key) {
  for (const ImpliedKey& k : implied_keys)
    if (k.key == key) return &k;
  return nullptr;
}

// to_toml's text as "section.key" -> value text ([section] headers, one
// `key = value` a line; comments and blank lines dropped).
std::map<std::string, std::string> toml_entries(std::string_view text) {
  std::map<std::string, std::string> out;
  std::string section;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = std::string(line.substr(1, line.size() - 2));
      continue;
    }
    const std::size_t eq = line.find(" = ");
    if (eq == std::string_view::npos) continue;
    out[section + "." + std::string(line.substr(0, eq))] = std::string(line.substr(eq + 3));
  }
  return out;
}

// The first key whose value differs between the configuration a checkpoint
// was written for (`stored`, to_toml's text) and `now`, as "KEY is A there,
// B here"; "" when they agree. A key `stored` lacks (an earlier version's)
// agrees when `now` holds the value that version behaved as (implied_keys).
std::string config_difference(std::string_view stored_text, std::string_view now_text) {
  const auto stored = toml_entries(stored_text), now = toml_entries(now_text);
  for (const auto& [key, value] : now) {
    const auto it = stored.find(key);
    if (it != stored.end()) {
      if (it->second != value) return fmt::format("{} is {} there, {} here", key, it->second, value);
      continue;
    }
    const ImpliedKey* k = implied(key);
    if (k == nullptr)
      return fmt::format("{} is not in its configuration (an earlier version's), and which value reproduces that "
                         "version's runs is not known",
                         key);
    if (!k->value.empty() && k->value != value)
      return fmt::format("{} is not in its configuration: the earlier version that wrote it ran as {} = {} ({}); "
                         "here it is {}",
                         key, key, k->value, k->why, value);
  }
  for (const auto& [key, value] : stored)
    if (!now.count(key)) return fmt::format("{} = {} there is not a key of this version", key, value);
  return {};
}

// The text an earlier version's checkpoint (a hash, no configuration) was
// written for: the run's parameters.toml as that version wrote it, with
// num_chunks 0, when its hash is the checkpoint's; "" otherwise.
std::string earlier_config_text(const std::filesystem::path& checkpoint, std::uint64_t hash) {
  const std::filesystem::path parameters = checkpoint.parent_path().parent_path() / "parameters.toml";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(parameters, ec)) return {};
  std::string text = read_file(parameters);
  const std::size_t section = text.find("\n[simulation]\n");
  const std::size_t key = text.find("\nnum_chunks = ", section);
  if (section == std::string::npos || key == std::string::npos) return {};
  const std::size_t value = key + 14, end = text.find('\n', value);
  text.replace(value, end - value, "0");
  return fnv1a(text) == hash ? text : std::string();
}

}  // namespace

std::uint64_t config_hash(const Config& config) { return fnv1a(planned_toml(config)); }

Config load_run_config(const std::filesystem::path& parameters) {
  const auto entries = toml_entries(read_file(parameters));
  std::vector<std::string> overrides;
  for (const ImpliedKey& k : implied_keys)
    if (!k.value.empty() && !entries.count(std::string(k.key)))
      overrides.push_back(fmt::format("{}={}", k.key, k.value));
  return load_config(parameters, overrides);
}

void save_checkpoint(const std::filesystem::path& path, const TrainerState& s, const Config& config) {
  require_finite(s.parameters, "parameter");
  require_finite(s.adam_m, "optimizer moment");
  require_finite(s.adam_v, "optimizer moment");
  require_finite(s.accumulated, "accumulated gradient");
  require_finite(s.loss_history, "loss");
  require_finite(s.rate_estimate, "rate estimate");
  const auto b = static_cast<std::int64_t>(s.trials.size());
  const std::int64_t n = b > 0 ? static_cast<std::int64_t>(s.trials[0].v.size()) : 0;
  const std::int64_t gn = b > 0 ? static_cast<std::int64_t>(s.trials[0].g_rise.size()) : 0;
  std::vector<float> v, g_rise, g_decay;
  std::vector<std::int32_t> refractory;
  std::vector<std::int64_t> last_spike;
  for (const auto& t : s.trials) {
    for (const float x : t.v)
      if (!std::isfinite(x)) throw std::runtime_error("refusing to checkpoint a non-finite membrane potential");
    v.insert(v.end(), t.v.begin(), t.v.end());
    g_rise.insert(g_rise.end(), t.g_rise.begin(), t.g_rise.end());
    g_decay.insert(g_decay.end(), t.g_decay.begin(), t.g_decay.end());
    refractory.insert(refractory.end(), t.refractory.begin(), t.refractory.end());
    last_spike.insert(last_spike.end(), t.last_spike.begin(), t.last_spike.end());
  }
  const auto p = static_cast<std::int64_t>(s.parameters.size());
  Arrays a;
  a.add("format_version", std::vector<std::int64_t>{1}, {1});
  const std::string planned = planned_toml(config);
  const std::uint64_t hash = fnv1a(planned);
  a.add("config_hash", std::vector<std::uint32_t>{static_cast<std::uint32_t>(hash), static_cast<std::uint32_t>(hash >> 32)},
        {2});
  // The configuration itself, so that a later version tells key by key
  // whether it still describes this run (see load_checkpoint).
  a.add("config_toml", std::vector<std::uint8_t>(planned.begin(), planned.end()),
        {static_cast<std::int64_t>(planned.size())});
  a.add("method", std::vector<std::int64_t>{s.method == Method::feedback ? 1 : 0}, {1});
  a.add("chunks_done", std::vector<std::int64_t>{s.chunks_done}, {1});
  a.add("parameters", s.parameters, {p});
  a.add("adam_m", s.adam_m, {static_cast<std::int64_t>(s.adam_m.size())});
  a.add("adam_v", s.adam_v, {static_cast<std::int64_t>(s.adam_v.size())});
  a.add("adam_step", std::vector<std::int64_t>{s.adam_step}, {1});
  a.add("accumulated_gradient", s.accumulated, {static_cast<std::int64_t>(s.accumulated.size())});
  a.add("rate_estimate", s.rate_estimate, {static_cast<std::int64_t>(s.rate_estimate.size())});
  a.add("loss_history", s.loss_history, {static_cast<std::int64_t>(s.loss_history.size())});
  a.add("best_loss", std::vector<double>{s.best_loss}, {1});
  a.add("best_chunk", std::vector<std::int64_t>{s.best_chunk}, {1});
  a.add("state_v", v, {b, n});
  a.add("state_g_rise", g_rise, {b, gn});
  a.add("state_g_decay", g_decay, {b, gn});
  a.add("state_refractory", refractory, {b, n});
  a.add("state_last_spike", last_spike, {b, n});
  a.write(path);
}

TrainerState load_checkpoint(const std::filesystem::path& path, const Config& config) {
  auto fail = [&](const std::string& why) {
    throw std::runtime_error(fmt::format("{}: not a usable checkpoint: {}", path.string(), why));
  };
  // Bounds from the config, checked before anything is inflated: the
  // trainable parameters are at most every possible edge plus a factor per
  // block of types; conductances a column per receptor of each neuron.
  const std::int64_t n = config.recurrent.num_neurons, m = config.feedforward.num_neurons;
  const std::int64_t b = config.training.batch_size;
  const auto n_types = static_cast<std::int64_t>(config.recurrent.type_names.size() + config.feedforward.type_names.size());
  const std::int64_t max_parameters = n * n + m * n + n_types * n_types;
  NpzLimits limits{{"checksum", 1}, {"format_version", 1}, {"config_hash", 2}, {"config_toml", 1 << 22},
                   {"method", 1}, {"chunks_done", 1},
                   {"adam_step", 1}, {"best_loss", 1}, {"best_chunk", 1}, {"parameters", max_parameters},
                   {"adam_m", max_parameters}, {"adam_v", max_parameters}, {"accumulated_gradient", max_parameters},
                   {"rate_estimate", n}, {"loss_history", config.simulation.num_chunks}, {"state_v", b * n},
                   {"state_refractory", b * n}, {"state_last_spike", b * n},
                   {"state_g_rise", b * n * max_receptor_columns}, {"state_g_decay", b * n * max_receptor_columns}};
  std::map<std::string, NpyArray> arrays;
  try {
    arrays = read_npz(path, limits);
  } catch (const std::exception& e) {
    fail(e.what());
  }
  auto get = [&](const std::string& name, DType dtype, std::size_t rank) -> const NpyArray& {
    const auto it = arrays.find(name);
    if (it == arrays.end()) fail("missing array '" + name + "'");
    if (it->second.dtype != dtype || it->second.shape.size() != rank) fail("array '" + name + "' has the wrong type");
    return it->second;
  };
  // Checksum first: everything after reads verified bytes.
  Arrays check;
  for (const auto& [name, arr] : arrays) {
    if (name == "checksum") continue;
    // Re-add the raw bytes as they were saved.
    switch (arr.dtype) {
      case DType::f8: check.add(name, arr.values<double>(), arr.shape); break;
      case DType::f4: check.add(name, arr.values<float>(), arr.shape); break;
      case DType::i8: check.add(name, arr.values<std::int64_t>(), arr.shape); break;
      case DType::i4: check.add(name, arr.values<std::int32_t>(), arr.shape); break;
      case DType::u4: check.add(name, arr.values<std::uint32_t>(), arr.shape); break;
      case DType::u1: check.add(name, arr.values<std::uint8_t>(), arr.shape); break;
      default: fail("array '" + name + "' has an unexpected type");
    }
  }
  const auto crc = get("checksum", DType::u4, 1).values<std::uint32_t>();
  if (crc.size() != 1 || crc[0] != check.checksum()) fail("checksum mismatch (the file is damaged)");
  if (get("format_version", DType::i8, 1).values<std::int64_t>() != std::vector<std::int64_t>{1})
    fail("unknown format version");
  const auto hash = get("config_hash", DType::u4, 1).values<std::uint32_t>();
  if (hash.size() != 2) fail("array 'config_hash' has the wrong shape");
  const std::uint64_t stored_hash = hash[0] | (static_cast<std::uint64_t>(hash[1]) << 32);
  const std::string now = planned_toml(config);
  if (stored_hash != fnv1a(now)) {
    // Not byte for byte the same configuration: key by key, with what an
    // earlier version implied for the keys it did not have.
    std::string stored;
    if (arrays.count("config_toml")) {
      const auto bytes = get("config_toml", DType::u1, 1).values<std::uint8_t>();
      stored.assign(bytes.begin(), bytes.end());
      if (fnv1a(stored) != stored_hash) fail("its arrays 'config_toml' and 'config_hash' disagree");
    } else {
      stored = earlier_config_text(path, stored_hash);
      if (stored.empty())
        fail("it was written for a different configuration (by an earlier version, which kept only a hash of it: "
             "the run's parameters.toml is not the file it was written with)");
    }
    const std::string difference = config_difference(stored, now);
    if (!difference.empty()) fail("it was written for a different configuration: " + difference);
  }

  TrainerState s;
  // "method" and "rate_estimate" came with `homeostat feedback`: absent, the file is from `train`.
  if (arrays.count("method")) {
    const auto method = get("method", DType::i8, 1).values<std::int64_t>();
    if (method.size() != 1 || (method[0] != 0 && method[0] != 1)) fail("unknown training method");
    s.method = method[0] == 1 ? Method::feedback : Method::gradient;
  }
  if (arrays.count("rate_estimate")) s.rate_estimate = get("rate_estimate", DType::f8, 1).values<double>();
  s.chunks_done = get("chunks_done", DType::i8, 1).values<std::int64_t>().at(0);
  s.parameters = get("parameters", DType::f8, 1).values<double>();
  s.adam_m = get("adam_m", DType::f8, 1).values<double>();
  s.adam_v = get("adam_v", DType::f8, 1).values<double>();
  s.adam_step = get("adam_step", DType::i8, 1).values<std::int64_t>().at(0);
  s.accumulated = get("accumulated_gradient", DType::f8, 1).values<double>();
  s.loss_history = get("loss_history", DType::f8, 1).values<double>();
  s.best_loss = get("best_loss", DType::f8, 1).values<double>().at(0);
  s.best_chunk = get("best_chunk", DType::i8, 1).values<std::int64_t>().at(0);
  const NpyArray& v = get("state_v", DType::f4, 2);
  const auto vv = v.values<float>();
  const auto gr = get("state_g_rise", DType::f4, 2).values<float>();
  const auto gd = get("state_g_decay", DType::f4, 2).values<float>();
  const auto rf = get("state_refractory", DType::i4, 2).values<std::int32_t>();
  const auto ls = get("state_last_spike", DType::i8, 2).values<std::int64_t>();
  if (v.shape[0] != b || v.shape[1] != n) fail("state shapes do not fit the config");
  const std::int64_t gn = b > 0 ? static_cast<std::int64_t>(gr.size()) / b : 0;
  if (gr.size() != gd.size() || static_cast<std::int64_t>(gr.size()) != b * gn || rf.size() != vv.size() ||
      ls.size() != vv.size())
    fail("the state arrays do not share one [trials, neurons] shape");
  check_values(path, s, config);
  check_state(path, config, s.chunks_done, n, gn, vv, gr, gd, rf, ls);
  for (std::int64_t t = 0; t < b; ++t) {
    TrialState<float> st;
    st.v.assign(vv.begin() + t * n, vv.begin() + (t + 1) * n);
    st.g_rise.assign(gr.begin() + t * gn, gr.begin() + (t + 1) * gn);
    st.g_decay.assign(gd.begin() + t * gn, gd.begin() + (t + 1) * gn);
    st.refractory.assign(rf.begin() + t * n, rf.begin() + (t + 1) * n);
    st.last_spike.assign(ls.begin() + t * n, ls.begin() + (t + 1) * n);
    s.trials.push_back(std::move(st));
  }
  return s;
}

}  // namespace homeostat::io
