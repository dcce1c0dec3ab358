/* model/presets.c — named model configurations for `hb-train init --preset NAME`.
 *
 * Dependencies:
 *   model/config.h     hb_model_cfg, hb_config_check
 *   core/core.h        hb_err
 *
 * The released shapes come from spec-model.md §1.1, §2.2, §3.1 and §6.1 (CLIP ViT-L/14 at 224 or 336 px, the
 * C-Abstractor with depth 3 and a 2-layer readout, Vicuna-v1.5 7B/13B). "tiny" is a test-sized model and "small"
 * the benchmark size (a 4-layer, 512-wide LLM). */
#include <string.h>

#include "model/config.h"

static const char *const NAMES[] = {"tiny", "small", "7b-m144", "7b-m256", "13b-m256", "13b-m576", NULL};

const char *const *hb_config_preset_names(void) { return NAMES; }

static void clip(hb_clip_cfg *v, int hidden, int inter, int heads, int layers, int patch, int image) {
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    memset(v, 0, sizeof *v);
    v->hidden_size = hidden;
    v->intermediate_size = inter;
    v->num_attention_heads = heads;
    v->num_hidden_layers = layers;
    v->num_channels = 3;
    v->patch_size = patch;
    v->image_size = image;
    v->layer_norm_eps = 1e-5;
    memcpy(v->image_mean, mean, sizeof mean);
    memcpy(v->image_std, std, sizeof std);
    snprintf(v->name, sizeof v->name, "%s", image == 336 ? "openai/clip-vit-large-patch14-336"
                                                         : "openai/clip-vit-large-patch14");
}

static void c_abstractor(hb_proj_cfg *p, int depth, int hidden, int m, int enc, int out) {
    memset(p, 0, sizeof *p);
    snprintf(p->projector_type, sizeof p->projector_type, "c-abs");
    p->depth = depth;
    p->mlp_depth = 2;
    p->hidden_size = hidden;
    p->num_query_tokens = m;
    p->pos_emb = 1;
    p->feature_layer_index = -1;
    p->encoder_hidden_size = enc;
    p->output_hidden_size = out;
    p->initializer_range = 0.02;
}

static void llama(hb_llama_cfg *t, int vocab, int hidden, int inter, int layers, int heads, const char *name) {
    memset(t, 0, sizeof *t);
    t->vocab_size = vocab;
    t->hidden_size = hidden;
    t->intermediate_size = inter;
    t->num_hidden_layers = layers;
    t->num_attention_heads = heads;
    t->num_key_value_heads = heads;
    t->max_position_embeddings = 4096;
    t->rms_norm_eps = 1e-5;
    t->rope_theta = 10000.0;
    t->bos_token_id = 1;
    t->eos_token_id = 2;
    t->pad_token_id = 0;
    snprintf(t->name, sizeof t->name, "%s", name);
}

int hb_config_preset(const char *name, hb_model_cfg *c, hb_err *err) {
    memset(c, 0, sizeof *c);
    if (!strcmp(name, "tiny")) {
        clip(&c->vision, 32, 64, 2, 2, 4, 16);
        c_abstractor(&c->proj, 1, 32, 9, 32, 32);
        llama(&c->text, 128, 32, 64, 2, 4, "tiny-llama");
    } else if (!strcmp(name, "small")) {
        clip(&c->vision, 256, 1024, 4, 4, 14, 224);
        c_abstractor(&c->proj, 3, 256, 144, 256, 512);
        llama(&c->text, 32000, 512, 1376, 4, 8, "small-llama");
    } else if (!strcmp(name, "7b-m144") || !strcmp(name, "7b-m256")) {
        int m256 = name[3] == 'm' && name[5] == '5';
        clip(&c->vision, 1024, 4096, 16, 24, 14, m256 ? 336 : 224);
        c_abstractor(&c->proj, 3, 1024, m256 ? 256 : 144, 1024, 4096);
        llama(&c->text, 32000, 4096, 11008, 32, 32, "lmsys/vicuna-7b-v1.5");
    } else if (!strcmp(name, "13b-m256") || !strcmp(name, "13b-m576")) {
        clip(&c->vision, 1024, 4096, 16, 24, 14, 336);
        c_abstractor(&c->proj, 3, 1024, name[5] == '2' ? 256 : 576, 1024, 5120);
        llama(&c->text, 32000, 5120, 13824, 40, 40, "lmsys/vicuna-13b-v1.5");
    } else {
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS,
                          "unknown preset '%s' (known: tiny, small, 7b-m144, 7b-m256, 13b-m256, 13b-m576)", name);
    }
    return hb_config_check(c, name, err);
}
