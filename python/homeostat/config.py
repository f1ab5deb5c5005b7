"""Configurations: the TOML files of the command line, checked by the same C++ code."""

from __future__ import annotations

import json
import math
import os
import tomllib
from typing import Any, Iterable, Mapping

from . import _homeostat


def _toml_value(value: Any) -> str:
    """A Python value in TOML syntax (the right-hand side of an override)."""
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        value = value.tolist()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write a {type(value).__name__} as a TOML value: {value!r}")


class Config:
    """A validated homeostat configuration (the TOML file of the command line).

    Create one with :meth:`Config.defaults`, :meth:`Config.load` or :meth:`Config.from_toml`;
    derive variants with :meth:`with_overrides`. A Config is immutable. Every key of README's
    configuration reference reads as ``cfg["section.key"]`` (a whole section as a dict);
    :meth:`to_dict` and :meth:`to_toml` give the fully resolved configuration.

    Invalid values raise :class:`homeostat.ConfigError` (a ``ValueError``) naming the key and
    the reason, exactly as ``homeostat config`` does.
    """

    __slots__ = ("_c", "_dict")

    def __init__(self, _c: _homeostat.Config):
        if not isinstance(_c, _homeostat.Config):
            raise TypeError("use Config.defaults(), Config.load(path) or Config.from_toml(text)")
        self._c = _c
        self._dict: dict | None = None

    # ---- construction
    @classmethod
    def defaults(cls) -> "Config":
        """The built-in configuration (``homeostat config --defaults``)."""
        return cls(_homeostat.Config.defaults())

    @classmethod
    def load(cls, path: str | os.PathLike, overrides: Mapping[str, Any] | Iterable[str] | None = None) -> "Config":
        """Reads a PARAMS.toml file (e.g. a run's ``parameters.toml``), then applies ``overrides``
        (as :meth:`with_overrides`)."""
        return cls(_homeostat.Config.load(os.fspath(path), _override_strings(overrides)))

    @classmethod
    def from_toml(cls, text: str, source: str = "<string>",
                  overrides: Mapping[str, Any] | Iterable[str] | None = None) -> "Config":
        """Parses TOML text; ``source`` names it in errors."""
        return cls(_homeostat.Config.parse(text, source, _override_strings(overrides)))

    def with_overrides(self, overrides: Mapping[str, Any] | Iterable[str]) -> "Config":
        """A new Config with keys replaced, e.g. ``{"simulation.duration": 500.0,
        "training.batch_size": 4}`` (Python values: numbers, bools, strings, lists, numpy arrays)
        or ``["training.batch_size=4"]`` (TOML text, as ``--set``). The result is validated."""
        return Config(_homeostat.Config.parse(self.to_toml(), "config", _override_strings(overrides)))

    # ---- reading
    def to_toml(self) -> str:
        """The full, resolved configuration as TOML (what a run writes as ``parameters.toml``)."""
        return self._c.to_toml()

    def to_dict(self) -> dict:
        """The full configuration as nested dicts (a fresh copy)."""
        if self._dict is None:
            self._dict = tomllib.loads(self.to_toml())
        return json.loads(json.dumps(self._dict))

    def __getitem__(self, key: str) -> Any:
        """``cfg["simulation.dt"]``, ``cfg["recurrent.physiology.excitatory.tau_mem"]``; a section
        gives a dict. Raises KeyError for a key the configuration does not have."""
        if self._dict is None:
            self._dict = tomllib.loads(self.to_toml())
        node: Any = self._dict
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"{key}: no such configuration key")
            node = node[part]
        return json.loads(json.dumps(node)) if isinstance(node, (dict, list)) else node

    def get(self, key: str, default: Any = None) -> Any:
        """``cfg[key]``, or ``default`` when there is no such key."""
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: str) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def save(self, path: str | os.PathLike) -> None:
        """Writes :meth:`to_toml` to ``path`` atomically."""
        _homeostat.write_file_atomic(os.fspath(path), self.to_toml())

    @property
    def num_neurons(self) -> int:
        """N, the recurrent neurons (``recurrent.topology.num_neurons``)."""
        return self._c.num_neurons

    @property
    def num_inputs(self) -> int:
        """M, the feedforward inputs (``feedforward.topology.num_neurons``)."""
        return self._c.num_inputs

    @property
    def cell_type_names(self) -> list[str]:
        """Recurrent cell types, in index order (the values of ``Network.cell_types``)."""
        return list(self._c.cell_type_names)

    @property
    def input_type_names(self) -> list[str]:
        """Input (mitral-cell) types, in index order."""
        return list(self._c.input_type_names)

    @property
    def receptor_names(self) -> list[str]:
        """The receptor columns R of ``output_conductances``/``output_currents``: every receptor of
        every recurrent type, then of every input type."""
        return list(self._c.receptor_names)

    @property
    def steps(self) -> int:
        """Steps of a ``simulate`` run: ``round(simulation.duration / simulation.dt)``."""
        return self._c.steps

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self._c == other._c

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Config(N={self.num_neurons}, M={self.num_inputs}, dt={self['simulation.dt']} ms, "
                f"chunk_size={self['simulation.chunk_size']}, seed={self['simulation.seed']})")


_MISSING = object()


def _override_strings(overrides: Mapping[str, Any] | Iterable[str] | None) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, str):
        return [overrides]
    if isinstance(overrides, Mapping):
        return [f"{k}={_toml_value(v)}" for k, v in overrides.items()]
    return [str(o) for o in overrides]
