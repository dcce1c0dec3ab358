#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer/*: a 10,000+ string corpus and what the reference tokenizers make of it.

References (PyPI): HF `tokenizers` for tokenizer.json (encode(text, add_special_tokens=False) with
encode_special_tokens=True, so literal "<s>" stays text as in hb; decode(ids) with its default
skip_special_tokens=True) and `sentencepiece` for tokenizer.model (encode(bytes), decode(ids)).
Tokenizers: the LLaMA and Mistral tokenizer.json from ../shared/fixtures/tokenizers, the LLaMA tokenizer.json with
the newer Metaspace pre-tokenizer/decoder layout (built the same way by the C test), and the real LLaMA-2
tokenizer.model committed beside the fixtures (llama2.model.zst) (tests/fixtures/tokenizer/README.md says where it comes from).

Invalid UTF-8: corpus entries that are not valid UTF-8 are given to sentencepiece as bytes (it reads each invalid
byte as U+FFFD) and to HF `tokenizers`, which only takes Unicode strings, as the string with each invalid byte
replaced by U+FFFD: hb's documented rule. Prompt cases follow Honeybee's encode_prompt (spec-data.md §7.2),
re-implemented here over sentencepiece (what Honeybee's slow LlamaTokenizer runs) and checked against HF.

Files (one line per corpus entry, same order):
  corpus.txt.zst             a JSON string per line, or "x <hex>" for bytes that are not valid UTF-8
  <tok>.ids.zst              the ids, space-separated (llama_model: "~" where they equal llama_json's;
                             llama_metaspace: every 5th corpus entry only)
  <tok>.decode.zst           "=" when decode(ids) gives the text back, else the decoded text as a JSON string
  randids.txt.zst            random id sequences (byte-piece runs, specials, "▁" pieces), space-separated
  <tok>.randdecode.zst       their decoded text as JSON strings
  prompt_cases.json          chunk-wise prompt encodings with exact ids and masks
  tiny_*.json.zst            two small tokenizer.json files cut from LLaMA's (no byte fallback with fused <unk>;
                             byte pieces for ASCII only, unfused <unk>); their ids cover every 10th corpus entry and
                             their random-id decodes use the random ids modulo the vocabulary size
