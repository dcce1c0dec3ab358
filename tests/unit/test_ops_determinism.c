/* kernels/ops.h determinism: every op, forward and backward, at shapes large enough to engage OpenMP and OpenBLAS
 * threading, gives bitwise-identical results with 1, 2, 3 and 4 threads (and when run twice). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/opsutil.h"

/* Runs a chain of every op with `threads` threads on seeded inputs; returns the XXH3 of all their outputs. */
static uint64_t run_everything(int threads) {
    ou_ctx c = ou_open(threads);
    hb_ops *o = c.o;
    hb_err e;
    const int64_t rows = 384, C = 96, I = 160, V = 700, B = 2, T = 192, H = 3, D = 32, HW = 64, S = 32, P = 8;
    uint64_t h = 0;
#define T32(name, n) ou_tensor(&c, HB_F32, (n), name)
#define HASH(t, n)                                                                                                    \
    do {                                                                                                              \
        float *p_ = ou_get(&c, &(t), (n));                                                                           \
        h = hb_hash64(p_, (size_t)(n) * 4, h);                                                                       \
        free(p_);                                                                                                     \
    } while (0)
    float *x = ou_randn(1, rows * I * 4, 0, 1), *w = ou_randn(2, I * 2 * C, 0, 0.1f), *g = ou_randn(3, 2 * I, 1, 0.1f);
    hb_tensor tx = ou_from(&c, x, rows * C, "x"), tw = ou_from(&c, w, I * 2 * C, "w"), tb = ou_from(&c, g, 2 * I, "b");
    hb_tensor tab = T32("ab", rows * 2 * I), tm = T32("m", rows * I), tdab = T32("dab", rows * 2 * I),
              tdx = T32("dx", rows * C), tdw = T32("dw", 2 * I * C), tdb = T32("db", 2 * I);
    /* linear + swiglu fwd/bwd */
    hb_ops_linear_fwd(o, &tab, &tx, &tw, &tb, rows, 2 * I, C, 0);
    hb_ops_swiglu_fwd(o, &tm, &tab, rows, I);
    hb_ops_swiglu_bwd(o, &tdab, &tm, &tab, rows, I);
    hb_ops_linear_bwd_data(o, &tdx, &tdab, &tw, rows, 2 * I, C, 0);
    hb_ops_linear_bwd_weight(o, &tdw, &tdb, &tdab, &tx, rows, 2 * I, C);
    HASH(tab, rows * 2 * I);
    HASH(tdx, rows * C);
    HASH(tdw, 2 * I * C);
    HASH(tdb, 2 * I);
    /* norms */
    hb_tensor tg = ou_from(&c, g, C, "g"), tbe = ou_from(&c, g + C, C, "beta"), ty = T32("y", rows * C),
              tmean = T32("mean", rows), trs = T32("rstd", rows), tdg = T32("dg", C), tdbe = T32("dbe", C),
              tres = ou_from(&c, x + rows * C, rows * C, "res"), tdres = T32("dres", rows * C),
              tdm = ou_from(&c, x + 2 * rows * C, (rows / HW) * C, "dmean");
    hb_ops_layernorm_fwd(o, &ty, &tmean, &trs, &tx, &tg, &tbe, &tres, rows, C, 1e-5f, HB_ACT_SILU);
    hb_ops_layernorm_bwd(o, &tdx, &tdres, &tdg, &tdbe, &tab, &tdm, HW, &tx, &tmean, &trs, &tg, &tbe, &tres, rows, C,
                         HB_ACT_SILU, 0);
    HASH(ty, rows * C);
    HASH(tdx, rows * C);
    HASH(tdg, C);
    HASH(tdbe, C);
    hb_ops_rmsnorm_fwd(o, &ty, &trs, &tx, &tg, rows, C, 1e-5f);
    hb_ops_rmsnorm_bwd(o, &tdx, &tdg, &tab, &tx, &trs, &tg, rows, C, 1);
    HASH(ty, rows * C);
    HASH(tdx, rows * C);
    HASH(tdg, C);
    /* attention + rope */
    cr_assert_eq(hb_ops_attn_prepare(o, B, T, H, D, 1, &e), 0);
    int64_t nq = B * T * 3 * H * D, no = B * T * H * D;
    hb_tensor tq = ou_from(&c, x, nq, "qkv"), to = T32("o", no), tl = T32("lse", B * H * T), tdq = T32("dqkv", nq),
              tdo = ou_from(&c, x + nq, no, "dout");
    hb_ops_rope_fwd(o, &tq, NULL, B, T, H, D, 10000.0f);
    hb_ops_attn_fwd(o, &to, &tl, &tq, NULL, B, T, H, D, 0.17f, 1);
    hb_ops_attn_bwd(o, &tdq, &tdo, &to, &tl, &tq, NULL, B, T, H, D, 0.17f, 1);
    hb_ops_rope_bwd(o, &tdq, NULL, B, T, H, D, 10000.0f);
    HASH(to, no);
    HASH(tl, B * H * T);
    HASH(tdq, nq);
    /* projector ops: B2 images of 8×8 pixels, C channels */
    int64_t np = B * HW * C;
    hb_tensor tpx = ou_from(&c, x, np, "px"), tdw9 = ou_from(&c, w, C * 9, "dw9"), tpy = T32("py", np),
              tpd = T32("pd", np), tdw9g = T32("dw9g", C * 9), tpool = T32("pool", B * 36 * C),
              tsm = T32("sm", B * C), tu = ou_from(&c, g, B * C, "u"), tdu = T32("du", B * C);
    hb_ops_dwconv3x3_fwd(o, &tpy, &tpx, &tdw9, B, 8, 8, C);
    hb_ops_dwconv3x3_bwd(o, &tpd, &tdw9g, &tpy, &tpx, &tdw9, B, 8, 8, C);
    HASH(tpy, np);
    HASH(tpd, np);
    HASH(tdw9g, C * 9);
    hb_ops_adaptive_avgpool_fwd(o, &tpool, &tpx, B, 8, 8, 6, 6, C);
    hb_ops_adaptive_avgpool_bwd(o, &tpd, &tpool, B, 8, 8, 6, 6, C);
    HASH(tpool, B * 36 * C);
    HASH(tpd, np);
    hb_ops_spatial_mean_fwd(o, &tsm, &tpx, B, HW, C);
    hb_ops_se_gate_fwd(o, &tpy, &tpx, &tu, B, HW, C);
    hb_ops_se_gate_bwd(o, &tpd, &tdu, &tpy, &tpx, &tu, B, HW, C);
    HASH(tsm, B * C);
    HASH(tpy, np);
    HASH(tpd, np);
    HASH(tdu, B * C);
    /* embeddings with repeated ids, gather, patches, positions */
    int32_t *ids = ou_randint(5, rows, -8, 40);
    hb_tensor tids = ou_from_i32(&c, ids, rows, "ids"), ttab = ou_from(&c, w, 40 * C, "table"),
              tvis = ou_from(&c, x, 8 * C, "vis"), temb = T32("emb", rows * C), tdt = T32("dtable", 40 * C),
              tdv = T32("dvis", 8 * C);
    hb_ops_embed_fwd(o, &temb, &ttab, &tvis, &tids, rows, C, 40, 8);
    hb_ops_embed_bwd(o, &tdt, &tdv, &tx, &tids, rows, C, 40, 8);
    HASH(temb, rows * C);
    HASH(tdt, 40 * C);
    HASH(tdv, 8 * C);
    int32_t *idx = ou_randint(6, 200, 0, (int32_t)rows);
    hb_tensor tidx = ou_from_i32(&c, idx, 200, "idx"), tgo = T32("go", 200 * C), tgi = T32("gi", rows * C);
    hb_ops_gather_rows(o, &tgo, &tx, &tidx, 200, C, rows);
    hb_ops_gather_rows_bwd(o, &tgi, &tgo, &tidx, 200, C, rows);
    HASH(tgo, 200 * C);
    HASH(tgi, rows * C);
    int64_t npix = B * 3 * S * S, N = (S / P) * (S / P);
    hb_tensor tpix = ou_from(&c, x, npix, "pix"), tcols = T32("cols", npix), tvx = T32("vx", B * (N + 1) * C),
              tcls = ou_from(&c, g, C, "cls"), tpos = ou_from(&c, w, (N + 1) * C, "pos"), tdpos = T32("dpos", (N + 1) * C),
              tpe = T32("pe", B * N * C);
    hb_ops_im2col_patches(o, &tcols, &tpix, B, 3, S, P);
    hb_ops_vit_embed_fwd(o, &tvx, &tx, &tcls, &tpos, B, N, C);
    hb_ops_vit_embed_bwd(o, NULL, &tdg, &tdpos, &tvx, B, N, C);
    hb_ops_posemb_add_fwd(o, &tpe, &tvx, &tpos, B, N, C, 1);
    hb_ops_posemb_add_bwd(o, NULL, &tdpos, &tpe, B, N, C, 1);
    HASH(tcols, npix);
    HASH(tvx, B * (N + 1) * C);
    HASH(tdpos, (N + 1) * C);
    /* loss, norm, optimizer */
    int32_t *tgt = ou_randint(7, 100, -1, (int32_t)V);
    hb_tensor tz = ou_from(&c, x, 100 * V, "z"), ttg = ou_from_i32(&c, tgt, 100, "tg"), tls = T32("ls", 100),
              tsum = T32("sum", 1);
    hb_ops_xent_fwd_bwd(o, &tz, &tls, &tz, &ttg, 100, V, 0.01f);
    hb_ops_sum(o, &tsum, &tls, 100);
    HASH(tz, 100 * V);
    HASH(tsum, 1);
    double norm;
    const hb_tensor *grads[3] = {&tdw, &tdq, &tz};
    cr_assert_eq(hb_ops_grad_norm(o, grads, 3, &norm, &e), 0);
    h = hb_hash64(&norm, sizeof norm, h);
    hb_tensor tmm = T32("mm", 2 * I * C), tvv = T32("vv", 2 * I * C);
    hb_adamw_hparams hp = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.98, .eps = 1e-6, .weight_decay = 0.01,
                           .grad_scale = 0.7f, .step = 3};
    hb_adamw_slot slot = {&tw, &tdw, &tmm, &tvv, NULL, 1};
    hb_ops_adamw(o, &slot, 1, &hp);
    HASH(tw, 2 * I * C);
    ou_ok(&c, "determinism chain");
    free(x), free(w), free(g), free(ids), free(idx), free(tgt);
    ou_close(&c);
    return h;
}

Test(ops_determinism, bitwise_identical_for_any_thread_count, .timeout = 60) {
    uint64_t h1 = run_everything(1);
    cr_assert_eq(run_everything(1), h1, "the same thread count twice");
    for (int t = 2; t <= 4; t++) {
        uint64_t ht = run_everything(t);
        cr_assert_eq(ht, h1, "%d threads differ from 1 thread (%016llx vs %016llx)", t, (unsigned long long)ht,
                     (unsigned long long)h1);
    }
}
