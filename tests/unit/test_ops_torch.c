/* kernels/ops.h against PyTorch / HF transformers / timm on the CPU, for the semantics that are easy to get subtly
 * wrong: overlapping adaptive pooling, timm LayerNormAct2d over channels, depthwise conv padding, timm SEModule, HF
 * rotate-half RoPE (two thetas, offset positions), SDPA with its log-sum-exp, quick_gelu, LlamaRMSNorm, SwiGLU,
 * HF's shifted masked token-mean cross-entropy, torch.optim.AdamW. Fixtures: tests/ref/gen_ops_fixtures.py.
 *
 * Tolerances (both sides fp32; the differences are summation order and libm): elementwise ops 1e-6; reductions over
 * a row or window and their gradients 1e-5 relative + 1e-6 absolute; attention 2e-6; AdamW 1e-6 relative. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/opsutil.h"
#include "helpers/testutil.h"

/* A fixture array of exactly n elements (4 bytes each). */
static void *fixture(const char *name, int64_t n) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/ops/%s", name);
    char *path = tu_repo(rel);
    size_t len = 0;
    uint8_t *d = tu_read(path, &len);
    cr_assert(d, "missing fixture %s (run tests/ref/gen_ops_fixtures.py)", path);
    cr_assert_eq((int64_t)len, n * 4, "%s: %zu bytes, expected %lld", path, len, (long long)(n * 4));
    free(path);
    return d;
}
#define FX(name, n) ((float *)fixture(name, n))

static void check_pool(const char *cs, int64_t B, int64_t C, int64_t IH, int64_t IW, int64_t OH, int64_t OW) {
    ou_ctx c = ou_open(2);
    char n1[64], n2[64], n3[64], n4[64];
    snprintf(n1, 64, "%s.x.f32", cs), snprintf(n2, 64, "%s.gy.f32", cs), snprintf(n3, 64, "%s.y.f32", cs),
        snprintf(n4, 64, "%s.dx.f32", cs);
    int64_t ni = B * IH * IW * C, no = B * OH * OW * C;
    float *x = FX(n1, ni), *gy = FX(n2, no), *y = FX(n3, no), *dx = FX(n4, ni);
    hb_tensor tx = ou_from(&c, x, ni, "x"), tgy = ou_from(&c, gy, no, "gy"), ty = ou_tensor(&c, HB_F32, no, "y"),
              tdx = ou_tensor(&c, HB_F32, ni, "dx");
    hb_ops_adaptive_avgpool_fwd(c.o, &ty, &tx, B, IH, IW, OH, OW, C);
    hb_ops_adaptive_avgpool_bwd(c.o, &tdx, &tgy, B, IH, IW, OH, OW, C);
    float *a = ou_get(&c, &ty, no), *b = ou_get(&c, &tdx, ni);
    ou_expect_closef("pool y vs torch", a, y, no, 1e-6, 1e-6);
    ou_expect_closef("pool dx vs torch", b, dx, ni, 1e-6, 1e-6);
    free(a), free(b), free(x), free(gy), free(y), free(dx);
    ou_close(&c);
}

Test(ops_torch, adaptive_avgpool_16_to_12) { check_pool("pool16", 2, 3, 16, 16, 12, 12); }
Test(ops_torch, adaptive_avgpool_5x7_to_3x4) { check_pool("pool57", 1, 2, 5, 7, 3, 4); }

