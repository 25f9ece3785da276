#!/usr/bin/env bash
# Rebuilds data/starter.bin, the starter token table built into the binary, from the public
# SpamAssassin corpus (public domain; fetched, never committed). Rerun it whenever the tokenizer
# changes (a unit test fails until you do).
#
# The table is built from the corpus's 2002 folders only (easy-ham-1, hard-ham-1, spam-1), so
# that its 2003-2005 folders (easy-ham-2, spam-2) can measure a fresh install on mail the table
# never saw: scripts/fresh-install-eval.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-corpus}
scripts/fetch-corpus.sh "$corpus" >&2
data=$(find "$corpus" -type d -name data -path '*package/data' | head -n 1)
[ -n "$data" ] || { echo "build-starter: no package/data folder under $corpus" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
find "$data/easy-ham-1" "$data/hard-ham-1" -name '*.txt' | sort > "$tmp/ham.list"
find "$data/spam-1" -name '*.txt' | sort > "$tmp/spam.list"
cargo run --quiet --release --example build_starter -- --ham "@$tmp/ham.list" --spam "@$tmp/spam.list" --out data/starter.bin
