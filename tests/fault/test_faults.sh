#!/usr/bin/env bash
# Fault injection on a tiny training run: what a crash, a full disk or a
# crafted file does to homeostat, and that nothing is lost, mixed or wrongly
# accepted. Each case is counted; the totals are printed at the end (the
# README's Reliability section quotes them).
#   - torn TensorBoard file + stale temporary files at resume: the resume
#     repairs and removes them and ends identical to an uninterrupted run;
#   - kill -9 in each write phase of a run (the moment the phase's first file
#     appears): resume (or restart, when no checkpoint was written yet) ends
#     identical;
#   - a full disk (a small tmpfs, as root only): the same after space returns;
#   - crafted checkpoints (valid checksum, impossible values), input spikes
#     and networks: refused, naming the file, the array and the index;
#   - a run of one time step: its results, with what it cannot compute marked;
#   - the second campaign: a config whose weights float32 cannot hold is
#     refused; plot, gradient and export remove the temporaries a killed run
#     of theirs left; PNGs onto a full disk are an error, never a cut-short
#     file; a read-only disk is refused naming it (plot, gradient, train before work);
#   - the third campaign: a closed stdout (`| grep -m1`) or terminal (SIGHUP)
#     stops training with a checkpoint, which resumes identical; a sweep's
#     training point stopped by SIGTERM continues from its checkpoint when the
#     sweep runs again; --overwrite never replaces a command's own inputs nor
#     a device; bad arguments (threads, NaN, duplicates, usage errors, sweep
#     args, Python's counts and indices) are refused before any work;
#   - after it: a named pipe or a device as an input file is refused, not
#     waited on; a number TOML cannot hold is named as such; --neurons needs
#     --record; a stopped sweep point whose checkpoint was damaged starts over.
# "Identical": every file byte for byte, but TensorBoard (it holds wall times:
# one event file, its scalars compared in the torn case), metadata.json and
# the metrics' wall_seconds column.
# Usage: test_faults.sh HOMEOSTAT_BINARY SOURCE_DIR PYTHON3
set -euo pipefail
bin=$1 src=$2 py=${3:-/usr/bin/python3}
work=$(mktemp -d)
mounted=""
sleeper=""
cleanup() {
  [ -n "$sleeper" ] && kill "$sleeper" 2> /dev/null
  [ -n "$mounted" ] && umount "$mounted" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
craft() { "$py" "$src/tests/fault/craft.py" "$@"; }
tried=0 identical=0 refused=0 restarted=0 kills_mid_write=0 short_ok=0 cleaned=0

tiny=(--set recurrent.topology.num_neurons=60 --set recurrent.topology.num_assemblies=2
      --set feedforward.topology.num_neurons=20 --set simulation.chunk_size=200 --set simulation.num_chunks=4
      --set training.batch_size=2 --set training.log_interval=1 --set training.checkpoint_interval=1
      --set simulation.duration=100)

# Runs the command after WHAT and PATTERN; fails unless it exits with an
# error (not a signal) whose message matches PATTERN (grep -E).
expect_refused() {
  local what=$1 pattern=$2 rc
  shift 2
  tried=$((tried + 1))
  set +e; "$@" > /dev/null 2> "$work/refused.err"; rc=$?; set -e
  [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -qE -- "$pattern" "$work/refused.err" ||
    fail "$what: exit $rc, $(cat "$work/refused.err")"
  refused=$((refused + 1))
}

# signal_after_checkpoint SIGNAL CHECKPOINT LOG COMMAND...: runs COMMAND in
# the background, sends it SIGNAL once CHECKPOINT exists, sets $rc to its exit.
signal_after_checkpoint() {
  local signal=$1 checkpoint=$2 log=$3 pid
  shift 3
  "$@" > "$log" 2>&1 &
  pid=$!
  for _ in $(seq 400); do [ -e "$checkpoint" ] && break; sleep 0.02; done
  kill -"$signal" $pid
  set +e; wait $pid; rc=$?; set -e
}

# A pid that no process has: a child that has exited.
dead_pid() { sh -c 'exit 0' & local p=$!; wait $p; echo $p; }

source "$src/tests/common/same_results.sh"  # same_results
# Fails unless run $2 ends as the uninterrupted run $1 does.
same_run() {
  local a=$1 b=$2 what=$3
  same_results "$a" "$b" "$what"
  [ "$(ls "$b/tensorboard")" != "" ] && [ "$(ls "$b/tensorboard" | wc -l)" -eq 1 ] ||
    fail "$what: tensorboard/ holds $(ls "$b/tensorboard" | wc -l) files"
  identical=$((identical + 1))
}

# Continues an interrupted run $1 to its end: resume from its checkpoint, or
# start over when it had none yet.
finish_run() {
  local dir=$1
  if [ -e "$dir/checkpoints/checkpoint_latest.npz" ]; then
    "$bin" train --resume "$dir/checkpoints/checkpoint_latest.npz" --threads 1 > "$dir.resume.log" 2>&1 ||
      fail "resume of $dir failed: $(tail -5 "$dir.resume.log")"
  else
    restarted=$((restarted + 1))
    "$bin" train "${tiny[@]}" --overwrite -o "$dir" > "$dir.resume.log" 2>&1 ||
      fail "restart of $dir failed: $(tail -5 "$dir.resume.log")"
  fi
}

SECONDS=0
echo "== an uninterrupted run"
"$bin" train "${tiny[@]}" -o "$work/straight" > "$work/straight.log"

echo "   (${SECONDS}s)"
echo "== torn TensorBoard file and stale temporary files at resume"
tried=$((tried + 1))
"$bin" train "${tiny[@]}" --threads 2 -o "$work/cut" > "$work/cut.log" 2>&1 &
pid=$!
for _ in $(seq 400); do [ -e "$work/cut/checkpoints/checkpoint_latest.npz" ] && break; sleep 0.02; done
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
[ $rc -eq 130 ] || fail "SIGINT: exit $rc ($(tail -3 "$work/cut.log"))"
events=$(ls "$work"/cut/tensorboard/events.out.tfevents.*)
# Damage before the end is refused, and the refusal creates nothing.
cp "$events" "$work/events.good"
"$py" -c "import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[200] ^= 0x10; open(p, 'wb').write(b)" "$events"
expect_refused "a damaged event file" "$events: damaged TensorBoard event file" \
  "$bin" train --resume "$work/cut/checkpoints/checkpoint_latest.npz"
[ "$(ls "$work/cut/tensorboard" | wc -l)" -eq 1 ] || fail "a refused resume left an event file behind"
cp "$work/events.good" "$events"
truncate -s -7 "$events"  # the last record torn, as kill -9 or a full disk leaves it
dead=$(dead_pid)
sleep 60 & sleeper=$!
done_chunks=$("$py" -c "import numpy as np, sys; print(int(np.load(sys.argv[1])['chunks_done'][0]))" \
              "$work/cut/checkpoints/checkpoint_latest.npz")
next=$(printf "%s/cut/figures/chunk_%04d" "$work" $((done_chunks + 1)))
mkdir -p "$next"
stale=("$work/cut/checkpoints/.checkpoint_latest.npz.homeostat-tmp.$dead"
       "$work/cut/figures/chunk_0001/.training_losses.png.homeostat-tmp.$dead"
       "$work/cut/figures/chunk_0001/training_rates.tmp.$dead.png"
       "$work/cut/weights/recurrent_epoch_0001.npy.tmp.$dead")
for f in "${stale[@]}"; do head -c 100 "$work/straight/initial_state/figures/output_raster.png" > "$f"; done
# A live writer's temporary (another process's), in the directory the next
# figures go to: neither removed nor logged as a figure.
live="$next/training_losses.tmp.$sleeper.png"
head -c 100 "$work/straight/initial_state/figures/output_raster.png" > "$live"
"$bin" train --resume "$work/cut/checkpoints/checkpoint_latest.npz" --threads 1 > "$work/cut.resume.log" 2>&1 ||
  fail "resume after a torn event file: $(tail -5 "$work/cut.resume.log")"
grep -q "warning: $events: torn end" "$work/cut.resume.log" || fail "no warning about the torn event file"
for f in "${stale[@]}"; do
  [ ! -e "$f" ] || fail "stale temporary file not removed: $f"
  grep -q "removed $f, left half-written" "$work/cut.resume.log" || fail "removal of $f not reported"
done
[ -e "$live" ] || fail "a live process's temporary file was removed"
"$py" "$src/tests/cli/read_tensorboard.py" "$src/io/proto" "$work/cut/tensorboard" "$work" > "$work/tb.json"
"$py" - "$work/tb.json" <<'PY' || fail "TensorBoard after the repaired resume"
import json, sys
tb = json.load(open(sys.argv[1]))
assert tb["files"] == 1 and tb["versions"] == 1, tb["files"]
assert sorted(int(s) for s in tb["scalars"]["total_loss"]) == list(range(1, 5)), tb["scalars"]["total_loss"]
assert not [t for t in tb["images"] if "tmp" in t], [t for t in tb["images"] if "tmp" in t]
PY
kill $sleeper; wait $sleeper 2> /dev/null || true; sleeper=""
rm "$live"
same_run "$work/straight" "$work/cut" "torn events + stale temps"

echo "   (${SECONDS}s)"
echo "== kill -9 in each phase of a run, the moment its first file appears"
for phase in initial_state/results initial_state/figures tensorboard figures/chunk_0002 \
             weights/recurrent_epoch_0003.npy final_state/figures; do
  tried=$((tried + 1))
  dir="$work/kill_${phase//\//_}"
  "$bin" train "${tiny[@]}" -o "$dir" > "$dir.log" 2>&1 &
  pid=$!
  for _ in $(seq 3000); do [ -e "$dir/$phase" ] && break; sleep 0.005; done
  kill -9 $pid 2> /dev/null || true
  wait $pid 2> /dev/null || true
  [ "$(find "$dir" -name '*homeostat-tmp*' | wc -l)" -gt 0 ] && kills_mid_write=$((kills_mid_write + 1))
  finish_run "$dir"
  [ "$(find "$dir" -name '*homeostat-tmp*' | wc -l)" -eq 0 ] || fail "kill -9 at $phase: temporary files remain"
  same_run "$work/straight" "$dir" "kill -9 at $phase"
done
echo "   (${SECONDS}s)"
echo "== a full disk (a small tmpfs): the run stops with an error; given space, it continues"
mkdir -p "$work/tmpfs"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=64k tmpfs "$work/tmpfs" 2> /dev/null; then
  umount "$work/tmpfs"
  for size in 700k 2000k 3200k; do
    tried=$((tried + 1))
    mount -t tmpfs -o size=$size tmpfs "$work/tmpfs"
    mounted="$work/tmpfs"
    set +e; "$bin" train "${tiny[@]}" -o "$mounted/run" > "$work/full.log" 2>&1; rc=$?; set -e
    [ $rc -ne 0 ] && grep -q "No space left on device\|write failed\|the PNG was cut short" "$work/full.log" ||
      fail "full disk ($size): exit $rc, $(tail -3 "$work/full.log")"
    # More space: the run's directory moved to a roomier disk (a run finds
    # its files from the checkpoint's path).
    cp -a "$mounted/run" "$work/full_$size"
    umount "$mounted"; mounted=""
    finish_run "$work/full_$size"
    same_run "$work/straight" "$work/full_$size" "full disk at $size"
  done
else
  echo "   (skipped: needs root and tmpfs)"
fi

echo "   (${SECONDS}s)"
echo "== crafted checkpoints: valid checksum, impossible values"
ck="$work/straight/checkpoints/checkpoint_latest.npz"
while read -r array index value; do
  out="$work/straight/checkpoints/crafted_$array.npz"
  craft checkpoint "$ck" "$out" "$array" "$index" "$value"
  expect_refused "crafted $array" "$out: not a usable checkpoint: array '$array' holds" "$bin" train --resume "$out"
  rm "$out"
done <<'EOF'
chunks_done 0 5
parameters 3 nan
state_v 61 inf
state_refractory 5 -1
state_last_spike 0 800
best_chunk 0 5
adam_step 0 5
EOF

echo "   (${SECONDS}s)"
echo "== input spikes and networks that are not what they claim"
net="$work/straight/initial_state/network_structure.npz"
for kind in two half zero_trials; do
  craft inputs "$work/in_$kind.npy" "$kind" 20
  expect_refused "inputs $kind" "$work/in_$kind.npy: input spikes" \
    "$bin" simulate "${tiny[@]}" --inputs "$work/in_$kind.npy" -o "$work/sim_$kind"
  [ ! -e "$work/sim_$kind" ] || fail "inputs $kind: a refused run left its output directory"
  [ "$kind" != half ] || grep -q "element \[0, 4, 5\] is 0.5" "$work/refused.err" || fail "the bad element unnamed"
done
for kind in zero_trials zero_steps; do
  craft inputs "$work/in_$kind.npy" "$kind" 20
  expect_refused "gradient --inputs $kind" "$work/in_$kind.npy" \
    "$bin" gradient "${tiny[@]}" --inputs "$work/in_$kind.npy" -o "$work/g.npz"
  [ ! -e "$work/g.npz" ] || fail "gradient --inputs $kind wrote its output"
done
edge=$(craft network "$net" "$work/net_absent.npz" absent_edge)
expect_refused "a weight on an absent edge" "$work/net_absent.npz: recurrent_weights\[${edge/ /, }\] = 0.5 where" \
  "$bin" simulate "${tiny[@]}" --network "$work/net_absent.npz" -o "$work/sim_n"
craft network "$net" "$work/net_types.npz" cell_types
expect_refused "cell types against the proportions" "$work/net_types.npz: network does not match the config: cell_type has" \
  "$bin" simulate "${tiny[@]}" --network "$work/net_types.npz" -o "$work/sim_n"
craft bomb "$work/bomb.npz" 60
expect_refused "a zip bomb" "$work/bomb.npz:recurrent_weights: entry declares 1073741952 bytes" \
  "$bin" simulate "${tiny[@]}" --network "$work/bomb.npz" -o "$work/sim_n"

echo "   (${SECONDS}s)"
echo "== runs of one time step"
for dt in 1.0 0.1; do
  tried=$((tried + 1))
  "$bin" simulate "${tiny[@]}" --set simulation.dt=$dt --set simulation.duration=$dt -o "$work/one_$dt" \
    > "$work/one.log" 2>&1 || fail "a one-step run (dt $dt) failed: $(tail -5 "$work/one.log")"
  ! grep -q "PLPLOT WARNING" "$work/one.log" || fail "one-step run: PLplot warnings"
  "$py" - "$work/one_$dt" <<'PY' || fail "one-step run (dt $dt): results"
import csv, sys
import numpy as np
d = sys.argv[1]
assert np.load(f"{d}/results/output_spikes.npy").shape == (1, 1, 60)
fano = list(csv.DictReader(open(f"{d}/analysis/fano_factor.csv")))
assert fano and all(r["n"] == "0" and r["mean_fano"] == "nan" for r in fano), fano
rates = list(csv.DictReader(open(f"{d}/analysis/firing_rate_statistics.csv")))
assert [r["cell_type"] for r in rates] == ["excitatory", "inhibitory"], rates
PY
  short_ok=$((short_ok + 1))
done

echo "   (${SECONDS}s)"
echo "== the second campaign: weights float32 cannot hold, what killed plot/gradient/export left, figures on a bad disk"
expect_refused "w_mu beyond float32" "recurrent.weights.w_mu: \[0\]\[0\] = 1e\+300 .* float32" \
  "$bin" simulate "${tiny[@]}" --set "recurrent.weights.w_mu=[[1e300, 0.05], [0.2, 0.19]]" -o "$work/w_big"
[ ! -e "$work/w_big" ] || fail "a refused config left its output directory"
# Temporaries of killed single-file writers (their pid gone) are removed by the next run of the command.
dead=$(dead_pid)
ck="$work/straight/checkpoints/checkpoint_latest.npz"
for cmd in plot gradient export; do
  tried=$((tried + 1))
  case $cmd in
    plot) left="$work/straight/figures/.training_losses.png.homeostat-tmp.$dead"; args=(plot "$work/straight") ;;
    gradient) left="$work/.g2.npz.homeostat-tmp.$dead"; args=(gradient "${tiny[@]}" -o "$work/g2.npz") ;;
    export) left="$work/.ex.npz.homeostat-tmp.$dead"; args=(export "$ck" -o "$work/ex.npz") ;;
  esac
  head -c 100 "$ck" > "$left"
  "$bin" "${args[@]}" > "$work/$cmd.log" 2>&1 || fail "$cmd after a killed one: $(tail -3 "$work/$cmd.log")"
  [ ! -e "$left" ] && grep -q "removed $left, left half-written" "$work/$cmd.log" ||
    fail "$cmd did not remove (or report) $left: $(tail -3 "$work/$cmd.log")"
  cleaned=$((cleaned + 1))
