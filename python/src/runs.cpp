// simulate, gradient, train/feedback: each builds the run driver's request,
// runs it through a Bridge (GIL released, Ctrl-C -> the stop flag, Python
// callbacks on the caller's thread) and hands the results back as numpy.
#include "arrays.hpp"
#include "bridge.hpp"
#include "module.hpp"

#include "homeostat/io/config_toml.hpp"
#include "homeostat/loss.hpp"
#include "homeostat/run.hpp"

#include <omp.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cmath>

namespace py = pybind11;

namespace homeostat::python {
namespace {

using SpikeArray = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;

// Input spikes [trials, steps, M] (nonzero = spike) for replay, checked
// against the network and what the run needs (0 = anything).
std::unique_ptr<ReplayInputs> replay_from(const py::object& inputs, std::int64_t m, std::int64_t trials,
                                          std::int64_t steps) {
  if (inputs.is_none()) return nullptr;
  const auto a = inputs.cast<SpikeArray>();
  if (a.ndim() != 3 || a.shape(2) != m)
    throw NetworkError("inputs: input spikes must have shape (trials, steps, " + std::to_string(m) +
                       ") (M = " + std::to_string(m) + " inputs), got " + std::to_string(a.ndim()) + " dimensions" +
                       (a.ndim() == 3 ? " with " + std::to_string(a.shape(2)) + " inputs" : std::string()));
  if (trials > a.shape(0))
    throw NetworkError("inputs: holds " + std::to_string(a.shape(0)) + " trials, " + std::to_string(trials) +
                       " were asked for");
  if (steps > a.shape(1))
    throw NetworkError("inputs: holds " + std::to_string(a.shape(1)) + " steps, the simulation needs " +
                       std::to_string(steps) + "; shorten simulation.duration");
  std::vector<std::uint8_t> dense(a.data(), a.data() + a.size());
  return std::make_unique<ReplayInputs>(a.shape(0), a.shape(1), m, dense);
}

void check(const Network& net, const Config& config) {
  try {
    check_network(net, config);
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    throw NetworkError(std::string("network does not fit the configuration: ") + e.what());
  }
}

// The stop flag of `bridge`; console lines and warnings of the library
// printed by Python (so that a notebook shows them) on the caller's thread.
run::Callbacks callbacks(Bridge& bridge, bool verbose) {
  run::Callbacks cb;
  cb.stop = &bridge.stop;
  if (verbose)
    cb.on_message = [&bridge](const std::string& text) { bridge.call([&] { py::print(text); }); };
  cb.on_warning = [&bridge](const std::string& text) {
    bridge.call([&] {
      py::module_::import("warnings").attr("warn")(text, py::module_::import("builtins").attr("RuntimeWarning"), 2);
    });
  };
  return cb;
}

// What the two directory-writing requests share with their commands' flags.
template <class Request>
void set_directory(Request& req, const std::filesystem::path& output_dir, bool overwrite, bool force, int threads,
                   const std::string& command_line) {
  req.output_dir = output_dir;
  req.overwrite = overwrite;
  req.force = force;
  req.threads = threads;
  req.command_line = command_line;
}

const char* status_name(run::Status s) {
  switch (s) {
    case run::Status::completed: return "completed";
    case run::Status::interrupted: return "interrupted";
    case run::Status::non_finite: return "non_finite";
  }
  return "unknown";
}

py::dict per_type(const Config& c, const std::vector<double>& values) {
  py::dict d;
  for (std::size_t t = 0; t < values.size() && t < c.recurrent.type_names.size(); ++t)
    d[py::str(c.recurrent.type_names[t])] = values[t];
  return d;
}

RecordSpec record_spec(bool voltages, bool conductances, bool currents, const std::vector<std::int64_t>& neurons) {
  RecordSpec r;
  r.voltages = voltages;
  r.conductances = conductances;
  r.currents = currents;
  r.neurons = neurons;
  return r;
}

// What a simulation reports (metadata.json's numbers), for Result.info.
py::dict simulate_info(const Config& config, const run::SimulateResult& r, std::int64_t trials) {
  py::dict info;
  info["status"] = status_name(r.status);
  info["trials"] = trials;
  info["steps"] = r.steps_done;
  info["dt"] = config.simulation.dt;
  info["recurrent_spikes"] = r.recurrent_spikes;
  info["input_spikes"] = r.input_spikes;
  info["synaptic_events"] = r.synaptic_events;
  info["wall_seconds"] = r.wall_seconds;
  info["mean_rate_hz"] = per_type(config, r.mean_rate_hz);
  info["fraction_active"] = per_type(config, r.fraction_active);
  info["mean_cv"] = per_type(config, r.mean_cv);
  return info;
}

py::tuple simulate(const Config& config, const Network& net, std::int64_t trials, std::int64_t steps,
                   const py::object& inputs, bool voltages, bool conductances, bool currents,
                   const std::vector<std::int64_t>& neurons, int threads) {
  check(net, config);
  run::SimulateRequest req;
  req.steps = steps > 0 ? steps : std::llround(config.simulation.duration / config.simulation.dt);
  const std::unique_ptr<ReplayInputs> replay = replay_from(inputs, net.m, trials, req.steps);
  req.trials = trials > 0 ? trials : (replay ? replay->n_trials() : 1);
  req.replay = replay.get();
  for (const std::int64_t i : neurons)
    if (i < 0 || i >= net.n)
      throw py::index_error("neurons: " + std::to_string(i) + " is not a neuron (N = " + std::to_string(net.n) + ")");
  req.record = record_spec(voltages, conductances, currents, neurons);

  Bridge bridge;
  const run::Callbacks cb = callbacks(bridge, false);
  run::ArraySink sink;
  const run::SimulateResult r = bridge.run([&] {
    if (threads > 0) omp_set_num_threads(threads);
    return run::simulate(config, net, req, sink, cb);
  });
  if (r.status == run::Status::interrupted) throw std::runtime_error("simulate: interrupted");  // the bridge raised first
  return py::make_tuple(to_dict(sink.take()), simulate_info(config, r, req.trials));
}

py::dict simulate_to_dir(const Config& config, const Network& net, std::int64_t trials, const py::object& inputs,
                         bool voltages, bool conductances, bool currents, const std::vector<std::int64_t>& neurons,
                         const std::filesystem::path& output_dir, bool figures, bool overwrite, bool force,
                         int threads, const std::string& command_line, bool verbose) {
  check(net, config);
  const std::int64_t steps = std::llround(config.simulation.duration / config.simulation.dt);
  const std::unique_ptr<ReplayInputs> replay = replay_from(inputs, net.m, trials, steps);
  run::SimulateDirRequest req;
  req.config = config;
  req.network = net;
  req.network_source = "python";
  req.replay = replay.get();
  req.input_source = replay ? "python" : "";
  req.trials = trials > 0 ? trials : (replay ? replay->n_trials() : 1);
  req.record = record_spec(voltages, conductances, currents, neurons);  // no neurons = all
  req.default_recording = !(voltages || conductances || currents);  // as the CLI
  req.figures = figures;
  set_directory(req, output_dir, overwrite, force, threads, command_line);

  Bridge bridge;
  const run::Callbacks cb = callbacks(bridge, verbose);
  const run::SimulateResult r = bridge.run([&] { return run::simulate_to_dir(req, cb); });
  return simulate_info(config, r, req.trials);
}

py::tuple gradient(const Config& config, const Network& net, const py::object& inputs,
                   const std::vector<std::string>& losses, std::int64_t trials, std::int64_t checkpoint_every,
                   bool double_precision, double sparse_cutoff, bool force, int threads) {
  check(net, config);
  run::GradientRequest req;
  for (const auto& name : losses) req.losses.push_back(parse_loss_term(name));  // std::invalid_argument: ValueError
  req.trials = trials;
  req.checkpoint_every = checkpoint_every;
  req.double_precision = double_precision;
  req.sparse_cutoff = sparse_cutoff;
  req.force = force;
  req.threads = threads;
  const std::unique_ptr<ReplayInputs> replay = replay_from(inputs, net.m, trials, 0);

  Bridge bridge;
  const run::Callbacks cb = callbacks(bridge, false);
  run::GradientResult g = bridge.run([&] { return run::gradient(config, net, replay.get(), req, cb); });
  if (g.status == run::Status::interrupted) throw std::runtime_error("gradient: interrupted");  // the bridge raised first
  py::dict info;
  info["trials"] = g.trials;
  info["steps"] = g.steps;
  info["seconds"] = g.seconds;
  info["checkpoint_every"] = g.checkpoint_every;
  info["peak_state_bytes"] = g.peak_state_bytes;
  return py::make_tuple(to_dict(std::move(g.arrays)), info);
}

py::dict train(const std::string& method, const std::optional<Config>& config, const std::optional<Network>& network,
               const std::filesystem::path& output_dir, const std::filesystem::path& resume, bool overwrite,
               bool force, int threads, const std::string& command_line, const py::object& on_log, bool verbose) {
  run::TrainRequest req;
  if (method == "train") req.method = Method::gradient;
  else if (method == "feedback") req.method = Method::feedback;
  else throw std::invalid_argument("method: '" + method + "' (train or feedback)");
  if (config) req.config = *config;
  else if (resume.empty()) req.config = io::load_config({});
  if (network && resume.empty()) {
    check(*network, req.config);
    req.network = *network;
  }
  req.resume = resume;
  set_directory(req, output_dir, overwrite, force, threads, command_line);

  Bridge bridge;
  run::Callbacks cb = callbacks(bridge, verbose);
  // Python's wording for what to do next (hs.train(output_dir=..., resume=True)).
  auto quoted = [](const std::filesystem::path& p) { return py::repr(py::str(p.string())).cast<std::string>(); };
  cb.resume_hint = [&bridge, quoted](const std::string& command, const std::filesystem::path& checkpoint) {
    std::string text;
    bridge.call([&] { text = "homeostat." + command + "(resume=" + quoted(checkpoint) + ")"; });
    return text;
  };
  cb.restart_hint = [&bridge, quoted](const std::string& command, const std::filesystem::path& dir) {
    std::string text;
    bridge.call([&] { text = "homeostat." + command + "(config, " + quoted(dir) + ", overwrite=True)"; });
    return text;
  };
  if (!on_log.is_none())
    cb.on_log = [&](const run::MetricsRow& row) {
      bool go_on = true;
      bridge.call([&] {
        py::dict metrics;
        for (const auto& [name, value] : row) {
          if (name == "chunk") metrics[py::str(name)] = static_cast<std::int64_t>(value);
          else metrics[py::str(name)] = value;
        }
        const py::object answer = on_log(metrics);
        if (answer.ptr() == Py_False) go_on = false;
      });
      return go_on && !bridge.failed();
    };
  const run::TrainSummary s = bridge.run([&] { return run::train(req, cb); });
  py::dict out;
  out["status"] = status_name(s.status);
  out["dir"] = s.dir;
  out["start_chunk"] = s.start_chunk;
  out["chunks_done"] = s.chunks_done;
  out["total_chunks"] = s.total_chunks;
  out["best_loss"] = s.best_loss;
  out["best_chunk"] = s.best_chunk;
  out["checkpoint"] = s.checkpoint;
  out["reason"] = s.reason;
  return out;
}

}  // namespace

void bind_runs(py::module_& m) {
  m.def("simulate", &simulate, py::arg("config"), py::arg("network"), py::arg("trials"), py::arg("steps"),
        py::arg("inputs"), py::arg("voltages"), py::arg("conductances"), py::arg("currents"), py::arg("neurons"),
        py::arg("threads"));
  m.def("simulate_to_dir", &simulate_to_dir, py::arg("config"), py::arg("network"), py::arg("trials"),
        py::arg("inputs"), py::arg("voltages"), py::arg("conductances"), py::arg("currents"), py::arg("neurons"),
        py::arg("output_dir"), py::arg("figures"), py::arg("overwrite"), py::arg("force"), py::arg("threads"),
        py::arg("command_line"), py::arg("verbose"));
  m.def("gradient", &gradient, py::arg("config"), py::arg("network"), py::arg("inputs"), py::arg("losses"),
        py::arg("trials"), py::arg("checkpoint_every"), py::arg("double_precision"), py::arg("sparse_cutoff"),
        py::arg("force"), py::arg("threads"));
  m.def("train", &train, py::arg("method"), py::arg("config"), py::arg("network"), py::arg("output_dir"),
        py::arg("resume"), py::arg("overwrite"), py::arg("force"), py::arg("threads"), py::arg("command_line"),
        py::arg("on_log"), py::arg("verbose"));
}

}  // namespace homeostat::python
