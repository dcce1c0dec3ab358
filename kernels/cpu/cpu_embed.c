/* kernels/cpu/cpu_embed.c — row movement on the CPU: token embedding with the visual splice, row gather, CLIP
 * patchify (im2col) and embeddings (CLS + positions), and the projector's positional-embedding add.
 *
 *   embed:     x[r] = table[src[r]] (src >= 0) or visual[-1 - src[r]] (src < 0)
 *              d_table[v] += Σ_{r: src[r] = v} d_x[r];  d_visual[k] = d_x[r] where src[r] = -1 - k
 *   gather:    out[i] = in[idx[i]];  d_in[idx[i]] += d_out[i]
 *   im2col:    cols[b·N + py·G + px, c·P·P + ky·P + kx] = pixels[b, c, py·P + ky, px·P + kx]   (G = S/P, N = G²)
 *   vit_embed: x[b, 0] = cls + pos[0];  x[b, 1 + n] = patches[b·N + n] + pos[1 + n]
 *   posemb:    out[b, n] = x[b, skip + n] + pos[n]
 *
 * The scatter-adds (embedding and gather backward) are made deterministic by splitting the work over blocks of
 * columns: each thread owns some columns of every table row and walks the source rows in order, so repeated ids sum
 * in row order whatever the thread count. Source ids are range-checked here (the sticky error names the row).
 * Gradient convention: d_table, d_in, d_cls, d_pos (+=); d_visual, d_patches, d_pixels, d_x (=).
 *
 * Dependencies:
 *   kernels/cpu/cpu.h   accessors, hb_cpu_colsum, hb_ops_fail
 */
#include "kernels/cpu/cpu.h"

#define COLBLOCK 64

static int check_src(hb_ops *o, const char *op, const int32_t *src, int64_t rows, int64_t V, int64_t n_visual) {
    for (int64_t r = 0; r < rows; r++) {
        int64_t s = src[r];
        if (s >= V || (s < 0 && -1 - s >= n_visual))
            return hb_ops_fail(o, "%s: source of row %lld is %lld: %s", op, (long long)r, (long long)s,
                               s >= V ? "token id >= vocabulary size"
                                      : "visual row beyond the visual tokens given (n_visual)");
    }
    return 0;
}

void hb_cpu_embed_fwd(hb_ops *o, T_ x, T_ table, T_ visual, T_ src, int64_t rows, int64_t C, int64_t V,
                      int64_t n_visual) {
    const int32_t *ps = I32P(src);
    if (check_src(o, "embed_fwd", ps, rows, V, n_visual)) return;
    float *px = F(x);
    const float *pt = F(table), *pv = F(visual);
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * C)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t s = ps[r];
        const float *from = s >= 0 ? pt + s * C : pv + (-1 - s) * C;
        memcpy(px + r * C, from, (size_t)C * sizeof(float));
    }
}

void hb_cpu_embed_bwd(hb_ops *o, T_ d_table, T_ d_visual, T_ d_x, T_ src, int64_t rows, int64_t C, int64_t V,
                      int64_t n_visual) {
    const int32_t *ps = I32P(src);
    if (check_src(o, "embed_bwd", ps, rows, V, n_visual)) return;
    const float *pdx = F(d_x);
    if (d_visual) {
        float *pdv = F(d_visual);
        memset(pdv, 0, (size_t)(n_visual * C) * sizeof(float));
        for (int64_t r = 0; r < rows; r++)
            if (ps[r] < 0) memcpy(pdv + (-1 - (int64_t)ps[r]) * C, pdx + r * C, (size_t)C * sizeof(float));
    }
    if (d_table) {
        float *pdt = F(d_table);
        int64_t nb = (C + COLBLOCK - 1) / COLBLOCK;
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * C)) schedule(static)
        for (int64_t blk = 0; blk < nb; blk++) {
            int64_t c0 = blk * COLBLOCK, w = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
            for (int64_t r = 0; r < rows; r++) {
                if (ps[r] < 0) continue; /* placeholders send nothing to the table */
                float *dst = pdt + (int64_t)ps[r] * C + c0;
                const float *g = pdx + r * C + c0;
#pragma omp simd
                for (int64_t j = 0; j < w; j++) dst[j] += g[j];
            }
        }
    }
}

static int check_idx(hb_ops *o, const char *op, const int32_t *idx, int64_t n, int64_t in_rows) {
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= in_rows)
            return hb_ops_fail(o, "%s: idx[%lld] = %d is outside [0, %lld)", op, (long long)i, idx[i],
                               (long long)in_rows);
    return 0;
}

void hb_cpu_gather_rows(hb_ops *o, T_ out, T_ in, T_ idx, int64_t n, int64_t C, int64_t in_rows) {
    const int32_t *pi = I32P(idx);
    if (check_idx(o, "gather_rows", pi, n, in_rows)) return;
    float *po = F(out);
    const float *pin = F(in);
#pragma omp parallel for num_threads(hb_cpu_nt(o, n * C)) schedule(static)
    for (int64_t i = 0; i < n; i++) memcpy(po + i * C, pin + (int64_t)pi[i] * C, (size_t)C * sizeof(float));
}

