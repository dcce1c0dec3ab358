/* lib/sources, grounding / conversations / captions: RefCOCO (MDETR and refer with the safe pickle reader), Visual
 * Genome regions and QA, LLaVA instruct and pretrain, ShareGPT and webdataset tars, on real excerpts or examples,
 * with boxes checked against Python's format(x, ".3f") and malformed input. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/srccap.h"
#include "helpers/testutil.h"
#include "sources/sources.h"

#define REAL "@SHARED@/fixtures/real/"
#define EX "@REPO@/examples/"

static void run_ok(const char *yaml, const char *name, sc_capture *c) {
    hb_err e;
    hb_err_clear(&e);
    int rc = sc_run(yaml, name, c, &e);
    cr_assert_eq(rc, 0, "%s: %s (%s)", name, e.reason, e.file);
}

static void run_fail(const char *yaml, const char *name, int code, const char *want, sc_capture *c) {
    hb_err e;
    hb_err_clear(&e);
    int rc = sc_run(yaml, name, c, &e);
    cr_assert_eq(rc, code, "%s: rc %d: %s", name, rc, e.reason);
    cr_assert(strstr(e.reason, want) || strstr(e.file, want), "%s: '%s' not in '%s' / '%s'", name, want, e.reason, e.file);
    sc_free(c);
}

static const char *reason(const sc_capture *c, int i) {
    return cJSON_GetObjectItem(cJSON_GetArrayItem(c->rejects, i), "reason")->valuestring;
}

/* ---------------------------------------------------------------- RefCOCO */
Test(sources_loc, refcoco_mdetr_boxes) {
    sc_capture c;
    run_ok("sources: {r: {dataset: refcocog, files: " EX "refcoco/finetune_refcocog_train.json}}", "r", &c);
    cr_assert_eq(sc_count(&c), 3);
    /* Honeybee's box: x/W, y/H, (x+w)/W, (y+h)/H with 3 decimals (expected strings from Python's format) */
    cr_assert_str_eq(sc_field(&c, 0, "bbox"), "[0.000,0.096,0.373,0.947]");
    cr_assert_str_eq(sc_field(&c, 1, "bbox"), "[0.547,0.125,0.860,0.918]");
    cr_assert_str_eq(sc_field(&c, 2, "bbox"), "[0.243,0.469,0.558,0.746]");
    cr_assert_str_eq(sc_field(&c, 0, "phrase"), "two woman one in black eatting and the other has a white shirt at the desk");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "COCO_train2014_000000519404.jpg");
    cr_assert_str_eq(sc_str(&c, 0, "key"), "262407");
    sc_free(&c);
    run_ok("sources: {r: {dataset: refcoco-mdetr, bbox_decimals: 2, bbox_format: normalize, files: " EX
           "refcoco/finetune_refcocog_train.json}}",
           "r", &c);
    cr_assert_str_eq(sc_field(&c, 2, "bbox"), "[0.24,0.47,0.56,0.75]");
    sc_free(&c);
    run_ok("sources: {r: {dataset: refcoco-mdetr, bbox_format: pixel, files: " EX "refcoco/finetune_refcocog_train.json}}", "r", &c);
    cr_assert_str_eq(sc_field(&c, 0, "bbox"), "[0.000,45.950,238.920,454.590]");
    sc_free(&c);
    char *d = tu_mkdtemp();
    char *f = hb_path_join(d, "m.json");
    const char *bad = "{\"images\": [{\"file_name\": \"a.jpg\", \"height\": 10, \"width\": 10, \"id\": 1, \"caption\": \"x\"}, "
                      "{\"file_name\": \"b.jpg\", \"height\": 10, \"width\": 10, \"id\": 2, \"caption\": \"y\"}], "
                      "\"annotations\": [{\"image_id\": 1, \"bbox\": [1, 2, 3, 4]}, {\"image_id\": 3, \"bbox\": [1, 2, 3, 4]}]}";
    cr_assert_eq(tu_write(f, bad, strlen(bad)), 0);
    char y[1024];
    snprintf(y, sizeof y, "sources: {r: {dataset: refcoco-mdetr, files: %s}}", f);
    run_fail(y, "r", HB_EFORMAT, "paired by position", &c);
    const char *bad2 = "{\"images\": [{\"file_name\": \"a.jpg\", \"height\": 0, \"width\": 10, \"id\": 1, \"caption\": \"x\"}, "
                       "{\"id\": 2}], \"annotations\": [{\"image_id\": 1, \"bbox\": [1, 2, 3, 4]}, {\"image_id\": 2}]}";
    cr_assert_eq(tu_write(f, bad2, strlen(bad2)), 0);
    run_ok(y, "r", &c);
    cr_assert_eq(sc_count(&c), 0);
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 2, "a zero image size, missing fields");
    sc_free(&c);
    free(f);
    tu_rmtree(d);
    free(d);
}

