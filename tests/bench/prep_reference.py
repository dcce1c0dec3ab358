#!/usr/bin/env python3
"""The Python side of bench_prep.sh: what Honeybee's data pipeline spends on each source, measured on one core.

For every source of the benchmark recipe it times (1) loading the raw files the way Honeybee's loaders do (json.load
of the whole file, or line by line for JSON Lines) and (2) encoding every rendered prompt chunk-wise as
honeybee/tokenization_honeybee.py::encode_prompt does, with HF `tokenizers` (the fast tokenizer; Honeybee itself uses
the slower sentencepiece-backed LlamaTokenizer, so this reference errs in Python's favour). The prompts are hb's own
renders (hb-prep render output), so both sides tokenize the same text. Rendering, grouping and writing are not
timed on the Python side: the comparison charges Python only for its two dominant costs.

Usage: prep_reference.py RECIPE TEXTS_DIR HB_OUT_DIR TOKENIZER_JSON
Prints one row per source and a total: records, MB, hb records/s and MB/s, Python records/s and MB/s, ratio.
"""
import glob
import json
import os
import pickle
import re
import sys
import tarfile
import time

import yaml
from tokenizers import Tokenizer

recipe_path, texts, hbout, tokpath = sys.argv[1:5]
data = os.path.dirname(os.path.abspath(recipe_path))
tok = Tokenizer.from_file(tokpath)
tok.encode_special_tokens = True
recipe = yaml.safe_load(open(recipe_path))
SPLIT = re.compile(r"(<image>|\nAI: |\nHuman: )")


def encode_prompt(prompt, m=144, max_length=1023):
    ids, mask = [1], [0]
    if prompt.startswith("[NO_PROMPT] <image> "):
        t = tok.encode(prompt.replace("[NO_PROMPT] <image> ", ""), add_special_tokens=False).ids
        ids += [-1] * m + t + [2]
        return ids[:max_length + 1]
    prev = None
    for p in (p for p in SPLIT.split(prompt) if p):
        if len(ids) >= max_length + 1:
            break
        if p == "<image>":
            if len(ids) + m > max_length + 1:
                break
            ids += [-1] * m
            mask += [0] * m
        else:
            t = tok.encode(p, add_special_tokens=False).ids
            if prev == "\nAI: ":
                ids += t + [2]
                mask += [1] * (len(t) + 1)
            else:
                ids += t
                mask += [0] * len(t)
        prev = p
    return ids[:max_length + 1]


def files_of(src):
    f = src["files"]
    out = []

    def walk(v):
        if isinstance(v, str):
            out.append(v if os.path.isabs(v) else os.path.join(data, v))
        elif isinstance(v, list):
            [walk(x) for x in v]
        elif isinstance(v, dict):
            [walk(x) for x in v.values()]
    walk(f)
    return out


def load(path):
    if path.endswith(".jsonl"):
        with open(path) as f:
            return [json.loads(l) for l in f]
    if path.endswith(".p"):
        with open(path, "rb") as f:
            return pickle.load(f)
    if path.endswith(".tar"):  # webdataset: every member's bytes, as a tar reader hands them over
        with tarfile.open(path) as t:
            return [t.extractfile(m).read() for m in t.getmembers() if m.isfile()]
    with open(path) as f:
        return json.load(f)


rows = []
tot = {"rec": 0, "bytes": 0, "hb": 0.0, "py": 0.0}
print("%-12s %9s %8s | %11s %8s | %11s %8s | %6s" % ("source", "records", "MB", "hb rec/s", "hb MB/s", "py rec/s",
                                                     "py MB/s", "ratio"))
for name, src in recipe["sources"].items():
    st = json.load(open(os.path.join(hbout, name + ".stats.json")))
    records, nbytes, hb_s = st["records_read"], st["input_bytes"], st["seconds"]
    t0 = time.perf_counter()
    for p in files_of(src):
        for q in sorted(glob.glob(p)) if "*" in p else [p]:
            obj = load(q)
            del obj
    t1 = time.perf_counter()
    tp = os.path.join(texts, name + ".jsonl")
    prompts = [json.loads(l)["text"] for l in open(tp)] if os.path.exists(tp) else []
    t2 = time.perf_counter()
    for p in prompts:
        encode_prompt(p)
    t3 = time.perf_counter()
    py_s = (t1 - t0) + (t3 - t2)
    mb = nbytes / 1e6
    hb_s = max(hb_s, 1e-6)
    print("%-12s %9d %8.2f | %11.0f %8.2f | %11.0f %8.2f | %5.1fx" % (
        name, records, mb, records / hb_s, mb / hb_s, records / py_s, mb / py_s, py_s / hb_s))
    tot["rec"] += records
    tot["bytes"] += nbytes
    tot["hb"] += hb_s
    tot["py"] += py_s
mb = tot["bytes"] / 1e6
print("%-12s %9d %8.2f | %11.0f %8.2f | %11.0f %8.2f | %5.1fx" % (
    "= " + recipe.get("name", "recipe"), tot["rec"], mb, tot["rec"] / tot["hb"], mb / tot["hb"], tot["rec"] / tot["py"], mb / tot["py"],
    tot["py"] / tot["hb"]))
