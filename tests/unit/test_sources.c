/* lib/sources, VQA family: VQAv2, GQA, OCR-VQA, VSR, ScienceQA (both forms), A-OKVQA on their real excerpts
 * (../shared/fixtures/real) or format-faithful examples (examples/), with their quirks and malformed input; plus the
 * registry and the common option/file checks. */
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
    cr_assert_eq(rc, 0, "%s: %s (%s) in %s", name, e.reason, e.file, yaml);
}

static void run_fail(const char *yaml, const char *name, int code, const char *want, sc_capture *c, hb_err *e) {
    hb_err_clear(e);
    int rc = sc_run(yaml, name, c, e);
    cr_assert_eq(rc, code, "%s: rc %d: %s", name, rc, e->reason);
    cr_assert(strstr(e->reason, want) || strstr(e->file, want), "%s: '%s' not in '%s' / '%s'", name, want, e->reason, e->file);
}

static char *tmpfile_with(const char *dir, const char *name, const char *text) {
    char *p = hb_path_join(dir, name);
    cr_assert_eq(tu_write(p, text, strlen(text)), 0);
    return p;
}

/* ---------------------------------------------------------------- VQAv2 */
Test(sources, vqav2_real_train_excerpt) {
    sc_capture c;
    run_ok("sources: {v: {dataset: vqav2, files: {questions: " REAL "vqav2/v2_OpenEnded_mscoco_train2014_questions.excerpt.json,"
           " annotations: " REAL "vqav2/v2_mscoco_train2014_annotations.excerpt-trimmed.json}}}",
           "v", &c);
    cr_assert_eq(sc_count(&c), 3);
    const char *answers[] = {"net", "pitcher", "orange"}; /* majority of the ten: the trimmed file lacks mc answers */
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(sc_str(&c, i, "group"), "458752");
        cr_assert_str_eq(sc_str(&c, i, "image"), "COCO_train2014_000000458752.jpg");
        cr_assert_str_eq(sc_field(&c, i, "answer"), answers[i]);
    }
    cr_assert_str_eq(sc_str(&c, 0, "key"), "458752000");
    cr_assert_str_eq(sc_field(&c, 1, "question"), "What position is this man playing?");
    cr_assert_eq(sc_note(&c, "answer.majority_of_answers"), 3);
    cr_assert_eq(c.records, 3, "a question/annotation pair is one record");
    sc_free(&c);
}

Test(sources, vqav2_answer_modes_and_subtype) {
    sc_capture c;
    const char *y = "sources: {v: {dataset: vqav2, answer: all, files: {questions: " EX "vqav2/v2_OpenEnded_mscoco_val2014_questions.json,"
                    " annotations: " EX "vqav2/v2_mscoco_val2014_annotations.json}}}";
    run_ok(y, "v", &c);
    /* every distinct answer: down, at table, skateboard, table | watching, spectating, standing | skateboard, table,
     * picnic table | wood, plastic | no, yes | no */
    cr_assert_eq(sc_count(&c), 4 + 3 + 3 + 2 + 2 + 1);
    cr_assert_str_eq(sc_str(&c, 1, "key"), "262148000/1");
    cr_assert_str_eq(sc_field(&c, 1, "answer"), "at table");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "COCO_val2014_000000262148.jpg", "data_subtype read from the file; Honeybee's flat folder");
    sc_free(&c);
    run_ok("sources: {v: {dataset: vqa, files: {questions: " EX "vqav2/v2_OpenEnded_mscoco_val2014_questions.json,"
           " annotations: " EX "vqav2/v2_mscoco_val2014_annotations.json}}}",
           "v", &c);
    cr_assert_eq(sc_count(&c), 6, "majority: one per question (the Honeybee alias 'vqa' works)");
    cr_assert_str_eq(sc_field(&c, 0, "answer"), "down");
    cr_assert_str_eq(sc_field(&c, 0, "answer_type"), "other");
    sc_free(&c);
}

