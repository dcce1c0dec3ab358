/* lib/prep planning, through the render inputs (--inputs): grouping per image in first-seen order, nturn chunks,
 * dedup after normalisation with a seeded representative, the recipe's defaults, unique ids, --shard slices that
 * partition the samples, rejects and --strict, missing files. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/testutil.h"
#include "json/json.h"
#include "prep/prep.h"
#include "recipe/recipe.h"
#include "sources/sources.h"

typedef struct {
    char *dir, *out;
} env;

static env env_new(void) {
    env e = {tu_mkdtemp(), NULL};
    e.out = hb_path_join(e.dir, "out");
    return e;
}

static void env_free(env *e) {
    tu_rmtree(e->dir);
    free(e->dir);
    free(e->out);
}

static char *put(const env *e, const char *name, const char *text) {
    char *p = hb_path_join(e->dir, name);
    cr_assert_eq(tu_write(p, text, strlen(text)), 0);
    return p;
}

/* Run the recipe text (written as DIR/r.yaml) in inputs mode; returns hb_prep_run's code. */
static int prep(const env *e, const char *yaml, int slice, int n_slices, int strict, hb_err *err) {
    char *rp = put(e, "r.yaml", yaml);
    hb_recipe r;
    int rc = hb_recipe_load(&r, rp, err);
    free(rp);
    if (rc) return rc;
    hb_prep_opts o = {.outdir = e->out, .jobs = 2, .inputs_only = 1, .slice = slice, .n_slices = n_slices,
                      .strict = strict, .quiet = 1};
    hb_prep_summary sum;
    rc = hb_prep_run(&r, &o, &sum, err);
    hb_recipe_free(&r);
    return rc;
}

/* The JSON lines of OUT/<name> as a cJSON array (NULL when the file is absent). */
static cJSON *lines(const env *e, const char *name) {
    char *p = hb_path_join(e->out, name);
    size_t n;
    uint8_t *d = tu_read(p, &n);
    free(p);
    if (!d) return NULL;
    cJSON *arr = cJSON_CreateArray();
    char *save = NULL;
    for (char *l = strtok_r((char *)d, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(l);
        cr_assert(j, "bad line in %s: %s", name, l);
        cJSON_AddItemToArray(arr, j);
    }
    free(d);
    return arr;
}

static const char *id_of(const cJSON *arr, int i) { return cJSON_GetObjectItem(cJSON_GetArrayItem(arr, i), "id")->valuestring; }

/* A GQA-shaped file: n questions; image i % k... given as (image, answer) pairs. */
static char *gqa_file(const env *e, const char *name, int n, const char *const *images, const char *const *answers) {
    hb_buf b = {0};
    hb_buf_putc(&b, '{');
    for (int i = 0; i < n; i++)
        hb_buf_printf(&b, "%s\"%d\": {\"imageId\": \"%s\", \"question\": \"q%d?\", \"answer\": \"%s\"}", i ? ", " : "",
                      1000 + i, images[i], i, answers[i]);
    hb_buf_putc(&b, '}');
    char *p = put(e, name, hb_buf_cstr(&b));
    hb_buf_free(&b);
    return p;
}

Test(prep, grouping_first_seen_order_and_nturn_chunks) {
    env e = env_new();
    const char *img[28], *ans[28];
    char abuf[28][8];
    for (int i = 0; i < 28; i++) {
        img[i] = i % 9 == 4 ? "B" : "A"; /* B at 4, 13, 22; A everywhere else */
        snprintf(abuf[i], sizeof abuf[i], "a%d", i);
        ans[i] = abuf[i];
    }
    char *f = gqa_file(&e, "q.json", 28, img, ans);
    char y[1024];
    snprintf(y, sizeof y, "seed: 1\nsources: {g: {dataset: gqa, dedup: none, files: %s}}\n", f);
    hb_err err;
    cr_assert_eq(prep(&e, y, 0, 1, 0, &err), 0, "%s", err.reason);
    cJSON *s = lines(&e, "g.inputs.jsonl");
    cr_assert_eq(cJSON_GetArraySize(s), 4);
    cr_assert_str_eq(id_of(s, 0), "g/A/0");
    cr_assert_str_eq(id_of(s, 1), "g/A/1");
    cr_assert_str_eq(id_of(s, 2), "g/A/2");
    cr_assert_str_eq(id_of(s, 3), "g/B/0");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(s, 0), "examples")), 10);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(s, 2), "examples")), 5);
    const cJSON *rec = cJSON_GetObjectItem(cJSON_GetArrayItem(s, 0), "records");
    int want[] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 10};
    for (int i = 0; i < 10; i++) cr_assert_eq(cJSON_GetArrayItem(rec, i)->valueint, want[i], "file order within a group");
    cJSON_Delete(s);
    /* nturn 0: one sample per image; nturn 1: one per question, named by its key */
    snprintf(y, sizeof y, "sources: {g: {dataset: gqa, nturn: 0, files: %s}, h: {dataset: gqa, nturn: 1, files: %s}}\n", f, f);
    cr_assert_eq(prep(&e, y, 0, 1, 0, &err), 0, "%s", err.reason);
    s = lines(&e, "g.inputs.jsonl");
    cr_assert_eq(cJSON_GetArraySize(s), 2);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(s, 0), "examples")), 25);
    cJSON_Delete(s);
    s = lines(&e, "h.inputs.jsonl");
    cr_assert_eq(cJSON_GetArraySize(s), 28);
    cr_assert_str_eq(id_of(s, 0), "h/1000");
    cJSON_Delete(s);
    free(f);
    env_free(&e);
}

