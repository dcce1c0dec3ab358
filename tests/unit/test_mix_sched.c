/* lib/mix: the interleave guarantees (every prefix within +-1 of its share, exact totals; batch mode: floor/ceil per
 * batch) over random source sizes, and the Feistel permutation (a bijection for every n, seeded, no table). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "mix/mix.h"

/* Random counts: a mix of empty, tiny, mid and large sources, sometimes one dominant. */
static size_t rand_counts(hb_rng *r, uint64_t *c, size_t max_n, uint64_t max_total) {
    size_t n = 1 + (size_t)hb_rng_below(r, max_n);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        switch (hb_rng_below(r, 5)) {
        case 0: c[i] = hb_rng_below(r, 3); break;
        case 1: c[i] = hb_rng_below(r, 40); break;
        case 2: c[i] = hb_rng_below(r, 400); break;
        default: c[i] = hb_rng_below(r, max_total / n + 1);
        }
        total += c[i];
    }
    if (total == 0) c[0] = 1;
    return n;
}

static uint32_t *run(size_t n, const uint64_t *c, hb_mix_balance bal, uint64_t B, uint64_t *N) {
    *N = 0;
    for (size_t i = 0; i < n; i++) *N += c[i];
    hb_mix_sched *s;
    hb_err e;
    cr_assert_eq(hb_mix_sched_new(&s, n, c, bal, B, &e), 0, "%s", e.reason);
    uint32_t *o = malloc(*N * sizeof *o);
    /* in uneven pieces: the stream must not depend on how it is asked for */
    for (uint64_t at = 0; at < *N;) {
        uint64_t m = 1 + (at * 7919) % 977;
        if (m > *N - at) m = *N - at;
        cr_assert_eq(hb_mix_sched_next(s, o + at, m, &e), 0, "n=%zu N=%llu: %s", n, (unsigned long long)*N, e.reason);
        at += m;
    }
    cr_assert_eq(hb_mix_sched_next(s, o, 1, &e), HB_ERANGE);
    hb_mix_sched_free(s);
    return o;
}

Test(mix_sched, prefix_within_one_and_exact_totals) {
    hb_rng r = hb_rng_make(11, 0);
    uint64_t c[24], cnt[24];
    for (int it = 0; it < 3000; it++) {
        size_t n = rand_counts(&r, c, 24, 6000);
        uint64_t N;
        uint32_t *o = run(n, c, HB_MIX_BALANCE_PREFIX, 0, &N);
        memset(cnt, 0, sizeof cnt);
        for (uint64_t t = 1; t <= N; t++) {
            cr_assert_lt(o[t - 1], n);
            cnt[o[t - 1]]++;
            for (size_t i = 0; i < n; i++) { /* |c_i(t) - t n_i / N| < 1, in integers */
                __int128 d = (__int128)cnt[i] * N - (__int128)t * c[i];
                cr_assert(d < (__int128)N && -d < (__int128)N, "source %zu at t=%llu (it %d)", i, (unsigned long long)t, it);
            }
        }
        for (size_t i = 0; i < n; i++) cr_assert_eq(cnt[i], c[i]);
        free(o);
    }
}

Test(mix_sched, large_counts_use_wide_arithmetic) {
    /* N above 2^32 cannot be streamed in a unit test, but the windows are computed with k*N products above 2^64 */
    uint64_t c[3] = {5000000000ULL, 3000000000ULL, 7};
    hb_mix_sched *s;
    hb_err e;
    cr_assert_eq(hb_mix_sched_new(&s, 3, c, HB_MIX_BALANCE_PREFIX, 0, &e), 0);
    uint32_t o[20000];
    cr_assert_eq(hb_mix_sched_next(s, o, 20000, &e), 0, "%s", e.reason);
    uint64_t cnt[3] = {0, 0, 0}, N = c[0] + c[1] + c[2];
    for (uint64_t t = 1; t <= 20000; t++) {
        cnt[o[t - 1]]++;
        for (int i = 0; i < 3; i++) {
            __int128 d = (__int128)cnt[i] * N - (__int128)t * c[i];
            cr_assert(d < (__int128)N && -d < (__int128)N);
        }
    }
    hb_mix_sched_free(s);
}

