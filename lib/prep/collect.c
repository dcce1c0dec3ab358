/* What the converters emit, kept: items copied out of the converter's scratch memory, grouped per image, then
 * planned into samples — deduplicated inside each group (seeded representative), cut into nturn chunks, named
 * and sliced.
 * Dependencies: prep_impl.h (hb_psrc), sources/sources.h (hb_src_item, hb_src_sink), core/core.h (hb_rng_for,
 * hb_hash64, hb_arena). */
#include "prep_impl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- counters ---- */
void hb_psrc_note(hb_psrc *s, hb_reason_count **list, size_t *n, const char *name, uint64_t k) {
    (void)s;
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i].reason, name)) {
            (*list)[i].n += k;
            return;
        }
    *list = hb_xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[*n].reason = hb_xstrdup(name);
    (*list)[*n].n = k;
    (*n)++;
}

static int reject_line(hb_psrc *s, const char *file, int64_t record, int64_t offset, const char *reason, hb_err *err) {
    if (s->rejects_open) {
        hb_buf b = {0};
        hb_buf_puts(&b, "{\"source\": ");
        hb_buf_put_json_str(&b, s->src->name, strlen(s->src->name));
        hb_buf_puts(&b, ", \"file\": ");
        hb_buf_put_json_str(&b, file ? file : "", file ? strlen(file) : 0);
        hb_buf_printf(&b, ", \"record\": %lld, \"offset\": %lld, \"reason\": ", (long long)record, (long long)offset);
        hb_buf_put_json_str(&b, reason, strlen(reason));
        hb_buf_puts(&b, "}\n");
        int rc = hb_afile_write(&s->rejects, b.data, b.len, err);
        hb_buf_free(&b);
        if (rc) return rc;
    }
    if (s->p->o->strict)
        return hb_err_set(err, HB_EFORMAT, file, record, offset, "%s (--strict stops at the first rejected record)", reason);
    return 0;
}

int hb_psrc_reject(hb_psrc *s, const char *file, int64_t record, int64_t offset, const char *reason, hb_err *err) {
    s->st.rejected++;
    /* rejects by reason: numbers folded so that "region 12 ..." and "region 13 ..." count together */
    char folded[256];
    size_t k = 0;
    for (const char *p = reason; *p && k + 1 < sizeof folded; p++) {
        if (isdigit((unsigned char)*p)) {
            if (k == 0 || folded[k - 1] != '#') folded[k++] = '#';
        } else
            folded[k++] = *p;
    }
    folded[k] = 0;
    hb_psrc_note(s, &s->st.reasons, &s->st.n_reasons, folded, 1);
    return reject_line(s, file, record, offset, reason, err);
}

int hb_psrc_drop(hb_psrc *s, const char *file, int64_t record, int64_t offset, const char *reason, const char *cls,
                 hb_err *err) {
    hb_psrc_note(s, &s->st.reasons, &s->st.n_reasons, cls, 1);
    return reject_line(s, file, record, offset, reason, err);
}

/* ---- the sink ---- */
static const char *intern_file(hb_psrc *s, const char *f) {
    if (!f) f = "";
    for (size_t i = 0; i < s->n_files; i++)
        if (!strcmp(s->files[i], f)) return s->files[i];
    s->files = hb_xrealloc(s->files, (s->n_files + 1) * sizeof *s->files);
    return s->files[s->n_files++] = hb_xstrdup(f);
}

static const char *dup(hb_pbuf *b, const char *x) { return x ? hb_arena_strdup(&b->arena, x) : NULL; }

