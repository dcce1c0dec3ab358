/* kernels/cpu/cpu_backend.c — the fp32 CPU reference backend: opening (threads for OpenMP and OpenBLAS), memory,
 * host transfers with dtype conversion, the elementwise utilities and the deterministic sums, and the vtable that
 * points at the kernels in the other kernels/cpu/ files.
 *
 * Gradient convention: sum_rows accumulates (+=); everything else here overwrites its output.
 *
 * Dependencies:
 *   kernels/cpu/cpu.h   accessors, kernel prototypes, hb_cpu_state
 *   <cblas.h>           openblas_set_num_threads, openblas_get_num_threads, openblas_get_config/parallel
 *   <omp.h>             omp_get_max_threads
 */
#include "kernels/cpu/cpu.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the CPU backend assumes a little-endian host (safetensors data is little-endian)"
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * Memory and transfers
 * ------------------------------------------------------------------------------------------------------------- */
static int64_t cpu_elem_size(hb_dtype dt) { return dt == HB_U8 ? 1 : 4; }

static int cpu_mem_alloc(hb_ops *o, hb_ops_arena *a, int64_t bytes, hb_err *err) {
    (void)o;
    void *p = NULL;
    if (posix_memalign(&p, 256, (size_t)bytes) != 0 || !p)
        return hb_err_set(err, HB_ENOMEM, NULL, HB_NOPOS, HB_NOPOS, "cannot allocate %lld bytes of host memory",
                          (long long)bytes);
    memset(p, 0, (size_t)bytes);
    a->base = p;
    return 0;
}

static void cpu_mem_free(hb_ops *o, hb_ops_arena *a) {
    (void)o;
    free(a->base);
    a->base = NULL;
}

static int cpu_workspace_reserve(hb_ops *o, int64_t bytes, hb_err *err) {
    hb_cpu_state *s = o->impl;
    if (bytes <= s->ws_bytes) return 0;
    void *p = NULL;
    if (posix_memalign(&p, 256, (size_t)bytes) != 0 || !p)
        return hb_err_set(err, HB_ENOMEM, NULL, HB_NOPOS, HB_NOPOS, "cannot allocate a %lld-byte workspace",
                          (long long)bytes);
    free(s->ws);
    s->ws = p;
    s->ws_bytes = bytes;
    return 0;
}

static int cpu_sync(hb_ops *o) {
    (void)o;
    return 0;
}

static float load_float(const uint8_t *p, hb_dtype dt) {
    uint16_t h;
    float f;
    switch (dt) {
    case HB_BF16: memcpy(&h, p, 2); return hb_bf16_to_f32(h);
    case HB_F16: memcpy(&h, p, 2); return hb_f16_to_f32(h);
    default: memcpy(&f, p, 4); return f;
    }
}

static void cpu_upload(hb_ops *o, T_ t, int64_t off, const void *src, hb_dtype sdt, int64_t n) {
    const uint8_t *s = src;
    if (t->dtype == HB_I32 || t->dtype == HB_U8) {
        memcpy((uint8_t *)hb_tensor_ptr(t) + off * cpu_elem_size(t->dtype), s, (size_t)(n * cpu_elem_size(t->dtype)));
        return;
    }
    float *d = F(t) + off;
    size_t es = hb_dtype_host_size(sdt);
    int round = t->dtype == HB_BF16 && sdt != HB_BF16;
    if (sdt == HB_F32 && !round) {
        memcpy(d, s, (size_t)n * 4);
        return;
    }
#pragma omp parallel for num_threads(hb_cpu_nt(o, n)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float v = load_float(s + (size_t)i * es, sdt);
        d[i] = round ? hb_round_bf16(v) : v;
    }
}

static void cpu_download(hb_ops *o, void *dst, hb_dtype ddt, T_ t, int64_t off, int64_t n) {
    uint8_t *d = dst;
    if (t->dtype == HB_I32 || t->dtype == HB_U8 || ddt == HB_F32) {
        memcpy(d, (const uint8_t *)hb_tensor_ptr(t) + off * cpu_elem_size(t->dtype),
               (size_t)(n * cpu_elem_size(t->dtype)));
        return;
    }
    const float *s = F(t) + off;
#pragma omp parallel for num_threads(hb_cpu_nt(o, n)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = ddt == HB_BF16 ? hb_f32_to_bf16(s[i]) : hb_f32_to_f16(s[i]);
        memcpy(d + (size_t)i * 2, &h, 2);
    }
}

/* ---------------------------------------------------------------------------------------------------------------
 * Elementwise utilities
 * ------------------------------------------------------------------------------------------------------------- */
void hb_cpu_zero(hb_ops *o, T_ t) {
    (void)o;
    memset(hb_tensor_ptr(t), 0, (size_t)(t->n * cpu_elem_size(t->dtype)));
}

