"""Reading a finished (or stopped) run directory of ``simulate``, ``train`` or ``feedback``."""

from __future__ import annotations

import csv
import json
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import RunError
from .config import Config
from .network import Network


def _metrics_table(path: Path, pandas: bool | None) -> Any:
    """training_metrics.csv as a pandas DataFrame (``pandas`` True, or None when pandas is
    installed) or as a dict of numpy arrays: ``chunk`` int64, every other column float64."""
    if pandas is not False:
        try:
            import pandas as pd
        except ImportError:
            if pandas:
                raise
        else:
            return pd.read_csv(path)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    table: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        values = [row[j] for row in body]
        table[name] = (np.array([int(v) for v in values], dtype=np.int64) if name == "chunk"
                       else np.array([float(v) if v else np.nan for v in values], dtype=np.float64))
    return table


def _read_json_object(path: Path) -> dict:
    """A JSON object file, or RunError naming the file and why not (for a parse error, where
    it stopped: line, column and character)."""
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise RunError(f"{path}: not readable JSON: not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise RunError(f"{path}: not readable JSON: {e}") from None
    if not isinstance(value, dict):
        raise RunError(f"{path}: not readable JSON: a {type(value).__name__}, not an object")
    return value


class Run:
    """A run directory, read lazily. Attributes (each None when the run has no such file):

    - ``dir``: the directory; ``config``: its ``parameters.toml`` as a :class:`homeostat.Config`;
      ``metadata``: ``metadata.json`` as a dict
    - ``metrics``: ``training_metrics.csv`` (train/feedback) as a pandas DataFrame when pandas is
      installed, else a dict of numpy arrays (``chunk`` int64, the rest float64)
    - ``network``: ``network_structure.npz`` (simulate runs and the states below)
    - ``results``: ``results/*.npy`` as a dict of numpy arrays (names as :func:`homeostat.simulate`)
    - ``analysis``: ``analysis/*.csv`` as dicts of columns
    - ``initial_state``, ``final_state``: the simulations before and after training, as Runs
    - ``initial_network``, ``final_network``: their networks
    - ``checkpoint``: ``checkpoints/checkpoint_latest.npz`` (for ``resume``)
    - ``weights()``: the weight snapshots ``{chunk: (recurrent [N, N], feedforward [M, N])}``
    - ``target_summary``: where a finished training run ended against its targets (metadata.json)
    """

    def __init__(self, directory: str | os.PathLike, config: Config | None = None, pandas: bool | None = None):
        self.dir = Path(directory)
        if not self.dir.is_dir():
            raise FileNotFoundError(f"{self.dir}: no such run directory")
        self._config = config
        self._pandas = pandas
        # Read now: a damaged metadata.json is refused when the run is opened, naming the file.
        path = self.dir / "metadata.json"
        self._metadata = _read_json_object(path) if path.is_file() else None

    @cached_property
    def config(self) -> Config | None:
        """The run's parameters.toml (a state directory: its run's config)."""
        path = self.dir / "parameters.toml"
        return Config.load(path) if path.is_file() else self._config

    @property
    def metadata(self) -> dict | None:
        """metadata.json as a dict (read when the Run was opened)."""
        return self._metadata

    @cached_property
    def metrics(self) -> Any:
        """training_metrics.csv: a pandas DataFrame, or a dict of numpy arrays (see load_run)."""
        path = self.dir / "training_metrics.csv"
        return _metrics_table(path, self._pandas) if path.is_file() else None

    @cached_property
    def network(self) -> Network | None:
        """network_structure.npz of this directory."""
        path = self.dir / "network_structure.npz"
        return Network.load(path, self.config) if path.is_file() else None

    @cached_property
    def results(self) -> dict[str, np.ndarray] | None:
        """results/*.npy by name (as homeostat.simulate returns them)."""
        folder = self.dir / "results"
        if not folder.is_dir():
            return None
        return {p.stem: np.load(p) for p in sorted(folder.glob("*.npy"))}

    @cached_property
    def analysis(self) -> dict[str, dict[str, list[str]]] | None:
        """analysis/*.csv as {table: {column: [values as text]}}."""
        folder = self.dir / "analysis"
        if not folder.is_dir():
            return None
        tables = {}
        for p in sorted(folder.glob("*.csv")):
            with open(p, newline="") as f:
                rows = list(csv.DictReader(f))
            tables[p.stem] = {k: [r[k] for r in rows] for k in (rows[0].keys() if rows else [])}
        return tables

    def _state(self, name: str) -> "Run | None":
        path = self.dir / name
        return Run(path, self.config, self._pandas) if path.is_dir() else None

    @cached_property
    def initial_state(self) -> "Run | None":
        """The simulation before training (initial_state/), as a Run."""
        return self._state("initial_state")

    @cached_property
    def final_state(self) -> "Run | None":
        """The simulation after training (final_state/), as a Run."""
        return self._state("final_state")

    @property
    def initial_network(self) -> Network | None:
        """initial_state/network_structure.npz: the network training started from."""
        return self.initial_state.network if self.initial_state else None

    @property
    def final_network(self) -> Network | None:
        """final_state/network_structure.npz: the trained network."""
        return self.final_state.network if self.final_state else None

    @property
    def checkpoint(self) -> Path | None:
        """checkpoints/checkpoint_latest.npz, for resume."""
        path = self.dir / "checkpoints" / "checkpoint_latest.npz"
        return path if path.is_file() else None

    @property
    def target_summary(self) -> dict | None:
        """metadata.json's ``target_summary`` of a finished train/feedback run: per cell type
        (``["types"][name]``) ``rate_hz``, ``target_rate_hz``, ``error_percent``,
        ``active_percent``, ``cv``, ``target_cv``, ``membrane_ratio``, ``target_membrane_ratio``
        (None where a value does not exist)."""
        return self.metadata.get("target_summary") if self.metadata else None

    def weights(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """The weight snapshots of ``weights/`` by chunk: (recurrent float32 [N, N],
        feedforward float32 [M, N]), ``[pre, post]``, dense whether they were saved dense
        (``.npy``) or as edge lists (``.npz``, scipy's CSR layout)."""
        out = {}
        for p in sorted((self.dir / "weights").glob("recurrent_epoch_*.np[yz]")):
            chunk = int(re.search(r"(\d+)$", p.stem).group(1))
            out[chunk] = (_snapshot(p), _snapshot(p.with_name(p.name.replace("recurrent_", "feedforward_"))))
        return out

    def __repr__(self) -> str:
        return f"Run({os.fspath(self.dir)!r})"


def _snapshot(path: Path) -> np.ndarray:
    """A weight snapshot as a dense float32 [pre, post] matrix: an .npy as it is, an .npz edge
    list (scipy.sparse.save_npz's CSR arrays) filled in without needing scipy."""
    if path.suffix == ".npy":
        return np.load(path)
    with np.load(path) as z:
        dense = np.zeros(tuple(z["shape"]), np.float32)
        rows = np.repeat(np.arange(dense.shape[0]), np.diff(z["indptr"]))
        dense[rows, z["indices"]] = z["data"]
    return dense


def load_run(directory: str | os.PathLike, pandas: bool | None = None) -> Run:
    """Opens a run directory of ``simulate``, ``train`` or ``feedback`` (see :class:`Run`);
    ``pandas``: metrics as a DataFrame (True), as a dict of numpy arrays (False), or a
    DataFrame when pandas is installed (None). A ``metadata.json`` that is not a JSON object
    raises :class:`homeostat.RunError` here, naming the file and where parsing stopped."""
    return Run(directory, pandas=pandas)
