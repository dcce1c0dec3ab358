/* kernels/cpu/cpu_norm.c — LayerNorm (with the residual and SiLU fusions of the C-Abstractor) and RMSNorm on the
 * CPU, forward and backward, over rows of C.
 *
 * LayerNorm:  μ, σ² over the row (biased, summed in double); rstd = 1/sqrt(σ² + eps); x̂ = (x − μ)·rstd in fp32 with
 *             μ and rstd rounded to the stored f32 values (so the backward's recomputation is exact);
 *             z = x̂·γ + β (+ residual); y = act(z).
 *   backward: dz = (d_y + d_y_mean[g]/group_rows) ⊙ act'(z);  d_residual = dz;  with dx̂ = dz ⊙ γ:
 *             d_x = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂));  d_γ += Σ_rows dz ⊙ x̂;  d_β += Σ_rows dz.
 * RMSNorm:    rstd = 1/sqrt(mean(x²) + eps) (double sum); y = (x·rstd)·w.
 *   backward: u = d_y ⊙ w;  d_x = rstd·u − x·rstd³·Σ(u ⊙ x)/C;  d_w += Σ_rows d_y ⊙ x·rstd.
 *
 * Row work runs in parallel over rows; the parameter gradients (sums over rows) run in a second pass in parallel over
 * blocks of columns, each summing its rows in order in double: deterministic for any thread count.
 * Gradient convention: d_x and d_residual (= or += per the accumulate flag); d_γ, d_β, d_w (+=).
 *
 * Dependencies:
 *   kernels/cpu/cpu.h   accessors, hb_cpu_act1/dact1, hb_cpu_nt
 *   <math.h>            sqrt
 */
#include "kernels/cpu/cpu.h"

#include <math.h>

#define COLBLOCK 128 /* columns per block in the parameter-gradient pass; also the chunk of the row passes */

/* mean and rstd of one row, rounded to f32. */
static void ln_stats(const float *x, int64_t C, float eps, float *mean, float *rstd) {
    double s = 0, v = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < C; j++) s += x[j];
    double mu = s / (double)C;
#pragma omp simd reduction(+ : v)
    for (int64_t j = 0; j < C; j++) v += (x[j] - mu) * (x[j] - mu);
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(v / (double)C + (double)eps));
}

/* y = act(x̂·γ + β (+ res)) over n elements (a row, or a chunk of one). */
static void ln_apply(float *y, const float *x, const float *g, const float *b, const float *res, int64_t n, float mean,
                     float rstd, hb_act act) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) y[j] = (x[j] - mean) * rstd * g[j] + b[j];
    if (res) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) y[j] += res[j];
    }
    if (act == HB_ACT_SILU) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) y[j] = y[j] * hb_cpu_sigmoid(y[j]);
    } else if (act != HB_ACT_NONE) {
        for (int64_t j = 0; j < n; j++) y[j] = hb_cpu_act1(y[j], act);
    }
}

/* dz over n (<= COLBLOCK) elements: the incoming gradient plus the group-mean term, through act'(z). */
static void ln_dz(float *dz, const float *dy, const float *dym, int64_t group_rows, const float *x, const float *g,
                  const float *b, const float *res, int64_t n, float mean, float rstd, hb_act act) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) dz[j] = dy[j];
    if (dym) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) dz[j] += dym[j] / (float)group_rows;
    }
    if (act == HB_ACT_NONE) return;
    float z[COLBLOCK];
    ln_apply(z, x, g, b, res, n, mean, rstd, HB_ACT_NONE);
    if (act == HB_ACT_SILU) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) {
            float s = hb_cpu_sigmoid(z[j]);
            dz[j] *= s * (1.0f + z[j] * (1.0f - s));
        }
    } else {
        for (int64_t j = 0; j < n; j++) dz[j] *= hb_cpu_dact1(z[j], act);
    }
}

void hb_cpu_layernorm_fwd(hb_ops *o, T_ y, T_ mean, T_ rstd, T_ x, T_ gamma, T_ beta, T_ residual, int64_t rows,
                          int64_t C, float eps, hb_act act) {
    float *py = F(y), *pm = F(mean), *pr = F(rstd);
    const float *px = F(x), *pg = F(gamma), *pb = F(beta), *pres = F(residual);
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * C * 4)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float mu, rs;
        ln_stats(px + r * C, C, eps, &mu, &rs);
        ln_apply(py + r * C, px + r * C, pg, pb, pres ? pres + r * C : NULL, C, mu, rs, act);
        if (pm) {
            pm[r] = mu;
            pr[r] = rs;
        }
    }
}

