/* model/vit.c — the CLIP ViT vision tower, forward only (frozen in both Honeybee stages, spec-model.md §2.5).
 *
 * Dependencies:
 *   model/model_internal.h  hb_model, vit_t, vit_acts
 *   kernels/ops.h           im2col, linear, vit_embed, layernorm, attention, activations
 *
 * Math (spec-model.md §2.3, HF CLIPVisionTransformer):
 *   X0 = pre_layrnorm(concat(cls, patches·Wpatchᵀ) + pos)                    hidden_states[0]
 *   per layer: X += out_proj(attn(LN1(X)));  X += fc2(quick_gelu(fc1(LN2(X))))  hidden_states[l]
 * Only the layers up to feature_layer_index run (-1: all; -2: all but the last); post_layernorm is never applied.
 * q is scaled by head_dim^-0.5 before q·kᵀ, which the attention op's scale argument does. Rows are
 * (image, token) with token 0 the CLS token; activations are [N·(1+Np), C]. */
#include <math.h>

#include "model/model_internal.h"

void hb_vit_forward(hb_model *m, int64_t Ni) {
    hb_ops *o = m->ops;
    const hb_clip_cfg *v = &m->cfg.vision;
    vit_acts *a = &m->va;
    const vit_t *w = &m->vit;
    int64_t C = v->hidden_size, I = v->intermediate_size, H = v->num_attention_heads, Dh = C / H;
    int64_t Np = m->npatch, Lv = Np + 1, rows = Ni * Lv, P = v->patch_size, K = 3 * P * P;
    float eps = (float)v->layer_norm_eps, scale = 1.0f / sqrtf((float)Dh);

    hb_ops_im2col_patches(o, &a->cols, &a->pixels, Ni, 3, v->image_size, P);
    hb_ops_linear_fwd(o, &a->patches, &a->cols, &w->patch_w, NULL, Ni * Np, C, K, 0);
    hb_ops_vit_embed_fwd(o, &a->h, &a->patches, &w->cls, &w->pos, Ni, Np, C);
    hb_ops_layernorm_fwd(o, &a->x, NULL, NULL, &a->h, &w->pre_w, &w->pre_b, NULL, rows, C, eps, HB_ACT_NONE);
    for (int l = 0; l < m->vit_layers; l++) {
        const vit_layer_t *L = &w->layers[l];
        hb_ops_layernorm_fwd(o, &a->h, NULL, NULL, &a->x, &L->ln1_w, &L->ln1_b, NULL, rows, C, eps, HB_ACT_NONE);
        hb_ops_linear_fwd(o, &a->qkv, &a->h, &L->qkv_w, &L->qkv_b, rows, 3 * C, C, 0);
        hb_ops_attn_fwd(o, &a->att, &a->lse, &a->qkv, NULL, Ni, Lv, H, Dh, scale, 0);
        hb_ops_linear_fwd(o, &a->x, &a->att, &L->o_w, &L->o_b, rows, C, C, 1); /* residual: X += ... */
        hb_ops_layernorm_fwd(o, &a->h, NULL, NULL, &a->x, &L->ln2_w, &L->ln2_b, NULL, rows, C, eps, HB_ACT_NONE);
        hb_ops_linear_fwd(o, &a->fc, &a->h, &L->fc1_w, &L->fc1_b, rows, I, C, 0);
        hb_ops_act_fwd(o, &a->fc, &a->fc, rows * I, HB_ACT_QUICK_GELU);
        hb_ops_linear_fwd(o, &a->x, &a->fc, &L->fc2_w, &L->fc2_b, rows, C, I, 1);
    }
}
