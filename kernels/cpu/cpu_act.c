/* kernels/cpu/cpu_act.c — activations on the CPU: SiLU, quick_gelu, ReLU (forward and backward) and SwiGLU over a
 * fused gate/up buffer.
 *
 *   silu(x)       = x·σ(x)             silu'(x)       = σ(x)·(1 + x·(1 − σ(x)))
 *   quick_gelu(x) = x·σ(1.702x)        quick_gelu'(x) = s + 1.702·x·s·(1 − s),  s = σ(1.702x)
 *   relu(x)       = max(x, 0)          relu'(x)       = [x > 0]
 *   swiglu: m = silu(a)·b over ab = [a | b] per row; d_a = d_m·b·silu'(a), d_b = d_m·silu(a)
 *
 * Gradient convention: act_bwd writes d_x (=) or adds (+=) per its flag; swiglu_bwd overwrites d_ab.
 *
 * Dependencies:
 *   kernels/cpu/cpu.h   accessors, hb_cpu_sigmoid, hb_cpu_nt
 */
#include "kernels/cpu/cpu.h"

#define QG 1.702f

float hb_cpu_act1(float x, hb_act act) {
    switch (act) {
    case HB_ACT_SILU: return x * hb_cpu_sigmoid(x);
    case HB_ACT_QUICK_GELU: return x * hb_cpu_sigmoid(QG * x);
    case HB_ACT_RELU: return x > 0 ? x : 0.0f;
    default: return x;
    }
}

float hb_cpu_dact1(float x, hb_act act) {
    float s;
    switch (act) {
    case HB_ACT_SILU: s = hb_cpu_sigmoid(x); return s * (1.0f + x * (1.0f - s));
    case HB_ACT_QUICK_GELU: s = hb_cpu_sigmoid(QG * x); return s + QG * x * s * (1.0f - s);
    case HB_ACT_RELU: return x > 0 ? 1.0f : 0.0f;
    default: return 1.0f;
    }
}

/* Elementwise work in chunks of 16 Ki elements: parallel over chunks, each a vector loop (cpu_simd.c). */
#define CHUNK 16384

void hb_cpu_act_fwd(hb_ops *o, T_ y, T_ x, int64_t n, hb_act act) {
    float *py = F(y);
    const float *px = F(x);
    int64_t nc = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for num_threads(hb_cpu_nt(o, n * 8)) schedule(static)
    for (int64_t k = 0; k < nc; k++) {
        int64_t a = k * CHUNK, w = n - a < CHUNK ? n - a : CHUNK;
        hb_cpu_vact(py + a, px + a, w, act);
    }
}

void hb_cpu_act_bwd(hb_ops *o, T_ d_x, T_ d_y, T_ x, int64_t n, hb_act act, int acc) {
    float *dx = F(d_x);
    const float *dy = F(d_y), *px = F(x);
    int64_t nc = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for num_threads(hb_cpu_nt(o, n * 8)) schedule(static)
    for (int64_t k = 0; k < nc; k++) {
        int64_t a = k * CHUNK, w = n - a < CHUNK ? n - a : CHUNK;
        hb_cpu_vdact(dx + a, dy + a, px + a, w, act, acc);
    }
}

void hb_cpu_swiglu_fwd(hb_ops *o, T_ m, T_ ab, int64_t rows, int64_t I) {
    float *pm = F(m);
    const float *pab = F(ab);
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * I * 8)) schedule(static)
    for (int64_t r = 0; r < rows; r++) hb_cpu_vswiglu(pm + r * I, pab + r * 2 * I, pab + r * 2 * I + I, I);
}

void hb_cpu_swiglu_bwd(hb_ops *o, T_ d_ab, T_ d_m, T_ ab, int64_t rows, int64_t I) {
    float *pd = F(d_ab);
    const float *pdm = F(d_m), *pab = F(ab);
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * I * 8)) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        hb_cpu_vswiglu_grad(pd + r * 2 * I, pd + r * 2 * I + I, pdm + r * I, pab + r * 2 * I, pab + r * 2 * I + I, I);
}
