#!/usr/bin/env bash
# Setup + the whole test suite: dependencies, Release build + every test (ctest), then the same
# suite under AddressSanitizer + UndefinedBehaviorSanitizer, then short bounded fuzzing runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)

echo "== release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTP_WERROR=ON > /dev/null
cmake --build build -j"$jobs"
if [ -f tests/fetch-tokenizers.sh ]; then bash tests/fetch-tokenizers.sh build/test-cache; fi
echo "== tests (release)"
(cd build && ctest --output-on-failure -j"$jobs")

echo "== ASan + UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTP_SANITIZE=ON -DTP_WERROR=ON > /dev/null
cmake --build build-asan -j"$jobs"
if [ -f tests/fetch-tokenizers.sh ]; then bash tests/fetch-tokenizers.sh build-asan/test-cache; fi
echo "== tests (ASan + UBSan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j"$jobs" ${TP_ASAN_CTEST_ARGS:-})

if [ -f tests/fuzz.sh ]; then
  echo "== fuzzing (bounded)"
  bash tests/fuzz.sh
fi
echo "== all tests passed"