Test(sources_loc, refcoco_refer_pickle_and_instances) {
    sc_capture c;
    const char *y = "sources: {r: {dataset: refcoco-refer, files: {refs: \"" EX "refcoco/refs(unc).p\", instances: " EX
                    "refcoco/instances.json}}}";
    run_ok(y, "r", &c);
    cr_assert_eq(sc_count(&c), 3, "ref 0's three sentences (ref 1 is testA, ref 2's annotation is unknown)");
    cr_assert_str_eq(sc_field(&c, 0, "phrase"), "the lady with the blue shirt");
    cr_assert_str_eq(sc_field(&c, 0, "bbox"), "[0.243,0.469,0.558,0.746]", "the same box as MDETR's for ref 0");
    cr_assert_str_eq(sc_str(&c, 2, "key"), "2");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "COCO_train2014_000000581857.jpg");
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 1);
    cr_assert(strstr(reason(&c, 0), "9999999"));
    sc_free(&c);
    run_ok("sources: {r: {dataset: refcoco-refer, split: all, sentence: raw, files: {refs: \"" EX
           "refcoco/refs(unc).p\", instances: " EX "refcoco/instances.json}}}",
           "r", &c);
    cr_assert_eq(sc_count(&c), 5);
    cr_assert_str_eq(sc_field(&c, 0, "phrase"), "THE LADY WITH THE BLUE SHIRT");
    sc_free(&c);
}

/* ---------------------------------------------------------------- the pickle reader */
static cJSON *load_json(const char *rel) {
    char *p = tu_repo(rel);
    size_t n;
    uint8_t *d = tu_read(p, &n);
    cr_assert(d, "%s", p);
    cJSON *j = cJSON_ParseWithLength((const char *)d, n);
    free(d);
    free(p);
    return j;
}

static int load_pickle(const char *rel, cJSON **out, hb_err *e) {
    char *p = tu_repo(rel);
    int rc = hb_pickle_load(p, out, e);
    free(p);
    return rc;
}

Test(pickle, protocols_0_to_4_match_python) {
    cJSON *want = load_json("tests/fixtures/pickle/refs.json");
    const char *files[] = {"refs_p0.p", "refs_p1.p", "refs_p2.p", "refs_p4.p"};
    for (int i = 0; i < 4; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "tests/fixtures/pickle/%s", files[i]);
        cJSON *got;
        hb_err e;
        cr_assert_eq(load_pickle(rel, &got, &e), 0, "%s: %s at %lld", files[i], e.reason, e.offset);
        char *a = cJSON_PrintUnformatted(got), *b = cJSON_PrintUnformatted(want);
        cr_assert(cJSON_Compare(got, want, 1), "%s:\n%s\nvs\n%s", files[i], a, b);
        free(a), free(b);
        cJSON_Delete(got);
    }
    cJSON_Delete(want);
    cJSON *py2 = load_json("tests/fixtures/pickle/py2.json");
    const char *k[] = {"p2", "p0"}, *f2[] = {"tests/fixtures/pickle/py2_p2.p", "tests/fixtures/pickle/py2_p0.p"};
    for (int i = 0; i < 2; i++) {
        cJSON *got;
        hb_err e;
        cr_assert_eq(load_pickle(f2[i], &got, &e), 0, "%s: %s", f2[i], e.reason);
        cr_assert(cJSON_Compare(got, cJSON_GetObjectItem(py2, k[i]), 1), "%s: %s", f2[i], cJSON_PrintUnformatted(got));
        cJSON_Delete(got);
    }
    cJSON_Delete(py2);
}

