/* model/plan.c — hb_model_new: derived sizes, the parameter and gradient arenas, and every activation tensor for
 * the largest micro-batch of the limits, allocated once (nothing is allocated per step). Also the small accessors.
 *
 * Dependencies:
 *   model/model_internal.h  hb_model and the module structs
 *   kernels/ops.h           arenas, hb_ops_alloc, hb_ops_attn_prepare, hb_ops_upload
 *   core/core.h             hb_err, hb_arena
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

unsigned hb_stage_groups(hb_stage s) {
    return s == HB_STAGE_PT ? HB_GROUP_PROJ : s == HB_STAGE_FT ? (HB_GROUP_PROJ | HB_GROUP_LM) : 0;
}

int hb_stage_parse(const char *s, hb_stage *out, hb_err *err) {
    if (s && !strcmp(s, "pt")) *out = HB_STAGE_PT;
    else if (s && !strcmp(s, "ft")) *out = HB_STAGE_FT;
    else return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "stage must be pt or ft (got '%s')", s ? s : "");
    return 0;
}

/* Allocation helper: every activation comes from the planning arena; the first failure is kept. */
typedef struct {
    hb_model *m;
    int rc;
    hb_err *err;
} planner;

static hb_tensor A(planner *p, hb_dtype dt, int64_t n, const char *name) {
    hb_tensor t;
    memset(&t, 0, sizeof t);
    if (p->rc || n <= 0) return t;
    p->rc = hb_ops_alloc(p->m->a_acts, &t, dt, n, name, p->err);
    return t;
}

static void plan_vit(planner *p, int64_t Ni) {
    hb_model *m = p->m;
    const hb_clip_cfg *v = &m->cfg.vision;
    int64_t Lv = m->npatch + 1, rows = Ni * Lv, C = v->hidden_size, S = v->image_size, P = v->patch_size;
    vit_acts *a = &m->va;
    a->pixels = A(p, HB_F32, Ni * 3 * S * S, "vit.pixels");
    a->cols = A(p, HB_F32, Ni * m->npatch * 3 * P * P, "vit.cols");
    a->patches = A(p, HB_F32, Ni * m->npatch * C, "vit.patches");
    a->x = A(p, HB_F32, rows * C, "vit.x");
    a->h = A(p, HB_F32, rows * C, "vit.h");
    a->att = A(p, HB_F32, rows * C, "vit.att");
    a->qkv = A(p, HB_F32, rows * 3 * C, "vit.qkv");
    a->fc = A(p, HB_F32, rows * v->intermediate_size, "vit.fc");
    a->lse = A(p, HB_F32, Ni * v->num_attention_heads * Lv, "vit.lse");
}

static void plan_block(planner *p, blk_acts *b, int64_t Ni, int64_t R, int cin, int ch, int se) {
    b->c1 = A(p, HB_F32, R * ch, "cabs.c1");
    b->mean1 = A(p, HB_F32, R, "cabs.mean1");
    b->rstd1 = A(p, HB_F32, R, "cabs.rstd1");
    b->a1 = A(p, HB_F32, R * ch, "cabs.a1");
    b->c2 = A(p, HB_F32, R * ch, "cabs.c2");
    b->mean2 = A(p, HB_F32, R, "cabs.mean2");
    b->rstd2 = A(p, HB_F32, R, "cabs.rstd2");
    b->a2 = A(p, HB_F32, R * ch, "cabs.a2");
    b->s = A(p, HB_F32, Ni * ch, "cabs.se_s");
    b->z = A(p, HB_F32, Ni * se, "cabs.se_z");
    b->za = A(p, HB_F32, Ni * se, "cabs.se_za");
    b->u = A(p, HB_F32, Ni * ch, "cabs.se_u");
    b->g = A(p, HB_F32, R * ch, "cabs.gated");
    b->c3 = A(p, HB_F32, R * ch, "cabs.c3");
    if (cin != ch) {
        b->d = A(p, HB_F32, R * ch, "cabs.ds");
        b->mean_d = A(p, HB_F32, R, "cabs.ds_mean");
        b->rstd_d = A(p, HB_F32, R, "cabs.ds_rstd");
        b->sc = A(p, HB_F32, R * ch, "cabs.shortcut");
    }
    b->mean3 = A(p, HB_F32, R, "cabs.mean3");
    b->rstd3 = A(p, HB_F32, R, "cabs.rstd3");
    b->y = A(p, HB_F32, R * ch, "cabs.y");
}

