"""Shared fixtures of the Python package's tests: a tiny network (N = 60, M = 20, 1 ms steps,
chunks of 200) and the command-line binary the module must agree with, byte for byte.

Run through CTest (PYTHONPATH = the build's python/, HOMEOSTAT_BIN = the CLI), or by hand:
PYTHONPATH=build/release/python HOMEOSTAT_BIN=build/release/homeostat /usr/bin/python3 -m pytest tests/python
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import homeostat as hs

SOURCE_DIR = Path(os.environ.get("HOMEOSTAT_SOURCE_DIR", Path(__file__).resolve().parents[2]))

TINY = {
    "recurrent.topology.num_neurons": 60,
    "recurrent.topology.num_assemblies": 2,
    "feedforward.topology.num_neurons": 20,
    "feedforward.topology.conn_inputs": [[1.0, 1.0]],  # a lively network: E ~1.4 Hz, I ~9 Hz
    "feedforward.activity.mitral.firing_rate": 20.0,
    "simulation.dt": 1.0,
    "simulation.chunk_size": 200,
    "simulation.duration": 400.0,
    "simulation.num_chunks": 4,
    "training.batch_size": 2,
    "training.log_interval": 2,  # figures are drawn at every log: the slowest part of these runs
    "training.checkpoint_interval": 1,
}


def tiny_config(**more) -> hs.Config:
    return hs.Config.defaults().with_overrides({**TINY, **{k.replace("__", "."): v for k, v in more.items()}})


def set_args(overrides: dict) -> list:
    """The same overrides as the CLI's --set arguments."""
    from homeostat.config import _toml_value

    args = []
    for k, v in overrides.items():
        args += ["--set", f"{k}={_toml_value(v)}"]
    return args


@pytest.fixture(scope="session")
def cfg() -> hs.Config:
    return tiny_config()


@pytest.fixture(scope="session")
def net(cfg) -> hs.Network:
    return hs.Network.generate(cfg)


@pytest.fixture(scope="session")
def homeostat_bin() -> str:
    path = os.environ.get("HOMEOSTAT_BIN")
    if not path or not Path(path).is_file():
        pytest.skip("HOMEOSTAT_BIN (the command-line binary) is not set")
    return path


@pytest.fixture(scope="session")
def cli(homeostat_bin):
    """Runs the command line; returns the completed process (raises on a nonzero status unless
    check=False)."""

    def run(*args, check=True):
        p = subprocess.run([homeostat_bin, *map(str, args)], capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"homeostat {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}")
        return p

    return run


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory, cfg, net):
    """parameters.toml, network_structure.npz and input spikes [2, 400, M] (20 Hz) on disk, for both sides."""
    d = tmp_path_factory.mktemp("tiny")
    cfg.save(d / "parameters.toml")
    net.save(d / "network_structure.npz")
    rng = np.random.default_rng(5)
    spikes = rng.random((2, 400, cfg.num_inputs)) < 0.02
    np.save(d / "inputs.npy", spikes)
    return d