Test(prep, dedup_normalised_seeded_and_recorded) {
    env e = env_new();
    /* 200 images, each with "Pillow" / "pillow." / " PILLOW " and one distinct answer */
    hb_buf b = {0};
    hb_buf_putc(&b, '{');
    int q = 0;
    for (int g = 0; g < 200; g++) {
        const char *a[] = {"Pillow", "red", "pillow.", " PILLOW "};
        for (int k = 0; k < 4; k++)
            hb_buf_printf(&b, "%s\"%d\": {\"imageId\": \"im%d\", \"question\": \"q%d?\", \"answer\": \"%s\"}", q ? ", " : "",
                          q, g, q, a[k]), q++;
    }
    hb_buf_putc(&b, '}');
    char *f = put(&e, "q.json", hb_buf_cstr(&b));
    hb_buf_free(&b);
    int kept_first[2] = {0, 0};
    char *picks[2] = {NULL, NULL};
    for (int seed = 0; seed < 2; seed++) {
        char y[1024];
        snprintf(y, sizeof y, "seed: %d\nsources: {g: {dataset: gqa, files: %s}}\n", seed + 7, f);
        hb_err err;
        cr_assert_eq(prep(&e, y, 0, 1, 0, &err), 0, "%s", err.reason);
        cJSON *s = lines(&e, "g.inputs.jsonl");
        cr_assert_eq(cJSON_GetArraySize(s), 200);
        hb_buf pk = {0};
        for (int i = 0; i < 200; i++) {
            const cJSON *x = cJSON_GetArrayItem(s, i);
            cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(x, "examples")), 2, "pillow x3 -> 1, red");
            const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(x, "choices"), "dedup"), 0);
            cr_assert_str_eq(cJSON_GetObjectItem(d, "value")->valuestring, "pillow");
            int kept = cJSON_GetObjectItem(d, "kept")->valueint;
            cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(d, "dropped")), 2);
            /* the kept one sits where the bucket first appeared: before "red" */
            const cJSON *ex0 = cJSON_GetArrayItem(cJSON_GetObjectItem(x, "examples"), 0);
            cr_assert_eq(cJSON_GetObjectItem(ex0, "record")->valueint, kept);
            cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(x, "examples"), 1), "answer")->valuestring,
                             "red");
            kept_first[seed] += kept == 4 * i;
            hb_buf_printf(&pk, "%d,", kept);
        }
        picks[seed] = hb_xstrdup(hb_buf_cstr(&pk));
        hb_buf_free(&pk);
        cJSON_Delete(s);
        /* the same seed again: the same picks */
        cr_assert_eq(prep(&e, y, 0, 1, 0, &err), 0);
        s = lines(&e, "g.inputs.jsonl");
        hb_buf pk2 = {0};
        for (int i = 0; i < 200; i++)
            hb_buf_printf(&pk2, "%d,", cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
                                                                                   cJSON_GetArrayItem(s, i), "choices"), "dedup"), 0), "kept")->valueint);
        cr_assert_str_eq(hb_buf_cstr(&pk2), picks[seed]);
        hb_buf_free(&pk2);
        cJSON_Delete(s);
    }
    cr_assert_str_neq(picks[0], picks[1], "another seed picks other representatives");
    /* uniform over the 3 duplicates: about 200/3 keep the first (binomial sd ~6.7) */
    for (int k = 0; k < 2; k++) cr_assert(kept_first[k] > 35 && kept_first[k] < 100, "kept first %d of 200", kept_first[k]);
    free(picks[0]), free(picks[1]);
    /* exact comparison: "Pillow", "pillow." and " PILLOW " stay apart; nturn 1: no dedup (Honeybee) */
    char y[1024];
    snprintf(y, sizeof y, "sources: {g: {dataset: gqa, dedup_normalize: false, files: %s}, h: {dataset: gqa, nturn: 1, files: %s}}\n", f, f);
    hb_err err;
    cr_assert_eq(prep(&e, y, 0, 1, 0, &err), 0, "%s", err.reason);
    cJSON *s = lines(&e, "g.inputs.jsonl");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(s, 0), "examples")), 4);
    cJSON_Delete(s);
    s = lines(&e, "h.inputs.jsonl");
    cr_assert_eq(cJSON_GetArraySize(s), 800);
    cJSON_Delete(s);
    free(f);
    env_free(&e);
}

