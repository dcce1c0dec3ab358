/* model/config.c — parse, check and write Honeybee / CLIP / LLaMA config.json files; presets.
 *
 * Dependencies:
 *   model/config.h     the config structs
 *   recipe/yaml.h      hb_cfg_str/int/num/bool: typed getters whose errors name the file and key path
 *   core/core.h        hb_err, hb_file_read_all, hb_path_*, hb_write_file_atomic
 *   <cjson/cJSON.h>    JSON trees
 */
#include "model/config.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recipe/yaml.h"

static const float CLIP_MEAN[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float CLIP_STD[3] = {0.26862954f, 0.26130258f, 0.27577711f};

/* ---- small getters: int keys with range checks, strings copied into fixed buffers ---- */
static int get_int(const cJSON *o, const char *key, int req, const char *file, const char *path, int *out,
                   hb_err *err) {
    long long v = *out;
    int rc = hb_cfg_int(o, key, req, file, path, &v, err);
    if (rc) return rc;
    if (v < -2147483647LL || v > 2147483647LL)
        return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s%s%s: %lld is out of range", path,
                          *path ? "." : "", key, v);
    *out = (int)v;
    return 0;
}

static int get_pos(const cJSON *o, const char *key, int req, const char *file, const char *path, int *out,
                   hb_err *err) {
    int rc = get_int(o, key, req, file, path, out, err);
    if (!rc && *out <= 0)
        return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s%s%s: must be positive (got %d)", path,
                          *path ? "." : "", key, *out);
    return rc;
}

static int get_str(const cJSON *o, const char *key, const char *file, const char *path, char *out, size_t n,
                   hb_err *err) {
    const char *s = NULL;
    int rc = hb_cfg_str(o, key, 0, file, path, &s, err);
    if (rc || !s) return rc;
    snprintf(out, n, "%s", s);
    return 0;
}

static int unsupported(const char *file, const char *path, const char *key, const char *what, hb_err *err) {
    return hb_err_set(err, HB_EUNSUPPORTED, file, HB_NOPOS, HB_NOPOS, "%s%s%s: %s", path, *path ? "." : "", key,
                      what);
}

/* A 3-float array (image_mean / image_std). */
static int get_vec3(const cJSON *o, const char *key, const char *file, const char *path, float *out, hb_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s.%s: expected a list of 3 numbers", path,
                          key);
    for (int i = 0; i < 3; i++) {
        const cJSON *x = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(x))
            return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s.%s[%d]: expected a number", path, key,
                              i);
        out[i] = (float)x->valuedouble;
    }
    return 0;
}

/* ---- CLIP ---- */
static void clip_defaults(hb_clip_cfg *c) {
    memset(c, 0, sizeof *c); /* HF CLIPVisionConfig defaults (ViT-B/32) */
    c->hidden_size = 768;
    c->intermediate_size = 3072;
    c->num_attention_heads = 12;
    c->num_hidden_layers = 12;
    c->num_channels = 3;
    c->patch_size = 32;
    c->image_size = 224;
    c->layer_norm_eps = 1e-5;
    memcpy(c->image_mean, CLIP_MEAN, sizeof CLIP_MEAN);
    memcpy(c->image_std, CLIP_STD, sizeof CLIP_STD);
    snprintf(c->name, sizeof c->name, "openai/clip-vit-large-patch14");
}

