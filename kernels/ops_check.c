/* kernels/ops_check.c — the checking wrapper of every op in kernels/ops.h (see kernels/ops.c for the context and
 * arenas). Each wrapper: skip when a sticky error is set; check tensors (allocated, committed, same context, dtype,
 * enough elements for the shape), sizes and aliasing; on failure record "op(shape): what is wrong" as the sticky
 * error; otherwise call the backend. Index values held in tensors (ids, targets, lengths) are checked by the
 * backend, which can read them.
 *
 * This file: transfers, elementwise utilities, linear, activations, norms; kernels/ops_check_nn.c: the rest.
 *
 * Dependencies:
 *   kernels/ops_check.h   BEGIN/NEED/OPT/ARG/NOALIAS/failed/RUN, the vtable
 */
#include "kernels/ops_check.h"

/* ---------------------------------------------------------------------------------------------------------------
 * Transfers and elementwise utilities
 * ------------------------------------------------------------------------------------------------------------- */
void hb_ops_upload(hb_ops *o, const hb_tensor *t, int64_t off, const void *src, hb_dtype src_dtype, int64_t n) {
    BEGIN("upload");
    NEED(t, off + n, ALLT);
    ARG(off >= 0 && n >= 0, "negative offset or count");
    ARG(n == 0 || src != NULL, "src is NULL");
    int tf = t && (t->dtype == HB_F32 || t->dtype == HB_BF16);
    ARG(!t || (tf ? (src_dtype == HB_F32 || src_dtype == HB_BF16 || src_dtype == HB_F16) : src_dtype == t->dtype),
        "cannot convert %s source data into a %s tensor", hb_dtype_name(src_dtype), t ? hb_dtype_name(t->dtype) : "");
    if (failed(c, "'%s' off=%lld n=%lld", t ? t->name : "", L(off), L(n))) return;
    if (n) RUN(upload, t, off, src, src_dtype, n);
}

int hb_ops_download(hb_ops *o, void *dst, hb_dtype dst_dtype, const hb_tensor *t, int64_t off, int64_t n,
                    hb_err *err) {
    if (!o->failed) {
        chk c_ = {o, "download", 0, ""};
        chk *c = &c_;
        NEED(t, off + n, ALLT);
        ARG(off >= 0 && n >= 0, "negative offset or count");
        ARG(n == 0 || dst != NULL, "dst is NULL");
        int tf = t && (t->dtype == HB_F32 || t->dtype == HB_BF16);
        ARG(!t || (tf ? (dst_dtype == HB_F32 || dst_dtype == HB_BF16 || dst_dtype == HB_F16) : dst_dtype == t->dtype),
            "cannot convert a %s tensor into %s data", t ? hb_dtype_name(t->dtype) : "", hb_dtype_name(dst_dtype));
        if (!failed(c, "'%s' off=%lld n=%lld", t ? t->name : "", L(off), L(n)) && n) {
            if (o->vt->sync(o)) hb_ops_fail(o, "download: sync failed");
            if (!o->failed) o->vt->download(o, dst, dst_dtype, t, off, n);
        }
    }
    return hb_ops_sync(o, err);
}

void hb_ops_zero(hb_ops *o, const hb_tensor *t) {
    BEGIN("zero");
    NEED(t, 0, ALLT);
    if (failed(c, "-")) return;
    RUN(zero, t);
}

void hb_ops_fill(hb_ops *o, const hb_tensor *t, float v) {
    BEGIN("fill");
    NEED(t, 0, FLT);
    if (failed(c, "value=%g", (double)v)) return;
    RUN(fill, t, v);
}

void hb_ops_copy(hb_ops *o, const hb_tensor *dst, const hb_tensor *src, int64_t n) {
    BEGIN("copy");
    NEED(dst, n, ALLT);
    NEED(src, n, ALLT);
    ARG(!dst || !src || dst->dtype == src->dtype, "dtypes %s and %s differ (use hb_ops_cast)",
        dst ? hb_dtype_name(dst->dtype) : "", src ? hb_dtype_name(src->dtype) : "");
    NOALIAS(dst, n, src, n);
    if (failed(c, "n=%lld", L(n))) return;
    RUN(copy, dst, src, n);
}

void hb_ops_cast(hb_ops *o, const hb_tensor *dst, const hb_tensor *src, int64_t n) {
    BEGIN("cast");
    NEED(dst, n, FLT);
    NEED(src, n, FLT);
    NOALIAS(dst, n, src, n);
    if (failed(c, "n=%lld", L(n))) return;
    RUN(cast, dst, src, n);
}

