/* kernels/cpu/cpu_conv.c — the C-Abstractor's spatial ops on channel-last activations [B, H, W, C] on the CPU:
 * depthwise 3×3 convolution (zero padding 1), adaptive average pooling (PyTorch's overlapping windows), and the
 * squeeze-excite pieces (spatial mean, sigmoid channel gate).
 *
 *   dwconv:   y[b,i,j,c] = Σ_{a,e} w[c,3a+e]·x[b,i+a−1,j+e−1,c]            (taps summed in (a, e) order)
 *             d_x[b,i,j,c] = Σ_{a,e} w[c,3a+e]·d_y[b,i−a+1,j−e+1,c];  d_w[c,3a+e] += Σ_{b,i,j} d_y[b,i,j,c]·x[b,i+a−1,j+e−1,c]
 *   pool:     y[b,oi,oj] = Σ_window x / area, window [start(oi), end(oi)) × [start(oj), end(oj)) (kernels/ops_common.h)
 *             d_x[b,ii,ij] = Σ_{windows ∋ (ii,ij)} d_y[b,oi,oj]/area(oi,oj)   (a gather: no scatter, no atomics)
 *   SE:       s[b,c] = mean_p x[b,p,c];  y = x ⊙ σ(u[b,c]);  d_x = d_y ⊙ σ(u);  d_u = σ(u)(1−σ(u))·Σ_p d_y ⊙ x
 *
 * Each output is produced by one thread; sums over pixels run in pixel order (double where long), so results do not
 * depend on the thread count. Gradient convention: d_w (+=); d_x, d_u (=); spatial_mean_bwd per its flag.
 *
 * Dependencies:
 *   kernels/cpu/cpu.h      accessors, hb_cpu_sigmoid, hb_cpu_nt
 *   kernels/ops_common.h   hb_pool_start, hb_pool_end
 */
#include "kernels/cpu/cpu.h"

#define CB 256 /* channel block */

void hb_cpu_dwconv3x3_fwd(hb_ops *o, T_ y, T_ x, T_ w, int64_t B, int64_t H, int64_t W, int64_t C) {
    float *py = F(y);
    const float *px = F(x), *pw = F(w);
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * H * W * C * 18)) schedule(static)
    for (int64_t bi = 0; bi < B * H; bi++) {
        int64_t b = bi / H, i = bi % H;
        for (int64_t j = 0; j < W; j++) {
            float *out = py + ((b * H + i) * W + j) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) out[c] = 0.0f;
            for (int64_t a = 0; a < 3; a++) {
                int64_t ii = i + a - 1;
                if (ii < 0 || ii >= H) continue;
                for (int64_t e = 0; e < 3; e++) {
                    int64_t jj = j + e - 1;
                    if (jj < 0 || jj >= W) continue;
                    const float *in = px + ((b * H + ii) * W + jj) * C;
#pragma omp simd
                    for (int64_t c = 0; c < C; c++) out[c] += pw[c * 9 + a * 3 + e] * in[c];
                }
            }
        }
    }
}

void hb_cpu_dwconv3x3_bwd(hb_ops *o, T_ d_x, T_ d_w, T_ d_y, T_ x, T_ w, int64_t B, int64_t H, int64_t W, int64_t C) {
    const float *pdy = F(d_y), *px = F(x), *pw = F(w);
    if (d_x) {
        float *pdx = F(d_x);
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * H * W * C * 18)) schedule(static)
        for (int64_t bi = 0; bi < B * H; bi++) {
            int64_t b = bi / H, i = bi % H;
            for (int64_t j = 0; j < W; j++) {
                float *out = pdx + ((b * H + i) * W + j) * C;
#pragma omp simd
                for (int64_t c = 0; c < C; c++) out[c] = 0.0f;
                for (int64_t a = 0; a < 3; a++) {
                    int64_t ii = i - a + 1; /* the output row that saw input row i through tap a */
                    if (ii < 0 || ii >= H) continue;
                    for (int64_t e = 0; e < 3; e++) {
                        int64_t jj = j - e + 1;
                        if (jj < 0 || jj >= W) continue;
                        const float *g = pdy + ((b * H + ii) * W + jj) * C;
#pragma omp simd
                        for (int64_t c = 0; c < C; c++) out[c] += pw[c * 9 + a * 3 + e] * g[c];
                    }
                }
            }
        }
    }
    if (d_w) {
        float *pdw = F(d_w);
        int64_t nb = (C + CB - 1) / CB;
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * H * W * C * 18)) schedule(static)
        for (int64_t blk = 0; blk < nb; blk++) {
            int64_t c0 = blk * CB, cw = C - c0 < CB ? C - c0 : CB;
            double acc[9][CB];
            for (int t = 0; t < 9; t++)
                for (int64_t k = 0; k < cw; k++) acc[t][k] = 0;
            for (int64_t b = 0; b < B; b++)
                for (int64_t i = 0; i < H; i++)
                    for (int64_t j = 0; j < W; j++) {
                        const float *g = pdy + ((b * H + i) * W + j) * C + c0;
                        for (int64_t a = 0; a < 3; a++) {
                            int64_t ii = i + a - 1;
                            if (ii < 0 || ii >= H) continue;
                            for (int64_t e = 0; e < 3; e++) {
                                int64_t jj = j + e - 1;
                                if (jj < 0 || jj >= W) continue;
                                const float *in = px + ((b * H + ii) * W + jj) * C + c0;
                                double *ac = acc[a * 3 + e];
#pragma omp simd
                                for (int64_t k = 0; k < cw; k++) ac[k] += (double)g[k] * in[k];
                            }
                        }
                    }
            for (int64_t k = 0; k < cw; k++)
                for (int t = 0; t < 9; t++) pdw[(c0 + k) * 9 + t] += (float)acc[t][k];
        }
    }
}