void hb_cpu_residual_layernorm_fwd(hb_ops *o, T_ x_out, T_ y, T_ mean, T_ rstd, T_ x_in, T_ add, T_ gamma, T_ beta,
                                   int64_t rows, int64_t C, float eps) {
    float *pxo = F(x_out), *py = F(y), *pm = F(mean), *pr = F(rstd);
    const float *pxi = F(x_in), *pa = F(add), *pg = F(gamma), *pb = F(beta);
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * C * 4)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *xo = pxo + r * C;
#pragma omp simd
        for (int64_t j = 0; j < C; j++) xo[j] = pxi[r * C + j] + pa[r * C + j];
        float mu, rs;
        ln_stats(xo, C, eps, &mu, &rs);
        ln_apply(py + r * C, xo, pg, pb, NULL, C, mu, rs, HB_ACT_NONE);
        if (pm) {
            pm[r] = mu;
            pr[r] = rs;
        }
    }
}

void hb_cpu_layernorm_bwd(hb_ops *o, T_ d_x, T_ d_residual, T_ d_gamma, T_ d_beta, T_ d_y, T_ d_y_mean,
                          int64_t group_rows, T_ x, T_ mean, T_ rstd, T_ gamma, T_ beta, T_ residual, int64_t rows,
                          int64_t C, hb_act act, int acc) {
    float *pdx = F(d_x), *pdr = F(d_residual), *pdg = F(d_gamma), *pdb = F(d_beta);
    const float *pdy = F(d_y), *pdym = F(d_y_mean), *px = F(x), *pm = F(mean), *pr = F(rstd), *pg = F(gamma),
                *pb = F(beta), *pres = F(residual);
    if (pdx || pdr) {
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * C * 8)) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = px + r * C, *dyr = pdy + r * C, *resr = pres ? pres + r * C : NULL;
            const float *dymr = pdym ? pdym + (r / group_rows) * C : NULL;
            float mu = pm[r], rs = pr[r], dz[COLBLOCK];
            double s1 = 0, s2 = 0; /* Σ dx̂, Σ dx̂·x̂ with dx̂ = dz·γ */
            for (int64_t c0 = 0; c0 < C; c0 += COLBLOCK) {
                int64_t w = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
                ln_dz(dz, dyr + c0, dymr ? dymr + c0 : NULL, group_rows, xr + c0, pg + c0, pb ? pb + c0 : NULL,
                      resr ? resr + c0 : NULL, w, mu, rs, act);
                if (pdr) {
                    float *d = pdr + r * C + c0;
#pragma omp simd
                    for (int64_t j = 0; j < w; j++) d[j] = acc ? d[j] + dz[j] : dz[j];
                }
#pragma omp simd reduction(+ : s1, s2)
                for (int64_t j = 0; j < w; j++) {
                    float dxh = dz[j] * pg[c0 + j], xh = (xr[c0 + j] - mu) * rs;
                    s1 += dxh;
                    s2 += (double)dxh * xh;
                }
            }
            if (!pdx) continue;
            float m1 = (float)(s1 / (double)C), m2 = (float)(s2 / (double)C);
            for (int64_t c0 = 0; c0 < C; c0 += COLBLOCK) {
                int64_t w = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
                ln_dz(dz, dyr + c0, dymr ? dymr + c0 : NULL, group_rows, xr + c0, pg + c0, pb ? pb + c0 : NULL,
                      resr ? resr + c0 : NULL, w, mu, rs, act);
                float *dxr = pdx + r * C + c0;
#pragma omp simd
                for (int64_t j = 0; j < w; j++) {
                    float xh = (xr[c0 + j] - mu) * rs;
                    float v = rs * (dz[j] * pg[c0 + j] - m1 - xh * m2);
                    dxr[j] = acc ? dxr[j] + v : v;
                }
            }
        }
    }
    if (pdg || pdb) {
        int64_t nb = (C + COLBLOCK - 1) / COLBLOCK;
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * C * 8)) schedule(static)
        for (int64_t blk = 0; blk < nb; blk++) {
            double ag[COLBLOCK], ab[COLBLOCK];
            float dz[COLBLOCK];
            int64_t c0 = blk * COLBLOCK, w = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
            for (int64_t j = 0; j < w; j++) ag[j] = ab[j] = 0;
            for (int64_t r = 0; r < rows; r++) {
                const float *xr = px + r * C + c0;
                float mu = pm[r], rs = pr[r];
                ln_dz(dz, pdy + r * C + c0, pdym ? pdym + (r / group_rows) * C + c0 : NULL, group_rows, xr, pg + c0,
                      pb ? pb + c0 : NULL, pres ? pres + r * C + c0 : NULL, w, mu, rs, act);
#pragma omp simd
                for (int64_t j = 0; j < w; j++) {
                    ag[j] += (double)dz[j] * ((xr[j] - mu) * rs);
                    ab[j] += dz[j];
                }
            }
            for (int64_t j = 0; j < w; j++) {
                if (pdg) pdg[c0 + j] += (float)ag[j];
                if (pdb) pdb[c0 + j] += (float)ab[j];
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------------------------
 * RMSNorm
 * ------------------------------------------------------------------------------------------------------------- */
static float rms_rstd(const float *x, int64_t C, float eps) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < C; j++) s += (double)x[j] * x[j];
    return (float)(1.0 / sqrt(s / (double)C + (double)eps));
}

