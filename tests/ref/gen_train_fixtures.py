#!/usr/bin/env python3
"""Writes tests/fixtures/train/: a tiny random Honeybee, 40 training samples with their images, and the 10-step
training trajectories PyTorch computes on them, which tests/unit/test_train_ref.c compares `hb-train train` with.
Rerun after changing what it covers:

    python3 tests/ref/gen_train_fixtures.py

The model is the PyTorch reference of tests/ref/gen_model_fixtures.py (HF CLIPVisionModel + timm RegStage
C-Abstractor + HF LlamaForCausalLM), run in float64 from float32 weights, so the trajectories are the exact-math
answer for the stored values. Everything the trainer does to the data is re-implemented here from
docs/training.md, independently of the C code:

  * sequences: tokens with -1 image placeholders; labels = token where the loss mask is 1, else -100; truncation to
    max_tokens, moved back to the start of an image run it would split (the images after the cut are dropped);
    right padding with id 0 / label -100 (HF collate);
  * pixels: torchvision to_tensor + normalize with the OpenAI CLIP mean/std (float32), then float64;
  * loss: HF's shift (position t predicts labels[t+1]); `global` = sum of token losses / supervised tokens of the
    global batch; `micro` = mean over the micro-batches of their token means;
  * optimiser: torch.optim.AdamW, betas (0.9, 0.98), eps 1e-6, decoupled weight decay in a separate parameter group
    that excludes biases and the weights of nn.LayerNorm (timm LayerNorm2d included) and LlamaRMSNorm modules
    (HF get_decay_parameter_names); LambdaLR with Honeybee's schedule (spec-model.md §7.1):
    r = min_lr/lr, r + (1-r)*k/W during warmup, then r + (1-r)*0.5*(1+cos(pi*(k-W)/(T-W)));
    torch.nn.utils.clip_grad_norm_ (coefficient max_norm / (norm + 1e-6), at most 1) when clip > 0.

Files:
  model/config.json, model/model.safetensors   the initial checkpoint (Honeybee naming)
  samples.jsonl                                 the samples in `hb-inspect dump` form, in stream order
  images.safetensors                            pixels U8 [n, S, S, 3]; metadata "hashes": the n content hashes
  ref_<run>.safetensors                         loss, lr, grad_norm (before clipping), clip_coef: F64 [10];
                                                final.<name>: F32 weights after step 10 of every trained tensor;
                                                metadata: the trainer fields of the run (docs/training.md names)
"""
import json, math, os, shutil, sys

import torch
import torch.nn as nn
import torchvision.transforms.functional as TF
from safetensors.torch import save_file
from transformers.models.llama.modeling_llama import LlamaRMSNorm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_model_fixtures import Honeybee, honeybee_config, randomize  # noqa: E402  (the verified reference model)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "train")
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]

CFG = dict(
    vision=dict(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=2, patch_size=4,
                image_size=16, layer_norm_eps=1e-5),
    proj=dict(projector_type="c-abs", depth=1, mlp_depth=2, hidden_size=16, num_query_tokens=4, pos_emb=True,
              prenorm=False, feature_layer_index=-1, num_eos_tokens=0, initializer_range=0.02),
    text=dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
              max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0))
NVIS = 4
S = 16
V = 64
N_SAMPLES, N_IMAGES, STEPS, GLOBAL, MAX_TOKENS = 40, 10, 10, 4, 32

COMMON = {"steps": 10, "batch.global": 4, "data.max_tokens": MAX_TOKENS, "optim.beta1": 0.9, "optim.beta2": 0.98,
          "optim.eps": 1e-6}
RUNS = {
    "ft": dict(COMMON, **{"stage": "ft", "batch.loss": "global", "optim.lr": 2e-3, "optim.min_lr": 2e-4,
                          "optim.warmup": 3, "optim.weight_decay": 0.1, "optim.clip": 1.0}),
    "pt": dict(COMMON, **{"stage": "pt", "batch.loss": "global", "optim.lr": 3e-3, "optim.min_lr": 3e-4,
                          "optim.warmup": 2, "optim.weight_decay": 0.05, "optim.clip": 0.5}),
    "ft_micro": dict(COMMON, **{"stage": "ft", "batch.loss": "micro", "batch.micro": 2, "optim.lr": 2e-3,
                                "optim.min_lr": 2e-4, "optim.warmup": 3, "optim.weight_decay": 0.1,
                                "optim.clip": 0.0}),
}


def image_hash(i):
    return "%016x%016x" % ((0x9E3779B97F4A7C15 * (i + 1)) & (2 ** 64 - 1), 0xC0FFEE00 + i)