static int parse_clip_obj(const cJSON *o, const char *file, const char *path, hb_clip_cfg *c, hb_err *err) {
    int rc;
    if ((rc = get_pos(o, "hidden_size", 0, file, path, &c->hidden_size, err)) ||
        (rc = get_pos(o, "intermediate_size", 0, file, path, &c->intermediate_size, err)) ||
        (rc = get_pos(o, "num_attention_heads", 0, file, path, &c->num_attention_heads, err)) ||
        (rc = get_pos(o, "num_hidden_layers", 0, file, path, &c->num_hidden_layers, err)) ||
        (rc = get_pos(o, "num_channels", 0, file, path, &c->num_channels, err)) ||
        (rc = get_pos(o, "patch_size", 0, file, path, &c->patch_size, err)) ||
        (rc = get_pos(o, "image_size", 0, file, path, &c->image_size, err)) ||
        (rc = hb_cfg_num(o, "layer_norm_eps", 0, file, path, &c->layer_norm_eps, err)) ||
        (rc = get_vec3(o, "image_mean", file, path, c->image_mean, err)) ||
        (rc = get_vec3(o, "image_std", file, path, c->image_std, err)) ||
        (rc = get_str(o, "pretrained_vision_name_or_path", file, path, c->name, sizeof c->name, err)))
        return rc;
    const char *act = "quick_gelu";
    if ((rc = hb_cfg_str(o, "hidden_act", 0, file, path, &act, err))) return rc;
    if (strcmp(act, "quick_gelu"))
        return unsupported(file, path, "hidden_act", "only quick_gelu (OpenAI CLIP) is implemented", err);
    if (c->num_channels != 3) return unsupported(file, path, "num_channels", "only 3 (RGB) is implemented", err);
    const char *enc = "openai.clip";
    if ((rc = hb_cfg_str(o, "encoder_type", 0, file, path, &enc, err))) return rc;
    if (strcmp(enc, "openai.clip"))
        return unsupported(file, path, "encoder_type", "only openai.clip is implemented", err);
    return 0;
}

int hb_config_parse_clip(const cJSON *obj, const char *file, hb_clip_cfg *out, hb_err *err) {
    clip_defaults(out);
    if (!cJSON_IsObject(obj))
        return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "expected a JSON object");
    const cJSON *vc = cJSON_GetObjectItemCaseSensitive(obj, "vision_config");
    if (vc && cJSON_IsObject(vc)) return parse_clip_obj(vc, file, "vision_config", out, err); /* CLIPModel */
    return parse_clip_obj(obj, file, "", out, err);                                              /* CLIPVisionModel */
}

/* ---- LLaMA ---- */
static void llama_defaults(hb_llama_cfg *c) {
    memset(c, 0, sizeof *c); /* HF LlamaConfig defaults */
    c->vocab_size = 32000;
    c->hidden_size = 4096;
    c->intermediate_size = 11008;
    c->num_hidden_layers = 32;
    c->num_attention_heads = 32;
    c->num_key_value_heads = 0; /* = heads */
    c->max_position_embeddings = 2048;
    c->rms_norm_eps = 1e-6;
    c->rope_theta = 10000.0;
    c->bos_token_id = 1;
    c->eos_token_id = 2;
    c->pad_token_id = -1;
    snprintf(c->name, sizeof c->name, "lmsys/vicuna-7b-v1.5");
}

/* bos/eos/pad ids: an integer, null, or (newer configs) a list whose first entry is used. */
static int get_token_id(const cJSON *o, const char *key, const char *file, const char *path, int *out, hb_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v && cJSON_IsArray(v)) {
        const cJSON *f = cJSON_GetArrayItem(v, 0);
        if (!f) return 0; /* [] keeps the default */
        if (!cJSON_IsNumber(f) || f->valuedouble != floor(f->valuedouble) || fabs(f->valuedouble) > 2147483647.0)
            return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s%s%s[0]: expected an integer token id", path,
                              *path ? "." : "", key);
        *out = (int)f->valuedouble;
        return 0;
    }
    return get_int(o, key, 0, file, path, out, err);
}

