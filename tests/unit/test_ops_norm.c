/* kernels/ops.h norms: LayerNorm (plain, LayerNormAct2d with SiLU, conv3 norm + shortcut + SiLU, the fused SE
 * group-mean gradient), residual + LayerNorm, RMSNorm and residual + RMSNorm: forward against double-precision
 * references, backward by finite differences, accumulate flags. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/opsutil.h"

/* Double reference of layernorm_fwd: z = LN(x)·γ + β (+ res); y = act(z). */
static void ref_ln(double *y, double *mean, double *rstd, const float *x, const float *g, const float *b,
                   const float *res, int64_t rows, int64_t C, double eps, hb_act act) {
    for (int64_t r = 0; r < rows; r++) {
        double mu = 0, var = 0;
        for (int64_t j = 0; j < C; j++) mu += x[r * C + j];
        mu /= C;
        for (int64_t j = 0; j < C; j++) var += (x[r * C + j] - mu) * (x[r * C + j] - mu);
        var /= C;
        double rs = 1 / sqrt(var + eps);
        mean[r] = mu;
        rstd[r] = rs;
        for (int64_t j = 0; j < C; j++) {
            double z = (x[r * C + j] - mu) * rs * g[j] + b[j] + (res ? res[r * C + j] : 0);
            y[r * C + j] = act == HB_ACT_SILU ? z / (1 + exp(-z)) : z;
        }
    }
}

typedef struct {
    hb_ops *o;
    hb_tensor *x, *g, *b, *res, *y, *mean, *rstd, *dx, *dres, *dg, *db, *dy;
    int64_t rows, C;
    hb_act act;
} ln_case;

static void ln_fwd(void *u) {
    ln_case *l = u;
    hb_ops_layernorm_fwd(l->o, l->y, l->mean, l->rstd, l->x, l->g, l->b, l->res, l->rows, l->C, 1e-5f, l->act);
}
static void ln_bwd(void *u) {
    ln_case *l = u;
    hb_ops_layernorm_bwd(l->o, l->dx, l->dres, l->dg, l->db, l->dy, NULL, 0, l->x, l->mean, l->rstd, l->g, l->b,
                         l->res, l->rows, l->C, l->act, 0);
}

/* variant 0: plain LayerNorm; 1: LayerNormAct2d (SiLU); 2: LN + residual, then SiLU (the Bottleneck's conv3 path) */
static void check_layernorm(int variant) {
    ou_ctx c = ou_open(2);
    const int64_t rows = 6, C = 37;
    hb_act act = variant == 0 ? HB_ACT_NONE : HB_ACT_SILU;
    float *x = ou_randn(100 + variant, rows * C, 0.3f, 1.5f), *g = ou_randn(110, C, 1, 0.3f),
          *b = ou_randn(120, C, 0, 0.5f), *res = variant == 2 ? ou_randn(130, rows * C, 0, 1) : NULL;
    hb_tensor tx = ou_from(&c, x, rows * C, "x"), tg = ou_from(&c, g, C, "gamma"), tb = ou_from(&c, b, C, "beta"),
              tres = ou_tensor(&c, HB_F32, rows * C, "res"), ty = ou_tensor(&c, HB_F32, rows * C, "y"),
              tm = ou_tensor(&c, HB_F32, rows, "mean"), trs = ou_tensor(&c, HB_F32, rows, "rstd"),
              tdx = ou_tensor(&c, HB_F32, rows * C, "dx"), tdres = ou_tensor(&c, HB_F32, rows * C, "dres"),
              tdg = ou_tensor(&c, HB_F32, C, "dgamma"), tdb = ou_tensor(&c, HB_F32, C, "dbeta"),
              tdy = ou_tensor(&c, HB_F32, rows * C, "dy");
    if (res) ou_set(&c, &tres, res, rows * C);
    ln_case l = {c.o, &tx, &tg, &tb, res ? &tres : NULL, &ty, &tm, &trs, &tdx, res ? &tdres : NULL, &tdg, &tdb, &tdy,
                 rows, C, act};
    ln_fwd(&l);
    float *y = ou_get(&c, &ty, rows * C), *m = ou_get(&c, &tm, rows), *rs = ou_get(&c, &trs, rows);
    double ry[6 * 37], rm[6], rr[6];
    ref_ln(ry, rm, rr, x, g, b, res, rows, C, 1e-5, act);
    /* fp32 row stats from double sums: ~1 ulp; y: a handful of fp32 roundings on O(1) values */
    ou_expect_close("layernorm mean", m, rm, rows, 2e-7, 1e-7);
    ou_expect_close("layernorm rstd", rs, rr, rows, 2e-7, 0);
    ou_expect_close("layernorm y", y, ry, rows * C, 1e-6, 1e-6);
    ou_fd f = {.c = &c, .op = variant == 0 ? "layernorm" : variant == 1 ? "layernorm+silu" : "layernorm+res+silu",
               .fwd = ln_fwd, .bwd = ln_bwd, .u = &l, .max_coords = 40};
    f.in[f.n_in++] = (ou_fd_in){"x", &tx, x, rows * C, &tdx, 0, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"gamma", &tg, g, C, &tdg, 1, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"beta", &tb, b, C, &tdb, 1, 0, 0};
    if (res) f.in[f.n_in++] = (ou_fd_in){"residual", &tres, res, rows * C, &tdres, 0, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"y", &ty, rows * C, &tdy, NULL};
    f.out[f.n_out++] = (ou_fd_out){"mean", &tm, rows, NULL, NULL};
    f.out[f.n_out++] = (ou_fd_out){"rstd", &trs, rows, NULL, NULL};
    double worst = ou_fd_check(&f);
    cr_log_info("%s: worst at %.0f%% of tolerance", f.op, 100 * worst);
    free(y), free(m), free(rs), free(x), free(g), free(b), free(res);
    ou_close(&c);
}

