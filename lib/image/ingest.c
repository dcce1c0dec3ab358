/* Ingest: resolve -> read -> hash -> decode + verify + resize -> store, once per distinct path and once per distinct
 * file content, from any number of threads (image.h, docs/images.md).
 *
 * Two caches under one lock: paths ((root, normalised path) -> hash or reject reason) and contents (hash -> stored or
 * reject reason). A key being worked on is marked busy; another thread asking for it waits on the condition variable
 * instead of doing the work twice. Rejects are collected and reported, sorted, by hb_ingest_finish, so the report
 * and the store are the same whatever the thread count.
 *
 * Dependencies: image.h (decoder, roots), shard/imgstore.h (the store writer), core/core.h (hb_buf, hb_hash128_of,
 * hb_err), <pthread.h>. */
#include "image.h"

#include "shard/imgstore.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { BUSY = 0, DONE = 1 };

typedef struct {
    char *key;        /* "<root id>\n<path>" */
    int state, why;
    hb_hash128 hash;
} path_ent;

typedef struct {
    hb_hash128 hash;
    int state, why;   /* why == HB_IMG_OK: stored */
    char *detail;     /* reject detail, for other paths with the same bytes */
} hash_ent;

typedef struct {
    char *file, *entry, *detail;
    int reason;
} reject_ent;

/* A growable open-addressing table of indices into an entry array, keyed by a 64-bit hash. */
typedef struct {
    int64_t *slots;
    size_t n;
} table;

static void table_init(table *t) {
    t->n = 1024;
    t->slots = hb_xmalloc(sizeof(int64_t) * t->n);
    for (size_t i = 0; i < t->n; i++) t->slots[i] = -1;
}

struct hb_ingest {
    hb_ingest_opts o;
    hb_imgstore_writer *w;
    hb_imgroot **roots;
    char **names; /* per root: how the store and the rejects name it (hb_ingest_name_root), NULL = its path */
    size_t n_roots;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    path_ent *pe;
    size_t n_pe, cap_pe;
    table pt;
    hash_ent *he;
    size_t n_he, cap_he;
    table ht;
    reject_ent *rj;
    size_t n_rj, cap_rj;
    hb_ingest_stats st;
    int failed;
};

/* ---- tables (lock held) ---- */

static int64_t path_find(hb_ingest *g, const char *key, uint64_t h, size_t *slot) {
    size_t s = h & (g->pt.n - 1);
    while (g->pt.slots[s] >= 0 && strcmp(g->pe[g->pt.slots[s]].key, key) != 0) s = (s + 1) & (g->pt.n - 1);
    *slot = s;
    return g->pt.slots[s];
}

static int64_t hash_find(hb_ingest *g, hb_hash128 h, size_t *slot) {
    size_t s = h.lo & (g->ht.n - 1);
    while (g->ht.slots[s] >= 0 && !hb_hash128_eq(g->he[g->ht.slots[s]].hash, h)) s = (s + 1) & (g->ht.n - 1);
    *slot = s;
    return g->ht.slots[s];
}

static void path_rehash(hb_ingest *g) {
    free(g->pt.slots);
    g->pt.n *= 2;
    g->pt.slots = hb_xmalloc(sizeof(int64_t) * g->pt.n);
    for (size_t i = 0; i < g->pt.n; i++) g->pt.slots[i] = -1;
    for (size_t i = 0; i < g->n_pe; i++) {
        size_t s;
        path_find(g, g->pe[i].key, hb_hash_str(g->pe[i].key, 0), &s);
        g->pt.slots[s] = (int64_t)i;
    }
}

static void hash_rehash(hb_ingest *g) {
    free(g->ht.slots);
    g->ht.n *= 2;
    g->ht.slots = hb_xmalloc(sizeof(int64_t) * g->ht.n);
    for (size_t i = 0; i < g->ht.n; i++) g->ht.slots[i] = -1;
    for (size_t i = 0; i < g->n_he; i++) {
        size_t s;
        hash_find(g, g->he[i].hash, &s);
        g->ht.slots[s] = (int64_t)i;
    }
}

static size_t path_insert(hb_ingest *g, const char *key, size_t slot) {
    if (g->n_pe == g->cap_pe) g->pe = hb_xrealloc(g->pe, (g->cap_pe = g->cap_pe ? 2 * g->cap_pe : 1024) * sizeof *g->pe);
    size_t i = g->n_pe++;
    g->pe[i] = (path_ent){hb_xstrdup(key), BUSY, HB_IMG_OK, {0, 0}};
    g->pt.slots[slot] = (int64_t)i;
    if (2 * g->n_pe > g->pt.n) path_rehash(g);
    return i;
}

