#!/usr/bin/env python3
"""Writes tests/fixtures/model/: tiny random Honeybee models built from the PyPI reference implementations
(HF transformers CLIPVisionModel and LlamaForCausalLM, timm RegStage/Bottleneck with the C-Abstractor wiring of
honeybee/projectors/projectors.py), in the Honeybee checkpoint layout, with a batch and the reference loss, logits
and every gradient for both training stages. The C tests (tests/unit/test_model*.c, tests/integration/model_*.sh)
compare hb against these files. Rerun after changing what it covers:

    python3 tests/ref/gen_model_fixtures.py

Everything is computed in float64 from float32-representable weights and inputs, so the references carry the
exact-math answer for the stored fp32 values; they are stored as F32. Every parameter (LayerNorm gains and biases
included) is random, so a parameter the C code ignores or transposes changes the result.

Per model directory (a: the main config; b: prenorm, eos tokens, feature layer -1, depth 1, a 3-layer readout):
  config.json              Honeybee layout (vision_config / projector_config / lm_config / text_config)
  config_legacy.json       the same model in the legacy layout (visual_projector_config, top-level num_query_tokens)
  model.safetensors        the checkpoint (vision_model.vision_model.*, abstractor.*, language_model.*)
  batch.safetensors        pixel_values f32 [N,3,S,S], input_ids i32 [B,T] (-1 runs = images), labels i32 [B,T]
  ref_pt.safetensors       loss, logits, features, visual_tokens, grad.abstractor.*           (stage pt)
  ref_ft.safetensors       the same with grad.abstractor.* and grad.language_model.*         (stage ft)
a/ also gets the HF-native files used to test `hb-train init --clip/--llama`:
  hf_clip/        CLIPVisionModel.save_pretrained (transformers 5 writes the tower's keys without a prefix)
  hf_clip_model/  CLIPModel.save_pretrained: vision_model.* plus a text tower and projections hb must ignore
  hf_llama/       LlamaForCausalLM.save_pretrained, sharded (model-0000x-of-0000y.safetensors + index)
"""
import json, os, shutil

import torch
import torch.nn as nn
from safetensors.torch import save_file
from timm.layers import LayerNorm, LayerNorm2d
from timm.models.regnet import RegStage
from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "model")

CONFIGS = {
    "a": dict(
        vision=dict(hidden_size=16, intermediate_size=40, num_attention_heads=2, num_hidden_layers=3, patch_size=4,
                    image_size=16, layer_norm_eps=1e-5),
        proj=dict(projector_type="c-abs", depth=2, mlp_depth=2, hidden_size=24, num_query_tokens=9, pos_emb=True,
                  prenorm=False, feature_layer_index=-2, num_eos_tokens=0, initializer_range=0.02),
        text=dict(vocab_size=128, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                  max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0),
        seqs=[[1], [1, 1]], T=32, seed=1),
    "b": dict(
        vision=dict(hidden_size=12, intermediate_size=20, num_attention_heads=3, num_hidden_layers=2, patch_size=4,
                    image_size=20, layer_norm_eps=1e-5),
        proj=dict(projector_type="c-abs", depth=1, mlp_depth=3, hidden_size=12, num_query_tokens=4, pos_emb=True,
                  prenorm=True, feature_layer_index=-1, num_eos_tokens=1, initializer_range=0.02),
        text=dict(vocab_size=96, hidden_size=24, intermediate_size=40, num_hidden_layers=1, num_attention_heads=2,
                  max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=500.0),
        seqs=[[1, 1], [], [1]], T=24, seed=2),
}


