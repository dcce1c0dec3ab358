/* lib/mix against the independent reference tests/ref/gen_mix_reference.py (docs/mix-plan.md implemented in Python):
 * for each case the same shards and mix section must give exactly the reference's per-source counts, every entry of
 * the stream in order, every sequence boundary, and the realised token totals of table.json. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/mixutil.h"
#include "helpers/testutil.h"
#include "mix/mix.h"

static cJSON *load_fixture(void) {
    char *path = tu_repo("tests/fixtures/mix/reference.json");
    size_t n;
    char *text = (char *)tu_read(path, &n);
    cr_assert_not_null(text, "missing %s (run tests/ref/gen_mix_reference.py)", path);
    cJSON *root = cJSON_ParseWithLength(text, n);
    cr_assert_not_null(root);
    free(text);
    free(path);
    return root;
}

/* The case's shards: per source its shard sizes, with the fixture's lengths, plus a manifest. */
static void write_shards(const char *sd, const cJSON *shards, const cJSON *lengths) {
    hb_manifest m = {0};
    m.tool = hb_xstrdup("test");
    m.recipe_hash = hb_xstrdup("");
    const cJSON *src;
    cJSON_ArrayForEach(src, shards) {
        const cJSON *lens = cJSON_GetObjectItemCaseSensitive(lengths, src->string), *sz;
        uint64_t first = 0;
        int k = 0;
        cJSON_ArrayForEach(sz, src) {
            uint64_t n = (uint64_t)sz->valuedouble;
            uint32_t (*l)[3] = calloc(n + 1, sizeof *l);
            for (uint64_t j = 0; j < n; j++)
                for (int u = 0; u < 3; u++)
                    l[j][u] = (uint32_t)cJSON_GetArrayItem(cJSON_GetArrayItem(lens, (int)(first + j)), u)->valuedouble;
            char file[64];
            snprintf(file, sizeof file, "%s-%05d.hbs", src->string, k++);
            cr_assert_eq(tu_mix_shard(sd, file, src->string, first, n, (const uint32_t (*)[3])l, &m), 0);
            free(l);
            first += n;
        }
    }
    hb_err e;
    cr_assert_eq(hb_manifest_write(&m, sd, &e), 0);
    hb_manifest_free(&m);
}

static void check_case(const cJSON *c, const cJSON *lengths) {
    const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(c, "expect");
    char *d = tu_mkdtemp(), *sd = hb_path_join(d, "shards");
    hb_err e;
    cr_assert_eq(hb_mkdir_p(sd, &e), 0);
    write_shards(sd, cJSON_GetObjectItemCaseSensitive(c, "shards"), lengths);
    /* JSON is YAML: the mix section goes in as it is */
    char *mix = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "mix"));
    hb_buf body = {0};
    hb_buf_printf(&body, "mix: %s\n", mix);
    char recipe[512];
    snprintf(recipe, sizeof recipe, "seed: %d\n", (int)cJSON_GetObjectItemCaseSensitive(c, "seed")->valuedouble);
    hb_buf full = {0};
    hb_buf_printf(&full, "name: %s\n%soutput: shards\n%s", name, recipe, hb_buf_cstr(&body));
    char *rp = tu_mix_recipe(d, "r.yaml", hb_buf_cstr(&full));
    hb_mix_opts o = {rp, NULL, NULL, 0, 2};
    FILE *null = fopen("/dev/null", "w");
    cr_assert_eq(hb_mix_run(&o, null, &e), 0, "%s: %s", name, e.reason);
    fclose(null);
    char rel[128];
    snprintf(rel, sizeof rel, "shards/mix-%s/plan.hbmix", name);
    char *pp = hb_path_join(d, rel);
    hb_mix_plan *p;
    cr_assert_eq(hb_mix_plan_open(&p, pp, &e), 0, "%s", e.reason);
    const cJSON *ents = cJSON_GetObjectItemCaseSensitive(expect, "entries");
    cr_assert_eq(hb_mix_plan_samples(p), (uint64_t)cJSON_GetArraySize(ents), "%s: stream length", name);
    for (int k = 0; k < cJSON_GetArraySize(ents); k++) {
        hb_mix_ref r;
        cr_assert_eq(hb_mix_plan_sample(p, (uint64_t)k, &r, &e), 0);
        const cJSON *x = cJSON_GetArrayItem(ents, k);
        cr_assert(r.shard == (uint32_t)cJSON_GetArrayItem(x, 0)->valuedouble &&
                      r.record == (uint64_t)cJSON_GetArrayItem(x, 1)->valuedouble,
                  "%s: sample %d is shard %u record %llu, the reference says %d %d", name, k, r.shard,
                  (unsigned long long)r.record, (int)cJSON_GetArrayItem(x, 0)->valuedouble,
                  (int)cJSON_GetArrayItem(x, 1)->valuedouble);
    }
    const cJSON *seqs = cJSON_GetObjectItemCaseSensitive(expect, "sequences");
    if (cJSON_IsArray(seqs)) {
        cr_assert_eq(hb_mix_plan_sequences(p) + 1, (uint64_t)cJSON_GetArraySize(seqs), "%s: sequences", name);
        for (uint64_t q = 0; q < hb_mix_plan_sequences(p); q++) {
            uint64_t a, n;
            cr_assert_eq(hb_mix_plan_sequence(p, q, &a, &n, &e), 0);
            cr_assert_eq(a, (uint64_t)cJSON_GetArrayItem(seqs, (int)q)->valuedouble, "%s: sequence %llu", name,
                         (unsigned long long)q);
        }
    } else {
        cr_assert_eq(hb_mix_plan_sequences(p), hb_mix_plan_samples(p));
    }
    /* table.json: counts and realised totals */
    snprintf(rel, sizeof rel, "shards/mix-%s/table.json", name);
    char *tp = hb_path_join(d, rel);
    size_t tn;
    char *tj = (char *)tu_read(tp, &tn);
    cJSON *table = cJSON_ParseWithLength(tj, tn);
    cr_assert_not_null(table);
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(table, "sources");
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(expect, "counts");
    const cJSON *realised = cJSON_GetObjectItemCaseSensitive(expect, "realised");
    static const char *const keys[] = {"samples", "tokens", "supervised_tokens", "image_tokens"};
    for (int i = 0; i < cJSON_GetArraySize(counts); i++) {
        const cJSON *row = cJSON_GetArrayItem(rows, i);
        cr_assert_eq(cJSON_GetObjectItemCaseSensitive(row, "samples")->valuedouble,
                     cJSON_GetArrayItem(counts, i)->valuedouble, "%s: source %d count", name, i);
        for (int u = 0; u < 4; u++)
            cr_assert_eq(cJSON_GetObjectItemCaseSensitive(row, keys[u])->valuedouble,
                         cJSON_GetArrayItem(cJSON_GetArrayItem(realised, i), u)->valuedouble, "%s: source %d %s", name, i,
                         keys[u]);
    }
    cJSON_Delete(table);
    free(tj), free(tp);
    hb_mix_plan_close(p);
    cJSON_free(mix);
    hb_buf_free(&body);
    hb_buf_free(&full);
    free(rp), free(pp), free(sd);
    tu_rmtree(d);
    free(d);
}

Test(mix_ref, every_case_matches_the_python_reference) {
    cJSON *root = load_fixture();
    const cJSON *lengths = cJSON_GetObjectItemCaseSensitive(root, "lengths"), *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
        check_case(c, lengths);
        n++;
    }
    cr_assert_eq(n, 6);
    cJSON_Delete(root);
}
