// Every fixture family through the server: each test starts its own server on a free port and
// compares the endpoint that fits the model with the golden numbers (1e-4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { env, golden, http, assertClose } from './lib.mjs';

async function withServer(model, args, fn) {
  const p = spawn(env.cli, ['serve', join(env.data, 'models', model), '--port', '0',
    '--threads', '1', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    p.stderr.on('data', (d) => {
      log += d;
      const m = log.match(/listening on port (\d+)/);
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
    p.on('exit', (code) => reject(new Error(`${model}: server exited ${code}: ${log}`)));
  });
  const exited = new Promise((resolve) => p.on('exit', (code) => resolve(code)));
  try {
    await fn(url);
  } finally {
    p.kill('SIGTERM');
  }
  assert.equal(await exited, 0, `${model}: exit status (log: ${log})`);
}

const trunc = { truncate_prompt_tokens: -1, truncation_side: 'right' };

for (const model of ['bert-embed-cls-dense', 'xlmr-embed', 'modernbert-embed', 'qwen2-embed',
  'qwen3-embed', 'llama-embed']) {
  test(`${model}: /v1/embeddings matches golden`, async () => {
    const G = golden(model);
    await withServer(model, [], async (url) => {
      const r = await http(url, '/v1/embeddings', {
        body: { input: G.cases.map((c) => c.input), ...trunc },
      });
      assert.equal(r.status, 200, r.text);
      r.json.data.forEach((d, i) => assertClose(d.embedding, G.cases[i].embedding, 1e-4,
        `${model} case ${i}`));
      const tokens = G.cases.reduce((n, c) => n + c.input_ids.length, 0);
      assert.equal(r.json.usage.prompt_tokens, tokens);
      for (const pc of G.prompt_cases || []) {
        const p = await http(url, '/v1/embeddings', {
          body: { input: pc.input, prompt_name: pc.prompt_name },
        });
        assert.equal(p.status, 200, p.text);
        assertClose(p.json.data[0].embedding, pc.embedding, 1e-4, `prompt ${pc.prompt_name}`);
      }
    });
  });
}

test('xlmr-reranker: /score and /rerank match golden', async () => {
  const C = golden('xlmr-reranker').cases;
  await withServer('xlmr-reranker', [], async (url) => {
    const r = await http(url, '/score', {
      body: { queries: C.map((c) => c.input), documents: C.map((c) => c.pair), ...trunc },
    });
    assert.equal(r.status, 200, r.text);
    assertClose(r.json.data.map((d) => d.score), C.map((c) => c.score), 1e-4, 'scores');
    const rr = await http(url, '/v2/rerank', {
      body: { query: C[0].input, documents: [C[0].pair], ...trunc },
    });
    assertClose([rr.json.results[0].relevance_score], [C[0].score], 1e-4, 'rerank');
  });
});

for (const model of ['distilbert-classifier', 'qwen2-classifier']) {
  test(`${model}: /classify matches golden`, async () => {
    const C = golden(model).cases;
    await withServer(model, [], async (url) => {
      const r = await http(url, '/classify', { body: { input: C.map((c) => c.input), ...trunc } });
      assert.equal(r.status, 200, r.text);
      r.json.data.forEach((d, i) => assertClose(d.probs, C[i].probs, 1e-4, `case ${i}`));
    });
  });
}

test('qwen2-reward: /pooling returns per-token rewards', async () => {
  const C = golden('qwen2-reward').cases;
  await withServer('qwen2-reward', [], async (url) => {
    const r = await http(url, '/pooling', { body: { input: C.map((c) => c.input), ...trunc } });
    assert.equal(r.status, 200, r.text);
    r.json.data.forEach((d, i) => {
      assert.equal(d.data.length, C[i].shape[0]);
      assertClose(d.data.flat(), C[i].token_logits, 1e-4, `case ${i}`);
    });
  });
});

test('qwen2-prm: /pooling returns step probabilities (--pooler-config step_tag_id)', async () => {
  const C = golden('qwen2-prm').cases.filter((c) => (c.step_probs || []).length > 0);
  const cfg = JSON.stringify({ pooling_type: 'STEP', step_tag_id: C[0].step_tag_id });
  await withServer('qwen2-prm', ['--pooler-config', cfg], async (url) => {
    const r = await http(url, '/pooling', { body: { input: C.map((c) => c.input), ...trunc } });
    assert.equal(r.status, 200, r.text);
    r.json.data.forEach((d, i) => assertClose(d.data.flat(), C[i].step_probs.flat(), 1e-4,
      `case ${i}`));
  });
});
