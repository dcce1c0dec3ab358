#!/usr/bin/env python3
"""Reference for hb-mix (docs/mix-plan.md): computes, from the specification alone, the exact stream a mix plan must
hold for a few small synthetic inputs, and writes tests/fixtures/mix/reference.json. tests/unit/test_mix_ref.c builds
shards with the same per-sample lengths, runs hb-mix and compares every entry, every sequence boundary and every
realised total.

Independent of the C code: plain Python integers and floats, XXH3-64 through ctypes from the system libxxhash (the
only shared piece: the hash function the spec names). Run from the repository root:
    python3 tests/ref/gen_mix_reference.py
"""
import ctypes
import json
import math
import os

import numpy as np

M64 = (1 << 64) - 1
PHI = 0x9E3779B97F4A7C15

_xx = ctypes.CDLL("libxxhash.so.0")
_xx.XXH3_64bits_withSeed.restype = ctypes.c_uint64
_xx.XXH3_64bits_withSeed.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]


def xxh3(data: bytes, seed: int) -> int:
    return _xx.XXH3_64bits_withSeed(data, len(data), seed)


def mix64(x):  # SplitMix64 finaliser
    x &= M64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M64
    x ^= x >> 31
    return x


class Rng:  # counter-based: state s0 = mix(seed ^ mix(key + phi)); draw c = mix(s0 + c * phi), c = 1, 2, ...
    def __init__(self, seed, key):
        self.s = mix64(seed ^ mix64((key + PHI) & M64))
        self.c = 0

    def u64(self):
        self.c += 1
        return mix64((self.s + self.c * PHI) & M64)


def rng_for(seed, domain, ident):
    k = xxh3(domain.encode(), 0)
    k = xxh3(ident.encode(), k)
    return Rng(seed, k)


def source_key(seed, name):
    return rng_for(seed, "hb-mix/permutation", name).u64()


class Perm:  # 4-round balanced Feistel over 2h bits with cycle walking
    def __init__(self, n, skey, p):
        r = Rng(skey, p)
        self.keys = [r.u64() for _ in range(4)]
        self.n = n
        b = max(2, (n - 1).bit_length()) if n > 1 else 0
        self.h = (b + 1) // 2

    def _enc(self, x):
        h, mask = self.h, (1 << self.h) - 1
        left, right = x >> h, x & mask
        for k in self.keys:
            left, right = right, left ^ (mix64(right ^ k) & mask)
        return (left << h) | right

    def at(self, i):
        if self.n <= 1:
            return 0
        x = self._enc(i)
        while x >= self.n:
            x = self._enc(x)
        return x


