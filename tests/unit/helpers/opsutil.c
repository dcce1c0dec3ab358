#include "opsutil.h"

#include "core/core.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BYTES (64LL << 20)

ou_ctx ou_open(int threads) {
    ou_ctx c;
    hb_err e;
    hb_ops_opts opts = {.threads = threads};
    c.o = hb_ops_open("cpu", &opts, &e);
    cr_assert(c.o, "hb_ops_open: %s", e.reason);
    c.a = hb_ops_arena_new(c.o, "test", ARENA_BYTES, &e);
    cr_assert(c.a, "arena: %s", e.reason);
    return c;
}

void ou_close(ou_ctx *c) {
    hb_ops_close(c->o);
    c->o = NULL;
}

void ou_ok(ou_ctx *c, const char *where) {
    hb_err e;
    hb_err_clear(&e);
    int rc = hb_ops_sync(c->o, &e);
    cr_assert_eq(rc, 0, "%s: sticky error: %s", where, e.reason);
}

hb_tensor ou_tensor(ou_ctx *c, hb_dtype dt, int64_t n, const char *name) {
    hb_tensor t;
    hb_err e;
    cr_assert_eq(hb_ops_alloc(c->a, &t, dt, n, name, &e), 0, "alloc %s: %s", name, e.reason);
    return t;
}

hb_tensor ou_from(ou_ctx *c, const float *data, int64_t n, const char *name) {
    hb_tensor t = ou_tensor(c, HB_F32, n, name);
    hb_ops_upload(c->o, &t, 0, data, HB_F32, n);
    ou_ok(c, name);
    return t;
}

hb_tensor ou_from_i32(ou_ctx *c, const int32_t *data, int64_t n, const char *name) {
    hb_tensor t = ou_tensor(c, HB_I32, n, name);
    hb_ops_upload(c->o, &t, 0, data, HB_I32, n);
    ou_ok(c, name);
    return t;
}

void ou_set(ou_ctx *c, const hb_tensor *t, const float *data, int64_t n) { hb_ops_upload(c->o, t, 0, data, HB_F32, n); }

float *ou_get(ou_ctx *c, const hb_tensor *t, int64_t n) {
    float *p = hb_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    hb_err e;
    hb_err_clear(&e);
    int rc = hb_ops_download(c->o, p, HB_F32, t, 0, n, &e);
    cr_assert_eq(rc, 0, "download %s: %s", t->name, e.reason);
    return p;
}

static uint64_t seed_key(uint64_t seed) { return hb_mix64(seed ^ 0x6f70735f74657374ULL); }

float *ou_randn(uint64_t seed, int64_t n, float mean, float std) {
    hb_rng r = hb_rng_make(seed_key(seed), 1);
    float *p = hb_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = hb_rng_uniform(&r), u2 = hb_rng_uniform(&r);
        if (u1 < 1e-300) u1 = 1e-300;
        double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
        p[i] = (float)(mean + std * rad * cos(th));
        if (i + 1 < n) p[i + 1] = (float)(mean + std * rad * sin(th));
    }
    return p;
}

float *ou_uniform(uint64_t seed, int64_t n, float lo, float hi) {
    hb_rng r = hb_rng_make(seed_key(seed), 2);
    float *p = hb_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * hb_rng_uniform(&r));
    return p;
}

int32_t *ou_randint(uint64_t seed, int64_t n, int32_t lo, int32_t hi) {
    hb_rng r = hb_rng_make(seed_key(seed), 3);
    int32_t *p = hb_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) p[i] = lo + (int32_t)hb_rng_below(&r, (uint64_t)(hi - lo));
    return p;
}

