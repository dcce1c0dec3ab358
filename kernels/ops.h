/* kernels/ops.h — the backend interface the model calls. One header for every backend: the fp32 CPU reference
 * (kernels/cpu/, OpenBLAS + OpenMP) and the CUDA backend (kernels/cuda/, bf16) implement the same entry points, so
 * model/ is written once. docs/kernels.md describes layouts and conventions in prose; this header is the contract.
 *
 * Dependencies:
 *   core/core.h   hb_err (errors as values), hb_buf (memory report text)
 *
 * The model never dereferences activations or weights: memory lives in backend arenas, tensors are handles into
 * them, and data crosses between host and backend only through hb_ops_upload / hb_ops_download.
 *
 * Conventions (every op):
 *   - Sizes and counts are int64_t. Tensors are row-major; shapes are written [rows, cols] with the last dimension
 *     contiguous. A linear layer's weight keeps the HF layout [out, in] and computes y = x·Wᵀ + b.
 *   - Ops are asynchronous in principle (the CPU backend runs them synchronously). They return nothing: a bad
 *     argument (a tensor too small for the shape, a wrong dtype, an unprepared attention shape, an index out of
 *     range, ...) records a *sticky* error naming the op, the tensor and the shape, and every later op is skipped
 *     until hb_ops_reset_error. hb_ops_sync / hb_ops_download / hb_ops_grad_norm surface it as an hb_err.
 *   - A tensor may be larger than what an op uses: ops read and write the first elements of each tensor as the
 *     shape arguments say (activations are allocated for the largest micro-batch; a smaller one uses a prefix).
 *   - Outputs must not overlap inputs unless the op says so ("may alias").
 *   - Gradient convention: gradients of *parameters* (d_w, d_b, d_gamma, d_pos, d_table, ...) always accumulate
 *     (+=), so micro-batches sum into them; zero them with hb_ops_zero before the first micro-batch. Gradients of
 *     *activations* (d_x, d_qkv, ...) are overwritten (=), except where the op takes an `accumulate` flag: then 1
 *     means += (the residual stream, a tensor two branches feed) and 0 means =. A NULL gradient output is skipped
 *     (a frozen parameter, an input that needs no gradient), which also skips the work for it.
 *   - dtypes: F32 and BF16 tensors are both "float" tensors and are accepted wherever a float tensor is. The CPU
 *     backend stores BF16 tensors as f32: upload and hb_ops_cast round the values they store to bf16 (so they hold
 *     what a GPU would hold); compute ops write unrounded fp32 results. Statistics (mean, rstd, lse, losses) are
 *     always F32; indices and ids are I32.
 *   - Determinism: every CPU op gives bitwise-identical results for any thread count (no reductions whose order
 *     depends on scheduling). The deterministic option asks backends with faster non-deterministic paths (CUDA
 *     atomics) to avoid them; the CPU backend is always deterministic.
 */
#ifndef HB_OPS_H
#define HB_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---------------------------------------------------------------------------------------------------------------
 * Backend context
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct hb_ops hb_ops;
typedef struct hb_ops_arena hb_ops_arena;

typedef enum {
    HB_F32 = 0,
    HB_BF16 = 1,
    HB_F16 = 2, /* transfer type only (upload source / download target); no tensor has this dtype */
    HB_I32 = 3,
    HB_U8 = 4
} hb_dtype;

const char *hb_dtype_name(hb_dtype dt);         /* "f32", "bf16", "f16", "i32", "u8" */
size_t hb_dtype_host_size(hb_dtype dt);         /* bytes of one element in host (transfer) memory */

typedef struct {
    int threads;       /* CPU: OpenMP and OpenBLAS threads; 0 = HB_THREADS env, else OMP_NUM_THREADS, else all cores */
    int deterministic; /* 1: never use non-deterministic fast paths (CPU: always deterministic) */
    int debug_sync;    /* 1: synchronise and check after every op (CUDA; the CPU backend is always synchronous) */
    int device;        /* CUDA device index */
} hb_ops_opts;

