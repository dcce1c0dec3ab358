/* lib/text/tokenizer: exact ids and decoded text against the references on 10,000+ strings (HF `tokenizers` for
 * the LLaMA, Mistral and Metaspace-layout tokenizer.json; `sentencepiece` for the real LLaMA-2 tokenizer.model),
 * the shared golden OwlEval ids, invalid UTF-8, plain-text specials, threads and the word cache.
 * Fixtures: tests/ref/gen_tokenizer_fixtures.py. */
#include <criterion/criterion.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "test_tokenizer_fixtures.h"

/* Encode every corpus entry and compare with <which>.ids.zst (llama_model: "~" = same as llama_json). */
static void check_corpus(const char *which) {
    hb_tokenizer *t = tf_tokenizer(which);
    tf_corpus c = tf_load_corpus();
    char name[128];
    snprintf(name, sizeof name, "%s.ids.zst", which);
    size_t n, nref = 0;
    uint8_t *d = tf_fixture(name, &n), *dref = NULL;
    tf_lines l = tf_split(d, n), lref = {0};
    if (!strcmp(which, "llama_model")) {
        dref = tf_fixture("llama_json.ids.zst", &nref);
        lref = tf_split(dref, nref);
    }
    size_t stride = tf_stride(which);
    cr_assert_eq(l.n, (c.n + stride - 1) / stride, "%s: %zu lines for %zu corpus entries", name, l.n, c.n);
    hb_tok_scratch *s = hb_tok_scratch_new();
    hb_tok_ids got = {0}, want = {0};
    size_t bad = 0, checked = 0, tokens = 0;
    for (size_t i = 0; i < l.n; i++) {
        const hb_buf *txt = &c.e[i * stride];
        if (dref && l.len[i] == 1 && l.s[i][0] == '~')
            tf_parse_ids(lref.s[i], lref.len[i], &want);
        else
            tf_parse_ids(l.s[i], l.len[i], &want);
        got.n = 0;
        hb_tok_encode(t, s, tf_text(txt), txt->len, &got);
        checked++;
        tokens += got.n;
        if (got.n != want.n || (got.n && memcmp(got.ids, want.ids, got.n * sizeof *got.ids))) {
            if (bad++ < 5) {
                char a[512], b[2048], e[2048];
                cr_log_error("%s entry %zu \"%s\":\n  hb:  %s\n  ref: %s", which, i * stride, tf_show(txt->data, txt->len, a, sizeof a),
                             tf_ids_str(got.ids, got.n, b, sizeof b), tf_ids_str(want.ids, want.n, e, sizeof e));
            }
        }
    }
    cr_assert_eq(bad, 0, "%s: %zu of %zu corpus entries differ from the reference", which, bad, checked);
    cr_assert_gt(tokens, 50000 / stride);
    hb_tok_ids_free(&got);
    hb_tok_ids_free(&want);
    hb_tok_scratch_free(s);
    tf_lines_free(&l);
    tf_lines_free(&lref);
    free(d);
    free(dref);
    tf_corpus_free(&c);
    hb_tok_free(t);
}

Test(tokenizer, llama_json_corpus_matches_hf_tokenizers, .timeout = 120) { check_corpus("llama_json"); }
Test(tokenizer, mistral_json_corpus_matches_hf_tokenizers, .timeout = 120) { check_corpus("mistral_json"); }
Test(tokenizer, llama2_model_corpus_matches_sentencepiece, .timeout = 120) { check_corpus("llama_model"); }
Test(tokenizer, metaspace_layout_corpus_matches_hf_tokenizers, .timeout = 120) { check_corpus("llama_metaspace"); }
Test(tokenizer, tiny_fused_unk_corpus_matches_hf_tokenizers, .timeout = 120) { check_corpus("tiny_fuse"); }
Test(tokenizer, tiny_partial_byte_fallback_corpus_matches_hf_tokenizers, .timeout = 120) { check_corpus("tiny_nofuse_bytes"); }

