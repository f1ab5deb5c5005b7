"""The exceptions homeostat raises (the C++ engine's errors, translated)."""

from __future__ import annotations


class HomeostatError(Exception):
    """Base class of every homeostat error."""


class ConfigError(HomeostatError, ValueError):
    """A configuration key is unknown, missing, of the wrong type or out of range.

    Attributes: ``key`` (the dotted key, e.g. ``"recurrent.synapses.excitatory.tau_rise[1]"``),
    ``reason`` (what is wrong with it) and ``source`` (the file, ``"built-in defaults"`` or the
    override it came from). ``str(error)`` joins the three.
    """

    def __init__(self, message: str, key: str = "", reason: str = "", source: str = ""):
        super().__init__(message)
        self.key = key
        self.reason = reason or message
        self.source = source


class NetworkError(HomeostatError, ValueError):
    """A network or input-spike file (or array) that cannot be used: missing arrays, wrong shapes
    or dtypes, weights that are not positive and finite, or sizes that do not fit the configuration.
    The message names the file (or argument) and the reason."""


class RunError(HomeostatError, ValueError):
    """A file of a run directory that cannot be read as what it must be (a damaged
    ``metadata.json``); the message names the file and the reason (for JSON, where parsing
    stopped)."""


class ResourceError(HomeostatError, RuntimeError):
    """The run would exceed this machine's memory or free disk (the message says what drives the
    estimate); pass ``force=True`` to run it anyway."""


class LockError(HomeostatError, RuntimeError):
    """The run directory is in use by another live process (its ``.homeostat.lock``)."""


class NonFiniteError(HomeostatError, FloatingPointError):
    """A loss, the gradient or the updated weights became NaN or Inf and the run stopped
    (``training.on_nan = "stop"``); the last checkpoint is intact. ``summary`` holds the run's
    summary when the run returned one."""

    def __init__(self, message: str, summary: dict | None = None):
        super().__init__(message)
        self.summary = summary