def make_samples(g):
    """40 samples: mostly one image, every 7th text-only, every 9th two images; sample 13 is longer than
    MAX_TOKENS with its image run across the cut (the image is dropped), sample 22 is cut in plain text."""
    def rnd(n):
        return [int(x) for x in torch.randint(3, V, (n,), generator=g)]

    out = []
    for k in range(N_SAMPLES):
        toks, mask, imgs = [1], [0], []
        n_img = 0 if k % 7 == 3 else 2 if k % 9 == 4 else 1
        if k == 13:  # 28 text tokens, then an image at 29..32: a cut at 32 splits it
            toks += rnd(28)
            mask += [0] * 28
            imgs.append(int(torch.randint(0, N_IMAGES, (1,), generator=g)))
            toks += [-1] * NVIS + rnd(3) + [2]
            mask += [0] * NVIS + [1, 1, 1, 1]
        else:
            for _ in range(n_img):
                imgs.append(int(torch.randint(0, N_IMAGES, (1,), generator=g)))
                toks += [-1] * NVIS
                mask += [0] * NVIS
            lp = int(torch.randint(2, 6, (1,), generator=g))
            la = int(torch.randint(2, 7, (1,), generator=g)) + (14 if k == 22 else 0)
            toks += rnd(lp) + rnd(la) + [2]
            mask += [0] * lp + [1] * (la + 1)
        out.append(dict(id=f"fx/{k}", tokens=toks, mask=mask, images=imgs))
    return out


def build_sequence(s):
    toks, mask = s["tokens"], s["mask"]
    n = len(toks)
    cut = min(n, MAX_TOKENS)
    if cut < n and cut > 0 and toks[cut] == -1 and toks[cut - 1] == -1:
        st = cut
        while st > 0 and toks[st - 1] == -1:
            st -= 1
        cut = st + (cut - st) // NVIS * NVIS
    ids = toks[:cut]
    labels = [t if m else -100 for t, m in zip(toks[:cut], mask[:cut])]
    kept = ids.count(-1) // NVIS
    return ids, labels, s["images"][:kept]


def batch_tensors(samples, pixels_u8):
    seqs = [build_sequence(s) for s in samples]
    T = max(1, max(len(x[0]) for x in seqs))
    ids = torch.zeros(len(seqs), T, dtype=torch.long)
    labels = torch.full((len(seqs), T), -100, dtype=torch.long)
    imgs = []
    for b, (i, l, im) in enumerate(seqs):
        ids[b, :len(i)] = torch.tensor(i, dtype=torch.long)
        labels[b, :len(l)] = torch.tensor(l, dtype=torch.long)
        imgs += im
    pix = None
    if imgs:
        pix = torch.stack([TF.normalize(TF.to_tensor(pixels_u8[i].numpy()), MEAN, STD) for i in imgs]).double()
    return ids, labels, pix


def token_losses(model, ids, labels, pix):
    """Sum of the token cross-entropies and the number of targets (HF shift)."""
    emb = model.language_model.get_input_embeddings()(ids.clamp(min=0))
    mask = ids < 0
    if pix is not None:
        hs = model.vision_model(pix, output_hidden_states=True).hidden_states
        vis = model.abstractor(hs[model.fli][:, 1:])
        flat = vis.reshape(-1, vis.shape[-1])
        assert int(mask.sum()) == flat.shape[0]
        src = torch.zeros_like(emb)
        src[mask] = flat
        emb = torch.where(mask[..., None], src, emb)
    logits = model.language_model(inputs_embeds=emb).logits
    tgt = nn.functional.pad(labels, (0, 1), value=-100)[:, 1:]
    ce = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-100,
                                     reduction="sum")
    return ce, int((tgt >= 0).sum())


def decay_split(model, trained):
    no_decay = set()
    for mname, mod in model.named_modules():
        if isinstance(mod, (nn.LayerNorm, LlamaRMSNorm)):
            for pname, _ in mod.named_parameters(recurse=False):
                no_decay.add(f"{mname}.{pname}" if mname else pname)
    dec, nod = [], []
    for n, p in model.named_parameters():
        if n not in trained:
            continue
        (nod if n in no_decay or n.endswith("bias") else dec).append(p)
    return dec, nod


def schedule(lr, min_lr, W, T):
    r = min_lr / lr

    def mult(k):
        if k < W:
            return r + (1 - r) * k / W
        return r + (1 - r) * 0.5 * (1 + math.cos(math.pi * (k - W) / (T - W)))
    return mult