void hb_cpu_rmsnorm_fwd(hb_ops *o, T_ y, T_ rstd, T_ x, T_ w, int64_t rows, int64_t C, float eps) {
    float *py = F(y), *pr = F(rstd);
    const float *px = F(x), *pw = F(w);
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * C * 4)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = px + r * C;
        float rs = rms_rstd(xr, C, eps);
#pragma omp simd
        for (int64_t j = 0; j < C; j++) py[r * C + j] = (xr[j] * rs) * pw[j];
        if (pr) pr[r] = rs;
    }
}

void hb_cpu_residual_rmsnorm_fwd(hb_ops *o, T_ x_out, T_ y, T_ rstd, T_ x_in, T_ add, T_ w, int64_t rows, int64_t C,
                                 float eps) {
    float *pxo = F(x_out), *py = F(y), *pr = F(rstd);
    const float *pxi = F(x_in), *pa = F(add), *pw = F(w);
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * C * 4)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *xo = pxo + r * C;
#pragma omp simd
        for (int64_t j = 0; j < C; j++) xo[j] = pxi[r * C + j] + pa[r * C + j];
        float rs = rms_rstd(xo, C, eps);
#pragma omp simd
        for (int64_t j = 0; j < C; j++) py[r * C + j] = (xo[j] * rs) * pw[j];
        if (pr) pr[r] = rs;
    }
}

void hb_cpu_rmsnorm_bwd(hb_ops *o, T_ d_x, T_ d_w, T_ d_y, T_ x, T_ rstd, T_ w, int64_t rows, int64_t C, int acc) {
    float *pdx = F(d_x), *pdw = F(d_w);
    const float *pdy = F(d_y), *px = F(x), *pr = F(rstd), *pw = F(w);
    if (pdx) {
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * C * 4)) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = px + r * C, *dyr = pdy + r * C;
            float rs = pr[r];
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t j = 0; j < C; j++) s += (double)(dyr[j] * pw[j]) * xr[j];
            float k = (float)(s / (double)C) * rs * rs * rs;
            float *dxr = pdx + r * C;
#pragma omp simd
            for (int64_t j = 0; j < C; j++) {
                float v = rs * (dyr[j] * pw[j]) - xr[j] * k;
                dxr[j] = acc ? dxr[j] + v : v;
            }
        }
    }
    if (pdw) {
        int64_t nb = (C + COLBLOCK - 1) / COLBLOCK;
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * C * 2)) schedule(static)
        for (int64_t blk = 0; blk < nb; blk++) {
            double a[COLBLOCK];
            int64_t c0 = blk * COLBLOCK, wd = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
            for (int64_t j = 0; j < wd; j++) a[j] = 0;
            for (int64_t r = 0; r < rows; r++) {
                const float *xr = px + r * C + c0, *dyr = pdy + r * C + c0;
                float rs = pr[r];
#pragma omp simd
                for (int64_t j = 0; j < wd; j++) a[j] += (double)dyr[j] * (xr[j] * rs);
            }
            for (int64_t j = 0; j < wd; j++) pdw[c0 + j] += (float)a[j];
        }
    }
}