/* ---------------------------------------------------------------------------------------------------------------
 * Adaptive average pooling
 * ------------------------------------------------------------------------------------------------------------- */
void hb_cpu_adaptive_avgpool_fwd(hb_ops *o, T_ y, T_ x, int64_t B, int64_t IH, int64_t IW, int64_t OH, int64_t OW,
                                 int64_t C) {
    float *py = F(y);
    const float *px = F(x);
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * IH * IW * C * 2)) schedule(static)
    for (int64_t bo = 0; bo < B * OH; bo++) {
        int64_t b = bo / OH, oi = bo % OH;
        int64_t h0 = hb_pool_start(oi, IH, OH), h1 = hb_pool_end(oi, IH, OH);
        for (int64_t oj = 0; oj < OW; oj++) {
            int64_t w0 = hb_pool_start(oj, IW, OW), w1 = hb_pool_end(oj, IW, OW);
            float *out = py + ((b * OH + oi) * OW + oj) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) out[c] = 0.0f;
            for (int64_t ii = h0; ii < h1; ii++)
                for (int64_t ij = w0; ij < w1; ij++) {
                    const float *in = px + ((b * IH + ii) * IW + ij) * C;
#pragma omp simd
                    for (int64_t c = 0; c < C; c++) out[c] += in[c];
                }
            float area = (float)((h1 - h0) * (w1 - w0));
#pragma omp simd
            for (int64_t c = 0; c < C; c++) out[c] /= area;
        }
    }
}

/* The output windows along one axis that contain input index ii: a contiguous range [*lo, *hi). */
static void windows_of(int64_t ii, int64_t n, int64_t m, int64_t *lo, int64_t *hi) {
    *lo = m;
    *hi = 0;
    for (int64_t oi = 0; oi < m; oi++)
        if (hb_pool_start(oi, n, m) <= ii && ii < hb_pool_end(oi, n, m)) {
            if (oi < *lo) *lo = oi;
            *hi = oi + 1;
        }
}

void hb_cpu_adaptive_avgpool_bwd(hb_ops *o, T_ d_x, T_ d_y, int64_t B, int64_t IH, int64_t IW, int64_t OH,
                                 int64_t OW, int64_t C) {
    float *pdx = F(d_x);
    const float *pdy = F(d_y);
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * IH * IW * C * 2)) schedule(static)
    for (int64_t bi = 0; bi < B * IH; bi++) {
        int64_t b = bi / IH, ii = bi % IH, oi0, oi1;
        windows_of(ii, IH, OH, &oi0, &oi1);
        for (int64_t ij = 0; ij < IW; ij++) {
            int64_t oj0, oj1;
            windows_of(ij, IW, OW, &oj0, &oj1);
            float *out = pdx + ((b * IH + ii) * IW + ij) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) out[c] = 0.0f;
            for (int64_t oi = oi0; oi < oi1; oi++)
                for (int64_t oj = oj0; oj < oj1; oj++) {
                    float area = (float)((hb_pool_end(oi, IH, OH) - hb_pool_start(oi, IH, OH)) *
                                         (hb_pool_end(oj, IW, OW) - hb_pool_start(oj, IW, OW)));
                    const float *g = pdy + ((b * OH + oi) * OW + oj) * C;
#pragma omp simd
                    for (int64_t c = 0; c < C; c++) out[c] += g[c] / area;
                }
        }
    }
}

