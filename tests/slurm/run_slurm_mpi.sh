#!/usr/bin/env bash
# MPI ranks started by Slurm (README "Running on a cluster"), on a one-node
# Slurm on localhost (slurm_cluster.sh): `srun -n 2|3 --mpi=pmix homeostat
# simulate` equals the single-process run byte for byte; then the README's
# own sbatch script (taken from README.md, with a one-node allocation, this
# build and a tiny configuration put in) trains as 2 tasks, is stopped by
# `scancel --signal=USR1` (what its --signal=USR1@300 does before the time
# limit) after a checkpoint, is submitted again, resumes, and ends with the
# bytes of the single-process run. Exit 77 (skipped) when Slurm is not
# installed or not root; any other failure to start the cluster fails.
# Usage: run_slurm_mpi.sh HOMEOSTAT_BINARY PYTHON3
set -euo pipefail
bin=$(readlink -f "$1") py=${2:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/slurm_cluster.sh"
source "$here/../sweep/common.sh"  # fail
source "$here/../common/same_results.sh"  # same_results
slurm_cluster_require
env | grep -q '^SLURM_JOB_ID=' && fail "test environment already inside a Slurm job"
slurm_test_cluster
srun --mpi=list 2>&1 | grep -qw pmix || fail "this Slurm offers no PMIx for MPI ranks: $(srun --mpi=list 2>&1)"

tiny=(--set recurrent.topology.num_neurons=60 --set recurrent.topology.num_assemblies=2
      --set feedforward.topology.num_neurons=20 --set simulation.dt=1.0)

echo "== simulate: 3 trials, 1 process, then srun -n 2 and -n 3 --mpi=pmix"
sim=("${tiny[@]}" --set simulation.duration=300 --set simulation.chunk_size=100 --trials 3 --threads 1)
"$bin" simulate "${sim[@]}" -o "$work/sim1" > /dev/null
for np in 2 3; do
  # --overcommit: three tasks on the node's two CPUs.
  timeout 120 srun -n $np --overcommit --mpi=pmix "$bin" simulate "${sim[@]}" -o "$work/sim$np" > "$work/sim$np.log" 2>&1 ||
    fail "srun -n $np simulate: $(cat "$work/sim$np.log")"
  grep -q "$np ranks share the 3 trials" "$work/sim$np.log" || fail "srun -n $np: not $np ranks: $(cat "$work/sim$np.log")"
  diff -rq --exclude=metadata.json "$work/sim1" "$work/sim$np" || fail "srun -n $np simulate differs from one process"
done

echo "== train with README's sbatch script: 2 tasks, stopped after a checkpoint, submitted again"
# 36 trials: 9 atoms of 4, 16 + 20 trials on the two ranks.
"$bin" config "${tiny[@]}" --set training.batch_size=36 --set simulation.chunk_size=200 \
  --set simulation.num_chunks=40 --set simulation.duration=200 --set training.log_interval=20 \
  --set training.checkpoint_interval=1 > "$work/seed.toml"
"$bin" train "$work/seed.toml" --threads 1 -o "$work/train1" > /dev/null
script=$work/train.sbatch
# The README's script: the block from its #!/bin/bash to the closing fence.
awk '/^## Running on a cluster/ { on = 1 } on && /^#!\/bin\/bash/ { take = 1 } take && /^```/ { exit } take' \
  "$here/../../README.md" |
  sed -e 's|^#SBATCH --nodes=2$|#SBATCH --nodes=1|' -e 's|--cpus-per-task=16 |--cpus-per-task=1 |' \
      -e "s|^run=/scratch/\$USER/train_seed |run=$work/run |" -e "s|params/seed.toml|$work/seed.toml|" \
      -e "s| homeostat train | $bin train |" > "$script"
for want in "#SBATCH --nodes=1" "--cpus-per-task=1 " "run=$work/run " "$bin train $work/seed.toml" \
            "$bin train --resume" "srun --mpi=pmix" "#SBATCH --signal=USR1@"; do
  grep -qF -- "$want" "$script" || fail "README's sbatch script changed (no '$want'): $(cat "$script")"
done
mkdir "$work/logs"

job=$(cd "$work" && sbatch --parsable "$script")
for _ in $(seq 1200); do
  [ -e "$work/run/checkpoints/checkpoint_latest.npz" ] && break
  [ -n "$(squeue -h -j "$job" -o '%i' 2> /dev/null)" ] || break
  sleep 0.05
done
[ -e "$work/run/checkpoints/checkpoint_latest.npz" ] || fail "no checkpoint: $(cat "$work"/logs/*)"
scancel --signal=USR1 "$job"
slurm_wait_job "$job" 120 || fail "the stopped job did not end"
log=$work/logs/homeostat-train-$job.out
grep -q "2 ranks share" "$log" || fail "first job: not 2 ranks: $(cat "$log")"
[ "$(grep -c "Resume with" "$log")" -eq 1 ] || fail "first job: not one resume hint: $(cat "$log")"
done_chunks=$(grep -o "Interrupted after chunk [0-9]*" "$log" | grep -o "[0-9]*$")
[ "$done_chunks" -lt 40 ] || fail "first job: not interrupted ($done_chunks chunks)"
echo "stopped after chunk $done_chunks"

job=$(cd "$work" && sbatch --parsable "$script")
slurm_wait_job "$job" 240 || fail "the resubmitted job did not end"
log=$work/logs/homeostat-train-$job.out
grep -q "JobId=$job .*JobState=COMPLETED" "$work/cluster/jobcomp.txt" || fail "resubmitted job: $(cat "$log")"
grep -q "resumed from $work/run/checkpoints/checkpoint_latest.npz (chunk $done_chunks)" "$log" ||
  fail "resubmitted job did not resume after chunk $done_chunks: $(cat "$log")"
same_results "$work/train1" "$work/run" "stopped after chunk $done_chunks under srun, resumed by the resubmitted script"
echo "Slurm MPI test passed"
