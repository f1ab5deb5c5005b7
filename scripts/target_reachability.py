#!/usr/bin/env python3
"""Can the built-in network meet its membrane-ratio and CV targets at its target rates? (issue 18)

Two measurements, simulate only (no training), and one figure:
  1. Membrane ratio vs rate over a family of networks around the defaults: the defaults' weights
     scaled by s_ff (feedforward), s_inh (inhibitory -> all) and s_exc (excitatory -> all) on a
     4 x 5 x 3 grid, 20 s each; every network's mean rate and mean membrane ratio per type.
  2. CV against observation time: one network on its rate targets (--network, e.g. the
     final_state/network_structure.npz of `homeostat feedback` on the defaults) simulated for
     10 s, 40 s and 200 s, against a Poisson process of the same rates seen for as long
     (Monte Carlo, the analysis's estimator: ISIs inside the window, >= 3 spikes).
Trained networks can be added to panel 1 with --trained NAME=RUN_DIR (its last CSV row).

usage: scripts/target_reachability.py --network FILE [--binary build/release/homeostat]
                                      [--out runs/reachability] [--figure docs/figures/target_reachability.png]
                                      [--trained NAME=DIR ...]
"""
import argparse
import csv
import itertools
import os
import subprocess

import numpy as np

GRID = list(itertools.product([0.5, 1, 2, 4], [0.5, 1, 2, 4, 8], [0.5, 1, 2]))
W_FF, W_REC = (0.05, 0.02), ((0.1, 0.05), (0.2, 0.19))  # the defaults' w_mu


def simulate(binary, out, seconds, sets=(), network=None):
    cmd = [binary, "simulate", "-o", out, "--overwrite", "--no-figures",
           "--set", f"simulation.duration={1000.0 * seconds}"]
    cmd += [x for s in sets for x in ("--set", s)] + (["--network", network] if network else [])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return {name: {r["cell_type"]: r for r in csv.DictReader(open(os.path.join(out, "analysis", name + ".csv")))}
            for name in ("firing_rate_statistics", "voltage_statistics", "cv_statistics")}


def sweep(binary, out):
    path = os.path.join(out, "sweep.csv")
    if os.path.exists(path):
        return list(csv.DictReader(open(path)))
    rows = []
    for s_ff, s_inh, s_exc in GRID:
        sets = [f"feedforward.weights.w_mu=[[{W_FF[0] * s_ff}, {W_FF[1] * s_ff}]]",
                f"recurrent.weights.w_mu=[[{W_REC[0][0] * s_exc}, {W_REC[0][1] * s_exc}], "
                f"[{W_REC[1][0] * s_inh}, {W_REC[1][1] * s_inh}]]"]
        a = simulate(binary, os.path.join(out, "sweep_point"), 20.0, sets)
        row = {"s_ff": s_ff, "s_inh": s_inh, "s_exc": s_exc}
        for t in ("excitatory", "inhibitory"):
            row["rate_" + t] = a["firing_rate_statistics"][t]["mean_rate_hz"]
            row["ratio_" + t] = a["voltage_statistics"][t]["mean_membrane_ratio"]
            row["cv_" + t] = a["cv_statistics"][t]["mean_cv"]
        rows.append(row)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


