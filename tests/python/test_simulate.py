import _thread
import threading
import time

import numpy as np
import pytest

import homeostat as hs


def test_byte_identical_to_the_cli_with_replayed_inputs(cli, cfg, net, tiny_files, tmp_path):
    cli("simulate", tiny_files / "parameters.toml", "--network", tiny_files / "network_structure.npz",
        "--inputs", tiny_files / "inputs.npy", "--record", "voltages,conductances,currents",
        "--neurons", "0,1,50:53", "--no-figures", "-o", tmp_path / "run")
    loaded = hs.Network.load(tiny_files / "network_structure.npz", cfg)
    res = hs.simulate(cfg, network=loaded, inputs=np.load(tiny_files / "inputs.npy"),
                      record=["voltages", "conductances", "currents"], neurons=[52, 0, 1, 50, 51, 1])
    names = ["output_spikes", "input_spikes", "output_voltages", "output_conductances", "output_currents",
             "recorded_neurons"]
    assert sorted(res) == sorted(names)
    for name in names:
        expected = np.load(tmp_path / "run" / "results" / f"{name}.npy")
        assert res[name].dtype == expected.dtype and res[name].shape == expected.shape, name
        assert res[name].tobytes() == expected.tobytes(), name
        assert res[name].flags.c_contiguous
    assert res["output_spikes"].sum() > 0
    assert res.info["trials"] == 2 and res.info["steps"] == 400
    # The inputs as a path give the same.
    again = hs.simulate(cfg, network=loaded, inputs=tiny_files / "inputs.npy", trials=1)
    assert np.array_equal(again["output_spikes"][0], res["output_spikes"][0])


def test_byte_identical_to_the_cli_with_poisson_inputs(cli, cfg, net, tiny_files, tmp_path):
    cli("simulate", tiny_files / "parameters.toml", "--trials", "3", "--record", "voltages",
        "--no-figures", "-o", tmp_path / "run")
    res = hs.simulate(cfg, trials=3, record="voltages")  # generates the same network
    for name in ("output_spikes", "input_spikes", "output_voltages", "recorded_neurons"):
        assert res[name].tobytes() == np.load(tmp_path / "run" / "results" / f"{name}.npy").tobytes(), name
    assert res["output_voltages"].shape == (3, 400, cfg.num_neurons)


def test_shapes_dtypes_and_info(cfg, net):
    res = hs.simulate(cfg, network=net, trials=2, steps=50, record=["conductances"], neurons=range(3))
    r = len(cfg.receptor_names)
    assert res["output_spikes"].dtype == np.bool_ and res["output_spikes"].shape == (2, 50, 60)
    assert res["input_spikes"].shape == (2, 50, 20)
    assert res["output_conductances"].dtype == np.float32 and res["output_conductances"].shape == (2, 50, 3, 2, r)
    assert res["recorded_neurons"].dtype == np.int64 and list(res["recorded_neurons"]) == [0, 1, 2]
    assert set(res.info["mean_rate_hz"]) == {"excitatory", "inhibitory"}
    assert "output_voltages" not in res


def test_bad_arguments(cfg, net, tmp_path):
    with pytest.raises(ValueError, match="unknown quantity"):
        hs.simulate(cfg, network=net, record=["spikes"])
    with pytest.raises(IndexError):
        hs.simulate(cfg, network=net, record=["voltages"], neurons=[60])
    with pytest.raises(hs.NetworkError, match="shape"):
        hs.simulate(cfg, network=net, inputs=np.zeros((1, 400, 21), bool))
    with pytest.raises(hs.NetworkError, match="steps"):
        hs.simulate(cfg, network=net, inputs=np.zeros((1, 10, 20), bool))
    with pytest.raises(hs.NetworkError, match="trials"):
        hs.simulate(cfg, network=net, inputs=np.zeros((1, 400, 20), bool), trials=2)
    # Values other than 0 and 1 are refused as the CLI refuses them in an --inputs file.
    for value, shown in ((2, "2"), (0.5, "0.5"), (np.nan, "nan"), (-1, "-1")):
        spikes = np.zeros((1, 400, 20))
        spikes[0, 7, 3] = value
        with pytest.raises(hs.NetworkError, match=rf"must be 0 or 1; element \[0, 7, 3\] is .*{shown}"):
            hs.simulate(cfg, network=net, inputs=spikes)
    with pytest.raises(hs.NetworkError, match="at least one of each"):
        hs.simulate(cfg, network=net, inputs=np.zeros((0, 400, 20), bool))
    # Arrays larger than the machine: refused naming trials and steps, not std::bad_alloc.
    with pytest.raises(hs.ResourceError, match="1000000000000 trials x 400 steps"):
        hs.simulate(cfg, network=net, trials=10**12)
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    with pytest.raises(hs.NetworkError, match="bad.npy"):
        hs.simulate(cfg, network=net, inputs=tmp_path / "bad.npy")
    other = hs.Network.generate(cfg.with_overrides({"recurrent.topology.num_neurons": 61}))
    with pytest.raises(hs.NetworkError):
        hs.simulate(cfg, network=other)
    with pytest.raises(TypeError):
        hs.simulate(cfg, network="net.npz")


def test_gil_is_released_during_a_simulation(cfg, net):
    big = cfg.with_overrides({"simulation.duration": 400000.0})  # ~0.4 s idle: the counter ticks many times
    count = 0
    running = True

    def counter():
        nonlocal count
        while running:
            count += 1
            time.sleep(0.001)

    t = threading.Thread(target=counter)
    t.start()
    start = time.monotonic()
    hs.simulate(big, network=net, trials=4, threads=1)
    elapsed = time.monotonic() - start
    counted = count
    running = False
    t.join()
    # The thread kept running through the call (a held GIL would have frozen it).
    assert counted > 10, (elapsed, counted)


def test_ctrl_c_stops_a_simulation_between_chunks(cfg, net):
    long = cfg.with_overrides({"simulation.duration": 1_500_000.0})  # 2 s of work on an idle machine
    threading.Timer(0.1, _thread.interrupt_main).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        hs.simulate(long, network=net, threads=1)
    # Stopped at the next chunk (200 steps, well under a millisecond), not at the end.
    assert time.monotonic() - start < 1.0


def test_writes_the_cli_directory(cli, cfg, net, tiny_files, tmp_path):
    run = hs.simulate(cfg, network=net, inputs=tiny_files / "inputs.npy", record="voltages", neurons=[3],
                      output_dir=tmp_path / "py", figures=False, verbose=False)
    cli("simulate", tiny_files / "parameters.toml", "--network", tiny_files / "network_structure.npz",
        "--inputs", tiny_files / "inputs.npy", "--record", "voltages", "--neurons", "3", "--no-figures",
        "-o", tmp_path / "cli")
    assert run.config == cfg and run.network == hs.Network.load(tmp_path / "cli" / "network_structure.npz")
    for name, array in run.results.items():
        assert array.tobytes() == np.load(tmp_path / "cli" / "results" / f"{name}.npy").tobytes(), name
    for name in ("firing_rate_statistics", "cv_statistics"):
        assert ((tmp_path / "py" / "analysis" / f"{name}.csv").read_bytes()
                == (tmp_path / "cli" / "analysis" / f"{name}.csv").read_bytes())
    assert run.analysis["firing_rate_statistics"]
