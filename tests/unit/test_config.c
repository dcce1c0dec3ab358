/* model/config: Honeybee config.json in the official and the legacy layout (written by tests/ref/
 * gen_model_fixtures.py from HF's own config classes), CLIPVisionModel and CLIPModel configs, LLaMA configs of
 * transformers 4.38 and 5.x, the write -> read round trip, presets and their parameter counts against
 * spec-model.md, and malformed or unsupported configs. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "model/config.h"
#include "model/model.h"

static char *fixture(const char *rel) {
    char p[256];
    snprintf(p, sizeof p, "tests/fixtures/model/%s", rel);
    return tu_repo(p);
}

static hb_model_cfg load(const char *rel) {
    char *p = fixture(rel);
    hb_model_cfg c;
    hb_err e;
    cr_assert_eq(hb_config_load(p, &c, &e), 0, "%s: %s", rel, e.reason);
    free(p);
    return c;
}

static void assert_same(const hb_model_cfg *a, const hb_model_cfg *b) {
    cr_assert_eq(a->vision.hidden_size, b->vision.hidden_size);
    cr_assert_eq(a->vision.intermediate_size, b->vision.intermediate_size);
    cr_assert_eq(a->vision.num_attention_heads, b->vision.num_attention_heads);
    cr_assert_eq(a->vision.num_hidden_layers, b->vision.num_hidden_layers);
    cr_assert_eq(a->vision.patch_size, b->vision.patch_size);
    cr_assert_eq(a->vision.image_size, b->vision.image_size);
    cr_assert_float_eq(a->vision.layer_norm_eps, b->vision.layer_norm_eps, 1e-12);
    cr_assert_str_eq(a->proj.projector_type, b->proj.projector_type);
    cr_assert_eq(a->proj.depth, b->proj.depth);
    cr_assert_eq(a->proj.mlp_depth, b->proj.mlp_depth);
    cr_assert_eq(a->proj.hidden_size, b->proj.hidden_size);
    cr_assert_eq(a->proj.num_query_tokens, b->proj.num_query_tokens);
    cr_assert_eq(a->proj.pos_emb, b->proj.pos_emb);
    cr_assert_eq(a->proj.prenorm, b->proj.prenorm);
    cr_assert_eq(a->proj.feature_layer_index, b->proj.feature_layer_index);
    cr_assert_eq(a->proj.encoder_hidden_size, b->proj.encoder_hidden_size);
    cr_assert_eq(a->proj.output_hidden_size, b->proj.output_hidden_size);
    cr_assert_eq(a->proj.num_eos_tokens, b->proj.num_eos_tokens);
    cr_assert_eq(a->text.vocab_size, b->text.vocab_size);
    cr_assert_eq(a->text.hidden_size, b->text.hidden_size);
    cr_assert_eq(a->text.intermediate_size, b->text.intermediate_size);
    cr_assert_eq(a->text.num_hidden_layers, b->text.num_hidden_layers);
    cr_assert_eq(a->text.num_attention_heads, b->text.num_attention_heads);
    cr_assert_float_eq(a->text.rms_norm_eps, b->text.rms_norm_eps, 1e-15);
    cr_assert_float_eq(a->text.rope_theta, b->text.rope_theta, 1e-9);
}

Test(config, honeybee_layout_and_legacy_layout_agree) {
    hb_model_cfg a = load("a/config.json"), l = load("a/config_legacy.json");
    cr_assert_eq(a.vision.hidden_size, 16);
    cr_assert_eq(a.vision.num_hidden_layers, 3);
    cr_assert_eq(a.vision.patch_size, 4);
    cr_assert_eq(a.vision.image_size, 16);
    cr_assert_eq(a.proj.depth, 2);
    cr_assert_eq(a.proj.hidden_size, 24);
    cr_assert_eq(a.proj.num_query_tokens, 9);
    cr_assert_eq(a.proj.feature_layer_index, -2);
    cr_assert_eq(a.text.vocab_size, 128);
    cr_assert_eq(a.text.num_hidden_layers, 2);
    cr_assert_float_eq(a.text.rope_theta, 10000.0, 0, "transformers 5 writes rope_parameters");
    cr_assert_eq(hb_config_vit_layers(&a), 2, "-2 runs all but the last CLIP layer");
    assert_same(&a, &l);
    hb_model_cfg b = load("b/config.json"), bl = load("b/config_legacy.json");
    assert_same(&b, &bl);
    cr_assert(b.proj.prenorm && b.proj.num_eos_tokens == 1 && b.proj.mlp_depth == 3);
    cr_assert_float_eq(b.text.rope_theta, 500.0, 0);
    cr_assert_float_eq(b.text.rms_norm_eps, 1e-6, 1e-18);
    cr_assert_eq(hb_config_visual_tokens(&b), 5);
    cr_assert_eq(hb_config_vit_layers(&b), 2);
}

Test(config, clip_vision_and_clip_model_layouts) {
    hb_clip_cfg v1, v2;
    hb_err e;
    char *p1 = fixture("a/hf_clip"), *p2 = fixture("a/hf_clip_model/config.json");
    cr_assert_eq(hb_config_load_clip(p1, &v1, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_config_load_clip(p2, &v2, &e), 0, "%s", e.reason);
    cr_assert_eq(v1.hidden_size, 16);
    cr_assert_eq(v2.hidden_size, 16, "CLIPModel: the vision keys under vision_config");
    cr_assert_eq(v1.num_hidden_layers, v2.num_hidden_layers);
    cr_assert_eq(v1.patch_size, 4);
    cr_assert_eq(v2.intermediate_size, 40);
    free(p1);
    free(p2);
    /* missing keys take HF's CLIPVisionConfig defaults */
    cJSON *j = cJSON_Parse("{\"hidden_size\": 1024, \"patch_size\": 14}");
    cr_assert_eq(hb_config_parse_clip(j, "x.json", &v1, &e), 0);
    cr_assert(v1.hidden_size == 1024 && v1.num_hidden_layers == 12 && v1.image_size == 224);
    cJSON_Delete(j);
}

