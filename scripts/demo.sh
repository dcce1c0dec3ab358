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
"$BIN/hb-inspect" dump "$OUT/example.hbs" > "$OUT/example.jsonl"
head -n 1 "$OUT/example.jsonl" | cut -c1-300
echo
echo "== tokenizer: Honeybee's chunk-wise prompt encoding of a 1-turn VQA prompt (M = 4 image positions) =="
TOK=../shared/fixtures/tokenizers/llama/tokenizer.json
echo '"The following is a conversation between a curious human and AI assistant.\nHuman: <image>\nHuman: What color is the bus?\nAI: red"' \
  | "$BIN/hb-tok" prompt --tokenizer "$TOK" --visual-tokens 4 --max-length 1023
echo
echo "== templates: lint every shipped set, then render one VQAv2 sample with two sets =="
"$BIN/hb-prep" lint-templates templates/*.yaml
line='{"id":"vqav2/demo","image":true,"examples":[{"question":"What color is the bus?","answer":"red"},{"question":"How many people are there?","answer":"2"}]}'
for set in honeybee multi-flip; do
  echo "-- templates/$set.yaml, seed 1:"
  echo "$line" | "$BIN/hb-prep" render --templates "templates/$set.yaml" --dataset vqav2 --seed 1 \
    | python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); print(r["text"]); print("choices:", json.dumps(r["choices"]))'
done
echo
echo "demo done: outputs in $OUT/"
