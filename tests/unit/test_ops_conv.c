/* kernels/ops.h convolutional-projector ops on channel-last [B, H, W, C]: depthwise 3×3 (zero padding 1), adaptive
 * average pooling with PyTorch's overlapping windows, SE squeeze (spatial mean) and excite (sigmoid gate): forward
 * against double references, backward by finite differences. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/opsutil.h"
#include "kernels/ops_common.h"

typedef struct {
    hb_ops *o;
    hb_tensor *x, *w, *y, *dx, *dw, *dy;
    int64_t B, H, W, C;
} dw_case;
static void dw_fwd(void *u) {
    dw_case *d = u;
    hb_ops_dwconv3x3_fwd(d->o, d->y, d->x, d->w, d->B, d->H, d->W, d->C);
}
static void dw_bwd(void *u) {
    dw_case *d = u;
    hb_ops_dwconv3x3_bwd(d->o, d->dx, d->dw, d->dy, d->x, d->w, d->B, d->H, d->W, d->C);
}

Test(ops_conv, depthwise3x3) {
    ou_ctx c = ou_open(2);
    const int64_t B = 2, H = 4, W = 5, C = 3, n = B * H * W * C;
    float *x = ou_randn(1, n, 0, 1), *w = ou_randn(2, C * 9, 0, 0.5f);
    hb_tensor tx = ou_from(&c, x, n, "x"), tw = ou_from(&c, w, C * 9, "w"), ty = ou_tensor(&c, HB_F32, n, "y"),
              tdx = ou_tensor(&c, HB_F32, n, "dx"), tdw = ou_tensor(&c, HB_F32, C * 9, "dw"),
              tdy = ou_tensor(&c, HB_F32, n, "dy");
    dw_case d = {c.o, &tx, &tw, &ty, &tdx, &tdw, &tdy, B, H, W, C};
    dw_fwd(&d);
    float *y = ou_get(&c, &ty, n);
    double ref[2 * 4 * 5 * 3];
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < H; i++)
            for (int64_t j = 0; j < W; j++)
                for (int64_t ch = 0; ch < C; ch++) {
                    double s = 0;
                    for (int a = 0; a < 3; a++)
                        for (int e = 0; e < 3; e++) {
                            int64_t ii = i + a - 1, jj = j + e - 1;
                            if (ii < 0 || ii >= H || jj < 0 || jj >= W) continue; /* zero padding */
                            s += (double)w[ch * 9 + a * 3 + e] * x[((b * H + ii) * W + jj) * C + ch];
                        }
                    ref[((b * H + i) * W + j) * C + ch] = s;
                }
    ou_expect_close("dwconv y", y, ref, n, 1e-6, 1e-6);
    ou_fd f = {.c = &c, .op = "dwconv3x3", .fwd = dw_fwd, .bwd = dw_bwd, .u = &d, .max_coords = 60};
    f.in[f.n_in++] = (ou_fd_in){"x", &tx, x, n, &tdx, 0, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"w", &tw, w, C * 9, &tdw, 1, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"y", &ty, n, &tdy, NULL};
    ou_fd_check(&f);
    free(y), free(x), free(w);
    ou_close(&c);
}

typedef struct {
    hb_ops *o;
    hb_tensor *x, *y, *dx, *dy;
    int64_t B, IH, IW, OH, OW, C;
} pool_case;
static void pl_fwd(void *u) {
    pool_case *p = u;
    hb_ops_adaptive_avgpool_fwd(p->o, p->y, p->x, p->B, p->IH, p->IW, p->OH, p->OW, p->C);
}
static void pl_bwd(void *u) {
    pool_case *p = u;
    hb_ops_adaptive_avgpool_bwd(p->o, p->dx, p->dy, p->B, p->IH, p->IW, p->OH, p->OW, p->C);
}

