/* lib/shard/imgstore: records, the writer (dedup, order- and thread-independent output), lookups by hash, the
 * thread-safe reader, verification and every kind of damage to the store or its index. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "shard/imgstore.h"

#define S 24
#define N 40

static void make_pixels(uint64_t k, uint8_t *px) {
    hb_rng r = hb_rng_make(7, k);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int c = 0; c < 3; c++) /* smooth plus noise, like a resized photo */
                px[(y * S + x) * 3 + c] = (uint8_t)(x * 5 + y * 3 + c * 40 + (int)k * 11 + (int)hb_rng_below(&r, 9));
}

static hb_hash128 hash_of(uint64_t k) { return hb_hash128_of(&k, sizeof k); }

static void add_image(hb_imgstore_writer *w, uint64_t k, const char *origin) {
    uint8_t px[S * S * 3];
    make_pixels(k, px);
    hb_image_rec r = {hash_of(k), 100 + (uint32_t)k, 50 + (uint32_t)k, (uint8_t)(1 + k % 4), S, origin, px};
    hb_err e;
    cr_assert_eq(hb_imgstore_writer_add(w, &r, &e), 0, "%s", e.reason);
}

/* Writes images 0..N-1 (each twice, under two origins) in the order given by perm. */
static void write_store(const char *dir, const uint32_t *perm, hb_imgstore_info *info) {
    hb_imgstore_writer *w;
    hb_err e;
    cr_assert_eq(hb_imgstore_writer_open(&w, dir, S, &e), 0, "%s", e.reason);
    for (int i = 0; i < N; i++) {
        char o1[64], o2[64];
        snprintf(o1, sizeof o1, "root-b//img%u.jpg", perm[i]);
        snprintf(o2, sizeof o2, "root-a//img%u.jpg", perm[i]);
        add_image(w, perm[i], i % 2 ? o1 : o2);
    }
    for (int i = N - 1; i >= 0; i--) {
        char o1[64], o2[64];
        snprintf(o1, sizeof o1, "root-b//img%u.jpg", perm[i]);
        snprintf(o2, sizeof o2, "root-a//img%u.jpg", perm[i]);
        add_image(w, perm[i], i % 2 ? o2 : o1);
    }
    cr_assert_eq(hb_imgstore_writer_close(w, info, &e), 0, "%s", e.reason);
}

static char *store_dir(void) { return tu_mkdtemp(); }

