/* Fuzz the tokenizer loaders (lib/text/tokenizer_json.c for tokenizer.json, spm_model.c for tokenizer.model; the
 * format is detected from the bytes) on arbitrary file bytes. A tokenizer that loads must encode and decode: every
 * id it produces is in range and decodes. Seeds: tests/fuzz/corpus/tokenizer_load (small tokenizer.json variants
 * and a small SentencePiece BPE model). */
#include "fuzz.h"
#include "text/prompt.h"
#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hb_err e;
    hb_err_clear(&e);
    hb_tokenizer *t = NULL;
    int rc = hb_tok_load_mem(data, size, "fuzz-tokenizer", &t, &e);
    if (rc) {
        /* a tokenizer.model whose own self-test samples fail: HB_EINTERNAL, as sentencepiece's InternalError (the
         * file or hb is wrong; test_tokenizer_spm.c checks this on purpose) */
        if (!(rc == HB_EINTERNAL && strstr(e.reason, "self-test sample"))) fz_check_err(rc, &e);
        FZ_ASSERT(t == NULL, "tokenizer returned with an error");
        return 0;
    }
    int32_t V = hb_tok_vocab_size(t);
    FZ_ASSERT(V > 0, "empty vocabulary loaded");
    char desc[512];
    hb_tok_describe(t, desc, sizeof desc);
    hb_tok_scratch *s = hb_tok_scratch_new();
    hb_tok_ids ids = {0};
    static const char *const texts[] = {"Hello world", " \t\n<s> </s>", "\xff\xfe\xc3", "北京 🐝 abc", "",
                                        "  leading and trailing  ", "a\0b"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        hb_tok_encode(t, s, texts[i], i == 6 ? 3 : strlen(texts[i]), &ids);
    for (size_t i = 0; i < ids.n; i++) FZ_ASSERT(ids.ids[i] >= 0 && ids.ids[i] < V, "id %d out of [0, %d)", ids.ids[i], V);
    hb_buf b = {0};
    hb_err_clear(&e);
    rc = hb_tok_decode(t, ids.ids, ids.n, &b, &e);
    FZ_ASSERT(rc == 0, "decoding its own ids failed: %s", e.reason);
    /* every id decodes on its own, and its piece can be looked up */
    for (int32_t id = 0; id < V && id < 4096; id++) {
        size_t len;
        FZ_ASSERT(hb_tok_piece(t, id, &len) != NULL, "id %d has no piece", id);
        hb_buf_clear(&b);
        rc = hb_tok_decode(t, &id, 1, &b, &e);
        FZ_ASSERT(rc == 0, "id %d does not decode: %s", id, e.reason);
    }
    int32_t bad = V;
    hb_buf_clear(&b);
    FZ_ASSERT(hb_tok_decode(t, &bad, 1, &b, &e) == HB_ERANGE, "id %d (= vocab size) decoded", V);
    if (hb_tok_bos(t) >= 0 && hb_tok_eos(t) >= 0) {
        hb_prompt_opts o = {.max_length = 64, .n_visual = 3};
        hb_prompt_enc enc = {0};
        const char *p = "SYSTEM\nHuman: <image>\nHuman: what?\nAI: this";
        hb_err_clear(&e);
        rc = hb_prompt_encode(t, s, p, strlen(p), &o, &enc, &e);
        FZ_ASSERT(rc == 0, "prompt: %s", e.reason);
        hb_prompt_enc_free(&enc);
    }
    hb_buf_free(&b);
    hb_tok_ids_free(&ids);
    hb_tok_scratch_free(s);
    hb_tok_free(t);
    return 0;
}
