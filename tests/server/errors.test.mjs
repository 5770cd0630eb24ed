// Malformed input: every case gets the right status and an OpenAI-shaped error body, and the
// server keeps serving afterwards.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { env, golden, http, assertError, assertClose } from './lib.mjs';

const KEY = env.embedKey;
const G = golden('bert-embed');

async function stillServing() {
  const r = await http(env.embed, '/v1/embeddings', { key: KEY, body: { input: G.cases[0].input } });
  assert.equal(r.status, 200, r.text);
  assertClose(r.json.data[0].embedding, G.cases[0].embedding, 1e-4, 'after error');
}

after(stillServing);

test('invalid JSON: 400', async () => {
  for (const body of ['{', '{"input": "a",}', 'nan', '', '{"input": "a"} trailing', '\u0000']) {
    const r = await http(env.embed, '/v1/embeddings', {
      key: KEY, body, headers: { 'content-type': 'application/json' },
    });
    assertError(r, 400);
  }
  await stillServing();
});

test('valid JSON that is not an object: 400', async () => {
  for (const body of ['[]', '"input"', '42', 'null']) {
    const r = await http(env.embed, '/v1/embeddings', { key: KEY, body });
    assertError(r, 400);
  }
});

test('wrong types: 400 naming the field', async () => {
  const cases = [
    [{ input: 5 }, 'input'],
    [{ input: { text: 'a' } }, 'input'],
    [{ input: ['a', 1] }, 'input'],
    [{ input: [[1, 2], 'a'] }, 'input'],
    [{ input: [1.5] }, 'input'],
    [{ input: [-1] }, 'input'],
    [{ input: [99999999] }, 'input'],
    [{ input: 'a', encoding_format: 'hex' }, 'encoding_format'],
    [{ input: 'a', encoding_format: 1 }, 'encoding_format'],
    [{ input: 'a', dimensions: 'x' }, 'dimensions'],
    [{ input: 'a', truncate_prompt_tokens: 'all' }, 'truncate_prompt_tokens'],
    [{ input: 'a', add_special_tokens: 'no' }, 'add_special_tokens'],
    [{ input: 'a', normalize: 'yes' }, 'normalize'],
    [{ input: 'a', user: 42 }, 'user'],
    [{ input: 'a', model: ['bert-embed'] }, 'model'],
  ];
  for (const [body, param] of cases) {
    const r = await http(env.embed, '/v1/embeddings', { key: KEY, body });
    assertError(r, 400, param);
  }
  const s = await http(env.cross, '/score', { body: { text_1: 1, text_2: 'a' } });
  assertError(s, 400, 'text_1');
  const rr = await http(env.cross, '/rerank', { body: { query: 'q', documents: 'not a list' } });
  assertError(rr, 400, 'documents');
  const rn = await http(env.cross, '/rerank', { body: { query: 'q', documents: ['a'], top_n: 'x' } });
  assertError(rn, 400, 'top_n');
  const t = await http(env.embed, '/tokenize', { key: KEY, body: { prompt: 5 } });
  assertError(t, 400, 'prompt');
});

test('missing and empty input: 400', async () => {
  for (const body of [{}, { input: [] }, { input: null }, { input: [[]] }]) {
    const r = await http(env.embed, '/v1/embeddings', { key: KEY, body });
    assertError(r, 400, 'input');
  }
  const r = await http(env.cross, '/rerank', { body: { query: 'q', documents: [] } });
  assertError(r, 400, 'documents');
});

test('10k inputs in one request are split into batches and answered', async () => {
  const n = 10000;
  const input = Array.from({ length: n }, (_, i) => G.cases[i % G.cases.length].input);
  const r = await http(env.embed, '/v1/embeddings', {
    key: KEY, body: { input, truncate_prompt_tokens: -1, truncation_side: 'right' },
  });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(r.json.data.length, n);
  for (const i of [0, 1, 777, 4242, n - 1]) {
    assert.equal(r.json.data[i].index, i);
    assertClose(r.json.data[i].embedding, G.cases[i % G.cases.length].embedding, 1e-4, `#${i}`);
  }
});

