/* Fuzz the YAML loader (lib/recipe/yaml.c, libyaml events -> cJSON) on arbitrary text, then the typed getters on
 * every key of the top-level mapping. Seeds: tests/fuzz/corpus/yaml (recipes, template sets, training configs). */
#include "fuzz.h"
#include "recipe/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hb_err e;
    hb_err_clear(&e);
    cJSON *root = NULL;
    int rc = hb_yaml_parse((const char *)data, size, "fuzz.yaml", &root, &e);
    if (rc) {
        fz_check_err(rc, &e);
        FZ_ASSERT(root == NULL, "tree returned with an error");
        return 0;
    }
    if (cJSON_IsObject(root)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, root) {
            const char *s = NULL;
            long long i = 0;
            double d = 0;
            int b = 0;
            hb_cfg_str(root, it->string, 1, "fuzz.yaml", "", &s, &e);
            hb_cfg_int(root, it->string, 1, "fuzz.yaml", "", &i, &e);
            hb_cfg_num(root, it->string, 1, "fuzz.yaml", "", &d, &e);
            hb_cfg_bool(root, it->string, 1, "fuzz.yaml", "", &b, &e);
        }
        static const char *const known[] = {"name", "sources", "mix", NULL};
        hb_cfg_known_keys(root, known, "fuzz.yaml", "", &e);
    }
    char *txt = cJSON_PrintUnformatted(root);
    FZ_ASSERT(txt != NULL, "tree does not print");
    cJSON_free(txt);
    cJSON_Delete(root);
    return 0;
}
