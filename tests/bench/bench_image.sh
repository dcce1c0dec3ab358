#!/bin/bash
# make bench: image preprocessing, hb against Pillow, one core, decode + convert("RGB") + resize to 224 bicubic.
#   corpus: 240 COCO-like JPEGs generated here (not committed) from the real JPEGs in ../shared/fixtures/real/images:
#           random crops, flips and colour jitter, resized to COCO's common sizes (640x480, 480x640, 640x427, 427x640,
#           500x375, 640x512, 612x612), JPEG quality 75-95 with 4:2:0 chroma, as COCO's files are; 5% progressive.
#   hb:     exact (libjpeg-turbo, Pillow-exact), fast (libjpeg DCT-domain 1/2..1/8 scaling before the resize), and
#           stb_image as the JPEG decoder (the baseline decoder).
#   ref:    Pillow: Image.open(BytesIO(b)).convert("RGB").resize((224, 224), Image.BICUBIC).
#   Each reads the files into memory first and runs on one core (taskset when available). Three rounds, each round
#   running Pillow and every hb mode once over the whole corpus; the best round of each counts, in process CPU time,
#   so that load from other users of a shared machine hits both sides alike.
# Prints images/s, the ratio hb/Pillow, and each hb mode's pixel difference from Pillow (max and mean of |diff| per
# channel, in 0..255 levels). Figures go to docs/benchmarks.md ("Images").
set -eu
cd "$(dirname "$0")/../.."
OUT=tests/bench/out/image; mkdir -p "$OUT"; rm -rf "${OUT:?}"/*
python3 -c 'import PIL, numpy' 2>/dev/null || { echo "bench_image: Pillow/numpy missing, skipped"; exit 0; }
SHARED=${HB_SHARED:-../shared}
[ -d "$SHARED/fixtures/real/images" ] || { echo "bench_image: $SHARED/fixtures/real/images missing, skipped"; exit 0; }
N=${HB_BENCH_IMAGES:-240}
S=224
PIN=""; command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null && PIN="taskset -c 0"

cc -O2 -std=c11 -D_GNU_SOURCE -Ilib -I/usr/include/stb tests/bench/bench_image.c build/libhb.a \
  $(pkg-config --libs libjpeg libpng libarchive libzstd libxxhash zlib) -lm -lpthread -fopenmp -o "$OUT/bench_image"

python3 - "$SHARED/fixtures/real/images" "$OUT/jpegs" "$N" <<'PY'
import io, os, sys
import numpy as np
from PIL import Image, ImageEnhance
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst, exist_ok=True)
bases = [Image.open(os.path.join(d, f)).convert("RGB") for d, _, fs in os.walk(src) for f in sorted(fs) if f.endswith(".jpg")]
sizes = [(640, 480), (480, 640), (640, 427), (427, 640), (500, 375), (640, 512), (612, 612)]
rng = np.random.default_rng(2024)
for i in range(n):
    im = bases[i % len(bases)]
    w, h = im.size
    cw, ch = int(w * rng.uniform(0.55, 1.0)), int(h * rng.uniform(0.55, 1.0))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = im.crop((x, y, x + cw, y + ch)).resize(sizes[int(rng.integers(len(sizes)))], Image.LANCZOS)
    if rng.random() < 0.5:
        out = out.transpose(Image.FLIP_LEFT_RIGHT)
    out = ImageEnhance.Color(out).enhance(rng.uniform(0.7, 1.3))
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.2))
    out.save(os.path.join(dst, f"{i:06d}.jpg"), quality=int(rng.integers(75, 96)), subsampling=2,
             progressive=bool(rng.random() < 0.05))
PY
FILES=("$OUT"/jpegs/*.jpg)
echo "image: ${#FILES[@]} COCO-like JPEGs ($(du -sh "$OUT/jpegs" | cut -f1)), decode + convert(\"RGB\") + resize to ${S}x${S}, one core"

pillow() {
$PIN python3 - "$S" "$OUT/pillow.raw" "${FILES[@]}" <<'PY'
import io, sys, time
import numpy as np
import PIL
from PIL import Image
S, out, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
data = [open(f, "rb").read() for f in files]
t0 = time.process_time()
res = [Image.open(io.BytesIO(b)).convert("RGB").resize((S, S), Image.BICUBIC) for b in data]
t = time.process_time() - t0
with open(out, "wb") as f:
    for r in res:
        f.write(np.asarray(r).tobytes())
print(f"pillow-{PIL.__version__} {len(files)} {t:.4f} {len(files) / t:.1f}")
PY
}
for round in 1 2 3; do
  pillow >> "$OUT/pillow.runs"
  for mode in exact fast stb; do
    $PIN "$OUT/bench_image" "$mode" "$S" 1 "$OUT/$mode.raw" "${FILES[@]}" >> "$OUT/$mode.runs"
  done
done
for m in pillow exact fast stb; do sort -k3,3g "$OUT/$m.runs" | head -n 1 > "$OUT/$m.txt"; done
$PIN "$OUT/bench_image" store "$S" 3 "$OUT/store" "${FILES[@]}" > "$OUT/store.txt"

python3 - "$OUT" "$S" <<'PY'
import sys
import numpy as np
out, S = sys.argv[1], int(sys.argv[2])
def rate(name):
    f = open(f"{out}/{name}.txt").read().split()
    return f[0], float(f[3])
ref_name, ref = rate("pillow")
p = np.fromfile(f"{out}/pillow.raw", np.uint8).astype(np.int16).reshape(-1, S * S, 3)
print(f"  {ref_name:28s} {ref:8.1f} images/s (CPU time, best of 3 interleaved rounds)")
labels = {"exact": "hb exact (libjpeg-turbo)", "fast": "hb fast (DCT-domain scaling)", "stb": "hb with stb_image JPEG"}
for mode in ("exact", "fast", "stb"):
    _, r = rate(mode)
    h = np.fromfile(f"{out}/{mode}.raw", np.uint8).astype(np.int16).reshape(-1, S * S, 3)
    d = np.abs(h - p)
    mean = d.mean(axis=1).max(axis=1)  # per image: the worst channel's mean
    print(f"  {labels[mode]:28s} {r:8.1f} images/s  {r / ref:5.2f}x Pillow   |diff| max {d.max():3d}, "
          f"mean {d.mean():.3f} (worst image {mean.max():.3f})")
st = {l.split()[0]: float(l.split()[3]) for l in open(f"{out}/store.txt")}
print(f"  {'hb ingest (read+hash+prepare+store)':28s} {st['ingest']:8.1f} images/s  (once, at prep time)")
print(f"  {'hb store get (per sample)':28s} {st['get']:8.1f} images/s  {st['get'] / ref:5.1f}x Pillow's per-access decode+resize")
PY
