"""Which synapses does homeostasis want to change? One chunk's gradient of the firing-rate loss
with respect to every recurrent weight, as a map [pre, post] sorted by cell type.

    /usr/bin/python3 examples/gradient_map.py [OUT_DIR]
"""

import matplotlib.pyplot as plt
import numpy as np

import homeostat as hs
from _common import config, output_dir

out = output_dir()
cfg = config(**{"training.batch_size": 2})
net = hs.Network.generate(cfg)
g = hs.gradient(cfg, network=net, losses=["firing_rate"])
print(f"total loss {g['loss_total']:.4g}, firing-rate loss {g['loss_firing_rate']:.4g}")

grad = g["grad_firing_rate_recurrent_weights"]        # float32 [N, N], [pre, post]
order = np.argsort(net.cell_types, kind="stable")
grad = grad[np.ix_(order, order)]
limit = np.abs(grad).max() or 1.0
fig, ax = plt.subplots(figsize=(7, 6))
image = ax.imshow(grad, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
fig.colorbar(image, ax=ax, label="dL_rate / dw")
counts = np.bincount(net.cell_types)
for edge in np.cumsum(counts)[:-1]:
    ax.axhline(edge - 0.5, c="k", lw=0.5)
    ax.axvline(edge - 0.5, c="k", lw=0.5)
ax.set_xlabel("postsynaptic neuron (" + ", ".join(cfg.cell_type_names) + ")")
ax.set_ylabel("presynaptic neuron")
ax.set_title("Gradient of the firing-rate loss (red: weaken, blue: strengthen)")
fig.tight_layout()
fig.savefig(out / "gradient_map.png", dpi=100)
print(f"wrote {out / 'gradient_map.png'}")
