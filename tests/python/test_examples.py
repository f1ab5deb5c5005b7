"""The examples/ scripts run (tiny networks: HOMEOSTAT_EXAMPLE_SMALL=1) and draw real figures."""

import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.image
import numpy as np
import pytest

from conftest import SOURCE_DIR

EXAMPLES = SOURCE_DIR / "examples"


def run_example(name, *args):
    env = {**os.environ, "HOMEOSTAT_EXAMPLE_SMALL": "1"}
    p = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)], capture_output=True, text=True,
                       env=env)
    assert p.returncode == 0, f"{name} failed:\n{p.stdout}\n{p.stderr}"
    return p.stdout


def assert_figure(path):
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert image[..., :3].std() > 0.05, f"{path} looks blank"


def test_simulate_raster(tmp_path):
    out = run_example("simulate_raster.py", tmp_path)
    assert "mean rates" in out
    assert_figure(tmp_path / "raster.png")


def test_gradient_map(tmp_path):
    run_example("gradient_map.py", tmp_path)
    assert_figure(tmp_path / "gradient_map.png")


def test_train_with_logging_then_compare_rates(tmp_path):
    out = run_example("train_with_logging.py", tmp_path)
    assert "chunk    3" in out and "completed: 3 chunks" in out
    assert_figure(tmp_path / "losses.png")
    run_example("compare_rates.py", tmp_path / "run", tmp_path)
    assert_figure(tmp_path / "rates_initial_vs_final.png")
