"""homeostat: connectome-constrained spiking networks of conductance-based LIF neurons, trained to
homeostatic targets. The Python face of the C++ engine and command line: the same runs,
byte-identical results, numpy arrays in and out.

    import homeostat as hs
    cfg = hs.Config.defaults().with_overrides({"simulation.duration": 500.0})
    net = hs.Network.generate(cfg)
    res = hs.simulate(cfg, network=net, record=["voltages"], neurons=[0, 1])
    res["output_spikes"]            # bool [trials, steps, N]
    g = hs.gradient(cfg, network=net, losses=["firing_rate"])
    summary = hs.train(cfg, "runs/a", on_log=print)
    run = hs.load_run("runs/a")

See help() of each name, and README.md's "Python" section.
"""

from ._errors import (ConfigError, HomeostatError, LockError, NetworkError, NonFiniteError,
                      ResourceError, RunError)
from . import _homeostat
from .config import Config
from .network import Network
from .runs import Result, feedback, gradient, simulate, train
from .load_run import Run, load_run

__version__ = _homeostat.version
git_commit = _homeostat.git_commit

__all__ = [
    "Config", "Network", "Result", "Run",
    "simulate", "gradient", "train", "feedback", "load_run",
    "HomeostatError", "ConfigError", "NetworkError", "ResourceError", "LockError", "NonFiniteError",
    "RunError",
]
