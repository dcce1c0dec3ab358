/* kernels/ops.h attention and RoPE: forward against a naive double-precision attention (causal and not, with
 * per-sequence lengths, across the query-block boundary), LSE in natural log, backward by finite differences from
 * (qkv, out, lse, dout), the prepare contract, and HF rotate-half RoPE forward/backward. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/opsutil.h"
#include "kernels/ops_common.h"

/* out [B,T,H·D], lse [B,H,T] from qkv [B,T,3,H,D], naive and in double. */
static void ref_attn(double *out, double *lse, const float *qkv, const int32_t *lens, int64_t B, int64_t T, int64_t H,
                     int64_t D, double scale, int causal) {
    int64_t C = H * D;
    double *s = hb_xmalloc((size_t)T * sizeof(double));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++) {
                int64_t len = lens ? lens[b] : T;
                double *o = out + (b * T + i) * C + h * D;
                if (i >= len) {
                    for (int64_t d = 0; d < D; d++) o[d] = 0;
                    lse[(b * H + h) * T + i] = 0;
                    continue;
                }
                int64_t nv = causal ? i + 1 : len;
                const float *q = qkv + (b * T + i) * 3 * C + h * D;
                double m = -INFINITY;
                for (int64_t j = 0; j < nv; j++) {
                    const float *k = qkv + (b * T + j) * 3 * C + C + h * D;
                    double dot = 0;
                    for (int64_t d = 0; d < D; d++) dot += (double)q[d] * k[d];
                    s[j] = dot * scale;
                    if (s[j] > m) m = s[j];
                }
                double l = 0;
                for (int64_t j = 0; j < nv; j++) l += exp(s[j] - m);
                lse[(b * H + h) * T + i] = m + log(l);
                for (int64_t d = 0; d < D; d++) o[d] = 0;
                for (int64_t j = 0; j < nv; j++) {
                    const float *v = qkv + (b * T + j) * 3 * C + 2 * C + h * D;
                    double p = exp(s[j] - m) / l;
                    for (int64_t d = 0; d < D; d++) o[d] += p * v[d];
                }
            }
    free(s);
}

typedef struct {
    hb_ops *o;
    hb_tensor *qkv, *out, *lse, *lens, *dqkv, *dout;
    int64_t B, T, H, D;
    float scale;
    int causal;
} attn_case;
static void at_fwd(void *u) {
    attn_case *a = u;
    hb_ops_attn_fwd(a->o, a->out, a->lse, a->qkv, a->lens, a->B, a->T, a->H, a->D, a->scale, a->causal);
}
static void at_bwd(void *u) {
    attn_case *a = u;
    hb_ops_attn_bwd(a->o, a->dqkv, a->dout, a->out, a->lse, a->qkv, a->lens, a->B, a->T, a->H, a->D, a->scale,
                    a->causal);
}

