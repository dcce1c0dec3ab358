#!/bin/bash
# The real files, end to end: recipes/shared-real.yaml compiles every real raw file of ../shared/fixtures/real that
# a converter reads (the whole official VSR random/train split, its other splits and data files, ScienceQA with the
# official pid_splits.json, the VQAv2, GQA and Visual Genome excerpts with their real JPEGs, LLaVA-Pretrain,
# ShareGPT). Checks: no reject at all; counts, stats and provenance; token ids and loss masks of every sample equal
# the independent reference (tests/ref/gen_real_reference.py: Honeybee's rendering and encode_prompt with HF
# tokenizers; ScienceQA through LLaVA's conversion and Honeybee's parse-back); specific rendered samples; VSR
# questions against the rewrite fixture; ScienceQA answer letters against the raw answers; ids unique; the same
# bytes for -j 1 and -j 2 and from another working directory. Then hb-mix and three hb-train steps on it.
set -euo pipefail
BIN=${HB_BIN:-bin}
SHARED=${HB_SHARED:-../shared}
test -e "$SHARED/fixtures/real/vsr/random_train.full.jsonl" || { echo "no $SHARED: skipped"; exit 0; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# the recipe as shipped, in a tree where its relative paths (../../shared, ../templates) resolve
mkdir -p "$T/w/recipes"
cp recipes/shared-real.yaml "$T/w/recipes/"
ln -s "$PWD/templates" "$T/w/templates"
ln -s "$(cd "$SHARED" && pwd)" "$T/shared"

(cd "$T/w" && "$BIN/hb-prep" recipes/shared-real.yaml -j 2 2> "$T/log")
(cd "$T/w/recipes" && "$BIN/hb-prep" shared-real.yaml -o "$T/b" -j 1 -q)
O=$T/w/real-out/shards
for f in "$O"/*.hbs "$O"/manifest.json "$O"/*.rejects.jsonl "$O"/images/*; do
  cmp "$f" "$T/b/${f#$O/}"   # any -j, any working directory: the same bytes
done
"$BIN/hb-inspect" verify "$O" > /dev/null
"$BIN/hb-inspect" dump "$O" > "$T/dump.jsonl"
! grep -q "rejected\|dropped" "$T/log" || { cat "$T/log"; exit 1; }

python3 - "$O" "$T/dump.jsonl" tests/fixtures/prep/real_reference.json tests/fixtures/vsr/random_train.rewrite.jsonl \
    "$SHARED/fixtures/real" <<'PY'
import collections, hashlib, json, os, sys
d, dump, refp, rewp, real = sys.argv[1:6]
ref = json.load(open(refp))
want = {"vsr": 7680, "vsr-compat": 7680, "vsr-splits": 148, "vsr-raw": 50, "scienceqa": 50, "vqav2": 1, "gqa": 2,
        "vgqa": 2, "blip558k": 287, "vicuna40k": 61}
m = json.load(open(os.path.join(d, "manifest.json")))
assert [s["source"] for s in m["shards"]] == list(want), m["shards"]
assert {s["source"]: s["samples"] for s in m["shards"]} == want
# no rejected record, no dropped sample, no rejected image: every real file reads as downloaded
for src in want:
    assert os.path.getsize(os.path.join(d, src + ".rejects.jsonl")) == 0, src
    st = json.load(open(os.path.join(d, src + ".stats.json")))
    assert st["rejected_records"] == 0 and st["rejects_by_reason"] == {}, (src, st)
    assert st["records_read"] == st["items"] + st["converter"].get("split.other", 0) or src == "vgqa", src  # a VG record holds several QAs
    assert st["samples_written"] == want[src] and st["duplicate_ids"] == 0, (src, st)
    assert not any(st[k] for k in ("samples_dropped_image", "samples_dropped_render", "samples_dropped_no_supervision"))
assert os.path.getsize(os.path.join(d, "images.rejects.jsonl")) == 0
ist = json.load(open(os.path.join(d, "images.stats.json")))
assert ist["stored"] == 4 and ist["rejected"] == 0, ist   # GQA n578564, n166008; VG 4, 5
stats = {s: json.load(open(os.path.join(d, s + ".stats.json"))) for s in want}
assert stats["vsr"]["records_read"] == 7680 and stats["vsr"]["turns"] == 7680
assert stats["vsr"]["converter"] == {"rewrite.copula": 7393, "rewrite.contains": 242, "rewrite.consists": 28,
                                     "rewrite.has": 17}, stats["vsr"]["converter"]
assert stats["vsr-compat"]["converter"] == {"rewrite.official": 7680}
assert stats["scienceqa"]["records_read"] == 150 and stats["scienceqa"]["samples_written"] == 50
assert stats["scienceqa"]["converter"] == {"split.other": 100}, stats["scienceqa"]["converter"]
assert stats["vqav2"]["converter"] == {"answer.majority_of_answers": 3} and stats["vqav2"]["turns"] == 3
assert stats["vgqa"]["turns"] == 8 and stats["vgqa"]["groups"] == 2
assert stats["vicuna40k"]["samples_truncated"] == 1 and stats["vicuna40k"]["max_tokens"] == 1024
for s in want:   # the stats agree with the manifest
    e = [x for x in m["shards"] if x["source"] == s][0]
    assert (stats[s]["tokens"], stats[s]["supervised_tokens"], stats[s]["image_tokens"]) == \
        (e["tokens"], e["supervised_tokens"], e["image_tokens"]), s

got = collections.OrderedDict()
by_id = {}
for line in open(dump):
    s = json.loads(line)
    got.setdefault(s["source"], []).append(s)
    assert s["id"] not in by_id, "duplicate id " + s["id"]
    by_id[s["id"]] = s

# token ids and loss masks of every sample: the independent reference
def digest(s):
    return hashlib.sha1(json.dumps([s["input_ids"], s["loss_mask"]], separators=(",", ":")).encode()).hexdigest()[:10]
for src, r in ref["sources"].items():
    g = got[src]
    assert len(g) == r["n"] and hashlib.sha1("\n".join(s["id"] for s in g).encode()).hexdigest() == r["ids"], src
    for s, dg in zip(g, r["digests"]):
        if digest(s) != dg:
            f, why = ref["full"].get(s["id"]), ""
            if f:
                a, b = f["input_ids"], s["input_ids"]
                k = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
                why = ": first difference at token %d: ref %s, hb %s" % (k, a[k:k + 8], b[k:k + 8])
            raise SystemExit("%s: tokens or loss mask differ from the reference (rerun tests/ref/gen_real_reference.py "
                             "after an intended change)%s" % (s["id"], why))
for sid, f in ref["full"].items():
    assert by_id[sid]["input_ids"] == f["input_ids"] and by_id[sid]["loss_mask"] == f["loss_mask"], sid
    assert by_id[sid]["n_supervised"] == sum(f["loss_mask"]), sid

# rendered samples, as spec-data.md §2.5 lays them out
SYS = "The following is a conversation between a curious human and AI assistant."
def text(sid):
    return "\n".join({"system": "", "human": "Human: ", "ai": "AI: "}[t["role"]] + t["text"] for t in by_id[sid]["turns"])
V = "Answer the question using a single word or phrase. "
assert text("vsr/0") == SYS + "\nHuman: <image>\nHuman: " + V + \
    "Is the cat inside the refrigerator? Please answer yes or no.\nAI: no"
assert text("vqav2/458752/0") == SYS + "\nHuman: <image>\nHuman: " + V + "What is this photo taken looking through?" \
    "\nAI: net\nHuman: " + V + "What position is this man playing?\nAI: pitcher\nHuman: " + V + \
    "What color is the players shirt?\nAI: orange"
assert text("vgqa/5/0") == SYS + "\nHuman: <image>\nHuman: " + V + "Where was this photo taken?\nAI: In a home office." \
    "\nHuman: " + V + "Where are the cables?\nAI: On floor.\nHuman: " + V + "How are the chairs?\nAI: Empty."
assert text("gqa/n578564/0") == SYS + "\nHuman: <image>\nHuman: " + V + "What is hanging above the chalkboard?\nAI: picture"
assert text("vicuna40k/identity_0") == SYS + " The assistant gives helpful, detailed, and polite answers to the user's " \
    "questions.\nHuman: Who are you?\nAI: I am Vicuna, a language model trained by researchers from Large Model " \
    "Systems Organization (LMSYS).\nHuman: Have a nice day!\nAI: You too!"
b = by_id["blip558k/000019465"]
assert [t["text"] for t in b["turns"]] == ["[NO_PROMPT]", "<image>", "the bunk room"] and b["n_tokens"] == 150
assert b["input_ids"][:2] == [1, -1] and b["input_ids"][-1] == 2 and b["n_supervised"] == 5
# ScienceQA: the layout (blank line before AI), the image line only for problems with an image, and the answer letter
# pointing at the problem's answer whatever the drawn option order
problems = json.load(open(os.path.join(real, "scienceqa/problems.excerpt150.json")))
L = "ABCDE"
orders = set()
letters = collections.Counter()
for s in got["scienceqa"]:
    pid = s["id"].split("/")[1]
    p = problems[pid]
    h, a = s["turns"][-2]["text"], s["turns"][-1]["text"]
    opts = h.split("There are several options:\n")[1].rstrip("\n").split("\n")
    assert h.endswith("\n") and h.startswith("Answer with the option's letter from the given choices directly. "), h
    assert [o[3:] for o in opts] == [p["choices"][k] for k in s["choices"]["options"][0]["order"]], pid
    assert opts[L.index(a)][3:] == p["choices"][p["answer"]], (pid, a, opts)
    assert (s["turns"][1]["text"] == "<image>") == bool(p["image"]), pid
    assert ("\nContext: N/A\n" in h) == (p["hint"].strip() == ""), pid
    orders.add(tuple(s["choices"]["options"][0]["order"]))
    letters[a] += 1
assert len(orders) > 5 and len(letters) >= 3 and max(letters.values()) < 30, (orders, letters)
assert sum(1 for s in got["scienceqa"] if s["turns"][1]["text"] == "<image>") == 22
assert text("scienceqa/1").endswith("\nThere are several options:\nA. West Virginia\nB. Arizona\nC. Oklahoma\n"
                                    "D. Louisiana\n\nAI: A")
# VSR: the robust rewrite gives the grammatical question for every caption, the compat mode the official one
rew = [json.loads(l) for l in open(rewp)]
robust = [s["turns"][2]["text"][len(V):-len(" Please answer yes or no.")] for s in got["vsr"]]
compat = [s["turns"][2]["text"][len(V):-len(" Please answer yes or no.")] for s in got["vsr-compat"]]
assert robust == [r[1] for r in rew] and compat == [r[0] for r in rew]
malformed = sum(not (r.startswith("Is ") and c == "Is " + r[3:].lower()) for c, r in zip(compat, robust))
assert malformed == 312, malformed  # spec-data.md §3.2: the official rewrite's malformed questions
for src in ("vsr-splits", "vsr-raw"):
    qs = [s["turns"][2]["text"][len(V):-len(" Please answer yes or no.")] for s in got[src]]
    assert qs == ref["vsr_questions"][src], src
for q in robust + qs:
    assert (q.startswith("Is the ") or q.startswith("Does the ")) and q.endswith("?") and "  " not in q, q
# provenance: the raw file as the recipe names it, record positions, the image path, images stored by hash
assert by_id["vsr/7679"]["source_file"] == "../../shared/fixtures/real/vsr/random_train.full.jsonl"
assert by_id["vsr/7679"]["records"] == [7679]
folders = collections.Counter(s["choices"]["image"].split("/")[0] for s in got["vsr"])
assert folders == {"train2017": 7386, "val2017": 294}, folders   # the last two parts of image_link, as Honeybee
assert by_id["vsr-splits/2.50"]["source_file"].endswith("zeroshot_train.excerpt.jsonl")
assert by_id["vqav2/458752/0"]["records"] == [0, 1, 2]
assert by_id["vgqa/4/0"]["records"] == [0] * 5 and by_id["vgqa/5/0"]["records"] == [1] * 3
assert by_id["scienceqa/9"]["records"] == [8] and by_id["scienceqa/9"]["choices"].get("image") is None
assert by_id["gqa/n166008/0"]["source_file"].endswith("all_questions.excerpt_20240871.json")
assert by_id["vicuna40k/QWJhYvA_0"]["choices"] == {"conversation": True, "truncated": True}
for s in by_id.values():
    assert len(s["images"]) == (1 if s["source"] in ("gqa", "vgqa") else 0), s["id"]
    assert s["n_image_tokens"] == (144 if s["choices"].get("image") else 0), s["id"]
print("ok: %d samples" % len(by_id))
PY

# an image as stored, and the mix and a few training steps on the sources with their images
"$BIN/hb-inspect" image "$O" gqa/n578564/0 -o "$T/g.png" > /dev/null
test -s "$T/g.png"
(cd "$T/w" && "$BIN/hb-mix" recipes/shared-real.yaml > "$T/mix.txt")
grep -q "^gqa  *x4 .* 8 *2 " "$T/mix.txt" && grep -q "^vicuna40k  *x1 .* 61 *61 " "$T/mix.txt"
"$BIN/hb-train" train --config examples/train/demo.yaml --data.plan "$O/mix-shared-real/plan.hbmix" \
  --run_dir "$T/run" --steps 3 --threads 2 --log.every 1 > "$T/train.txt" 2>&1 || { cat "$T/train.txt"; exit 1; }
python3 - "$T/run/train.jsonl" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["step"] for r in rows] == [1, 2, 3] and all(math.isfinite(r["loss"]) and r["loss"] > 0 for r in rows), rows
PY
echo ok
