/* lib/shard: round trips of random samples, corruption and truncation detection, killed writers, manifests. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "shard/shard.h"

/* ---- random samples ---- */
static const char *const PIECES[] = {"", "a", "What color is the bus?", "héllo wörld", "日本語のテキスト", "한국어",
                                     "emoji 👩‍👩‍👧 zwj", "tab\tand\nnewline", "\"quoted\" \\ back"};

static char *rand_text(hb_rng *r, hb_arena *a, uint32_t *len) {
    hb_buf b = {0};
    int parts = (int)hb_rng_below(r, 6);
    for (int i = 0; i < parts; i++) hb_buf_puts(&b, PIECES[hb_rng_below(r, sizeof PIECES / sizeof *PIECES)]);
    *len = (uint32_t)b.len;
    char *t = hb_arena_strndup(a, b.data ? (const char *)b.data : "", b.len);
    hb_buf_free(&b);
    return t;
}

static void rand_sample(hb_rng *r, hb_arena *a, uint64_t k, hb_sample *s, int huge) {
    memset(s, 0, sizeof *s);
    s->id = hb_arena_printf(a, "src%d/%llu", (int)(k % 3), (unsigned long long)k);
    s->source = hb_arena_printf(a, "src%d", (int)(k % 3));
    s->source_file = k % 2 ? "raw/a.json" : "ré/b.jsonl";
    s->n_records = (uint32_t)hb_rng_below(r, 4);
    int64_t *rec = hb_arena_alloc(a, 8 * (s->n_records + 1));
    for (uint32_t i = 0; i < s->n_records; i++) rec[i] = (int64_t)hb_rng_below(r, 1ull << 40);
    s->records = rec;
    s->choices = k % 4 ? hb_arena_printf(a, "{\"template\":%d,\"options\":[2,0,1]}", (int)(k % 7)) : "{}";
    s->n_images = (uint32_t)hb_rng_below(r, 4); /* zero, one or several */
    hb_hash128 *im = hb_arena_alloc(a, 16 * (s->n_images + 1));
    for (uint32_t i = 0; i < s->n_images; i++) im[i] = (hb_hash128){hb_rng_u64(r), hb_rng_u64(r)};
    s->images = im;
    s->n_turns = (uint32_t)hb_rng_below(r, 5);
    if (huge && s->n_turns == 0) s->n_turns = 1;
    hb_turn *t = hb_arena_alloc(a, sizeof *t * (s->n_turns + 1));
    for (uint32_t i = 0; i < s->n_turns; i++) {
        t[i].role = (uint8_t)(i == 0 ? HB_ROLE_SYSTEM : 1 + (i + 1) % 2);
        t[i].text = rand_text(r, a, &t[i].len);
    }
    if (huge) {
        size_t n = (16u << 20) + 123; /* over 16 MiB */
        char *big = hb_arena_alloc(a, n + 1);
        for (size_t i = 0; i < n; i++) big[i] = (char)('a' + (i * 7) % 26);
        big[n] = 0;
        t[0].text = big;
        t[0].len = (uint32_t)n;
    }
    s->turns = t;
    s->n_tokens = (uint32_t)hb_rng_below(r, 300);
    int32_t *tok = hb_arena_alloc(a, 4 * (s->n_tokens + 1));
    uint8_t *m = hb_arena_alloc(a, s->n_tokens + 1);
    for (uint32_t i = 0; i < s->n_tokens; i++) {
        tok[i] = hb_rng_below(r, 5) == 0 ? HB_IMAGE_TOKEN : (int32_t)hb_rng_below(r, 32000);
        m[i] = tok[i] != HB_IMAGE_TOKEN && hb_rng_below(r, 2);
    }
    s->tokens = tok;
    s->loss_mask = m;
}

