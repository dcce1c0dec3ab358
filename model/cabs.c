/* model/cabs.c — the C-Abstractor projector (spec-model.md §3), forward and backward, channel-last.
 *
 * Dependencies:
 *   model/model_internal.h  hb_model, cabs_t (weights and gradients), cabs_acts
 *   kernels/ops.h           gather, layernorm (+SiLU, +residual), linear, depthwise conv, SE, pooling, activations
 *
 * Forward (honeybee/projectors/projectors.py CAbstractor with timm RegStage/Bottleneck):
 *   x  = CLIP features without CLS [N·Np, Cv]  (-> prenorm LayerNorm eps 1e-6 when configured) (+ pos_emb)
 *   s1 = `depth` Bottlenecks on the n×n grid, pool n×n -> m×m (overlapping adaptive windows), s2 = `depth` more
 *   readout = Linear (SiLU Linear)*, then the eos tokens (when configured) after each image's M tokens.
 * Bottleneck (timm, LayerNormAct2d eps 1e-5 over channels per pixel):
 *   a1 = SiLU(LN(x·W1ᵀ)); a2 = SiLU(LN(dwconv3x3(a1))); g = a2 ⊙ σ(fc2(SiLU(fc1(mean_hw a2))))
 *   y  = SiLU(LN(g·W3ᵀ) + shortcut),  shortcut = x, or LN(x·Wdsᵀ) when the block changes the width.
 * Backward mirrors it; parameter gradients accumulate (+=) into the model's gradient views. */
#include "model/model_internal.h"

#define EPS_LN2D 1e-5f
#define EPS_PRENORM 1e-6f

static void block_fwd(hb_model *m, const blk_t *w, blk_acts *a, const hb_tensor *x, int64_t Ni, int64_t Hs,
                      int64_t cin, int64_t ch, int64_t se) {
    hb_ops *o = m->ops;
    int64_t R = Ni * Hs * Hs;
    hb_ops_linear_fwd(o, &a->c1, x, &w->c1_w, NULL, R, ch, cin, 0);
    hb_ops_layernorm_fwd(o, &a->a1, &a->mean1, &a->rstd1, &a->c1, &w->n1_w, &w->n1_b, NULL, R, ch, EPS_LN2D,
                         HB_ACT_SILU);
    hb_ops_dwconv3x3_fwd(o, &a->c2, &a->a1, &w->dw_w, Ni, Hs, Hs, ch);
    hb_ops_layernorm_fwd(o, &a->a2, &a->mean2, &a->rstd2, &a->c2, &w->n2_w, &w->n2_b, NULL, R, ch, EPS_LN2D,
                         HB_ACT_SILU);
    hb_ops_spatial_mean_fwd(o, &a->s, &a->a2, Ni, Hs * Hs, ch);
    hb_ops_linear_fwd(o, &a->z, &a->s, &w->se1_w, &w->se1_b, Ni, se, ch, 0);
    hb_ops_act_fwd(o, &a->za, &a->z, Ni * se, HB_ACT_SILU);
    hb_ops_linear_fwd(o, &a->u, &a->za, &w->se2_w, &w->se2_b, Ni, ch, se, 0);
    hb_ops_se_gate_fwd(o, &a->g, &a->a2, &a->u, Ni, Hs * Hs, ch);
    hb_ops_linear_fwd(o, &a->c3, &a->g, &w->c3_w, NULL, R, ch, ch, 0);
    const hb_tensor *sc = x;
    if (cin != ch) {
        hb_ops_linear_fwd(o, &a->d, x, &w->ds_w, NULL, R, ch, cin, 0);
        hb_ops_layernorm_fwd(o, &a->sc, &a->mean_d, &a->rstd_d, &a->d, &w->ds_n_w, &w->ds_n_b, NULL, R, ch, EPS_LN2D,
                             HB_ACT_NONE);
        sc = &a->sc;
    }
    hb_ops_layernorm_fwd(o, &a->y, &a->mean3, &a->rstd3, &a->c3, &w->n3_w, &w->n3_b, sc, R, ch, EPS_LN2D,
                         HB_ACT_SILU);
}

