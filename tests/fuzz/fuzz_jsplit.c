/* Fuzz the streaming JSON splitter (lib/json/jsplit.c) on arbitrary file bytes: the first line of the input is the
 * selector ("" = top level, "questions", "a.b"; a first line of "-" reads the rest as JSON Lines), the rest is the
 * file. Every record is parsed with hb_jrec_parse; hb_json_member is tried with the selector too. The fuzz build
 * compiles the splitter with 7-byte read chunks instead of 1 MiB (-DHB_JSPLIT_CHUNK=7), so small inputs cross a
 * chunk boundary everywhere (in strings, escapes, keys, numbers, between records).
 * Seeds: tests/fuzz/corpus/jsplit (the example raw files with their selectors). */
#include "fuzz.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl || nl - data > 64) return 0;
    char sel[65];
    memcpy(sel, data, (size_t)(nl - data));
    sel[nl - data] = 0;
    if (strlen(sel) != (size_t)(nl - data)) return 0;
    size_t n = size - (size_t)(nl - data) - 1;
    char *path = fz_write("x.json", nl + 1, n);
    hb_err e;
    hb_err_clear(&e);
    hb_jsplit *s;
    int lines = !strcmp(sel, "-");
    int rc = lines ? hb_jsplit_open_lines(&s, path, &e) : hb_jsplit_open(&s, path, sel, &e);
    if (rc) {
        fz_check_err(rc, &e);
    } else {
        int64_t last = -1;
        for (;;) {
            hb_jrec rec;
            hb_err_clear(&e);
            rc = hb_jsplit_next(s, &rec, &e);
            if (rc) {
                fz_check_err(rc, &e);
                break;
            }
            if (!rec.data) break;
            FZ_ASSERT(rec.offset >= 0 && (uint64_t)rec.offset + rec.len <= n, "record [%lld, +%zu) outside the file",
                      (long long)rec.offset, rec.len);
            FZ_ASSERT(fz_memeq(rec.data, nl + 1 + rec.offset, rec.len), "record bytes differ from the file's");
            FZ_ASSERT(rec.index > last, "record index did not increase");
            last = rec.index;
            FZ_ASSERT(hb_jsplit_tell(s) <= hb_jsplit_size(s), "tell past the size");
            cJSON *j = NULL;
            hb_err_clear(&e);
            if (hb_jrec_parse(&rec, path, &j, &e) == 0) {
                char buf[32];
                hb_jstr(j, "question");
                hb_jid(j, "image_id", buf, sizeof buf);
                long long v;
                hb_jint(j, "id", &v);
                cJSON_Delete(j);
            } else {
                FZ_ASSERT(e.reason[0], "parse error without a reason");
            }
        }
        hb_jsplit_close(s);
    }
    if (!lines && sel[0]) {
        cJSON *m = NULL;
        hb_err_clear(&e);
        rc = hb_json_member(path, sel, &m, &e);
        if (rc) fz_check_err(rc, &e);
        else cJSON_Delete(m);
    }
    free(path);
    return 0;
}
