#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in a separate build dir and runs each tokenizer fuzzer
# fuzz/fuzz_*.c target (tokenizer ones get seed corpora) for a bounded time.
# usage: bash tests/fuzz.sh [SECONDS_PER_TARGET]   (default 30; env FUZZ_BUILD_DIR, default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
bdir="${FUZZ_BUILD_DIR:-build-fuzz}"
command -v clang >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
CC=clang cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTP_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
targets=()
for f in fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
make -C "$bdir" -j2 "${targets[@]}" >/dev/null
corpus="$bdir/fuzz-corpus"
mkdir -p "$corpus/fuzz_tokenizer_load" "$corpus/fuzz_tokenizer_encode"
# Seeds: small tokenizer.json files of each family, and a few texts.
i=0
for j in \
  '{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"a":1,"##b":2}},"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"BertPreTokenizer"},"decoder":{"type":"WordPiece"}}' \
  '{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"<0x41>":3},"merges":["a b"],"byte_fallback":true},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{L}+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]},"decoder":{"type":"ByteLevel"},"post_processor":{"type":"ByteLevel"}}' \
  '{"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["\u2581a",-1.5],["b",-2]]},"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}]},"pre_tokenizer":{"type":"Metaspace","replacement":"\u2581","prepend_scheme":"first","split":true},"decoder":{"type":"Metaspace","replacement":"\u2581"}}' \
  '{"added_tokens":[{"id":0,"content":"<s>","special":true,"lstrip":true,"rstrip":true,"single_word":false,"normalized":false}],"model":{"type":"BPE","vocab":{"<s>":0,"x":1},"merges":[["x","x"]]},"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],"special_tokens":{"<s>":{"id":"<s>","ids":[0],"tokens":["<s>"]}}}}'; do
  printf '%s' "$j" >"$corpus/fuzz_tokenizer_load/seed$i.json"; i=$((i + 1))
done
printf '\x00\x05Hello, World! <s> caf\xc3\xa9' >"$corpus/fuzz_tokenizer_encode/s0"
printf '\x03\x01\xe4\xb8\xad\xe6\x96\x87 text\tand  pair' >"$corpus/fuzz_tokenizer_encode/s1"
printf '\x05\x00\xff\xfe invalid' >"$corpus/fuzz_tokenizer_encode/s2"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$corpus/$t"
  echo "fuzz.sh: $t for ${secs}s"
  if ! "$bdir/$t" -max_total_time="$secs" -max_len=8192 -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$bdir/$t-" \
      -print_final_stats=1 "$corpus/$t" 2>"$bdir/$t.log"; then
    echo "fuzz.sh: $t FAILED, see $bdir/$t.log" >&2
    tail -40 "$bdir/$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|Done" "$bdir/$t.log" | tail -2
  fi
done
exit "$status"