Test(ops_torch, timm_layernormact2d_silu) {
    ou_ctx c = ou_open(2);
    const int64_t rows = 2 * 4 * 4, C = 8;
    float *x = FX("ln2d.x.f32", rows * C), *gy = FX("ln2d.gy.f32", rows * C), *y = FX("ln2d.y.f32", rows * C),
          *dx = FX("ln2d.dx.f32", rows * C), *w = FX("ln2d.w.f32", C), *b = FX("ln2d.b.f32", C),
          *dw = FX("ln2d.dw.f32", C), *db = FX("ln2d.db.f32", C);
    hb_tensor tx = ou_from(&c, x, rows * C, "x"), tw = ou_from(&c, w, C, "w"), tb = ou_from(&c, b, C, "b"),
              tgy = ou_from(&c, gy, rows * C, "gy"), ty = ou_tensor(&c, HB_F32, rows * C, "y"),
              tm = ou_tensor(&c, HB_F32, rows, "m"), trs = ou_tensor(&c, HB_F32, rows, "rs"),
              tdx = ou_tensor(&c, HB_F32, rows * C, "dx"), tdw = ou_tensor(&c, HB_F32, C, "dw"),
              tdb = ou_tensor(&c, HB_F32, C, "db");
    hb_ops_layernorm_fwd(c.o, &ty, &tm, &trs, &tx, &tw, &tb, NULL, rows, C, 1e-5f, HB_ACT_SILU);
    hb_ops_layernorm_bwd(c.o, &tdx, NULL, &tdw, &tdb, &tgy, NULL, 0, &tx, &tm, &trs, &tw, &tb, NULL, rows, C,
                         HB_ACT_SILU, 0);
    float *gy_ = ou_get(&c, &ty, rows * C), *gdx = ou_get(&c, &tdx, rows * C), *gdw = ou_get(&c, &tdw, C),
          *gdb = ou_get(&c, &tdb, C);
    ou_expect_closef("LayerNormAct2d y vs timm", gy_, y, rows * C, 1e-5, 1e-6);
    ou_expect_closef("LayerNormAct2d dx vs timm", gdx, dx, rows * C, 1e-5, 1e-5);
    ou_expect_closef("LayerNormAct2d dw vs timm", gdw, dw, C, 1e-5, 1e-5);
    ou_expect_closef("LayerNormAct2d db vs timm", gdb, db, C, 1e-5, 1e-5);
    free(gy_), free(gdx), free(gdw), free(gdb), free(x), free(gy), free(y), free(dx), free(w), free(b), free(dw),
        free(db);
    ou_close(&c);
}

Test(ops_torch, depthwise_conv_padding) {
    ou_ctx c = ou_open(2);
    const int64_t B = 2, C = 5, H = 5, W = 6, n = B * H * W * C;
    float *x = FX("dwconv.x.f32", n), *gy = FX("dwconv.gy.f32", n), *y = FX("dwconv.y.f32", n),
          *dx = FX("dwconv.dx.f32", n), *w = FX("dwconv.w.f32", C * 9), *dw = FX("dwconv.dw.f32", C * 9);
    hb_tensor tx = ou_from(&c, x, n, "x"), tw = ou_from(&c, w, C * 9, "w"), tgy = ou_from(&c, gy, n, "gy"),
              ty = ou_tensor(&c, HB_F32, n, "y"), tdx = ou_tensor(&c, HB_F32, n, "dx"),
              tdw = ou_tensor(&c, HB_F32, C * 9, "dw");
    hb_ops_dwconv3x3_fwd(c.o, &ty, &tx, &tw, B, H, W, C);
    hb_ops_dwconv3x3_bwd(c.o, &tdx, &tdw, &tgy, &tx, &tw, B, H, W, C);
    float *a = ou_get(&c, &ty, n), *b = ou_get(&c, &tdx, n), *d = ou_get(&c, &tdw, C * 9);
    ou_expect_closef("dwconv y vs torch", a, y, n, 1e-5, 1e-6);
    ou_expect_closef("dwconv dx vs torch", b, dx, n, 1e-5, 1e-6);
    ou_expect_closef("dwconv dw vs torch", d, dw, C * 9, 1e-5, 1e-5);
    free(a), free(b), free(d), free(x), free(gy), free(y), free(dx), free(w), free(dw);
    ou_close(&c);
}