class CAbstractor(nn.Module):
    """honeybee/projectors/projectors.py CAbstractor (ConvProjector + Projector), same module names."""

    def __init__(self, p, enc, out, n_in):
        super().__init__()
        self.eos_tokens = nn.Parameter(torch.zeros(1, p["num_eos_tokens"], out)) if p["num_eos_tokens"] else None
        self.pos_emb = nn.Parameter(torch.zeros(1, n_in, enc)) if p["pos_emb"] else None
        self.prenorm = LayerNorm(enc) if p["prenorm"] else None
        hw = int(round(p["num_query_tokens"] ** 0.5))
        kw = dict(stride=1, dilation=1, act_layer=nn.SiLU, norm_layer=LayerNorm2d)
        sampler = nn.AdaptiveAvgPool2d((hw, hw))
        if p["depth"]:
            s1 = RegStage(p["depth"], enc, p["hidden_size"], **kw)
            s2 = RegStage(p["depth"], p["hidden_size"], p["hidden_size"], **kw)
            self.net = nn.Sequential(s1, sampler, s2)
            rin = p["hidden_size"]
        else:
            self.net = sampler
            rin = enc
        layers = [nn.Linear(rin, out)]
        for _ in range(1, p["mlp_depth"]):
            layers += [nn.SiLU(), nn.Linear(out, out)]
        self.readout = nn.Sequential(*layers)

    def forward(self, x):
        if self.prenorm is not None:
            x = self.prenorm(x)
        if self.pos_emb is not None:
            x = x + self.pos_emb
        b, l, d = x.shape
        hw = int(round(l ** 0.5))
        x = x.transpose(1, 2).reshape(b, d, hw, hw)
        x = self.net(x)
        x = x.flatten(2).transpose(1, 2)
        x = self.readout(x)
        if self.eos_tokens is not None:
            x = torch.cat([x, self.eos_tokens.expand(b, -1, -1)], dim=1)
        return x


class Honeybee(nn.Module):
    def __init__(self, c):
        super().__init__()
        vc = CLIPVisionConfig(hidden_act="quick_gelu", **c["vision"])
        tc = LlamaConfig(tie_word_embeddings=False, **c["text"])
        self.vision_model = CLIPVisionModel(vc)
        n = (vc.image_size // vc.patch_size) ** 2
        self.abstractor = CAbstractor(c["proj"], vc.hidden_size, tc.hidden_size, n)
        self.language_model = LlamaForCausalLM(tc)
        self.fli = c["proj"]["feature_layer_index"]

    def forward(self, pixel_values, input_ids, labels):
        hs = self.vision_model(pixel_values, output_hidden_states=True).hidden_states
        feats = hs[self.fli][:, 1:]
        vis = self.abstractor(feats)
        emb = self.language_model.get_input_embeddings()(input_ids.clamp(min=0))
        # splice: the k-th run of -1 ids takes the k-th image's tokens (HF index_put semantics: overwritten rows
        # send no gradient to the embedding table)
        mask = input_ids < 0
        flat = vis.reshape(-1, vis.shape[-1])
        assert int(mask.sum()) == flat.shape[0], "placeholder count != visual tokens"
        src = torch.zeros_like(emb)
        src[mask] = flat
        emb = torch.where(mask[..., None], src, emb)
        out = self.language_model(inputs_embeds=emb, labels=labels)
        logits = out.logits.double()
        # HF loss semantics recomputed in float64: position t predicts labels[t+1], mean over supervised tokens
        shift = nn.functional.pad(labels, (0, 1), value=-100)[:, 1:]
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), shift.reshape(-1), ignore_index=-100)
        assert abs(loss.item() - out.loss.item()) < 1e-5 * max(1.0, abs(loss.item())), (loss.item(), out.loss.item())
        return loss, logits, feats, vis


