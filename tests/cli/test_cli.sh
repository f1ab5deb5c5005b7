#!/usr/bin/env bash
# End-to-end checks of the homeostat command line: outputs load in numpy with
# the documented shapes, runs reproduce from their own files, bad input is
# refused before anything is written.
# Usage: test_cli.sh HOMEOSTAT_BINARY SOURCE_DIR PYTHON3
set -euo pipefail
bin=$1 src=$2 py=${3:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
small=(--set recurrent.topology.num_neurons=120 --set recurrent.topology.num_assemblies=4
       --set feedforward.topology.num_neurons=40 --set simulation.duration=300.0 --set simulation.chunk_size=1000
       --set simulation.dt=0.1)

echo "== config --defaults reloads to the same resolved config"
"$bin" config --defaults > "$work/defaults.toml"
"$bin" config > "$work/resolved_a.toml"
"$bin" config "$work/defaults.toml" > "$work/resolved_b.toml"
cmp "$work/resolved_a.toml" "$work/resolved_b.toml" || fail "defaults file does not resolve like the built-in defaults"
"$bin" config "$src/params/homeostatic-plasticity.toml" > /dev/null || fail "reference config rejected"
# --set takes one KEY=VALUE: a PARAMS file after it is still the positional.
"$bin" config --set training.batch_size=3 "$src/params/homeostatic-plasticity.toml" > "$work/ref.toml"
grep -q "^batch_size = 3$" "$work/ref.toml" && grep -q "^num_neurons = 5000$" "$work/ref.toml" || fail "--set/PARAMS order"

echo "== simulate writes every documented output"
"$bin" simulate "${small[@]}" --trials 2 --record voltages,conductances,currents --neurons 0:5,100 \
  -o "$work/run" > "$work/run.log"
for f in results/output_spikes.npy results/input_spikes.npy results/output_voltages.npy \
         results/output_conductances.npy results/output_currents.npy results/recorded_neurons.npy \
         results/recurrent_weights.npy results/feedforward_weights.npy results/recurrent_connectivity.npy \
         results/feedforward_connectivity.npy network_structure.npz parameters.toml metadata.json \
         analysis/firing_rate_statistics.csv analysis/cv_statistics.csv analysis/voltage_statistics.csv \
         analysis/fano_factor.csv analysis/isi_histogram.csv; do
  [ -s "$work/run/$f" ] || fail "missing $f"
done
ls -A "$work/run" "$work/run/results" | grep -q 'homeostat-tmp' && fail "temporary files left behind"

"$py" - "$work/run" <<'PY'
import json, sys, csv
import numpy as np
d = sys.argv[1]
r = lambda f: np.load(f"{d}/results/{f}")
s, x, v, g, c = r("output_spikes.npy"), r("input_spikes.npy"), r("output_voltages.npy"), r("output_conductances.npy"), r("output_currents.npy")
assert s.dtype == np.bool_ and s.shape == (2, 3000, 120), (s.dtype, s.shape)
assert x.dtype == np.bool_ and x.shape == (2, 3000, 40), x.shape
assert v.dtype == np.float32 and v.shape == (2, 3000, 6), v.shape
assert g.shape == (2, 3000, 6, 2, 5), g.shape       # part (u, d) x receptors (E:AMPA,NMDA I:GABA_A mitral:AMPA,NMDA)
assert c.shape == (2, 3000, 6, 5), c.shape
idx = r("recorded_neurons.npy")
assert list(idx) == [0, 1, 2, 3, 4, 100], idx
assert s.sum() > 0 and x.sum() > 0
# Input rate: 6 Hz, 40 inputs, 2 x 0.3 s -> 144 expected spikes.
assert abs(x.sum() - 144) < 4 * 12, x.sum()
# Recording convention: a neuron that spikes at t shows U_reset at index t.
for b in range(2):
    for k, i in enumerate(idx):
        t = np.nonzero(s[b, :, i])[0]
        assert np.all(v[b, t, k] == -60.0), (b, i)
# Conductances: rise part <= 0, decay part >= 0, never above the clamp.
assert (g[:, :, :, 0, :] <= 0).all() and (g[:, :, :, 1, :] >= 0).all()
# Currents of step t use v(t) (index t-1) and g(t) (index t-1).
E = np.array([0, 0, -70, 0, 0], dtype=np.float64)
gt = (g[:, :-1, :, 0, :] + g[:, :-1, :, 1, :]).astype(np.float64)
pred = gt * (v[:, :-1, :, None].astype(np.float64) - E)
assert np.allclose(c[:, 1:], pred, rtol=1e-4, atol=1e-3), np.abs(c[:, 1:] - pred).max()
net = np.load(f"{d}/network_structure.npz")
assert set(net.files) == {"recurrent_weights", "feedforward_weights", "recurrent_connectivity",
    "feedforward_connectivity", "cell_type_indices", "feedforward_cell_type_indices", "assembly_ids"}, net.files
W, C = net["recurrent_weights"], net["recurrent_connectivity"]
assert W.shape == (120, 120) and C.dtype == np.bool_
assert ((W > 0) == C).all() and not C.diagonal().any()
assert (net["feedforward_weights"] > 0).sum() == net["feedforward_connectivity"].sum()
assert list(np.bincount(net["cell_type_indices"])) == [96, 24]
assert set(np.unique(net["assembly_ids"])) == {0, 1, 2, 3}
assert (r("recurrent_weights.npy") == W).all()
# Analysis agrees with the spikes.
rows = {row["cell_type"]: row for row in csv.DictReader(open(f"{d}/analysis/firing_rate_statistics.csv"))}
ct = net["cell_type_indices"]
for t, name in enumerate(["excitatory", "inhibitory"]):
    rates = s[:, :, ct == t].sum(axis=1) / 0.3
    assert abs(float(rows[name]["mean_rate_hz"]) - rates.mean()) < 1e-3 * max(1, rates.mean()), (name, rows[name], rates.mean())
    assert int(rows[name]["silent_count"]) == int((rates == 0).sum())
meta = json.load(open(f"{d}/metadata.json"))
for k in ("version", "git_commit", "command", "seed", "threads", "host", "start_time", "end_time"):
    assert k in meta, k
assert meta["seed"] == 42 and meta["simulate"]["trials"] == 2
print("numpy checks passed")
PY

echo "== simulate draws the figures; plot DIR redraws the same files from the saved data"
for f in network_connectivity input_raster output_raster output_firing_rates dynamics_voltages \
         dynamics_conductances statistics_cv; do
  [ -s "$work/run/figures/$f.png" ] || fail "missing figures/$f.png"
done
[ "$(ls "$work/run/figures" | wc -l)" -eq 14 ] || fail "expected 14 figures: $(ls "$work/run/figures")"
cp -r "$work/run/figures" "$work/figures_simulate"
"$bin" plot "$work/run" > "$work/plot.log"
grep -q "Saved plots to" "$work/plot.log" || fail "plot: $(cat "$work/plot.log")"
for f in "$work"/figures_simulate/*.png; do
  cmp "$f" "$work/run/figures/$(basename "$f")" || fail "plot DIR redrew $(basename "$f") differently"
done

echo "== a run reproduces from its own network, inputs and parameters.toml"
"$bin" simulate "$work/run/parameters.toml" --network "$work/run/network_structure.npz" \
  --inputs "$work/run/results/input_spikes.npy" -o "$work/replay" > /dev/null
cmp "$work/run/results/output_spikes.npy" "$work/replay/results/output_spikes.npy" || fail "replay differs"
"$bin" simulate "$work/run/parameters.toml" --trials 2 --threads 1 -o "$work/one_thread" > /dev/null
"$bin" simulate "$work/run/parameters.toml" --trials 2 --threads 2 -o "$work/two_threads" > /dev/null
cmp "$work/run/results/output_spikes.npy" "$work/one_thread/results/output_spikes.npy" || fail "parameters.toml rerun differs"
cmp "$work/one_thread/results/output_spikes.npy" "$work/two_threads/results/output_spikes.npy" || fail "1 vs 2 threads differ"
# One trial, 1 or 2 threads, every recording: same files. (Threads share a
# trial only from 2 x 4096 neurons on; tests/unit/test_sim.cpp covers that
# path with a lowered bound.)
for t in 1 2; do
  "$bin" simulate "$work/run/parameters.toml" --threads $t --record voltages,conductances,currents \
    --neurons 0:3,60:64,119 --no-figures -o "$work/single_$t" > /dev/null
done
for f in output_spikes output_voltages output_conductances output_currents input_spikes; do
  cmp "$work/single_1/results/$f.npy" "$work/single_2/results/$f.npy" || fail "$f differs between 1 and 2 threads"
done

echo "== gradient: losses and dense gradients for one chunk of recorded inputs"
"$bin" gradient "$work/run/parameters.toml" --network "$work/run/network_structure.npz" \
  --inputs "$work/run/results/input_spikes.npy" --losses cv,firing_rate -o "$work/grads.npz" > "$work/grad.log"
"$py" - "$work" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
g = np.load(f"{d}/grads.npz")
net = np.load(f"{d}/run/network_structure.npz")
C, W = net["recurrent_connectivity"], net["recurrent_weights"]
for prefix in ("grad_", "grad_cv_", "grad_firing_rate_"):
    r, f = g[prefix + "recurrent_log_weights"], g[prefix + "feedforward_log_weights"]
    assert r.shape == (120, 120) and f.shape == (40, 120), (r.shape, f.shape)
    assert np.all(r[~C] == 0) and np.all(f[~net["feedforward_connectivity"]] == 0), "gradient off the connectome"
    assert np.isfinite(r).all(), prefix
    if prefix != "grad_cv_" or g["loss_cv"] > 0:  # no neuron with 2 ISIs: CV loss 0, no gradient
        assert np.abs(r).max() > 0, prefix
    # d/d(log w) = w d/dw
    assert np.allclose(r, W * g[prefix + "recurrent_weights"], rtol=1e-5, atol=1e-12)
# The same chunk of inputs gives the same spikes as the simulation did.
s = np.load(f"{d}/run/results/output_spikes.npy")
assert (g["output_spikes"] == s).all()
terms = ["firing_rate", "cv", "silent_penalty", "membrane_variance", "weight_ratio"]
assert all(np.isfinite(g["loss_" + t]) for t in terms + ["total"])
print("gradient checks passed")
PY
"$bin" gradient "$work/run/parameters.toml" --network "$work/run/network_structure.npz" \
  --inputs "$work/run/results/input_spikes.npy" --sparse-cutoff 1e-3 -o "$work/grads_sparse.npz" > /dev/null
"$py" - "$work" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
a = np.load(f"{d}/grads.npz")["grad_recurrent_log_weights"].astype(np.float64).ravel()
b = np.load(f"{d}/grads_sparse.npz")["grad_recurrent_log_weights"].astype(np.float64).ravel()
cos = a @ b / np.sqrt((a @ a) * (b @ b))
assert cos > 0.8, cos  # an approximation, close to the exact gradient
PY
"$bin" gradient "$work/run/parameters.toml" --network "$work/run/network_structure.npz" \
  --inputs "$work/run/results/input_spikes.npy" --set training.optimisable=scaling_factors_recurrent \
  --losses firing_rate -o "$work/grads_sf.npz" > /dev/null
"$py" - "$work" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
g, w = np.load(f"{d}/grads_sf.npz"), np.load(f"{d}/grads.npz")
net = np.load(f"{d}/run/network_structure.npz")
assert "grad_recurrent_log_scaling_factors" in g.files and "grad_feedforward_log_scaling_factors" not in g.files
sf = g["grad_recurrent_log_scaling_factors"]
assert sf.shape == (2, 2), sf.shape
assert float(g["weight_ratio"]) == 1.0
# d/d ln f_ab = sum over block (a, b) of d/d ln w (firing-rate loss alone: no
# weight-ratio term in either mode).
ct = net["cell_type_indices"]
per_edge = w["grad_firing_rate_recurrent_log_weights"].astype(np.float64)
blocks = np.array([[per_edge[np.ix_(ct == a, ct == b)].sum() for b in range(2)] for a in range(2)])
fr = g["grad_firing_rate_recurrent_log_scaling_factors"]
assert np.allclose(fr, blocks, rtol=1e-4, atol=1e-9 * np.abs(blocks).max()), (fr, blocks)
assert np.abs(fr).max() > 0
PY

echo "== train: metrics, checkpoints; Ctrl-C saves, --resume ends bit-identical to a run that never stopped"
tr=(--set recurrent.topology.num_neurons=120 --set recurrent.topology.num_assemblies=4
    --set feedforward.topology.num_neurons=40 --set simulation.chunk_size=400 --set simulation.num_chunks=40
    --set training.batch_size=2 --set training.log_interval=2 --set training.checkpoint_interval=3
    --set training.chunks_per_update=2 --set simulation.duration=300.0)
"$bin" train "${tr[@]}" -o "$work/train_straight" > "$work/train_straight.log"
grep -q "^Chunk 40/40:" "$work/train_straight.log" || fail "no console block for the last chunk"
"$bin" train "${tr[@]}" --threads 2 -o "$work/train_cut" > "$work/train_cut.log" 2> "$work/train_cut.err" &
pid=$!
for _ in $(seq 200); do [ -e "$work/train_cut/checkpoints/checkpoint_latest.npz" ] && break; sleep 0.05; done
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 130 ] || fail "Ctrl-C: exit $rc, expected 130 ($(cat "$work/train_cut.err"))"
grep -q "train --resume" "$work/train_cut.err" || fail "no resume hint: $(cat "$work/train_cut.err")"
"$bin" train --resume "$work/train_cut/checkpoints/checkpoint_latest.npz" --threads 1 > "$work/train_resumed.log"
cmp "$work/train_straight/final_state/network_structure.npz" "$work/train_cut/final_state/network_structure.npz" ||
  fail "resumed run ends with different weights"
cmp "$work/train_straight/checkpoints/checkpoint_latest.npz" "$work/train_cut/checkpoints/checkpoint_latest.npz" ||
  fail "resumed run ends in a different state"
for f in "$work"/train_straight/weights/*.npy "$work"/train_straight/final_state/results/output_spikes.npy; do
  cmp "$f" "$work/train_cut/${f#"$work"/train_straight/}" || fail "resumed run differs in ${f#"$work"/}"
done
for f in initial_state/figures/output_raster.png final_state/figures/output_raster.png \
         initial_state/analysis/firing_rate_statistics.csv final_state/analysis/firing_rate_statistics.csv \
         weights/recurrent_epoch_0040.npy weights/feedforward_epoch_0002.npy; do
  [ -s "$work/train_straight/$f" ] || fail "train did not write $f"
done
[ -s "$work/train_straight/figures/chunk_0002/training_losses.png" ] || fail "train did not draw figures/chunk_0002/"
cp "$work/train_straight/figures/training_losses.png" "$work/train_losses.png"
cp "$work/train_straight/figures/chunk_0002/training_rates.png" "$work/train_rates_0002.png"
cp "$work/train_straight/figures/chunk_0002/training_weight_change.png" "$work/train_weight_change_0002.png"
"$bin" plot "$work/train_straight" > "$work/train_plot.log"
"$bin" plot "$work/train_straight" --chunk 2 >> "$work/train_plot.log"
cmp "$work/train_losses.png" "$work/train_straight/figures/training_losses.png" ||
  fail "plot DIR redrew training_losses.png differently from train"
cmp "$work/train_rates_0002.png" "$work/train_straight/figures/chunk_0002/training_rates.png" ||
  fail "plot DIR --chunk 2 redrew training_rates.png differently from train"
cmp "$work/train_weight_change_0002.png" "$work/train_straight/figures/chunk_0002/training_weight_change.png" ||
  fail "plot DIR --chunk 2 redrew training_weight_change.png differently from train"
# A state directory of a training run (its parameters.toml is the run's) redraws what train drew.
for state in initial_state final_state; do
  "$bin" plot "$work/train_straight/$state/" -o "$work/replot_$state" >> "$work/train_plot.log" ||
    fail "plot on $state failed: $(tail -3 "$work/train_plot.log")"
  for f in "$work/train_straight/$state"/figures/*.png; do
    cmp "$f" "$work/replot_$state/$(basename "$f")" || fail "plot $state/ redrew $(basename "$f") differently"
  done
done
"$py" - "$work" "$src/tests/cli/read_tensorboard.py" "$src/io/proto" <<'PY'
import csv, json, sys
import numpy as np
d = sys.argv[1]
rows = lambda run: list(csv.DictReader(open(f"{d}/{run}/training_metrics.csv")))
a, b = rows("train_straight"), rows("train_cut")
assert [int(r["chunk"]) for r in a] == list(range(2, 41, 2)), [r["chunk"] for r in a]
assert len(a) == len(b), (len(a), len(b))  # no duplicate rows after the resume
for x, y in zip(a, b):
    x.pop("wall_seconds"); y.pop("wall_seconds")
    assert x == y, (x, y)
for r in a:
    assert all(k in r for k in ("total_loss", "cv_loss", "mean_rate_hz/excitatory", "fraction_active/inhibitory",
                                 "membrane_ratio/excitatory", "grad_norm", "learning_rate"))
c = np.load(f"{d}/train_straight/checkpoints/checkpoint_latest.npz")
assert int(c["chunks_done"][0]) == 40 and len(c["loss_history"]) == 40
best = np.load(f"{d}/train_straight/checkpoints/checkpoint_best.npz")
assert float(best["best_loss"][0]) == float(np.min(c["loss_history"]))
assert int(best["chunks_done"][0]) == int(best["best_chunk"][0])
# The last weight snapshot is the trained network; the first differs from the initial one.
final = np.load(f"{d}/train_straight/final_state/network_structure.npz")
w40 = np.load(f"{d}/train_straight/weights/recurrent_epoch_0040.npy")
assert (w40 == final["recurrent_weights"]).all()
init = np.load(f"{d}/train_straight/initial_state/network_structure.npz")["recurrent_weights"]
assert ((init > 0) == (w40 > 0)).all(), "training changed the connectome"
assert not (init == w40).all(), "training did not change the weights"
# TensorBoard: every CSV value is a scalar with the same tag and step (float32),
# read back by an independent reader; the resumed run logs no step twice.
import subprocess
for run, rows_ in (("train_straight", a), ("train_cut", b)):
    out = subprocess.run([sys.executable, sys.argv[2], sys.argv[3], f"{d}/{run}/tensorboard", d],
                         check=True, capture_output=True, text=True)
    tb = json.loads(out.stdout)
    assert tb["files"] == 1 and tb["versions"] == 1, tb["files"]
    for row in rows(run):
        step = row["chunk"]
        for key, text in row.items():
            if key in ("chunk", "wall_seconds"):
                continue
            got = tb["scalars"][key][step]
            want = float(text)
            assert (np.isnan(got) and np.isnan(want)) or abs(got - np.float32(want)) <= 1e-6 * max(1, abs(want)), (run, key, step, got, want)
    assert sorted(int(s) for s in tb["scalars"]["total_loss"]) == list(range(2, 41, 2))
    assert any(t.startswith("initial_state/") for t in tb["images"]) and any(t.startswith("final_state/") for t in tb["images"])
    assert all(v[3] and v[1] > 0 and v[2] > 0 for v in tb["images"].values())
    # The configuration: parameters.toml as Markdown text, and its one-valued keys as hparams, with the
    # CSV's columns and the final state's scalars as metrics; the resumed run wrote its own, once.
    text = tb["texts"]["config/parameters.toml"]
    assert text[:3] == [0, "DT_STRING", 0], text[:3]
    toml_text = open(f"{d}/{run}/parameters.toml").read()
    assert all("    " + line in text[3] for line in toml_text.splitlines() if line), text[3][:300]
    import tomllib
    def flat(table, prefix=""):
        for k, v in table.items():
            if isinstance(v, dict):
                yield from flat(v, prefix + k + ".")
            elif not isinstance(v, list):
                yield prefix + k, v
    want = dict(flat(tomllib.loads(toml_text)))
    hp = tb["hparams"]
    assert hp["start"] == {k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v)
                           for k, v in want.items()}, set(hp["start"]) ^ set(want)
    assert hp["experiment"]["hparams"]["training.batch_size"] == "DATA_TYPE_FLOAT64"
    assert hp["experiment"]["hparams"]["simulation.saturate"] == "DATA_TYPE_BOOL"
    assert hp["experiment"]["hparams"]["training.optimisable"] == "DATA_TYPE_STRING"
    assert hp["start"]["targets.firing_rate.inhibitory"] == 5.0 and hp["start"]["training.batch_size"] == 2.0
    columns = [k for k in rows_[0] if k not in ("chunk", "wall_seconds")]
    final = [f"final_state/{w}/{t}" for w in ("mean_rate_hz", "fraction_active", "mean_cv")
             for t in ("excitatory", "inhibitory")]
    assert hp["experiment"]["metrics"] == columns + final, hp["experiment"]["metrics"]
    assert all(t in tb["scalars"] for t in hp["experiment"]["metrics"])
    assert hp["end"] == [40, "STATUS_SUCCESS"], hp["end"]
    stats_file = f"{d}/{run}/final_state/analysis/firing_rate_statistics.csv"
    stats = {r["cell_type"]: r for r in csv.DictReader(open(stats_file))}
    for t in ("excitatory", "inhibitory"):
        got, want_rate = tb["scalars"][f"final_state/mean_rate_hz/{t}"]["40"], float(stats[t]["mean_rate_hz"])
        assert abs(got - want_rate) <= 1e-5 * max(1, want_rate), (t, got, want_rate)
# The weight change per block is the change of the block's mean weight, from the snapshots.
net = np.load(f"{d}/train_straight/initial_state/network_structure.npz")
ct, it = net["cell_type_indices"], net["feedforward_cell_type_indices"]
names = ["excitatory", "inhibitory"]
for chunk in (2, 40):
    row = [r for r in a if int(r["chunk"]) == chunk][0]
    for kind, pre_types, w0_file in (("recurrent", ct, "recurrent_weights"),
                                     ("feedforward", it, "feedforward_weights")):
        w0 = net[w0_file].astype(np.float64)  # the initial weights: network_structure.npz
        w = np.load(f"{d}/train_straight/weights/{kind}_epoch_{chunk:04}.npy").astype(np.float64)
        pre_names = names if kind == "recurrent" else ["mitral"]
        for p, pre in enumerate(pre_names):
            for q, post in enumerate(names):
                block = np.ix_(pre_types == p, ct == q)
                mask = w0[block] > 0
                want = w[block][mask].sum() / w0[block][mask].sum() - 1
                got = float(row[f"weight_change/{kind}/{pre}_to_{post}"])
                assert abs(got - want) <= 1e-6 + 1e-5 * abs(want), (chunk, kind, pre, post, got, want)
assert any(abs(float(a[-1][k])) > 1e-3 for k in a[-1] if k.startswith("weight_change/")), a[-1]
meta = json.load(open(f"{d}/train_cut/metadata.json"))
assert meta["train"]["chunks_done"] == 40 and meta["train"]["resumed_at_chunk"] > 0, meta["train"]
print("train checks passed")
PY
# NaN/Inf: stop (exit 3, nothing checkpointed) or skip the update (a constant learning rate of 1000: every
# update overflows, where a decaying one would come down to finite steps).
set +e
"$bin" train "${tr[@]}" --set hyperparameters.learning_rate=1000.0 --set hyperparameters.lr_half_life=0 -o "$work/nan_stop" > /dev/null 2> "$work/nan.err"
rc=$?
set -e
[ $rc -eq 3 ] && grep -q "not finite at chunk 2" "$work/nan.err" || fail "NaN stop: rc $rc, $(cat "$work/nan.err")"
[ ! -e "$work/nan_stop/checkpoints" ] || fail "a checkpoint was written after a non-finite update"
"$bin" train "${tr[@]}" --set hyperparameters.learning_rate=1000.0 --set hyperparameters.lr_half_life=0 --set training.on_nan=skip -o "$work/nan_skip" \
  > /dev/null 2> "$work/nan_skip.err"
grep -q "update skipped" "$work/nan_skip.err" || fail "NaN skip: $(cat "$work/nan_skip.err")"
"$py" -c "import numpy as np, sys; sys.exit(not np.array_equal(np.load(sys.argv[1])['recurrent_weights'], np.load(sys.argv[2])))" \
  "$work/nan_skip/initial_state/network_structure.npz" "$work/nan_skip/weights/recurrent_epoch_0040.npy" ||
  fail "skipped updates changed the weights"
head -c 2000 "$work/train_straight/checkpoints/checkpoint_latest.npz" > "$work/broken.npz"
mkdir -p "$work/train_broken/checkpoints"
cp "$work/train_straight/parameters.toml" "$work/train_broken/"
cp -r "$work/train_straight/initial_state" "$work/train_broken/"
cp "$work/broken.npz" "$work/train_broken/checkpoints/checkpoint_latest.npz"
set +e
"$bin" train --resume "$work/train_broken/checkpoints/checkpoint_latest.npz" > /dev/null 2> "$work/broken.err"; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "not a usable checkpoint" "$work/broken.err" || fail "damaged checkpoint: $(cat "$work/broken.err")"

echo "== feedback: the same outputs as train, exact resume, and a checkpoint that only feedback continues"
"$bin" feedback "${tr[@]}" --set feedback.eta_excitatory=0.1 -o "$work/fb_straight" > "$work/fb_straight.log"
grep -q "^Targets after training" "$work/fb_straight.log" || fail "feedback printed no target summary"
for f in training_metrics.csv checkpoints/checkpoint_latest.npz checkpoints/checkpoint_best.npz \
         final_state/network_structure.npz final_state/analysis/firing_rate_statistics.csv \
         initial_state/network_structure.npz weights/recurrent_epoch_0040.npy figures/training_losses.png; do
  [ -s "$work/fb_straight/$f" ] || fail "feedback did not write $f"
done
"$bin" feedback "${tr[@]}" --set feedback.eta_excitatory=0.1 -o "$work/fb_cut" > /dev/null 2> "$work/fb_cut.err" &
pid=$!
for _ in $(seq 400); do [ -e "$work/fb_cut/checkpoints/checkpoint_latest.npz" ] && break; sleep 0.01; done
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
if [ $rc -eq 130 ]; then
  grep -q "feedback --resume" "$work/fb_cut.err" || fail "no feedback resume hint: $(cat "$work/fb_cut.err")"
  set +e
  "$bin" train --resume "$work/fb_cut/checkpoints/checkpoint_latest.npz" > /dev/null 2> "$work/fb_wrong.err"; rc=$?
  set -e
  [ $rc -ne 0 ] && grep -q "homeostat feedback --resume" "$work/fb_wrong.err" ||
    fail "train continued a feedback checkpoint: rc $rc, $(cat "$work/fb_wrong.err")"
  "$bin" feedback --resume "$work/fb_cut/checkpoints/checkpoint_latest.npz" --threads 1 > /dev/null
else
  [ $rc -eq 0 ] || fail "feedback Ctrl-C: exit $rc ($(cat "$work/fb_cut.err"))"  # finished before the signal
fi
for f in final_state/network_structure.npz checkpoints/checkpoint_latest.npz weights/recurrent_epoch_0040.npy; do
  cmp "$work/fb_straight/$f" "$work/fb_cut/$f" || fail "resumed feedback run differs in $f"
done
"$py" - "$work" <<'PY'
import csv, sys, numpy as np
d = sys.argv[1]
a = list(csv.DictReader(open(f"{d}/fb_straight/training_metrics.csv")))
b = list(csv.DictReader(open(f"{d}/fb_cut/training_metrics.csv")))
strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]
assert strip(a) == strip(b), "resumed feedback CSV differs"
assert [int(r["chunk"]) for r in a] == list(range(2, 41, 2))
assert "grad_norm" not in a[0] and "excitatory_scaling/excitatory" in a[0], list(a[0])
# The factors applied (geometric mean per postsynaptic type) stay within [min_factor, max_factor].
f = [float(r[f"{k}_scaling/{t}"]) for r in a for k in ("excitatory", "inhibitory") for t in ("excitatory", "inhibitory")]
assert all(0.9 <= x <= 1.1 for x in f) and any(x != 1 for x in f), f
c = np.load(f"{d}/fb_straight/checkpoints/checkpoint_latest.npz")
assert int(c["method"][0]) == 1 and c["rate_estimate"].shape == (120,) and c["adam_m"].shape == (0,)
init = np.load(f"{d}/fb_straight/initial_state/network_structure.npz")["recurrent_weights"]
w40 = np.load(f"{d}/fb_straight/weights/recurrent_epoch_0040.npy")
assert ((init > 0) == (w40 > 0)).all() and not (init == w40).all()
print("feedback checks passed")
PY

echo "== --resume --set simulation.num_chunks=N extends a run: the same files as a run planned for N; snapshots as edge lists"
# log_interval 2 and 3 chunks: chunk 3 is logged only as the end of the short run; chunks_per_update 2: the
# gradient of chunk 3 waits in the checkpoint for chunk 4's step.
ext=(--set recurrent.topology.num_neurons=120 --set recurrent.topology.num_assemblies=4
     --set feedforward.topology.num_neurons=40 --set simulation.chunk_size=400 --set training.batch_size=2
     --set training.log_interval=2 --set training.checkpoint_interval=2 --set training.chunks_per_update=2
     --set simulation.duration=300.0 --set training.weight_snapshots=sparse)
for method in train feedback; do
  "$bin" $method "${ext[@]}" --set simulation.num_chunks=5 -o "$work/${method}_5" > /dev/null
  "$bin" $method "${ext[@]}" --set simulation.num_chunks=3 -o "$work/${method}_3to5" > /dev/null
  [ -e "$work/${method}_3to5/weights/recurrent_epoch_0003.npz" ] || fail "$method: no snapshot at the end of 3 chunks"
  "$bin" $method --resume "$work/${method}_3to5/checkpoints/checkpoint_latest.npz" --set simulation.num_chunks=5 \
    --threads 1 > "$work/${method}_ext.log"
  grep -q "extended from 3 to 5 chunks" "$work/${method}_ext.log" || fail "$method: $(cat "$work/${method}_ext.log")"
  # Every file but the run's record of itself (metadata.json: times, command, the extension) and the
  # TensorBoard events (wall times) holds the same bytes; the CSV too, but for its wall_seconds column.
  (cd "$work/${method}_5" && find . -type f ! -name metadata.json ! -path './tensorboard/*' | sort) > "$work/files_5"
  (cd "$work/${method}_3to5" && find . -type f ! -name metadata.json ! -path './tensorboard/*' | sort) > "$work/files_3to5"
  diff "$work/files_5" "$work/files_3to5" || fail "$method: the extended run has other files than the planned one"
  while read -r f; do
    [ "$f" = ./training_metrics.csv ] && continue
    cmp -s "$work/${method}_5/$f" "$work/${method}_3to5/$f" || fail "$method: the extended run differs in $f"
  done < "$work/files_5"
  sed 's/,[^,]*$//' "$work/${method}_5/training_metrics.csv" > "$work/a.csv"  # less wall_seconds
  sed 's/,[^,]*$//' "$work/${method}_3to5/training_metrics.csv" > "$work/b.csv"
  cmp "$work/a.csv" "$work/b.csv" || fail "$method: the extended run's metrics differ"
  [ "$(cut -d, -f1 "$work/${method}_3to5/training_metrics.csv" | tr '\n' ' ')" = "chunk 2 4 5 " ] ||
    fail "$method: metrics rows $(cut -d, -f1 "$work/${method}_3to5/training_metrics.csv" | tr '\n' ' ')"
  grep -q '"extended_from_chunks": 3' "$work/${method}_3to5/metadata.json" || fail "$method: metadata.json"
done
# The snapshots load in scipy, as the run's weights: the last is the trained network, in the
# order of the checkpoint's parameters.
"$py" - "$work/train_5" <<'PY'
import sys
import numpy as np
import scipy.sparse
d = sys.argv[1]
net = np.load(f"{d}/initial_state/network_structure.npz")
final = np.load(f"{d}/final_state/network_structure.npz")
ck = np.load(f"{d}/checkpoints/checkpoint_latest.npz")
e = int(net["recurrent_connectivity"].sum())
for which, shape, params in (("recurrent", (120, 120), ck["parameters"][:e]),
                             ("feedforward", (40, 120), ck["parameters"][e:])):
    for chunk in (2, 4, 5):
        w = scipy.sparse.load_npz(f"{d}/weights/{which}_epoch_{chunk:04}.npz")
        assert w.format == "csr" and w.shape == shape and w.dtype == np.float32, (which, w.format, w.shape, w.dtype)
        assert np.array_equal(w.toarray() > 0, net[f"{which}_connectivity"]), (which, chunk)
    assert np.array_equal(w.toarray(), final[f"{which}_weights"]), which
    assert np.array_equal(w.data, np.exp(params).astype(np.float32)), which
    assert not np.array_equal(w.toarray(), net[f"{which}_weights"]), f"{which}: training changed nothing"
print("extension and sparse snapshot checks passed")
PY
cp "$work/train_5/parameters.toml" "$work/params_5.toml"
set +e
"$bin" train --resume "$work/train_5/checkpoints/checkpoint_latest.npz" --set simulation.num_chunks=8 \
  --set training.batch_size=3 > /dev/null 2> "$work/ext_err1"; rc1=$?
"$bin" train --resume "$work/train_5/checkpoints/checkpoint_latest.npz" --set simulation.num_chunks=4 \
  > /dev/null 2> "$work/ext_err2"; rc2=$?
set -e
[ $rc1 -ne 0 ] && grep -q "training.batch_size=3" "$work/ext_err1" && grep -q "only simulation.num_chunks" "$work/ext_err1" ||
  fail "another key changed on --resume: rc $rc1, $(cat "$work/ext_err1")"
[ $rc2 -ne 0 ] && grep -q "has done 5 chunks" "$work/ext_err2" || fail "a run was cut: rc $rc2, $(cat "$work/ext_err2")"
cmp "$work/params_5.toml" "$work/train_5/parameters.toml" || fail "a refused extension changed parameters.toml"

echo "== bad input is refused with file, key and reason; nothing is written"
set +e
"$bin" simulate "${small[@]}" --set recurrent.synapses.excitatory.tau_rise=[9.0,10.0] -o "$work/bad1" 2> "$work/err1"
rc=$?
set -e
[ $rc -ne 0 ] || fail "accepted tau_rise >= tau_decay"
grep -q "recurrent.synapses.excitatory.tau_rise\[0\]" "$work/err1" || fail "error does not name the key: $(cat "$work/err1")"
[ ! -e "$work/bad1" ] || fail "output directory created for a rejected config"
sed 's/^dt = .*/dt = -0.1/' "$work/defaults.toml" > "$work/neg.toml"
set +e
"$bin" simulate "$work/neg.toml" -o "$work/bad2" 2> "$work/err2"; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "neg.toml" "$work/err2" && grep -q "simulation.dt" "$work/err2" || fail "$(cat "$work/err2")"
[ ! -e "$work/bad2" ] || fail "output directory created for a rejected config"
set +e
"$bin" simulate "${small[@]}" --set recurrent.topology.num_neurons=50 --network "$work/run/network_structure.npz" \
  -o "$work/bad3" 2> "$work/err3"; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "the config needs" "$work/err3" || fail "network/config mismatch not reported: $(cat "$work/err3")"
[ ! -e "$work/bad3" ] || fail "output directory created for a rejected network"
set +e
"$bin" simulate "${small[@]}" -o "$work/run" 2> "$work/err4"; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "not empty" "$work/err4" || fail "overwrote an existing run"
# Through a file: `grep -q` closing a pipe early would fail the writer (pipefail).
"$bin" simulate --help > "$work/help.txt"
grep -q -- "--record" "$work/help.txt" || fail "help text"

echo "== Ctrl-C on simulate: exit 130, no temporary file, metadata.json says interrupted"
"$bin" simulate "${small[@]}" --set simulation.duration=200000.0 --no-figures -o "$work/sim_cut" \
  > "$work/sim_cut.log" 2> "$work/sim_cut.err" &
pid=$!
for _ in $(seq 400); do [ -e "$work/sim_cut/results/.input_spikes.npy.homeostat-tmp.$pid" ] && break; sleep 0.05; done
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 130 ] || fail "Ctrl-C on simulate: exit $rc, expected 130 ($(cat "$work/sim_cut.err"))"
left=$(find "$work/sim_cut" -name '*.homeostat-tmp.*' -o -name '*.tmp.*')
[ -z "$left" ] || fail "temporary files left after Ctrl-C: $left"
grep -q '"status": "interrupted"' "$work/sim_cut/metadata.json" || fail "metadata.json does not say interrupted"
[ ! -e "$work/sim_cut/.homeostat.lock" ] || fail "lock left behind"

