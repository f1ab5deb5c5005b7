#!/usr/bin/env bash
# Installs what homeostat needs (Debian 12 packages, only those missing),
# then configures and builds the given CMake preset (default: release).
# Usage: scripts/setup.sh [PRESET]
set -euo pipefail
preset=${1:-release}
root=$(cd "$(dirname "$0")/.." && pwd)

packages=(build-essential cmake git pkg-config
          libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libfmt-dev librandom123-dev
          libzip-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev python3 python3-numpy
          libplplot-dev plplot-driver-cairo libpng-dev fonts-dejavu-core
          libprotobuf-dev protobuf-compiler python3-protobuf
          libopenmpi-dev openmpi-bin   # MPI: `mpirun homeostat sweep|train`
          slurm-wlm munge)             # the sweep tests start a one-node Slurm on localhost
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "homeostat setup: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset "$preset" > /dev/null
cmake --build --preset "$preset" -j "$jobs" >&2
