"""simulate, gradient, train and feedback: the command line's runs, from Python, through the same
C++ run driver (byte-identical results for the same configuration, network and inputs).

Every call releases the GIL while it works. Ctrl-C (KeyboardInterrupt) stops a run the way SIGINT
stops the command line: training finishes its chunk and writes ``checkpoint_latest.npz`` before the
KeyboardInterrupt propagates; a simulation stops between chunks. Callbacks run on the calling
thread.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from . import _homeostat
from ._errors import NetworkError, NonFiniteError
from .config import Config
from .network import Network

RECORDABLE = ("voltages", "conductances", "currents")


class Result(dict):
    """A dict of numpy arrays named as the command line's files, plus ``info``: a dict of what
    the run reports (trials, steps, timings, per-type rates, ...)."""

    def __init__(self, arrays: Mapping[str, Any], info: Mapping[str, Any]):
        super().__init__(arrays)
        self.info = dict(info)

    def __repr__(self) -> str:
        def describe(v: Any) -> str:
            return f"{v.dtype}{list(v.shape)}" if isinstance(v, np.ndarray) and v.ndim else repr(v)

        return "Result({" + ", ".join(f"{k!r}: {describe(v)}" for k, v in self.items()) + "})"


def _command_line(function: str) -> str:
    return f"python: homeostat.{function} ({' '.join([sys.executable] + sys.argv)})"


def _resolve(config: Config | None, network: Network | None) -> tuple[Config, Network]:
    if config is None:
        config = network.config if network is not None else Config.defaults()
    if not isinstance(config, Config):
        raise TypeError(f"config must be a homeostat.Config, not {type(config).__name__}")
    if network is None:
        network = Network.generate(config)
    elif not isinstance(network, Network):
        raise TypeError(f"network must be a homeostat.Network, not {type(network).__name__}")
    return config, network


def _spikes(inputs: Any) -> np.ndarray | None:
    """Input spikes [trials, steps, M] as C-contiguous uint8, checked as ``--inputs`` files are:
    every value 0 or 1 (a 2, a 0.5 or a NaN is a mistake, not a spike), at least one trial and
    one step."""
    if inputs is None:
        return None
    source = "inputs"
    if isinstance(inputs, (str, os.PathLike)):
        source = os.fspath(inputs)
        try:
            inputs = np.load(source)
        except (OSError, ValueError) as e:
            raise NetworkError(f"{source}: cannot read input spikes: {e}") from e
    array = np.asarray(inputs)
    if array.dtype.kind not in "biuf":
        raise NetworkError(f"{source}: input spikes must be a bool or numeric array, not {array.dtype}")
    if array.ndim == 3 and (array.shape[0] == 0 or array.shape[1] == 0):
        raise NetworkError(f"{source}: input spikes hold {array.shape[0]} trials of {array.shape[1]} steps: "
                           "at least one of each is needed")
    if array.dtype.kind != "b":
        bad = (array != 0) & (array != 1)  # NaN included
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise NetworkError(f"{source}: input spikes must be 0 or 1; element [{', '.join(map(str, first))}] "
                               f"is {array[first]!r} ({array.dtype.str})")
    return np.ascontiguousarray(array, dtype=np.uint8)


def _whole(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """An integer argument in [minimum, maximum], as the command line's option checks want it: a
    float (1.5 trials), a bool or a value out of range is refused, never rounded or read as the
    default."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__} ({value!r})")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return int(value)


def _names(what: str, names: str | Iterable[str] | None) -> list[str]:
    """A list or comma-separated string of names (record, losses)."""
    if names is None:
        return []
    items = names.split(",") if isinstance(names, str) else list(names)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{what}: expected names (str), got {type(item).__name__} ({item!r})")
    return [item.strip() for item in items if item.strip()]


def _record(record: str | Iterable[str] | None) -> set[str]:
    names = _names("record", record)
    for name in names:
        if name not in RECORDABLE:
            raise ValueError(f"record: unknown quantity {name!r} ({', '.join(RECORDABLE)})")
    return set(names)