static void check_attention(int64_t B, int64_t T, int64_t H, int64_t D, int causal, const int32_t *lens, int fd,
                            uint64_t seed) {
    ou_ctx c = ou_open(2);
    hb_err e;
    cr_assert_eq(hb_ops_attn_prepare(c.o, B, T, H, D, causal, &e), 0, "%s", e.reason);
    int64_t n_qkv = B * T * 3 * H * D, n_out = B * T * H * D;
    float *qkv = ou_randn(seed, n_qkv, 0, 1);
    float scale = 1.0f / sqrtf((float)D);
    hb_tensor tq = ou_from(&c, qkv, n_qkv, "qkv"), to = ou_tensor(&c, HB_F32, n_out, "out"),
              tl = ou_tensor(&c, HB_F32, B * H * T, "lse"), tdq = ou_tensor(&c, HB_F32, n_qkv, "dqkv"),
              tdo = ou_tensor(&c, HB_F32, n_out, "dout"), tlens;
    if (lens) tlens = ou_from_i32(&c, lens, B, "lens");
    attn_case a = {c.o, &tq, &to, &tl, lens ? &tlens : NULL, &tdq, &tdo, B, T, H, D, scale, causal};
    at_fwd(&a);
    float *out = ou_get(&c, &to, n_out), *lse = ou_get(&c, &tl, B * H * T);
    double *ro = hb_xmalloc((size_t)n_out * sizeof(double)), *rl = hb_xmalloc((size_t)(B * H * T) * sizeof(double));
    ref_attn(ro, rl, qkv, lens, B, T, H, D, scale, causal);
    /* out = Σ p·v with |v| ~ 1: fp32 GEMMs and exp at a few ulps each -> 2e-6 absolute; lse ~ log T: 1e-6 */
    ou_expect_close("attention out", out, ro, n_out, 2e-6, 2e-6);
    ou_expect_close("attention lse", lse, rl, B * H * T, 1e-6, 1e-6);
    if (fd) {
        ou_fd f = {.c = &c, .op = causal ? "attention (causal)" : "attention", .fwd = at_fwd, .bwd = at_bwd, .u = &a,
                   .max_coords = 60, .seed = seed};
        f.in[f.n_in++] = (ou_fd_in){"qkv", &tq, qkv, n_qkv, &tdq, 0, 0, 0};
        f.out[f.n_out++] = (ou_fd_out){"out", &to, n_out, &tdo, NULL};
        f.out[f.n_out++] = (ou_fd_out){"lse", &tl, B * H * T, NULL, NULL};
        double worst = ou_fd_check(&f);
        cr_log_info("%s B=%lld T=%lld: worst at %.0f%% of tolerance", f.op, (long long)B, (long long)T, 100 * worst);
    }
    free(out), free(lse), free(ro), free(rl), free(qkv);
    ou_close(&c);
}

Test(ops_attn, causal_small_with_gradients) { check_attention(2, 9, 2, 8, 1, NULL, 1, 1); }
Test(ops_attn, bidirectional_small_with_gradients) { check_attention(2, 7, 3, 4, 0, NULL, 1, 2); }
Test(ops_attn, per_sequence_lengths_with_gradients) {
    const int32_t lens[3] = {5, 9, 0};
    check_attention(3, 9, 2, 4, 1, lens, 1, 3);
    check_attention(3, 9, 2, 4, 0, lens, 1, 4);
}
Test(ops_attn, across_query_blocks) {
    check_attention(1, 300, 2, 16, 1, NULL, 0, 5); /* 3 query blocks of 128, the last partial */
    check_attention(2, 257, 2, 8, 0, NULL, 0, 6);  /* CLIP's 1 + 16·16 tokens */
    const int32_t lens[2] = {131, 200};
    check_attention(2, 200, 1, 8, 1, lens, 0, 7);
}
Test(ops_attn, gradients_across_query_blocks) { check_attention(1, 133, 1, 4, 1, NULL, 1, 8); }

Test(ops_attn, prepare_contract_and_bad_lengths) {
    ou_ctx c = ou_open(1);
    hb_err e;
    hb_tensor q = ou_tensor(&c, HB_F32, 2 * 8 * 3 * 4, "qkv"), o = ou_tensor(&c, HB_F32, 2 * 8 * 4, "o"),
              l = ou_tensor(&c, HB_F32, 2 * 8, "lse");
    hb_ops_attn_fwd(c.o, &o, &l, &q, NULL, 2, 8, 1, 4, 0.5f, 1);
    cr_assert_neq(hb_ops_sync(c.o, &e), 0);
    cr_assert(strstr(e.reason, "no hb_ops_attn_prepare covers this shape"), "%s", e.reason);
    hb_ops_reset_error(c.o);
    cr_assert_eq(hb_ops_attn_prepare(c.o, 2, 4, 1, 4, 1, &e), 0);
    hb_ops_attn_fwd(c.o, &o, &l, &q, NULL, 2, 8, 1, 4, 0.5f, 1); /* T above the prepared 4 */
    cr_assert_neq(hb_ops_sync(c.o, &e), 0);
    hb_ops_reset_error(c.o);
    cr_assert_eq(hb_ops_attn_prepare(c.o, 2, 8, 1, 4, 1, &e), 0);
    int32_t bad[2] = {3, 9};
    hb_tensor tl = ou_from_i32(&c, bad, 2, "lens");
    hb_ops_attn_fwd(c.o, &o, &l, &q, &tl, 2, 8, 1, 4, 0.5f, 1);
    cr_assert_neq(hb_ops_sync(c.o, &e), 0);
    cr_assert(strstr(e.reason, "lens[1] = 9 is outside [0, T=8]"), "%s", e.reason);
    ou_close(&c);
}

