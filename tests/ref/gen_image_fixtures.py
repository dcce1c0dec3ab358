#!/usr/bin/env python3
"""Reference fixtures for lib/image, written with Pillow (PyPI) and numpy.

Writes tests/fixtures/image/:
  cases/*.jpg|png|gif|bmp   small images of every variant hb decodes (made by Pillow, or by hand below where
                            Pillow cannot write the variant: 16-bit RGB PNG, Adam7 PNG, GIF frame offsets, 16-bit BMP...)
  formats.json + formats.bin.z   per case: Pillow's Image.open(f).convert("RGB") and its resize((w, h), BICUBIC) to
                            two sizes, as raw RGB arrays concatenated and zlib-compressed (offsets in the JSON)
  resize.json + resize.bin.z     Pillow's resize of pseudo-random images (an LCG the C test reproduces) in many
                            shapes, both pass orders (Pillow 13's, and horizontal-first as Pillow <= 12); small outputs
                            stored whole, every output as a CRC-32
  mutations.json            600 damaged variants of the cases (a few bytes replaced, some cut short) with Pillow's
                            verdict (opens and converts, or raises) and the CRC-32 of its RGB pixels when it opens
  real.json + real/*.png    the real JPEGs of ../shared/fixtures/real: CRC-32 of Pillow's 224 and 336 outputs (both
                            pass orders), and Pillow's 112x112 outputs as PNG for the tolerance test

Run from the repository root:  python3 tests/ref/gen_image_fixtures.py [--shared ../shared]
Pillow version used is recorded in the JSON files.
"""
import argparse
import io
import json
import os
import struct
import zlib

import numpy as np
import PIL
from PIL import Image

OUT = "tests/fixtures/image"
W, H = 37, 29                  # case image size (odd, so chroma subsampling has edge blocks)
PREP = [(24, 20)]              # prepare size (upscales and other shapes: resize.json)


def base_rgb(w=W, h=H):
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1))
    g = (y * 255 // max(h - 1, 1))
    b = ((x * 7 + y * 13) % 64) * 4
    rng = np.random.default_rng(1234)
    noise = rng.integers(-8, 9, (h, w, 3))
    a = np.stack([r, g, b], -1) + noise
    return np.clip(a, 0, 255).astype(np.uint8)


# ---- hand-written encoders for variants Pillow cannot write ----
def png_chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def png_bytes(w, h, depth, ctype, rows_bytes_fn, plte=None, trns=None, interlace=False):
    """rows_bytes_fn(x0, dx, y) -> packed bytes of the pixels x0, x0+dx, ... of row y (no filter byte)."""
    raw = bytearray()
    if not interlace:
        for y in range(h):
            raw += b"\0" + rows_bytes_fn(0, 1, y)
    else:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        for x0, y0, dx, dy in passes:
            if x0 >= w or y0 >= h:
                continue
            for y in range(y0, h, dy):
                raw += b"\0" + rows_bytes_fn(x0, dx, y)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 1 if interlace else 0))
    if plte is not None:
        out += png_chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += png_chunk(b"tRNS", bytes(trns))
    return out + png_chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + png_chunk(b"IEND", b"")


def pack_bits(vals, depth):
    out, acc, n = bytearray(), 0, 0
    for v in vals:
        acc = (acc << depth) | int(v)
        n += depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def lzw(indices, min_code=8):
    clear = 1 << min_code
    width = min_code + 1
    codes, n = [clear], 0
    for v in indices:
        if n == (1 << width) - (clear + 2) - 1:
            codes.append(clear)
            n = 0
        codes.append(int(v))
        n += 1
    codes.append(clear + 1)
    out, acc, bits = bytearray(), 0, 0
    for c in codes:
        acc |= c << bits
        bits += width
        while bits >= 8:
            out.append(acc & 255)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc & 255)
    return bytes(out)


def gif_bytes(sw, sh, fx, fy, fw, fh, pix, gpal=None, lpal=None, trns=None, interlace=False, pal_bits=7):
    b = bytearray(b"GIF89a") + struct.pack("<HHBBB", sw, sh, (0x80 | pal_bits) if gpal else 0, 0, 0)
    if gpal:
        b += bytes(gpal) + bytes(3 * (2 << pal_bits) - len(gpal))
    if trns is not None:
        b += bytes([0x21, 0xF9, 4, 1, 0, 0, trns, 0])
    flags = (0x80 | 7 if lpal else 0) | (0x40 if interlace else 0)
    b += b"\x2c" + struct.pack("<HHHHB", fx, fy, fw, fh, flags)
    if lpal:
        b += bytes(lpal) + bytes(768 - len(lpal))
    rows = list(range(fh))
    if interlace:
        rows = list(range(0, fh, 8)) + list(range(4, fh, 8)) + list(range(2, fh, 4)) + list(range(1, fh, 2))
    order = [pix[y * fw + x] for y in rows for x in range(fw)]
    data = lzw(order)
    b += b"\x08"
    for i in range(0, len(data), 255):
        b += bytes([len(data[i:i + 255])]) + data[i:i + 255]
    return bytes(b + b"\x00\x3b")


