#!/bin/bash
# Model forward+backward throughput, hb (CPU fp32 backend) vs PyTorch CPU fp32, same model ("small" preset: CLIP
# 256-wide x 4 layers at 224 px, C-Abstractor 256 wide M144, LLaMA 4 layers x 512, vocab 32000), same batch shapes,
# same thread count, measured in one run:
#   ft-text  stage ft, 4 sequences x 256 tokens, text only: the LLM forward + backward with weight gradients
#   pt-image stage pt, 2 sequences x 256 tokens with one image each: CLIP forward, C-Abstractor forward+backward,
#            the frozen LLM's forward + backward to its inputs
# HB_BENCH_THREADS (default 2) and HB_BENCH_STEPS (default 3) change the setup. Needs torch, transformers, timm.
set -u
cd "$(dirname "$0")/../.."
BIN=${HB_BIN:-bin}
THREADS=${HB_BENCH_THREADS:-2}
STEPS=${HB_BENCH_STEPS:-3}
if ! python3 -c "import torch, transformers, timm" 2>/dev/null; then
  echo "bench_model: skipped (needs the PyPI packages torch, transformers, timm)"; exit 0
fi
printf '%-9s %12s %12s %8s\n' case "hb tok/s" "torch tok/s" ratio
for c in "ft 4 256 0" "pt 2 256 1"; do
  set -- $c
  name=$([ "$1" = ft ] && echo ft-text || echo pt-image)
  hb=$(OMP_NUM_THREADS=$THREADS "$BIN/hb-train" bench --preset small --stage "$1" --batch-size "$2" --seq "$3" \
       --images-per-seq "$4" --steps "$STEPS" --threads "$THREADS" | awk '{print $2}')
  pt=$(OMP_NUM_THREADS=$THREADS python3 tests/bench/bench_model.py "$1" "$2" "$3" "$4" "$STEPS" "$THREADS" \
       2>/dev/null | awk '{print $2}')
  if [ -z "$hb" ] || [ -z "$pt" ]; then echo "bench_model: $name failed"; exit 1; fi
  printf '%-9s %12s %12s %7.2fx\n' "$name" "$hb" "$pt" "$(awk -v a="$hb" -v b="$pt" 'BEGIN{print a/b}')"
done
echo "(threads $THREADS, $STEPS timed steps after one warm-up, fp32; ratio > 1: hb is faster)"
