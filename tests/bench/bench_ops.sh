#!/bin/bash
# bench_ops: hot kernels/ops.h ops on the CPU backend (OpenBLAS + OpenMP) against PyTorch on the CPU with the same
# thread count, in one run: linear forward+backward, causal and bidirectional attention forward+backward, RMSNorm
# forward+backward, cross-entropy with dlogits (shapes in tests/bench/bench_ops.c). Prints both medians and
# speed = torch_ms / hb_ms (> 1: hb is faster).
#   HB_BENCH_THREADS=N (default 2)   HB_BENCH_REPS=N (default 7)
set -u
cd "$(dirname "$0")/../.."
threads=${HB_BENCH_THREADS:-2}
reps=${HB_BENCH_REPS:-7}
out=tests/bench/out
mkdir -p "$out"
if ! python3 -c "import torch, transformers" 2>/dev/null; then
  echo "bench_ops: skipped (the PyTorch reference needs the PyPI packages torch and transformers)"
  exit 0
fi
make -s build/libhb.a >/dev/null || exit 1
pkgs=$(sed -n 's/^PKGS *:= *//p' Makefile)
cc -std=c11 -O2 -fopenmp -D_GNU_SOURCE -I. -Ilib $(pkg-config --cflags $pkgs) tests/bench/bench_ops.c build/libhb.a \
  $(pkg-config --libs $pkgs) -lm -lpthread -o "$out/bench_ops" || exit 1
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; threads=$threads reps=$reps"
echo "torch $(python3 -c 'import torch; print(torch.__version__)')"
# Two alternating rounds per side (the machine may be shared); each case keeps its best median.
: >"$out/ops_hb.tsv"
: >"$out/ops_torch.tsv"
for round in 1 2; do
  OMP_NUM_THREADS=$threads "$out/bench_ops" "$threads" "$reps" >>"$out/ops_hb.tsv" || exit 1
  OMP_NUM_THREADS=$threads python3 tests/bench/bench_ops.py "$threads" "$reps" >>"$out/ops_torch.tsv" || exit 1
done
printf '%-12s %-26s %10s %10s %8s\n' op shape hb_ms torch_ms speed
awk -F'\t' 'FILENAME == ARGV[1] { if (!($1 in t) || $3 < t[$1]) t[$1] = $3; next }
  { if (!($1 in h) || $3 < h[$1]) h[$1] = $3; if (!($1 in sh)) { sh[$1] = $2; ord[n++] = $1 } }
  END { for (i = 0; i < n; i++) { k = ord[i]; s = (k in t) ? sprintf("%.2fx", t[k] / h[k]) : "-";
        printf "%-12s %-26s %10.2f %10.2f %8s\n", k, sh[k], h[k], t[k], s } }' "$out/ops_torch.tsv" "$out/ops_hb.tsv"
