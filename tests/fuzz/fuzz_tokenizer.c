/* Fuzz encoding, decoding and the prompt encoder (lib/text/tokenizer*.c, prompt.c) with the real LLaMA tokenizers:
 * ../shared/fixtures/tokenizers/llama/tokenizer.json (HF) and tests/fixtures/tokenizer/llama2.model.zst
 * (SentencePiece). Byte 0 of the input picks the tokenizer (bit 0) and the mode (bits 1-2); the rest is the text:
 *   0 encode: ids in range; valid UTF-8 without U+2581 round-trips exactly (decode(encode(x)) == x; for the
 *     SentencePiece model only without NUL bytes)
 *   1 decode: the bytes as int32 ids (out-of-range ids must give HB_ERANGE, never a read out of bounds)
 *   2 prompt: Honeybee's chunk-wise prompt encoding with M and max_length from bytes 1-2; checks the invariants
 *   3 the hb-tok line parsers (a JSON string; a JSON array of ids)
 * Seeds: tests/fuzz/corpus/tokenizer (corpus lines and rendered prompts). */
#include "fuzz.h"
#include "text/prompt.h"
#include "text/tokenizer.h"

static hb_tokenizer *tok[2];
static hb_tok_scratch *scratch[2];

static void load_all(void) {
    if (tok[0]) return;
    hb_err e;
    char *p = fz_shared("fixtures/tokenizers/llama/tokenizer.json");
    if (hb_tok_load(p, &tok[0], &e)) {
        fprintf(stderr, "fuzz: %s: %s (set HB_SHARED)\n", p, e.reason);
        abort();
    }
    free(p);
    p = fz_repo("tests/fixtures/tokenizer/llama2.model.zst");
    size_t n, m;
    uint8_t *z = fz_read(p, &n), *d = fz_unzstd(z, n, &m);
    if (hb_tok_load_mem(d, m, p, &tok[1], &e)) {
        fprintf(stderr, "fuzz: %s: %s\n", p, e.reason);
        abort();
    }
    free(z), free(d), free(p);
    scratch[0] = hb_tok_scratch_new();
    scratch[1] = hb_tok_scratch_new();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load_all();
    if (size < 1) return 0;
    int which = data[0] & 1, mode = (data[0] >> 1) & 3;
    const hb_tokenizer *t = tok[which];
    hb_tok_scratch *s = scratch[which];
    int32_t V = hb_tok_vocab_size(t);
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    hb_err e;
    hb_err_clear(&e);
    hb_tok_ids ids = {0};
    hb_buf b = {0};
    if (mode == 0) {
        hb_tok_encode(t, s, text, n, &ids);
        for (size_t i = 0; i < ids.n; i++) FZ_ASSERT(ids.ids[i] >= 0 && ids.ids[i] < V, "id %d out of range", ids.ids[i]);
        int rc = hb_tok_decode(t, ids.ids, ids.n, &b, &e);
        FZ_ASSERT(rc == 0, "decode of encode failed: %s", e.reason);
        /* U+2581 in the text decodes as a space in both references */
        if (fz_valid_utf8((const uint8_t *)text, n) && !memmem(text, n, "\xe2\x96\x81", 3) &&
            (which == 0 || !memchr(text, 0, n)))
            FZ_ASSERT(b.len == n && fz_memeq(b.data, text, n), "decode(encode(x)) != x (%s): %zu bytes -> %zu",
                      which ? "spm" : "hf", n, b.len);
        /* the scratch-less path gives the same ids */
        hb_tok_ids again = {0};
        hb_tok_encode(t, NULL, text, n, &again);
        FZ_ASSERT(again.n == ids.n && fz_memeq(again.ids, ids.ids, 4 * ids.n), "encode differs without the cache");
        hb_tok_ids_free(&again);
    } else if (mode == 1) {
        size_t k = n / 4;
        int32_t *v = malloc(4 * k + 4);
        int oob = 0;
        for (size_t i = 0; i < k; i++) {
            uint32_t u = hb_le32((const uint8_t *)text + 4 * i);
            /* mostly in range, sometimes not */
            v[i] = (u & 0x80000000u) ? (int32_t)u : (int32_t)(u % (uint32_t)(V + 2));
            oob |= v[i] < 0 || v[i] >= V;
        }
        int rc = hb_tok_decode(t, v, k, &b, &e);
        FZ_ASSERT(oob ? rc == HB_ERANGE : rc == 0, "decode rc %d (out of range ids: %d): %s", rc, oob, e.reason);
        free(v);
    } else if (mode == 2) {
        if (n < 2) return 0;
        hb_prompt_opts o = {.max_length = (int32_t)((uint8_t)text[0]) * 4 - 40, .n_visual = (uint8_t)text[1] % 40,
                            .no_eos = text[0] & 1};
        hb_prompt_enc enc = {0};
        int rc = hb_prompt_encode(t, s, text + 2, n - 2, &o, &enc, &e);
        FZ_ASSERT(rc == 0, "prompt encode failed: %s", e.reason);
        FZ_ASSERT(enc.n >= 1 && enc.ids[0] == hb_tok_bos(t) && enc.mask[0] == 0, "no BOS first");
        if (o.max_length > 0) FZ_ASSERT(enc.n <= (size_t)o.max_length + 1, "longer than max_length + 1");
        uint32_t sup = 0, img = 0;
        for (size_t i = 0; i < enc.n; i++) {
            FZ_ASSERT(enc.ids[i] == HB_PROMPT_IMAGE_ID || (enc.ids[i] >= 0 && enc.ids[i] < V), "bad id %d", enc.ids[i]);
            FZ_ASSERT(enc.mask[i] <= 1, "mask value");
            FZ_ASSERT(!(enc.mask[i] && enc.ids[i] == HB_PROMPT_IMAGE_ID), "supervised image position");
            sup += enc.mask[i];
            img += enc.ids[i] == HB_PROMPT_IMAGE_ID;
        }
        FZ_ASSERT(sup == enc.n_supervised, "n_supervised %u, counted %u", enc.n_supervised, sup);
        FZ_ASSERT(img == (uint64_t)enc.n_images * (uint32_t)o.n_visual, "%u image positions for %u images of %d", img,
                  enc.n_images, o.n_visual);
        FZ_ASSERT(enc.n_images <= enc.n_images_in, "more images than markers");
        hb_prompt_enc_free(&enc);
    } else {
        int rc = hb_tok_parse_json_string(text, n, &b, &e);
        if (rc) FZ_ASSERT(rc == HB_EFORMAT && e.offset >= 0 && (size_t)e.offset <= n, "string parse rc %d offset %lld", rc,
                          e.offset);
        rc = hb_tok_parse_json_ids(text, n, &ids, &e);
        if (rc) FZ_ASSERT(rc == HB_EFORMAT, "ids parse rc %d", rc);
    }
    hb_buf_free(&b);
    hb_tok_ids_free(&ids);
    return 0;
}
