// Graceful shutdown: on SIGTERM the server stops accepting, finishes in-flight requests and
// exits 0. Starts its own server so the others are not disturbed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { env, http } from './lib.mjs';

function startServer(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(env.cli, ['serve', join(env.data, 'models', 'bert-embed'), '--port', '0',
      '--threads', '1', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    p.stderr.on('data', (d) => {
      log += d;
      const m = log.match(/listening on port (\d+)/);
      if (m && !p.url) {
        p.url = `http://127.0.0.1:${m[1]}`;
        resolve(p);
      }
    });
    p.on('exit', (code) => { if (!p.url) reject(new Error(`server exited ${code}: ${log}`)); });
    p.log = () => log;
  });
}

test('SIGTERM: in-flight requests finish, then exit 0', async () => {
  const p = await startServer(['--max-batch-tokens', '256']);
  const exited = new Promise((resolve) => p.on('exit', (code, sig) => resolve({ code, sig })));
  const input = Array.from({ length: 4000 }, (_, i) => `in flight ${i}`);
  const inflight = http(p.url, '/v1/embeddings', { body: { input } });
  // Send SIGTERM once the server has the request's sequences queued (a fixed delay raced with
  // slow sanitizer builds, where the body was not yet received when the signal came).
  let done = false;
  inflight.finally(() => { done = true; });
  for (let t = 0; t < 2000 && !done; t++) {
    const m = await fetch(p.url + '/metrics').then((r) => r.text());
    const q = /^tidepool_queue_requests (\d+)/m.exec(m);
    if (q && Number(q[1]) > 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  p.kill('SIGTERM');
  const r = await inflight;
  assert.equal(r.status, 200, r.text.slice(0, 200));
  assert.equal(r.json.data.length, input.length);
  const { code, sig } = await exited;
  assert.equal(sig, null);
  assert.equal(code, 0, p.log());
  assert.match(p.log(), /SIGTERM received/);
  // no longer accepting
  await assert.rejects(fetch(p.url + '/health'));
});

test('SIGINT on an idle server exits 0', async () => {
  const p = await startServer([]);
  const exited = new Promise((resolve) => p.on('exit', (code) => resolve(code)));
  const r = await http(p.url, '/health', { method: 'GET' });
  assert.equal(r.status, 200);
  p.kill('SIGINT');
  assert.equal(await exited, 0);
});
