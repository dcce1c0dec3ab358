/* model/params.c — the parameter table: every tensor of the Honeybee checkpoint with its shape, group, weight-decay
 * flag and offset in its group's flat tensor (views.c binds the tensors once allocated); parameter counts.
 *
 * Dependencies:
 *   model/model_internal.h  hb_model, hb_param
 *   core/core.h             hb_arena (names)
 *
 * Flat layout: parameters are laid out in the order added; each starts on a 64-element boundary except the members
 * of a fused group (CLIP q/k/v weights, q/k/v biases; LLaMA q/k/v weights, gate/up weights), which are packed
 * back to back so one view covers the fused [Wq; Wk; Wv] or [Wgate; Wup]. Padding elements stay zero. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

#define ALIGN_ELEMS 64

enum { PACK = 0, ALIGN = 1 };

static int add(hb_model *m, hb_group g, int decay, int used, int align, const char *name, int ndim, int64_t d0,
               int64_t d1, int64_t d2, int64_t d3) {
    if (m->nparams == m->capparams) {
        m->capparams = m->capparams ? 2 * m->capparams : 256;
        m->params = hb_xrealloc(m->params, (size_t)m->capparams * sizeof *m->params);
    }
    hb_param *p = &m->params[m->nparams++];
    memset(p, 0, sizeof *p);
    p->name = hb_arena_strdup(&m->names, name);
    p->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = d[i];
        p->numel *= d[i];
    }
    p->group = g;
    p->decay = decay;
    p->used = used;
    p->trained = (m->trained & g) != 0;
    int gi = hb_group_index(g);
    if (align) m->gn[gi] = (m->gn[gi] + ALIGN_ELEMS - 1) / ALIGN_ELEMS * ALIGN_ELEMS;
    p->offset = m->gn[gi];
    m->gn[gi] += p->numel;
    return 0;
}

/* Names are built into a scratch buffer: prefix + formatted suffix. */
static const char *nm(char *buf, size_t n, const char *prefix, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static const char *nm(char *buf, size_t n, const char *prefix, const char *fmt, ...) {
    int k = snprintf(buf, n, "%s", prefix);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + k, n - (size_t)k, fmt, ap);
    va_end(ap);
    return buf;
}

/* Python's int(round(x)) (ties to even), as timm computes the SE width. */
static int py_round(double x) { return (int)nearbyint(x); }

static void build_vision(hb_model *m) {
    const hb_clip_cfg *v = &m->cfg.vision;
    const char *P = "vision_model.vision_model.";
    int64_t C = v->hidden_size, I = v->intermediate_size, ps = v->patch_size;
    char b[256];
    hb_group G = HB_GROUP_VISION;
    add(m, G, 1, 1, ALIGN, nm(b, sizeof b, P, "embeddings.class_embedding"), 1, C, 0, 0, 0);
    add(m, G, 1, 1, ALIGN, nm(b, sizeof b, P, "embeddings.patch_embedding.weight"), 4, C, v->num_channels, ps, ps);
    add(m, G, 1, 1, ALIGN, nm(b, sizeof b, P, "embeddings.position_embedding.weight"), 2, m->npatch + 1, C, 0, 0);
    add(m, G, 0, 1, ALIGN, nm(b, sizeof b, P, "pre_layrnorm.weight"), 1, C, 0, 0, 0);
    add(m, G, 0, 1, ALIGN, nm(b, sizeof b, P, "pre_layrnorm.bias"), 1, C, 0, 0, 0);
    for (int l = 0; l < v->num_hidden_layers; l++) {
        int u = l < m->vit_layers;
        char p[128];
        snprintf(p, sizeof p, "%sencoder.layers.%d.", P, l);
        add(m, G, 0, u, ALIGN, nm(b, sizeof b, p, "layer_norm1.weight"), 1, C, 0, 0, 0);
        add(m, G, 0, u, ALIGN, nm(b, sizeof b, p, "layer_norm1.bias"), 1, C, 0, 0, 0);
        add(m, G, 1, u, ALIGN, nm(b, sizeof b, p, "self_attn.q_proj.weight"), 2, C, C, 0, 0);
        add(m, G, 1, u, PACK, nm(b, sizeof b, p, "self_attn.k_proj.weight"), 2, C, C, 0, 0);
        add(m, G, 1, u, PACK, nm(b, sizeof b, p, "self_attn.v_proj.weight"), 2, C, C, 0, 0);
        add(m, G, 0, u, ALIGN, nm(b, sizeof b, p, "self_attn.q_proj.bias"), 1, C, 0, 0, 0);
        add(m, G, 0, u, PACK, nm(b, sizeof b, p, "self_attn.k_proj.bias"), 1, C, 0, 0, 0);
        add(m, G, 0, u, PACK, nm(b, sizeof b, p, "self_attn.v_proj.bias"), 1, C, 0, 0, 0);
        add(m, G, 1, u, ALIGN, nm(b, sizeof b, p, "self_attn.out_proj.weight"), 2, C, C, 0, 0);
        add(m, G, 0, u, ALIGN, nm(b, sizeof b, p, "self_attn.out_proj.bias"), 1, C, 0, 0, 0);
        add(m, G, 0, u, ALIGN, nm(b, sizeof b, p, "layer_norm2.weight"), 1, C, 0, 0, 0);
        add(m, G, 0, u, ALIGN, nm(b, sizeof b, p, "layer_norm2.bias"), 1, C, 0, 0, 0);
        add(m, G, 1, u, ALIGN, nm(b, sizeof b, p, "mlp.fc1.weight"), 2, I, C, 0, 0);
        add(m, G, 0, u, ALIGN, nm(b, sizeof b, p, "mlp.fc1.bias"), 1, I, 0, 0, 0);
        add(m, G, 1, u, ALIGN, nm(b, sizeof b, p, "mlp.fc2.weight"), 2, C, I, 0, 0);
        add(m, G, 0, u, ALIGN, nm(b, sizeof b, p, "mlp.fc2.bias"), 1, C, 0, 0, 0);
    }
    add(m, G, 0, 0, ALIGN, nm(b, sizeof b, P, "post_layernorm.weight"), 1, C, 0, 0, 0);
    add(m, G, 0, 0, ALIGN, nm(b, sizeof b, P, "post_layernorm.bias"), 1, C, 0, 0, 0);
}