void hb_ops_add(hb_ops *o, const hb_tensor *out, const hb_tensor *a, const hb_tensor *b, int64_t n) {
    BEGIN("add");
    NEED(out, n, FLT);
    NEED(a, n, FLT);
    NEED(b, n, FLT);
    if (failed(c, "n=%lld", L(n))) return;
    RUN(add, out, a, b, n);
}

void hb_ops_axpy(hb_ops *o, const hb_tensor *y, float alpha, const hb_tensor *x, int64_t n) {
    BEGIN("axpy");
    NEED(y, n, FLT);
    NEED(x, n, FLT);
    if (failed(c, "n=%lld alpha=%g", L(n), (double)alpha)) return;
    RUN(axpy, y, alpha, x, n);
}

void hb_ops_scale(hb_ops *o, const hb_tensor *x, float alpha, int64_t n) {
    BEGIN("scale");
    NEED(x, n, FLT);
    if (failed(c, "n=%lld alpha=%g", L(n), (double)alpha)) return;
    RUN(scale, x, alpha, n);
}

void hb_ops_sum_rows(hb_ops *o, const hb_tensor *out, const hb_tensor *in, int64_t rows, int64_t cols) {
    BEGIN("sum_rows");
    NEED(out, cols, FLT);
    NEED(in, M2(rows, cols), FLT);
    NOALIAS(out, cols, in, M2(rows, cols));
    if (failed(c, "rows=%lld cols=%lld", L(rows), L(cols))) return;
    RUN(sum_rows, out, in, rows, cols);
}

void hb_ops_sum(hb_ops *o, const hb_tensor *out, const hb_tensor *in, int64_t n) {
    BEGIN("sum");
    NEED(out, 1, F32);
    NEED(in, n, FLT);
    NOALIAS(out, 1, in, n);
    if (failed(c, "n=%lld", L(n))) return;
    RUN(sum, out, in, n);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Linear
 * ------------------------------------------------------------------------------------------------------------- */
#define LIN_SHAPE "rows=%lld n_out=%lld n_in=%lld", L(rows), L(n_out), L(n_in)

void hb_ops_linear_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *x, const hb_tensor *w, const hb_tensor *b,
                       int64_t rows, int64_t n_out, int64_t n_in, int accumulate) {
    BEGIN("linear_fwd");
    ARG(rows >= 0 && n_out > 0 && n_in > 0, "sizes must be positive");
    NEED(y, M2(rows, n_out), FLT);
    NEED(x, M2(rows, n_in), FLT);
    NEED(w, M2(n_out, n_in), FLT);
    OPT(b, n_out, FLT);
    NOALIAS(y, M2(rows, n_out), x, M2(rows, n_in));
    NOALIAS(y, M2(rows, n_out), w, M2(n_out, n_in));
    if (failed(c, LIN_SHAPE)) return;
    if (rows) RUN(linear_fwd, y, x, w, b, rows, n_out, n_in, accumulate);
}

void hb_ops_linear_bwd_data(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_y, const hb_tensor *w, int64_t rows,
                            int64_t n_out, int64_t n_in, int accumulate) {
    BEGIN("linear_bwd_data");
    ARG(rows >= 0 && n_out > 0 && n_in > 0, "sizes must be positive");
    NEED(d_x, M2(rows, n_in), FLT);
    NEED(d_y, M2(rows, n_out), FLT);
    NEED(w, M2(n_out, n_in), FLT);
    NOALIAS(d_x, M2(rows, n_in), d_y, M2(rows, n_out));
    if (failed(c, LIN_SHAPE)) return;
    if (rows) RUN(linear_bwd_data, d_x, d_y, w, rows, n_out, n_in, accumulate);
}

void hb_ops_linear_bwd_weight(hb_ops *o, const hb_tensor *d_w, const hb_tensor *d_b, const hb_tensor *d_y,
                              const hb_tensor *x, int64_t rows, int64_t n_out, int64_t n_in) {
    BEGIN("linear_bwd_weight");
    ARG(rows >= 0 && n_out > 0 && n_in > 0, "sizes must be positive");
    OPT(d_w, M2(n_out, n_in), FLT);
    OPT(d_b, n_out, FLT);
    NEED(d_y, M2(rows, n_out), FLT);
    if (d_w) NEED(x, M2(rows, n_in), FLT);
    if (failed(c, LIN_SHAPE)) return;
    if (rows && (d_w || d_b)) RUN(linear_bwd_weight, d_w, d_b, d_y, x, rows, n_out, n_in);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------------------------------------------------- */
static int act_ok(hb_act a) { return a == HB_ACT_NONE || a == HB_ACT_SILU || a == HB_ACT_QUICK_GELU || a == HB_ACT_RELU; }

void hb_ops_act_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *x, int64_t n, hb_act act) {
    BEGIN("act_fwd");
    ARG(act_ok(act), "unknown activation %d", (int)act);
    NEED(y, n, FLT);
    NEED(x, n, FLT);
    if (failed(c, "n=%lld act=%s", L(n), hb_act_name(act))) return;
    RUN(act_fwd, y, x, n, act);
}

