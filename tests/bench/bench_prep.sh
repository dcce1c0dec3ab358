#!/bin/bash
# hb-prep throughput per source and for a whole recipe, next to the Python pipeline's dominant costs (json.load of
# the raw files + Honeybee's chunk-wise encode_prompt with HF `tokenizers`), one core each, in one run.
# Inputs: every raw format of examples/, scaled with varied text by gen_prep_data.py (HB_BENCH_SCALE, default 0.5
# = about 75 MB), plus the real VSR train file. hb runs with -j 1 and --no-images (images are bench_image's).
# Prints records/s and MB/s of both and the ratio (Python time / hb time); MB are raw input bytes.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${HB_BIN:-bin}
SHARED=${HB_SHARED:-../shared}
python3 -c "import tokenizers, yaml" 2>/dev/null || { echo "skipped: needs the PyPI packages tokenizers and pyyaml"; exit 0; }
TOK=$(cd "$SHARED" && pwd)/fixtures/tokenizers/llama/tokenizer.json
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
python3 tests/bench/gen_prep_data.py "$T/data" "${HB_BENCH_SCALE:-0.5}" > /dev/null
run() { # RECIPE NAME: hb-prep timed, then the Python side on the same inputs and prompts
  local recipe=$1 name=$2
  local start wall
  start=$(date +%s.%N)
  "$BIN/hb-prep" "$recipe" -o "$T/$name/out" -j 1 --no-images -q
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
  # the prompts the Python side tokenizes: hb's render inputs rendered by hb-prep render (not timed)
  "$BIN/hb-prep" "$recipe" -o "$T/$name/in" --inputs --no-images -q
  mkdir -p "$T/$name/texts"
  for f in "$T/$name"/in/*.inputs.jsonl; do
    s=$(basename "$f" .inputs.jsonl)
    "$BIN/hb-prep" render --templates templates/honeybee.yaml --seed 1 "$f" > "$T/$name/texts/$s.jsonl"
  done
  echo "--- $name: hb-prep -j 1 wall time ${wall}s (per-source seconds from its stats files; $(nproc) cores here)"
  TOKENIZERS_PARALLELISM=false python3 tests/bench/prep_reference.py "$recipe" "$T/$name/texts" "$T/$name/out" "$TOK"
}
run "$T/data/bench.yaml" scaled
sed -e "s|^tokenizer: .*|tokenizer: $TOK|" -e "s|\.\./|$PWD/|g" recipes/demo.yaml > "$T/demo.yaml"
run "$T/demo.yaml" demo
