#!/bin/sh
# Fuzzes the filter path (parse -> features -> rules + Bayes -> verdict -> rewrite) with
# cargo-fuzz and libFuzzer. Not part of the test run: run it by hand, for as long as you like.
#
#   scripts/fuzz.sh [SECONDS] [SEED_DIR...]
#
# SECONDS defaults to 3600. Seeds: tests/fixtures/*.eml, plus any SEED_DIR given (for example a
# sample of the corpus fetched by scripts/fetch-corpus.sh). The working corpus is kept in
# fuzz/corpus/filter (not committed); every crashing input libFuzzer finds lands in
# fuzz/artifacts/filter: copy it into tests/fixtures/fuzz/ so the test suite replays it forever
# (tests/reliability.rs runs every file there through the real binary).
#
# The toolchain here is stable only, so the sanitizer is off (-s none): the crate forbids unsafe
# code, and the target checks the pass-through property itself. Debug assertions (-a) are on,
# so integer overflow panics too.
set -eu
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
seconds=${1:-3600}
[ $# -gt 0 ] && shift
mkdir -p corpus/filter artifacts/filter
cargo fuzz run -O -a -s none filter corpus/filter ../tests/fixtures "$@" -- \
    -max_total_time="$seconds" -max_len=131072 -timeout=20 -rss_limit_mb=4096 \
    -print_final_stats=1