Test(prep, normalize) {
    struct {
        const char *in, *out;
    } c[] = {{"  Pillow. ", "pillow"}, {"A  red\tcar!", "a red car"}, {"2.5", "2.5"}, {"1,000 m.", "1,000 m"},
             {"don't", "dont"}, {"Ünïcode Ok", "Ünïcode ok"}, {"...", ""}, {"a . b", "a b"}};
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        hb_buf b = {0};
        hb_prep_normalize(c[i].in, &b);
        cr_assert_str_eq(b.data ? hb_buf_cstr(&b) : "", c[i].out, "'%s'", c[i].in);
        hb_buf_free(&b);
    }
}

Test(prep, recipe_defaults_and_settings) {
    hb_recipe r;
    hb_err err;
    const char *y = "defaults: {nturn: 10, dedup: answer}\nsources: {v: {dataset: vqav2}, s: {dataset: sharegpt}, "
                    "r: {dataset: refcoco-mdetr, nturn: 1}, o: {dataset: ocrvqa, dedup: question, dedup_normalize: false}}\n";
    cr_assert_eq(hb_recipe_parse(&r, y, strlen(y), "x.yaml", &err), 0, "%s", err.reason);
    hb_prep_settings s;
    cr_assert_eq(hb_prep_settings_of(&r, hb_recipe_find(&r, "v"), &s, &err), 0);
    cr_assert_eq(s.nturn, 10);
    cr_assert_str_eq(s.dedup, "answer", "the paper's multi-turn + dedup everywhere");
    cr_assert_str_eq(s.template_key, "v");
    cr_assert_eq(hb_prep_settings_of(&r, hb_recipe_find(&r, "s"), &s, &err), 0);
    cr_assert_eq(s.nturn, 1, "conversations are not grouped");
    cr_assert_eq(hb_prep_settings_of(&r, hb_recipe_find(&r, "r"), &s, &err), 0);
    cr_assert_eq(s.nturn, 1);
    cr_assert_eq(hb_prep_settings_of(&r, hb_recipe_find(&r, "o"), &s, &err), 0);
    cr_assert_str_eq(s.dedup, "question");
    cr_assert_eq(s.normalize, 0);
    hb_recipe_free(&r);
    const char *y2 = "sources: {v: {dataset: vqav2}, g: {dataset: gqa}}\n";
    cr_assert_eq(hb_recipe_parse(&r, y2, strlen(y2), "x.yaml", &err), 0);
    cr_assert_eq(hb_prep_settings_of(&r, hb_recipe_find(&r, "v"), &s, &err), 0);
    cr_assert(s.nturn == 10 && !strcmp(s.dedup, "none"), "Honeybee's released VQAv2: nturn 10, no dedup");
    cr_assert_eq(hb_prep_settings_of(&r, hb_recipe_find(&r, "g"), &s, &err), 0);
    cr_assert(s.nturn == 10 && !strcmp(s.dedup, "answer"), "GQA: dedup on");
    hb_recipe_free(&r);
}

