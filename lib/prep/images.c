/* The run's image table: every image a sample needs, resolved once to the XXH3-128 of its bytes (the content hash
 * samples reference), or marked missing / unreadable with a reason. Images named by several samples and sources
 * are read once. Decoding, verification and the image store come with lib/image (issue 6).
 * Dependencies: prep_impl.h (hb_img_table), core/core.h (hb_hash128_of, hb_file_read_all, hb_idmap). */
#include "prep_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void hb_img_init(hb_img_table *t) {
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
}

void hb_img_free(hb_img_table *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].path);
        free(t->e[i].why);
    }
    free(t->e);
    hb_idmap_free(&t->index);
    pthread_mutex_destroy(&t->mu);
    memset(t, 0, sizeof *t);
}

static void set_bytes(hb_img_entry *e, const uint8_t *bytes, size_t len) {
    if (!len) {
        e->state = HB_IMG_BAD;
        e->why = hb_xstrdup("empty image file");
        return;
    }
    e->hash = hb_hash128_of(bytes, len);
    e->state = HB_IMG_OK;
}

uint32_t hb_img_ref(hb_img_table *t, const char *path, const uint8_t *bytes, size_t len) {
    uint64_t h = hb_hash_str(path, 0x1a6e), v;
    pthread_mutex_lock(&t->mu);
    if (hb_idmap_get(&t->index, h, &v)) {
        pthread_mutex_unlock(&t->mu);
        return (uint32_t)(v - 1);
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->e = hb_xrealloc(t->e, t->cap * sizeof *t->e);
    }
    hb_img_entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    e->path = hb_xstrdup(path);
    if (bytes) set_bytes(e, bytes, len);
    hb_idmap_put(&t->index, h, t->n + 1);
    uint32_t idx = (uint32_t)t->n++;
    pthread_mutex_unlock(&t->mu);
    return idx;
}

static void resolve_one(hb_img_entry *e) {
    if (strstr(e->path, "::")) { /* an archive member that was not read inline */
        e->state = HB_IMG_MISSING;
        e->why = hb_xstrdup("archive member not read");
        return;
    }
    struct stat st;
    if (stat(e->path, &st) != 0) {
        e->state = HB_IMG_MISSING;
        e->why = hb_xstrdup(errno == ENOENT ? "missing image" : "cannot stat image");
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        e->state = HB_IMG_BAD;
        e->why = hb_xstrdup("image path is a directory");
        return;
    }
    uint8_t *d;
    size_t n;
    hb_err err;
    if (hb_file_read_all(e->path, &d, &n, &err)) {
        e->state = HB_IMG_BAD;
        e->why = hb_xstrdup(err.reason);
        return;
    }
    set_bytes(e, d, n);
    free(d);
}

void hb_img_resolve(hb_img_table *t, const uint32_t *idx, size_t n, int jobs) {
    /* entries are only appended under the mutex by the reader thread, which waits for this call */
#pragma omp parallel for num_threads(jobs > 0 ? jobs : 1) schedule(dynamic, 8)
    for (size_t i = 0; i < n; i++) {
        hb_img_entry *e = &t->e[idx[i]];
        if (e->state == HB_IMG_UNKNOWN) resolve_one(e);
    }
}
