/* kernels/ops.h loss and optimizer: masked cross-entropy (forward against double, gradient by finite differences,
 * in place, ignored rows, bad targets), global gradient norm, AdamW against a double-precision AdamW over several
 * steps (decay flag, gradient scale, bf16 params with an f32 master). */
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
    hb_tensor *z, *t, *loss, *loss2, *dz;
    int64_t rows, V;
    float scale;
} xent_case;
static void xe_fwd(void *u) {
    xent_case *x = u;
    hb_ops_xent_fwd(x->o, x->loss, x->z, x->t, x->rows, x->V);
}
static void xe_bwd(void *u) {
    xent_case *x = u;
    hb_ops_xent_fwd_bwd(x->o, x->dz, x->loss2, x->z, x->t, x->rows, x->V, x->scale);
}

Test(ops_loss, cross_entropy) {
    ou_ctx c = ou_open(2);
    const int64_t rows = 6, V = 50;
    const int32_t tg[6] = {3, -100, 49, 0, -1, 17};
    float *z = ou_randn(1, rows * V, 0, 3);
    z[2 * V + 49] = 40.0f; /* a confident row */
    hb_tensor tz = ou_from(&c, z, rows * V, "logits"), tt = ou_from_i32(&c, tg, rows, "targets"),
              tl = ou_tensor(&c, HB_F32, rows, "losses"), tl2 = ou_tensor(&c, HB_F32, rows, "losses2"),
              tdz = ou_tensor(&c, HB_F32, rows * V, "dlogits");
    const float scale = 1.0f / 4; /* 4 supervised rows */
    xent_case x = {c.o, &tz, &tt, &tl, &tl2, &tdz, rows, V, scale};
    xe_fwd(&x);
    float *l = ou_get(&c, &tl, rows);
    double ref[6];
    for (int64_t r = 0; r < rows; r++) {
        if (tg[r] < 0) {
            ref[r] = 0;
            continue;
        }
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < V; j++) m = fmax(m, z[r * V + j]);
        for (int64_t j = 0; j < V; j++) s += exp(z[r * V + j] - m);
        ref[r] = m + log(s) - z[r * V + tg[r]];
    }
    ou_expect_close("xent losses", l, ref, rows, 1e-6, 1e-6);
    float G[6];
    for (int i = 0; i < 6; i++) G[i] = scale;
    ou_fd f = {.c = &c, .op = "xent", .fwd = xe_fwd, .bwd = xe_bwd, .u = &x, .max_coords = 120};
    f.in[f.n_in++] = (ou_fd_in){"logits", &tz, z, rows * V, &tdz, 0, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"losses", &tl, rows, &tl2, G};
    ou_fd_check(&f);
    /* the fused op's losses equal the forward's; in place (d_logits == logits) equals out of place */
    xe_bwd(&x);
    float *l2 = ou_get(&c, &tl2, rows), *dz = ou_get(&c, &tdz, rows * V);
    ou_expect_closef("fwd_bwd losses", l2, l, rows, 0, 0);
    hb_ops_xent_fwd_bwd(c.o, &tz, &tl2, &tz, &tt, rows, V, scale);
    float *dz2 = ou_get(&c, &tz, rows * V);
    ou_expect_closef("in-place dlogits", dz2, dz, rows * V, 0, 0);
    for (int64_t j = 0; j < V; j++) cr_assert_eq(dz[1 * V + j], 0.0f, "ignored rows get zero gradient");
    /* a target beyond the vocabulary */
    int32_t bad[6] = {3, 50, 0, 0, 0, 0};
    hb_ops_upload(c.o, &tt, 0, bad, HB_I32, rows);
    hb_ops_xent_fwd(c.o, &tl, &tdz, &tt, rows, V);
    hb_err e;
    cr_assert_neq(hb_ops_sync(c.o, &e), 0);
    cr_assert(strstr(e.reason, "target of row 1 is 50, beyond the vocabulary (V=50)"), "%s", e.reason);
    free(l), free(l2), free(dz), free(dz2), free(z);
    ou_close(&c);
}

Test(ops_loss, grad_norm_over_tensors) {
    ou_ctx c = ou_open(2);
    const int64_t n1 = 300001, n2 = 17;
    float *a = ou_randn(10, n1, 0, 1), *b = ou_randn(11, n2, 0, 5);
    hb_tensor ta = ou_from(&c, a, n1, "a"), tb = ou_from(&c, b, n2, "b");
    const hb_tensor *tab[2] = {&ta, &tb};
    double norm, want = 0;
    hb_err e;
    cr_assert_eq(hb_ops_grad_norm(c.o, tab, 2, &norm, &e), 0);
    for (int64_t i = 0; i < n1; i++) want += (double)a[i] * a[i];
    for (int64_t i = 0; i < n2; i++) want += (double)b[i] * b[i];
    cr_assert(fabs(norm - sqrt(want)) <= 1e-12 * sqrt(want), "%.17g vs %.17g", norm, sqrt(want));
    b[3] = NAN;
    ou_set(&c, &tb, b, n2);
    cr_assert_eq(hb_ops_grad_norm(c.o, tab, 2, &norm, &e), 0);
    cr_assert(isnan(norm), "a non-finite gradient makes the norm non-finite");
    free(a), free(b);
    ou_close(&c);
}