Rerun:  python3 tests/ref/gen_tokenizer_fixtures.py   (needs tokenizers, sentencepiece, zstd on PATH)
"""
import json, os, random, subprocess, sys

import sentencepiece as spm
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("HB_SHARED", os.path.join(ROOT, "..", "shared"))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
FIX = os.path.join(SHARED, "fixtures")
rng = random.Random(20240607)


# ---------------------------------------------------------------------------------------------------------------
# corpus
# ---------------------------------------------------------------------------------------------------------------
def real_texts():
    """Real text from the shared fixtures: questions, answers, captions, conversations, lectures."""
    out = []
    for l in open(os.path.join(FIX, "tokenizers", "llama", "golden_owleval.jsonl"), encoding="utf-8"):
        out.append(json.loads(l)["text"])

    def walk(x):
        if isinstance(x, str):
            if 2 <= len(x) <= 4000 and not x.endswith((".jpg", ".png")):
                out.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    def load_json_or_lines(p):
        txt = open(p, encoding="utf-8").read()
        try:
            return json.loads(txt)
        except json.JSONDecodeError:
            return [json.loads(l) for l in txt.splitlines() if l.strip()]

    real = os.path.join(FIX, "real")
    for sub in ["llava", "sharegpt", "scienceqa", "vqav2", "gqa", "visual_genome", "eval/mmbench"]:
        d = os.path.join(real, sub)
        for f in sorted(os.listdir(d)):
            if f.endswith((".json", ".jsonl")) and "pid_splits" not in f:
                walk(load_json_or_lines(os.path.join(d, f)))
    vsr = [json.loads(l)["caption"] for l in open(os.path.join(real, "vsr", "random_train.full.jsonl"), encoding="utf-8")]
    out += vsr[:1500]
    for f in sorted(os.listdir(os.path.join(real, "eval", "mme", "LaVIN"))):
        for l in open(os.path.join(real, "eval", "mme", "LaVIN", f), encoding="utf-8"):
            out += [c for c in l.rstrip("\n").split("\t")[1:] if c]
    seen, uniq = set(), []
    for s in out:
        if s not in seen:
            seen.add(s)
            uniq.append(s)
    return uniq


WS = [" ", "  ", "   ", "    ", "        ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n ", "\u3000", "\u00a0", "\u2009",
      "\u200b", "\v", "\f", " \t \n"]
DIGITS = ["0", "7", "42", "2024", "3.14159", "1,000,000", "-17", "+1 (555) 010-9999", "0x1F", "1e-9", "98.6°F",
          "12:30", "٣٤٥", "１２３", "½", "²", "Ⅻ", "10^9"]
CJK = ["北京是中国的首都", "我喜欢吃苹果。", "東京タワーの高さは333メートルです", "ひらがなとカタカナ", "漢字",
       "這是一個測試句子，包含繁體字。", "中文，标点符号！", "日本語のテキスト", "表"]
HANGUL = ["안녕하세요", "한국어 문장입니다.", "사과를 좋아해요", "ㄱㄴㄷ", "한글 자모", "서울특별시"]
EMOJI = ["😀", "👍🏽", "👩‍👩‍👧", "🏳️‍🌈", "👨‍💻", "🇰🇷🇯🇵", "❤️", "🐝🍯", "🧑🏿‍🚀", "⌚", "☃", "🫠", "1️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]
COMBINING = ["e\u0301", "a\u0308\u0323", "n\u0303o", "Z\u0351\u0352\u0353a\u0354l\u0355g\u0356o", "क्षि", "नमस्ते",
             "مرحبا بالعالم", "שלום", "ภาษาไทย", "Ελληνικά", "Привет, мир", "Ærøskøbing", "ﬁ ligature", "Å Å",
             "ǅ", "ẞ", "İstanbul"]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x1b[31m", "\x1f", "\x7f", "\u0085", "\u2028", "\u2029", "\ufeff",
           "\u200d", "\u202e", "\ue000", "\U000F0000", "\ufffd", "\ufffe"]
SPECIAL = ["<s>", "</s>", "<unk>", "<image>", "<pad>", "<0x0A>", "<0x", "▁", "▁▁", "▁hello", "[NO_PROMPT]", "<s >",
           "</s></s>", "<<s>>", "\nHuman: ", "\nAI: ", "Human:", "AI:"]
CODE = ["def f(x):\n    return x * 2\n", "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}", "    indented",
        "x = {'a': [1, 2, 3]}", "#include <stdio.h>", "SELECT * FROM t WHERE id = 7;", "$ ls -la | grep .py",
        "```python\nprint('hi')\n```", "<div class=\"x\">&nbsp;</div>", "https://example.com/a/b?c=d&e=f#g",
        "C:\\Users\\name\\file.txt", "a_b_c__d", "camelCaseIdentifier", "CONSTANT_VALUE=1"]
WORDS = ("the of and to in is was for on that with as by at from his an were are which this be has or had but "
         "not they it its one all been their who more image bus red two people what color where how many photo "
         "answer question assistant human honeybee flower purple close up table man woman dog cat").split()
INVALID = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xed\xbf\xbf",
           b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xfe", b"\xff", b"\xe2\x82",
           b"\xe2", b"\xf0\x9f\x98", b"\xf0\x9f", b"\xc3", b"\xc3(", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xf0\x28\x8c\x28",
           b"\xce\xbb\xff\xce"]


def long_word(r):
    k = r.choice([300, 1000, 2000, 4000])
    kind = r.randrange(6)
    if kind == 0:
        return "a" * k
    if kind == 1:
        return "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(k))
    if kind == 2:
        return "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(k))
    if kind == 3:
        return "".join(r.choice(CJK) for _ in range(k // 8))
    if kind == 4:
        return "ab" * (k // 2)
    return " " * (k // 10) + "x" + "\n" * (k // 50)


def fragment(r, real):
    c = r.randrange(14)
    if c <= 3:
        return r.choice(real)
    if c == 4:
        return r.choice(WS)
    if c == 5:
        return r.choice(DIGITS)
    if c == 6:
        return r.choice(CJK + HANGUL)
    if c == 7:
        return r.choice(EMOJI)
    if c == 8:
        return r.choice(COMBINING)
    if c == 9:
        return r.choice(CONTROL)
    if c == 10:
        return r.choice(SPECIAL)
    if c == 11:
        return r.choice(CODE)
    if c == 12:
        return " ".join(r.choice(WORDS) for _ in range(r.randint(1, 12)))
    real_s = r.choice(real)
    i = r.randrange(len(real_s) + 1)
    return real_s[:i]


def synth(r, real):
    parts = [fragment(r, real) for _ in range(r.randint(1, 6))]
    sep = r.choice(["", " ", "", " ", "\n", "  ", "\t"])
    s = sep.join(parts)
    if r.random() < 0.15:
        s = r.choice(WS) + s
    if r.random() < 0.15:
        s = s + r.choice(WS)
    return s


def with_invalid(r, s):
    b = s.encode("utf-8")
    for _ in range(r.randint(1, 3)):
        i = r.randint(0, len(b))
        while 0 < i < len(b) and (b[i] & 0xC0) == 0x80:
            i -= 1
        b = b[:i] + r.choice(INVALID) + b[i:]
    return b


EDGE = ["", " ", "  ", "\n", "\t", "a", " a", "a ", " a ", "  a  ", "Hello world", " Hello world", "Hello  world",
        "Hello\nworld", "▁", " ▁", "▁ ", "▁▁▁", "<s>", " <s>", "</s>", "<unk>", "<image>", "\nAI: ", "\nHuman: ",
        "\nAI: red", "red", "2", "What color is the bus?", "1234567890", "3.14", "\x00", "\x00\x00", "\ufffd",
        "\ufffd\ufffd", "🐝", "👩‍👩‍👧", "e\u0301", "北京", "안녕", " " * 17, "\n" * 9, "\t \t", "a" * 200,
        "a\u3000b", "x\u00a0y", "<0x0A>", "Human: hi\nAI: hello"]
EDGE_BYTES = [b"\xff", b" \xff", b"\xff ", b"a\x80b", b"\xe2\x82\xac\xe2\x82", b"\xed\xa0\x80", b"\xc0\x80",
              b"\xf4\x90\x80\x80", b"\xef\xbf\xbd\xff", b"\xe2\x96", b"\xe2\x96\x81\xe2\x96"]


def build_corpus():
    real = real_texts()
    entries = [s.encode("utf-8") for s in EDGE] + EDGE_BYTES
    entries += [s.encode("utf-8") for s in real]
    while len(entries) < 10000:
        k = rng.random()
        if k < 0.015:
            s = long_word(rng)
        else:
            s = synth(rng, real)
        if rng.random() < 0.07:
            entries.append(with_invalid(rng, s))
        else:
            entries.append(s.encode("utf-8"))
    return entries


def fffd_per_byte(b):
    """hb's rule: every byte that does not start a valid UTF-8 sequence reads as U+FFFD."""
    out, i = [], 0
    while i < len(b):
        for k in (1, 2, 3, 4):
            try:
                ch = b[i:i + k].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                out.append(ch)
                i += k
                break
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out)