Test(ops_torch, timm_se_module_from_ops) {
    ou_ctx c = ou_open(2);
    const int64_t B = 2, C = 8, HW = 9, R = 4, n = B * HW * C;
    float *x = FX("se.x.f32", n), *gy = FX("se.gy.f32", n), *y = FX("se.y.f32", n), *dx = FX("se.dx.f32", n),
          *w1 = FX("se.fc1w.f32", R * C), *b1 = FX("se.fc1b.f32", R), *w2 = FX("se.fc2w.f32", C * R),
          *b2 = FX("se.fc2b.f32", C), *dw1 = FX("se.dfc1w.f32", R * C), *db1 = FX("se.dfc1b.f32", R),
          *dw2 = FX("se.dfc2w.f32", C * R), *db2 = FX("se.dfc2b.f32", C);
    hb_tensor tx = ou_from(&c, x, n, "x"), tw1 = ou_from(&c, w1, R * C, "w1"), tb1 = ou_from(&c, b1, R, "b1"),
              tw2 = ou_from(&c, w2, C * R, "w2"), tb2 = ou_from(&c, b2, C, "b2"), tgy = ou_from(&c, gy, n, "gy"),
              ts = ou_tensor(&c, HB_F32, B * C, "s"), tz = ou_tensor(&c, HB_F32, B * R, "z"),
              ta = ou_tensor(&c, HB_F32, B * R, "a"), tu = ou_tensor(&c, HB_F32, B * C, "u"),
              ty = ou_tensor(&c, HB_F32, n, "y"), tdx = ou_tensor(&c, HB_F32, n, "dx"),
              tdu = ou_tensor(&c, HB_F32, B * C, "du"), tda = ou_tensor(&c, HB_F32, B * R, "da"),
              tdz = ou_tensor(&c, HB_F32, B * R, "dz"), tds = ou_tensor(&c, HB_F32, B * C, "ds"),
              tdw1 = ou_tensor(&c, HB_F32, R * C, "dw1"), tdb1 = ou_tensor(&c, HB_F32, R, "db1"),
              tdw2 = ou_tensor(&c, HB_F32, C * R, "dw2"), tdb2 = ou_tensor(&c, HB_F32, C, "db2");
    hb_ops *o = c.o;
    hb_ops_spatial_mean_fwd(o, &ts, &tx, B, HW, C);
    hb_ops_linear_fwd(o, &tz, &ts, &tw1, &tb1, B, R, C, 0);
    hb_ops_act_fwd(o, &ta, &tz, B * R, HB_ACT_SILU);
    hb_ops_linear_fwd(o, &tu, &ta, &tw2, &tb2, B, C, R, 0);
    hb_ops_se_gate_fwd(o, &ty, &tx, &tu, B, HW, C);
    hb_ops_se_gate_bwd(o, &tdx, &tdu, &tgy, &tx, &tu, B, HW, C);
    hb_ops_linear_bwd_data(o, &tda, &tdu, &tw2, B, C, R, 0);
    hb_ops_linear_bwd_weight(o, &tdw2, &tdb2, &tdu, &ta, B, C, R);
    hb_ops_act_bwd(o, &tdz, &tda, &tz, B * R, HB_ACT_SILU, 0);
    hb_ops_linear_bwd_data(o, &tds, &tdz, &tw1, B, R, C, 0);
    hb_ops_linear_bwd_weight(o, &tdw1, &tdb1, &tdz, &ts, B, R, C);
    hb_ops_spatial_mean_bwd(o, &tdx, &tds, B, HW, C, 1);
    float *gy_ = ou_get(&c, &ty, n), *gdx = ou_get(&c, &tdx, n), *g1 = ou_get(&c, &tdw1, R * C),
          *g2 = ou_get(&c, &tdb1, R), *g3 = ou_get(&c, &tdw2, C * R), *g4 = ou_get(&c, &tdb2, C);
    ou_expect_closef("SE y vs timm", gy_, y, n, 1e-5, 1e-6);
    ou_expect_closef("SE dx vs timm", gdx, dx, n, 1e-5, 1e-6);
    ou_expect_closef("SE d fc1.weight", g1, dw1, R * C, 1e-5, 1e-6);
    ou_expect_closef("SE d fc1.bias", g2, db1, R, 1e-5, 1e-6);
    ou_expect_closef("SE d fc2.weight", g3, dw2, C * R, 1e-5, 1e-6);
    ou_expect_closef("SE d fc2.bias", g4, db2, C, 1e-5, 1e-6);
    free(gy_), free(gdx), free(g1), free(g2), free(g3), free(g4), free(x), free(gy), free(y), free(dx), free(w1),
        free(b1), free(w2), free(b2), free(dw1), free(db1), free(dw2), free(db2);
    ou_close(&c);
}