def _neurons(neurons: Any, n: int) -> list[int]:
    if neurons is None:
        return list(range(n))
    array = np.asarray(list(neurons) if isinstance(neurons, range) else neurons)
    if array.dtype.kind == "b":
        raise TypeError("neurons: a boolean mask; pass the indices, e.g. np.flatnonzero(mask)")
    if array.size and array.dtype.kind not in "iu":
        raise TypeError(f"neurons must be integer indices, not {array.dtype} (0.5 is no neuron)")
    return [int(i) for i in np.unique(array.astype(np.int64).ravel())]


def simulate(config: Config | None = None, network: Network | None = None, *, trials: int | None = None,
             inputs: Any = None, record: str | Iterable[str] | None = None, neurons: Any = None,
             steps: int | None = None, output_dir: str | os.PathLike | None = None, figures: bool = True,
             overwrite: bool = False, force: bool = False, threads: int = 0, verbose: bool = True) -> Any:
    """Simulates ``trials`` independent trials of ``simulation.duration`` ms (or ``steps`` steps)
    from the initial state, as ``homeostat simulate``.

    config: default ``network.config``, else the built-in defaults.
    network: default ``Network.generate(config)``.
    trials: default 1, or every trial of ``inputs``.
    inputs: input spikes to replay instead of Poisson input: an array (bool, or numeric holding
        only 0 and 1) or an ``.npy`` path, shape ``[trials, steps, M]`` (at least as many trials and steps
        as the run needs). Default: Poisson spikes from ``simulation.seed``.
    record: any of ``"voltages"``, ``"conductances"``, ``"currents"`` (a list or a comma-separated
        string) for the neurons in ``neurons``.
    neurons: which neurons to record (indices; sorted and made unique, as ``--neurons``); default all.
    threads: worker threads (0 = all cores); results do not depend on it.

    Returns a :class:`Result`: a dict of C-contiguous numpy arrays named as ``results/*.npy``:

    - ``output_spikes`` bool [trials, steps, N], ``input_spikes`` bool [trials, steps, M]
    - ``output_voltages`` float32 [trials, steps, K] mV (``record`` voltages)
    - ``output_conductances`` float32 [trials, steps, K, 2, R] nS (part 0 = rise u, 1 = decay d;
      R = ``config.receptor_names``)
    - ``output_currents`` float32 [trials, steps, K, R] pA
    - ``recorded_neurons`` int64 [K] (when something is recorded)

    and ``result.info`` (trials, steps, dt, spike counts, wall_seconds, mean_rate_hz /
    fraction_active / mean_cv by cell type).

    With ``output_dir``, writes the run directory of ``homeostat simulate -o DIR`` instead
    (results/ streamed to disk, analysis/, network_structure.npz, figures/ unless
    ``figures=False``, parameters.toml, metadata.json; ``overwrite``, ``force`` as the command's
    flags; console lines printed when ``verbose``) and returns ``load_run(output_dir)``.

    Ctrl-C stops the simulation between chunks and raises KeyboardInterrupt.
    """
    config, network = _resolve(config, network)
    spikes = _spikes(inputs)
    what = _record(record)
    chosen = _neurons(neurons, network.num_neurons)
    trials = 0 if trials is None else _whole("trials", trials, 1)
    steps = 0 if steps is None else _whole("steps", steps, 1)
    threads = _whole("threads", threads, 0, _homeostat.max_threads)
    if output_dir is not None:
        if steps:
            raise ValueError("steps: a run directory simulates simulation.duration; set that instead")
        _homeostat.simulate_to_dir(config._c, network._n, trials, spikes, "voltages" in what,
                                   "conductances" in what, "currents" in what, [] if neurons is None else chosen,
                                   os.fspath(output_dir), figures, overwrite, force, threads,
                                   _command_line("simulate"), verbose)
        from .load_run import load_run

        return load_run(output_dir)
    arrays, info = _homeostat.simulate(config._c, network._n, trials, steps, spikes,
                                       "voltages" in what, "conductances" in what, "currents" in what,
                                       chosen if what else [], threads)
    return Result(arrays, info)


