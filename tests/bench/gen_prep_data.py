#!/usr/bin/env python3
"""Benchmark inputs for bench_prep.sh: every raw format of examples/, scaled up with varied text, plus a recipe.

Usage: gen_prep_data.py OUTDIR [SCALE]   (SCALE 1 gives ~35 MB of raw files; the recipe is OUTDIR/bench.yaml)
The real VSR train file (7,680 captions) is used as it is. Texts are drawn from a fixed vocabulary with a seeded
generator, so runs are comparable and a tokenizer cannot win by caching repeated strings.
"""
import json
import os
import random
import sys

out = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
shared = os.environ.get("HB_SHARED", os.path.join(os.path.dirname(root), "shared"))
os.makedirs(out, exist_ok=True)
rng = random.Random(1234)

WORDS = ("the a man woman dog cat bus car table chair red blue green white black small large wooden metal "
         "standing sitting holding riding walking looking near behind under above left right of on in with "
         "kitchen street beach field room window door picture sign clock tree sky water plate cup bowl pizza "
         "two three four many some what where which who how color is are does do there this that these").split()


def words(lo, hi):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def question():
    return words(3, 9).capitalize() + "?"


def n(base):
    return max(1, int(base * scale))


def dump(name, obj, **kw):
    with open(os.path.join(out, name), "w") as f:
        json.dump(obj, f, **kw)


# VQAv2: questions + annotations in lockstep, ~5 questions per image
qs, ans = [], []
for i in range(n(40000)):
    img = 100000 + i // 5
    qid = img * 1000 + i % 5
    qs.append({"image_id": img, "question": question(), "question_id": qid})
    a = rng.choice(WORDS)
    ans.append({"question_type": "what", "multiple_choice_answer": a,
                "answers": [{"answer": a if k % 3 else rng.choice(WORDS), "answer_confidence": "yes", "answer_id": k + 1}
                            for k in range(10)],
                "image_id": img, "answer_type": "other", "question_id": qid})
dump("vqa_q.json", {"info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "license": {},
                    "data_subtype": "train2014", "questions": qs})
dump("vqa_a.json", {"info": {}, "license": {}, "data_subtype": "train2014", "annotations": ans})

