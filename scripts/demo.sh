#!/usr/bin/env bash
# Setup + the main job: installs dependencies, builds, and embeds two sentences with the bundled
# tiny model (tests/data/models/bert-embed, an all-MiniLM-L6-v2-shaped BERT with random weights).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
printf '%s\n' '"The quick brown fox jumps over the lazy dog."' '{"text": "tidepool embeds text"}' |
  build/tidepool embed tests/data/models/bert-embed
