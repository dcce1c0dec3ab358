/* lib/mix/inspect — looking inside a mix plan: a text summary, the stream as JSON lines (optionally one rank's
 * share, optionally with sample ids read from the shards), and a full check against the shards it names.
 *
 * Dependencies: mix/mix.h (plan reader), shard/shard.h (hb_shard_open, hb_shard_get_sample), core/core.h. */
#include "mix/mix.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "shard/shard.h"

void hb_mix_plan_info(const hb_mix_plan *p, FILE *out) {
    char hex[17], c1[32], c2[32];
    hb_hash64_hex(hb_mix_plan_hash(p), hex);
    fprintf(out, "plan hash %s, seed %" PRIu64 "\n", hex, hb_mix_plan_seed(p));
    fprintf(out, "%s samples", hb_fmt_count(hb_mix_plan_samples(p), c1, sizeof c1));
    if (hb_mix_plan_packed(p))
        fprintf(out, " in %s sequences of up to %u tokens", hb_fmt_count(hb_mix_plan_sequences(p), c2, sizeof c2),
                hb_mix_plan_pack_tokens(p));
    if (hb_mix_plan_batch(p)) fprintf(out, ", global batch %" PRIu64, hb_mix_plan_batch(p));
    fprintf(out, "\nshards: %zu in %s (relative to the plan)\n", hb_mix_plan_n_shards(p), hb_mix_plan_shards_dir(p));
    uint64_t *per = hb_xcalloc(hb_mix_plan_n_sources(p) + 1, sizeof *per);
    for (uint64_t k = 0; k < hb_mix_plan_samples(p); k++) {
        hb_mix_ref r;
        if (!hb_mix_plan_sample(p, k, &r, NULL)) per[r.source]++;
    }
    for (size_t i = 0; i < hb_mix_plan_n_sources(p); i++)
        fprintf(out, "  %-16s %14s samples\n", hb_mix_plan_source(p, i), hb_fmt_count(per[i], c1, sizeof c1));
    free(per);
}

typedef struct {
    char *dir;
    hb_shard **open;
    size_t n;
    hb_arena arena;
} shard_cache;

static int sample_id(shard_cache *c, const hb_mix_plan *p, const hb_mix_ref *r, const char **id, hb_err *err) {
    if (!c->open[r->shard]) {
        char *path = hb_path_join(c->dir, hb_mix_plan_shard_file(p, r->shard));
        int code = hb_shard_open(&c->open[r->shard], path, err);
        free(path);
        if (code) return code;
    }
    hb_arena_reset(&c->arena);
    hb_sample s;
    int code = hb_shard_get_sample(c->open[r->shard], r->record, &s, &c->arena, err);
    if (!code) *id = s.id;
    return code;
}

int hb_mix_plan_dump(const hb_mix_plan *p, uint64_t from, uint64_t count, uint32_t rank, uint32_t world, int ids,
                     const char *shards_dir, FILE *out, hb_err *err) {
    uint64_t nseq = hb_mix_plan_sequences(p), B = hb_mix_plan_batch(p);
    if (from > nseq)
        return hb_err_set(err, HB_ERANGE, NULL, HB_NOPOS, HB_NOPOS, "--from %" PRIu64 " is past the end (%" PRIu64 ")",
                          from, nseq);
    uint64_t end = count && count < nseq - from ? from + count : nseq, per = 0;
    if (world) {
        uint64_t a, n;
        int code = hb_mix_plan_rank_slice(p, 0, rank, world, &a, &n, err); /* checks batch and world */
        if (code && code != HB_ERANGE) return code;
        per = B / world;
    }
    shard_cache c = {shards_dir ? hb_xstrdup(shards_dir) : hb_mix_plan_shards_path(p), NULL, hb_mix_plan_n_shards(p), {0}};
    c.open = hb_xcalloc(c.n + 1, sizeof *c.open);
    hb_arena_init(&c.arena, 0);
    hb_buf line = {0};
    int code = 0;
    for (uint64_t q = from; q < end && !code; q++) {
        if (world && (q % B) / per != rank) continue;
        uint64_t first, n;
        if ((code = hb_mix_plan_sequence(p, q, &first, &n, err))) break;
        for (uint64_t k = first; k < first + n && !code; k++) {
            hb_mix_ref r;
            if ((code = hb_mix_plan_sample(p, k, &r, err))) break;
            const char *src = hb_mix_plan_source(p, r.source), *file = hb_mix_plan_shard_file(p, r.shard);
            hb_buf_clear(&line);
            hb_buf_printf(&line, "{\"seq\":%" PRIu64 ",\"sample\":%" PRIu64 ",\"source\":", q, k);
            hb_buf_put_json_str(&line, src, strlen(src));
            hb_buf_puts(&line, ",\"shard\":");
            hb_buf_put_json_str(&line, file, strlen(file));
            hb_buf_printf(&line, ",\"record\":%" PRIu64, r.record);
            const char *id;
            if (ids && !(code = sample_id(&c, p, &r, &id, err))) {
                hb_buf_puts(&line, ",\"id\":");
                hb_buf_put_json_str(&line, id, strlen(id));
            }
            hb_buf_puts(&line, "}\n");
            if (!code) fwrite(line.data, 1, line.len, out);
        }
    }
    for (size_t i = 0; i < c.n; i++) hb_shard_close(c.open[i]);
    free(c.open);
    free(c.dir);
    hb_arena_free(&c.arena);
    hb_buf_free(&line);
    return code;
}

int hb_mix_plan_verify(const hb_mix_plan *p, const char *shards_dir, hb_err *err) {
    int code = 0;
    for (uint64_t k = 0; k < hb_mix_plan_samples(p) && !code; k++) {
        hb_mix_ref r;
        code = hb_mix_plan_sample(p, k, &r, err);
    }
    for (uint64_t q = 0; q < hb_mix_plan_sequences(p) && !code; q++) {
        uint64_t a, n;
        code = hb_mix_plan_sequence(p, q, &a, &n, err);
    }
    char *dir = shards_dir ? hb_xstrdup(shards_dir) : hb_mix_plan_shards_path(p);
    for (size_t i = 0; i < hb_mix_plan_n_shards(p) && !code; i++) {
        char *path = hb_path_join(dir, hb_mix_plan_shard_file(p, i));
        hb_shard *s;
        if (!(code = hb_shard_open(&s, path, err))) {
            if (hb_shard_checksum(s) != hb_mix_plan_shard_checksum(p, i))
                code = hb_err_set(err, HB_ECHECKSUM, path, HB_NOPOS, HB_NOPOS,
                                  "shard checksum %016" PRIx64 " differs from the plan's %016" PRIx64
                                  ": the shards changed after planning (rerun hb-mix)",
                                  hb_shard_checksum(s), hb_mix_plan_shard_checksum(p, i));
            hb_shard_close(s);
        }
        free(path);
    }
    free(dir);
    return code;
}
