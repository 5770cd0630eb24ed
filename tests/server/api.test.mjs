// Endpoints against the fixtures' golden numbers, with the official openai client where the API
// is OpenAI's (/v1/embeddings) and plain HTTP for vLLM's pooling endpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  env, golden, assertClose, decodeBase64Floats, http, assertError, assertUsage,
} from './lib.mjs';

const G = golden('bert-embed');
const MAXLEN = G.max_length;
// The one case longer than max_length (its golden ids are truncated).
const fits = G.cases.filter((c) => c.input_ids.length < MAXLEN);
const long = G.cases.find((c) => c.input_ids.length >= MAXLEN);
const client = new OpenAI({ apiKey: env.embedKey, baseURL: env.embed + '/v1', maxRetries: 0 });

test('openai client: float embeddings match golden', async () => {
  const res = await client.embeddings.create({
    model: 'bert-embed', input: fits.map((c) => c.input), encoding_format: 'float',
  });
  assert.equal(res.object, 'list');
  assert.equal(res.model, 'bert-embed');
  assert.equal(res.data.length, fits.length);
  res.data.forEach((d, i) => {
    assert.equal(d.index, i);
    assert.equal(d.object, 'embedding');
    assertClose(d.embedding, fits[i].embedding, 1e-4, `case ${i}`);
  });
  const tokens = fits.reduce((n, c) => n + c.input_ids.length, 0);
  assert.equal(res.usage.prompt_tokens, tokens);
  assert.equal(res.usage.total_tokens, tokens);
});

test('openai client: default (client asks base64 and decodes) and explicit base64', async () => {
  const inputs = fits.slice(0, 5).map((c) => c.input);
  const dflt = await client.embeddings.create({ model: 'bert-embed', input: inputs });
  dflt.data.forEach((d, i) => assertClose(d.embedding, fits[i].embedding, 1e-4, `case ${i}`));
  const b64 = await client.embeddings.create({
    model: 'bert-embed', input: inputs, encoding_format: 'base64',
  });
  b64.data.forEach((d, i) => {
    assert.equal(typeof d.embedding, 'string');
    const v = decodeBase64Floats(d.embedding);
    assert.equal(v.length, G.cases[0].embedding.length);
    assertClose(v, fits[i].embedding, 1e-4, `case ${i}`);
  });
});

test('openai client: single string, token ids and token-id lists', async () => {
  const one = await client.embeddings.create({
    model: 'bert-embed', input: fits[0].input, encoding_format: 'float',
  });
  assert.equal(one.data.length, 1);
  assertClose(one.data[0].embedding, fits[0].embedding, 1e-4, 'string');
  const ids = await client.embeddings.create({
    model: 'bert-embed', input: fits[1].input_ids, encoding_format: 'float',
  });
  assertClose(ids.data[0].embedding, fits[1].embedding, 1e-4, 'ids');
  assert.equal(ids.usage.prompt_tokens, fits[1].input_ids.length);
  const lists = await client.embeddings.create({
    model: 'bert-embed', input: [fits[2].input_ids, fits[3].input_ids], encoding_format: 'float',
  });
  assertClose(lists.data[0].embedding, fits[2].embedding, 1e-4, 'ids 0');
  assertClose(lists.data[1].embedding, fits[3].embedding, 1e-4, 'ids 1');
});

test('openai client: dimensions (matryoshka model) truncates and re-normalizes', async () => {
  const mc = new OpenAI({ apiKey: 'unused', baseURL: env.mat + '/v1', maxRetries: 0 });
  for (const dim of [8, 16]) {
    const res = await mc.embeddings.create({
      model: env.matName, input: fits.slice(0, 4).map((c) => c.input), dimensions: dim,
      encoding_format: 'float',
    });
    assert.equal(res.model, env.matName);
    res.data.forEach((d, i) => {
      assert.equal(d.embedding.length, dim);
      const g = fits[i].embedding.slice(0, dim);
      const n = Math.hypot(...g);
      assertClose(d.embedding, g.map((x) => x / n), 1e-4, `dim ${dim} case ${i}`);
    });
  }
});

