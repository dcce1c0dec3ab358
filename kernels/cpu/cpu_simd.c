/* kernels/cpu/cpu_simd.c — the vector loops the hot CPU kernels share (softmax rows, exp-sums, activations), compiled
 * three times (AVX-512, AVX2, baseline SSE2) and picked at load time for the machine (GCC target_clones).
 *
 * Elementwise results are the same bits in every clone: each lane does the same IEEE operations and contraction
 * into FMA is off (cpu.h). Only the sums (hb_cpu_vsum, hb_cpu_vexp_sum) split into as many lanes as the vector width,
 * so their last bits depend on the machine's instruction set — never on the thread count.
 *
 * Dependencies:
 *   kernels/cpu/cpu.h   hb_cpu_expf, hb_cpu_sigmoid, HB_CPU_CLONES
 */
#include "kernels/cpu/cpu.h"

HB_CPU_CLONES float hb_cpu_vmax(const float *x, int64_t n) {
    float m = x[0];
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

HB_CPU_CLONES double hb_cpu_vsum(const float *x, int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; j++) s += x[j];
    return s;
}

HB_CPU_CLONES double hb_cpu_vexp_sum(float *y, const float *x, int64_t n, float shift) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) y[j] = hb_cpu_expf(x[j] - shift);
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; j++) s += y[j];
    return s;
}

HB_CPU_CLONES void hb_cpu_vexp(float *y, const float *x, int64_t n, float shift) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) y[j] = hb_cpu_expf(x[j] - shift);
}

HB_CPU_CLONES void hb_cpu_vscale(float *y, int64_t n, float k) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) y[j] *= k;
}

HB_CPU_CLONES void hb_cpu_vsoftmax_grad(float *dp, const float *p, int64_t n, float di, float scale) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) dp[j] = p[j] * (dp[j] - di) * scale;
}

#define QG 1.702f

HB_CPU_CLONES void hb_cpu_vact(float *y, const float *x, int64_t n, hb_act act) {
    switch (act) { /* one loop per activation so each vectorises */
    case HB_ACT_SILU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * hb_cpu_sigmoid(x[i]);
        break;
    case HB_ACT_QUICK_GELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * hb_cpu_sigmoid(QG * x[i]);
        break;
    case HB_ACT_RELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
        break;
    default:
        if (y != x) memmove(y, x, (size_t)n * sizeof(float));
    }
}

HB_CPU_CLONES void hb_cpu_vdact(float *dx, const float *dy, const float *x, int64_t n, hb_act act, int acc) {
    switch (act) {
    case HB_ACT_SILU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float s = hb_cpu_sigmoid(x[i]);
            float g = dy[i] * (s * (1.0f + x[i] * (1.0f - s)));
            dx[i] = acc ? dx[i] + g : g;
        }
        break;
    case HB_ACT_QUICK_GELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float s = hb_cpu_sigmoid(QG * x[i]);
            float g = dy[i] * (s + QG * x[i] * s * (1.0f - s));
            dx[i] = acc ? dx[i] + g : g;
        }
        break;
    case HB_ACT_RELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float g = x[i] > 0 ? dy[i] : 0.0f;
            dx[i] = acc ? dx[i] + g : g;
        }
        break;
    default:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = acc ? dx[i] + dy[i] : dy[i];
    }
}

HB_CPU_CLONES void hb_cpu_vswiglu(float *m, const float *a, const float *b, int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) m[j] = a[j] * hb_cpu_sigmoid(a[j]) * b[j];
}

HB_CPU_CLONES void hb_cpu_vswiglu_grad(float *da, float *db, const float *dm, const float *a, const float *b,
                                       int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        float s = hb_cpu_sigmoid(a[j]);
        db[j] = dm[j] * a[j] * s;
        da[j] = dm[j] * b[j] * (s * (1.0f + a[j] * (1.0f - s)));
    }
}
