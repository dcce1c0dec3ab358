/* kernels/ops_check.h — the argument-checking helpers of the op wrappers (kernels/ops_check*.c); internal.
 * A wrapper opens with BEGIN("op"), states what each tensor must be (NEED / OPT: allocated, committed, same context,
 * dtype class, at least so many elements), the size and aliasing rules (ARG, NOALIAS), then `if (failed(c, shape
 * format, ...)) return;` records the first problem as the sticky error "op(shape): problem" and skips the op.
 *
 * Dependencies:
 *   kernels/ops_backend.h   hb_ops internals, hb_ops_fail
 *   <stdarg.h>, <stdio.h>
 */
#ifndef HB_OPS_CHECK_H
#define HB_OPS_CHECK_H

#include "kernels/ops_backend.h"

#include <stdarg.h>
#include <stdio.h>

#define FLT ((1u << HB_F32) | (1u << HB_BF16))
#define F32 (1u << HB_F32)
#define I32 (1u << HB_I32)
#define ALLT (FLT | I32 | (1u << HB_U8))

typedef struct {
    hb_ops *o;
    const char *op;
    int bad;
    char msg[640];
} chk;

static inline int bad(chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int bad(chk *c, const char *fmt, ...) {
    if (c->bad) return 0;
    c->bad = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    return 0;
}

static inline const char *kinds_str(unsigned k) {
    if (k == FLT) return "a float tensor (f32 or bf16)";
    if (k == F32) return "f32";
    if (k == I32) return "i32";
    return "f32, bf16, i32 or u8";
}

/* a*b for sizes; -1 when either is negative, INT64_MAX on overflow (both fail the size check). */
static inline int64_t mul(int64_t a, int64_t b) {
    int64_t r;
    if (a < 0 || b < 0) return -1;
    if (__builtin_mul_overflow(a, b, &r)) return INT64_MAX;
    return r;
}
#define M2(a, b) mul((a), (b))
#define M3(a, b, c) mul(mul((a), (b)), (c))
#define M4(a, b, c, d) mul(mul(mul((a), (b)), (c)), (d))

static inline int need(chk *c, const char *what, const hb_tensor *t, int64_t cnt, unsigned kinds, int optional) {
    if (c->bad) return 0;
    if (!t) return optional ? 1 : bad(c, "%s is required (got NULL)", what);
    if (!t->arena) return bad(c, "%s is not an allocated tensor", what);
    if (t->arena->ops != c->o) return bad(c, "%s '%s' belongs to another backend context", what, t->name);
    if (!t->arena->base)
        return bad(c, "%s '%s' lives in arena '%s', which is not committed yet", what, t->name, t->arena->name);
    if (!(kinds & (1u << t->dtype)))
        return bad(c, "%s '%s' is %s; expected %s", what, t->name, hb_dtype_name(t->dtype), kinds_str(kinds));
    if (cnt < 0) return bad(c, "negative size for %s", what);
    if (t->n < cnt)
        return bad(c, "%s '%s' (%s, %lld elements) is too small: the shape needs %lld elements", what, t->name,
                   hb_dtype_name(t->dtype), (long long)t->n, (long long)cnt);
    return 1;
}

/* Byte ranges of a and b (first cnt elements each) overlap. */
static inline void noalias(chk *c, const char *wa, const hb_tensor *a, int64_t na, const char *wb, const hb_tensor *b,
                    int64_t nb) {
    if (c->bad || !a || !b || a->arena != b->arena) return;
    int64_t es_a = c->o->vt->elem_size(a->dtype), es_b = c->o->vt->elem_size(b->dtype);
    int64_t a0 = a->byte_off, a1 = a0 + na * es_a, b0 = b->byte_off, b1 = b0 + nb * es_b;
    if (a0 < b1 && b0 < a1 && na > 0 && nb > 0) bad(c, "%s '%s' overlaps %s '%s'", wa, a->name, wb, b->name);
}

static inline void arg(chk *c, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void arg(chk *c, int ok, const char *fmt, ...) {
    if (ok || c->bad) return;
    c->bad = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
}

/* When a check failed: record "op(shape): msg" and return 1. */
static inline int failed(chk *c, const char *shape_fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int failed(chk *c, const char *shape_fmt, ...) {
    if (!c->bad) return 0;
    char shape[256];
    va_list ap;
    va_start(ap, shape_fmt);
    vsnprintf(shape, sizeof shape, shape_fmt, ap);
    va_end(ap);
    hb_ops_fail(c->o, "%s(%s): %s", c->op, shape, c->msg);
    return 1;
}

static inline void after(hb_ops *o, const char *op) {
    if (o->opts.debug_sync && !o->failed && o->vt->sync(o)) hb_ops_fail(o, "%s: failed (debug sync)", op);
}

#define BEGIN(name)                                                                                                   \
    if (!o || o->failed) return;                                                                                      \
    chk c_ = {o, name, 0, ""};                                                                                        \
    chk *c = &c_
#define NEED(t, cnt, k) need(c, #t, t, cnt, k, 0)
#define OPT(t, cnt, k) need(c, #t, t, cnt, k, 1)
#define ARG(cond, ...) arg(c, (cond), __VA_ARGS__)
#define NOALIAS(a, na, b, nb) noalias(c, #a, a, na, #b, b, nb)
#define L(x) ((long long)(x))
#define RUN(fn, ...)                                                                                                  \
    do {                                                                                                              \
        o->vt->fn(o, __VA_ARGS__);                                                                                    \
        after(o, c->op);                                                                                              \
    } while (0)

#endif
