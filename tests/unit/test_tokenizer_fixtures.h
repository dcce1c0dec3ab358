/* Fixture helpers shared by the tokenizer and prompt tests (static functions; included by test_tokenizer*.c and
 * test_prompt.c): zstd-compressed fixture files from tests/fixtures/tokenizer (written by
 * tests/ref/gen_tokenizer_fixtures.py), the corpus, id lines, and the tokenizers the fixtures were made with.
 * Dependencies: core/core.h, text/tokenizer.h, helpers/testutil.h, libzstd, cJSON, Criterion. */
#ifndef HB_TEST_TOKENIZER_FIXTURES_H
#define HB_TEST_TOKENIZER_FIXTURES_H

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "text/tokenizer.h"

/* Decompress a whole .zst file (streaming: the frames written by the zstd CLI from a pipe have no content size). */
static uint8_t *tf_unzstd(const uint8_t *src, size_t n, size_t *out_len) {
    ZSTD_DStream *z = ZSTD_createDStream();
    ZSTD_initDStream(z);
    hb_buf b = {0};
    ZSTD_inBuffer in = {src, n, 0};
    uint8_t chunk[1 << 16];
    while (in.pos < in.size) {
        ZSTD_outBuffer out = {chunk, sizeof chunk, 0};
        size_t r = ZSTD_decompressStream(z, &out, &in);
        cr_assert(!ZSTD_isError(r), "zstd: %s", ZSTD_getErrorName(r));
        hb_buf_append(&b, chunk, out.pos);
        if (r == 0 && in.pos == in.size) break;
    }
    for (;;) { /* flush what is still buffered */
        ZSTD_outBuffer out = {chunk, sizeof chunk, 0};
        size_t r = ZSTD_decompressStream(z, &out, &in);
        cr_assert(!ZSTD_isError(r));
        hb_buf_append(&b, chunk, out.pos);
        if (out.pos < sizeof chunk) break;
    }
    ZSTD_freeDStream(z);
    hb_buf_cstr(&b);
    *out_len = b.len;
    return b.data;
}

/* tests/fixtures/tokenizer/<name>, decompressed when it ends in .zst; NUL-terminated. */
static uint8_t *tf_fixture(const char *name, size_t *len) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/tokenizer/%s", name);
    char *p = tu_repo(rel);
    size_t n;
    uint8_t *raw = tu_read(p, &n);
    cr_assert(raw, "cannot read %s (run from the repository root)", p);
    free(p);
    size_t l = strlen(name);
    if (l > 4 && !strcmp(name + l - 4, ".zst")) {
        uint8_t *d = tf_unzstd(raw, n, len);
        free(raw);
        return d;
    }
    *len = n;
    return raw;
}

/* Lines of a buffer (the final '\n' does not start an extra line). The pointers point into data. */
typedef struct {
    size_t n;
    const char **s;
    size_t *len;
} tf_lines;

__attribute__((unused)) static tf_lines tf_split(const uint8_t *data, size_t n) {
    tf_lines l = {0};
    size_t cap = 1024;
    l.s = malloc(cap * sizeof *l.s);
    l.len = malloc(cap * sizeof *l.len);
    for (size_t i = 0; i < n;) {
        const uint8_t *q = memchr(data + i, '\n', n - i);
        size_t e = q ? (size_t)(q - data) : n;
        if (l.n == cap) {
            cap *= 2;
            l.s = realloc(l.s, cap * sizeof *l.s);
            l.len = realloc(l.len, cap * sizeof *l.len);
        }
        l.s[l.n] = (const char *)data + i;
        l.len[l.n++] = e - i;
        i = e + 1;
    }
    return l;
}

__attribute__((unused)) static void tf_lines_free(tf_lines *l) {
    free(l->s);
    free(l->len);
}

/* The corpus: entry i is corpus[i] (bytes, any content). */
typedef struct {
    size_t n;
    hb_buf *e;
} tf_corpus;

__attribute__((unused)) static int tf_hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10; }

