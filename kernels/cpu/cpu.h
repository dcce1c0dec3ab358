/* kernels/cpu/cpu.h — internals of the fp32 CPU reference backend: tensor accessors, threading, the vectorisable
 * exp/sigmoid every kernel shares, and the kernel functions the vtable (cpu_backend.c) points to.
 *
 * Storage: F32 and BF16 tensors are float arrays (BF16 values rounded on upload/cast only), I32 int32_t, U8 uint8_t.
 * Threads: OpenMP for our loops, OpenBLAS (Debian's pthread flavour) for GEMMs; both set to hb_ops_threads() at open.
 * GEMMs are only ever called from serial code, never inside an OpenMP region, so the two pools never run at once.
 * Determinism: loops are split into disjoint outputs (rows, or columns for reductions over rows); no reduction's
 * order depends on the thread count or the schedule. Inner loops are `omp simd`: a reduction's lane split depends
 * only on the binary (the vector width it was compiled for), never on threads.
 *
 * Dependencies:
 *   kernels/ops_backend.h   hb_ops, hb_tensor, hb_tensor_ptr, hb_ops_fail
 *   kernels/ops_common.h    bf16 helpers, pool windows, RoPE frequencies
 *   <omp.h>                 (in the .c files)
 */
#ifndef HB_CPU_H
#define HB_CPU_H

/* no-trapping-math lets the vectoriser if-convert float compares (clamps, max) in `omp simd` loops: FP exceptions
 * are never enabled, so it changes no result, only what the compiler may speculate. fp-contract=off keeps a·b + c
 * two roundings in every clone of HB_CPU_CLONES (AVX-512 has FMA), so all clones compute the same elementwise bits. */
#pragma GCC optimize("no-trapping-math", "fp-contract=off")

/* Hot vector loops (kernels/cpu/cpu_simd.c) are compiled for AVX-512, AVX2 and the x86-64 baseline and dispatched
 * at load time; other targets get one generic version. Sanitizer builds use the generic one (ASan and ifunc
 * resolvers do not mix well). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define HB_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HB_CPU_CLONES
#endif

#include "kernels/ops_backend.h"
#include "kernels/ops_common.h"

#include <stdint.h>
#include <string.h>

typedef struct {
    void *ws;         /* workspace (attention), reserved by hb_ops_attn_prepare */
    int64_t ws_bytes; /* its size */
} hb_cpu_state;

static inline float *F(const hb_tensor *t) { return t ? (float *)hb_tensor_ptr(t) : NULL; }
static inline int32_t *I32P(const hb_tensor *t) { return t ? (int32_t *)hb_tensor_ptr(t) : NULL; }
static inline uint8_t *U8P(const hb_tensor *t) { return t ? (uint8_t *)hb_tensor_ptr(t) : NULL; }

/* Threads for a loop of `work` scalar operations: 1 below a size where forking costs more than it saves. */
static inline int hb_cpu_nt(const hb_ops *o, int64_t work) { return work < 32768 ? 1 : o->threads; }

/* exp(x), ~1 ulp (Cody-Waite reduction by ln 2 and a degree-6 polynomial on [-ln2/2, ln2/2], the Cephes expf
 * coefficients), branch-free so loops over it vectorise. Inputs are clamped to [-70, 80], so no result and no
 * product downstream (p/l with l up to 1e7, x·σ(x), 1/(1+e)) is ever a denormal: a vectorised loop evaluates both
 * sides of every select, and one denormal lane costs a ~100-cycle microcode assist (it made SiLU 15x slower).
 * Every caller uses exp of a non-positive shifted score or σ(x) = 1/(1 + exp(-x)), where the clamp changes results
 * by less than 1e-30 absolute. */
static inline float hb_cpu_expf(float x) {
    x = x < -70.0f ? -70.0f : (x > 80.0f ? 80.0f : x);
    float t = x * 1.44269504088896341f;
    float n = (t + 12582912.0f) - 12582912.0f; /* round to nearest integer (1.5·2^23 trick) */
    n = n == n ? n : 0.0f; /* NaN input: keep the cast below defined; p is NaN, so NaN still comes out */
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, 4);
    return p * s;
}
static inline float hb_cpu_sigmoid(float x) { return 1.0f / (1.0f + hb_cpu_expf(-x)); }