/* d_y: gradient at the block output; writes d_x (=) the gradient at the block input. Scratch: ca.d_a/d_b/d_sc/... */
static void block_bwd(hb_model *m, const blk_t *w, const blk_t *g, const blk_acts *a, const hb_tensor *x,
                      const hb_tensor *d_y, const hb_tensor *d_x, int64_t Ni, int64_t Hs, int64_t cin, int64_t ch,
                      int64_t se) {
    hb_ops *o = m->ops;
    cabs_acts *s = &m->ca;
    int64_t R = Ni * Hs * Hs, HW = Hs * Hs;
    const hb_tensor *sc = cin != ch ? &a->sc : x;
    /* conv3 norm + residual + SiLU: d_c3 -> d_a, d(shortcut) -> d_sc */
    hb_ops_layernorm_bwd(o, &s->d_a, &s->d_sc, hb_opt(&g->n3_w), hb_opt(&g->n3_b), d_y, NULL, 0, &a->c3, &a->mean3,
                         &a->rstd3, &w->n3_w, &w->n3_b, sc, R, ch, HB_ACT_SILU, 0);
    hb_ops_linear_bwd_weight(o, hb_opt(&g->c3_w), NULL, &s->d_a, &a->g, R, ch, ch);
    hb_ops_linear_bwd_data(o, &s->d_b, &s->d_a, &w->c3_w, R, ch, ch, 0); /* d_gated */
    /* SE */
    hb_ops_se_gate_bwd(o, &s->d_a, &s->d_u, &s->d_b, &a->a2, &a->u, Ni, HW, ch); /* d_a = d_a2 (direct path) */
    hb_ops_linear_bwd_weight(o, hb_opt(&g->se2_w), hb_opt(&g->se2_b), &s->d_u, &a->za, Ni, ch, se);
    hb_ops_linear_bwd_data(o, &s->d_za, &s->d_u, &w->se2_w, Ni, ch, se, 0);
    hb_ops_act_bwd(o, &s->d_z, &s->d_za, &a->z, Ni * se, HB_ACT_SILU, 0);
    hb_ops_linear_bwd_weight(o, hb_opt(&g->se1_w), hb_opt(&g->se1_b), &s->d_z, &a->s, Ni, se, ch);
    hb_ops_linear_bwd_data(o, &s->d_s, &s->d_z, &w->se1_w, Ni, se, ch, 0);
    /* conv2 norm (+ the squeeze's mean gradient, added per image) and the depthwise conv */
    hb_ops_layernorm_bwd(o, &s->d_b, NULL, hb_opt(&g->n2_w), hb_opt(&g->n2_b), &s->d_a, &s->d_s, HW, &a->c2,
                         &a->mean2, &a->rstd2, &w->n2_w, &w->n2_b, NULL, R, ch, HB_ACT_SILU, 0);
    hb_ops_dwconv3x3_bwd(o, &s->d_a, hb_opt(&g->dw_w), &s->d_b, &a->a1, &w->dw_w, Ni, Hs, Hs, ch);
    /* conv1 */
    hb_ops_layernorm_bwd(o, &s->d_b, NULL, hb_opt(&g->n1_w), hb_opt(&g->n1_b), &s->d_a, NULL, 0, &a->c1, &a->mean1,
                         &a->rstd1, &w->n1_w, &w->n1_b, NULL, R, ch, HB_ACT_SILU, 0);
    hb_ops_linear_bwd_weight(o, hb_opt(&g->c1_w), NULL, &s->d_b, x, R, ch, cin);
    hb_ops_linear_bwd_data(o, d_x, &s->d_b, &w->c1_w, R, ch, cin, 0);
    /* shortcut */
    if (cin != ch) {
        hb_ops_layernorm_bwd(o, &s->d_b, NULL, hb_opt(&g->ds_n_w), hb_opt(&g->ds_n_b), &s->d_sc, NULL, 0, &a->d,
                             &a->mean_d, &a->rstd_d, &w->ds_n_w, &w->ds_n_b, NULL, R, ch, HB_ACT_NONE, 0);
        hb_ops_linear_bwd_weight(o, hb_opt(&g->ds_w), NULL, &s->d_b, x, R, ch, cin);
        hb_ops_linear_bwd_data(o, d_x, &s->d_b, &w->ds_w, R, ch, cin, 1);
    } else {
        hb_ops_add(o, d_x, d_x, &s->d_sc, R * ch);
    }
}

