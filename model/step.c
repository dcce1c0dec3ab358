/* model/step.c — one micro-batch: check the batch, build the splice map and the shifted targets on the host,
 * run CLIP -> C-Abstractor -> LLaMA -> masked LM loss, and (when the stage trains something) the backward.
 *
 * Dependencies:
 *   model/model_internal.h  hb_model and the module entry points (vit.c, cabs.c, llama.c)
 *   kernels/ops.h           upload/download, sync
 *   core/core.h             hb_err
 *
 * Splice (spec-model.md §1.2, §10.1 #14): placeholders are ids of -1; they are consumed in order over the batch
 * (sequence by sequence, position by position), each image taking the next M + num_eos_tokens of them, so every
 * maximal run of -1 must hold a whole number of images and the total must equal images × (M + eos). Placeholder
 * rows read the visual tokens instead of the embedding table (and send it no gradient).
 * Loss (§1.6): target of position t is labels[t+1] (the last position has none); -100 is ignored; the loss is the
 * mean over the supervised targets of this micro-batch; gradients are scaled by loss_scale / n_supervised. */
#include <string.h>

#include "model/model_internal.h"

int hb_model_check_batch(const hb_model *m, const hb_batch *b, hb_err *err) {
    const hb_model_limits *lim = &m->opts.limits;
    int64_t V = m->cfg.text.vocab_size, nvis = m->nvis, B = b->batch, T = b->seq;
#define BAD(...) return hb_err_set(err, HB_EINVAL, "batch", HB_NOPOS, HB_NOPOS, __VA_ARGS__)
    if (B < 1 || T < 1) BAD("empty batch (%lld sequences of %lld tokens)", (long long)B, (long long)T);
    if (B > lim->max_batch || T > lim->max_seq)
        BAD("batch of %lld x %lld tokens exceeds the planned %lld x %lld", (long long)B, (long long)T,
            (long long)lim->max_batch, (long long)lim->max_seq);
    if (b->n_images < 0 || b->n_images > lim->max_images)
        BAD("%lld images exceed the planned %lld per micro-batch", (long long)b->n_images, (long long)lim->max_images);
    if (b->n_images && !b->pixels) BAD("%lld images but no pixel values", (long long)b->n_images);
    int64_t placeholders = 0;
    for (int64_t s = 0; s < B; s++) {
        int64_t run = 0;
        for (int64_t t = 0; t <= T; t++) {
            int32_t id = t < T ? b->input_ids[s * T + t] : 0;
            if (t < T) {
                int32_t lab = b->labels[s * T + t];
                if (id < -1 || id >= V)
                    return hb_err_set(err, HB_EINVAL, "batch", s, HB_NOPOS,
                                      "input_ids[%lld][%lld] = %d is outside the vocabulary [0, %lld) (or -1 for an "
                                      "image placeholder)", (long long)s, (long long)t, id, (long long)V);
                if (lab != -100 && (lab < 0 || lab >= V))
                    return hb_err_set(err, HB_EINVAL, "batch", s, HB_NOPOS,
                                      "labels[%lld][%lld] = %d is neither -100 nor a token id below %lld", (long long)s,
                                      (long long)t, lab, (long long)V);
            }
            if (id == -1) {
                run++;
                continue;
            }
            if (run % nvis)
                return hb_err_set(err, HB_EINVAL, "batch", s, HB_NOPOS,
                                  "sequence %lld: a run of %lld image placeholders ending at position %lld is not a "
                                  "multiple of the %lld visual tokens per image", (long long)s, (long long)run,
                                  (long long)t - 1, (long long)nvis);
            placeholders += run;
            run = 0;
        }
    }
    if (placeholders != b->n_images * nvis)
        BAD("%lld image placeholders for %lld images (each image takes %lld)", (long long)placeholders,
            (long long)b->n_images, (long long)nvis);
#undef BAD
    return 0;
}

