#!/usr/bin/env bash
# Server load benchmark: requests/s and latency percentiles for POST /v1/embeddings with one short
# input, at concurrency 1, 8 and 64, with wrk (Debian package `wrk`).
# usage: bench/server/run.sh [CLI] [MODEL_DIR] [SECONDS] [SERVER_THREADS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CLI=${1:-$ROOT/build/tidepool}
MODEL=${2:-$ROOT/tests/data/models/bert-embed}
SECS=${3:-10}
THREADS=${4:-1}
command -v wrk >/dev/null || { echo "run.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
LOG=$(mktemp)
"$CLI" serve "$MODEL" --port 0 --threads "$THREADS" >"$LOG" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
PORT=""
for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$LOG" | head -n1)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { cat "$LOG" >&2; exit 1; }
URL=http://127.0.0.1:$PORT
wrk -t1 -c4 -d2s -s "$HERE/embed.lua" "$URL" >/dev/null # warm-up
echo "| concurrency | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for C in 1 8 64; do
    T=$((C < 2 ? 1 : 2))
    OUT=$(wrk -t$T -c$C -d${SECS}s --latency -s "$HERE/embed.lua" "$URL")
    L=$(echo "$OUT" | grep '^RESULT')
    get() { echo "$L" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
    echo "| $C | $(get rps) | $(get p50_ms) | $(get p90_ms) | $(get p99_ms) | $(get max_ms) | $(($(get non2xx) + $(get errors))) |"
done
