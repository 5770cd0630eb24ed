#!/usr/bin/env node
// Generates <name>.golden.json for every variant in variants.json: a base tokenizer from
// tests/data with some top-level components replaced ("override"), encoded by the HF tokenizers
// npm binding over texts.jsonl (lines with "pair" become pair cases). Same format as the other
// goldens. Regenerate with:
//   npm install --prefix bench-out/tok --ignore-scripts tokenizers@0.23.2
//   node tests/data/tokenizers-variants/gen.js bench-out/tok
const fs = require('fs');
const path = require('path');
const here = __dirname;
const { Tokenizer } = require(path.resolve(process.argv[2] || 'bench-out/tok', 'node_modules/tokenizers'));
const specs = JSON.parse(fs.readFileSync(path.join(here, 'variants.json'), 'utf8'));
const lines = fs.readFileSync(path.join(here, 'texts.jsonl'), 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
(async () => {
  for (const s of specs) {
    const tj = JSON.parse(fs.readFileSync(path.join(here, '..', s.base), 'utf8'));
    Object.assign(tj, s.override);
    const tok = Tokenizer.fromString(JSON.stringify(tj));
    const cases = [], pairs = [];
    for (const l of lines) {
      if (l.pair !== undefined) {
        const e = await tok.encode(l.text, l.pair, { addSpecialTokens: true });
        pairs.push({ text: l.text, pair: l.pair, ids: Array.from(e.getIds()), type_ids: Array.from(e.getTypeIds()) });
        continue;
      }
      const e = await tok.encode(l.text, null, { addSpecialTokens: true });
      const n = await tok.encode(l.text, null, { addSpecialTokens: false });
      const ids = Array.from(e.getIds());
      cases.push({ text: l.text, ids, ids_no_special: Array.from(n.getIds()), decoded: await tok.decode(ids, true) });
    }
    const out = '{"tokenizer":' + JSON.stringify(s.name) + ',"reference":"tokenizers npm 0.23.2","cases":[\n' +
      cases.map((c) => JSON.stringify(c)).join(',\n') + '\n],"pair_cases":[\n' + pairs.map((c) => JSON.stringify(c)).join(',\n') + '\n]}\n';
    fs.writeFileSync(path.join(here, s.name + '.golden.json'), out);
    console.log(s.name, cases.length, pairs.length);
  }
})();
