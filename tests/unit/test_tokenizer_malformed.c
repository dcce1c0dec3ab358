/* lib/text/tokenizer: malformed and unsupported inputs get clear errors, never crashes: files that are not
 * tokenizers, Git LFS pointers, truncated and bit-flipped tokenizer.model files, broken or unsupported
 * tokenizer.json content, and malformed JSON lines for hb-tok. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "test_tokenizer_fixtures.h"

static int load(const void *d, size_t n, hb_err *e) {
    hb_tokenizer *t = NULL;
    int rc = hb_tok_load_mem(d, n, "x", &t, e);
    if (!rc) {
        /* whatever loads must encode and decode without trouble */
        hb_tok_ids ids = {0};
        const char *texts[] = {"Hello world", " \t\n<s>", "\xff\xfe", "北京 🐝", ""};
        for (int i = 0; i < 5; i++) hb_tok_encode(t, NULL, texts[i], strlen(texts[i]), &ids);
        hb_buf b = {0};
        hb_tok_decode(t, ids.ids, ids.n, &b, e);
        hb_buf_free(&b);
        hb_tok_ids_free(&ids);
        hb_tok_free(t);
    } else {
        cr_assert_null(t);
        cr_assert(e->reason[0], "an error without a reason");
    }
    return rc;
}

Test(tokenizer_malformed, not_a_tokenizer) {
    hb_err e;
    cr_assert_eq(load("", 0, &e), HB_EFORMAT);
    cr_assert_eq(load("hello", 5, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "not a tokenizer"), "%s", e.reason);
    const char *lfs = "version https://git-lfs.github.com/spec/v1\noid sha256:9e556afd44213b6bd1be2b850ebbbd98f5481437a8021"
                      "afaf58ee7fb1818d347\nsize 499723\n";
    cr_assert_eq(load(lfs, strlen(lfs), &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "Git LFS"), "%s", e.reason);
    cr_assert_neq(load("[1, 2]", 6, &e), 0);
    cr_assert_eq(load("{\"a\": 1}", 8, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "model"), "%s", e.reason);
    cr_assert_eq(load("{\"model\": ", 10, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "invalid JSON"), "%s", e.reason);
    hb_tokenizer *t;
    cr_assert_neq(hb_tok_load("/nonexistent/tokenizer.model", &t, &e), 0);
    cr_assert(strstr(e.file, "/nonexistent/tokenizer.model"));
    cr_assert_eq(hb_tok_load("/tmp", &t, &e), HB_EINVAL);
}

Test(tokenizer_malformed, truncated_and_corrupted_model_files, .timeout = 120) {
    size_t n;
    uint8_t *d = tf_fixture("llama2.model.zst", &n);
    hb_err e;
    cr_assert_eq(load(d, n, &e), 0, "%s", e.reason);
    /* every cut loses the trainer spec (written after the pieces) or cuts a field: always an error */
    for (size_t cut = 1; cut < n; cut += cut < 64 ? 1 : 4099) {
        cr_assert_neq(load(d, cut, &e), 0, "a model cut at byte %zu loaded", cut);
    }
    /* random byte changes: an error or a model that still works */
    hb_rng r = hb_rng_make(42, 1);
    uint8_t *c = malloc(n);
    int failed = 0;
    for (int k = 0; k < 150; k++) {
        memcpy(c, d, n);
        int flips = 1 + (int)hb_rng_below(&r, 4);
        for (int f = 0; f < flips; f++) c[hb_rng_below(&r, n)] ^= (uint8_t)(1 + hb_rng_below(&r, 255));
        failed += load(c, n, &e) != 0;
    }
    cr_assert_gt(failed, 0);
    /* a unigram model (model_type = 1) is refused by name: find trainer_spec field 3 (key 0x18) and change it */
    memcpy(c, d, n);
    uint8_t *p = memmem(c, n, "\x18\x02\x20", 3); /* model_type = BPE, then vocab_size */
    cr_assert(p, "could not find model_type in the fixture");
    p[1] = 1;
    cr_assert_eq(load(c, n, &e), HB_EUNSUPPORTED);
    cr_assert(strstr(e.reason, "UNIGRAM"), "%s", e.reason);
    free(c);
    free(d);
}

/* A small valid tokenizer.json, patched into invalid or unsupported variants. */
static const char *TINY =
    "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},"
    "{\"id\":1,\"content\":\"<s>\",\"special\":true},{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},\"pre_tokenizer\":null,"
    "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},"
    "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \","
    "\"start\":1,\"stop\":0}]},\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"fuse_unk\":true,"
    "\"byte_fallback\":false,\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"\\u2581\":3,\"a\":4,\"b\":5,\"\\u2581a\":6,"
    "\"ab\":7,\"\\u2581ab\":8},\"merges\":[\"\\u2581 a\",\"a b\",\"\\u2581a b\"]}}";

