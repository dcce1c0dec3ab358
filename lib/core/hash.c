/* XXH3 hashing and the seeded counter-based RNG.
 * Dependencies: core.h, <xxhash.h> (XXH3_64bits_withSeed, XXH3_128bits, XXH3_state_t). */
#include "core.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

uint64_t hb_hash64(const void *p, size_t n, uint64_t seed) { return XXH3_64bits_withSeed(p, n, seed); }

uint64_t hb_hash_str(const char *s, uint64_t seed) { return XXH3_64bits_withSeed(s, strlen(s), seed); }

hb_hash128 hb_hash128_of(const void *p, size_t n) {
    XXH128_hash_t h = XXH3_128bits(p, n);
    return (hb_hash128){h.low64, h.high64};
}

void hb_hash128_hex(hb_hash128 h, char *out) {
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.hi, (unsigned long long)h.lo);
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int hb_hash128_parse(const char *hex, hb_hash128 *out) {
    uint64_t v[2] = {0, 0};
    for (int i = 0; i < 32; i++) {
        int d = hexval((unsigned char)hex[i]);
        if (d < 0) return HB_EFORMAT;
        v[i / 16] = v[i / 16] << 4 | (uint64_t)d;
    }
    if (hex[32]) return HB_EFORMAT;
    out->hi = v[0];
    out->lo = v[1];
    return 0;
}

int hb_hash128_eq(hb_hash128 a, hb_hash128 b) { return a.lo == b.lo && a.hi == b.hi; }

void hb_hash64_hex(uint64_t h, char *out) { snprintf(out, 17, "%016llx", (unsigned long long)h); }

struct hb_hasher {
    XXH3_state_t *st;
};

hb_hasher *hb_hasher_new(uint64_t seed) {
    hb_hasher *h = hb_xmalloc(sizeof *h);
    h->st = XXH3_createState();
    if (!h->st) abort();
    XXH3_64bits_reset_withSeed(h->st, seed);
    return h;
}

void hb_hasher_update(hb_hasher *h, const void *p, size_t n) { XXH3_64bits_update(h->st, p, n); }
uint64_t hb_hasher_digest(const hb_hasher *h) { return XXH3_64bits_digest(h->st); }

void hb_hasher_free(hb_hasher *h) {
    if (!h) return;
    XXH3_freeState(h->st);
    free(h);
}

/* ---- RNG: output = mix(mix(seed ^ mix(key)) + ctr * golden) ----
 * Composing SplitMix64's finaliser (hb_mix64, core.h) over (seed, key, ctr) gives independent-looking streams per
 * key with no state beyond the counter. */
hb_rng hb_rng_make(uint64_t seed, uint64_t key) {
    hb_rng r = {hb_mix64(seed ^ hb_mix64(key + 0x9e3779b97f4a7c15ULL)), key, 0};
    return r;
}

hb_rng hb_rng_for(uint64_t seed, const char *domain, const char *id) {
    uint64_t k = hb_hash_str(domain, 0);
    k = hb_hash64(id, strlen(id), k);
    return hb_rng_make(seed, k);
}

uint64_t hb_rng_u64(hb_rng *r) {
    r->ctr++;
    return hb_mix64(r->seed + r->ctr * 0x9e3779b97f4a7c15ULL);
}

uint64_t hb_rng_below(hb_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    /* Lemire's multiply-shift with rejection: unbiased. */
    uint64_t x = hb_rng_u64(r);
    unsigned __int128 m = (unsigned __int128)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) {
            x = hb_rng_u64(r);
            m = (unsigned __int128)x * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double hb_rng_uniform(hb_rng *r) { return (double)(hb_rng_u64(r) >> 11) * 0x1.0p-53; }

void hb_rng_shuffle_u32(hb_rng *r, uint32_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)hb_rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
