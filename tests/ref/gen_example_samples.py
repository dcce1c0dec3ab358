#!/usr/bin/env python3
"""Writes examples/shard/samples.jsonl: three Honeybee-layout samples in the hb-inspect dump format, tokenized
with HF `tokenizers` (PyPI) and the LLaMA tokenizer.json from ../shared, chunk-wise as Honeybee's encode_prompt
does (spec-data.md §7.2). Used by the issue-2 demo (pack -> verify -> stats -> dump). Rerun:
    python3 tests/ref/gen_example_samples.py
"""
import json, os, re
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
tok = Tokenizer.from_file(os.path.join(ROOT, "..", "shared", "fixtures", "tokenizers", "llama", "tokenizer.json"))
M = 144
SYS = ("The following is a conversation between a curious human and AI assistant. "
       "The assistant gives helpful, detailed, and polite answers to the user's questions.")

def encode(prompt):
    ids, mask = [1], [0]
    pieces = [p for p in re.split(r"(<image>|\nAI: |\nHuman: )", prompt) if p]
    prev = None
    for p in pieces:
        if p == "<image>":
            ids += [-1] * M; mask += [0] * M
        else:
            t = tok.encode(p, add_special_tokens=False).ids
            if prev == "\nAI: ":
                ids += t + [2]; mask += [1] * (len(t) + 1)
            else:
                ids += t; mask += [0] * len(t)
        prev = p
    return ids, mask

def sample(sid, source, file, records, choices, images, qa, image=True):
    turns = [{"role": "system", "text": SYS}]
    prompt = SYS
    if image:
        turns.append({"role": "human", "text": "<image>"}); prompt += "\nHuman: <image>"
    for q, a in qa:
        turns.append({"role": "human", "text": q}); turns.append({"role": "ai", "text": a})
        prompt += "\nHuman: " + q + "\nAI: " + a
    ids, mask = encode(prompt)
    return {"id": sid, "source": source, "source_file": file, "records": records, "choices": choices,
            "images": images, "turns": turns, "input_ids": ids, "loss_mask": mask}

def caption(sid, source, file, records, images, text):
    # "[NO_PROMPT] <image> caption": bos, M image positions, the caption and eos, all supervised but bos/image.
    t = tok.encode(text, add_special_tokens=False).ids
    ids = [1] + [-1] * M + t + [2]
    mask = [0] * (1 + M) + [1] * (len(t) + 1)
    return {"id": sid, "source": source, "source_file": file, "records": records, "choices": {"template": "[NO_PROMPT]"},
            "images": images, "turns": [{"role": "human", "text": "<image>"}, {"role": "ai", "text": text}],
            "input_ids": ids, "loss_mask": mask}

out = [
    sample("vqav2/458752", "vqav2", "v2_OpenEnded_mscoco_train2014_questions.json", [0, 1], {"template": 0},
           ["4f1c2a9d0b7e6c5a3d2e1f0a9b8c7d6e"],
           [("Answer the question using a single word or phrase. What is this photo taken looking through?", "net"),
            ("Answer the question using a single word or phrase. What position is this man playing?", "pitcher")]),
    sample("sqa/5", "sqa", "problems.json", [4], {"template": 0, "options": [1, 0]}, [],
           [("Question: Which tense does the sentence use?\nMona will print her name with care.\n"
             "Context: N/A\nOptions: A. future tense\nB. present tense\nAnswer with the option's letter from the "
             "given choices directly.", "A")], image=False),
    caption("coyo/000001", "coyo", "00000.tar", [0], ["0a1b2c3d4e5f60718293a4b5c6d7e8f9"],
            "a close up of a honeybee on a purple flower"),
]
with open(os.path.join(ROOT, "examples", "shard", "samples.jsonl"), "w") as f:
    for s in out:
        f.write(json.dumps(s, ensure_ascii=False) + "\n")
print("wrote", len(out), "samples")