void hb_cabs_forward(hb_model *m, int64_t Ni) {
    hb_ops *o = m->ops;
    const hb_proj_cfg *p = &m->cfg.proj;
    const cabs_t *w = &m->cabs;
    cabs_acts *a = &m->ca;
    int64_t Np = m->npatch, R1 = Ni * Np, cv = p->encoder_hidden_size, ch = p->hidden_size;
    int64_t M = p->num_query_tokens, R2 = Ni * M, D = p->output_hidden_size, n = m->grid, mg = m->mgrid;
    const hb_tensor *x = &a->x0;
    /* projector input: drop CLS, optional prenorm, optional pos_emb */
    if (p->prenorm || !p->pos_emb) {
        hb_ops_gather_rows(o, p->prenorm || p->pos_emb ? &a->feat : &a->x0, &m->va.x, &a->idx_feat, R1, cv,
                           Ni * (Np + 1));
        if (p->prenorm) {
            const hb_tensor *dst = p->pos_emb ? &a->featn : &a->x0;
            hb_ops_layernorm_fwd(o, dst, &a->pre_mean, &a->pre_rstd, &a->feat, &w->pre_w, &w->pre_b, NULL, R1, cv,
                                 EPS_PRENORM, HB_ACT_NONE);
            if (p->pos_emb) hb_ops_posemb_add_fwd(o, &a->x0, &a->featn, &w->pos, Ni, Np, cv, 0);
        }
    } else {
        hb_ops_posemb_add_fwd(o, &a->x0, &m->va.x, &w->pos, Ni, Np, cv, 1);
    }
    /* s1 -> pool -> s2 */
    for (int k = 0; k < p->depth; k++) {
        int64_t cin = k ? ch : cv;
        block_fwd(m, &w->s1[k], &a->s1[k], x, Ni, n, cin, ch, m->se_ch[k ? 1 : 0]);
        x = &a->s1[k].y;
    }
    int64_t cp = p->depth ? ch : cv;
    hb_ops_adaptive_avgpool_fwd(o, &a->pooled, x, Ni, n, n, mg, mg, cp);
    x = &a->pooled;
    for (int k = 0; k < p->depth; k++) {
        block_fwd(m, &w->s2[k], &a->s2[k], x, Ni, mg, ch, ch, m->se_ch[1]);
        x = &a->s2[k].y;
    }
    /* readout */
    for (int j = 0; j < p->mlp_depth; j++) {
        int64_t in = j ? D : cp;
        hb_ops_linear_fwd(o, &a->ro_out[j], x, &w->ro_w[j], &w->ro_b[j], R2, D, in, 0);
        if (j < p->mlp_depth - 1) {
            hb_ops_act_fwd(o, &a->ro_act[j], &a->ro_out[j], R2 * D, HB_ACT_SILU);
            x = &a->ro_act[j];
        }
    }
    if (p->num_eos_tokens) { /* eos rows sit after the largest batch's rows; idx_vis interleaves them per image */
        int64_t Nmax = m->opts.limits.max_images, ne = p->num_eos_tokens;
        hb_tensor tail = hb_tensor_view(&a->vis_ext, Nmax * M * D, ne * D);
        hb_ops_copy(o, &tail, &w->eos, ne * D);
        hb_ops_gather_rows(o, &a->vis, &a->vis_ext, &a->idx_vis, Ni * m->nvis, D, Nmax * M + ne);
    }
}

