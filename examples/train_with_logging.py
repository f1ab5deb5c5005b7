"""Train a network to its homeostatic targets, logging every log interval from Python.

The callback gets the row of training_metrics.csv as a dict: `wandb.log(metrics)` (after
`wandb.init(...)`) puts it on Weights & Biases. Returning False stops the run cleanly; Ctrl-C
stops it too, and hs.train(resume=DIR) continues it exactly.

    /usr/bin/python3 examples/train_with_logging.py [OUT_DIR]
"""

import matplotlib.pyplot as plt

import homeostat as hs
from _common import config, output_dir

out = output_dir()
cfg = config()
history = []


def on_log(metrics: dict) -> bool:
    history.append(metrics)
    rates = ", ".join(f"{k.split('/')[1]} {v:.2f} Hz" for k, v in metrics.items() if k.startswith("mean_rate_hz/"))
    print(f"chunk {metrics['chunk']:4d}  loss {metrics['total_loss']:.4f}  {rates}")
    return metrics["total_loss"] < 1e6  # returning False would stop the run cleanly


summary = hs.train(cfg, out / "run", on_log=on_log, overwrite=True, verbose=False)
print(f"{summary['status']}: {summary['chunks_done']} chunks, best loss {summary['best_loss']:.4g} "
      f"at chunk {summary['best_chunk']}")

fig, ax = plt.subplots(figsize=(7, 4))
chunks = [m["chunk"] for m in history]
for name in [k for k in history[0] if k.endswith("_loss")]:
    ax.plot(chunks, [max(m[name], 1e-9) for m in history], marker="o", label=name)
ax.set_xlabel("chunk")
ax.set_ylabel("loss")
ax.set_yscale("log")
ax.set_title("Training losses")
ax.legend()
fig.tight_layout()
fig.savefig(out / "losses.png", dpi=100)
print(f"wrote {out / 'losses.png'}")