static int load_patched(const char *path, const char *json_value, hb_err *e) {
    cJSON *root = cJSON_Parse(TINY);
    cr_assert(root);
    if (path) {
        cJSON *obj = root;
        char key[64];
        const char *p = path, *dot;
        while ((dot = strchr(p, '.'))) {
            snprintf(key, sizeof key, "%.*s", (int)(dot - p), p);
            obj = cJSON_GetObjectItem(obj, key);
            p = dot + 1;
        }
        cJSON *v = cJSON_Parse(json_value);
        cr_assert(v, "bad test value %s", json_value);
        if (cJSON_GetObjectItem(obj, p))
            cJSON_ReplaceItemInObject(obj, p, v);
        else
            cJSON_AddItemToObject(obj, p, v);
    }
    char *s = cJSON_PrintUnformatted(root);
    int rc = load(s, strlen(s), e);
    free(s);
    cJSON_Delete(root);
    return rc;
}

Test(tokenizer_malformed, tokenizer_json_errors_name_the_problem) {
    hb_err e;
    cr_assert_eq(load_patched(NULL, NULL, &e), 0, "the base tokenizer must load: %s", e.reason);
    struct {
        const char *path, *value, *expect;
        int code;
    } cases[] = {
        {"model.type", "\"Unigram\"", "only BPE", HB_EUNSUPPORTED},
        {"model.merges", "[\"a zz\"]", "merges[0]", HB_EFORMAT},
        {"model.merges", "[\"ab\"]", "merges[0]", HB_EFORMAT},
        {"model.merges", "[\"a b\", 7]", "merges[1]", HB_EFORMAT},
        {"model.vocab", "{\"<unk>\":0,\"a\":5}", "no token has id 3", HB_EFORMAT},
        {"model.vocab", "{\"<unk>\":0,\"a\":-3}", "non-negative integer", HB_EFORMAT},
        {"model.vocab", "{\"<unk>\":0,\"a\":0}", "used by", HB_EFORMAT},
        {"model.vocab", "[]", "vocab must be an object", HB_EFORMAT},
        {"model.unk_token", "\"<oov>\"", "not in model.vocab", HB_EFORMAT},
        {"model.unk_token", "null", "no unk_token", HB_EUNSUPPORTED},
        {"model.dropout", "0.1", "dropout", HB_EUNSUPPORTED},
        {"model.continuing_subword_prefix", "\"##\"", "continuing_subword_prefix", HB_EUNSUPPORTED},
        {"normalizer", "{\"type\":\"NFKC\"}", "\"NFKC\"", HB_EUNSUPPORTED},
        {"normalizer", "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\"\\u2581\"}", "Replace", HB_EUNSUPPORTED},
        {"pre_tokenizer", "{\"type\":\"ByteLevel\"}", "\"ByteLevel\"", HB_EUNSUPPORTED},
        {"pre_tokenizer", "{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":true}",
         "split=true", HB_EUNSUPPORTED},
        {"decoder", "{\"type\":\"WordPiece\"}", "\"WordPiece\"", HB_EUNSUPPORTED},
        {"added_tokens", "[{\"id\":\"x\"}]", "added_tokens[0]", HB_EFORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = load_patched(cases[i].path, cases[i].value, &e);
        cr_assert_eq(rc, cases[i].code, "%s=%s: rc %d (%s)", cases[i].path, cases[i].value, rc, e.reason);
        cr_assert(strstr(e.reason, cases[i].expect), "%s=%s: reason \"%s\" lacks \"%s\"", cases[i].path, cases[i].value,
                  e.reason, cases[i].expect);
    }
    /* random byte changes to the JSON text: an error or a tokenizer that works */
    hb_rng r = hb_rng_make(43, 2);
    size_t n = strlen(TINY);
    char *c = malloc(n + 1);
    int failed = 0;
    for (int k = 0; k < 400; k++) {
        memcpy(c, TINY, n + 1);
        int flips = 1 + (int)hb_rng_below(&r, 3);
        for (int f = 0; f < flips; f++) c[hb_rng_below(&r, n)] ^= (char)(1 + hb_rng_below(&r, 255));
        failed += load(c, n, &e) != 0;
    }
    cr_assert_gt(failed, 100);
    free(c);
    /* a UTF-8 byte order mark before the JSON is fine */
    hb_buf bom = {0};
    hb_buf_puts(&bom, "\xef\xbb\xbf");
    hb_buf_puts(&bom, TINY);
    cr_assert_eq(load(bom.data, bom.len, &e), 0, "%s", e.reason);
    hb_buf_free(&bom);
    /* merges as pairs (the newer format) and an added token beyond the vocabulary are fine */
    cr_assert_eq(load_patched("model.merges", "[[\"\\u2581\",\"a\"],[\"a\",\"b\"]]", &e), 0, "%s", e.reason);
    cr_assert_eq(load_patched("added_tokens", "[{\"id\":9,\"content\":\"<pad>\",\"special\":true}]", &e), 0, "%s", e.reason);
}