/* decode(reference ids) == the reference's decoded text: <which>.decode.zst ("=" means the original text). */
static void check_decode(const char *which) {
    hb_tokenizer *t = tf_tokenizer(which);
    tf_corpus c = tf_load_corpus();
    char name[128];
    size_t n1, n2, n3 = 0;
    snprintf(name, sizeof name, "%s.ids.zst", !strcmp(which, "llama_model") ? "llama_json" : which);
    uint8_t *di = tf_fixture(name, &n1);
    snprintf(name, sizeof name, "%s.decode.zst", which);
    uint8_t *dd = tf_fixture(name, &n2);
    tf_lines li = tf_split(di, n1), ld = tf_split(dd, n2);
    cr_assert_eq(li.n, ld.n);
    size_t stride = tf_stride(which);
    hb_tok_ids ids = {0};
    hb_buf got = {0}, want = {0};
    size_t bad = 0;
    hb_err e;
    for (size_t i = 0; i < li.n; i++) {
        tf_parse_ids(li.s[i], li.len[i], &ids);
        got.len = 0;
        cr_assert_eq(hb_tok_decode(t, ids.ids, ids.n, &got, &e), 0, "%s", e.reason);
        const hb_buf *ref;
        if (ld.len[i] == 1 && ld.s[i][0] == '=') {
            ref = &c.e[i * stride];
        } else {
            cr_assert_eq(hb_tok_parse_json_string(ld.s[i], ld.len[i], &want, &e), 0);
            ref = &want;
        }
        if (got.len != ref->len || memcmp(tf_text(&got), tf_text(ref), got.len)) {
            if (bad++ < 5) {
                char a[512], b[512];
                cr_log_error("%s decode of entry %zu:\n  hb:  \"%s\"\n  ref: \"%s\"", which, i * stride, tf_show(got.data, got.len, a, sizeof a),
                             tf_show(ref->data, ref->len, b, sizeof b));
            }
        }
    }
    cr_assert_eq(bad, 0, "%s: %zu decodes differ", which, bad);
    /* random id sequences: byte-piece runs (valid and invalid UTF-8), specials, "▁" pieces */
    snprintf(name, sizeof name, "%s.randdecode.zst", which);
    uint8_t *dr = tf_fixture(name, &n3), *dri = tf_fixture("randids.txt.zst", &n1);
    tf_lines lr = tf_split(dr, n3), lri = tf_split(dri, n1);
    cr_assert_eq(lr.n, lri.n);
    for (size_t i = 0; i < lr.n; i++) {
        tf_parse_ids(lri.s[i], lri.len[i], &ids);
        for (size_t k = 0; k < ids.n; k++) ids.ids[k] %= hb_tok_vocab_size(t); /* the tiny vocabularies */
        got.len = 0;
        cr_assert_eq(hb_tok_decode(t, ids.ids, ids.n, &got, &e), 0);
        cr_assert_eq(hb_tok_parse_json_string(lr.s[i], lr.len[i], &want, &e), 0);
        if (got.len != want.len || memcmp(tf_text(&got), tf_text(&want), got.len)) {
            if (bad++ < 5) {
                char a[512], b[512], x[1024];
                cr_log_error("%s decode of random ids [%s]:\n  hb:  \"%s\"\n  ref: \"%s\"", which, tf_ids_str(ids.ids, ids.n, x, sizeof x),
                             tf_show(got.data, got.len, a, sizeof a), tf_show(want.data, want.len, b, sizeof b));
            }
        }
    }
    cr_assert_eq(bad, 0, "%s: %zu random-id decodes differ", which, bad);
    hb_tok_ids_free(&ids);
    hb_buf_free(&got);
    hb_buf_free(&want);
    tf_lines_free(&li), tf_lines_free(&ld), tf_lines_free(&lr), tf_lines_free(&lri);
    free(di), free(dd), free(dr), free(dri);
    tf_corpus_free(&c);
    hb_tok_free(t);
}

Test(tokenizer, llama_json_decode_matches_hf_tokenizers, .timeout = 60) { check_decode("llama_json"); }
Test(tokenizer, mistral_json_decode_matches_hf_tokenizers, .timeout = 60) { check_decode("mistral_json"); }
Test(tokenizer, llama2_model_decode_matches_sentencepiece, .timeout = 60) { check_decode("llama_model"); }
Test(tokenizer, metaspace_layout_decode_matches_hf_tokenizers, .timeout = 60) { check_decode("llama_metaspace"); }
Test(tokenizer, tiny_fused_unk_decode_matches_hf_tokenizers, .timeout = 60) { check_decode("tiny_fuse"); }
Test(tokenizer, tiny_partial_byte_fallback_decode_matches_hf_tokenizers, .timeout = 60) { check_decode("tiny_nofuse_bytes"); }