test('dimensions on a model without matryoshka: 400 (client raises BadRequestError)', async () => {
  await assert.rejects(
    client.embeddings.create({ model: 'bert-embed', input: 'x', dimensions: 8 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /matryoshka/.test(e.message),
  );
});

test('exact JSON shape of /v1/embeddings', async () => {
  const r = await http(env.embed, '/v1/embeddings', {
    key: env.embedKey, body: { model: 'bert-embed', input: ['a', 'b'] },
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  const j = r.json;
  assert.deepEqual(Object.keys(j), ['id', 'object', 'created', 'model', 'data', 'usage']);
  assert.match(j.id, /^embd-[0-9a-f]{32}$/);
  assert.equal(j.object, 'list');
  assert.ok(Number.isInteger(j.created) && Math.abs(j.created - Date.now() / 1000) < 600);
  for (const d of j.data) assert.deepEqual(Object.keys(d), ['index', 'object', 'embedding']);
  assertUsage(j.usage);
});

test('over-long input: 400 by default; truncate_prompt_tokens; --auto-truncate', async () => {
  const body = { model: 'bert-embed', input: long.input };
  const r = await http(env.embed, '/v1/embeddings', { key: env.embedKey, body });
  assertError(r, 400, 'input');
  assert.match(r.json.error.message, /maximum context length/);
  // truncate_prompt_tokens=-1 with right truncation = what HF did for the golden
  const t = await http(env.embed, '/v1/embeddings', {
    key: env.embedKey, body: { ...body, truncate_prompt_tokens: -1, truncation_side: 'right' },
  });
  assert.equal(t.status, 200, t.text);
  assertClose(t.json.data[0].embedding, long.embedding, 1e-4, 'truncated');
  assert.equal(t.json.usage.prompt_tokens, MAXLEN);
  // k tokens
  const k = await http(env.embed, '/v1/embeddings', {
    key: env.embedKey, body: { ...body, truncate_prompt_tokens: 10 },
  });
  assert.equal(k.status, 200, k.text);
  assert.equal(k.json.usage.prompt_tokens, 10);
  // k above the model's max: 400
  const big = await http(env.embed, '/v1/embeddings', {
    key: env.embedKey, body: { ...body, truncate_prompt_tokens: MAXLEN + 1 },
  });
  assertError(big, 400, 'truncate_prompt_tokens');
  // the --auto-truncate server truncates on its own (right side, as TEI)
  const a = await http(env.mat, '/v1/embeddings', { body: { input: long.input } });
  assert.equal(a.status, 200, a.text);
  assertClose(a.json.data[0].embedding, long.embedding, 1e-4, 'auto-truncate');
});

test('normalize=false returns the unnormalized embedding', async () => {
  const r = await http(env.embed, '/v1/embeddings', {
    key: env.embedKey, body: { input: fits[0].input, normalize: false },
  });
  assert.equal(r.status, 200, r.text);
  const v = r.json.data[0].embedding;
  const n = Math.hypot(...v);
  assertClose(v.map((x) => x / n), fits[0].embedding, 1e-4, 'direction');
});

test('add_special_tokens=false changes the token count', async () => {
  const r = await http(env.embed, '/v1/embeddings', {
    key: env.embedKey, body: { input: fits[0].input, add_special_tokens: false },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.usage.prompt_tokens, fits[0].input_ids.length - 2);
});

test('/pooling: sequence-level embed and token-level token_embed', async () => {
  const r = await http(env.embed, '/pooling', {
    key: env.embedKey, body: { model: 'bert-embed', input: [fits[0].input, fits[1].input] },
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json), ['id', 'object', 'created', 'model', 'data', 'usage']);
  assert.match(r.json.id, /^pool-/);
  r.json.data.forEach((d, i) => {
    assert.deepEqual(Object.keys(d), ['index', 'object', 'data']);
    assert.equal(d.object, 'pooling');
    assertClose(d.data, fits[i].embedding, 1e-4, `pool ${i}`);
  });
  const c0 = G.cases[0];
  const t = await http(env.embed, '/pooling', {
    key: env.embedKey, body: { input: c0.input, task: 'token_embed' },
  });
  assert.equal(t.status, 200, t.text);
  const rows = t.json.data[0].data;
  assert.equal(rows.length, c0.hidden_shape[0]);
  assert.equal(rows[0].length, c0.hidden_shape[1]);
  assertClose(rows.flat(), c0.hidden_states, 1e-4, 'hidden states');
  const bad = await http(env.embed, '/pooling', {
    key: env.embedKey, body: { input: 'x', task: 'classify' },
  });
  assertError(bad, 400);
  assert.match(bad.json.error.message, /supports: embed/);
});

test('/score and /v1/score with a cross-encoder: 1:1, 1:N, N:N, both field names', async () => {
  const C = golden('bert-cross-encoder').cases;
  for (const path of ['/score', '/v1/score']) {
    // N:N (text_1/text_2), including the two over-long pairs (need truncation)
    const r = await http(env.cross, path, {
      body: {
        text_1: C.map((c) => c.input), text_2: C.map((c) => c.pair), truncate_prompt_tokens: -1,
      },
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json), ['id', 'object', 'created', 'model', 'data', 'usage']);
    assert.equal(r.json.model, 'bert-cross-encoder');
    r.json.data.forEach((d, i) => {
      assert.deepEqual(Object.keys(d), ['index', 'object', 'score']);
      assert.equal(d.index, i);
      assert.equal(d.object, 'score');
      assertClose([d.score], [C[i].score], 1e-4, `pair ${i}`);
    });
    assertUsage(r.json.usage);
  }
  // 1:N with queries/documents; cases 0 and 1 share the query
  const q = await http(env.cross, '/score', {
    body: { queries: C[0].input, documents: [C[0].pair, C[1].pair] },
  });
  assert.equal(q.status, 200, q.text);
  assertClose(q.json.data.map((d) => d.score), [C[0].score, C[1].score], 1e-4, '1:N');
  // 1:1 strings
  const one = await http(env.cross, '/score', { body: { text_1: C[2].input, text_2: C[2].pair } });
  assertClose([one.json.data[0].score], [C[2].score], 1e-4, '1:1');
  // lengths 2:3 -> 400
  const bad = await http(env.cross, '/score', {
    body: { text_1: ['a', 'b'], text_2: ['a', 'b', 'c'] },
  });
  assertError(bad, 400);
});

test('/rerank, /v1/rerank, /v2/rerank: sorted, top_n, return_documents', async () => {
  const C = golden('bert-cross-encoder').cases;
  const docs = [C[0].pair, C[1].pair];
  const want = [C[0].score, C[1].score];
  for (const path of ['/rerank', '/v1/rerank', '/v2/rerank']) {
    const r = await http(env.cross, path, { body: { query: C[0].input, documents: docs } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json), ['id', 'model', 'usage', 'results']);
    assert.deepEqual(Object.keys(r.json.usage).sort(), ['prompt_tokens', 'total_tokens']);
    const res = r.json.results;
    assert.equal(res.length, 2);
    for (const x of res) {
      assert.deepEqual(Object.keys(x), ['index', 'document', 'relevance_score']);
      assert.equal(x.document.text, docs[x.index]);
      assertClose([x.relevance_score], [want[x.index]], 1e-4, `doc ${x.index}`);
    }
    assert.ok(res[0].relevance_score >= res[1].relevance_score, 'sorted descending');
  }
  const top = await http(env.cross, '/rerank', {
    body: { query: C[0].input, documents: docs, top_n: 1, return_documents: false },
  });
  assert.equal(top.json.results.length, 1);
  assert.deepEqual(Object.keys(top.json.results[0]), ['index', 'relevance_score']);
});

test('/score and /rerank with an embedding model use the cosine of the embeddings', async () => {
  const a = fits[1], b = fits[2];
  const cos = a.embedding.reduce((s, x, i) => s + x * b.embedding[i], 0);
  const r = await http(env.embed, '/score', {
    key: env.embedKey, body: { text_1: a.input, text_2: [b.input, a.input] },
  });
  assert.equal(r.status, 200, r.text);
  assertClose(r.json.data.map((d) => d.score), [cos, 1], 1e-4, 'cosine');
  const rr = await http(env.embed, '/rerank', {
    key: env.embedKey, body: { query: a.input, documents: [b.input, a.input] },
  });
  assert.equal(rr.status, 200, rr.text);
  assert.equal(rr.json.results[0].index, 1);
});

test('/classify matches golden probs and labels', async () => {
  const G2 = golden('bert-classifier');
  const labels = ['negative', 'neutral', 'positive'];
  const cases = G2.cases.filter((c) => c.input_ids.length < G2.max_length);
  const r = await http(env.cls, '/classify', {
    body: { model: 'bert-classifier', input: cases.map((c) => c.input) },
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json), ['id', 'object', 'created', 'model', 'data', 'usage']);
  assert.match(r.json.id, /^classify-/);
  r.json.data.forEach((d, i) => {
    assert.deepEqual(Object.keys(d), ['index', 'label', 'probs', 'num_classes']);
    assert.equal(d.num_classes, 3);
    assertClose(d.probs, cases[i].probs, 1e-4, `case ${i}`);
    const best = cases[i].probs.indexOf(Math.max(...cases[i].probs));
    assert.equal(d.label, labels[best]);
  });
  // activation=false / use_activation=false: raw logits
  const raw = await http(env.cls, '/classify', {
    body: { input: cases[0].input, use_activation: false },
  });
  assertClose(raw.json.data[0].probs, cases[0].logits, 1e-4, 'logits');
  // a classifier has no embeddings
  const e = await http(env.cls, '/v1/embeddings', { body: { input: 'x' } });
  assertError(e, 400);
  assert.match(e.json.error.message, /supports: .*classify/);
});

test('/tokenize and /detokenize', async () => {
  const c = fits[0];
  const t = await http(env.embed, '/tokenize', {
    key: env.embedKey, body: { model: 'bert-embed', prompt: c.input },
  });
  assert.equal(t.status, 200, t.text);
  assert.deepEqual(t.json, {
    count: c.input_ids.length, max_model_len: MAXLEN, tokens: c.input_ids, token_strs: null,
  });
  const s = await http(env.embed, '/tokenize', {
    key: env.embedKey, body: { prompt: c.input, add_special_tokens: false, return_token_strs: true },
  });
  assert.deepEqual(s.json.tokens, c.input_ids.slice(1, -1));
  assert.equal(s.json.token_strs.length, s.json.count);
  const d = await http(env.embed, '/detokenize', {
    key: env.embedKey, body: { tokens: c.input_ids.slice(1, -1) },
  });
  assert.equal(d.status, 200, d.text);
  assert.deepEqual(Object.keys(d.json), ['prompt']);
  assert.equal(d.json.prompt, c.input.toLowerCase());
  const bad = await http(env.embed, '/detokenize', { key: env.embedKey, body: { tokens: [1e9] } });
  assertError(bad, 400, 'tokens');
});

test('GET /v1/models, /health, /ping, /version, /metrics', async () => {
  const m = await http(env.embed, '/v1/models', { method: 'GET', key: env.embedKey });
  assert.equal(m.status, 200);
  assert.equal(m.json.object, 'list');
  assert.equal(m.json.data.length, 1);
  assert.equal(m.json.data[0].id, 'bert-embed');
  assert.equal(m.json.data[0].object, 'model');
  assert.equal(m.json.data[0].max_model_len, MAXLEN);
  const models = await client.models.list();
  assert.equal(models.data[0].id, 'bert-embed');
  for (const p of ['/health', '/ping']) {
    const r = await http(env.embed, p, { method: 'GET' });
    assert.equal(r.status, 200);
  }
  const v = await http(env.embed, '/version', { method: 'GET' });
  assert.match(v.json.version, /^\d+\.\d+\.\d+/);
  const x = await http(env.embed, '/metrics', { method: 'GET' });
  assert.equal(x.status, 200);
  assert.match(x.headers.get('content-type'), /^text\/plain/);
  for (const name of ['tidepool_requests_total{endpoint="/v1/embeddings",status="200"}',
    'tidepool_queue_depth', 'tidepool_batch_size_bucket', 'tidepool_batch_tokens_bucket',
    'tidepool_queue_seconds_bucket', 'tidepool_tokenize_seconds_bucket',
    'tidepool_inference_seconds_bucket', 'tidepool_requests_total{endpoint="/v1/embeddings",status="400"}']) {
    assert.ok(x.text.includes(name), `metrics lack ${name}`);
  }
  // every sample line is "name{labels} value" or "name value"
  for (const line of x.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    assert.match(line, /^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/, line);
  }
});

test('model name mismatch: 404', async () => {
  const r = await http(env.embed, '/v1/embeddings', {
    key: env.embedKey, body: { model: 'gpt-5', input: 'x' },
  });
  assertError(r, 404, 'model');
});