void hb_ops_act_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_y, const hb_tensor *x, int64_t n, hb_act act,
                    int accumulate) {
    BEGIN("act_bwd");
    ARG(act_ok(act), "unknown activation %d", (int)act);
    NEED(d_x, n, FLT);
    NEED(d_y, n, FLT);
    NEED(x, n, FLT);
    NOALIAS(d_x, n, x, n);
    if (failed(c, "n=%lld act=%s", L(n), hb_act_name(act))) return;
    RUN(act_bwd, d_x, d_y, x, n, act, accumulate);
}

void hb_ops_swiglu_fwd(hb_ops *o, const hb_tensor *m, const hb_tensor *ab, int64_t rows, int64_t I) {
    BEGIN("swiglu_fwd");
    ARG(rows >= 0 && I > 0, "sizes must be positive");
    NEED(m, M2(rows, I), FLT);
    NEED(ab, M3(rows, 2, I), FLT);
    NOALIAS(m, M2(rows, I), ab, M3(rows, 2, I));
    if (failed(c, "rows=%lld I=%lld", L(rows), L(I))) return;
    RUN(swiglu_fwd, m, ab, rows, I);
}

void hb_ops_swiglu_bwd(hb_ops *o, const hb_tensor *d_ab, const hb_tensor *d_m, const hb_tensor *ab, int64_t rows,
                       int64_t I) {
    BEGIN("swiglu_bwd");
    ARG(rows >= 0 && I > 0, "sizes must be positive");
    NEED(d_ab, M3(rows, 2, I), FLT);
    NEED(d_m, M2(rows, I), FLT);
    NEED(ab, M3(rows, 2, I), FLT);
    NOALIAS(d_ab, M3(rows, 2, I), d_m, M2(rows, I));
    NOALIAS(d_ab, M3(rows, 2, I), ab, M3(rows, 2, I));
    if (failed(c, "rows=%lld I=%lld", L(rows), L(I))) return;
    RUN(swiglu_bwd, d_ab, d_m, ab, rows, I);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Norms
 * ------------------------------------------------------------------------------------------------------------- */
#define NORM_SHAPE "rows=%lld C=%lld", L(rows), L(C)

void hb_ops_layernorm_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *mean, const hb_tensor *rstd,
                          const hb_tensor *x, const hb_tensor *gamma, const hb_tensor *beta, const hb_tensor *residual,
                          int64_t rows, int64_t C, float eps, hb_act act) {
    BEGIN("layernorm_fwd");
    int64_t n = M2(rows, C);
    ARG(rows >= 0 && C > 0, "sizes must be positive");
    ARG(act_ok(act), "unknown activation %d", (int)act);
    ARG(eps >= 0, "negative eps");
    NEED(y, n, FLT);
    OPT(mean, rows, F32);
    OPT(rstd, rows, F32);
    ARG(!mean == !rstd, "mean and rstd go together (both or neither)");
    NEED(x, n, FLT);
    NEED(gamma, C, FLT);
    NEED(beta, C, FLT);
    OPT(residual, n, FLT);
    if (mean) NOALIAS(y, n, x, n);
    if (failed(c, NORM_SHAPE)) return;
    RUN(layernorm_fwd, y, mean, rstd, x, gamma, beta, residual, rows, C, eps, act);
}

void hb_ops_residual_layernorm_fwd(hb_ops *o, const hb_tensor *x_out, const hb_tensor *y, const hb_tensor *mean,
                                   const hb_tensor *rstd, const hb_tensor *x_in, const hb_tensor *add,
                                   const hb_tensor *gamma, const hb_tensor *beta, int64_t rows, int64_t C, float eps) {
    BEGIN("residual_layernorm_fwd");
    int64_t n = M2(rows, C);
    ARG(rows >= 0 && C > 0, "sizes must be positive");
    NEED(x_out, n, FLT);
    NEED(y, n, FLT);
    OPT(mean, rows, F32);
    OPT(rstd, rows, F32);
    ARG(!mean == !rstd, "mean and rstd go together (both or neither)");
    NEED(x_in, n, FLT);
    NEED(add, n, FLT);
    NEED(gamma, C, FLT);
    NEED(beta, C, FLT);
    NOALIAS(y, n, x_out, n);
    NOALIAS(y, n, x_in, n);
    if (failed(c, NORM_SHAPE)) return;
    RUN(residual_layernorm_fwd, x_out, y, mean, rstd, x_in, add, gamma, beta, rows, C, eps);
}

