/* lib/core: errors, arenas, buffers, atomic files, hashing, RNG. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "helpers/testutil.h"

Test(core, error_formats_context) {
    hb_err e;
    hb_err_clear(&e);
    cr_assert_eq(hb_err_set(&e, HB_EFORMAT, "data/x.json", 12, 345, "missing field '%s'", "answer"), HB_EFORMAT);
    char buf[256];
    cr_assert_str_eq(hb_err_format(&e, buf, sizeof buf), "data/x.json: record 12: byte 345: missing field 'answer'");
    hb_err_prefix(&e, "while reading %s", "vqav2");
    cr_assert_str_eq(hb_err_format(&e, buf, sizeof buf),
                     "data/x.json: record 12: byte 345: while reading vqav2: missing field 'answer'");
    hb_err_set(&e, HB_EIO, NULL, HB_NOPOS, HB_NOPOS, "plain");
    cr_assert_str_eq(hb_err_format(&e, buf, sizeof buf), "plain");
    cr_assert_eq(hb_err_set(NULL, HB_EINVAL, NULL, 0, 0, "x"), HB_EINVAL, "a NULL hb_err is allowed");
}

Test(core, errno_reason) {
    hb_err e;
    uint8_t *d;
    size_t n;
    cr_assert_eq(hb_file_read_all("/nonexistent/file", &d, &n, &e), HB_ENOTFOUND);
    cr_assert(strstr(e.reason, "No such file"), "%s", e.reason);
    cr_assert_str_eq(e.file, "/nonexistent/file");
}

Test(core, arena_alignment_and_reset) {
    hb_arena a;
    hb_arena_init(&a, 1024);
    for (int i = 1; i < 500; i++) {
        uint8_t *p = hb_arena_alloc(&a, (size_t)i);
        cr_assert_eq((uintptr_t)p % 16, 0);
        memset(p, 0xAB, (size_t)i);
    }
    char *big = hb_arena_alloc(&a, 1 << 20); /* larger than a block */
    memset(big, 1, 1 << 20);
    char *s = hb_arena_printf(&a, "%s-%d", "x", 42);
    cr_assert_str_eq(s, "x-42");
    hb_arena_reset(&a);
    cr_assert_eq(a.used, 0);
    cr_assert_str_eq(hb_arena_strdup(&a, "after reset"), "after reset");
    hb_arena_free(&a);
}

Test(core, json_string_escaping) {
    hb_buf b = {0};
    const char in[] = "a\"b\\c\n\t\x01\xc3\xa9\xff";
    hb_buf_put_json_str(&b, in, sizeof in - 1);
    cr_assert_str_eq(hb_buf_cstr(&b), "\"a\\\"b\\\\c\\n\\t\\u0001\xc3\xa9\\u00ff\"");
    hb_buf_free(&b);
}

Test(core, count_format) {
    char b[32];
    cr_assert_str_eq(hb_fmt_count(0, b, sizeof b), "0");
    cr_assert_str_eq(hb_fmt_count(999, b, sizeof b), "999");
    cr_assert_str_eq(hb_fmt_count(1234567, b, sizeof b), "1,234,567");
    cr_assert_str_eq(hb_fmt_duration(3725, b, sizeof b), "1:02:05");
}

