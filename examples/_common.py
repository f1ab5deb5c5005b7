"""What the examples share: where figures go and the network size.

Every example runs as is on the built-in network (N = 1000, M = 300). With
HOMEOSTAT_EXAMPLE_SMALL=1 (the test suite sets it) it runs a tiny one in seconds.
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files, no display: remove this line in a notebook

import homeostat as hs

SMALL = os.environ.get("HOMEOSTAT_EXAMPLE_SMALL") == "1"


def output_dir() -> Path:
    """The directory given as the first argument (default ./example_output)."""
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "example_output")
    d.mkdir(parents=True, exist_ok=True)
    return d


def config(**overrides) -> hs.Config:
    """The built-in configuration, tiny under HOMEOSTAT_EXAMPLE_SMALL=1."""
    cfg = hs.Config.defaults()
    if SMALL:
        cfg = cfg.with_overrides({
            "recurrent.topology.num_neurons": 60, "recurrent.topology.num_assemblies": 2,
            "feedforward.topology.num_neurons": 20, "feedforward.topology.conn_inputs": [[1.0, 1.0]],
            "feedforward.activity.mitral.firing_rate": 20.0, "simulation.chunk_size": 200,
            "simulation.duration": 400.0, "simulation.num_chunks": 3, "training.batch_size": 2,
            "training.log_interval": 1, "training.checkpoint_interval": 1})
    return cfg.with_overrides(overrides) if overrides else cfg