def trajectory(init_state, run, samples, pixels_u8):
    model = Honeybee(CFG)
    model.vision_model.config._attn_implementation = "eager"
    model.language_model.config._attn_implementation = "eager"
    model.load_state_dict(init_state)
    model = model.double()
    ft = run["stage"] == "ft"
    trained = {n for n, _ in model.named_parameters()
               if n.startswith("abstractor.") or (ft and n.startswith("language_model."))}
    for n, p in model.named_parameters():
        p.requires_grad_(n in trained)
    dec, nod = decay_split(model, trained)
    opt = torch.optim.AdamW([{"params": dec, "weight_decay": run["optim.weight_decay"]},
                             {"params": nod, "weight_decay": 0.0}],
                            lr=run["optim.lr"], betas=(run["optim.beta1"], run["optim.beta2"]), eps=run["optim.eps"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule(run["optim.lr"], run["optim.min_lr"],
                                                            run["optim.warmup"], run["steps"]))
    params = [p for n, p in model.named_parameters() if n in trained]
    rec = {"loss": [], "lr": [], "grad_norm": [], "clip_coef": []}
    micro = run.get("batch.micro", GLOBAL)
    for k in range(run["steps"]):
        batch = samples[k * GLOBAL:(k + 1) * GLOBAL]
        opt.zero_grad(set_to_none=True)
        if run["batch.loss"] == "global":
            ids, labels, pix = batch_tensors(batch, pixels_u8)
            s, n = token_losses(model, ids, labels, pix)
            loss = s / n
        else:
            parts = []
            for a in range(0, GLOBAL, micro):
                ids, labels, pix = batch_tensors(batch[a:a + micro], pixels_u8)
                s, n = token_losses(model, ids, labels, pix)
                parts.append(s / n)
            loss = sum(parts) / len(parts)
        loss.backward()
        norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params)))
        coef = 1.0
        if run["optim.clip"] > 0:
            clipped = float(torch.nn.utils.clip_grad_norm_(params, run["optim.clip"]))
            assert abs(clipped - norm) <= 1e-12 * max(1.0, norm)
            coef = min(1.0, run["optim.clip"] / (norm + 1e-6))
        rec["loss"].append(float(loss.detach()))
        rec["lr"].append(sched.get_last_lr()[0])
        rec["grad_norm"].append(norm)
        rec["clip_coef"].append(coef)
        opt.step()
        sched.step()
    out = {k: torch.tensor(v, dtype=torch.float64) for k, v in rec.items()}
    for n, p in model.named_parameters():
        if n in trained:
            out["final." + n] = p.detach().float().contiguous()
    return out, rec


def main():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(2024)
    torch.manual_seed(2024)
    model = Honeybee(CFG)
    randomize(model, g, False)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(os.path.join(OUT, "model"))
    state = {}
    for k, v in model.state_dict().items():
        if k.endswith("position_ids") or k.endswith("inv_freq"):
            continue
        name = "vision_model." + k if k.startswith("vision_model.") and not k.startswith("vision_model.vision_model.") \
            else k
        state[name] = v.detach().float().contiguous()
    save_file(state, os.path.join(OUT, "model", "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(OUT, "model", "config.json"), "w") as f:
        json.dump(honeybee_config(CFG, model), f, indent=2)
    init_state = {k: v.clone() for k, v in model.state_dict().items()}

    samples = make_samples(g)
    pixels = torch.randint(0, 256, (N_IMAGES, S, S, 3), generator=g, dtype=torch.uint8)
    save_file({"pixels": pixels}, os.path.join(OUT, "images.safetensors"),
              metadata={"hashes": ",".join(image_hash(i) for i in range(N_IMAGES))})
    with open(os.path.join(OUT, "samples.jsonl"), "w") as f:
        for k, s in enumerate(samples):
            f.write(json.dumps({"id": s["id"], "source": "fx", "source_file": "fixture", "records": [k],
                                "choices": {}, "images": [image_hash(i) for i in s["images"]], "turns": [],
                                "input_ids": s["tokens"], "loss_mask": s["mask"]}) + "\n")
    for name, run in RUNS.items():
        out, rec = trajectory(init_state, run, samples, pixels)
        save_file(out, os.path.join(OUT, f"ref_{name}.safetensors"), metadata={k: str(v) for k, v in run.items()})
        print(name, "loss", " ".join(f"{x:.4f}" for x in rec["loss"]))
        print(name, "clip", " ".join(f"{x:.3f}" for x in rec["clip_coef"]))


if __name__ == "__main__":
    main()
