#!/bin/bash
# hb-prep over many batches: a streaming source of 10,000 records (reading and building overlap on -j > 1) with
# malformed records (rejected while reading) and samples rejected while building (a literal "<image>" in a caption).
# -j 1, 2 and 3 give the same shards, rejects and manifest, byte for byte; every rejected line is accounted for.
set -euo pipefail
BIN=${HB_BIN:-bin}
SHARED=${HB_SHARED:-../shared}
test -e "$SHARED/fixtures/tokenizers/llama/tokenizer.json" || { echo "no $SHARED: skipped"; exit 0; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
python3 - "$T/v.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        if i % 97 == 5:
            f.write('{"image": "x.jpg", "caption": broken\n')
            continue
        cap = "The cat %d is on the <image> mat." % i if i % 89 == 7 else "The cat %d is on the mat." % i
        f.write(json.dumps({"image": "%d.jpg" % i, "image_link": "http://x/train2017/%d.jpg" % i,
                            "caption": cap, "label": i % 2}) + "\n")
PY
cat > "$T/r.yaml" <<Y
tokenizer: $(cd "$SHARED" && pwd)/fixtures/tokenizers/llama/tokenizer.json
templates: $PWD/templates/honeybee.yaml
sources: {vsr: {files: v.jsonl}, vsr2: {dataset: vsr, template: vsr, rewrite: honeybee-compat, files: v.jsonl}}
Y
for j in 1 2 3; do "$BIN/hb-prep" "$T/r.yaml" -o "$T/j$j" -j "$j" --no-images --shard-samples 3000 -q; done
for f in "$T"/j1/*.hbs "$T"/j1/*.rejects.jsonl "$T"/j1/manifest.json; do
  for j in 2 3; do cmp "$f" "$T/j$j/$(basename "$f")"; done
done
python3 - "$T/j1" <<'PY'
import json, os, sys
d = sys.argv[1]
bad_json = sum(1 for i in range(10000) if i % 97 == 5)
marker = sum(1 for i in range(10000) if i % 89 == 7 and i % 97 != 5)
rej = [json.loads(l) for l in open(os.path.join(d, "vsr.rejects.jsonl"))]
assert sum("malformed JSON" in r["reason"] for r in rej) == bad_json, rej[:3]
assert sum("<image>" in r["reason"] for r in rej) == marker, [r for r in rej if "malformed" not in r["reason"]][:3]
st = json.load(open(os.path.join(d, "vsr.stats.json")))
assert st["samples_written"] == 10000 - bad_json - marker, st
assert st["records_read"] == 10000
m = json.load(open(os.path.join(d, "manifest.json")))
assert [s["path"] for s in m["shards"]][:4] == ["vsr-00000.hbs", "vsr-00001.hbs", "vsr-00002.hbs", "vsr-00003.hbs"], m
PY
echo ok
