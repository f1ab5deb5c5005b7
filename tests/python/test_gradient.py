import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import homeostat as hs


def test_byte_identical_to_the_cli(cli, cfg, tiny_files, tmp_path):
    cli("gradient", tiny_files / "parameters.toml", "--network", tiny_files / "network_structure.npz",
        "--inputs", tiny_files / "inputs.npy", "--losses", "firing_rate,cv", "-o", tmp_path / "g.npz")
    expected = np.load(tmp_path / "g.npz")
    net = hs.Network.load(tiny_files / "network_structure.npz", cfg)
    g = hs.gradient(cfg, network=net, inputs=np.load(tiny_files / "inputs.npy"), losses=["firing_rate", "cv"])
    assert sorted(g) == sorted(expected.files)
    for name in expected.files:
        assert np.asarray(g[name]).dtype == expected[name].dtype, name
        assert np.asarray(g[name]).shape == expected[name].shape, name
        assert np.asarray(g[name]).tobytes() == expected[name].tobytes(), name
    assert isinstance(g["loss_total"], float) and g["loss_total"] > 0
    assert g.info["trials"] == 2 and g.info["steps"] == 400


def test_shapes_double_and_scaling_factors(cfg, net):
    g = hs.gradient(cfg, network=net, trials=1, losses="weight_ratio", double=True)
    n, m = cfg.num_neurons, cfg.num_inputs
    assert g["grad_recurrent_weights"].dtype == np.float32 and g["grad_recurrent_weights"].shape == (n, n)
    assert g["grad_feedforward_log_weights"].shape == (m, n)
    assert g["grad_weight_ratio_recurrent_weights"].shape == (n, n)
    assert g["output_spikes"].shape == (1, cfg["simulation.chunk_size"], n)
    # Gradients only where synapses are.
    assert not np.any(g["grad_recurrent_weights"][net.dense_recurrent_weights() == 0])
    s = hs.gradient(cfg.with_overrides({"training.optimisable": "scaling_factors"}), network=net, trials=1)
    assert s["grad_recurrent_log_scaling_factors"].shape == (2, 2)
    assert s["grad_feedforward_log_scaling_factors"].dtype == np.float64


def test_a_batch_larger_than_the_machine_is_refused_before_any_work(cfg, net):
    with pytest.raises(hs.ResourceError, match="gradient would need about .* output_spikes"):
        hs.gradient(cfg, network=net, trials=10**9)


def test_force_goes_past_the_memory_estimate_as_the_cli_does():
    """force=True skips the refusal, as ``gradient --force``: the chunk then meets the real
    limit (here a 4 GB address-space cap on a child process: MemoryError at the allocation)."""
    script = "\n".join([
        "import resource, sys",
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})",
        "import homeostat as hs",
        "from conftest import tiny_config",
        "cfg = tiny_config()",
        "net = hs.Network.generate(cfg)",
        "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))",
        "for force in (False, True):",
        "    try:",
        "        hs.gradient(cfg, network=net, trials=10**9, force=force)",
        "    except Exception as e:",
        "        print(force, type(e).__name__, str(e)[:60], flush=True)",
    ])
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    lines = p.stdout.splitlines()
    assert len(lines) == 2, p.stdout + p.stderr
    assert lines[0].startswith("False ResourceError gradient would need about")
    assert lines[1].startswith("True MemoryError"), lines[1]


def test_bad_losses(cfg, net):
    with pytest.raises(ValueError, match="rate"):
        hs.gradient(cfg, network=net, losses=["rate"])


def test_ctrl_c_stops_a_gradient_between_segments():
    """A real Ctrl-C while the engine works: the gradient stops at its next BPTT segment and
    raises KeyboardInterrupt, without waiting for a chunk that would take minutes."""
    script = "\n".join([
        "import sys",
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})",
        "import homeostat as hs",
        "from conftest import tiny_config",
        "cfg = tiny_config(simulation__chunk_size=5_000_000)",
        "net = hs.Network.generate(cfg)",
        "print('start', flush=True)",
        "hs.gradient(cfg, network=net, trials=2)",
        "print('finished', flush=True)",
    ])
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "start"
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode != 0 and "KeyboardInterrupt" in err and "finished" not in out, err