static void check_pool(int64_t B, int64_t IH, int64_t IW, int64_t OH, int64_t OW, int64_t C, int fd) {
    ou_ctx c = ou_open(2);
    int64_t ni = B * IH * IW * C, no = B * OH * OW * C;
    float *x = ou_randn((uint64_t)(IH * 100 + OH), ni, 0, 1);
    hb_tensor tx = ou_from(&c, x, ni, "x"), ty = ou_tensor(&c, HB_F32, no, "y"), tdx = ou_tensor(&c, HB_F32, ni, "dx"),
              tdy = ou_tensor(&c, HB_F32, no, "dy");
    pool_case p = {c.o, &tx, &ty, &tdx, &tdy, B, IH, IW, OH, OW, C};
    pl_fwd(&p);
    float *y = ou_get(&c, &ty, no);
    double *ref = hb_xmalloc((size_t)no * sizeof(double));
    for (int64_t b = 0; b < B; b++)
        for (int64_t oi = 0; oi < OH; oi++)
            for (int64_t oj = 0; oj < OW; oj++) {
                /* PyTorch: start = floor(i·n/m), end = ceil((i+1)·n/m), computed here in floating point */
                int64_t h0 = (int64_t)floor((double)oi * IH / OH), h1 = (int64_t)ceil((double)(oi + 1) * IH / OH);
                int64_t w0 = (int64_t)floor((double)oj * IW / OW), w1 = (int64_t)ceil((double)(oj + 1) * IW / OW);
                for (int64_t ch = 0; ch < C; ch++) {
                    double s = 0;
                    for (int64_t ii = h0; ii < h1; ii++)
                        for (int64_t ij = w0; ij < w1; ij++) s += x[((b * IH + ii) * IW + ij) * C + ch];
                    ref[((b * OH + oi) * OW + oj) * C + ch] = s / (double)((h1 - h0) * (w1 - w0));
                }
            }
    ou_expect_close("adaptive_avgpool y", y, ref, no, 1e-6, 1e-6);
    if (fd) {
        ou_fd f = {.c = &c, .op = "adaptive_avgpool", .fwd = pl_fwd, .bwd = pl_bwd, .u = &p, .max_coords = 80};
        f.in[f.n_in++] = (ou_fd_in){"x", &tx, x, ni, &tdx, 0, 0, 0};
        f.out[f.n_out++] = (ou_fd_out){"y", &ty, no, &tdy, NULL};
        ou_fd_check(&f);
    }
    free(y), free(ref), free(x);
    ou_close(&c);
}

Test(ops_conv, pool_windows_match_the_spec) {
    /* spec-model.md §3.6: 16 -> 12 windows [0,2) [1,3) [2,4) [4,6) ... ; 24 -> 16 [0,2) [1,3) [3,5) ... */
    const int64_t s12[12] = {0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14};
    for (int64_t i = 0; i < 12; i++) {
        cr_assert_eq(hb_pool_start(i, 16, 12), s12[i]);
        cr_assert_eq(hb_pool_end(i, 16, 12), s12[i] + 2);
    }
    const int64_t s16[16] = {0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16, 18, 19, 21, 22};
    for (int64_t i = 0; i < 16; i++) {
        cr_assert_eq(hb_pool_start(i, 24, 16), s16[i]);
        cr_assert_eq(hb_pool_end(i, 24, 16), s16[i] + 2);
    }
    for (int64_t i = 0; i < 12; i++) cr_assert_eq(hb_pool_end(i, 24, 12) - hb_pool_start(i, 24, 12), 2);
}
Test(ops_conv, pool_16_to_12_overlapping) { check_pool(2, 16, 16, 12, 12, 3, 1); }
Test(ops_conv, pool_uneven_and_identity) {
    check_pool(1, 5, 7, 3, 4, 2, 1);  /* non-square, windows of 2 and 3 */
    check_pool(2, 4, 4, 3, 3, 4, 1);  /* the tiny test preset: 4×4 -> 3×3 */
    check_pool(1, 6, 6, 6, 6, 3, 0);  /* identity */
    check_pool(1, 24, 24, 16, 16, 2, 0);
}

