// Batch-1 latency of ONNX Runtime (same session options as bench/ref/run_ort.js: 2 intra-op
// threads, graph optimization 'all') for the first 16-token workload sentence, to compare with
// tp_bench's latency16_p50_ms / p99.
//   node bench/ort_latency.js --model DIR --node-modules DIR/node_modules [--runs 300] [--json FILE]
'use strict';
const fs = require('fs');
const path = require('path');
const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf('--' + k); return i >= 0 ? args[i + 1] : d; };
const nm = path.resolve(opt('node-modules', 'bench-out/node_modules'));
const ort = require(path.join(nm, 'onnxruntime-node'));
const { Tokenizer } = require(path.join(nm, 'tokenizers'));
const model = opt('model');
const runs = Number(opt('runs', 300));
const texts = fs.readFileSync(path.join(__dirname, 'ref', 'workload.jsonl'), 'utf8').split('\n')
  .filter((l) => l.trim()).map((l) => JSON.parse(l).text);
(async () => {
  const tok = Tokenizer.fromFile(path.join(model, 'tokenizer.json'));
  let ids = null;
  for (const t of texts) {
    const e = await tok.encode(t);
    if (e.getIds().length === 16) { ids = e.getIds(); break; }
  }
  const so = { intraOpNumThreads: Number(opt('threads', 2)), interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
  const sess = await ort.InferenceSession.create(path.join(model, 'model.onnx'), so);
  const S = ids.length;
  const lat = [];
  for (let r = -20; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    const feeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, S]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
      token_type_ids: new ort.Tensor('int64', new BigInt64Array(S), [1, S]),
    };
    const out = await sess.run(feeds);
    const h = out.last_hidden_state.data; // mean pooling + normalize, as run_ort.js does
    const H = h.length / S, v = new Float32Array(H);
    for (let t = 0; t < S; t++) for (let c = 0; c < H; c++) v[c] += h[t * H + c] / S;
    let n = 0; for (let c = 0; c < H; c++) n += v[c] * v[c];
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r >= 0) lat.push(t);
  }
  lat.sort((a, b) => a - b);
  const res = { engine: 'onnxruntime-node', model, runs, latency16_p50_ms: lat[(runs - 1) >> 1], latency16_p99_ms: lat[Math.ceil(0.99 * runs) - 1] };
  const s = JSON.stringify(res, null, 2);
  console.log(s);
  if (opt('json')) fs.writeFileSync(opt('json'), s + '\n');
})();
