#!/bin/bash
# make bench: loading a PyTorch checkpoint as downloaded (HF 4.x save_pretrained(safe_serialization=False) layout:
# pytorch_model-0000x-of-00002.bin + pytorch_model.bin.index.json, bf16, ~200 MB, LLaMA-like 2048x2048 and
# 5504x2048 matrices, generated here in a temporary directory) into f32 tensors:
#   hb:    hb_st_open on the directory (zip directory + safe data.pkl interpretation, tensors mapped in place) and
#          hb_st_read_f32 of every tensor into its own buffer (one thread)
#   torch: torch.load(shard, mmap=True, weights_only=True) of each shard, then .float() of every tensor
#          (torch.set_num_threads(1))
# Both read the same warm page cache, best of 3 runs each; "open" is hb_st_open vs the torch.load calls; "again"
# converts once more into the f32 buffers of the first pass (hb_st_read_f32 vs Tensor.copy_), i.e. the conversion
# alone, without the page faults of fresh memory, as a load into preallocated model memory does. Both print the sum
# of all values and the script checks they agree (the same work was done). Ratio: torch / hb.
# Figures go to docs/benchmarks.md ("PyTorch checkpoints").
set -eu
cd "$(dirname "$0")/../.."
python3 -c 'import torch' 2>/dev/null || { echo "bench_torchbin: torch missing, skipped"; exit 0; }
OUT=tests/bench/out/torchbin; mkdir -p "$OUT"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cc -O2 -std=c11 -D_GNU_SOURCE -fopenmp -I. -Ilib tests/bench/bench_torchbin.c build/libhb.a \
  $(pkg-config --libs libcjson) -lm -o "$OUT/bench_torchbin"

python3 - "$T/ckpt" <<'PY'
import json, os, sys, torch
d = sys.argv[1]; os.makedirs(d)
g = torch.Generator().manual_seed(0)
sd = {}
for l in range(4):
    p = "model.layers.%d." % l
    for n in ("q", "k", "v", "o"):
        sd[p + "self_attn.%s_proj.weight" % n] = torch.randn(2048, 2048, generator=g).bfloat16()
    sd[p + "mlp.gate_proj.weight"] = torch.randn(5504, 2048, generator=g).bfloat16()
    sd[p + "input_layernorm.weight"] = torch.ones(2048, dtype=torch.bfloat16)
names = list(sd); half = len(names) // 2
wm = {}
for i, part in enumerate((names[:half], names[half:])):
    fn = "pytorch_model-%05d-of-00002.bin" % (i + 1)
    torch.save({k: sd[k] for k in part}, os.path.join(d, fn))
    wm.update({k: fn for k in part})
total = sum(v.numel() * 2 for v in sd.values())
json.dump({"metadata": {"total_size": total}, "weight_map": wm}, open(os.path.join(d, "pytorch_model.bin.index.json"), "w"))
PY
du -sh "$T/ckpt" | awk '{print "checkpoint: " $1 " bf16 in 2 shards"}'
cat "$T"/ckpt/*.bin > /dev/null  # warm the page cache for both

hb=$("$OUT/bench_torchbin" "$T/ckpt" 3)
pt=$(python3 - "$T/ckpt" <<'PY'
import json, os, sys, time, torch
torch.set_num_threads(1)
d = sys.argv[1]
shards = sorted(set(json.load(open(os.path.join(d, "pytorch_model.bin.index.json")))["weight_map"].values()))
best = [1e30] * 4
for r in range(3):
    t0 = time.perf_counter()
    sds = [torch.load(os.path.join(d, s), mmap=True, weights_only=True) for s in shards]
    t1 = time.perf_counter()
    out = {k: v.float() for sd in sds for k, v in sd.items()}
    t2 = time.perf_counter()
    for sd in sds:
        for k, v in sd.items():
            out[k].copy_(v)
    t3 = time.perf_counter()
    best = [min(best[0], t1 - t0), min(best[1], t2 - t1), min(best[2], t2 - t0), min(best[3], t3 - t2)]
    s = sum(v.double().sum().item() for v in out.values())
    n = sum(v.numel() for v in out.values())
    del out, sds
print("torch %.4f %.4f %.4f %.4f %d %d %.6e" % (*best, len(shards), n, s))
PY
)
read -r _ hopen hconv htot hagain hn hparams hsum <<< "$hb"
read -r _ popen pconv ptot pagain _ pparams psum <<< "$pt"
[ "$hparams" = "$pparams" ] || { echo "bench_torchbin: $hparams vs $pparams parameters"; exit 1; }
awk -v a="$hsum" -v b="$psum" 'BEGIN{d=a-b; if (d<0) d=-d; s=(b<0?-b:b)+1; exit !(d/s < 1e-6)}' || \
  { echo "bench_torchbin: sums differ: hb $hsum, torch $psum"; exit 1; }
r() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
ms() { awk -v a="$1" 'BEGIN{printf "%.1f", a * 1000}'; }
echo "$hn tensors, $hparams parameters (sums agree: $hsum)"
printf '%-22s %9s %9s %7s\n' step "hb ms" "torch ms" ratio
printf '%-22s %9s %9s %7s\n' "open (index + shards)" "$(ms "$hopen")" "$(ms "$popen")" "$(r "$popen" "$hopen")"
printf '%-22s %9s %9s %7s\n' "bf16 -> f32, all" "$(ms "$hconv")" "$(ms "$pconv")" "$(r "$pconv" "$hconv")"
printf '%-22s %9s %9s %7s\n' "total" "$(ms "$htot")" "$(ms "$ptot")" "$(r "$ptot" "$htot")"
printf '%-22s %9s %9s %7s\n' "again, into f32 bufs" "$(ms "$hagain")" "$(ms "$pagain")" "$(r "$pagain" "$hagain")"