/* Host maps: embedding sources, shifted targets, selected rows for the head. Returns n_supervised. */
static int64_t build_maps(hb_model *m, const hb_batch *b) {
    int64_t B = b->batch, T = b->seq, R = B * T, p = 0, nsup = 0, nsel = 0;
    for (int64_t r = 0; r < R; r++) {
        int32_t id = b->input_ids[r];
        m->h_src[r] = id >= 0 ? id : (int32_t)(-1 - p++);
        int64_t t = r % T;
        int32_t tg = t + 1 < T ? b->labels[r + 1] : -100;
        nsup += tg >= 0;
        if (m->opts.all_logits || tg >= 0) {
            m->h_sel[nsel] = (int32_t)r;
            m->h_sel_tgt[nsel++] = tg;
        }
    }
    m->cur_sel = nsel;
    return nsup;
}

static int run(hb_model *m, const hb_batch *b, float loss_scale, int backward, hb_step_result *res, hb_err *err) {
    int rc = hb_model_check_batch(m, b, err);
    if (rc) return rc;
    hb_ops *o = m->ops;
    const hb_clip_cfg *v = &m->cfg.vision;
    int64_t B = b->batch, T = b->seq, R = B * T, Ni = b->n_images;
    int64_t nsup = build_maps(m, b);
    m->cur_images = Ni;
    m->cur_rows = R;
    m->have_logits = 0;
    memset(res, 0, sizeof *res);
    res->n_supervised = nsup;

    hb_ops_upload(o, &m->la.src, 0, m->h_src, HB_I32, R);
    if (m->cur_sel) {
        hb_ops_upload(o, &m->la.sel, 0, m->h_sel, HB_I32, m->cur_sel);
        hb_ops_upload(o, &m->la.sel_tgt, 0, m->h_sel_tgt, HB_I32, m->cur_sel);
    }
    if (Ni) {
        hb_ops_upload(o, &m->va.pixels, 0, b->pixels, HB_F32, Ni * 3 * (int64_t)v->image_size * v->image_size);
        hb_vit_forward(m, Ni);
        hb_cabs_forward(m, Ni);
    }
    hb_llama_forward(m, B, T);
    backward = backward && nsup > 0;
    if (m->cur_sel) hb_llama_head(m, B, T, backward, nsup ? loss_scale / (float)nsup : 0.0f);
    m->have_logits = m->opts.all_logits;
    if (backward) {
        hb_llama_backward(m, B, T);
        if (Ni) hb_cabs_backward(m, Ni);
    }
    if (m->cur_sel) {
        float sum = 0;
        if ((rc = hb_ops_download(o, &sum, HB_F32, &m->la.loss_sum, 0, 1, err))) return rc;
        res->loss = nsup ? (double)sum / (double)nsup : 0.0;
    }
    return hb_ops_sync(o, err);
}

int hb_model_step(hb_model *m, const hb_batch *b, float loss_scale, hb_step_result *res, hb_err *err) {
    return run(m, b, loss_scale, m->trained != 0, res, err);
}

int hb_model_forward(hb_model *m, const hb_batch *b, hb_step_result *res, hb_err *err) {
    return run(m, b, 0.0f, 0, res, err);
}

int hb_model_get_logits(hb_model *m, float *dst, hb_err *err) {
    if (!m->have_logits)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS,
                          "logits are kept only by a model created with all_logits after a step");
    return hb_ops_download(m->ops, dst, HB_F32, &m->la.logits, 0, m->cur_rows * m->cfg.text.vocab_size, err);
}

int hb_model_get_features(hb_model *m, float *dst, hb_err *err) {
    int64_t Np = m->npatch, C = m->cfg.vision.hidden_size;
    for (int64_t i = 0; i < m->cur_images; i++) {
        int rc = hb_ops_download(m->ops, dst + i * Np * C, HB_F32, &m->va.x, (i * (Np + 1) + 1) * C, Np * C, err);
        if (rc) return rc;
    }
    return 0;
}

int hb_model_get_visual(hb_model *m, float *dst, hb_err *err) {
    if (!m->cur_images) return 0;
    return hb_ops_download(m->ops, dst, HB_F32, &m->ca.vis, 0,
                           m->cur_images * m->nvis * (int64_t)m->cfg.proj.output_hidden_size, err);
}
