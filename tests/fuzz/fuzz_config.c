/* Fuzz model configuration parsing (model/config.c) on arbitrary config.json bytes: the Honeybee layouts (current
 * and legacy), a CLIP config and a LLaMA config; a config that parses is written back and must parse to the same
 * values. Seeds: tests/fuzz/corpus/config (tests/fixtures/model configs, examples/train/tiny-224.json). */
#include "fuzz.h"
#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    if (!j) return 0;
    hb_err e;
    hb_err_clear(&e);
    hb_model_cfg c;
    memset(&c, 0, sizeof c);
    int rc = hb_config_parse(j, "config.json", &c, &e);
    if (rc) {
        fz_check_err(rc, &e);
    } else {
        FZ_ASSERT(hb_config_vit_layers(&c) >= 0, "vit layers");
        cJSON *back = hb_config_to_json(&c);
        hb_model_cfg d;
        memset(&d, 0, sizeof d);
        hb_err_clear(&e);
        rc = hb_config_parse(back, "written.json", &d, &e);
        FZ_ASSERT(rc == 0, "a written config does not parse: %s", e.reason);
        FZ_ASSERT(d.text.hidden_size == c.text.hidden_size && d.vision.image_size == c.vision.image_size &&
                      d.proj.num_query_tokens == c.proj.num_query_tokens,
                  "round trip changed the config");
        cJSON_Delete(back);
    }
    hb_clip_cfg v;
    hb_err_clear(&e);
    rc = hb_config_parse_clip(j, "clip.json", &v, &e);
    if (rc) fz_check_err(rc, &e);
    hb_llama_cfg l;
    hb_err_clear(&e);
    rc = hb_config_parse_llama(j, "llama.json", &l, &e);
    if (rc) fz_check_err(rc, &e);
    cJSON_Delete(j);
    return 0;
}
