/* lib/recipe/recipe: top-level settings and defaults, path resolution, sources and their common keys, errors that
 * name the key path, the recipe hash. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/testutil.h"
#include "recipe/recipe.h"

static const char *GOOD = "name: demo\n"
                          "seed: 1234\n"
                          "tokenizer: ../tok/tokenizer.json\n"
                          "templates: /abs/honeybee.yaml\n"
                          "max_length: 511\n"
                          "visual_tokens: 64\n"
                          "defaults: {nturn: 10, dedup: answer}\n"
                          "sources:\n"
                          "  vqav2:\n"
                          "    files: {questions: q.json, annotations: a.json}\n"
                          "    images: coco\n"
                          "    nturn: 5\n"
                          "  refcoco+:\n"
                          "    dataset: refcoco\n"
                          "    files: [x.json]\n"
                          "    dedup: none\n"
                          "    dedup_normalize: false\n"
                          "    template: refcocop\n"
                          "    limit: 7\n"
                          "    image_prefix: train2014/\n"
                          "    image_flat: true\n"
                          "    split: train\n"
                          "mix: {unit: samples, sources: {vqav2: {weight: 1}}}\n";

Test(recipe, parses_settings_sources_and_paths) {
    hb_recipe r;
    hb_err e;
    cr_assert_eq(hb_recipe_parse(&r, GOOD, strlen(GOOD), "recipes/demo.yaml", &e), 0, "%s", e.reason);
    cr_assert_str_eq(r.name, "demo");
    cr_assert_eq(r.seed, 1234);
    cr_assert_str_eq(r.tokenizer, "tok/tokenizer.json", "relative to the recipe, normalised");
    cr_assert_str_eq(r.templates, "/abs/honeybee.yaml");
    cr_assert_null(r.output);
    cr_assert_eq(r.max_length, 511);
    cr_assert_eq(r.visual_tokens, 64);
    cr_assert_eq(r.image_size, 224, "default");
    cr_assert_eq(r.n_sources, 2);
    const hb_recipe_source *v = &r.sources[0], *rc = hb_recipe_find(&r, "refcoco+");
    cr_assert_str_eq(v->name, "vqav2");
    cr_assert_str_eq(v->dataset, "vqav2", "dataset defaults to the source name");
    cr_assert_str_eq(v->images, "recipes/coco");
    cr_assert_eq(v->nturn, 5);
    cr_assert_null(v->dedup);
    cr_assert_eq(v->dedup_normalize, -1, "unset");
    cr_assert_eq(v->limit, -1);
    char *q = hb_recipe_path(&r, cJSON_GetObjectItem(v->files, "questions")->valuestring);
    cr_assert_str_eq(q, "recipes/q.json");
    free(q);
    cr_assert(rc);
    cr_assert_str_eq(rc->dataset, "refcoco");
    cr_assert_eq(rc->nturn, HB_NTURN_DEFAULT);
    cr_assert_str_eq(rc->dedup, "none");
    cr_assert_eq(rc->dedup_normalize, 0);
    cr_assert_str_eq(rc->template_key, "refcocop");
    cr_assert_eq(rc->limit, 7);
    cr_assert_str_eq(rc->image_prefix, "train2014/");
    cr_assert_eq(rc->image_flat, 1);
    cr_assert_null(rc->images);
    cr_assert_str_eq(cJSON_GetObjectItem(rc->node, "split")->valuestring, "train", "converter options stay in node");
    cr_assert(cJSON_IsObject(r.mix));
    cr_assert_eq(cJSON_GetObjectItem(r.defaults, "nturn")->valueint, 10);
    cr_assert_null(hb_recipe_find(&r, "nope"));
    cr_assert_eq(strlen(r.hash), 16);
    hb_recipe_free(&r);
}

Test(recipe, defaults_and_name_from_file) {
    hb_recipe r;
    hb_err e;
    const char *t = "sources: {}\n";
    cr_assert_eq(hb_recipe_parse(&r, t, strlen(t), "x/y/my-recipe.yaml", &e), 0, "%s", e.reason);
    cr_assert_str_eq(r.name, "my-recipe");
    cr_assert_str_eq(r.dir, "x/y");
    cr_assert_eq(r.max_length, 1023);
    cr_assert_eq(r.visual_tokens, 144);
    cr_assert_eq(r.seed, 0);
    cr_assert_eq(r.n_sources, 0);
    char h1[17];
    memcpy(h1, r.hash, 17);
    hb_recipe_free(&r);
    const char *t2 = "sources: {}\n\n";
    cr_assert_eq(hb_recipe_parse(&r, t2, strlen(t2), "plain.yaml", &e), 0);
    cr_assert_str_neq(r.hash, h1, "the hash covers the file bytes");
    cr_assert_str_eq(r.dir, ".");
    char *p = hb_recipe_path(&r, "a/b.json");
    cr_assert_str_eq(p, "a/b.json");
    free(p);
    hb_recipe_free(&r);
}

Test(recipe, malformed_recipes_name_the_key) {
    struct {
        const char *text, *want;
    } bad[] = {
        {"sources: {a: {nturn: x}}\n", "sources.a.nturn"},
        {"sources: {a: {nturn: -2}}\n", "sources.a.nturn"},
        {"sources: {a: {limit: -5}}\n", "sources.a.limit"},
        {"sources: {a: {files: 3}}\n", "sources.a.files"},
        {"sources: {a: {files: {q: [1]}}}\n", "sources.a.files"},
        {"sources: {a: {dedup: ''}}\n", "sources.a.dedup"},
        {"sources: {'a b': {}}\n", "a source name"},
        {"sources: {a: 3}\n", "sources.a: expected a mapping"},
        {"sources: [a]\n", "sources:"},
        {"seeed: 3\n", "seeed: unknown key"},
        {"max_length: 0\n", "max_length"},
        {"seed: -1\n", "seed"},
        {"defaults: {nturn: 2, typo: 1}\n", "defaults.typo"},
        {"- a\n- b\n", "a recipe is a mapping"},
        {"a: [1, 2\n", "line"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hb_recipe r;
        hb_err e;
        int rc = hb_recipe_parse(&r, bad[i].text, strlen(bad[i].text), "bad.yaml", &e);
        cr_assert_neq(rc, 0, "case %zu accepted", i);
        cr_assert(strstr(e.reason, bad[i].want), "case %zu: %s", i, e.reason);
        cr_assert_str_eq(e.file, "bad.yaml");
    }
    hb_recipe r;
    hb_err e;
    cr_assert_eq(hb_recipe_load(&r, "/nonexistent/r.yaml", &e), HB_ENOTFOUND);
}
