#!/usr/bin/env bash
# Builds homeostat if needed (see setup.sh), then runs it with the given
# arguments. The README's main command.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" release
exec "$root/build/release/homeostat" "$@"
