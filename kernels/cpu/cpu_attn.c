/* kernels/cpu/cpu_attn.c — scaled-dot-product attention (causal or not, optional per-sequence lengths) over an
 * interleaved QKV buffer, and HF rotate-half RoPE, on the CPU.
 *
 * Attention, per (batch b, head h), query rows in blocks (materialised, like the GPU reference path; causal: 128 rows,
 * so little of the masked triangle is computed; otherwise up to 512, fewer and larger GEMMs):
 *   S = scale · Q_blk·Kᵀ            sgemm straight out of the QKV rows (leading dimension 3·H·D, no copies)
 *   mask j > i (causal) and j >= len; m = max_j S; E = exp(S − m); l = Σ_j E; lse = m + log l
 *   O_blk = (E·V)/l                 sgemm into out's head columns, then each row scaled by 1/l (D < T: cheaper than P)
 * Backward, per (b, h), from the saved lse only (nothing else is stored):
 *   P = exp(S − lse);  dV += Pᵀ·dO;  dP = dO·Vᵀ;  Dᵢ = Σ_d dOᵢ·Oᵢ;  dS = P ⊙ (dP − Dᵢ) · scale;
 *   dQ_blk = dS·K;  dK += dSᵀ·Q_blk
 * Parallel over (b, h) pairs with OpenMP, each pair entirely on one thread with single-threaded sgemm calls (OpenBLAS
 * is switched to 1 thread around the region; concurrent single-threaded calls are how OpenBLAS supports threaded
 * callers): every pair's arithmetic is the same for any thread count. Workspace: 2 blocks of rows × T floats per
 * thread.
 *
 * RoPE (HF LlamaRotaryEmbedding + apply_rotary_pos_emb): for pair i < D/2, ang = pos·inv_freq[i] in fp32,
 *   y[i] = x[i]·cos − x[i+D/2]·sin;  y[i+D/2] = x[i+D/2]·cos + x[i]·sin;  backward rotates by −ang.
 *
 * Gradient convention: attn_bwd overwrites all of d_qkv (padded rows get 0); rope_bwd works in place.
 *
 * Dependencies:
 *   kernels/cpu/cpu.h   accessors, hb_cpu_expf, hb_cpu_state (workspace)
 *   <cblas.h>           cblas_sgemm, openblas_set/get_num_threads
 *   <omp.h>             omp_get_thread_num
 *   <math.h>            logf, cosf, sinf
 */
#include "kernels/cpu/cpu.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>

/* Query rows per block: a function of the shape only (never of the thread count). */
static int64_t qblock(int64_t T, int causal) { return causal ? 128 : (T < 512 ? T : 512); }

int64_t hb_cpu_attn_workspace(hb_ops *o, int64_t B, int64_t T, int64_t H, int64_t D, int causal) {
    (void)B, (void)H, (void)D;
    return (int64_t)o->threads * 2 * qblock(T, causal) * T * (int64_t)sizeof(float);
}

static int64_t seq_len(const int32_t *lens, int64_t b, int64_t T) {
    if (!lens) return T;
    int64_t n = lens[b];
    return n < 0 ? 0 : (n > T ? T : n);
}

/* Lengths outside [0, T] are a caller error; report instead of clamping silently. */
static int check_lens(hb_ops *o, const char *op, const int32_t *lens, int64_t B, int64_t T) {
    for (int64_t b = 0; lens && b < B; b++)
        if (lens[b] < 0 || lens[b] > T)
            return hb_ops_fail(o, "%s: lens[%lld] = %d is outside [0, T=%lld]", op, (long long)b, lens[b],
                               (long long)T);
    return 0;
}

/* S [qb, kn] (ld kn) := scale·Q_blk·K[0:kn]ᵀ. */
static void scores(float *S, const float *q, const float *k, int64_t qb, int64_t kn, int64_t D, int64_t ld, float scale) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)qb, (blasint)kn, (blasint)D, scale, q, (blasint)ld,
                k, (blasint)ld, 0.0f, S, (blasint)kn);
}