static int parse_llama_obj(const cJSON *o, const char *file, const char *path, hb_llama_cfg *c, hb_err *err) {
    int rc, tie = 0, abias = 0, mbias = 0;
    if ((rc = get_pos(o, "vocab_size", 0, file, path, &c->vocab_size, err)) ||
        (rc = get_pos(o, "hidden_size", 0, file, path, &c->hidden_size, err)) ||
        (rc = get_pos(o, "intermediate_size", 0, file, path, &c->intermediate_size, err)) ||
        (rc = get_pos(o, "num_hidden_layers", 0, file, path, &c->num_hidden_layers, err)) ||
        (rc = get_pos(o, "num_attention_heads", 0, file, path, &c->num_attention_heads, err)) ||
        (rc = get_int(o, "num_key_value_heads", 0, file, path, &c->num_key_value_heads, err)) ||
        (rc = get_pos(o, "max_position_embeddings", 0, file, path, &c->max_position_embeddings, err)) ||
        (rc = hb_cfg_num(o, "rms_norm_eps", 0, file, path, &c->rms_norm_eps, err)) ||
        (rc = hb_cfg_num(o, "rope_theta", 0, file, path, &c->rope_theta, err)) ||
        (rc = get_token_id(o, "bos_token_id", file, path, &c->bos_token_id, err)) ||
        (rc = get_token_id(o, "eos_token_id", file, path, &c->eos_token_id, err)) ||
        (rc = get_token_id(o, "pad_token_id", file, path, &c->pad_token_id, err)) ||
        (rc = hb_cfg_bool(o, "tie_word_embeddings", 0, file, path, &tie, err)) ||
        (rc = hb_cfg_bool(o, "attention_bias", 0, file, path, &abias, err)) ||
        (rc = hb_cfg_bool(o, "mlp_bias", 0, file, path, &mbias, err)))
        return rc;
    if (!c->num_key_value_heads) c->num_key_value_heads = c->num_attention_heads;
    const char *act = "silu", *mt = "llama";
    if ((rc = hb_cfg_str(o, "hidden_act", 0, file, path, &act, err)) ||
        (rc = hb_cfg_str(o, "model_type", 0, file, path, &mt, err)))
        return rc;
    if (strcmp(mt, "llama")) return unsupported(file, path, "model_type", "only llama is implemented", err);
    if (strcmp(act, "silu")) return unsupported(file, path, "hidden_act", "only silu is implemented", err);
    if (tie) return unsupported(file, path, "tie_word_embeddings", "tied embeddings are not supported by hb (Vicuna has an untied lm_head)", err);
    if (abias || mbias) return unsupported(file, path, abias ? "attention_bias" : "mlp_bias", "biases in attention/MLP projections are not supported by hb (LLaMA has none)", err);
    if (c->num_key_value_heads != c->num_attention_heads)
        return unsupported(file, path, "num_key_value_heads", "grouped-query attention is not supported by hb (Vicuna-7B/13B use full multi-head attention)", err);
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "rope_scaling");
    if (rs && !cJSON_IsNull(rs)) return unsupported(file, path, "rope_scaling", "RoPE scaling is not supported by hb", err);
    /* transformers >= 4.56 writes rope_parameters {rope_theta, rope_type} instead of rope_theta */
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(o, "rope_parameters");
    if (rp && !cJSON_IsNull(rp)) {
        char sub[160];
        snprintf(sub, sizeof sub, "%s%srope_parameters", path, *path ? "." : "");
        const char *type = "default";
        if (!cJSON_IsObject(rp))
            return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s: expected an object", sub);
        if ((rc = hb_cfg_str(rp, "rope_type", 0, file, sub, &type, err)) ||
            (rc = hb_cfg_num(rp, "rope_theta", 0, file, sub, &c->rope_theta, err)))
            return rc;
        if (strcmp(type, "default")) return unsupported(file, sub, "rope_type", "only the default RoPE is implemented", err);
    }
    int hd = 0;
    if ((rc = get_int(o, "head_dim", 0, file, path, &hd, err))) return rc;
    if (hd && (long long)hd * c->num_attention_heads != c->hidden_size)
        return unsupported(file, path, "head_dim", "head_dim must equal hidden_size / num_attention_heads", err);
    return 0;
}