def randomize(model, g, tiny_streams):
    """Every parameter random, in float32-representable values: LayerNorm/RMSNorm gains around 1, the rest small.
    The convolutions in front of the C-Abstractor's LayerNormAct2d are scaled so their outputs have a variance near
    eps (1e-5): a wrong eps then changes the result far beyond the tolerance. With tiny_streams, the CLIP residual
    stream and the LLM's inputs are scaled down the same way, so CLIP's LayerNorm eps, the projector's prenorm eps
    (1e-6) and the RMSNorm eps are exercised too."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or ".bn.weight" in name or "layernorm" in name and name.endswith("weight") \
                    or "layer_norm" in name and name.endswith("weight") or "prenorm.weight" in name:
                v = 1.0 + 0.2 * torch.randn(p.shape, generator=g)
            elif name.endswith("embed_tokens.weight") or name.endswith("lm_head.weight"):
                v = 0.5 * torch.randn(p.shape, generator=g)
            else:
                fan_in = p.shape[1] if p.dim() >= 2 else 4
                for d in p.shape[2:]:
                    fan_in *= d
                v = torch.randn(p.shape, generator=g) / max(fan_in, 1) ** 0.5
                if name.endswith("bias") or "pos_emb" in name or "embedding" in name or "eos_tokens" in name:
                    v = 0.3 * torch.randn(p.shape, generator=g)
            if name.startswith("abstractor.net") and name.endswith("conv.weight"):
                v = v * 0.003
            if tiny_streams:
                if "pre_layrnorm" in name or "out_proj" in name or "mlp.fc2" in name or "pos_emb" in name:
                    v = v * 1e-3
                if name.endswith("embed_tokens.weight") or name.startswith("abstractor.readout.4"):
                    v = v * 1e-3
            p.copy_(v.float())


def make_batch(c, g):
    v, t, p = c["vision"], c["text"], c["proj"]
    S, T = v["image_size"], c["T"]
    nvis = p["num_query_tokens"] + p["num_eos_tokens"]
    nimg = sum(len(s) for s in c["seqs"])
    pixels = torch.randn(nimg, 3, S, S, generator=g).float()
    ids = torch.zeros(len(c["seqs"]), T, dtype=torch.int64)
    labels = torch.full_like(ids, -100)
    V = t["vocab_size"]
    for b, imgs in enumerate(c["seqs"]):
        seq, lab = [1], [-100]
        for _ in imgs:  # "<s> [img] prompt tokens ..." with a supervised answer after each image
            seq += [-1] * nvis + [int(x) for x in torch.randint(3, V, (2,), generator=g)]
            lab += [-100] * (nvis + 2)
            ans = [int(x) for x in torch.randint(3, V, (3,), generator=g)] + [2]
            seq += ans
            lab += ans
        if not imgs:  # a text-only sequence
            pr = [int(x) for x in torch.randint(3, V, (4,), generator=g)]
            ans = [int(x) for x in torch.randint(3, V, (5,), generator=g)] + [2]
            seq += pr + ans
            lab += [-100] * 4 + ans
        assert len(seq) <= T, (len(seq), T)
        ids[b, :len(seq)] = torch.tensor(seq)
        labels[b, :len(lab)] = torch.tensor(lab)
    return pixels, ids, labels


def honeybee_config(c, model, legacy=False):
    vc = model.vision_model.config.to_dict()
    vis = {k: vc[k] for k in ("hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers",
                              "num_channels", "patch_size", "image_size", "layer_norm_eps", "hidden_act",
                              "attention_dropout", "projection_dim", "initializer_range", "initializer_factor")}
    vis.update(model_type="clip_vision_model", encoder_type="openai.clip",
               pretrained_vision_name_or_path="openai/clip-vit-large-patch14",
               image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711])
    text = json.loads(model.language_model.config.to_json_string())
    proj = dict(c["proj"])
    proj.update(encoder_hidden_size=c["vision"]["hidden_size"], output_hidden_size=c["text"]["hidden_size"])
    lm = dict(pretrained_lm_name_or_path="lmsys/vicuna-7b-v1.5", pretrained_tokenizer_name_or_path="llama2")
    if not legacy:
        return dict(architectures=["HoneybeeForConditionalGeneration"], model_type="mllm", vision_config=vis,
                    projector_config=proj, lm_config=lm, text_config=text)
    proj.pop("output_hidden_size")
    nq = proj.pop("num_query_tokens")
    return dict(model_type="mllm", vision_config=vis, visual_projector_config=proj, num_query_tokens=nq,
                lm_config=lm, text_config=text, hidden_size=c["text"]["hidden_size"])


def f32(t):
    return t.detach().float().contiguous()


def main():
    torch.set_num_threads(1)
    for key, c in CONFIGS.items():
        g = torch.Generator().manual_seed(c["seed"])
        torch.manual_seed(c["seed"])
        model = Honeybee(c)
        model.vision_model.config._attn_implementation = "eager"
        model.language_model.config._attn_implementation = "eager"
        randomize(model, g, key == "b")
        pixels, ids, labels = make_batch(c, g)
        d = os.path.join(OUT, key)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        # Honeybee (transformers 4.38) names: the CLIPVisionModel keeps its tower under `vision_model.`, so the
        # checkpoint reads vision_model.vision_model.*; transformers 5 flattened CLIPVisionModel, hence the rename.
        state = {}
        for k, v in model.state_dict().items():
            if k.endswith("position_ids") or k.endswith("inv_freq"):
                continue
            if k.startswith("vision_model.") and not k.startswith("vision_model.vision_model."):
                k = "vision_model." + k
            state[k] = f32(v)
        save_file(state, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        for name, legacy in (("config.json", False), ("config_legacy.json", True)):
            with open(os.path.join(d, name), "w") as f:
                json.dump(honeybee_config(c, model, legacy), f, indent=2)
        save_file({"pixel_values": pixels, "input_ids": ids.to(torch.int32), "labels": labels.to(torch.int32)},
                  os.path.join(d, "batch.safetensors"))

        model = model.double()
        for stage in ("pt", "ft"):
            model.zero_grad(set_to_none=True)
            for n, p in model.named_parameters():
                p.requires_grad_(n.startswith("abstractor.") or (stage == "ft" and n.startswith("language_model.")))
            loss, logits, feats, vis = model(pixels.double(), ids, labels)
            loss.backward()
            out = {"loss": f32(loss.reshape(())), "logits": f32(logits), "features": f32(feats),
                   "visual_tokens": f32(vis)}
            for n, p in model.named_parameters():
                if p.requires_grad:
                    out["grad." + n] = f32(p.grad)
            save_file(out, os.path.join(d, f"ref_{stage}.safetensors"))
            print(f"{key}/{stage}: loss {loss.item():.6f}, {len(out) - 4} gradients")

        if key == "a":  # HF-native CLIP and (sharded) LLaMA directories with the same weights
            m32 = model.float()
            m32.vision_model.save_pretrained(os.path.join(d, "hf_clip"), safe_serialization=True)
            m32.language_model.save_pretrained(os.path.join(d, "hf_llama"), safe_serialization=True,
                                               max_shard_size="40KB")
            # a CLIPModel directory (vision keys under vision_model., a text tower and projections to ignore)
            cc = CLIPConfig(vision_config=m32.vision_model.config.to_dict(), projection_dim=8,
                            text_config=dict(hidden_size=8, intermediate_size=16, num_attention_heads=2,
                                             num_hidden_layers=1, vocab_size=64, max_position_embeddings=8,
                                             bos_token_id=0, eos_token_id=1, pad_token_id=1))
            cm = CLIPModel(cc)
            cm.vision_model.load_state_dict(m32.vision_model.state_dict())
            cm.save_pretrained(os.path.join(d, "hf_clip_model"), safe_serialization=True)
            for sub in ("hf_clip", "hf_clip_model", "hf_llama"):  # keep only what the tests read
                for fn in os.listdir(os.path.join(d, sub)):
                    if fn == "generation_config.json":
                        os.remove(os.path.join(d, sub, fn))


if __name__ == "__main__":
    main()