Test(ops_norm, layernorm) { check_layernorm(0); }
Test(ops_norm, layernorm_silu) { check_layernorm(1); }
Test(ops_norm, layernorm_residual_silu) { check_layernorm(2); }

Test(ops_norm, layernorm_group_mean_term_equals_explicit_broadcast) {
    /* d_y_mean[g]/group_rows added to d_y inside the backward == adding it to d_y first (the SE squeeze path) */
    ou_ctx c = ou_open(2);
    const int64_t B = 3, HW = 5, rows = B * HW, C = 24;
    float *x = ou_randn(1, rows * C, 0, 1), *g = ou_randn(2, C, 1, 0.2f), *b = ou_randn(3, C, 0, 0.2f),
          *dy = ou_randn(4, rows * C, 0, 1), *ds = ou_randn(5, B * C, 0, 1);
    hb_tensor tx = ou_from(&c, x, rows * C, "x"), tg = ou_from(&c, g, C, "g"), tb = ou_from(&c, b, C, "b"),
              ty = ou_tensor(&c, HB_F32, rows * C, "y"), tm = ou_tensor(&c, HB_F32, rows, "m"),
              trs = ou_tensor(&c, HB_F32, rows, "rs"), tdy = ou_from(&c, dy, rows * C, "dy"),
              tds = ou_from(&c, ds, B * C, "ds"), tdx1 = ou_tensor(&c, HB_F32, rows * C, "dx1"),
              tdx2 = ou_tensor(&c, HB_F32, rows * C, "dx2"), tdg1 = ou_tensor(&c, HB_F32, C, "dg1"),
              tdg2 = ou_tensor(&c, HB_F32, C, "dg2");
    hb_ops_layernorm_fwd(c.o, &ty, &tm, &trs, &tx, &tg, &tb, NULL, rows, C, 1e-5f, HB_ACT_SILU);
    hb_ops_layernorm_bwd(c.o, &tdx1, NULL, &tdg1, NULL, &tdy, &tds, HW, &tx, &tm, &trs, &tg, &tb, NULL, rows, C,
                         HB_ACT_SILU, 0);
    float *dy2 = hb_xmalloc((size_t)(rows * C) * sizeof(float));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < C; j++) dy2[r * C + j] = dy[r * C + j] + ds[(r / HW) * C + j] / (float)HW;
    ou_set(&c, &tdy, dy2, rows * C);
    hb_ops_layernorm_bwd(c.o, &tdx2, NULL, &tdg2, NULL, &tdy, NULL, 0, &tx, &tm, &trs, &tg, &tb, NULL, rows, C,
                         HB_ACT_SILU, 0);
    float *a = ou_get(&c, &tdx1, rows * C), *e = ou_get(&c, &tdx2, rows * C);
    float *ga = ou_get(&c, &tdg1, C), *ge = ou_get(&c, &tdg2, C);
    ou_expect_closef("dx (fused mean term)", a, e, rows * C, 0, 0); /* same arithmetic: bitwise */
    ou_expect_closef("dgamma (fused mean term)", ga, ge, C, 0, 0);
    /* and the standalone spatial_mean_bwd (accumulate) composes the same way */
    hb_ops_spatial_mean_bwd(c.o, &tdy, &tds, B, HW, C, 0);
    float *bc = ou_get(&c, &tdy, rows * C);
    for (int64_t i = 0; i < rows * C; i++) cr_assert_eq(bc[i], ds[(i / C / HW) * C + i % C] / (float)HW);
    free(bc), free(a), free(e), free(ga), free(ge), free(dy2), free(x), free(g), free(b), free(dy), free(ds);
    ou_close(&c);
}

