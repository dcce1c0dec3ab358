/* Fuzz the JSON form of a sample (hb_sample_from_json, what hb-inspect pack reads) on arbitrary text. A line that
 * parses must encode to a record that decodes, and dump to JSON that parses back (to the same record when the line
 * is valid UTF-8).
 * Seeds: tests/fuzz/corpus/sample_json (lines of examples/shard/samples.jsonl). */
#include "fuzz.h"
#include "shard/shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_err e;
    hb_err_clear(&e);
    hb_sample s;
    int rc = hb_sample_from_json((const char *)data, size, &s, &a, &e);
    if (rc) {
        fz_check_err(rc, &e);
        hb_arena_free(&a);
        return 0;
    }
    hb_buf rec = {0}, js = {0}, rec2 = {0};
    hb_sample_encode(&s, &rec);
    hb_sample d;
    hb_err_clear(&e);
    rc = hb_sample_decode(rec.data, rec.len, &d, &a, &e);
    FZ_ASSERT(rc == 0, "a parsed JSON sample encodes to a record that does not decode: %s", e.reason);
    hb_sample_to_json(&d, &js);
    hb_sample t;
    hb_err_clear(&e);
    rc = hb_sample_from_json((const char *)js.data, js.len, &t, &a, &e);
    FZ_ASSERT(rc == 0, "dump does not parse back: %s", e.reason);
    hb_sample_encode(&t, &rec2);
    /* lossless for valid UTF-8 (invalid bytes are dumped as \u00XX, docs/shard-format.md) */
    if (fz_valid_utf8(data, size))
        FZ_ASSERT(rec.len == rec2.len && fz_memeq(rec.data, rec2.data, rec.len), "JSON -> record -> JSON -> record differs");
    hb_buf_free(&rec);
    hb_buf_free(&rec2);
    hb_buf_free(&js);
    hb_arena_free(&a);
    return 0;
}
