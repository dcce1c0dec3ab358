#!/usr/bin/env python3
"""PyTorch side of tests/bench/bench_model.sh: the same model as `hb-train bench --preset small` (the Honeybee
reference module of tests/ref/gen_model_fixtures.py: HF CLIPVisionModel, timm RegStage C-Abstractor, HF
LlamaForCausalLM; fp32, PyTorch's default SDPA attention) and the same batch shapes, forward + loss + backward with the stage's
parameters trainable. Prints "tokens/s X best-step tokens/s Y tokens/cpu-s Z ms/step W" (X: mean, Y: fastest step, Z: per second of
process CPU time, fastest step).

    bench_model.py STAGE BATCH SEQ IMAGES_PER_SEQ STEPS THREADS
"""
import os, sys, time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
import gen_model_fixtures as g  # noqa: E402

SMALL = dict(  # model/presets.c "small"
    vision=dict(hidden_size=256, intermediate_size=1024, num_attention_heads=4, num_hidden_layers=4, patch_size=14,
                image_size=224, layer_norm_eps=1e-5),
    proj=dict(projector_type="c-abs", depth=3, mlp_depth=2, hidden_size=256, num_query_tokens=144, pos_emb=True,
              prenorm=False, feature_layer_index=-1, num_eos_tokens=0, initializer_range=0.02),
    text=dict(vocab_size=32000, hidden_size=512, intermediate_size=1376, num_hidden_layers=4, num_attention_heads=8,
              max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0),
)


def main():
    stage, B, T, per, steps, threads = sys.argv[1], *map(int, sys.argv[2:])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    m = g.Honeybee(SMALL)
    for n, p in m.named_parameters():
        p.requires_grad_(n.startswith("abstractor.") or (stage == "ft" and n.startswith("language_model.")))
    nv, V, S = SMALL["proj"]["num_query_tokens"], SMALL["text"]["vocab_size"], SMALL["vision"]["image_size"]
    ids = torch.randint(3, V, (B, T))
    ids[:, 0] = 1
    ids[:, 1:1 + per * nv] = -1
    labels = ids.clone()
    labels[:, 1::2] = -100
    labels[ids < 0] = -100
    labels[:, 0] = -100
    pixels = torch.randn(B * per, 3, S, S)

    def step():
        m.zero_grad(set_to_none=True)
        if per:
            loss = m(pixels, ids, labels)[0]
        else:
            loss = m.language_model(input_ids=ids, labels=labels).loss
        loss.backward()

    step()  # warm-up
    times, cpu = [], []
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    dt = sum(times)
    print(f"tokens/s {B * T * steps / dt:.1f} best-step tokens/s {B * T / min(times):.1f} "
          f"tokens/cpu-s {B * T / min(cpu):.1f} ms/step {1e3 * dt / steps:.1f}")


if __name__ == "__main__":
    main()
