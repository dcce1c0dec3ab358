#!/bin/bash
# hb-prep end to end on recipes/demo.yaml (every raw format of examples/): shards that verify, tokens and loss masks
# equal to an independent Python reference (tests/ref/gen_prep_reference.py), byte-identical output for -j 1 and
# -j 2, --shard slices that together make the whole, --only keeping the other sources, rejects and missing images
# reported, --strict, missing files and usage errors.
set -euo pipefail
BIN=${HB_BIN:-bin}
SHARED=${HB_SHARED:-../shared}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
test -e "$SHARED/fixtures/tokenizers/llama/tokenizer.json" || { echo "no $SHARED: skipped"; exit 0; }
# the demo recipe with absolute paths (its tokenizer taken from HB_SHARED)
sed -e "s|^tokenizer: .*|tokenizer: $(cd "$SHARED" && pwd)/fixtures/tokenizers/llama/tokenizer.json|" \
    -e "s|\.\./|$PWD/|g" recipes/demo.yaml > "$T/demo.yaml"
R=$T/demo.yaml

"$BIN/hb-prep" "$R" -o "$T/a" -j 1 -q
"$BIN/hb-inspect" verify "$T/a" > /dev/null
"$BIN/hb-prep" "$R" -o "$T/b" -j 2 -q
for f in "$T"/a/*.hbs "$T"/a/manifest.json "$T"/a/*.rejects.jsonl "$T"/a/images/*; do
  cmp "$f" "$T/b/${f#$T/a/}"
done

# every source has shards, stats and rejects; the manifest lists them in recipe order
python3 - "$T/a" "$SHARED" <<'PY'
import json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
sources = [s["source"] for s in m["shards"]]
want = ["vqav2", "vqav2-train", "gqa", "ocrvqa", "vsr", "sqa", "scienceqa", "aokvqa", "refcocog", "refcoco", "vgloc",
        "vgqa", "llava150k", "blip558k", "vicuna40k", "coyo100m"]
assert sources == want, sources
for s in want:
    st = json.load(open(os.path.join(d, s + ".stats.json")))
    assert st["samples_written"] > 0, (s, st)
    assert os.path.exists(os.path.join(d, s + ".rejects.jsonl")), s
assert m["totals"]["samples"] == sum(json.load(open(os.path.join(d, s + ".stats.json")))["samples_written"] for s in want)
# the missing VSR image is reported and its sample dropped
vsr = [json.loads(l) for l in open(os.path.join(d, "vsr.rejects.jsonl"))]
assert any("missing" in r["reason"] and "000000422886.jpg" in r["reason"] for r in vsr), vsr
imgs = [json.loads(l) for l in open(os.path.join(d, "images.rejects.jsonl"))]
assert len(imgs) == 1 and imgs[0]["reason"] == "missing" and imgs[0]["file"].endswith("000000422886.jpg"), imgs
ist = json.load(open(os.path.join(d, "images.stats.json")))
assert ist["rejected"] == 1 and ist["stored"] > 30, ist
st = json.load(open(os.path.join(d, "vsr.stats.json")))
assert st["samples_dropped_image"] == 1 and st["converter"]["rewrite.official"] == 12, st
gqa = json.load(open(os.path.join(d, "gqa.stats.json")))
assert gqa["dedup_dropped"] == 2, gqa
PY

# tokens and loss masks equal the independent reference (Python rendering + HF tokenizers, chunk-wise)
"$BIN/hb-inspect" dump "$T/a" > "$T/dump.jsonl"
python3 - "$T/dump.jsonl" tests/fixtures/prep/demo_reference.json <<'PY'
import json, sys
got = {}
for line in open(sys.argv[1]):
    s = json.loads(line)
    got[s["id"]] = s
ref = json.load(open(sys.argv[2]))
checked = 0
for sid, r in ref.items():
    if sid == "vsr/11":  # its image is missing: dropped
        assert sid not in got
        continue
    assert sid in got, sid
    assert got[sid]["input_ids"] == r["input_ids"], (sid, got[sid]["input_ids"][:40], r["input_ids"][:40])
    assert got[sid]["loss_mask"] == r["loss_mask"], sid
    assert len(got[sid]["images"]) == 1, sid
    checked += 1
assert checked == 19, checked
# provenance: records, source files and choices
v = got["vqav2/262148/0"]
assert v["records"] == [0, 1, 2] and v["source_file"].endswith("v2_OpenEnded_mscoco_val2014_questions.json"), v
assert v["choices"]["image"] == "val2014/COCO_val2014_000000262148.jpg", v["choices"]
g = [s for s in got.values() if s["source"] == "gqa" and "dedup" in s["choices"]]
assert g and g[0]["choices"]["dedup"][0]["value"] == "pillow", g
# the same image referenced by two sources (VQAv2 train and RefCOCO use different files here) hashes consistently
hashes = {}
for s in got.values():
    for h in s["images"]:
        hashes.setdefault(s["choices"].get("image"), set()).add(h)
assert all(len(v) == 1 for v in hashes.values()), hashes
PY

# --shard slices: disjoint, together the whole; the last slice writes the merged manifest
for i in 0 1 2; do "$BIN/hb-prep" "$R" -o "$T/c" --shard "$i/3" -q; done
"$BIN/hb-inspect" verify "$T/c" > /dev/null
"$BIN/hb-inspect" dump "$T/c" | python3 -c 'import json,sys; print("\n".join(sorted(json.loads(l)["id"] for l in sys.stdin)))' > "$T/ids.c"
python3 -c 'import json,sys; print("\n".join(sorted(json.loads(l)["id"] for l in open(sys.argv[1]))))' "$T/dump.jsonl" > "$T/ids.a"
cmp "$T/ids.a" "$T/ids.c"
# each sample is byte-identical whichever slice built it
"$BIN/hb-inspect" dump "$T/c" | sort > "$T/c.sorted"; sort "$T/dump.jsonl" > "$T/a.sorted"; cmp "$T/a.sorted" "$T/c.sorted"

cmp "$T/a/images/224.hbs" "$T/c/images/224.hbs"   # the slices' image stores merged: the same store

# --only rebuilds one source and keeps the others in the manifest and the image store
cp -r "$T/a" "$T/o"
"$BIN/hb-prep" "$R" -o "$T/o" --only gqa -q
cmp "$T/a/manifest.json" "$T/o/manifest.json"
cmp "$T/a/images/224.hbs" "$T/o/images/224.hbs"
test -z "$(ls -A "$T/o" | grep staging || true)"   # the staging store is gone
# a sample's image can be looked at
"$BIN/hb-inspect" image "$T/a" vqav2/262148/0 -o "$T/v.png" > /dev/null
test -s "$T/v.png"

# --strict stops at the first rejected record, naming it
if "$BIN/hb-prep" "$R" -o "$T/s" --strict -q 2> "$T/err"; then echo "--strict accepted rejects"; exit 1; fi
grep -q "ocrvqa/dataset.json" "$T/err"; grep -q "record 3" "$T/err"

# a missing raw file names the file; usage errors exit 2
sed 's|examples/ocrvqa/dataset.json|examples/ocrvqa/nope.json|' "$R" > "$T/bad.yaml"
if "$BIN/hb-prep" "$T/bad.yaml" -o "$T/x" -q 2> "$T/err"; then echo "missing file accepted"; exit 1; fi
grep -q "nope.json" "$T/err"
for args in "" "$R --shard 3/3" "$R -j 0" "$R --only" "nonsense" "$R --bogus"; do
  set +e; "$BIN/hb-prep" $args > /dev/null 2>&1; rc=$?; set -e
  test "$rc" = 2 || { echo "hb-prep $args exited $rc"; exit 1; }
done
set +e; "$BIN/hb-prep" "$R" --only nope -o "$T/y" > /dev/null 2>&1; rc=$?; set -e; test "$rc" = 1
"$BIN/hb-prep" converters | grep -q "^vqav2 "
echo ok