Test(pickle, refuses_code_and_malformed_input) {
    cJSON *got = NULL;
    hb_err e;
    cr_assert_eq(load_pickle("tests/fixtures/pickle/evil_global.p", &got, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "refused"), "%s", e.reason);
    cr_assert_eq(e.offset, 19, "the GLOBAL opcode's byte offset");
    cr_assert_null(got);
    /* every truncation of a valid pickle fails cleanly */
    char *p = tu_repo("tests/fixtures/pickle/refs_p2.p");
    size_t n;
    uint8_t *d = tu_read(p, &n);
    for (size_t k = 0; k < n; k++) {
        cr_assert_neq(hb_pickle_parse(d, k, "t.p", &got, &e), 0, "prefix of %zu bytes accepted", k);
        cr_assert_null(got);
    }
    /* every single-byte corruption either fails cleanly or yields some tree (never crashes) */
    for (size_t k = 0; k < n; k++) {
        uint8_t saved = d[k];
        d[k] ^= 0x5a;
        if (!hb_pickle_parse(d, n, "t.p", &got, &e)) cJSON_Delete(got);
        d[k] = saved;
    }
    free(d);
    free(p);
    const struct {
        const char *bytes;
        size_t len;
        const char *want;
    } bad[] = {
        {"\x80\x02h\x05.", 5, "unset memo"},
        {"\x80\x02K\x01K\x02.", 7, "not one value"},
        {"\x80\x02}K\x01u.", 6, "no mark"},
        {"\x80\x02(]K\x01" "d.", 8, "dict key"},
        {"\x80\x02R.", 4, "refused"},
        {"\x80\x09.", 3, "protocol"},
        {"\xff", 1, "unknown"},
        {"]K\x01" "a", 4, "before STOP"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = hb_pickle_parse((const uint8_t *)bad[i].bytes, bad[i].len, "b.p", &got, &e);
        cr_assert_eq(rc, HB_EFORMAT, "case %zu", i);
        cr_assert(strstr(e.reason, bad[i].want), "case %zu: %s", i, e.reason);
    }
}

/* Found by fuzzing (fuzz_pickle): TUPLE2 over [value, mark] freed the value twice. Also refused now: memo references
 * that expand into a huge tree (each GET copies; 20 doublings are a million nodes from 63 bytes) and nesting deeper
 * than cJSON's recursive free/copy/print can take. */
Test(pickle, tuple_marks_copy_bombs_and_deep_nesting_are_refused) {
    cJSON *got = NULL;
    hb_err e;
    cr_assert_eq(hb_pickle_parse((const uint8_t *)"\x80\x02K\x01(\x86.", 6, "t.p", &got, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "mark inside a tuple"), "%s", e.reason);
    cr_assert_null(got);
    hb_buf b = {0};
    hb_buf_puts(&b, "\x80\x02]q");
    hb_buf_putc(&b, 0); /* L = [], memo[0] = L */
    for (int i = 0; i < 20; i++) hb_buf_puts(&b, "h"), hb_buf_putc(&b, 0), hb_buf_puts(&b, "a"); /* L.append(copy(L)) */
    hb_buf_puts(&b, ".");
    cr_assert_eq(hb_pickle_parse(b.data, b.len, "t.p", &got, &e), HB_EFORMAT, "a 2^20-node copy bomb was accepted");
    cr_assert(strstr(e.reason, "expand too much"), "%s", e.reason);
    /* ten doublings (1,024 nodes) are fine */
    hb_buf_clear(&b);
    hb_buf_puts(&b, "\x80\x02]q");
    hb_buf_putc(&b, 0);
    for (int i = 0; i < 10; i++) hb_buf_puts(&b, "h"), hb_buf_putc(&b, 0), hb_buf_puts(&b, "a");
    hb_buf_puts(&b, ".");
    cr_assert_eq(hb_pickle_parse(b.data, b.len, "t.p", &got, &e), 0, "%s", e.reason);
    cJSON_Delete(got);
    for (int depth = 1000; depth <= 1001; depth++) {
        hb_buf_clear(&b);
        for (int i = 0; i < depth; i++) hb_buf_putc(&b, ']');
        for (int i = 1; i < depth; i++) hb_buf_putc(&b, 'a');
        hb_buf_putc(&b, '.');
        int rc = hb_pickle_parse(b.data, b.len, "t.p", &got, &e);
        if (depth == 1000) {
            cr_assert_eq(rc, 0, "%s", e.reason);
            cJSON_Delete(got);
        } else {
            cr_assert_eq(rc, HB_EFORMAT, "lists nested %d deep were accepted", depth);
            cr_assert(strstr(e.reason, "nested more than 1000 deep"), "%s", e.reason);
        }
    }
    hb_buf_free(&b);
}

/* ---------------------------------------------------------------- Visual Genome */
Test(sources_loc, vg_regions_boxes_strip_and_layout) {
    sc_capture c;
    run_ok("sources: {v: {dataset: vgloc, files: {regions: " EX "vg/region_descriptions.json, image_data: " EX
           "vg/image_data.json}}}",
           "v", &c);
    cr_assert_eq(sc_count(&c), 4);
    cr_assert_str_eq(sc_field(&c, 0, "bbox"), "[0.526,0.095,0.629,0.327]");
    cr_assert_str_eq(sc_field(&c, 1, "phrase"), "shade is along the street", "trailing space stripped");
    cr_assert_str_eq(sc_field(&c, 2, "bbox"), "[0.750,0.833,1.062,1.033]", "not clamped by default (Honeybee)");
    cr_assert_str_eq(sc_field(&c, 3, "bbox"), "[0.125,0.067,0.500,0.400]");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "1.jpg");
    cr_assert_str_eq(sc_str(&c, 0, "group"), "1");
    cr_assert_str_eq(sc_str(&c, 0, "key"), "1382");
    cr_assert_eq(sc_note(&c, "phrase.stripped"), 1);
    cr_assert_eq(sc_note(&c, "bbox.outside_image"), 1);
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 1, "the blank phrase");
    cr_assert_eq(c.records, 2, "image_data.json does not count as records");
    sc_free(&c);
    run_ok("sources: {v: {dataset: vg-regions, bbox_clamp: true, image_layout: url, strip_phrase: false, files: {regions: " EX
           "vg/region_descriptions.json, image_data: " EX "vg/image_data.json}}}",
           "v", &c);
    cr_assert_str_eq(sc_field(&c, 2, "bbox"), "[0.750,0.833,1.000,1.000]");
    cr_assert_str_eq(sc_field(&c, 1, "phrase"), "shade is along the street ");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "VG_100K_2/1.jpg", "the folder named by the url");
    cr_assert_str_eq(sc_str(&c, 3, "image"), "VG_100K/4.jpg");
    sc_free(&c);
    run_fail("sources: {v: {dataset: vg-regions, files: {regions: " EX "vg/region_descriptions.json}}}", "v", HB_EINVAL,
             "files.image_data: missing", &c);
}

