#!/usr/bin/env bash
# Commands over finished runs: `homeostat export` (a checkpoint's network as
# network_structure.npz) and `homeostat compare` (runs side by side).
# Usage: test_run_tools.sh HOMEOSTAT_BINARY PYTHON3
set -euo pipefail
bin=$1 py=${2:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
small=(--set recurrent.topology.num_neurons=80 --set recurrent.topology.num_assemblies=2
       --set feedforward.topology.num_neurons=30 --set simulation.duration=500.0 --set simulation.chunk_size=300
       --set training.batch_size=2 --set training.log_interval=2 --set training.checkpoint_interval=2
       --set simulation.num_chunks=4)

echo "== train, then export its checkpoints"
"$bin" train "${small[@]}" -o "$work/run" > "$work/train.log"
"$bin" export "$work/run/checkpoints/checkpoint_latest.npz" -o "$work/latest.npz" > "$work/export.log"
grep -q "4 chunks of \`homeostat train\`" "$work/export.log" || fail "export summary: $(cat "$work/export.log")"
# The last checkpoint is the trained network: the same bytes as final_state's.
cmp "$work/latest.npz" "$work/run/final_state/network_structure.npz" || fail "exported latest != final_state network"
"$bin" export "$work/run/checkpoints/checkpoint_best.npz" -o "$work/best.npz" > /dev/null
"$py" - "$work" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
ck = np.load(f"{d}/run/checkpoints/checkpoint_best.npz")
best = np.load(f"{d}/best.npz")
init = np.load(f"{d}/run/initial_state/network_structure.npz")
pre, post = np.nonzero(init["recurrent_connectivity"])
fpre, fpost = np.nonzero(init["feedforward_connectivity"])
e = len(pre)
p = ck["parameters"]
assert len(p) == e + len(fpre), (len(p), e, len(fpre))
# weights mode: parameters are ln w in CSR order = np.nonzero order
assert np.array_equal(best["recurrent_weights"][pre, post], np.exp(p[:e]).astype(np.float32))
assert np.array_equal(best["feedforward_weights"][fpre, fpost], np.exp(p[e:]).astype(np.float32))
for k in ("recurrent_connectivity", "feedforward_connectivity", "cell_type_indices", "assembly_ids",
          "feedforward_cell_type_indices"):
    assert np.array_equal(best[k], init[k]), k
assert not np.array_equal(best["recurrent_weights"], init["recurrent_weights"]), "training changed nothing?"
PY

echo "== metadata.json ends with the target summary: the final state's numbers, the targets, the console's"
"$py" - "$work/run" "$work/train.log" <<'PY'
import csv, json, math, re, sys
d, log = sys.argv[1], open(sys.argv[2]).read()
meta = json.load(open(f"{d}/metadata.json"))
assert list(meta)[-1] == "target_summary", list(meta)
s = meta["target_summary"]
assert s["rates_from"] == "final_state" and s["membrane_ratio_from_chunk"] == 4, s
rates = {r["cell_type"]: r for r in csv.DictReader(open(f"{d}/final_state/analysis/firing_rate_statistics.csv"))}
cvs = {r["cell_type"]: r for r in csv.DictReader(open(f"{d}/final_state/analysis/cv_statistics.csv"))}
last = list(csv.DictReader(open(f"{d}/training_metrics.csv")))[-1]
toml = open(f"{d}/parameters.toml").read()
def target(key, t):  # targets.<key>.<type> = value
    return float(re.search(rf"^{key}\.{t} = (\S+)$", toml, re.M).group(1))
close = lambda a, b: abs(a - b) <= 1e-6 * max(1.0, abs(b))
assert list(s["types"]) == ["excitatory", "inhibitory"], list(s["types"])
for t, v in s["types"].items():
    assert close(v["rate_hz"], float(rates[t]["mean_rate_hz"])), (t, v, rates[t])
    assert close(v["active_percent"], 100 * float(rates[t]["fraction_active"])), (t, v, rates[t])
    cv = cvs[t]["mean_cv"]
    assert (v["cv"] is None and cv in ("", "nan")) or close(v["cv"], float(cv)), (t, v["cv"], cv)
    assert close(v["membrane_ratio"], float(last[f"membrane_ratio/{t}"])), (t, v, last)
    assert v["target_rate_hz"] == target("firing_rate", t) and v["target_cv"] == target("cv", t), v
    assert v["target_membrane_ratio"] == target("threshold_ratio", t), v
    assert close(v["error_percent"], 100 * (v["rate_hz"] - v["target_rate_hz"]) / v["target_rate_hz"]), v
    # The console's summary line of the type says the same, rounded.
    line = next(l for l in log.splitlines() if l.strip().startswith(t + " ") and "rate" in l)
    shown = re.search(r"rate (\S+) Hz \(target (\S+), (\S+)%\), active (\S+)%", line)
    assert shown, line
    assert math.isclose(float(shown[1]), v["rate_hz"], rel_tol=5e-3, abs_tol=1e-9), (line, v)
    assert math.isclose(float(shown[3]), v["error_percent"], abs_tol=0.051), (line, v)
    assert math.isclose(float(shown[4]), v["active_percent"], abs_tol=0.051), (line, v)
print("target summary checks passed")
PY

echo "== the exported network runs"
"$bin" simulate "${small[@]}" --network "$work/best.npz" --no-figures -o "$work/sim" > /dev/null

echo "== feedback checkpoints export too"
"$bin" feedback "${small[@]}" -o "$work/fb" > /dev/null
"$bin" export "$work/fb/checkpoints/checkpoint_latest.npz" -o "$work/fb.npz" > /dev/null
cmp "$work/fb.npz" "$work/fb/final_state/network_structure.npz" || fail "feedback: exported != final_state network"

echo "== refusals"
if "$bin" export "$work/run/checkpoints/checkpoint_best.npz" -o "$work/best.npz" 2> "$work/err"; then
  fail "an existing output was overwritten"
fi
grep -q "exists" "$work/err" || fail "no reason: $(cat "$work/err")"
mkdir "$work/loose"
cp "$work/run/checkpoints/checkpoint_latest.npz" "$work/loose/"
if "$bin" export "$work/loose/checkpoint_latest.npz" -o "$work/x.npz" 2> "$work/err"; then
  fail "a checkpoint without its run directory was exported"
fi
grep -q "loose/checkpoint_latest.npz: .*parameters.toml not found" "$work/err" || fail "no reason: $(cat "$work/err")"
[ ! -e "$work/x.npz" ] || fail "a refused export wrote its output"
echo "== compare: the table shows each run's end state, the figures draw"
"$bin" compare "$work/run" "$work/fb" -o "$work/cmp" > "$work/cmp.log"
"$py" - "$work" <<'PY'
import csv, sys
d = sys.argv[1]
log = open(f"{d}/cmp.log").read()
lines = log.splitlines()
assert lines[0].split()[:2] == ["run", "method"], lines[0]
assert any(l.split()[:3] == ["run", "train", "4"] for l in lines), log
assert any(l.split()[:3] == ["fb", "feedback", "4"] for l in lines), log
# The rates in the tables are the final states' analysis numbers.
for run in ("run", "fb"):
    rows = {r["cell_type"]: r for r in csv.DictReader(open(f"{d}/{run}/final_state/analysis/firing_rate_statistics.csv"))}
    for t, r in rows.items():
        at = lines.index(next(l for l in lines if l.startswith(f"{t} (target")))
        row = next(l for l in lines[at + 2:] if l.split()[0] == run)
        assert abs(float(row.split()[1]) - float(r["mean_rate_hz"])) <= 5e-3 * max(1.0, float(r["mean_rate_hz"])), (row, r)
for f in ("compare_rates.png", "compare_losses.png"):
    b = open(f"{d}/cmp/{f}", "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n" and len(b) > 5000, f
PY
"$bin" compare "$work/run" "$work/fb" -o "$work/cmp2" > /dev/null
cmp "$work/cmp/compare_rates.png" "$work/cmp2/compare_rates.png" || fail "compare figures not deterministic"
if "$bin" compare "$work/run" "$work/sim" 2> "$work/err"; then fail "a simulate run was compared as a training run"; fi
grep -q "not a training run" "$work/err" || fail "no reason: $(cat "$work/err")"
echo "== compare: the method from metadata.json; a metrics CSV cut inside its header is refused"
# Cut inside the header before grad_norm: once read as a feedback run.
cp -r "$work/run" "$work/cut"
head -c 120 "$work/run/training_metrics.csv" > "$work/cut/training_metrics.csv"
if "$bin" compare "$work/run" "$work/cut" > /dev/null 2> "$work/err"; then fail "a cut metrics header was compared"; fi
grep -q "cut/training_metrics.csv: cut short inside its header: the file ends without an end of line" "$work/err" ||
  fail "no reason: $(cat "$work/err")"
# A stopped run of an earlier version (no metadata.json): its whole header tells.
rm "$work/cut/metadata.json"
cp "$work/run/training_metrics.csv" "$work/cut/"
"$bin" compare "$work/cut" > "$work/cmp3.log"
grep -q "^cut  *train  *4 " "$work/cmp3.log" || fail "method without metadata: $(cat "$work/cmp3.log")"
# metadata.json and the header disagree: refused, naming both.
cp "$work/fb/metadata.json" "$work/cut/"
if "$bin" compare "$work/cut" > /dev/null 2> "$work/err"; then fail "a train CSV was compared as feedback"; fi
grep -q "cut/training_metrics.csv: metadata.json says 'feedback', but the header has no excitatory_scaling/\* column" \
  "$work/err" || fail "no reason: $(cat "$work/err")"
echo "export, compare: all checks passed"
