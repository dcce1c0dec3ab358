#!/usr/bin/env python3
"""Reference questions for the VSR caption rewrite (lib/text/vsr), one line per caption of the official
random/train.jsonl (../shared/fixtures/real/vsr/random_train.full.jsonl, 7,680 captions):

    ["<official naive rewrite>", "<expected robust rewrite>"]

* official: Honeybee's vsr_dataset.py method as spec-data.md §3.1 states it, written here in Python so that the
  str.split / str.lower / str.strip semantics are Python's own:
      "Is " + " ".join(x.lower().replace(".", "?").strip() for x in caption.split("is"))
* robust: an independent oracle for the VSR caption grammar of spec-data.md §3.4, by regular expression:
      The S is R the O.        -> Is the S R the O?
      The S contains the O.    -> Does the S contain the O?
      The S has as a part the O. -> Does the S have as a part the O?
      The S consists of the O. -> Does the S consist of the O?
  Every caption of the file matches one of these (the script asserts it).

Usage: python3 tests/ref/gen_vsr_compat.py [SHARED_DIR]   (writes tests/fixtures/vsr/random_train.rewrite.jsonl)
"""
import json
import os
import re
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(root), "shared")
src = os.path.join(shared, "fixtures/real/vsr/random_train.full.jsonl")
out = os.path.join(root, "tests/fixtures/vsr/random_train.rewrite.jsonl")


def official(caption):
    return "Is " + " ".join(x.lower().replace(".", "?").strip() for x in caption.split("is"))


VERB = re.compile(r"^The (?P<s>.+?) (?:(?P<cop>is) (?P<r>.+)|(?P<verb>contains|has as a part|consists of) (?P<o>the .+))\.$")


def robust(caption):
    m = VERB.match(caption)
    assert m, caption
    if m.group("cop"):
        return "Is the %s %s?" % (m.group("s"), m.group("r"))
    verb = {"contains": "contain", "has as a part": "have as a part", "consists of": "consist of"}[m.group("verb")]
    return "Does the %s %s %s?" % (m.group("s"), verb, m.group("o"))


n = bad = 0
with open(src, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as g:
    for line in f:
        cap = json.loads(line)["caption"]
        o = official(cap)
        n += 1
        # the malformed count of spec-data.md §3.2: the official question is not the grammatical one (in lower case)
        r = robust(cap)
        bad += not (r.startswith("Is ") and o == "Is " + r[3:].lower())
        g.write(json.dumps([o, r], ensure_ascii=False) + "\n")
print("captions %d, official rewrite differs from the grammatical question in %d" % (n, bad))