void hb_cpu_gather_rows_bwd(hb_ops *o, T_ d_in, T_ d_out, T_ idx, int64_t n, int64_t C, int64_t in_rows) {
    const int32_t *pi = I32P(idx);
    if (check_idx(o, "gather_rows_bwd", pi, n, in_rows)) return;
    float *pdi = F(d_in);
    const float *pdo = F(d_out);
    int64_t nb = (C + COLBLOCK - 1) / COLBLOCK;
#pragma omp parallel for num_threads(hb_cpu_nt(o, n * C)) schedule(static)
    for (int64_t blk = 0; blk < nb; blk++) {
        int64_t c0 = blk * COLBLOCK, w = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
        for (int64_t i = 0; i < n; i++) {
            float *dst = pdi + (int64_t)pi[i] * C + c0;
            const float *g = pdo + i * C + c0;
#pragma omp simd
            for (int64_t j = 0; j < w; j++) dst[j] += g[j];
        }
    }
}

/* ---------------------------------------------------------------------------------------------------------------
 * CLIP patches and embeddings
 * ------------------------------------------------------------------------------------------------------------- */
/* Moves between the pixel layout and the column layout; to_cols = 1 for im2col, 0 for its inverse. */
static void patches(hb_ops *o, float *cols, float *pix, int64_t B, int64_t Cin, int64_t S, int64_t P, int to_cols) {
    int64_t G = S / P, N = G * G, K = Cin * P * P;
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * Cin * S * S)) schedule(static)
    for (int64_t bn = 0; bn < B * N; bn++) {
        int64_t b = bn / N, n = bn % N, py = n / G, px = n % G;
        float *col = cols + bn * K;
        for (int64_t c = 0; c < Cin; c++)
            for (int64_t ky = 0; ky < P; ky++) {
                float *prow = pix + ((b * Cin + c) * S + py * P + ky) * S + px * P;
                float *crow = col + (c * P + ky) * P;
                if (to_cols)
                    memcpy(crow, prow, (size_t)P * sizeof(float));
                else
                    memcpy(prow, crow, (size_t)P * sizeof(float));
            }
    }
}

void hb_cpu_im2col_patches(hb_ops *o, T_ cols, T_ pixels, int64_t B, int64_t Cin, int64_t S, int64_t P) {
    patches(o, F(cols), F(pixels), B, Cin, S, P, 1);
}

void hb_cpu_im2col_patches_bwd(hb_ops *o, T_ d_pixels, T_ d_cols, int64_t B, int64_t Cin, int64_t S, int64_t P) {
    patches(o, F(d_cols), F(d_pixels), B, Cin, S, P, 0);
}

void hb_cpu_vit_embed_fwd(hb_ops *o, T_ x, T_ patches_, T_ cls, T_ pos, int64_t B, int64_t N, int64_t C) {
    float *px = F(x);
    const float *pp = F(patches_), *pc = F(cls), *ppos = F(pos);
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * (N + 1) * C)) schedule(static)
    for (int64_t bt = 0; bt < B * (N + 1); bt++) {
        int64_t b = bt / (N + 1), t = bt % (N + 1);
        const float *from = t == 0 ? pc : pp + (b * N + t - 1) * C, *pe = ppos + t * C;
        float *dst = px + bt * C;
#pragma omp simd
        for (int64_t j = 0; j < C; j++) dst[j] = from[j] + pe[j];
    }
}

void hb_cpu_vit_embed_bwd(hb_ops *o, T_ d_patches, T_ d_cls, T_ d_pos, T_ d_x, int64_t B, int64_t N, int64_t C) {
    const float *pdx = F(d_x);
    if (d_patches) {
        float *pdp = F(d_patches);
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * N * C)) schedule(static)
        for (int64_t b = 0; b < B; b++)
            memcpy(pdp + b * N * C, pdx + (b * (N + 1) + 1) * C, (size_t)(N * C) * sizeof(float));
    }
    if (d_cls) hb_cpu_colsum(o, F(d_cls), pdx, B, C, (N + 1) * C);      /* Σ_b d_x[b, 0] */
    if (d_pos) hb_cpu_colsum(o, F(d_pos), pdx, B, (N + 1) * C, (N + 1) * C); /* Σ_b d_x[b] */
}

void hb_cpu_posemb_add_fwd(hb_ops *o, T_ out, T_ x, T_ pos, int64_t B, int64_t N, int64_t C, int64_t skip) {
    float *po = F(out);
    const float *px = F(x), *pp = F(pos);
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * N * C)) schedule(static)
    for (int64_t bn = 0; bn < B * N; bn++) {
        int64_t b = bn / N, n = bn % N;
        const float *xr = px + (b * (N + skip) + skip + n) * C, *pr = pp + n * C;
        float *dst = po + bn * C;
#pragma omp simd
        for (int64_t j = 0; j < C; j++) dst[j] = xr[j] + pr[j];
    }
}

void hb_cpu_posemb_add_bwd(hb_ops *o, T_ d_x, T_ d_pos, T_ d_out, int64_t B, int64_t N, int64_t C, int64_t skip) {
    const float *pdo = F(d_out);
    if (d_x) {
        float *pdx = F(d_x);
#pragma omp parallel for num_threads(hb_cpu_nt(o, B * N * C)) schedule(static)
        for (int64_t b = 0; b < B; b++) {
            float *dst = pdx + b * (N + skip) * C;
            memset(dst, 0, (size_t)(skip * C) * sizeof(float));
            memcpy(dst + skip * C, pdo + b * N * C, (size_t)(N * C) * sizeof(float));
        }
    }
    if (d_pos) hb_cpu_colsum(o, F(d_pos), pdo, B, N * C, N * C);
}