Test(sources, vqav2_malformed) {
    char *d = tu_mkdtemp();
    sc_capture c;
    hb_err e;
    /* annotations in another order than the questions: a hard error (Honeybee asserts) */
    char *q = tmpfile_with(d, "q.json", "{\"data_subtype\": \"val2014\", \"questions\": [{\"image_id\": 1, \"question\": \"a?\", "
                                        "\"question_id\": 1000}, {\"image_id\": 2, \"question\": \"b?\", \"question_id\": 2000}]}");
    char *a = tmpfile_with(d, "a.json", "{\"annotations\": [{\"question_id\": 2000, \"multiple_choice_answer\": \"x\"}, "
                                        "{\"question_id\": 1000, \"multiple_choice_answer\": \"y\"}]}");
    char y[2048];
    snprintf(y, sizeof y, "sources: {v: {dataset: vqav2, files: {questions: %s, annotations: %s}}}", q, a);
    run_fail(y, "v", HB_EFORMAT, "official order", &c, &e);
    sc_free(&c);
    /* fewer annotations; a malformed question record is rejected, not fatal */
    char *a2 = tmpfile_with(d, "a2.json", "{\"annotations\": [{\"question_id\": 1000, \"multiple_choice_answer\": \"y\"}]}");
    snprintf(y, sizeof y, "sources: {v: {dataset: vqav2, files: {questions: %s, annotations: %s}}}", q, a2);
    run_fail(y, "v", HB_EFORMAT, "fewer records", &c, &e);
    sc_free(&c);
    char *q3 = tmpfile_with(d, "q3.json", "{\"data_subtype\": \"val2014\", \"questions\": [{\"image_id\": 1, \"question\": 5, "
                                          "\"question_id\": 1000}, {\"image_id\": 2, \"question\": \"b?\", \"question_id\": 2000}]}");
    char *a3 = tmpfile_with(d, "a3.json", "{\"annotations\": [{\"question_id\": 1000, \"multiple_choice_answer\": \"y\"}, "
                                          "{\"question_id\": 2000, \"multiple_choice_answer\": \"x\"}]}");
    snprintf(y, sizeof y, "sources: {v: {dataset: vqav2, files: {questions: %s, annotations: %s}}}", q3, a3);
    run_ok(y, "v", &c);
    cr_assert_eq(sc_count(&c), 1);
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 1);
    sc_free(&c);
    /* a missing file is an error naming it */
    snprintf(y, sizeof y, "sources: {v: {dataset: vqav2, files: {questions: %s/nope.json, annotations: %s}}}", d, a3);
    run_fail(y, "v", HB_ENOTFOUND, "nope.json", &c, &e);
    sc_free(&c);
    snprintf(y, sizeof y, "sources: {v: {dataset: vqav2, files: {questions: %s}}}", q3);
    run_fail(y, "v", HB_EINVAL, "files.annotations: missing", &c, &e);
    sc_free(&c);
    free(q), free(a), free(a2), free(q3), free(a3);
    tu_rmtree(d);
    free(d);
}

/* ---------------------------------------------------------------- GQA */
Test(sources, gqa_real_excerpts_and_quirks) {
    sc_capture c;
    run_ok("sources: {g: {dataset: gqa, files: {questions: [" REAL "gqa/balanced_questions.excerpt_202218649.json, " REAL
           "gqa/all_questions.excerpt_20240871.json]}}}",
           "g", &c);
    cr_assert_eq(sc_count(&c), 2);
    cr_assert_str_eq(sc_str(&c, 0, "key"), "202218649");
    cr_assert_str_eq(sc_str(&c, 0, "group"), "n578564", "imageId stays a string");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "n578564.jpg");
    cr_assert_str_eq(sc_field(&c, 0, "answer"), "picture");
    cr_assert_str_eq(sc_field(&c, 0, "full_answer"), "The picture is hanging above the chalkboard.");
    cr_assert_str_eq(sc_str(&c, 1, "key"), "20240871");
    sc_free(&c);
    char *d = tu_mkdtemp();
    char *f = tmpfile_with(d, "q.json", "{\"1\": {\"imageId\": 2375429, \"question\": \"q?\", \"answer\": \"a\"}, "
                                        "\"2\": {\"imageId\": \"n1\", \"question\": \"q2?\"}, \"3\": [1, 2], "
                                        "\"4\": {\"imageId\": \"n2\", \"question\": \"q4?\", \"answer\": \"b\", \"x\": tru}}");
    char y[1024];
    snprintf(y, sizeof y, "sources: {g: {dataset: gqa, files: %s}}", f);
    run_ok(y, "g", &c);
    cr_assert_eq(sc_count(&c), 1);
    cr_assert_str_eq(sc_str(&c, 0, "group"), "2375429", "a numeric imageId is printed as an integer");
    cr_assert_eq(sc_note(&c, "imageId.number"), 1);
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 3, "no answer, not an object, malformed JSON");
    cr_assert(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(c.rejects, 0), "reason")->valuestring, "no answer"));
    sc_free(&c);
    free(f);
    tu_rmtree(d);
    free(d);
}

