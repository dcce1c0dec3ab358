/* Fuzz the shard container reader (lib/shard/container.c) on arbitrary file bytes: open (header, trailer, index),
 * random access to records, the full verify, and the hb.sample/1 / hb.image/1 decoders on what the records hold;
 * plus hb-inspect's dump, verify and stats on the same file. An input that fails a checksum is retried with the
 * block, index and shard hashes recomputed, so the checks behind them are fuzzed too.
 * Seeds: tests/fuzz/corpus/shard (small sample and image shards written by hb-inspect pack and hb-prep). */
#include "fuzz.h"
#include "shard/imgstore.h"
#include "shard/shard.h"

static int check_rec(const uint8_t *rec, size_t len, void *ctx, hb_err *err) {
    hb_arena *a = ctx;
    hb_sample s;
    int rc = hb_sample_decode(rec, len, &s, a, err);
    hb_arena_reset(a);
    return rc;
}

/* Returns the hb_code of the first failure (0 when everything passed). */
static int run(const char *path) {
    hb_err e;
    hb_err_clear(&e);
    hb_shard *s;
    int rc = hb_shard_open(&s, path, &e), first = rc;
    if (rc) {
        fz_check_err(rc, &e);
        return rc;
    }
    hb_arena a;
    hb_arena_init(&a, 0);
    int is_sample = !strcmp(hb_shard_schema(s), HB_SCHEMA_SAMPLE), is_image = !strcmp(hb_shard_schema(s), HB_SCHEMA_IMAGE);
    uint64_t n = hb_shard_count(s);
    for (uint64_t k = 0; k < n && k < 64; k++) {
        const uint8_t *rec;
        size_t len;
        hb_err_clear(&e);
        rc = hb_shard_get(s, k, &rec, &len, &e);
        if (rc) {
            fz_check_err(rc, &e);
            if (!first) first = rc;
            continue;
        }
        if (is_sample) {
            hb_sample smp;
            hb_err_clear(&e);
            rc = hb_shard_get_sample(s, k, &smp, &a, &e);
            if (rc) fz_check_err(rc, &e);
            hb_arena_reset(&a);
        } else if (is_image) {
            hb_image_rec r;
            char origin[256];
            hb_err_clear(&e);
            rc = hb_image_rec_decode(rec, len, &r, NULL, origin, sizeof origin, &e);
            if (rc) {
                fz_check_err(rc, &e);
            } else if (r.size <= 64) { /* then the pixels, into a buffer of the size the record says */
                uint8_t *px = malloc((size_t)r.size * r.size * 3);
                hb_err_clear(&e);
                rc = hb_image_rec_decode(rec, len, &r, px, origin, sizeof origin, &e);
                if (rc) fz_check_err(rc, &e);
                free(px);
            }
        }
    }
    /* out of range */
    const uint8_t *rec;
    size_t len;
    hb_err_clear(&e);
    FZ_ASSERT(hb_shard_get(s, n, &rec, &len, &e) != 0, "record %llu of %llu", (unsigned long long)n,
              (unsigned long long)n);
    hb_shard_close(s);
    hb_err_clear(&e);
    rc = hb_shard_verify(path, is_sample ? check_rec : NULL, &a, &e);
    if (rc) fz_check_err(rc, &e);
    if (!first) first = rc;
    FILE *null = fopen("/dev/null", "w");
    hb_err_clear(&e);
    rc = hb_inspect_verify(path, null, &e);
    if (rc) fz_check_err(rc, &e);
    if (is_sample) {
        hb_err_clear(&e);
        rc = hb_inspect_dump(path, null, &e);
        if (rc) fz_check_err(rc, &e);
        hb_err_clear(&e);
        rc = hb_inspect_stats(path, 1, null, &e);
        if (rc) fz_check_err(rc, &e);
    }
    fclose(null);
    hb_arena_free(&a);
    return first;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *path = fz_write("x.hbs", data, size);
    int rc = run(path);
    free(path);
    if (rc == HB_ECHECKSUM) { /* again with the hashes recomputed */
        uint8_t *copy = malloc(size + 1);
        memcpy(copy, data, size);
        fz_fix_shard(copy, size);
        path = fz_write("x.hbs", copy, size);
        free(copy);
        run(path);
        free(path);
    }
    return 0;
}
