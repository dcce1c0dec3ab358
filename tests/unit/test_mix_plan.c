/* lib/mix end to end over real shards: exact counts, passes without repeats, the +-1 prefix guarantee on the written
 * stream, byte-identical plans for any -j, resume cursors, rank slices, packing, batch balance, corruption. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/mixutil.h"
#include "helpers/testutil.h"
#include "mix/mix.h"
#include "shard/shard.h"

#define WEIGHTS                                                                                                        \
    "  sources:\n    vqav2: {weight: 0.5}\n    gqa: {weight: 0.3}\n    ocrvqa: {weight: 0.15}\n"                        \
    "    textchat: {weight: 0.05}\n"

static char *layout(void) {
    char *d = tu_mkdtemp();
    cr_assert_not_null(d);
    cr_assert_eq(tu_mix_layout(d, 1), 0);
    return d;
}

static hb_mix_plan *run_open(const char *d, const char *name, const char *body, int jobs) {
    hb_err e;
    cr_assert_eq(tu_mix_run(d, name, body, jobs, 0, &e), 0, "%s: %s", e.file, e.reason);
    char *path = tu_mix_plan_path(d, name);
    hb_mix_plan *p;
    cr_assert_eq(hb_mix_plan_open(&p, path, &e), 0, "%s", e.reason);
    free(path);
    return p;
}

static const uint64_t SIZES[] = {500, 120, 37, 9};

Test(mix_plan, exact_counts_passes_prefix_and_provenance) {
    char *d = layout();
    hb_mix_plan *p = run_open(d, "w", "mix:\n  total: 1999\n  batch_size: 16\n" WEIGHTS, 2);
    static const double w[] = {0.5, 0.3, 0.15, 0.05};
    uint64_t N = hb_mix_plan_samples(p);
    cr_assert_eq(N, 1999);
    cr_assert_eq(hb_mix_plan_n_sources(p), 4);
    uint32_t *src;
    uint64_t *idx;
    tu_mix_stream(p, &src, &idx);
    uint64_t cnt[4] = {0}, total[4];
    for (uint64_t k = 0; k < N; k++) total[src[k]] = ++cnt[src[k]];
    for (int i = 0; i < 4; i++) { /* largest remainder: within 1 of the quota, and the plan's source table agrees */
        double q = 1999 * w[i];
        cr_assert(total[i] >= (uint64_t)q && total[i] <= (uint64_t)q + 1, "source %d: %llu for quota %.2f", i,
                  (unsigned long long)total[i], q);
        cr_assert_eq(hb_mix_plan_source_size(p, i), SIZES[i]);
    }
    memset(cnt, 0, sizeof cnt);
    uint8_t *seen[4];
    for (int i = 0; i < 4; i++) seen[i] = calloc(SIZES[i], 1);
    for (uint64_t t = 1; t <= N; t++) {
        uint32_t s = src[t - 1];
        uint64_t q = cnt[s]++;
        if (q % SIZES[s] == 0) memset(seen[s], 0, SIZES[s]); /* a new pass */
        cr_assert_lt(idx[t - 1], SIZES[s]);
        cr_assert_eq(seen[s][idx[t - 1]], 0, "sample %llu of source %u repeats within pass %llu",
                     (unsigned long long)idx[t - 1], s, (unsigned long long)(q / SIZES[s]));
        seen[s][idx[t - 1]] = 1;
        for (int i = 0; i < 4; i++) {
            double dev = (double)cnt[i] - (double)t * (double)total[i] / (double)N;
            cr_assert(dev < 1 && dev > -1, "prefix %llu source %d deviates by %.3f", (unsigned long long)t, i, dev);
        }
    }
    /* the referenced records really are those samples */
    char *sd = hb_mix_plan_shards_path(p);
    hb_arena a;
    hb_arena_init(&a, 0);
    for (uint64_t k = 0; k < N; k += 97) {
        hb_mix_ref r;
        hb_err e;
        cr_assert_eq(hb_mix_plan_sample(p, k, &r, &e), 0);
        char *path = hb_path_join(sd, hb_mix_plan_shard_file(p, r.shard));
        hb_shard *sh;
        cr_assert_eq(hb_shard_open(&sh, path, &e), 0, "%s", e.reason);
        hb_sample smp;
        cr_assert_eq(hb_shard_get_sample(sh, r.record, &smp, &a, &e), 0);
        char want[64];
        snprintf(want, sizeof want, "%s/%llu", hb_mix_plan_source(p, r.source), (unsigned long long)idx[k]);
        cr_assert_str_eq(smp.id, want);
        hb_shard_close(sh);
        free(path);
    }
    hb_arena_free(&a);
    free(sd);
    for (int i = 0; i < 4; i++) free(seen[i]);
    free(src);
    free(idx);
    hb_mix_plan_close(p);
    tu_rmtree(d);
    free(d);
}