Test(config, llama_configs_of_both_transformers_generations) {
    hb_llama_cfg t;
    hb_err e;
    char *p = fixture("a/hf_llama");
    cr_assert_eq(hb_config_load_llama(p, &t, &e), 0, "%s", e.reason);
    cr_assert(t.hidden_size == 32 && t.num_hidden_layers == 2 && t.vocab_size == 128 && t.intermediate_size == 48);
    free(p);
    const char *vicuna = "{\"architectures\": [\"LlamaForCausalLM\"], \"bos_token_id\": 1, \"eos_token_id\": 2,"
                         "\"hidden_act\": \"silu\", \"hidden_size\": 4096, \"initializer_range\": 0.02,"
                         "\"intermediate_size\": 11008, \"max_position_embeddings\": 4096, \"model_type\": \"llama\","
                         "\"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 32,"
                         "\"pad_token_id\": 0, \"pretraining_tp\": 1, \"rms_norm_eps\": 1e-05, \"rope_scaling\": null,"
                         "\"rope_theta\": 10000.0, \"tie_word_embeddings\": false, \"torch_dtype\": \"float16\","
                         "\"transformers_version\": \"4.31.0\", \"use_cache\": true, \"vocab_size\": 32000}";
    cJSON *j = cJSON_Parse(vicuna);
    cr_assert_eq(hb_config_parse_llama(j, "vicuna.json", &t, &e), 0, "%s", e.reason);
    cr_assert(t.hidden_size == 4096 && t.pad_token_id == 0 && t.max_position_embeddings == 4096);
    cr_assert_float_eq(t.rms_norm_eps, 1e-5, 1e-15);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"eos_token_id\": [2, 32000], \"pad_token_id\": null}"); /* list-valued ids (newer configs) */
    cr_assert_eq(hb_config_parse_llama(j, "x.json", &t, &e), 0, "%s", e.reason);
    cr_assert(t.eos_token_id == 2 && t.pad_token_id == -1);
    cJSON_Delete(j);
    /* found by fuzzing (fuzz_config): the first entry of a list-valued id was converted to int unchecked (undefined
     * for 4444444444444); it must be an integer token id */
    const char *bad_ids[] = {"{\"eos_token_id\": [4444444444444]}", "{\"bos_token_id\": [1.5]}", "{\"pad_token_id\": [\"0\"]}",
                             "{\"eos_token_id\": [-1e300]}"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
        j = cJSON_Parse(bad_ids[i]);
        cr_assert_eq(hb_config_parse_llama(j, "x.json", &t, &e), HB_EFORMAT, "%s accepted", bad_ids[i]);
        cr_assert(strstr(e.reason, "[0]: expected an integer token id"), "%s", e.reason);
        cJSON_Delete(j);
    }
    j = cJSON_Parse("{\"eos_token_id\": []}");
    cr_assert_eq(hb_config_parse_llama(j, "x.json", &t, &e), 0, "%s", e.reason);
    cr_assert_eq(t.eos_token_id, 2, "an empty list keeps the default");
    cJSON_Delete(j);
}

