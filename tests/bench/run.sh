#!/bin/bash
# make bench: runs every tests/bench/bench_*.sh. Each measures hb side by side with the reference users would
# otherwise use (HF tokenizers, Pillow, PyTorch, the Python pipeline) in one run and prints the ratio.
# The references are PyPI packages (torch, transformers, tokenizers, sentencepiece, Pillow, numpy); a bench whose
# reference is missing says so and is skipped. HB_BENCH_FILTER=name runs only matching scripts.
set -u
cd "$(dirname "$0")/../.."
export HB_ROOT=$PWD HB_BIN=${HB_BIN:-$PWD/bin} HB_SHARED=${HB_SHARED:-$(cd .. && pwd)/shared} HB_PROGRESS=0
# OpenMP threads sleep instead of spinning while they wait, for hb and PyTorch alike: on a shared machine a spinning
# thread on a busy core slows a 2-thread run several-fold and makes figures noise. Export OMP_WAIT_POLICY=active
# to measure a dedicated machine's best case.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
echo "make bench: OMP_WAIT_POLICY=$OMP_WAIT_POLICY, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p tests/bench/out
status=0
for s in tests/bench/bench_*.sh; do
  [ -e "$s" ] || { echo "no benchmarks yet"; exit 0; }
  case "$s" in *"${HB_BENCH_FILTER:-}"*) ;; *) continue ;; esac
  echo "=== $(basename "$s" .sh) ==="
  bash "$s" || { echo "FAILED: $s"; status=1; }
done
exit $status