Test(mix_sched, batch_mode_floor_ceil_per_batch) {
    hb_rng r = hb_rng_make(12, 0);
    uint64_t c[24], cnt[24], in_b[24];
    double worst = 0;
    for (int it = 0; it < 2000; it++) {
        size_t n = rand_counts(&r, c, 24, 5000);
        uint64_t N0 = 0;
        for (size_t i = 0; i < n; i++) N0 += c[i];
        uint64_t B = 1 + hb_rng_below(&r, it % 3 ? 64 : 600);
        if (it % 2 && N0 % B) c[0] += B - N0 % B; /* half the cases: the total is a multiple of the batch */
        uint64_t N;
        uint32_t *o = run(n, c, HB_MIX_BALANCE_BATCH, B, &N);
        uint64_t G = N / B;
        int divisible = N % B == 0;
        memset(cnt, 0, sizeof cnt);
        memset(in_b, 0, sizeof in_b);
        for (uint64_t t = 1; t <= N; t++) {
            cnt[o[t - 1]]++;
            in_b[o[t - 1]]++;
            for (size_t i = 0; i < n; i++) {
                double d = (double)cnt[i] - (double)t * (double)c[i] / (double)N;
                if (d < 0) d = -d;
                if (d > worst) worst = d;
                cr_assert_lt(d, divisible ? 2.0 : 3.0, "prefix bound, source %zu t=%llu", i, (unsigned long long)t);
            }
            if (t % B == 0 && t <= G * B) {
                for (size_t i = 0; i < n; i++) {
                    __int128 share = (__int128)B * c[i], have = (__int128)in_b[i] * N;
                    if (divisible) /* floor or ceil of B n_i / N exactly */
                        cr_assert(have > share - (__int128)N && have < share + (__int128)N, "batch %llu source %zu",
                                  (unsigned long long)(t / B), i);
                    else /* shares of the full batches: within 1 + 1/G of B n_i / N */
                        cr_assert((double)(have > share ? have - share : share - have) / (double)N < 1 + 1.0 / (double)G);
                    in_b[i] = 0;
                }
            }
        }
        for (size_t i = 0; i < n; i++) cr_assert_eq(cnt[i], c[i]);
        free(o);
    }
    cr_log_info("batch mode: worst prefix deviation %.3f", worst);
}

Test(mix_sched, bad_arguments) {
    hb_mix_sched *s;
    hb_err e;
    uint64_t c[2] = {3, 4};
    cr_assert_eq(hb_mix_sched_new(&s, 0, c, HB_MIX_BALANCE_PREFIX, 0, &e), HB_EINVAL);
    cr_assert_eq(hb_mix_sched_new(&s, 2, c, HB_MIX_BALANCE_BATCH, 0, &e), HB_EINVAL);
    cr_assert_eq(hb_mix_sched_new(&s, 2, c, HB_MIX_BALANCE_PREFIX, 0, &e), 0);
    uint32_t o[8];
    cr_assert_eq(hb_mix_sched_next(s, o, 8, &e), HB_ERANGE);
    cr_assert_eq(hb_mix_sched_next(s, o, 7, &e), 0);
    hb_mix_sched_free(s);
}

static void check_bijection(const hb_perm *p) {
    uint64_t n = p->n;
    uint8_t *seen = calloc(n + 1, 1);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = hb_perm_at(p, i);
        cr_assert_lt(v, n);
        cr_assert_eq(seen[v], 0, "n=%llu: value %llu twice", (unsigned long long)n, (unsigned long long)v);
        seen[v] = 1;
    }
    free(seen);
}

Test(mix_perm, bijection_for_every_small_n_and_some_large) {
    for (uint64_t n = 0; n <= 700; n++) {
        hb_perm p;
        hb_perm_for(&p, n, 42, "vqav2", n % 5);
        check_bijection(&p);
    }
    uint64_t big[] = {1 << 16, (1 << 16) + 1, 99991, 262143, 1000003};
    for (size_t k = 0; k < sizeof big / sizeof *big; k++) {
        hb_perm p;
        hb_perm_for(&p, big[k], 7, "coyo", k);
        check_bijection(&p);
    }
}

Test(mix_perm, seeded_and_distinct_per_pass_source_and_seed) {
    hb_perm a, b, c, d, e;
    hb_perm_for(&a, 1000, 1, "gqa", 0);
    hb_perm_for(&b, 1000, 1, "gqa", 0);
    hb_perm_for(&c, 1000, 1, "gqa", 1);
    hb_perm_for(&d, 1000, 2, "gqa", 0);
    hb_perm_for(&e, 1000, 1, "vqav2", 0);
    int same_b = 0, same_c = 0, same_d = 0, same_e = 0, fixed = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t v = hb_perm_at(&a, i);
        same_b += v == hb_perm_at(&b, i);
        same_c += v == hb_perm_at(&c, i);
        same_d += v == hb_perm_at(&d, i);
        same_e += v == hb_perm_at(&e, i);
        fixed += v == i;
    }
    cr_assert_eq(same_b, 1000);
    /* independent permutations agree in about 1 place of n */
    cr_assert_lt(same_c, 10);
    cr_assert_lt(same_d, 10);
    cr_assert_lt(same_e, 10);
    cr_assert_lt(fixed, 10);
    /* hb_perm_for is hb_perm_for_key over hb_perm_source_key */
    hb_perm f;
    hb_perm_for_key(&f, 1000, hb_perm_source_key(1, "gqa"), 1);
    for (uint64_t i = 0; i < 1000; i++) cr_assert_eq(hb_perm_at(&f, i), hb_perm_at(&c, i));
}

Test(mix_perm, first_position_spreads_evenly_over_passes) {
    /* where position 0 lands, over 20000 passes, in 10 buckets of a 1000-element source: 2000 each expected */
    uint64_t bucket[10] = {0}, key = hb_perm_source_key(3, "ocrvqa");
    for (uint64_t pass = 0; pass < 20000; pass++) {
        hb_perm p;
        hb_perm_for_key(&p, 1000, key, pass);
        bucket[hb_perm_at(&p, 0) / 100]++;
    }
    for (int b = 0; b < 10; b++) cr_assert(bucket[b] > 1700 && bucket[b] < 2300, "bucket %d: %llu", b, (unsigned long long)bucket[b]);
}