Test(ops_norm, layernorm_backward_accumulates_into_residual_stream) {
    ou_ctx c = ou_open(1);
    const int64_t rows = 4, C = 16;
    float *x = ou_randn(7, rows * C, 0, 1), *g = ou_randn(8, C, 1, 0.1f), *b = ou_randn(9, C, 0, 0.1f),
          *dy = ou_randn(10, rows * C, 0, 1), *base = ou_randn(11, rows * C, 0, 1);
    hb_tensor tx = ou_from(&c, x, rows * C, "x"), tg = ou_from(&c, g, C, "g"), tb = ou_from(&c, b, C, "b"),
              ty = ou_tensor(&c, HB_F32, rows * C, "y"), tm = ou_tensor(&c, HB_F32, rows, "m"),
              trs = ou_tensor(&c, HB_F32, rows, "rs"), tdy = ou_from(&c, dy, rows * C, "dy"),
              tdx = ou_tensor(&c, HB_F32, rows * C, "dx"), tacc = ou_from(&c, base, rows * C, "acc");
    hb_ops_layernorm_fwd(c.o, &ty, &tm, &trs, &tx, &tg, &tb, NULL, rows, C, 1e-5f, HB_ACT_NONE);
    hb_ops_layernorm_bwd(c.o, &tdx, NULL, NULL, NULL, &tdy, NULL, 0, &tx, &tm, &trs, &tg, NULL, NULL, rows, C,
                         HB_ACT_NONE, 0);
    hb_ops_layernorm_bwd(c.o, &tacc, NULL, NULL, NULL, &tdy, NULL, 0, &tx, &tm, &trs, &tg, NULL, NULL, rows, C,
                         HB_ACT_NONE, 1);
    float *dx = ou_get(&c, &tdx, rows * C), *acc = ou_get(&c, &tacc, rows * C);
    for (int64_t i = 0; i < rows * C; i++) cr_assert_eq(acc[i], base[i] + dx[i]);
    free(dx), free(acc), free(x), free(g), free(b), free(dy), free(base);
    ou_close(&c);
}

typedef struct {
    hb_ops *o;
    hb_tensor *xin, *add, *g, *b, *xout, *y, *mean, *rstd, *dres, *dg, *db, *dxout, *dy;
    int64_t rows, C;
} rln_case;
static void rln_fwd(void *u) {
    rln_case *l = u;
    hb_ops_residual_layernorm_fwd(l->o, l->xout, l->y, l->mean, l->rstd, l->xin, l->add, l->g, l->b, l->rows, l->C,
                                  1e-5f);
}
/* The model's backward of the pre-norm stream: d(stream) = upstream d_xout + LN backward (accumulate). */
static void rln_bwd(void *u) {
    rln_case *l = u;
    hb_ops_copy(l->o, l->dres, l->dxout, l->rows * l->C);
    hb_ops_layernorm_bwd(l->o, l->dres, NULL, l->dg, l->db, l->dy, NULL, 0, l->xout, l->mean, l->rstd, l->g, NULL,
                         NULL, l->rows, l->C, HB_ACT_NONE, 1);
}

