#!/usr/bin/python3
"""Compare homeostat's `simulate` with the same network simulated in Brian2.

Run with Debian's interpreter, which has brian2 and numpy:

    /usr/bin/python3 bench/peers/brian2_compare.py --duration 10000

The script (1) runs `homeostat simulate` (or reuses an existing run
directory), (2) rebuilds the very same connectome, physiology, receptors and
saturation clamp in Brian2 from the run's network_structure.npz and
parameters.toml, (3) simulates it with Brian2's C++ standalone device,
replaying homeostat's own recorded input spikes, and (4) prints wall times and
per-cell-type firing statistics side by side, with a statistical agreement
check (z-score of the mean rate, two-sample KS test of the per-neuron rates).
It exits with status 1 when the statistics disagree beyond the thresholds, so
it can serve as a regression check; status 2 means the comparison could not be
run at all.

Two Brian2 integrations are offered (--integration):

* ``matched`` (default) reproduces homeostat's discrete-time map step for
  step (see docs/MODEL.md section 4): exact leak + forward-Euler synaptic
  current, exact exponential decay of each conductance part, spikes acting
  from the next-but-one membrane update, refractory hold of round(tau_ref/dt)
  extra steps. With replayed inputs the two rasters are then identical until
  float32 (homeostat) vs float64 (Brian2) rounding makes the chaotic network
  diverge; the script reports the first step where they differ.
* ``exponential_euler`` / ``euler`` / ``rk2`` / ``rk4``: the continuous-time
  equations integrated the way a Brian2 user would write them (no synaptic
  delay, refractory = tau_ref, v starts at U_reset). These differ from
  homeostat in well-understood O(dt) ways; only statistics should agree.

Every modelling difference is listed in bench/peers/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:  # Debian python 3.11 has tomllib; keep a clear message otherwise.
    import tomllib
except ImportError:  # pragma: no cover
    sys.exit("brian2_compare.py needs Python >= 3.11 (tomllib); run it with /usr/bin/python3")

SCRIPT_DIR = Path(__file__).resolve().parent
DEFAULT_BINARY = (SCRIPT_DIR / "../../build/release/homeostat").resolve()


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Simulate a homeostat network in Brian2 (C++ standalone) and compare "
                    "wall time and firing statistics with homeostat's own simulation.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_argument_group("homeostat run")
    src.add_argument("params", nargs="?", default=None,
                     help="homeostat PARAMS.toml (built-in defaults when omitted)")
    src.add_argument("--homeostat", default=str(DEFAULT_BINARY), help="path to the homeostat binary")
    src.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="config override passed to `homeostat simulate --set` (repeatable)")
    src.add_argument("--duration", type=float, default=None,
                     help="simulated duration in ms (shorthand for --set simulation.duration=...)")
    src.add_argument("--threads", type=int, default=1,
                     help="homeostat worker threads (Brian2 standalone runs single-threaded; "
                          "one trial uses one homeostat thread anyway)")
    src.add_argument("--run-dir", default=None,
                     help="use this existing homeostat run directory instead of running homeostat")
    src.add_argument("--work-dir", default=None,
                     help="where to put the homeostat run and the Brian2 build directories "
                          "(default: a fresh temporary directory, deleted unless --keep)")
    src.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    src.add_argument("--trial", type=int, default=0, help="which homeostat trial to compare with")
    src.add_argument("--no-io-estimate", dest="io_estimate", action="store_false",
                     help="skip the second, one-step homeostat run (same network) whose "
                          "simulation_wall_seconds estimates homeostat's fixed file-writing overhead")

    b2 = p.add_argument_group("Brian2")
    b2.add_argument("--integration", default="matched",
                    choices=["matched", "exponential_euler", "euler", "rk2", "rk4"],
                    help="'matched' reproduces homeostat's discrete-time step; the others integrate "
                         "the continuous-time equations natively in Brian2")
    b2.add_argument("--inputs", default="replay", choices=["replay", "poisson"],
                    help="replay homeostat's recorded input spikes (SpikeGeneratorGroup) or draw "
                         "independent Poisson inputs (PoissonGroup)")
    b2.add_argument("--device", default="cpp_standalone", choices=["cpp_standalone", "runtime"],
                    help="Brian2 device; runtime (cython/numpy) is the fallback only")
    b2.add_argument("--seed", type=int, default=1234, help="Brian2 seed (Poisson inputs only)")

    chk = p.add_argument_group("agreement check")
    chk.add_argument("--max-z", type=float, default=4.0,
                     help="fail when |mean-rate difference| / its standard error exceeds this")
    chk.add_argument("--min-ks-p", type=float, default=1e-3,
                     help="fail when the KS p-value of the per-neuron rates is below this")
    chk.add_argument("--json", default=None, metavar="FILE", help="also write all results as JSON")
    return p.parse_args(argv)


# --------------------------------------------------------------------------
# homeostat side
# --------------------------------------------------------------------------

def run_homeostat(args: argparse.Namespace, out_dir: Path) -> dict:
    """Run `homeostat simulate` into out_dir; return the command and its wall time.

    The command's total wall time includes process start, config resolution,
    network generation and every file homeostat writes; metadata.json's
    simulation_wall_seconds is taken inside homeostat (see load_homeostat_run).
    """
    binary = Path(args.homeostat)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise RuntimeError(f"homeostat binary not found or not executable: {binary}")
    cmd = [str(binary), "simulate"]
    if args.params:
        cmd.append(str(Path(args.params).resolve()))
    cmd += ["-o", str(out_dir), "--threads", str(args.threads), "--overwrite"]
    overrides = list(args.overrides)
    if args.duration is not None:
        overrides.append(f"simulation.duration={args.duration:g}")
    for kv in overrides:
        cmd += ["--set", kv]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"homeostat failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return {"command": cmd, "command_wall_seconds": wall}


def estimate_homeostat_overhead(args: argparse.Namespace, run_dir: Path, out_dir: Path) -> float:
    """simulation_wall_seconds of a one-step run on the same network.

    homeostat's simulation_wall_seconds (and its realtime_factor) are measured
    from the start of simulate_to_dir, so they include writing the connectome
    (network_structure.npz and dense [N,N] weight/connectivity .npy files) and
    the analysis CSVs; for N=5000 that is seconds. Subtracting a one-step run's
    value gives an estimate of the time-stepping loop alone, the quantity
    comparable to Brian2's loop time.
    """
    binary = Path(args.homeostat)
    with open(run_dir / "parameters.toml", "rb") as f:
        dt = float(tomllib.load(f)["simulation"]["dt"])
    cmd = [str(binary), "simulate", str(run_dir / "parameters.toml"), "-o", str(out_dir), "--overwrite",
           "--threads", str(args.threads), "--network", str(run_dir / "network_structure.npz"),
           "--set", f"simulation.duration={dt:g}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"homeostat one-step run failed:\n{proc.stdout}\n{proc.stderr}")
    meta = json.loads((out_dir / "metadata.json").read_text())
    shutil.rmtree(out_dir, ignore_errors=True)
    return float(meta["simulate"]["simulation_wall_seconds"])


@dataclass
class Receptor:
    """One receptor column, in homeostat's column order."""
    source: str          # presynaptic cell type (recurrent or input)
    name: str
    feedforward: bool
    presyn_type: int
    tau_rise: float      # ms
    tau_decay: float     # ms
    e_syn: float         # mV
    g_bar: float         # nS
    eta: float = 0.0
    g_max: float = 0.0   # g_bar / eta: increment per unit weight and the clamp bound