static void check_rope(const char *cs, float theta) {
    ou_ctx c = ou_open(2);
    const int64_t B = 2, T = 20, H = 3, D = 16, n = B * T * 3 * H * D;
    char p[5][64];
    const char *names[5] = {"qkv", "out", "g", "dqkv", "pos"};
    for (int i = 0; i < 5; i++) snprintf(p[i], 64, "%s.%s.%s", cs, names[i], i == 4 ? "i32" : "f32");
    float *qkv = FX(p[0], n), *out = FX(p[1], n), *g = FX(p[2], n), *dqkv = FX(p[3], n);
    int32_t *pos = fixture(p[4], B * T);
    hb_tensor tq = ou_from(&c, qkv, n, "qkv"), tg = ou_from(&c, g, n, "g"), tp = ou_from_i32(&c, pos, B * T, "pos");
    hb_ops_rope_fwd(c.o, &tq, &tp, B, T, H, D, theta);
    hb_ops_rope_bwd(c.o, &tg, &tp, B, T, H, D, theta);
    float *a = ou_get(&c, &tq, n), *b = ou_get(&c, &tg, n);
    ou_expect_closef("rope vs HF", a, out, n, 1e-6, 1e-6);
    ou_expect_closef("rope backward vs HF autograd", b, dqkv, n, 1e-6, 1e-6);
    free(a), free(b), free(qkv), free(out), free(g), free(dqkv), free(pos);
    ou_close(&c);
}

Test(ops_torch, hf_rope_theta_1e4) { check_rope("rope", 10000.0f); }
Test(ops_torch, hf_rope_theta_5e5_offset_positions) { check_rope("rope5e5", 500000.0f); }

static void check_sdpa(const char *cs, int causal) {
    ou_ctx c = ou_open(2);
    const int64_t B = 2, T = 13, H = 2, D = 8, nq = B * T * 3 * H * D, no = B * T * H * D;
    char p[5][64];
    const char *names[5] = {"qkv", "out", "lse", "gout", "dqkv"};
    for (int i = 0; i < 5; i++) snprintf(p[i], 64, "%s.%s.f32", cs, names[i]);
    float *qkv = FX(p[0], nq), *out = FX(p[1], no), *lse = FX(p[2], B * H * T), *gout = FX(p[3], no),
          *dqkv = FX(p[4], nq);
    hb_err e;
    cr_assert_eq(hb_ops_attn_prepare(c.o, B, T, H, D, causal, &e), 0);
    hb_tensor tq = ou_from(&c, qkv, nq, "qkv"), to = ou_tensor(&c, HB_F32, no, "o"),
              tl = ou_tensor(&c, HB_F32, B * H * T, "lse"), tgo = ou_from(&c, gout, no, "gout"),
              td = ou_tensor(&c, HB_F32, nq, "dqkv");
    float scale = 1.0f / sqrtf((float)D);
    hb_ops_attn_fwd(c.o, &to, &tl, &tq, NULL, B, T, H, D, scale, causal);
    hb_ops_attn_bwd(c.o, &td, &tgo, &to, &tl, &tq, NULL, B, T, H, D, scale, causal);
    float *a = ou_get(&c, &to, no), *b = ou_get(&c, &tl, B * H * T), *d = ou_get(&c, &td, nq);
    ou_expect_closef("sdpa out vs torch", a, out, no, 2e-6, 2e-6);
    ou_expect_closef("sdpa lse vs torch logsumexp", b, lse, B * H * T, 2e-6, 2e-6);
    ou_expect_closef("sdpa dqkv vs torch autograd", d, dqkv, nq, 1e-5, 2e-6);
    free(a), free(b), free(d), free(qkv), free(out), free(lse), free(gout), free(dqkv);
    ou_close(&c);
}

Test(ops_torch, sdpa_causal) { check_sdpa("sdpa_causal", 1); }
Test(ops_torch, sdpa_bidirectional) { check_sdpa("sdpa_full", 0); }