static void attn_fwd_head(float *ws, float *out, float *lse, const float *qkv, int64_t T, int64_t len, int64_t H,
                          int64_t D, int64_t h, float scale, int causal) {
    int64_t C = H * D, ld = 3 * C;
    const float *Q = qkv + h * D, *K = qkv + C + h * D, *V = qkv + 2 * C + h * D;
    float *O = out + h * D;
    int64_t QB = qblock(T, causal);
    for (int64_t i0 = 0; i0 < len; i0 += QB) {
        int64_t qb = len - i0 < QB ? len - i0 : QB;
        int64_t kn = causal ? i0 + qb : len; /* keys any row of the block can see */
        float *S = ws;
        scores(S, Q + i0 * ld, K, qb, kn, D, ld, scale);
        float inv_l[512];
        for (int64_t r = 0; r < qb; r++) {
            float *s = S + r * kn;
            int64_t nv = causal ? i0 + r + 1 : kn; /* valid keys [0, nv) */
            float m = hb_cpu_vmax(s, nv);
            double l = hb_cpu_vexp_sum(s, s, nv, m); /* unnormalised: O's rows are divided by l below */
            memset(s + nv, 0, (size_t)(kn - nv) * sizeof(float));
            inv_l[r] = (float)(1.0 / l);
            lse[i0 + r] = m + (float)log(l);
        }
        float *Ob = O + i0 * C;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)qb, (blasint)D, (blasint)kn, 1.0f, S,
                    (blasint)kn, V, (blasint)ld, 0.0f, Ob, (blasint)C);
        for (int64_t r = 0; r < qb; r++) hb_cpu_vscale(Ob + r * C, D, inv_l[r]);
    }
    for (int64_t i = len; i < T; i++) {
        memset(O + i * C, 0, (size_t)D * sizeof(float));
        lse[i] = 0.0f;
    }
}

/* Runs fn over every (b, h) pair in parallel with OpenBLAS in single-threaded mode. */
#define FOR_EACH_HEAD(o, B, H, body)                                                                                  \
    do {                                                                                                              \
        int saved_ = openblas_get_num_threads();                                                                      \
        openblas_set_num_threads(1);                                                                                  \
        int nt_ = (B) * (H) < (o)->threads ? (int)((B) * (H)) : (o)->threads;                                         \
        _Pragma("omp parallel for num_threads(nt_) schedule(dynamic, 1)") for (int64_t bh = 0; bh < (B) * (H); bh++) { \
            int64_t b = bh / (H), h = bh % (H);                                                                       \
            float *ws = (float *)((hb_cpu_state *)(o)->impl)->ws + omp_get_thread_num() * 2 * qblock(T, causal) * T; \
            body;                                                                                                     \
        }                                                                                                             \
        openblas_set_num_threads(saved_);                                                                             \
    } while (0)

void hb_cpu_attn_fwd(hb_ops *o, T_ out, T_ lse, T_ qkv, T_ lens, int64_t B, int64_t T, int64_t H, int64_t D,
                     float scale, int causal) {
    const int32_t *pl = I32P(lens);
    if (check_lens(o, "attn_fwd", pl, B, T)) return;
    float *po = F(out), *plse = F(lse);
    const float *pq = F(qkv);
    int64_t C = H * D;
    FOR_EACH_HEAD(o, B, H,
                  attn_fwd_head(ws, po + b * T * C, plse + (b * H + h) * T, pq + b * T * 3 * C, T, seq_len(pl, b, T),
                                H, D, h, scale, causal));
}

static void attn_bwd_head(float *ws, float *dqkv, const float *dout, const float *out, const float *lse,
                          const float *qkv, int64_t T, int64_t len, int64_t H, int64_t D, int64_t h, float scale,
                          int causal) {
    int64_t C = H * D, ld = 3 * C;
    const float *Q = qkv + h * D, *K = qkv + C + h * D, *V = qkv + 2 * C + h * D;
    const float *O = out + h * D, *dO = dout + h * D;
    float *dQ = dqkv + h * D, *dK = dqkv + C + h * D, *dV = dqkv + 2 * C + h * D;
    for (int64_t t = 0; t < T; t++) {
        memset(dQ + t * ld, 0, (size_t)D * sizeof(float));
        memset(dK + t * ld, 0, (size_t)D * sizeof(float));
        memset(dV + t * ld, 0, (size_t)D * sizeof(float));
    }
    int64_t QB = qblock(T, causal);
    float *P = ws, *dP = ws + QB * T;
    for (int64_t i0 = 0; i0 < len; i0 += QB) {
        int64_t qb = len - i0 < QB ? len - i0 : QB;
        int64_t kn = causal ? i0 + qb : len;
        scores(P, Q + i0 * ld, K, qb, kn, D, ld, scale);
        for (int64_t r = 0; r < qb; r++) {
            float *p = P + r * kn, l = lse[i0 + r];
            int64_t nv = causal ? i0 + r + 1 : kn;
            hb_cpu_vexp(p, p, nv, l);
            memset(p + nv, 0, (size_t)(kn - nv) * sizeof(float));
        }
        /* dV[0:kn] += Pᵀ·dO_blk */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)kn, (blasint)D, (blasint)qb, 1.0f, P,
                    (blasint)kn, dO + i0 * C, (blasint)C, 1.0f, dV, (blasint)ld);
        /* dP = dO_blk·V[0:kn]ᵀ */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)qb, (blasint)kn, (blasint)D, 1.0f, dO + i0 * C,
                    (blasint)C, V, (blasint)ld, 0.0f, dP, (blasint)kn);
        for (int64_t r = 0; r < qb; r++) {
            const float *o_r = O + (i0 + r) * C, *do_r = dO + (i0 + r) * C;
            double di = 0;
#pragma omp simd reduction(+ : di)
            for (int64_t d = 0; d < D; d++) di += (double)o_r[d] * do_r[d];
            float Di = (float)di, *p = P + r * kn, *dp = dP + r * kn;
            hb_cpu_vsoftmax_grad(dp, p, kn, Di, scale); /* dS (0 where masked) */
        }
        /* dQ_blk = dS·K[0:kn];  dK[0:kn] += dSᵀ·Q_blk */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)qb, (blasint)D, (blasint)kn, 1.0f, dP,
                    (blasint)kn, K, (blasint)ld, 0.0f, dQ + i0 * ld, (blasint)ld);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)kn, (blasint)D, (blasint)qb, 1.0f, dP,
                    (blasint)kn, Q + i0 * ld, (blasint)ld, 1.0f, dK, (blasint)ld);
    }
}