/* ---------------------------------------------------------------------------------------------------------------
 * Squeeze-excite
 * ------------------------------------------------------------------------------------------------------------- */
void hb_cpu_spatial_mean_fwd(hb_ops *o, T_ s, T_ x, int64_t B, int64_t HW, int64_t C) {
    float *ps = F(s);
    const float *px = F(x);
    int64_t nb = (C + CB - 1) / CB;
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * HW * C)) schedule(static)
    for (int64_t bb = 0; bb < B * nb; bb++) {
        int64_t b = bb / nb, c0 = (bb % nb) * CB, cw = C - c0 < CB ? C - c0 : CB;
        double acc[CB];
#pragma omp simd
        for (int64_t k = 0; k < cw; k++) acc[k] = 0;
        for (int64_t p = 0; p < HW; p++) {
            const float *in = px + (b * HW + p) * C + c0;
#pragma omp simd
            for (int64_t k = 0; k < cw; k++) acc[k] += in[k];
        }
#pragma omp simd
        for (int64_t k = 0; k < cw; k++) ps[b * C + c0 + k] = (float)(acc[k] / (double)HW);
    }
}

void hb_cpu_spatial_mean_bwd(hb_ops *o, T_ d_x, T_ d_s, int64_t B, int64_t HW, int64_t C, int acc) {
    float *pdx = F(d_x);
    const float *pds = F(d_s);
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * HW * C)) schedule(static)
    for (int64_t bp = 0; bp < B * HW; bp++) {
        const float *g = pds + (bp / HW) * C;
        float *out = pdx + bp * C;
        for (int64_t c = 0; c < C; c++) {
            float v = g[c] / (float)HW;
            out[c] = acc ? out[c] + v : v;
        }
    }
}

void hb_cpu_se_gate_fwd(hb_ops *o, T_ y, T_ x, T_ u, int64_t B, int64_t HW, int64_t C) {
    float *py = F(y);
    const float *px = F(x), *pu = F(u);
    int64_t nb = (C + CB - 1) / CB;
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * HW * C)) schedule(static)
    for (int64_t bb = 0; bb < B * nb; bb++) {
        int64_t b = bb / nb, c0 = (bb % nb) * CB, cw = C - c0 < CB ? C - c0 : CB;
        float g[CB];
#pragma omp simd
        for (int64_t k = 0; k < cw; k++) g[k] = hb_cpu_sigmoid(pu[b * C + c0 + k]);
        for (int64_t p = 0; p < HW; p++) {
            const float *in = px + (b * HW + p) * C + c0;
            float *out = py + (b * HW + p) * C + c0;
#pragma omp simd
            for (int64_t k = 0; k < cw; k++) out[k] = in[k] * g[k];
        }
    }
}

void hb_cpu_se_gate_bwd(hb_ops *o, T_ d_x, T_ d_u, T_ d_y, T_ x, T_ u, int64_t B, int64_t HW, int64_t C) {
    float *pdx = F(d_x), *pdu = F(d_u);
    const float *pdy = F(d_y), *px = F(x), *pu = F(u);
    int64_t nb = (C + CB - 1) / CB;
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * HW * C * 2)) schedule(static)
    for (int64_t bb = 0; bb < B * nb; bb++) {
        int64_t b = bb / nb, c0 = (bb % nb) * CB, cw = C - c0 < CB ? C - c0 : CB;
        float g[CB];
        double acc[CB];
        for (int64_t k = 0; k < cw; k++) {
            g[k] = hb_cpu_sigmoid(pu[b * C + c0 + k]);
            acc[k] = 0;
        }
        for (int64_t p = 0; p < HW; p++) {
            int64_t off = (b * HW + p) * C + c0;
            for (int64_t k = 0; k < cw; k++) {
                acc[k] += (double)pdy[off + k] * px[off + k];
                if (pdx) pdx[off + k] = pdy[off + k] * g[k];
            }
        }
        if (pdu)
#pragma omp simd
            for (int64_t k = 0; k < cw; k++) pdu[b * C + c0 + k] = (float)acc[k] * g[k] * (1.0f - g[k]);
    }
}