void hb_ops_layernorm_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_residual, const hb_tensor *d_gamma,
                          const hb_tensor *d_beta, const hb_tensor *d_y, const hb_tensor *d_y_mean, int64_t group_rows,
                          const hb_tensor *x, const hb_tensor *mean, const hb_tensor *rstd, const hb_tensor *gamma,
                          const hb_tensor *beta, const hb_tensor *residual, int64_t rows, int64_t C, hb_act act,
                          int accumulate) {
    BEGIN("layernorm_bwd");
    int64_t n = M2(rows, C);
    ARG(rows >= 0 && C > 0, "sizes must be positive");
    ARG(act_ok(act), "unknown activation %d", (int)act);
    OPT(d_x, n, FLT);
    OPT(d_residual, n, FLT);
    OPT(d_gamma, C, FLT);
    OPT(d_beta, C, FLT);
    NEED(d_y, n, FLT);
    if (d_y_mean) {
        ARG(group_rows > 0 && rows % group_rows == 0, "group_rows %lld does not divide rows", L(group_rows));
        if (group_rows > 0) NEED(d_y_mean, M2(rows / group_rows, C), FLT);
    }
    NEED(x, n, FLT);
    NEED(mean, rows, F32);
    NEED(rstd, rows, F32);
    NEED(gamma, C, FLT);
    if (act != HB_ACT_NONE) NEED(beta, C, FLT);
    if (act != HB_ACT_NONE) OPT(residual, n, FLT);
    ARG(!d_residual || act != HB_ACT_NONE || residual, "d_residual needs the forward's residual");
    NOALIAS(d_x, n, d_y, n);
    NOALIAS(d_x, n, x, n);
    NOALIAS(d_residual, n, d_y, n);
    NOALIAS(d_residual, n, d_x, n);
    if (failed(c, NORM_SHAPE)) return;
    RUN(layernorm_bwd, d_x, d_residual, d_gamma, d_beta, d_y, d_y_mean, group_rows, x, mean, rstd, gamma, beta,
        act != HB_ACT_NONE ? residual : NULL, rows, C, act, accumulate);
}

void hb_ops_rmsnorm_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *rstd, const hb_tensor *x, const hb_tensor *w,
                        int64_t rows, int64_t C, float eps) {
    BEGIN("rmsnorm_fwd");
    int64_t n = M2(rows, C);
    ARG(rows >= 0 && C > 0, "sizes must be positive");
    NEED(y, n, FLT);
    OPT(rstd, rows, F32);
    NEED(x, n, FLT);
    NEED(w, C, FLT);
    if (failed(c, NORM_SHAPE)) return;
    RUN(rmsnorm_fwd, y, rstd, x, w, rows, C, eps);
}

void hb_ops_residual_rmsnorm_fwd(hb_ops *o, const hb_tensor *x_out, const hb_tensor *y, const hb_tensor *rstd,
                                 const hb_tensor *x_in, const hb_tensor *add, const hb_tensor *w, int64_t rows,
                                 int64_t C, float eps) {
    BEGIN("residual_rmsnorm_fwd");
    int64_t n = M2(rows, C);
    ARG(rows >= 0 && C > 0, "sizes must be positive");
    NEED(x_out, n, FLT);
    NEED(y, n, FLT);
    OPT(rstd, rows, F32);
    NEED(x_in, n, FLT);
    NEED(add, n, FLT);
    NEED(w, C, FLT);
    NOALIAS(y, n, x_out, n);
    NOALIAS(y, n, x_in, n);
    if (failed(c, NORM_SHAPE)) return;
    RUN(residual_rmsnorm_fwd, x_out, y, rstd, x_in, add, w, rows, C, eps);
}

void hb_ops_rmsnorm_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_w, const hb_tensor *d_y,
                        const hb_tensor *x, const hb_tensor *rstd, const hb_tensor *w, int64_t rows, int64_t C,
                        int accumulate) {
    BEGIN("rmsnorm_bwd");
    int64_t n = M2(rows, C);
    ARG(rows >= 0 && C > 0, "sizes must be positive");
    OPT(d_x, n, FLT);
    OPT(d_w, C, FLT);
    NEED(d_y, n, FLT);
    NEED(x, n, FLT);
    NEED(rstd, rows, F32);
    NEED(w, C, FLT);
    NOALIAS(d_x, n, d_y, n);
    NOALIAS(d_x, n, x, n);
    if (failed(c, NORM_SHAPE)) return;
    RUN(rmsnorm_bwd, d_x, d_w, d_y, x, rstd, w, rows, C, accumulate);
}
