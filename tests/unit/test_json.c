/* lib/json: the streaming splitter on real files, against a whole-document cJSON parse on random documents,
 * malformed and truncated input, and bounded memory on a generated file of several hundred MB. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "json/json.h"

/* Split path/select fully; returns the record count and checks that every record's bytes are at its offset. */
static int64_t split_all(const char *path, const char *select, int lines, cJSON *out_array) {
    hb_jsplit *s;
    hb_err e;
    int rc = lines ? hb_jsplit_open_lines(&s, path, &e) : hb_jsplit_open(&s, path, select, &e);
    cr_assert_eq(rc, 0, "%s", e.reason);
    size_t flen;
    uint8_t *file = tu_read(path, &flen);
    cr_assert(file);
    int64_t n = 0;
    for (;;) {
        hb_jrec r;
        rc = hb_jsplit_next(s, &r, &e);
        cr_assert_eq(rc, 0, "%s at %lld", e.reason, e.offset);
        if (!r.data) break;
        cr_assert_eq(r.data[r.len], 0);
        cr_assert(r.offset >= 0 && (size_t)r.offset + r.len <= flen);
        cr_assert(!memcmp(file + r.offset, r.data, r.len), "record %lld is not the bytes at its offset", (long long)n);
        cJSON *j;
        cr_assert_eq(hb_jrec_parse(&r, path, &j, &e), 0, "%s", e.reason);
        if (out_array) {
            if (r.key) cJSON_AddItemToObject(out_array, r.key, j);
            else cJSON_AddItemToArray(out_array, j);
        } else
            cJSON_Delete(j);
        if (!lines) cr_assert_eq(r.index, n);
        n++;
    }
    hb_jsplit_close(s);
    free(file);
    return n;
}

