#!/usr/bin/env python3
"""Reference for hb-prep on the real files: what Honeybee's own pipeline makes of every real raw file that
recipes/shared-real.yaml compiles (../shared/fixtures/real, PROVENANCE.md there), computed from the files and the
specification alone, independently of hb.

Writes tests/fixtures/prep/real_reference.json:
  "sources": {source: {"n": samples, "ids": sha1 of the sample ids joined by newlines (hb's order),
                       "digests": [per sample: sha1(json [input_ids, loss_mask], compact)[:10]]}}
  "full":    {sample id: {"text", "input_ids", "loss_mask"}} for a few samples of every source (readable failures)
  "scienceqa": {pid: {"question", "context", "options" (file order), "answer"}}: the problem as Honeybee gets it
               through LLaVA's QCM-LEPA conversion and its own parse-back (spec-data.md §1.7, raw-formats.md §5)
  "vsr_questions": {source: [question_interro per sample]} for vsr-splits and vsr-raw (random/train's are in
                   tests/fixtures/vsr/random_train.rewrite.jsonl, gen_vsr_compat.py)

How each source is made (spec-data.md §1, §2.2, §2.4, §7.2; hb's naming from docs/sources.md):
  vsr, vsr-splits, vsr-raw  robust rewrite by the caption grammar (spec-data.md §3.4, as a regular expression),
                            template "vsr"; one sample per line, id <source>/<line> (<file>.<line> with several files)
  vsr-compat                the official naive rewrite (spec-data.md §3.1), Python's own str semantics
  scienceqa                 problems.json rows of pid_splits["train"], in file order, converted to LLaVA's
                            "<q>\\nContext: <hint or N/A>\\nOptions: (A) .. (B) ..\\n<image>" (with "  " -> " ") and parsed
                            back with Honeybee's regexes; option order REPLAYED from hb's shards (hb's seeded draw,
                            given as DUMP), the answer letter recomputed from the reordered list (list.index)
  vqav2                     majority answer (the excerpt's annotations lack multiple_choice_answer: most frequent
                            of the ten, ties to the first), grouped per image (nturn 10), template "vqa"
  gqa                       both files, grouped per imageId (nturn 10, dedup on the answer: one question per
                            image here), template "gqa"
  vgqa                      grouped per image (nturn 10), template "vqa", answers as written
  blip558k                  "[NO_PROMPT] <image> <the gpt turn>" (captioning)
  vicuna40k                 Honeybee's vicuna rendering: the long system message, roles, first non-human turn
                            skipped, "<image>" -> "image"
Tokens: encode_prompt's chunk-wise rule with HF `tokenizers` (../shared/fixtures/tokenizers/llama/tokenizer.json),
M = 144, max_length 1023 (cut at 1024), literal "<s>" kept as text (hb's documented choice).

Usage: bin/hb-prep recipes/shared-real.yaml -o OUT --no-images && bin/hb-inspect dump OUT > DUMP.jsonl
       python3 tests/ref/gen_real_reference.py DUMP.jsonl [SHARED_DIR]
"""
import collections
import hashlib
import json
import os
import re
import sys

from tokenizers import Tokenizer

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
dump_path = sys.argv[1]
shared = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(root), "shared")
real = os.path.join(shared, "fixtures/real")
tok = Tokenizer.from_file(os.path.join(shared, "fixtures/tokenizers/llama/tokenizer.json"))
tok.encode_special_tokens = True
BOS, EOS, M, MAX_LEN = 1, 2, 144, 1023
SYSTEM = "The following is a conversation between a curious human and AI assistant."
SYSTEM_LONG = SYSTEM + " The assistant gives helpful, detailed, and polite answers to the user's questions."
VQA = "Answer the question using a single word or phrase. {question}"
VSR = "Answer the question using a single word or phrase. {question_interro} Please answer yes or no."
SQA = ("Answer with the option's letter from the given choices directly. {question}\nContext: {context}\n"
       "There are several options:\n{option}\n")


def encode_prompt(prompt):
    ids, mask = [BOS], [0]
    if prompt.startswith("[NO_PROMPT] <image> "):
        cap = prompt[len("[NO_PROMPT] <image> "):]
        ids += [-1] * M + tok.encode(cap, add_special_tokens=False).ids + [EOS]
        mask += [0] * M + [1] * (len(ids) - 1 - M)
        return ids[:MAX_LEN + 1], mask[:MAX_LEN + 1]
    prev = None
    for p in [p for p in re.split(r"(<image>|\nAI: |\nHuman: )", prompt) if p]:
        if len(ids) >= MAX_LEN + 1:
            break
        if p == "<image>":
            if len(ids) + M > MAX_LEN + 1:
                break
            ids += [-1] * M
            mask += [0] * M
        else:
            t = tok.encode(p, add_special_tokens=False).ids
            sup = prev == "\nAI: "
            ids += t + [EOS] if sup else t
            mask += [1] * (len(t) + 1) if sup else [0] * len(t)
        prev = p
    return ids[:MAX_LEN + 1], mask[:MAX_LEN + 1]