typedef struct {
    hb_ops *o;
    hb_tensor *x, *u, *s, *y, *dx, *du, *ds, *dy;
    int64_t B, HW, C;
} se_case;
static void sm_fwd(void *p) {
    se_case *s = p;
    hb_ops_spatial_mean_fwd(s->o, s->s, s->x, s->B, s->HW, s->C);
}
static void sm_bwd(void *p) {
    se_case *s = p;
    hb_ops_spatial_mean_bwd(s->o, s->dx, s->ds, s->B, s->HW, s->C, 0);
}
static void sg_fwd(void *p) {
    se_case *s = p;
    hb_ops_se_gate_fwd(s->o, s->y, s->x, s->u, s->B, s->HW, s->C);
}
static void sg_bwd(void *p) {
    se_case *s = p;
    hb_ops_se_gate_bwd(s->o, s->dx, s->du, s->dy, s->x, s->u, s->B, s->HW, s->C);
}

Test(ops_conv, squeeze_excite) {
    ou_ctx c = ou_open(2);
    const int64_t B = 2, HW = 6, C = 5, n = B * HW * C;
    float *x = ou_randn(50, n, 0, 1), *u = ou_randn(51, B * C, 0, 2);
    hb_tensor tx = ou_from(&c, x, n, "x"), tu = ou_from(&c, u, B * C, "u"), ts = ou_tensor(&c, HB_F32, B * C, "s"),
              ty = ou_tensor(&c, HB_F32, n, "y"), tdx = ou_tensor(&c, HB_F32, n, "dx"),
              tdu = ou_tensor(&c, HB_F32, B * C, "du"), tds = ou_tensor(&c, HB_F32, B * C, "ds"),
              tdy = ou_tensor(&c, HB_F32, n, "dy");
    se_case s = {c.o, &tx, &tu, &ts, &ty, &tdx, &tdu, &tds, &tdy, B, HW, C};
    sm_fwd(&s);
    sg_fwd(&s);
    float *sm = ou_get(&c, &ts, B * C), *y = ou_get(&c, &ty, n);
    double rs[10], ry[60];
    for (int64_t b = 0; b < B; b++)
        for (int64_t ch = 0; ch < C; ch++) {
            double acc = 0, g = 1 / (1 + exp(-(double)u[b * C + ch]));
            for (int64_t p = 0; p < HW; p++) {
                acc += x[(b * HW + p) * C + ch];
                ry[(b * HW + p) * C + ch] = x[(b * HW + p) * C + ch] * g;
            }
            rs[b * C + ch] = acc / HW;
        }
    ou_expect_close("spatial mean", sm, rs, B * C, 1e-6, 1e-7);
    ou_expect_close("se gate", y, ry, n, 5e-7, 1e-7);
    ou_fd f1 = {.c = &c, .op = "spatial_mean", .fwd = sm_fwd, .bwd = sm_bwd, .u = &s};
    f1.in[f1.n_in++] = (ou_fd_in){"x", &tx, x, n, &tdx, 0, 0, 0};
    f1.out[f1.n_out++] = (ou_fd_out){"s", &ts, B * C, &tds, NULL};
    ou_fd_check(&f1);
    ou_fd f2 = {.c = &c, .op = "se_gate", .fwd = sg_fwd, .bwd = sg_bwd, .u = &s};
    f2.in[f2.n_in++] = (ou_fd_in){"x", &tx, x, n, &tdx, 0, 0, 0};
    f2.in[f2.n_in++] = (ou_fd_in){"u", &tu, u, B * C, &tdu, 0, 0, 0};
    f2.out[f2.n_out++] = (ou_fd_out){"y", &ty, n, &tdy, NULL};
    ou_fd_check(&f2);
    free(sm), free(y), free(x), free(u);
    ou_close(&c);
}