Test(prep, slices_partition_the_samples_and_ids_are_unique) {
    env e = env_new();
    char *f = put(&e, "s.json",
                  "[{\"id\": \"a\", \"conversations\": [{\"from\": \"human\", \"value\": \"1\"}]},"
                  " {\"id\": \"a\", \"conversations\": [{\"from\": \"human\", \"value\": \"2\"}]},"
                  " {\"id\": \"b\", \"conversations\": [{\"from\": \"human\", \"value\": \"3\"}]},"
                  " {\"id\": \"a~1\", \"conversations\": [{\"from\": \"human\", \"value\": \"4\"}]},"
                  " {\"id\": \"c\", \"conversations\": [{\"from\": \"human\", \"value\": \"5\"}]}]");
    const char *img[12] = {"A", "B", "C", "A", "D", "E", "F", "A", "G", "H", "I", "J"}, *ans[12];
    for (int i = 0; i < 12; i++) ans[i] = "x";
    char *g = gqa_file(&e, "g.json", 12, img, ans);
    char y[1024];
    snprintf(y, sizeof y, "sources: {s: {dataset: sharegpt, files: %s}, g: {dataset: gqa, nturn: 2, dedup: none, files: %s}}\n", f, g);
    hb_err err;
    cr_assert_eq(prep(&e, y, 0, 1, 0, &err), 0, "%s", err.reason);
    cJSON *all = lines(&e, "s.inputs.jsonl");
    cr_assert_eq(cJSON_GetArraySize(all), 5);
    cr_assert_str_eq(id_of(all, 1), "s/a~1", "a repeated key gets its record position");
    cr_assert_str_eq(id_of(all, 3), "s/a~1~3", "and stays unique");
    cJSON *allg = lines(&e, "g.inputs.jsonl");
    int ng = cJSON_GetArraySize(allg);
    cr_assert_eq(ng, 11, "A: 2 chunks of nturn 2, nine single images");
    /* three slices: disjoint, and together the whole */
    int seen_s = 0, seen_g = 0;
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(prep(&e, y, k, 3, 0, &err), 0, "%s", err.reason);
        char name[64];
        snprintf(name, sizeof name, "s.part-%d-of-3.inputs.jsonl", k);
        cJSON *part = lines(&e, name);
        cr_assert(part, "%s", name);
        for (int i = 0; i < cJSON_GetArraySize(part); i++) {
            cr_assert_str_eq(id_of(part, i), id_of(all, 3 * i + k), "slice %d takes every third sample", k);
            seen_s++;
        }
        cJSON_Delete(part);
        snprintf(name, sizeof name, "g.part-%d-of-3.inputs.jsonl", k);
        part = lines(&e, name);
        for (int i = 0; i < cJSON_GetArraySize(part); i++) {
            cr_assert_str_eq(id_of(part, i), id_of(allg, 3 * i + k));
            seen_g++;
        }
        cJSON_Delete(part);
    }
    cr_assert_eq(seen_s, 5);
    cr_assert_eq(seen_g, ng);
    cr_assert_eq(prep(&e, y, 3, 3, 0, &err), HB_EINVAL);
    cJSON_Delete(all);
    cJSON_Delete(allg);
    free(f), free(g);
    env_free(&e);
}

