/* kernels/ops.c — the front door of kernels/ops.h: context and arena management shared by every backend, and one
 * checking wrapper per op. A wrapper verifies that each tensor is allocated in a committed arena, has an accepted
 * dtype and holds at least the elements the shape needs, and that outputs do not overlap inputs where the contract
 * forbids it; a failure becomes the context's sticky error ("linear_fwd(rows=4 n_out=8 n_in=16): x 'h' (f32, 50
 * elements) needs 64 elements") and the op is skipped. Then it calls the backend (kernels/ops_backend.h).
 *
 * Dependencies:
 *   kernels/ops_backend.h   hb_ops, hb_ops_arena, the vtable
 *   core/core.h             hb_err_set, hb_arena (tensor names), hb_buf, hb_fmt_count
 *   <stdarg.h>, <stdlib.h>, <string.h>
 */
#include "kernels/ops_backend.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_BYTES 256 /* every tensor starts on a 256-byte boundary (CUDA vector loads want 16; cache lines 64) */

const char *hb_dtype_name(hb_dtype dt) {
    switch (dt) {
    case HB_F32: return "f32";
    case HB_BF16: return "bf16";
    case HB_F16: return "f16";
    case HB_I32: return "i32";
    case HB_U8: return "u8";
    }
    return "?";
}

size_t hb_dtype_host_size(hb_dtype dt) {
    switch (dt) {
    case HB_F32: case HB_I32: return 4;
    case HB_BF16: case HB_F16: return 2;
    case HB_U8: return 1;
    }
    return 0;
}

const char *hb_act_name(hb_act a) {
    switch (a) {
    case HB_ACT_NONE: return "none";
    case HB_ACT_SILU: return "silu";
    case HB_ACT_QUICK_GELU: return "quick_gelu";
    case HB_ACT_RELU: return "relu";
    }
    return "?";
}

/* ---------------------------------------------------------------------------------------------------------------
 * Context
 * ------------------------------------------------------------------------------------------------------------- */
hb_ops *hb_ops_open(const char *backend, const hb_ops_opts *opts, hb_err *err) {
    hb_ops *o = hb_xcalloc(1, sizeof *o);
    if (opts) o->opts = *opts;
    int rc;
    if (!backend || !strcmp(backend, "cpu")) {
        rc = hb_cpu_open(o, err);
    }
#ifdef HB_CUDA
    else if (!strcmp(backend, "cuda")) {
        rc = hb_cuda_open(o, err);
    }
#endif
    else {
        rc = hb_err_set(err, HB_EUNSUPPORTED, NULL, HB_NOPOS, HB_NOPOS,
                        "unknown backend '%s' (this build has: cpu%s)", backend,
#ifdef HB_CUDA
                        ", cuda"
#else
                        ""
#endif
        );
    }
    if (rc) {
        free(o);
        return NULL;
    }
    return o;
}

void hb_ops_close(hb_ops *o) {
    if (!o) return;
    while (o->arenas) hb_ops_arena_free_(o->arenas);
    o->vt->close(o);
    free(o);
}

const char *hb_ops_describe(const hb_ops *o) { return o->describe; }
const char *hb_ops_backend(const hb_ops *o) { return o->vt->name; }
int hb_ops_threads(const hb_ops *o) { return o->threads; }
int hb_ops_failed(const hb_ops *o) { return o->failed; }

void hb_ops_reset_error(hb_ops *o) {
    o->failed = 0;
    hb_err_clear(&o->err);
}

int hb_ops_fail(hb_ops *o, const char *fmt, ...) {
    if (o->failed) return HB_EINVAL;
    o->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hb_err_set(&o->err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "%s: %s", o->vt->name, msg);
    return HB_EINVAL;
}

static int report(const hb_ops *o, hb_err *err) {
    if (!o->failed) return 0;
    if (err) *err = o->err;
    return o->err.code ? (int)o->err.code : HB_EINVAL;
}

