#!/usr/bin/env bash
# `mpirun -np R homeostat train|feedback|gradient|simulate`: the ranks share
# the batch's trials and every output equals the single-process run's, byte
# for byte (but metadata.json, TensorBoard's wall times and the metrics'
# wall_seconds column), for R = 2 and 3; a run stopped by SIGUSR1 to mpirun
# at R = 3 resumes at R = 2 to the same bits; SIGINT to mpirun stops every
# rank at one chunk with one checkpoint, and during gradient ends every rank
# with nothing written; an error on one rank ends the job;
# more ranks than atoms of trials (the gradient's unit) are refused.
# Usage: test_mpi_runs.sh HOMEOSTAT_BINARY MPIRUN PYTHON3
set -euo pipefail
bin=$1 mpirun=${2:-mpirun} py=${3:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../sweep/common.sh"  # fail
source "$here/../common/same_results.sh"  # same_results
work=$(mktemp -d)
job=""
cleanup() {
  [ -n "$job" ] && kill "$job" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# Root in containers; three ranks on however many cores there are, waiting
# ranks yielding their core.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mpi_yield_when_idle=1
env | grep -q '^OMPI_COMM_WORLD' && fail "test environment already inside an MPI job"
mpi() { local np=$1; shift; timeout 120 "$mpirun" -np "$np" "$bin" "$@"; }

# 36 trials: 9 atoms of 4 (the gradient's sums), in trial groups of 16, 16
# and 4; 12 trials per rank at R = 3, 16 + 20 at R = 2.
tiny=(--set recurrent.topology.num_neurons=60 --set recurrent.topology.num_assemblies=2
      --set feedforward.topology.num_neurons=20 --set simulation.dt=1.0 --threads 1)
train=("${tiny[@]}" --set training.batch_size=36 --set simulation.chunk_size=200 --set simulation.num_chunks=40
       --set simulation.duration=200 --set training.log_interval=20 --set training.checkpoint_interval=1)
feedback=("${tiny[@]}" --set training.batch_size=3 --set simulation.chunk_size=200 --set simulation.num_chunks=3
          --set simulation.duration=200 --set training.log_interval=1)

# stop SIGNAL DIR MPIRUN_ARGS...: starts the run in the background, sends
# SIGNAL to mpirun once DIR has its first checkpoint, and sets $rc, $done_chunks.
stop() {
  local signal=$1 dir=$2
  shift 2
  set +e
  "$mpirun" "$@" > "$dir.log" 2>&1 &
  job=$!
  for _ in $(seq 1200); do
    [ -e "$dir/checkpoints/checkpoint_latest.npz" ] && break
    kill -0 $job 2> /dev/null || break
    sleep 0.05
  done
  kill -"$signal" $job
  timeout 120 tail --pid=$job -f /dev/null
  wait $job
  rc=$?
  job=""
  set -e
  grep -q "Resume with" "$dir.log" || fail "$signal: no resume hint (exit $rc): $(cat "$dir.log")"
  [ "$(grep -c "Resume with" "$dir.log")" -eq 1 ] || fail "$signal: the hint printed more than once"
  done_chunks=$(grep -o "Interrupted after chunk [0-9]*" "$dir.log" | grep -o "[0-9]*$")
}

echo "== gradient: 36 trials, 1 process, then 2 and 3 ranks"
"$bin" gradient "${tiny[@]}" --set simulation.chunk_size=150 --trials 36 --losses cv -o "$work/grad1.npz" > /dev/null
for np in 2 3; do
  mpi $np gradient "${tiny[@]}" --set simulation.chunk_size=150 --trials 36 --losses cv -o "$work/grad$np.npz" \
    > "$work/grad$np.log" 2>&1 || fail "gradient at R = $np: $(cat "$work/grad$np.log")"
  grep -q "$np ranks share the trials" "$work/grad$np.log" || fail "gradient at R = $np: $(cat "$work/grad$np.log")"
  cmp "$work/grad1.npz" "$work/grad$np.npz" || fail "gradient at R = $np differs from one process"
done

echo "== simulate: 3 trials, 1 process, then 2 and 3 ranks"
sim=("${tiny[@]}" --set simulation.duration=300 --set simulation.chunk_size=100 --trials 3)
"$bin" simulate "${sim[@]}" -o "$work/sim1" > /dev/null
for np in 2 3; do
  mpi $np simulate "${sim[@]}" -o "$work/sim$np" > "$work/sim$np.log" 2>&1 || fail "simulate at R = $np: $(cat "$work/sim$np.log")"
  diff -rq --exclude=metadata.json "$work/sim1" "$work/sim$np" || fail "simulate at R = $np differs from one process"
  grep -q "\"ranks\": $np" "$work/sim$np/metadata.json" || fail "simulate at R = $np: metadata.json without ranks"
done

echo "== feedback: 3 trials, 1 process, then 2 and 3 ranks"
"$bin" feedback "${feedback[@]}" -o "$work/fb1" > /dev/null
for np in 2 3; do
  mpi $np feedback "${feedback[@]}" -o "$work/fb$np" > "$work/fb$np.log" 2>&1 || fail "feedback at R = $np: $(cat "$work/fb$np.log")"
  same_results "$work/fb1" "$work/fb$np" "feedback at R = $np"
done

echo "== train: 36 trials (9 atoms of 4), 1 process, then 2 ranks"
"$bin" train "${train[@]}" -o "$work/train1" > /dev/null
mpi 2 train "${train[@]}" -o "$work/train2" > "$work/train2.log" 2>&1 || fail "train at R = 2: $(cat "$work/train2.log")"
same_results "$work/train1" "$work/train2" "train at R = 2"

echo "== train at R = 3, stopped by SIGUSR1 to mpirun after a checkpoint, resumed at R = 2"
stop USR1 "$work/train3" -np 3 "$bin" train "${train[@]}" -o "$work/train3"
[ $rc -eq 130 ] || fail "SIGUSR1: exit $rc: $(cat "$work/train3.log")"
[ "$done_chunks" -lt 40 ] || fail "SIGUSR1: the run was not interrupted ($done_chunks chunks)"
mpi 2 train --resume "$work/train3/checkpoints/checkpoint_latest.npz" --threads 1 > "$work/resume.log" 2>&1 ||
  fail "resume at R = 2: $(cat "$work/resume.log")"
same_results "$work/train1" "$work/train3" "train at R = 3, stopped after chunk $done_chunks, resumed at R = 2"

echo "== SIGINT to mpirun: SIGTERM to every rank a grace period later; one checkpoint"
# OpenMPI 4.1 sends SIGTERM odls_base_sigkill_timeout seconds after SIGINT
# and SIGKILL as long after that (README "Running on a cluster").
stop INT "$work/fbint" --mca odls_base_sigkill_timeout 3 -np 2 "$bin" feedback "${feedback[@]}" \
  --set simulation.num_chunks=100000 --set training.checkpoint_interval=1 -o "$work/fbint"
[ $rc -ne 0 ] || fail "SIGINT: exit 0"
[ "$done_chunks" -lt 100000 ] || fail "SIGINT: not interrupted"
[ -s "$work/fbint/checkpoints/checkpoint_latest.npz" ] || fail "SIGINT: no checkpoint"
echo "== SIGINT to mpirun during gradient: every rank ends, nothing written"
# A chunk of some seconds (one on an idle machine is 3 s): the signal comes
# while the ranks compute, and ends them a grace period later (1 s).
mkdir "$work/gradint"
set +e
"$mpirun" -np 2 "$bin" gradient "${tiny[@]}" --set recurrent.topology.num_neurons=300 \
  --set feedforward.topology.num_neurons=100 --set simulation.chunk_size=60000 --trials 8 \
  -o "$work/gradint/grad.npz" > "$work/gradint.log" 2>&1 &
job=$!
for _ in $(seq 1200); do
  grep -q "2 ranks share the trials" "$work/gradint.log" && break
  kill -0 $job 2> /dev/null || break
  sleep 0.05
done
ranks=$(pgrep -P $job -d ' ')
kill -INT $job
timeout 60 tail --pid=$job -f /dev/null
wait $job
rc=$?
job=""
set -e
[ "$(wc -w <<< "$ranks")" -eq 2 ] || fail "gradient SIGINT: not 2 rank processes under mpirun: '$ranks': $(cat "$work/gradint.log")"
# Ended: gone, or a zombie that mpirun left to init.
for pid in $ranks; do
  state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2> /dev/null || true)
  [ -z "$state" ] || [ "$state" = Z ] || fail "gradient SIGINT: rank process $pid still running ($state) after mpirun ended"
done
[ $rc -ne 0 ] || fail "gradient SIGINT: exit 0: $(cat "$work/gradint.log")"
grep -q "forward + backward\|Wrote" "$work/gradint.log" && fail "gradient SIGINT: ran to the end: $(cat "$work/gradint.log")"
[ -z "$(ls -A "$work/gradint")" ] || fail "gradient SIGINT: left $(ls -A "$work/gradint")"

echo "== an error on one rank ends every rank"
printf '[training]\nbatch_size = -1\n' > "$work/bad.toml"
set +e
timeout 60 "$mpirun" -np 1 "$bin" train "${feedback[@]}" -o "$work/fail" : \
  -np 1 "$bin" train "$work/bad.toml" "${tiny[@]}" -o "$work/fail" > "$work/fail.log" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "failing rank: exit $rc: $(cat "$work/fail.log")"
grep -q "error (rank 1 of 2)" "$work/fail.log" || fail "failing rank: no message: $(cat "$work/fail.log")"
set +e
timeout 60 "$mpirun" -np 2 "$bin" feedback "${feedback[@]}" -o /proc/no/such/dir > "$work/fail0.log" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "failing rank 0: exit $rc: $(cat "$work/fail0.log")"
grep -q "error (rank 0 of 2)" "$work/fail0.log" || fail "failing rank 0: no message: $(cat "$work/fail0.log")"

echo "== more ranks than atoms are refused"
set +e
mpi 3 gradient "${tiny[@]}" --set simulation.chunk_size=50 --trials 8 -o "$work/refused.npz" > "$work/refused.log" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "R = 3 for 2 atoms: exit $rc"
grep -q "3 processes share a batch of 8 trials in 2 atoms of 4 trials (the gradient.s sums): at most 2 can" "$work/refused.log" ||
  fail "R = 3 for 2 atoms: $(cat "$work/refused.log")"
[ ! -e "$work/refused.npz" ] || fail "R = 3 for 2 atoms: wrote an output"
echo "MPI run tests passed"
