/* model/views.c — binds the per-module weight and gradient views (vit_t, cabs_t, llama_t and the hb_param table's
 * .w/.g) to the flat group tensors once they are allocated.
 *
 * Dependencies:
 *   model/model_internal.h  hb_model and the module structs
 *   kernels/ops.h           hb_tensor_view
 */
#include <stdarg.h>
#include <string.h>

#include "model/model_internal.h"

/* ---- views ---- */
static hb_tensor view(hb_model *m, int grad, int span, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The view of a named parameter (span > 1: that many adjacent equal-sized parameters, a fused tensor). */
static hb_tensor view(hb_model *m, int grad, int span, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    hb_tensor none;
    memset(&none, 0, sizeof none);
    const hb_param *p = hb_model_param(m, name);
    if (!p) return none;
    int gi = hb_group_index(p->group);
    const hb_tensor *base = grad ? &m->gg[gi] : &m->gw[gi];
    if (!base->arena) return none;
    return hb_tensor_view(base, p->offset, span * p->numel);
}

static void bind_vision(hb_model *m) {
    const char *P = "vision_model.vision_model.";
    vit_t *v = &m->vit;
    v->cls = view(m, 0, 1, "%sembeddings.class_embedding", P);
    v->patch_w = view(m, 0, 1, "%sembeddings.patch_embedding.weight", P);
    v->pos = view(m, 0, 1, "%sembeddings.position_embedding.weight", P);
    v->pre_w = view(m, 0, 1, "%spre_layrnorm.weight", P);
    v->pre_b = view(m, 0, 1, "%spre_layrnorm.bias", P);
    for (int l = 0; l < m->cfg.vision.num_hidden_layers; l++) {
        vit_layer_t *L = &v->layers[l];
        const char *e = "encoder.layers";
        L->ln1_w = view(m, 0, 1, "%s%s.%d.layer_norm1.weight", P, e, l);
        L->ln1_b = view(m, 0, 1, "%s%s.%d.layer_norm1.bias", P, e, l);
        L->qkv_w = view(m, 0, 3, "%s%s.%d.self_attn.q_proj.weight", P, e, l);
        L->qkv_b = view(m, 0, 3, "%s%s.%d.self_attn.q_proj.bias", P, e, l);
        L->o_w = view(m, 0, 1, "%s%s.%d.self_attn.out_proj.weight", P, e, l);
        L->o_b = view(m, 0, 1, "%s%s.%d.self_attn.out_proj.bias", P, e, l);
        L->ln2_w = view(m, 0, 1, "%s%s.%d.layer_norm2.weight", P, e, l);
        L->ln2_b = view(m, 0, 1, "%s%s.%d.layer_norm2.bias", P, e, l);
        L->fc1_w = view(m, 0, 1, "%s%s.%d.mlp.fc1.weight", P, e, l);
        L->fc1_b = view(m, 0, 1, "%s%s.%d.mlp.fc1.bias", P, e, l);
        L->fc2_w = view(m, 0, 1, "%s%s.%d.mlp.fc2.weight", P, e, l);
        L->fc2_b = view(m, 0, 1, "%s%s.%d.mlp.fc2.bias", P, e, l);
    }
}

static void bind_block(hb_model *m, int g, blk_t *b, const char *p) {
    b->c1_w = view(m, g, 1, "%sconv1.conv.weight", p);
    b->n1_w = view(m, g, 1, "%sconv1.bn.weight", p);
    b->n1_b = view(m, g, 1, "%sconv1.bn.bias", p);
    b->dw_w = view(m, g, 1, "%sconv2.conv.weight", p);
    b->n2_w = view(m, g, 1, "%sconv2.bn.weight", p);
    b->n2_b = view(m, g, 1, "%sconv2.bn.bias", p);
    b->se1_w = view(m, g, 1, "%sse.fc1.weight", p);
    b->se1_b = view(m, g, 1, "%sse.fc1.bias", p);
    b->se2_w = view(m, g, 1, "%sse.fc2.weight", p);
    b->se2_b = view(m, g, 1, "%sse.fc2.bias", p);
    b->c3_w = view(m, g, 1, "%sconv3.conv.weight", p);
    b->n3_w = view(m, g, 1, "%sconv3.bn.weight", p);
    b->n3_b = view(m, g, 1, "%sconv3.bn.bias", p);
    b->ds_w = view(m, g, 1, "%sdownsample.conv.weight", p);
    b->ds_n_w = view(m, g, 1, "%sdownsample.bn.weight", p);
    b->ds_n_b = view(m, g, 1, "%sdownsample.bn.bias", p);
}

static void bind_proj(hb_model *m, int g, cabs_t *c) {
    const hb_proj_cfg *p = &m->cfg.proj;
    c->pos = view(m, g, 1, "abstractor.pos_emb");
    c->pre_w = view(m, g, 1, "abstractor.prenorm.weight");
    c->pre_b = view(m, g, 1, "abstractor.prenorm.bias");
    c->eos = view(m, g, 1, "abstractor.eos_tokens");
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < p->depth; k++) {
            char bp[64];
            snprintf(bp, sizeof bp, "abstractor.net.%d.b%d.", 2 * s, k + 1);
            bind_block(m, g, s ? &c->s2[k] : &c->s1[k], bp);
        }
    for (int j = 0; j < p->mlp_depth; j++) {
        c->ro_w[j] = view(m, g, 1, "abstractor.readout.%d.weight", 2 * j);
        c->ro_b[j] = view(m, g, 1, "abstractor.readout.%d.bias", 2 * j);
    }
}

