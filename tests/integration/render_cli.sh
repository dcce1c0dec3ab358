#!/bin/bash
# hb-prep render and lint-templates end to end: exact texts through the CLI, byte-identical output across runs and
# -j values, a new seed changes the draws, bad lines stop with the line named and -o leaves no partial file, lint
# passes the shipped sets and fails a broken one, usage errors exit 2.
set -euo pipefail
BIN=${HB_BIN:-bin}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

# exact text of a 2-turn VQAv2 sample and of a LLaVA conversation through the CLI
cat > "$T/two.jsonl" <<'EOF'
{"id":"vqav2/1","image":true,"examples":[{"question":"What color is the bus?","answer":"red"},{"question":"How many people are there?","answer":"2"}]}
{"id":"llava/1","dataset":"llava150k","image":true,"conversations":[{"from":"human","value":"What is in the photo?\n<image>"},{"from":"gpt","value":"a garden"}]}
EOF
"$BIN/hb-prep" render --templates templates/honeybee.yaml --dataset vqav2 "$T/two.jsonl" > "$T/two.out"
python3 - "$T/two.out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
S = "The following is a conversation between a curious human and AI assistant."
assert rows[0]["text"] == S + "\nHuman: <image>\nHuman: Answer the question using a single word or phrase. What color is the bus?\nAI: red\nHuman: Answer the question using a single word or phrase. How many people are there?\nAI: 2", rows[0]
assert [t["role"] for t in rows[0]["turns"]] == ["system", "human", "human", "ai", "human", "ai"]
assert rows[0]["choices"] == {"template": "vqa", "pattern": 0} and rows[0]["dataset"] == "vqav2"
L = S + " The assistant gives helpful, detailed, and polite answers to the user's questions."
assert rows[1]["text"] == L + "\nHuman: What is in the photo?\nHuman: <image>\nAI: a garden", rows[1]
assert rows[1]["choices"] == {"conversation": True}
PY

# a larger mixed input: identical across runs and thread counts; another seed changes it
python3 - "$T/big.jsonl" <<'PY'
import json, sys
ds = ["vqav2", "gqa", "aokvqa", "sqa", "refcoco", "refcoco+", "vgloc", "vsr", "ocrvqa"]
with open(sys.argv[1], "w") as f:
    for i in range(6000):
        d = ds[i % len(ds)]
        ex = {"question": "question %d?" % i, "answer": "answer %d" % i, "phrase": "thing %d" % i,
              "bbox": "[0.%03d,0.100,0.500,0.900]" % (i % 1000), "context": "N/A", "question_interro": "Is it %d?" % i,
              "full_answer": "The answer is %d." % i}
        if d in ("aokvqa", "sqa"):
            ex.update(options=["opt a", "opt b", "opt c", "opt d"], answer_idx=i % 4)
        f.write(json.dumps({"id": "%s/%d" % (d, i), "dataset": d, "image": d != "sqa" or i % 2 == 0,
                            "examples": [ex] * (1 + i % 3 if d in ("vqav2", "gqa") else 1)}) + "\n")
PY
for set in honeybee multi-flip; do
  "$BIN/hb-prep" render --templates "templates/$set.yaml" --seed 11 -j 1 "$T/big.jsonl" > "$T/j1"
  "$BIN/hb-prep" render --templates "templates/$set.yaml" --seed 11 -j 4 < "$T/big.jsonl" > "$T/j4"
  "$BIN/hb-prep" render --templates "templates/$set.yaml" --seed 11 -j 3 -o "$T/j3" "$T/big.jsonl"
  cmp "$T/j1" "$T/j4"; cmp "$T/j1" "$T/j3"
  test "$(wc -l < "$T/j1")" = 6000
  "$BIN/hb-prep" render --templates "templates/$set.yaml" --seed 12 -j 2 "$T/big.jsonl" > "$T/s12"
  if cmp -s "$T/j1" "$T/s12"; then echo "seed 12 rendered the same as seed 11 ($set)"; exit 1; fi
