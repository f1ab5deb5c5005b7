#!/usr/bin/env bash
# `homeostat sweep --slurm` on a real Slurm: starts a one-node cluster on
# localhost (slurm_cluster.sh), submits the generated sweep.sbatch, waits for
# the array job, and checks every point equals the same configuration run by
# hand and the summary is complete; then runs the sweep again as one job of
# two MPI tasks under srun --mpi=pmix. Exit 77 (skipped) when Slurm is not
# installed or not root; any other failure to start the cluster fails the test.
# Usage: run_slurm_sweep.sh HOMEOSTAT_BINARY
set -euo pipefail
bin=$(readlink -f "$1")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/slurm_cluster.sh"
source "$here/../sweep/common.sh"
slurm_cluster_require
slurm_test_cluster
sinfo

write_sweep "$work/sweep.toml"
echo "== --slurm writes the array job"
"$bin" sweep "$work/sweep.toml" -o "$work/slurm" --slurm --slurm-option=--time=00:10:00 --slurm-max 2 --threads 1 \
  > "$work/slurm.log"
script=$work/slurm/sweep.sbatch
grep -q "^#SBATCH --array=0-7%2$" "$script" || fail "array line: $(cat "$script")"
grep -q "^#SBATCH --time=00:10:00$" "$script" || fail "--slurm-option: $(cat "$script")"
grep -q -- "--point \"\$SLURM_ARRAY_TASK_ID\"" "$script" || fail "task command: $(cat "$script")"
grep -q "sbatch '$script'" "$work/slurm.log" || fail "sbatch line: $(cat "$work/slurm.log")"
[ ! -e "$work/slurm/runs/0_rate=5_w_mu=v0_seed=1" ] || fail "--slurm ran a point"

echo "== submitted, waiting for the array"
job=$(cd "$work" && sbatch --parsable "$script")
echo "job $job"
run_by_hand "$bin" "$work/hand"  # meanwhile
slurm_wait_job "$job" 240 || fail "array job did not finish"
completed=$(grep -c "ArrayJobId=$job .*JobState=COMPLETED\|JobState=COMPLETED .*ArrayJobId=$job" "$work/cluster/jobcomp.txt" || true)
[ "$completed" -eq 8 ] || fail "expected 8 completed array tasks: $(cat "$work/cluster/jobcomp.txt"; cat "$work"/slurm/logs/slurm-*.out)"
compare_runs "$work/slurm" "$work/hand"
[ "$(grep -c ',done,' "$work/slurm/sweep_summary.csv")" -eq 8 ] || fail "summary after the last task: $(cat "$work/slurm/sweep_summary.csv")"
[ -s "$work/slurm/figures/sweep_heatmap_rate_w_mu.png" ] || fail "the last task did not draw the figures"
echo "== the same sweep as one job of 2 MPI tasks: srun --mpi=pmix homeostat sweep"
job=$(cd "$work" && sbatch --parsable -n 2 --output="$work/srun.out" \
  --wrap "srun --mpi=pmix '$bin' sweep '$work/sweep.toml' -o '$work/srun' --threads 1")
slurm_wait_job "$job" 240 || fail "srun job did not finish"
grep -q "2 ranks share 8 points" "$work/srun.out" || fail "srun: $(cat "$work/srun.out")"
compare_runs "$work/srun" "$work/hand"
echo "Slurm sweep test passed"