static void assert_same(const hb_sample *a, const hb_sample *b) {
    cr_assert_str_eq(a->id, b->id);
    cr_assert_str_eq(a->source, b->source);
    cr_assert_str_eq(a->source_file, b->source_file);
    cr_assert_eq(a->n_records, b->n_records);
    cr_assert(!a->n_records || !memcmp(a->records, b->records, 8 * a->n_records));
    cr_assert_str_eq(a->choices, b->choices);
    cr_assert_eq(a->n_images, b->n_images);
    for (uint32_t i = 0; i < a->n_images; i++) cr_assert(hb_hash128_eq(a->images[i], b->images[i]));
    cr_assert_eq(a->n_turns, b->n_turns);
    for (uint32_t i = 0; i < a->n_turns; i++) {
        cr_assert_eq(a->turns[i].role, b->turns[i].role);
        cr_assert_eq(a->turns[i].len, b->turns[i].len);
        cr_assert(!memcmp(a->turns[i].text, b->turns[i].text, a->turns[i].len));
    }
    cr_assert_eq(a->n_tokens, b->n_tokens);
    uint32_t sup = 0, img = 0;
    for (uint32_t i = 0; i < a->n_tokens; i++) {
        cr_assert_eq(a->tokens[i], b->tokens[i]);
        cr_assert_eq(!!a->loss_mask[i], b->loss_mask[i]);
        sup += a->loss_mask[i] != 0;
        img += a->tokens[i] == HB_IMAGE_TOKEN;
    }
    cr_assert_eq(b->n_supervised, sup);
    cr_assert_eq(b->n_image_tokens, img);
}

#define N_SAMPLES 400

static char *write_random_shard(const char *dir, const char *name, uint64_t seed, int with_huge, size_t block) {
    char *path = hb_path_join(dir, name);
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_rng r = hb_rng_make(seed, 0);
    hb_sample_writer w;
    hb_shard_opts o = {.block_bytes = block};
    hb_err e;
    cr_assert_eq(hb_sample_writer_open(&w, path, &o, &e), 0, "%s", e.reason);
    for (uint64_t k = 0; k < N_SAMPLES; k++) {
        hb_sample s;
        hb_arena_reset(&a);
        rand_sample(&r, &a, k, &s, with_huge && k == 137);
        cr_assert_eq(hb_sample_writer_add(&w, &s, &e), 0, "%s", e.reason);
    }
    hb_shard_info info;
    cr_assert_eq(hb_sample_writer_close(&w, &info, &e), 0, "%s", e.reason);
    cr_assert_eq(info.records, N_SAMPLES);
    cr_assert_gt(info.blocks, 1);
    hb_arena_free(&a);
    return path;
}

