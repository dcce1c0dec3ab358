/* model/weights.c — binding safetensors to the parameter table: name mapping per source (Honeybee checkpoint,
 * CLIP, LLaMA), the check that lists missing, mis-shaped and unexpected tensors before any data moves, and the
 * upload.
 *
 * Dependencies:
 *   model/model_internal.h  hb_model, hb_param
 *   model/safetensors.h     hb_st (mapped tensors), hb_st_read_f32
 *   kernels/ops.h           hb_ops_upload
 *   core/core.h             hb_err, hb_buf, hb_progress
 */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

#define OUR_VISION "vision_model.vision_model."

typedef struct {
    const char *ours;   /* prefix of our names that is replaced */
    const char *theirs; /* by this prefix in the file */
} name_map;

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }
static int ends(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* The prefix rewrite for a source, decided by which spelling of the CLIP tower the file uses. */
static name_map source_map(const hb_st *st, hb_weight_src src) {
    name_map nm = {"", ""};
    int nested = hb_st_find(st, OUR_VISION "embeddings.class_embedding") != NULL;
    int one = hb_st_find(st, "vision_model.embeddings.class_embedding") != NULL;
    switch (src) {
    case HB_SRC_HONEYBEE:
        if (!nested && one) nm = (name_map){OUR_VISION, "vision_model."}; /* saved by transformers >= 5 */
        break;
    case HB_SRC_CLIP: nm = (name_map){OUR_VISION, one ? "vision_model." : ""}; break;
    case HB_SRC_LLAMA: nm = (name_map){"language_model.", ""}; break;
    }
    return nm;
}

static void file_name(const hb_param *p, name_map nm, char *buf, size_t n) {
    if (*nm.ours && starts(p->name, nm.ours)) snprintf(buf, n, "%s%s", nm.theirs, p->name + strlen(nm.ours));
    else snprintf(buf, n, "%s", p->name);
}

/* Tensors no source needs and every source may carry. */
static int ignorable(const char *name, hb_weight_src src) {
    if (ends(name, ".position_ids") || ends(name, "rotary_emb.inv_freq")) return 1;
    if (src == HB_SRC_CLIP)
        return starts(name, "text_model.") || starts(name, "visual_projection.") ||
               starts(name, "text_projection.") || !strcmp(name, "logit_scale");
    return 0;
}

/* Does an unmatched file tensor fall in the namespace of what is being loaded? */
static int in_scope(const char *name, hb_weight_src src, unsigned groups) {
    if (src != HB_SRC_HONEYBEE) return 1;
    if (starts(name, "vision_model.")) return (groups & HB_GROUP_VISION) != 0;
    if (starts(name, "abstractor.")) return (groups & HB_GROUP_PROJ) != 0;
    if (starts(name, "language_model.")) return (groups & HB_GROUP_LM) != 0;
    return 1;
}

static int is_float(hb_st_dtype d) { return d == HB_ST_F32 || d == HB_ST_F16 || d == HB_ST_BF16 || d == HB_ST_F64; }

static int same_shape(const hb_param *p, const hb_st_tensor *t) {
    if (p->ndim != t->ndim) return 0;
    for (int i = 0; i < p->ndim; i++)
        if (p->shape[i] != t->shape[i]) return 0;
    return 1;
}

/* abstractor.pos_emb of a legacy checkpoint: [1, N+1, C], row 0 was the CLS slot (spec-model.md §3.8). */
static int legacy_pos(const hb_param *p, const hb_st_tensor *t) {
    return !strcmp(p->name, "abstractor.pos_emb") && t->ndim == 3 && p->ndim == 3 && t->shape[0] == 1 &&
           t->shape[1] == p->shape[1] + 1 && t->shape[2] == p->shape[2];
}

typedef struct {
    hb_buf missing, shape, extra;
    int n_missing, n_shape, n_extra;
} report;

static void note(hb_buf *b, int *n, const char *fmt, const char *a, const char *c, const char *d) {
    if (*n < 6) hb_buf_printf(b, fmt, *n ? ", " : "", a, c, d);
    (*n)++;
}

static int check(const hb_param *params, int nparams, const hb_st *st, hb_weight_src src, unsigned groups,
                 hb_buf *listing, hb_err *err) {
    name_map nm = source_map(st, src);
    size_t nt = hb_st_count(st);
    uint8_t *matched = hb_xcalloc(nt + 1, 1);
    report r;
    memset(&r, 0, sizeof r);
    char fn[512], s1[128], s2[128];
    for (int i = 0; i < nparams; i++) {
        const hb_param *p = &params[i];
        if (!(p->group & groups)) continue;
        file_name(p, nm, fn, sizeof fn);
        const hb_st_tensor *t = hb_st_find(st, fn);
        if (!t) {
            hb_st_shape_str(p->ndim, p->shape, s2, sizeof s2);
            note(&r.missing, &r.n_missing, "%s%s %s%s", fn, s2, "");
            if (listing) hb_buf_printf(listing, "missing     %s %s\n", fn, s2);
            continue;
        }
        matched[t - hb_st_at(st, 0)] = 1;
        if ((!same_shape(p, t) && !legacy_pos(p, t)) || !is_float(t->dtype)) {
            hb_st_shape_str(t->ndim, t->shape, s1, sizeof s1);
            hb_st_shape_str(p->ndim, p->shape, s2, sizeof s2);
            char what[300];
            snprintf(what, sizeof what, " is %s %s, the config needs", hb_st_dtype_name(t->dtype), s1);
            note(&r.shape, &r.n_shape, "%s%s%s %s", fn, what, s2);
            if (listing) hb_buf_printf(listing, "wrong shape %s %s %s (expected %s)\n", fn, hb_st_dtype_name(t->dtype), s1, s2);
        }
    }
    for (size_t i = 0; i < nt; i++) {
        const hb_st_tensor *t = hb_st_at(st, i);
        if (matched[i] || ignorable(t->name, src) || !in_scope(t->name, src, groups)) continue;
        hb_st_shape_str(t->ndim, t->shape, s1, sizeof s1);
        note(&r.extra, &r.n_extra, "%s%s %s%s", t->name, s1, "");
        if (listing) hb_buf_printf(listing, "unexpected  %s %s\n", t->name, s1);
    }
    free(matched);
    int rc = 0;
    if (r.n_missing || r.n_shape || r.n_extra) {
        hb_buf msg = {0};
        hb_buf_printf(&msg, "the weights do not match the model config:");
        if (r.n_missing)
            hb_buf_printf(&msg, " %d missing (%s%s);", r.n_missing, hb_buf_cstr(&r.missing), r.n_missing > 6 ? ", ..." : "");
        if (r.n_shape)
            hb_buf_printf(&msg, " %d with the wrong shape or dtype (%s%s);", r.n_shape, hb_buf_cstr(&r.shape),
                          r.n_shape > 6 ? ", ..." : "");
        if (r.n_extra)
            hb_buf_printf(&msg, " %d unexpected (%s%s);", r.n_extra, hb_buf_cstr(&r.extra), r.n_extra > 6 ? ", ..." : "");
        msg.len--; /* drop the last ';' */
        rc = hb_err_set(err, HB_EFORMAT, hb_st_path(st), HB_NOPOS, HB_NOPOS, "%s", hb_buf_cstr(&msg));
        hb_buf_free(&msg);
    }
    hb_buf_free(&r.missing);
    hb_buf_free(&r.shape);
    hb_buf_free(&r.extra);
    return rc;
}

int hb_model_check_weights(const hb_model *m, const hb_st *st, hb_weight_src src, unsigned groups, hb_buf *listing,
                           hb_err *err) {
    return check(m->params, m->nparams, st, src, groups, listing, err);
}

int hb_config_check_weights(const hb_model_cfg *cfg, const hb_st *st, hb_weight_src src, unsigned groups,
                            hb_buf *listing, hb_err *err) {
    int n;
    hb_param *p = hb_config_params(cfg, &n);
    int rc = check(p, n, st, src, groups, listing, err);
    hb_params_free(p, n);
    return rc;
}

static int upload_one(hb_model *m, const hb_param *p, const hb_st *st, const hb_st_tensor *t, hb_err *err) {
    int64_t skip = legacy_pos(p, t) ? p->shape[2] : 0; /* legacy pos_emb: drop row 0 */
    size_t es = hb_st_dtype_size(t->dtype);
    const uint8_t *src = (const uint8_t *)t->data + skip * (int64_t)es;
    if (t->dtype == HB_ST_F64) {
        float *tmp = hb_xmalloc((size_t)t->numel * sizeof *tmp);
        int rc = hb_st_read_f32(st, t, tmp, t->numel, err);
        if (!rc) hb_ops_upload(m->ops, &p->w, 0, tmp + skip, HB_F32, p->numel);
        free(tmp);
        return rc;
    }
    hb_dtype dt = t->dtype == HB_ST_F32 ? HB_F32 : t->dtype == HB_ST_BF16 ? HB_BF16 : HB_F16;
    hb_ops_upload(m->ops, &p->w, 0, src, dt, p->numel);
    return 0;
}

int hb_model_load_weights(hb_model *m, const hb_st *st, hb_weight_src src, unsigned groups, hb_err *err) {
    int rc = hb_model_check_weights(m, st, src, groups, NULL, err);
    if (rc) return rc;
    name_map nm = source_map(st, src);
    uint64_t total = 0;
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].group & groups) total += (uint64_t)m->params[i].numel;
    hb_progress *pg = hb_progress_start("loading weights", total, "params");
    char fn[512];
    for (int i = 0; i < m->nparams && !rc; i++) {
        const hb_param *p = &m->params[i];
        if (!(p->group & groups)) continue;
        file_name(p, nm, fn, sizeof fn);
        rc = upload_one(m, p, st, hb_st_find(st, fn), err);
        hb_progress_add(pg, (uint64_t)p->numel);
    }
    hb_progress_done(pg);
    if (!rc) rc = hb_ops_sync(m->ops, err);
    return rc;
}