Test(sources_loc, vg_qa_real_excerpt) {
    sc_capture c;
    run_ok("sources: {v: {dataset: vg-qa, files: " REAL "visual_genome/question_answers.excerpt.json}}", "v", &c);
    cr_assert_eq(sc_count(&c), 8);
    cr_assert_str_eq(sc_str(&c, 0, "key"), "987278");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "4.jpg");
    cr_assert_str_eq(sc_field(&c, 0, "answer"), "Sailboats.", "VG answers keep their capital and period");
    cr_assert_str_eq(sc_str(&c, 7, "group"), "5");
    sc_free(&c);
    char *d = tu_mkdtemp();
    char *f = hb_path_join(d, "qa.json");
    const char *t = "[{\"id\": 4, \"qas\": [{\"qa_id\": 1, \"question\": \"q?\", \"answer\": \"a\"}, {\"qa_id\": 2, "
                    "\"question\": \"q2?\"}]}, {\"qas\": []}, {\"id\": 5, \"qas\": \"none\"}, 7]";
    cr_assert_eq(tu_write(f, t, strlen(t)), 0);
    char y[1024];
    snprintf(y, sizeof y, "sources: {v: {dataset: vg-qa, files: %s}}", f);
    run_ok(y, "v", &c);
    cr_assert_eq(sc_count(&c), 1);
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 4, "a qa without answer, no id, qas not a list, not an object");
    sc_free(&c);
    run_fail("sources: {v: {dataset: vg-qa, image_layout: url, files: " REAL "visual_genome/question_answers.excerpt.json}}",
             "v", HB_EINVAL, "mapping of file roles (image_data", &c);
    free(f);
    tu_rmtree(d);
    free(d);
}

