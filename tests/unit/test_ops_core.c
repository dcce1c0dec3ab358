/* kernels/ops.h: context, arenas, sticky errors, transfers and dtype conversions, elementwise utilities, linear
 * layers and activations (forward vs double-precision references, backward by finite differences). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/opsutil.h"
#include "kernels/ops_common.h"

/* ---------------------------------------------------------------------------------------------------------------
 * Context, arenas, errors
 * ------------------------------------------------------------------------------------------------------------- */
Test(ops_core, open_describe_and_unknown_backend) {
    hb_err e;
    hb_ops *o = hb_ops_open("cpu", &(hb_ops_opts){.threads = 3}, &e);
    cr_assert(o);
    cr_assert_str_eq(hb_ops_backend(o), "cpu");
    cr_assert_eq(hb_ops_threads(o), 3);
    cr_assert(strstr(hb_ops_describe(o), "3 threads"), "%s", hb_ops_describe(o));
    cr_assert(strstr(hb_ops_describe(o), "OpenBLAS"), "%s", hb_ops_describe(o));
    hb_ops_close(o);
    cr_assert_null(hb_ops_open("tpu", NULL, &e));
    cr_assert(strstr(e.reason, "unknown backend 'tpu'"), "%s", e.reason);
}

Test(ops_core, planning_arena_commits_what_was_allocated) {
    hb_err e;
    hb_ops *o = hb_ops_open("cpu", NULL, &e);
    hb_ops_arena *a = hb_ops_arena_new(o, "params", 0, &e);
    cr_assert(a);
    hb_tensor w, b, ids;
    cr_assert_eq(hb_ops_alloc(a, &w, HB_F32, 1000, "w", &e), 0);
    cr_assert_eq(hb_ops_alloc(a, &b, HB_BF16, 3, "b", &e), 0);
    cr_assert_eq(hb_ops_alloc(a, &ids, HB_I32, 7, "ids", &e), 0);
    int64_t want = hb_ops_bytes(o, HB_F32, 1000) + hb_ops_bytes(o, HB_BF16, 3) + hb_ops_bytes(o, HB_I32, 7);
    cr_assert_eq(hb_ops_arena_used(a), want);
    cr_assert_eq(hb_ops_arena_capacity(a), 0);
    /* an op on an uncommitted arena is a sticky error naming it */
    hb_ops_zero(o, &w);
    cr_assert(hb_ops_failed(o));
    cr_assert_neq(hb_ops_sync(o, &e), 0);
    cr_assert(strstr(e.reason, "not committed"), "%s", e.reason);
    hb_ops_reset_error(o);
    cr_assert_eq(hb_ops_arena_commit(a, &e), 0);
    cr_assert_eq(hb_ops_arena_capacity(a), want);
    float ones[1000];
    for (int i = 0; i < 1000; i++) ones[i] = 1;
    hb_ops_upload(o, &w, 0, ones, HB_F32, 1000);
    float back[1000];
    cr_assert_eq(hb_ops_download(o, back, HB_F32, &w, 0, 1000, &e), 0);
    cr_assert_eq(back[999], 1.0f);
    /* the arena is full now: nothing is allocated in the step loop */
    hb_tensor extra;
    cr_assert_eq(hb_ops_alloc(a, &extra, HB_F32, 1, "extra", &e), HB_ENOMEM);
    cr_assert(strstr(e.reason, "arena 'params' is full"), "%s", e.reason);
    hb_buf rep = {0};
    hb_ops_memory_report(o, &rep);
    cr_assert(strstr(hb_buf_cstr(&rep), "params"), "%s", hb_buf_cstr(&rep));
    hb_buf_free(&rep);
    hb_ops_close(o);
}