static void bind_lm(hb_model *m, int g, llama_t *t) {
    const char *P = "language_model.";
    t->embed = view(m, g, 1, "%smodel.embed_tokens.weight", P);
    t->norm_w = view(m, g, 1, "%smodel.norm.weight", P);
    t->lm_w = view(m, g, 1, "%slm_head.weight", P);
    for (int l = 0; l < m->cfg.text.num_hidden_layers; l++) {
        llama_layer_t *L = &t->layers[l];
        L->in_w = view(m, g, 1, "%smodel.layers.%d.input_layernorm.weight", P, l);
        L->qkv_w = view(m, g, 3, "%smodel.layers.%d.self_attn.q_proj.weight", P, l);
        L->o_w = view(m, g, 1, "%smodel.layers.%d.self_attn.o_proj.weight", P, l);
        L->post_w = view(m, g, 1, "%smodel.layers.%d.post_attention_layernorm.weight", P, l);
        L->gu_w = view(m, g, 2, "%smodel.layers.%d.mlp.gate_proj.weight", P, l);
        L->down_w = view(m, g, 1, "%smodel.layers.%d.mlp.down_proj.weight", P, l);
    }
}

void hb_model_bind_views(hb_model *m) {
    const hb_model_cfg *c = &m->cfg;
    m->vit.layers = hb_xcalloc((size_t)c->vision.num_hidden_layers, sizeof *m->vit.layers);
    for (int g = 0; g < 2; g++) {
        cabs_t *cb = g ? &m->cabs_g : &m->cabs;
        cb->s1 = hb_xcalloc((size_t)c->proj.depth + 1, sizeof *cb->s1);
        cb->s2 = hb_xcalloc((size_t)c->proj.depth + 1, sizeof *cb->s2);
        cb->ro_w = hb_xcalloc((size_t)c->proj.mlp_depth, sizeof *cb->ro_w);
        cb->ro_b = hb_xcalloc((size_t)c->proj.mlp_depth, sizeof *cb->ro_b);
        bind_proj(m, g, cb);
        llama_t *t = g ? &m->lm_g : &m->lm;
        t->layers = hb_xcalloc((size_t)c->text.num_hidden_layers, sizeof *t->layers);
        bind_lm(m, g, t);
    }
    bind_vision(m);
    for (int i = 0; i < m->nparams; i++) {
        hb_param *p = &m->params[i];
        int gi = hb_group_index(p->group);
        p->w = hb_tensor_view(&m->gw[gi], p->offset, p->numel);
        if (m->gg[gi].arena) p->g = hb_tensor_view(&m->gg[gi], p->offset, p->numel);
    }
}

