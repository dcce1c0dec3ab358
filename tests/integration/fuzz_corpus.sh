#!/bin/bash
# Replays every fuzz harness (tests/fuzz/fuzz_*.c, linked with the plain main of tests/fuzz/replay.c) on its committed
# corpus tests/fuzz/corpus/<name>/: seeds from the fixtures and every input that once crashed hb. In the SAN=1 build
# this is the same check libFuzzer makes, without clang; a failed check or sanitizer report fails the test.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${HB_BUILD:-$PWD/build}
n=0
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    bin=$build/fuzz-replay/$name
    [ -x "$bin" ] || { echo "fuzz_corpus: $bin is missing (make test builds it)" >&2; exit 1; }
    corpus=tests/fuzz/corpus/${name#fuzz_}
    [ -d "$corpus" ] || { echo "fuzz_corpus: $corpus is missing" >&2; exit 1; }
    "$bin" "$corpus"
    n=$((n + 1))
done
echo "fuzz_corpus: $n harnesses replayed"