static int on_emit(void *user, const hb_src_item *it, hb_err *err) {
    hb_psrc *s = user;
    hb_pbuf *b = s->in;
    if (b->n_items == b->cap_items) {
        b->cap_items = b->cap_items ? b->cap_items * 2 : 1024;
        b->items = hb_xrealloc(b->items, b->cap_items * sizeof *b->items);
        if (s->grouped) s->group_last = hb_xrealloc(s->group_last, b->cap_items * sizeof *s->group_last);
    }
    hb_pitem *p = &b->items[b->n_items];
    memset(p, 0, sizeof *p);
    p->key = dup(b, it->key ? it->key : "");
    p->file = intern_file(s, it->file);
    p->record = it->record;
    p->offset = it->offset;
    p->root = -1;
    p->next = -1;
    if (it->image) {
        const char *name = it->image;
        if (s->src->image_flat && strrchr(name, '/')) name = strrchr(name, '/') + 1;
        p->image = hb_arena_printf(&b->arena, "%s%s", it->image_archive ? "" : s->src->image_prefix, name);
        if (s->p->ingest && !s->src->no_images) {
            if (it->image_archive) { /* the bytes come with the item: kept until the sample is built */
                p->archive = dup(b, it->image_archive);
                p->img_data = it->image_len ? hb_arena_memdup(&b->arena, it->image_data, it->image_len) : NULL;
                p->img_len = it->image_len;
                b->pending_bytes += it->image_len;
            } else if (s->root_id < 0)
                return hb_err_set(err, HB_EINVAL, s->p->r->path, HB_NOPOS, HB_NOPOS,
                                  "sources.%s.images: missing (its records name images such as %s): give their root "
                                  "(a folder or a zip/tar archive), or `images: none` to build it without images",
                                  s->src->name, p->image);
            else p->root = s->root_id;
        }
        s->st.images_ref++;
    }
    /* the group: the converter's key, else the image; text-only items share one group */
    const char *g = it->group ? it->group : it->image;
    p->group = g ? dup(b, g) : NULL;
    if (it->n_conv) {
        p->n_conv = it->n_conv;
        p->conv = hb_arena_alloc(&b->arena, sizeof *p->conv * it->n_conv);
        for (uint32_t i = 0; i < it->n_conv; i++) {
            p->conv[i].role = it->conv[i].role;
            p->conv[i].len = it->conv[i].len;
            p->conv[i].text = hb_arena_strndup(&b->arena, it->conv[i].text, it->conv[i].len);
        }
    } else {
        hb_field *f = hb_arena_alloc(&b->arena, sizeof *f * (it->ex.n_fields + 1));
        for (uint32_t i = 0; i < it->ex.n_fields; i++) {
            f[i].key = dup(b, it->ex.fields[i].key);
            f[i].value = dup(b, it->ex.fields[i].value);
        }
        p->ex.fields = f;
        p->ex.n_fields = it->ex.n_fields;
        if (it->ex.n_options) {
            const char **o = hb_arena_alloc(&b->arena, sizeof *o * it->ex.n_options);
            for (uint32_t i = 0; i < it->ex.n_options; i++) o[i] = dup(b, it->ex.options[i]);
            p->ex.options = o;
            p->ex.n_options = it->ex.n_options;
        }
        p->ex.answer_idx = it->ex.n_options ? it->ex.answer_idx : -1;
        p->ex.record = it->record;
    }
    uint32_t idx = (uint32_t)b->n_items++;
    s->st.items++;
    if (!s->grouped) {
        if (b->n_items >= HB_PREP_BATCH || b->pending_bytes >= (64u << 20)) return hb_psrc_submit(s, err);
        return 0;
    }
    uint64_t h = hb_hash_str(p->group ? p->group : "", p->group ? 1 : 2);
    uint64_t head;
    if (hb_idmap_get(&s->groups, h, &head)) {
        uint32_t first = (uint32_t)(head - 1);
        if (strcmp(b->items[first].group ? b->items[first].group : "", p->group ? p->group : ""))
            return hb_err_set(err, HB_EINTERNAL, p->file, p->record, HB_NOPOS, "group key hash collision");
        b->items[s->group_last[first]].next = (int32_t)idx;
        s->group_last[first] = (int32_t)idx;
    } else {
        hb_idmap_put(&s->groups, h, (uint64_t)idx + 1);
        if (s->n_groups == s->cap_groups) {
            s->cap_groups = s->cap_groups ? s->cap_groups * 2 : 1024;
            s->group_heads = hb_xrealloc(s->group_heads, s->cap_groups * sizeof *s->group_heads);
        }
        s->group_heads[s->n_groups++] = idx;
        s->group_last[idx] = (int32_t)idx;
    }
    return 0;
}

static int on_reject(void *user, const char *file, int64_t record, int64_t offset, const char *reason, hb_err *err) {
    hb_psrc *s = user;
    return hb_psrc_reject(s, file, record, offset, reason, err);
}

static void on_progress(void *user, uint64_t done, uint64_t total) {
    hb_psrc *s = user;
    if (done == 0) { /* a new input begins: the previous one was read whole */
        s->prog_base += s->prog_last_total;
        s->st.input_bytes += s->prog_last_total;
        s->prog_last_total = total;
    }
    hb_progress_set(s->prog, (s->prog_base + done) >> 10);
}

static void on_count(void *user, const char *name, long long n) {
    hb_psrc *s = user;
    hb_psrc_note(s, &s->st.notes, &s->st.n_notes, name, (uint64_t)n);
}

void hb_psrc_sink(hb_psrc *s, hb_src_sink *sink) {
    memset(sink, 0, sizeof *sink);
    sink->user = s;
    sink->emit = on_emit;
    sink->reject = on_reject;
    sink->progress = on_progress;
    sink->count = on_count;
}