@dataclass
class RunData:
    """Everything the Brian2 model and the comparison need from a homeostat run."""
    run_dir: Path
    config: dict
    dt: float                          # ms
    steps: int
    n: int
    m: int
    cell_type: np.ndarray              # [N] int
    input_type: np.ndarray             # [M] int
    type_names: list
    input_type_names: list
    rec_pre: np.ndarray                # recurrent edges (pre, post, weight)
    rec_post: np.ndarray
    rec_w: np.ndarray
    ff_pre: np.ndarray
    ff_post: np.ndarray
    ff_w: np.ndarray
    receptors: list
    spike_steps: np.ndarray            # homeostat output spikes of the chosen trial
    spike_neurons: np.ndarray
    input_steps: np.ndarray            # homeostat input spikes of the chosen trial
    input_neurons: np.ndarray
    metadata: dict = field(default_factory=dict)


def dual_exp_eta(tau_rise: float, tau_decay: float) -> float:
    """Peak of the unit dual exponential (MODEL.md section 3)."""
    r = tau_rise / tau_decay
    return r ** (r / (1.0 - r)) - r ** (1.0 / (1.0 - r))


def receptor_columns(cfg: dict) -> list:
    """Receptor columns exactly as homeostat orders them: the recurrent types'
    receptors in type order, then the input types' receptors."""
    cols = []
    for feedforward, layer in ((False, cfg["recurrent"]), (True, cfg["feedforward"])):
        for t, tname in enumerate(layer["cell_types"]["names"]):
            syn = layer["synapses"][tname]
            for k, rname in enumerate(syn["names"]):
                c = Receptor(source=tname, name=rname, feedforward=feedforward, presyn_type=t,
                             tau_rise=float(syn["tau_rise"][k]), tau_decay=float(syn["tau_decay"][k]),
                             e_syn=float(syn["E_syn"][k]), g_bar=float(syn["g_bar"][k]))
                c.eta = dual_exp_eta(c.tau_rise, c.tau_decay)
                c.g_max = c.g_bar / c.eta
                cols.append(c)
    return cols