int hb_config_parse_llama(const cJSON *obj, const char *file, hb_llama_cfg *out, hb_err *err) {
    llama_defaults(out);
    if (!cJSON_IsObject(obj))
        return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "expected a JSON object");
    return parse_llama_obj(obj, file, "", out, err);
}

/* ---- projector ---- */
static void proj_defaults(hb_proj_cfg *p) {
    memset(p, 0, sizeof *p); /* configs/model_config/c-abs.yaml */
    snprintf(p->projector_type, sizeof p->projector_type, "c-abs");
    p->depth = 3;
    p->mlp_depth = 2;
    p->hidden_size = 1024;
    p->num_query_tokens = 144;
    p->pos_emb = 1;
    p->feature_layer_index = -1;
    p->initializer_range = 0.02;
}

static int parse_proj_obj(const cJSON *o, const char *file, const char *path, hb_proj_cfg *p, hb_err *err) {
    int rc;
    if (!cJSON_IsObject(o)) return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s: expected an object", path);
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, "feature_layer_index");
    if (fl && cJSON_IsArray(fl))
        return unsupported(file, path, "feature_layer_index", "multi-level features (a list) are not supported by hb", err);
    if ((rc = get_str(o, "projector_type", file, path, p->projector_type, sizeof p->projector_type, err)) ||
        (rc = get_int(o, "depth", 0, file, path, &p->depth, err)) ||
        (rc = get_pos(o, "mlp_depth", 0, file, path, &p->mlp_depth, err)) ||
        (rc = get_pos(o, "hidden_size", 0, file, path, &p->hidden_size, err)) ||
        (rc = get_pos(o, "num_query_tokens", 0, file, path, &p->num_query_tokens, err)) ||
        (rc = hb_cfg_bool(o, "pos_emb", 0, file, path, &p->pos_emb, err)) ||
        (rc = hb_cfg_bool(o, "prenorm", 0, file, path, &p->prenorm, err)) ||
        (rc = get_int(o, "feature_layer_index", 0, file, path, &p->feature_layer_index, err)) ||
        (rc = get_int(o, "encoder_hidden_size", 0, file, path, &p->encoder_hidden_size, err)) ||
        (rc = get_int(o, "output_hidden_size", 0, file, path, &p->output_hidden_size, err)) ||
        (rc = get_int(o, "num_eos_tokens", 0, file, path, &p->num_eos_tokens, err)) ||
        (rc = hb_cfg_num(o, "initializer_range", 0, file, path, &p->initializer_range, err)))
        return rc;
    if (strcmp(p->projector_type, "c-abs"))
        return unsupported(file, path, "projector_type", "only c-abs (the C-Abstractor) is implemented", err);
    if (p->depth < 0 || p->num_eos_tokens < 0)
        return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s.%s: must not be negative", path,
                          p->depth < 0 ? "depth" : "num_eos_tokens");
    return 0;
}