/* ../shared golden file: 580 real texts with LLaMA ids from an independent implementation (llama-tokenizer-js). */
Test(tokenizer, golden_owleval_ids_and_roundtrip, .timeout = 60) {
    const char *which[] = {"llama_json", "llama_model"};
    char *path = tu_shared("fixtures/tokenizers/llama/golden_owleval.jsonl");
    size_t n;
    uint8_t *d = tu_read(path, &n);
    cr_assert(d, "cannot read %s", path);
    tf_lines l = tf_split(d, n);
    cr_assert_eq(l.n, 580);
    for (int w = 0; w < 2; w++) {
        hb_tokenizer *t = tf_tokenizer(which[w]);
        hb_tok_scratch *s = hb_tok_scratch_new();
        hb_tok_ids got = {0};
        hb_buf dec = {0};
        hb_err e;
        for (size_t i = 0; i < l.n; i++) {
            cJSON *o = cJSON_ParseWithLength(l.s[i], l.len[i]);
            cr_assert(o);
            const char *text = cJSON_GetObjectItem(o, "text")->valuestring;
            cJSON *ids = cJSON_GetObjectItem(o, "ids");
            got.n = 0;
            hb_tok_encode(t, s, text, strlen(text), &got);
            cr_assert_eq(got.n, (size_t)cJSON_GetArraySize(ids), "%s line %zu: %zu ids, want %d", which[w], i + 1, got.n,
                         cJSON_GetArraySize(ids));
            for (size_t k = 0; k < got.n; k++)
                cr_assert_eq(got.ids[k], cJSON_GetArrayItem(ids, (int)k)->valueint, "%s line %zu id %zu", which[w], i + 1, k);
            dec.len = 0;
            cr_assert_eq(hb_tok_decode(t, got.ids, got.n, &dec, &e), 0);
            int same = dec.len == strlen(text) && !memcmp(tf_text(&dec), text, dec.len);
            cr_assert_eq(same, cJSON_IsTrue(cJSON_GetObjectItem(o, "roundtrip")), "%s line %zu roundtrip", which[w], i + 1);
            cJSON_Delete(o);
        }
        hb_tok_ids_free(&got);
        hb_buf_free(&dec);
        hb_tok_scratch_free(s);
        hb_tok_free(t);
    }
    tf_lines_free(&l);
    free(d);
    free(path);
}

static void encode_str(const hb_tokenizer *t, const char *s, size_t n, hb_tok_ids *out) {
    out->n = 0;
    hb_tok_encode(t, NULL, s, n, out);
}

static int same_ids(const hb_tok_ids *a, const hb_tok_ids *b) {
    return a->n == b->n && (!a->n || !memcmp(a->ids, b->ids, a->n * sizeof *a->ids));
}

/* The documented invalid-UTF-8 rule: each byte that does not start a valid sequence reads as one U+FFFD. */
Test(tokenizer, invalid_utf8_reads_as_one_replacement_per_byte) {
    static const struct {
        const char *bad, *good;
    } cases[] = {
        {"a\x80" "b", "a\xef\xbf\xbd" "b"},
        {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"},                         /* truncated 3-byte: two bytes, two U+FFFD */
        {"x\xc0\xaf", "x\xef\xbf\xbd\xef\xbf\xbd"},                       /* overlong */
        {"\xed\xa0\x80 z", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd z"},     /* surrogate */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* above U+10FFFF */
        {"\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf0\x9f\x90\x9d\xf0\x9f", "\xf0\x9f\x90\x9d\xef\xbf\xbd\xef\xbf\xbd"},
    };
    const char *which[] = {"llama_json", "llama_model", "mistral_json"};
    for (int w = 0; w < 3; w++) {
        hb_tokenizer *t = tf_tokenizer(which[w]);
        hb_tok_ids a = {0}, b = {0};
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            encode_str(t, cases[i].bad, strlen(cases[i].bad), &a);
            encode_str(t, cases[i].good, strlen(cases[i].good), &b);
            cr_assert(same_ids(&a, &b), "%s case %zu", which[w], i);
            cr_assert_gt(a.n, 0);
        }
        hb_tok_ids_free(&a);
        hb_tok_ids_free(&b);
        hb_tok_free(t);
    }
}

/* Literal "<s>", "</s>", "<unk>" are text: never the control ids 0, 1, 2. */
Test(tokenizer, literal_special_tokens_are_plain_text) {
    const char *which[] = {"llama_json", "llama_model", "mistral_json", "llama_metaspace"};
    const char *texts[] = {"<s>", "</s>", "<unk>", "a <s> b </s> c <unk>", "<s></s><unk>"};
    for (int w = 0; w < 4; w++) {
        hb_tokenizer *t = tf_tokenizer(which[w]);
        cr_assert_eq(hb_tok_bos(t), 1);
        cr_assert_eq(hb_tok_eos(t), 2);
        cr_assert_eq(hb_tok_unk(t), 0);
        hb_tok_ids a = {0};
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            encode_str(t, texts[i], strlen(texts[i]), &a);
            cr_assert_gt(a.n, 1);
            for (size_t k = 0; k < a.n; k++) cr_assert_gt(a.ids[k], 2, "%s \"%s\" gave control id %d", which[w], texts[i], a.ids[k]);
        }
        hb_tok_ids_free(&a);
        hb_tok_free(t);
    }
}

