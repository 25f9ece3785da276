#!/usr/bin/env bash
# How well does a fresh install do, before the user has trained anything? Scores the
# SpamAssassin corpus's 2003-2005 folders (easy-ham-2, spam-2) with an empty database, so only
# the content rules and the built-in starter table (built from the 2002 folders) decide.
# Prints accuracy, false positives and false negatives at the default threshold.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-corpus}
scripts/fetch-corpus.sh "$corpus" >&2
data=$(find "$corpus" -type d -name data -path '*package/data' | head -n 1)
# The binary's path depends on the cargo configuration (target/<host triple>/release/ here).
bin=$(cargo build --quiet --release --message-format=json \
  | python3 -c 'import sys, json; print(next(m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable") and m["target"]["name"] == "spamfilt"))')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
find "$data/easy-ham-2" -name '*.txt' | sort > "$tmp/ham.list"
find "$data/spam-2" -name '*.txt' | sort > "$tmp/spam.list"
"$bin" --db "$tmp/empty-db" --config /dev/null -q check "@$tmp/ham.list" > "$tmp/ham.tsv"
"$bin" --db "$tmp/empty-db" --config /dev/null -q check "@$tmp/spam.list" > "$tmp/spam.tsv"
python3 - "$tmp/ham.tsv" "$tmp/spam.tsv" <<'PY'
import sys
ham = [l.split('\t') for l in open(sys.argv[1])]
spam = [l.split('\t') for l in open(sys.argv[2])]
fp = sum(r[1] == 'spam' for r in ham)
fn = sum(r[1] == 'ham' for r in spam)
n = len(ham) + len(spam)
print(f"fresh install (empty database: rules + starter table) on easy-ham-2 + spam-2:")
print(f"  messages {n} ({len(ham)} ham, {len(spam)} spam)")
print(f"  accuracy {100 * (n - fp - fn) / n:.2f}%")
print(f"  false positives {fp} ({100 * fp / len(ham):.2f}% of ham)")
print(f"  false negatives {fn} ({100 * fn / len(spam):.2f}% of spam)")
PY