int hb_ops_sync(hb_ops *o, hb_err *err) {
    if (!o->failed && o->vt->sync(o)) hb_ops_fail(o, "sync failed");
    return report(o, err);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Arenas
 * ------------------------------------------------------------------------------------------------------------- */
int64_t hb_ops_bytes(const hb_ops *o, hb_dtype dt, int64_t n) {
    int64_t b = n * o->vt->elem_size(dt);
    return (b + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
}

hb_ops_arena *hb_ops_arena_new(hb_ops *o, const char *name, int64_t capacity, hb_err *err) {
    if (capacity < 0) {
        hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "arena '%s': negative capacity", name ? name : "");
        return NULL;
    }
    hb_ops_arena *a = hb_xcalloc(1, sizeof *a);
    a->ops = o;
    a->name = hb_xstrdup(name ? name : "arena");
    hb_arena_init(&a->names, 0);
    if (capacity > 0) {
        capacity = (capacity + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
        if (o->vt->mem_alloc(o, a, capacity, err)) {
            hb_err_prefix(err, "arena '%s'", a->name);
            hb_arena_free(&a->names);
            free(a->name);
            free(a);
            return NULL;
        }
        a->capacity = capacity;
    }
    a->next = o->arenas;
    o->arenas = a;
    return a;
}

int hb_ops_arena_commit(hb_ops_arena *a, hb_err *err) {
    if (a->base) return 0;
    int64_t bytes = a->used > 0 ? a->used : ALIGN_BYTES;
    if (a->ops->vt->mem_alloc(a->ops, a, bytes, err)) {
        hb_err_prefix(err, "arena '%s' (%lld bytes)", a->name, (long long)bytes);
        return err ? err->code : HB_ENOMEM;
    }
    a->capacity = bytes;
    return 0;
}

int hb_ops_alloc(hb_ops_arena *a, hb_tensor *t, hb_dtype dt, int64_t n, const char *name, hb_err *err) {
    memset(t, 0, sizeof *t);
    if (dt == HB_F16 || (unsigned)dt > HB_U8)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "tensor '%s': dtype %s cannot be allocated",
                          name ? name : "", hb_dtype_name(dt));
    if (n < 0 || n > ((int64_t)1 << 50))
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "tensor '%s': bad element count %lld",
                          name ? name : "", (long long)n);
    int64_t bytes = hb_ops_bytes(a->ops, dt, n);
    if (a->base && a->used + bytes > a->capacity) {
        char b1[32], b2[32], b3[32];
        return hb_err_set(err, HB_ENOMEM, NULL, HB_NOPOS, HB_NOPOS,
                          "arena '%s' is full: tensor '%s' needs %s bytes, %s of %s used (size the arena at planning "
                          "time)",
                          a->name, name ? name : "", hb_fmt_count((uint64_t)bytes, b1, sizeof b1),
                          hb_fmt_count((uint64_t)a->used, b2, sizeof b2),
                          hb_fmt_count((uint64_t)a->capacity, b3, sizeof b3));
    }
    t->arena = a;
    t->byte_off = a->used;
    t->n = n;
    t->dtype = dt;
    t->name = hb_arena_strdup(&a->names, name ? name : "");
    a->used += bytes;
    a->n_tensors++;
    return 0;
}

int64_t hb_ops_arena_used(const hb_ops_arena *a) { return a->used; }
int64_t hb_ops_arena_capacity(const hb_ops_arena *a) { return a->capacity; }

void hb_ops_arena_free_(hb_ops_arena *a) {
    hb_ops *o = a->ops;
    for (hb_ops_arena **p = &o->arenas; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    if (a->base) o->vt->mem_free(o, a);
    hb_arena_free(&a->names);
    free(a->name);
    free(a);
}

void hb_ops_memory_report(const hb_ops *o, hb_buf *out) {
    char b1[32], b2[32];
    int64_t total = 0;
    for (const hb_ops_arena *a = o->arenas; a; a = a->next) {
        hb_buf_printf(out, "  %-12s %16s bytes in %lld tensors (capacity %s)\n", a->name,
                      hb_fmt_count((uint64_t)a->used, b1, sizeof b1), (long long)a->n_tensors,
                      hb_fmt_count((uint64_t)a->capacity, b2, sizeof b2));
        total += a->capacity;
    }
    hb_buf_printf(out, "  %-12s %16s bytes\n", "workspace", hb_fmt_count((uint64_t)o->workspace_bytes, b1, sizeof b1));
    total += o->workspace_bytes;
    hb_buf_printf(out, "  %-12s %16s bytes\n", "total", hb_fmt_count((uint64_t)total, b1, sizeof b1));
}

hb_tensor hb_tensor_view(const hb_tensor *t, int64_t off, int64_t n) {
    hb_tensor v;
    memset(&v, 0, sizeof v);
    if (!t || !t->arena) return v;
    if (off < 0 || n < 0 || off > t->n || n > t->n - off) {
        hb_ops_fail(t->arena->ops, "view [%lld, %lld) of '%s' (%lld elements) is out of range", (long long)off,
                    (long long)(off + n), t->name, (long long)t->n);
        return v;
    }
    v = *t;
    v.byte_off = t->byte_off + off * t->arena->ops->vt->elem_size(t->dtype);
    v.n = n;
    return v;
}