static void plan_cabs(planner *p, int64_t Ni, int train) {
    hb_model *m = p->m;
    const hb_proj_cfg *c = &m->cfg.proj;
    cabs_acts *a = &m->ca;
    int64_t R1 = Ni * m->npatch, M = c->num_query_tokens, R2 = Ni * M, cv = c->encoder_hidden_size, ch = c->hidden_size;
    int64_t D = c->output_hidden_size, eos = c->num_eos_tokens, wmax = ch > cv ? ch : cv;
    a->idx_feat = A(p, HB_I32, R1, "cabs.idx_feat");
    if (c->prenorm || !c->pos_emb) a->feat = A(p, HB_F32, R1 * cv, "cabs.feat");
    if (c->prenorm) {
        a->pre_mean = A(p, HB_F32, R1, "cabs.pre_mean");
        a->pre_rstd = A(p, HB_F32, R1, "cabs.pre_rstd");
        a->featn = A(p, HB_F32, R1 * cv, "cabs.featn");
    }
    a->x0 = A(p, HB_F32, R1 * cv, "cabs.x0");
    a->s1 = hb_xcalloc((size_t)c->depth + 1, sizeof *a->s1);
    a->s2 = hb_xcalloc((size_t)c->depth + 1, sizeof *a->s2);
    for (int k = 0; k < c->depth; k++) {
        int cin = k == 0 ? (int)cv : (int)ch;
        plan_block(p, &a->s1[k], Ni, R1, cin, (int)ch, m->se_ch[k == 0 ? 0 : 1]);
        plan_block(p, &a->s2[k], Ni, R2, (int)ch, (int)ch, m->se_ch[1]);
    }
    a->pooled = A(p, HB_F32, R2 * (c->depth ? ch : cv), "cabs.pooled");
    a->ro_out = hb_xcalloc((size_t)c->mlp_depth, sizeof *a->ro_out);
    a->ro_act = hb_xcalloc((size_t)c->mlp_depth, sizeof *a->ro_act);
    for (int j = 0; j < c->mlp_depth; j++) {
        if (j == c->mlp_depth - 1 && eos) {
            a->vis_ext = A(p, HB_F32, (R2 + eos) * D, "cabs.vis_ext");
            a->ro_out[j] = a->vis_ext;
        } else {
            a->ro_out[j] = A(p, HB_F32, R2 * D, "cabs.readout");
        }
        if (j < c->mlp_depth - 1) a->ro_act[j] = A(p, HB_F32, R2 * D, "cabs.readout_act");
    }
    if (eos) {
        a->idx_vis = A(p, HB_I32, Ni * m->nvis, "cabs.idx_vis");
        a->vis = A(p, HB_F32, Ni * m->nvis * D, "cabs.vis");
    } else {
        a->vis = a->ro_out[c->mlp_depth - 1];
    }
    if (!train) return;
    int64_t big = R1 * wmax;
    a->d_a = A(p, HB_F32, big, "cabs.d_a");
    a->d_b = A(p, HB_F32, big, "cabs.d_b");
    a->d_c = A(p, HB_F32, big, "cabs.d_c");
    a->d_e = A(p, HB_F32, big, "cabs.d_e");
    a->d_sc = A(p, HB_F32, big, "cabs.d_sc");
    a->d_s = A(p, HB_F32, Ni * wmax, "cabs.d_s");
    a->d_u = A(p, HB_F32, Ni * wmax, "cabs.d_u");
    a->d_z = A(p, HB_F32, Ni * wmax, "cabs.d_z");
    a->d_za = A(p, HB_F32, Ni * wmax, "cabs.d_za");
    a->d_ro = A(p, HB_F32, (R2 + eos) * D, "cabs.d_ro");
    a->d_ro2 = A(p, HB_F32, (R2 + eos) * D, "cabs.d_ro2");
    a->d_x0 = A(p, HB_F32, R1 * cv, "cabs.d_x0");
    if (c->prenorm) a->d_featn = A(p, HB_F32, R1 * cv, "cabs.d_featn");
}