test('a 50 MB body: 413, connection survives for the next client', async () => {
  const big = '{"input":"' + 'a'.repeat(50 * 1024 * 1024) + '"}';
  const r = await http(env.embed, '/v1/embeddings', {
    key: KEY, body: big, headers: { 'content-type': 'application/json' },
  });
  assertError(r, 413);
  await stillServing();
  // A Content-Length far above any limit is refused as soon as the headers arrive.
  const raw = await new Promise((resolve, reject) => {
    const u = new URL(env.embed);
    const s = net.connect(Number(u.port), u.hostname, () => s.write(
      `POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Length: 900000000\r\n\r\n{"in`));
    let buf = '';
    s.on('data', (d) => { buf += d; });
    s.on('close', () => resolve(buf));
    s.on('error', reject);
  });
  assert.match(raw, /^HTTP\/1\.1 413/);
  assert.match(raw, /Connection: close/i);
  assertError({ status: 413, text: '', json: JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) },
    413);
  await stillServing();
});

test('invalid UTF-8 in the body: 400', async () => {
  const head = Buffer.from('{"input":"abc');
  const tail = Buffer.from('def"}');
  for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]]) {
    const body = new Uint8Array(Buffer.concat([head, Buffer.from(bad), tail]));
    const r = await http(env.embed, '/v1/embeddings', {
      key: KEY, body, headers: { 'content-type': 'application/json' },
    });
    assertError(r, 400);
  }
  // an escaped lone surrogate is rejected too
  const s = await http(env.embed, '/v1/embeddings', {
    key: KEY, body: '{"input":"\\ud800"}', headers: { 'content-type': 'application/json' },
  });
  assertError(s, 400);
});

test('unknown fields are ignored', async () => {
  const r = await http(env.embed, '/v1/embeddings', {
    key: KEY,
    body: { input: G.cases[0].input, foo: 1, bar: { baz: [1, 2, 3] }, priority: 0, request_id: 'x' },
  });
  assert.equal(r.status, 200, r.text);
  assertClose(r.json.data[0].embedding, G.cases[0].embedding, 1e-4, 'unknown fields');
});

test('API key: missing or wrong is 401; open routes stay open', async () => {
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: KEY },
    { authorization: `Bearer ${KEY}x` }, { authorization: 'Basic abc' }]) {
    const r = await http(env.embed, '/v1/embeddings', { headers, body: { input: 'a' } });
    assertError(r, 401);
    const m = await http(env.embed, '/v1/models', { method: 'GET', headers });
    assertError(m, 401);
  }
  for (const p of ['/health', '/ping', '/version', '/metrics']) {
    const r = await http(env.embed, p, { method: 'GET' });
    assert.equal(r.status, 200, p);
  }
});

test('wrong method: 405 with Allow; unknown route: 404', async () => {
  for (const [method, path] of [['GET', '/v1/embeddings'], ['PUT', '/score'],
    ['DELETE', '/rerank'], ['POST', '/health'], ['POST', '/v1/models']]) {
    const r = await http(env.embed, path, { method, key: KEY });
    assertError(r, 405);
    assert.ok(r.headers.get('allow'), 'Allow header');
  }
  for (const path of ['/', '/v1/embedding', '/v1/chat/completions', '/metrics/x']) {
    const r = await http(env.embed, path, { method: 'GET', key: KEY });
    assertError(r, 404);
  }
});

test('a task the model cannot do: 400 naming the tasks it can', async () => {
  const r = await http(env.embed, '/classify', { key: KEY, body: { input: 'a' } });
  assertError(r, 400);
  assert.match(r.json.error.message, /supports: embed/);
  const c = await http(env.cls, '/v1/embeddings', { body: { input: 'a' } });
  assertError(c, 400);
  assert.match(c.json.error.message, /classify/);
});

test('over --max-concurrent-requests: 429 at once', async () => {
  // The classifier server allows 2 requests at a time: a burst of slow requests must see 429s
  // for the excess, and each answer is either 200 or 429.
  const input = Array.from({ length: 3000 }, (_, i) => `sentence number ${i} for the queue`);
  const burst = await Promise.all(Array.from({ length: 8 }, () =>
    http(env.cls, '/classify', { body: { input } })));
  const codes = burst.map((r) => r.status);
  assert.ok(codes.every((c) => c === 200 || c === 429), codes.join(','));
  assert.ok(codes.includes(429), `no 429 in ${codes}`);
  assert.ok(codes.includes(200), `no 200 in ${codes}`);
  for (const r of burst.filter((x) => x.status === 429)) assertError(r, 429);
});

