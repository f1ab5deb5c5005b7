#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite, the `long` convergence
# tests included. The README's test command; .ci/run calls exactly this.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" release
cd "$root"
ctest --preset release -j "$(nproc 2>/dev/null || echo 2)" "$@"