int hb_config_parse(const cJSON *root, const char *file, hb_model_cfg *out, hb_err *err) {
    int rc;
    memset(out, 0, sizeof *out);
    proj_defaults(&out->proj);
    if (!cJSON_IsObject(root)) return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "expected a JSON object");
    const cJSON *vc = cJSON_GetObjectItemCaseSensitive(root, "vision_config");
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "text_config");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(root, "projector_config");
    const cJSON *legacy = cJSON_GetObjectItemCaseSensitive(root, "visual_projector_config");
    if (!cJSON_IsObject(vc) || !cJSON_IsObject(tc) || (!cJSON_IsObject(pc) && !cJSON_IsObject(legacy)))
        return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS,
                          "not a Honeybee config: it needs the objects vision_config, text_config and projector_config "
                          "(or the legacy visual_projector_config)");
    clip_defaults(&out->vision);
    if ((rc = parse_clip_obj(vc, file, "vision_config", &out->vision, err))) return rc;
    llama_defaults(&out->text);
    if ((rc = parse_llama_obj(tc, file, "text_config", &out->text, err))) return rc;
    const cJSON *lm = cJSON_GetObjectItemCaseSensitive(root, "lm_config");
    if (cJSON_IsObject(lm)) {
        if ((rc = get_str(lm, "pretrained_lm_name_or_path", file, "lm_config", out->text.name, sizeof out->text.name,
                          err)) ||
            (rc = get_str(lm, "pretrained_tokenizer_name_or_path", file, "lm_config", out->text.tokenizer,
                          sizeof out->text.tokenizer, err)))
            return rc;
    }
    if (cJSON_IsObject(pc)) {
        if ((rc = parse_proj_obj(pc, file, "projector_config", &out->proj, err))) return rc;
    } else {
        /* legacy: num_query_tokens at the top level, encoder_hidden_size dropped, output size from the LLM */
        if ((rc = parse_proj_obj(legacy, file, "visual_projector_config", &out->proj, err))) return rc;
        if ((rc = get_pos(root, "num_query_tokens", 1, file, "", &out->proj.num_query_tokens, err))) return rc;
        out->proj.encoder_hidden_size = 0;
        out->proj.output_hidden_size = 0;
    }
    if (!out->proj.encoder_hidden_size) out->proj.encoder_hidden_size = out->vision.hidden_size;
    if (!out->proj.output_hidden_size) out->proj.output_hidden_size = out->text.hidden_size;
    return hb_config_check(out, file, err);
}

/* ---- checks ---- */
int hb_config_vit_layers(const hb_model_cfg *c) {
    long long L = c->vision.num_hidden_layers, f = c->proj.feature_layer_index; /* L + 1 may not fit an int */
    return (int)(f < 0 ? L + 1 + f : f);
}

int hb_config_check(const hb_model_cfg *c, const char *file, hb_err *err) {
    const hb_clip_cfg *v = &c->vision;
    const hb_proj_cfg *p = &c->proj;
    const hb_llama_cfg *t = &c->text;
#define BAD(...) return hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, __VA_ARGS__)
    if (v->hidden_size % v->num_attention_heads)
        BAD("vision_config.hidden_size %d is not a multiple of num_attention_heads %d", v->hidden_size,
            v->num_attention_heads);
    if (v->image_size % v->patch_size)
        BAD("vision_config.image_size %d is not a multiple of patch_size %d", v->image_size, v->patch_size);
    int n = hb_config_grid(v), m = (int)lround(sqrt((double)p->num_query_tokens));
    if ((long long)m * m != p->num_query_tokens) BAD("projector num_query_tokens %d is not a perfect square", p->num_query_tokens);
    if (m > n) BAD("projector num_query_tokens %d (%dx%d) exceeds the %dx%d patch grid", p->num_query_tokens, m, m, n, n);
    long long f = p->feature_layer_index, L = v->num_hidden_layers;
    if (f > L || f < -(L + 1))
        BAD("projector feature_layer_index %lld is outside CLIP's %lld hidden states", f, L + 1);
    if (p->num_eos_tokens > INT_MAX - p->num_query_tokens) /* hb_config_visual_tokens must fit an int */
        BAD("projector num_eos_tokens %d is out of range", p->num_eos_tokens);
    if (p->encoder_hidden_size != v->hidden_size)
        BAD("projector encoder_hidden_size %d differs from vision_config.hidden_size %d", p->encoder_hidden_size,
            v->hidden_size);
    if (p->output_hidden_size != t->hidden_size)
        BAD("projector output_hidden_size %d differs from text_config.hidden_size %d", p->output_hidden_size,
            t->hidden_size);
    if (t->hidden_size % t->num_attention_heads)
        BAD("text_config.hidden_size %d is not a multiple of num_attention_heads %d", t->hidden_size,
            t->num_attention_heads);
    if ((t->hidden_size / t->num_attention_heads) % 2)
        BAD("text_config head_dim %d is odd (RoPE needs an even head_dim)", t->hidden_size / t->num_attention_heads);
    if (v->layer_norm_eps <= 0 || t->rms_norm_eps <= 0 || t->rope_theta <= 0)
        BAD("layer_norm_eps, rms_norm_eps and rope_theta must be positive");
#undef BAD
    return 0;
}