static uint8_t *plan_bytes(const char *d, const char *name, size_t *n) {
    char *path = tu_mix_plan_path(d, name);
    uint8_t *b = tu_read(path, n);
    cr_assert_not_null(b);
    free(path);
    return b;
}

Test(mix_plan, byte_identical_for_any_jobs_and_dry_run_hash) {
    char *d = layout();
    static const char *const bodies[] = {
        "mix:\n  total: 3001\n  batch_size: 16\n" WEIGHTS,
        "mix:\n  total: 3001\n  batch_size: 16\n  balance: batch\n" WEIGHTS,
        "mix:\n  total: 1500\n  batch_size: 8\n  pack: {max_tokens: 120, window: 5}\n" WEIGHTS,
        "mix:\n  unit: tokens\n  total: 90000\n" WEIGHTS,
    };
    for (size_t b = 0; b < 4; b++) {
        hb_err e;
        size_t n1, n;
        cr_assert_eq(tu_mix_run(d, "j", bodies[b], 1, 0, &e), 0, "%s", e.reason);
        uint8_t *ref = plan_bytes(d, "j", &n1);
        static const int jobs[] = {2, 3, 8};
        for (int k = 0; k < 3; k++) {
            cr_assert_eq(tu_mix_run(d, "j", bodies[b], jobs[k], 0, &e), 0, "%s", e.reason);
            uint8_t *got = plan_bytes(d, "j", &n);
            cr_assert(n == n1 && !memcmp(ref, got, n), "body %zu: -j%d differs from -j1", b, jobs[k]);
            free(got);
        }
        /* a dry run computes the same plan hash without writing */
        hb_mix_spec spec;
        hb_mix_input in;
        hb_mix_result res;
        char *rp = hb_path_join(d, "j.yaml");
        cr_assert_eq(hb_mix_spec_load(rp, &spec, &e), 0);
        const char *names[4] = {"vqav2", "gqa", "ocrvqa", "textchat"};
        cr_assert_eq(hb_mix_input_open(&in, spec.shards_dir, names, 4, &e), 0, "%s", e.reason);
        cr_assert_eq(hb_mix_input_lengths(&in, NULL, 0, 2, &e), 0);
        cr_assert_eq(hb_mix_solve(&spec, &in, &res, &e), 0);
        cr_assert_eq(hb_mix_generate(&spec, &in, &res, NULL, "..", 2, &e), 0);
        cr_assert_eq(res.plan_hash, hb_le64(ref + n1 - 16));
        hb_mix_result_free(&res);
        hb_mix_input_free(&in);
        hb_mix_spec_free(&spec);
        free(rp);
        free(ref);
    }
    tu_rmtree(d);
    free(d);
}

static char *dump(const hb_mix_plan *p, uint64_t from, uint32_t rank, uint32_t world) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    hb_err e;
    cr_assert_eq(hb_mix_plan_dump(p, from, 0, rank, world, 0, NULL, f, &e), 0, "%s", e.reason);
    fclose(f);
    return buf;
}

