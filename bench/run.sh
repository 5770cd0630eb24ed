#!/usr/bin/env bash
# CPU benchmark: tidepool vs ONNX Runtime (and optionally PyTorch) in ONE run, on the same model
# folders, the same 2,000 workload sentences and 2 threads; prints ratios (bench/summarize.py).
#
#   bench/run.sh [--models "minilm-l6 bert-base"] [--runs 3] [--rounds 3] [--torch] [--no-gemm]
#                [--limit N]
#
# After the back-to-back runs, --rounds R alternates ORT and tidepool f32 R times (each a warm-up and
# one timed pass, in alternating order, plus the fp32 GEMM ceiling at 2048^3), so that both see the
# same machine load; the summary gives each round's ratio and % of that round's ceiling, and their
# medians (this VM's load moves single runs by 10-30%). Each tidepool round also runs one
# --paired-ceiling pass (tp_bench: 2048^3 GEMMs of tidepool and oneDNN interleaved with the model's
# batches in one process), whose ratio does not depend on when the separate ceiling ran.
#
# Needs (bench only, not the build): Debian python3-torch python3-numpy python3-onnx
# libopenblas0-openmp (model generator / torch), Node.js + npm (onnxruntime-node 1.30.0,
# tokenizers 0.23.2 into bench-out/node_modules). Optional GEMM rows: libblis4-openmp / libblis-dev,
# libdnnl-dev. Everything is written under bench-out/ (gitignored; override with W=DIR).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${W:-$ROOT/bench-out}
B=$ROOT/bench/ref
MODELS="minilm-l6 bert-base"
RUNS=3
ROUNDS=3
TORCH=0
GEMM=1
LIMIT=()
while [ $# -gt 0 ]; do
    case "$1" in
    --models) MODELS=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --torch) TORCH=1 ;;
    --no-gemm) GEMM=0 ;;
    --limit) LIMIT=(--limit "$2"); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
export OMP_NUM_THREADS=2
OUT=$W/results
mkdir -p "$OUT"

# 0. build the library and the drivers (Release, own build dir)
cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
make -C "$ROOT/build-bench" -j2 tidepool >/dev/null
LIBS="$(pkg-config --libs jansson libutf8proc libpcre2-8 openblas libmicrohttpd) -ldl -lpthread -lm"
for d in tp_bench gemm_bench attn_bench; do
    cc -O2 -std=gnu11 -Wall -Wextra -I"$ROOT/include" -I"$ROOT/src" "$ROOT/bench/$d.c" \
        "$ROOT/build-bench/libtidepool.a" $LIBS -o "$W/$d"
done

# 1. references: node modules and models (once)
[ -d "$W/node_modules/onnxruntime-node" ] ||
    npm install --prefix "$W" --ignore-scripts onnxruntime-node@1.30.0 tokenizers@0.23.2 >/dev/null
for m in $MODELS; do
    [ -f "$W/models/$m/model.onnx" ] || /usr/bin/python3 "$B/make_models.py" --out "$W/models" --only "$m"
done

{
    echo "date: $(date -u +%FT%TZ)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cpus)"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none) $(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo '(dirty)')"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"

# 2. GEMM ceilings (same run)
if [ $GEMM = 1 ]; then
    "$W/gemm_bench" --threads 2 --json "$OUT/gemm.json" | tee "$OUT/gemm.txt"
fi

# 3. per model, back to back: ORT, tidepool f32 / bf16 / int8 (and torch)
for m in $MODELS; do
    node "$B/run_ort.js" bench --model "$W/models/$m" --work "$W" --node-modules "$W/node_modules" \
        --runs "$RUNS" --order sorted --save-emb --json "$OUT/ort_$m.json" "${LIMIT[@]}" >/dev/null
    ORT_EMB=$W/ort_emb_$m.f32
    node "$ROOT/bench/ort_latency.js" --model "$W/models/$m" --node-modules "$W/node_modules" \
        --json "$OUT/ort_lat_$m.json" >/dev/null
    "$W/tp_bench" --model "$W/models/$m" --workload "$B/workload.jsonl" --runs "$RUNS" \
        --save-emb "$OUT/tp_emb_${m}_f32.f32" --ref-emb "$ORT_EMB" --json "$OUT/tp_${m}_f32.json" \
        "${LIMIT[@]}" >/dev/null
    "$W/tp_bench" --model "$W/models/$m" --workload "$B/workload.jsonl" --runs "$RUNS" --dtype bf16 \
        --ref-emb "$ORT_EMB" --ref-emb "$OUT/tp_emb_${m}_f32.f32" --json "$OUT/tp_${m}_bf16.json" \
        "${LIMIT[@]}" >/dev/null
    "$W/tp_bench" --model "$W/models/$m" --workload "$B/workload.jsonl" --runs "$RUNS" --quantize int8 \
        --ref-emb "$ORT_EMB" --ref-emb "$OUT/tp_emb_${m}_f32.f32" --json "$OUT/tp_${m}_int8.json" \
        "${LIMIT[@]}" >/dev/null
    "$W/tp_bench" --model "$W/models/$m" --workload "$B/workload.jsonl" --runs "$RUNS" --batch 0 \
        --latency-runs 0 --json "$OUT/tp_${m}_f32_packed.json" "${LIMIT[@]}" >/dev/null
    if [ $TORCH = 1 ]; then
        LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 "$B/run_torch.py" \
            --model "$W/models/$m" --work "$W" --runs "$RUNS" --order sorted \
            --json "$OUT/torch_$m.json" "${LIMIT[@]}" >/dev/null
    fi
done
# 4. interleaved rounds: ORT and tidepool f32 alternate (ORT first in odd rounds, tidepool first in
#    even ones, so neither always follows the other), each round with its own fp32 ceiling (the
#    GEMM backends at 2048^3), so that ratios and % of ceiling compare figures taken minutes apart
rm -f "$OUT"/round_*.json
ort_round() { # model round
    node "$B/run_ort.js" bench --model "$W/models/$1" --work "$W" --node-modules "$W/node_modules" \
        --runs 1 --order sorted --json "$OUT/round_$1_$2_ort.json" "${LIMIT[@]}" >/dev/null
}
tp_round() { # model round
    "$W/tp_bench" --model "$W/models/$1" --workload "$B/workload.jsonl" --runs 1 \
        --latency-runs 0 --paired-ceiling 1 --json "$OUT/round_$1_$2_tp.json" "${LIMIT[@]}" >/dev/null
}
for m in $MODELS; do
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            ort_round "$m" "$r"
            tp_round "$m" "$r"
        else
            tp_round "$m" "$r"
            ort_round "$m" "$r"
        fi
        if [ $GEMM = 1 ]; then
            "$W/gemm_bench" --threads 2 --shape 2048x2048x2048 \
                --json "$OUT/round_${m}_${r}_gemm.json" >/dev/null
        fi
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
/usr/bin/python3 "$ROOT/bench/summarize.py" "$OUT" | tee "$OUT/summary.md"