/* ---- files ---- */
int hb_config_read_json(const char *path, cJSON **out, hb_err *err) {
    uint8_t *data;
    size_t len;
    int rc = hb_file_read_all(path, &data, &len, err);
    if (rc) return rc;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts((const char *)data, len, &end, 0);
    if (!j) {
        long long off = end ? (long long)(end - (const char *)data) : HB_NOPOS, line = 1;
        for (long long i = 0; i < off; i++) line += data[i] == '\n';
        free(data);
        return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, off, "invalid JSON near line %lld", line);
    }
    free(data);
    *out = j;
    return 0;
}

static char *config_path(const char *path) {
    return hb_path_is_dir(path) ? hb_path_join(path, "config.json") : hb_xstrdup(path);
}

int hb_config_load(const char *path, hb_model_cfg *out, hb_err *err) {
    char *p = config_path(path);
    cJSON *j;
    int rc = hb_config_read_json(p, &j, err);
    if (!rc) {
        rc = hb_config_parse(j, p, out, err);
        cJSON_Delete(j);
    }
    free(p);
    return rc;
}

int hb_config_load_clip(const char *path, hb_clip_cfg *out, hb_err *err) {
    char *p = config_path(path);
    cJSON *j;
    int rc = hb_config_read_json(p, &j, err);
    if (!rc) {
        rc = hb_config_parse_clip(j, p, out, err);
        cJSON_Delete(j);
    }
    free(p);
    return rc;
}

int hb_config_load_llama(const char *path, hb_llama_cfg *out, hb_err *err) {
    char *p = config_path(path);
    cJSON *j;
    int rc = hb_config_read_json(p, &j, err);
    if (!rc) {
        rc = hb_config_parse_llama(j, p, out, err);
        cJSON_Delete(j);
    }
    free(p);
    return rc;
}

/* ---- writing ---- */
static cJSON *vec3(const float *v) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < 3; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