/* ---------------------------------------------------------------- OCR-VQA */
Test(sources, ocrvqa_split_extension_and_mismatch) {
    sc_capture c;
    run_ok("sources: {o: {dataset: ocrvqa, files: " EX "ocrvqa/dataset.json}}", "o", &c);
    cr_assert_eq(sc_count(&c), 5 + 3, "train split only");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "761183272.jpg");
    cr_assert_str_eq(sc_str(&c, 0, "key"), "761183272/0");
    cr_assert_str_eq(sc_field(&c, 4, "answer"), "2016");
    cr_assert_str_eq(sc_str(&c, 5, "image"), "1250048346.gif", "the extension of imageURL");
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 1, "2 questions but 1 answer");
    sc_free(&c);
    run_ok("sources: {o: {dataset: ocrvqa, split: val, image_ext: jpg, files: {dataset: " EX "ocrvqa/dataset.json}}}", "o", &c);
    cr_assert_eq(sc_count(&c), 2);
    cr_assert_str_eq(sc_str(&c, 0, "image"), "439023483.jpg");
    sc_free(&c);
    hb_err e;
    run_fail("sources: {o: {dataset: ocrvqa, split: dev, files: x.json}}", "o", HB_EINVAL, "split", &c, &e);
    sc_free(&c);
}

/* ---------------------------------------------------------------- VSR */
Test(sources, vsr_real_splits_rewrite_and_links) {
    sc_capture c;
    run_ok("sources: {v: {dataset: vsr, files: " REAL "vsr/random_train.excerpt.jsonl}}", "v", &c);
    cr_assert_eq(sc_count(&c), 100);
    cr_assert_str_eq(sc_field(&c, 0, "question_interro"), "Is the cat inside the refrigerator?");
    cr_assert_str_eq(sc_field(&c, 0, "question"), "The cat is inside the refrigerator.");
    cr_assert_str_eq(sc_field(&c, 0, "answer"), "no");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "train2017/000000296471.jpg");
    int val = 0;
    for (int i = 0; i < 100; i++) val += !strncmp(sc_str(&c, i, "image"), "val2017/", 8);
    cr_assert_eq(val, 14, "the split folder comes from image_link");
    cr_assert_eq(sc_note(&c, "rewrite.copula") + sc_note(&c, "rewrite.contains") + sc_note(&c, "rewrite.has") +
                     sc_note(&c, "rewrite.consists"),
                 100);
    sc_free(&c);
    run_ok("sources: {v: {dataset: vsr, rewrite: honeybee-compat, image_path: image, files: [" REAL
           "vsr/zeroshot_train.excerpt.jsonl, " REAL "vsr/all_vsr_raw_data.excerpt.jsonl]}}",
           "v", &c);
    cr_assert_eq(sc_count(&c), 56 + 30);
    cr_assert_eq(sc_note(&c, "rewrite.official"), 86);
    cr_assert_str_eq(sc_str(&c, 56, "key"), "1.0", "two files: keys name the file");
    cr_assert_eq(strchr(sc_str(&c, 56, "image"), '/'), NULL, "image_path: image uses the bare name");
    sc_free(&c);
    char *d = tu_mkdtemp();
    char *f = tmpfile_with(d, "v.jsonl", "{\"image\": \"1.jpg\", \"caption\": \"The cat is on the mat.\", \"label\": 2}\n"
                                         "{\"image\": \"1.jpg\", \"caption\": \"The cat is on the mat.\", \"label\": true}\n"
                                         "not json\n{\"image\": \"2.jpg\", \"label\": 0}\n");
    char y[1024];
    snprintf(y, sizeof y, "sources: {v: {dataset: vsr, files: %s}}", f);
    run_ok(y, "v", &c);
    cr_assert_eq(sc_count(&c), 1);
    cr_assert_str_eq(sc_field(&c, 0, "answer"), "yes");
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 3);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(c.rejects, 1), "record")->valueint, 2, "the line of the bad JSON");
    sc_free(&c);
    free(f);
    tu_rmtree(d);
    free(d);
}

