#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need (listed in .ci/apt-packages*.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=$(cat .ci/apt-packages*.txt | sed 's/#.*//' | tr -s ' \n' '\n' | sort -u)
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# node and npm may come from outside Debian on some machines: accept any working node >= 18
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=$(echo "$missing" | tr ' ' '\n' | grep -vx 'nodejs\|npm' | tr '\n' ' ')
fi
if [ -n "${missing// /}" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq $missing
fi
