/* model/safetensors_write.c — the safetensors writer: one file or a sharded set with its index, written atomically.
 *
 * Dependencies:
 *   model/safetensors.h  the API, dtype names and sizes
 *   core/core.h          hb_afile (atomic outputs), hb_buf, hb_err
 *   <cjson/cJSON.h>      the index JSON
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

typedef struct {
    char *name;
    hb_st_dtype dtype;
    int ndim;
    int64_t shape[HB_ST_MAXDIM];
    uint64_t nbytes;
    const void *data;
    hb_st_fill_fn fill;
    void *ctx;
} wtensor;

struct hb_st_writer {
    wtensor *t;
    size_t n, cap;
    char **meta; /* key, value pairs */
    size_t nmeta;
};

hb_st_writer *hb_st_writer_new(void) { return hb_xcalloc(1, sizeof(hb_st_writer)); }

void hb_st_writer_free(hb_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->t[i].name);
    for (size_t i = 0; i < 2 * w->nmeta; i++) free(w->meta[i]);
    free(w->meta);
    free(w->t);
    free(w);
}

void hb_st_writer_meta(hb_st_writer *w, const char *key, const char *value) {
    w->meta = hb_xrealloc(w->meta, (w->nmeta + 1) * 2 * sizeof *w->meta);
    w->meta[2 * w->nmeta] = hb_xstrdup(key);
    w->meta[2 * w->nmeta + 1] = hb_xstrdup(value);
    w->nmeta++;
}

static int add(hb_st_writer *w, const char *name, hb_st_dtype dtype, int ndim, const int64_t *shape, const void *data,
               hb_st_fill_fn fill, void *ctx, hb_err *err) {
    if (!name || !*name || !strcmp(name, "__metadata__") || ndim < 0 || ndim > HB_ST_MAXDIM || dtype >= HB_ST_NDTYPES)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "safetensors writer: bad tensor '%s'",
                          name ? name : "(null)");
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name))
            return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "safetensors writer: tensor '%s' added twice",
                              name);
    uint64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "safetensors writer: '%s' has a negative dim",
                              name);
        numel *= (uint64_t)shape[d];
    }
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->t = hb_xrealloc(w->t, w->cap * sizeof *w->t);
    }
    wtensor *t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    t->name = hb_xstrdup(name);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->nbytes = numel * hb_st_dtype_size(dtype);
    t->data = data;
    t->fill = fill;
    t->ctx = ctx;
    return 0;
}

int hb_st_writer_add(hb_st_writer *w, const char *name, hb_st_dtype dtype, int ndim, const int64_t *shape,
                     const void *data, hb_err *err) {
    return add(w, name, dtype, ndim, shape, data, NULL, NULL, err);
}

int hb_st_writer_add_fill(hb_st_writer *w, const char *name, hb_st_dtype dtype, int ndim, const int64_t *shape,
                          hb_st_fill_fn fill, void *ctx, hb_err *err) {
    return add(w, name, dtype, ndim, shape, NULL, fill, ctx, err);
}

static int cmp_wt(const void *a, const void *b) { return strcmp(((const wtensor *)a)->name, ((const wtensor *)b)->name); }

