#!/bin/bash
# Model forward+backward throughput, hb (CPU fp32 backend) vs PyTorch CPU fp32, same model ("small" preset: CLIP
# 256-wide x 4 layers at 224 px, C-Abstractor 256 wide M144, LLaMA 4 layers x 512, vocab 32000), same batch shapes,
# same thread count, measured in one run:
#   ft-text  stage ft, 4 sequences x 256 tokens, text only: the LLM forward + backward with weight gradients
#   pt-image stage pt, 2 sequences x 256 tokens with one image each: CLIP forward, C-Abstractor forward+backward,
#            the frozen LLM's forward + backward to its inputs
# Each side times HB_BENCH_STEPS steps (default 5) after one warm-up and reports its fastest step, as wall-clock
# tokens/s and as tokens per second of process CPU time (all threads). On a machine shared with other jobs the
# wall-clock figures swing with the load; the CPU-time figures do not. OpenMP threads wait passively
# (OMP_WAIT_POLICY=passive, both sides): spinning threads lose badly when the cores are shared.
# HB_BENCH_THREADS (default 2) sets the threads of both. Needs torch, transformers, timm.
set -u
cd "$(dirname "$0")/../.."
BIN=${HB_BIN:-bin}
THREADS=${HB_BENCH_THREADS:-2}
STEPS=${HB_BENCH_STEPS:-5}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
if ! python3 -c "import torch, transformers, timm" 2>/dev/null; then
  echo "bench_model: skipped (needs the PyPI packages torch, transformers, timm)"; exit 0
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
printf '%-9s %10s %10s %7s   %12s %12s %7s\n' case "hb tok/s" "torch" ratio "hb tok/cpu-s" "torch" ratio
for c in "ft 4 256 0" "pt 2 256 1"; do
  set -- $c
  name=$([ "$1" = ft ] && echo ft-text || echo pt-image)
  hb=$(OMP_NUM_THREADS=$THREADS "$BIN/hb-train" bench --preset small --stage "$1" --batch-size "$2" --seq "$3" \
       --images-per-seq "$4" --steps "$STEPS" --threads "$THREADS" | awk '{print $5, $7}')
  pt=$(OMP_NUM_THREADS=$THREADS python3 tests/bench/bench_model.py "$1" "$2" "$3" "$4" "$STEPS" "$THREADS" \
       2>/dev/null | awk '{print $5, $7}')
  read -r hbw hbc <<< "$hb"; read -r ptw ptc <<< "$pt"
  case "${hbw:-x}${hbc:-x}${ptw:-x}${ptc:-x}" in *[!0-9.]*) echo "bench_model: $name failed (hb '$hb', torch '$pt')"; exit 1 ;; esac
  printf '%-9s %10s %10s %7s   %12s %12s %7s\n' "$name" "$hbw" "$ptw" "$(ratio "$hbw" "$ptw")" "$hbc" "$ptc" \
      "$(ratio "$hbc" "$ptc")"
done
echo "(threads $THREADS, fastest of $STEPS steps after one warm-up, fp32, OMP_WAIT_POLICY=$OMP_WAIT_POLICY; ratio > 1: hb is faster)"
