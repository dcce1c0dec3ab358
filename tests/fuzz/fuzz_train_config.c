/* Fuzz the trainer's configuration (model/trainer_config.c) on arbitrary YAML: apply the tree over the defaults,
 * finish (stage defaults, checks); a configuration that passes is written as YAML (hb_trainer_cfg_yaml), which must
 * load back to the same values, field by field (strings that are valid UTF-8). The first line of the input may be "--key value" to exercise the
 * command-line setter too. Seeds: tests/fuzz/corpus/train_config (examples/train/demo.yaml and variants). */
#include "fuzz.h"
#include "model/trainer.h"
#include "recipe/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hb_trainer_cfg c;
    hb_trainer_cfg_defaults(&c);
    hb_err e;
    if (size > 2 && data[0] == '-' && data[1] == '-') {
        const uint8_t *nl = memchr(data, '\n', size);
        if (!nl) return 0;
        char *line = fz_cstr(data + 2, (size_t)(nl - data - 2));
        char *sp = strchr(line, ' ');
        if (sp) {
            *sp = 0;
            hb_err_clear(&e);
            int rc = hb_trainer_cfg_set(&c, line, sp + 1, &e);
            if (rc) fz_check_err(rc, &e);
        }
        free(line);
        size -= (size_t)(nl + 1 - data);
        data = nl + 1;
    }
    cJSON *root = NULL;
    hb_err_clear(&e);
    if (hb_yaml_parse((const char *)data, size, "train.yaml", &root, &e)) return 0;
    int rc = hb_trainer_cfg_apply_tree(&c, root, "train.yaml", "/fuzz", &e);
    cJSON_Delete(root);
    if (rc) {
        fz_check_err(rc, &e);
        return 0;
    }
    hb_err_clear(&e);
    rc = hb_trainer_cfg_finish(&c, &e);
    if (rc) {
        fz_check_err(rc, &e);
        return 0;
    }
    hb_buf y = {0};
    hb_trainer_cfg_yaml(&c, &y);
    hb_trainer_cfg d;
    hb_trainer_cfg_defaults(&d);
    hb_err_clear(&e);
    rc = hb_yaml_parse((const char *)y.data, y.len, "written.yaml", &root, &e);
    FZ_ASSERT(rc == 0, "the written configuration is not YAML: %s\n%s", e.reason, hb_buf_cstr(&y));
    rc = hb_trainer_cfg_apply_tree(&d, root, "written.yaml", NULL, &e);
    cJSON_Delete(root);
    FZ_ASSERT(rc == 0, "the written configuration does not load: %s\n%s", e.reason, hb_buf_cstr(&y));
    int n;
    const hb_trainer_field *f = hb_trainer_cfg_fields(&n);
    hb_buf a = {0}, b = {0};
    for (int i = 0; i < n; i++) {
        hb_buf_clear(&a), hb_buf_clear(&b);
        hb_trainer_cfg_get(&c, f[i].name, &a);
        hb_trainer_cfg_get(&d, f[i].name, &b);
        /* exact for valid UTF-8: YAML strings cannot hold other bytes (they are written as \u00XX) */
        FZ_ASSERT((a.len == b.len && fz_memeq(a.data, b.data, a.len)) || !fz_valid_utf8(a.data, a.len),
                  "%s: '%s' written, '%s' read back", f[i].name,
                  hb_buf_cstr(&a), hb_buf_cstr(&b));
    }
    hb_buf_free(&a), hb_buf_free(&b), hb_buf_free(&y);
    return 0;
}
