#!/usr/bin/env python3
"""Tokenizer encode throughput: hb vs HF `tokenizers` (one thread) vs `sentencepiece` (one thread) on the same
text, with identical output checked. Run by tests/bench/bench_tokenizer.sh (`make bench`).

The text (>= 50 MB by default, HB_TOK_BENCH_MB to change) is generated here, seeded: lines of 1-8 sentences drawn
from the real texts in ../shared/fixtures (OwlEval questions and answers, LLaVA and ShareGPT conversations,
ScienceQA lectures, VSR captions, MME answers...), with numbers changed, sentences shuffled and recombined, and a
small share of CJK, Hangul, emoji and code lines, so that words repeat the way they do in real data without the
file being one paragraph repeated. Each line is encoded on its own (no BOS, dummy prefix: add_special_tokens=False).

Measured: HF Tokenizer.encode_batch with RAYON_NUM_THREADS=1 and, on a fifth of the lines, HF encode() per line
(the ratio uses whichever is faster); sentencepiece encode(lines, num_threads=1); hb-tok bench (the encode loop only, in process) on the same
file, once with tokenizer.json and once with tokenizer.model. hb's ids are compared with both references.
"""
import json, os, random, re, subprocess, sys, time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
try:
    import numpy as np
    import sentencepiece as spm
    from tokenizers import Tokenizer
    import gen_tokenizer_fixtures as G  # real_texts() and the fragment lists
except ImportError as e:
    print("bench_tokenizer: skipped, missing reference package: %s" % e)
    sys.exit(0)

HB_BIN = os.environ.get("HB_BIN", os.path.join(ROOT, "bin"))
SHARED = os.environ.get("HB_SHARED", os.path.join(ROOT, "..", "shared"))
OUT = os.path.join(ROOT, "tests", "bench", "out")
MB = float(os.environ.get("HB_TOK_BENCH_MB", "50"))


def make_text(path, target):
    r = random.Random(1234)
    real = G.real_texts()
    sents = []
    for t in real:
        for s in re.split(r"(?<=[.!?])\s+|\n+", t):
            s = s.strip()
            if len(s) > 1:
                sents.append(s)
    extra = G.CJK + G.HANGUL + G.EMOJI + G.COMBINING + G.CODE + G.DIGITS

    def vary(s):
        return re.sub(r"\d+", lambda m: str(r.randrange(10 ** len(m.group())) if r.random() < 0.5 else m.group()), s)

    n = 0
    with open(path, "w", encoding="utf-8") as f:
        while n < target:
            k = r.random()
            if k < 0.03:
                line = " ".join(r.choice(extra).replace("\n", " ") for _ in range(r.randint(1, 6)))
            else:
                line = " ".join(vary(r.choice(sents)) for _ in range(r.randint(1, 8)))
            line = line.replace("\n", " ")
            f.write(line + "\n")
            n += len(line.encode("utf-8")) + 1


def main():
    os.makedirs(OUT, exist_ok=True)
    text = os.path.join(OUT, "tokenizer_bench.txt")
    target = int(MB * 1e6)
    if not os.path.exists(text) or os.path.getsize(text) < target:
        make_text(text, target)
    raw = open(text, "rb").read()
    nbytes = len(raw)
    lines = raw.decode("utf-8").split("\n")[:-1]
    print("text: %s, %.1f MB, %d lines" % (text, nbytes / 1e6, len(lines)))

    tj = os.path.join(SHARED, "fixtures", "tokenizers", "llama", "tokenizer.json")
    tm = os.path.join(OUT, "llama2.model")
    subprocess.run(["zstd", "-q", "-d", "-f", os.path.join(ROOT, "tests", "fixtures", "tokenizer", "llama2.model.zst"),
                    "-o", tm], check=True)

    hf = Tokenizer.from_file(tj)
    hf.encode_special_tokens = True
    t0 = time.perf_counter()
    enc = hf.encode_batch(lines, add_special_tokens=False)
    t_hf = time.perf_counter() - t0
    hf_ids = [e.ids for e in enc]
    del enc
    # the per-line Python loop, on the first fifth of the lines (it is the slower path on long lines; reported so
    # that the ratio below uses HF's faster single-thread figure whichever it is)
    sub = lines[: len(lines) // 5]
    sub_bytes = sum(len(x.encode("utf-8")) + 1 for x in sub)
    t0 = time.perf_counter()
    for x in sub:
        hf.encode(x, add_special_tokens=False)
    t_loop = (time.perf_counter() - t0) * nbytes / sub_bytes

    sp = spm.SentencePieceProcessor(model_file=tm)
    t0 = time.perf_counter()
    sp_ids = sp.encode(lines, num_threads=1)
    t_sp = time.perf_counter() - t0

    def flat(ids_list):
        out = np.empty(sum(len(x) for x in ids_list) + len(ids_list), dtype=np.int32)
        i = 0
        for x in ids_list:
            out[i] = len(x)
            out[i + 1:i + 1 + len(x)] = x
            i += 1 + len(x)
        return out

    ref_hf, ref_sp = flat(hf_ids), flat(sp_ids)
    del hf_ids, sp_ids

    def hb(tok, name):
        ids_out = os.path.join(OUT, "tokenizer_bench.%s.ids" % name)
        p = subprocess.run([os.path.join(HB_BIN, "hb-tok"), "bench", "--tokenizer", tok, "--ids-out", ids_out, text],
                           check=True, capture_output=True, text=True)
        m = re.search(r", ([0-9.]+) s, ([0-9.]+) MB/s", p.stdout)
        ids = np.fromfile(ids_out, dtype=np.int32)
        os.remove(ids_out)
        return nbytes / (float(m.group(2)) * 1e6), ids, p.stdout.strip()  # from MB/s: 5 digits, not the ms-rounded time

    t_hbj, ids_j, out_j = hb(tj, "json")
    t_hbm, ids_m, out_m = hb(tm, "model")
    same_j = ids_j.shape == ref_hf.shape and bool((ids_j == ref_hf).all())
    same_m = ids_m.shape == ref_sp.shape and bool((ids_m == ref_sp).all())
    mbs = lambda t: nbytes / t / 1e6
    print("tokens: %d" % (len(ref_hf) - len(lines)))
    print("%-44s %8.2f MB/s  %7.2f s" % ("HF tokenizers encode_batch, 1 thread", mbs(t_hf), t_hf))
    print("%-44s %8.2f MB/s  (on a fifth of the lines)" % ("HF tokenizers encode per line, 1 thread", mbs(t_loop)))
    t_hf = min(t_hf, t_loop)
    print("%-44s %8.2f MB/s  %7.2f s" % ("sentencepiece encode, 1 thread", mbs(t_sp), t_sp))
    print("%-44s %8.2f MB/s  %7.2f s   identical to HF: %s" % ("hb tokenizer.json, 1 thread", mbs(t_hbj), t_hbj,
                                                                 "yes" if same_j else "NO"))
    print("%-44s %8.2f MB/s  %7.2f s   identical to sentencepiece: %s" % ("hb tokenizer.model, 1 thread", mbs(t_hbm),
                                                                           t_hbm, "yes" if same_m else "NO"))
    print("ratio hb/HF tokenizers: %.1fx   hb/sentencepiece: %.1fx" % (t_hf / t_hbj, t_sp / t_hbm))
    if not (same_j and same_m):
        print("bench_tokenizer: OUTPUT DIFFERS from the reference")
        sys.exit(1)


if __name__ == "__main__":
    main()