cJSON *hb_config_to_json(const hb_model_cfg *c) {
    const hb_clip_cfg *v = &c->vision;
    const hb_proj_cfg *p = &c->proj;
    const hb_llama_cfg *t = &c->text;
    cJSON *root = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(root, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("HoneybeeForConditionalGeneration"));
    cJSON_AddStringToObject(root, "model_type", "mllm");
    cJSON_AddStringToObject(root, "torch_dtype", "float32");

    cJSON *vc = cJSON_AddObjectToObject(root, "vision_config");
    cJSON_AddStringToObject(vc, "model_type", "clip_vision_model");
    cJSON_AddStringToObject(vc, "encoder_type", "openai.clip");
    cJSON_AddStringToObject(vc, "pretrained_vision_name_or_path", v->name);
    cJSON_AddNumberToObject(vc, "hidden_size", v->hidden_size);
    cJSON_AddNumberToObject(vc, "intermediate_size", v->intermediate_size);
    cJSON_AddNumberToObject(vc, "num_attention_heads", v->num_attention_heads);
    cJSON_AddNumberToObject(vc, "num_hidden_layers", v->num_hidden_layers);
    cJSON_AddNumberToObject(vc, "num_channels", v->num_channels);
    cJSON_AddNumberToObject(vc, "patch_size", v->patch_size);
    cJSON_AddNumberToObject(vc, "image_size", v->image_size);
    cJSON_AddNumberToObject(vc, "layer_norm_eps", v->layer_norm_eps);
    cJSON_AddStringToObject(vc, "hidden_act", "quick_gelu");
    cJSON_AddItemToObject(vc, "image_mean", vec3(v->image_mean));
    cJSON_AddItemToObject(vc, "image_std", vec3(v->image_std));

    cJSON *pc = cJSON_AddObjectToObject(root, "projector_config");
    cJSON_AddStringToObject(pc, "projector_type", p->projector_type);
    cJSON_AddNumberToObject(pc, "depth", p->depth);
    cJSON_AddNumberToObject(pc, "mlp_depth", p->mlp_depth);
    cJSON_AddNumberToObject(pc, "hidden_size", p->hidden_size);
    cJSON_AddNumberToObject(pc, "num_query_tokens", p->num_query_tokens);
    cJSON_AddBoolToObject(pc, "pos_emb", p->pos_emb);
    cJSON_AddBoolToObject(pc, "prenorm", p->prenorm);
    cJSON_AddNumberToObject(pc, "feature_layer_index", p->feature_layer_index);
    cJSON_AddNumberToObject(pc, "encoder_hidden_size", p->encoder_hidden_size);
    cJSON_AddNumberToObject(pc, "output_hidden_size", p->output_hidden_size);
    cJSON_AddNumberToObject(pc, "num_eos_tokens", p->num_eos_tokens);
    cJSON_AddNumberToObject(pc, "initializer_range", p->initializer_range);

    cJSON *lc = cJSON_AddObjectToObject(root, "lm_config");
    cJSON_AddStringToObject(lc, "pretrained_lm_name_or_path", t->name);
    cJSON_AddStringToObject(lc, "pretrained_tokenizer_name_or_path", t->tokenizer[0] ? t->tokenizer : t->name);

    cJSON *tc = cJSON_AddObjectToObject(root, "text_config");
    cJSON *ta = cJSON_AddArrayToObject(tc, "architectures");
    cJSON_AddItemToArray(ta, cJSON_CreateString("LlamaForCausalLM"));
    cJSON_AddStringToObject(tc, "model_type", "llama");
    cJSON_AddNumberToObject(tc, "vocab_size", t->vocab_size);
    cJSON_AddNumberToObject(tc, "hidden_size", t->hidden_size);
    cJSON_AddNumberToObject(tc, "intermediate_size", t->intermediate_size);
    cJSON_AddNumberToObject(tc, "num_hidden_layers", t->num_hidden_layers);
    cJSON_AddNumberToObject(tc, "num_attention_heads", t->num_attention_heads);
    cJSON_AddNumberToObject(tc, "num_key_value_heads", t->num_key_value_heads);
    cJSON_AddNumberToObject(tc, "max_position_embeddings", t->max_position_embeddings);
    cJSON_AddNumberToObject(tc, "rms_norm_eps", t->rms_norm_eps);
    cJSON_AddNumberToObject(tc, "rope_theta", t->rope_theta);
    cJSON_AddStringToObject(tc, "hidden_act", "silu");
    cJSON_AddBoolToObject(tc, "tie_word_embeddings", 0);
    cJSON_AddBoolToObject(tc, "attention_bias", 0);
    cJSON_AddNullToObject(tc, "rope_scaling");
    if (t->bos_token_id >= 0) cJSON_AddNumberToObject(tc, "bos_token_id", t->bos_token_id);
    if (t->eos_token_id >= 0) cJSON_AddNumberToObject(tc, "eos_token_id", t->eos_token_id);
    if (t->pad_token_id >= 0) cJSON_AddNumberToObject(tc, "pad_token_id", t->pad_token_id);
    return root;
}

int hb_config_save(const hb_model_cfg *c, const char *dir, hb_err *err) {
    cJSON *j = hb_config_to_json(c);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    char *path = hb_path_join(dir, "config.json");
    size_t n = strlen(s);
    s[n] = '\n'; /* cJSON_Print's buffer is n+1 bytes: replace the NUL, write n+1 */
    int rc = hb_write_file_atomic(path, s, n + 1, err);
    cJSON_free(s);
    free(path);
    return rc;
}