Test(ops_core, sticky_error_names_op_tensor_and_shape) {
    ou_ctx c = ou_open(1);
    hb_tensor x = ou_tensor(&c, HB_F32, 50, "hidden"), w = ou_tensor(&c, HB_F32, 8 * 16, "w"),
              y = ou_tensor(&c, HB_F32, 32, "y");
    hb_ops_linear_fwd(c.o, &y, &x, &w, NULL, 4, 8, 16, 0);
    hb_err e;
    cr_assert_neq(hb_ops_sync(c.o, &e), 0);
    cr_assert(strstr(e.reason, "linear_fwd(rows=4 n_out=8 n_in=16)"), "%s", e.reason);
    cr_assert(strstr(e.reason, "x 'hidden' (f32, 50 elements) is too small: the shape needs 64"), "%s", e.reason);
    /* later ops are skipped, the first error is kept */
    hb_ops_fill(c.o, &y, 1.0f);
    hb_ops_sync(c.o, &e);
    cr_assert(strstr(e.reason, "linear_fwd"), "%s", e.reason);
    float tmp[4];
    cr_assert_neq(hb_ops_download(c.o, tmp, HB_F32, &y, 0, 4, &e), 0, "download surfaces the sticky error");
    hb_ops_reset_error(c.o);
    /* dtype and aliasing checks */
    hb_tensor ids = ou_tensor(&c, HB_I32, 64, "ids");
    hb_ops_linear_fwd(c.o, &y, &ids, &w, NULL, 4, 8, 16, 0);
    hb_ops_sync(c.o, &e);
    cr_assert(strstr(e.reason, "x 'ids' is i32; expected a float tensor"), "%s", e.reason);
    hb_ops_reset_error(c.o);
    hb_tensor big = ou_tensor(&c, HB_F32, 256, "big");
    hb_tensor v1 = hb_tensor_view(&big, 0, 64), v2 = hb_tensor_view(&big, 32, 64);
    hb_ops_linear_fwd(c.o, &v2, &v1, &w, NULL, 4, 8, 16, 0);
    hb_ops_sync(c.o, &e);
    cr_assert(strstr(e.reason, "overlaps"), "%s", e.reason);
    hb_ops_reset_error(c.o);
    hb_tensor bad = hb_tensor_view(&big, 200, 100);
    cr_assert_null(bad.arena);
    hb_ops_sync(c.o, &e);
    cr_assert(strstr(e.reason, "view [200, 300) of 'big' (256 elements) is out of range"), "%s", e.reason);
    hb_ops_reset_error(c.o);
    /* a tensor of another context */
    ou_ctx c2 = ou_open(1);
    hb_tensor foreign = ou_tensor(&c2, HB_F32, 64, "foreign");
    hb_ops_zero(c.o, &foreign);
    hb_ops_sync(c.o, &e);
    cr_assert(strstr(e.reason, "another backend context"), "%s", e.reason);
    ou_close(&c2);
    ou_close(&c);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Transfers and conversions
 * ------------------------------------------------------------------------------------------------------------- */
Test(ops_core, bf16_and_f16_conversions_round_to_nearest_even) {
    /* bf16: 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1); 1 + 3·2^-8 rounds up */
    cr_assert_eq(hb_f32_to_bf16(1.0f + 0.00390625f), 0x3f80);
    cr_assert_eq(hb_f32_to_bf16(1.0f + 3 * 0.00390625f), 0x3f82);
    cr_assert_eq(hb_f32_to_bf16(-2.0f), 0xc000);
    cr_assert(isnan(hb_bf16_to_f32(hb_f32_to_bf16(NAN))));
    cr_assert(isinf(hb_bf16_to_f32(hb_f32_to_bf16(INFINITY))));
    /* f16 against the compiler's conversions, exhaustively from half and on a sweep of floats */
    for (uint32_t h = 0; h < 65536; h++) {
        _Float16 hv;
        uint16_t hh = (uint16_t)h;
        memcpy(&hv, &hh, 2);
        float want = (float)hv, got = hb_f16_to_f32(hh);
        cr_assert((isnan(want) && isnan(got)) || hb_f32_bits(want) == hb_f32_bits(got), "f16 %04x", h);
    }
    for (uint32_t u = 0; u < 0xff800000u; u += 0x1357u) {
        float f = hb_bits_f32(u);
        _Float16 hv = (_Float16)f;
        uint16_t want;
        memcpy(&want, &hv, 2);
        cr_assert_eq(hb_f32_to_f16(f), want, "f32 %08x -> f16 %04x, want %04x", u, hb_f32_to_f16(f), want);
    }
}

Test(ops_core, upload_download_convert_dtypes) {
    ou_ctx c = ou_open(1);
    const float src[5] = {1.0f, -2.5f, 3.14159265f, 1e-3f, 65504.0f};
    uint16_t bf[5], hf[5];
    for (int i = 0; i < 5; i++) {
        bf[i] = hb_f32_to_bf16(src[i]);
        hf[i] = hb_f32_to_f16(src[i]);
    }
    hb_tensor t32 = ou_tensor(&c, HB_F32, 5, "t32"), t16 = ou_tensor(&c, HB_BF16, 5, "tbf");
    /* bf16 source into f32 tensor: exact widening; f32 source into a bf16 tensor: rounded to bf16 */
    hb_ops_upload(c.o, &t32, 0, bf, HB_BF16, 5);
    float *g = ou_get(&c, &t32, 5);
    for (int i = 0; i < 5; i++) cr_assert_eq(g[i], hb_bf16_to_f32(bf[i]));
    free(g);
    hb_ops_upload(c.o, &t16, 0, src, HB_F32, 5);
    g = ou_get(&c, &t16, 5);
    for (int i = 0; i < 5; i++) cr_assert_eq(g[i], hb_round_bf16(src[i]));
    free(g);
    /* f16 source, unaligned, at an offset */
    uint8_t raw[1 + 10];
    memcpy(raw + 1, hf, 10);
    hb_ops_upload(c.o, &t32, 2, raw + 1 + 4, HB_F16, 3);
    g = ou_get(&c, &t32, 5);
    for (int i = 2; i < 5; i++) cr_assert_eq(g[i], hb_f16_to_f32(hf[i]), "%d", i);
    free(g);
    /* downloads to bf16 and f16 */
    hb_ops_upload(c.o, &t32, 0, src, HB_F32, 5);
    uint16_t outb[5], outh[5];
    hb_err e;
    cr_assert_eq(hb_ops_download(c.o, outb, HB_BF16, &t32, 0, 5, &e), 0);
    cr_assert_eq(hb_ops_download(c.o, outh, HB_F16, &t32, 0, 5, &e), 0);
    cr_assert_eq(memcmp(outb, bf, 10), 0);
    cr_assert_eq(memcmp(outh, hf, 10), 0);
    /* i32 round trip; a float source into an i32 tensor is refused */
    int32_t ids[3] = {7, -1, 31999}, back[3];
    hb_tensor ti = ou_from_i32(&c, ids, 3, "ids");
    cr_assert_eq(hb_ops_download(c.o, back, HB_I32, &ti, 0, 3, &e), 0);
    cr_assert_eq(memcmp(ids, back, sizeof ids), 0);
    hb_ops_upload(c.o, &ti, 0, src, HB_F32, 3);
    cr_assert_neq(hb_ops_sync(c.o, &e), 0);
    cr_assert(strstr(e.reason, "cannot convert f32 source data into a i32 tensor"), "%s", e.reason);
    ou_close(&c);
}

Test(ops_core, elementwise_utilities) {
    ou_ctx c = ou_open(2);
    const int64_t n = 100003;
    float *a = ou_randn(1, n, 0, 1), *b = ou_randn(2, n, 0, 1);
    hb_tensor ta = ou_from(&c, a, n, "a"), tb = ou_from(&c, b, n, "b"), tc = ou_tensor(&c, HB_F32, n, "c"),
              tbf = ou_tensor(&c, HB_BF16, n, "bf");
    hb_ops_add(c.o, &tc, &ta, &tb, n);
    hb_ops_axpy(c.o, &tc, -2.0f, &ta, n);
    hb_ops_scale(c.o, &tc, 0.5f, n);
    float *g = ou_get(&c, &tc, n);
    for (int64_t i = 0; i < n; i++) cr_assert_eq(g[i], ((a[i] + b[i]) + -2.0f * a[i]) * 0.5f);
    free(g);
    hb_ops_cast(c.o, &tbf, &ta, n);
    g = ou_get(&c, &tbf, n);
    for (int64_t i = 0; i < n; i++) cr_assert_eq(g[i], hb_round_bf16(a[i]));
    free(g);
    hb_ops_copy(c.o, &tc, &ta, n);
    g = ou_get(&c, &tc, n);
    cr_assert_eq(memcmp(g, a, (size_t)n * 4), 0);
    free(g);
    hb_ops_fill(c.o, &tc, 3.0f);
    hb_tensor s = ou_tensor(&c, HB_F32, 1, "s");
    hb_ops_sum(c.o, &s, &ta, n);
    g = ou_get(&c, &s, 1);
    double want = 0;
    for (int64_t i = 0; i < n; i++) want += a[i];
    cr_assert_float_eq(g[0], (float)want, 1e-6 * fabs(want) + 1e-6);
    free(g);
    /* sum_rows accumulates in row order */
    const int64_t rows = 37, cols = 300;
    hb_tensor acc = ou_tensor(&c, HB_F32, cols, "acc");
    hb_ops_fill(c.o, &acc, 1.0f);
    hb_ops_sum_rows(c.o, &acc, &ta, rows, cols);
    g = ou_get(&c, &acc, cols);
    for (int64_t j = 0; j < cols; j++) {
        double w = 0;
        for (int64_t r = 0; r < rows; r++) w += a[r * cols + j];
        cr_assert_float_eq(g[j], (float)(1.0 + w), 1e-5);
    }
    free(g);
    ou_ok(&c, "elementwise");
    free(a);
    free(b);
    ou_close(&c);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Linear
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    hb_ops *o;
    hb_tensor *x, *w, *b, *y, *dx, *dw, *db, *dy;
    int64_t rows, n_out, n_in;
} lin_case;

static void lin_fwd(void *u) {
    lin_case *l = u;
    hb_ops_linear_fwd(l->o, l->y, l->x, l->w, l->b, l->rows, l->n_out, l->n_in, 0);
}
static void lin_bwd(void *u) {
    lin_case *l = u;
    hb_ops_linear_bwd_data(l->o, l->dx, l->dy, l->w, l->rows, l->n_out, l->n_in, 0);
    hb_ops_linear_bwd_weight(l->o, l->dw, l->db, l->dy, l->x, l->rows, l->n_out, l->n_in);
}

Test(ops_core, linear_forward_matches_double_reference) {
    ou_ctx c = ou_open(2);
    const int64_t rows = 67, n_out = 45, n_in = 129;
    float *x = ou_randn(3, rows * n_in, 0, 1), *w = ou_randn(4, n_out * n_in, 0, 0.1f), *b = ou_randn(5, n_out, 0, 1);
    hb_tensor tx = ou_from(&c, x, rows * n_in, "x"), tw = ou_from(&c, w, n_out * n_in, "w"),
              tb = ou_from(&c, b, n_out, "b"), ty = ou_tensor(&c, HB_F32, rows * n_out, "y");
    double *ref = hb_xmalloc((size_t)(rows * n_out) * sizeof(double));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < n_out; j++) {
            double s = b[j];
            for (int64_t k = 0; k < n_in; k++) s += (double)x[r * n_in + k] * w[j * n_in + k];
            ref[r * n_out + j] = s;
        }
    hb_ops_linear_fwd(c.o, &ty, &tx, &tw, &tb, rows, n_out, n_in, 0);
    float *y = ou_get(&c, &ty, rows * n_out);
    /* fp32 GEMM: error <= K·u·Σ|x||w| ~ sqrt(K)·u·|x||w| typical; 1e-5 absolute at these scales (|y| ~ 1) */
    ou_expect_close("linear y", y, ref, rows * n_out, 1e-5, 1e-5);
    /* accumulate: y += x·wᵀ + b */
    hb_ops_linear_fwd(c.o, &ty, &tx, &tw, &tb, rows, n_out, n_in, 1);
    free(y);
    y = ou_get(&c, &ty, rows * n_out);
    for (int64_t i = 0; i < rows * n_out; i++) ref[i] *= 2;
    ou_expect_close("linear y (+=)", y, ref, rows * n_out, 1e-5, 2e-5);
    free(y);
    free(ref);
    free(x);
    free(w);
    free(b);
    ou_close(&c);
}

