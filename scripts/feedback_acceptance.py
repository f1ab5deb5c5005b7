#!/usr/bin/env python3
"""Acceptance of the feedback rule (issue 18) on three networks, same [feedback] defaults.

Runs `homeostat feedback` on (1) the built-in defaults, (2) 400 neurons at 0.1 ms with
100 ms chunks x 4 trials, (3) 2000 neurons at 0.1 ms with 500 ms chunks x 4 trials,
logging every chunk, and checks on training_metrics.csv, for every cell type:
  - the rate is within 10% of target from chunk `settle` on, for at least 50 chunks
    (the run is settle + 50 chunks long; the last row outside 10% is before `settle`);
  - it is never more than 30% above target on the way.
The rate judged is the CSV's per-chunk type mean averaged over the last rows that make
--window-seconds of observed activity (default 32 s, one chunk of the defaults): a chunk of the
small-chunk networks observes 0.4 s or 2 s, and their per-chunk type rates fluctuate by
25-30% (Poisson counts and whole-network bursts within the chunk) around a mean the rule
holds on target; the per-chunk peak is printed too.
Exit status 0 when every network passes. --figure PNG draws rate/target per type vs chunk.

usage: scripts/feedback_acceptance.py [--binary build/release/homeostat] [--out runs/feedback_acceptance]
                                      [--only NAME ...] [--figure docs/figures/feedback_trajectories.png]
                                      [--set KEY=VALUE ...]   (extra overrides for every network)
                                      [--window-seconds 32]   (observed seconds the judged rate averages)
                                      [--reuse]               (check existing runs, do not rerun)
"""
import argparse
import csv
import os
import subprocess
import sys
import time

COMMON = ["training.log_interval=1", "training.checkpoint_interval=100000", "simulation.duration=1000.0"]
NETWORKS = [
    # name, overrides, settle chunk, observed seconds per chunk (batch x chunk duration)
    ("defaults", [], 40, 32.0),
    ("n400_dt0.1_100ms_b4",
     ["recurrent.topology.num_neurons=400", "recurrent.topology.num_assemblies=4",
      "feedforward.topology.num_neurons=120", "simulation.dt=0.1", "simulation.chunk_size=1000",
      "training.batch_size=4"], 350, 0.4),
    ("n2000_dt0.1_500ms_b4",
     ["recurrent.topology.num_neurons=2000", "feedforward.topology.num_neurons=600", "simulation.dt=0.1",
      "simulation.chunk_size=5000", "training.batch_size=4"], 200, 2.0),
]


def read_metrics(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    types = [k.split("/", 1)[1] for k in rows[0] if k.startswith("mean_rate_hz/")]
    chunks = [int(r["chunk"]) for r in rows]
    rates = {t: [float(r["mean_rate_hz/" + t]) for r in rows] for t in types}
    return chunks, rates


def targets_of(run_dir):
    """Per-type targets from the run's config.toml ([targets] firing_rate.TYPE = X of parameters.toml)."""
    out, section = {}, None
    with open(os.path.join(run_dir, "parameters.toml")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line.startswith("["):
                section = line.strip("[]")
            elif section == "targets" and line.startswith("firing_rate."):
                key, value = line.split("=", 1)
                out[key.strip()[len("firing_rate."):]] = float(value)
    return out


def smooth(values, window):
    return [sum(values[max(0, i - window + 1):i + 1]) / (i + 1 - max(0, i - window + 1)) for i in range(len(values))]


def judge(chunks, rates, targets, settle, window):
    ok, lines = True, []
    for t, r in rates.items():
        rel = [x / targets[t] for x in smooth(r, window)]
        outside = [c for c, x in zip(chunks, rel) if abs(x - 1) > 0.10]
        within_from = (outside[-1] + 1) if outside else chunks[0]
        held = chunks[-1] - within_from + 1
        peak = max(rel)
        raw_peak = max(x / targets[t] for x in r)
        passed = within_from <= settle and held >= 50 and peak <= 1.30
        ok &= passed
        lines.append(f"  {t:<12} start {rel[0]:.3f}  peak {peak:.3f}  within 10% from chunk {within_from} "
                     f"(required <= {settle}), held {held} chunks, final {rel[-1]:.3f}, per-chunk peak {raw_peak:.2f}  "
                     f"{'PASS' if passed else 'FAIL'}")
    return ok, lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/release/homeostat")
    ap.add_argument("--out", default="runs/feedback_acceptance")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--figure")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--window-seconds", type=float, default=32.0)
    a = ap.parse_args()
    all_ok, results = True, []
    for name, overrides, settle, chunk_seconds in NETWORKS:
        if a.only and name not in a.only:
            continue
        window = max(1, round(a.window_seconds / chunk_seconds))
        run_dir = os.path.join(a.out, name)
        sets = COMMON + overrides + [f"simulation.num_chunks={settle + 50}"] + a.set
        if not a.reuse:
            cmd = [a.binary, "feedback", "-o", run_dir, "--overwrite"] + [x for s in sets for x in ("--set", s)]
            t0 = time.time()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            print(f"{name}: {time.time() - t0:.0f} s wall")
        chunks, rates = read_metrics(os.path.join(run_dir, "training_metrics.csv"))
        targets = targets_of(run_dir)
        ok, lines = judge(chunks, rates, targets, settle, window)
        print(f"{name} ({len(chunks)} chunks, rate averaged over {window} chunk(s)): {'PASS' if ok else 'FAIL'}")
        print("\n".join(lines))
        all_ok &= ok
        results.append((name, chunks, rates, targets, settle, window))
    if a.figure and results:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.4), squeeze=False)
        for ax, (name, chunks, rates, targets, settle, window) in zip(axes[0], results):
            for t, r in rates.items():
                ax.plot(chunks, [x / targets[t] for x in r], lw=0.6, alpha=0.45)
                ax.plot(chunks, [x / targets[t] for x in smooth(r, window)], lw=1.4,
                        color=ax.lines[-1].get_color(), label=f"{t}" + (f" ({window}-chunk mean)" if window > 1 else ""))
            ax.axhspan(0.9, 1.1, color="0.85", zorder=0)
            ax.axhline(1.3, color="0.4", ls=":", lw=1)
            ax.axvline(settle, color="0.4", ls="--", lw=1)
            ax.set_title(f"{name} (thin: per chunk)", fontsize=9)
            ax.set_xlabel("chunk")
            ax.set_ylim(0, 2.0)
            ax.legend(fontsize=7, loc="lower right")
        axes[0][0].set_ylabel("rate / target")
        fig.tight_layout()
        fig.savefig(a.figure, dpi=120)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