Test(ops_torch, quick_gelu_rmsnorm_swiglu) {
    ou_ctx c = ou_open(2);
    {
        const int64_t n = 301;
        float *x = FX("qgelu.x.f32", n), *gy = FX("qgelu.gy.f32", n), *y = FX("qgelu.y.f32", n),
              *dx = FX("qgelu.dx.f32", n);
        hb_tensor tx = ou_from(&c, x, n, "x"), tgy = ou_from(&c, gy, n, "gy"), ty = ou_tensor(&c, HB_F32, n, "y"),
                  tdx = ou_tensor(&c, HB_F32, n, "dx");
        hb_ops_act_fwd(c.o, &ty, &tx, n, HB_ACT_QUICK_GELU);
        hb_ops_act_bwd(c.o, &tdx, &tgy, &tx, n, HB_ACT_QUICK_GELU, 0);
        float *a = ou_get(&c, &ty, n), *b = ou_get(&c, &tdx, n);
        ou_expect_closef("quick_gelu vs HF", a, y, n, 1e-6, 1e-7);
        ou_expect_closef("quick_gelu backward vs autograd", b, dx, n, 1e-6, 1e-7);
        free(a), free(b), free(x), free(gy), free(y), free(dx);
    }
    {
        const int64_t rows = 5, C = 24;
        float *x = FX("rms.x.f32", rows * C), *w = FX("rms.w.f32", C), *gy = FX("rms.gy.f32", rows * C),
              *y = FX("rms.y.f32", rows * C), *dx = FX("rms.dx.f32", rows * C), *dw = FX("rms.dw.f32", C);
        hb_tensor tx = ou_from(&c, x, rows * C, "x"), tw = ou_from(&c, w, C, "w"), tgy = ou_from(&c, gy, rows * C, "gy"),
                  ty = ou_tensor(&c, HB_F32, rows * C, "y"), trs = ou_tensor(&c, HB_F32, rows, "rs"),
                  tdx = ou_tensor(&c, HB_F32, rows * C, "dx"), tdw = ou_tensor(&c, HB_F32, C, "dw");
        hb_ops_rmsnorm_fwd(c.o, &ty, &trs, &tx, &tw, rows, C, 1e-5f);
        hb_ops_rmsnorm_bwd(c.o, &tdx, &tdw, &tgy, &tx, &trs, &tw, rows, C, 0);
        float *a = ou_get(&c, &ty, rows * C), *b = ou_get(&c, &tdx, rows * C), *d = ou_get(&c, &tdw, C);
        ou_expect_closef("LlamaRMSNorm y", a, y, rows * C, 1e-6, 1e-6);
        ou_expect_closef("LlamaRMSNorm dx", b, dx, rows * C, 1e-5, 1e-6);
        ou_expect_closef("LlamaRMSNorm dw", d, dw, C, 1e-5, 1e-6);
        free(a), free(b), free(d), free(x), free(w), free(gy), free(y), free(dx), free(dw);
    }
    {
        const int64_t rows = 4, I = 10;
        float *ab = FX("swiglu.ab.f32", rows * 2 * I), *gy = FX("swiglu.gy.f32", rows * I),
              *y = FX("swiglu.y.f32", rows * I), *dab = FX("swiglu.dab.f32", rows * 2 * I);
        hb_tensor tab = ou_from(&c, ab, rows * 2 * I, "ab"), tgy = ou_from(&c, gy, rows * I, "gy"),
                  ty = ou_tensor(&c, HB_F32, rows * I, "y"), td = ou_tensor(&c, HB_F32, rows * 2 * I, "dab");
        hb_ops_swiglu_fwd(c.o, &ty, &tab, rows, I);
        hb_ops_swiglu_bwd(c.o, &td, &tgy, &tab, rows, I);
        float *a = ou_get(&c, &ty, rows * I), *b = ou_get(&c, &td, rows * 2 * I);
        ou_expect_closef("swiglu", a, y, rows * I, 1e-6, 1e-7);
        ou_expect_closef("swiglu backward", b, dab, rows * 2 * I, 1e-6, 1e-7);
        free(a), free(b), free(ab), free(gy), free(y), free(dab);
    }
    ou_close(&c);
}

