/* model/config — the Honeybee model configuration: the CLIP vision tower, the projector (C-Abstractor) and the
 * LLaMA language model, read from and written to HF `config.json` files, plus named presets.
 *
 * Dependencies:
 *   core/core.h        hb_err
 *   <cjson/cJSON.h>    the JSON tree type of hb_config_to_json / hb_config_parse_*
 *   (impl) recipe/yaml.h  hb_cfg_* typed getters over cJSON
 *
 * Accepted layouts (spec-model.md §8, §1.2):
 *   - a CLIP config.json: CLIPModel (`vision_config` sub-object, model_type "clip") or CLIPVisionModel (the vision
 *     keys at the top level); keys missing from the file take the HF CLIPVisionConfig defaults;
 *   - a LLaMA config.json (LlamaConfig keys; missing keys take the HF LlamaConfig defaults);
 *   - a Honeybee config.json as HoneybeeConfig.to_dict writes it: `vision_config` (CLIP vision keys plus
 *     image_mean/std, encoder_type, pretrained_vision_name_or_path), `projector_config` (projector_type, depth,
 *     mlp_depth, hidden_size, num_query_tokens, pos_emb, prenorm, feature_layer_index, encoder_hidden_size,
 *     output_hidden_size, num_eos_tokens, initializer_range), `lm_config` and `text_config` (LLaMA keys);
 *   - the legacy Honeybee layout: `visual_projector_config` instead of `projector_config`, `num_query_tokens` at the
 *     top level, and no output_hidden_size (taken from text_config.hidden_size), as HoneybeeConfig.from_dict remaps.
 * Only what this implementation can run is accepted: a CLIP with quick_gelu, a C-Abstractor (`c-abs`), a LLaMA
 * with SiLU, no GQA, no attention/MLP biases, no RoPE scaling and an untied lm_head; anything else is
 * HB_EUNSUPPORTED naming the key. hb_config_check verifies that the three parts fit together. */
#ifndef HB_MODEL_CONFIG_H
#define HB_MODEL_CONFIG_H

#include <cjson/cJSON.h>

#include "core/core.h"

/* CLIP ViT vision tower (HF CLIPVisionConfig). */
typedef struct {
    int hidden_size;       /* C_v, 1024 for ViT-L/14 */
    int intermediate_size; /* MLP width, 4096 */
    int num_attention_heads;
    int num_hidden_layers; /* 24 */
    int num_channels;      /* 3 */
    int patch_size;        /* 14 */
    int image_size;        /* S: 224 or 336 */
    double layer_norm_eps; /* 1e-5 */
    float image_mean[3], image_std[3]; /* the normalisation the pixels must already carry (OpenAI CLIP values) */
    char name[256];        /* pretrained_vision_name_or_path, kept for the written config */
} hb_clip_cfg;

/* The visual projector (HoneybeeVisualProjectorConfig; C-Abstractor). */
typedef struct {
    char projector_type[32]; /* "c-abs" */
    int depth;               /* RegStage blocks per stage (3); 0 = pooling only */
    int mlp_depth;           /* readout Linear layers (2) */
    int hidden_size;         /* RegStage width (1024) */
    int num_query_tokens;    /* M, a perfect square */
    int pos_emb;             /* learned [1, N, C_v] added to the features */
    int prenorm;             /* timm LayerNorm (eps 1e-6) on the features before pos_emb */
    int feature_layer_index; /* CLIP hidden_states index (-1: last layer; python-style negative) */
    int encoder_hidden_size; /* = vision hidden_size */
    int output_hidden_size;  /* = LLM hidden_size */
    int num_eos_tokens;      /* learned tokens appended after the M visual tokens */
    double initializer_range; /* std of Honeybee's init (0.02) */
} hb_proj_cfg;

/* LLaMA (HF LlamaConfig). */
typedef struct {
    int vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads;
    int max_position_embeddings;
    double rms_norm_eps, rope_theta;
    int bos_token_id, eos_token_id, pad_token_id; /* -1 when unset */
    char name[256];        /* lm_config.pretrained_lm_name_or_path */
    char tokenizer[256];   /* lm_config.pretrained_tokenizer_name_or_path */
} hb_llama_cfg;

typedef struct {
    hb_clip_cfg vision;
    hb_proj_cfg proj;
    hb_llama_cfg text;
} hb_model_cfg;

/* Parse one part from a parsed JSON object (file names the source in errors). The outputs start from the HF
 * defaults; the parse fills what the file has. */
int hb_config_parse_clip(const cJSON *obj, const char *file, hb_clip_cfg *out, hb_err *err);
int hb_config_parse_llama(const cJSON *obj, const char *file, hb_llama_cfg *out, hb_err *err);
/* A Honeybee config.json (either layout); calls hb_config_check. */
int hb_config_parse(const cJSON *root, const char *file, hb_model_cfg *out, hb_err *err);

/* Read a JSON file into a cJSON tree (the caller cJSON_Delete's it). Errors name the file and the line. */
int hb_config_read_json(const char *path, cJSON **out, hb_err *err);
/* Load a config.json: path may be the file or the directory holding it. */
int hb_config_load(const char *path, hb_model_cfg *out, hb_err *err);
int hb_config_load_clip(const char *path, hb_clip_cfg *out, hb_err *err);
int hb_config_load_llama(const char *path, hb_llama_cfg *out, hb_err *err);

/* Consistency of the three parts: divisibility (heads, patch grid), a square M, the feature layer in range,
 * encoder/output widths equal to the vision/LLM widths, an even head_dim for RoPE. HB_EINVAL naming the key. */
int hb_config_check(const hb_model_cfg *c, const char *file, hb_err *err);

/* Serialise in the official HoneybeeConfig layout (model_type "mllm"). */
cJSON *hb_config_to_json(const hb_model_cfg *c);
/* Write config.json into dir atomically. */
int hb_config_save(const hb_model_cfg *c, const char *dir, hb_err *err);

/* Named presets (hb_config_preset_names lists them, NULL-terminated): "tiny" (tests), "small" (benchmarks),
 * "7b-m144" (CLIP-L/14 224, Vicuna-7B, 144 tokens), "7b-m256" (336 px), "13b-m256", "13b-m576". */
int hb_config_preset(const char *name, hb_model_cfg *out, hb_err *err);
const char *const *hb_config_preset_names(void);

/* Derived sizes. */
static inline int hb_config_grid(const hb_clip_cfg *v) { return v->image_size / v->patch_size; }   /* n */
static inline int hb_config_patches(const hb_clip_cfg *v) { return hb_config_grid(v) * hb_config_grid(v); } /* N */
/* Encoder layers that must run: the resolved feature_layer_index (hidden_states has L+1 entries). */
int hb_config_vit_layers(const hb_model_cfg *c);
/* Visual tokens per image as the LLM sees them: M + num_eos_tokens. */
static inline int hb_config_visual_tokens(const hb_model_cfg *c) {
    return c->proj.num_query_tokens + c->proj.num_eos_tokens;
}

#endif