def _spike_list(path: Path, trial: int):
    """(step, neuron) of every True entry of a [trials, steps, n] bool .npy,
    read in slabs through a memory map so long runs do not need the dense
    array in memory."""
    arr = np.load(path, mmap_mode="r")
    if trial >= arr.shape[0]:
        raise RuntimeError(f"{path} has {arr.shape[0]} trials; --trial {trial} is out of range")
    steps, n = arr.shape[1], arr.shape[2]
    slab = max(1, (1 << 26) // max(1, n))
    out_s, out_n = [], []
    for s0 in range(0, steps, slab):
        s, i = np.nonzero(np.asarray(arr[trial, s0:s0 + slab]))
        out_s.append(s + s0)
        out_n.append(i)
    return np.concatenate(out_s).astype(np.int64), np.concatenate(out_n).astype(np.int64), steps, n


def load_homeostat_run(run_dir: Path, trial: int) -> RunData:
    """Read connectome, resolved config, recorded spikes and timing of a run."""
    with open(run_dir / "parameters.toml", "rb") as f:
        cfg = tomllib.load(f)
    net = np.load(run_dir / "network_structure.npz")
    rec_c, ff_c = net["recurrent_connectivity"], net["feedforward_connectivity"]
    rec_wd, ff_wd = net["recurrent_weights"], net["feedforward_weights"]
    rec_pre, rec_post = np.nonzero(rec_c)
    ff_pre, ff_post = np.nonzero(ff_c)
    spk_s, spk_n, steps, n = _spike_list(run_dir / "results" / "output_spikes.npy", trial)
    inp_s, inp_n, steps_in, m = _spike_list(run_dir / "results" / "input_spikes.npy", trial)
    assert steps_in == steps and n == rec_c.shape[0] and m == ff_c.shape[0]
    meta = {}
    if (run_dir / "metadata.json").is_file():
        meta = json.loads((run_dir / "metadata.json").read_text())
    return RunData(
        run_dir=run_dir, config=cfg, dt=float(cfg["simulation"]["dt"]), steps=int(steps), n=int(n), m=int(m),
        cell_type=net["cell_type_indices"].astype(np.int64),
        input_type=net["feedforward_cell_type_indices"].astype(np.int64),
        type_names=list(cfg["recurrent"]["cell_types"]["names"]),
        input_type_names=list(cfg["feedforward"]["cell_types"]["names"]),
        # float32 weights are converted exactly to float64 for Brian2.
        rec_pre=rec_pre, rec_post=rec_post, rec_w=rec_wd[rec_pre, rec_post].astype(np.float64),
        ff_pre=ff_pre, ff_post=ff_post, ff_w=ff_wd[ff_pre, ff_post].astype(np.float64),
        receptors=receptor_columns(cfg),
        spike_steps=spk_s, spike_neurons=spk_n, input_steps=inp_s, input_neurons=inp_n, metadata=meta)


# --------------------------------------------------------------------------
# Brian2 side
# --------------------------------------------------------------------------

def neuron_equations(receptors: list) -> str:
    """Conductance-based LIF with two state variables (d, u) per receptor column.

    The leak and decay *rates* k_leak, kd_k, ku_k are parameters so that one
    equation text serves both integrations: in 'matched' mode they are set to
    (1 - exp(-dt/tau))/dt, for which Brian2's forward Euler step
    x + dt*f(x) reproduces homeostat's exact exponential leak/decay and its
    forward-Euler synaptic current bit for bit (up to float rounding); in the
    native modes they are simply 1/tau.
    """
    lines = ["dv/dt = (E_L - v)*k_leak - I_syn/C_m : volt (unless refractory)"]
    lines.append("I_syn = " + " + ".join(f"(d_{k} + u_{k})*(v - E_syn_{k})" for k in range(len(receptors)))
                 + " : amp")
    for k in range(len(receptors)):
        lines.append(f"dd_{k}/dt = -d_{k}*kd_{k} : siemens")
        lines.append(f"du_{k}/dt = -u_{k}*ku_{k} : siemens")
    lines += ["E_L : volt (constant)", "C_m : farad (constant)", "k_leak : 1/second (constant)",
              "theta : volt (constant)", "U_reset : volt (constant)", "t_ref : second (constant)"]
    return "\n".join(lines)


def on_pre_code(receptors: list, feedforward: bool, presyn_type: int) -> str:
    """A spike adds +w*g_max to d and -w*g_max to u of every receptor column of
    its presynaptic type (MODEL.md section 3)."""
    code = []
    for k, c in enumerate(receptors):
        if c.feedforward == feedforward and c.presyn_type == presyn_type:
            code.append(f"d_{k}_post += w*g_max_{k}")
            code.append(f"u_{k}_post -= w*g_max_{k}")
    return "\n".join(code)


def clamp_code(receptors: list) -> str:
    """Saturation clamp of MODEL.md step 6: d in [0, g_max], u in [-g_max, 0].
    Weights are positive, so clipping all columns once after all of a step's
    increments equals homeostat's clip after each increment."""
    return "\n".join(f"d_{k} = clip(d_{k}, 0*nS, g_max_{k})\nu_{k} = clip(u_{k}, -g_max_{k}, 0*nS)"
                     for k in range(len(receptors)))


def run_brian2(data: RunData, args: argparse.Namespace, build_dir: Path) -> dict:
    """Build the network in Brian2, simulate data.steps steps, return spikes and timings.

    Step order in 'matched' mode, per Brian2 time step n (schedule start,
    groups, thresholds, synapses, resets, end):
      groups:     v(n) = f(v, g) (Euler on the rate-substituted equations, i.e.
                  homeostat's step 3) and d,u decay (step 4), frozen while refractory;
      thresholds: spike if v(n) > theta and not refractory (step 1 of homeostat's step n);
      synapses:   spikes of step n-1 arrive (delay = dt) and increment d,u (step 5);
      after_synapses: the clamp (step 6);
      resets:     v = U_reset for the neurons that spiked.
    With the one-step synaptic delay, the refractory period (n_ref + 2)*dt and the
    initial v chosen so that the first update yields U_reset, Brian2's v after the
    groups slot of step n equals homeostat's v(n) and its spikes equal s(n).
    """
    import brian2 as b2
    from brian2 import ms, mV, nS, pF, second

    b2.prefs.logging.console_log_level = "WARNING"
    matched = args.integration == "matched"
    dt = data.dt
    timings = {}
    t_setup = time.perf_counter()
    if args.device == "cpp_standalone":
        if build_dir.exists():
            shutil.rmtree(build_dir)
        b2.set_device("cpp_standalone", directory=str(build_dir), build_on_run=False)
    else:
        b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = dt * ms
    if args.inputs == "poisson":
        b2.seed(args.seed)

    cfg = data.config
    rec = data.receptors
    namespace = {}
    for k, c in enumerate(rec):
        namespace[f"g_max_{k}"] = c.g_max * nS
        namespace[f"E_syn_{k}"] = c.e_syn * mV
        if matched:
            namespace[f"kd_{k}"] = -math.expm1(-dt / c.tau_decay) / (dt * ms)
            namespace[f"ku_{k}"] = -math.expm1(-dt / c.tau_rise) / (dt * ms)
        else:
            namespace[f"kd_{k}"] = 1.0 / (c.tau_decay * ms)
            namespace[f"ku_{k}"] = 1.0 / (c.tau_rise * ms)

    method = "euler" if matched else args.integration
    G = b2.NeuronGroup(data.n, neuron_equations(rec), threshold="v > theta", reset="v = U_reset",
                       refractory="t_ref", method=method, namespace=namespace, name="recurrent")

    # Per-neuron physiology from the cell type.
    phys = cfg["recurrent"]["physiology"]
    per = {key: np.empty(data.n) for key in ("E_L", "C_m", "k_leak", "theta", "U_reset", "t_ref", "v0")}
    for t, tname in enumerate(data.type_names):
        p = phys[tname]
        sel = data.cell_type == t
        beta = math.exp(-dt / p["tau_mem"])
        n_ref = int(round(p["tau_ref"] / dt))  # homeostat: llround(tau_ref/dt)
        per["E_L"][sel] = p["E_L"]
        per["C_m"][sel] = p["tau_mem"] * p["g_L"]          # ms * nS = pF
        per["k_leak"][sel] = (-math.expm1(-dt / p["tau_mem"]) / dt) if matched else 1.0 / p["tau_mem"]
        per["theta"][sel] = p["theta"]
        per["U_reset"][sel] = p["U_reset"]
        # matched: v is held at U_reset for n_ref + 1 recorded steps, the next
        # spike at the earliest n_ref + 2 steps later (homeostat's forward.cpp).
        per["t_ref"][sel] = ((n_ref + 2) * dt) if matched else p["tau_ref"]
        # matched: the groups slot integrates before the first threshold, so
        # start from the state whose free update is exactly U_reset.
        per["v0"][sel] = (p["E_L"] + (p["U_reset"] - p["E_L"]) / beta) if matched else p["U_reset"]
    G.E_L = per["E_L"] * mV
    G.C_m = per["C_m"] * pF
    G.k_leak = per["k_leak"] / ms
    G.theta = per["theta"] * mV
    G.U_reset = per["U_reset"] * mV
    G.t_ref = per["t_ref"] * ms
    G.v = per["v0"] * mV

    # Inputs.
    if args.inputs == "replay":
        P = b2.SpikeGeneratorGroup(data.m, data.input_neurons, data.input_steps * dt * ms, name="inputs")
    else:
        rates = np.array([cfg["feedforward"]["activity"][data.input_type_names[t]]["firing_rate"]
                          for t in data.input_type])
        P = b2.PoissonGroup(data.m, rates=rates * b2.Hz, name="inputs")

    delay = dt * ms if matched else 0 * ms
    objects = [G, P]
    n_syn = 0
    for feedforward, source, pre, post, w, types, names in (
            (False, G, data.rec_pre, data.rec_post, data.rec_w, data.cell_type, data.type_names),
            (True, P, data.ff_pre, data.ff_post, data.ff_w, data.input_type, data.input_type_names)):
        for t, tname in enumerate(names):
            code = on_pre_code(rec, feedforward, t)
            sel = types[pre] == t
            if not code or not np.any(sel):
                continue
            S = b2.Synapses(source, G, "w : 1 (constant)", on_pre=code, delay=delay, namespace=namespace,
                            name=f"syn_{'ff' if feedforward else 'rec'}_{tname}")
            S.connect(i=pre[sel], j=post[sel])
            S.w = w[sel]
            n_syn += int(sel.sum())
            objects.append(S)
    if cfg["simulation"].get("saturate", True):
        G.run_regularly(clamp_code(rec), when="after_synapses", name="saturation_clamp")
    mon = b2.SpikeMonitor(G, name="spikes")
    objects.append(mon)
    net = b2.Network(*objects)
    net.run(data.steps * dt * ms, namespace=namespace)
    timings["setup_seconds"] = time.perf_counter() - t_setup

    if args.device == "cpp_standalone":
        t0 = time.perf_counter()
        b2.device.build(directory=str(build_dir), compile=True, run=False, clean=True, with_output=False)
        timings["codegen_compile_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        b2.device.run(str(build_dir), with_output=False, run_args=[])
        timings["binary_wall_seconds"] = time.perf_counter() - t0
        # Measured by the generated main() around the network's time loop only.
        timings["simulation_seconds"] = float(b2.device._last_run_time)
    else:
        # Runtime mode: net.run above already simulated (including code
        # generation and Cython compilation on first use).
        timings["runtime_total_seconds"] = timings.pop("setup_seconds")
    spike_i = np.asarray(mon.i[:], dtype=np.int64)
    spike_step = np.rint(np.asarray(mon.t[:] / ms) / dt).astype(np.int64)
    return {"spike_steps": spike_step, "spike_neurons": spike_i, "timings": timings,
            "n_synapses": n_syn, "method": method, "device": args.device,
            "brian2_version": b2.__version__}


# --------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------

def per_neuron_stats(steps_arr: np.ndarray, neurons: np.ndarray, n: int, n_steps: int, dt: float):
    """Per-neuron rate (Hz) and ISI CV (population sd / mean; NaN below 3 spikes)."""
    duration_s = n_steps * dt / 1000.0
    counts = np.bincount(neurons, minlength=n)
    rates = counts / duration_s
    cv = np.full(n, np.nan)
    order = np.lexsort((steps_arr, neurons))
    s_sorted, n_sorted = steps_arr[order], neurons[order]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for i in np.nonzero(counts >= 3)[0]:
        isi = np.diff(s_sorted[bounds[i]:bounds[i + 1]]).astype(np.float64)
        cv[i] = isi.std() / isi.mean()
    assert np.all(n_sorted[bounds[:-1][counts > 0]] == np.nonzero(counts > 0)[0])
    return rates, cv


def ks_2samp(a: np.ndarray, b: np.ndarray):
    """Two-sample KS statistic and asymptotic p-value.

    Uses scipy.stats.ks_2samp(method='asymp') when scipy is importable,
    otherwise the same statistic in numpy with the Kolmogorov distribution's
    series Q(x) = 2 sum_k (-1)^(k-1) exp(-2 k^2 x^2), x = D sqrt(n m/(n+m)).
    Rates are discrete (counts / duration); ties make the test conservative.
    """
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan"), "n/a"
    try:
        from scipy import stats
        r = stats.ks_2samp(a, b, method="asymp")
        return float(r.statistic), float(r.pvalue), "scipy"
    except ImportError:
        pass
    grid = np.concatenate([a, b])
    d = float(np.max(np.abs(np.searchsorted(a, grid, side="right") / len(a)
                            - np.searchsorted(b, grid, side="right") / len(b))))
    x = d * math.sqrt(len(a) * len(b) / (len(a) + len(b)))
    if x < 1e-3:
        return d, 1.0, "numpy"
    k = np.arange(1, 101)
    p = float(np.clip(2.0 * np.sum((-1.0) ** (k - 1) * np.exp(-2.0 * k * k * x * x)), 0.0, 1.0))
    return d, p, "numpy"


def z_score(x: np.ndarray, y: np.ndarray) -> float:
    """Difference of means over its standard error (Welch); 0 when both are constant and equal."""
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) < 2 or len(y) < 2:
        return float("nan")
    se = math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
    diff = float(x.mean() - y.mean())
    if se == 0.0:
        return 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
    return diff / se


def type_summary(rates: np.ndarray, cv: np.ndarray) -> dict:
    valid = cv[np.isfinite(cv)]
    return {"n": int(len(rates)), "mean_rate_hz": float(rates.mean()) if len(rates) else float("nan"),
            "std_rate_hz": float(rates.std()) if len(rates) else float("nan"),
            "fraction_active": float(np.mean(rates > 0)) if len(rates) else float("nan"),
            "n_cv": int(len(valid)), "mean_cv": float(valid.mean()) if len(valid) else float("nan")}


def raster_agreement(data: RunData, b_steps: np.ndarray, b_neurons: np.ndarray) -> dict:
    """How long the two rasters stay identical (meaningful for matched + replay)."""
    key_h = data.spike_steps * data.n + data.spike_neurons
    key_b = b_steps * data.n + b_neurons
    common = np.intersect1d(key_h, key_b, assume_unique=False)
    only = np.setxor1d(key_h, key_b)
    first = int(only.min() // data.n) if len(only) else None
    at_first = []
    if first is not None:
        set_h, set_b = set(key_h.tolist()), set(key_b.tolist())
        at_first = [{"neuron": int(k % data.n), "homeostat": k in set_h, "brian2": k in set_b}
                    for k in only[only // data.n == first].tolist()]
    return {"homeostat_spikes": int(len(key_h)), "brian2_spikes": int(len(key_b)),
            "common_spikes": int(len(common)),
            "first_differing_step": first,
            "first_differing_ms": None if first is None else first * data.dt,
            "first_differences": at_first,
            "spikes_before_divergence": int(np.sum(key_h < (first if first is not None else data.steps) * data.n))}


def compare(data: RunData, brian: dict, args: argparse.Namespace) -> dict:
    """Per-type statistics of both simulators and the agreement verdict."""
    h_rates, h_cv = per_neuron_stats(data.spike_steps, data.spike_neurons, data.n, data.steps, data.dt)
    b_rates, b_cv = per_neuron_stats(brian["spike_steps"], brian["spike_neurons"], data.n, data.steps, data.dt)
    rows, ok = [], True
    for t, tname in enumerate(data.type_names):
        sel = data.cell_type == t
        ks_d, ks_p, ks_impl = ks_2samp(h_rates[sel], b_rates[sel])
        z = z_score(h_rates[sel], b_rates[sel])
        z_cv = z_score(h_cv[sel], b_cv[sel])
        agree = not (abs(z) > args.max_z or (np.isfinite(ks_p) and ks_p < args.min_ks_p))
        ok &= agree
        rows.append({"cell_type": tname, "homeostat": type_summary(h_rates[sel], h_cv[sel]),
                     "brian2": type_summary(b_rates[sel], b_cv[sel]), "z_rate": z, "z_cv": z_cv,
                     "ks_d": ks_d, "ks_p": ks_p, "ks_impl": ks_impl, "agree": bool(agree)})
    return {"types": rows, "agree": bool(ok), "raster": raster_agreement(data, brian["spike_steps"],
                                                                         brian["spike_neurons"])}


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

def machine_info() -> dict:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "loadavg_start": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def print_report(data: RunData, hs: dict, brian: dict, cmp: dict, args: argparse.Namespace, machine: dict):
    sim_s = data.steps * data.dt / 1000.0
    meta_sim = data.metadata.get("simulate", {})
    hs_sim = meta_sim.get("simulation_wall_seconds")
    bt = brian["timings"]
    print()
    print(f"network: N={data.n} ({', '.join(f'{n}={int(np.sum(data.cell_type == t))}' for t, n in enumerate(data.type_names))}),"
          f" M={data.m}, {len(data.receptors)} receptor columns, {len(data.rec_w)} recurrent + {len(data.ff_w)}"
          f" feedforward synapses; dt={data.dt} ms, {data.steps} steps = {sim_s:g} s simulated")
    print(f"Brian2 {brian['brian2_version']}: device={brian['device']}, integration={args.integration}"
          f" (method {brian['method']}), inputs={args.inputs}")
    print(f"machine: {machine['cpu']}, {machine['cores']} cores; load avg at start "
          f"{machine['loadavg_start'][0]:.2f}, at end {machine['loadavg_end'][0]:.2f}")
    print()
    print(f"{'wall time':<44}{'seconds':>10}{'x realtime':>12}")
    def line(label, sec):
        if sec is None:
            return
        print(f"{label:<44}{sec:>10.3f}{sim_s / sec if sec > 0 else float('inf'):>12.3f}")
    line("homeostat simulation_wall_seconds (metadata)", hs_sim)
    line("homeostat command total", hs.get("command_wall_seconds"))
    if "one_step_wall_seconds" in hs:
        print(f"{'homeostat same, 1-step run (I/O overhead)':<44}{hs['one_step_wall_seconds']:>10.3f}")
        line("homeostat loop estimate (difference)", hs["loop_estimate_seconds"])
    line("Brian2 simulation loop (excl. compile)", bt.get("simulation_seconds"))
    line("Brian2 runtime device, incl. Cython compile", bt.get("runtime_total_seconds"))
    line("Brian2 binary wall (loop + load/save arrays)", bt.get("binary_wall_seconds"))
    line("Brian2 network setup in Python", bt.get("setup_seconds"))
    line("Brian2 code generation + compilation", bt.get("codegen_compile_seconds"))
    print("(x realtime = simulated seconds / wall seconds; > 1 is faster than real time)")
    print()
    hdr = (f"{'type':<12}{'sim':<10}{'n':>6}{'mean Hz':>10}{'std Hz':>10}{'active':>8}{'nCV':>6}{'mean CV':>9}"
           f"{'z(rate)':>9}{'KS D':>7}{'KS p':>10}{'z(CV)':>8}  verdict")
    print(hdr)
    print("-" * len(hdr))
    for r in cmp["types"]:
        for who in ("homeostat", "brian2"):
            s = r[who]
            tail = ""
            if who == "brian2":
                tail = (f"{r['z_rate']:>9.2f}{r['ks_d']:>7.3f}{r['ks_p']:>10.3g}{r['z_cv']:>8.2f}  "
                        f"{'agree' if r['agree'] else 'DISAGREE'}")
            print(f"{r['cell_type'] if who == 'homeostat' else '':<12}{who:<10}{s['n']:>6}{s['mean_rate_hz']:>10.4f}"
                  f"{s['std_rate_hz']:>10.4f}{s['fraction_active']:>8.3f}{s['n_cv']:>6}{s['mean_cv']:>9.3f}{tail}")
    ra = cmp["raster"]
    print()
    print(f"rasters: homeostat {ra['homeostat_spikes']} spikes, Brian2 {ra['brian2_spikes']}, "
          f"{ra['common_spikes']} identical (step, neuron) pairs; "
          + ("identical throughout" if ra["first_differing_step"] is None else
             f"first difference at step {ra['first_differing_step']} ({ra['first_differing_ms']:g} ms), "
             f"after {ra['spikes_before_divergence']} identical spikes: "
             + ", ".join(f"neuron {d['neuron']} spikes only in {'homeostat' if d['homeostat'] else 'Brian2'}"
                         for d in ra["first_differences"])))
    print(f"check: |z(rate)| <= {args.max_z:g} and KS p >= {args.min_ks_p:g} per type "
          f"(KS via {cmp['types'][0]['ks_impl'] if cmp['types'] else 'n/a'}): "
          + ("AGREE" if cmp["agree"] else "DISAGREE"))


def main(argv=None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    tmp_owner = None
    if args.work_dir:
        work = Path(args.work_dir).resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp_owner = tempfile.mkdtemp(prefix="brian2_compare_")
        work = Path(tmp_owner)
    try:
        hs = {}
        if args.run_dir:
            run_dir = Path(args.run_dir).resolve()
        else:
            run_dir = work / "homeostat_run"
            hs = run_homeostat(args, run_dir)
        data = load_homeostat_run(run_dir, args.trial)
        if args.io_estimate and "simulation_wall_seconds" in data.metadata.get("simulate", {}):
            hs["one_step_wall_seconds"] = estimate_homeostat_overhead(args, run_dir, work / "homeostat_one_step")
            hs["loop_estimate_seconds"] = (data.metadata["simulate"]["simulation_wall_seconds"]
                                           - hs["one_step_wall_seconds"])
        build_dir = work / f"brian2_build_{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}"
        brian = run_brian2(data, args, build_dir)
        machine["loadavg_end"] = os.getloadavg()
        cmp = compare(data, brian, args)
        print_report(data, hs, brian, cmp, args, machine)
        if args.json:
            out = {"machine": machine, "args": vars(args), "run_dir": str(run_dir), "homeostat": hs,
                   "homeostat_metadata_simulate": data.metadata.get("simulate", {}),
                   "n": data.n, "m": data.m, "dt_ms": data.dt, "steps": data.steps,
                   "brian2": {k: v for k, v in brian.items() if k not in ("spike_steps", "spike_neurons")},
                   "comparison": cmp}
            Path(args.json).write_text(json.dumps(out, indent=2, default=str))
        return 0 if cmp["agree"] else 1
    except Exception as exc:  # noqa: BLE001 - report and signal "could not compare"
        import traceback
        traceback.print_exc()
        print(f"brian2_compare: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if tmp_owner and not args.keep:
            shutil.rmtree(tmp_owner, ignore_errors=True)
        elif tmp_owner:
            print(f"work directory kept: {tmp_owner}")


if __name__ == "__main__":
    sys.exit(main())
