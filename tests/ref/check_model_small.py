#!/usr/bin/env python3
"""Checks hb against PyTorch at realistic shapes, on demand (needs torch, transformers, timm; ~1 minute; writes only
under a temporary directory; too big for a committed fixture): the `small` preset (CLIP patch 14 at 224 px, 257
tokens, the 16x16 -> 12x12 overlapping pooling of Honeybee-M144, C-Abstractor depth 3, a 32,000-word LLaMA).

    python3 tests/ref/check_model_small.py [BIN_DIR]

It runs `hb-train init --preset small`, loads that checkpoint into the float64 reference module of
gen_model_fixtures.py with strict=True (so hb's checkpoint names and shapes are PyTorch's; this also checks what `init` writes), builds a batch with two
images in two different positions, runs `hb-train debug` for both stages, and prints the relative errors
(max |hb - ref| / max |ref|) of the loss, logits, CLIP features, visual tokens and the worst gradient. Exits 1 when
they exceed the unit tests' tolerances (1e-4 forward, 1e-3 gradients).
"""
import os, shutil, subprocess, sys, tempfile

import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
import gen_model_fixtures as g  # noqa: E402
import bench_model as bm  # noqa: E402


def rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def main():
    tmp = tempfile.mkdtemp()
    try:
        ok = check(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


def check(tmp):
    hb = os.path.join(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bin"), "hb-train")
    ck, batch = os.path.join(tmp, "ck"), os.path.join(tmp, "batch.safetensors")
    subprocess.check_call([hb, "init", "--preset", "small", "-o", ck, "--seed", "3"])
    torch.manual_seed(0)
    m = g.Honeybee(bm.SMALL).double()
    m.vision_model.config._attn_implementation = "eager"
    m.language_model.config._attn_implementation = "eager"
    sd = {k.replace("vision_model.vision_model.", "vision_model.", 1): v.double()
          for k, v in load_file(os.path.join(ck, "model.safetensors")).items()}
    m.load_state_dict(sd, strict=True)
    B, T, nv = 2, 200, bm.SMALL["proj"]["num_query_tokens"]
    ids = torch.randint(3, bm.SMALL["text"]["vocab_size"], (B, T))
    ids[:, 0] = 1
    ids[0, 1:1 + nv] = -1
    ids[1, 5:5 + nv] = -1
    lab = ids.clone()
    lab[ids < 0] = -100
    lab[:, :3] = -100
    lab[1, 150:] = -100
    px = torch.randn(2, 3, 224, 224).float()
    save_file({"pixel_values": px, "input_ids": ids.int(), "labels": lab.int()}, batch)
    ok = True
    for stage in ("pt", "ft"):
        out = os.path.join(tmp, stage + ".safetensors")
        subprocess.check_call([hb, "debug", "--checkpoint", ck, "--stage", stage, "--batch", batch, "--out", out])
        m.zero_grad(set_to_none=True)
        for n, p in m.named_parameters():
            p.requires_grad_(n.startswith("abstractor.") or (stage == "ft" and n.startswith("language_model.")))
        loss, logits, feats, vis = m(px.double(), ids, lab)
        loss.backward()
        ours = load_file(out)
        fwd = {"loss": rel(ours["loss"], loss.detach()), "logits": rel(ours["logits"], logits.detach()),
               "features": rel(ours["features"], feats.detach()), "visual_tokens": rel(ours["visual_tokens"], vis.detach())}
        grads = [(rel(ours["grad." + n], p.grad), n) for n, p in m.named_parameters() if p.requires_grad]
        assert len(grads) == sum(1 for k in ours if k.startswith("grad.")), "gradient sets differ"
        worst = max(grads)
        print(stage, " ".join(f"{k} {v:.1e}" for k, v in fwd.items()), f"worst gradient {worst[0]:.1e} ({worst[1]})",
              f"over {len(grads)} gradients")
        ok &= max(fwd.values()) < 1e-4 and worst[0] < 1e-3
    return ok


if __name__ == "__main__":
    main()