echo "== gradient refuses to overwrite its output unless asked"
cp "$work/grads.npz" "$work/grads_keep.npz"
set +e
"$bin" gradient "${small[@]}" -o "$work/grads.npz" 2> "$work/err7"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "exists; choose another -o or pass --overwrite" "$work/err7" ||
  fail "gradient overwrote an existing output: rc $rc, $(cat "$work/err7")"
cmp -s "$work/grads.npz" "$work/grads_keep.npz" || fail "a refused gradient changed the existing file"
"$bin" gradient "${small[@]}" --set simulation.chunk_size=100 --overwrite -o "$work/grads.npz" > /dev/null
cmp -s "$work/grads.npz" "$work/grads_keep.npz" && fail "--overwrite did not replace the output"

echo "== Ctrl-C on gradient: exit 130 at the next BPTT segment, nothing written"
# 5e6 steps: minutes of work uninterrupted; Ctrl-C must not wait for them.
"$bin" gradient "${small[@]}" --set simulation.chunk_size=5000000 --trials 2 -o "$work/g_cut.npz" \
  > "$work/g_cut.log" 2> "$work/g_cut.err" &
pid=$!
for _ in $(seq 400); do grep -q "rate loss" "$work/g_cut.log" && break; sleep 0.05; done
sleep 0.5
kill -INT $pid
for _ in $(seq 600); do kill -0 $pid 2> /dev/null || break; sleep 0.1; done
if kill -0 $pid 2> /dev/null; then kill -9 $pid; fail "Ctrl-C on gradient: still running 60 s later"; fi
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 130 ] || fail "Ctrl-C on gradient: exit $rc, expected 130 ($(cat "$work/g_cut.err"))"
grep -q "Interrupted: no gradient computed, $work/g_cut.npz not written" "$work/g_cut.err" ||
  fail "Ctrl-C on gradient: $(cat "$work/g_cut.err")"