def render(examples, pattern, image=True):
    parts = [SYSTEM] + (["Human: <image>"] if image else [])
    for e in examples:
        parts += ["Human: " + pattern.format(**e), "AI: " + e["answer"]]
    return "\n".join(parts)


def grouped(items, nturn):
    groups = collections.OrderedDict()
    for key, e in items:
        groups.setdefault(key, []).append(e)
    for key, exs in groups.items():
        for c in range(0, len(exs), nturn):
            yield key, c // nturn, exs[c:c + nturn]


def load(*p):
    with open(os.path.join(real, *p), encoding="utf-8") as f:
        return json.load(f)


def lines(*p):
    with open(os.path.join(real, *p), encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


samples = collections.OrderedDict()  # source -> [(id, text)]


def add(src, sid, text):
    samples.setdefault(src, []).append((sid, text))


# ---- VSR ----
GRAMMAR = re.compile(r"^The (?P<s>.+?) (?:(?P<cop>is) (?P<r>.+)|(?P<verb>contains|has as a part|consists of) "
                     r"(?P<o>the .+))\.$")


def robust(caption):
    m = GRAMMAR.match(caption)
    assert m, caption  # every real caption follows the VSR grammar
    if m.group("cop"):
        return "Is the %s %s?" % (m.group("s"), m.group("r"))
    verb = {"contains": "contain", "has as a part": "have as a part", "consists of": "consist of"}[m.group("verb")]
    return "Does the %s %s %s?" % (m.group("s"), verb, m.group("o"))


def official(caption):
    return "Is " + " ".join(x.lower().replace(".", "?").strip() for x in caption.split("is"))


vsr_questions = {}
for src, files, rewrite in [
        ("vsr", ["random_train.full.jsonl"], robust),
        ("vsr-compat", ["random_train.full.jsonl"], official),
        ("vsr-splits", ["random_dev.excerpt.jsonl", "random_test.excerpt.jsonl", "zeroshot_train.excerpt.jsonl",
                        "zeroshot_dev.excerpt.jsonl", "zeroshot_test.excerpt.jsonl"], robust),
        ("vsr-raw", ["all_vsr_raw_data.excerpt.jsonl", "all_vsr_validated_data.excerpt.jsonl"], robust)]:
    qs = vsr_questions.setdefault(src, []) if src in ("vsr-splits", "vsr-raw") else []
    for fi, name in enumerate(files):
        for li, r in enumerate(lines("vsr", name)):
            q = rewrite(r["caption"])
            qs.append(q)
            sid = "%s/%d" % (src, li) if len(files) == 1 else "%s/%d.%d" % (src, fi, li)
            add(src, sid, render([{"question_interro": q, "answer": "yes" if r["label"] == 1 else "no"}], VSR))

# ---- ScienceQA: problems.json -> LLaVA's QCM-LEPA human turn -> Honeybee's parse_question ----
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def llava_human(p):
    ctx = p["hint"].strip() or "N/A"  # get_context_text without captions
    choice = " ".join("(%s) %s" % (LETTERS[i], c) for i, c in enumerate(p["choices"]))
    text = "%s\nContext: %s\nOptions: %s" % (p["question"], ctx, choice)
    if p["image"]:
        text += "\n<image>"
    return text.replace("  ", " ").strip()


def honeybee_parse(human):
    m = re.match(r"(.*?)\nContext: (.*?)\nOptions: (.*)", human, re.DOTALL)
    q, ctx, opts = m.group(1), m.group(2), m.group(3).replace("<image>", "")
    return q, ctx, [o.strip() for o in re.split(r"\([A-Z]\)", opts) if o.strip()]


orders = {}
with open(dump_path, encoding="utf-8") as f:
    for l in f:
        s = json.loads(l)
        if s["source"] == "scienceqa":
            orders[s["id"].split("/", 1)[1]] = s["choices"]["options"][0]["order"]
problems = load("scienceqa", "problems.excerpt150.json")
train = set(load("scienceqa", "pid_splits.json")["train"])
sqa = {}
for pid, p in problems.items():
    if pid not in train:
        continue
    q, ctx, opts = honeybee_parse(llava_human(p))
    answer = p["choices"][p["answer"]]
    sqa[pid] = {"question": q, "context": ctx, "options": opts, "answer": answer}
    order = orders[pid]
    shown = [opts[k] for k in order]
    option = "\n".join("%s. %s" % (LETTERS[i], o) for i, o in enumerate(shown))
    letter = LETTERS[shown.index(answer)]  # Honeybee's optionize: list.index on the reordered list
    add("scienceqa", "scienceqa/" + pid,
        render([{"question": q, "context": ctx, "option": option, "answer": letter}], SQA, image=bool(p["image"])))

# ---- VQAv2 (the real train excerpt) ----
qs = load("vqav2", "v2_OpenEnded_mscoco_train2014_questions.excerpt.json")["questions"]
ans = load("vqav2", "v2_mscoco_train2014_annotations.excerpt-trimmed.json")["annotations"]
items = []
for qq, aa in zip(qs, ans):
    assert qq["question_id"] == aa["question_id"]
    a = aa.get("multiple_choice_answer")
    if a is None:
        c = collections.Counter(x["answer"] for x in aa["answers"])
        a = next(x["answer"] for x in aa["answers"] if c[x["answer"]] == max(c.values()))
    items.append((qq["image_id"], {"question": qq["question"], "answer": a}))
for img, k, exs in grouped(items, 10):
    add("vqav2", "vqav2/%d/%d" % (img, k), render(exs, VQA))

# ---- GQA (both excerpts, one source) ----
items = []
for name in ["balanced_questions.excerpt_202218649.json", "all_questions.excerpt_20240871.json"]:
    for qid, r in load("gqa", name).items():
        items.append((r["imageId"], {"question": r["question"], "answer": r["answer"]}))
for img, k, exs in grouped(items, 10):
    assert len({e["answer"] for e in exs}) == len(exs)  # no duplicate answers: dedup keeps every question here
    add("gqa", "gqa/%s/%d" % (img, k), render(exs, VQA))

# ---- Visual Genome QA ----
items = [(rec["id"], {"question": qa["question"], "answer": qa["answer"]})
         for rec in load("visual_genome", "question_answers.excerpt.json") for qa in rec["qas"]]
for img, k, exs in grouped(items, 10):
    add("vgqa", "vgqa/%d/%d" % (img, k), render(exs, VQA))

# ---- LLaVA-Pretrain as captions ----
for r in load("llava", "blip_laion_cc_sbu_558k.excerpt300.json"):
    gpt = [c["value"] for c in r["conversations"] if c["from"] == "gpt"][0]
    add("blip558k", "blip558k/" + r["id"], "[NO_PROMPT] <image> " + gpt)

# ---- ShareGPT (vicuna40k) ----
ROLE = {"human": "\nHuman: ", "gpt": "\nAI: "}
seen = set()
for name in ["ShareGPT_V4.3_unfiltered_cleaned_split.excerpt1.json", "fastchat_dummy_conversation.excerpt60.json"]:
    for rec_i, r in enumerate(load("sharegpt", name)):
        conv = r["conversations"]
        if conv and conv[0]["from"] != "human":
            conv = conv[1:]
        text = SYSTEM_LONG + "".join(ROLE[c["from"]] + c["value"] for c in conv)
        sid = "vicuna40k/" + r["id"]
        if sid in seen:
            sid += "~%d" % rec_i
        seen.add(sid)
        add("vicuna40k", sid, text.replace("<image>", "image"))


def digest(ids, mask):
    return hashlib.sha1(json.dumps([ids, mask], separators=(",", ":")).encode()).hexdigest()[:10]


out = {"sources": {}, "full": {}, "scienceqa": sqa, "vsr_questions": vsr_questions}
for src, lst in samples.items():
    ds = []
    for i, (sid, text) in enumerate(lst):
        ids, mask = encode_prompt(text)
        ds.append(digest(ids, mask))
        if i < 2 or (src == "vicuna40k" and sid.endswith("QWJhYvA_0")):
            out["full"][sid] = {"text": text, "input_ids": ids, "loss_mask": mask}
    out["sources"][src] = {"n": len(lst), "ids": hashlib.sha1("\n".join(s for s, _ in lst).encode()).hexdigest(),
                           "digests": ds}
dst = os.path.join(root, "tests/fixtures/prep/real_reference.json")
with open(dst, "w", encoding="utf-8") as f:
    json.dump(out, f, separators=(",", ":"), ensure_ascii=False)
print("%s -> %s" % (", ".join("%s %d" % (s, len(l)) for s, l in samples.items()), dst))
