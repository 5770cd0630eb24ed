#!/usr/bin/env bash
# CLI tests for `tidepool embed` and `tidepool info` on the bert-embed fixture: embeddings equal
# the sentence-transformers goldens (1e-4), one output line per input line, and bad input lines
# give one clear error and a non-zero exit.
# Args: $1 tidepool binary, $2 tests/data, $3 build dir.
set -u
TP=$1 DATA=$2 WORK=$3/cli-embed
M=$DATA/models/bert-embed
mkdir -p "$WORK"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }

# 1. goldens through the CLI
node -e '
const g = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
for (const c of g.cases) console.log(JSON.stringify({text: c.input}));
' "$M/golden.json" > "$WORK/in.jsonl"
if "$TP" embed "$M" --input "$WORK/in.jsonl" --output "$WORK/out.jsonl" 2> "$WORK/err.txt"; then
  if node -e '
const fs = require("fs");
const g = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const out = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map(JSON.parse);
if (out.length !== g.cases.length) { console.error("lines", out.length, g.cases.length); process.exit(1); }
let worst = 0;
out.forEach((o, i) => {
  if (o.index !== i) throw new Error("index " + o.index + " at line " + i);
  if (o.tokens !== g.cases[i].input_ids.length) throw new Error("tokens at " + i);
  const w = g.cases[i].embedding;
  if (o.embedding.length !== w.length) throw new Error("dim at " + i);
  for (let k = 0; k < w.length; k++) worst = Math.max(worst, Math.abs(o.embedding[k] - w[k]));
});
console.log("max abs diff", worst);
process.exit(worst <= 1e-4 ? 0 : 1);
' "$M/golden.json" "$WORK/out.jsonl"; then ok "embed matches goldens"; else bad "embed matches goldens"; fi
else
  bad "embed ran: $(cat "$WORK/err.txt")"
fi

# 2. stdin/stdout, plain JSON strings
out=$(printf '"hello world"\n{"text": "second"}\n' | "$TP" embed "$M" | wc -l)
[ "$out" = 2 ] && ok "stdin -> stdout, one line per input" || bad "stdin/stdout ($out lines)"

# 3. bad input: each exits non-zero with one clear line naming the input line
check_error() { # name, input bytes (printf format), expected substring
  printf "$2" > "$WORK/bad.jsonl"
  "$TP" embed "$M" --input "$WORK/bad.jsonl" > "$WORK/bad.out" 2> "$WORK/bad.err"
  rc=$?
  if [ $rc -ne 0 ] && grep -q "$3" "$WORK/bad.err" && [ "$(wc -l < "$WORK/bad.err")" -le 2 ] &&
     ! grep -qi "sanitizer\|segmentation" "$WORK/bad.err"; then
    ok "$1 -> exit $rc: $(head -c 160 "$WORK/bad.err")"
  else
    bad "$1 (rc $rc): $(cat "$WORK/bad.err")"
  fi
}
check_error "empty line" '"a"\n\n"b"\n' 'line 2\|:2: empty input line'
check_error "invalid JSON" '{"text": \n' ':1: invalid JSON'
check_error "invalid UTF-8" '"abc \xff\xfe"\n' ':1: input line is not valid UTF-8'
check_error "wrong type" '{"text": 5}\n' 'expected a JSON string'
check_error "pair on embed" '{"text": "a", "pair": "b"}\n' 'pair'

# 4. missing model folder / unknown option
"$TP" embed "$WORK/no-such-model" < /dev/null 2> "$WORK/e.txt"; rc=$?
[ $rc -ne 0 ] && grep -q "config.json" "$WORK/e.txt" && ok "missing model -> $(cat "$WORK/e.txt")" || bad "missing model (rc $rc)"
"$TP" embed "$M" --bogus < /dev/null 2> "$WORK/e.txt"; rc=$?
[ $rc -ne 0 ] && grep -q "unknown option" "$WORK/e.txt" && ok "unknown option" || bad "unknown option (rc $rc)"

# 5. info
"$TP" info "$M" > "$WORK/info.json" 2>&1
if node -e '
const i = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const want = {architecture: "BertModel", hidden_size: 32, max_length: 128, embedding_dim: 32, pooling: "MEAN", normalize: true, weight_dtype: "F32"};
for (const [k, v] of Object.entries(want)) if (i[k] !== v) { console.error(k, i[k], v); process.exit(1); }
' "$WORK/info.json"; then ok "info"; else bad "info: $(cat "$WORK/info.json")"; fi

# 6. --max-length truncates
long=$(node -e 'console.log(JSON.stringify({text: "word ".repeat(400)}))')
n=$(echo "$long" | "$TP" embed "$M" --max-length 16 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).tokens))')
[ "$n" = 16 ] && ok "--max-length 16 truncates" || bad "--max-length ($n tokens)"
n=$(echo "$long" | "$TP" embed "$M" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).tokens))')
[ "$n" = 128 ] && ok "model max length 128 applied" || bad "default truncation ($n tokens)"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
