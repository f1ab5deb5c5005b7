import _thread
import csv
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import homeostat as hs


def csv_without_wall_time(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    keep = [j for j, name in enumerate(rows[0]) if name != "wall_seconds"]
    return [[row[j] for j in keep] for row in rows]


def same_npz(a, b):
    a, b = np.load(a), np.load(b)
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k


def assert_same_run(a, b):
    """Two runs ended in the same place: final weights, checkpoint, metrics (but wall time)."""
    same_npz(a / "final_state" / "network_structure.npz", b / "final_state" / "network_structure.npz")
    assert csv_without_wall_time(a / "training_metrics.csv") == csv_without_wall_time(b / "training_metrics.csv")
    for p in sorted((a / "weights").glob("*.npy")):
        assert p.read_bytes() == (b / "weights" / p.name).read_bytes(), p.name


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cfg):
    """An uninterrupted Python run of 4 chunks and what its callback saw."""
    d = tmp_path_factory.mktemp("train") / "ref"
    seen = []
    summary = hs.train(cfg, d, on_log=seen.append, verbose=False)
    return d, summary, seen


def test_train_matches_the_cli(cli, reference, tiny_files, tmp_path):
    d, summary, _ = reference
    assert summary["status"] == "completed" and summary["chunks_done"] == summary["total_chunks"] == 4
    assert summary["checkpoint"] == d / "checkpoints" / "checkpoint_latest.npz"
    cli("train", tiny_files / "parameters.toml", "-o", tmp_path / "cli")  # generates the same network
    assert_same_run(d, tmp_path / "cli")
    same_npz(d / "initial_state" / "network_structure.npz", tmp_path / "cli" / "initial_state" / "network_structure.npz")