static void plan_llama(planner *p, int64_t B, int64_t T, int64_t Ni, int train) {
    hb_model *m = p->m;
    const hb_llama_cfg *t = &m->cfg.text;
    llama_acts *a = &m->la;
    int64_t R = B * T, C = t->hidden_size, I = t->intermediate_size, V = t->vocab_size, L = t->num_hidden_layers;
    int64_t H = t->num_attention_heads;
    a->src = A(p, HB_I32, R, "lm.src");
    a->sel = A(p, HB_I32, R, "lm.sel");
    a->sel_tgt = A(p, HB_I32, R, "lm.sel_targets");
    a->xs = hb_xcalloc((size_t)L + 1, sizeof *a->xs);
    a->xmid = hb_xcalloc((size_t)L, sizeof *a->xmid);
    a->qkv = hb_xcalloc((size_t)L, sizeof *a->qkv);
    a->att = hb_xcalloc((size_t)L, sizeof *a->att);
    a->lse = hb_xcalloc((size_t)L, sizeof *a->lse);
    a->ab = hb_xcalloc((size_t)L, sizeof *a->ab);
    a->rstd1 = hb_xcalloc((size_t)L, sizeof *a->rstd1);
    a->rstd2 = hb_xcalloc((size_t)L, sizeof *a->rstd2);
    for (int64_t l = 0; l <= L; l++) {
        /* without a backward every layer reuses one set (x_out may alias x_in in the fused residual norms) */
        int fresh = train || l == 0;
        a->xs[l] = fresh ? A(p, HB_F32, R * C, "lm.x") : a->xs[0];
        if (l == L) break;
        a->xmid[l] = train ? A(p, HB_F32, R * C, "lm.xmid") : a->xs[0];
        a->qkv[l] = fresh ? A(p, HB_F32, R * 3 * C, "lm.qkv") : a->qkv[0];
        a->att[l] = fresh ? A(p, HB_F32, R * C, "lm.att") : a->att[0];
        a->lse[l] = fresh ? A(p, HB_F32, B * H * T, "lm.lse") : a->lse[0];
        a->ab[l] = fresh ? A(p, HB_F32, R * 2 * I, "lm.gate_up") : a->ab[0];
        a->rstd1[l] = fresh ? A(p, HB_F32, R, "lm.rstd1") : a->rstd1[0];
        a->rstd2[l] = fresh ? A(p, HB_F32, R, "lm.rstd2") : a->rstd2[0];
    }
    int64_t ch = m->lm_chunk;
    a->rstdf = A(p, HB_F32, R, "lm.rstd_final");
    a->h = A(p, HB_F32, R * C, "lm.h");
    a->m = A(p, HB_F32, R * I, "lm.mlp");
    a->tmp = A(p, HB_F32, R * C, "lm.tmp");
    a->hf = A(p, HB_F32, R * C, "lm.h_final");
    a->hsel = A(p, HB_F32, ch * C, "lm.h_sel");
    a->logits = A(p, HB_F32, ch * V, "lm.logits");
    a->losses = A(p, HB_F32, R, "lm.losses");
    a->loss_sum = A(p, HB_F32, 1, "lm.loss_sum");
    if (!train) return;
    a->dx = A(p, HB_F32, R * C, "lm.d_x");
    a->dh = A(p, HB_F32, R * C, "lm.d_h");
    a->datt = A(p, HB_F32, R * C, "lm.d_att");
    a->dm = A(p, HB_F32, R * I, "lm.d_mlp");
    a->dab = A(p, HB_F32, R * 2 * I, "lm.d_gate_up");
    a->dqkv = A(p, HB_F32, R * 3 * C, "lm.d_qkv");
    a->dhsel = A(p, HB_F32, ch * C, "lm.d_h_sel");
    a->dlogits = m->opts.all_logits ? A(p, HB_F32, ch * V, "lm.d_logits") : a->logits;
    a->dvis = A(p, HB_F32, Ni * m->nvis * C, "lm.d_visual");
}