static size_t hash_insert(hb_ingest *g, hb_hash128 h, size_t slot) {
    if (g->n_he == g->cap_he) g->he = hb_xrealloc(g->he, (g->cap_he = g->cap_he ? 2 * g->cap_he : 1024) * sizeof *g->he);
    size_t i = g->n_he++;
    g->he[i] = (hash_ent){h, BUSY, HB_IMG_OK, NULL};
    g->ht.slots[slot] = (int64_t)i;
    if (2 * g->n_he > g->ht.n) hash_rehash(g);
    return i;
}

static void add_reject(hb_ingest *g, const char *file, const char *entry, int reason, const char *detail) {
    if (g->n_rj == g->cap_rj) g->rj = hb_xrealloc(g->rj, (g->cap_rj = g->cap_rj ? 2 * g->cap_rj : 64) * sizeof *g->rj);
    g->rj[g->n_rj++] = (reject_ent){hb_xstrdup(file), hb_xstrdup(entry ? entry : ""), hb_xstrdup(detail ? detail : ""), reason};
    g->st.rejected++;
    if (reason > 0 && reason < HB_IMG_N_REASONS) g->st.by_reason[reason]++;
}

/* ---- open / roots ---- */

int hb_ingest_open(hb_ingest **out, const char *out_dir, const hb_ingest_opts *opts, hb_err *err) {
    *out = NULL;
    if (!opts || opts->size == 0 || opts->size > 4096)
        return hb_err_set(err, HB_EINVAL, out_dir, HB_NOPOS, HB_NOPOS, "ingest: image size must be 1..4096 (got %u)",
                          opts ? opts->size : 0);
    hb_ingest *g = hb_xcalloc(1, sizeof *g);
    g->o = *opts;
    if (!g->o.max_file_bytes) g->o.max_file_bytes = 1ull << 30;
    int code = hb_imgstore_writer_open(&g->w, out_dir, opts->size, err);
    if (code) {
        free(g);
        return code;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    table_init(&g->pt);
    table_init(&g->ht);
    *out = g;
    return 0;
}

int hb_ingest_add_root(hb_ingest *g, const char *path, int *root_id, hb_err *err) {
    for (size_t i = 0; i < g->n_roots; i++)
        if (!strcmp(hb_imgroot_path(g->roots[i]), path)) {
            *root_id = (int)i;
            return 0;
        }
    hb_imgroot *r;
    int code = hb_imgroot_open(&r, path, err);
    if (code) return code;
    g->roots = hb_xrealloc(g->roots, (g->n_roots + 1) * sizeof *g->roots);
    g->names = hb_xrealloc(g->names, (g->n_roots + 1) * sizeof *g->names);
    g->roots[g->n_roots] = r;
    g->names[g->n_roots] = NULL;
    *root_id = (int)g->n_roots++;
    return 0;
}

void hb_ingest_name_root(hb_ingest *g, int root_id, const char *name) {
    if (root_id < 0 || (size_t)root_id >= g->n_roots || g->names[root_id]) return;
    g->names[root_id] = hb_xstrdup(name);
}

/* ---- the work ---- */

/* Hash, decode, store. Returns 0 (with *why) or a run-stopping error. *dup is set when the content was already
 * stored under another path. detail receives a reject's reason text. */
static int process(hb_ingest *g, const char *origin, const uint8_t *p, size_t n, hb_hash128 *hash, int *why, int *dup,
                   char *detail, size_t dcap, hb_err *err) {
    *hash = hb_hash128_of(p, n);
    *dup = 0;
    pthread_mutex_lock(&g->mu);
    size_t slot;
    int64_t k = hash_find(g, *hash, &slot);
    while (k >= 0 && g->he[k].state == BUSY) {
        pthread_cond_wait(&g->cv, &g->mu);
        k = hash_find(g, *hash, &slot);
    }
    if (k >= 0) { /* seen before */
        *why = g->he[k].why;
        snprintf(detail, dcap, "%s", g->he[k].detail ? g->he[k].detail : "");
        int failed = g->failed;
        pthread_mutex_unlock(&g->mu);
        if (failed) return hb_err_set(err, HB_EIO, origin, HB_NOPOS, HB_NOPOS, "ingest stopped by an earlier error");
        if (*why == HB_IMG_OK) {
            hb_imgstore_writer_note(g->w, *hash, origin);
            *dup = 1;
        }
        return 0;
    }
    size_t mine = hash_insert(g, *hash, slot);
    pthread_mutex_unlock(&g->mu);

    uint32_t S = g->o.size;
    uint8_t *px = hb_xmalloc((size_t)S * S * 3);
    hb_image_info info;
    hb_err derr;
    hb_err_clear(&derr);
    int code = 0;
    *why = HB_IMG_OK;
    if (hb_image_prepare(p, n, S, S, &g->o.image, &info, px, &derr)) {
        *why = info.reject ? info.reject : HB_IMG_CORRUPT;
        snprintf(detail, dcap, "%s", derr.reason);
    } else {
        hb_image_rec rec = {*hash, info.width, info.height, (uint8_t)info.format, S, origin, px};
        code = hb_imgstore_writer_add(g->w, &rec, err);
    }
    free(px);
    pthread_mutex_lock(&g->mu);
    hash_ent *e = &g->he[mine];
    e->state = DONE;
    e->why = code ? HB_IMG_UNREADABLE : *why;
    if (*why != HB_IMG_OK) e->detail = hb_xstrdup(detail);
    if (code) g->failed = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return code;
}

/* The path-level cache around a resolver: key identifies (root, path); read() fills bytes or a reject. */
typedef int (*read_fn)(hb_ingest *g, const void *arg, hb_buf *bytes, int *why, hb_err *err);

static int ingest_keyed(hb_ingest *g, const char *key, const char *file, const char *entry, const char *origin,
                        read_fn rd, const void *arg, hb_hash128 *hash, int *why, hb_err *err) {
    pthread_mutex_lock(&g->mu);
    g->st.requests++;
    uint64_t h = hb_hash_str(key, 0);
    size_t slot;
    int64_t k = path_find(g, key, h, &slot);
    while (k >= 0 && g->pe[k].state == BUSY) {
        pthread_cond_wait(&g->cv, &g->mu);
        k = path_find(g, key, h, &slot);
    }
    if (k >= 0 || g->failed) {
        int failed = g->failed;
        if (k >= 0) {
            *why = g->pe[k].why;
            *hash = g->pe[k].hash;
        }
        pthread_mutex_unlock(&g->mu);
        return failed ? hb_err_set(err, HB_EIO, file, HB_NOPOS, HB_NOPOS, "ingest stopped by an earlier error") : 0;
    }
    size_t mine = path_insert(g, key, slot);
    pthread_mutex_unlock(&g->mu);

    hb_buf bytes = {0};
    hb_err rerr;
    hb_err_clear(&rerr);
    char detail[512] = "";
    int dup = 0, code = 0;
    *hash = (hb_hash128){0, 0};
    if (rd(g, arg, &bytes, why, &rerr)) {
        if (*why == HB_IMG_OK) *why = HB_IMG_UNREADABLE;
        snprintf(detail, sizeof detail, "%s", rerr.reason);
    } else {
        code = process(g, origin, bytes.data ? bytes.data : (const uint8_t *)"", bytes.len, hash, why, &dup, detail,
                       sizeof detail, err);
    }
    pthread_mutex_lock(&g->mu);
    path_ent *e = &g->pe[mine];
    e->state = DONE;
    e->why = code ? HB_IMG_UNREADABLE : *why;
    e->hash = *why == HB_IMG_OK ? *hash : (hb_hash128){0, 0};
    g->st.paths++;
    g->st.bytes_read += bytes.len;
    if (!code && *why != HB_IMG_OK) add_reject(g, file, entry, *why, detail);
    if (!code && *why == HB_IMG_OK && dup) g->st.duplicates++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (*why != HB_IMG_OK) *hash = (hb_hash128){0, 0};
    hb_buf_free(&bytes);
    return code;
}

typedef struct {
    hb_imgroot *root;
    const char *rel;
} root_arg;

static int read_from_root(hb_ingest *g, const void *p, hb_buf *bytes, int *why, hb_err *err) {
    const root_arg *a = p;
    return hb_imgroot_read(a->root, a->rel, bytes, g->o.max_file_bytes, why, err);
}

int hb_ingest_image(hb_ingest *g, int root_id, const char *relpath, hb_hash128 *hash, int *why, hb_err *err) {
    *why = HB_IMG_OK;
    if (root_id < 0 || (size_t)root_id >= g->n_roots)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "ingest: no image root %d", root_id);
    hb_imgroot *root = g->roots[root_id];
    const char *rp = relpath ? relpath : "";
    char *norm = hb_xstrdup(rp);
    if (hb_image_path_normalize(norm) != HB_IMG_OK) { /* keep the raw path in the key and the report */
        free(norm);
        norm = hb_xstrdup(rp);
    }
    size_t kl = strlen(norm) + 24;
    char *key = hb_xmalloc(kl);
    snprintf(key, kl, "%d\n%s", root_id, norm);
    const char *rpath = g->names[root_id] ? g->names[root_id] : hb_imgroot_path(root);
    int arch = hb_imgroot_is_archive(root);
    char *file = arch ? hb_xstrdup(rpath) : hb_path_join(rpath, norm);
    size_t ol = strlen(rpath) + strlen(norm) + 4;
    char *origin = hb_xmalloc(ol);
    snprintf(origin, ol, "%s//%s", rpath, norm);
    root_arg arg = {root, rp};
    int code = ingest_keyed(g, key, file, arch ? norm : "", origin, read_from_root, &arg, hash, why, err);
    free(key);
    free(file);
    free(origin);
    free(norm);
    return code;
}