/* Opens a backend: "cpu" (always available) or "cuda" (builds with HB_CUDA=1). opts may be NULL (defaults). */
hb_ops *hb_ops_open(const char *backend, const hb_ops_opts *opts, hb_err *err);
/* Frees the context and every arena it owns. NULL is fine. */
void hb_ops_close(hb_ops *o);
/* One line for logs: "cpu: fp32 reference, OpenBLAS 0.3.21 (pthread), 2 threads". */
const char *hb_ops_describe(const hb_ops *o);
const char *hb_ops_backend(const hb_ops *o); /* "cpu" or "cuda" */
int hb_ops_threads(const hb_ops *o);
/* Waits for queued work; returns 0, or the sticky error (kept until hb_ops_reset_error) filled into err. */
int hb_ops_sync(hb_ops *o, hb_err *err);
int hb_ops_failed(const hb_ops *o); /* 1 when a sticky error is set (no sync) */
void hb_ops_reset_error(hb_ops *o);

/* ---------------------------------------------------------------------------------------------------------------
 * Memory: arenas planned before the first step, tensors as handles into them
 *
 * Planning: create an arena with capacity 0, allocate every tensor the model needs (no memory is touched yet; the
 * handles are already final), then hb_ops_arena_commit reserves exactly the bytes used. Or pass a capacity up front
 * (sum of hb_ops_bytes) and allocation commits immediately. Committed memory is zero-filled. Allocation past the
 * capacity of a committed arena is an error: nothing is ever allocated in the step loop.
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    hb_ops_arena *arena; /* NULL: no tensor */
    int64_t byte_off;    /* offset of element 0 in the arena (backend bytes; opaque to the model) */
    int64_t n;           /* elements */
    hb_dtype dtype;
    const char *name; /* for error messages (owned by the arena) */
} hb_tensor;

/* Backend bytes one tensor of n elements takes in an arena, alignment padding included. */
int64_t hb_ops_bytes(const hb_ops *o, hb_dtype dt, int64_t n);
/* name labels the arena in errors and the memory report ("params", "grads", "acts", ...). */
hb_ops_arena *hb_ops_arena_new(hb_ops *o, const char *name, int64_t capacity_bytes, hb_err *err);
int hb_ops_arena_commit(hb_ops_arena *a, hb_err *err); /* planning arenas only; no-op when already committed */
int hb_ops_alloc(hb_ops_arena *a, hb_tensor *t, hb_dtype dt, int64_t n, const char *name, hb_err *err);
int64_t hb_ops_arena_used(const hb_ops_arena *a);     /* bytes handed out */
int64_t hb_ops_arena_capacity(const hb_ops_arena *a); /* 0 until committed */
/* Appends one line per arena ("params  1,234,567 bytes in 42 tensors") and the workspace to out. */
void hb_ops_memory_report(const hb_ops *o, hb_buf *out);

/* A view of elements [off, off+n) of t (same arena and dtype; no allocation). An out-of-range view records a sticky
 * error on t's context and returns a tensor with arena NULL, which every op rejects. */
hb_tensor hb_tensor_view(const hb_tensor *t, int64_t off, int64_t n);

/* Host <-> backend. upload converts src (F32, BF16, F16 into float tensors; I32 into I32; U8 into U8; little-endian,
 * any alignment) into elements [off, off+n) of t. download converts elements [off, off+n) of t into dst (float
 * tensors to F32, BF16 (round-to-nearest-even) or F16; I32 to I32; U8 to U8); it is a sync point and returns the
 * sticky error if any. */
void hb_ops_upload(hb_ops *o, const hb_tensor *t, int64_t off, const void *src, hb_dtype src_dtype, int64_t n);
int hb_ops_download(hb_ops *o, void *dst, hb_dtype dst_dtype, const hb_tensor *t, int64_t off, int64_t n,
                    hb_err *err);

/* ---------------------------------------------------------------------------------------------------------------
 * Elementwise utilities
 * ------------------------------------------------------------------------------------------------------------- */