/* ---------------------------------------------------------------- ScienceQA */
Test(sources, scienceqa_problems_real_excerpt) {
    sc_capture c;
    run_ok("sources: {s: {dataset: scienceqa, files: {problems: " REAL "scienceqa/problems.excerpt150.json, pid_splits: " REAL
           "scienceqa/pid_splits.excerpt150.json}}}",
           "s", &c);
    cr_assert_eq(sc_count(&c), 50, "the first 50 train ids");
    cr_assert_str_eq(sc_str(&c, 0, "key"), "1");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "1/image.png");
    cr_assert_str_eq(sc_field(&c, 0, "context"), "N/A", "an empty hint reads N/A, as in LLaVA's conversion");
    const cJSON *o = cJSON_GetObjectItem(cJSON_GetArrayItem(c.items, 0), "options");
    cr_assert_eq(cJSON_GetArraySize(o), 4);
    cr_assert_str_eq(cJSON_GetArrayItem(o, 0)->valuestring, "West Virginia");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(c.items, 0), "answer_idx")->valueint, 0);
    int text_only = 0;
    for (int i = 0; i < 50; i++) text_only += sc_str(&c, i, "image") == NULL;
    cr_assert(text_only > 0 && text_only < 50);
    sc_free(&c);
    /* malformed problems are rejected, a pid_splits without the split is an error */
    char *d = tu_mkdtemp();
    char *f = tmpfile_with(d, "p.json", "{\"1\": {\"question\": \"q?\", \"choices\": [\"a\"], \"answer\": 0, \"split\": \"train\"}, "
                                        "\"2\": {\"question\": \"q?\", \"choices\": [\"a\", \"b\"], \"answer\": 2, \"split\": \"train\"}, "
                                        "\"3\": {\"choices\": [\"a\", \"b\"], \"answer\": 0, \"split\": \"train\"}, "
                                        "\"4\": {\"question\": \"ok?\", \"choices\": [\"a\", \"b\"], \"answer\": 1, \"hint\": \" h \", "
                                        "\"image\": null, \"split\": \"train\"}, "
                                        "\"5\": {\"question\": \"  Which  is   it?\", \"choices\": [\" x  y \", \"b\"], \"answer\": 0, "
                                        "\"hint\": \"The  cat\\nsat.\", \"image\": null, \"split\": \"train\"}}");
    char *ps = tmpfile_with(d, "s.json", "{\"val\": []}");
    char y[1024];
    snprintf(y, sizeof y, "sources: {s: {dataset: scienceqa, files: {problems: %s}}}", f);
    run_ok(y, "s", &c);
    cr_assert_eq(sc_count(&c), 2);
    cr_assert_str_eq(sc_field(&c, 0, "context"), "h", "the hint stripped");
    cr_assert_null(sc_str(&c, 0, "image"), "image: null is text-only");
    /* LLaVA's conversion (what Honeybee reads) replaces "  " by " " once and strips the turn; Honeybee strips options */
    cr_assert_str_eq(sc_field(&c, 1, "question"), "Which is  it?");
    cr_assert_str_eq(sc_field(&c, 1, "context"), "The cat\nsat.");
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(c.items, 1), "options"), 0)->valuestring,
                     "x y");
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 3, "one choice, answer out of range, no question");
    sc_free(&c);
    hb_err e;
    snprintf(y, sizeof y, "sources: {s: {dataset: scienceqa, files: {problems: %s, pid_splits: %s}}}", f, ps);
    run_fail(y, "s", HB_ENOTFOUND, "no member 'train'", &c, &e);
    sc_free(&c);
    free(f), free(ps);
    tu_rmtree(d);
    free(d);
    /* without pid_splits: the record's own split field */
    run_ok("sources: {s: {dataset: scienceqa, split: val, files: {problems: " REAL "scienceqa/problems.excerpt150.json}}}", "s", &c);
    cr_assert_eq(sc_count(&c), 50);
    sc_free(&c);
}

