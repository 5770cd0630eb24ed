// 64 concurrent clients x 200 requests of mixed sizes: every request is answered exactly once,
// with the result the same input gets alone (batch invariance), no errors, bounded RSS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { env, golden, http, rssKiB } from './lib.mjs';

// TP_CONC_CLIENTS / TP_CONC_REQUESTS shrink the load for slow builds (sanitizers).
const CLIENTS = Number(process.env.TP_CONC_CLIENTS || 64);
const PER_CLIENT = Number(process.env.TP_CONC_REQUESTS || 200);
const G = golden('bert-embed');
const texts = G.cases.map((c) => c.input);

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// Mixed sizes: 1 to 24 inputs per request, short and long texts (the long ones truncated).
function makeRequest(r) {
  const n = 1 + Math.floor(r() ** 2 * 24);
  const picks = Array.from({ length: n }, () => Math.floor(r() * texts.length));
  return picks;
}

async function embed(picks) {
  const r = await http(env.embed, '/v1/embeddings', {
    key: env.embedKey,
    body: { input: picks.map((i) => texts[i]), truncate_prompt_tokens: -1, truncation_side: 'right' },
  });
  return r;
}

test('64 clients x 200 requests: exactly once, same as alone, bounded RSS', async () => {
  // Reference: each distinct text alone.
  const alone = [];
  for (let i = 0; i < texts.length; i++) {
    const r = await embed([i]);
    assert.equal(r.status, 200, r.text);
    alone.push(r.json.data[0].embedding);
  }

  const seen = new Set();
  let answered = 0;
  let mismatches = 0;
  const errors = [];
  const pid = env.embedPid;
  const rss = [];

  async function client(id, reqs) {
    const r = rng(1000 + id);
    for (let k = 0; k < reqs; k++) {
      const picks = makeRequest(r);
      let res;
      try {
        res = await embed(picks);
      } catch (e) {
        errors.push(`client ${id}: ${e.message}`);
        continue;
      }
      answered++;
      if (res.status !== 200) {
        errors.push(`client ${id}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
        continue;
      }
      assert.ok(!seen.has(res.json.id), 'duplicate response id');
      seen.add(res.json.id);
      if (res.json.data.length !== picks.length) {
        errors.push(`client ${id}: ${res.json.data.length} results for ${picks.length} inputs`);
        continue;
      }
      res.json.data.forEach((d, i) => {
        if (d.index !== i) mismatches++;
        const want = alone[picks[i]];
        for (let j = 0; j < want.length; j++) {
          if (Math.abs(d.embedding[j] - want[j]) > 1e-5) { mismatches++; break; }
        }
      });
    }
  }

  // Two rounds of 100 requests per client: RSS after round 2 must not grow past round 1's.
  const t0 = Date.now();
  for (let round = 0; round < 2; round++) {
    await Promise.all(Array.from({ length: CLIENTS }, (_, id) => client(id + round * CLIENTS,
      Math.ceil(PER_CLIENT / 2))));
    if (pid) rss.push(rssKiB(pid));
  }
  const secs = (Date.now() - t0) / 1000;
  console.log(`# ${answered} requests in ${secs.toFixed(1)} s (${(answered / secs).toFixed(0)}/s), ` +
    `RSS after rounds: ${rss.map((x) => (x / 1024).toFixed(1) + ' MiB').join(', ')}`);
  assert.deepEqual(errors.slice(0, 5), []);
  assert.equal(answered, CLIENTS * 2 * Math.ceil(PER_CLIENT / 2));
  assert.equal(seen.size, answered);
  assert.equal(mismatches, 0);
  if (pid && process.env.TP_RSS_CHECK !== '0') {
    assert.ok(rss[1] < 512 * 1024, `RSS ${rss[1]} KiB`);
    assert.ok(rss[1] - rss[0] < 48 * 1024, `RSS grew ${rss[0]} -> ${rss[1]} KiB`);
  }
  // The metrics saw batches with more than one sequence (requests were packed together).
  const m = await http(env.embed, '/metrics', { method: 'GET' });
  const count = Number(m.text.match(/^tidepool_batch_size_count (\d+)/m)[1]);
  const sum = Number(m.text.match(/^tidepool_batch_size_sum ([0-9.e+]+)/m)[1]);
  assert.ok(sum / count > 1, `mean batch size ${sum / count}`);
});
