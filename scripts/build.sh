#!/usr/bin/env bash
# Configures and builds the tidepool CLI and library (Release) into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${TP_CMAKE_ARGS:-} > /dev/null
cmake --build build -j"$(nproc)" --target tidepool_cli
