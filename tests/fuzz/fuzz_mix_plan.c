/* Fuzz the mix plan reader (lib/mix/reader.c, what hb-train streams) on arbitrary file bytes: open (header, tables,
 * sizes, plan hash), every sample, sequence and rank slice, cursors, info and dump. An input whose plan hash does
 * not match is retried with the hash recomputed, so the checks after it are fuzzed too.
 * Seeds: tests/fuzz/corpus/mix_plan (plans written by hb-mix: plain, packed, with a batch size). */
#include "fuzz.h"
#include "mix/mix.h"

static void use(hb_mix_plan *p) {
    hb_err e;
    uint64_t N = hb_mix_plan_samples(p), Q = hb_mix_plan_sequences(p);
    for (uint64_t k = 0; k < N && k < 512; k++) {
        hb_mix_ref r;
        hb_err_clear(&e);
        int rc = hb_mix_plan_sample(p, k, &r, &e);
        if (rc) fz_check_err(rc, &e);
        else FZ_ASSERT(r.shard < hb_mix_plan_n_shards(p) && r.source < hb_mix_plan_n_sources(p) &&
                           r.record < hb_mix_plan_shard_records(p, r.shard),
                       "sample %llu out of range", (unsigned long long)k);
    }
    for (uint64_t q = 0; q < Q && q < 512; q++) {
        uint64_t a, n;
        hb_err_clear(&e);
        int rc = hb_mix_plan_sequence(p, q, &a, &n, &e);
        if (rc) fz_check_err(rc, &e);
        else FZ_ASSERT(n >= 1 && a + n <= N, "sequence %llu out of range", (unsigned long long)q);
    }
    for (uint32_t world = 1; world <= 4; world++)
        for (uint64_t g = 0; g < 4; g++)
            for (uint32_t rank = 0; rank < world; rank++) {
                uint64_t a, n;
                if (hb_mix_plan_rank_slice(p, g, rank, world, &a, &n, &e) == 0)
                    FZ_ASSERT(a + n <= Q, "rank slice past the end");
            }
    char cur[64];
    uint64_t pos;
    hb_mix_cursor_format(p, Q / 2, cur, sizeof cur);
    FZ_ASSERT(hb_mix_cursor_parse(p, cur, &pos, &e) == 0 && pos == Q / 2, "cursor round trip: %s", e.reason);
    free(hb_mix_plan_shards_path(p));
    FILE *null = fopen("/dev/null", "w");
    hb_mix_plan_info(p, null);
    hb_err_clear(&e);
    int rc = hb_mix_plan_dump(p, 0, 256, 0, 0, 0, NULL, null, &e);
    if (rc) fz_check_err(rc, &e);
    fclose(null);
    hb_err_clear(&e);
    rc = hb_mix_plan_verify(p, fz_dir(), &e);
    if (rc) fz_check_err(rc, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int attempt = 0; attempt < 2; attempt++) {
        uint8_t *copy = malloc(size + 1);
        memcpy(copy, data, size);
        if (attempt) fz_fix_tail16(copy, size);
        char *path = fz_write("plan.hbmix", copy, size);
        free(copy);
        hb_err e;
        hb_err_clear(&e);
        hb_mix_plan *p;
        int rc = hb_mix_plan_open(&p, path, &e);
        free(path);
        if (rc == 0) {
            use(p);
            hb_mix_plan_close(p);
            return 0;
        }
        fz_check_err(rc, &e);
        if (rc != HB_ECHECKSUM) return 0;
    }
    return 0;
}