/* ---- planning ---- */
void hb_prep_normalize(const char *s, hb_buf *out) {
    size_t start = out->len;
    int space = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (isspace(c)) {
            space = 1;
            continue;
        }
        if (c < 0x80 && ispunct(c)) {
            int keep = (c == '.' || c == ',') && p > (const unsigned char *)s && isdigit(p[-1]) && isdigit(p[1]);
            if (!keep) continue;
        }
        if (space && out->len > start) hb_buf_putc(out, ' ');
        space = 0;
        hb_buf_putc(out, c < 0x80 ? tolower(c) : c);
    }
}

static void add_order(hb_pbuf *b, uint32_t item) {
    if (b->n_order == b->cap_order) {
        b->cap_order = b->cap_order ? b->cap_order * 2 : 4096;
        b->order = hb_xrealloc(b->order, b->cap_order * sizeof *b->order);
    }
    b->order[b->n_order++] = item;
}

/* Name, slice and keep one sample made of order[first, first + n). */
static void add_sample(hb_psrc *s, hb_pbuf *b, const char *id, uint32_t first, uint32_t n, const char *dedup_json) {
    s->st.samples_total++;
    uint64_t ord = s->ordinal++;
    int n_sl = s->p->o->n_slices > 1 ? s->p->o->n_slices : 1;
    /* ids are unique: a repeated record key (ShareGPT, LLaVA ids) gets the record position appended */
    uint64_t h = hb_hash_str(id, 0);
    if (hb_idmap_get(&s->ids, h, NULL)) {
        s->st.dup_ids++;
        const hb_pitem *it = &b->items[b->order[first]];
        const char *base = id;
        id = hb_arena_printf(&b->arena, "%s~%lld", base, (long long)it->record);
        for (int k = 2; hb_idmap_get(&s->ids, hb_hash_str(id, 0), NULL); k++)
            id = hb_arena_printf(&b->arena, "%s~%lld.%d", base, (long long)it->record, k);
        h = hb_hash_str(id, 0);
    }
    hb_idmap_put(&s->ids, h, 1);
    if (ord % (uint64_t)n_sl != (uint64_t)(s->p->o->n_slices > 1 ? s->p->o->slice : 0)) {
        b->n_order -= n; /* another slice builds it */
        return;
    }
    s->st.samples_slice++;
    if (b->n_samples == b->cap_samples) {
        b->cap_samples = b->cap_samples ? b->cap_samples * 2 : 1024;
        b->samples = hb_xrealloc(b->samples, b->cap_samples * sizeof *b->samples);
    }
    b->samples[b->n_samples++] = (hb_psample){id, first, n, dedup_json};
}

/* The text an item is deduplicated on; NULL when it has no such field. */
static const char *dedup_value(const hb_pitem *it, const char *field) {
    const char *v = hb_example_get(&it->ex, field);
    if (!v && it->ex.n_options && it->ex.answer_idx >= 0 && !strcmp(field, "answer")) v = it->ex.options[it->ex.answer_idx];
    return v;
}

typedef struct {
    uint64_t h;
    uint32_t first; /* index in the group's item list of the bucket's first item */
    uint32_t n;
    uint32_t *members;
} bucket;