Test(sources, scienceqa_llava_parses_back_to_the_problems) {
    sc_capture a, b;
    run_ok("sources: {s: {dataset: scienceqa, files: {problems: " EX "scienceqa/problems.json, pid_splits: " EX
           "scienceqa/pid_splits.json}}}",
           "s", &a);
    run_ok("sources: {s: {dataset: scienceqa-llava, files: " EX "scienceqa/llava_train_QCM-LEPA.json}}", "s", &b);
    cr_assert_eq(sc_count(&a), 6);
    cr_assert_eq(sc_count(&b), 6);
    for (int i = 0; i < 6; i++) {
        cr_assert_str_eq(sc_str(&a, i, "key"), sc_str(&b, i, "key"));
        cr_assert_str_eq(sc_field(&a, i, "question"), sc_field(&b, i, "question"), "pid %s", sc_str(&a, i, "key"));
        cr_assert_str_eq(sc_field(&a, i, "context"), sc_field(&b, i, "context"), "pid %s", sc_str(&a, i, "key"));
        const cJSON *ia = cJSON_GetArrayItem(a.items, i), *ib = cJSON_GetArrayItem(b.items, i);
        cr_assert(cJSON_Compare(cJSON_GetObjectItem(ia, "options"), cJSON_GetObjectItem(ib, "options"), 1), "pid %s options",
                  sc_str(&a, i, "key"));
        cr_assert_eq(cJSON_GetObjectItem(ia, "answer_idx")->valueint, cJSON_GetObjectItem(ib, "answer_idx")->valueint);
        cr_assert_eq(sc_str(&a, i, "image") == NULL, sc_str(&b, i, "image") == NULL);
    }
    cr_assert(strstr(sc_field(&b, 0, "lecture"), "\\n"), "LLaVA's lecture keeps its escaped newlines");
    sc_free(&a);
    sc_free(&b);
    char *d = tu_mkdtemp();
    char *f = tmpfile_with(d, "l.json",
                           "[{\"id\": \"9\", \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\\nWhat?\\nContext: "
                           "N/A\\nOptions: (A) x (B) y\"}, {\"from\": \"gpt\", \"value\": \"###\\nANSWER: B.\"}]},"
                           "{\"id\": \"10\", \"conversations\": [{\"from\": \"human\", \"value\": \"no format\"}, {\"from\": "
                           "\"gpt\", \"value\": \"ANSWER: A.\"}]},"
                           "{\"id\": \"11\", \"conversations\": [{\"from\": \"human\", \"value\": \"Q\\nContext: c\\nOptions: "
                           "(A) x (B) y\"}, {\"from\": \"gpt\", \"value\": \"###\\nANSWER: C.\"}]}]");
    char y[1024];
    snprintf(y, sizeof y, "sources: {s: {dataset: scienceqa-llava, files: %s}}", f);
    run_ok(y, "s", &a);
    cr_assert_eq(sc_count(&a), 1);
    cr_assert_str_eq(sc_field(&a, 0, "question"), "What?", "a leading image marker is taken off the question");
    cr_assert_eq(sc_note(&a, "image_marker.before_question"), 1);
    cr_assert_eq(cJSON_GetArraySize(a.rejects), 2, "not QCM, and a letter beyond the options");
    sc_free(&a);
    free(f);
    tu_rmtree(d);
    free(d);
}