int hb_model_plan_acts(hb_model *m, hb_err *err) {
    planner p = {m, 0, err};
    const hb_model_limits *lim = &m->opts.limits;
    int train = m->trained != 0;
    int64_t Ni = lim->max_images;
    if (Ni > 0) {
        plan_vit(&p, Ni);
        plan_cabs(&p, Ni, train);
    }
    plan_llama(&p, lim->max_batch, lim->max_seq, Ni, train);
    if (p.rc) return p.rc;
    int rc = hb_ops_arena_commit(m->a_acts, err);
    if (rc) return rc;
    /* constant index maps (prefix property: a smaller micro-batch uses the first entries) */
    if (Ni > 0) {
        int64_t np = m->npatch, n = Ni * np;
        int32_t *idx = hb_xmalloc((size_t)(n > Ni * m->nvis ? n : Ni * m->nvis) * sizeof *idx);
        for (int64_t i = 0; i < n; i++) idx[i] = (int32_t)((i / np) * (np + 1) + 1 + i % np);
        hb_ops_upload(m->ops, &m->ca.idx_feat, 0, idx, HB_I32, n);
        if (m->cfg.proj.num_eos_tokens) {
            int64_t M = m->cfg.proj.num_query_tokens, nv = m->nvis;
            for (int64_t i = 0; i < Ni * nv; i++) {
                int64_t img = i / nv, t = i % nv;
                idx[i] = (int32_t)(t < M ? img * M + t : Ni * M + (t - M));
            }
            hb_ops_upload(m->ops, &m->ca.idx_vis, 0, idx, HB_I32, Ni * nv);
        }
        free(idx);
        const hb_clip_cfg *v = &m->cfg.vision;
        if ((rc = hb_ops_attn_prepare(m->ops, Ni, np + 1, v->num_attention_heads,
                                      v->hidden_size / v->num_attention_heads, 0, err)))
            return rc;
    }
    const hb_llama_cfg *t = &m->cfg.text;
    return hb_ops_attn_prepare(m->ops, lim->max_batch, lim->max_seq, t->num_attention_heads,
                               t->hidden_size / t->num_attention_heads, 1, err);
}

