/* lib/mix/perm — a seeded bijection over [0, n) without a table: a balanced 4-round Feistel network over 2h bits
 * (the smallest even bit width with 2^(2h) >= n) and cycle walking (re-encrypt until the value falls below n).
 * Because 2^(2h) < 4n, a call walks fewer than 4 times on average. docs/mix-plan.md §3 specifies it exactly.
 *
 * Dependencies: mix/mix.h (hb_perm), core/core.h (hb_mix64, hb_rng_for, hb_rng_make, hb_rng_u64). */
#include "mix/mix.h"

void hb_perm_init(hb_perm *p, uint64_t n, const uint64_t keys[4]) {
    p->n = n;
    p->half_bits = 0;
    if (n > 1) {
        uint32_t b = 64 - (uint32_t)__builtin_clzll(n - 1); /* bits of n - 1: values 0..n-1 fit */
        if (b < 2) b = 2;
        if (b & 1) b++;
        p->half_bits = b / 2;
    }
    for (int r = 0; r < 4; r++) p->keys[r] = keys[r];
}

static inline uint64_t feistel(const hb_perm *p, uint64_t x) {
    const uint32_t h = p->half_bits;
    const uint64_t mask = h == 32 ? 0xffffffffULL : (1ULL << h) - 1;
    uint64_t l = x >> h, r = x & mask;
    for (int k = 0; k < 4; k++) {
        uint64_t t = l ^ (hb_mix64(r ^ p->keys[k]) & mask);
        l = r;
        r = t;
    }
    return l << h | r;
}

uint64_t hb_perm_at(const hb_perm *p, uint64_t i) {
    if (p->n <= 1) return 0;
    uint64_t x = feistel(p, i);
    while (x >= p->n) x = feistel(p, x);
    return x;
}

uint64_t hb_perm_source_key(uint64_t seed, const char *source) {
    hb_rng r = hb_rng_for(seed, "hb-mix/permutation", source);
    return hb_rng_u64(&r);
}

void hb_perm_for_key(hb_perm *p, uint64_t n, uint64_t source_key, uint64_t pass) {
    hb_rng r = hb_rng_make(source_key, pass);
    uint64_t keys[4];
    for (int k = 0; k < 4; k++) keys[k] = hb_rng_u64(&r);
    hb_perm_init(p, n, keys);
}

void hb_perm_for(hb_perm *p, uint64_t n, uint64_t seed, const char *source, uint64_t pass) {
    hb_perm_for_key(p, n, hb_perm_source_key(seed, source), pass);
}