Test(mix_plan, resume_cursor_and_rank_slices) {
    char *d = layout();
    hb_mix_plan *p = run_open(d, "r", "mix:\n  total: 1000\n  batch_size: 16\n" WEIGHTS, 2);
    char *full = dump(p, 0, 0, 0);
    hb_rng r = hb_rng_make(3, 0);
    for (int it = 0; it < 25; it++) {
        uint64_t c = it == 0 ? 0 : it == 1 ? 1000 : hb_rng_below(&r, 1001), pos = 99;
        char cur[64];
        hb_err e;
        hb_mix_cursor_format(p, c, cur, sizeof cur);
        cr_assert_eq(hb_mix_cursor_parse(p, cur, &pos, &e), 0, "%s", e.reason);
        cr_assert_eq(pos, c);
        char *tail = dump(p, pos, 0, 0);
        const char *at = full;
        for (uint64_t k = 0; k < c; k++) at = strchr(at, '\n') + 1; /* skip c lines */
        cr_assert_str_eq(tail, at, "resume at %llu", (unsigned long long)c);
        free(tail);
    }
    hb_err e;
    uint64_t pos;
    cr_assert_eq(hb_mix_cursor_parse(p, "0123456789abcdef:5", &pos, &e), HB_EINVAL);
    cr_assert(strstr(e.reason, "belongs to plan"));
    char cur[64];
    hb_mix_cursor_format(p, 1001, cur, sizeof cur);
    cr_assert_eq(hb_mix_cursor_parse(p, cur, &pos, &e), HB_ERANGE);
    cr_assert_eq(hb_mix_cursor_parse(p, "12:5", &pos, &e), HB_EINVAL);
    /* ranks: slices of each global batch, in rank order, cover it exactly */
    static const uint32_t worlds[] = {1, 2, 4, 8, 16};
    for (int w = 0; w < 5; w++) {
        uint64_t expect = 0;
        for (uint64_t g = 0; g < (1000 + 15) / 16; g++)
            for (uint32_t k = 0; k < worlds[w]; k++) {
                uint64_t a, n;
                cr_assert_eq(hb_mix_plan_rank_slice(p, g, k, worlds[w], &a, &n, &e), 0, "%s", e.reason);
                cr_assert_eq(a, expect > 1000 ? 1000 : expect);
                expect = a + n;
                if (g * 16 + 16 <= 1000) cr_assert_eq(n, 16 / worlds[w]);
            }
        cr_assert_eq(expect, 1000);
        /* the union of the ranks' dumps is the full dump */
        size_t lines = 0;
        for (uint32_t k = 0; k < worlds[w]; k++) {
            char *part = dump(p, 0, k, worlds[w]);
            for (char *l = part; *l; l = strchr(l, '\n') + 1) {
                char *nl = strchr(l, '\n');
                *nl = 0;
                cr_assert_not_null(strstr(full, l));
                *nl = '\n';
                lines++;
            }
            free(part);
        }
        cr_assert_eq(lines, 1000);
    }
    uint64_t a, n;
    cr_assert_eq(hb_mix_plan_rank_slice(p, 0, 0, 3, &a, &n, &e), HB_EINVAL); /* 16 does not divide by 3 */
    cr_assert_eq(hb_mix_plan_rank_slice(p, 63, 0, 2, &a, &n, &e), HB_ERANGE);
    free(full);
    hb_mix_plan_close(p);
    tu_rmtree(d);
    free(d);
}