/* ---------------------------------------------------------------- LLaVA */
Test(sources_loc, llava_instruct_conversations) {
    sc_capture c;
    run_ok("sources: {l: {dataset: llava150k, files: [" EX "llava/complex_reasoning_77k.json, " EX
           "llava/conversation_58k.json, " EX "llava/detail_23k.json]}}",
           "l", &c);
    cr_assert_eq(sc_count(&c), 5);
    cr_assert_str_eq(sc_str(&c, 0, "key"), "complex_reasoning_77k/000000215677", "ids repeat across files: keyed by stem");
    cr_assert_str_eq(sc_str(&c, 1, "key"), "complex_reasoning_77k/000000033471");
    cr_assert_str_eq(sc_str(&c, 2, "key"), "conversation_58k/000000033471");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "000000215677.jpg");
    cr_assert_null(sc_str(&c, 0, "group"));
    const cJSON *conv = cJSON_GetObjectItem(cJSON_GetArrayItem(c.items, 2), "conv");
    cr_assert_eq(cJSON_GetArraySize(conv), 6);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(conv, 0), "text")->valuestring,
                     "What are the colors of the bus in the image?\n<image>", "markers stay for the renderer");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(conv, 1), "role")->valuestring, "ai");
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 1);
    cr_assert(strstr(reason(&c, 0), "unknown role 'system'"));
    sc_free(&c);
    char *d = tu_mkdtemp();
    char *f = hb_path_join(d, "typo.json");
    const char *t = "[{\"id\": \"1\", \"image\": \"1.jpg\", \"conversatons\": [{\"from\": \"human\", \"value\": \"<image>\\nHi\"}, "
                    "{\"from\": \"gpt\", \"value\": \"Hello\"}]}, {\"id\": \"2\", \"conversations\": []}, "
                    "{\"id\": \"3\", \"conversations\": [{\"from\": \"human\", \"value\": 3}]}, {\"conversations\": "
                    "[{\"from\": \"user\", \"value\": \"text only\"}, {\"from\": \"assistant\", \"value\": \"ok\"}]}]";
    cr_assert_eq(tu_write(f, t, strlen(t)), 0);
    char y[1024];
    snprintf(y, sizeof y, "sources: {l: {dataset: llava-instruct, files: %s}}", f);
    run_ok(y, "l", &c);
    cr_assert_eq(sc_count(&c), 2);
    cr_assert_eq(sc_note(&c, "key.conversatons_typo"), 1);
    cr_assert_eq(sc_note(&c, "text_only"), 1);
    cr_assert_str_eq(sc_str(&c, 1, "key"), "3", "no id: the record position");
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 2);
    cr_assert(strstr(reason(&c, 0), "empty conversation"));
    sc_free(&c);
    free(f);
    tu_rmtree(d);
    free(d);
}

Test(sources_loc, llava_pretrain_real_excerpt) {
    sc_capture c;
    run_ok("sources: {b: {dataset: llava-pretrain, files: " REAL "llava/blip_laion_cc_sbu_558k.excerpt300.json}}", "b", &c);
    cr_assert_eq(sc_count(&c), 287);
    cr_assert_str_eq(sc_str(&c, 0, "image"), "00001/000019465.jpg");
    cr_assert_str_eq(sc_str(&c, 0, "key"), "000019465");
    cr_assert_str_eq(sc_field(&c, 0, "caption"), "the bunk room");
    int non_ascii = 0;
    for (int i = 0; i < 287; i++)
        for (const unsigned char *p = (const unsigned char *)sc_field(&c, i, "caption"); *p; p++) non_ascii += *p >= 0x80;
    cr_assert(non_ascii > 0, "\\u escapes decode to UTF-8");
    sc_free(&c);
    run_ok("sources: {b: {dataset: llava-pretrain, mode: conversation, files: " REAL
           "llava/blip_laion_cc_sbu_558k.excerpt300.json}}",
           "b", &c);
    cr_assert_eq(sc_count(&c), 287);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(c.items, 0), "conv")), 2);
    sc_free(&c);
    char *d = tu_mkdtemp();
    char *f = hb_path_join(d, "b.json");
    const char *t = "[{\"id\": \"1\", \"image\": \"a.jpg\", \"conversations\": [{\"from\": \"human\", \"value\": "
                    "\"<image>\\nDescribe.\"}]}, {\"id\": \"2\", \"conversations\": [{\"from\": \"human\", \"value\": "
                    "\"x\"}, {\"from\": \"gpt\", \"value\": \"no image\"}]}, {\"id\": \"3\", \"image\": \"c.jpg\", "
                    "\"conversations\": [{\"from\": \"human\", \"value\": \"x\"}, {\"from\": \"gpt\", \"value\": \"ok\"}]}]";
    cr_assert_eq(tu_write(f, t, strlen(t)), 0);
    char y[1024];
    snprintf(y, sizeof y, "sources: {b: {dataset: llava-pretrain, files: %s}}", f);
    run_ok(y, "b", &c);
    cr_assert_eq(sc_count(&c), 1);
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 2, "no gpt turn; a caption without an image");
    sc_free(&c);
    run_fail("sources: {b: {dataset: llava-pretrain, mode: chat, files: x.json}}", "b", HB_EINVAL, "mode", &c);
    free(f);
    tu_rmtree(d);
    free(d);
}