/* ---------------------------------------------------------------- A-OKVQA */
Test(sources, aokvqa_mc_and_direct_answers) {
    sc_capture c;
    run_ok("sources: {a: {dataset: aokvqa, files: " EX "aokvqa/aokvqa_v1p0_train.json}}", "a", &c);
    cr_assert_eq(sc_count(&c), 2);
    cr_assert_str_eq(sc_str(&c, 0, "key"), "22MexNkBPpdZGX6sxbxVBH");
    cr_assert_str_eq(sc_str(&c, 0, "image"), "train2017/000000299207.jpg");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(c.items, 0), "answer_idx")->valueint, 3);
    cr_assert_str_eq(sc_field(&c, 0, "direct_answer"), "ride", "most frequent, ties to the first seen");
    cr_assert(!strncmp(sc_field(&c, 0, "rationale"), "A train would not", 17));
    cr_assert_str_eq(sc_field(&c, 1, "direct_answer"), "snowy");
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 1, "correct_choice_idx out of range");
    sc_free(&c);
    run_ok("sources: {a: {dataset: aokvqa, split: val, files: " EX "aokvqa/aokvqa_v1p0_train.json}}", "a", &c);
    cr_assert_eq(sc_count(&c), 0);
    cr_assert_eq(cJSON_GetArraySize(c.rejects), 3, "the split must match (Honeybee asserts it)");
    sc_free(&c);
}

/* ---------------------------------------------------------------- registry and common checks */
Test(sources, registry_and_common_errors) {
    cr_assert(hb_converter_count() >= 15);
    const char *names[] = {"vqav2", "gqa", "ocrvqa", "vsr", "scienceqa", "scienceqa-llava", "aokvqa", "refcoco-mdetr",
                           "refcoco-refer", "vg-regions", "vg-qa", "llava-instruct", "llava-pretrain", "sharegpt",
                           "webdataset", "vqa", "sqa", "refcocop", "vgloc", "llava150k", "vicuna40k", "coyo100m"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) cr_assert(hb_converter_find(names[i]), "%s", names[i]);
    cr_assert_null(hb_converter_find("imagenet"));
    sc_capture c;
    hb_err e;
    run_fail("sources: {x: {dataset: imagenet}}", "x", HB_EINVAL, "unknown converter 'imagenet' (known: vqav2", &c, &e);
    sc_free(&c);
    run_fail("sources: {g: {dataset: gqa, splt: train, files: x.json}}", "g", HB_EFORMAT, "sources.g.splt: unknown key", &c, &e);
    sc_free(&c);
    run_fail("sources: {g: {dataset: gqa}}", "g", HB_EINVAL, "sources.g.files: missing", &c, &e);
    sc_free(&c);
    run_fail("sources: {g: {dataset: sharegpt, nturn: 3, files: x.json}}", "g", HB_EINVAL, "do not apply", &c, &e);
    sc_free(&c);
    run_fail("sources: {g: {dataset: refcoco-mdetr, bbox_decimals: 4, files: x.json}}", "g", HB_EINVAL, "bbox_decimals", &c, &e);
    sc_free(&c);
    /* a one-entry mapping whose key is no role (a label such as the split) names the converter's file */
    run_ok("sources: {v: {dataset: vsr, files: {train: " REAL "vsr/random_dev.excerpt.jsonl}}}", "v", &c);
    cr_assert_eq(sc_count(&c), 25);
    sc_free(&c);
    run_ok("sources: {s: {dataset: scienceqa, files: {train: " EX "scienceqa/llava_train_QCM-LEPA.json}}}", "s", &c);
    cr_assert_eq(sc_count(&c), 6, "scienceqa given LLaVA's list reads it as scienceqa-llava");
    cr_assert_eq(sc_note(&c, "format.llava_qcm_lepa"), 1);
    sc_free(&c);
    run_fail("sources: {v: {dataset: vqav2, files: {q: x.json, a: y.json}}}", "v", HB_EINVAL, "files.questions: missing", &c, &e);
    sc_free(&c);
    /* the limit stops reading after N records */
    run_ok("sources: {v: {dataset: vsr, limit: 7, files: " REAL "vsr/random_train.full.jsonl}}", "v", &c);
    cr_assert_eq(sc_count(&c), 7);
    cr_assert_eq(c.records, 7);
    sc_free(&c);
}
