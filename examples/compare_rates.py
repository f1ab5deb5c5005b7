"""Load a finished training run and compare the firing-rate distributions of the initial and the
final network (from the 'initial_state' and 'final_state' simulations the run saved).

    /usr/bin/python3 examples/compare_rates.py RUN_DIR [OUT_DIR]

Without RUN_DIR (or when it does not exist yet) it first trains a short run with hs.feedback.
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import homeostat as hs
from _common import config

run_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("example_output/feedback_run")
out = Path(sys.argv[2]) if len(sys.argv) > 2 else run_dir.parent
out.mkdir(parents=True, exist_ok=True)
if not (run_dir / "final_state").is_dir():
    hs.feedback(config(), run_dir, overwrite=True, verbose=False)

run = hs.load_run(run_dir)
cfg = run.config
fig, axes = plt.subplots(1, len(cfg.cell_type_names), figsize=(5 * len(cfg.cell_type_names), 4))
for t, (ax, name) in enumerate(zip(np.atleast_1d(axes), cfg.cell_type_names)):
    for label, state in (("initial", run.initial_state), ("final", run.final_state)):
        spikes = state.results["output_spikes"]                    # bool [trials, steps, N]
        seconds = spikes.shape[1] * cfg["simulation.dt"] / 1000
        rates = spikes.sum(axis=1).mean(axis=0) / seconds          # Hz per neuron
        rates = rates[state.network.cell_types == t]
        ax.hist(rates, bins=20, alpha=0.6, label=f"{label}: mean {rates.mean():.2f} Hz")
    ax.axvline(cfg[f"targets.firing_rate.{name}"], c="k", ls="--", label="target")
    ax.set_xlabel("firing rate [Hz]")
    ax.set_ylabel("neurons")
    ax.set_title(name)
    ax.legend()
fig.suptitle(f"Firing rates before and after training ({run_dir.name})")
fig.tight_layout()
fig.savefig(out / "rates_initial_vs_final.png", dpi=100)
print(f"wrote {out / 'rates_initial_vs_final.png'}")