void hb_cpu_fill(hb_ops *o, T_ t, float v) {
    float *x = F(t);
    int64_t n = t->n;
#pragma omp parallel for num_threads(hb_cpu_nt(o, n)) schedule(static)
    for (int64_t i = 0; i < n; i++) x[i] = v;
}

void hb_cpu_copy(hb_ops *o, T_ dst, T_ src, int64_t n) {
    (void)o;
    memcpy(hb_tensor_ptr(dst), hb_tensor_ptr(src), (size_t)(n * cpu_elem_size(dst->dtype)));
}

void hb_cpu_cast(hb_ops *o, T_ dst, T_ src, int64_t n) {
    float *d = F(dst);
    const float *s = F(src);
    if (dst->dtype != HB_BF16) {
        memcpy(d, s, (size_t)n * 4);
        return;
    }
#pragma omp parallel for num_threads(hb_cpu_nt(o, n)) schedule(static)
    for (int64_t i = 0; i < n; i++) d[i] = hb_round_bf16(s[i]);
}

void hb_cpu_add(hb_ops *o, T_ out, T_ a, T_ b, int64_t n) {
    float *y = F(out);
    const float *p = F(a), *q = F(b);
#pragma omp parallel for simd num_threads(hb_cpu_nt(o, n)) schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = p[i] + q[i];
}

void hb_cpu_axpy(hb_ops *o, T_ y, float alpha, T_ x, int64_t n) {
    float *py = F(y);
    const float *px = F(x);
#pragma omp parallel for simd num_threads(hb_cpu_nt(o, n)) schedule(static)
    for (int64_t i = 0; i < n; i++) py[i] += alpha * px[i];
}

void hb_cpu_scale(hb_ops *o, T_ x, float alpha, int64_t n) {
    float *p = F(x);
#pragma omp parallel for simd num_threads(hb_cpu_nt(o, n)) schedule(static)
    for (int64_t i = 0; i < n; i++) p[i] *= alpha;
}

#define COLBLOCK 256

void hb_cpu_colsum(const hb_ops *o, float *out, const float *in, int64_t rows, int64_t cols, int64_t ld) {
    int64_t nb = (cols + COLBLOCK - 1) / COLBLOCK;
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * cols)) schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        double acc[COLBLOCK];
        int64_t c0 = b * COLBLOCK, w = cols - c0 < COLBLOCK ? cols - c0 : COLBLOCK;
        for (int64_t j = 0; j < w; j++) acc[j] = 0;
        for (int64_t r = 0; r < rows; r++) {
            const float *row = in + r * ld + c0;
#pragma omp simd
            for (int64_t j = 0; j < w; j++) acc[j] += row[j];
        }
        for (int64_t j = 0; j < w; j++) out[c0 + j] += (float)acc[j];
    }
}

void hb_cpu_sum_rows(hb_ops *o, T_ out, T_ in, int64_t rows, int64_t cols) {
    hb_cpu_colsum(o, F(out), F(in), rows, cols, cols);
}

#define SUM_MAX_CHUNKS 1024

double hb_cpu_sum_f(const hb_ops *o, const float *x, int64_t n, int squares) {
    /* The chunking depends on n only, so the partial sums and their order are the same for any thread count. */
    int64_t chunk = (n + SUM_MAX_CHUNKS - 1) / SUM_MAX_CHUNKS;
    if (chunk < 65536) chunk = 65536;
    int64_t nc = (n + chunk - 1) / chunk;
    double part[SUM_MAX_CHUNKS];
#pragma omp parallel for num_threads(nc > 1 ? o->threads : 1) schedule(static)
    for (int64_t k = 0; k < nc; k++) {
        int64_t a = k * chunk, b = a + chunk < n ? a + chunk : n;
        double s = 0;
        if (squares) {
#pragma omp simd reduction(+ : s)
            for (int64_t i = a; i < b; i++) s += (double)x[i] * x[i];
        } else {
#pragma omp simd reduction(+ : s)
            for (int64_t i = a; i < b; i++) s += x[i];
        }
        part[k] = s;
    }
    double s = 0;
    for (int64_t k = 0; k < nc; k++) s += part[k];
    return s;
}

void hb_cpu_sum(hb_ops *o, T_ out, T_ in, int64_t n) { F(out)[0] = (float)hb_cpu_sum_f(o, F(in), n, 0); }

/* ---------------------------------------------------------------------------------------------------------------
 * Context
 * ------------------------------------------------------------------------------------------------------------- */
static void cpu_close(hb_ops *o) {
    hb_cpu_state *s = o->impl;
    if (s) free(s->ws);
    free(s);
    o->impl = NULL;
}

