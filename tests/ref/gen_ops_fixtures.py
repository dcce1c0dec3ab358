#!/usr/bin/env python3
"""Writes tests/fixtures/ops/: small per-op PyTorch references for the ops whose semantics are easy to get subtly
wrong (tests/unit/test_ops_torch.c reads them).

Each case is computed by the library the model's checkpoint comes from, in float32 on the CPU, with autograd for the
gradients (random upstream gradient `gy` included in the files):
  pool     torch AdaptiveAvgPool2d, overlapping windows (16->12, 5x7->3x4)       x, gy -> y, dx
  ln2d     timm LayerNormAct2d(C, eps=1e-5, act=SiLU) on NCHW                     x, w, b, gy -> y, dx, dw, db
  dwconv   nn.Conv2d(C, C, 3, padding=1, groups=C, bias=False)                    x, w, gy -> y, dx, dw
  se       timm SEModule(C, rd_channels=R, act=SiLU) (mean, fc1, SiLU, fc2, sigmoid gate)
  rope     HF LlamaRotaryEmbedding + apply_rotary_pos_emb, theta 10000 and 500000, offset positions
  sdpa     F.scaled_dot_product_attention, causal and not, plus the masked log-sum-exp
  qgelu    HF ACT2FN["quick_gelu"];  rms  HF LlamaRMSNorm;  swiglu  silu(a)*b
  xent     HF's shifted, masked token-mean cross-entropy (F.cross_entropy, ignore_index=-100)
  adamw    torch.optim.AdamW, 3 steps, betas (0.9, 0.98), eps 1e-6, a decay and a no-decay group

Files: <case>.<name>.f32 (or .i32), raw little-endian, row-major, in the layout the C test uses (channel-last for the
projector ops); MANIFEST.txt lists every file with its shape. Run from the repository root:
    python3 tests/ref/gen_ops_fixtures.py
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "ops")
manifest = []


def save(case, name, t):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    ext = "i32" if a.dtype.kind in "iu" else "f32"
    a = a.astype(np.int32 if ext == "i32" else np.float32)
    fn = f"{case}.{name}.{ext}"
    a.tofile(os.path.join(OUT, fn))
    manifest.append(f"{fn} {list(a.shape)}")


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def pool(case, B, C, IH, IW, OH, OW):
    x = torch.randn(B, C, IH, IW, requires_grad=True)
    y = nn.AdaptiveAvgPool2d((OH, OW))(x)
    gy = torch.randn_like(y)
    y.backward(gy)
    for n, t in (("x", x), ("gy", gy), ("y", y), ("dx", x.grad)):
        save(case, n, nhwc(t))


def ln2d():
    from timm.layers import LayerNormAct2d

    B, C, H, W = 2, 8, 4, 4
    m = LayerNormAct2d(C, eps=1e-5, act_layer=nn.SiLU)
    with torch.no_grad():
        m.weight.copy_(1 + 0.3 * torch.randn(C))
        m.bias.copy_(0.3 * torch.randn(C))
    x = torch.randn(B, C, H, W, requires_grad=True)
    y = m(x)
    gy = torch.randn_like(y)
    y.backward(gy)
    for n, t in (("x", x), ("gy", gy), ("y", y), ("dx", x.grad)):
        save("ln2d", n, nhwc(t))
    for n, t in (("w", m.weight), ("b", m.bias), ("dw", m.weight.grad), ("db", m.bias.grad)):
        save("ln2d", n, t)


def dwconv():
    B, C, H, W = 2, 5, 5, 6
    m = nn.Conv2d(C, C, 3, padding=1, groups=C, bias=False)
    x = torch.randn(B, C, H, W, requires_grad=True)
    y = m(x)
    gy = torch.randn_like(y)
    y.backward(gy)
    for n, t in (("x", x), ("gy", gy), ("y", y), ("dx", x.grad)):
        save("dwconv", n, nhwc(t))
    save("dwconv", "w", m.weight.reshape(C, 9))
    save("dwconv", "dw", m.weight.grad.reshape(C, 9))


def se():
    from timm.layers import SEModule

    B, C, H, W, R = 2, 8, 3, 3, 4
    m = SEModule(C, rd_channels=R, act_layer=nn.SiLU)
    x = torch.randn(B, C, H, W, requires_grad=True)
    y = m(x)
    gy = torch.randn_like(y)
    y.backward(gy)
    for n, t in (("x", x), ("gy", gy), ("y", y), ("dx", x.grad)):
        save("se", n, nhwc(t))
    for n, p in (("fc1w", m.fc1.weight), ("fc1b", m.fc1.bias), ("fc2w", m.fc2.weight), ("fc2b", m.fc2.bias)):
        save("se", n, p.reshape(p.shape[0], -1) if p.dim() > 1 else p)
        save("se", "d" + n, p.grad.reshape(p.shape[0], -1) if p.dim() > 1 else p.grad)


def rope(case, theta, offset):
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    B, T, H, D = 2, 20, 3, 16
    cfg = LlamaConfig(hidden_size=H * D, num_attention_heads=H, num_key_value_heads=H, rope_theta=theta)
    rot = LlamaRotaryEmbedding(cfg)
    q = torch.randn(B, H, T, D, requires_grad=True)
    k = torch.randn(B, H, T, D, requires_grad=True)
    pos = (torch.arange(T) + offset * torch.arange(B)[:, None]).long()
    cos, sin = rot(q, pos)
    qo, ko = apply_rotary_pos_emb(q, k, cos, sin)
    gq, gk = torch.randn_like(qo), torch.randn_like(ko)
    (qo * gq + ko * gk).sum().backward()
    v = torch.randn(B, H, T, D)
    # our layout: qkv [B, T, 3, H, D]
    def pack(a, b, c):
        return torch.stack([a, b, c], dim=2).permute(0, 3, 2, 1, 4).contiguous()

    save(case, "qkv", pack(q, k, v))
    save(case, "out", pack(qo, ko, v))
    save(case, "g", pack(gq, gk, torch.zeros_like(v)))
    save(case, "dqkv", pack(q.grad, k.grad, torch.zeros_like(v)))
    save(case, "pos", pos.int())


def sdpa(case, causal):
    B, T, H, D = 2, 13, 2, 8
    q, k, v = (torch.randn(B, H, T, D, requires_grad=True) for _ in range(3))
    o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    s = (q @ k.transpose(-1, -2)) / D**0.5
    if causal:
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    lse = torch.logsumexp(s, dim=-1)  # [B, H, T]
    go = torch.randn_like(o)
    o.backward(go)
    qkv = torch.stack([q, k, v], dim=2).permute(0, 3, 2, 1, 4).contiguous()
    dqkv = torch.stack([q.grad, k.grad, v.grad], dim=2).permute(0, 3, 2, 1, 4).contiguous()
    save(case, "qkv", qkv)
    save(case, "out", o.permute(0, 2, 1, 3).reshape(B, T, H * D))
    save(case, "lse", lse)
    save(case, "gout", go.permute(0, 2, 1, 3).reshape(B, T, H * D))
    save(case, "dqkv", dqkv)


def small_ops():
    from transformers.activations import ACT2FN
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    x = torch.linspace(-12, 12, 301, requires_grad=True)
    y = ACT2FN["quick_gelu"](x)
    gy = torch.randn_like(y)
    y.backward(gy)
    for n, t in (("x", x), ("gy", gy), ("y", y), ("dx", x.grad)):
        save("qgelu", n, t)

    rows, C = 5, 24
    m = LlamaRMSNorm(C, eps=1e-5)
    with torch.no_grad():
        m.weight.copy_(1 + 0.2 * torch.randn(C))
    x = torch.randn(rows, C, requires_grad=True)
    y = m(x)
    gy = torch.randn_like(y)
    y.backward(gy)
    for n, t in (("x", x), ("w", m.weight), ("gy", gy), ("y", y), ("dx", x.grad), ("dw", m.weight.grad)):
        save("rms", n, t)

    rows, I = 4, 10
    ab = torch.randn(rows, 2 * I, requires_grad=True)
    a, b = ab[:, :I], ab[:, I:]
    y = F.silu(a) * b
    gy = torch.randn_like(y)
    y.backward(gy)
    for n, t in (("ab", ab), ("gy", gy), ("y", y), ("dab", ab.grad)):
        save("swiglu", n, t)


def xent():
    B, T, V = 2, 9, 40
    logits = (3 * torch.randn(B, T, V)).requires_grad_(True)
    labels = torch.randint(0, V, (B, T))
    labels[0, :4] = -100  # prompt
    labels[1, 6:] = -100  # padding
    # HF LlamaForCausalLM: shift so that position t predicts labels[t+1], token mean over the valid targets
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)
    loss.backward()
    save("xent", "logits", logits)
    save("xent", "labels", labels.int())
    save("xent", "loss", loss.reshape(1))
    save("xent", "dlogits", logits.grad)


def adamw():
    n1, n2 = 40, 7
    p1 = torch.randn(n1, requires_grad=True)
    p2 = torch.randn(n2, requires_grad=True)
    save("adamw", "p1_0", p1)
    save("adamw", "p2_0", p2)
    opt = torch.optim.AdamW([{"params": [p1], "weight_decay": 0.01}, {"params": [p2], "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
    for step in range(3):
        g1, g2 = torch.randn(n1), torch.randn(n2)
        save("adamw", f"g1_{step}", g1)
        save("adamw", f"g2_{step}", g2)
        p1.grad, p2.grad = g1.clone(), g2.clone()
        opt.step()
    save("adamw", "p1", p1)
    save("adamw", "p2", p2)
    save("adamw", "m1", opt.state[p1]["exp_avg"])
    save("adamw", "v1", opt.state[p1]["exp_avg_sq"])


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(1234)
    pool("pool16", 2, 3, 16, 16, 12, 12)
    pool("pool57", 1, 2, 5, 7, 3, 4)
    ln2d()
    dwconv()
    se()
    rope("rope", 10000.0, 0)
    rope("rope5e5", 500000.0, 1000)
    sdpa("sdpa_causal", True)
    sdpa("sdpa_full", False)
    small_ops()
    xent()
    adamw()
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write(f"# written by tests/ref/gen_ops_fixtures.py (torch {torch.__version__})\n")
        f.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
