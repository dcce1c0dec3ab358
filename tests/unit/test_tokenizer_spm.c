/* lib/text/tokenizer on freshly trained tokenizer.model files: the test trains real BPE models with Debian's
 * sentencepiece tools (spm_train) on the 10,000-string corpus and compares hb with spm_encode / spm_decode on every
 * line of it, plus random id sequences. Models: LLaMA's settings (identity normalizer, byte fallback, split digits,
 * whitespace-only pieces); the default nmt_nfkc charsmap with remove_extra_whitespaces, user-defined and control
 * symbols and no byte fallback; nmt_nfkc_cf without the dummy prefix; and the first model with some pieces marked
 * UNUSED (sentencepiece resegments them), written here by editing the protobuf. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "test_tokenizer_fixtures.h"

static char *dir;

static void setup(void) {
    char *out = NULL;
    int rc = tu_run("command -v spm_train && command -v spm_encode && command -v spm_decode", &out);
    cr_assert_eq(rc, 0, "spm_train/spm_encode/spm_decode not found: install the Debian package `sentencepiece` "
                        "(scripts/deps.sh lists it)");
    free(out);
    dir = tu_mkdtemp();
    cr_assert(dir);
    /* the corpus as raw lines: spm tools read '\n'-separated lines, so embedded newlines split entries */
    tf_corpus c = tf_load_corpus();
    hb_buf b = {0};
    for (size_t i = 0; i < c.n; i++) {
        hb_buf_append(&b, tf_text(&c.e[i]), c.e[i].len);
        hb_buf_putc(&b, '\n');
    }
    char *p = hb_path_join(dir, "lines.txt");
    cr_assert_eq(tu_write(p, b.data, b.len), 0);
    free(p);
    hb_buf_free(&b);
    tf_corpus_free(&c);
}

static void teardown(void) {
    tu_rmtree(dir);
    free(dir);
}

static void train(const char *name, const char *opts) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && spm_train --input=lines.txt --model_prefix=%s --model_type=bpe --num_threads=1 "
             "--shuffle_input_sentence=false --minloglevel=2 %s 2>&1",
             dir, name, opts);
    char *out = NULL;
    int rc = tu_run(cmd, &out);
    cr_assert_eq(rc, 0, "spm_train failed: %s\n%s", cmd, out ? out : "");
    free(out);
}

static uint8_t *read_in_dir(const char *name, size_t *n) {
    char *p = hb_path_join(dir, name);
    uint8_t *d = tu_read(p, n);
    cr_assert(d, "cannot read %s", p);
    free(p);
    return d;
}

