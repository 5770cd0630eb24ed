#!/usr/bin/env bash
# Server acceptance tests: starts real `tidepool serve` processes on free loopback ports and
# drives them with node's test runner (tests/server/*.test.mjs, official openai npm client).
# Args (from ctest): $1 CLI binary, $2 tests/data, $3 build dir.
set -euo pipefail
CLI=$(realpath "$1")
DATA=$(realpath "$2")
BUILD=${3:-/tmp}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tp-server-test.XXXXXX")
PIDS=()

cleanup() {
    local rc=$?
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ $rc -ne 0 ]; then
        for f in "$WORK"/*.log; do echo "--- $f"; tail -n 20 "$f"; done >&2
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT INT TERM

command -v node >/dev/null || { echo "server.test.sh: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "server.test.sh: npm is not installed" >&2; exit 1; }
if [ ! -d "$HERE/server/node_modules/openai" ]; then
    echo "server.test.sh: installing npm modules (npm ci) in tests/server" >&2
    (cd "$HERE/server" && npm ci --no-audit --no-fund) || {
        echo "server.test.sh: FAILED: cannot install the npm modules (openai); not skipping" >&2
        exit 1
    }
fi

# start NAME MODEL_DIR [serve options...]: starts a server on a free port, waits for /health,
# sets URL_<NAME> and PID_<NAME>.
start() {
    local name=$1 model=$2
    shift 2
    local log="$WORK/$name.log"
    "$CLI" serve "$model" --host 127.0.0.1 --port 0 --threads 1 "$@" >"$log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    local port=""
    for _ in $(seq 1 300); do
        port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$log" | head -n1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || { echo "server $name died:" >&2; cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$port" ] || { echo "server $name did not start" >&2; exit 1; }
    for _ in $(seq 1 100); do
        if node -e "fetch('http://127.0.0.1:$port/health').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"; then
            printf -v "URL_$name" 'http://127.0.0.1:%s' "$port"
            printf -v "PID_$name" '%s' "$pid"
            return 0
        fi
        sleep 0.1
    done
    echo "server $name: /health never answered" >&2
    exit 1
}

KEY="test-key-$RANDOM"
start embed "$DATA/models/bert-embed" --api-key "$KEY"
start mat "$DATA/models/bert-embed" --served-model-name mini-matryoshka --auto-truncate \
    --hf-overrides '{"is_matryoshka": true}'
start cross "$DATA/models/bert-cross-encoder"
start cls "$DATA/models/bert-classifier" --max-concurrent-requests 2 --max-batch-tokens 512

export TP_EMBED_URL=$URL_embed TP_API_KEY=$KEY TP_EMBED_PID=$PID_embed
export TP_MAT_URL=$URL_mat TP_MAT_NAME=mini-matryoshka
export TP_CROSS_URL=$URL_cross TP_CLS_URL=$URL_cls
export TP_DATA=$DATA TP_CLI=$CLI
# AddressSanitizer's quarantine keeps freed memory: the RSS bound only means something without it.
case "$(ldd "$CLI" 2>/dev/null || true)" in *libasan*) export TP_RSS_CHECK=0 ;; esac

cd "$HERE/server"
node --test --test-concurrency=1 --test-reporter=spec ${TP_SERVER_TESTS:-./*.test.mjs}

# Graceful shutdown: every server exits 0 on SIGTERM (under ASan this also means no leaks).
for name in embed mat cross cls; do
    pidvar="PID_$name"
    pid=${!pidvar}
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    [ $rc -eq 0 ] || { echo "server $name exited $rc after SIGTERM" >&2; cat "$WORK/$name.log" >&2; exit 1; }
    grep -q "stopped" "$WORK/$name.log" || { echo "server $name: no clean stop in its log" >&2; exit 1; }
done
PIDS=()
echo "server.test.sh: OK"