typedef struct {
    const uint8_t *p;
    size_t n;
} bytes_arg;

static int read_given(hb_ingest *g, const void *p, hb_buf *bytes, int *why, hb_err *err) {
    const bytes_arg *a = p;
    if (g->o.max_file_bytes && a->n > g->o.max_file_bytes) {
        *why = HB_IMG_TOO_LARGE;
        return hb_err_set(err, HB_ERANGE, NULL, HB_NOPOS, HB_NOPOS, "%zu bytes, over the limit of %llu", a->n,
                          (unsigned long long)g->o.max_file_bytes);
    }
    hb_buf_append(bytes, a->p, a->n);
    return 0;
}

int hb_ingest_bytes(hb_ingest *g, const char *origin, const uint8_t *p, size_t n, hb_hash128 *hash, int *why,
                    hb_err *err) {
    *why = HB_IMG_OK;
    const char *o = origin ? origin : "";
    size_t kl = strlen(o) + 8;
    char *key = hb_xmalloc(kl);
    snprintf(key, kl, "-\n%s", o);
    bytes_arg arg = {p, n};
    int code = ingest_keyed(g, key, o, "", o, read_given, &arg, hash, why, err);
    free(key);
    return code;
}

/* ---- finish ---- */

static int cmp_reject(const void *a, const void *b) {
    const reject_ent *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->entry, y->entry);
}

