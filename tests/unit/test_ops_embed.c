/* kernels/ops.h row movement: token embedding with the visual splice, row gather, CLIP im2col and embeddings, the
 * projector's positional-embedding add (CLS dropped): exact forward semantics, gradients by finite differences,
 * index errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/opsutil.h"

typedef struct {
    hb_ops *o;
    hb_tensor *x, *table, *visual, *src, *dx, *dtable, *dvisual;
    int64_t rows, C, V, nv;
} emb_case;
static void emb_fwd(void *u) {
    emb_case *e = u;
    hb_ops_embed_fwd(e->o, e->x, e->table, e->visual, e->src, e->rows, e->C, e->V, e->nv);
}
static void emb_bwd(void *u) {
    emb_case *e = u;
    hb_ops_embed_bwd(e->o, e->dtable, e->dvisual, e->dx, e->src, e->rows, e->C, e->V, e->nv);
}

Test(ops_embed, embedding_with_visual_splice) {
    ou_ctx c = ou_open(2);
    /* two sequences of 8: [BOS, img×3, w, w, EOS, pad] and [BOS, w, img×3, w, w, w]; repeated ids 5 and 0 */
    const int64_t rows = 16, C = 6, V = 10, nv = 6;
    const int32_t ids[16] = {1, -1, -1, -1, 5, 7, 2, 0, 1, 5, -1, -1, -1, 5, 9, 0};
    int32_t src[16];
    for (int64_t r = 0, k = 0; r < rows; r++) src[r] = ids[r] >= 0 ? ids[r] : (int32_t)(-1 - k++);
    float *table = ou_randn(1, V * C, 0, 1), *vis = ou_randn(2, nv * C, 0, 1);
    hb_tensor tt = ou_from(&c, table, V * C, "table"), tv = ou_from(&c, vis, nv * C, "visual"),
              ts = ou_from_i32(&c, src, rows, "src"), tx = ou_tensor(&c, HB_F32, rows * C, "x"),
              tdx = ou_tensor(&c, HB_F32, rows * C, "dx"), tdt = ou_tensor(&c, HB_F32, V * C, "dtable"),
              tdv = ou_tensor(&c, HB_F32, nv * C, "dvisual");
    emb_case e = {c.o, &tx, &tt, &tv, &ts, &tdx, &tdt, &tdv, rows, C, V, nv};
    emb_fwd(&e);
    float *x = ou_get(&c, &tx, rows * C);
    for (int64_t r = 0; r < rows; r++) {
        const float *want = src[r] >= 0 ? table + src[r] * C : vis + (-1 - src[r]) * C;
        cr_assert_eq(memcmp(x + r * C, want, (size_t)C * 4), 0, "row %lld", (long long)r);
    }
    /* backward: placeholders send nothing to the table (row 0 gets only the real pad tokens) */
    float *dx = ou_randn(3, rows * C, 0, 1);
    ou_set(&c, &tdx, dx, rows * C);
    hb_ops_zero(c.o, &tdt);
    emb_bwd(&e);
    float *dt = ou_get(&c, &tdt, V * C), *dv = ou_get(&c, &tdv, nv * C);
    for (int64_t v = 0; v < V; v++)
        for (int64_t j = 0; j < C; j++) {
            float s = 0;
            for (int64_t r = 0; r < rows; r++)
                if (src[r] == v) s += dx[r * C + j]; /* row order, as documented */
            cr_assert_eq(dt[v * C + j], s, "dtable[%lld,%lld]", (long long)v, (long long)j);
        }
    for (int64_t r = 0; r < rows; r++)
        if (src[r] < 0) cr_assert_eq(memcmp(dv + (-1 - src[r]) * C, dx + r * C, (size_t)C * 4), 0);
    ou_fd f = {.c = &c, .op = "embed", .fwd = emb_fwd, .bwd = emb_bwd, .u = &e};
    f.in[f.n_in++] = (ou_fd_in){"table", &tt, table, V * C, &tdt, 1, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"visual", &tv, vis, nv * C, &tdv, 0, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"x", &tx, rows * C, &tdx, NULL};
    ou_fd_check(&f);
    /* out-of-range sources are errors naming the row */
    hb_err err;
    src[4] = 10;
    hb_ops_upload(c.o, &ts, 0, src, HB_I32, rows);
    hb_ops_embed_fwd(c.o, &tx, &tt, &tv, &ts, rows, C, V, nv);
    cr_assert_neq(hb_ops_sync(c.o, &err), 0);
    cr_assert(strstr(err.reason, "source of row 4 is 10: token id >= vocabulary size"), "%s", err.reason);
    hb_ops_reset_error(c.o);
    src[4] = -7;
    hb_ops_upload(c.o, &ts, 0, src, HB_I32, rows);
    hb_ops_embed_bwd(c.o, &tdt, &tdv, &tdx, &ts, rows, C, V, nv);
    cr_assert_neq(hb_ops_sync(c.o, &err), 0);
    cr_assert(strstr(err.reason, "visual row beyond"), "%s", err.reason);
    free(x), free(dx), free(dt), free(dv), free(table), free(vis);
    ou_close(&c);
}

