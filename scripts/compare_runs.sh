#!/usr/bin/env bash
# Builds an older commit of homeostat and checks that the current build
# writes byte-identical outputs for the same runs: the check that a
# restructuring changed no behaviour.
#
# Usage: scripts/compare_runs.sh [--quick] [--new-set KEY=VALUE]... OLD_REV [NEW_BINARY]
#   OLD_REV     any git revision (built once into /tmp/homeostat-compare/<sha>/)
#   NEW_BINARY  default: build/release/homeostat of this checkout (built first)
#   --quick     skip the longer cases (train/feedback on the 0.1 ms network)
#   --new-set   a configuration override given to every run of the new binary
#               only: a default that changed on purpose, set back to the old
#               behaviour (e.g. hyperparameters.rate_loss=plain), so that the
#               comparison sees the rest of the change alone
#
# Compared, file by file (cmp): every output of `simulate` (results/*.npy,
# analysis/*.csv, network_structure.npz, parameters.toml, figures/*.png),
# `gradient` npz files (float and double, every loss term, the sparse
# cutoff, no saturation, odd trial counts, partial checkpoint segments), and
# short `train` and `feedback` runs (checkpoints, weight snapshots,
# initial/final states, figures, parameters.toml, the metrics CSV without
# its wall_seconds column, the TensorBoard scalars and images without wall
# times). metadata.json is left out (times, host, command line). Exits 1 if
# anything differs, naming every file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
new_sets=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; shift ;;
    --new-set) [ $# -ge 2 ] || { echo "compare_runs: --new-set needs KEY=VALUE" >&2; exit 2; }
               new_sets+=(--set "$2"); shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { sed -n '2,/^set -euo/{/^set -euo/d;p}' "$0"; exit 2; }
old_rev=$1
new_bin=${2:-}

sha=$(git -C "$root" rev-parse --verify "$old_rev^{commit}")
base=/tmp/homeostat-compare/$sha
if [ ! -x "$base/build/homeostat" ]; then
  echo "compare_runs: building $old_rev ($sha) in $base" >&2
  rm -rf "$base/src"
  mkdir -p "$base/src"
  git -C "$root" archive "$sha" | tar -x -C "$base/src"
  cmake -S "$base/src" -B "$base/build" -DCMAKE_BUILD_TYPE=Release -DHOMEOSTAT_BUILD_TESTS=OFF > /dev/null
  cmake --build "$base/build" -j "$(nproc)" --target homeostat >&2
fi
old_bin=$base/build/homeostat
if [ -z "$new_bin" ]; then
  cmake --build "$root/build/release" -j "$(nproc)" --target homeostat >&2
  new_bin=$root/build/release/homeostat
fi

work=$(mktemp -d /tmp/homeostat-compare-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
differ=0
py=/usr/bin/python3

# Runs "$@" with both binaries into $work/{old,new}/NAME (the output path is
# the placeholder OUT in the arguments).
run_both() {
  local name=$1; shift
  for side in old new; do
    local bin=$old_bin
    [ "$side" = new ] && bin=$new_bin
    local out=$work/$side/$name
    mkdir -p "$(dirname "$out")"
    local args=()
    for a in "$@"; do args+=("${a//OUT/$out}"); done
    [ "$side" = new ] && args+=("${new_sets[@]}")
    if ! "$bin" "${args[@]}" > "$work/$side/$name.log" 2>&1; then
      echo "compare_runs: $side binary failed on $name:" >&2
      tail -5 "$work/$side/$name.log" >&2
      exit 1
    fi
  done
}

# Every file of the two outputs NAME, byte for byte (with the exceptions above).
compare() {
  local name=$1 a=$work/old/$1 b=$work/new/$1
  local files
  if [ -d "$a" ]; then
    files=$( (cd "$a" && find . -type f; cd "$b" && find . -type f) | sort -u)
  else
    files=.
  fi
  local n=0
  while IFS= read -r f; do
    local fa=$a/$f fb=$b/$f
    [ "$f" = . ] && { fa=$a; fb=$b; }
    case "$f" in
      */metadata.json) continue ;;
      */tensorboard/*) continue ;;  # compared below, without wall times
    esac
    n=$((n + 1))
    if [ ! -f "$fa" ] || [ ! -f "$fb" ]; then
      echo "DIFFER $name/$f: only in $([ -f "$fa" ] && echo old || echo new)"; differ=1; continue
    fi
    case "$f" in
      *training_metrics.csv)
        "$py" - "$fa" "$fb" <<'PY' || { echo "DIFFER $name/$f (besides wall_seconds)"; differ=1; }
import csv, sys
def rows(p):
    r = list(csv.reader(open(p)))
    k = r[0].index("wall_seconds")
    return [row[:k] + row[k + 1:] for row in r]
sys.exit(0 if rows(sys.argv[1]) == rows(sys.argv[2]) else 1)
PY
        ;;
      *) cmp -s "$fa" "$fb" || { echo "DIFFER $name/$f"; differ=1; } ;;
    esac
  done <<< "$files"
  if [ -d "$a/tensorboard" ]; then
    n=$((n + 1))
    "$py" - "$root" "$a/tensorboard" "$b/tensorboard" "$work" <<'PY' ||
import json, subprocess, sys
root, a, b, work = sys.argv[1:]
def events(d):
    out = subprocess.run([sys.executable, f"{root}/tests/cli/read_tensorboard.py", f"{root}/io/proto", d, work],
                         check=True, capture_output=True, text=True).stdout
    e = json.loads(out)
    e["scalars"].pop("wall_seconds", None)  # the run's wall time
    return e
sys.exit(0 if events(a) == events(b) else 1)
PY
      { echo "DIFFER $name/tensorboard (scalars or images)"; differ=1; }
  fi
  echo "compared $name: $n files"
}

tiny=(--set recurrent.topology.num_neurons=120 --set recurrent.topology.num_assemblies=4
      --set feedforward.topology.num_neurons=40)
fine=(--set simulation.dt=0.1 --set simulation.chunk_size=1000)

echo "== simulate"
run_both sim_default simulate --trials 2 -o OUT
compare sim_default
run_both sim_fine simulate "${tiny[@]}" "${fine[@]}" --set simulation.duration=500.0 --trials 3 \
  --record voltages,conductances,currents --neurons 0:7,100 -o OUT
compare sim_fine
run_both sim_nosat simulate "${tiny[@]}" --set simulation.saturate=false --set simulation.duration=2000.0 --no-figures -o OUT
compare sim_nosat

echo "== gradient"
run_both grad_default.npz gradient -o OUT
compare grad_default.npz
run_both grad_terms.npz gradient "${tiny[@]}" --set simulation.chunk_size=300 --trials 5 \
  --losses firing_rate,cv,silent_penalty,membrane_variance,weight_ratio -o OUT
compare grad_terms.npz
run_both grad_double.npz gradient "${tiny[@]}" "${fine[@]}" --double --trials 16 \
  --losses firing_rate,cv,silent_penalty,membrane_variance,weight_ratio -o OUT
compare grad_double.npz
run_both grad_odd.npz gradient --set recurrent.topology.num_neurons=1013 --set simulation.chunk_size=397 \
  --trials 3 --checkpoint-every 50 -o OUT
compare grad_odd.npz
run_both grad_sparse.npz gradient "${tiny[@]}" --set simulation.chunk_size=500 --trials 32 --sparse-cutoff 1e-3 -o OUT
compare grad_sparse.npz
run_both grad_nosat.npz gradient "${tiny[@]}" --set simulation.saturate=false --set simulation.chunk_size=500 -o OUT
compare grad_nosat.npz
run_both grad_factors.npz gradient "${tiny[@]}" --set training.optimisable=scaling_factors \
  --set simulation.chunk_size=500 --losses weight_ratio,firing_rate -o OUT
compare grad_factors.npz

echo "== train, feedback"
short=(--set simulation.duration=2000.0 --set training.log_interval=2 --set training.checkpoint_interval=2)
run_both train_default train "${short[@]}" --set simulation.num_chunks=3 -o OUT
compare train_default
run_both train_factors train "${tiny[@]}" "${short[@]}" --set simulation.num_chunks=4 \
  --set training.optimisable=scaling_factors --set training.chunks_per_update=2 -o OUT
compare train_factors
run_both feedback_default feedback "${short[@]}" --set simulation.num_chunks=6 -o OUT
compare feedback_default
if [ $quick -eq 0 ]; then
  run_both train_fine train "${tiny[@]}" "${fine[@]}" "${short[@]}" --set simulation.num_chunks=3 \
    --set training.batch_size=5 -o OUT
  compare train_fine
  run_both feedback_fine feedback "${tiny[@]}" "${fine[@]}" "${short[@]}" --set simulation.num_chunks=4 \
    --set feedback.granularity=cell_type -o OUT
  compare feedback_fine
fi

if [ $differ -ne 0 ]; then
  echo "compare_runs: outputs of $old_rev and the new binary DIFFER (see above)"
  exit 1
fi
echo "compare_runs: every output of $old_rev and the new binary is byte-identical"
