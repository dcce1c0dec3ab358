#!/bin/bash
# Rendering throughput: `hb-prep render` (1 and 2 threads) against the Python reference renderer of
# tests/ref/gen_render_fixtures.py (Honeybee's templating in Python: str.format, optionize, random choices) on the
# same 100,000 mixed samples (VQAv2 multi-turn, GQA, A-OKVQA, ScienceQA, RefCOCO, VSR, LLaVA conversations) with the
# multi-flip set. Both read the JSON lines and write the rendered text; prints samples/s and the ratio.
set -euo pipefail
BIN=${HB_BIN:-bin}
N=${HB_BENCH_RENDER_N:-100000}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
python3 - "$T/in.jsonl" "$N" <<'PY'
import json, sys
ds = ["vqav2", "gqa", "aokvqa", "sqa", "refcoco", "vsr", "llava150k"]
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        d = ds[i % len(ds)]
        if d == "llava150k":
            row = {"id": "llava/%d" % i, "dataset": d, "image": True, "conversations": [
                {"from": "human", "value": "<image>\nWhat is happening in this picture number %d?" % i},
                {"from": "gpt", "value": "A detailed answer about the scene, with several clauses, number %d." % i},
                {"from": "human", "value": "And what else?"}, {"from": "gpt", "value": "More details %d." % i}]}
        else:
            ex = {"question": "What is the object number %d on the table?" % i, "answer": "a cup %d" % i,
                  "phrase": "the red cup on the left", "bbox": "[0.102,0.230,0.455,0.998]", "context": "N/A",
                  "question_interro": "Is the cup on the table?", "full_answer": "The cup is on the table."}
            if d in ("aokvqa", "sqa"):
                ex.update(options=["cup", "plate", "fork", "knife"], answer_idx=i % 4)
            row = {"id": "%s/%d" % (d, i), "dataset": d, "image": True, "examples": [ex] * (3 if d == "vqav2" else 1)}
        f.write(json.dumps(row) + "\n")
PY
secs() { python3 -c 'import sys,time; print(time.time())'; }
t0=$(secs); "$BIN/hb-prep" render --templates templates/multi-flip.yaml --seed 1 -j 1 "$T/in.jsonl" > "$T/hb1"; t1=$(secs)
"$BIN/hb-prep" render --templates templates/multi-flip.yaml --seed 1 -j 2 "$T/in.jsonl" > "$T/hb2"; t2=$(secs)
cmp "$T/hb1" "$T/hb2"
python3 - "$T/in.jsonl" "$T/py.txt" <<'PY' > "$T/py.secs"
import importlib.util, json, os, random, sys, time
spec = importlib.util.spec_from_file_location("ref", os.path.join("tests", "ref", "gen_render_fixtures.py"))
ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)
ts = ref.TemplateSet("templates/multi-flip.yaml")
rnd = random.Random(1)
t = time.time()
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        s = json.loads(line)
        text, turns, choices = (ref.render_conversation(ts, s) if "conversations" in s
                                else ref.render_templated(ts, s, rnd))
        out.write(json.dumps({"id": s["id"], "text": text, "turns": turns, "choices": choices}) + "\n")
print(time.time() - t)
PY
python3 - "$N" "$t0" "$t1" "$t2" "$(cat "$T/py.secs")" <<'PY'
import sys
n, t0, t1, t2, py = int(sys.argv[1]), *map(float, sys.argv[2:])
hb1, hb2, ref = n / (t1 - t0), n / (t2 - t1), n / py
print("render %d samples (multi-flip set)" % n)
print("  hb-prep render -j1   %10.0f samples/s" % hb1)
print("  hb-prep render -j2   %10.0f samples/s" % hb2)
print("  python reference     %10.0f samples/s" % ref)
print("  ratio hb -j1 / python  %.1fx" % (hb1 / ref))
PY
