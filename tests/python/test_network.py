import zipfile

import numpy as np
import pytest

import homeostat as hs
from conftest import tiny_config


def test_generate_is_deterministic_and_typed(cfg, net):
    assert net == hs.Network.generate(cfg)
    assert net != hs.Network.generate(cfg.with_overrides({"simulation.seed": 7}))
    n, m = cfg.num_neurons, cfg.num_inputs
    assert (net.num_neurons, net.num_inputs) == (n, m)
    for a, shape in ((net.cell_types, (n,)), (net.assemblies, (n,)), (net.input_types, (m,))):
        assert a.dtype == np.int64 and a.shape == shape and a.flags.c_contiguous
    assert set(net.cell_types) == {0, 1} and (net.cell_types == 0).sum() == 48  # 80% excitatory
    assert set(net.assemblies) == {0, 1}
    w = net.dense_recurrent_weights()
    assert w.dtype == np.float64 and w.shape == (n, n) and w.flags.c_contiguous
    assert (w >= 0).all() and np.count_nonzero(w) == net.num_recurrent_edges > 0
    assert np.all(np.diag(w) == 0)
    f = net.dense_feedforward_weights()
    assert f.shape == (m, n) and np.count_nonzero(f) == net.num_feedforward_edges
    csr = net.recurrent_csr()
    assert csr.shape == (n, n) and np.array_equal(csr.toarray(), w)
    indptr, indices, weights = net.feedforward_csr(scipy=False)
    assert indptr.dtype == np.int64 and indices.dtype == np.int32 and weights.dtype == np.float64
    assert indptr[-1] == len(indices) == len(weights) == net.num_feedforward_edges
    assert np.array_equal(net.recurrent_connectivity(), w != 0)


def test_same_network_as_the_cli(cli, cfg, net, tiny_files, tmp_path):
    cli("simulate", tiny_files / "parameters.toml", "--no-figures", "-o", tmp_path / "run")
    saved = np.load(tmp_path / "run" / "network_structure.npz")
    mine = np.load(tiny_files / "network_structure.npz")
    assert sorted(saved.files) == sorted(mine.files)
    for k in saved.files:
        assert saved[k].dtype == mine[k].dtype and np.array_equal(saved[k], mine[k]), k
    # Loading it back without a config finds the run's parameters.toml.
    loaded = hs.Network.load(tmp_path / "run" / "network_structure.npz")
    assert loaded.config == cfg
    assert np.array_equal(loaded.cell_types, net.cell_types)
    assert np.array_equal(loaded.dense_recurrent_weights(), saved["recurrent_weights"].astype(np.float64))


def test_save_load_roundtrip(cfg, net, tmp_path):
    net.save(tmp_path / "n.npz")
    again = hs.Network.load(tmp_path / "n.npz", cfg)
    # The file stores float32: a second save/load cycle is exact.
    again.save(tmp_path / "m.npz")
    assert hs.Network.load(tmp_path / "m.npz", cfg) == again
    assert np.allclose(again.dense_recurrent_weights(), net.dense_recurrent_weights(), rtol=1e-6)


def test_bad_network_files(cfg, net, tmp_path):
    with pytest.raises(hs.NetworkError, match="parameters.toml"):
        hs.Network.load(tmp_path / "nowhere.npz")
    with pytest.raises(hs.NetworkError, match="no such file"):
        hs.Network.load(tmp_path / "nowhere.npz", cfg)
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(hs.NetworkError, match="junk.npz"):
        hs.Network.load(tmp_path / "junk.npz", cfg)
    net.save(tmp_path / "n.npz")
    with pytest.raises(hs.NetworkError, match="shape"):  # another N
        hs.Network.load(tmp_path / "n.npz", tiny_config(recurrent__topology__num_neurons=61))
    # An archive without one of the arrays.
    with zipfile.ZipFile(tmp_path / "n.npz") as src, zipfile.ZipFile(tmp_path / "cut.npz", "w") as dst:
        for item in src.infolist():
            if not item.filename.startswith("assembly_ids"):
                dst.writestr(item, src.read(item))
    with pytest.raises(hs.NetworkError, match="assembly_ids"):
        hs.Network.load(tmp_path / "cut.npz", cfg)


def test_with_weights(cfg, net):
    w = net.dense_recurrent_weights() * 2.0
    doubled = net.with_weights(recurrent=w)
    assert np.array_equal(doubled.dense_recurrent_weights(), w)
    assert np.array_equal(doubled.dense_feedforward_weights(), net.dense_feedforward_weights())
    with pytest.raises(hs.NetworkError):
        net.with_weights(recurrent=-w)
    with pytest.raises(hs.NetworkError, match="shape"):
        net.with_weights(feedforward=np.ones((3, 3)))
