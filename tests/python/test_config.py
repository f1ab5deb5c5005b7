import numpy as np
import pytest

import homeostat as hs
from conftest import SOURCE_DIR, TINY, set_args


def test_defaults_and_keys():
    cfg = hs.Config.defaults()
    assert cfg["simulation.dt"] == 1.0
    assert cfg["recurrent.topology.num_neurons"] == cfg.num_neurons == 1000
    assert cfg["recurrent.cell_types.names"] == ["excitatory", "inhibitory"] == cfg.cell_type_names
    assert isinstance(cfg["targets"], dict) and cfg["targets"]["weight_ratio"] == 2.0
    assert cfg.steps == 10000
    with pytest.raises(KeyError, match="simulation.nope"):
        cfg["simulation.nope"]
    assert cfg.get("simulation.nope", 3) == 3 and "simulation.seed" in cfg and "nope" not in cfg


def test_load_reference_file_and_roundtrip(tmp_path):
    cfg = hs.Config.load(SOURCE_DIR / "params" / "homeostatic-plasticity.toml")
    assert cfg.num_neurons == 5000 and cfg.num_inputs == 1500
    assert hs.Config.from_toml(cfg.to_toml()) == cfg
    cfg.save(tmp_path / "p.toml")
    assert hs.Config.load(tmp_path / "p.toml") == cfg
    d = cfg.to_dict()
    d["simulation"]["dt"] = 123.0  # a copy: the config does not change
    assert cfg["simulation.dt"] == 0.1


def test_overrides_match_the_cli(cli, tmp_path):
    overrides = {**TINY, "training.optimisable": "scaling_factors",
                 "recurrent.topology.conn_within": np.array([[0.2, 0.2], [0.4, 0.2]]),
                 "simulation.saturate": False, "hyperparameters.learning_rate": 1e-5}
    cfg = hs.Config.defaults().with_overrides(overrides)
    assert cfg["training.optimisable"] == "scaling_factors"
    assert cfg["recurrent.topology.conn_within"] == [[0.2, 0.2], [0.4, 0.2]]
    assert cfg["simulation.saturate"] is False
    # Byte-identical to what `homeostat config --set ...` resolves.
    assert cfg.to_toml() == cli("config", *set_args(overrides)).stdout
    # TOML text, as --set, works too; with_overrides leaves the original alone.
    assert cfg.with_overrides(["training.batch_size=5"])["training.batch_size"] == 5
    assert cfg["training.batch_size"] == 2


def test_config_errors_name_key_and_reason():
    cfg = hs.Config.defaults()
    with pytest.raises(hs.ConfigError) as e:
        cfg.with_overrides({"recurrent.synapses.excitatory.tau_rise": [80.0, 80.0]})
    assert isinstance(e.value, ValueError)
    assert e.value.key.startswith("recurrent.synapses.excitatory.tau_rise")
    assert "tau_decay" in e.value.reason and e.value.key in str(e.value)
    with pytest.raises(hs.ConfigError) as e:
        cfg.with_overrides({"simulation.bogus": 1})
    assert e.value.key == "simulation.bogus"
    with pytest.raises(hs.ConfigError) as e:
        cfg.with_overrides({"training.batch_size": "many"})
    assert e.value.key == "training.batch_size"
    with pytest.raises(hs.ConfigError):
        hs.Config.from_toml("[simulation\n", source="broken.toml")
    with pytest.raises(hs.ConfigError) as e:
        hs.Config.load("/nonexistent/params.toml")
    assert "/nonexistent/params.toml" in str(e.value)
    with pytest.raises(TypeError):
        cfg.with_overrides({"simulation.dt": object()})
