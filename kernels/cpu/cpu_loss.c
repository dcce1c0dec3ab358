/* kernels/cpu/cpu_loss.c — the masked cross-entropy (with its gradient produced in the same pass), the global
 * gradient norm and AdamW on the CPU.
 *
 *   xent:  per row, m = max z, l = Σ exp(z − m) (double, in blocks of 1024), loss = m + log l − z[t];
 *          d_z = (scale/l)·exp(z − m) − scale·onehot(t); ignored rows (t < 0): loss 0, d_z 0. d_z may overwrite z.
 *   norm:  Σ over tensors (in table order) of the chunked double sums of g² (hb_cpu_sum_f).
 *   AdamW: torch.optim.AdamW's single-tensor path, element by element in fp32 (see kernels/ops.h).
 *
 * Gradient convention: d_logits (=). AdamW updates param, m, v (and master) in place.
 *
 * Dependencies:
 *   kernels/cpu/cpu.h   accessors, hb_cpu_expf, hb_cpu_sum_f, hb_ops_fail
 *   <math.h>            log, pow, sqrt, sqrtf
 */
#include "kernels/cpu/cpu.h"

#include <math.h>

#define XB 1024 /* logits per block of the exp-sum */

void hb_cpu_xent(hb_ops *o, T_ d_logits, T_ losses, T_ logits, T_ targets, int64_t rows, int64_t V, float scale) {
    const int32_t *pt = I32P(targets);
    for (int64_t r = 0; r < rows; r++)
        if (pt[r] >= V) {
            hb_ops_fail(o, "%s: target of row %lld is %d, beyond the vocabulary (V=%lld)",
                        d_logits ? "xent_fwd_bwd" : "xent_fwd", (long long)r, pt[r], (long long)V);
            return;
        }
    float *pd = F(d_logits), *pl = F(losses);
    const float *pz = F(logits);
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * V * 4)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *z = pz + r * V;
        float *d = pd ? pd + r * V : NULL;
        int64_t t = pt[r];
        if (t < 0) {
            pl[r] = 0.0f;
            if (d) memset(d, 0, (size_t)V * sizeof(float));
            continue;
        }
        float zt = z[t], m = hb_cpu_vmax(z, V); /* z may be d: read z[t] before anything is written */
        /* exp(z − m) into d (or a block buffer), summed in blocks: the same order with or without d */
        double l = 0;
        float buf[XB];
        for (int64_t j0 = 0; j0 < V; j0 += XB) {
            int64_t w = V - j0 < XB ? V - j0 : XB;
            l += hb_cpu_vexp_sum(d ? d + j0 : buf, z + j0, w, m);
        }
        pl[r] = m + (float)log(l) - zt;
        if (d) {
            hb_cpu_vscale(d, V, (float)((double)scale / l));
            d[t] -= scale;
        }
    }
}

void hb_cpu_grad_norm_sq(hb_ops *o, T_ const *grads, int n, double *sum_sq) {
    double s = 0;
    for (int i = 0; i < n; i++) s += hb_cpu_sum_f(o, F(grads[i]), grads[i]->n, 1);
    *sum_sq = s;
}

void hb_cpu_adamw(hb_ops *o, const hb_adamw_slot *slots, int n, const hb_adamw_hparams *hp) {
    double bc1 = 1.0 - pow(hp->beta1, (double)hp->step), bc2 = 1.0 - pow(hp->beta2, (double)hp->step);
    const float neg_step = (float)(-(hp->lr / bc1)), bc2_sqrt = (float)sqrt(bc2);
    const float b1w = (float)(1.0 - hp->beta1), b2 = (float)hp->beta2, b2w = (float)(1.0 - hp->beta2);
    const float eps = (float)hp->eps, gs = hp->grad_scale;
    for (int k = 0; k < n; k++) {
        const hb_adamw_slot *s = &slots[k];
        int64_t cnt = s->param->n;
        float *p = s->master ? F(s->master) : F(s->param), *out = s->master ? F(s->param) : NULL;
        float *m = F(s->m), *v = F(s->v);
        const float *g = F(s->grad);
        const float decay = (float)(1.0 - hp->lr * (s->decay ? hp->weight_decay : 0.0));
        const int use_decay = s->decay && hp->weight_decay != 0.0, round = out && s->param->dtype == HB_BF16;
#pragma omp parallel for num_threads(hb_cpu_nt(o, cnt * 8)) schedule(static)
        for (int64_t i = 0; i < cnt; i++) {
            float gi = g[i] * gs;
            float pi = use_decay ? p[i] * decay : p[i];
            float mi = m[i] + b1w * (gi - m[i]); /* torch lerp with weight < 0.5 */
            float vi = v[i] * b2 + b2w * gi * gi;
            float den = sqrtf(vi) / bc2_sqrt + eps;
            pi = pi + neg_step * mi / den;
            m[i] = mi;
            v[i] = vi;
            p[i] = pi;
            if (out) out[i] = round ? hb_round_bf16(pi) : pi;
        }
    }
}
