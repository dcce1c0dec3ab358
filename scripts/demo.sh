#!/bin/bash
# make demo: the main job on the bundled example. Each stage prints what it did; outputs go to demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HB_BIN:-bin}
OUT=demo-out
rm -rf "$OUT"; mkdir -p "$OUT"

echo "== shards: pack the example samples, verify every checksum, print per-source stats =="
"$BIN/hb-inspect" pack examples/shard/samples.jsonl -o "$OUT/example.hbs"
"$BIN/hb-inspect" verify "$OUT/example.hbs"
"$BIN/hb-inspect" stats "$OUT/example.hbs"
echo "first sample (hb-inspect dump, cut to 300 characters):"
"$BIN/hb-inspect" dump "$OUT/example.hbs" | head -n 1 | cut -c1-300
echo
echo "demo done: outputs in $OUT/"