done
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=100k tmpfs "$work/tmpfs" 2> /dev/null; then
  mounted="$work/tmpfs"
  # A full disk while PNGs are written: an error, and no cut-short PNG under a real name.
  expect_refused "plot onto a full disk" "the PNG was cut short" "$bin" plot "$work/straight" -o "$mounted/p"
  for f in "$mounted"/p/*.png; do
    [ -e "$f" ] || continue
    "$py" -c "import sys; b = open(sys.argv[1], 'rb').read(); sys.exit(b[-8:] != b'IEND\xaeB\x60\x82')" "$f" ||
      fail "plot on a full disk left a cut-short $f"
  done
  umount "$mounted"
  # A read-only disk: the figures of a run there, a gradient into it.
  mount -t tmpfs -o size=4m tmpfs "$mounted"
  cp -a "$work/one_1.0" "$mounted/run"
  mount -o remount,ro "$mounted"
  expect_refused "plot of a run on a read-only disk" "cannot create $mounted/run/figures/.*Read-only file system" \
    "$bin" plot "$mounted/run"
  ! grep -q "PLPLOT" "$work/refused.err" || fail "PLplot's own exit: $(cat "$work/refused.err")"
  expect_refused "gradient into a read-only directory" "$mounted/g.npz: cannot write into $mounted: Read-only" \
    "$bin" gradient "${tiny[@]}" -o "$mounted/g.npz"
  # A run into it: the place named for what it is (was "0 kB free"), before any work.
  expect_refused "train into a read-only disk" \
    "$mounted/new/run: $mounted, where it would be created, is on a read-only filesystem" \
    "$bin" train "${tiny[@]}" -o "$mounted/new/run"
  umount "$mounted"; mounted=""
else
  echo "   (full and read-only disks skipped: need root and tmpfs)"
fi

echo "   (${SECONDS}s)"
echo "== the third campaign: a closed stdout or terminal, a stopped sweep point, outputs over inputs, bad arguments"
# A reader that goes away (| head) or a terminal that closes (SIGHUP) stops
# training at its next chunk with a checkpoint, as Ctrl-C does; it resumes
# to the uninterrupted bits.
tried=$((tried + 1))
set +e; "$bin" train "${tiny[@]}" -o "$work/pipe" 2> "$work/pipe.err" | grep -m1 -q "^Chunk 1/"; rc=${PIPESTATUS[0]}; set -e
[ $rc -eq 130 ] && [ -e "$work/pipe/checkpoints/checkpoint_latest.npz" ] && [ ! -e "$work/pipe/.homeostat.lock" ] ||
  fail "train | grep -m1: exit $rc, $(ls -A "$work/pipe" | tr '\n' ' ') $(tail -2 "$work/pipe.err")"
finish_run "$work/pipe"
same_run "$work/straight" "$work/pipe" "train | grep -m1, then resumed"
tried=$((tried + 1))
signal_after_checkpoint HUP "$work/hup/checkpoints/checkpoint_latest.npz" "$work/hup.log" \
  "$bin" train "${tiny[@]}" -o "$work/hup"
[ $rc -eq 130 ] && [ ! -e "$work/hup/.homeostat.lock" ] || fail "SIGHUP: exit $rc, $(tail -3 "$work/hup.log")"
finish_run "$work/hup"
same_run "$work/straight" "$work/hup" "SIGHUP, then resumed"
# A sweep of training points stopped (SIGTERM, as a Slurm time limit sends)
# and run again continues its points from their checkpoints.
tried=$((tried + 1))
{
  echo 'command = "train"'
  printf 'set = { '
  for ((i = 1; i < ${#tiny[@]}; i += 2)); do
    [ $i -gt 1 ] && printf ', '
    printf '"%s" = %s' "${tiny[i]%%=*}" "${tiny[i]#*=}"
  done
  printf ' }\n[[axis]]\nkey = "simulation.seed"\nvalues = [42]\n'
} > "$work/sweep_train.toml"
signal_after_checkpoint TERM "$work/sw/runs/0_seed=42/checkpoints/checkpoint_latest.npz" "$work/sw.log" \
  "$bin" sweep "$work/sweep_train.toml" -o "$work/sw"
[ $rc -eq 130 ] && [ -e "$work/sw/runs/0_seed=42/checkpoints/checkpoint_latest.npz" ] ||
  fail "SIGTERM to a sweep: exit $rc, $(tail -3 "$work/sw.log")"
"$bin" sweep "$work/sweep_train.toml" -o "$work/sw" > "$work/sw2.log" 2>&1 || fail "sweep rerun: $(tail -3 "$work/sw2.log")"
grep -q "resumed from .*checkpoint_latest.npz" "$work/sw/logs/0_seed=42.log" ||
  fail "the stopped sweep point started over: $(head -3 "$work/sw/logs/0_seed=42.log")"
cp -a "$work/sw/runs/0_seed=42" "$work/sw_point" && rm "$work/sw_point/sweep_point.json"
same_run "$work/straight" "$work/sw_point" "a stopped sweep point, run again"
# --overwrite never replaces what the command reads.
ck="$work/straight/checkpoints/checkpoint_latest.npz"
inputs="$work/straight/initial_state/results/input_spikes.npy"
sums=$(md5sum "$work/straight/checkpoints/"*.npz "$net" "$inputs")
expect_refused "export onto its checkpoint" "is the checkpoint .* never replaces an input" \
  "$bin" export "$ck" -o "$ck" --overwrite
expect_refused "export of best onto latest" "is the run's checkpoint" \
  "$bin" export "$work/straight/checkpoints/checkpoint_best.npz" -o "$ck" --overwrite
expect_refused "gradient onto its --network" "is the --network file" \
  "$bin" gradient "${tiny[@]}" --network "$net" -o "$net" --overwrite
ln -s "$inputs" "$work/in_link.npy"
expect_refused "gradient onto its --inputs (through a link)" "is the --inputs file" \
  "$bin" gradient "${tiny[@]}" --inputs "$inputs" -o "$work/in_link.npy" --overwrite
[ "$(md5sum "$work/straight/checkpoints/"*.npz "$net" "$inputs")" = "$sums" ] || fail "an input was changed"
# A device as the output (as root, renaming over /dev/null would replace it).
if [ "$(id -u)" -eq 0 ] && mknod "$work/null" c 1 3 2> /dev/null; then
  expect_refused "gradient -o a device" "null: exists and is not a regular file" \
    "$bin" gradient "${tiny[@]}" -o "$work/null" --overwrite
  expect_refused "Python Config.save onto a device" "null: not a regular file" env PYTHONPATH="$(dirname "$bin")/python" \
    "$py" -c "import homeostat as hs, sys; hs.Config.defaults().save(sys.argv[1])" "$work/null"
  [ -c "$work/null" ] || fail "a device was replaced by a file"
fi
# Arguments: refused before any work, exit 2 for the command line, naming the option.
expect_refused "--threads beyond what a node can start" "^--threads: '100000' is not a whole number from 0 to 1024" \
  "$bin" gradient "${tiny[@]}" --threads 100000 -o "$work/g3.npz"
expect_refused "--sparse-cutoff nan" "^--sparse-cutoff: 'nan' is not a finite number" \
  "$bin" gradient "${tiny[@]}" --sparse-cutoff nan -o "$work/g3.npz"
expect_refused "a loss asked for twice" "loss 'cv' asked for twice" \
  "$bin" gradient "${tiny[@]}" --losses cv,cv -o "$work/g3.npz"
[ ! -e "$work/g3.npz" ] || fail "a refused gradient wrote its output"
expect_refused "an empty -o" "^error: -o: an empty path" "$bin" export "$ck" -o ""
expect_refused "--resume with --network" "no --network" "$bin" train --resume "$ck" --network "$net"
expect_refused "--resume with --overwrite" "no --overwrite" "$bin" train --resume "$ck" --overwrite
expect_refused "plot --chunk beyond the run" "--chunk 99: .* has metrics up to chunk 4 only" \
  "$bin" plot "$work/straight" --chunk 99
[ ! -e "$work/straight/figures/chunk_0099" ] || fail "plot --chunk 99 wrote figures"
expect_refused "a Slurm option with a line break" "^--slurm-option: holds a line break" \
  "$bin" sweep "$work/sweep_train.toml" -o "$work/sw" --slurm --slurm-option=$'--time=1\nrm -rf ~'
printf 'command = "simulate"\nargs = ["--trials", "0"]\n[[axis]]\nkey = "simulation.seed"\nvalues = [1, 2]\n' \
  > "$work/sweep_args.toml"
expect_refused "sweep args that the command refuses" "args: not options of .homeostat simulate.: --trials" \
  "$bin" sweep "$work/sweep_args.toml" -o "$work/sw_args"
[ ! -e "$work/sw_args" ] || fail "a sweep refused for its args wrote its directory"
for usage in "simulate --bogus" "simulate" "export"; do
  tried=$((tried + 1))
  set +e; "$bin" $usage > /dev/null 2>&1; rc=$?; set -e
  [ $rc -eq 2 ] || fail "usage error '$usage': exit $rc, not 2"
  refused=$((refused + 1))
done
# Python: what the command line refuses, refused naming the argument (never
# rounded, read as the default, or ending the interpreter).
tried=$((tried + 1))
PYTHONPATH="$(dirname "$bin")/python" "$py" - "$net" <<'PY' || fail "Python arguments"
import sys
import numpy as np
import homeostat as hs
net = hs.Network.load(sys.argv[1])
bad = {
    "trials=0": lambda: hs.simulate(network=net, trials=0),
    "trials=1.5": lambda: hs.simulate(network=net, trials=1.5),
    "steps=-1": lambda: hs.simulate(network=net, steps=-1),
    "threads=10**6": lambda: hs.gradient(network=net, threads=10**6),
    "threads=-1": lambda: hs.simulate(network=net, threads=-1),
    "neurons (a mask)": lambda: hs.simulate(network=net, record="voltages", neurons=np.ones(60, bool)),
    "neurons=[0.5]": lambda: hs.simulate(network=net, record="voltages", neurons=[0.5]),
    "record=[None]": lambda: hs.simulate(network=net, record=[None]),
    "checkpoint_every=-1": lambda: hs.gradient(network=net, checkpoint_every=-1),
    "sparse_cutoff=nan": lambda: hs.gradient(network=net, sparse_cutoff=float("nan")),
    "losses twice": lambda: hs.gradient(network=net, losses="cv,cv"),
    "network with resume": lambda: hs.train(resume=sys.argv[1].rsplit("/", 2)[0], network=net),
}
for what, call in bad.items():
    try:
        call()
    except (TypeError, ValueError) as e:
        name = what.split("=")[0].split(" ")[0]
        assert name in str(e) or (name == "losses" and "twice" in str(e)), (what, e)
    else:
        raise AssertionError(f"{what} accepted")
PY
refused=$((refused + 1))

echo "== after the third campaign: pipes and devices as inputs, numbers TOML cannot hold, a damaged sweep checkpoint"
# A named pipe nobody writes to, or a device, given as a file to read: refused, never a wait.
mkfifo "$work/fifo"
expect_refused "a named pipe as the configuration" "fifo: it is a named pipe and nothing was written to it" \
  timeout 20 "$bin" simulate "$work/fifo" -o "$work/fifo_run"
expect_refused "a device as the configuration" "/dev/zero: it is a character device, not a file" \
  timeout 20 "$bin" simulate /dev/zero -o "$work/fifo_run"
expect_refused "a named pipe as --network" "fifo: it is a named pipe, not a file" \
  timeout 20 "$bin" simulate "${tiny[@]}" --network "$work/fifo" -o "$work/fifo_run"
[ ! -e "$work/fifo_run" ] || fail "a refused input left a run directory"
expect_refused "--set of an integer beyond 64 bits" "seed: '100000000000000000000000' is not a valid TOML value: .*64 bits" \
  "$bin" simulate --set simulation.seed=100000000000000000000000 -o "$work/fifo_run"
expect_refused "--neurons without --record" "^--neurons requires --record" \
  "$bin" simulate "${tiny[@]}" --neurons 0:3 -o "$work/fifo_run"
expect_refused "Python neurons= without record=" "neurons: chooses whose record= quantities" env \
  PYTHONPATH="$(dirname "$bin")/python" "$py" -c "import homeostat as hs, sys; hs.simulate(network=hs.Network.load(sys.argv[1]), neurons=[0])" "$net"
# A stopped sweep point whose checkpoint was then damaged on disk starts over
# when the sweep runs again (it would otherwise fail on every run).
tried=$((tried + 1))
signal_after_checkpoint TERM "$work/swd/runs/0_seed=42/checkpoints/checkpoint_latest.npz" "$work/swd.log" \
  "$bin" sweep "$work/sweep_train.toml" -o "$work/swd"
point="$work/swd/runs/0_seed=42"
[ $rc -eq 130 ] && [ -e "$point/checkpoints/checkpoint_latest.npz" ] || fail "SIGTERM to a sweep: exit $rc"
truncate -s 100 "$point/checkpoints/checkpoint_latest.npz"
"$bin" sweep "$work/sweep_train.toml" -o "$work/swd" > "$work/swd2.log" 2>&1 ||
  fail "a sweep point with a damaged checkpoint: $(tail -3 "$work/swd2.log")"
grep -q "resumed from" "$work/swd/logs/0_seed=42.log" && fail "resumed from a damaged checkpoint"
cp -a "$point" "$work/swd_point" && rm "$work/swd_point/sweep_point.json"
same_run "$work/straight" "$work/swd_point" "a sweep point whose checkpoint was damaged, run again"

echo "   (${SECONDS}s)"
echo "Reliability: $tried cases tried: $identical interrupted runs ended identical to an uninterrupted one"
echo "($restarted of them started over, having no checkpoint yet; $kills_mid_write kill -9s landed during a write),"
echo "$refused bad inputs refused naming the file, $short_ok one-step runs gave their results,"
echo "$cleaned commands removed what a killed run of theirs left."