/* Encode lines.txt with spm_encode and hb; decode the ids and random ids with spm_decode and hb. */
static void compare(const char *model) {
    char mfile[256], cmd[2048];
    snprintf(mfile, sizeof mfile, "%s.model", model);
    size_t mn;
    uint8_t *md = read_in_dir(mfile, &mn);
    hb_tokenizer *t;
    hb_err e;
    cr_assert_eq(hb_tok_load_mem(md, mn, mfile, &t, &e), 0, "%s: %s", mfile, e.reason);
    free(md);
    snprintf(cmd, sizeof cmd, "cd '%s' && spm_encode --model=%s --output_format=id < lines.txt > %s.ids", dir, mfile, model);
    cr_assert_eq(tu_run(cmd, NULL), 0, "%s", cmd);

    size_t ln, in;
    uint8_t *ld = read_in_dir("lines.txt", &ln);
    snprintf(mfile, sizeof mfile, "%s.ids", model);
    uint8_t *id = read_in_dir(mfile, &in);
    tf_lines L = tf_split(ld, ln), I = tf_split(id, in);
    cr_assert_eq(L.n, I.n, "%s: %zu lines, spm_encode wrote %zu", model, L.n, I.n);
    hb_tok_scratch *s = hb_tok_scratch_new();
    hb_tok_ids got = {0}, want = {0};
    hb_buf ids_in = {0}, expect = {0}, dec = {0};
    size_t bad = 0;
    for (size_t i = 0; i < L.n; i++) {
        got.n = 0;
        hb_tok_encode(t, s, L.s[i], L.len[i], &got);
        tf_parse_ids(I.s[i], I.len[i], &want);
        if (got.n != want.n || (got.n && memcmp(got.ids, want.ids, got.n * 4))) {
            if (bad++ < 5) {
                char a[512], b1[1024], b2[1024];
                cr_log_error("%s line %zu \"%s\":\n  hb:  %s\n  spm: %s", model, i + 1, tf_show((const uint8_t *)L.s[i], L.len[i], a, sizeof a),
                             tf_ids_str(got.ids, got.n, b1, sizeof b1), tf_ids_str(want.ids, want.n, b2, sizeof b2));
            }
        }
        if (want.n) { /* spm_decode reads an empty line as id 0: only non-empty lines are decoded */
            hb_buf_append(&ids_in, I.s[i], I.len[i]);
            hb_buf_putc(&ids_in, '\n');
            cr_assert_eq(hb_tok_decode(t, want.ids, want.n, &expect, &e), 0);
            hb_buf_putc(&expect, '\n');
        }
    }
    cr_assert_eq(bad, 0, "%s: %zu of %zu lines differ from spm_encode", model, bad, L.n);
    /* random ids, biased to byte pieces and the specials */
    hb_rng r = hb_rng_make(7, (uint64_t)hb_hash_str(model, 0));
    int32_t nv = hb_tok_vocab_size(t);
    for (int k = 0; k < 3000; k++) {
        int len = 1 + (int)hb_rng_below(&r, 10);
        want.n = 0;
        for (int j = 0; j < len; j++) {
            uint64_t x = hb_rng_below(&r, 4);
            int32_t v = x == 0 ? (int32_t)hb_rng_below(&r, 3) : x == 1 ? 3 + (int32_t)hb_rng_below(&r, 300) : (int32_t)hb_rng_below(&r, (uint64_t)nv);
            if (v >= nv) v = nv - 1;
            hb_tok_ids_push(&want, v);
            hb_buf_printf(&ids_in, j ? " %d" : "%d", v);
        }
        hb_buf_putc(&ids_in, '\n');
        cr_assert_eq(hb_tok_decode(t, want.ids, want.n, &expect, &e), 0);
        hb_buf_putc(&expect, '\n');
    }
    snprintf(mfile, sizeof mfile, "%s.dec_in", model);
    char *p = hb_path_join(dir, mfile);
    cr_assert_eq(tu_write(p, ids_in.data, ids_in.len), 0);
    free(p);
    snprintf(cmd, sizeof cmd, "cd '%s' && spm_decode --model=%s.model --input_format=id < %s.dec_in > %s.dec_out", dir,
             model, model, model);
    cr_assert_eq(tu_run(cmd, NULL), 0, "%s", cmd);
    snprintf(mfile, sizeof mfile, "%s.dec_out", model);
    size_t on;
    char *out = (char *)read_in_dir(mfile, &on);
    if (on != expect.len || memcmp(out, expect.data, on)) {
        size_t k = 0;
        while (k < on && k < expect.len && out[k] == (char)expect.data[k]) k++;
        char a[256], b[256];
        cr_assert_fail("%s: spm_decode output differs at byte %zu:\n  hb:  \"%s\"\n  spm: \"%s\"", model, k,
                       tf_show(expect.data + k, expect.len - k < 60 ? expect.len - k : 60, a, sizeof a),
                       tf_show((const uint8_t *)out + k, on - k < 60 ? on - k : 60, b, sizeof b));
    }
    free(out);
    hb_buf_free(&ids_in), hb_buf_free(&expect), hb_buf_free(&dec);
    hb_tok_ids_free(&got), hb_tok_ids_free(&want);
    hb_tok_scratch_free(s);
    tf_lines_free(&L), tf_lines_free(&I);
    free(ld), free(id);
    hb_tok_free(t);
}

static uint64_t get_varint(const uint8_t **p);

static const char *LLAMA_LIKE = "--vocab_size=4000 --byte_fallback=true --split_digits=true --normalization_rule_name=identity "
                                "--add_dummy_prefix=true --remove_extra_whitespaces=false --allow_whitespace_only_pieces=true";

TestSuite(tokenizer_spm, .init = setup, .fini = teardown, .timeout = 120);

Test(tokenizer_spm, llama_settings_match_spm_encode_and_decode) {
    train("llama", LLAMA_LIKE);
    compare("llama");
}

Test(tokenizer_spm, nfkc_user_defined_no_byte_fallback_match_spm) {
    train("nfkc", "--vocab_size=3000 '--user_defined_symbols=<image>,[NO_PROMPT],Human:\xe2\x96\x81' "
                  "'--control_symbols=<ctl>'");
    compare("nfkc");
}

/* Corrupted charsmaps (the bulk of an nmt_nfkc model is its normalizer blob): an error or a working tokenizer. */
Test(tokenizer_spm, corrupted_charsmap_is_safe) {
    train("nfkc", "--vocab_size=1000");
    size_t n;
    uint8_t *d = read_in_dir("nfkc.model", &n), *c = malloc(n);
    hb_rng r = hb_rng_make(5, 5);
    const char *texts[] = {"Ｈｅｌｌｏ　ｗｏｒｌｄ ①②③ ﬁ", "  spaces   everywhere  ", "\xef\xbc\xa1\xff\xe2", "한국어 ㈜ ㎏"};
    int loaded = 0;
    for (int k = 0; k < 200; k++) {
        memcpy(c, d, n);
        for (int f = 0; f < 4; f++) c[n / 3 + hb_rng_below(&r, n - n / 3)] ^= (uint8_t)(1 + hb_rng_below(&r, 255));
        hb_tokenizer *t = NULL;
        hb_err e;
        if (hb_tok_load_mem(c, n, "corrupt.model", &t, &e)) continue;
        loaded++;
        hb_tok_ids ids = {0};
        for (int i = 0; i < 4; i++) hb_tok_encode(t, NULL, texts[i], strlen(texts[i]), &ids);
        hb_tok_ids_free(&ids);
        hb_tok_free(t);
    }
    cr_assert_gt(loaded, 0);
    free(c);
    free(d);
}

