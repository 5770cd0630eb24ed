// Shared helpers for the server tests. The servers are started by tests/server.test.sh, which
// passes their URLs in the environment (see that script).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const env = {
  embed: process.env.TP_EMBED_URL,         // bert-embed, --api-key
  embedKey: process.env.TP_API_KEY,
  embedPid: Number(process.env.TP_EMBED_PID || 0),
  mat: process.env.TP_MAT_URL,             // bert-embed, matryoshka override, --auto-truncate
  matName: process.env.TP_MAT_NAME,
  cross: process.env.TP_CROSS_URL,         // bert-cross-encoder
  cls: process.env.TP_CLS_URL,             // bert-classifier, --max-concurrent-requests 2
  data: process.env.TP_DATA,
  cli: process.env.TP_CLI,
};

for (const k of ['embed', 'mat', 'cross', 'cls', 'data']) {
  if (!env[k]) throw new Error(`missing environment for ${k}: run through tests/server.test.sh`);
}

export function golden(model) {
  return JSON.parse(readFileSync(join(env.data, 'models', model, 'golden.json'), 'utf8'));
}

export function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length, `length ${a.length} != ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

export function assertClose(a, b, tol = 1e-4, what = '') {
  const d = maxAbsDiff(a, b);
  assert.ok(d <= tol, `${what}: max abs diff ${d} > ${tol}`);
}

export function decodeBase64Floats(s) {
  const buf = Buffer.from(s, 'base64');
  assert.equal(buf.length % 4, 0);
  const out = [];
  for (let i = 0; i < buf.length; i += 4) out.push(buf.readFloatLE(i));
  return out;
}

// Plain HTTP: returns {status, headers, text, json}.
export async function http(base, path, { method = 'POST', body, headers = {}, key } = {}) {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  let payload = body;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    payload = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const r = await fetch(base + path, { method, body: payload, headers: h });
  const text = await r.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: r.status, headers: r.headers, text, json };
}

// The OpenAI error shape, exactly.
export function assertError(r, status, paramMatch) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.ok(r.json && r.json.error, `no error body: ${r.text}`);
  assert.deepEqual(Object.keys(r.json).sort(), ['error']);
  const e = r.json.error;
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(e.code, status);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
  assert.equal(typeof e.type, 'string');
  if (paramMatch !== undefined) assert.equal(e.param, paramMatch);
  else assert.ok(e.param === null || typeof e.param === 'string');
}

export function assertUsage(u) {
  assert.deepEqual(Object.keys(u).sort(), ['prompt_tokens', 'total_tokens']);
  assert.ok(Number.isInteger(u.prompt_tokens) && u.prompt_tokens > 0);
  assert.equal(u.total_tokens, u.prompt_tokens);
}

export async function healthy(base) {
  const r = await fetch(base + '/health');
  assert.equal(r.status, 200);
}

export function rssKiB(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = s.match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : 0;
}