def edf(counts):
    """Positions of a stream of sum(counts): job k (1-based) of source i may take 0-based position s with
    floor((k-1)N/n) <= s <= ceil(kN/n) - 1; earliest deadline first among released jobs, ties to the lower index."""
    N = sum(counts)
    c = [0] * len(counts)
    out = []
    for s in range(N):
        best = None
        for i, n in enumerate(counts):
            if c[i] == n:
                continue
            k = c[i] + 1
            rel = (k - 1) * N // n
            dl = -(-k * N // n) - 1
            if rel <= s and (best is None or dl < best[0]):
                best = (dl, i)
        assert best is not None and best[0] >= s, "EDF missed a deadline"
        out.append(best[1])
        c[best[1]] += 1
    return out


def apportion_int(weights, house):  # exact largest remainder over integer weights (ties: lower index)
    W = sum(weights)
    base = [w * house // W for w in weights]
    rem = [w * house % W for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-rem[i], i))
    for i in order[: house - sum(base)]:
        base[i] += 1
    return base


def pd2_batches(counts, B):
    """Batch mode: sources per position (docs/mix-plan.md §4.2)."""
    N = sum(counts)
    G = N // B
    m = apportion_int(counts, G * B) if G else [0] * len(counts)
    tail = [n - x for n, x in zip(counts, m)]
    base = [x // G if G else 0 for x in m]
    X = [x % G if G else 0 for x in m]
    r = B - sum(base) if G else 0
    E = [0] * len(counts)
    out = []
    for g in range(G):
        cand = []
        for i in range(len(counts)):
            if X[i] and E[i] < X[i] and E[i] * G // X[i] <= g:
                k = E[i] + 1
                d = -(-k * G // X[i])
                bbit = 1 if (k * G) % X[i] else 0
                D = 0
                if 2 * X[i] >= G:
                    a = -(-d * (G - X[i]) // G)
                    D = -(-a * G // (G - X[i]))
                cand.append(((d, -bbit, -D if bbit else 0, i), i))
        cand.sort()
        assert len(cand) >= r
        cur = list(base)
        for _, i in cand[:r]:
            cur[i] += 1
            E[i] += 1
        for i in range(len(counts)):
            assert abs(E[i] * G - (g + 1) * X[i]) < G
        out += edf(cur)
    return out + edf(tail)


def apportion_float(w, house):  # largest remainder in doubles, as §2 specifies (sum left to right)
    W = 0.0
    for x in w:
        W += x
    out, rem = [], []
    for x in w:
        q = float(house) * (x / W)
        f = math.floor(q)
        out.append(int(f))
        rem.append(q - f if x > 0 else -1.0)
    given = sum(out)
    assert given <= house
    while given < house:
        best = max((i for i in range(len(w)) if 0 <= rem[i] <= 1), key=lambda i: (rem[i], -i))
        out[best] += 1
        rem[best] = 3.0
        given += 1
    return out


UNITS = ["samples", "tokens", "supervised_tokens", "image_tokens"]


def solve(case, lens, keys):
    """Exact sample counts per source (§2)."""
    mix = case["mix"]
    names = [s for s in mix["sources"]]
    unit = UNITS.index(mix.get("unit", "samples"))
    size = [len(lens[s]) for s in names]

    def ulen(s, j):
        return 1 if unit == 0 else lens[s][j][unit - 1]

    U = [sum(ulen(s, j) for j in range(len(lens[s]))) for s in names]
    kind = next(iter(mix["sources"][names[0]]))
    vals = []
    for i, s in enumerate(names):
        v = mix["sources"][s][kind]
        if v == "size":
            v = float(min(U[i], mix["size_cap"])) if mix.get("size_cap") else float(U[i])
        vals.append(float(v))

    def nearest(i, target):
        s = names[i]
        passes = math.floor(target / U[i])
        rest = target - passes * U[i]
        p = Perm(size[i], keys[i], passes)
        acc, k = 0, 0
        while k < size[i]:
            l = ulen(s, p.at(k))
            if acc + l >= rest:
                if not (rest - acc <= acc + l - rest):
                    k += 1
                break
            acc += l
            k += 1
        return passes * size[i] + k

    if kind == "repeat":
        return [int(math.floor(v * n + 0.5)) for v, n in zip(vals, size)], names, unit
    if kind == "count":
        return [int(v) if unit == 0 or v == 0 else nearest(i, v) for i, v in enumerate(vals)], names, unit
    W = 0.0
    for v in vals:
        W += v
    total = mix["total"] if "total" in mix else mix["steps"] * mix["batch_size"]
    if unit == 0 or "steps" in mix:
        e = [v if unit == 0 or v == 0 else v * size[i] / U[i] for i, v in enumerate(vals)]
        return apportion_float(e, total), names, unit
    return [nearest(i, float(total) * (v / W)) if v > 0 else 0 for i, v in enumerate(vals)], names, unit


def plan(case, lens):
    mix = case["mix"]
    seed = case["seed"]
    names = list(mix["sources"])
    keys = [source_key(seed, s) for s in names]
    counts, names, unit = solve(case, lens, keys)
    order = pd2_batches(counts, mix["batch_size"]) if mix.get("balance") == "batch" else edf(counts)
    # shard table: per source, its shards in order; entries are (global shard index, record)
    shard_first, shard_of = [], []
    for i, s in enumerate(names):
        first = 0
        for n in case["shards"][s]:
            shard_first.append(first)
            shard_of.append(i)
            first += n
    seen = [0] * len(names)
    entries, toks = [], []
    realised = [[0, 0, 0, 0] for _ in names]
    for i in order:
        q = seen[i]
        seen[i] += 1
        n = len(lens[names[i]])
        j = Perm(n, keys[i], q // n).at(q % n)
        g = next(k for k in range(len(shard_of)) if shard_of[k] == i and shard_first[k] <= j and
                 (k + 1 == len(shard_of) or shard_of[k + 1] != i or shard_first[k + 1] > j))
        entries.append([g, j - shard_first[g]])
        toks.append(lens[names[i]][j][0])
        realised[i][0] += 1
        for u in range(3):
            realised[i][u + 1] += lens[names[i]][j][u]
    seqs = None
    if mix.get("pack"):
        cap, window = mix["pack"]["max_tokens"], mix["pack"].get("window", 8)
        bins, out, seqs = [], [], []

        def close(b):
            seqs.append(len(out))
            out.extend(bins[b][1])
            del bins[b]

        for e, t in zip(entries, toks):
            t = max(t, 1)
            for b in range(len(bins)):
                if bins[b][0] + t <= cap:
                    bins[b][0] += t
                    bins[b][1].append(e)
                    if bins[b][0] == cap:
                        close(b)
                    break
            else:
                if len(bins) == window:
                    close(0)
                bins.append([t, [e]])
                if t >= cap:
                    close(len(bins) - 1)
        while bins:
            close(0)
        seqs.append(len(out))
        entries = out
    return {"counts": counts, "entries": entries, "sequences": seqs, "realised": realised}


def make_lens(rng, n, lo, hi, image):
    out = []
    for _ in range(n):
        t = int(rng.integers(lo, hi))
        out.append([t, max(0, (t - image - 1) // 3), image])
    return out


def main():
    rng = np.random.default_rng(20240501)
    shards = {"vqav2": [150, 90, 61], "gqa": [120], "ocrvqa": [33, 20], "sharegpt": [17]}
    image = {"vqav2": 16, "gqa": 16, "ocrvqa": 16, "sharegpt": 0}
    lens = {s: make_lens(rng, sum(v), 20, 140, image[s]) for s, v in shards.items()}
    cases = [
        {"name": "weights", "seed": 42,
         "mix": {"total": 1999, "sources": {"vqav2": {"weight": 0.103}, "gqa": {"weight": 0.103},
                                            "ocrvqa": {"weight": 0.051}, "sharegpt": {"weight": 0.026}}}},
        {"name": "repeat_batch", "seed": 7,
         "mix": {"balance": "batch", "batch_size": 24,
                 "sources": {"vqav2": {"repeat": 1.5}, "gqa": {"repeat": 2}, "ocrvqa": {"repeat": 0.4},
                             "sharegpt": {"repeat": 3.25}}}},
        {"name": "tokens", "seed": 1234,
         "mix": {"unit": "tokens", "total": 150000, "sources": {"vqav2": {"weight": 3}, "gqa": {"weight": 2},
                                                                "ocrvqa": {"weight": 1}, "sharegpt": {"weight": 1}}}},
        {"name": "supervised_steps", "seed": 3,
         "mix": {"unit": "supervised_tokens", "steps": 40, "batch_size": 32,
                 "sources": {"vqav2": {"weight": 0.5}, "gqa": {"weight": 0.2}, "ocrvqa": {"weight": 0.2},
                             "sharegpt": {"weight": 0.1}}}},
        {"name": "count_image", "seed": 5,
         "mix": {"unit": "image_tokens", "sources": {"vqav2": {"count": 9000}, "gqa": {"count": 100},
                                                     "ocrvqa": {"count": 0}, "sharegpt": {"count": 0}}}},
        {"name": "size_capped_packed", "seed": 99,
         "mix": {"total": 1200, "size_cap": 100, "pack": {"max_tokens": 256, "window": 3},
                 "sources": {"vqav2": {"weight": "size"}, "gqa": {"weight": "size"}, "ocrvqa": {"weight": "size"},
                             "sharegpt": {"weight": "size"}}}},
    ]
    for c in cases:
        c["shards"] = shards
        c["expect"] = plan(c, lens)
    out = {"generator": "tests/ref/gen_mix_reference.py", "lengths": lens, "cases": cases}
    path = os.path.join("tests", "fixtures", "mix", "reference.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    for c in cases:
        print(f"  {c['name']}: counts {c['expect']['counts']}")


if __name__ == "__main__":
    main()