test('a client that disconnects has its queued work dropped', async () => {
  // A big request on a raw socket, closed right after sending: the server notices while the
  // request waits for batches, drops its remaining sequences and counts it as status 499.
  const metric = 'tidepool_requests_total{endpoint="/classify",status="499"}';
  const count = async () => {
    const m = await http(env.cls, '/metrics', { method: 'GET' });
    const line = m.text.split('\n').find((l) => l.startsWith(metric));
    return { dropped: line ? Number(line.split(' ')[1]) : 0, text: m.text };
  };
  const before = await count();
  const input = Array.from({ length: 20000 }, (_, i) => `dropped request ${i}`);
  const body = JSON.stringify({ input });
  await new Promise((resolve, reject) => {
    const u = new URL(env.cls);
    const s = net.connect(Number(u.port), u.hostname, () => {
      s.write(`POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, () => {
        setTimeout(() => { s.destroy(); resolve(); }, 50);
      });
    });
    s.on('error', reject);
  });
  let now = before;
  for (let i = 0; i < 200 && now.dropped === before.dropped; i++) {
    await new Promise((r) => setTimeout(r, 25));
    now = await count();
  }
  assert.equal(now.dropped, before.dropped + 1, 'the request was not dropped');
  const depth = Number(now.text.match(/^tidepool_queue_depth (\d+)/m)[1]);
  assert.equal(depth, 0);
  const r = await http(env.cls, '/classify', { body: { input: 'still here' } });
  assert.equal(r.status, 200);
});

// Raw HTTP/1.1 over one socket: returns the concatenated response bytes once `want` responses
// (counted by status lines) have arrived and their bodies are complete.
function rawExchange(url, payload, want) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const s = net.connect(Number(u.port), u.hostname, () => s.write(payload));
    let buf = '';
    const done = () => {
      const parts = buf.split(/(?=HTTP\/1\.1 \d{3})/);
      if (parts.length < want) return false;
      return parts.every((p) => {
        const m = p.match(/content-length: (\d+)\r\n/i);
        const i = p.indexOf('\r\n\r\n');
        return m && i >= 0 && Buffer.byteLength(p.slice(i + 4)) >= Number(m[1]);
      });
    };
    s.on('data', (d) => {
      buf += d.toString('utf8');
      if (done()) { s.destroy(); resolve(buf); }
    });
    s.on('error', reject);
    setTimeout(() => { s.destroy(); reject(new Error(`timeout; got: ${buf.slice(0, 300)}`)); }, 10000);
  });
}

test('chunked request bodies and pipelined keep-alive requests', async () => {
  const body = JSON.stringify({ input: G.cases[0].input });
  const half = Math.floor(body.length / 2);
  const chunk = (s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
  const chunked = `POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n` +
    `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
    chunk(body.slice(0, half)) + chunk(body.slice(half)) + '0\r\n\r\n';
  const one = await rawExchange(env.embed, chunked, 1);
  assert.match(one, /^HTTP\/1\.1 200/);
  const json = JSON.parse(one.slice(one.indexOf('\r\n\r\n') + 4));
  assertClose(json.data[0].embedding, G.cases[0].embedding, 1e-4, 'chunked');

  const req = (input) => {
    const b = JSON.stringify({ input });
    return `POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;
  };
  const two = await rawExchange(env.embed, req(G.cases[1].input) + req(G.cases[2].input) +
    `GET /nope HTTP/1.1\r\nHost: x\r\n\r\n`, 3);
  const parts = two.split(/(?=HTTP\/1\.1 \d{3})/);
  assert.equal(parts.length, 3);
  assert.match(parts[0], /^HTTP\/1\.1 200/);
  assert.match(parts[1], /^HTTP\/1\.1 200/);
  assert.match(parts[2], /^HTTP\/1\.1 404/);
  for (const [k, i] of [[0, 1], [1, 2]]) {
    const j = JSON.parse(parts[k].slice(parts[k].indexOf('\r\n\r\n') + 4));
    assertClose(j.data[0].embedding, G.cases[i].embedding, 1e-4, `pipelined ${k}`);
  }
});
