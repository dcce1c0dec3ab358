/* lib/text/prompt: Honeybee's chunk-wise prompt encoding against exact expected ids and masks
 * (tests/fixtures/tokenizer/prompt_cases.json, from tests/ref/gen_tokenizer_fixtures.py over sentencepiece and
 * HF tokenizers): VQA multi-turn, captioning ([NO_PROMPT]), an empty answer, truncation (mid-text, an image that
 * does not fit, exact fit), eval prompts with no_eos, literal special tokens, several images. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "test_tokenizer_fixtures.h"
#include "text/prompt.h"

static void check_cases(const char *which) {
    hb_tokenizer *t = tf_tokenizer(which);
    size_t n;
    uint8_t *d = tf_fixture("prompt_cases.json", &n);
    cJSON *cases = cJSON_ParseWithLength((const char *)d, n);
    cr_assert(cJSON_IsArray(cases));
    cr_assert_geq(cJSON_GetArraySize(cases), 15);
    hb_tok_scratch *s = hb_tok_scratch_new();
    hb_prompt_enc enc = {0};
    hb_err e;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        const char *prompt = cJSON_GetObjectItem(c, "prompt")->valuestring;
        hb_prompt_opts o = {cJSON_GetObjectItem(c, "max_length")->valueint, cJSON_GetObjectItem(c, "visual_tokens")->valueint,
                            cJSON_IsTrue(cJSON_GetObjectItem(c, "no_eos"))};
        cr_assert_eq(hb_prompt_encode(t, s, prompt, strlen(prompt), &o, &enc, &e), 0, "%s: %s", name, e.reason);
        const cJSON *ids = cJSON_GetObjectItem(c, "ids"), *mask = cJSON_GetObjectItem(c, "mask");
        cr_assert_eq(enc.n, (size_t)cJSON_GetArraySize(ids), "%s/%s: %zu ids, want %d", which, name, enc.n, cJSON_GetArraySize(ids));
        uint32_t sup = 0, img = 0;
        for (size_t i = 0; i < enc.n; i++) {
            cr_assert_eq(enc.ids[i], cJSON_GetArrayItem(ids, (int)i)->valueint, "%s/%s: id %zu", which, name, i);
            cr_assert_eq(enc.mask[i], cJSON_GetArrayItem(mask, (int)i)->valueint, "%s/%s: mask %zu", which, name, i);
            sup += enc.mask[i];
            img += enc.ids[i] == HB_PROMPT_IMAGE_ID;
        }
        cr_assert_eq(enc.truncated, cJSON_IsTrue(cJSON_GetObjectItem(c, "truncated")), "%s/%s: truncated", which, name);
        cr_assert_eq(enc.n_supervised, sup);
        /* image positions come in complete blocks, except a [NO_PROMPT] image cut by max_length */
        if (o.n_visual > 0 && !(enc.no_prompt && enc.truncated))
            cr_assert_eq(enc.n_images * (uint32_t)o.n_visual, img, "%s/%s: complete images", which, name);
        cr_assert_eq(enc.ids[0], 1, "BOS first");
        if (o.max_length > 0) cr_assert_leq(enc.n, (size_t)o.max_length + 1);
    }
    hb_prompt_enc_free(&enc);
    hb_tok_scratch_free(s);
    cJSON_Delete(cases);
    free(d);
    hb_tok_free(t);
}

Test(prompt, cases_match_reference_llama_json) { check_cases("llama_json"); }
Test(prompt, cases_match_reference_llama2_model) { check_cases("llama_model"); }

static void enc(const hb_tokenizer *t, const char *p, int32_t max_length, int32_t m, int no_eos, hb_prompt_enc *out) {
    hb_prompt_opts o = {max_length, m, no_eos};
    hb_err e;
    cr_assert_eq(hb_prompt_encode(t, NULL, p, strlen(p), &o, out, &e), 0, "%s", e.reason);
}

/* Structure checks that do not depend on the token values. */
Test(prompt, image_counts_roles_and_errors) {
    hb_tokenizer *t = tf_tokenizer("llama_json");
    hb_prompt_enc out = {0};
    /* an image never gets cut: with room for only part of it, it is left out and counted as such */
    enc(t, "sys\nHuman: <image>\nHuman: <image>\nHuman: q\nAI: a", 0, 10, 0, &out);
    cr_assert_eq(out.n_images, 2);
    cr_assert_eq(out.n_images_in, 2);
    cr_assert_eq(out.truncated, 0);
    size_t full = out.n;
    enc(t, "sys\nHuman: <image>\nHuman: <image>\nHuman: q\nAI: a", 20, 10, 0, &out);
    cr_assert_eq(out.n_images, 1);
    cr_assert_eq(out.n_images_in, 2);
    cr_assert_eq(out.truncated, 1);
    cr_assert_lt(out.n, full);
    /* zero visual tokens: images take no positions, and a trailing image never counts as lost */
    enc(t, "x\nHuman: <image>", 0, 0, 0, &out);
    cr_assert_eq(out.n_images, 1);
    for (size_t i = 0; i < out.n; i++) cr_assert_neq(out.ids[i], HB_PROMPT_IMAGE_ID);
    /* [NO_PROMPT] with M larger than max_length: the image itself is cut, n_images says so */
    enc(t, "[NO_PROMPT] <image> a bee", 5, 8, 0, &out);
    cr_assert(out.no_prompt && out.truncated && out.n == 6 && out.n_images == 0 && out.n_images_in == 1);
    /* the answer mask: answers and their EOS only */
    enc(t, "\nHuman: hi\nAI: yo", 0, 1, 0, &out);
    cr_assert_eq(out.ids[out.n - 1], 2);
    cr_assert_eq(out.mask[out.n - 1], 1);
    cr_assert_eq(out.mask[0], 0);
    /* no_eos keeps a mid-sequence EOS but drops the final one */
    enc(t, "\nHuman: hi\nAI: yo\nHuman: again\nAI: ok", 0, 1, 1, &out);
    cr_assert_neq(out.ids[out.n - 1], 2);
    int mid = 0;
    for (size_t i = 0; i < out.n; i++) mid += out.ids[i] == 2;
    cr_assert_eq(mid, 1);
    /* empty prompt: just BOS */
    enc(t, "", 1023, 144, 0, &out);
    cr_assert(out.n == 1 && out.ids[0] == 1 && !out.truncated);
    hb_prompt_opts bad = {10, -1, 0};
    hb_err e;
    cr_assert_eq(hb_prompt_encode(t, NULL, "x", 1, &bad, &out, &e), HB_EINVAL);
    hb_prompt_enc_free(&out);
    hb_tok_free(t);
}