static void expect_close(const char *what, const float *got, const double *wd, const float *wf, int64_t n, double rtol,
                         double atol) {
    int64_t worst = -1, bad = 0;
    double worst_ratio = 0;
    for (int64_t i = 0; i < n; i++) {
        double w = wd ? wd[i] : wf[i], d = fabs((double)got[i] - w), tol = atol + rtol * fabs(w);
        double ratio = isnan(got[i]) || isnan(w) ? INFINITY : d / tol;
        if (ratio > 1) bad++;
        if (ratio > worst_ratio || worst < 0) {
            worst_ratio = ratio;
            worst = i;
        }
    }
    if (n > 0)
        cr_assert_eq(bad, 0, "%s: %lld of %lld elements outside |d| <= %g + %g|ref|; worst [%lld] got %.9g want %.9g "
                             "(%.0f%% of tolerance)",
                     what, (long long)bad, (long long)n, atol, rtol, (long long)worst, (double)got[worst],
                     wd ? wd[worst] : (double)wf[worst], 100 * worst_ratio);
}

void ou_expect_close(const char *what, const float *got, const double *want, int64_t n, double rtol, double atol) {
    expect_close(what, got, want, NULL, n, rtol, atol);
}

void ou_expect_closef(const char *what, const float *got, const float *want, int64_t n, double rtol, double atol) {
    expect_close(what, got, NULL, want, n, rtol, atol);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Finite differences
 * ------------------------------------------------------------------------------------------------------------- */
#define U32 5.9604644775390625e-8 /* 2^-24 */

static void upload_inputs(ou_fd *f) {
    for (int i = 0; i < f->n_in; i++) hb_ops_upload(f->c->o, f->in[i].t, 0, f->in[i].host, HB_F32, f->in[i].n);
}

/* L = Σ G·y over the outputs in L; also R² over elements that differ from y0 (when y0 given). */
static double eval_L(ou_fd *f, float **G, float **y0, double *r2) {
    upload_inputs(f);
    f->fwd(f->u);
    ou_ok(f->c, f->op);
    double L = 0;
    for (int k = 0; k < f->n_out; k++) {
        if (!f->out[k].grad) continue;
        float *y = ou_get(f->c, f->out[k].t, f->out[k].n);
        for (int64_t e = 0; e < f->out[k].n; e++) {
            L += (double)G[k][e] * y[e];
            if (r2 && y[e] != y0[k][e]) *r2 += ((double)G[k][e] * y0[k][e]) * ((double)G[k][e] * y0[k][e]);
        }
        free(y);
    }
    return L;
}

double ou_fd_check(ou_fd *f) {
    ou_ctx *c = f->c;
    uint64_t seed = f->seed ? f->seed : hb_hash_str(f->op, 7);
    float *G[6] = {0}, *y0[6] = {0}, *an[8] = {0};
    /* 1. forward at the base point */
    upload_inputs(f);
    f->fwd(f->u);
    ou_ok(c, f->op);
    for (int k = 0; k < f->n_out; k++) {
        y0[k] = ou_get(c, f->out[k].t, f->out[k].n);
        G[k] = f->out[k].G ? NULL : ou_randn(seed + 17 * (uint64_t)k, f->out[k].n, 0, 1);
        if (f->out[k].G) {
            G[k] = hb_xmalloc((size_t)f->out[k].n * sizeof(float));
            memcpy(G[k], f->out[k].G, (size_t)f->out[k].n * sizeof(float));
        }
    }
    /* 2. analytic gradients (twice: += must double, = must repeat exactly) */
    int any_in_place = 0;
    for (int run = 0; run < 2; run++) {
        if (run == 1 && any_in_place) break;
        for (int i = 0; i < f->n_in; i++) {
            ou_fd_in *in = &f->in[i];
            if (!in->grad) continue;
            any_in_place |= in->in_place;
            if (in->in_place || run == 1) continue;
            if (in->accumulates) {
                hb_ops_zero(c->o, in->grad);
            } else {
                float *nan_ = hb_xmalloc((size_t)in->n * sizeof(float));
                for (int64_t j = 0; j < in->n; j++) nan_[j] = NAN;
                ou_set(c, in->grad, nan_, in->n);
                free(nan_);
            }
        }
        for (int k = 0; k < f->n_out; k++)
            if (f->out[k].grad) ou_set(c, f->out[k].grad, G[k], f->out[k].n);
        f->bwd(f->u);
        ou_ok(c, f->op);
        for (int i = 0; i < f->n_in; i++) {
            ou_fd_in *in = &f->in[i];
            if (!in->grad) continue;
            float *g = ou_get(c, in->grad, in->n);
            if (run == 0) {
                for (int64_t j = 0; j < in->n; j++)
                    cr_assert(!isnan(g[j]), "%s: d%s[%lld] was not written by the backward (still NaN)", f->op,
                              in->name, (long long)j);
                an[i] = g;
                continue;
            }
            /* = : bitwise the same again. += : twice the first result, up to the rounding of ops that add their
             * contributions one by one (scatter-adds): 1e-6 of the tensor's largest gradient. */
            double amax = 0;
            for (int64_t j = 0; j < in->n; j++) amax = fmax(amax, fabs(an[i][j]));
            for (int64_t j = 0; j < in->n; j++) {
                float want = in->accumulates ? an[i][j] + an[i][j] : an[i][j];
                double slack = in->accumulates ? 1e-6 * amax : 0;
                cr_assert(fabs((double)g[j] - want) <= slack,
                          "%s: d%s[%lld] after a second backward is %.9g, expected %.9g (%s)", f->op, in->name,
                          (long long)j, (double)g[j], (double)want,
                          in->accumulates ? "+= must accumulate" : "= must overwrite, deterministically");
            }
            free(g);
        }
    }
    /* 3. finite differences. Resolution floor: a change smaller than one ulp of the largest G·y term cannot show in
     * L at all, so gradients below (18/12h)·u·max|G·y| are not resolvable (e.g. a key that only an exponentially
     * small attention weight sees). */
    double worst = 0, gymax = 0;
    for (int k = 0; k < f->n_out; k++)
        for (int64_t e = 0; f->out[k].grad && e < f->out[k].n; e++) gymax = fmax(gymax, fabs((double)G[k][e] * y0[k][e]));
    hb_rng r = hb_rng_make(seed, 99);
    int maxc = f->max_coords > 0 ? f->max_coords : 40;
    for (int i = 0; i < f->n_in; i++) {
        ou_fd_in *in = &f->in[i];
        if (!in->grad) continue;
        double h = in->h > 0 ? in->h : 0.0078125; /* 2^-7: x ± h, x ± 2h are exact for |x| < 2^16 */
        int64_t nc = in->n <= maxc ? in->n : maxc;
        for (int64_t s = 0; s < nc; s++) {
            int64_t j = in->n <= maxc ? s : (int64_t)hb_rng_below(&r, (uint64_t)in->n);
            float x0 = in->host[j];
            double Lv[4], r2 = 0;
            const double off[4] = {2 * h, h, -h, -2 * h};
            for (int q = 0; q < 4; q++) {
                in->host[j] = (float)(x0 + off[q]);
                Lv[q] = eval_L(f, G, y0, q == 1 ? &r2 : NULL);
            }
            in->host[j] = x0;
            double fd = (8 * (Lv[1] - Lv[2]) - (Lv[0] - Lv[3])) / (12 * h); /* differences first: exact 0 if flat */
            double a = an[i][j];
            double atol = (18.0 / (12.0 * h)) * U32 * (8 * sqrt(r2) + gymax) + 1e-30;
            double tol = 2e-3 * fmax(fabs(a), fabs(fd)) + atol;
            double ratio = fabs(fd - a) / tol;
            if (ratio > worst) worst = ratio;
            cr_assert(ratio <= 1, "%s: d%s[%lld]: analytic %.9g vs finite difference %.9g (|diff| %.3g > tol %.3g; "
                                  "atol %.3g)",
                      f->op, in->name, (long long)j, a, fd, fabs(fd - a), tol, atol);
        }
    }
    upload_inputs(f);
    for (int k = 0; k < 6; k++) {
        free(G[k]);
        free(y0[k]);
    }
    for (int i = 0; i < 8; i++) free(an[i]);
    return worst;
}
