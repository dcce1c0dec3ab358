/* Fuzz the hb.sample/1 record decoder (lib/shard/sample.c) on arbitrary record bytes. A record that decodes must
 * re-encode to the same bytes, and its JSON dump form must parse back (hb_sample_from_json) to the same sample.
 * Seeds: tests/fuzz/corpus/sample (records of the example shard). */
#include "fuzz.h"
#include "shard/shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_err e;
    hb_err_clear(&e);
    hb_sample s;
    int rc = hb_sample_decode(data, size, &s, &a, &e);
    if (rc) {
        fz_check_err(rc, &e);
        hb_arena_free(&a);
        return 0;
    }
    hb_buf b = {0};
    hb_sample_encode(&s, &b);
    FZ_ASSERT(b.len == size && fz_memeq(b.data, data, size), "re-encoding gives %zu bytes, not the %zu decoded", b.len,
              size);
    hb_buf_clear(&b);
    hb_sample_to_json(&s, &b);
    hb_sample t;
    hb_err_clear(&e);
    rc = hb_sample_from_json((const char *)b.data, b.len, &t, &a, &e);
    FZ_ASSERT(rc == 0, "the dump of a decoded sample does not parse back: %s: %.*s", e.reason, (int)(b.len > 400 ? 400 : b.len),
              (const char *)b.data);
    FZ_ASSERT(t.n_tokens == s.n_tokens && t.n_turns == s.n_turns && t.n_images == s.n_images &&
                  t.n_records == s.n_records,
              "dump round trip changed the counts");
    FZ_ASSERT(fz_memeq(t.tokens, s.tokens, 4ull * s.n_tokens) && fz_memeq(t.loss_mask, s.loss_mask, s.n_tokens),
              "dump round trip changed the tokens");
    hb_buf_free(&b);
    hb_arena_free(&a);
    return 0;
}
