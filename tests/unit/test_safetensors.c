/* model/safetensors: writer -> reader round trips (every dtype, metadata, sharded sets), dtype conversions, files
 * written by PyTorch's safetensors and HF transformers (tests/fixtures/model), and malformed headers, offsets and
 * indexes, each rejected with an error naming the file. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "model/safetensors.h"

static char *fixture(const char *rel) {
    char p[256];
    snprintf(p, sizeof p, "tests/fixtures/model/%s", rel);
    return tu_repo(p);
}

Test(safetensors, round_trip_every_dtype) {
    char *d = tu_mkdtemp(), *path = hb_path_join(d, "x.safetensors");
    float f[6] = {1.0f, -2.5f, 0.1f, 65504.0f, 1e-8f, -0.0f};
    uint16_t bf[6], h[6];
    for (int i = 0; i < 6; i++) bf[i] = hb_f32_to_bf16(f[i]), h[i] = hb_f32_to_f16(f[i]);
    int32_t i32[4] = {-1, 0, 7, 2147483647};
    int64_t i64[3] = {-100, 5, 31999};
    uint8_t u8[5] = {0, 1, 2, 254, 255};
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s3[1] = {3}, s5[1] = {5}, s0[1] = {0};
    hb_err e;
    hb_st_writer *w = hb_st_writer_new();
    hb_st_writer_meta(w, "format", "pt");
    cr_assert_eq(hb_st_writer_add(w, "b.f32", HB_ST_F32, 2, s23, f, &e), 0);
    cr_assert_eq(hb_st_writer_add(w, "a.bf16", HB_ST_BF16, 2, s23, bf, &e), 0);
    cr_assert_eq(hb_st_writer_add(w, "c.f16", HB_ST_F16, 2, s23, h, &e), 0);
    cr_assert_eq(hb_st_writer_add(w, "ids", HB_ST_I32, 1, s4, i32, &e), 0);
    cr_assert_eq(hb_st_writer_add(w, "labels", HB_ST_I64, 1, s3, i64, &e), 0);
    cr_assert_eq(hb_st_writer_add(w, "bytes", HB_ST_U8, 1, s5, u8, &e), 0);
    cr_assert_eq(hb_st_writer_add(w, "empty", HB_ST_F32, 1, s0, NULL, &e), 0);
    float scalar = 3.25f;
    cr_assert_eq(hb_st_writer_add(w, "loss", HB_ST_F32, 0, NULL, &scalar, &e), 0);
    cr_assert_neq(hb_st_writer_add(w, "ids", HB_ST_I32, 1, s4, i32, &e), 0, "duplicate names are refused");
    cr_assert_eq(hb_st_writer_save(w, path, 0, &e), 0, "%s", e.reason);
    hb_st_writer_free(w);

    size_t len;
    uint8_t *raw = tu_read(path, &len);
    uint64_t hl = hb_le64(raw);
    cr_assert_eq((8 + hl) % 8, 0, "data start is 8-byte aligned");
    free(raw);

    hb_st *st;
    cr_assert_eq(hb_st_open(path, &st, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_st_count(st), 8);
    cr_assert_str_eq(hb_st_at(st, 0)->name, "a.bf16", "sorted by name");
    cr_assert_str_eq(hb_st_meta(st, "format"), "pt");
    const hb_st_tensor *t = hb_st_find(st, "b.f32");
    cr_assert(t && t->dtype == HB_ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    float out[6];
    const char *names[3] = {"b.f32", "a.bf16", "c.f16"};
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(hb_st_read_f32(st, hb_st_find(st, names[k]), out, 6, &e), 0);
        for (int i = 0; i < 6; i++) {
            float want = k == 0 ? f[i] : k == 1 ? hb_bf16_to_f32(bf[i]) : hb_f16_to_f32(h[i]);
            cr_assert_eq(memcmp(&out[i], &want, 4), 0, "%s[%d]: %g vs %g", names[k], i, out[i], want);
        }
    }
    int32_t iv[5];
    cr_assert_eq(hb_st_read_i32(st, hb_st_find(st, "ids"), iv, 4, &e), 0);
    cr_assert_eq(memcmp(iv, i32, sizeof i32), 0);
    cr_assert_eq(hb_st_read_i32(st, hb_st_find(st, "labels"), iv, 3, &e), 0);
    cr_assert(iv[0] == -100 && iv[1] == 5 && iv[2] == 31999);
    cr_assert_eq(hb_st_read_i32(st, hb_st_find(st, "bytes"), iv, 5, &e), 0);
    cr_assert_eq(iv[4], 255);
    cr_assert_neq(hb_st_read_f32(st, hb_st_find(st, "ids"), out, 4, &e), 0, "ints are not floats");
    cr_assert(strstr(e.reason, "ids"));
    cr_assert_neq(hb_st_read_f32(st, hb_st_find(st, "b.f32"), out, 5, &e), 0, "element count is checked");
    t = hb_st_find(st, "loss");
    cr_assert(t && t->ndim == 0 && t->numel == 1);
    cr_assert_eq(hb_st_find(st, "empty")->numel, 0);
    cr_assert_null(hb_st_find(st, "nope"));
    hb_st_close(st);
    free(path);
    tu_rmtree(d);
    free(d);
}

Test(safetensors, scalar_conversions) {
    cr_assert_eq(hb_f32_to_bf16(1.0f), 0x3f80);
    cr_assert_eq(hb_f32_to_bf16(-2.0f), 0xc000);
    cr_assert_eq(hb_bf16_to_f32(0x3f80), 1.0f);
    /* round to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> 1; 1 + 3·2^-8 -> 1 + 2^-6 */
    cr_assert_eq(hb_f32_to_bf16(1.00390625f), 0x3f80);
    cr_assert_eq(hb_f32_to_bf16(1.01171875f), 0x3f82);
    cr_assert(isnan(hb_bf16_to_f32(hb_f32_to_bf16(NAN))));
    cr_assert_eq(hb_f32_to_f16(1.0f), 0x3c00);
    cr_assert_eq(hb_f32_to_f16(65504.0f), 0x7bff);
    cr_assert_eq(hb_f32_to_f16(65520.0f), 0x7c00, "rounds to infinity");
    cr_assert_eq(hb_f32_to_f16(-2.0f), 0xc000);
    cr_assert_eq(hb_f32_to_f16(5.9604645e-8f), 0x0001, "smallest subnormal");
    cr_assert_eq(hb_f16_to_f32(0x0001), 5.9604645e-8f);
    cr_assert_eq(hb_f16_to_f32(0x03ff), 6.0975552e-5f, "largest subnormal");
    cr_assert_eq(hb_f16_to_f32(0x7bff), 65504.0f);
    cr_assert(isinf(hb_f16_to_f32(0x7c00)));
    cr_assert(isnan(hb_f16_to_f32(0x7e00)));
    /* every f16 value survives f16 -> f32 -> f16 */
    for (uint32_t hv = 0; hv < 0x10000; hv++) {
        float x = hb_f16_to_f32((uint16_t)hv);
        if (isnan(x)) continue;
        cr_assert_eq(hb_f32_to_f16(x), hv, "f16 %04x -> %g -> %04x", hv, x, hb_f32_to_f16(x));
    }
}

