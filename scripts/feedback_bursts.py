#!/usr/bin/env python3
"""Are the 2000-neuron network's bursts its own or the feedback rule's? (issue 18)

Runs the chunks of the 2000-neuron acceptance network (0.1 ms, 4 trials x 500 ms) with the weights
frozen (`feedback` with rule "ema" and both gains 0: every factor is 1, so nothing is scaled) and
counts bursts, for networks at and around the target rate:
  - final: the rule's final weights (RUN/final_state), every excitatory input x s and every
    inhibitory input x 1/s (s > 1 moves the drive on from where the rule left it);
  - block: the initial weights (RUN/initial_state) scaled per block by the rule's mean factors
    (geometric mean over each block's edges of final / initial), times s and 1/s as above: the same
    drive with no per-neuron spread between the factors.
RUN is the directory of `scripts/feedback_acceptance.py --only n2000_dt0.1_500ms_b4` (or any
`homeostat feedback` run of that network). Prints, per network, the per-chunk excitatory rate /
target: mean, median, sd, chunks above 1.5x and 2x, maximum.

usage: scripts/feedback_bursts.py RUN [--binary build/release/homeostat] [--out runs/feedback_bursts]
                                      [--scales 1 1.05 1.08 1.1 1.12 1.15] [--chunks 100]
"""
import argparse
import csv
import os
import subprocess

import numpy as np

from feedback_acceptance import NETWORKS

NETWORK = {name: overrides for name, overrides, *_ in NETWORKS}["n2000_dt0.1_500ms_b4"]
FROZEN = ["feedback.rule=\"ema\"", "feedback.eta_excitatory=0", "feedback.eta_inhibitory=0",
          "training.metrics_every_chunk=true", "training.log_interval=100000", "training.checkpoint_interval=100000",
          "simulation.duration=100.0"]


def load(path):
    d = dict(np.load(path))
    return d, d["cell_type_indices"] == 0


def scaled(d, excitatory, factors):
    """A copy of network d with weights x factors[(pre sign, post type)]; pre sign 'E' includes the mitral inputs."""
    out = dict(d)
    w = d["recurrent_weights"].astype(np.float64)
    f = d["feedforward_weights"].astype(np.float64)
    for post, cols in (("E", excitatory), ("I", ~excitatory)):
        w[np.ix_(excitatory, cols)] *= factors[("E", post)]
        w[np.ix_(~excitatory, cols)] *= factors[("I", post)]
        f[:, cols] *= factors[("E", post)]
    out["recurrent_weights"], out["feedforward_weights"] = w.astype(np.float32), f.astype(np.float32)
    return out


def block_factors(initial, final, excitatory):
    """Geometric mean of final / initial over the edges of each (pre sign, post type) block."""
    w0, w1 = initial["recurrent_weights"].astype(np.float64), final["recurrent_weights"].astype(np.float64)
    out = {}
    for pre, rows in (("E", excitatory), ("I", ~excitatory)):
        for post, cols in (("E", excitatory), ("I", ~excitatory)):
            a, b = w0[np.ix_(rows, cols)], w1[np.ix_(rows, cols)]
            edge = a > 0
            out[(pre, post)] = float(np.exp(np.log(b[edge] / a[edge]).mean()))
    return out


def frozen_run(binary, out, network, chunks, target):
    cmd = [binary, "feedback", "-o", out, "--overwrite", "--network", network]
    cmd += [x for s in NETWORK + FROZEN + [f"simulation.num_chunks={chunks}"] for x in ("--set", s)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "training_metrics.csv"), newline="") as f:
        return np.array([float(r["mean_rate_hz/excitatory"]) for r in csv.DictReader(f)]) / target


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--binary", default="build/release/homeostat")
    ap.add_argument("--out", default="runs/feedback_bursts")
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 1.05, 1.08, 1.1, 1.12, 1.15])
    ap.add_argument("--chunks", type=int, default=100)
    ap.add_argument("--target", type=float, default=0.5, help="excitatory target rate [Hz]")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    initial, excitatory = load(os.path.join(a.run, "initial_state", "network_structure.npz"))
    final, _ = load(os.path.join(a.run, "final_state", "network_structure.npz"))
    mean_factors = block_factors(initial, final, excitatory)
    print("rule's mean factors (pre -> post): " + ", ".join(f"{p}->{q} {v:.3f}" for (p, q), v in mean_factors.items()))
    for kind, base, factors in (("final", final, {k: 1.0 for k in mean_factors}), ("block", initial, mean_factors)):
        for s in a.scales:
            name = f"{kind}_x{s:g}"
            f = {k: v * (s if k[0] == "E" else 1 / s) for k, v in factors.items()}
            path = os.path.join(a.out, name + ".npz")
            np.savez(path, **scaled(base, excitatory, f))
            r = frozen_run(a.binary, os.path.join(a.out, name), path, a.chunks, a.target)
            print(f"{name:<12} E rate / target per chunk: mean {r.mean():.3f} median {np.median(r):.3f} sd {r.std():.3f}, "
                  f"chunks > 1.5x {np.sum(r > 1.5)}, > 2x {np.sum(r > 2)}, max {r.max():.2f} ({len(r)} chunks)")


if __name__ == "__main__":
    main()
