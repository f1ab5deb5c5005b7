"""Networks: the connectome (cell types, assemblies, weighted recurrent and feedforward graphs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import _homeostat
from ._errors import NetworkError
from .config import Config


class Network:
    """A connectome: N recurrent neurons of typed cells in assemblies, M feedforward inputs, and
    two weighted directed graphs (recurrent N -> N and feedforward M -> N).

    Create one with :meth:`Network.generate` (a pure function of the configuration and its seed,
    the same network as the command line's) or :meth:`Network.load` (a ``network_structure.npz``
    of homeostat or of the original Python project). A Network remembers the configuration it
    was generated or checked with (:attr:`config`). Weights are dimensionless multipliers of the
    receptors' peak conductances, > 0 on every edge; matrices are indexed ``[pre, post]``.
    """

    __slots__ = ("_n", "config")

    def __init__(self, _n: _homeostat.Network, config: Config):
        self._n = _n
        self.config = config

    # ---- construction
    @classmethod
    def generate(cls, config: Config | None = None) -> "Network":
        """Generates the network of ``config`` (default: the built-in configuration), exactly as
        ``homeostat simulate`` does without ``--network``."""
        config = config if config is not None else Config.defaults()
        return cls(_homeostat.Network.generate(config._c), config)

    @classmethod
    def load(cls, path: str | os.PathLike, config: Config | None = None) -> "Network":
        """Loads a ``network_structure.npz`` and checks it against ``config`` (sizes, type
        indices, weights > 0 and finite on every edge). Without ``config``, the run's
        ``parameters.toml`` beside the file (or one directory up, for ``initial_state/`` and
        ``final_state/``) is used. Raises :class:`homeostat.NetworkError` naming the file, the
        array and the reason."""
        path = Path(path)
        if config is None:
            for candidate in (path.parent / "parameters.toml", path.parent.parent / "parameters.toml"):
                if candidate.is_file():
                    config = Config.load(candidate)
                    break
            else:
                raise NetworkError(f"{path}: no parameters.toml beside it or one directory up; "
                                   "pass the configuration: Network.load(path, config)")
        if not path.is_file():
            raise NetworkError(f"{path}: no such file")
        return cls(_homeostat.Network.load(os.fspath(path), config._c), config)

    def save(self, path: str | os.PathLike) -> None:
        """Writes ``network_structure.npz`` (atomically): the arrays every command and the
        original Python project load."""
        self._n.save(os.fspath(path))

    def with_weights(self, recurrent: Any = None, feedforward: Any = None) -> "Network":
        """A copy with new dense weight matrices (``[N, N]`` and/or ``[M, N]``, ``[pre, post]``,
        float64); an edge wherever the weight is nonzero (weights must be > 0 and finite)."""
        return Network(self._n.with_weights(self.config._c, recurrent, feedforward), self.config)

    # ---- reading
    @property
    def num_neurons(self) -> int:
        """N."""
        return self._n.n

    @property
    def num_inputs(self) -> int:
        """M."""
        return self._n.m

    @property
    def cell_types(self) -> np.ndarray:
        """int64 [N]: each neuron's cell type, an index into ``config.cell_type_names``."""
        return self._n.cell_types

    @property
    def assemblies(self) -> np.ndarray:
        """int64 [N]: each neuron's assembly id, -1 for none."""
        return self._n.assemblies

    @property
    def input_types(self) -> np.ndarray:
        """int64 [M]: each input's type, an index into ``config.input_type_names``."""
        return self._n.input_types

    @property
    def cell_type_names(self) -> list[str]:
        """The recurrent cell types, in index order."""
        return self.config.cell_type_names

    @property
    def num_recurrent_edges(self) -> int:
        """Recurrent synapses (nonzero weights)."""
        return self._n.num_recurrent_edges

    @property
    def num_feedforward_edges(self) -> int:
        """Feedforward synapses (nonzero weights)."""
        return self._n.num_feedforward_edges

    def recurrent_csr(self, scipy: bool = True) -> Any:
        """The recurrent graph by presynaptic neuron: a ``scipy.sparse.csr_matrix`` of shape
        ``(N, N)`` (float64 weights, ``[pre, post]``, columns sorted in each row); with
        ``scipy=False`` the arrays ``(indptr int64 [N+1], indices int32 [E], weights float64 [E])``."""
        return self._csr(self._n.recurrent_csr(), (self.num_neurons, self.num_neurons), scipy)

    def feedforward_csr(self, scipy: bool = True) -> Any:
        """The feedforward graph, shape ``(M, N)``, as :meth:`recurrent_csr`."""
        return self._csr(self._n.feedforward_csr(), (self.num_inputs, self.num_neurons), scipy)

    @staticmethod
    def _csr(arrays: tuple, shape: tuple[int, int], scipy: bool) -> Any:
        if not scipy:
            return arrays
        import scipy.sparse  # a dependency of this method only

        indptr, indices, weights = arrays
        return scipy.sparse.csr_matrix((weights, indices, indptr), shape=shape)

    def dense_recurrent_weights(self) -> np.ndarray:
        """float64 [N, N] ``[pre, post]``, 0 where there is no synapse: the weights the engine
        uses (``network_structure.npz`` and ``results/recurrent_weights.npy`` store them as
        float32)."""
        return self._n.dense_recurrent_weights()

    def dense_feedforward_weights(self) -> np.ndarray:
        """float64 [M, N] ``[pre, post]``, 0 where there is no synapse."""
        return self._n.dense_feedforward_weights()

    def recurrent_connectivity(self) -> np.ndarray:
        """bool [N, N]: True where a synapse exists."""
        return self.dense_recurrent_weights() != 0

    def feedforward_connectivity(self) -> np.ndarray:
        """bool [M, N]: True where a synapse exists."""
        return self.dense_feedforward_weights() != 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Network) and self._n == other._n

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Network(N={self.num_neurons}, M={self.num_inputs}, "
                f"recurrent_edges={self.num_recurrent_edges}, feedforward_edges={self.num_feedforward_edges})")