/* One AdamW step in double (the textbook form), for comparison with the fp32 op. */
static void ref_adamw(double *p, double *m, double *v, const float *g, int64_t n, const hb_adamw_hparams *hp,
                      int decay) {
    double bc1 = 1 - pow(hp->beta1, (double)hp->step), bc2 = 1 - pow(hp->beta2, (double)hp->step);
    for (int64_t i = 0; i < n; i++) {
        double gi = (double)g[i] * hp->grad_scale;
        if (decay) p[i] *= 1 - hp->lr * hp->weight_decay;
        m[i] = hp->beta1 * m[i] + (1 - hp->beta1) * gi;
        v[i] = hp->beta2 * v[i] + (1 - hp->beta2) * gi * gi;
        p[i] -= hp->lr * (m[i] / bc1) / (sqrt(v[i] / bc2) + hp->eps);
    }
}

Test(ops_loss, adamw_matches_double_reference_over_steps) {
    ou_ctx c = ou_open(2);
    const int64_t n = 1000;
    float *p0 = ou_randn(20, n, 0, 0.5f);
    hb_tensor tp = ou_from(&c, p0, n, "p"), tg = ou_tensor(&c, HB_F32, n, "g"), tm = ou_tensor(&c, HB_F32, n, "m"),
              tv = ou_tensor(&c, HB_F32, n, "v"), tp2 = ou_from(&c, p0, n, "p_nodecay"),
              tg2 = ou_tensor(&c, HB_F32, n, "g2"), tm2 = ou_tensor(&c, HB_F32, n, "m2"),
              tv2 = ou_tensor(&c, HB_F32, n, "v2");
    double *rp = hb_xmalloc((size_t)n * sizeof(double)), *rm = hb_xcalloc((size_t)n, sizeof(double)),
           *rv = hb_xcalloc((size_t)n, sizeof(double)), *rp2 = hb_xmalloc((size_t)n * sizeof(double)),
           *rm2 = hb_xcalloc((size_t)n, sizeof(double)), *rv2 = hb_xcalloc((size_t)n, sizeof(double));
    for (int64_t i = 0; i < n; i++) rp[i] = rp2[i] = p0[i];
    for (int step = 1; step <= 5; step++) {
        float *g = ou_randn(100 + (uint64_t)step, n, 0, 1);
        ou_set(&c, &tg, g, n);
        ou_set(&c, &tg2, g, n);
        hb_adamw_hparams hp = {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.98, .eps = 1e-6, .weight_decay = 0.1,
                               .grad_scale = 0.5f, .step = step};
        hb_adamw_slot slots[2] = {{&tp, &tg, &tm, &tv, NULL, 1}, {&tp2, &tg2, &tm2, &tv2, NULL, 0}};
        hb_ops_adamw(c.o, slots, 2, &hp);
        ref_adamw(rp, rm, rv, g, n, &hp, 1);
        ref_adamw(rp2, rm2, rv2, g, n, &hp, 0);
        free(g);
    }
    float *p = ou_get(&c, &tp, n), *p2 = ou_get(&c, &tp2, n), *m = ou_get(&c, &tm, n);
    /* fp32 updates of size ~lr on O(0.5) params, five steps: a few ulps of the param */
    ou_expect_close("adamw p (decay)", p, rp, n, 1e-6, 1e-7);
    ou_expect_close("adamw p (no decay)", p2, rp2, n, 1e-6, 1e-7);
    ou_expect_close("adamw m", m, rm, n, 1e-5, 1e-7);
    int differ = 0;
    for (int64_t i = 0; i < n; i++) differ += p[i] != p2[i];
    cr_assert_gt(differ, n / 2, "the decay flag must matter");
    free(p), free(p2), free(m), free(rp), free(rm), free(rv), free(rp2), free(rm2), free(rv2), free(p0);
    ou_close(&c);
}

Test(ops_loss, adamw_master_copy_rounds_bf16_params) {
    ou_ctx c = ou_open(1);
    const int64_t n = 64;
    float *p0 = ou_randn(30, n, 0, 1), *g = ou_randn(31, n, 0, 1);
    hb_tensor tp = ou_tensor(&c, HB_BF16, n, "p_bf16"), tmaster = ou_from(&c, p0, n, "master"),
              tg = ou_from(&c, g, n, "g"), tm = ou_tensor(&c, HB_F32, n, "m"), tv = ou_tensor(&c, HB_F32, n, "v"),
              tref = ou_from(&c, p0, n, "p_ref"), tm2 = ou_tensor(&c, HB_F32, n, "m2"),
              tv2 = ou_tensor(&c, HB_F32, n, "v2");
    hb_adamw_hparams hp = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0, .grad_scale = 1,
                           .step = 1};
    hb_adamw_slot s[2] = {{&tp, &tg, &tm, &tv, &tmaster, 1}, {&tref, &tg, &tm2, &tv2, NULL, 1}};
    hb_ops_adamw(c.o, s, 2, &hp);
    float *p = ou_get(&c, &tp, n), *master = ou_get(&c, &tmaster, n), *ref = ou_get(&c, &tref, n);
    for (int64_t i = 0; i < n; i++) {
        cr_assert_eq(master[i], ref[i], "the master takes the fp32 update");
        cr_assert_eq(p[i], hb_round_bf16(ref[i]), "the bf16 param receives it rounded");
    }
    free(p), free(master), free(ref), free(p0), free(g);
    ou_close(&c);
}