def gradient(config: Config | None = None, network: Network | None = None, *, inputs: Any = None,
             losses: str | Iterable[str] = (), trials: int | None = None, double: bool = False,
             checkpoint_every: int = 0, sparse_cutoff: float = 0.0, force: bool = False,
             threads: int = 0) -> Result:
    """One chunk forward and backward from the initial state, as ``homeostat gradient``: every
    loss and its exact surrogate gradient with respect to every synaptic weight.

    inputs: input spikes ``[trials, steps, M]`` (array or ``.npy`` path); the chunk is their length.
        Default: Poisson input, ``simulation.chunk_size`` steps.
    losses: also the gradient of each of these alone: ``firing_rate``, ``cv``, ``silent_penalty``,
        ``membrane_variance``, ``weight_ratio`` (a list or comma-separated string).
    trials: default ``training.batch_size``, or every trial of ``inputs``.
    double: simulate and differentiate in double precision (default float).
    checkpoint_every: BPTT state checkpoints every K steps (0: sqrt(steps), at least 16).
    sparse_cutoff: approximate: drop surrogate slopes below this (0: exact).
    force: go ahead although the memory estimate (BPTT buffers, spikes) exceeds what the machine
        has, as ``gradient --force``; without it such a chunk raises :class:`ResourceError` before
        any allocation.

    Returns a :class:`Result` with the entries of the command's ``.npz``: ``loss_total``,
    ``loss_<term>``, ``weight_ratio`` (numpy float64 scalars); ``grad_recurrent_weights`` and
    ``grad_recurrent_log_weights`` float32 [N, N], ``grad_feedforward_weights`` and
    ``grad_feedforward_log_weights`` float32 [M, N] (dense ``[pre, post]``, 0 where there is no
    synapse); the same for each requested loss (``grad_<loss>_recurrent_weights``, ...); in the
    scaling-factor modes ``grad_[<loss>_]{recurrent,feedforward}_log_scaling_factors`` float64
    [pre type, post type]; ``output_spikes`` bool [trials, steps, N]. ``info``: trials, steps,
    seconds, checkpoint_every, peak_state_bytes.

    Ctrl-C stops the passes between BPTT segments (``checkpoint_every`` steps) and raises
    KeyboardInterrupt; nothing is returned.
    """
    config, network = _resolve(config, network)
    names = _names("losses", losses)
    trials = 0 if trials is None else _whole("trials", trials, 1)
    arrays, info = _homeostat.gradient(config._c, network._n, _spikes(inputs), names, trials,
                                       _whole("checkpoint_every", checkpoint_every, 0), bool(double),
                                       float(sparse_cutoff), bool(force),
                                       _whole("threads", threads, 0, _homeostat.max_threads))
    return Result(arrays, info)


