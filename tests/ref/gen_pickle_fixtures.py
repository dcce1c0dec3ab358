#!/usr/bin/env python3
"""Pickle fixtures for the safe reader of lib/sources/pickle.c (RefCOCO's refs(*).p).

Writes tests/fixtures/pickle/:
  refs_p{0,1,2,4}.p   a refs-like list of dicts (str/int/float/list/None/bool, unicode, a repeated key object
                      so the memo is used) pickled by CPython's pickle at protocols 0, 1, 2 and 4
  py2_p2.p, py2_p0.p  the same shapes as Python 2's cPickle writes them (str as SHORT_BINSTRING / S'...'), assembled
                      opcode by opcode here and checked by loading them with pickle.loads(..., encoding="latin1")
  refs.json, py2.json the expected values (json.dumps of what CPython loads)
  evil_global.p       a pickle that calls a function (GLOBAL + REDUCE): the reader must refuse it
Usage: python3 tests/ref/gen_pickle_fixtures.py
"""
import datetime
import json
import os
import pickle
import struct

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
out = os.path.join(root, "tests/fixtures/pickle")
os.makedirs(out, exist_ok=True)

key = "sentences"
refs = [
    {"sent_ids": [0, 1, 2], "file_name": "COCO_train2014_000000581857_16.jpg", "ann_id": 1719310, "ref_id": 0,
     "image_id": 581857, "split": "train", key: [
         {"tokens": ["the", "lady", "with", "the", "blue", "shirt"], "raw": "THE LADY WITH THE BLUE SHIRT", "sent_id": 0,
          "sent": "the lady with the blue shirt"},
         {"tokens": ["lady", "with", "back", "to", "us"], "raw": "lady w back to us", "sent_id": 1,
          "sent": "lady with back to us"}],
     "category_id": 1, "area": 23812.5, "iscrowd": False, "note": None},
    {"sent_ids": [], "file_name": "caf\u00e9 \u2014 \U0001F600.jpg", "ann_id": -5, "ref_id": 2 ** 40, "image_id": 70000,
     "split": "testA", key: [], "category_id": 300, "area": -0.125, "iscrowd": True, "note": "tab\there\nnewline 'q' \"dq\" \\"},
]
for proto in (0, 1, 2, 4):
    with open(os.path.join(out, "refs_p%d.p" % proto), "wb") as f:
        pickle.dump(refs, f, protocol=proto)
with open(os.path.join(out, "refs.json"), "w") as f:
    json.dump(refs, f)


# ---- Python 2 style: str objects as byte strings ----
class Asm:
    def __init__(self):
        self.b = bytearray()
        self.memo = {}

    def op(self, *parts):
        for p in parts:
            self.b += p if isinstance(p, (bytes, bytearray)) else bytes([p])

    def s2(self, s):  # SHORT_BINSTRING, memoised like cPickle (BINPUT); repeats use BINGET
        if s in self.memo:
            self.op(b"h", bytes([self.memo[s]]))
            return
        raw = s.encode("latin1")
        self.op(b"U", bytes([len(raw)]), raw)
        self.memo[s] = len(self.memo)
        self.op(b"q", bytes([self.memo[s]]))

    def int2(self, v):
        if 0 <= v < 256:
            self.op(b"K", bytes([v]))
        elif 0 <= v < 65536:
            self.op(b"M", struct.pack("<H", v))
        else:
            self.op(b"J", struct.pack("<i", v))


py2 = [{"split": "train", "ref_id": 7, "ann_id": 1241542, "sent_ids": [3, 4], "raw": "caf\xe9", "area": 1.5},
       {"split": "val", "ref_id": 8, "ann_id": 70000, "sent_ids": [], "raw": "ok", "area": -2.25}]
a = Asm()
a.op(b"\x80\x02", b"]", b"q\x50", b"(")  # PROTO 2, EMPTY_LIST, BINPUT 80 (memo ids need not be dense), MARK
for d in py2:
    a.op(b"}", b"(")
    for k, v in d.items():
        a.s2(k)
        if isinstance(v, str):
            a.s2(v)
        elif isinstance(v, float):
            a.op(b"G", struct.pack(">d", v))
        elif isinstance(v, list):
            a.op(b"]", b"(")
            for x in v:
                a.int2(x)
            a.op(b"e")
        else:
            a.int2(v)
    a.op(b"u")
a.op(b"e", b".")
data = bytes(a.b)
assert pickle.loads(data, encoding="latin1") == py2, pickle.loads(data, encoding="latin1")
with open(os.path.join(out, "py2_p2.p"), "wb") as f:
    f.write(data)

# protocol 0 as Python 2 writes it: (lp0 / (dp1 / S'...' / I.. / F.. / p / g / a / s
t = "(lp0\n(dp1\nS'split'\np2\nS'train'\np3\nsS'raw'\np4\nS'caf\\xe9 \\'q\\''\np5\nsS'ref_id'\np6\nI7\nsS'area'\np7\nF1.5\nsS'big'\np8\nL12345678901L\nsS'flag'\np9\nI01\nsS'sent_ids'\np10\n(lp11\nI3\naI4\nasa(dp12\ng2\nS'val'\np13\nsg6\nI8\nsa."
data0 = t.encode("latin1")
val0 = pickle.loads(data0, encoding="latin1")
assert val0[0]["raw"] == "caf\xe9 'q'" and val0[0]["flag"] is True, val0
with open(os.path.join(out, "py2_p0.p"), "wb") as f:
    f.write(data0)
with open(os.path.join(out, "py2.json"), "w") as f:
    json.dump({"p2": py2, "p0": val0}, f)

with open(os.path.join(out, "evil_global.p"), "wb") as f:
    pickle.dump([{"when": datetime.date(2020, 1, 2)}], f, protocol=2)
print("pickle fixtures written to", out)