/* ---------------------------------------------------------------- ShareGPT */
Test(sources_loc, sharegpt_real_and_quirks) {
    sc_capture c;
    run_ok("sources: {s: {dataset: vicuna40k, files: [" REAL "sharegpt/ShareGPT_V4.3_unfiltered_cleaned_split.excerpt1.json, " REAL
           "sharegpt/fastchat_dummy_conversation.excerpt60.json]}}",
           "s", &c);
    cr_assert_eq(sc_count(&c), 61);
    cr_assert_str_eq(sc_str(&c, 0, "key"), "QWJhYvA_0");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(c.items, 0), "conv")), 12);
    cr_assert_null(sc_str(&c, 0, "image"), "text only");
    sc_free(&c);
    run_ok("sources: {s: {dataset: sharegpt, files: " EX "sharegpt/llava_v1_5_sharegpt40k.json}}", "s", &c);
    cr_assert_eq(sc_count(&c), 2);
    cr_assert_eq(sc_note(&c, "first_turn_not_human"), 1, "kept: the renderer drops a non-human first turn");
    const cJSON *conv = cJSON_GetObjectItem(cJSON_GetArrayItem(c.items, 1), "conv");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(conv, 2), "text")->valuestring,
                     "\xec\xa2\x8b\xec\x9d\x80 \xec\x95\x84\xec\xb9\xa8\xec\x9e\x85\xeb\x8b\x88\xeb\x8b\xa4 (joeun achimimnida).");
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 2, "a system turn and an empty conversation");
    sc_free(&c);
}

/* ---------------------------------------------------------------- webdataset */
Test(sources_loc, webdataset_tar_members) {
    sc_capture c;
    run_ok("sources: {w: {dataset: coyo100m, files: " EX "webdataset}}", "w", &c);
    cr_assert_eq(sc_count(&c), 3);
    cr_assert_str_eq(sc_field(&c, 0, "caption"), "Himmel und Huhn - Ace in Action");
    cr_assert_str_eq(sc_str(&c, 0, "key"), "00000/000000000");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "000000000.jpg");
    cr_assert(strstr(sc_str(&c, 0, "archive"), "webdataset/00000.tar"));
    cr_assert(cJSON_GetObjectItem(cJSON_GetArrayItem(c.items, 0), "image_len")->valuedouble > 100, "bytes read inline");
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 1);
    cr_assert(strstr(reason(&c, 0), "no image member"));
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(c.rejects, 0), "record")->valueint, 2);
    sc_free(&c);
    run_ok("sources: {w: {dataset: webdataset, caption: json, files: [\"" EX "webdataset/0000*.tar\"]}}", "w", &c);
    cr_assert_eq(sc_count(&c), 3, "captions from the .json members");
    sc_free(&c);
    run_fail("sources: {w: {dataset: webdataset, files: " EX "webdataset/nope-*.tar}}", "w", HB_ENOTFOUND, "no tar matches", &c);
    /* a truncated tar is an error naming it */
    char *src = tu_repo("examples/webdataset/00000.tar");
    size_t n;
    uint8_t *d = tu_read(src, &n);
    char *dir = tu_mkdtemp();
    char *t = hb_path_join(dir, "cut.tar");
    cr_assert_eq(tu_write(t, d, 1300), 0);
    char y[1024];
    snprintf(y, sizeof y, "sources: {w: {dataset: webdataset, files: %s}}", t);
    run_fail(y, "w", HB_EFORMAT, "cut.tar", &c);
    free(d), free(src), free(t);
    tu_rmtree(dir);
    free(dir);
}