typedef struct {
    hb_ops *o;
    hb_tensor *in, *out, *idx, *din, *dout;
    int64_t n, C, in_rows;
} gather_case;
static void ga_fwd(void *u) {
    gather_case *g = u;
    hb_ops_gather_rows(g->o, g->out, g->in, g->idx, g->n, g->C, g->in_rows);
}
static void ga_bwd(void *u) {
    gather_case *g = u;
    hb_ops_gather_rows_bwd(g->o, g->din, g->dout, g->idx, g->n, g->C, g->in_rows);
}

Test(ops_embed, gather_rows) {
    ou_ctx c = ou_open(2);
    const int64_t in_rows = 9, n = 6, C = 5;
    const int32_t idx[6] = {8, 0, 3, 3, 7, 0};
    float *in = ou_randn(10, in_rows * C, 0, 1);
    hb_tensor ti = ou_from(&c, in, in_rows * C, "in"), to = ou_tensor(&c, HB_F32, n * C, "out"),
              tx = ou_from_i32(&c, idx, n, "idx"), tdi = ou_tensor(&c, HB_F32, in_rows * C, "din"),
              tdo = ou_tensor(&c, HB_F32, n * C, "dout");
    gather_case g = {c.o, &ti, &to, &tx, &tdi, &tdo, n, C, in_rows};
    ga_fwd(&g);
    float *o = ou_get(&c, &to, n * C);
    for (int64_t i = 0; i < n; i++) cr_assert_eq(memcmp(o + i * C, in + idx[i] * C, (size_t)C * 4), 0);
    ou_fd f = {.c = &c, .op = "gather_rows", .fwd = ga_fwd, .bwd = ga_bwd, .u = &g};
    f.in[f.n_in++] = (ou_fd_in){"in", &ti, in, in_rows * C, &tdi, 1, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"out", &to, n * C, &tdo, NULL};
    ou_fd_check(&f);
    int32_t bad[6] = {0, 1, 2, 9, 0, 0};
    hb_ops_upload(c.o, &tx, 0, bad, HB_I32, n);
    hb_ops_gather_rows(c.o, &to, &ti, &tx, n, C, in_rows);
    hb_err e;
    cr_assert_neq(hb_ops_sync(c.o, &e), 0);
    cr_assert(strstr(e.reason, "idx[3] = 9 is outside [0, 9)"), "%s", e.reason);
    free(o), free(in);
    ou_close(&c);
}

typedef struct {
    hb_ops *o;
    hb_tensor *pix, *cols, *dpix, *dcols;
    int64_t B, Cin, S, P;
} im2col_case;
static void ic_fwd(void *u) {
    im2col_case *i = u;
    hb_ops_im2col_patches(i->o, i->cols, i->pix, i->B, i->Cin, i->S, i->P);
}
static void ic_bwd(void *u) {
    im2col_case *i = u;
    hb_ops_im2col_patches_bwd(i->o, i->dpix, i->dcols, i->B, i->Cin, i->S, i->P);
}

Test(ops_embed, im2col_matches_conv2d_weight_flattening) {
    ou_ctx c = ou_open(2);
    const int64_t B = 2, Cin = 3, S = 16, P = 4, G = S / P, N = G * G, K = Cin * P * P, n = B * Cin * S * S;
    float *pix = ou_randn(20, n, 0, 1);
    hb_tensor tp = ou_from(&c, pix, n, "pixels"), tc = ou_tensor(&c, HB_F32, n, "cols"),
              tdp = ou_tensor(&c, HB_F32, n, "dpix"), tdc = ou_tensor(&c, HB_F32, n, "dcols");
    im2col_case ic = {c.o, &tp, &tc, &tdp, &tdc, B, Cin, S, P};
    ic_fwd(&ic);
    float *cols = ou_get(&c, &tc, n);
    for (int64_t b = 0; b < B; b++)
        for (int64_t py = 0; py < G; py++)
            for (int64_t px = 0; px < G; px++)
                for (int64_t ch = 0; ch < Cin; ch++)
                    for (int64_t ky = 0; ky < P; ky++)
                        for (int64_t kx = 0; kx < P; kx++)
                            cr_assert_eq(cols[(b * N + py * G + px) * K + (ch * P + ky) * P + kx],
                                         pix[((b * Cin + ch) * S + py * P + ky) * S + px * P + kx]);
    ou_fd f = {.c = &c, .op = "im2col_patches", .fwd = ic_fwd, .bwd = ic_bwd, .u = &ic};
    f.in[f.n_in++] = (ou_fd_in){"pixels", &tp, pix, n, &tdp, 0, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"cols", &tc, n, &tdc, NULL};
    ou_fd_check(&f);
    free(cols), free(pix);
    ou_close(&c);
}

