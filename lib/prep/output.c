/* What a source leaves in the output directory: its shards (rotated every shard_samples samples, listed in the
 * run's manifest), its stats JSON and (written as it goes, see collect.c) its rejects.
 * Dependencies: prep_impl.h (hb_psrc), shard/shard.h (hb_sample_writer, hb_manifest_add), core/core.h. */
#include "prep_impl.h"

#include <stdlib.h>
#include <string.h>

char *hb_prep_out_name(const hb_prep *p, const char *source, const char *suffix) {
    char name[512];
    if (p->o->n_slices > 1)
        snprintf(name, sizeof name, "%s.part-%d-of-%d%s", source, p->o->slice, p->o->n_slices, suffix);
    else snprintf(name, sizeof name, "%s%s", source, suffix);
    return hb_path_join(p->o->outdir, name);
}

static int close_shard(hb_psrc *s, hb_err *err) {
    if (!s->sw_open) return 0;
    hb_shard_info info;
    hb_sample_totals t = s->sw.totals;
    s->sw_open = 0;
    int rc = hb_sample_writer_close(&s->sw, &info, err);
    if (rc) return rc;
    char *path = hb_prep_out_name(s->p, s->src->name, "");
    char name[600];
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(name, sizeof name, "%s-%05u.hbs", base, s->shard_no - 1);
    free(path);
    hb_manifest_shard m = {.path = name,
                           .source = (char *)s->src->name,
                           .schema = HB_SCHEMA_SAMPLE,
                           .samples = t.samples,
                           .tokens = t.tokens,
                           .supervised_tokens = t.supervised_tokens,
                           .image_tokens = t.image_tokens,
                           .bytes = info.bytes,
                           .xxh3 = info.xxh3};
    hb_manifest_add(&s->p->manifest, &m);
    return 0;
}

static int open_shard(hb_psrc *s, hb_err *err) {
    char *base = hb_prep_out_name(s->p, s->src->name, "");
    char *path = hb_xmalloc(strlen(base) + 16);
    sprintf(path, "%s-%05u.hbs", base, s->shard_no++);
    free(base);
    int rc = hb_sample_writer_open(&s->sw, path, NULL, err);
    free(path);
    if (!rc) {
        s->sw_open = 1;
        s->in_shard = 0;
    }
    return rc;
}

int hb_psrc_write_sample(hb_psrc *s, const hb_sample *smp, hb_err *err) {
    uint64_t per = s->p->o->shard_samples ? s->p->o->shard_samples : 100000;
    int rc;
    if (s->sw_open && s->in_shard >= per && (rc = close_shard(s, err))) return rc;
    if (!s->sw_open && (rc = open_shard(s, err))) return rc;
    if ((rc = hb_sample_writer_add(&s->sw, smp, err))) return rc;
    s->in_shard++;
    return 0;
}

int hb_psrc_close_output(hb_psrc *s, hb_err *err) {
    /* a source that yields no sample still gets one (empty) shard, so the manifest names it */
    if (!s->sw_open && s->shard_no == 0 && !s->p->o->inputs_only) {
        int rc = open_shard(s, err);
        if (rc) return rc;
    }
    return close_shard(s, err);
}

static void put_counts(hb_buf *b, const char *name, const hb_reason_count *c, size_t n) {
    hb_buf_printf(b, ",\n  \"%s\": {", name);
    for (size_t i = 0; i < n; i++) {
        hb_buf_puts(b, i ? ", " : "");
        hb_buf_put_json_str(b, c[i].reason, strlen(c[i].reason));
        hb_buf_printf(b, ": %llu", (unsigned long long)c[i].n);
    }
    hb_buf_puts(b, "}");
}

static int cmp_reason(const void *a, const void *b) {
    const hb_reason_count *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? 1 : -1;
    return strcmp(x->reason, y->reason);
}