Test(prep, rejects_strict_and_missing_files) {
    env e = env_new();
    char *f = put(&e, "v.jsonl", "{\"image\": \"1.jpg\", \"caption\": \"The cat is on the mat.\", \"label\": 1}\n"
                                 "{\"image\": \"2.jpg\", \"caption\": \"The dog is on the mat.\", \"label\": 7}\n"
                                 "{broken\n"
                                 "{\"image\": \"3.jpg\", \"caption\": \"The cup is on the desk.\", \"label\": 0}\n");
    char y[1024];
    snprintf(y, sizeof y, "sources: {v: {dataset: vsr, files: %s}}\n", f);
    hb_err err;
    cr_assert_eq(prep(&e, y, 0, 1, 0, &err), 0, "%s", err.reason);
    cJSON *rej = lines(&e, "v.rejects.jsonl"), *s = lines(&e, "v.inputs.jsonl");
    cr_assert_eq(cJSON_GetArraySize(s), 2);
    cr_assert_eq(cJSON_GetArraySize(rej), 2);
    const cJSON *r0 = cJSON_GetArrayItem(rej, 0), *r1 = cJSON_GetArrayItem(rej, 1);
    cr_assert_eq(cJSON_GetObjectItem(r0, "record")->valueint, 1);
    cr_assert(strstr(cJSON_GetObjectItem(r0, "reason")->valuestring, "label"));
    cr_assert(strstr(cJSON_GetObjectItem(r0, "file")->valuestring, "v.jsonl"));
    cr_assert_eq(cJSON_GetObjectItem(r1, "record")->valueint, 2);
    int off = cJSON_GetObjectItem(r1, "offset")->valueint;
    cr_assert(off >= 136 && off < 144, "the byte offset inside the bad line (it starts at 136): %d", off);
    cJSON_Delete(rej);
    cJSON_Delete(s);
    char *st = hb_path_join(e.out, "v.stats.json");
    size_t n;
    char *stats = (char *)tu_read(st, &n);
    cJSON *sj = cJSON_Parse(stats);
    cr_assert_eq(cJSON_GetObjectItem(sj, "records_read")->valueint, 4);
    cr_assert_eq(cJSON_GetObjectItem(sj, "rejected_records")->valueint, 2);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(sj, "converter"), "rewrite.copula")->valueint, 2);
    cJSON_Delete(sj);
    free(stats);
    free(st);
    /* --strict: the first bad record stops the run with its file and position; nothing new is committed */
    tu_rmtree(e.out);
    cr_assert_eq(prep(&e, y, 0, 1, 1, &err), HB_EFORMAT);
    cr_assert(strstr(err.file, "v.jsonl"), "%s", err.file);
    cr_assert_eq(err.record, 1);
    cr_assert(strstr(err.reason, "--strict"), "%s", err.reason);
    char *in = hb_path_join(e.out, "v.inputs.jsonl");
    cr_assert(!hb_path_exists(in), "no partial output under the final name");
    free(in);
    /* a missing raw file names the file */
    snprintf(y, sizeof y, "sources: {v: {dataset: vsr, files: %s/none.jsonl}}\n", e.dir);
    cr_assert_eq(prep(&e, y, 0, 1, 0, &err), HB_ENOTFOUND);
    cr_assert(strstr(err.file, "none.jsonl"));
    cr_assert(strstr(err.reason, "sources.v.files"), "%s", err.reason);
    /* --only an unknown source, and a recipe without sources */
    cr_assert_eq(prep(&e, "sources: {}\n", 0, 1, 0, &err), HB_EINVAL);
    free(f);
    env_free(&e);
}

/* Every mistake in any source is reported before anything is built or written, naming the key (with the closest
 * known name when it looks like a typo). */