Test(ops_torch, hf_shifted_masked_cross_entropy) {
    ou_ctx c = ou_open(2);
    const int64_t B = 2, T = 9, V = 40, rows = B * T;
    float *z = FX("xent.logits.f32", rows * V), *loss = FX("xent.loss.f32", 1), *dz = FX("xent.dlogits.f32", rows * V);
    int32_t *labels = fixture("xent.labels.i32", rows), tg[18];
    int n_valid = 0;
    for (int64_t b = 0; b < B; b++) /* HF's shift: position t predicts labels[t+1]; the last has no target */
        for (int64_t t = 0; t < T; t++) {
            tg[b * T + t] = t + 1 < T ? labels[b * T + t + 1] : -100;
            n_valid += tg[b * T + t] >= 0;
        }
    hb_tensor tz = ou_from(&c, z, rows * V, "logits"), tt = ou_from_i32(&c, tg, rows, "targets"),
              tl = ou_tensor(&c, HB_F32, rows, "losses"), ts = ou_tensor(&c, HB_F32, 1, "sum");
    hb_ops_xent_fwd_bwd(c.o, &tz, &tl, &tz, &tt, rows, V, 1.0f / (float)n_valid);
    hb_ops_sum(c.o, &ts, &tl, rows);
    float *s = ou_get(&c, &ts, 1), *d = ou_get(&c, &tz, rows * V);
    float mean = s[0] / (float)n_valid;
    ou_expect_closef("token-mean loss vs HF", &mean, loss, 1, 1e-6, 0);
    ou_expect_closef("dlogits vs autograd", d, dz, rows * V, 1e-5, 1e-7);
    free(s), free(d), free(z), free(loss), free(dz), free(labels);
    ou_close(&c);
}

Test(ops_torch, torch_adamw_three_steps) {
    ou_ctx c = ou_open(2);
    const int64_t n1 = 40, n2 = 7;
    float *p1 = FX("adamw.p1_0.f32", n1), *p2 = FX("adamw.p2_0.f32", n2);
    hb_tensor tp1 = ou_from(&c, p1, n1, "p1"), tp2 = ou_from(&c, p2, n2, "p2"), tg1 = ou_tensor(&c, HB_F32, n1, "g1"),
              tg2 = ou_tensor(&c, HB_F32, n2, "g2"), tm1 = ou_tensor(&c, HB_F32, n1, "m1"),
              tv1 = ou_tensor(&c, HB_F32, n1, "v1"), tm2 = ou_tensor(&c, HB_F32, n2, "m2"),
              tv2 = ou_tensor(&c, HB_F32, n2, "v2");
    for (int step = 0; step < 3; step++) {
        char a[64], b[64];
        snprintf(a, 64, "adamw.g1_%d.f32", step), snprintf(b, 64, "adamw.g2_%d.f32", step);
        float *g1 = FX(a, n1), *g2 = FX(b, n2);
        ou_set(&c, &tg1, g1, n1);
        ou_set(&c, &tg2, g2, n2);
        hb_adamw_hparams hp = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.98, .eps = 1e-6, .weight_decay = 0.01,
                               .grad_scale = 1.0f, .step = step + 1};
        hb_adamw_slot s[2] = {{&tp1, &tg1, &tm1, &tv1, NULL, 1}, {&tp2, &tg2, &tm2, &tv2, NULL, 0}};
        hb_ops_adamw(c.o, s, 2, &hp);
        free(g1), free(g2);
    }
    float *r1 = FX("adamw.p1.f32", n1), *r2 = FX("adamw.p2.f32", n2), *rm = FX("adamw.m1.f32", n1),
          *rv = FX("adamw.v1.f32", n1);
    float *a1 = ou_get(&c, &tp1, n1), *a2 = ou_get(&c, &tp2, n2), *am = ou_get(&c, &tm1, n1), *av = ou_get(&c, &tv1, n1);
    ou_expect_closef("AdamW decayed params vs torch", a1, r1, n1, 1e-6, 0);
    ou_expect_closef("AdamW undecayed params vs torch", a2, r2, n2, 1e-6, 0);
    ou_expect_closef("AdamW exp_avg vs torch", am, rm, n1, 1e-6, 1e-8); /* m mixes signs: absolute floor */
    ou_expect_closef("AdamW exp_avg_sq vs torch", av, rv, n1, 1e-6, 0);
    int exact = 0;
    for (int64_t i = 0; i < n1; i++) exact += a1[i] == r1[i];
    cr_log_info("AdamW: %d of %lld params bitwise equal to torch", exact, (long long)n1);
    free(a1), free(a2), free(am), free(av), free(r1), free(r2), free(rm), free(rv), free(p1), free(p2);
    ou_close(&c);
}