/* ---------------------------------------------------------------------------------------------------------------
 * RoPE
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    hb_ops *o;
    hb_tensor *qkv, *dqkv, *pos;
    int64_t B, T, H, D;
    float theta;
} rope_case;
static void rp_fwd(void *u) {
    rope_case *r = u;
    hb_ops_rope_fwd(r->o, r->qkv, r->pos, r->B, r->T, r->H, r->D, r->theta);
}
static void rp_bwd(void *u) {
    rope_case *r = u;
    hb_ops_rope_bwd(r->o, r->dqkv, r->pos, r->B, r->T, r->H, r->D, r->theta);
}

Test(ops_attn, rope_rotate_half_forward_and_gradients) {
    ou_ctx c = ou_open(2);
    const int64_t B = 2, T = 11, H = 3, D = 8, n = B * T * 3 * H * D;
    const float theta = 10000.0f;
    float *x = ou_randn(60, n, 0, 1);
    int32_t pos[2 * 11];
    for (int64_t i = 0; i < B * T; i++) pos[i] = (int32_t)((i % T) + (i / T) * 1000); /* sequence 1 at offset 1000 */
    hb_tensor tq = ou_from(&c, x, n, "qkv"), tdq = ou_tensor(&c, HB_F32, n, "dqkv"), tp = ou_from_i32(&c, pos, B * T, "pos");
    rope_case r = {c.o, &tq, &tdq, &tp, B, T, H, D, theta};
    rp_fwd(&r);
    float *y = ou_get(&c, &tq, n);
    double *ref = hb_xmalloc((size_t)n * sizeof(double));
    for (int64_t bt = 0; bt < B * T; bt++)
        for (int64_t part = 0; part < 3; part++)
            for (int64_t h = 0; h < H; h++) {
                const float *xi = x + bt * 3 * H * D + (part * H + h) * D;
                double *yo = ref + bt * 3 * H * D + (part * H + h) * D;
                for (int64_t i = 0; i < D / 2; i++) {
                    float ang = (float)pos[bt] * hb_rope_inv_freq(i, D, theta); /* fp32 angles, as HF */
                    double co = cos((double)ang), si = sin((double)ang);
                    if (part == 2) { /* v is untouched */
                        yo[i] = xi[i];
                        yo[i + D / 2] = xi[i + D / 2];
                    } else {
                        yo[i] = xi[i] * co - xi[i + D / 2] * si;
                        yo[i + D / 2] = xi[i + D / 2] * co + xi[i] * si;
                    }
                }
            }
    ou_expect_close("rope", y, ref, n, 1e-6, 1e-6);
    /* default positions (NULL) == explicit 0..T-1 */
    int32_t p0[2 * 11];
    for (int64_t i = 0; i < B * T; i++) p0[i] = (int32_t)(i % T);
    hb_tensor tp0 = ou_from_i32(&c, p0, B * T, "p0");
    ou_set(&c, &tq, x, n);
    hb_ops_rope_fwd(c.o, &tq, &tp0, B, T, H, D, theta);
    float *a = ou_get(&c, &tq, n);
    ou_set(&c, &tq, x, n);
    hb_ops_rope_fwd(c.o, &tq, NULL, B, T, H, D, theta);
    float *b = ou_get(&c, &tq, n);
    ou_expect_closef("rope default positions", a, b, n, 0, 0);
    ou_fd f = {.c = &c, .op = "rope", .fwd = rp_fwd, .bwd = rp_bwd, .u = &r, .max_coords = 60};
    f.in[f.n_in++] = (ou_fd_in){"qkv", &tq, x, n, &tdq, 0, 1, 0};
    f.out[f.n_out++] = (ou_fd_out){"qkv", &tq, n, &tdq, NULL};
    ou_fd_check(&f);
    free(a), free(b), free(y), free(ref), free(x);
    ou_close(&c);
}