Test(imgstore, round_trip_dedup_and_lookup) {
    char *dir = store_dir();
    uint32_t perm[N];
    for (int i = 0; i < N; i++) perm[i] = (uint32_t)i;
    hb_imgstore_info info;
    write_store(dir, perm, &info);
    cr_assert_eq(info.images, N);
    cr_assert_eq(info.duplicates, N);
    hb_imgstore *s;
    hb_err e;
    cr_assert_eq(hb_imgstore_open(&s, dir, 0, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_imgstore_count(s), N);
    cr_assert_eq(hb_imgstore_size(s), S);
    uint8_t px[S * S * 3], want[S * S * 3];
    for (uint64_t k = 0; k < N; k++) {
        hb_image_meta m;
        cr_assert_eq(hb_imgstore_get(s, hash_of(k), px, &m, &e), 0, "%s", e.reason);
        make_pixels(k, want);
        cr_assert_arr_eq(px, want, sizeof px);
        cr_assert_eq(m.width, 100 + k);
        cr_assert_eq(m.height, 50 + k);
        cr_assert_eq(m.format, 1 + k % 4);
        char o[64];
        snprintf(o, sizeof o, "root-a//img%u.jpg", (unsigned)k); /* the smaller origin */
        cr_assert_str_eq(m.origin, o);
    }
    /* records are in ascending hash order */
    hb_image_meta prev, cur;
    for (uint64_t k = 0; k < N; k++) {
        cr_assert_eq(hb_imgstore_get_at(s, k, NULL, &cur, &e), 0);
        if (k) cr_assert(prev.hash.hi < cur.hash.hi || (prev.hash.hi == cur.hash.hi && prev.hash.lo < cur.hash.lo));
        uint64_t kk;
        cr_assert_eq(hb_imgstore_find(s, cur.hash, &kk), 0);
        cr_assert_eq(kk, k);
        prev = cur;
    }
    cr_assert_eq(hb_imgstore_get(s, hash_of(N + 5), px, NULL, &e), HB_ENOTFOUND);
    cr_assert_eq(hb_imgstore_get_at(s, N, px, NULL, &e), HB_ERANGE);
    hb_imgstore_close(s);
    cr_assert_eq(hb_imgstore_verify(dir, S, &e), 0, "%s", e.reason);
    /* no spill file is left behind */
    char *out;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s/images'", dir);
    tu_run(cmd, &out);
    cr_assert_str_eq(out, "24.hbi\n24.hbs\n");
    free(out);
    tu_rmtree(dir);
    free(dir);
}

typedef struct {
    hb_imgstore_writer *w;
    const uint32_t *perm;
    int from, to;
} add_arg;

static void *adder(void *p) {
    add_arg *a = p;
    for (int i = a->from; i < a->to; i++) {
        char o[64];
        snprintf(o, sizeof o, "t//%u", a->perm[i % N]);
        add_image(a->w, a->perm[i % N], o);
    }
    return NULL;
}

Test(imgstore, output_is_byte_identical_for_any_order_and_thread_count, .timeout = 60) {
    char *d1 = store_dir(), *d2 = store_dir(), *d3 = store_dir();
    uint32_t perm[N], rev[N];
    for (int i = 0; i < N; i++) perm[i] = (uint32_t)i, rev[i] = (uint32_t)(N - 1 - i);
    hb_imgstore_info i1, i2;
    write_store(d1, perm, &i1);
    write_store(d2, rev, &i2);
    cr_assert_eq(i1.xxh3, i2.xxh3);
    /* four threads adding overlapping ranges */
    hb_imgstore_writer *w;
    cr_assert_eq(hb_imgstore_writer_open(&w, d3, S, NULL), 0);
    pthread_t th[4];
    add_arg a[4];
    for (int t = 0; t < 4; t++) {
        a[t] = (add_arg){w, t % 2 ? rev : perm, t * 15, t * 15 + 40};
        pthread_create(&th[t], NULL, adder, &a[t]);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    hb_imgstore_info i3;
    cr_assert_eq(hb_imgstore_writer_close(w, &i3, NULL), 0);
    cr_assert_eq(i3.images, N);
    cr_assert_eq(i3.duplicates, 160 - N);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cmp '%s/images/24.hbs' '%s/images/24.hbs' && cmp '%s/images/24.hbi' '%s/images/24.hbi'", d1, d2,
             d1, d2);
    cr_assert_eq(tu_run(cmd, NULL), 0, "stores written in different orders differ");
    /* same images, other origins: a different store, but a threaded run is reproducible */
    char *d4 = store_dir();
    cr_assert_eq(hb_imgstore_writer_open(&w, d4, S, NULL), 0);
    for (int t = 0; t < 4; t++) {
        a[t] = (add_arg){w, t % 2 ? perm : rev, t * 15, t * 15 + 40};
        pthread_create(&th[t], NULL, adder, &a[t]);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    cr_assert_eq(hb_imgstore_writer_close(w, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "cmp '%s/images/24.hbs' '%s/images/24.hbs'", d3, d4);
    cr_assert_eq(tu_run(cmd, NULL), 0, "threaded stores differ between runs");
    const char *ds[] = {d1, d2, d3, d4};
    for (int i = 0; i < 4; i++) tu_rmtree(ds[i]);
    free(d1), free(d2), free(d3), free(d4);
}

typedef struct {
    hb_imgstore *s;
    int bad;
} get_arg;

static void *getter(void *p) {
    get_arg *g = p;
    uint8_t px[S * S * 3], want[S * S * 3];
    for (int it = 0; it < 200; it++) {
        uint64_t k = (uint64_t)(it * 7 % N);
        if (hb_imgstore_get(g->s, hash_of(k), px, NULL, NULL)) __atomic_add_fetch(&g->bad, 1, __ATOMIC_RELAXED);
        make_pixels(k, want);
        if (memcmp(px, want, sizeof px)) __atomic_add_fetch(&g->bad, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

Test(imgstore, reader_is_thread_safe, .timeout = 60) {
    char *dir = store_dir();
    uint32_t perm[N];
    for (int i = 0; i < N; i++) perm[i] = (uint32_t)i;
    write_store(dir, perm, NULL);
    get_arg g = {0};
    cr_assert_eq(hb_imgstore_open(&g.s, dir, S, NULL), 0);
    pthread_t th[6];
    for (int t = 0; t < 6; t++) pthread_create(&th[t], NULL, getter, &g);
    for (int t = 0; t < 6; t++) pthread_join(th[t], NULL);
    cr_assert_eq(g.bad, 0);
    hb_imgstore_close(g.s);
    tu_rmtree(dir);
    free(dir);
}

static void flip(const char *path, size_t at) {
    size_t n;
    uint8_t *d = tu_read(path, &n);
    cr_assert(d && at < n);
    d[at] ^= 0x20;
    tu_write(path, d, n);
    free(d);
}

Test(imgstore, damage_to_store_or_index_is_detected, .timeout = 60) {
    char *dir = store_dir();
    uint32_t perm[N];
    for (int i = 0; i < N; i++) perm[i] = (uint32_t)i;
    write_store(dir, perm, NULL);
    char *hbs = hb_imgstore_path(dir, S), *hbi = hb_imgstore_index_path(dir, S);
    size_t sn, in;
    uint8_t *sd = tu_read(hbs, &sn), *id = tu_read(hbi, &in);
    hb_err e;
    hb_imgstore *s;
    /* every byte of the index, flipped: open (or verify) fails */
    for (size_t at = 0; at < in; at += 3) {
        flip(hbi, at);
        int code = hb_imgstore_open(&s, dir, S, &e);
        if (!code) {
            hb_imgstore_close(s);
            cr_assert_fail("index byte %zu flipped and the store still opens", at);
        }
        tu_write(hbi, id, in);
    }
    /* truncated index */
    tu_write(hbi, id, in - 1);
    cr_assert_neq(hb_imgstore_open(&s, dir, S, &e), 0);
    cr_assert(strstr(e.file, "24.hbi"), "%s", e.file);
    tu_write(hbi, id, in);
    /* bytes of the store, flipped: verify fails, naming the store */
    for (size_t at = 0; at < sn; at += sn / 97 + 1) {
        flip(hbs, at);
        cr_assert_neq(hb_imgstore_verify(dir, S, &e), 0, "store byte %zu flipped and verify passed", at);
        tu_write(hbs, sd, sn);
    }
    cr_assert_eq(hb_imgstore_verify(dir, S, &e), 0, "%s", e.reason);
    /* an index from another store */
    char *other = store_dir();
    uint32_t half[N];
    for (int i = 0; i < N; i++) half[i] = (uint32_t)(i / 2);
    write_store(other, half, NULL);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s/images/24.hbi' '%s'", other, hbi);
    cr_assert_eq(tu_run(cmd, NULL), 0);
    cr_assert_neq(hb_imgstore_open(&s, dir, S, &e), 0);
    cr_assert(strstr(e.reason, "does not belong") || strstr(e.reason, "count"), "%s", e.reason);
    /* no store at all; several stores */
    char *empty = store_dir();
    cr_assert_eq(hb_imgstore_open(&s, empty, 0, &e), HB_ENOTFOUND);
    hb_imgstore_writer *w;
    cr_assert_eq(hb_imgstore_writer_open(&w, other, 32, NULL), 0);
    cr_assert_eq(hb_imgstore_writer_close(w, NULL, NULL), 0);
    uint32_t sizes[4];
    cr_assert_eq(hb_imgstore_sizes(other, sizes, 4), 2);
    cr_assert_eq(sizes[0], 24);
    cr_assert_eq(sizes[1], 32);
    cr_assert_eq(hb_imgstore_open(&s, other, 0, &e), HB_EINVAL);
    cr_assert(strstr(e.reason, "24, 32"), "%s", e.reason);
    cr_assert_eq(hb_imgstore_open(&s, other, 32, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_imgstore_count(s), 0);
    hb_imgstore_close(s);
    free(sd), free(id), free(hbs), free(hbi);
    tu_rmtree(dir), tu_rmtree(other), tu_rmtree(empty);
    free(dir), free(other), free(empty);
}

Test(imgstore, malformed_records_are_rejected) {
    uint8_t px[S * S * 3], out[S * S * 3];
    make_pixels(3, px);
    hb_image_rec r = {hash_of(3), 640, 480, 1, S, "root//a.jpg", px}, d;
    hb_buf b = {0};
    hb_image_rec_encode(&r, &b);
    char origin[64];
    hb_err e;
    cr_assert_eq(hb_image_rec_decode(b.data, b.len, &d, out, origin, sizeof origin, &e), 0, "%s", e.reason);
    cr_assert_arr_eq(out, px, sizeof px);
    cr_assert_str_eq(origin, "root//a.jpg");
    /* every truncation fails; a flipped byte fails or (a bit the zstd stream does not use, the origin text, the
     * metadata fields) still yields the same pixels: never different pixels */
    for (size_t n = 0; n < b.len; n++) cr_assert_neq(hb_image_rec_decode(b.data, n, &d, out, origin, sizeof origin, NULL), 0, "cut at %zu", n);
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 0x01;
        int code = hb_image_rec_decode(b.data, b.len, &d, out, origin, sizeof origin, NULL);
        int in_text = i >= 46 && i < 46 + strlen("root//a.jpg");
        int in_meta = i >= 4 && i < 28; /* hash, width, height: any value is well-formed */
        if (!in_text && !in_meta && code == 0)
            cr_assert_arr_eq(out, px, sizeof px, "byte %zu flipped and the record decodes to other pixels", i);
        b.data[i] ^= 0x01;
    }
    /* trailing bytes */
    hb_buf_put_u8(&b, 0);
    cr_assert_neq(hb_image_rec_decode(b.data, b.len, &d, out, origin, sizeof origin, NULL), 0);
    b.len--;
    /* Found by fuzzing (fuzz_shard): a record claiming S = 16384 over a tiny payload passed the decode without pixels,
     * and hb-inspect verify then allocated 805 MB (1 GiB) for it. The payload must be able to hold S*S*3 bytes. */
    uint32_t big = 16384;
    memcpy(b.data + 32, &big, 4); /* size */
    cr_assert_eq(hb_image_rec_decode(b.data, b.len, &d, NULL, origin, sizeof origin, &e), HB_EFORMAT, "size claim accepted");
    cr_assert(strstr(e.reason, "S*S*3"), "%s", e.reason);
    uint32_t s = S;
    memcpy(b.data + 32, &s, 4);
    b.data[30] = HB_IMGENC_RAW; /* a raw payload of the compressed size */
    cr_assert_eq(hb_image_rec_decode(b.data, b.len, &d, NULL, origin, sizeof origin, &e), HB_EFORMAT, "raw size accepted");
    cr_assert(strstr(e.reason, "raw payload of the wrong size"), "%s", e.reason);
    hb_buf_free(&b);
}

/* A store of S+1 pixel images whose files are renamed and whose index is relabelled as size S: the records say S+1.
 * Reading one into a buffer of S*S*3 bytes wrote (S+1)^2*3 (a heap overflow, the pixel checksum was checked after the
 * copy); the size must be refused before any pixel is written. Found while writing fuzz_imgstore (by reading the
 * code; the fuzzer had not reached it). */
Test(imgstore, record_of_another_size_never_overflows_the_buffer) {
    char *dir = store_dir();
    enum { S1 = S + 1 };
    static uint8_t px[S1 * S1 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 7);
    hb_imgstore_writer *w;
    hb_err e;
    cr_assert_eq(hb_imgstore_writer_open(&w, dir, S1, &e), 0, "%s", e.reason);
    hb_image_rec r = {hash_of(1), 10, 10, 1, S1, "r//a.jpg", px};
    cr_assert_eq(hb_imgstore_writer_add(w, &r, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_imgstore_writer_close(w, NULL, &e), 0, "%s", e.reason);
    char *hbs1 = hb_imgstore_path(dir, S1), *hbi1 = hb_imgstore_index_path(dir, S1);
    char *hbs = hb_imgstore_path(dir, S), *hbi = hb_imgstore_index_path(dir, S);
    cr_assert_eq(rename(hbs1, hbs), 0);
    size_t n;
    uint8_t *ix = tu_read(hbi1, &n);
    uint32_t s32 = S;
    memcpy(ix + 12, &s32, 4);
    uint64_t h = hb_hash64(ix, n - HB_IMGINDEX_TRAILER, 0);
    memcpy(ix + n - HB_IMGINDEX_TRAILER, &h, 8);
    cr_assert_eq(tu_write(hbi, ix, n), 0);
    remove(hbi1);
    hb_imgstore *s;
    cr_assert_eq(hb_imgstore_open(&s, dir, S, &e), 0, "%s", e.reason);
    uint8_t *buf = malloc(S1 * S1 * 3); /* room for the overflow, so that it shows as changed bytes past S*S*3 */
    memset(buf, 0xA5, S1 * S1 * 3);
    hb_image_meta m;
    cr_assert_eq(hb_imgstore_get_at(s, 0, buf, &m, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "size"), "%s", e.reason);
    for (size_t i = S * S * 3; i < S1 * S1 * 3; i++) cr_assert_eq(buf[i], 0xA5, "byte %zu past the S*S*3 buffer written", i);
    hb_imgstore_close(s);
    cr_assert_eq(hb_imgstore_verify(dir, S, &e), HB_EFORMAT);
    free(buf), free(ix), free(hbs1), free(hbi1), free(hbs), free(hbi);
    tu_rmtree(dir);
    free(dir);
}

/* Images [from, to), each added under origin "part//img<k>". */
static void write_range(const char *dir, int from, int to) {
    hb_imgstore_writer *w;
    cr_assert_eq(hb_imgstore_writer_open(&w, dir, S, NULL), 0);
    for (int k = from; k < to; k++) {
        char o[64];
        snprintf(o, sizeof o, "%s//img%d.jpg", k % 2 ? "b" : "a", k);
        add_image(w, (uint64_t)k, o);
    }
    cr_assert_eq(hb_imgstore_writer_close(w, NULL, NULL), 0);
}

Test(imgstore, merge_equals_one_store_of_everything_in_any_order, .timeout = 60) {
    char *a = store_dir(), *b = store_dir(), *c = store_dir(), *all = store_dir(), *m1 = store_dir(), *m2 = store_dir();
    write_range(a, 0, 20);
    write_range(b, 12, 33);
    write_range(c, 30, N);
    write_range(all, 0, N);
    const char *abc[] = {a, b, c}, *cba[] = {c, b, a};
    hb_imgstore_info i1, i2;
    hb_err e;
    cr_assert_eq(hb_imgstore_merge(m1, S, abc, 3, &i1, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_imgstore_merge(m2, S, cba, 3, &i2, &e), 0, "%s", e.reason);
    cr_assert_eq(i1.images, N);
    cr_assert_eq(i1.duplicates, 8 + 3);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cmp '%s/images/24.hbs' '%s/images/24.hbs' && cmp '%s/images/24.hbs' '%s/images/24.hbs' && "
                              "cmp '%s/images/24.hbi' '%s/images/24.hbi'", m1, m2, m1, all, m1, all);
    cr_assert_eq(tu_run(cmd, NULL), 0, "merged stores differ from each other or from one store of everything");
    cr_assert_eq(hb_imgstore_verify(m1, S, &e), 0, "%s", e.reason);
    /* merging into one of the inputs replaces it */
    const char *ab[] = {a, b};
    cr_assert_eq(hb_imgstore_merge(a, S, ab, 2, &i1, &e), 0, "%s", e.reason);
    cr_assert_eq(i1.images, 33);
    cr_assert_eq(hb_imgstore_verify(a, S, &e), 0, "%s", e.reason);
    /* a missing input is an error naming it; nothing is written */
    char *none = store_dir();
    const char *bad[] = {b, none};
    char *m3 = store_dir();
    cr_assert_neq(hb_imgstore_merge(m3, S, bad, 2, NULL, &e), 0);
    cr_assert(strstr(e.file, none) || strstr(e.reason, "no image store"), "%s / %s", e.file, e.reason);
    uint32_t sizes[2];
    cr_assert_eq(hb_imgstore_sizes(m3, sizes, 2), 0);
    const char *ds[] = {a, b, c, all, m1, m2, none, m3};
    for (int i = 0; i < 8; i++) tu_rmtree(ds[i]);
    free(a), free(b), free(c), free(all), free(m1), free(m2), free(none), free(m3);
}

Test(imgstore, hb_inspect_verify_checks_stores_in_a_directory_and_image_shards) {
    char *dir = store_dir();
    uint32_t perm[N];
    for (int i = 0; i < N; i++) perm[i] = (uint32_t)i;
    write_store(dir, perm, NULL);
    hb_err e;
    char *hbs = hb_imgstore_path(dir, S);
    /* a directory with no sample shards but an image store: verify covers the store and its index */
    hb_sample_writer w;
    char *shard = hb_path_join(dir, "x.hbs");
    cr_assert_eq(hb_sample_writer_open(&w, shard, NULL, NULL), 0);
    cr_assert_eq(hb_sample_writer_close(&w, NULL, NULL), 0);
    cr_assert_eq(hb_inspect_verify(dir, NULL, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_inspect_verify(hbs, NULL, &e), 0, "%s", e.reason);
    size_t n;
    uint8_t *d = tu_read(hbs, &n);
    flip(hbs, n / 2);
    cr_assert_neq(hb_inspect_verify(dir, NULL, &e), 0, "a damaged store in the directory must fail verify");
    cr_assert_neq(hb_inspect_verify(hbs, NULL, &e), 0, "a damaged image shard must fail verify");
    tu_write(hbs, d, n);
    free(d);
    free(shard);
    free(hbs);
    tu_rmtree(dir);
    free(dir);
}