def bmp_bytes(w, h, bpp, rows, palette=None, topdown=False, masks=None):
    stride = (w * bpp + 31) // 32 * 4
    pixels = bytearray()
    order = range(h) if topdown else range(h - 1, -1, -1)
    for y in order:
        r = rows(y)
        pixels += r + bytes(stride - len(r))
    pal = b"".join(bytes([c[2], c[1], c[0], 0]) for c in (palette or []))
    extra = b"".join(struct.pack("<I", m) for m in masks) if masks else b""
    comp = 3 if masks else 0
    off = 14 + 40 + len(extra) + len(pal)
    hdr = b"BM" + struct.pack("<IHHI", off + len(pixels), 0, 0, off)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if topdown else h, 1, bpp, comp, len(pixels), 2835, 2835,
                       len(palette or []), 0)
    return hdr + info + extra + pal + bytes(pixels)


# ---- the cases ----
def save(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def make_cases():
    rgb = base_rgb()
    im = Image.fromarray(rgb)
    gray = im.convert("L")
    g = np.array(gray)
    pal_im = im.quantize(colors=200, method=Image.Quantize.MEDIANCUT)
    cases = []
    add = lambda name, ext, data: cases.append((name, ext, data))
    # JPEG
    add("jpeg_420", "jpg", save(im, "JPEG", quality=90, subsampling=2))
    add("jpeg_422", "jpg", save(im, "JPEG", quality=90, subsampling=1))
    add("jpeg_444", "jpg", save(im, "JPEG", quality=95, subsampling=0))
    add("jpeg_progressive", "jpg", save(im, "JPEG", quality=85, progressive=True))
    add("jpeg_gray", "jpg", save(gray, "JPEG", quality=90))
    add("jpeg_cmyk", "jpg", save(im.convert("CMYK"), "JPEG", quality=90))
    add("jpeg_restart", "jpg", save(im, "JPEG", quality=90, restart_marker_blocks=2))
    add("jpeg_big", "jpg", save(Image.fromarray(base_rgb(160, 120)), "JPEG", quality=90))
    # PNG (Pillow)
    add("png_rgb", "png", save(im, "PNG"))
    add("png_rgba", "png", save(Image.fromarray(np.dstack([rgb, (g // 2 + 64).astype(np.uint8)])), "PNG"))
    add("png_la", "png", save(Image.merge("LA", [gray, gray.point(lambda v: 255 - v)]), "PNG"))
    add("png_l", "png", save(gray, "PNG"))
    add("png_l_trns", "png", save(gray, "PNG", transparency=128))
    add("png_1bit", "png", save(gray.point(lambda v: 255 if v > 100 else 0).convert("1"), "PNG"))
    add("png_p", "png", save(pal_im, "PNG"))
    add("png_p_trns", "png", save(pal_im, "PNG", transparency=3))
    add("png_p_4bit", "png", save(im.quantize(colors=16), "PNG", bits=4))
    i16 = (np.arange(W * H, dtype=np.uint32).reshape(H, W) * 37 % 1200).astype(np.uint16)
    add("png_i16", "png", save(Image.fromarray(i16), "PNG"))
    # PNG (by hand)
    v16 = (rgb.astype(np.uint32) * 257 + (np.arange(W)[None, :, None] * 3)).astype(np.uint16)
    add("png_rgb16", "png", png_bytes(W, H, 16, 2, lambda x0, dx, y: v16[y, x0::dx].astype(">u2").tobytes()))
    rgba16 = np.dstack([v16, (v16[..., :1] // 2)]).astype(np.uint16)
    add("png_rgba16", "png", png_bytes(W, H, 16, 6, lambda x0, dx, y: rgba16[y, x0::dx].astype(">u2").tobytes()))
    la16 = np.dstack([v16[..., 0], v16[..., 1]]).astype(np.uint16)
    add("png_la16", "png", png_bytes(W, H, 16, 4, lambda x0, dx, y: la16[y, x0::dx].astype(">u2").tobytes()))
    add("png_gray2", "png", png_bytes(W, H, 2, 0, lambda x0, dx, y: pack_bits(g[y, x0::dx] >> 6, 2)))
    add("png_gray4", "png", png_bytes(W, H, 4, 0, lambda x0, dx, y: pack_bits(g[y, x0::dx] >> 4, 4)))
    add("png_interlaced", "png", png_bytes(W, H, 8, 2, lambda x0, dx, y: rgb[y, x0::dx].tobytes(), interlace=True))
    add("png_interlaced_i16", "png",
        png_bytes(W, H, 16, 0, lambda x0, dx, y: i16[y, x0::dx].astype(">u2").tobytes(), interlace=True))
    short_pal = [v for c in range(10) for v in (c * 25, 255 - c * 25, 40)]
    add("png_p_short", "png", png_bytes(W, H, 8, 3, lambda x0, dx, y: bytes((g[y, x0::dx] // 20).astype(np.uint8)),
                                        plte=short_pal))
    add("png_named_jpg", "jpg", save(im, "PNG"))  # a PNG with a .jpg name: sniffed by content
    # GIF
    add("gif_pillow", "gif", save(pal_im, "GIF"))
    add("gif_trns", "gif", save(pal_im, "GIF", transparency=5))
    gpal = [v for c in range(256) for v in (c, 255 - c, (c * 7) & 255)]
    fw, fh = 21, 17
    fpix = [(x * 11 + y * 5) % 230 for y in range(fh) for x in range(fw)]
    add("gif_offset", "gif", gif_bytes(W, H, 5, 4, fw, fh, fpix, gpal=gpal))
    add("gif_offset_trns", "gif", gif_bytes(W, H, 5, 4, fw, fh, fpix, gpal=gpal, trns=9))
    add("gif_grow", "gif", gif_bytes(20, 10, 8, 6, fw, fh, fpix, gpal=gpal))  # frame past the screen
    add("gif_interlaced", "gif", gif_bytes(fw, fh, 0, 0, fw, fh, fpix, gpal=gpal, interlace=True))
    lpal = [v for c in range(256) for v in ((c * 3) & 255, c, 200)]
    add("gif_local", "gif", gif_bytes(fw, fh, 0, 0, fw, fh, fpix, gpal=gpal, lpal=lpal))
    add("gif_nopal", "gif", gif_bytes(fw, fh, 0, 0, fw, fh, fpix))
    add("gif_smallpal", "gif", gif_bytes(fw, fh, 0, 0, fw, fh, [p % 8 for p in fpix], gpal=gpal[:12], pal_bits=1))
    # BMP
    add("bmp_rgb", "bmp", save(im, "BMP"))
    add("bmp_p", "bmp", save(pal_im, "BMP"))
    add("bmp_l", "bmp", save(gray, "BMP"))
    add("bmp_1", "bmp", save(gray.convert("1"), "BMP"))
    add("bmp_rgba", "bmp", save(Image.fromarray(np.dstack([rgb, g])), "BMP"))
    add("bmp_topdown", "bmp", bmp_bytes(W, H, 24, lambda y: rgb[y, :, ::-1].tobytes(), topdown=True))
    pal16 = [(c * 16, 255 - c * 16, (c * 40) & 255) for c in range(16)]
    add("bmp_4", "bmp", bmp_bytes(W, H, 4, lambda y: pack_bits(g[y] >> 4, 4), palette=pal16))
    p555 = lambda y: b"".join(struct.pack("<H", (int(r) >> 3) << 10 | (int(gg) >> 3) << 5 | (int(b) >> 3))
                              for r, gg, b in rgb[y])
    add("bmp_16", "bmp", bmp_bytes(W, H, 16, p555))
    return cases


def lcg_bytes(seed, n):
    """The generator the C test reproduces: s = s * 6364136223846793005 + 1442695040888963407 (mod 2^64), byte = s >> 56."""
    out = bytearray(n)
    s = (0x9E3779B97F4A7C15 ^ seed) & 0xFFFFFFFFFFFFFFFF
    for i in range(n):
        s = (s * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        out[i] = s >> 56
    return bytes(out)


def resize_cases():
    shapes = [(427, 640, 224, 224), (640, 427, 224, 224), (640, 480, 224, 224), (500, 333, 336, 336),
              (1, 1, 7, 5), (5, 3, 1, 1), (224, 300, 224, 224), (300, 224, 224, 224), (3000, 4, 224, 2),
              (4, 3000, 2, 224), (33, 17, 64, 48), (64, 64, 63, 65), (100, 100, 3, 97), (97, 3, 100, 100)]
    rng = np.random.default_rng(99)
    for _ in range(26):
        shapes.append(tuple(int(v) for v in (rng.integers(1, 200), rng.integers(1, 200), rng.integers(1, 120),
                                             rng.integers(1, 120))))
    return shapes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared")
    args = ap.parse_args()
    os.makedirs(f"{OUT}/cases", exist_ok=True)
    os.makedirs(f"{OUT}/real", exist_ok=True)

    # formats
    blob, meta = bytearray(), []
    for name, ext, data in make_cases():
        path = f"cases/{name}.{ext}"
        with open(f"{OUT}/{path}", "wb") as f:
            f.write(data)
        im = Image.open(io.BytesIO(data))
        fmt = im.format.lower().replace("jpeg", "jpeg")
        rgb = im.convert("RGB")
        entry = {"name": name, "file": path, "format": fmt, "mode": im.mode, "width": rgb.width,
                 "height": rgb.height, "decode": len(blob), "prepare": []}
        blob += np.array(rgb).tobytes()
        for (pw, ph) in PREP:
            entry["prepare"].append({"width": pw, "height": ph, "offset": len(blob)})
            blob += np.array(rgb.resize((pw, ph), Image.BICUBIC)).tobytes()
        meta.append(entry)
    with open(f"{OUT}/formats.bin.z", "wb") as f:
        f.write(zlib.compress(bytes(blob), 9))
    with open(f"{OUT}/formats.json", "w") as f:
        json.dump({"pillow": PIL.__version__, "bytes": len(blob), "cases": meta}, f, indent=1)

    # resize
    blob, meta = bytearray(), []
    for i, (w, h, ow, oh) in enumerate(resize_cases()):
        for ch in (3, 1):
            seed = i * 2 + (ch == 1)
            a = np.frombuffer(lcg_bytes(seed, w * h * ch), np.uint8).reshape((h, w, 3) if ch == 3 else (h, w))
            im = Image.fromarray(a)
            out = np.array(im.resize((ow, oh), Image.BICUBIC))
            if ow != w and oh != h:  # horizontal first, as Pillow <= 12: two single-axis resizes
                legacy = np.array(im.resize((ow, h), Image.BICUBIC).resize((ow, oh), Image.BICUBIC))
            else:
                legacy = out
            e = {"w": w, "h": h, "ch": ch, "ow": ow, "oh": oh, "seed": seed,
                 "crc": zlib.crc32(out.tobytes()), "crc_legacy": zlib.crc32(legacy.tobytes())}
            if ow * oh <= 1024:
                e["offset"] = len(blob)
                blob += out.tobytes()
            meta.append(e)
    with open(f"{OUT}/resize.bin.z", "wb") as f:
        f.write(zlib.compress(bytes(blob), 9))
    with open(f"{OUT}/resize.json", "w") as f:
        json.dump({"pillow": PIL.__version__, "bytes": len(blob), "cases": meta}, f, indent=1)

    # damaged variants: hb must never accept what Pillow refuses, and must give Pillow's pixels when both accept
    import random
    rnd = random.Random(20240601)
    names = sorted(f for f in os.listdir(f"{OUT}/cases"))
    muts = []
    for i in range(600):
        name = rnd.choice(names)
        data = bytearray(open(f"{OUT}/cases/{name}", "rb").read())
        edits = [[rnd.randrange(len(data)), rnd.randrange(256)] for _ in range(rnd.randint(1, 4))]
        for at, v in edits:
            data[at] = v
        cut = len(data) if rnd.random() < 0.85 else rnd.randrange(1, len(data))
        try:
            rgb = np.array(Image.open(io.BytesIO(bytes(data[:cut]))).convert("RGB"))
            verdict = {"pillow": "ok", "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
                       "crc": zlib.crc32(rgb.tobytes())}
        except Exception as e:  # any refusal: hb must refuse too
            verdict = {"pillow": type(e).__name__}
        muts.append({"file": f"cases/{name}", "edits": edits, "length": cut, **verdict})
    with open(f"{OUT}/mutations.json", "w") as f:
        json.dump({"pillow": PIL.__version__, "cases": muts}, f, separators=(",", ":"))

    # real JPEGs
    real = []
    base = os.path.join(args.shared, "fixtures/real")
    files = sorted(os.path.join(d, f) for d in ("images/gqa", "images/vg", "images/vqav2", "eval/mmbench/images")
                   for f in os.listdir(os.path.join(base, d)) if f.endswith(".jpg"))
    for rel in files:
        im = Image.open(os.path.join(base, rel)).convert("RGB")
        tag = rel.replace("/", "_").replace(".jpg", "")
        e = {"file": "fixtures/real/" + rel, "width": im.width, "height": im.height, "crc": {}, "crc_legacy": {}}
        for S in (224, 336):
            e["crc"][str(S)] = zlib.crc32(im.resize((S, S), Image.BICUBIC).tobytes())
            e["crc_legacy"][str(S)] = zlib.crc32(im.resize((S, im.height), Image.BICUBIC)
                                                 .resize((S, S), Image.BICUBIC).tobytes())
        e["png"] = {}
        for S in (112,):
            p = f"real/{tag}.{S}.png"
            im.resize((S, S), Image.BICUBIC).save(f"{OUT}/{p}", optimize=True)
            e["png"][str(S)] = p
        real.append(e)
    with open(f"{OUT}/real.json", "w") as f:
        json.dump({"pillow": PIL.__version__, "images": real}, f, indent=1)


if __name__ == "__main__":
    main()