static uint32_t sample_tokens(const char *sd, const hb_mix_plan *p, const hb_mix_ref *r) {
    char *path = hb_path_join(sd, hb_mix_plan_shard_file(p, r->shard));
    hb_shard *sh;
    hb_err e;
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_sample s;
    cr_assert_eq(hb_shard_open(&sh, path, &e), 0);
    cr_assert_eq(hb_shard_get_sample(sh, r->record, &s, &a, &e), 0);
    uint32_t n = s.n_tokens;
    hb_shard_close(sh);
    hb_arena_free(&a);
    free(path);
    return n;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(mix_plan, packing_keeps_samples_and_bounds_sequences) {
    char *d = layout();
    hb_mix_plan *plain = run_open(d, "u", "mix:\n  total: 700\n  batch_size: 8\n" WEIGHTS, 2);
    hb_mix_plan *p = run_open(d, "k", "mix:\n  total: 700\n  batch_size: 8\n  pack: {max_tokens: 100, window: 4}\n" WEIGHTS, 2);
    hb_mix_plan *p1 = run_open(d, "k1", "mix:\n  total: 700\n  batch_size: 8\n  pack: {max_tokens: 100, window: 1}\n" WEIGHTS, 2);
    cr_assert(hb_mix_plan_packed(p) && !hb_mix_plan_packed(plain));
    cr_assert_eq(hb_mix_plan_pack_tokens(p), 100);
    cr_assert_eq(hb_mix_plan_samples(p), 700);
    cr_assert_lt(hb_mix_plan_sequences(p), 700);
    char *sd = hb_mix_plan_shards_path(p);
    uint64_t next = 0, multi = 0;
    for (uint64_t q = 0; q < hb_mix_plan_sequences(p); q++) {
        uint64_t a, n, tok = 0;
        hb_err e;
        cr_assert_eq(hb_mix_plan_sequence(p, q, &a, &n, &e), 0);
        cr_assert_eq(a, next);
        next = a + n;
        for (uint64_t k = a; k < a + n; k++) {
            hb_mix_ref r;
            cr_assert_eq(hb_mix_plan_sample(p, k, &r, &e), 0);
            tok += sample_tokens(sd, p, &r);
        }
        cr_assert(tok <= 100 || n == 1, "sequence %llu: %llu tokens in %llu samples", (unsigned long long)q,
                  (unsigned long long)tok, (unsigned long long)n);
        multi += n > 1;
    }
    cr_assert_eq(next, 700);
    cr_assert_gt(multi, 100);
    /* the same samples as the unpacked stream; with window 1 even in the same order */
    uint64_t *x = calloc(700, 8), *y = calloc(700, 8), *z = calloc(700, 8);
    for (uint64_t k = 0; k < 700; k++) {
        hb_mix_ref a, b, c;
        hb_err e;
        hb_mix_plan_sample(plain, k, &a, &e);
        hb_mix_plan_sample(p, k, &b, &e);
        hb_mix_plan_sample(p1, k, &c, &e);
        x[k] = (uint64_t)a.shard << 32 | a.record;
        y[k] = (uint64_t)b.shard << 32 | b.record;
        z[k] = (uint64_t)c.shard << 32 | c.record;
        cr_assert_eq(x[k], z[k], "window 1 keeps the order (sample %llu)", (unsigned long long)k);
    }
    qsort(x, 700, 8, cmp_u64);
    qsort(y, 700, 8, cmp_u64);
    cr_assert(!memcmp(x, y, 700 * 8));
    free(x), free(y), free(z), free(sd);
    hb_mix_plan_close(plain);
    hb_mix_plan_close(p);
    hb_mix_plan_close(p1);
    tu_rmtree(d);
    free(d);
}

Test(mix_plan, batch_balance_per_batch_counts) {
    char *d = layout();
    hb_mix_plan *p = run_open(d, "b", "mix:\n  total: 1600\n  batch_size: 20\n  balance: batch\n" WEIGHTS, 2);
    uint32_t *src;
    uint64_t *idx;
    tu_mix_stream(p, &src, &idx);
    uint64_t tot[4] = {0};
    for (uint64_t k = 0; k < 1600; k++) tot[src[k]]++;
    for (uint64_t g = 0; g < 80; g++) {
        uint64_t c[4] = {0};
        for (uint64_t k = 0; k < 20; k++) c[src[g * 20 + k]]++;
        for (int i = 0; i < 4; i++) { /* 1600 is a multiple of 20: floor or ceil of 20 n_i / 1600 */
            double share = 20.0 * (double)tot[i] / 1600;
            cr_assert((double)c[i] > share - 1 && (double)c[i] < share + 1, "batch %llu source %d: %llu for %.2f",
                      (unsigned long long)g, i, (unsigned long long)c[i], share);
        }
    }
    free(src);
    free(idx);
    hb_mix_plan_close(p);
    tu_rmtree(d);
    free(d);
}

Test(mix_plan, every_corruption_and_truncation_is_detected) {
    char *d = layout();
    hb_mix_plan *p0 = run_open(d, "c", "mix:\n  total: 40\n  pack: {max_tokens: 90}\n" WEIGHTS, 1);
    hb_mix_plan_close(p0);
    size_t n;
    uint8_t *orig = plan_bytes(d, "c", &n);
    char *bad = hb_path_join(d, "bad.hbmix");
    for (size_t i = 0; i < n; i++) {
        for (int v = 0; v < 2; v++) {
            uint8_t *b = malloc(n);
            memcpy(b, orig, n);
            b[i] ^= v ? 0xff : 0x01;
            cr_assert_eq(tu_write(bad, b, n), 0);
            hb_mix_plan *p;
            hb_err e;
            cr_assert_neq(hb_mix_plan_open(&p, bad, &e), 0, "flipping byte %zu went unnoticed", i);
            free(b);
        }
    }
    for (size_t len = 0; len < n; len++) {
        cr_assert_eq(tu_write(bad, orig, len), 0);
        hb_mix_plan *p;
        hb_err e;
        cr_assert_neq(hb_mix_plan_open(&p, bad, &e), 0, "truncation to %zu went unnoticed", len);
    }
    /* a plan over shards that changed afterwards fails verification */
    hb_mix_plan *p;
    hb_err e;
    char *path = tu_mix_plan_path(d, "c");
    cr_assert_eq(hb_mix_plan_open(&p, path, &e), 0);
    cr_assert_eq(hb_mix_plan_verify(p, NULL, &e), 0, "%s", e.reason);
    char *sd = hb_path_join(d, "shards");
    uint32_t lens[2][3] = {{10, 2, 0}, {12, 3, 0}};
    cr_assert_eq(tu_mix_shard(sd, "ocrvqa-00000.hbs", "ocrvqa", 0, 2, (const uint32_t (*)[3])lens, NULL), 0);
    cr_assert_eq(hb_mix_plan_verify(p, NULL, &e), HB_ECHECKSUM);
    cr_assert(strstr(e.reason, "rerun hb-mix"));
    hb_mix_plan_close(p);
    free(sd), free(path), free(bad), free(orig);
    tu_rmtree(d);
    free(d);
}