static void ingest_free(hb_ingest *g) {
    for (size_t i = 0; i < g->n_roots; i++) hb_imgroot_close(g->roots[i]), free(g->names[i]);
    free(g->roots);
    free(g->names);
    for (size_t i = 0; i < g->n_pe; i++) free(g->pe[i].key);
    free(g->pe);
    for (size_t i = 0; i < g->n_he; i++) free(g->he[i].detail);
    free(g->he);
    for (size_t i = 0; i < g->n_rj; i++) {
        free(g->rj[i].file);
        free(g->rj[i].entry);
        free(g->rj[i].detail);
    }
    free(g->rj);
    free(g->pt.slots);
    free(g->ht.slots);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

int hb_ingest_finish(hb_ingest *g, hb_ingest_stats *st, hb_err *err) {
    int code = 0;
    if (g->failed) {
        hb_imgstore_writer_abort(g->w);
        code = hb_err_set(err, HB_EIO, NULL, HB_NOPOS, HB_NOPOS, "ingest failed earlier; no image store written");
    } else {
        hb_imgstore_info info;
        code = hb_imgstore_writer_close(g->w, &info, err);
        if (!code) {
            g->st.stored = info.images;
            g->st.store_bytes = info.bytes;
        }
    }
    g->w = NULL;
    if (!code) {
        if (g->n_rj) qsort(g->rj, g->n_rj, sizeof *g->rj, cmp_reject);
        if (g->o.on_reject)
            for (size_t i = 0; i < g->n_rj; i++) g->o.on_reject(g->o.ctx, g->rj[i].file, g->rj[i].entry, g->rj[i].reason, g->rj[i].detail);
        if (st) *st = g->st;
    }
    ingest_free(g);
    return code;
}

void hb_ingest_abort(hb_ingest *g) {
    if (!g) return;
    hb_imgstore_writer_abort(g->w);
    ingest_free(g);
}
