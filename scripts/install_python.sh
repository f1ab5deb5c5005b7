#!/usr/bin/env bash
# Installs the Python package `homeostat` for Debian's /usr/bin/python3 (the
# interpreter with python3-numpy): builds the release preset (scripts/setup.sh
# installs the Debian packages it needs), then copies the package into
# site-packages.
#
# Usage: scripts/install_python.sh            into /usr/local/lib/python3.11/dist-packages
#        scripts/install_python.sh DIR        into DIR/homeostat (e.g. a virtualenv's site-packages)
#        scripts/install_python.sh --develop  a homeostat.pth in site-packages pointing at the build
#                                             tree (rebuilds are picked up without reinstalling)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" release
build="$root/build/release"
[ -d "$build/python/homeostat" ] || { echo "install_python.sh: the Python package was not built (is pybind11-dev installed?)" >&2; exit 1; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
site=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')
case "${1:-}" in
  --develop)
    [ -n "$site" ] && $sudo rm -rf "$site/homeostat"  # an installed copy would shadow the build tree
    $sudo mkdir -p "$site"
    echo "$build/python" | $sudo tee "$site/homeostat.pth" > /dev/null
    echo "homeostat: $site/homeostat.pth -> $build/python" ;;
  "")
    $sudo rm -f "$site/homeostat.pth"
    $sudo cmake --install "$build" --component python > /dev/null
    echo "homeostat: installed into $site/homeostat" ;;
  *)
    target=$1
    mkdir -p "$target/homeostat"
    cp "$build"/python/homeostat/{*.py,*.pyi,py.typed,_homeostat*.so} "$target/homeostat/"
    echo "homeostat: installed into $target/homeostat"
    exit 0 ;;
esac
/usr/bin/python3 -c 'import homeostat' 2>/dev/null && echo "homeostat: /usr/bin/python3 -c 'import homeostat' works" || true