void hb_cabs_backward(hb_model *m, int64_t Ni) {
    hb_ops *o = m->ops;
    const hb_proj_cfg *p = &m->cfg.proj;
    const cabs_t *w = &m->cabs, *g = &m->cabs_g;
    cabs_acts *a = &m->ca;
    int64_t Np = m->npatch, R1 = Ni * Np, cv = p->encoder_hidden_size, ch = p->hidden_size;
    int64_t M = p->num_query_tokens, R2 = Ni * M, D = p->output_hidden_size, n = m->grid, mg = m->mgrid;
    int64_t cp = p->depth ? ch : cv;
    /* d_vis (the LLM's gradient at the visual rows) -> readout output gradient */
    const hb_tensor *dy = &m->la.dvis;
    if (p->num_eos_tokens) {
        int64_t Nmax = m->opts.limits.max_images, ne = p->num_eos_tokens;
        hb_ops_zero(o, &a->d_ro);
        hb_ops_gather_rows_bwd(o, &a->d_ro, &m->la.dvis, &a->idx_vis, Ni * m->nvis, D, Nmax * M + ne);
        hb_tensor tail = hb_tensor_view(&a->d_ro, Nmax * M * D, ne * D);
        if (hb_opt(&g->eos)) hb_ops_add(o, &g->eos, &g->eos, &tail, ne * D);
        dy = &a->d_ro;
    }
    for (int j = p->mlp_depth - 1; j >= 0; j--) {
        int64_t in = j ? D : cp;
        const hb_tensor *xin = j ? &a->ro_act[j - 1] : (p->depth ? &a->s2[p->depth - 1].y : &a->pooled);
        hb_ops_linear_bwd_weight(o, hb_opt(&g->ro_w[j]), hb_opt(&g->ro_b[j]), dy, xin, R2, D, in);
        if (j == 0) break;
        hb_ops_linear_bwd_data(o, &a->d_ro2, dy, &w->ro_w[j], R2, D, in, 0); /* dy is no longer needed after this */
        hb_ops_act_bwd(o, &a->d_ro, &a->d_ro2, &a->ro_out[j - 1], R2 * D, HB_ACT_SILU, 0);
        dy = &a->d_ro;
    }
    /* into the s2 output: d_c / d_e ping-pong through the blocks */
    hb_tensor *cur = &a->d_c, *nxt = &a->d_e;
    hb_ops_linear_bwd_data(o, cur, dy, &w->ro_w[0], R2, D, cp, 0);
    for (int k = p->depth - 1; k >= 0; k--) {
        const hb_tensor *xin = k ? &a->s2[k - 1].y : &a->pooled;
        block_bwd(m, &w->s2[k], &g->s2[k], &a->s2[k], xin, cur, nxt, Ni, mg, ch, ch, m->se_ch[1]);
        hb_tensor *t = cur;
        cur = nxt;
        nxt = t;
    }
    hb_ops_adaptive_avgpool_bwd(o, nxt, cur, Ni, n, n, mg, mg, cp);
    { hb_tensor *t = cur; cur = nxt; nxt = t; }
    for (int k = p->depth - 1; k >= 0; k--) {
        int64_t cin = k ? ch : cv;
        const hb_tensor *xin = k ? &a->s1[k - 1].y : &a->x0;
        const hb_tensor *dst = k ? nxt : &a->d_x0;
        block_bwd(m, &w->s1[k], &g->s1[k], &a->s1[k], xin, cur, dst, Ni, n, cin, ch, m->se_ch[k ? 1 : 0]);
        hb_tensor *t = cur;
        cur = nxt;
        nxt = t;
    }
    const hb_tensor *d_x0 = p->depth ? &a->d_x0 : cur;
    /* pos_emb and prenorm: no gradient continues into CLIP */
    if (p->pos_emb) {
        const hb_tensor *d_in = p->prenorm ? &a->d_featn : NULL;
        hb_ops_posemb_add_bwd(o, d_in, hb_opt(&g->pos), d_x0, Ni, Np, cv, 0);
        d_x0 = &a->d_featn;
    }
    if (p->prenorm)
        hb_ops_layernorm_bwd(o, NULL, NULL, hb_opt(&g->pre_w), hb_opt(&g->pre_b), d_x0, NULL, 0, &a->feat,
                             &a->pre_mean, &a->pre_rstd, &w->pre_w, &w->pre_b, NULL, R1, cv, HB_ACT_NONE, 0);
}