void hb_ops_zero(hb_ops *o, const hb_tensor *t);                                  /* all t->n elements */
void hb_ops_fill(hb_ops *o, const hb_tensor *t, float value);                     /* float tensors */
void hb_ops_copy(hb_ops *o, const hb_tensor *dst, const hb_tensor *src, int64_t n); /* same dtype */
/* dst = src converted (f32 <-> bf16 with round-to-nearest-even; same-dtype copy otherwise). */
void hb_ops_cast(hb_ops *o, const hb_tensor *dst, const hb_tensor *src, int64_t n);
void hb_ops_add(hb_ops *o, const hb_tensor *out, const hb_tensor *a, const hb_tensor *b, int64_t n); /* may alias */
void hb_ops_axpy(hb_ops *o, const hb_tensor *y, float alpha, const hb_tensor *x, int64_t n); /* y += alpha·x */
void hb_ops_scale(hb_ops *o, const hb_tensor *x, float alpha, int64_t n);                  /* x *= alpha */
/* out[c] += Σ_r in[r, c] over in [rows, cols], summed in row order (bias gradients, Σ over the batch). */
void hb_ops_sum_rows(hb_ops *o, const hb_tensor *out, const hb_tensor *in, int64_t rows, int64_t cols);
/* out[0] = Σ in[0..n) (double accumulation, fixed order; out F32). */
void hb_ops_sum(hb_ops *o, const hb_tensor *out, const hb_tensor *in, int64_t n);

/* ---------------------------------------------------------------------------------------------------------------
 * Linear layers (GEMM): x [rows, n_in], w [n_out, n_in], b [n_out], y [rows, n_out]
 * ------------------------------------------------------------------------------------------------------------- */
/* y (= or +=) x·wᵀ + b. b may be NULL. */
void hb_ops_linear_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *x, const hb_tensor *w, const hb_tensor *b,
                       int64_t rows, int64_t n_out, int64_t n_in, int accumulate);
/* d_x (= or +=) d_y·w. */
void hb_ops_linear_bwd_data(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_y, const hb_tensor *w, int64_t rows,
                            int64_t n_out, int64_t n_in, int accumulate);
/* d_w += d_yᵀ·x; d_b += Σ_rows d_y. Either may be NULL. */
void hb_ops_linear_bwd_weight(hb_ops *o, const hb_tensor *d_w, const hb_tensor *d_b, const hb_tensor *d_y,
                              const hb_tensor *x, int64_t rows, int64_t n_out, int64_t n_in);

/* ---------------------------------------------------------------------------------------------------------------
 * Activations (elementwise over n elements)
 * ------------------------------------------------------------------------------------------------------------- */
typedef enum {
    HB_ACT_NONE = 0,
    HB_ACT_SILU,       /* x·σ(x)                      C-Abstractor, SE, readout */
    HB_ACT_QUICK_GELU, /* x·σ(1.702·x)                CLIP MLP */
    HB_ACT_RELU        /* max(x, 0)                   D-Abstractor FFN */
} hb_act;

const char *hb_act_name(hb_act a);
/* y = act(x). y may alias x (then no backward is possible). */
void hb_ops_act_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *x, int64_t n, hb_act act);
/* d_x (= or +=) d_y ⊙ act'(x), x the saved pre-activation. */
void hb_ops_act_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_y, const hb_tensor *x, int64_t n, hb_act act,
                    int accumulate);
/* SwiGLU over the fused gate/up GEMM output: ab [rows, 2I] = [a | b] per row (a = x·Wgateᵀ, b = x·Wupᵀ, from the
 * weight [Wgate; Wup] of shape [2I, C]); m [rows, I] = silu(a) ⊙ b. */
void hb_ops_swiglu_fwd(hb_ops *o, const hb_tensor *m, const hb_tensor *ab, int64_t rows, int64_t I);
/* d_ab [rows, 2I] = [d_m ⊙ b ⊙ silu'(a) | d_m ⊙ silu(a)] (=), so the gate/up backward stays one GEMM each. */
void hb_ops_swiglu_bwd(hb_ops *o, const hb_tensor *d_ab, const hb_tensor *d_m, const hb_tensor *ab, int64_t rows,
                       int64_t I);

/* ---------------------------------------------------------------------------------------------------------------
 * Normalisation over the last dimension C of [rows, C] (stats F32 [rows]; biased variance)
 * ------------------------------------------------------------------------------------------------------------- */
