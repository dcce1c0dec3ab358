#!/bin/bash
# make bench: hb-mix planning against the references a Honeybee user has today.
#   hb:   plan 10M samples over the 13 FT sources (compiled-source sizes, synthetic lengths), one core and two;
#         also 1M samples (peak memory must not grow with the stream) and a token-unit plan; a cold lengths scan.
#   ref1: Honeybee's MultiDataset sampling, vectorised in numpy: categorical source draw + uniform index, with
#         replacement (spec-data.md §4.1); no exact counts, no prefix guarantee.
#   ref2: exact per-source counts with numpy: a permutation table per source (O(size) memory) and a random
#         interleave (MosaicML-style "random" batching): exact totals, no prefix guarantee.
# Both references write their (source, index) pairs as int32 like hb writes its entries. Timings are wall seconds on
# this machine; ratios are reference / hb. Figures go to docs/benchmarks.md ("Mix").
set -eu
cd "$(dirname "$0")/../.."
OUT=tests/bench/out/mix; mkdir -p "$OUT"; rm -rf "$OUT"/*
python3 -c 'import numpy' 2>/dev/null || { echo "bench_mix: numpy missing, skipped"; exit 0; }
cc -O2 -std=c11 -D_GNU_SOURCE -fopenmp -Ilib $(pkg-config --cflags libcjson 2>/dev/null) tests/bench/bench_mix.c \
  build/libhb.a $(pkg-config --libs libzstd libxxhash libcjson yaml-0.1) -lm -o "$OUT/bench_mix"

hb_plan() { "$OUT/bench_mix" plan "$1" "$2" "$3" "$OUT/plan.hbmix"; }
h1=$(hb_plan 10000000 1 samples); echo "$h1"
h2=$(hb_plan 10000000 2 samples); echo "$h2"
hb_plan 1000000 1 samples
hb_plan 10000000 1 tokens
mkdir -p "$OUT/scan"; "$OUT/bench_mix" scan 200000 "$OUT/scan"

ref() {
python3 - "$1" "$OUT/ref.bin" <<'PY'
import resource, sys, time
import numpy as np
SIZES = [1000000, 82783, 72140, 207572, 7680, 12726, 17056, 120624, 120191, 80512, 5400000, 157712, 40688]
W = np.array([0.077, 0.103, 0.103, 0.051, 0.026, 0.051, 0.103, 0.103, 0.103, 0.103, 0.051, 0.103, 0.026])
N, mode, out = 10_000_000, sys.argv[1], sys.argv[2]
rng = np.random.default_rng(42)
t0 = time.perf_counter()
if mode == "honeybee":  # i.i.d. over sources, uniform index inside, with replacement
    src = rng.choice(13, size=N, p=W / W.sum())
    idx = np.empty(N, np.int64)
    for s in range(13):
        m = src == s
        idx[m] = rng.integers(0, SIZES[s], int(m.sum()))
else:  # exact counts: largest remainder, a permutation table per pass, random interleave
    q = N * W / W.sum(); cnt = np.floor(q).astype(np.int64)
    cnt[np.argsort(-(q - cnt), kind="stable")[: N - cnt.sum()]] += 1
    parts = []
    for s in range(13):
        reps = -(-int(cnt[s]) // SIZES[s])
        parts.append(np.concatenate([rng.permutation(SIZES[s]) for _ in range(reps)])[: cnt[s]])
    src = rng.permutation(np.repeat(np.arange(13), cnt))
    idx = np.empty(N, np.int64)
    for s in range(13):
        idx[src == s] = parts[s]
np.stack([src.astype(np.int32), idx.astype(np.int32)], axis=1).tofile(out)
t = time.perf_counter() - t0
print(f"{mode}: {N} samples in {t:.2f} s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
PY
}
r1=$(ref honeybee); echo "reference (numpy, Honeybee sampling) $r1"
r2=$(ref exact); echo "reference (numpy, exact counts, permutation tables) $r2"
t_hb=$(echo "$h1" | sed -n 's/.*total \([0-9.]*\) s.*/\1/p')
t_r1=$(echo "$r1" | sed -n 's/.* in \([0-9.]*\) s.*/\1/p')
t_r2=$(echo "$r2" | sed -n 's/.* in \([0-9.]*\) s.*/\1/p')
awk -v h="$t_hb" -v a="$t_r1" -v b="$t_r2" 'BEGIN {
  printf "ratio (reference time / hb -j1 time, 10M samples): Honeybee sampling %.2fx, exact numpy %.2fx\n", a / h, b / h
  if (h >= 10) { print "FAIL: planning 10M samples took " h " s (goal: < 10 s)"; exit 1 } }'
rm -f "$OUT/plan.hbmix" "$OUT/ref.bin"
