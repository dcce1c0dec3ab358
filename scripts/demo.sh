#!/bin/bash
# make demo: the whole pipeline on the bundled examples, the way a user runs it:
#   hb-prep  every raw format in examples/ -> tokenized shards + image store + stats + rejects (recipes/demo.yaml)
#   hb-mix   the demo mix -> an exact, resumable training stream (plan + realised table)
#   hb-train a tiny Honeybee, fine-tuned on that stream on the CPU -> checkpoints, train.jsonl, loss.svg
#   checkpoints in PyTorch's pytorch_model-*.bin form load like safetensors; a pickle that calls code is refused
# Outputs go to demo-out/. Takes well under a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HB_BIN:-bin}
OUT=demo-out
rm -rf "$OUT"; mkdir -p "$OUT"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}   # OpenMP threads sleep instead of spinning on a shared machine

echo "== 1. hb-prep: every raw format in examples/ -> shards, stats, rejects, image store (recipes/demo.yaml) =="
"$BIN/hb-prep" recipes/demo.yaml -j 2
"$BIN/hb-inspect" verify "$OUT/shards" | tail -n 2
"$BIN/hb-inspect" stats "$OUT/shards"
echo "-- rejected records and images (file, position, reason):"
cat "$OUT"/shards/*.rejects.jsonl | cut -c1-200
echo "-- one GQA sample (hb-inspect dump; its template and dedup choices recorded):"
"$BIN/hb-inspect" dump "$OUT/shards/gqa-00000.hbs" > "$OUT/gqa.jsonl"
head -n 1 "$OUT/gqa.jsonl" | python3 -c 'import json,sys
s=json.loads(sys.stdin.readline())
print("id:", s["id"], " records:", s["records"], " choices:", json.dumps(s["choices"]))
print("".join(("\n" if i else "") + ("Human: " if t["role"]=="human" else "AI: " if t["role"]=="ai" else "") + t["text"] for i,t in enumerate(s["turns"])))
print("tokens:", s["n_tokens"], " supervised:", s["n_supervised"], " image tokens:", s["n_image_tokens"])'
"$BIN/hb-inspect" image "$OUT/shards" 0 -o "$OUT/sample0.png"
echo

echo "== 1b. hb-prep on every real file of ../shared/fixtures/real, as downloaded (recipes/shared-real.yaml) =="
"$BIN/hb-prep" recipes/shared-real.yaml -o "$OUT/real" -j 2 2>&1 | tail -n 1
"$BIN/hb-inspect" stats "$OUT/real"
echo

echo "== 2. hb-mix: balance the demo sources exactly (recipes/demo.yaml, mix section) =="
"$BIN/hb-mix" recipes/demo.yaml
echo

echo "== 3. hb-train: a tiny Honeybee fine-tuned on the mix, on the CPU (examples/train/demo.yaml) =="
"$BIN/hb-train" train --config examples/train/demo.yaml
python3 - "$OUT/train/train.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l]
k = max(1, len(rows) // 5)
first = sum(r["loss"] for r in rows[:k]) / k
last = sum(r["loss"] for r in rows[-k:]) / k
print(f"loss: mean of the first {k} steps {first:.3f} -> mean of the last {k} steps {last:.3f}")
PY
echo

echo "== 4. checkpoints as downloaded: PyTorch pytorch_model-*.bin shards give the same result as safetensors =="
for form in model/a torchbin/honeybee; do
  "$BIN/hb-train" debug --checkpoint "tests/fixtures/$form" --stage ft --batch tests/fixtures/model/a/batch.safetensors \
      --out "$OUT/debug-${form//\//-}.safetensors" > /dev/null
done
cmp "$OUT/debug-model-a.safetensors" "$OUT/debug-torchbin-honeybee.safetensors" &&
  echo "hb-train debug on tests/fixtures/torchbin/honeybee (3 .bin shards + index) = on model/a (safetensors), byte for byte"
echo "-- a .bin whose pickle calls os.system is refused, never run:"
mkdir -p "$OUT/evil" && cp tests/fixtures/model/a/config.json "$OUT/evil/" &&
  cp tests/fixtures/torchbin/bad/os_system.bin "$OUT/evil/pytorch_model.bin"
"$BIN/hb-train" debug --checkpoint "$OUT/evil" --stage ft --batch tests/fixtures/model/a/batch.safetensors \
    --out "$OUT/evil/out.safetensors" 2>&1 | sed 's/^/   /' || true
echo
echo "demo done. Outputs in $OUT/:"
echo "  shards + manifest + image store   $OUT/shards/"
echo "  a preprocessed image              $OUT/sample0.png"
echo "  mix plan and realised table       $OUT/shards/mix-demo/"
echo "  loss plot (open in a browser)     $OUT/train/loss.svg"
