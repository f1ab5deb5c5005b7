#!/usr/bin/env bash
# End-to-end checks of `homeostat sweep` run locally: every point equals the
# same configuration run by hand, byte for byte; --list, --point, --jobs;
# a sweep killed in the middle resumes; a failing point is recorded and does
# not stop the others; an invalid grid is refused with nothing written.
# Usage: test_sweep.sh HOMEOSTAT_BINARY PYTHON3
set -euo pipefail
bin=$1 py=${2:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
work=$(mktemp -d)
pgid=""
cleanup() {
  [ -n "$pgid" ] && kill -KILL -- "-$pgid" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# Points of sweep DIR whose marker says done.
count_done() { cat "$1"/runs/*/sweep_point.json 2> /dev/null | grep -c '"state": "done"' || true; }
write_sweep "$work/sweep.toml"

echo "== --list prints the points and writes nothing"
"$bin" sweep "$work/sweep.toml" --list -o "$work/listed" > "$work/list.txt"
[ ! -e "$work/listed" ] || fail "--list wrote $work/listed"
[ "$(grep -c '^ *[0-7]  [0-7]_rate=' "$work/list.txt")" -eq 8 ] || fail "--list: $(cat "$work/list.txt")"
grep -q '^ *5  5_rate=20_w_mu=v0_seed=2  feedforward.activity.mitral.firing_rate=20.0  recurrent.weights.w_mu=\[\[0.1, 0.05\], \[0.2, 0.19\]\]  simulation.seed=2$' \
  "$work/list.txt" || fail "--list point 5: $(cat "$work/list.txt")"

echo "== an invalid grid is refused before anything runs, naming the point and key"
sed 's/values = \[5.0, 20.0\]/values = [5.0, -1.0]/' "$work/sweep.toml" > "$work/bad.toml"
set +e
"$bin" sweep "$work/bad.toml" -o "$work/bad" > "$work/bad.log" 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "invalid grid: exit code $rc: $(cat "$work/bad.log")"
grep -q "point 4 (4_rate=-1_w_mu=v0_seed=1)" "$work/bad.log" || fail "error does not name the point: $(cat "$work/bad.log")"
grep -q "feedforward.activity.mitral.firing_rate" "$work/bad.log" || fail "error does not name the key: $(cat "$work/bad.log")"
[ ! -e "$work/bad" ] || fail "an invalid grid wrote $work/bad"
printf 'command = "simulate"\n[[axis]]\nkey = "simulation.seed"\nzip = "z"\nvalues = [1, 2]\n[[axis]]\nkey = "simulation.dt"\nzip = "z"\nvalues = [1.0]\n' > "$work/zip.toml"
set +e
"$bin" sweep "$work/zip.toml" -o "$work/zip" > "$work/zip.log" 2>&1; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "zip group 'z'" "$work/zip.log" || fail "unequal zip lengths: $rc $(cat "$work/zip.log")"
[ ! -e "$work/zip" ] || fail "a refused sweep wrote $work/zip"

echo "== the eight configurations by hand"
run_by_hand "$bin" "$work/hand"

echo "== --point runs one point; --jobs 2 runs the rest and skips it"
"$bin" sweep "$work/sweep.toml" -o "$work/local" --point 5 --threads 1 > "$work/point.log"
[ "$(ls "$work/local/runs")" = "5_rate=20_w_mu=v0_seed=2" ] || fail "--point 5 ran: $(ls "$work/local/runs")"
grep -q "^5,5_rate=20_w_mu=v0_seed=2,done," "$work/local/sweep_status.csv" || fail "status after --point: $(cat "$work/local/sweep_status.csv")"
[ "$(grep -c ',pending,' "$work/local/sweep_status.csv")" -eq 7 ] || fail "7 points should be pending"
"$bin" sweep "$work/sweep.toml" -o "$work/local" --jobs 2 --threads 2 > "$work/local.log"
grep -q "1 of 8 points already finished" "$work/local.log" || fail "point 5 not skipped: $(cat "$work/local.log")"
[ "$(grep -c ' done in ' "$work/local.log")" -eq 7 ] || fail "expected 7 points run: $(cat "$work/local.log")"
compare_runs "$work/local" "$work/hand"
for f in sweep.toml points.csv sweep_status.csv sweep_summary.csv; do [ -s "$work/local/$f" ] || fail "missing $f"; done
cmp "$work/sweep.toml" "$work/local/sweep.toml" || fail "sweep.toml is not a copy"
for f in sweep_heatmap_rate_w_mu sweep_line_rate sweep_line_w_mu; do
  [ -s "$work/local/figures/$f.png" ] || fail "missing figures/$f.png: $(ls "$work/local/figures")"
done
[ "$(ls "$work/local/figures" | wc -l)" -eq 3 ] || fail "figures: $(ls "$work/local/figures")"
"$py" - "$work/local" "$work/hand" <<'PY'
import csv, sys
d, hand = sys.argv[1], sys.argv[2]
points = list(csv.DictReader(open(f"{d}/points.csv")))
assert [p["index"] for p in points] == [str(i) for i in range(8)], points
assert points[3]["w_mu"] == "[[0.2, 0.05], [0.2, 0.19]]" and points[3]["rate"] == "5.0" and points[3]["seed"] == "2", points[3]
rows = list(csv.DictReader(open(f"{d}/sweep_summary.csv")))
assert len(rows) == 8 and all(r["state"] == "done" for r in rows), rows
for r in rows:
    a = {x["cell_type"]: x for x in csv.DictReader(open(f"{hand}/{r['index']}/analysis/firing_rate_statistics.csv"))}
    v = {x["cell_type"]: x for x in csv.DictReader(open(f"{hand}/{r['index']}/analysis/voltage_statistics.csv"))}
    c = {x["cell_type"]: x for x in csv.DictReader(open(f"{hand}/{r['index']}/analysis/cv_statistics.csv"))}
    for t in ("excitatory", "inhibitory"):
        assert float(r[f"mean_rate_hz/{t}"]) == float(a[t]["mean_rate_hz"]), (r, a[t])
        assert float(r[f"std_rate_hz/{t}"]) == float(a[t]["std_rate_hz"])
        assert float(r[f"fraction_active/{t}"]) == float(a[t]["fraction_active"])
        assert r[f"membrane_ratio/{t}"] != "" and float(r[f"membrane_ratio/{t}"]) == float(v[t]["mean_membrane_ratio"])
        assert (r[f"mean_cv/{t}"] == "nan") == (c[t]["mean_cv"] in ("nan", "")), (r, c[t])
    assert float(r["wall_seconds"]) > 0
# Higher input rate drives the network harder (mean over w_mu and seeds).
mean = lambda rate: sum(float(r["mean_rate_hz/excitatory"]) for r in rows if r["rate"] == rate) / 4
assert mean("20.0") > mean("5.0"), (mean("20.0"), mean("5.0"))
print("summary checks passed")
PY

echo "== --summarize rebuilds the same summary from the runs"
cp "$work/local/sweep_summary.csv" "$work/summary_before.csv"
rm "$work/local/sweep_summary.csv" "$work/local/sweep_status.csv"
"$bin" sweep --summarize "$work/local" > /dev/null
cmp "$work/summary_before.csv" "$work/local/sweep_summary.csv" || fail "--summarize differs"
[ "$(grep -c ',done,' "$work/local/sweep_status.csv")" -eq 8 ] || fail "status after --summarize"

echo "== a different sweep in the same directory is refused"
sed 's/values = \[1, 2\]/values = [1, 3]/' "$work/sweep.toml" > "$work/other.toml"
if "$bin" sweep "$work/other.toml" -o "$work/local" > "$work/other.log" 2>&1; then fail "a different sweep ran in $work/local"; fi
grep -q "holds a different sweep" "$work/other.log" || fail "$(cat "$work/other.log")"

echo "== killed in the middle, then run again: finished points kept, the half-written one redone"
setsid "$bin" sweep "$work/sweep.toml" -o "$work/crash" --jobs 1 --threads 1 > "$work/crash1.log" 2>&1 &
pgid=$!
for _ in $(seq 1 1200); do
  done_count=$(count_done "$work/crash")
  [ "$done_count" -ge 2 ] && [ -n "$(pgrep -P $pgid)" ] && break
  sleep 0.05
done
kill -KILL -- "-$pgid"
wait $pgid 2> /dev/null || true
pgid=""
done_count=$(count_done "$work/crash")
[ "$done_count" -ge 2 ] && [ "$done_count" -lt 8 ] || fail "kill came at the wrong time ($done_count points done)"
half=$(for d in "$work"/crash/runs/*; do [ -e "$d/sweep_point.json" ] || echo "$d"; done | head -n 1)
[ -n "$half" ] || fail "no half-written point after the kill"
echo "stale" > "$half/stale_file"  # must not survive the rerun
"$bin" sweep "$work/sweep.toml" -o "$work/crash" --jobs 2 --threads 2 > "$work/crash2.log"
grep -q "$done_count of 8 points already finished" "$work/crash2.log" || fail "rerun: $(cat "$work/crash2.log")"
compare_runs "$work/crash" "$work/hand"

echo "== a point failing at run time is recorded; the others finish"
# Replayed inputs of 150 steps: the 200 ms point passes validation (the file
# is not part of the config) but fails when it runs.
"$bin" simulate --set recurrent.topology.num_neurons=60 --set recurrent.topology.num_assemblies=2 \
  --set feedforward.topology.num_neurons=20 --set simulation.duration=150.0 --no-figures -o "$work/inputs" > /dev/null
cat > "$work/fails.toml" <<TOML
command = "simulate"
args = ["--no-figures", "--inputs", "$work/inputs/results/input_spikes.npy"]
set = { "recurrent.topology.num_neurons" = 60, "recurrent.topology.num_assemblies" = 2, "feedforward.topology.num_neurons" = 20 }
[[axis]]
key = "simulation.duration"
values = [100.0, 200.0, 150.0]
TOML
set +e
"$bin" sweep "$work/fails.toml" -o "$work/fails" --jobs 2 > "$work/fails.log" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "a failed point should make the exit code 1, got $rc: $(cat "$work/fails.log")"
grep -q '^1,1_duration=200,failed,.*exit code [0-9]*: error: .*150' "$work/fails/sweep_status.csv" \
  || fail "failed point not recorded: $(cat "$work/fails/sweep_status.csv")"
[ "$(grep -c ',done,' "$work/fails/sweep_status.csv")" -eq 2 ] || fail "the other points: $(cat "$work/fails/sweep_status.csv")"
grep -q '^1,1_duration=200,failed,' "$work/fails/sweep_summary.csv" || fail "summary lacks the failed point"
grep -q 'error: .*150' "$work/fails/logs/1_duration=200.log" || fail "the point's log lacks its error"
echo "== a point another live process runs is left alone; a stale lock is taken over"
point=3_rate=5_w_mu=v1_seed=2
mkdir -p "$work/locked/runs/$point"
echo "the other process's file" > "$work/locked/runs/$point/its_file"
sleep 300 &
holder=$!
echo "$holder $(uname -n)" > "$work/locked/runs/$point/.homeostat.lock"
set +e
"$bin" sweep "$work/sweep.toml" -o "$work/locked" --point 3 --threads 1 > "$work/locked.log" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "a locked point: exit $rc: $(cat "$work/locked.log")"
[ -e "$work/locked/runs/$point/its_file" ] || fail "the sweep emptied a point that a live process holds"
grep -q "Point 3 busy .*in use by process $holder" "$work/locked.log" || fail "locked point: $(cat "$work/locked.log")"
grep -q "^3,$point,pending," "$work/locked/sweep_status.csv" || fail "status: $(cat "$work/locked/sweep_status.csv")"
kill $holder; wait $holder 2> /dev/null || true
"$bin" sweep "$work/sweep.toml" -o "$work/locked" --point 3 --threads 1 > "$work/locked.log" 2>&1 ||
  fail "a stale lock was not taken over: $(cat "$work/locked.log")"
[ ! -e "$work/locked/runs/$point/its_file" ] && [ ! -e "$work/locked/runs/$point/.homeostat.lock" ] ||
  fail "the point's old files or lock survived: $(ls -A "$work/locked/runs/$point")"
cmp "$work/hand/3/results/output_spikes.npy" "$work/locked/runs/$point/results/output_spikes.npy" ||
  fail "the point rerun after a stale lock differs from the run by hand"

echo "== feedback points: the summary holds the last metrics row and the final state's analysis"
cat > "$work/feedback.toml" <<TOML
command = "feedback"
set = { "recurrent.topology.num_neurons" = 60, "recurrent.topology.num_assemblies" = 2, "feedforward.topology.num_neurons" = 20, "simulation.duration" = 200.0, "simulation.chunk_size" = 200, "simulation.num_chunks" = 2, "training.batch_size" = 2, "training.log_interval" = 1, "feedback.rule" = "ema" }
[[axis]]
key = "feedback.eta_excitatory"
name = "eta"
values = [0.01, 0.05]
TOML
"$bin" sweep "$work/feedback.toml" -o "$work/feedback" --jobs 2 --threads 2 > "$work/feedback.log" || fail "$(cat "$work/feedback.log")"
"$py" - "$work/feedback" <<'PY'
import csv, glob, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/sweep_summary.csv")))
assert [r["state"] for r in rows] == ["done", "done"], rows
for r in rows:
    run = glob.glob(f"{d}/runs/{r['index']}_*")[0]
    last = list(csv.DictReader(open(f"{run}/training_metrics.csv")))[-1]
    for k in ("chunk", "total_loss", "firing_rate_loss", "cv_loss", "silent_penalty_loss", "membrane_variance_loss", "weight_ratio_loss"):
        assert float(r[k]) == float(last[k]), (k, r[k], last[k])
    fin = {x["cell_type"]: x for x in csv.DictReader(open(f"{run}/final_state/analysis/firing_rate_statistics.csv"))}
    assert float(r["mean_rate_hz/inhibitory"]) == float(fin["inhibitory"]["mean_rate_hz"])
    assert float(r["fraction_active/excitatory"]) == float(fin["excitatory"]["fraction_active"])
# The two etas (of the "ema" rule) scale the weights differently: different final losses.
assert rows[0]["total_loss"] != rows[1]["total_loss"], rows
print("feedback summary checks passed")
PY
echo "sweep tests passed"