static void plan_group(hb_psrc *s, hb_pbuf *pb, uint32_t head) {
    hb_arena *t = &s->tmp;
    hb_arena_reset(t);
    /* the group's items in file order */
    size_t n = 0;
    for (int32_t i = (int32_t)head; i >= 0; i = pb->items[i].next) n++;
    uint32_t *items = hb_arena_alloc(t, n * sizeof *items);
    n = 0;
    for (int32_t i = (int32_t)head; i >= 0; i = pb->items[i].next) items[n++] = (uint32_t)i;
    const char *gname = pb->items[head].group ? pb->items[head].group : "_text";
    /* dedup (Honeybee: only when grouping several turns) into buckets in first-appearance order */
    uint32_t *kept = hb_arena_alloc(t, n * sizeof *kept);
    const char **dj = hb_arena_calloc(t, n * sizeof *dj); /* per kept position: its dedup record */
    size_t nk = 0;
    if (strcmp(s->set.dedup, "none") && n > 1) {
        size_t cap = 4;
        while (cap < 2 * n) cap *= 2;
        int32_t *table = hb_arena_alloc(t, cap * sizeof *table);
        memset(table, 0xff, cap * sizeof *table);
        bucket *b = hb_arena_alloc(t, n * sizeof *b);
        char **norm = hb_arena_alloc(t, n * sizeof *norm);
        size_t nb = 0;
        hb_buf tmp = {0};
        for (size_t i = 0; i < n; i++) {
            const char *v = dedup_value(&pb->items[items[i]], s->set.dedup);
            if (!v) {
                hb_psrc_note(s, &s->st.notes, &s->st.n_notes, "dedup.field_missing", 1);
                b[nb] = (bucket){0, (uint32_t)i, 1, NULL};
                norm[nb++] = NULL;
                continue;
            }
            hb_buf_clear(&tmp);
            if (s->set.normalize) hb_prep_normalize(v, &tmp);
            else hb_buf_puts(&tmp, v);
            const char *key = hb_buf_cstr(&tmp);
            uint64_t h = hb_hash_str(key, 7);
            size_t slot = (size_t)h & (cap - 1);
            while (table[slot] >= 0 && (b[table[slot]].h != h || !norm[table[slot]] || strcmp(norm[table[slot]], key)))
                slot = (slot + 1) & (cap - 1);
            if (table[slot] >= 0) {
                bucket *x = &b[table[slot]];
                if (x->n == 1) {
                    x->members = hb_arena_alloc(t, n * sizeof *x->members);
                    x->members[0] = x->first;
                }
                x->members[x->n++] = (uint32_t)i;
            } else {
                table[slot] = (int32_t)nb;
                norm[nb] = hb_arena_strdup(t, key);
                b[nb++] = (bucket){h, (uint32_t)i, 1, NULL};
            }
        }
        hb_buf_free(&tmp);
        for (size_t k = 0; k < nb; k++) {
            if (b[k].n == 1) {
                kept[nk++] = items[b[k].first];
                continue;
            }
            /* the kept duplicate is a seeded draw keyed by the group and the normalised value */
            const char *key = hb_arena_printf(t, "%s/%s/%s", s->src->name, gname, norm[k]);
            hb_rng rng = hb_rng_for(s->p->r->seed, "dedup", key);
            uint32_t pick = (uint32_t)hb_rng_below(&rng, b[k].n);
            hb_buf j = {0};
            hb_buf_puts(&j, "{\"value\": ");
            hb_buf_put_json_str(&j, norm[k], strlen(norm[k]));
            hb_buf_printf(&j, ", \"kept\": %lld, \"dropped\": [", (long long)pb->items[items[b[k].members[pick]]].record);
            int first = 1;
            for (uint32_t m = 0; m < b[k].n; m++) {
                if (m == pick) continue;
                hb_buf_printf(&j, "%s%lld", first ? "" : ", ", (long long)pb->items[items[b[k].members[m]]].record);
                first = 0;
            }
            hb_buf_puts(&j, "]}");
            dj[nk] = hb_arena_strdup(t, hb_buf_cstr(&j));
            hb_buf_free(&j);
            kept[nk++] = items[b[k].members[pick]];
            s->st.dedup_buckets++;
            s->st.dedup_dropped += b[k].n - 1;
        }
    } else {
        memcpy(kept, items, n * sizeof *kept);
        nk = n;
    }
    /* chunks of nturn (0: the whole group) */
    size_t step = s->set.nturn > 0 ? (size_t)s->set.nturn : nk;
    for (size_t c = 0, start = 0; start < nk; c++, start += step) {
        size_t m = nk - start < step ? nk - start : step;
        uint32_t first = (uint32_t)pb->n_order;
        hb_buf j = {0};
        for (size_t i = start; i < start + m; i++) {
            add_order(pb, kept[i]);
            if (dj[i]) hb_buf_printf(&j, "%s%s", j.len ? ", " : "[", dj[i]);
        }
        const char *dedup_json = j.len ? hb_arena_printf(&pb->arena, "%s]", hb_buf_cstr(&j)) : NULL;
        hb_buf_free(&j);
        add_sample(s, pb, hb_arena_printf(&pb->arena, "%s/%s/%zu", s->src->name, gname, c), first, (uint32_t)m, dedup_json);
    }
}

void hb_psrc_plan(hb_psrc *s, hb_pbuf *b) {
    if (s->grouped) {
        s->st.groups = s->n_groups;
        for (size_t g = 0; g < s->n_groups; g++) plan_group(s, b, s->group_heads[g]);
        return;
    }
    /* streaming: each pending item is one sample named by its key */
    for (size_t i = b->planned; i < b->n_items; i++) {
        uint32_t first = (uint32_t)b->n_order;
        add_order(b, (uint32_t)i);
        add_sample(s, b, hb_arena_printf(&b->arena, "%s/%s", s->src->name, b->items[i].key), first, 1, NULL);
    }
    b->planned = b->n_items;
}