/* LayerNorm with an optional residual added after the affine part and an optional activation after that:
 *     z = (x − μ)·rstd·γ + β  (+ residual);   y = act(z)
 * act NONE, residual NULL: nn.LayerNorm (CLIP pre/LN1/LN2). act SILU: timm LayerNormAct2d (C-Abstractor conv1/conv2
 * norms; channel-last activations [B·H·W, C] make "LayerNorm2d over channels" this row LayerNorm). act SILU with
 * residual: the Bottleneck's conv3 norm + shortcut + act3 (SiLU after the add). mean/rstd may be NULL (no backward
 * will follow). rstd = 1/sqrt(var + eps). y may alias x only when mean/rstd are NULL. */
void hb_ops_layernorm_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *mean, const hb_tensor *rstd,
                          const hb_tensor *x, const hb_tensor *gamma, const hb_tensor *beta, const hb_tensor *residual,
                          int64_t rows, int64_t C, float eps, hb_act act);
/* Fused residual add + LayerNorm (pre-norm transformer stream): x_out = x_in + add; y = LayerNorm(x_out).
 * x_out may alias x_in. mean/rstd may be NULL. */
void hb_ops_residual_layernorm_fwd(hb_ops *o, const hb_tensor *x_out, const hb_tensor *y, const hb_tensor *mean,
                                   const hb_tensor *rstd, const hb_tensor *x_in, const hb_tensor *add,
                                   const hb_tensor *gamma, const hb_tensor *beta, int64_t rows, int64_t C, float eps);
/* Backward of hb_ops_layernorm_fwd. Inputs: d_y, the forward's x, mean, rstd, gamma (and beta, residual when act is
 * not NONE: z is recomputed, nothing else is saved). Optional d_y_mean [rows / group_rows, C]: the gradient of a
 * per-group mean of y (the SE squeeze: group = one image's H·W pixels); d_y_mean[g, c] / group_rows is added to
 * d_y for every row of group g, so the broadcast is never materialised (group_rows ignored when d_y_mean is NULL).
 * Outputs: d_x and d_residual (= dz) with the accumulate flag (either may be NULL), d_gamma and d_beta (+=, may be
 * NULL). */
void hb_ops_layernorm_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_residual, const hb_tensor *d_gamma,
                          const hb_tensor *d_beta, const hb_tensor *d_y, const hb_tensor *d_y_mean, int64_t group_rows,
                          const hb_tensor *x, const hb_tensor *mean, const hb_tensor *rstd, const hb_tensor *gamma,
                          const hb_tensor *beta, const hb_tensor *residual, int64_t rows, int64_t C, hb_act act,
                          int accumulate);
/* RMSNorm (LLaMA): y = x·rstd ⊙ w, rstd = 1/sqrt(mean(x²) + eps). rstd may be NULL. */
void hb_ops_rmsnorm_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *rstd, const hb_tensor *x, const hb_tensor *w,
                        int64_t rows, int64_t C, float eps);
/* Fused residual add + RMSNorm: x_out = x_in + add; y = RMSNorm(x_out). x_out may alias x_in. */
void hb_ops_residual_rmsnorm_fwd(hb_ops *o, const hb_tensor *x_out, const hb_tensor *y, const hb_tensor *rstd,
                                 const hb_tensor *x_in, const hb_tensor *add, const hb_tensor *w, int64_t rows,
                                 int64_t C, float eps);
/* d_x (= or +=) RMSNorm'ᵀ·d_y; d_w += Σ_rows d_y ⊙ x·rstd (may be NULL). x is the forward's input. */
void hb_ops_rmsnorm_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_w, const hb_tensor *d_y,
                        const hb_tensor *x, const hb_tensor *rstd, const hb_tensor *w, int64_t rows, int64_t C,
                        int accumulate);

/* ---------------------------------------------------------------------------------------------------------------
 * Attention over an interleaved QKV buffer
 *   qkv [B, T, 3, H, D] (each row: q heads, then k heads, then v heads: the output of one GEMM over [Wq; Wk; Wv]),
 *   out [B, T, H·D], lse F32 [B, H, T] (natural-log log-sum-exp of the scaled, masked scores of each query row).
 *   scale multiplies q·kᵀ (1/sqrt(D) for LLaMA; CLIP's q-scaling is the same scale). causal: key j ≤ query i.
 *   lens: optional I32 [B] per-sequence lengths (right padding): keys j ≥ lens[b] are masked; query rows i ≥ lens[b]
 *   get out = 0, lse = 0 and zero gradients. NULL = every sequence has length T.
 * ------------------------------------------------------------------------------------------------------------- */