/* Change the last byte of the first non-empty expected output of the model's self-test samples (field 4). */
static int corrupt_self_test(uint8_t *d, size_t n) {
    const uint8_t *p = d, *end = d + n;
    while (p < end) {
        uint64_t key = get_varint(&p), len = get_varint(&p);
        if (key != (4 << 3 | 2)) {
            p += len;
            continue;
        }
        const uint8_t *q = p, *qe = p + len;
        while (q < qe) {
            uint64_t k = get_varint(&q), l = get_varint(&q);
            const uint8_t *r = q, *re = q + l;
            while (k == (1 << 3 | 2) && r < re) {
                uint64_t k2 = get_varint(&r), l2 = get_varint(&r);
                if (k2 == (2 << 3 | 2) && l2 > 0) {
                    uint8_t *last = d + (r - d) + l2 - 1;
                    *last = *last == 'x' ? 'y' : 'x';
                    return 1;
                }
                r += l2;
            }
            q = re;
        }
        return 0;
    }
    return 0;
}

Test(tokenizer_spm, nfkc_cf_without_dummy_prefix_match_spm) {
    /* with self-test samples in the model: hb runs them at load time */
    train("cf", "--vocab_size=2500 --byte_fallback=true --normalization_rule_name=nmt_nfkc_cf --add_dummy_prefix=false "
                "--self_test_sample_size=100");
    compare("cf");
    size_t n;
    uint8_t *d = read_in_dir("cf.model", &n);
    cr_assert(corrupt_self_test(d, n), "the trained model has no self-test samples");
    hb_tokenizer *t = NULL;
    hb_err e;
    cr_assert_eq(hb_tok_load_mem(d, n, "cf.model", &t, &e), HB_EINTERNAL);
    cr_assert(strstr(e.reason, "self-test"), "%s", e.reason);
    free(d);
}

/* ---- UNUSED pieces: rewrite the trained model's protobuf, marking every 5th multi-character piece UNUSED ---- */
static void put_varint(hb_buf *b, uint64_t v) {
    while (v >= 0x80) hb_buf_put_u8(b, (uint8_t)(v | 0x80)), v >>= 7;
    hb_buf_put_u8(b, (uint8_t)v);
}

static uint64_t get_varint(const uint8_t **p) {
    uint64_t v = 0;
    for (int s = 0;; s += 7) {
        uint8_t c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80)) return v;
    }
}

Test(tokenizer_spm, unused_pieces_are_resegmented_like_spm) {
    train("llama", LLAMA_LIKE);
    size_t n;
    uint8_t *d = read_in_dir("llama.model", &n);
    hb_buf out = {0};
    const uint8_t *p = d, *end = d + n;
    int idx = 0, marked = 0;
    while (p < end) {
        const uint8_t *fs = p;
        uint64_t key = get_varint(&p);
        cr_assert_eq(key & 7, 2, "unexpected top-level wire type");
        uint64_t len = get_varint(&p);
        if (key >> 3 != 1) {
            hb_buf_append(&out, fs, (size_t)(p - fs) + len);
            p += len;
            continue;
        }
        /* a piece: copy its fields, changing type NORMAL -> UNUSED for every 5th piece longer than one byte */
        const uint8_t *q = p, *qe = p + len;
        hb_buf piece = {0};
        size_t plen = 0;
        int type = 1;
        while (q < qe) {
            const uint8_t *gs = q;
            uint64_t k = get_varint(&q);
            if ((k & 7) == 2) {
                uint64_t l = get_varint(&q);
                if (k >> 3 == 1) plen = l;
                q += l;
            } else if ((k & 7) == 5) {
                q += 4;
            } else {
                uint64_t v = get_varint(&q);
                if (k >> 3 == 3) {
                    type = (int)v;
                    continue;
                }
            }
            hb_buf_append(&piece, gs, (size_t)(q - gs));
        }
        if (type == 1 && plen > 1 && idx % 5 == 3) type = 5, marked++;
        if (type != 1) put_varint(&piece, 3 << 3), put_varint(&piece, (uint64_t)type);
        put_varint(&out, 1 << 3 | 2);
        put_varint(&out, piece.len);
        hb_buf_append(&out, piece.data, piece.len);
        hb_buf_free(&piece);
        p = qe;
        idx++;
    }
    cr_assert_gt(marked, 100);
    char *path = hb_path_join(dir, "unused.model");
    cr_assert_eq(tu_write(path, out.data, out.len), 0);
    free(path);
    hb_buf_free(&out);
    free(d);
    compare("unused");
}