def poisson_cv(rates, seconds, rng, repeats=20):
    """Mean analysis CV (ISIs inside the window, >= 3 spikes) of Poisson trains at `rates`."""
    cvs = []
    for _ in range(repeats):
        for r in rates:
            n = rng.poisson(r * seconds)
            if n < 3:
                continue
            isi = np.diff(np.sort(rng.uniform(0, seconds, n)))
            cvs.append(isi.std() / isi.mean())
    return float(np.mean(cvs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/release/homeostat")
    ap.add_argument("--network", required=True)
    ap.add_argument("--out", default="runs/reachability")
    ap.add_argument("--figure", default="docs/figures/target_reachability.png")
    ap.add_argument("--trained", action="append", default=[])
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rows = sweep(a.binary, a.out)
    print("membrane ratio vs rate, networks with the E rate within 0.25-1 Hz:")
    for r in rows:
        if 0.25 <= float(r["rate_excitatory"]) <= 1.0:
            print(f"  s_ff {r['s_ff']} s_inh {r['s_inh']} s_exc {r['s_exc']}: E {float(r['rate_excitatory']):.3f} Hz "
                  f"ratio {float(r['ratio_excitatory']):.3f}; I {float(r['rate_inhibitory']):.2f} Hz "
                  f"ratio {float(r['ratio_inhibitory']):.3f}")
    print("max membrane ratio over all networks: E", max(float(r["ratio_excitatory"]) for r in rows),
          "I", max(float(r["ratio_inhibitory"]) for r in rows))

    cv_rows, rng = [], np.random.default_rng(1)
    excitatory = np.load(a.network)["cell_type_indices"] == 0  # [N]
    for seconds in (10.0, 40.0, 200.0):
        run = os.path.join(a.out, f"long_{seconds:g}s")
        s = simulate(a.binary, run, seconds, network=a.network)
        spikes = np.load(os.path.join(run, "results", "output_spikes.npy"), mmap_mode="r")  # [1, T, N]
        cv_rows.append((seconds, float(s["cv_statistics"]["excitatory"]["mean_cv"]),
                        float(s["cv_statistics"]["inhibitory"]["mean_cv"]),
                        np.asarray(spikes[0].sum(axis=0)) / seconds))  # [N] Hz
    long_rates = cv_rows[-1][3][excitatory]
    print("CV of the network vs a Poisson process at the 200 s rates (E):")
    poisson = []
    for seconds, cv_e, cv_i, _ in cv_rows:
        p = poisson_cv(long_rates, seconds, rng)
        poisson.append(p)
        print(f"  {seconds:5.0f} s: network E {cv_e:.3f}, I {cv_i:.3f}; Poisson E {p:.3f}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9))
    for ax, t, target in ((axes[0], "excitatory", 0.5), (axes[1], "inhibitory", 5.0)):
        x = [float(r["rate_" + t]) for r in rows]
        y = [float(r["ratio_" + t]) for r in rows]
        ax.scatter(x, y, s=14, color="0.55", label="defaults with scaled weights (20 s)")
        for k, spec in enumerate(a.trained):
            name, run_dir = spec.split("=", 1)
            last = list(csv.DictReader(open(os.path.join(run_dir, "training_metrics.csv"))))[-1]
            ax.scatter([float(last["mean_rate_hz/" + t])], [float(last["membrane_ratio/" + t])], s=40,
                       marker="D", color=f"C{k}", label=f"trained: {name}")
        ax.scatter([target], [0.8], marker="*", s=180, color="red", zorder=5, label="targets")
        ax.axhline(0.8, color="red", lw=0.8, ls=":")
        ax.axvline(target, color="red", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel(f"mean {t} rate [Hz]")
        ax.set_ylabel(f"{t} membrane ratio sd(V) / (theta - mean V)")
        ax.set_title(f"{t}: membrane ratio vs rate", fontsize=10)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="lower right")
    ax = axes[2]
    secs = [r[0] for r in cv_rows]
    ax.plot(secs, [r[1] for r in cv_rows], "o-", label="network, excitatory")
    ax.plot(secs, poisson, "s--", label="Poisson at the same rates")
    ax.plot(secs, [r[2] for r in cv_rows], "o-", label="network, inhibitory")
    ax.axhline(1.0, color="red", lw=0.8, ls=":", label="target")
    ax.set_xscale("log")
    ax.set_xlabel("observation time per neuron [s]")
    ax.set_ylabel("mean ISI CV")
    ax.set_title("ISI CV vs observation time (rates on target)", fontsize=10)
    ax.set_ylim(0.5, 1.15)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(a.figure, dpi=110)
    print("wrote", a.figure)


if __name__ == "__main__":
    main()
