// HF `tokenizers` (npm binding, Rust core) throughput on the same corpus as tp_tokbench:
// encodeBatch in batches of 1024 lines with special tokens; threads = RAYON_NUM_THREADS (set by
// the caller); one warm-up pass, best of REPEATS timed passes.
// usage: RAYON_NUM_THREADS=N node hf_tokbench.js MODULE_DIR TOKENIZER_JSON CORPUS_JSONL [REPEATS]
const fs = require('fs');
const path = require('path');
const [modDir, tokPath, corpusPath, repStr] = process.argv.slice(2);
const { Tokenizer } = require(path.resolve(modDir, 'node_modules/tokenizers'));
const reps = parseInt(repStr || '3', 10);
const texts = fs.readFileSync(corpusPath, 'utf8').split('\n').filter((l) => l.length)
  .map((l) => JSON.parse(l).text);
const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t, 'utf8'), 0);
const tok = Tokenizer.fromFile(tokPath);
const B = 1024;
async function pass() {
  const out = [];
  for (let i = 0; i < texts.length; i += B) {
    out.push(await tok.encodeBatch(texts.slice(i, i + B), { addSpecialTokens: true }));
  }
  return out;
}
(async () => {
  let best = Infinity, tokens = 0;
  for (let r = 0; r <= reps; r++) {
    const t0 = process.hrtime.bigint();
    const out = await pass();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r > 0 && dt < best) best = dt;
    if (r === 0) tokens = out.reduce((a, b) => a + b.reduce((x, e) => x + e.getIds().length, 0), 0);
  }
  console.log(JSON.stringify({ impl: 'hf-tokenizers', threads: parseInt(process.env.RAYON_NUM_THREADS || '0', 10),
    lines: texts.length, tokens, bytes, seconds: +best.toFixed(4), tokens_per_s: Math.round(tokens / best),
    mb_per_s: +(bytes / best / 1e6).toFixed(2) }));
})();