Test(json, real_files) {
    struct {
        const char *rel, *select;
        int lines;
        int64_t n;
    } cases[] = {
        {"fixtures/real/vsr/random_train.excerpt.jsonl", NULL, 1, 100},
        {"fixtures/real/vsr/all_vsr_raw_data.excerpt.jsonl", NULL, 1, 30},
        {"fixtures/real/vqav2/v2_OpenEnded_mscoco_train2014_questions.excerpt.json", "questions", 0, 3},
        {"fixtures/real/vqav2/v2_mscoco_train2014_annotations.excerpt-trimmed.json", "annotations", 0, 3},
        {"fixtures/real/gqa/balanced_questions.excerpt_202218649.json", "", 0, 1},
        {"fixtures/real/scienceqa/problems.excerpt150.json", "", 0, 150},
        {"fixtures/real/scienceqa/pid_splits.json", "train", 0, 12726},
        {"fixtures/real/llava/blip_laion_cc_sbu_558k.excerpt300.json", "", 0, 287},
        {"fixtures/real/sharegpt/ShareGPT_V4.3_unfiltered_cleaned_split.excerpt1.json", "", 0, 1},
        {"fixtures/real/visual_genome/question_answers.excerpt.json", "", 0, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *p = tu_shared(cases[i].rel);
        cr_assert_eq(split_all(p, cases[i].select, cases[i].lines, NULL), cases[i].n, "%s", cases[i].rel);
        free(p);
    }
}

Test(json, object_keys_and_escaped_keys) {
    char *d = tu_mkdtemp();
    char *p = hb_path_join(d, "k.json");
    const char *doc = "\xEF\xBB\xBF {\"a\\\"b\": 1, \"caf\\u00e9\": [1,2], \"\\ud83d\\ude00\": {\"x\": \"}\"}, \"\": null}";
    cr_assert_eq(tu_write(p, doc, strlen(doc)), 0);
    hb_jsplit *s;
    hb_err e;
    cr_assert_eq(hb_jsplit_open(&s, p, "", &e), 0, "%s", e.reason);
    cr_assert(hb_jsplit_is_object(s));
    const char *keys[] = {"a\"b", "caf\xC3\xA9", "\xF0\x9F\x98\x80", ""};
    const char *vals[] = {"1", "[1,2]", "{\"x\": \"}\"}", "null"};
    for (int i = 0; i < 4; i++) {
        hb_jrec r;
        cr_assert_eq(hb_jsplit_next(s, &r, &e), 0, "%s", e.reason);
        cr_assert_str_eq(r.key, keys[i]);
        cr_assert_str_eq(r.data, vals[i]);
    }
    hb_jrec r;
    cr_assert_eq(hb_jsplit_next(s, &r, &e), 0);
    cr_assert_null(r.data);
    hb_jsplit_close(s);
    tu_rmtree(d);
    free(p);
    free(d);
}

/* ---- random documents across many 1 MiB chunk boundaries, checked against one cJSON parse of the whole ---- */
static void rand_str(hb_rng *r, hb_buf *b) {
    static const char *const bits[] = {"a", "\\\"", "\\\\", "]", "}", "[", "{", ",", ":", "\\u00e9", "\\ud83d\\ude00",
                                       "héllo", " ", "\\n", "\\/"};
    hb_buf_putc(b, '"');
    int n = (int)hb_rng_below(r, 40);
    for (int i = 0; i < n; i++) hb_buf_puts(b, bits[hb_rng_below(r, sizeof bits / sizeof *bits)]);
    hb_buf_putc(b, '"');
}

static void rand_value(hb_rng *r, hb_buf *b, int depth) {
    int k = (int)hb_rng_below(r, depth > 4 ? 4 : 7);
    static const char *const ws[] = {"", " ", "\n  ", "\t"};
    switch (k) {
    case 0: rand_str(r, b); break;
    case 1: hb_buf_printf(b, "%lld", (long long)hb_rng_below(r, 1ull << 40) - (1ll << 39)); break;
    case 2: hb_buf_printf(b, "%.6g", hb_rng_uniform(r) * 1e3); break;
    case 3: hb_buf_puts(b, hb_rng_below(r, 3) == 0 ? "true" : hb_rng_below(r, 2) ? "false" : "null"); break;
    default: {
        int obj = k == 4 || k == 6, n = (int)hb_rng_below(r, 6);
        hb_buf_putc(b, obj ? '{' : '[');
        for (int i = 0; i < n; i++) {
            if (i) hb_buf_putc(b, ',');
            hb_buf_puts(b, ws[hb_rng_below(r, 4)]);
            if (obj) {
                hb_buf_printf(b, "\"k%d\"", i);
                hb_buf_puts(b, ws[hb_rng_below(r, 4)]);
                hb_buf_putc(b, ':');
            }
            rand_value(r, b, depth + 1);
        }
        hb_buf_puts(b, ws[hb_rng_below(r, 4)]);
        hb_buf_putc(b, obj ? '}' : ']');
    }
    }
}

Test(json, random_documents_match_whole_parse) {
    char *d = tu_mkdtemp();
    char *p = hb_path_join(d, "r.json");
    for (int doc = 0; doc < 4; doc++) {
        hb_rng r = hb_rng_make(77, (uint64_t)doc);
        hb_buf b = {0};
        int obj = doc % 2;
        const char *select = doc >= 2 ? "data.items" : "";
        if (doc >= 2) hb_buf_puts(&b, "{\"info\": {\"x\": [1, \"]\"]}, \"data\": {\"skip\": \"{\", \"items\": ");
        hb_buf_putc(&b, obj ? '{' : '[');
        int64_t n = 0;
        while (b.len < (3u << 20) + 1234) { /* several chunk boundaries */
            if (n) hb_buf_puts(&b, n % 3 ? ",\n" : " , ");
            if (obj) hb_buf_printf(&b, "\"q%lld\": ", (long long)n);
            rand_value(&r, &b, 0);
            n++;
        }
        hb_buf_puts(&b, obj ? "\n}" : "\n]");
        if (doc >= 2) hb_buf_puts(&b, ", \"after\": 1}, \"tail\": [}");  /* not scanned: nested selection stops early */
        else hb_buf_puts(&b, "\n");
        cr_assert_eq(tu_write(p, b.data, b.len), 0);
        cJSON *whole = doc >= 2 ? NULL : cJSON_ParseWithLength((const char *)b.data, b.len);
        cr_assert(doc >= 2 || whole);
        cJSON *got = obj ? cJSON_CreateObject() : cJSON_CreateArray();
        cr_assert_eq(split_all(p, select, 0, got), n);
        if (whole) { /* walk both in order (cJSON_Compare on objects is quadratic) */
            const cJSON *a = whole->child, *g = got->child;
            for (; a && g; a = a->next, g = g->next) {
                cr_assert(cJSON_Compare(a, g, 1), "doc %d differs from the whole parse", doc);
                cr_assert(!obj || !strcmp(a->string, g->string));
            }
            cr_assert(!a && !g);
        }
        cJSON_Delete(whole);
        cJSON_Delete(got);
        hb_buf_free(&b);
    }
    tu_rmtree(d);
    free(p);
    free(d);
}

/* ---- malformed input ---- */
static int split_text(const char *dir, const char *text, const char *select, int lines, int64_t *nrec, hb_err *e) {
    char *p = hb_path_join(dir, "m.json");
    cr_assert_eq(tu_write(p, text, strlen(text)), 0);
    hb_jsplit *s;
    int rc = lines ? hb_jsplit_open_lines(&s, p, e) : hb_jsplit_open(&s, p, select, e);
    *nrec = 0;
    while (!rc) {
        hb_jrec r;
        rc = hb_jsplit_next(s, &r, e);
        if (rc || !r.data) break;
        (*nrec)++;
    }
    if (s) hb_jsplit_close(s);
    free(p);
    return rc;
}

Test(json, malformed_structure_is_an_error_with_offset) {
    char *d = tu_mkdtemp();
    struct {
        const char *text, *select;
        int code;
        long long offset;
    } bad[] = {
        {"[{\"a\": 1}, {\"a\": 2]", "", HB_EFORMAT, 18},        /* ']' closes an object */
        {"[1, 2 3]", "", HB_EFORMAT, 6},                          /* missing comma */
        {"[1, 2] x", "", HB_EFORMAT, 7},                          /* trailing data */
        {"[\"abc", "", HB_EFORMAT, 5},                            /* unterminated string */
        {"[{\"a\": [1, 2}", "", HB_EFORMAT, 12},                  /* mismatched */
        {"[1, 2,", "", HB_EFORMAT, 6},                            /* truncated */
        {"", "", HB_EFORMAT, 0},                                  /* empty */
        {"\"just a string\"", "", HB_EFORMAT, 0},                /* not a container */
        {"{\"a\": 1}", "questions", HB_ENOTFOUND, 7},             /* missing member */
        {"[1]", "questions", HB_EFORMAT, 0},                      /* selector into an array */
        {"{\"questions\": 5}", "questions", HB_EFORMAT, 14},      /* selected value is a scalar */
        {"[1, @]", "", HB_EFORMAT, 4},                            /* garbage */
        {"{\"a\" 1}", "", HB_EFORMAT, 5},                         /* missing colon */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hb_err e;
        int64_t n;
        int rc = split_text(d, bad[i].text, bad[i].select, 0, &n, &e);
        cr_assert_eq(rc, bad[i].code, "case %zu (%s): rc %d %s", i, bad[i].text, rc, rc ? e.reason : "");
        cr_assert(strstr(e.file, "m.json"), "case %zu", i);
        cr_assert_eq(e.offset, bad[i].offset, "case %zu: offset %lld (%s)", i, e.offset, e.reason);
    }
    /* a too-deep record */
    hb_buf b = {0};
    hb_buf_putc(&b, '[');
    for (int i = 0; i < 2000; i++) hb_buf_putc(&b, '[');
    hb_err e;
    int64_t n;
    cr_assert_eq(split_text(d, hb_buf_cstr(&b), "", 0, &n, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "nesting"));
    hb_buf_free(&b);
    cr_assert_eq(split_text(d, "x", "", 0, &n, &e), HB_EFORMAT);
    /* JSON Lines given where one document is expected: said so */
    cr_assert_eq(split_text(d, "{\"id\": 1, \"image\": \"a.jpg\"}\n{\"id\": 2, \"image\": \"b.jpg\"}\n", "", 0, &n, &e),
                 HB_EFORMAT);
    cr_assert(strstr(e.reason, "JSON Lines") && e.offset == 28, "%lld %s", e.offset, e.reason);
    /* a Git LFS pointer (a clone without git-lfs) in place of the data */
    cr_assert_eq(split_text(d, "version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 4200000000\n", "", 0, &n,
                            &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "Git LFS pointer") && strstr(e.reason, "git lfs pull"), "%s", e.reason);
    cr_assert_eq(split_text(d, "version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 42\n", "", 1, &n, &e),
                 HB_EFORMAT, "JSON Lines too");
    tu_rmtree(d);
    free(d);
}

Test(json, truncation_at_every_length_is_detected) {
    char *d = tu_mkdtemp();
    const char *doc = "{\"info\": {\"v\": \"2.0\"}, \"questions\": [{\"image_id\": 1, \"question\": \"What \\\"is\\\" it?\"}, "
                      "{\"image_id\": 2, \"question\": \"a]b}\"}]}";
    size_t n = strlen(doc);
    char *cut = hb_xmalloc(n + 1);
    for (size_t k = 0; k < n; k++) {
        memcpy(cut, doc, k);
        cut[k] = 0;
        hb_err e;
        int64_t nrec;
        int rc = split_text(d, cut, "questions", 0, &nrec, &e);
        /* every prefix that ends before the array closes must fail; records already yielded are whole */
        if (k < n - 1) cr_assert_neq(rc, 0, "prefix of %zu bytes accepted", k);
        cr_assert(nrec <= 2);
    }
    free(cut);
    tu_rmtree(d);
    free(d);
}

Test(json, bad_record_is_skippable) {
    char *d = tu_mkdtemp();
    char *p = hb_path_join(d, "b.json");
    const char *doc = "[{\"a\": 1}, {\"a\": tru}, {\"a\": 3}]";
    cr_assert_eq(tu_write(p, doc, strlen(doc)), 0);
    hb_jsplit *s;
    hb_err e;
    cr_assert_eq(hb_jsplit_open(&s, p, "", &e), 0);
    int ok = 0, bad = 0;
    for (;;) {
        hb_jrec r;
        cr_assert_eq(hb_jsplit_next(s, &r, &e), 0, "%s", e.reason);
        if (!r.data) break;
        cJSON *j;
        if (hb_jrec_parse(&r, p, &j, &e)) {
            bad++;
            cr_assert_eq(e.record, 1);
            cr_assert_eq(e.offset, 17, "%lld", e.offset);
            continue;
        }
        ok++;
        cJSON_Delete(j);
    }
    cr_assert_eq(ok, 2);
    cr_assert_eq(bad, 1);
    hb_jsplit_close(s);
    tu_rmtree(d);
    free(p);
    free(d);
}

Test(json, lines_mode) {
    char *d = tu_mkdtemp();
    hb_err e;
    int64_t n;
    cr_assert_eq(split_text(d, "{\"a\":1}\r\n\n   \n{\"a\":2}\n{\"a\":3}", NULL, 1, &n, &e), 0);
    cr_assert_eq(n, 3);
    char *p = hb_path_join(d, "l.jsonl");
    const char *doc = "{\"a\":1}\n\n{\"a\": 2} junk\r\n{\"a\":3}\n";
    cr_assert_eq(tu_write(p, doc, strlen(doc)), 0);
    hb_jsplit *s;
    cr_assert_eq(hb_jsplit_open_lines(&s, p, &e), 0);
    hb_jrec r;
    cr_assert_eq(hb_jsplit_next(s, &r, &e), 0);
    cr_assert_eq(r.index, 0);
    cr_assert_eq(hb_jsplit_next(s, &r, &e), 0);
    cr_assert_eq(r.index, 2, "blank lines count as lines");
    cr_assert_str_eq(r.data, "{\"a\": 2} junk");
    cJSON *j;
    cr_assert_eq(hb_jrec_parse(&r, p, &j, &e), HB_EFORMAT, "trailing junk on a line is malformed");
    cr_assert_eq(e.record, 2);
    cr_assert_eq(hb_jsplit_next(s, &r, &e), 0);
    cr_assert_eq(r.index, 3);
    cr_assert_eq(r.offset, 24);
    cr_assert_eq(hb_jsplit_next(s, &r, &e), 0);
    cr_assert_null(r.data);
    hb_jsplit_close(s);
    cr_assert_eq(hb_jsplit_open_lines(&s, "/nonexistent/x.jsonl", &e), HB_ENOTFOUND);
    cr_assert_str_eq(e.file, "/nonexistent/x.jsonl");
    tu_rmtree(d);
    free(p);
    free(d);
}

Test(json, typed_getters) {
    cJSON *o = cJSON_Parse("{\"s\": \"x\", \"i\": 458752000, \"f\": 1.5, \"n\": null, \"big\": 1e300}");
    long long i;
    double f;
    char buf[32];
    cr_assert_str_eq(hb_jstr(o, "s"), "x");
    cr_assert_null(hb_jstr(o, "i"));
    cr_assert_eq(hb_jint(o, "i", &i), 0);
    cr_assert_eq(i, 458752000);
    cr_assert_eq(hb_jint(o, "f", &i), -1);
    cr_assert_eq(hb_jint(o, "big", &i), -1);
    cr_assert_eq(hb_jnum(o, "f", &f), 0);
    cr_assert_eq(hb_jint(o, "n", &i), -1);
    cr_assert_str_eq(hb_jid(o, "i", buf, sizeof buf), "458752000");
    cr_assert_str_eq(hb_jid(o, "s", buf, sizeof buf), "x");
    cr_assert_null(hb_jid(o, "f", buf, sizeof buf));
    cJSON_Delete(o);
}

/* ---- several hundred MB, streamed in bounded memory (GQA-shaped: an object of question records) ---- */
Test(json, huge_file_bounded_memory, .timeout = 120) {
    char *d = tu_mkdtemp();
    char *p = hb_path_join(d, "huge.json");
    FILE *f = fopen(p, "wb");
    cr_assert(f);
#ifdef __SANITIZE_ADDRESS__
    const uint64_t target = 48ull << 20; /* ASan's quarantine keeps freed memory: RSS is checked in the plain build */
#else
    const uint64_t target = 320ull << 20;
#endif
    uint64_t written = 1, n = 0;
    fputc('{', f);
    char rec[1024];
    while (written < target) {
        int len = snprintf(rec, sizeof rec,
                           "%s\"%llu\": {\"semantic\": [{\"operation\": \"select\", \"dependencies\": [], \"argument\": "
                           "\"chalkboard (0)\"}, {\"operation\": \"relate\", \"dependencies\": [0], \"argument\": "
                           "\"_,hanging above,s (12)\"}], \"question\": \"What is hanging above the chalkboard %llu?\", "
                           "\"imageId\": \"n%llu\", \"answer\": \"picture\", \"fullAnswer\": \"The picture is hanging "
                           "above the chalkboard.\"}",
                           n ? ",\n" : "\n", (unsigned long long)(202218649 + n), (unsigned long long)n,
                           (unsigned long long)(n / 7));
        fwrite(rec, 1, (size_t)len, f);
        written += (uint64_t)len;
        n++;
    }
    /* one record far bigger than a chunk */
    fputs(",\n\"big\": {\"question\": \"", f);
    for (int i = 0; i < 24; i++) {
        memset(rec, 'x', sizeof rec);
        for (int k = 0; k < 1024; k++) fwrite(rec, 1, sizeof rec, f);
    }
    fputs("\", \"answer\": \"y\"}\n}\n", f);
    cr_assert_eq(fclose(f), 0);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    hb_jsplit *s;
    hb_err e;
    cr_assert_eq(hb_jsplit_open(&s, p, "", &e), 0);
    uint64_t got = 0, qbytes = 0;
    for (;;) {
        hb_jrec r;
        cr_assert_eq(hb_jsplit_next(s, &r, &e), 0, "%s", e.reason);
        if (!r.data) break;
        cJSON *j;
        cr_assert_eq(hb_jrec_parse(&r, p, &j, &e), 0, "%s", e.reason);
        const char *q = hb_jstr(j, "question");
        cr_assert(q);
        qbytes += strlen(q);
        cJSON_Delete(j);
        got++;
    }
    cr_assert_eq(got, n + 1);
    cr_assert(qbytes > 24u << 20);
    size_t peak = hb_jsplit_peak(s);
    hb_jsplit_close(s);
    getrusage(RUSAGE_SELF, &ru1);
    /* the buffer holds at most the largest record (24 MiB) plus a chunk, growing by doubling */
    cr_assert(peak <= 64u << 20, "splitter buffer peaked at %zu bytes", peak);
    long grew_kb = ru1.ru_maxrss - ru0.ru_maxrss;
#ifndef __SANITIZE_ADDRESS__
    cr_assert(ru1.ru_maxrss < 200 * 1024, "peak RSS %ld KiB while streaming a %llu MiB file (grew %ld KiB)",
              ru1.ru_maxrss, (unsigned long long)(written >> 20), grew_kb);
#else
    (void)grew_kb;
#endif
    tu_rmtree(d);
    free(p);
    free(d);
}
