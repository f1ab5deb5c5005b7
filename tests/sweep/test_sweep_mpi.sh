#!/usr/bin/env bash
# `mpirun -np 2 homeostat sweep`: both ranks run points, handed out by rank
# 0, and every point equals the same configuration run by hand.
# Usage: test_sweep_mpi.sh HOMEOSTAT_BINARY MPIRUN
set -euo pipefail
bin=$1 mpirun=${2:-mpirun}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
write_sweep "$work/sweep.toml"
# Root in containers; two ranks on however many cores there are.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

echo "== the eight configurations by hand"
run_by_hand "$bin" "$work/hand"

echo "== mpirun -np 2 homeostat sweep"
"$mpirun" -np 2 "$bin" sweep "$work/sweep.toml" -o "$work/mpi" --threads 1 > "$work/mpi.log" 2>&1 \
  || fail "mpirun sweep failed: $(cat "$work/mpi.log")"
grep -q "2 ranks share 8 points" "$work/mpi.log" || fail "not run over 2 ranks: $(cat "$work/mpi.log")"
grep -q "(rank 0)" "$work/mpi.log" && grep -q "(rank 1)" "$work/mpi.log" \
  || fail "both ranks should run points: $(cat "$work/mpi.log")"
[ "$(grep -c ' done in ' "$work/mpi.log")" -eq 8 ] || fail "each point once: $(cat "$work/mpi.log")"
compare_runs "$work/mpi" "$work/hand"
[ "$(grep -c ',done,' "$work/mpi/sweep_summary.csv")" -eq 8 ] || fail "summary: $(cat "$work/mpi/sweep_summary.csv")"
[ -s "$work/mpi/figures/sweep_heatmap_rate_w_mu.png" ] || fail "no figures"

echo "== a rerun under mpirun skips the finished points"
"$mpirun" -np 2 "$bin" sweep "$work/sweep.toml" -o "$work/mpi" > "$work/mpi2.log" 2>&1 || fail "$(cat "$work/mpi2.log")"
grep -q "8 of 8 points already finished" "$work/mpi2.log" || fail "rerun: $(cat "$work/mpi2.log")"

echo "== without mpirun nothing starts MPI: a plain command runs as before"
env | grep -q '^OMPI_COMM_WORLD' && fail "test environment already inside an MPI job"
"$bin" sweep "$work/sweep.toml" --list > /dev/null
echo "MPI sweep tests passed"