Test(safetensors, sharded_write_and_read) {
    char *d = tu_mkdtemp(), *path = hb_path_join(d, "model.safetensors");
    enum { N = 10 };
    float data[N][100];
    int64_t shape[1] = {100};
    hb_err e;
    hb_st_writer *w = hb_st_writer_new();
    for (int k = 0; k < N; k++) {
        char nm[32];
        for (int i = 0; i < 100; i++) data[k][i] = (float)(k * 1000 + i);
        snprintf(nm, sizeof nm, "layer.%d.weight", k);
        cr_assert_eq(hb_st_writer_add(w, nm, HB_ST_F32, 1, shape, data[k], &e), 0);
    }
    cr_assert_eq(hb_st_writer_save(w, path, 1000, &e), 0, "%s", e.reason); /* 400 B per tensor: 2 per shard */
    hb_st_writer_free(w);
    char *idx = hb_path_join(d, "model.safetensors.index.json"), *s1 = hb_path_join(d, "model-00001-of-00005.safetensors");
    cr_assert(hb_path_exists(idx) && hb_path_exists(s1));
    cr_assert(!hb_path_exists(path), "no single file next to the shards");
    for (int via = 0; via < 2; via++) {
        hb_st *st;
        cr_assert_eq(hb_st_open(via ? d : idx, &st, &e), 0, "%s", e.reason);
        cr_assert_eq(hb_st_count(st), N);
        float out[100];
        for (int k = 0; k < N; k++) {
            char nm[32];
            snprintf(nm, sizeof nm, "layer.%d.weight", k);
            const hb_st_tensor *t = hb_st_find(st, nm);
            cr_assert_not_null(t, "%s", nm);
            cr_assert_eq(hb_st_read_f32(st, t, out, 100, &e), 0);
            cr_assert_eq(memcmp(out, data[k], sizeof out), 0);
        }
        hb_st_close(st);
    }
    free(idx);
    free(s1);
    free(path);
    tu_rmtree(d);
    free(d);
}