def test_on_log_gets_the_csv_rows(reference):
    d, _, seen = reference
    assert [m["chunk"] for m in seen] == [2, 4]
    with open(d / "training_metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(seen[0]) == list(rows[0])  # the same names, in the CSV's order
    for metrics, row in zip(seen, rows):
        assert isinstance(metrics["chunk"], int)
        for name, value in metrics.items():
            if name != "wall_seconds":
                assert value == pytest.approx(float(row[name]), rel=1e-5, abs=1e-12, nan_ok=True), name


def test_load_run(reference, cfg, net):
    d, _, _ = reference
    run = hs.load_run(d, pandas=False)
    assert run.config == cfg and run.metadata["seed"] == 42
    assert run.metrics["chunk"].dtype == np.int64 and list(run.metrics["chunk"]) == [2, 4]
    assert run.metrics["wall_seconds"].dtype == np.float64
    assert np.allclose(run.initial_network.dense_recurrent_weights(), net.dense_recurrent_weights(), rtol=1e-6)
    assert run.final_network != run.initial_network
    assert run.final_state.results["output_spikes"].shape == (1, 400, 60)
    assert run.checkpoint.is_file()
    snapshots = run.weights()
    assert snapshots and all(r.shape == (60, 60) and f.shape == (20, 60) for r, f in snapshots.values())
    assert np.array_equal(snapshots[4][0], np.load(d / "final_state" / "network_structure.npz")["recurrent_weights"])


def test_a_damaged_metadata_json_is_refused_when_the_run_is_opened(reference, tmp_path):
    d, _, _ = reference
    shutil.copytree(d, tmp_path / "run")
    meta = tmp_path / "run" / "metadata.json"
    text = meta.read_text()
    meta.write_text(text[: len(text) // 2])  # cut, as a full disk leaves it
    with pytest.raises(hs.RunError, match=re.escape(str(meta)) + r": not readable JSON: .*line \d+ column \d+ \(char \d+\)"):
        hs.load_run(tmp_path / "run", pandas=False)
    meta.write_bytes(b"\xff\xfe{}")
    with pytest.raises(hs.RunError, match=re.escape(str(meta)) + r": not readable JSON: not UTF-8 text \(byte 0\)"):
        hs.load_run(tmp_path / "run")
    meta.write_text("[1, 2]")
    with pytest.raises(hs.RunError, match=re.escape(str(meta)) + ": not readable JSON: a list, not an object"):
        hs.load_run(tmp_path / "run")
    meta.unlink()  # no metadata (a stopped run): nothing to refuse
    assert hs.load_run(tmp_path / "run", pandas=False).metadata is None


def test_edge_list_snapshots_load_as_the_dense_ones_and_the_target_summary_is_the_final_state(reference, cfg,
                                                                                                tmp_path):
    d, _, _ = reference
    sparse = tmp_path / "sparse"
    hs.train(cfg.with_overrides({"training.weight_snapshots": "sparse"}), sparse, verbose=False)
    assert sorted(p.name for p in (sparse / "weights").iterdir()) == [
        f"{w}_epoch_{c:04}.npz" for w in ("feedforward", "recurrent") for c in (2, 4)]
    dense, edges = hs.load_run(d, pandas=False).weights(), hs.load_run(sparse, pandas=False).weights()
    assert sorted(dense) == sorted(edges) == [2, 4]
    for chunk in dense:  # the format changes nothing in training
        for a, b in zip(dense[chunk], edges[chunk]):
            assert a.dtype == b.dtype == np.float32 and np.array_equal(a, b), chunk
    summary = hs.load_run(sparse, pandas=False).target_summary
    rates = hs.load_run(sparse, pandas=False).final_state.analysis["firing_rate_statistics"]
    for t, name in enumerate(rates["cell_type"]):
        assert summary["types"][name]["rate_hz"] == pytest.approx(float(rates["mean_rate_hz"][t]), rel=1e-6)
        assert summary["types"][name]["target_rate_hz"] == cfg[f"targets.firing_rate.{name}"]


def test_on_log_returning_false_stops_and_resume_finishes_identically(reference, cfg, tmp_path):
    d = tmp_path / "stopped"
    with pytest.warns(RuntimeWarning) as warned:
        summary = hs.train(cfg, d, on_log=lambda m: m["chunk"] < 2, verbose=False)
    assert summary["status"] == "interrupted" and summary["chunks_done"] == 2
    # The hint is Python, not the command line's `homeostat train --resume`.
    hint = f"homeostat.train(resume={str(d / 'checkpoints' / 'checkpoint_latest.npz')!r})"
    assert any(hint in str(w.message) for w in warned), [str(w.message) for w in warned]
    assert not any("--resume" in str(w.message) for w in warned)
    assert summary["checkpoint"].is_file()
    resumed = hs.train(resume=summary["checkpoint"], verbose=False)
    assert resumed["status"] == "completed" and resumed["start_chunk"] == 2 and resumed["chunks_done"] == 4
    assert_same_run(reference[0], d)


def test_keyboard_interrupt_writes_a_checkpoint_and_resume_finishes_identically(reference, cfg, tmp_path):
    d = tmp_path / "interrupted"

    def ctrl_c_at_chunk_2(metrics):
        if metrics["chunk"] == 2:
            signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        hs.train(cfg, d, on_log=ctrl_c_at_chunk_2, verbose=False)
    run = hs.load_run(d, pandas=False)
    assert run.checkpoint.is_file() and list(run.metrics["chunk"]) == [2]
    hs.train(output_dir=d, resume=True, verbose=False)
    assert_same_run(reference[0], d)


def test_sigint_from_outside_stops_a_run_like_the_cli(tmp_path):
    """A real Ctrl-C: SIGINT sent to a Python process while the engine works (here: drawing the
    chunk's figures, GIL released) stops it with a checkpoint and a KeyboardInterrupt."""
    d = tmp_path / "killed"
    script = "\n".join([
        "import sys",
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})",
        "import homeostat as hs",
        "from conftest import tiny_config",
        f"hs.train(tiny_config(simulation__num_chunks=50), {str(d)!r}, verbose=False,",
        "         on_log=lambda m: print('chunk', m['chunk'], flush=True))",
    ])
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "chunk 2"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode != 0 and "KeyboardInterrupt" in err, err
    run = hs.load_run(d, pandas=False)
    logged = int(run.metrics["chunk"][-1])
    assert logged >= 2 and logged <= int(np.load(run.checkpoint)["chunks_done"]) < 50


def test_callback_exception_stops_the_run_and_propagates(cfg, tmp_path):
    def broken(metrics):
        raise RuntimeError("my logger broke")

    with pytest.raises(RuntimeError, match="my logger broke"):
        hs.train(cfg, tmp_path / "broken", on_log=broken, verbose=False)
    assert (tmp_path / "broken" / "checkpoints" / "checkpoint_latest.npz").is_file()


def test_feedback_interrupted_from_another_thread_resumes_identically(cli, cfg, tiny_files, tmp_path):
    cli("feedback", tiny_files / "parameters.toml", "-o", tmp_path / "cli")

    def interrupt_soon(metrics):
        if metrics["chunk"] == 2:
            threading.Timer(0.01, _thread.interrupt_main).start()

    d = tmp_path / "py"
    with pytest.raises(KeyboardInterrupt):
        hs.feedback(cfg, d, on_log=interrupt_soon, verbose=False)
    summary = hs.feedback(resume=d, verbose=False)
    assert summary["status"] == "completed" and summary["chunks_done"] == 4
    assert_same_run(tmp_path / "cli", d)
    assert "excitatory_scaling/excitatory" in hs.load_run(d, pandas=False).metrics


def test_train_errors(cfg, tmp_path):
    with pytest.raises(ValueError, match="output_dir"):
        hs.train(cfg)
    with pytest.raises(TypeError):
        hs.train(cfg, tmp_path / "x", on_log=3)
    with pytest.raises(Exception, match="checkpoint"):
        hs.train(resume=tmp_path / "nothing" / "checkpoint_latest.npz", verbose=False)