Test(ops_norm, residual_layernorm) {
    ou_ctx c = ou_open(2);
    const int64_t rows = 5, C = 19;
    float *xin = ou_randn(20, rows * C, 0, 1), *add = ou_randn(21, rows * C, 0, 1), *g = ou_randn(22, C, 1, 0.2f),
          *b = ou_randn(23, C, 0, 0.2f);
    hb_tensor txin = ou_from(&c, xin, rows * C, "x_in"), tadd = ou_from(&c, add, rows * C, "add"),
              tg = ou_from(&c, g, C, "g"), tb = ou_from(&c, b, C, "b"), txout = ou_tensor(&c, HB_F32, rows * C, "xo"),
              ty = ou_tensor(&c, HB_F32, rows * C, "y"), tm = ou_tensor(&c, HB_F32, rows, "m"),
              trs = ou_tensor(&c, HB_F32, rows, "rs"), tdres = ou_tensor(&c, HB_F32, rows * C, "dres"),
              tdg = ou_tensor(&c, HB_F32, C, "dg"), tdb = ou_tensor(&c, HB_F32, C, "db"),
              tdxo = ou_tensor(&c, HB_F32, rows * C, "dxo"), tdy = ou_tensor(&c, HB_F32, rows * C, "dy");
    rln_case l = {c.o, &txin, &tadd, &tg, &tb, &txout, &ty, &tm, &trs, &tdres, &tdg, &tdb, &tdxo, &tdy, rows, C};
    rln_fwd(&l);
    float *xo = ou_get(&c, &txout, rows * C), *y = ou_get(&c, &ty, rows * C);
    float *sum = hb_xmalloc((size_t)(rows * C) * sizeof(float));
    for (int64_t i = 0; i < rows * C; i++) sum[i] = xin[i] + add[i];
    ou_expect_closef("x_out", xo, sum, rows * C, 0, 0);
    double ry[5 * 19], rm[5], rr[5];
    ref_ln(ry, rm, rr, sum, g, b, NULL, rows, C, 1e-5, HB_ACT_NONE);
    ou_expect_close("y", y, ry, rows * C, 1e-6, 1e-6);
    /* in place (x_out == x_in) gives the same */
    hb_ops_residual_layernorm_fwd(c.o, &txin, &ty, NULL, NULL, &txin, &tadd, &tg, &tb, rows, C, 1e-5f);
    float *xo2 = ou_get(&c, &txin, rows * C), *y2 = ou_get(&c, &ty, rows * C);
    ou_expect_closef("x_out in place", xo2, sum, rows * C, 0, 0);
    ou_expect_closef("y in place", y2, y, rows * C, 0, 0);
    ou_set(&c, &txin, xin, rows * C);
    ou_fd f = {.c = &c, .op = "residual_layernorm", .fwd = rln_fwd, .bwd = rln_bwd, .u = &l, .max_coords = 30};
    f.in[f.n_in++] = (ou_fd_in){"x_in", &txin, xin, rows * C, &tdres, 0, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"add", &tadd, add, rows * C, &tdres, 0, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"gamma", &tg, g, C, &tdg, 1, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"beta", &tb, b, C, &tdb, 1, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"x_out", &txout, rows * C, &tdxo, NULL};
    f.out[f.n_out++] = (ou_fd_out){"y", &ty, rows * C, &tdy, NULL};
    f.out[f.n_out++] = (ou_fd_out){"mean", &tm, rows, NULL, NULL};
    f.out[f.n_out++] = (ou_fd_out){"rstd", &trs, rows, NULL, NULL};
    ou_fd_check(&f);
    free(xo), free(y), free(xo2), free(y2), free(sum), free(xin), free(add), free(g), free(b);
    ou_close(&c);
}