__attribute__((unused)) static tf_corpus tf_load_corpus(void) {
    size_t n;
    uint8_t *d = tf_fixture("corpus.txt.zst", &n);
    tf_lines l = tf_split(d, n);
    tf_corpus c = {l.n, calloc(l.n, sizeof(hb_buf))};
    for (size_t i = 0; i < l.n; i++) {
        if (l.len[i] >= 2 && l.s[i][0] == 'x' && l.s[i][1] == ' ') {
            for (size_t k = 2; k + 1 < l.len[i]; k += 2)
                hb_buf_put_u8(&c.e[i], (uint8_t)(tf_hexval(l.s[i][k]) * 16 + tf_hexval(l.s[i][k + 1])));
        } else {
            hb_err e;
            cr_assert_eq(hb_tok_parse_json_string(l.s[i], l.len[i], &c.e[i], &e), 0, "corpus line %zu: %s", i + 1, e.reason);
        }
    }
    tf_lines_free(&l);
    free(d);
    cr_assert_geq(c.n, 10000);
    return c;
}

__attribute__((unused)) static void tf_corpus_free(tf_corpus *c) {
    for (size_t i = 0; i < c->n; i++) hb_buf_free(&c->e[i]);
    free(c->e);
}

__attribute__((unused)) static const char *tf_text(const hb_buf *b) { return b->data ? (const char *)b->data : ""; }

/* "1 2 3" -> ids (cleared first) */
__attribute__((unused)) static void tf_parse_ids(const char *s, size_t n, hb_tok_ids *out) {
    out->n = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && s[i] == ' ') i++;
        if (i >= n) break;
        long v = 0;
        int neg = 0;
        if (s[i] == '-') neg = 1, i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
        hb_tok_ids_push(out, (int32_t)(neg ? -v : v));
    }
}

/* The newer LLaMA tokenizer.json layout: no normalizer, Metaspace pre-tokenizer and decoder. */
__attribute__((unused)) static char *tf_metaspace_json(const char *path) {
    size_t n;
    uint8_t *d = tu_read(path, &n);
    cr_assert(d);
    cJSON *root = cJSON_ParseWithLength((const char *)d, n);
    free(d);
    cr_assert(root);
    cJSON_ReplaceItemInObject(root, "normalizer", cJSON_CreateNull());
    cJSON *pre = cJSON_Parse("{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":false}");
    cJSON *dec = cJSON_Parse("{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\",\"split\":false}");
    cJSON_ReplaceItemInObject(root, "pre_tokenizer", pre);
    cJSON_ReplaceItemInObject(root, "decoder", dec);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Corpus entries covered by a tokenizer's fixtures: every stride-th one. */
__attribute__((unused)) static size_t tf_stride(const char *which) {
    if (!strcmp(which, "llama_metaspace")) return 5;
    if (!strncmp(which, "tiny_", 5)) return 10;
    return 1;
}

/* "llama_json", "mistral_json", "llama_model" (the real LLaMA-2 tokenizer.model), "llama_metaspace", "tiny_fuse",
 * "tiny_nofuse_bytes". */
__attribute__((unused)) static hb_tokenizer *tf_tokenizer(const char *which) {
    hb_tokenizer *t = NULL;
    hb_err e;
    if (!strcmp(which, "llama_model") || !strncmp(which, "tiny_", 5)) {
        char f[128];
        snprintf(f, sizeof f, "%s", !strcmp(which, "llama_model") ? "llama2.model.zst" : which);
        if (strncmp(which, "tiny_", 5) == 0) snprintf(f, sizeof f, "%s.json.zst", which);
        size_t n;
        uint8_t *d = tf_fixture(f, &n);
        cr_assert_eq(hb_tok_load_mem(d, n, f, &t, &e), 0, "%s: %s", f, e.reason);
        free(d);
        return t;
    }
    char *path = tu_shared(!strcmp(which, "mistral_json") ? "fixtures/tokenizers/mistral/tokenizer.json"
                                                          : "fixtures/tokenizers/llama/tokenizer.json");
    if (!strcmp(which, "llama_metaspace")) {
        char *js = tf_metaspace_json(path);
        cr_assert_eq(hb_tok_load_mem(js, strlen(js), "metaspace.json", &t, &e), 0, "%s", e.reason);
        free(js);
    } else {
        cr_assert_eq(hb_tok_load(path, &t, &e), 0, "%s", e.reason);
    }
    free(path);
    return t;
}

/* A printable excerpt of bytes for failure messages. */
__attribute__((unused)) static const char *tf_show(const uint8_t *s, size_t n, char *buf, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 8 < cap; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') buf[k++] = (char)s[i];
        else k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", s[i]);
    }
    buf[k] = 0;
    return buf;
}

__attribute__((unused)) static const char *tf_ids_str(const int32_t *ids, size_t n, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && k + 16 < cap; i++) k += (size_t)snprintf(buf + k, cap - k, i ? " %d" : "%d", ids[i]);
    return buf;
}

#endif