Test(ops_core, linear_gradients_by_finite_differences) {
    ou_ctx c = ou_open(2);
    const int64_t rows = 9, n_out = 7, n_in = 11;
    float *x = ou_randn(6, rows * n_in, 0, 1), *w = ou_randn(7, n_out * n_in, 0, 0.5f), *b = ou_randn(8, n_out, 0, 1);
    hb_tensor tx = ou_tensor(&c, HB_F32, rows * n_in, "x"), tw = ou_tensor(&c, HB_F32, n_out * n_in, "w"),
              tb = ou_tensor(&c, HB_F32, n_out, "b"), ty = ou_tensor(&c, HB_F32, rows * n_out, "y"),
              tdx = ou_tensor(&c, HB_F32, rows * n_in, "dx"), tdw = ou_tensor(&c, HB_F32, n_out * n_in, "dw"),
              tdb = ou_tensor(&c, HB_F32, n_out, "db"), tdy = ou_tensor(&c, HB_F32, rows * n_out, "dy");
    lin_case l = {c.o, &tx, &tw, &tb, &ty, &tdx, &tdw, &tdb, &tdy, rows, n_out, n_in};
    ou_fd f = {.c = &c, .op = "linear", .fwd = lin_fwd, .bwd = lin_bwd, .u = &l, .max_coords = 30};
    f.in[f.n_in++] = (ou_fd_in){"x", &tx, x, rows * n_in, &tdx, 0, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"w", &tw, w, n_out * n_in, &tdw, 1, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"b", &tb, b, n_out, &tdb, 1, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"y", &ty, rows * n_out, &tdy, NULL};
    double worst = ou_fd_check(&f);
    cr_log_info("linear: worst |fd-an| at %.0f%% of tolerance", 100 * worst);
    free(x);
    free(w);
    free(b);
    ou_close(&c);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------------------------------------------------- */
static double ref_act(double x, hb_act a) {
    switch (a) {
    case HB_ACT_SILU: return x / (1 + exp(-x));
    case HB_ACT_QUICK_GELU: return x / (1 + exp(-(double)(1.702f * (float)x))); /* the fp32 argument, as defined */
    case HB_ACT_RELU: return x > 0 ? x : 0;
    default: return x;
    }
}

typedef struct {
    hb_ops *o;
    hb_tensor *x, *y, *dx, *dy;
    int64_t n;
    hb_act act;
} act_case;
static void act_fwd(void *u) {
    act_case *a = u;
    hb_ops_act_fwd(a->o, a->y, a->x, a->n, a->act);
}
static void act_bwd(void *u) {
    act_case *a = u;
    hb_ops_act_bwd(a->o, a->dx, a->dy, a->x, a->n, a->act, 0);
}

Test(ops_core, activations_forward_and_gradients) {
    ou_ctx c = ou_open(2);
    const int64_t n = 2000;
    const hb_act acts[3] = {HB_ACT_SILU, HB_ACT_QUICK_GELU, HB_ACT_RELU};
    for (int k = 0; k < 3; k++) {
        float *x = ou_uniform(10 + k, n, -12, 12);
        /* ReLU is not differentiable at 0: keep the sampled points away from it */
        for (int64_t i = 0; acts[k] == HB_ACT_RELU && i < n; i++)
            if (fabsf(x[i]) < 0.05f) x[i] = 0.5f;
        hb_tensor tx = ou_from(&c, x, n, "x"), ty = ou_tensor(&c, HB_F32, n, "y"), tdx = ou_tensor(&c, HB_F32, n, "dx"),
                  tdy = ou_tensor(&c, HB_F32, n, "dy");
        hb_ops_act_fwd(c.o, &ty, &tx, n, acts[k]);
        float *y = ou_get(&c, &ty, n);
        double *ref = hb_xmalloc((size_t)n * sizeof(double));
        for (int64_t i = 0; i < n; i++) ref[i] = ref_act(x[i], acts[k]);
        /* one exp (~1 ulp), a division and a product: a few ulps */
        ou_expect_close(hb_act_name(acts[k]), y, ref, n, 4e-7, 1e-30);
        act_case a = {c.o, &tx, &ty, &tdx, &tdy, 200, acts[k]};
        ou_fd f = {.c = &c, .op = hb_act_name(acts[k]), .fwd = act_fwd, .bwd = act_bwd, .u = &a};
        f.in[f.n_in++] = (ou_fd_in){"x", &tx, x, 200, &tdx, 0, 0, 0};
        f.out[f.n_out++] = (ou_fd_out){"y", &ty, 200, &tdy, NULL};
        ou_fd_check(&f);
        /* accumulate flag: d_x += */
        float *dy = ou_randn(20 + k, n, 0, 1);
        ou_set(&c, &tdy, dy, n);
        hb_ops_fill(c.o, &tdx, 1.0f);
        hb_ops_act_bwd(c.o, &tdx, &tdy, &tx, n, acts[k], 1);
        float *dx = ou_get(&c, &tdx, n);
        for (int64_t i = 0; i < n; i++) {
            double xi = x[i], d;
            if (acts[k] == HB_ACT_RELU) d = xi > 0;
            else {
                double al = acts[k] == HB_ACT_SILU ? 1 : 1.702, s = 1 / (1 + exp(-al * xi));
                d = s + al * xi * s * (1 - s);
            }
            ref[i] = 1.0 + dy[i] * d;
        }
        ou_expect_close("act_bwd (+=)", dx, ref, n, 1e-6, 1e-6);
        free(dx);
        free(dy);
        free(y);
        free(ref);
        free(x);
    }
    ou_close(&c);
}

typedef struct {
    hb_ops *o;
    hb_tensor *ab, *m, *dab, *dm;
    int64_t rows, I;
} swiglu_case;
static void sw_fwd(void *u) {
    swiglu_case *s = u;
    hb_ops_swiglu_fwd(s->o, s->m, s->ab, s->rows, s->I);
}
static void sw_bwd(void *u) {
    swiglu_case *s = u;
    hb_ops_swiglu_bwd(s->o, s->dab, s->dm, s->ab, s->rows, s->I);
}

Test(ops_core, swiglu_forward_and_gradients) {
    ou_ctx c = ou_open(2);
    const int64_t rows = 5, I = 13;
    float *ab = ou_randn(30, rows * 2 * I, 0, 2);
    hb_tensor tab = ou_from(&c, ab, rows * 2 * I, "ab"), tm = ou_tensor(&c, HB_F32, rows * I, "m"),
              tdab = ou_tensor(&c, HB_F32, rows * 2 * I, "dab"), tdm = ou_tensor(&c, HB_F32, rows * I, "dm");
    hb_ops_swiglu_fwd(c.o, &tm, &tab, rows, I);
    float *m = ou_get(&c, &tm, rows * I);
    double ref[5 * 13];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < I; j++) {
            double a = ab[r * 2 * I + j], b = ab[r * 2 * I + I + j];
            ref[r * I + j] = a / (1 + exp(-a)) * b;
        }
    ou_expect_close("swiglu m", m, ref, rows * I, 5e-7, 1e-30);
    swiglu_case s = {c.o, &tab, &tm, &tdab, &tdm, rows, I};
    ou_fd f = {.c = &c, .op = "swiglu", .fwd = sw_fwd, .bwd = sw_bwd, .u = &s, .max_coords = 130};
    f.in[f.n_in++] = (ou_fd_in){"ab", &tab, ab, rows * 2 * I, &tdab, 0, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"m", &tm, rows * I, &tdm, NULL};
    ou_fd_check(&f);
    free(m);
    free(ab);
    ou_close(&c);
}