/* Reserves what attention needs for shapes up to (max_B, max_T) with H heads of D (workspace, plans): call once
 * per attention family at planning time. Calls with a larger shape, or an unprepared (H, D, causal), fail. */
int hb_ops_attn_prepare(hb_ops *o, int64_t max_B, int64_t max_T, int64_t H, int64_t D, int causal, hb_err *err);
void hb_ops_attn_fwd(hb_ops *o, const hb_tensor *out, const hb_tensor *lse, const hb_tensor *qkv,
                     const hb_tensor *lens, int64_t B, int64_t T, int64_t H, int64_t D, float scale, int causal);
/* d_qkv [B, T, 3, H, D] (=) from (qkv, out, lse, d_out): P is recomputed from the saved lse. */
void hb_ops_attn_bwd(hb_ops *o, const hb_tensor *d_qkv, const hb_tensor *d_out, const hb_tensor *out,
                     const hb_tensor *lse, const hb_tensor *qkv, const hb_tensor *lens, int64_t B, int64_t T,
                     int64_t H, int64_t D, float scale, int causal);

/* RoPE, HF rotate-half convention (dimension j pairs with j + D/2), in place on the q and k parts of a
 * qkv [B, T, 3, H, D] buffer (v untouched). inv_freq[i] = 1/theta^(2i/D) and the angles pos·inv_freq are computed in
 * fp32 as HF does; pos = positions[b, t] (I32 [B, T]) or t when positions is NULL. */
void hb_ops_rope_fwd(hb_ops *o, const hb_tensor *qkv, const hb_tensor *positions, int64_t B, int64_t T, int64_t H,
                     int64_t D, float theta);
/* The inverse rotation, in place on the dq and dk parts of d_qkv (the backward of hb_ops_rope_fwd). */
void hb_ops_rope_bwd(hb_ops *o, const hb_tensor *d_qkv, const hb_tensor *positions, int64_t B, int64_t T, int64_t H,
                     int64_t D, float theta);

/* ---------------------------------------------------------------------------------------------------------------
 * Embeddings, positions, the visual splice, row gather
 * ------------------------------------------------------------------------------------------------------------- */
/* x [rows, C]: row r = table[src[r]] when src[r] >= 0, visual[-1 - src[r]] when src[r] < 0. src I32 [rows] is the
 * host-built source map (an image's placeholder run maps to consecutive visual rows, images in order); table [V, C];
 * visual [n_visual, C] (may be NULL when no src is negative). Out-of-range sources are errors. */
void hb_ops_embed_fwd(hb_ops *o, const hb_tensor *x, const hb_tensor *table, const hb_tensor *visual,
                      const hb_tensor *src, int64_t rows, int64_t C, int64_t V, int64_t n_visual);
/* d_table [V, C] += Σ of the d_x rows that read each table row (deterministic: fixed row order); placeholder rows
 * send nothing to the table. d_visual [n_visual, C] = the d_x row that read each visual row (0 for unread rows).
 * Either output may be NULL. */
void hb_ops_embed_bwd(hb_ops *o, const hb_tensor *d_table, const hb_tensor *d_visual, const hb_tensor *d_x,
                      const hb_tensor *src, int64_t rows, int64_t C, int64_t V, int64_t n_visual);
/* out [n, C] = in[idx[i]] for in [in_rows, C], idx I32 [n] (e.g. the supervised rows before the LM head). */
void hb_ops_gather_rows(hb_ops *o, const hb_tensor *out, const hb_tensor *in, const hb_tensor *idx, int64_t n,
                        int64_t C, int64_t in_rows);
/* d_in [in_rows, C] += d_out[i] at row idx[i] (repeated indices sum in i order). */
void hb_ops_gather_rows_bwd(hb_ops *o, const hb_tensor *d_in, const hb_tensor *d_out, const hb_tensor *idx, int64_t n,
                            int64_t C, int64_t in_rows);