/* The SE width of a block: round(in_chs · 0.25) from the block *input* channels (timm Bottleneck). */
static int se_width(int cin) { return py_round(cin * 0.25); }

static void build_block(hb_model *m, const char *p, int cin, int ch) {
    char b[256];
    hb_group G = HB_GROUP_PROJ;
    int se = se_width(cin);
    add(m, G, 1, 1, ALIGN, nm(b, sizeof b, p, "conv1.conv.weight"), 4, ch, cin, 1, 1);
    add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "conv1.bn.weight"), 1, ch, 0, 0, 0);
    add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "conv1.bn.bias"), 1, ch, 0, 0, 0);
    add(m, G, 1, 1, ALIGN, nm(b, sizeof b, p, "conv2.conv.weight"), 4, ch, 1, 3, 3);
    add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "conv2.bn.weight"), 1, ch, 0, 0, 0);
    add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "conv2.bn.bias"), 1, ch, 0, 0, 0);
    add(m, G, 1, 1, ALIGN, nm(b, sizeof b, p, "se.fc1.weight"), 4, se, ch, 1, 1);
    add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "se.fc1.bias"), 1, se, 0, 0, 0);
    add(m, G, 1, 1, ALIGN, nm(b, sizeof b, p, "se.fc2.weight"), 4, ch, se, 1, 1);
    add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "se.fc2.bias"), 1, ch, 0, 0, 0);
    add(m, G, 1, 1, ALIGN, nm(b, sizeof b, p, "conv3.conv.weight"), 4, ch, ch, 1, 1);
    add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "conv3.bn.weight"), 1, ch, 0, 0, 0);
    add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "conv3.bn.bias"), 1, ch, 0, 0, 0);
    if (cin != ch) {
        add(m, G, 1, 1, ALIGN, nm(b, sizeof b, p, "downsample.conv.weight"), 4, ch, cin, 1, 1);
        add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "downsample.bn.weight"), 1, ch, 0, 0, 0);
        add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "downsample.bn.bias"), 1, ch, 0, 0, 0);
    }
}

static void build_proj(hb_model *m) {
    const hb_proj_cfg *p = &m->cfg.proj;
    const char *P = "abstractor.";
    int cv = p->encoder_hidden_size, ch = p->hidden_size, D = p->output_hidden_size;
    char b[256];
    hb_group G = HB_GROUP_PROJ;
    if (p->pos_emb) add(m, G, 1, 1, ALIGN, nm(b, sizeof b, P, "pos_emb"), 3, 1, m->npatch, cv, 0);
    if (p->prenorm) {
        add(m, G, 0, 1, ALIGN, nm(b, sizeof b, P, "prenorm.weight"), 1, cv, 0, 0, 0);
        add(m, G, 0, 1, ALIGN, nm(b, sizeof b, P, "prenorm.bias"), 1, cv, 0, 0, 0);
    }
    if (p->num_eos_tokens) add(m, G, 1, 1, ALIGN, nm(b, sizeof b, P, "eos_tokens"), 3, 1, p->num_eos_tokens, D, 0);
    for (int s = 0; s < 2 && p->depth; s++)
        for (int k = 1; k <= p->depth; k++) {
            char bp[64];
            snprintf(bp, sizeof bp, "%snet.%d.b%d.", P, 2 * s, k);
            build_block(m, bp, s == 0 && k == 1 ? cv : ch, ch);
        }
    int rin = p->depth ? ch : cv;
    for (int j = 0; j < p->mlp_depth; j++) {
        add(m, G, 1, 1, ALIGN, nm(b, sizeof b, P, "readout.%d.weight", 2 * j), 2, D, j ? D : rin, 0, 0);
        add(m, G, 0, 1, ALIGN, nm(b, sizeof b, P, "readout.%d.bias", 2 * j), 1, D, 0, 0, 0);
    }
}