int hb_psrc_write_stats(hb_psrc *s, hb_err *err) {
    const hb_pstats *t = &s->st;
    hb_buf b = {0};
    hb_buf_puts(&b, "{\n  \"source\": ");
    hb_buf_put_json_str(&b, s->src->name, strlen(s->src->name));
    hb_buf_puts(&b, ",\n  \"dataset\": ");
    hb_buf_put_json_str(&b, s->src->dataset, strlen(s->src->dataset));
    hb_buf_puts(&b, ",\n  \"template\": ");
    hb_buf_put_json_str(&b, s->dataset, strlen(s->dataset));
    hb_buf_printf(&b, ",\n  \"nturn\": %d,\n  \"dedup\": ", s->set.nturn);
    hb_buf_put_json_str(&b, s->set.dedup, strlen(s->set.dedup));
    hb_buf_printf(&b, ",\n  \"dedup_normalize\": %s", s->set.normalize ? "true" : "false");
    if (s->p->o->n_slices > 1) hb_buf_printf(&b, ",\n  \"slice\": [%d, %d]", s->p->o->slice, s->p->o->n_slices);
    hb_buf_printf(&b,
                  ",\n  \"records_read\": %llu,\n  \"items\": %llu,\n  \"rejected_records\": %llu,\n  \"groups\": %llu,"
                  "\n  \"dedup_buckets\": %llu,\n  \"dedup_dropped\": %llu,\n  \"duplicate_ids\": %llu,"
                  "\n  \"samples_planned\": %llu,\n  \"samples_in_slice\": %llu,\n  \"samples_written\": %llu,"
                  "\n  \"samples_dropped_image\": %llu,\n  \"samples_dropped_render\": %llu,"
                  "\n  \"samples_dropped_no_supervision\": %llu,\n  \"samples_truncated\": %llu,\n  \"turns\": %llu,"
                  "\n  \"tokens\": %llu,\n  \"supervised_tokens\": %llu,\n  \"image_tokens\": %llu,"
                  "\n  \"max_tokens\": %llu,\n  \"images_referenced\": %llu",
                  (unsigned long long)t->records, (unsigned long long)t->items, (unsigned long long)t->rejected,
                  (unsigned long long)t->groups, (unsigned long long)t->dedup_buckets,
                  (unsigned long long)t->dedup_dropped, (unsigned long long)t->dup_ids,
                  (unsigned long long)t->samples_total, (unsigned long long)t->samples_slice,
                  (unsigned long long)t->samples_written, (unsigned long long)t->missing_image,
                  (unsigned long long)t->bad_sample, (unsigned long long)t->no_supervision,
                  (unsigned long long)t->truncated, (unsigned long long)t->turns, (unsigned long long)t->tokens,
                  (unsigned long long)t->supervised, (unsigned long long)t->image_tokens,
                  (unsigned long long)t->max_len, (unsigned long long)t->images_ref);
    /* token length histogram: bin k holds lengths in [64 * 2^(k-1), 64 * 2^k), bin 0 is [0, 64) */
    hb_buf_puts(&b, ",\n  \"length_histogram\": {\"lower_bounds\": [0");
    for (int k = 1; k < HB_PREP_HIST_BINS; k++) hb_buf_printf(&b, ", %llu", 64ull << (k - 1));
    hb_buf_puts(&b, "], \"counts\": [");
    for (int k = 0; k < HB_PREP_HIST_BINS; k++) hb_buf_printf(&b, "%s%llu", k ? ", " : "", (unsigned long long)t->hist[k]);
    hb_buf_puts(&b, "]}");
    if (s->st.n_reasons) qsort(s->st.reasons, s->st.n_reasons, sizeof *s->st.reasons, cmp_reason);
    put_counts(&b, "rejects_by_reason", t->reasons, t->n_reasons);
    if (s->st.n_notes) qsort(s->st.notes, s->st.n_notes, sizeof *s->st.notes, cmp_reason);
    put_counts(&b, "converter", t->notes, t->n_notes);
    double mb = (double)t->input_bytes / 1e6;
    hb_buf_printf(&b, ",\n  \"input_bytes\": %llu,\n  \"seconds\": %.6f,\n  \"records_per_second\": %.1f,"
                      "\n  \"mb_per_second\": %.2f\n}\n",
                  (unsigned long long)t->input_bytes, t->seconds, t->seconds > 0 ? (double)t->records / t->seconds : 0,
                  t->seconds > 0 ? mb / t->seconds : 0);
    char *path = hb_prep_out_name(s->p, s->src->name, ".stats.json");
    int rc = hb_write_file_atomic(path, b.data, b.len, err);
    free(path);
    hb_buf_free(&b);
    return rc;
}