/* cpu_simd.c: vector loops over n contiguous floats (see HB_CPU_CLONES) */
float hb_cpu_vmax(const float *x, int64_t n);                                /* n >= 1 */
double hb_cpu_vsum(const float *x, int64_t n);                               /* in double */
double hb_cpu_vexp_sum(float *y, const float *x, int64_t n, float shift);  /* y = exp(x − shift); Σ y (y may be x) */
void hb_cpu_vexp(float *y, const float *x, int64_t n, float shift);        /* y = exp(x − shift) */
void hb_cpu_vscale(float *y, int64_t n, float k);                          /* y *= k */
void hb_cpu_vsoftmax_grad(float *dp, const float *p, int64_t n, float di, float scale); /* dp = p·(dp − di)·scale */
void hb_cpu_vact(float *y, const float *x, int64_t n, hb_act act);         /* y = act(x) (y may be x) */
void hb_cpu_vdact(float *dx, const float *dy, const float *x, int64_t n, hb_act act, int acc); /* dx (+)= dy·act'(x) */
void hb_cpu_vswiglu(float *m, const float *a, const float *b, int64_t n);  /* m = silu(a)·b */
void hb_cpu_vswiglu_grad(float *da, float *db, const float *dm, const float *a, const float *b, int64_t n);

/* cpu_backend.c */
void hb_cpu_zero(hb_ops *o, T_ t);
void hb_cpu_fill(hb_ops *o, T_ t, float v);
void hb_cpu_copy(hb_ops *o, T_ dst, T_ src, int64_t n);
void hb_cpu_cast(hb_ops *o, T_ dst, T_ src, int64_t n);
void hb_cpu_add(hb_ops *o, T_ out, T_ a, T_ b, int64_t n);
void hb_cpu_axpy(hb_ops *o, T_ y, float alpha, T_ x, int64_t n);
void hb_cpu_scale(hb_ops *o, T_ x, float alpha, int64_t n);
void hb_cpu_sum_rows(hb_ops *o, T_ out, T_ in, int64_t rows, int64_t cols);
void hb_cpu_sum(hb_ops *o, T_ out, T_ in, int64_t n);
/* Σ x[i] (or Σ x[i]² when squares) in double, over fixed chunks summed in order: the same bits for any thread
 * count. */
double hb_cpu_sum_f(const hb_ops *o, const float *x, int64_t n, int squares);
/* out[c] += Σ_r in[r·ld + c] for c < cols, parallel over columns, rows summed in order (double accumulation). */
void hb_cpu_colsum(const hb_ops *o, float *out, const float *in, int64_t rows, int64_t cols, int64_t ld);

/* cpu_linear.c */
void hb_cpu_linear_fwd(hb_ops *o, T_ y, T_ x, T_ w, T_ b, int64_t rows, int64_t n_out, int64_t n_in, int acc);
void hb_cpu_linear_bwd_data(hb_ops *o, T_ d_x, T_ d_y, T_ w, int64_t rows, int64_t n_out, int64_t n_in, int acc);
void hb_cpu_linear_bwd_weight(hb_ops *o, T_ d_w, T_ d_b, T_ d_y, T_ x, int64_t rows, int64_t n_out, int64_t n_in);

/* cpu_act.c */
void hb_cpu_act_fwd(hb_ops *o, T_ y, T_ x, int64_t n, hb_act act);
void hb_cpu_act_bwd(hb_ops *o, T_ d_x, T_ d_y, T_ x, int64_t n, hb_act act, int acc);
void hb_cpu_swiglu_fwd(hb_ops *o, T_ m, T_ ab, int64_t rows, int64_t I);
void hb_cpu_swiglu_bwd(hb_ops *o, T_ d_ab, T_ d_m, T_ ab, int64_t rows, int64_t I);
/* scalar forms shared with the norms */
float hb_cpu_act1(float x, hb_act act);
float hb_cpu_dact1(float x, hb_act act);

/* cpu_norm.c */
void hb_cpu_layernorm_fwd(hb_ops *o, T_ y, T_ mean, T_ rstd, T_ x, T_ gamma, T_ beta, T_ residual, int64_t rows,
                          int64_t C, float eps, hb_act act);
void hb_cpu_residual_layernorm_fwd(hb_ops *o, T_ x_out, T_ y, T_ mean, T_ rstd, T_ x_in, T_ add, T_ gamma, T_ beta,
                                   int64_t rows, int64_t C, float eps);
void hb_cpu_layernorm_bwd(hb_ops *o, T_ d_x, T_ d_residual, T_ d_gamma, T_ d_beta, T_ d_y, T_ d_y_mean,
                          int64_t group_rows, T_ x, T_ mean, T_ rstd, T_ gamma, T_ beta, T_ residual, int64_t rows,
                          int64_t C, hb_act act, int acc);
void hb_cpu_rmsnorm_fwd(hb_ops *o, T_ y, T_ rstd, T_ x, T_ w, int64_t rows, int64_t C, float eps);
void hb_cpu_residual_rmsnorm_fwd(hb_ops *o, T_ x_out, T_ y, T_ rstd, T_ x_in, T_ add, T_ w, int64_t rows, int64_t C,
                                 float eps);
void hb_cpu_rmsnorm_bwd(hb_ops *o, T_ d_x, T_ d_w, T_ d_y, T_ x, T_ rstd, T_ w, int64_t rows, int64_t C, int acc);