void hb_cpu_attn_bwd(hb_ops *o, T_ d_qkv, T_ d_out, T_ out, T_ lse, T_ qkv, T_ lens, int64_t B, int64_t T, int64_t H,
                     int64_t D, float scale, int causal) {
    const int32_t *pl = I32P(lens);
    if (check_lens(o, "attn_bwd", pl, B, T)) return;
    float *pd = F(d_qkv);
    const float *pdo = F(d_out), *po = F(out), *plse = F(lse), *pq = F(qkv);
    int64_t C = H * D;
    FOR_EACH_HEAD(o, B, H,
                  attn_bwd_head(ws, pd + b * T * 3 * C, pdo + b * T * C, po + b * T * C, plse + (b * H + h) * T,
                                pq + b * T * 3 * C, T, seq_len(pl, b, T), H, D, h, scale, causal));
}

/* ---------------------------------------------------------------------------------------------------------------
 * RoPE
 * ------------------------------------------------------------------------------------------------------------- */
#define ROPE_MAX_HALF 512

static void rope(hb_ops *o, float *qkv, const int32_t *pos, int64_t B, int64_t T, int64_t H, int64_t D, float theta,
                 float sign) {
    int64_t half = D / 2, C = H * D;
    float inv[ROPE_MAX_HALF];
    for (int64_t i = 0; i < half; i++) inv[i] = hb_rope_inv_freq(i, D, theta);
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * T * C * 4)) schedule(static)
    for (int64_t bt = 0; bt < B * T; bt++) {
        float c[ROPE_MAX_HALF], s[ROPE_MAX_HALF];
        float p = pos ? (float)pos[bt] : (float)(bt % T);
        for (int64_t i = 0; i < half; i++) {
            float ang = p * inv[i];
            c[i] = cosf(ang);
            s[i] = sign * sinf(ang);
        }
        float *row = qkv + bt * 3 * C;
        for (int64_t hh = 0; hh < 2 * H; hh++) { /* q heads then k heads */
            float *x1 = row + hh * D, *x2 = x1 + half;
#pragma omp simd
            for (int64_t i = 0; i < half; i++) {
                float a = x1[i], b = x2[i];
                x1[i] = a * c[i] - b * s[i];
                x2[i] = b * c[i] + a * s[i];
            }
        }
    }
}

void hb_cpu_rope_fwd(hb_ops *o, T_ qkv, T_ positions, int64_t B, int64_t T, int64_t H, int64_t D, float theta) {
    if (D / 2 > ROPE_MAX_HALF) {
        hb_ops_fail(o, "rope_fwd: head dim %lld exceeds %d", (long long)D, 2 * ROPE_MAX_HALF);
        return;
    }
    rope(o, F(qkv), I32P(positions), B, T, H, D, theta, 1.0f);
}

void hb_cpu_rope_bwd(hb_ops *o, T_ d_qkv, T_ positions, int64_t B, int64_t T, int64_t H, int64_t D, float theta) {
    if (D / 2 > ROPE_MAX_HALF) {
        hb_ops_fail(o, "rope_bwd: head dim %lld exceeds %d", (long long)D, 2 * ROPE_MAX_HALF);
        return;
    }
    rope(o, F(d_qkv), I32P(positions), B, T, H, D, theta, -1.0f);
}