/* CLIP patchify: pixels F32 [B, Cin, S, S] (normalised) -> cols [B·N, Cin·P·P], N = (S/P)², patch n = py·(S/P) + px
 * (row-major), column (c, ky, kx) = c·P·P + ky·P + kx: the flattening of a Conv2d weight [Cout, Cin, P, P], so the
 * patch embedding is hb_ops_linear_fwd(cols, weight viewed as [Cout, Cin·P·P]). S must be a multiple of P. */
void hb_ops_im2col_patches(hb_ops *o, const hb_tensor *cols, const hb_tensor *pixels, int64_t B, int64_t Cin,
                           int64_t S, int64_t P);
/* d_pixels (=) from d_cols (patches do not overlap, so this is the inverse permutation). */
void hb_ops_im2col_patches_bwd(hb_ops *o, const hb_tensor *d_pixels, const hb_tensor *d_cols, int64_t B, int64_t Cin,
                               int64_t S, int64_t P);
/* CLIP embeddings: x [B, 1+N, C] = concat(cls [C], patches [B·N, C] of image b) + pos [1+N, C]. */
void hb_ops_vit_embed_fwd(hb_ops *o, const hb_tensor *x, const hb_tensor *patches, const hb_tensor *cls,
                          const hb_tensor *pos, int64_t B, int64_t N, int64_t C);
/* d_patches (=), d_cls (+=), d_pos (+=); each may be NULL. */
void hb_ops_vit_embed_bwd(hb_ops *o, const hb_tensor *d_patches, const hb_tensor *d_cls, const hb_tensor *d_pos,
                          const hb_tensor *d_x, int64_t B, int64_t N, int64_t C);
/* Projector input: out [B, N, C] = x[b, skip + n] + pos [N, C] for x [B, skip + N, C] (skip = 1 drops CLIP's CLS). */
void hb_ops_posemb_add_fwd(hb_ops *o, const hb_tensor *out, const hb_tensor *x, const hb_tensor *pos, int64_t B,
                           int64_t N, int64_t C, int64_t skip);
/* d_pos += Σ_b d_out[b]; d_x (=) d_out at rows skip.., 0 at the skipped rows. Either may be NULL. */
void hb_ops_posemb_add_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_pos, const hb_tensor *d_out, int64_t B,
                           int64_t N, int64_t C, int64_t skip);

/* ---------------------------------------------------------------------------------------------------------------
 * Convolutional projector (C-Abstractor), channel-last: x [B, H, W, C] (= [B, H·W, C] tokens, row-major grid)
 * ------------------------------------------------------------------------------------------------------------- */
/* Depthwise 3×3, stride 1, zero padding 1, no bias: y[b,i,j,c] = Σ_{a,e∈0..2} w[c, a·3+e] · x[b, i+a-1, j+e-1, c].
 * w [C, 9] is the PyTorch weight [C, 1, 3, 3]. */
void hb_ops_dwconv3x3_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *x, const hb_tensor *w, int64_t B, int64_t H,
                          int64_t W, int64_t C);
/* d_x (=, may be NULL), d_w (+=, may be NULL). */
void hb_ops_dwconv3x3_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_w, const hb_tensor *d_y,
                          const hb_tensor *x, const hb_tensor *w, int64_t B, int64_t H, int64_t W, int64_t C);
/* nn.AdaptiveAvgPool2d((OH, OW)) on [B, IH, IW, C] -> [B, OH, OW, C]. Output cell i along an axis of length n -> m
 * averages input rows [floor(i·n/m), ceil((i+1)·n/m)); windows may overlap (16->12, 24->16). */
void hb_ops_adaptive_avgpool_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *x, int64_t B, int64_t IH, int64_t IW,
                                 int64_t OH, int64_t OW, int64_t C);
/* d_x (=): each input cell gathers d_y/area from every window containing it (no scatter). */
void hb_ops_adaptive_avgpool_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_y, int64_t B, int64_t IH,
                                 int64_t IW, int64_t OH, int64_t OW, int64_t C);