typedef struct {
    hb_ops *o;
    hb_tensor *x, *patches, *cls, *pos, *dx, *dpatches, *dcls, *dpos;
    int64_t B, N, C;
} vit_case;
static void ve_fwd(void *u) {
    vit_case *v = u;
    hb_ops_vit_embed_fwd(v->o, v->x, v->patches, v->cls, v->pos, v->B, v->N, v->C);
}
static void ve_bwd(void *u) {
    vit_case *v = u;
    hb_ops_vit_embed_bwd(v->o, v->dpatches, v->dcls, v->dpos, v->dx, v->B, v->N, v->C);
}

Test(ops_embed, vit_embeddings) {
    ou_ctx c = ou_open(2);
    const int64_t B = 3, N = 4, C = 5;
    float *pa = ou_randn(30, B * N * C, 0, 1), *cls = ou_randn(31, C, 0, 1), *pos = ou_randn(32, (N + 1) * C, 0, 1);
    hb_tensor tpa = ou_from(&c, pa, B * N * C, "patches"), tc = ou_from(&c, cls, C, "cls"),
              tpo = ou_from(&c, pos, (N + 1) * C, "pos"), tx = ou_tensor(&c, HB_F32, B * (N + 1) * C, "x"),
              tdx = ou_tensor(&c, HB_F32, B * (N + 1) * C, "dx"), tdpa = ou_tensor(&c, HB_F32, B * N * C, "dpatches"),
              tdc = ou_tensor(&c, HB_F32, C, "dcls"), tdpo = ou_tensor(&c, HB_F32, (N + 1) * C, "dpos");
    vit_case v = {c.o, &tx, &tpa, &tc, &tpo, &tdx, &tdpa, &tdc, &tdpo, B, N, C};
    ve_fwd(&v);
    float *x = ou_get(&c, &tx, B * (N + 1) * C);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t <= N; t++)
            for (int64_t j = 0; j < C; j++)
                cr_assert_eq(x[(b * (N + 1) + t) * C + j], (t ? pa[(b * N + t - 1) * C + j] : cls[j]) + pos[t * C + j]);
    ou_fd f = {.c = &c, .op = "vit_embed", .fwd = ve_fwd, .bwd = ve_bwd, .u = &v};
    f.in[f.n_in++] = (ou_fd_in){"patches", &tpa, pa, B * N * C, &tdpa, 0, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"cls", &tc, cls, C, &tdc, 1, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"pos", &tpo, pos, (N + 1) * C, &tdpo, 1, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"x", &tx, B * (N + 1) * C, &tdx, NULL};
    ou_fd_check(&f);
    free(x), free(pa), free(cls), free(pos);
    ou_close(&c);
}

typedef struct {
    hb_ops *o;
    hb_tensor *x, *pos, *out, *dx, *dpos, *dout;
    int64_t B, N, C, skip;
} pe_case;
static void pe_fwd(void *u) {
    pe_case *p = u;
    hb_ops_posemb_add_fwd(p->o, p->out, p->x, p->pos, p->B, p->N, p->C, p->skip);
}
static void pe_bwd(void *u) {
    pe_case *p = u;
    hb_ops_posemb_add_bwd(p->o, p->dx, p->dpos, p->dout, p->B, p->N, p->C, p->skip);
}

Test(ops_embed, projector_posemb_drops_cls) {
    ou_ctx c = ou_open(2);
    const int64_t B = 2, N = 9, C = 4, skip = 1;
    float *x = ou_randn(40, B * (N + skip) * C, 0, 1), *pos = ou_randn(41, N * C, 0, 1);
    hb_tensor tx = ou_from(&c, x, B * (N + skip) * C, "x"), tp = ou_from(&c, pos, N * C, "pos"),
              to = ou_tensor(&c, HB_F32, B * N * C, "out"), tdx = ou_tensor(&c, HB_F32, B * (N + skip) * C, "dx"),
              tdp = ou_tensor(&c, HB_F32, N * C, "dpos"), tdo = ou_tensor(&c, HB_F32, B * N * C, "dout");
    pe_case p = {c.o, &tx, &tp, &to, &tdx, &tdp, &tdo, B, N, C, skip};
    pe_fwd(&p);
    float *o = ou_get(&c, &to, B * N * C);
    for (int64_t b = 0; b < B; b++)
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < C; j++)
                cr_assert_eq(o[(b * N + n) * C + j], x[(b * (N + 1) + 1 + n) * C + j] + pos[n * C + j]);
    ou_fd f = {.c = &c, .op = "posemb_add", .fwd = pe_fwd, .bwd = pe_bwd, .u = &p};
    f.in[f.n_in++] = (ou_fd_in){"x", &tx, x, B * (N + skip) * C, &tdx, 0, 0, 0};
    f.in[f.n_in++] = (ou_fd_in){"pos", &tp, pos, N * C, &tdp, 1, 0, 0};
    f.out[f.n_out++] = (ou_fd_out){"out", &to, B * N * C, &tdo, NULL};
    ou_fd_check(&f);
    free(o), free(x), free(pos);
    ou_close(&c);
}