static void build_lm(hb_model *m) {
    const hb_llama_cfg *t = &m->cfg.text;
    const char *P = "language_model.";
    int64_t C = t->hidden_size, I = t->intermediate_size, V = t->vocab_size;
    char b[256];
    hb_group G = HB_GROUP_LM;
    add(m, G, 1, 1, ALIGN, nm(b, sizeof b, P, "model.embed_tokens.weight"), 2, V, C, 0, 0);
    for (int l = 0; l < t->num_hidden_layers; l++) {
        char p[128];
        snprintf(p, sizeof p, "%smodel.layers.%d.", P, l);
        add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "input_layernorm.weight"), 1, C, 0, 0, 0);
        add(m, G, 1, 1, ALIGN, nm(b, sizeof b, p, "self_attn.q_proj.weight"), 2, C, C, 0, 0);
        add(m, G, 1, 1, PACK, nm(b, sizeof b, p, "self_attn.k_proj.weight"), 2, C, C, 0, 0);
        add(m, G, 1, 1, PACK, nm(b, sizeof b, p, "self_attn.v_proj.weight"), 2, C, C, 0, 0);
        add(m, G, 1, 1, ALIGN, nm(b, sizeof b, p, "self_attn.o_proj.weight"), 2, C, C, 0, 0);
        add(m, G, 0, 1, ALIGN, nm(b, sizeof b, p, "post_attention_layernorm.weight"), 1, C, 0, 0, 0);
        add(m, G, 1, 1, ALIGN, nm(b, sizeof b, p, "mlp.gate_proj.weight"), 2, I, C, 0, 0);
        add(m, G, 1, 1, PACK, nm(b, sizeof b, p, "mlp.up_proj.weight"), 2, I, C, 0, 0);
        add(m, G, 1, 1, ALIGN, nm(b, sizeof b, p, "mlp.down_proj.weight"), 2, C, I, 0, 0);
    }
    add(m, G, 0, 1, ALIGN, nm(b, sizeof b, P, "model.norm.weight"), 1, C, 0, 0, 0);
    add(m, G, 1, 1, ALIGN, nm(b, sizeof b, P, "lm_head.weight"), 2, V, C, 0, 0);
}

int hb_model_build_params(hb_model *m, hb_err *err) {
    (void)err;
    build_vision(m);
    build_proj(m);
    build_lm(m);
    for (int g = 0; g < 3; g++) m->gn[g] = (m->gn[g] + ALIGN_ELEMS - 1) / ALIGN_ELEMS * ALIGN_ELEMS;
    return 0;
}

const hb_param *hb_model_param(const hb_model *m, const char *name) {
    for (int i = 0; i < m->nparams; i++)
        if (!strcmp(m->params[i].name, name)) return &m->params[i];
    return NULL;
}

int64_t hb_model_count(const hb_model *m, unsigned groups) {
    int64_t n = 0;
    for (int i = 0; i < m->nparams; i++)
        if (groups & m->params[i].group) n += m->params[i].numel;
    return n;
}

hb_param *hb_config_params(const hb_model_cfg *cfg, int *n) {
    hb_model m;
    memset(&m, 0, sizeof m);
    m.cfg = *cfg;
    hb_arena_init(&m.names, 0);
    m.grid = hb_config_grid(&cfg->vision);
    m.npatch = m.grid * m.grid;
    m.vit_layers = hb_config_vit_layers(cfg);
    hb_model_build_params(&m, NULL);
    for (int i = 0; i < m.nparams; i++) m.params[i].name = hb_xstrdup(m.params[i].name);
    hb_arena_free(&m.names);
    *n = m.nparams;
    return m.params;
}

void hb_params_free(hb_param *p, int n) {
    for (int i = 0; i < n && p; i++) free((char *)p[i].name);
    free(p);
}

int64_t hb_config_param_count(const hb_model_cfg *cfg, unsigned groups) {
    int n;
    hb_param *p = hb_config_params(cfg, &n);
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        if (groups & p[i].group) total += p[i].numel;
    hb_params_free(p, n);
    return total;
}