# GQA: an object keyed by question id, with the semantic program every record carries
gqa = {}
for i in range(n(40000)):
    a = rng.choice(WORDS)
    gqa[str(2000000 + i)] = {
        "semantic": [{"operation": "select", "dependencies": [], "argument": "%s (%d)" % (rng.choice(WORDS), i)},
                     {"operation": "query", "dependencies": [0], "argument": "name"}],
        "entailed": [str(2000000 + i + 1)], "equivalent": [str(2000000 + i)], "question": question(),
        "imageId": str(2300000 + i // 12), "isBalanced": True, "groups": {"global": None, "local": "14-x"},
        "answer": a, "semanticStr": "select: x->query: name [0]",
        "annotations": {"answer": {"0": "12"}, "question": {}, "fullAnswer": {"1": "12"}},
        "types": {"detailed": "relS", "semantic": "rel", "structural": "query"},
        "fullAnswer": "The %s is %s." % (rng.choice(WORDS), a)}
dump("gqa.json", gqa, indent=4)

# A-OKVQA
aok = []
for i in range(n(15000)):
    aok.append({"split": "train", "image_id": 300000 + i, "question_id": "q%019d" % i, "question": question(),
                "choices": [words(1, 3) for _ in range(4)], "correct_choice_idx": rng.randrange(4),
                "direct_answers": [rng.choice(WORDS) for _ in range(10)], "difficult_direct_answer": False,
                "rationales": [words(8, 20) + "." for _ in range(3)]})
dump("aokvqa.json", aok)

# ScienceQA as LLaVA's QCM-LEPA conversion
sqa = []
for i in range(n(8000)):
    ch = [words(1, 4) for _ in range(rng.randint(2, 4))]
    human = "%s\nContext: %s\nOptions: %s\n<image>" % (question(), words(10, 40) + ".",
                                                      " ".join("(%s) %s" % (chr(65 + k), c) for k, c in enumerate(ch)))
    gpt = "LECTURE: %s\nSOLUTION: %s\n###\nANSWER: %s." % (words(30, 80), words(10, 30), chr(65 + rng.randrange(len(ch))))
    sqa.append({"id": str(i), "image": "%d/image.png" % i,
                "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}]})
dump("sqa.json", sqa, indent=2)

# RefCOCO, MDETR format
ims, anns = [], []
for i in range(n(30000)):
    ims.append({"file_name": "COCO_train2014_%012d.jpg" % (500000 + i // 3), "height": 480, "width": 640, "id": i,
                "original_id": 500000 + i // 3, "caption": words(2, 8), "dataset_name": "refcoco",
                "tokens_negative": [[0, 3]], "tokens_positive_eval": [[[0, 3]]]})
    anns.append({"area": 1000.5, "iscrowd": 0, "image_id": i, "category_id": 1, "id": i,
                 "bbox": [rng.uniform(0, 300), rng.uniform(0, 200), rng.uniform(10, 300), rng.uniform(10, 250)],
                 "original_id": 7000000 + i, "tokens_positive": [[0, 3]]})
dump("refcoco.json", {"images": ims, "annotations": anns, "categories": [{"id": 1, "name": "person"}]})

# Visual Genome regions + image_data
img_data, regs = [], []
for i in range(n(3000)):
    img_data.append({"width": 800, "url": "https://cs.stanford.edu/people/rak248/VG_100K/%d.jpg" % i, "height": 600,
                     "image_id": i, "coco_id": None, "flickr_id": None})
    regs.append({"regions": [{"region_id": i * 20 + k, "width": rng.randint(5, 300), "height": rng.randint(5, 300),
                              "image_id": i, "phrase": words(2, 7), "y": rng.randint(0, 500), "x": rng.randint(0, 700)}
                             for k in range(15)], "id": i})
dump("vg_image_data.json", img_data)
dump("vg_regions.json", regs)

# LLaVA-Instruct conversations and ShareGPT
conv = []
for i in range(n(10000)):
    turns = []
    for t in range(rng.randint(1, 5)):
        q = question()
        if t == 0:
            q = ("<image>\n" + q) if rng.random() < 0.5 else (q + "\n<image>")
        turns += [{"from": "human", "value": q}, {"from": "gpt", "value": words(15, 80) + "."}]
    conv.append({"id": "%012d" % i, "image": "%012d.jpg" % i, "conversations": turns})
dump("llava.json", conv, indent=2)
share = []
for i in range(n(3000)):
    turns = []
    for t in range(rng.randint(1, 6)):
        turns += [{"from": "human", "value": words(5, 60) + "?"}, {"from": "gpt", "value": words(40, 300) + "."}]
    share.append({"id": "sg%06d_0" % i, "conversations": turns})
dump("sharegpt.json", share, indent=2)

# LLaVA-Pretrain captions
blip = [{"id": "%09d" % i, "image": "%05d/%09d.jpg" % (i // 10000, i),
         "conversations": [{"from": "human", "value": "<image>\nProvide a brief description of the given image."},
                           {"from": "gpt", "value": words(4, 14)}]} for i in range(n(40000))]
dump("blip.json", blip, indent=4)

vsr = os.path.join(shared, "fixtures/real/vsr/random_train.full.jsonl")
tok = os.path.join(shared, "fixtures/tokenizers/llama/tokenizer.json")
tmpl = os.path.join(root, "templates/honeybee.yaml")
with open(os.path.join(out, "bench.yaml"), "w") as f:
    f.write("""name: bench-prep
seed: 1
tokenizer: %s
templates: %s
max_length: 1023
visual_tokens: 144
sources:
  vqav2: {files: {questions: vqa_q.json, annotations: vqa_a.json}}
  gqa: {files: gqa.json}
  vsr: {files: %s}
  sqa: {dataset: scienceqa-llava, files: sqa.json}
  aokvqa: {files: aokvqa.json}
  refcoco: {dataset: refcoco-mdetr, files: refcoco.json}
  vgloc: {dataset: vg-regions, files: {regions: vg_regions.json, image_data: vg_image_data.json}}
  llava150k: {dataset: llava-instruct, files: llava.json}
  vicuna40k: {dataset: sharegpt, files: sharegpt.json}
  blip: {dataset: llava-pretrain, template: captioning, files: blip.json}
""" % (tok, tmpl, vsr))
print(out)