left=$(find "$work" -maxdepth 1 -name '*g_cut.npz*')
[ -z "$left" ] || fail "Ctrl-C on gradient left: $left"

echo "== --overwrite empties an old run, refuses a directory that is not one; a recording too large is refused"
mkdir -p "$work/run/weights" && echo old > "$work/run/weights/recurrent_epoch_9999.npy"
"$bin" simulate "${small[@]}" --no-figures --overwrite -o "$work/run" > /dev/null
[ ! -e "$work/run/weights" ] || fail "--overwrite kept a file of the old run"
mkdir -p "$work/notarun" && echo precious > "$work/notarun/notes.txt"
set +e
"$bin" simulate "${small[@]}" --overwrite -o "$work/notarun" 2> "$work/err5"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "notes.txt" "$work/err5" || fail "--overwrite on a foreign directory: $(cat "$work/err5")"
grep -q precious "$work/notarun/notes.txt" || fail "--overwrite touched a foreign directory"
set +e
"$bin" simulate "${small[@]}" --set simulation.duration=1e9 -o "$work/huge" 2> "$work/err6"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "output_spikes" "$work/err6" && grep -q -- "--force" "$work/err6" ||
  fail "a recording of terabytes was not refused: $(cat "$work/err6")"
[ ! -e "$work/huge" ] || fail "output directory created for a refused run"
ln -s "$work/nowhere/run" "$work/dangling"
set +e
"$bin" simulate "${small[@]}" --no-figures -o "$work/dangling" 2> "$work/err8"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "a symbolic link to $work/nowhere/run, which does not exist" "$work/err8" ||
  fail "-o a dangling symbolic link: $(cat "$work/err8")"
[ ! -e "$work/nowhere" ] || fail "-o a dangling symbolic link: its target was created"

echo "cli end-to-end: all checks passed"