/* Write tensors [lo, hi) to path. */
static int write_one(hb_st_writer *w, size_t lo, size_t hi, const char *path, int with_meta, hb_err *err) {
    hb_buf h = {0};
    hb_buf_putc(&h, '{');
    int first = 1;
    if (with_meta && w->nmeta) {
        hb_buf_puts(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < w->nmeta; i++) {
            if (i) hb_buf_putc(&h, ',');
            hb_buf_put_json_str(&h, w->meta[2 * i], strlen(w->meta[2 * i]));
            hb_buf_putc(&h, ':');
            hb_buf_put_json_str(&h, w->meta[2 * i + 1], strlen(w->meta[2 * i + 1]));
        }
        hb_buf_putc(&h, '}');
        first = 0;
    }
    uint64_t off = 0, maxb = 0;
    for (size_t i = lo; i < hi; i++) {
        const wtensor *t = &w->t[i];
        if (!first) hb_buf_putc(&h, ',');
        first = 0;
        hb_buf_put_json_str(&h, t->name, strlen(t->name));
        hb_buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", hb_st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) hb_buf_printf(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        hb_buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                      (unsigned long long)(off + t->nbytes));
        off += t->nbytes;
        if (t->fill && t->nbytes > maxb) maxb = t->nbytes;
    }
    hb_buf_putc(&h, '}');
    while ((8 + h.len) % 8) hb_buf_putc(&h, ' ');
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    hb_afile f;
    int rc = hb_afile_open(&f, path, err);
    if (rc) {
        hb_buf_free(&h);
        return rc;
    }
    void *scratch = maxb ? hb_xmalloc((size_t)maxb) : NULL;
    if (!(rc = hb_afile_write(&f, len8, 8, err))) rc = hb_afile_write(&f, h.data, h.len, err);
    for (size_t i = lo; i < hi && !rc; i++) {
        const wtensor *t = &w->t[i];
        if (!t->nbytes) continue;
        if (t->fill) {
            rc = t->fill(t->ctx, t->name, scratch, (size_t)t->nbytes, err);
            if (!rc) rc = hb_afile_write(&f, scratch, (size_t)t->nbytes, err);
        } else {
            rc = hb_afile_write(&f, t->data, (size_t)t->nbytes, err);
        }
    }
    free(scratch);
    hb_buf_free(&h);
    if (rc) {
        hb_afile_abort(&f);
        return rc;
    }
    return hb_afile_commit(&f, err);
}

int hb_st_writer_save(hb_st_writer *w, const char *path, uint64_t max_shard_bytes, hb_err *err) {
    qsort(w->t, w->n, sizeof *w->t, cmp_wt);
    uint64_t total = 0;
    for (size_t i = 0; i < w->n; i++) total += w->t[i].nbytes;
    if (!max_shard_bytes || total <= max_shard_bytes) return write_one(w, 0, w->n, path, 1, err);

    /* shards: greedy in name order, a new shard when the next tensor would overflow the current one */
    size_t *start = hb_xmalloc((w->n + 1) * sizeof *start);
    int ns = 0;
    uint64_t cur = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (i == 0 || (cur && cur + w->t[i].nbytes > max_shard_bytes)) {
            start[ns++] = i;
            cur = 0;
        }
        cur += w->t[i].nbytes;
    }
    start[ns] = w->n;
    /* stem: path without ".safetensors" */
    size_t pl = strlen(path), sl = strlen(".safetensors");
    char *stem = hb_xstrdup(path);
    if (pl > sl && !strcmp(path + pl - sl, ".safetensors")) stem[pl - sl] = 0;
    const char *base = strrchr(stem, '/');
    base = base ? base + 1 : stem;
    cJSON *idx = cJSON_CreateObject(), *md = cJSON_AddObjectToObject(idx, "metadata");
    cJSON_AddNumberToObject(md, "total_size", (double)total);
    cJSON *wm = cJSON_AddObjectToObject(idx, "weight_map");
    int rc = 0;
    for (int s = 0; s < ns && !rc; s++) {
        char *fp = hb_xmalloc(strlen(stem) + 48), *fname = hb_xmalloc(strlen(base) + 48);
        sprintf(fp, "%s-%05d-of-%05d.safetensors", stem, s + 1, ns);
        sprintf(fname, "%s-%05d-of-%05d.safetensors", base, s + 1, ns);
        rc = write_one(w, start[s], start[s + 1], fp, 1, err);
        for (size_t i = start[s]; i < start[s + 1]; i++) cJSON_AddStringToObject(wm, w->t[i].name, fname);
        free(fp);
        free(fname);
    }
    if (!rc) {
        char *ip = hb_xmalloc(strlen(stem) + 32);
        sprintf(ip, "%s.safetensors.index.json", stem);
        char *s = cJSON_Print(idx);
        rc = hb_write_file_atomic(ip, s, strlen(s), err);
        cJSON_free(s);
        free(ip);
    }
    cJSON_Delete(idx);
    free(stem);
    free(start);
    return rc;
}
