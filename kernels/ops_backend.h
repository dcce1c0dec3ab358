/* kernels/ops_backend.h — what a backend implements behind kernels/ops.h (internal: only kernels/ includes it).
 *
 * kernels/ops.c is the front door: it checks every call (tensor committed, dtype, size against the shape, index
 * ranges that can be checked on the host), records sticky errors with the op name and shape, and only then calls the
 * backend through the vtable below. A backend therefore receives validated arguments and only does the math. The
 * vtable mirrors ops.h one to one (same names without the hb_ops_ prefix, same argument order).
 *
 * Dependencies:
 *   kernels/ops.h   the public types
 *   core/core.h     hb_err, hb_arena (host-side names)
 */
#ifndef HB_OPS_BACKEND_H
#define HB_OPS_BACKEND_H

#include "kernels/ops.h"

typedef const hb_tensor *T_;

typedef struct hb_ops_vtable {
    const char *name;
    /* lifetime and memory */
    void (*close)(hb_ops *o);
    int64_t (*elem_size)(hb_dtype dt); /* backend bytes per element */
    int (*mem_alloc)(hb_ops *o, hb_ops_arena *a, int64_t bytes, hb_err *err); /* sets a->base, zero-filled */
    void (*mem_free)(hb_ops *o, hb_ops_arena *a);
    int (*workspace_reserve)(hb_ops *o, int64_t bytes, hb_err *err);
    int64_t (*attn_workspace)(hb_ops *o, int64_t B, int64_t T, int64_t H, int64_t D, int causal);
    int (*sync)(hb_ops *o);
    void (*upload)(hb_ops *o, T_ t, int64_t off, const void *src, hb_dtype src_dtype, int64_t n);
    void (*download)(hb_ops *o, void *dst, hb_dtype dst_dtype, T_ t, int64_t off, int64_t n);
    /* elementwise */
    void (*zero)(hb_ops *o, T_ t);
    void (*fill)(hb_ops *o, T_ t, float v);
    void (*copy)(hb_ops *o, T_ dst, T_ src, int64_t n);
    void (*cast)(hb_ops *o, T_ dst, T_ src, int64_t n);
    void (*add)(hb_ops *o, T_ out, T_ a, T_ b, int64_t n);
    void (*axpy)(hb_ops *o, T_ y, float alpha, T_ x, int64_t n);
    void (*scale)(hb_ops *o, T_ x, float alpha, int64_t n);
    void (*sum_rows)(hb_ops *o, T_ out, T_ in, int64_t rows, int64_t cols);
    void (*sum)(hb_ops *o, T_ out, T_ in, int64_t n);
    /* linear */
    void (*linear_fwd)(hb_ops *o, T_ y, T_ x, T_ w, T_ b, int64_t rows, int64_t n_out, int64_t n_in, int acc);
    void (*linear_bwd_data)(hb_ops *o, T_ d_x, T_ d_y, T_ w, int64_t rows, int64_t n_out, int64_t n_in, int acc);
    void (*linear_bwd_weight)(hb_ops *o, T_ d_w, T_ d_b, T_ d_y, T_ x, int64_t rows, int64_t n_out, int64_t n_in);
    /* activations */
    void (*act_fwd)(hb_ops *o, T_ y, T_ x, int64_t n, hb_act act);
    void (*act_bwd)(hb_ops *o, T_ d_x, T_ d_y, T_ x, int64_t n, hb_act act, int acc);
    void (*swiglu_fwd)(hb_ops *o, T_ m, T_ ab, int64_t rows, int64_t I);
    void (*swiglu_bwd)(hb_ops *o, T_ d_ab, T_ d_m, T_ ab, int64_t rows, int64_t I);
    /* norms */
    void (*layernorm_fwd)(hb_ops *o, T_ y, T_ mean, T_ rstd, T_ x, T_ gamma, T_ beta, T_ residual, int64_t rows,
                          int64_t C, float eps, hb_act act);
    void (*residual_layernorm_fwd)(hb_ops *o, T_ x_out, T_ y, T_ mean, T_ rstd, T_ x_in, T_ add, T_ gamma, T_ beta,
                                   int64_t rows, int64_t C, float eps);
    void (*layernorm_bwd)(hb_ops *o, T_ d_x, T_ d_residual, T_ d_gamma, T_ d_beta, T_ d_y, T_ d_y_mean,
                          int64_t group_rows, T_ x, T_ mean, T_ rstd, T_ gamma, T_ beta, T_ residual, int64_t rows,
                          int64_t C, hb_act act, int acc);
    void (*rmsnorm_fwd)(hb_ops *o, T_ y, T_ rstd, T_ x, T_ w, int64_t rows, int64_t C, float eps);
    void (*residual_rmsnorm_fwd)(hb_ops *o, T_ x_out, T_ y, T_ rstd, T_ x_in, T_ add, T_ w, int64_t rows, int64_t C,
                                 float eps);
    void (*rmsnorm_bwd)(hb_ops *o, T_ d_x, T_ d_w, T_ d_y, T_ x, T_ rstd, T_ w, int64_t rows, int64_t C, int acc);
    /* attention */
    void (*attn_fwd)(hb_ops *o, T_ out, T_ lse, T_ qkv, T_ lens, int64_t B, int64_t T, int64_t H, int64_t D,
                     float scale, int causal);
    void (*attn_bwd)(hb_ops *o, T_ d_qkv, T_ d_out, T_ out, T_ lse, T_ qkv, T_ lens, int64_t B, int64_t T, int64_t H,
                     int64_t D, float scale, int causal);
    void (*rope_fwd)(hb_ops *o, T_ qkv, T_ positions, int64_t B, int64_t T, int64_t H, int64_t D, float theta);
    void (*rope_bwd)(hb_ops *o, T_ d_qkv, T_ positions, int64_t B, int64_t T, int64_t H, int64_t D, float theta);
    /* embeddings */
    void (*embed_fwd)(hb_ops *o, T_ x, T_ table, T_ visual, T_ src, int64_t rows, int64_t C, int64_t V,
                      int64_t n_visual);
    void (*embed_bwd)(hb_ops *o, T_ d_table, T_ d_visual, T_ d_x, T_ src, int64_t rows, int64_t C, int64_t V,
                      int64_t n_visual);
    void (*gather_rows)(hb_ops *o, T_ out, T_ in, T_ idx, int64_t n, int64_t C, int64_t in_rows);
    void (*gather_rows_bwd)(hb_ops *o, T_ d_in, T_ d_out, T_ idx, int64_t n, int64_t C, int64_t in_rows);
    void (*im2col_patches)(hb_ops *o, T_ cols, T_ pixels, int64_t B, int64_t Cin, int64_t S, int64_t P);
    void (*im2col_patches_bwd)(hb_ops *o, T_ d_pixels, T_ d_cols, int64_t B, int64_t Cin, int64_t S, int64_t P);
    void (*vit_embed_fwd)(hb_ops *o, T_ x, T_ patches, T_ cls, T_ pos, int64_t B, int64_t N, int64_t C);
    void (*vit_embed_bwd)(hb_ops *o, T_ d_patches, T_ d_cls, T_ d_pos, T_ d_x, int64_t B, int64_t N, int64_t C);
    void (*posemb_add_fwd)(hb_ops *o, T_ out, T_ x, T_ pos, int64_t B, int64_t N, int64_t C, int64_t skip);
    void (*posemb_add_bwd)(hb_ops *o, T_ d_x, T_ d_pos, T_ d_out, int64_t B, int64_t N, int64_t C, int64_t skip);
    /* convolutional projector */
    void (*dwconv3x3_fwd)(hb_ops *o, T_ y, T_ x, T_ w, int64_t B, int64_t H, int64_t W, int64_t C);
    void (*dwconv3x3_bwd)(hb_ops *o, T_ d_x, T_ d_w, T_ d_y, T_ x, T_ w, int64_t B, int64_t H, int64_t W, int64_t C);
    void (*adaptive_avgpool_fwd)(hb_ops *o, T_ y, T_ x, int64_t B, int64_t IH, int64_t IW, int64_t OH, int64_t OW,
                                 int64_t C);
    void (*adaptive_avgpool_bwd)(hb_ops *o, T_ d_x, T_ d_y, int64_t B, int64_t IH, int64_t IW, int64_t OH, int64_t OW,
                                 int64_t C);
    void (*spatial_mean_fwd)(hb_ops *o, T_ s, T_ x, int64_t B, int64_t HW, int64_t C);
    void (*spatial_mean_bwd)(hb_ops *o, T_ d_x, T_ d_s, int64_t B, int64_t HW, int64_t C, int acc);
    void (*se_gate_fwd)(hb_ops *o, T_ y, T_ x, T_ u, int64_t B, int64_t HW, int64_t C);
    void (*se_gate_bwd)(hb_ops *o, T_ d_x, T_ d_u, T_ d_y, T_ x, T_ u, int64_t B, int64_t HW, int64_t C);
    /* loss and optimizer */
    void (*xent)(hb_ops *o, T_ d_logits /* NULL: forward only */, T_ losses, T_ logits, T_ targets, int64_t rows,
                 int64_t V, float scale);
    void (*grad_norm_sq)(hb_ops *o, T_ const *grads, int n, double *sum_sq);
    void (*adamw)(hb_ops *o, const hb_adamw_slot *slots, int n, const hb_adamw_hparams *hp);
} hb_ops_vtable;