static const hb_ops_vtable cpu_vtable = {
    .name = "cpu",
    .close = cpu_close,
    .elem_size = cpu_elem_size,
    .mem_alloc = cpu_mem_alloc,
    .mem_free = cpu_mem_free,
    .workspace_reserve = cpu_workspace_reserve,
    .attn_workspace = hb_cpu_attn_workspace,
    .sync = cpu_sync,
    .upload = cpu_upload,
    .download = cpu_download,
    .zero = hb_cpu_zero,
    .fill = hb_cpu_fill,
    .copy = hb_cpu_copy,
    .cast = hb_cpu_cast,
    .add = hb_cpu_add,
    .axpy = hb_cpu_axpy,
    .scale = hb_cpu_scale,
    .sum_rows = hb_cpu_sum_rows,
    .sum = hb_cpu_sum,
    .linear_fwd = hb_cpu_linear_fwd,
    .linear_bwd_data = hb_cpu_linear_bwd_data,
    .linear_bwd_weight = hb_cpu_linear_bwd_weight,
    .act_fwd = hb_cpu_act_fwd,
    .act_bwd = hb_cpu_act_bwd,
    .swiglu_fwd = hb_cpu_swiglu_fwd,
    .swiglu_bwd = hb_cpu_swiglu_bwd,
    .layernorm_fwd = hb_cpu_layernorm_fwd,
    .residual_layernorm_fwd = hb_cpu_residual_layernorm_fwd,
    .layernorm_bwd = hb_cpu_layernorm_bwd,
    .rmsnorm_fwd = hb_cpu_rmsnorm_fwd,
    .residual_rmsnorm_fwd = hb_cpu_residual_rmsnorm_fwd,
    .rmsnorm_bwd = hb_cpu_rmsnorm_bwd,
    .attn_fwd = hb_cpu_attn_fwd,
    .attn_bwd = hb_cpu_attn_bwd,
    .rope_fwd = hb_cpu_rope_fwd,
    .rope_bwd = hb_cpu_rope_bwd,
    .embed_fwd = hb_cpu_embed_fwd,
    .embed_bwd = hb_cpu_embed_bwd,
    .gather_rows = hb_cpu_gather_rows,
    .gather_rows_bwd = hb_cpu_gather_rows_bwd,
    .im2col_patches = hb_cpu_im2col_patches,
    .im2col_patches_bwd = hb_cpu_im2col_patches_bwd,
    .vit_embed_fwd = hb_cpu_vit_embed_fwd,
    .vit_embed_bwd = hb_cpu_vit_embed_bwd,
    .posemb_add_fwd = hb_cpu_posemb_add_fwd,
    .posemb_add_bwd = hb_cpu_posemb_add_bwd,
    .dwconv3x3_fwd = hb_cpu_dwconv3x3_fwd,
    .dwconv3x3_bwd = hb_cpu_dwconv3x3_bwd,
    .adaptive_avgpool_fwd = hb_cpu_adaptive_avgpool_fwd,
    .adaptive_avgpool_bwd = hb_cpu_adaptive_avgpool_bwd,
    .spatial_mean_fwd = hb_cpu_spatial_mean_fwd,
    .spatial_mean_bwd = hb_cpu_spatial_mean_bwd,
    .se_gate_fwd = hb_cpu_se_gate_fwd,
    .se_gate_bwd = hb_cpu_se_gate_bwd,
    .xent = hb_cpu_xent,
    .grad_norm_sq = hb_cpu_grad_norm_sq,
    .adamw = hb_cpu_adamw,
};

int hb_cpu_open(hb_ops *o, hb_err *err) {
    (void)err;
    int nt = o->opts.threads;
    const char *env = getenv("HB_THREADS");
    if (nt <= 0 && env && atoi(env) > 0) nt = atoi(env);
    if (nt <= 0) nt = omp_get_max_threads(); /* OMP_NUM_THREADS, else the number of cores */
    if (nt < 1) nt = 1;
    o->threads = nt;
    o->vt = &cpu_vtable;
    o->impl = hb_xcalloc(1, sizeof(hb_cpu_state));
    /* OpenBLAS's thread count is process-wide: the GEMM wrappers re-assert ours before each call. */
    openblas_set_num_threads(nt);
    const char *flavour = openblas_get_parallel() == 2 ? "openmp" : openblas_get_parallel() == 1 ? "pthread" : "serial";
    char cfg[160];
    snprintf(cfg, sizeof cfg, "%s", openblas_get_config());
    snprintf(o->describe, sizeof o->describe, "cpu: fp32 reference, %s (%s), %d thread%s", cfg, flavour, nt,
             nt == 1 ? "" : "s");
    return 0;
}
