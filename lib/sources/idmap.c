/* A small open-addressing hash map from u64 ids to u64 values (linear probing, load <= 1/2).
 * Dependencies: sources.h (hb_idmap), core/core.h (hb_mix64, hb_xcalloc). */
#include "sources.h"

#include <stdlib.h>

static size_t slot(const hb_idmap *m, uint64_t key) {
    size_t i = (size_t)hb_mix64(key) & (m->cap - 1);
    while (m->used[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    return i;
}

static void grow(hb_idmap *m) {
    hb_idmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 1024;
    m->keys = hb_xcalloc(m->cap, sizeof *m->keys);
    m->vals = hb_xcalloc(m->cap, sizeof *m->vals);
    m->used = hb_xcalloc(m->cap, 1);
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.used[i]) hb_idmap_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
    free(old.used);
}

void hb_idmap_put(hb_idmap *m, uint64_t key, uint64_t val) {
    if ((m->n + 1) * 2 > m->cap) grow(m);
    size_t i = slot(m, key);
    if (!m->used[i]) {
        m->used[i] = 1;
        m->keys[i] = key;
        m->n++;
    }
    m->vals[i] = val;
}

int hb_idmap_get(const hb_idmap *m, uint64_t key, uint64_t *val) {
    if (!m->cap) return 0;
    size_t i = slot(m, key);
    if (!m->used[i]) return 0;
    if (val) *val = m->vals[i];
    return 1;
}

void hb_idmap_free(hb_idmap *m) {
    free(m->keys);
    free(m->vals);
    free(m->used);
    m->keys = m->vals = NULL;
    m->used = NULL;
    m->cap = m->n = 0;
}