int hb_model_new(hb_ops *ops, const hb_model_cfg *cfg, const hb_model_opts *opts, hb_model **out, hb_err *err) {
    *out = NULL;
    int rc = hb_config_check(cfg, "model config", err);
    if (rc) return rc;
    const hb_model_limits *lim = &opts->limits;
    if (lim->max_images < 0 || lim->max_batch < 1 || lim->max_seq < 2)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS,
                          "model limits: need images >= 0, batch >= 1 and sequence length >= 2 (got %lld, %lld, %lld)",
                          (long long)lim->max_images, (long long)lim->max_batch, (long long)lim->max_seq);
    if (lim->max_seq > cfg->text.max_position_embeddings)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS,
                          "sequence length %lld exceeds the LLM's max_position_embeddings %d",
                          (long long)lim->max_seq, cfg->text.max_position_embeddings);
    hb_model *m = hb_xcalloc(1, sizeof *m);
    m->ops = ops;
    m->cfg = *cfg;
    m->opts = *opts;
    m->trained = hb_stage_groups(opts->stage);
    hb_arena_init(&m->names, 0);
    m->grid = hb_config_grid(&cfg->vision);
    m->npatch = m->grid * m->grid;
    m->mgrid = (int)lround(sqrt((double)cfg->proj.num_query_tokens));
    m->nvis = hb_config_visual_tokens(cfg);
    m->vit_layers = hb_config_vit_layers(cfg);
    m->se_ch[0] = (int)nearbyint(cfg->proj.encoder_hidden_size * 0.25);
    m->se_ch[1] = (int)nearbyint(cfg->proj.hidden_size * 0.25);
    int64_t R = lim->max_batch * lim->max_seq;
    int64_t chunk = opts->head_chunk > 0 ? opts->head_chunk : 1024;
    m->lm_chunk = opts->all_logits ? R : (R < chunk ? R : chunk);
    hb_model_build_params(m, err);

    hb_dtype pdt = opts->param_dtype;
    m->a_params = hb_ops_arena_new(ops, "params", 0, err);
    m->a_grads = m->trained ? hb_ops_arena_new(ops, "grads", 0, err) : NULL;
    m->a_acts = hb_ops_arena_new(ops, "acts", 0, err);
    if (!m->a_params || !m->a_acts || (m->trained && !m->a_grads)) {
        hb_model_free(m);
        return err ? err->code : HB_EINTERNAL;
    }
    static const char *GN[3] = {"vision_model", "abstractor", "language_model"};
    for (int g = 0; g < 3 && !rc; g++) {
        if (!m->gn[g]) continue;
        rc = hb_ops_alloc(m->a_params, &m->gw[g], pdt, m->gn[g], GN[g], err);
        if (!rc && (m->trained & (1u << g))) rc = hb_ops_alloc(m->a_grads, &m->gg[g], HB_F32, m->gn[g], GN[g], err);
    }
    if (!rc) rc = hb_ops_arena_commit(m->a_params, err);
    if (!rc && m->a_grads) rc = hb_ops_arena_commit(m->a_grads, err);
    if (!rc) {
        hb_model_bind_views(m);
        rc = hb_model_plan_acts(m, err);
    }
    if (!rc) rc = hb_ops_sync(ops, err);
    if (rc) {
        hb_model_free(m);
        return rc;
    }
    m->h_src = hb_xmalloc((size_t)R * sizeof(int32_t));
    m->h_sel = hb_xmalloc((size_t)R * sizeof(int32_t));
    m->h_sel_tgt = hb_xmalloc((size_t)R * sizeof(int32_t));
    *out = m;
    return 0;
}

void hb_model_free(hb_model *m) {
    if (!m) return;
    /* arenas belong to the ops context; they are freed with it (hb_ops_close) */
    free(m->params);
    hb_arena_free(&m->names);
    free(m->vit.layers);
    for (int g = 0; g < 2; g++) {
        cabs_t *c = g ? &m->cabs_g : &m->cabs;
        free(c->s1);
        free(c->s2);
        free(c->ro_w);
        free(c->ro_b);
        llama_t *t = g ? &m->lm_g : &m->lm;
        free(t->layers);
    }
    free(m->ca.s1);
    free(m->ca.s2);
    free(m->ca.ro_out);
    free(m->ca.ro_act);
    llama_acts *a = &m->la;
    free(a->xs);
    free(a->xmid);
    free(a->qkv);
    free(a->att);
    free(a->lse);
    free(a->ab);
    free(a->rstd1);
    free(a->rstd2);
    free(m->h_src);
    free(m->h_sel);
    free(m->h_sel_tgt);
    free(m);
}

const hb_model_cfg *hb_model_config(const hb_model *m) { return &m->cfg; }
hb_ops *hb_model_ops(const hb_model *m) { return m->ops; }
hb_stage hb_model_stage(const hb_model *m) { return m->opts.stage; }

const hb_param *hb_model_params(const hb_model *m, int *n) {
    *n = m->nparams;
    return m->params;
}

void hb_model_group(const hb_model *m, hb_group g, hb_tensor *weights, hb_tensor *grads) {
    int gi = hb_group_index(g);
    if (weights) *weights = m->gw[gi];
    if (grads) *grads = m->gg[gi];
}

void hb_model_zero_grads(hb_model *m) {
    for (int g = 0; g < 3; g++)
        if (m->gg[g].arena) hb_ops_zero(m->ops, &m->gg[g]);
}