Test(core, atomic_file_commit_and_abort) {
    char *dir = tu_mkdtemp();
    char *path = hb_path_join(dir, "out.bin");
    cr_assert_eq(hb_write_file_atomic(path, "old", 3, NULL), 0);
    hb_afile f;
    cr_assert_eq(hb_afile_open(&f, path, NULL), 0);
    hb_afile_write(&f, "new content", 11, NULL);
    size_t n;
    uint8_t *d = tu_read(path, &n);
    cr_assert(n == 3 && !memcmp(d, "old", 3), "the final name keeps the old version until commit");
    free(d);
    hb_afile_abort(&f);
    d = tu_read(path, &n);
    cr_assert(n == 3 && !memcmp(d, "old", 3), "abort keeps the old version");
    free(d);
    char *out;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls -A '%s'", dir);
    tu_run(cmd, &out);
    cr_assert_str_eq(out, "out.bin\n", "abort removes the temporary file");
    free(out);
    cr_assert_eq(hb_afile_open(&f, path, NULL), 0);
    hb_afile_write(&f, "new content", 11, NULL);
    cr_assert_eq(hb_afile_commit(&f, NULL), 0);
    d = tu_read(path, &n);
    cr_assert(n == 11 && !memcmp(d, "new content", 11));
    free(d);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

Test(core, atomic_file_killed_writer_leaves_no_final_file) {
    char *dir = tu_mkdtemp();
    char *path = hb_path_join(dir, "never.bin");
    pid_t pid = fork();
    if (pid == 0) {
        hb_afile f;
        if (hb_afile_open(&f, path, NULL)) _exit(3);
        char chunk[4096] = {0};
        for (int i = 0; i < 100; i++) hb_afile_write(&f, chunk, sizeof chunk, NULL);
        raise(SIGKILL);
        _exit(4);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    cr_assert(!hb_path_exists(path), "a killed writer must not leave a file under the final name");
    free(path);
    tu_rmtree(dir);
    free(dir);
}

Test(core, mkdir_p) {
    char *dir = tu_mkdtemp();
    char *deep = hb_path_join(dir, "a/b/c");
    cr_assert_eq(hb_mkdir_p(deep, NULL), 0);
    cr_assert(hb_path_is_dir(deep));
    cr_assert_eq(hb_mkdir_p(deep, NULL), 0, "existing directories are fine");
    free(deep);
    tu_rmtree(dir);
    free(dir);
}

Test(core, xxh3_known_values) {
    /* XXH3-64 of the empty input with seed 0 is a published constant. */
    cr_assert_eq(hb_hash64("", 0, 0), 0x2D06800538D394C2ULL);
    hb_hash128 h = hb_hash128_of("", 0);
    char hex[33];
    hb_hash128_hex(h, hex);
    cr_assert_str_eq(hex, "99aa06d3014798d86001c324468d497f");
    hb_hash128 back;
    cr_assert_eq(hb_hash128_parse(hex, &back), 0);
    cr_assert(hb_hash128_eq(h, back));
    cr_assert_neq(hb_hash128_parse("zz", &back), 0);
    hb_hasher *s = hb_hasher_new(0);
    hb_hasher_update(s, "hello ", 6);
    hb_hasher_update(s, "world", 5);
    cr_assert_eq(hb_hasher_digest(s), hb_hash64("hello world", 11, 0), "streaming equals one-shot");
    hb_hasher_free(s);
}

Test(core, rng_depends_only_on_seed_and_key) {
    hb_rng a = hb_rng_for(7, "template", "vqav2/123");
    hb_rng b = hb_rng_for(7, "template", "vqav2/123");
    for (int i = 0; i < 100; i++) cr_assert_eq(hb_rng_u64(&a), hb_rng_u64(&b));
    hb_rng c = hb_rng_for(8, "template", "vqav2/123");
    hb_rng d = hb_rng_for(7, "template", "vqav2/124");
    hb_rng e = hb_rng_for(7, "options", "vqav2/123");
    a = hb_rng_for(7, "template", "vqav2/123");
    uint64_t x = hb_rng_u64(&a);
    cr_assert_neq(x, hb_rng_u64(&c));
    cr_assert_neq(x, hb_rng_u64(&d));
    cr_assert_neq(x, hb_rng_u64(&e));
}

Test(core, rng_uniformity) {
    /* chi-square over 10 buckets, 100k draws; 99.9% critical value for 9 d.o.f. is 27.9 */
    hb_rng r = hb_rng_make(42, 1);
    int counts[10] = {0};
    for (int i = 0; i < 100000; i++) counts[hb_rng_below(&r, 10)]++;
    double chi = 0;
    for (int i = 0; i < 10; i++) chi += (counts[i] - 10000.0) * (counts[i] - 10000.0) / 10000.0;
    cr_assert_lt(chi, 27.9, "chi2 = %f", chi);
    for (int i = 0; i < 1000; i++) {
        double u = hb_rng_uniform(&r);
        cr_assert(u >= 0 && u < 1);
    }
    uint32_t v[50];
    for (uint32_t i = 0; i < 50; i++) v[i] = i;
    hb_rng_shuffle_u32(&r, v, 50);
    uint64_t seen = 0;
    for (int i = 0; i < 50; i++) seen |= 1ULL << v[i];
    cr_assert_eq(seen, (1ULL << 50) - 1, "a shuffle is a permutation");
}

/* Runs a progress session with HB_PROGRESS set to mode and returns what it wrote to stderr. */
static char *progress_output(const char *mode) {
    char *dir = tu_mkdtemp();
    char *path = hb_path_join(dir, "stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w");
    dup2(fileno(f), 2);
    setenv("HB_PROGRESS", mode, 1);
    hb_progress *p = hb_progress_start("reading", 1000, "records");
    for (int i = 0; i < 10; i++) hb_progress_add(p, 100);
    hb_progress_done(p);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(f);
    size_t n;
    char *out = (char *)tu_read(path, &n);
    free(path);
    tu_rmtree(dir);
    free(dir);
    return out;
}

Test(core, progress_reports_count_rate_and_eta_or_stays_quiet) {
    char *on = progress_output("1");
    cr_assert(strstr(on, "reading"), "%s", on);
    cr_assert(strstr(on, "1,000/1,000 records"), "%s", on);
    cr_assert(strstr(on, "100.0%"), "%s", on);
    cr_assert(strstr(on, "/s"), "%s", on);
    free(on);
    char *off = progress_output("0");
    cr_assert_str_eq(off, "", "quiet when disabled (and when stderr is not a TTY by default)");
    free(off);
}

Test(core, path_normalize_and_resolve) {
    const char *cases[][2] = {{"recipes/../demo-out/shards", "demo-out/shards"}, {"/a/b/../../c", "/c"},
                              {"a//b/./c/", "a/b/c"}, {"../../x", "../../x"}, {"a/../..", ".."}, {"", "."},
                              {"/..", "/"}, {"./", "."}, {"/work/x/../../y/./z", "/y/z"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", cases[i][0]);
        hb_path_normalize(buf);
        cr_assert_str_eq(buf, cases[i][1], "'%s'", cases[i][0]);
    }
    char *p = hb_path_resolve("recipes", "../examples/x.json");
    cr_assert_str_eq(p, "examples/x.json");
    free(p);
    p = hb_path_resolve("recipes", "/abs/x");
    cr_assert_str_eq(p, "/abs/x");
    free(p);
}

Test(core, utf8_strict_decoding_and_encoding) {
    struct {
        const char *s;
        size_t len;
    } ok[] = {{"a", 1}, {"\xc3\xa9", 2}, {"\xe2\x82\xac", 3}, {"\xf0\x9f\x90\x9d", 4}, {"\xf4\x8f\xbf\xbf", 4}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        cr_assert_eq(hb_utf8_len((const uint8_t *)ok[i].s, strlen(ok[i].s)), ok[i].len, "case %zu", i);
    const char *bad[] = {"\x80", "\xc0\xaf", "\xc3", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
                         "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(hb_utf8_len((const uint8_t *)bad[i], strlen(bad[i])), 0, "invalid case %zu accepted", i);
    cr_assert(hb_utf8_valid((const uint8_t *)"h\xc3\xa9llo \xf0\x9f\x90\x9d", 11));
    cr_assert(!hb_utf8_valid((const uint8_t *)"ok\xff", 3));
    hb_buf b = {0};
    const uint32_t cps[] = {0x41, 0xE9, 0x20AC, 0x1F41D, 0x10FFFF};
    for (size_t i = 0; i < 5; i++) hb_buf_put_utf8(&b, cps[i]);
    size_t at = 0;
    for (size_t i = 0; i < 5; i++) {
        size_t k = hb_utf8_len(b.data + at, b.len - at);
        cr_assert_neq(k, 0);
        cr_assert_eq(hb_utf8_cp(b.data + at, k), cps[i]);
        at += k;
    }
    cr_assert_eq(at, b.len);
    hb_buf_free(&b);
}