/* ---------------------------------------------------------------------------------------------------------------
 * RMSNorm
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    hb_ops *o;
    hb_tensor *x, *w, *y, *rstd, *dx, *dw, *dy;
    int64_t rows, C;
} rms_case;
static void rms_fwd(void *u) {
    rms_case *r = u;
    hb_ops_rmsnorm_fwd(r->o, r->y, r->rstd, r->x, r->w, r->rows, r->C, 1e-5f);
}
static void rms_bwd(void *u) {
    rms_case *r = u;
    hb_ops_rmsnorm_bwd(r->o, r->dx, r->dw, r->dy, r->x, r->rstd, r->w, r->rows, r->C, 0);
}

Test(ops_norm, rmsnorm) {
    ou_ctx c = ou_open(2);
    const int64_t rows = 7, C = 33;
    float *x = ou_randn(40, rows * C, 0.2f, 1), *w = ou_randn(41, C, 1, 0.3f);
    hb_tensor tx = ou_from(&c, x, rows * C, "x"), tw = ou_from(&c, w, C, "w"), ty = ou_tensor(&c, HB_F32, rows * C, "y"),
              trs = ou_tensor(&c, HB_F32, rows, "rstd"), tdx = ou_tensor(&c, HB_F32, rows * C, "dx"),
              tdw = ou_tensor(&c, HB_F32, C, "dw"), tdy = ou_tensor(&c, HB_F32, rows * C, "dy");
    rms_case r = {c.o, &tx, &tw, &ty, &trs, &tdx, &tdw, &tdy, rows, C};
    rms_fwd(&r);
    float *y = ou_get(&c, &ty, rows * C), *rs = ou_get(&c, &trs, rows);
    double ry[7 * 33], rr[7];
    for (int64_t i = 0; i < rows; i++) {
        double s = 0;
        for (int64_t j = 0; j < C; j++) s += (double)x[i * C + j] * x[i * C + j];
        rr[i] = 1 / sqrt(s / C + 1e-5);
        for (int64_t j = 0; j < C; j++) ry[i * C + j] = x[i * C + j] * rr[i] * w[j];
    }
    ou_expect_close("rmsnorm rstd", rs, rr, rows, 2e-7, 0);
    ou_expect_close("rmsnorm y", y, ry, rows * C, 5e-7, 1e-7);
    ou_fd f = {.c = &c, .op = "rmsnorm", .fwd = rms_fwd, .bwd = rms_bwd, .u = &r, .max_coords = 40};
    f.in[f.n_in++] = (ou_fd_in){"x", &tx, x, rows * C, &tdx, 0, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"w", &tw, w, C, &tdw, 1, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"y", &ty, rows * C, &tdy, NULL};
    f.out[f.n_out++] = (ou_fd_out){"rstd", &trs, rows, NULL, NULL};
    double worst = ou_fd_check(&f);
    cr_log_info("rmsnorm: worst at %.0f%% of tolerance", 100 * worst);
    free(y), free(rs), free(x), free(w);
    ou_close(&c);
}

typedef struct {
    hb_ops *o;
    hb_tensor *xin, *add, *w, *xout, *y, *rstd, *dres, *dw, *dxout, *dy;
    int64_t rows, C;
} rrms_case;
static void rrms_fwd(void *u) {
    rrms_case *r = u;
    hb_ops_residual_rmsnorm_fwd(r->o, r->xout, r->y, r->rstd, r->xin, r->add, r->w, r->rows, r->C, 1e-6f);
}
static void rrms_bwd(void *u) {
    rrms_case *r = u;
    hb_ops_copy(r->o, r->dres, r->dxout, r->rows * r->C);
    hb_ops_rmsnorm_bwd(r->o, r->dres, r->dw, r->dy, r->xout, r->rstd, r->w, r->rows, r->C, 1);
}

Test(ops_norm, residual_rmsnorm) {
    ou_ctx c = ou_open(2);
    const int64_t rows = 4, C = 21;
    float *xin = ou_randn(50, rows * C, 0, 1), *add = ou_randn(51, rows * C, 0, 1), *w = ou_randn(52, C, 1, 0.3f);
    hb_tensor txin = ou_from(&c, xin, rows * C, "x_in"), tadd = ou_from(&c, add, rows * C, "add"),
              tw = ou_from(&c, w, C, "w"), txout = ou_tensor(&c, HB_F32, rows * C, "xo"),
              ty = ou_tensor(&c, HB_F32, rows * C, "y"), trs = ou_tensor(&c, HB_F32, rows, "rs"),
              tdres = ou_tensor(&c, HB_F32, rows * C, "dres"), tdw = ou_tensor(&c, HB_F32, C, "dw"),
              tdxo = ou_tensor(&c, HB_F32, rows * C, "dxo"), tdy = ou_tensor(&c, HB_F32, rows * C, "dy");
    rrms_case r = {c.o, &txin, &tadd, &tw, &txout, &ty, &trs, &tdres, &tdw, &tdxo, &tdy, rows, C};
    ou_fd f = {.c = &c, .op = "residual_rmsnorm", .fwd = rrms_fwd, .bwd = rrms_bwd, .u = &r, .max_coords = 30};
    f.in[f.n_in++] = (ou_fd_in){"x_in", &txin, xin, rows * C, &tdres, 0, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"add", &tadd, add, rows * C, &tdres, 0, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"w", &tw, w, C, &tdw, 1, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"x_out", &txout, rows * C, &tdxo, NULL};
    f.out[f.n_out++] = (ou_fd_out){"y", &ty, rows * C, &tdy, NULL};
    f.out[f.n_out++] = (ou_fd_out){"rstd", &trs, rows, NULL, NULL};
    ou_fd_check(&f);
    free(xin), free(add), free(w);
    ou_close(&c);
}