def is_valid(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# ---------------------------------------------------------------------------------------------------------------
# tokenizers
# ---------------------------------------------------------------------------------------------------------------
def hf(path, patch=None):
    d = json.load(open(path, encoding="utf-8"))
    if patch:
        patch(d)
    t = Tokenizer.from_str(json.dumps(d))
    t.encode_special_tokens = True
    return t


def tiny_tokenizer(byte_fallback, fuse_unk, byte_range):
    """A small real-merge BPE cut from LLaMA's: ASCII characters, some byte pieces, the first merges whose parts
    exist. Exercises <unk> (fused or not) and partial byte fallback, which LLaMA's full vocabulary never reaches."""
    d = json.load(open(os.path.join(FIX, "tokenizers", "llama", "tokenizer.json"), encoding="utf-8"))
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in byte_range:
        vocab["<0x%02X>" % b] = len(vocab)
    for ch in "\u2581abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;!?'\"-()<>/":
        vocab.setdefault(ch, len(vocab))
    merges = []
    for m in d["model"]["merges"][:4000]:
        a, b = m.split(" ")
        if a in vocab and b in vocab:
            merges.append(m)
            vocab.setdefault(a + b, len(vocab))
    d["model"].update(vocab=vocab, merges=merges, byte_fallback=byte_fallback, fuse_unk=fuse_unk)
    return d


def metaspace_layout(d):
    """The newer LLaMA tokenizer.json layout: no normalizer, a Metaspace pre-tokenizer and decoder."""
    d["normalizer"] = None
    d["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    d["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False}


class HF:
    def __init__(self, t):
        self.t = t

    def encode(self, b):
        return self.t.encode(fffd_per_byte(b), add_special_tokens=False).ids

    def decode(self, ids):
        return self.t.decode(ids)


class SPM:
    def __init__(self, path_zst):
        proto = subprocess.run(["zstd", "-q", "-d", "-c", path_zst], check=True, capture_output=True).stdout
        self.sp = spm.SentencePieceProcessor(model_proto=proto)

    def encode(self, b):
        return self.sp.encode(b)

    def decode(self, ids):
        return self.sp.decode(ids)


def random_ids(r, n_vocab):
    seqs = []
    for _ in range(2000):
        seq = []
        for _ in range(r.randint(0, 12)):
            k = r.randrange(10)
            if k < 3:
                seq += [3 + r.randrange(256) for _ in range(r.randint(1, 5))]  # byte-piece runs
            elif k == 3:
                seq += [3 + b for b in r.choice(["é", "€", "🐝", "한", "\n"]).encode("utf-8")]
            elif k == 4:
                seq.append(r.randrange(3))  # <unk> <s> </s>
            elif k == 5:
                seq.append(r.choice([29871, 259, 1678, 268, 29871]))  # "▁"-only pieces (LLaMA ids)
            else:
                seq.append(r.randrange(n_vocab))
        seqs.append(seq)
    return seqs


# ---------------------------------------------------------------------------------------------------------------
# prompts (Honeybee encode_prompt, spec-data.md §7.2)
# ---------------------------------------------------------------------------------------------------------------
SYS = ("The following is a conversation between a curious human and AI assistant. "
       "The assistant gives helpful, detailed, and polite answers to the user's questions.")


def encode_prompt(enc, prompt, max_length, m, no_eos=False, bos=1, eos=2):
    import re
    limit = (max_length or 10 ** 12) + 1
    ids, mask = [bos], [0]
    if prompt.startswith("[NO_PROMPT] <image> "):
        cap = prompt.replace("[NO_PROMPT] <image> ", "")
        toks = enc(cap)
        ids += [-1] * m + toks + [eos]
        mask += [0] * m + [1] * (len(toks) + 1)
    else:
        pieces = [p for p in re.split("(<image>|\nAI: |\nHuman: )", prompt) if p]
        for i, p in enumerate(pieces):
            if len(ids) >= limit:
                break
            if p == "<image>":
                if len(ids) + m > limit:
                    break
                ids += [-1] * m
                mask += [0] * m
            else:
                toks = enc(p)
                if i > 0 and pieces[i - 1] == "\nAI: ":
                    ids += toks + [eos]
                    mask += [1] * (len(toks) + 1)
                else:
                    ids += toks
                    mask += [0] * len(toks)
    if no_eos and ids[-1] == eos:
        ids, mask = ids[:-1], mask[:-1]
    return ids[:limit], mask[:limit]


def prompt_cases(sp, hft):
    q1 = "Answer the question using a single word or phrase. What color is the bus?"
    q2 = "Answer the question using a single word or phrase. How many people are there?"
    vqa = SYS + "\nHuman: <image>\nHuman: " + q1 + "\nAI: red\nHuman: " + q2 + "\nAI: 2"
    cases = [
        ("vqa_multiturn", vqa, 1023, 144, False),
        ("captioning", "[NO_PROMPT] <image> a close up of a honeybee on a purple flower", 1024, 144, False),
        ("empty_answer", SYS + "\nHuman: <image>\nHuman: What is in the box?\nAI: \nHuman: And now?\nAI: a dog", 1023, 144,
         False),
        ("truncated_mid_text", vqa, 60, 4, False),
        ("truncated_image_does_not_fit", vqa, 100, 144, False),
        ("fits_exactly_at_limit", SYS + "\nHuman: <image>", 46, 8, False),
        ("stops_after_image_at_limit", SYS + "\nHuman: <image>\nHuman: more", 46, 8, False),
        ("no_truncation_when_zero", vqa, 0, 144, False),
        ("eval_prompt_no_eos", SYS + "\nHuman: <image>\nHuman: " + q1 + "\nAI: ", 0, 144, True),
        ("answer_no_eos", vqa, 0, 16, True),
        ("literal_specials_are_text", SYS + "\nHuman: What does <s> mean in HTML? And </s> or <unk>?\nAI: <s> is "
         "strike-through.</s>", 1023, 144, False),
        ("text_only_multiturn", SYS + "\nHuman: Write a haiku about bees.\nAI: Golden wings hum low\n"
         "nectar stored in waxen rooms\nsummer kept for frost\nHuman: Thanks!\nAI: You're welcome.", 2048, 144, False),
        ("two_images", SYS + "\nHuman: <image>\nHuman: <image>\nHuman: Are these the same?\nAI: no", 1023, 5, False),
        ("no_prompt_twice_and_cut", "[NO_PROMPT] <image> caption with [NO_PROMPT] <image> inside", 6, 8, False),
        ("starts_with_ai", "\nAI: \nAI: hello\nHuman: hi", 0, 1, False),
        ("role_marker_in_content", SYS + "\nHuman: quote: \"\nAI: fake\" end\nAI: ok", 0, 2, False),
        ("unicode_answer", SYS + "\nHuman: <image>\nHuman: 이것은 무엇입니까?\nAI: 꿀벌 🐝", 1023, 3, False),
    ]
    out = []
    for name, prompt, max_length, m, no_eos in cases:
        ids, mask = encode_prompt(lambda s: sp.encode(s.encode("utf-8")), prompt, max_length, m, no_eos)
        ids2, mask2 = encode_prompt(lambda s: hft.encode(s, add_special_tokens=False).ids, prompt, max_length, m, no_eos)
        assert (ids, mask) == (ids2, mask2), name
        full, _ = encode_prompt(lambda s: sp.encode(s.encode("utf-8")), prompt, 0, m, no_eos)
        out.append({"name": name, "prompt": prompt, "max_length": max_length, "visual_tokens": m, "no_eos": no_eos,
                    "ids": ids, "mask": mask, "truncated": len(full) > len(ids)})
    return out


# ---------------------------------------------------------------------------------------------------------------
def zst_write(path, text):
    subprocess.run(["zstd", "-q", "-19", "-f", "-o", path], input=text.encode("utf-8"), check=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    corpus = build_corpus()
    lines = []
    for b in corpus:
        lines.append(json.dumps(b.decode("utf-8"), ensure_ascii=False) if is_valid(b) else "x " + b.hex())
    zst_write(os.path.join(OUT, "corpus.txt.zst"), "\n".join(lines) + "\n")

    llama_json = os.path.join(FIX, "tokenizers", "llama", "tokenizer.json")
    toks = {
        "llama_json": HF(hf(llama_json)),
        "mistral_json": HF(hf(os.path.join(FIX, "tokenizers", "mistral", "tokenizer.json"))),
        "llama_model": SPM(os.path.join(OUT, "llama2.model.zst")),
        "llama_metaspace": HF(hf(llama_json, metaspace_layout)),
    }
    for name, args in [("tiny_fuse", (False, True, [])), ("tiny_nofuse_bytes", (True, False, range(128)))]:
        d = tiny_tokenizer(*args)
        zst_write(os.path.join(OUT, name + ".json.zst"), json.dumps(d, ensure_ascii=False))
        t = Tokenizer.from_str(json.dumps(d))
        t.encode_special_tokens = True
        toks[name] = HF(t)
    rids = random_ids(rng, 32000)
    zst_write(os.path.join(OUT, "randids.txt.zst"), "\n".join(" ".join(map(str, s)) for s in rids) + "\n")
    ref_ids = None
    for name, tk in toks.items():
        ids_lines, dec_lines = [], []
        stride = {"llama_metaspace": 5, "tiny_fuse": 10, "tiny_nofuse_bytes": 10}.get(name, 1)
        sub = corpus[::stride]
        for i, b in enumerate(sub):
            ids = tk.encode(b)
            line = " ".join(map(str, ids))
            ids_lines.append("~" if name == "llama_model" and ref_ids[i] == line else line)
            d = tk.decode(ids)
            dec_lines.append("=" if is_valid(b) and d == b.decode("utf-8") else json.dumps(d, ensure_ascii=False))
        if name == "llama_json":
            ref_ids = ids_lines
        zst_write(os.path.join(OUT, name + ".ids.zst"), "\n".join(ids_lines) + "\n")
        zst_write(os.path.join(OUT, name + ".decode.zst"), "\n".join(dec_lines) + "\n")
        nv = tk.t.get_vocab_size() if isinstance(tk, HF) else 32000
        rd = [json.dumps(tk.decode([i % nv for i in s]), ensure_ascii=False) for s in rids]
        zst_write(os.path.join(OUT, name + ".randdecode.zst"), "\n".join(rd) + "\n")
        print(name, "done", file=sys.stderr)
    same = sum(toks["llama_json"].encode(b) == toks["llama_model"].encode(b) for b in corpus)
    print("llama tokenizer.json vs tokenizer.model: %d/%d identical" % (same, len(corpus)), file=sys.stderr)

    cases = prompt_cases(toks["llama_model"].sp, toks["llama_json"].t)
    with open(os.path.join(OUT, "prompt_cases.json"), "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]\n")
    print("wrote", len(corpus), "corpus entries,", len(cases), "prompt cases", file=sys.stderr)


if __name__ == "__main__":
    main()