/* cpu_attn.c */
int64_t hb_cpu_attn_workspace(hb_ops *o, int64_t B, int64_t T, int64_t H, int64_t D, int causal);
void hb_cpu_attn_fwd(hb_ops *o, T_ out, T_ lse, T_ qkv, T_ lens, int64_t B, int64_t T, int64_t H, int64_t D,
                     float scale, int causal);
void hb_cpu_attn_bwd(hb_ops *o, T_ d_qkv, T_ d_out, T_ out, T_ lse, T_ qkv, T_ lens, int64_t B, int64_t T, int64_t H,
                     int64_t D, float scale, int causal);
void hb_cpu_rope_fwd(hb_ops *o, T_ qkv, T_ positions, int64_t B, int64_t T, int64_t H, int64_t D, float theta);
void hb_cpu_rope_bwd(hb_ops *o, T_ d_qkv, T_ positions, int64_t B, int64_t T, int64_t H, int64_t D, float theta);

/* cpu_embed.c */
void hb_cpu_embed_fwd(hb_ops *o, T_ x, T_ table, T_ visual, T_ src, int64_t rows, int64_t C, int64_t V,
                      int64_t n_visual);
void hb_cpu_embed_bwd(hb_ops *o, T_ d_table, T_ d_visual, T_ d_x, T_ src, int64_t rows, int64_t C, int64_t V,
                      int64_t n_visual);
void hb_cpu_gather_rows(hb_ops *o, T_ out, T_ in, T_ idx, int64_t n, int64_t C, int64_t in_rows);
void hb_cpu_gather_rows_bwd(hb_ops *o, T_ d_in, T_ d_out, T_ idx, int64_t n, int64_t C, int64_t in_rows);
void hb_cpu_im2col_patches(hb_ops *o, T_ cols, T_ pixels, int64_t B, int64_t Cin, int64_t S, int64_t P);
void hb_cpu_im2col_patches_bwd(hb_ops *o, T_ d_pixels, T_ d_cols, int64_t B, int64_t Cin, int64_t S, int64_t P);
void hb_cpu_vit_embed_fwd(hb_ops *o, T_ x, T_ patches, T_ cls, T_ pos, int64_t B, int64_t N, int64_t C);
void hb_cpu_vit_embed_bwd(hb_ops *o, T_ d_patches, T_ d_cls, T_ d_pos, T_ d_x, int64_t B, int64_t N, int64_t C);
void hb_cpu_posemb_add_fwd(hb_ops *o, T_ out, T_ x, T_ pos, int64_t B, int64_t N, int64_t C, int64_t skip);
void hb_cpu_posemb_add_bwd(hb_ops *o, T_ d_x, T_ d_pos, T_ d_out, int64_t B, int64_t N, int64_t C, int64_t skip);

/* cpu_conv.c */
void hb_cpu_dwconv3x3_fwd(hb_ops *o, T_ y, T_ x, T_ w, int64_t B, int64_t H, int64_t W, int64_t C);
void hb_cpu_dwconv3x3_bwd(hb_ops *o, T_ d_x, T_ d_w, T_ d_y, T_ x, T_ w, int64_t B, int64_t H, int64_t W, int64_t C);
void hb_cpu_adaptive_avgpool_fwd(hb_ops *o, T_ y, T_ x, int64_t B, int64_t IH, int64_t IW, int64_t OH, int64_t OW,
                                 int64_t C);
void hb_cpu_adaptive_avgpool_bwd(hb_ops *o, T_ d_x, T_ d_y, int64_t B, int64_t IH, int64_t IW, int64_t OH,
                                 int64_t OW, int64_t C);
void hb_cpu_spatial_mean_fwd(hb_ops *o, T_ s, T_ x, int64_t B, int64_t HW, int64_t C);
void hb_cpu_spatial_mean_bwd(hb_ops *o, T_ d_x, T_ d_s, int64_t B, int64_t HW, int64_t C, int acc);
void hb_cpu_se_gate_fwd(hb_ops *o, T_ y, T_ x, T_ u, int64_t B, int64_t HW, int64_t C);
void hb_cpu_se_gate_bwd(hb_ops *o, T_ d_x, T_ d_u, T_ d_y, T_ x, T_ u, int64_t B, int64_t HW, int64_t C);

/* cpu_loss.c */
void hb_cpu_xent(hb_ops *o, T_ d_logits, T_ losses, T_ logits, T_ targets, int64_t rows, int64_t V, float scale);
void hb_cpu_grad_norm_sq(hb_ops *o, T_ const *grads, int n, double *sum_sq);
void hb_cpu_adamw(hb_ops *o, const hb_adamw_slot *slots, int n, const hb_adamw_hparams *hp);

#endif
