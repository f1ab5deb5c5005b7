"""Simulate a network and plot its spike raster, neurons grouped by cell type.

    /usr/bin/python3 examples/simulate_raster.py [OUT_DIR]
"""

import matplotlib.pyplot as plt
import numpy as np

import homeostat as hs
from _common import config, output_dir

out = output_dir()
cfg = config(**{"simulation.duration": 2000.0})      # 2 s of activity
net = hs.Network.generate(cfg)
res = hs.simulate(cfg, network=net, record=["voltages"], neurons=[0, 1])
spikes = res["output_spikes"][0]                      # bool [steps, N], trial 0
dt = cfg["simulation.dt"]

fig, (ax, axv) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
order = np.argsort(net.cell_types, kind="stable")     # excitatory first, then inhibitory
rank = np.empty_like(order)
rank[order] = np.arange(len(order))
colours = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
for t, name in enumerate(cfg.cell_type_names):
    step, neuron = np.nonzero(spikes[:, net.cell_types == t])
    ids = np.flatnonzero(net.cell_types == t)[neuron]
    rate = spikes[:, net.cell_types == t].sum() / (net.cell_types == t).sum() / (spikes.shape[0] * dt / 1000)
    ax.scatter(step * dt, rank[ids], s=2, c=colours[t % 4], label=f"{name} ({rate:.2f} Hz)")
ax.set_ylabel("neuron (by cell type)")
ax.set_title(f"Spike raster, N = {net.num_neurons}, M = {net.num_inputs}")
ax.legend(loc="upper right", markerscale=4)
for k, i in enumerate(res["recorded_neurons"]):
    axv.plot(np.arange(spikes.shape[0]) * dt, res["output_voltages"][0, :, k], lw=0.7, label=f"neuron {i}")
axv.set_xlabel("time [ms]")
axv.set_ylabel("V [mV]")
axv.legend(loc="upper right")
fig.tight_layout()
fig.savefig(out / "raster.png", dpi=100)
print(f"mean rates: {res.info['mean_rate_hz']}; wrote {out / 'raster.png'}")