Test(safetensors, reads_files_written_by_pytorch_and_transformers) {
    hb_err e;
    hb_st *st;
    char *p = fixture("a/model.safetensors");
    cr_assert_eq(hb_st_open(p, &st, &e), 0, "%s", e.reason);
    const hb_st_tensor *t = hb_st_find(st, "abstractor.net.0.b1.conv2.conv.weight");
    cr_assert(t && t->ndim == 4 && t->shape[0] == 24 && t->shape[1] == 1 && t->shape[2] == 3 && t->shape[3] == 3);
    cr_assert_not_null(hb_st_find(st, "vision_model.vision_model.embeddings.class_embedding"));
    cr_assert_str_eq(hb_st_meta(st, "format"), "pt");
    hb_st_close(st);
    free(p);
    p = fixture("a/hf_llama"); /* sharded by save_pretrained: directory -> index -> 3 shards */
    cr_assert_eq(hb_st_open(p, &st, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_st_count(st), 21);
    t = hb_st_find(st, "lm_head.weight");
    cr_assert(t && t->shape[0] == 128 && t->shape[1] == 32);
    cr_assert(strstr(hb_st_file(st, t->file), "-of-00003.safetensors"));
    hb_st_close(st);
    free(p);
}

/* ---- malformed files ---- */
static char *write_raw(const char *dir, const char *name, const char *header, size_t data_len) {
    char *p = hb_path_join(dir, name);
    hb_buf b = {0};
    hb_buf_put_u64(&b, strlen(header));
    hb_buf_puts(&b, header);
    for (size_t i = 0; i < data_len; i++) hb_buf_putc(&b, (int)i);
    cr_assert_eq(tu_write(p, b.data, b.len), 0);
    hb_buf_free(&b);
    return p;
}

static void expect_bad(const char *dir, const char *header, size_t data_len, const char *needle) {
    char *p = write_raw(dir, "bad.safetensors", header, data_len);
    hb_st *st = NULL;
    hb_err e;
    hb_err_clear(&e);
    int rc = hb_st_open(p, &st, &e);
    cr_assert_neq(rc, 0, "accepted: %s", header);
    cr_assert_null(st);
    cr_assert(strstr(e.file, "bad.safetensors"), "error names the file (%s)", e.file);
    cr_assert(strstr(e.reason, needle), "reason '%s' lacks '%s'", e.reason, needle);
    free(p);
}

Test(safetensors, malformed_headers_and_offsets) {
    char *d = tu_mkdtemp();
    expect_bad(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "JSON");
    expect_bad(d, "[1,2]", 0, "JSON object");
    expect_bad(d, "{\"a\":{\"dtype\":\"F99\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype");
    expect_bad(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 8, "outside");
    expect_bad(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "data bytes for 3");
    expect_bad(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8, "shape");
    expect_bad(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets");
    expect_bad(d,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, "overlap");
    expect_bad(d,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
               12, "gap");
    expect_bad(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "after the last tensor");
    expect_bad(d, "{\"__metadata__\":{\"format\":1},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "__metadata__");
    expect_bad(d,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               8, "twice");
    /* header length beyond the file, and a file too short for any header */
    char *p = hb_path_join(d, "bad.safetensors");
    uint8_t big[16] = {0xff, 0xff, 0xff, 0, 0, 0, 0, 0, '{', '}'};
    cr_assert_eq(tu_write(p, big, 10), 0);
    hb_st *st;
    hb_err e;
    cr_assert_eq(hb_st_open(p, &st, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "header length"));
    cr_assert_eq(tu_write(p, big, 5), 0);
    cr_assert_eq(hb_st_open(p, &st, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "too short"));
    cr_assert_eq(hb_st_open("/nonexistent/x.safetensors", &st, &e), HB_ENOTFOUND);
    free(p);
    tu_rmtree(d);
    free(d);
}

Test(safetensors, malformed_indexes_and_directories) {
    char *d = tu_mkdtemp();
    free(write_raw(d, "s1.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
    free(write_raw(d, "s2.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
    hb_st *st;
    hb_err e;
    cr_assert_eq(hb_st_open(d, &st, &e), HB_EINVAL, "two candidate files: ambiguous");
    char *ip = hb_path_join(d, "model.safetensors.index.json");
    const char *bad[][2] = {
        {"{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"}}", "no such tensor"},
        {"{\"weight_map\":{\"a\":\"missing.safetensors\"}}", "missing.safetensors"},
        {"{\"weight_map\":{\"a\":\"../s1.safetensors\"}}", "file name"},
        {"{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}}", "no such tensor"},
        {"{\"metadata\":{}}", "weight_map"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(tu_write(ip, bad[i][0], strlen(bad[i][0])), 0);
        hb_err_clear(&e);
        cr_assert_neq(hb_st_open(d, &st, &e), 0, "accepted %s", bad[i][0]);
        cr_assert(strstr(e.reason, bad[i][1]) || strstr(e.file, bad[i][1]), "%s: %s", bad[i][0], e.reason);
    }
    /* a tensor in two shards */
    free(write_raw(d, "s2.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8));
    const char *ok = "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}}";
    cr_assert_eq(tu_write(ip, ok, strlen(ok)), 0);
    cr_assert_eq(hb_st_open(d, &st, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_st_count(st), 2, "s2's 'a' is not the one the index assigns");
    hb_st_close(st);
    free(ip);
    tu_rmtree(d);
    free(d);
}

static int failing_fill(void *ctx, const char *name, void *dst, size_t n, hb_err *err) {
    (void)ctx;
    (void)dst;
    (void)n;
    return hb_err_set(err, HB_EIO, name, HB_NOPOS, HB_NOPOS, "simulated failure");
}

Test(safetensors, failed_save_keeps_the_previous_file) {
    char *d = tu_mkdtemp(), *path = hb_path_join(d, "m.safetensors");
    float v[2] = {1, 2};
    int64_t s[1] = {2};
    hb_err e;
    hb_st_writer *w = hb_st_writer_new();
    cr_assert_eq(hb_st_writer_add(w, "x", HB_ST_F32, 1, s, v, &e), 0);
    cr_assert_eq(hb_st_writer_save(w, path, 0, &e), 0);
    hb_st_writer_free(w);
    size_t n0;
    uint8_t *before = tu_read(path, &n0);
    w = hb_st_writer_new();
    cr_assert_eq(hb_st_writer_add(w, "x", HB_ST_F32, 1, s, v, &e), 0);
    cr_assert_eq(hb_st_writer_add_fill(w, "y", HB_ST_F32, 1, s, failing_fill, NULL, &e), 0);
    cr_assert_neq(hb_st_writer_save(w, path, 0, &e), 0);
    cr_assert(strstr(e.reason, "simulated"));
    hb_st_writer_free(w);
    size_t n1;
    uint8_t *after = tu_read(path, &n1);
    cr_assert(n0 == n1 && !memcmp(before, after, n0), "the previous file is intact");
    char *out = NULL;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", d);
    tu_run(cmd, &out);
    cr_assert_eq(atoi(out), 1, "no temporary left behind");
    free(out);
    free(before);
    free(after);
    free(path);
    tu_rmtree(d);
    free(d);
}