Test(tokenizer, known_ids_and_pieces) {
    hb_tokenizer *t = tf_tokenizer("llama_json");
    hb_tok_ids a = {0};
    encode_str(t, "Hello", 5, &a);
    cr_assert_eq(a.n, 1);
    cr_assert_eq(a.ids[0], 15043); /* "▁Hello" */
    encode_str(t, "\nAI: ", 5, &a);  /* spec-data.md §7.2: "▁", "<0x0A>", "AI", ":", "▁" */
    int32_t want[] = {29871, 13, 23869, 29901, 29871};
    cr_assert_eq(a.n, 5);
    for (int i = 0; i < 5; i++) cr_assert_eq(a.ids[i], want[i]);
    size_t l;
    const char *p = hb_tok_piece(t, 13, &l);
    cr_assert(l == 6 && !memcmp(p, "<0x0A>", 6));
    cr_assert_null(hb_tok_piece(t, 32000, &l));
    cr_assert_null(hb_tok_piece(t, -1, &l));
    cr_assert_eq(hb_tok_vocab_size(t), 32000);
    encode_str(t, "", 0, &a);
    cr_assert_eq(a.n, 0);
    hb_buf b = {0};
    hb_err e;
    int32_t bad[] = {15043, 32000};
    cr_assert_eq(hb_tok_decode(t, bad, 2, &b, &e), HB_ERANGE);
    cr_assert(strstr(e.reason, "position 1"), "%s", e.reason);
    cr_assert_eq(b.len, 0);
    int32_t neg[] = {-1};
    cr_assert_eq(hb_tok_decode(t, neg, 1, &b, &e), HB_ERANGE);
    hb_buf_free(&b);
    hb_tok_ids_free(&a);
    hb_tok_free(t);
}

/* Threads share one tokenizer, each with its own scratch; the cache, a reused scratch across tokenizers and the
 * NULL scratch all give the single-threaded ids. */
Test(tokenizer, threads_cache_and_scratch_reuse_give_identical_ids, .timeout = 180) {
    hb_tokenizer *t = tf_tokenizer("llama_json"), *m = tf_tokenizer("mistral_json");
    tf_corpus c = tf_load_corpus();
    size_t n = c.n;
    hb_tok_ids *ref = calloc(n, sizeof *ref), *par = calloc(n, sizeof *par);
    hb_tok_scratch *s = hb_tok_scratch_new();
    for (size_t i = 0; i < n; i++) hb_tok_encode(t, NULL, tf_text(&c.e[i]), c.e[i].len, &ref[i]);
#pragma omp parallel num_threads(4)
    {
        hb_tok_scratch *ts = hb_tok_scratch_new();
#pragma omp for schedule(dynamic, 7)
        for (size_t i = 0; i < n; i++) hb_tok_encode(t, ts, tf_text(&c.e[i]), c.e[i].len, &par[i]);
        hb_tok_scratch_free(ts);
    }
    hb_tok_ids x = {0}, y = {0};
    for (size_t i = 0; i < n; i++) {
        cr_assert(same_ids(&ref[i], &par[i]), "threaded encode differs at entry %zu", i);
        /* the same scratch alternating between two tokenizers: its word cache must not leak across them */
        x.n = y.n = 0;
        hb_tok_encode(t, s, tf_text(&c.e[i]), c.e[i].len, &x);
        hb_tok_encode(m, s, tf_text(&c.e[i]), c.e[i].len, &y);
        cr_assert(same_ids(&ref[i], &x), "scratch reuse differs at entry %zu", i);
        x.n = 0;
        hb_tok_encode(m, NULL, tf_text(&c.e[i]), c.e[i].len, &x);
        cr_assert(same_ids(&x, &y), "mistral with a shared scratch differs at entry %zu", i);
    }
    /* appending: encode appends after what is there */
    x.n = 0;
    hb_tok_ids_push(&x, 7);
    size_t k = hb_tok_encode(t, s, "Hello", 5, &x);
    cr_assert(k == 1 && x.n == 2 && x.ids[0] == 7 && x.ids[1] == 15043);
    for (size_t i = 0; i < n; i++) hb_tok_ids_free(&ref[i]), hb_tok_ids_free(&par[i]);
    free(ref);
    free(par);
    hb_tok_ids_free(&x);
    hb_tok_ids_free(&y);
    hb_tok_scratch_free(s);
    tf_corpus_free(&c);
    hb_tok_free(t);
    hb_tok_free(m);
}