/* One family prepared for attention (hb_ops_attn_prepare). */
typedef struct {
    int64_t max_B, max_T, H, D;
    int causal;
} hb_attn_family;

#define HB_OPS_MAX_ATTN 8

struct hb_ops {
    const hb_ops_vtable *vt;
    void *impl; /* backend state */
    hb_ops_opts opts;
    int threads;
    char describe[256];
    /* sticky error */
    int failed;
    hb_err err;
    /* arenas (linked list, newest first) and the backend-owned workspace */
    hb_ops_arena *arenas;
    int64_t workspace_bytes;
    hb_attn_family attn[HB_OPS_MAX_ATTN];
    int n_attn;
};

struct hb_ops_arena {
    hb_ops *ops;
    hb_ops_arena *next;
    char *name;
    void *base;       /* backend memory; NULL until committed */
    int64_t capacity; /* bytes reserved (0 while planning) */
    int64_t used;     /* bytes handed out */
    int64_t n_tensors;
    hb_arena names; /* host copies of tensor names */
};

/* The CPU backend (kernels/cpu/cpu_backend.c). */
int hb_cpu_open(hb_ops *o, hb_err *err);
#ifdef HB_CUDA
int hb_cuda_open(hb_ops *o, hb_err *err);
#endif

/* Unlinks and frees one arena (hb_ops_close frees them all). */
void hb_ops_arena_free_(hb_ops_arena *a);

/* Record a sticky error on o (keeps the first one). Returns HB_EINVAL. */
int hb_ops_fail(hb_ops *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Backend pointer of element 0 of t. */
static inline void *hb_tensor_ptr(const hb_tensor *t) { return (char *)t->arena->base + t->byte_off; }

#endif