done
# every multiple-choice answer names the correct option
python3 - "$T/j1" <<'PY'
import json, re, sys
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "options" not in r["choices"]:
        continue
    i = int(r["id"].split("/")[1])
    ans = r["turns"][-1]["text"] if r["choices"].get("flip") is None else None
    if ans is None:
        continue
    line = [x for x in r["text"].split("\n") if re.match(r"^\(?%s[.)]\)? " % re.escape(ans), x)]
    assert line and line[0].split(" ", 1)[1] == "opt " + "abcd"[i % 4], (r["text"], ans)
    n += 1
assert n > 800, n  # multi-flip: the flipped patterns answer with a question
PY

# a bad line: exit 1 naming line and field; the lines before it were written; -o leaves nothing
{ head -n 5 "$T/big.jsonl"; echo '{"id":"vqav2/x","dataset":"vqav2","image":true,"examples":[{"question":"q"}]}'; \
  tail -n 3 "$T/big.jsonl"; } > "$T/bad.jsonl"
if "$BIN/hb-prep" render --templates templates/honeybee.yaml "$T/bad.jsonl" > "$T/bad.out" 2> "$T/err"; then
  echo "a sample without an answer rendered"; exit 1; fi
grep -q "bad.jsonl: line 6: dataset 'vqav2', sample 'vqav2/x': example 0 has no field 'answer'" "$T/err" || { cat "$T/err"; exit 1; }
test "$(wc -l < "$T/bad.out")" = 5
if "$BIN/hb-prep" render --templates templates/honeybee.yaml -o "$T/bad.o" -j 2 "$T/bad.jsonl" 2> "$T/err"; then exit 1; fi
test ! -e "$T/bad.o"; test -z "$(ls "$T" | grep 'bad.o.tmp' || true)"
echo '{"id":"x","dataset":"nonesuch","image":true,"examples":[{"question":"q"}]}' > "$T/unk.jsonl"
if "$BIN/hb-prep" render --templates templates/honeybee.yaml "$T/unk.jsonl" 2> "$T/err" >/dev/null; then exit 1; fi
grep -q "dataset 'nonesuch'.*template set 'honeybee'" "$T/err"
printf '{"id": "broken"\n' > "$T/json.jsonl"
if "$BIN/hb-prep" render --templates templates/honeybee.yaml --dataset vqav2 "$T/json.jsonl" 2> "$T/err"; then exit 1; fi
grep -q "line 1: not a JSON object" "$T/err"
if "$BIN/hb-prep" render --templates "$T/missing.yaml" "$T/two.jsonl" 2> "$T/err"; then exit 1; fi
grep -q "missing.yaml" "$T/err"

# lint: the shipped sets pass (also --strict); a broken set fails with every problem listed
"$BIN/hb-prep" lint-templates --strict templates/*.yaml > "$T/lint"
test "$(grep -c ': ok: ' "$T/lint")" = "$(ls templates/*.yaml | wc -l)"
cat > "$T/broken.yaml" <<'EOF'
system: "S."
conversation: {system: "L.", image_markers: ["<image>\n"]}
patterns:
  vqa: [{input: "Q {question} {answr}", target: "{answer}"}]
  empty: []
datasets: {vqav2: vqa, gqa: missing}
EOF
set +e; "$BIN/hb-prep" lint-templates "$T/broken.yaml" > "$T/lint"; rc=$?; set -e
test "$rc" = 1
grep -q "error: patterns.empty: empty pattern list" "$T/lint"
grep -q "error: datasets.gqa: maps to pattern key 'missing'" "$T/lint"
grep -q "uses {answr}, which dataset 'vqav2' does not provide" "$T/lint"
grep -q "known datasets have no pattern" "$T/lint"
grep -q "broken.yaml: 4 errors" "$T/lint"
if "$BIN/hb-prep" render --templates "$T/broken.yaml" --dataset vqav2 "$T/two.jsonl" 2> "$T/err"; then exit 1; fi
grep -q "lint-templates" "$T/err"

# usage errors exit 2
for args in "" "frobnicate" "render" "render --templates" "render --templates x --seed -1" "render --templates x -j 0" \
            "render --templates x a b" "lint-templates" "lint-templates --bogus x"; do
  set +e; "$BIN/hb-prep" $args >/dev/null 2>&1; rc=$?; set -e
  test "$rc" = 2 || { echo "hb-prep $args exited $rc"; exit 1; }
done
"$BIN/hb-prep" --help | grep -q "lint-templates"
echo ok