/* SE squeeze: s [B, C] = mean over the HW rows of x [B, HW, C]. */
void hb_ops_spatial_mean_fwd(hb_ops *o, const hb_tensor *s, const hb_tensor *x, int64_t B, int64_t HW, int64_t C);
/* d_x (= or +=) d_s[b, c] / HW broadcast over the HW rows (or fuse it: hb_ops_layernorm_bwd's d_y_mean). */
void hb_ops_spatial_mean_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_s, int64_t B, int64_t HW, int64_t C,
                             int accumulate);
/* SE excite: y [B, HW, C] = x ⊙ σ(u[b, c]), u [B, C] the pre-sigmoid output of the SE MLP. */
void hb_ops_se_gate_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *x, const hb_tensor *u, int64_t B, int64_t HW,
                        int64_t C);
/* One pass over d_y and x: d_x (=) d_y ⊙ σ(u); d_u [B, C] (=) σ'(u) · Σ_hw d_y ⊙ x. Either may be NULL. */
void hb_ops_se_gate_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_u, const hb_tensor *d_y,
                        const hb_tensor *x, const hb_tensor *u, int64_t B, int64_t HW, int64_t C);

/* ---------------------------------------------------------------------------------------------------------------
 * Loss
 * ------------------------------------------------------------------------------------------------------------- */
/* Cross-entropy per row of logits [rows, V] against targets I32 [rows] (negative = ignored, HF's -100; the caller
 * does HF's shift: target of position t is labels[t+1]). losses F32 [rows] = logsumexp(z) − z[target], 0 when
 * ignored. */
void hb_ops_xent_fwd(hb_ops *o, const hb_tensor *losses, const hb_tensor *logits, const hb_tensor *targets,
                     int64_t rows, int64_t V);
/* The same, plus d_logits (=) scale·(softmax(z) − onehot(target)) and zero rows where ignored, in one pass.
 * d_logits may alias logits (the logits are then overwritten). For HF's token mean, scale = 1/(number of supervised
 * rows in the micro-batch × accumulation steps). */
void hb_ops_xent_fwd_bwd(hb_ops *o, const hb_tensor *d_logits, const hb_tensor *losses, const hb_tensor *logits,
                         const hb_tensor *targets, int64_t rows, int64_t V, float scale);

/* ---------------------------------------------------------------------------------------------------------------
 * Optimizer
 * ------------------------------------------------------------------------------------------------------------- */
/* sqrt(Σ over the tensors of Σ g²), double accumulation in a fixed order; NaN/Inf when any gradient is non-finite.
 * A sync point: returns the sticky error if any. */
int hb_ops_grad_norm(hb_ops *o, const hb_tensor *const *grads, int n_grads, double *norm, hb_err *err);

typedef struct {
    const hb_tensor *param;  /* the weights the model computes with */
    const hb_tensor *grad;   /* same n */
    const hb_tensor *m, *v;  /* F32 moments, same n, zero at step 1 */
    const hb_tensor *master; /* optional F32 master copy (CUDA bf16 params); NULL on the CPU */
    int decay;               /* 1: apply weight decay (0 for biases and norm weights) */
} hb_adamw_slot;

typedef struct {
    double lr, beta1, beta2, eps, weight_decay; /* doubles, like PyTorch's Python floats (0.9 is not 0.9f) */
    float grad_scale; /* g = grad · grad_scale first (clip coefficient; 1 when unused) */
    int64_t step;     /* 1-based step, for the bias corrections */
} hb_adamw_hparams;

/* PyTorch AdamW (decoupled weight decay), per element in fp32 as torch.optim.AdamW's single-tensor (CPU) path does,
 * with its scalars formed in double and rounded to f32 where PyTorch does:
 *   p *= 1 − lr·wd (decay slots);  m += (1−β1)(g − m);  v = β2·v + (1−β2)·g·g;
 *   p += (−lr/(1−β1^t))·m / (sqrt(v)/sqrt(1−β2^t) + eps).
 * With a master copy, the update applies to master and param receives it rounded to the param's dtype. */
void hb_ops_adamw(hb_ops *o, const hb_adamw_slot *slots, int n_slots, const hb_adamw_hparams *hp);

#endif