Test(prep, recipe_mistakes_are_found_before_anything_is_built) {
    env e = env_new();
    char *f = put(&e, "v.jsonl", "{\"image\": \"1.jpg\", \"caption\": \"The cat is on the mat.\", \"label\": 1}\n");
    char *sub = hb_path_join(e.dir, "sub");
    cr_assert_eq(hb_mkdir_p(sub, NULL), 0);
    static const struct {
        const char *second; /* the second source, after a good first one */
        hb_code code;
        const char *says;
    } CASES[] = {
        {"{dataset: vsr_, files: %s}", HB_EINVAL, "unknown converter 'vsr_' (did you mean 'vsr'?)"},
        {"{dataset: vsr, files: %s, rewrte: robust}", HB_EFORMAT, "sources.b.rewrte: unknown key (did you mean 'rewrite'?)"},
        {"{dataset: vsr, files: %s.missing}", HB_ENOTFOUND, "missing raw file (named by sources.b.files"},
        {"{dataset: vsr, files: DIR}", HB_EINVAL, "is a folder; sources.b.files"},
        {"{dataset: vsr}", HB_EINVAL, "sources.b.files: missing"},
        {"{dataset: vqav2, files: {questions: %s, anotations: %s}}", HB_EINVAL,
         "sources.b.files.anotations: not a file role of vqav2 (did you mean 'annotations'?)"},
        {"{dataset: sharegpt, files: %s, nturn: 2}", HB_EINVAL, "nturn and dedup do not apply"},
        {"{dataset: refcoco-mdetr, files: %s, bbox_decimals: 4}", HB_EINVAL, "sources.b.bbox_decimals"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        char second[512], y[1200];
        const char *t = CASES[i].second;
        if (strstr(t, "DIR")) snprintf(second, sizeof second, "{dataset: vsr, files: %s}", sub);
        else snprintf(second, sizeof second, t, f, f);
        snprintf(y, sizeof y, "sources: {a: {dataset: vsr, files: %s}, b: %s}\n", f, second);
        hb_err err;
        tu_rmtree(e.out);
        cr_assert_eq(prep(&e, y, 0, 1, 0, &err), CASES[i].code, "case %zu: %s", i, err.reason);
        char buf[2048];
        hb_err_format(&err, buf, sizeof buf);
        cr_assert(strstr(buf, CASES[i].says), "case %zu: %s", i, buf);
        cr_assert(!hb_path_exists(e.out), "case %zu: nothing is written, not even source a", i);
    }
    /* images: a source whose records name images needs a root that exists, or `images: none` */
    char y[1200];
    snprintf(y, sizeof y, "sources: {v: {dataset: vsr, files: %s}, w: {dataset: vsr, files: %s, images: none},"
                          " x: {dataset: vsr, files: %s, images: nope}, s: {dataset: sharegpt, files: %s}}\n", f, f, f, f);
    char *rp = put(&e, "r.yaml", y);
    hb_recipe r;
    hb_err err;
    cr_assert_eq(hb_recipe_load(&r, rp, &err), 0, "%s", err.reason);
    cr_assert_eq(hb_src_check(&r, hb_recipe_find(&r, "v"), 1, &err), HB_EINVAL);
    cr_assert(strstr(err.reason, "sources.v.images: missing") && strstr(err.reason, "images: none"), "%s", err.reason);
    cr_assert_eq(hb_src_check(&r, hb_recipe_find(&r, "v"), 0, &err), 0, "--no-images: no root needed");
    cr_assert_eq(hb_src_check(&r, hb_recipe_find(&r, "w"), 1, &err), 0, "%s", err.reason);
    cr_assert(hb_recipe_find(&r, "w")->no_images && !hb_recipe_find(&r, "w")->images);
    cr_assert_eq(hb_src_check(&r, hb_recipe_find(&r, "x"), 1, &err), HB_ENOTFOUND);
    cr_assert(strstr(err.file, "nope") && strstr(err.reason, "sources.x.images"), "%s: %s", err.file, err.reason);
    cr_assert_eq(hb_src_check(&r, hb_recipe_find(&r, "s"), 1, &err), 0, "text-only data needs no images");
    hb_recipe_free(&r);
    free(rp), free(f), free(sub);
    env_free(&e);
}

/* Rejects and samples name the raw file as the recipe spells it, whatever the working directory and however the
 * recipe path was given (so outputs are byte-identical from any directory). */
Test(prep, provenance_names_files_as_the_recipe_does) {
    env e = env_new();
    char *sub = hb_path_join(e.dir, "data");
    cr_assert_eq(hb_mkdir_p(sub, NULL), 0);
    char *f = put(&e, "data/v.jsonl", "{\"image\": \"1.jpg\", \"caption\": \"The cat is on the mat.\", \"label\": 9}\n");
    char *g = put(&e, "data/w.jsonl", "{\"image\": \"1.jpg\", \"caption\": \"The cat is on the mat.\", \"label\": 9}\n");
    const char *base = strrchr(e.dir, '/') + 1;
    char y[1024];
    snprintf(y, sizeof y, "sources: {v: {dataset: vsr, files: [../%s/data/v.jsonl, ./data/w.jsonl]}}\n", base);
    hb_err err;
    cr_assert_eq(prep(&e, y, 0, 1, 0, &err), 0, "%s", err.reason);
    cJSON *rej = lines(&e, "v.rejects.jsonl");
    cr_assert_eq(cJSON_GetArraySize(rej), 2);
    char want[600];
    snprintf(want, sizeof want, "../%s/data/v.jsonl", base);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(rej, 0), "file")->valuestring, want);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(rej, 1), "file")->valuestring, "./data/w.jsonl");
    cJSON_Delete(rej);
    /* files found through a pattern or a folder: the literal part as written + the rest */
    char *tar = tu_repo("examples/webdataset/00000.tar"), *shards = hb_path_join(e.dir, "data/shards");
    cr_assert_eq(hb_mkdir_p(shards, NULL), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/00007.tar'", tar, shards);
    cr_assert_eq(system(cmd), 0);
    const char *spell[][2] = {{"data/*/0000?.tar", "data/shards/00007.tar"}, {"./data/shards/", "./data/shards/00007.tar"}};
    for (int k = 0; k < 2; k++) {
        snprintf(y, sizeof y, "sources: {c: {dataset: webdataset, files: '%s'}}\n", spell[k][0]);
        cr_assert_eq(prep(&e, y, 0, 1, 0, &err), 0, "%s", err.reason);
        rej = lines(&e, "c.rejects.jsonl"); /* the example's sample without an image */
        cr_assert_eq(cJSON_GetArraySize(rej), 1);
        cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(rej, 0), "file")->valuestring, spell[k][1]);
        cJSON_Delete(rej);
    }
    free(tar), free(shards);
    free(f), free(g), free(sub);
    env_free(&e);
}

