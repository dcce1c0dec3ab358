/* Fuzz template-set loading (lib/text/template.c) and the linter (template_lint.c) on arbitrary YAML text; a set
 * that loads is looked up for every key and known dataset. Seeds: tests/fuzz/corpus/template (templates/). */
#include "fuzz.h"
#include "text/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hb_err e;
    hb_err_clear(&e);
    hb_template_set *ts = NULL;
    int rc = hb_template_parse((const char *)data, size, "fuzz.yaml", &ts, &e);
    if (rc) {
        fz_check_err(rc, &e);
    } else {
        (void)hb_template_name(ts);
        (void)hb_template_system(ts);
        (void)hb_template_conv_system(ts);
        for (uint32_t i = 0; i < hb_template_n_keys(ts); i++) {
            const hb_pattern_key *k = hb_template_key(ts, i);
            FZ_ASSERT(k && k->n_patterns >= 1, "key %u without patterns", i);
            FZ_ASSERT(hb_template_lookup(ts, k->key) != NULL, "key %s not found", k->key);
        }
        static const char *const ds[] = {"vqav2", "gqa", "scienceqa", "llava150k", "nope", NULL};
        for (int i = 0; ds[i]; i++) {
            hb_template_lookup(ts, ds[i]);
            hb_template_dataset_fields(ts, ds[i]);
        }
        hb_template_free(ts);
    }
    hb_buf rep = {0};
    int ne = 0, nw = 0;
    hb_template_lint_text((const char *)data, size, "fuzz.yaml", &rep, &ne, &nw);
    FZ_ASSERT(rc == 0 || ne > 0, "the loader failed (%s) but the linter found no error", e.reason);
    hb_buf_free(&rep);
    return 0;
}
