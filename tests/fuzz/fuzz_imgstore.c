/* Fuzz the image store reader (lib/shard/imgstore.c): the hash index <S>.hbi, the hb.image/1 records of <S>.hbs
 * (pixel payload decompression and checksum) and their agreement, through open, lookups, reads and verify.
 * Input: u32 LE length L, then L bytes of <S>.hbs, then the bytes of <S>.hbi (S is taken from the index header
 * when it is in 1..256). An input that fails is retried with every hash recomputed and the index pointed at the
 * store's checksum, so the record decoder behind the checks is fuzzed too.
 * Seeds: tests/fuzz/corpus/imgstore (stores written by hb-prep from the example images at small sizes). */
#include "fuzz.h"
#include "shard/imgstore.h"

static int run(const uint8_t *hbs, size_t ns, const uint8_t *hbi, size_t ni) {
    uint32_t S = ni >= 16 ? hb_le32(hbi + 12) : 8;
    if (S < 1 || S > 256) S = 8;
    char *dir = hb_path_join(fz_dir(), "st"), *sub = hb_path_join(dir, "images");
    hb_mkdir_p(sub, NULL);
    char name[32];
    snprintf(name, sizeof name, "images/%u.hbs", S);
    char *p1 = hb_path_join(dir, name);
    snprintf(name, sizeof name, "images/%u.hbi", S);
    char *p2 = hb_path_join(dir, name);
    FILE *f = fopen(p1, "wb");
    if (ns) fwrite(hbs, 1, ns, f);
    fclose(f);
    f = fopen(p2, "wb");
    if (ni) fwrite(hbi, 1, ni, f);
    fclose(f);
    hb_err e;
    hb_err_clear(&e);
    hb_imgstore *s;
    int rc = hb_imgstore_open(&s, dir, S, &e), first = rc;
    if (rc) {
        fz_check_err(rc, &e);
    } else {
        uint8_t *px = malloc((size_t)S * S * 3);
        uint64_t n = hb_imgstore_count(s);
        for (uint64_t k = 0; k < n && k < 16; k++) {
            hb_image_meta m;
            hb_err_clear(&e);
            rc = hb_imgstore_get_at(s, k, px, &m, &e);
            if (rc) {
                fz_check_err(rc, &e);
                if (!first) first = rc;
                continue;
            }
            FZ_ASSERT(m.size == S, "record %llu has size %u in a store of %u", (unsigned long long)k, m.size, S);
            uint64_t kk;
            FZ_ASSERT(hb_imgstore_find(s, m.hash, &kk) == 0 && kk == k, "record %llu not found by its hash",
                      (unsigned long long)k);
            hb_err_clear(&e);
            rc = hb_imgstore_get(s, m.hash, px, NULL, &e);
            FZ_ASSERT(rc == 0, "get by hash: %s", e.reason);
        }
        hb_hash128 h = {1, 2};
        uint64_t k;
        hb_imgstore_find(s, h, &k);
        free(px);
        hb_imgstore_close(s);
        hb_err_clear(&e);
        rc = hb_imgstore_verify(dir, S, &e);
        if (rc) fz_check_err(rc, &e);
        if (!first) first = rc;
    }
    remove(p1);
    remove(p2);
    free(p1), free(p2), free(sub), free(dir);
    return first;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t L = hb_le32(data);
    if (L > size - 4) L = size - 4;
    const uint8_t *hbs = data + 4, *hbi = data + 4 + L;
    size_t ni = size - 4 - L;
    if (run(hbs, L, hbi, ni) == 0) return 0;
    uint8_t *s2 = malloc(L + 1), *i2 = malloc(ni + 1);
    memcpy(s2, hbs, L);
    memcpy(i2, hbi, ni);
    fz_fix_shard(s2, L);
    if (ni >= 32 && L >= 48) memcpy(i2 + 24, s2 + L - 16, 8); /* the store checksum the index names */
    fz_fix_tail16(i2, ni);
    run(s2, L, i2, ni);
    free(s2), free(i2);
    return 0;
}
