#!/usr/bin/env python3
"""End-to-end reference for hb-prep: the tokens and loss masks Honeybee's own pipeline would produce for the demo
recipe's deterministic sources, computed independently of hb.

Writes tests/fixtures/prep/demo_reference.json: {sample id: {"input_ids": [...], "loss_mask": [...]}} for
  vqav2        examples/vqav2 val2014 pair: grouped per image (nturn 10, file order), template `vqa`
  vqav2-train  the real train2014 excerpt: answers by majority of the ten (its annotations lack the mc answer)
  vsr          examples/vsr/train.jsonl with the official naive rewrite (honeybee-compat), template `vsr`
  vgqa         the real Visual Genome QA excerpt, grouped per image (nturn 10), template `vqa`
  coyo100m     examples/webdataset/00000.tar, captioning "[NO_PROMPT] <image> {caption}"
(single-pattern templates and no options: nothing here depends on hb's seeded draws). Each prompt is rendered as
Honeybee's templatizer does (spec-data.md §2.2) and encoded with encode_prompt's chunk-wise rule (§7.2) with the HF
`tokenizers` LLaMA tokenizer (../shared/fixtures/tokenizers/llama/tokenizer.json): BOS, 144 image positions (-1),
each piece encoded on its own without special tokens, EOS after every answer, mask 1 on answers and their EOS.

Usage: python3 tests/ref/gen_prep_reference.py [SHARED_DIR]
"""
import collections
import json
import os
import re
import sys
import tarfile

from tokenizers import Tokenizer

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(root), "shared")
ex = os.path.join(root, "examples")
tok = Tokenizer.from_file(os.path.join(shared, "fixtures/tokenizers/llama/tokenizer.json"))
tok.encode_special_tokens = True  # hb keeps literal "<s>" etc. as text (none occur here)
BOS, EOS, M, MAX_LEN = 1, 2, 144, 1023
SYSTEM = "The following is a conversation between a curious human and AI assistant."
VQA = "Answer the question using a single word or phrase. {question}"
VSR = "Answer the question using a single word or phrase. {question_interro} Please answer yes or no."


def encode_prompt(prompt):
    ids, mask = [BOS], [0]
    if prompt.startswith("[NO_PROMPT] <image> "):
        cap = prompt.replace("[NO_PROMPT] <image> ", "")
        ids += [-1] * M + tok.encode(cap, add_special_tokens=False).ids + [EOS]
        mask += [0] * M + [1] * (len(ids) - 1 - M)
        return ids[:MAX_LEN + 1], mask[:MAX_LEN + 1]
    pieces = [p for p in re.split(r"(<image>|\nAI: |\nHuman: )", prompt) if p]
    prev = None
    for p in pieces:
        if len(ids) >= MAX_LEN + 1:
            break
        if p == "<image>":
            if len(ids) + M > MAX_LEN + 1:
                break
            ids += [-1] * M
            mask += [0] * M
        else:
            t = tok.encode(p, add_special_tokens=False).ids
            if prev == "\nAI: ":
                ids += t + [EOS]
                mask += [1] * (len(t) + 1)
            else:
                ids += t
                mask += [0] * len(t)
        prev = p
    return ids[:MAX_LEN + 1], mask[:MAX_LEN + 1]


def render(examples, pattern, image=True):
    parts = [SYSTEM]
    if image:
        parts.append("Human: <image>")
    for e in examples:
        parts.append("Human: " + pattern.format(**e))
        parts.append("AI: " + e["answer"])
    return "\n".join(parts)


def grouped(items, nturn):
    """Honeybee's finalize_data: clusters by image in first-seen order, file order inside, chunks of nturn."""
    groups = collections.OrderedDict()
    for key, e in items:
        groups.setdefault(key, []).append(e)
    for key, exs in groups.items():
        for c in range(0, len(exs), nturn):
            yield key, c // nturn, exs[c:c + nturn]


out = {}


def add(sid, prompt):
    ids, mask = encode_prompt(prompt)
    out[sid] = {"input_ids": ids, "loss_mask": mask}


def load(p):
    with open(p, encoding="utf-8") as f:
        return json.load(f)


# VQAv2: the val2014 pair, and the real train excerpt (majority answer: its annotations are trimmed)
for src, q, a in [("vqav2", "v2_OpenEnded_mscoco_val2014_questions.json", "v2_mscoco_val2014_annotations.json"),
                  ("vqav2-train", "v2_OpenEnded_mscoco_train2014_questions.json", "v2_mscoco_train2014_annotations.json")]:
    qs, ans = load(os.path.join(ex, "vqav2", q))["questions"], load(os.path.join(ex, "vqav2", a))["annotations"]
    items = []
    for qq, aa in zip(qs, ans):
        assert qq["question_id"] == aa["question_id"]
        answer = aa.get("multiple_choice_answer")
        if answer is None:
            c = collections.Counter(x["answer"] for x in aa["answers"])
            answer = next(x["answer"] for x in aa["answers"] if c[x["answer"]] == max(c.values()))
        items.append((qq["image_id"], {"question": qq["question"], "answer": answer}))
    for img, k, exs in grouped(items, 10):
        add("%s/%d/%d" % (src, img, k), render(exs, VQA))

# VSR with the official rewrite, one sample per line
with open(os.path.join(ex, "vsr/train.jsonl"), encoding="utf-8") as f:
    for i, line in enumerate(f):
        r = json.loads(line)
        qi = "Is " + " ".join(x.lower().replace(".", "?").strip() for x in r["caption"].split("is"))
        add("vsr/%d" % i, render([{"question_interro": qi, "answer": "yes" if r["label"] == 1 else "no"}], VSR))

# Visual Genome QA (real excerpt), grouped per image
items = []
for rec in load(os.path.join(shared, "fixtures/real/visual_genome/question_answers.excerpt.json")):
    for qa in rec["qas"]:
        items.append((rec["id"], {"question": qa["question"], "answer": qa["answer"]}))
for img, k, exs in grouped(items, 10):
    add("vgqa/%d/%d" % (img, k), render(exs, VQA))

# captions from the webdataset tar
with tarfile.open(os.path.join(ex, "webdataset/00000.tar")) as t:
    members = {m.name: t.extractfile(m).read() for m in t.getmembers()}
for name in sorted(members):
    if name.endswith(".txt") and name[:-4] + ".jpg" in members:
        add("coyo100m/00000/%s" % name[:-4], "[NO_PROMPT] <image> " + members[name].decode("utf-8"))

dst = os.path.join(root, "tests/fixtures/prep/demo_reference.json")
os.makedirs(os.path.dirname(dst), exist_ok=True)
with open(dst, "w") as f:
    json.dump(out, f, separators=(",", ":"))
print("%d samples -> %s" % (len(out), dst))