def _train(method: str, config: Config | None, output_dir: str | os.PathLike | None, network: Network | None,
           resume: str | os.PathLike | bool | None, on_log: Callable[[dict], Any] | None, threads: int,
           overwrite: bool, force: bool, verbose: bool) -> dict:
    checkpoint = ""
    if resume is True:
        if output_dir is None:
            raise ValueError("resume=True resumes output_dir's latest checkpoint: give output_dir")
        resume = output_dir
    if resume:
        if network is not None:
            raise ValueError("network: a resumed run continues from its own initial_state/network_structure.npz; "
                             "pass no network")
        checkpoint_path = Path(resume)
        if checkpoint_path.is_dir():
            checkpoint_path = checkpoint_path / "checkpoints" / "checkpoint_latest.npz"
        if not checkpoint_path.is_file():
            raise FileNotFoundError(f"{checkpoint_path}: no such checkpoint to resume")
        checkpoint = os.fspath(checkpoint_path)
    elif output_dir is None:
        raise ValueError("output_dir: a training run needs its directory")
    if config is None and network is not None:
        config = network.config
    if config is not None and not isinstance(config, Config):
        raise TypeError(f"config must be a homeostat.Config, not {type(config).__name__}")
    threads = _whole("threads", threads, 0, _homeostat.max_threads)
    if on_log is not None and not callable(on_log):
        raise TypeError("on_log must be callable: on_log(metrics: dict) -> bool | None")
    summary = _homeostat.train(method, None if config is None else config._c,
                               None if network is None else network._n,
                               "" if output_dir is None else os.fspath(output_dir), checkpoint, overwrite, force,
                               threads, _command_line(method), on_log, verbose)
    summary["dir"] = Path(summary["dir"])
    summary["checkpoint"] = Path(summary["checkpoint"]) if summary["checkpoint"] else None
    if summary["status"] == "non_finite":
        raise NonFiniteError(summary["reason"], summary)
    return summary


def train(config: Config | None = None, output_dir: str | os.PathLike | None = None, *,
          network: Network | None = None, resume: str | os.PathLike | bool | None = None,
          on_log: Callable[[dict], Any] | None = None, threads: int = 0, overwrite: bool = False,
          force: bool = False, verbose: bool = True) -> dict:
    """Stage 2 by gradients (BPTT), as ``homeostat train``: writes the run directory of README's
    "Outputs of train" (checkpoints, metrics CSV, TensorBoard, figures, initial and final state).

    config: default ``network.config``, else the built-in defaults; ignored when resuming (the
        run's own ``parameters.toml`` is used).
    output_dir: the run's directory (required for a new run; when resuming, default the
        checkpoint's run).
    network: the starting network; default ``Network.generate(config)``.
    resume: a ``checkpoint_latest.npz``, a run directory (its latest checkpoint) or True
        (``output_dir``'s): continue exactly where that run stopped.
    on_log: called with a dict of the CSV row's values (``chunk``, the losses, per-type activity,
        ..., ``wall_seconds``) every ``training.log_interval`` chunks (every chunk with
        ``training.metrics_every_chunk``); ``wandb.log`` fits.
        Returning False stops the run cleanly (checkpoint written, ``status`` "interrupted").
        An exception it raises stops the run the same way and then propagates.
    threads: worker threads (0 = all cores); results do not depend on it.
    overwrite: empty an existing run directory first. force: run although the resource estimate
        exceeds the machine. verbose: print the console block of the command line.

    Returns a dict: ``status`` ("completed" or "interrupted"), ``dir``, ``start_chunk``,
    ``chunks_done``, ``total_chunks``, ``best_loss``, ``best_chunk``, ``checkpoint`` (the latest
    checkpoint, for ``resume``), ``reason``.

    Ctrl-C finishes the current chunk, writes the checkpoint, then raises KeyboardInterrupt;
    a NaN/Inf raises :class:`homeostat.NonFiniteError` (``training.on_nan = "stop"``).
    """
    return _train("train", config, output_dir, network, resume, on_log, threads, overwrite, force, verbose)


def feedback(config: Config | None = None, output_dir: str | os.PathLike | None = None, *,
             network: Network | None = None, resume: str | os.PathLike | bool | None = None,
             on_log: Callable[[dict], Any] | None = None, threads: int = 0, overwrite: bool = False,
             force: bool = False, verbose: bool = True) -> dict:
    """Stage 2 without gradients (homeostatic synaptic scaling, ``[feedback]``), as
    ``homeostat feedback``: the same arguments, directory, callbacks and summary as
    :func:`train`; the metrics carry ``excitatory_scaling/<type>`` and ``inhibitory_scaling/<type>``
    instead of ``grad_norm`` and ``learning_rate``."""
    return _train("feedback", config, output_dir, network, resume, on_log, threads, overwrite, force, verbose)
