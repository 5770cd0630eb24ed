#!/usr/bin/env bash
# Tokenizer throughput: tidepool (tp_tokbench, linked against BUILD_DIR/libtidepool.a) vs HF
# tokenizers 0.23.2 (npm binding) on the same ~2 MB corpus (bench/tokenize/texts.jsonl repeated),
# for bert-base-uncased, qwen2_5 and llama2, 1 and 2 threads.
# usage: bash bench/tokenize/run.sh [BUILD_DIR=build]   (qwen2_5 comes from BUILD_DIR/test-cache,
#        filled by tests/fetch-tokenizers.sh). Output: a markdown table on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build}"
out=bench-out/tok
mkdir -p "$out"
[[ -f "$build/libtidepool.a" ]] || { echo "run.sh: build $build first (make -C $build tidepool)" >&2; exit 1; }
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/tokenize/tp_tokbench.c "$build/libtidepool.a" \
  $(pkg-config --libs jansson libutf8proc libpcre2-8 openblas libmicrohttpd) -lpthread -lm \
  -o "$out/tp_tokbench"
[[ -d "$out/node_modules/tokenizers" ]] ||
  npm install --prefix "$out" --ignore-scripts --no-audit --no-fund tokenizers@0.23.2 >/dev/null
bash tests/fetch-tokenizers.sh "$build/test-cache" >/dev/null
# ~2 MB corpus: the texts repeated
corpus="$out/corpus.jsonl"
: >"$corpus"
while [[ $(stat -c %s "$corpus") -lt 2000000 ]]; do cat bench/tokenize/texts.jsonl >>"$corpus"; done
declare -A tok=(
  [bert-base-uncased]=tests/data/tokenizers-real/bert-base-uncased/tokenizer.json
  [qwen2_5]="$build/test-cache/qwen2_5/tokenizer.json"
  [llama2]=tests/data/tokenizers-real/llama2/tokenizer.json
)
echo "| tokenizer | threads | tidepool tokens/s | HF tokenizers tokens/s | ratio | tokens |"
echo "|---|---|---|---|---|---|"
for name in bert-base-uncased qwen2_5 llama2; do
  for th in 1 2; do
    tp=$("$out/tp_tokbench" "${tok[$name]}" "$corpus" "$th" 3)
    hf=$(RAYON_NUM_THREADS=$th TOKENIZERS_PARALLELISM=true node bench/tokenize/hf_tokbench.js "$out" "${tok[$name]}" "$corpus" 3)
    tps=$(echo "$tp" | sed 's/.*"tokens_per_s":\([0-9]*\).*/\1/')
    hps=$(echo "$hf" | sed 's/.*"tokens_per_s":\([0-9]*\).*/\1/')
    ttok=$(echo "$tp" | sed 's/.*"tokens":\([0-9]*\).*/\1/')
    htok=$(echo "$hf" | sed 's/.*"tokens":\([0-9]*\).*/\1/')
    [[ "$ttok" == "$htok" ]] || echo "run.sh: token count differs for $name: $ttok vs $htok" >&2
    printf '| %s | %s | %s | %s | %.2fx | %s |\n' "$name" "$th" "$tps" "$hps" \
      "$(echo "$tps / $hps" | bc -l)" "$ttok"
  done
done