Test(tokenizer_malformed, json_lines) {
    hb_buf b = {0};
    hb_tok_ids ids = {0};
    hb_err e;
    cr_assert_eq(hb_tok_parse_json_string(" \"a\\u0000b\\ud83d\\udc1d\\n\" ", 26, &b, &e), 0, "%s", e.reason);
    cr_assert(b.len == 8 && !memcmp(b.data, "a\0b\xf0\x9f\x90\x9d\n", 8));
    cr_assert_eq(hb_tok_parse_json_string("\"\xff raw\"", 7, &b, &e), 0);
    cr_assert(b.len == 5 && b.data[0] == 0xff);
    const char *bad_str[] = {"", "abc", "\"abc", "\"a\" x", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00x\"",
                             "\"tab\there\"", "[1]", "\"a\\"};
    for (size_t i = 0; i < sizeof bad_str / sizeof *bad_str; i++) {
        cr_assert_eq(hb_tok_parse_json_string(bad_str[i], strlen(bad_str[i]), &b, &e), HB_EFORMAT, "accepted %s", bad_str[i]);
        cr_assert_geq(e.offset, 0);
    }
    const char *ok = " [ 1, -2 ,2147483647 ] ";
    cr_assert_eq(hb_tok_parse_json_ids(ok, strlen(ok), &ids, &e), 0, "%s", e.reason);
    cr_assert(ids.n == 3 && ids.ids[0] == 1 && ids.ids[1] == -2 && ids.ids[2] == 2147483647);
    cr_assert_eq(hb_tok_parse_json_ids("[]", 2, &ids, &e), 0);
    cr_assert_eq(ids.n, 0);
    const char *bad_ids[] = {"", "[", "[1,]", "[,1]", "[1 2]", "[1.5]", "[1e3]", "[2147483648]", "[\"1\"]", "[1] x", "{}", "[-]"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++)
        cr_assert_eq(hb_tok_parse_json_ids(bad_ids[i], strlen(bad_ids[i]), &ids, &e), HB_EFORMAT, "accepted %s", bad_ids[i]);
    hb_buf_free(&b);
    hb_tok_ids_free(&ids);
}

/* Found by fuzzing (fuzz_tokenizer_load, fuzz_tokenizer) with clang's UBSan, which checks what gcc's does not: an
 * empty piece, the empty text and a decoder-less tokenizer reached memcmp / pointer arithmetic on the NULL data of an
 * empty buffer. These calls must work (and do not trip -fsanitize=undefined under clang: `make fuzz`). */
Test(tokenizer_malformed, empty_pieces_and_empty_text) {
    hb_err e;
    cJSON *root = cJSON_Parse(TINY);
    cJSON *vocab = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "vocab");
    cJSON_AddNumberToObject(vocab, "", 9);
    cJSON_ReplaceItemInObject(root, "decoder", cJSON_CreateNull());
    char *s = cJSON_PrintUnformatted(root);
    hb_tokenizer *t = NULL;
    cr_assert_eq(hb_tok_load_mem(s, strlen(s), "empty-piece", &t, &e), 0, "%s", e.reason);
    hb_tok_scratch *sc = hb_tok_scratch_new();
    hb_tok_ids ids = {0};
    cr_assert_eq(hb_tok_encode(t, sc, "", 0, &ids), 0);
    cr_assert_eq(hb_tok_encode(t, sc, "ab", 2, &ids), 1);
    hb_buf b = {0};
    int32_t empty = 9;
    cr_assert_eq(hb_tok_decode(t, &empty, 1, &b, &e), 0, "%s", e.reason);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(hb_tok_decode(t, ids.ids, ids.n, &b, &e), 0, "%s", e.reason);
    cr_assert(b.len == 5 && !memcmp(b.data, "\xe2\x96\x81" "ab", 5), "no decoder: the piece as it is");
    hb_buf_free(&b);
    hb_tok_ids_free(&ids);
    hb_tok_scratch_free(sc);
    hb_tok_free(t);
    free(s);
    cJSON_Delete(root);
}
