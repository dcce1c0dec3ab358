/* model/model_internal.h — the hb_model struct and the per-module weight/activation layouts shared by the model/ sources.
 * Not part of the public API (model/model.h).
 *
 * Dependencies:
 *   model/model.h   the public types
 *   kernels/ops.h   hb_tensor and the ops
 *
 * Layout conventions: activations are row-major [rows, features]; CLIP rows are (image, token) with the CLS token
 * first; C-Abstractor activations are channel-last [image·H·W, C] (row-major grid), so its 1×1 convolutions are
 * GEMMs and its LayerNorm2d a row LayerNorm; LLM rows are (sequence, position). Weights keep the HF layout
 * [out, in]; fused weights are adjacent parameters viewed as one tensor (CLIP and LLaMA [Wq; Wk; Wv], CLIP
 * [bq; bk; bv], LLaMA [Wgate; Wup]). */
#ifndef HB_MODEL_INTERNAL_H
#define HB_MODEL_INTERNAL_H

#include "model/model.h"

/* ---- weights (the same structs hold gradient views; a tensor with arena NULL is "absent") ---- */
typedef struct {
    hb_tensor ln1_w, ln1_b, qkv_w, qkv_b, o_w, o_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} vit_layer_t;

typedef struct {
    hb_tensor cls, patch_w, pos, pre_w, pre_b; /* patch_w viewed as [C, 3·P·P] */
    vit_layer_t *layers;                      /* num_hidden_layers (only the first vit_layers run) */
} vit_t;

typedef struct {
    hb_tensor c1_w, n1_w, n1_b;       /* conv1 1×1 [Ch, Cin], LayerNormAct2d */
    hb_tensor dw_w, n2_w, n2_b;       /* conv2 depthwise [Ch, 9], LayerNormAct2d */
    hb_tensor se1_w, se1_b, se2_w, se2_b; /* SE fc1 [se, Ch] + b, fc2 [Ch, se] + b */
    hb_tensor c3_w, n3_w, n3_b;       /* conv3 1×1 [Ch, Ch], LayerNorm (no act; SiLU after the residual add) */
    hb_tensor ds_w, ds_n_w, ds_n_b;   /* downsample shortcut (only when Cin != Ch) */
} blk_t;

typedef struct {
    hb_tensor pos, pre_w, pre_b, eos;
    blk_t *s1, *s2;       /* depth blocks each */
    hb_tensor *ro_w, *ro_b; /* mlp_depth readout Linears */
} cabs_t;

typedef struct {
    hb_tensor in_w, qkv_w, o_w, post_w, gu_w, down_w;
} llama_layer_t;

typedef struct {
    hb_tensor embed, norm_w, lm_w;
    llama_layer_t *layers;
} llama_t;

/* ---- activations ---- */
typedef struct { /* CLIP forward scratch (nothing is kept for a backward: CLIP is frozen) */
    hb_tensor pixels, cols, patches, x, h, qkv, att, fc, lse;
} vit_acts;

typedef struct { /* one Bottleneck block, saved for its backward */
    hb_tensor c1, mean1, rstd1, a1, c2, mean2, rstd2, a2, s, z, za, u, g, c3, d, mean_d, rstd_d, sc, mean3, rstd3, y;
} blk_acts;

typedef struct {
    hb_tensor idx_feat;          /* I32: rows of the CLIP output without CLS */
    hb_tensor feat, pre_mean, pre_rstd, featn, x0; /* x0 = projector input after prenorm / pos_emb */
    blk_acts *s1, *s2;
    hb_tensor pooled;            /* [N·M, Ch] */
    hb_tensor *ro_out, *ro_act;  /* readout linear outputs and SiLU outputs */
    hb_tensor vis_ext;           /* [N_max·M + eos, D]: readout output, then the eos tokens (eos > 0 only) */
    hb_tensor idx_vis;           /* I32 [N_max·(M+eos)]: visual row -> vis_ext row (eos > 0 only) */
    hb_tensor vis;               /* [N·(M+eos), D] the visual tokens the LLM reads */
    /* backward scratch */
    hb_tensor d_a, d_b, d_c, d_e, d_sc, d_s, d_z, d_za, d_u, d_ro, d_ro2, d_x0, d_featn;
} cabs_acts;

typedef struct {
    hb_tensor src, sel, sel_tgt; /* I32: embedding source map [R], the rows the head reads, their targets */
    hb_tensor *xs, *xmid, *qkv, *att, *lse, *ab, *rstd1, *rstd2; /* per layer (xs has L+1 entries) */
    hb_tensor rstdf, h, m, tmp, hf, hsel, logits, dlogits, losses, loss_sum; /* dlogits: own buffer only in all_logits mode */
    /* backward */
    hb_tensor dx, dh, dm, dab, datt, dqkv, dhsel, dvis;
} llama_acts;

struct hb_model {
    hb_ops *ops;
    hb_model_cfg cfg;
    hb_model_opts opts;
    unsigned trained;       /* groups with gradients */
    hb_arena names;         /* parameter names */
    hb_param *params;
    int nparams, capparams;
    hb_tensor gw[3], gg[3]; /* flat weights / grads per group (index 0 vision, 1 proj, 2 lm) */
    int64_t gn[3];          /* elements per group */
    hb_ops_arena *a_params, *a_grads, *a_acts;

    /* derived sizes */
    int vit_layers, grid, npatch, mgrid, nvis; /* layers run, n, N = n², m, M + eos */
    int se1_in, se_ch[2];

    vit_t vit;
    cabs_t cabs, cabs_g;
    llama_t lm, lm_g;
    vit_acts va;
    cabs_acts ca;
    llama_acts la;

    /* host scratch for a step */
    int32_t *h_src, *h_sel, *h_sel_tgt;
    int64_t cur_images, cur_rows, cur_sel, lm_chunk;
    int have_logits;
};

static inline int hb_group_index(hb_group g) { return g == HB_GROUP_VISION ? 0 : g == HB_GROUP_PROJ ? 1 : 2; }
/* NULL for an absent tensor (a frozen parameter's gradient), so ops skip that output. */
static inline const hb_tensor *hb_opt(const hb_tensor *t) { return t && t->arena ? t : NULL; }

/* params.c */
int hb_model_build_params(hb_model *m, hb_err *err); /* the table (names, shapes, offsets) */
void hb_model_bind_views(hb_model *m);              /* fills vit/cabs/lm (and grads) from the flat tensors */
int hb_model_plan_acts(hb_model *m, hb_err *err);    /* allocates every activation tensor */

/* vit.c, cabs.c, llama.c */
void hb_vit_forward(hb_model *m, int64_t n_images);
void hb_cabs_forward(hb_model *m, int64_t n_images);
void hb_cabs_backward(hb_model *m, int64_t n_images); /* from the LLM gradient at the visual rows (la.dvis) */
void hb_llama_forward(hb_model *m, int64_t B, int64_t T);
/* The LM head and loss over the selected rows, in chunks; with backward, also d_hf and the head's weight grad. */
void hb_llama_head(hb_model *m, int64_t B, int64_t T, int backward, float scale);
void hb_llama_backward(hb_model *m, int64_t B, int64_t T);

#endif
