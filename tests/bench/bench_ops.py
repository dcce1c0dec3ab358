#!/usr/bin/env python3
"""PyTorch CPU side of tests/bench/bench_ops.sh: the same cases as bench_ops.c, fp32, autograd for the backward,
torch.set_num_threads(THREADS). Prints "name<TAB>shape<TAB>ms" (median of REPS after one warm-up).
Usage: bench_ops.py THREADS REPS"""
import sys
import time

import torch
import torch.nn.functional as F


def run(name, shape, fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    print(f"{name}\t{shape}\t{ts[len(ts) // 2]:.3f}", flush=True)


def main():
    threads, reps = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    x = torch.randn(2048, 512, requires_grad=True)
    w = (0.05 * torch.randn(2048, 512)).requires_grad_(True)
    dy = torch.randn(2048, 2048)

    def linear():
        x.grad = w.grad = None
        y = F.linear(x, w)
        y.backward(dy)

    run("linear", "rows=2048 in=512 out=2048", linear, reps)

    def attn_case(name, B, T, H, D, causal):
        q, k, v = (torch.randn(B, H, T, D, requires_grad=True) for _ in range(3))
        go = torch.randn(B, H, T, D)

        def f():
            q.grad = k.grad = v.grad = None
            o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            o.backward(go)

        run(name, f"B={B} T={T} H={H} D={D}", f, reps)

    attn_case("attn_causal", 8, 256, 8, 64, True)
    attn_case("attn_full", 4, 257, 16, 64, False)

    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    norm = LlamaRMSNorm(512, eps=1e-5)
    xr = torch.randn(2048, 512, requires_grad=True)
    gr = torch.randn(2048, 512)

    def rms():
        xr.grad = None
        norm.weight.grad = None
        norm(xr).backward(gr)

    run("rmsnorm", "rows=2048 C=512", rms, reps)

    z = (4 * torch.rand(512, 32000) - 2).requires_grad_(True)
    t = (torch.arange(512) * 7919) % 32000

    def xent():
        z.grad = None
        F.cross_entropy(z, t).backward()

    run("xent", "rows=512 V=32000", xent, reps)


if __name__ == "__main__":
    main()
