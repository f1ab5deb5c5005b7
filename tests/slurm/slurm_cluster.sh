#!/usr/bin/env bash
# A one-node Slurm on localhost for tests, from Debian's slurm-wlm and munge:
# munged with a fresh key, slurmctld and slurmd, all state under one
# temporary directory and on their own ports. Meant to be sourced:
#
#   source tests/slurm/slurm_cluster.sh
#   slurm_cluster_start "$tmp/slurm" || exit 77   # exports SLURM_CONF
#   trap slurm_cluster_stop EXIT
#   sbatch ...; slurm_wait_job JOBID 300
#
# Runs as root (SlurmUser=root): the test machines are containers.
# ProctrackType=proctrack/linuxproc and TaskPlugin=task/none need no cgroups.

slurm_cluster_log() { echo "slurm_cluster: $*" >&2; }

# Exits 77 (CTest's skip) with the reason where this machine cannot run the
# test cluster: Slurm or munge not installed, or not root.
slurm_cluster_require() {
  if ! command -v sbatch > /dev/null || ! [ -x /usr/sbin/slurmctld ] || ! [ -x /usr/sbin/munged ]; then
    echo "SKIPPED: slurm-wlm and munge are not installed (scripts/setup.sh installs them)"
    exit 77
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: the test cluster runs its daemons as root (SlurmUser=root); run as root"
    exit 77
  fi
}

# slurm_cluster_start DIR [CPUS]: starts the daemons; returns 1 (with the
# daemons' logs on stderr) when the node does not come up within 60 s.
slurm_cluster_start() {
  local dir=$1 cpus=${2:-2}
  SLURM_CLUSTER_DIR=$dir
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  local missing=()
  for tool in munged slurmctld slurmd sbatch squeue scontrol; do
    command -v "$tool" > /dev/null || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    slurm_cluster_log "missing ${missing[*]} (Debian: apt-get install slurm-wlm munge)"
    return 1
  fi
  local host; host=$(hostname -s)
  # Ports from the directory's own number: two clusters on one machine differ.
  local base=$(( 20000 + $(cksum <<< "$dir" | cut -d' ' -f1) % 20000 ))

  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 700 "$dir/munge"; chmod 400 "$dir/munge/munge.key"
  /usr/sbin/munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
    || { slurm_cluster_log "munged did not start"; cat "$dir/munge/munged.log" >&2; return 1; }

  cat > "$dir/slurm.conf" <<CONF
ClusterName=homeostat-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
MinJobAge=600
SlurmdTimeout=60
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$dir/slurm.conf
  /usr/sbin/slurmctld -i 2> "$dir/slurmctld.err" || { slurm_cluster_log "slurmctld did not start"; slurm_cluster_dump; return 1; }
  /usr/sbin/slurmd 2> "$dir/slurmd.err" || { slurm_cluster_log "slurmd did not start"; slurm_cluster_dump; return 1; }
  local i state
  for i in $(seq 1 120); do
    state=$(sinfo -h -N -o '%t' 2> /dev/null | head -n 1)
    case $state in idle|mix|alloc) return 0 ;; esac
    sleep 0.5
  done
  slurm_cluster_log "the node did not become idle (state '$state')"
  slurm_cluster_dump
  return 1
}

# For a test script (with `fail` defined): a temporary directory $work,
# removed with the daemons at exit, and the cluster (CPUS, default 2) in it;
# fails the test when the cluster does not start.
slurm_test_cluster() {
  work=$(mktemp -d)
  trap 'slurm_cluster_stop; rm -rf "$work"' EXIT
  echo "== a one-node Slurm on localhost"
  slurm_cluster_start "$work/cluster" "${1:-2}" || fail "Slurm did not start (logs above)"
}

slurm_cluster_dump() {
  local f
  for f in "$SLURM_CLUSTER_DIR"/slurmctld.log "$SLURM_CLUSTER_DIR"/slurmd.log "$SLURM_CLUSTER_DIR"/*.err; do
    [ -s "$f" ] && { echo "---- $f" >&2; tail -n 30 "$f" >&2; }
  done
}

# Stops the daemons started by slurm_cluster_start (by their pid files).
slurm_cluster_stop() {
  local dir=${SLURM_CLUSTER_DIR:-}
  [ -n "$dir" ] || return 0
  local f pid
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2> /dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2> /dev/null || true
  done
}

# slurm_wait_job JOBID TIMEOUT_S: waits until no task of the job is pending
# or running; returns 1 on timeout.
slurm_wait_job() {
  local job=$1 timeout=$2 start=$SECONDS
  while [ -n "$(squeue -h -j "$job" -o '%i' 2> /dev/null)" ]; do
    (( SECONDS - start < timeout )) || { slurm_cluster_log "job $job still queued after ${timeout} s"; squeue -j "$job" >&2; return 1; }
    sleep 1
  done
}