Test(shard, random_samples_round_trip_sequential_and_random, .timeout = 120) {
    char *dir = tu_mkdtemp();
    char *path = write_random_shard(dir, "rt.hbs", 1234, 1, 64 * 1024);
    hb_shard *sh;
    hb_err e;
    cr_assert_eq(hb_shard_open(&sh, path, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_shard_count(sh), N_SAMPLES);
    cr_assert_str_eq(hb_shard_schema(sh), HB_SCHEMA_SAMPLE);
    hb_arena a, b;
    hb_arena_init(&a, 0);
    hb_arena_init(&b, 0);
    /* sequential */
    hb_rng r = hb_rng_make(1234, 0);
    for (uint64_t k = 0; k < N_SAMPLES; k++) {
        hb_sample want, got;
        hb_arena_reset(&a);
        hb_arena_reset(&b);
        rand_sample(&r, &a, k, &want, k == 137);
        cr_assert_eq(hb_shard_get_sample(sh, k, &got, &b, &e), 0, "%s", e.reason);
        assert_same(&want, &got);
    }
    /* random order: regenerate the expected sample k from a stream replayed up to k */
    hb_rng pick = hb_rng_make(99, 0);
    for (int i = 0; i < 60; i++) {
        uint64_t k = hb_rng_below(&pick, N_SAMPLES);
        hb_rng rr = hb_rng_make(1234, 0);
        hb_sample want, got;
        for (uint64_t j = 0; j <= k; j++) {
            hb_arena_reset(&a);
            rand_sample(&rr, &a, j, &want, 0);
        }
        if (k == 137) continue; /* the huge one was checked sequentially */
        hb_arena_reset(&b);
        cr_assert_eq(hb_shard_get_sample(sh, k, &got, &b, &e), 0, "%s", e.reason);
        assert_same(&want, &got);
    }
    hb_sample got;
    cr_assert_eq(hb_shard_get_sample(sh, N_SAMPLES, &got, &b, &e), HB_ERANGE);
    hb_shard_close(sh);
    hb_arena_free(&a);
    hb_arena_free(&b);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

Test(shard, json_form_round_trips) {
    hb_arena a, b;
    hb_arena_init(&a, 0);
    hb_arena_init(&b, 0);
    hb_rng r = hb_rng_make(5, 5);
    hb_buf j = {0};
    for (int k = 0; k < 200; k++) {
        hb_sample s, back;
        hb_arena_reset(&a);
        hb_arena_reset(&b);
        rand_sample(&r, &a, (uint64_t)k, &s, 0);
        hb_buf_clear(&j);
        hb_sample_to_json(&s, &j);
        hb_err e;
        cr_assert_eq(hb_sample_from_json((const char *)j.data, j.len, &back, &b, &e), 0, "%s", e.reason);
        hb_buf enc1 = {0}, enc2 = {0};
        hb_sample_encode(&s, &enc1);
        hb_sample_encode(&back, &enc2);
        cr_assert(enc1.len == enc2.len && !memcmp(enc1.data, enc2.data, enc1.len), "sample %d", k);
        hb_buf_free(&enc1);
        hb_buf_free(&enc2);
    }
    hb_buf_free(&j);
    hb_arena_free(&a);
    hb_arena_free(&b);
}

Test(shard, malformed_sample_json_is_rejected) {
    const char *bad[] = {"", "[]", "{\"id\": 3}", "{\"id\":\"a\",\"source\":\"s\"}",
                         "{\"id\":\"a\",\"source\":\"s\",\"source_file\":\"f\",\"images\":[\"00\"]}",
                         "{\"id\":\"a\",\"source\":\"s\",\"source_file\":\"f\",\"input_ids\":[1,2],\"loss_mask\":[1]}",
                         "{\"id\":\"a\",\"source\":\"s\",\"source_file\":\"f\",\"input_ids\":[-2],\"loss_mask\":[0]}",
                         "{\"id\":\"a\",\"source\":\"s\",\"source_file\":\"f\",\"turns\":[{\"role\":\"bot\",\"text\":\"x\"}]}",
                         "{\"id\":\"a\",\"source\":\"s\",\"source_file\":\"f\",\"input_ids\":[1],\"loss_mask\":[2]}",
                         "{\"id\":\"a\",\"source\":\"s\",\"source_file\":\"f\",\"input_ids\":[1.5],\"loss_mask\":[0]}",
                         "{\"id\":\"a\",\"source\":\"s\",\"source_file\":\"f\"} trailing"};
    hb_arena a;
    hb_arena_init(&a, 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hb_sample s;
        hb_err e;
        cr_assert_eq(hb_sample_from_json(bad[i], strlen(bad[i]), &s, &a, &e), HB_EFORMAT, "case %zu accepted", i);
        cr_assert(strlen(e.reason) > 10);
    }
    hb_arena_free(&a);
}

Test(shard, truncated_or_garbled_sample_records_are_rejected) {
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_rng r = hb_rng_make(3, 3);
    hb_sample s, out;
    rand_sample(&r, &a, 11, &s, 0);
    hb_buf enc = {0};
    hb_sample_encode(&s, &enc);
    for (size_t cut = 0; cut < enc.len; cut++)
        cr_assert_neq(hb_sample_decode(enc.data, cut, &out, &a, NULL), 0, "cut at %zu accepted", cut);
    hb_buf_put_u8(&enc, 0);
    cr_assert_neq(hb_sample_decode(enc.data, enc.len, &out, &a, NULL), 0, "trailing byte accepted");
    hb_buf_free(&enc);
    hb_arena_free(&a);
}

/* Found by fuzzing (fuzz_sample): a NUL inside id/source/source_file silently cut the string (the re-encoded record
 * differed), choices that are not a JSON object made hb-inspect dump print a line that is not JSON, and record
 * positions beyond 2^53 were dumped as numbers hb-inspect pack refuses. */
Test(shard, sample_strings_with_nul_or_bad_choices_are_rejected) {
    hb_arena a;
    hb_arena_init(&a, 0);
    int32_t toks[2] = {1, 2};
    uint8_t mask[2] = {0, 1};
    hb_sample s = {.id = "src/abc", .source = "src", .source_file = "f.json", .choices = "{\"template\":1}",
                   .n_tokens = 2, .tokens = toks, .loss_mask = mask};
    hb_buf b = {0};
    hb_sample out;
    hb_err e;
    hb_sample_encode(&s, &b);
    cr_assert_eq(hb_sample_decode(b.data, b.len, &out, &a, &e), 0, "%s", e.reason);
    uint8_t *p = memmem(b.data, b.len, "abc", 3);
    p[1] = 0; /* "src/a\0c" */
    cr_assert_eq(hb_sample_decode(b.data, b.len, &out, &a, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "id contains a NUL"), "%s", e.reason);
    /* a record position the JSON form cannot hold (doubles: +-2^53) */
    int64_t far[1] = {-8286060364408291327ll};
    hb_sample fs = s;
    fs.n_records = 1, fs.records = far;
    far[0] = 1ll << 53;
    hb_buf ok = {0};
    hb_sample_encode(&fs, &ok);
    cr_assert_eq(hb_sample_decode(ok.data, ok.len, &out, &a, &e), 0, "%s", e.reason);
    hb_buf_free(&ok);
    hb_buf_clear(&b);
    far[0] = -8286060364408291327ll;
    hb_sample_encode(&fs, &b);
    cr_assert_eq(hb_sample_decode(b.data, b.len, &out, &a, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "record position"), "%s", e.reason);
    const char *bad_choices[] = {"{", "[1]", "", "not json", "{\"a\":1} x"};
    for (size_t i = 0; i < sizeof bad_choices / sizeof *bad_choices; i++) {
        hb_buf_clear(&b);
        s.choices = bad_choices[i];
        hb_sample_encode(&s, &b);
        cr_assert_eq(hb_sample_decode(b.data, b.len, &out, &a, &e), HB_EFORMAT, "choices '%s' accepted", bad_choices[i]);
        cr_assert(strstr(e.reason, "choices"), "%s", e.reason);
    }
    hb_buf_free(&b);
    hb_arena_free(&a);
}

/* Small shard with several blocks so every region (header, blocks, index, trailer) is exercised. */
static uint8_t *small_shard(const char *dir, size_t *len, char **path_out) {
    char *path = hb_path_join(dir, "small.hbs");
    hb_sample_writer w;
    hb_shard_opts o = {.block_bytes = 300};
    cr_assert_eq(hb_sample_writer_open(&w, path, &o, NULL), 0);
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_rng r = hb_rng_make(77, 0);
    for (int k = 0; k < 12; k++) {
        hb_sample s;
        hb_arena_reset(&a);
        rand_sample(&r, &a, (uint64_t)k, &s, 0);
        if (s.n_tokens > 40) s.n_tokens = 40;
        cr_assert_eq(hb_sample_writer_add(&w, &s, NULL), 0);
    }
    hb_shard_info info;
    cr_assert_eq(hb_sample_writer_close(&w, &info, NULL), 0);
    cr_assert_geq(info.blocks, 3);
    hb_arena_free(&a);
    uint8_t *d = tu_read(path, len);
    cr_assert_eq(*len, info.bytes);
    *path_out = path;
    return d;
}

Test(shard, every_flipped_byte_fails_verify, .timeout = 300) {
    char *dir = tu_mkdtemp();
    size_t n;
    char *path;
    uint8_t *orig = small_shard(dir, &n, &path);
    hb_err e;
    cr_assert_eq(hb_inspect_verify(path, NULL, &e), 0, "%s", e.reason);
    char *bad = hb_path_join(dir, "bad.hbs");
    for (size_t i = 0; i < n; i++) {
        static const uint8_t flips[] = {0x01, 0x80, 0xFF};
        for (int f = 0; f < 3; f++) {
            orig[i] ^= flips[f];
            cr_assert_eq(tu_write(bad, orig, n), 0);
            orig[i] ^= flips[f];
            hb_err_clear(&e);
            int code = hb_inspect_verify(bad, NULL, &e);
            cr_assert_neq(code, 0, "flip 0x%02x at byte %zu of %zu was not detected", flips[f], i, n);
            cr_assert_str_eq(e.file, bad, "the message names the shard");
            cr_assert(strstr(e.reason, "header") || strstr(e.reason, "trailer") || strstr(e.reason, "index") ||
                          strstr(e.reason, "block") || strstr(e.reason, "shard checksum") ||
                          strstr(e.reason, "sample"),
                      "byte %zu: message does not name a place: %s", i, e.reason);
        }
    }
    free(bad);
    free(orig);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

Test(shard, every_truncation_fails_verify, .timeout = 120) {
    char *dir = tu_mkdtemp();
    size_t n;
    char *path;
    uint8_t *orig = small_shard(dir, &n, &path);
    char *bad = hb_path_join(dir, "cut.hbs");
    for (size_t cut = 0; cut < n; cut++) {
        cr_assert_eq(tu_write(bad, orig, cut), 0);
        hb_err e;
        hb_err_clear(&e);
        cr_assert_neq(hb_inspect_verify(bad, NULL, &e), 0, "truncation to %zu bytes was not detected", cut);
        hb_shard *s;
        cr_assert_neq(hb_shard_open(&s, bad, NULL), 0, "a truncated shard must not open");
    }
    free(bad);
    free(orig);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* Recompute the index and shard checksums of a shard edited in memory (so the edit reaches the checks behind them). */
static void rehash_shard(uint8_t *m, size_t n) {
    uint8_t *t = m + n - HB_SHARD_TRAILER_SIZE;
    uint64_t ix = hb_le64(t), nb = hb_le64(t + 8), h = hb_hash64(m + ix, nb * HB_SHARD_INDEX_ENTRY, 0);
    memcpy(t + 24, &h, 8);
    h = hb_hash64(m, n - 16, 0);
    memcpy(t + 32, &h, 8);
}

/* Found by fuzzing (fuzz_shard): an index entry claiming a ~4 GiB block made the reader allocate that much before
 * the frame was even looked at. The claim must cost nothing: the read fails on the size mismatch with the address
 * space capped well below it (plain builds; ASan needs its huge shadow mapping, so there the cap is skipped). */
Test(shard, index_size_claims_allocate_nothing) {
    char *dir = tu_mkdtemp();
    size_t n;
    char *path;
    uint8_t *m = small_shard(dir, &n, &path);
    uint8_t *t = m + n - HB_SHARD_TRAILER_SIZE;
    uint8_t *e0 = m + hb_le64(t); /* index entry of block 0: raw_size at +28 */
    uint32_t huge = 0xF0000000u;
    memcpy(e0 + 28, &huge, 4);
    rehash_shard(m, n);
    cr_assert_eq(tu_write(path, m, n), 0);
#if !defined(__SANITIZE_ADDRESS__)
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert(f && fscanf(f, "%ld", &pages) == 1);
    fclose(f);
    rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (512u << 20);
    cr_assert_eq(setrlimit(RLIMIT_AS, &(struct rlimit){cap, cap}), 0);
#endif
    hb_shard *s;
    hb_err e;
    cr_assert_eq(hb_shard_open(&s, path, &e), 0, "%s", e.reason);
    const uint8_t *rec;
    size_t len;
    cr_assert_eq(hb_shard_get(s, 0, &rec, &len, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "block 0") && strstr(e.reason, "size differs from the index"), "%s", e.reason);
    hb_shard_close(s);
    free(m);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

Test(shard, killed_writer_leaves_no_shard) {
    char *dir = tu_mkdtemp();
    char *path = hb_path_join(dir, "killed.hbs");
    pid_t pid = fork();
    if (pid == 0) {
        hb_sample_writer w;
        if (hb_sample_writer_open(&w, path, &(hb_shard_opts){.block_bytes = 1024}, NULL)) _exit(3);
        hb_arena a;
        hb_arena_init(&a, 0);
        hb_rng r = hb_rng_make(1, 1);
        for (int k = 0; k < 200; k++) {
            hb_sample s;
            hb_arena_reset(&a);
            rand_sample(&r, &a, (uint64_t)k, &s, 0);
            hb_sample_writer_add(&w, &s, NULL);
        }
        raise(SIGKILL); /* mid-way: blocks are on disk, index and trailer are not */
        _exit(4);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st));
    cr_assert(!hb_path_exists(path), "no file under the final name after a crash");
    free(path);
    tu_rmtree(dir);
    free(dir);
}

Test(shard, manifest_round_trip_and_directory_verify) {
    char *dir = tu_mkdtemp();
    hb_manifest m = {.tool = hb_xstrdup("test 1"), .recipe_hash = hb_xstrdup("0123456789abcdef")};
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "part-%d.hbs", i);
        char *path = write_random_shard(dir, name, (uint64_t)i, 0, 32 * 1024);
        hb_shard *s;
        cr_assert_eq(hb_shard_open(&s, path, NULL), 0);
        hb_manifest_shard e = {.path = name, .source = "mixed", .schema = HB_SCHEMA_SAMPLE,
                               .samples = hb_shard_count(s), .xxh3 = hb_shard_checksum(s), .bytes = 1};
        hb_shard_close(s);
        hb_manifest_add(&m, &e);
        free(path);
    }
    hb_err e;
    cr_assert_eq(hb_manifest_write(&m, dir, &e), 0, "%s", e.reason);
    hb_manifest back;
    cr_assert_eq(hb_manifest_load(&back, dir, &e), 0, "%s", e.reason);
    cr_assert_eq(back.n_shards, 2);
    cr_assert_str_eq(back.shards[1].path, "part-1.hbs");
    cr_assert_eq(back.shards[1].xxh3, m.shards[1].xxh3);
    cr_assert_str_eq(back.recipe_hash, "0123456789abcdef");
    cr_assert_eq(hb_inspect_verify(dir, NULL, &e), 0, "%s", e.reason);
    /* a manifest that disagrees with its shard is caught */
    m.shards[1].samples++;
    cr_assert_eq(hb_manifest_write(&m, dir, NULL), 0);
    cr_assert_neq(hb_inspect_verify(dir, NULL, &e), 0);
    cr_assert(strstr(e.file, "part-1.hbs"), "%s", e.file);
    hb_manifest_free(&back);
    hb_manifest_free(&m);
    /* malformed manifests; found by fuzzing (fuzz_manifest): counts beyond 2^53 were converted unchecked (undefined
     * behaviour for 1e300), fractions truncated, and a 16-character xxh3 that is not hex read as 0 */
#define ENTRY(samples, xxh3)                                                                                          \
    "{\"format\":\"hb-shards\",\"shards\":[{\"path\":\"a.hbs\",\"source\":\"s\",\"samples\":" samples               \
    ",\"tokens\":1,\"supervised_tokens\":1,\"image_tokens\":0,\"bytes\":9,\"xxh3\":\"" xxh3 "\"}]}"
    const char *bad[] = {"", "{}", "{\"format\":\"hb-shards\",\"shards\":[{\"path\":\"../x\"}]}", "[1,2]",
                         ENTRY("1e300", "0123456789abcdef"), ENTRY("2.5", "0123456789abcdef"),
                         ENTRY("-1", "0123456789abcdef"), ENTRY("2", "0123456789abcdeg"), ENTRY("2", "zzzzzzzzzzzzzzzz")};
    char *mp = hb_path_join(dir, "manifest.json");
    const char *good = ENTRY("2", "0123456789ABCDEF");
#undef ENTRY
    tu_write(mp, good, strlen(good));
    cr_assert_eq(hb_manifest_load(&back, dir, &e), 0, "%s", e.reason);
    cr_assert(back.shards[0].samples == 2 && back.shards[0].xxh3 == 0x0123456789abcdefull);
    hb_manifest_free(&back);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tu_write(mp, bad[i], strlen(bad[i]));
        cr_assert_eq(hb_manifest_load(&back, dir, &e), HB_EFORMAT, "case %zu", i);
        cr_assert_str_eq(e.file, mp);
    }
    free(mp);
    tu_rmtree(dir);
    free(dir);
}