/* An interruption (SIGINT/SIGTERM in hb-prep) stops the run with HB_EINTR, naming where it stopped, and leaves no
 * temporary file and nothing new under a final name: a fresh output directory is removed again, an existing one
 * keeps what it held. */
static char *listing(const char *dir) {
    char *cmd = hb_xmalloc(strlen(dir) + 64), *out = NULL;
    sprintf(cmd, "ls -A '%s' 2>/dev/null", dir);
    tu_run(cmd, &out);
    free(cmd);
    return out;
}

Test(prep, interruption_stops_cleanly) {
    env e = env_new();
    char *f = put(&e, "v.jsonl", "{\"image\": \"1.jpg\", \"caption\": \"The cat is on the mat.\", \"label\": 1}\n");
    char y[600];
    snprintf(y, sizeof y, "sources: {v: {dataset: vsr, files: %s}}\n", f);
    hb_err err;
    hb_interrupt_set(2);
    int rc = prep(&e, y, 0, 1, 0, &err);
    hb_interrupt_set(0);
    cr_assert_eq(rc, HB_EINTR, "%d %s", rc, err.reason);
    cr_assert(strstr(err.reason, "interrupted") && strstr(err.file, "v.jsonl") && err.record == 0, "%s: %s", err.file,
              err.reason);
    cr_assert(!hb_path_exists(e.out), "the output directory this run made is gone");
    cr_assert_eq(prep(&e, y, 0, 1, 0, &err), 0, "a rerun works: %s", err.reason);
    char *before = listing(e.out);
    cr_assert(strstr(before, "v.inputs.jsonl"), "%s", before);
    hb_interrupt_set(15);
    rc = prep(&e, y, 0, 1, 0, &err);
    hb_interrupt_set(0);
    cr_assert_eq(rc, HB_EINTR);
    char *after = listing(e.out);
    cr_assert_str_eq(after, before, "an interrupted run over an output directory leaves it as it was");
    free(before), free(after), free(f);
    env_free(&e);
}