static int same_cfg(const hb_model_cfg *a, const hb_model_cfg *b) {
    const hb_clip_cfg *va = &a->vision, *vb = &b->vision;
    const hb_proj_cfg *pa = &a->proj, *pb = &b->proj;
    const hb_llama_cfg *ta = &a->text, *tb = &b->text;
    return va->hidden_size == vb->hidden_size && va->intermediate_size == vb->intermediate_size &&
           va->num_attention_heads == vb->num_attention_heads && va->num_hidden_layers == vb->num_hidden_layers &&
           va->patch_size == vb->patch_size && va->image_size == vb->image_size && pa->depth == pb->depth &&
           pa->mlp_depth == pb->mlp_depth && pa->hidden_size == pb->hidden_size &&
           pa->num_query_tokens == pb->num_query_tokens && pa->pos_emb == pb->pos_emb && pa->prenorm == pb->prenorm &&
           pa->feature_layer_index == pb->feature_layer_index && pa->num_eos_tokens == pb->num_eos_tokens &&
           ta->vocab_size == tb->vocab_size && ta->hidden_size == tb->hidden_size &&
           ta->intermediate_size == tb->intermediate_size && ta->num_hidden_layers == tb->num_hidden_layers &&
           ta->num_attention_heads == tb->num_attention_heads;
}

int hb_model_load_checkpoint(hb_model *m, const char *dir, hb_err *err) {
    hb_model_cfg cfg;
    int rc = hb_config_load(dir, &cfg, err);
    if (rc) return rc;
    if (!same_cfg(&cfg, &m->cfg))
        return hb_err_set(err, HB_EINVAL, dir, HB_NOPOS, HB_NOPOS,
                          "the checkpoint's config.json describes a different model than the one being loaded into");
    hb_st *st;
    if ((rc = hb_st_open(dir, &st, err))) return rc;
    rc = hb_model_load_weights(m, st, HB_SRC_HONEYBEE, HB_GROUP_ALL, err);
    hb_st_close(st);
    return rc;
}