Test(config, write_read_round_trip) {
    hb_model_cfg a = load("b/config.json");
    char *d = tu_mkdtemp();
    hb_err e;
    cr_assert_eq(hb_config_save(&a, d, &e), 0, "%s", e.reason);
    hb_model_cfg r;
    cr_assert_eq(hb_config_load(d, &r, &e), 0, "%s", e.reason);
    assert_same(&a, &r);
    cr_assert_float_eq(r.vision.image_mean[0], 0.48145466f, 1e-7);
    cr_assert_float_eq(r.vision.image_std[2], 0.27577711f, 1e-7);
    tu_rmtree(d);
    free(d);
}

Test(config, presets_have_the_published_parameter_counts) {
    /* spec-model.md §2.4, §3.8, §6.3 */
    hb_model_cfg c;
    hb_err e;
    cr_assert_eq(hb_config_preset("7b-m144", &c, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_config_param_count(&c, HB_GROUP_VISION), 303179776LL);
    cr_assert_eq(hb_config_param_count(&c, HB_GROUP_PROJ), 37070336LL);
    cr_assert_eq(hb_config_param_count(&c, HB_GROUP_LM), 6738415616LL);
    cr_assert_eq(hb_config_preset("7b-m256", &c, &e), 0);
    cr_assert_eq(c.vision.image_size, 336);
    cr_assert_eq(hb_config_param_count(&c, HB_GROUP_VISION), 303507456LL);
    cr_assert_eq(hb_config_param_count(&c, HB_GROUP_PROJ), 37398016LL);
    cr_assert_eq(hb_config_preset("13b-m256", &c, &e), 0);
    cr_assert_eq(hb_config_param_count(&c, HB_GROUP_PROJ), 47885824LL);
    cr_assert_eq(hb_config_param_count(&c, HB_GROUP_LM), 13015864320LL);
    cr_assert_eq(hb_config_preset("13b-m576", &c, &e), 0);
    cr_assert_eq(c.proj.num_query_tokens, 576);
    for (const char *const *n = hb_config_preset_names(); *n; n++)
        cr_assert_eq(hb_config_preset(*n, &c, &e), 0, "%s: %s", *n, e.reason);
    cr_assert_eq(hb_config_preset("70b", &c, &e), HB_EINVAL);
    cr_assert(strstr(e.reason, "unknown preset"));
}

static void expect_bad(const char *json, hb_code code, const char *needle) {
    cJSON *j = cJSON_Parse(json);
    cr_assert_not_null(j, "test JSON: %s", json);
    hb_model_cfg c;
    hb_err e;
    hb_err_clear(&e);
    int rc = hb_config_parse(j, "cfg.json", &c, &e);
    cJSON_Delete(j);
    cr_assert_eq(rc, code, "%s -> %d (%s)", json, rc, e.reason);
    cr_assert(strstr(e.reason, needle), "'%s' lacks '%s'", e.reason, needle);
    cr_assert_str_eq(e.file, "cfg.json");
}

#define V "\"vision_config\":{\"hidden_size\":16,\"intermediate_size\":32,\"num_attention_heads\":2," \
          "\"num_hidden_layers\":2,\"patch_size\":4,\"image_size\":16}"
#define T "\"text_config\":{\"vocab_size\":64,\"hidden_size\":16,\"intermediate_size\":32," \
          "\"num_hidden_layers\":1,\"num_attention_heads\":2}"
/* x goes first: cJSON's lookup returns the first of duplicate keys */
#define P(x) "\"projector_config\":{" x "\"projector_type\":\"c-abs\",\"depth\":1,\"hidden_size\":16," \
             "\"num_query_tokens\":4}"

Test(config, malformed_and_unsupported) {
    cJSON *j = cJSON_Parse("{" V "," T "," P("") "}");
    hb_model_cfg c;
    hb_err e;
    cr_assert_eq(hb_config_parse(j, "ok.json", &c, &e), 0, "the base config is valid: %s", e.reason);
    cr_assert_eq(c.proj.encoder_hidden_size, 16, "encoder width defaults to the vision width");
    cJSON_Delete(j);
    expect_bad("{" V "," T "}", HB_EFORMAT, "projector_config");
    expect_bad("{" T "," P("") "}", HB_EFORMAT, "vision_config");
    expect_bad("{" V "," T "," P("\"num_query_tokens\":5,") "}", HB_EINVAL, "perfect square");
    expect_bad("{" V "," T "," P("\"num_query_tokens\":25,") "}", HB_EINVAL, "exceeds");
    expect_bad("{" V "," T "," P("\"feature_layer_index\":-4,") "}", HB_EINVAL, "feature_layer_index");
    expect_bad("{" V "," T "," P("\"feature_layer_index\":[-1,-2],") "}", HB_EUNSUPPORTED, "multi-level");
    expect_bad("{" V "," T "," P("\"projector_type\":\"d-abs\",") "}", HB_EUNSUPPORTED, "c-abs");
    expect_bad("{" V "," T "," P("\"depth\":\"three\",") "}", HB_EFORMAT, "depth");
    expect_bad("{" V "," T "," P("\"output_hidden_size\":32,") "}", HB_EINVAL, "output_hidden_size");
    expect_bad("{\"vision_config\":{\"hidden_act\":\"gelu\"}," T "," P("") "}", HB_EUNSUPPORTED, "hidden_act");
    expect_bad("{\"vision_config\":{\"hidden_size\":16,\"image_size\":18,\"patch_size\":4,\"num_attention_heads\":2},"
               T "," P("") "}", HB_EINVAL, "multiple of patch_size");
    expect_bad("{" V ",\"text_config\":{\"hidden_size\":16,\"num_attention_heads\":2,\"num_key_value_heads\":1}," P("") "}",
               HB_EUNSUPPORTED, "grouped-query");
    expect_bad("{" V ",\"text_config\":{\"hidden_size\":16,\"num_attention_heads\":2,\"rope_scaling\":{\"type\":\"linear\"}},"
               P("") "}", HB_EUNSUPPORTED, "rope_scaling");
    expect_bad("{" V ",\"text_config\":{\"hidden_size\":16,\"num_attention_heads\":2,\"tie_word_embeddings\":true},"
               P("") "}", HB_EUNSUPPORTED, "tie_word_embeddings");
    expect_bad("{" V ",\"text_config\":{\"hidden_size\":16,\"num_attention_heads\":2,"
               "\"rope_parameters\":{\"rope_type\":\"llama3\",\"rope_theta\":5e5}}," P("") "}",
               HB_EUNSUPPORTED, "rope_type");
    expect_bad("{" V ",\"text_config\":{\"hidden_size\":18,\"num_attention_heads\":2}," P("") "}", HB_EINVAL, "odd");
    expect_bad("{" V ",\"text_config\":{\"model_type\":\"mistral\"}," P("") "}", HB_EUNSUPPORTED, "model_type");
    expect_bad("{" V "," T ",\"visual_projector_config\":{\"projector_type\":\"c-abs\"}}", HB_EFORMAT, "num_query_tokens");
    expect_bad("{" V "," T "," P("\"hidden_size\":-3,") "}", HB_EFORMAT, "positive");
    /* found by fuzzing (fuzz_config): int arithmetic on values near INT_MAX overflowed (undefined behaviour) in the
     * head_dim, perfect-square and feature-layer checks; they are errors now, computed without overflow */
    expect_bad("{" V ",\"text_config\":{\"hidden_size\":16,\"num_attention_heads\":32,\"head_dim\":-842222221}," P("") "}",
               HB_EUNSUPPORTED, "head_dim");
    expect_bad("{" V "," T "," P("\"num_query_tokens\":2147483647,") "}", HB_EINVAL, "perfect square");
    expect_bad("{" V "," T "," P("\"num_eos_tokens\":2147483647,") "}", HB_EINVAL, "num_eos_tokens");
    /* 2^31 - 1 layers: L + 1 hidden states does not fit an int (clang's UBSan flagged the check; the result is right) */
    j = cJSON_Parse("{\"vision_config\":{\"hidden_size\":16,\"num_attention_heads\":2,\"num_hidden_layers\":2147483647,"
                    "\"patch_size\":4,\"image_size\":16}," T "," P("") "}");
    cr_assert_eq(hb_config_parse(j, "big.json", &c, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_config_vit_layers(&c), 2147483647);
    cJSON_Delete(j);
}

Test(config, malformed_json_file_names_the_line) {
    char *d = tu_mkdtemp(), *p = hb_path_join(d, "config.json");
    const char *txt = "{\n  \"vision_config\": {\n    \"hidden_size\": 16,,\n  }\n}\n";
    cr_assert_eq(tu_write(p, txt, strlen(txt)), 0);
    hb_model_cfg c;
    hb_err e;
    cr_assert_eq(hb_config_load(d, &c, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "line 3"), "%s", e.reason);
    cr_assert(strstr(e.file, "config.json"));
    cr_assert_eq(hb_config_load("/nonexistent/dir/config.json", &c, &e), HB_ENOTFOUND);
    free(p);
    tu_rmtree(d);
    free(d);
}
