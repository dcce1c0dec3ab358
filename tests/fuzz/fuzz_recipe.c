/* Fuzz recipe parsing (lib/recipe/recipe.c) and the mix section parser (lib/mix/spec.c) on arbitrary YAML text.
 * Seeds: tests/fuzz/corpus/recipe (the recipes in recipes/). */
#include "fuzz.h"
#include "mix/mix.h"
#include "recipe/recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hb_err e;
    hb_err_clear(&e);
    hb_recipe r;
    int rc = hb_recipe_parse(&r, (const char *)data, size, "/fuzz/recipes/x.yaml", &e);
    if (rc) {
        fz_check_err(rc, &e);
        return 0;
    }
    for (size_t i = 0; i < r.n_sources; i++) {
        FZ_ASSERT(hb_recipe_find(&r, r.sources[i].name) != NULL, "source %zu not found by name", i);
        char *p = hb_recipe_path(&r, "a/b.json");
        free(p);
    }
    hb_mix_spec spec;
    hb_err_clear(&e);
    rc = hb_mix_spec_parse(r.root, r.path, r.dir, &spec, &e);
    if (rc) fz_check_err(rc, &e);
    else hb_mix_spec_free(&spec);
    hb_recipe_free(&r);
    return 0;
}
