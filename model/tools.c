/* model/tools.c — `hb-train init` and `hb-train debug` as library calls, and the batch-file reader.
 *
 * Dependencies:
 *   model/tools.h        the API and the file contracts
 *   model/model.h        hb_model_new / load / init / step / save
 *   model/safetensors.h  batch input and debug output files
 *   model/config.h       presets and config.json files
 *   kernels/ops.h        hb_ops_download (gradients)
 *   core/core.h          hb_err, hb_buf, hb_path_*
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/tools.h"

/* ---- batch files ---- */
static int read_ints(const hb_st *st, const char *name, int64_t B, int64_t T, int32_t **out, hb_err *err) {
    const hb_st_tensor *t = hb_st_find(st, name);
    if (!t) return hb_err_set(err, HB_EFORMAT, hb_st_path(st), HB_NOPOS, HB_NOPOS, "no tensor '%s'", name);
    if (t->ndim != 2 || (B >= 0 && (t->shape[0] != B || t->shape[1] != T))) {
        char s[64];
        return hb_err_set(err, HB_EFORMAT, hb_st_path(st), HB_NOPOS, HB_NOPOS, "'%s' has shape %s; [B, T]%s expected",
                          name, hb_st_shape_str(t->ndim, t->shape, s, sizeof s), B >= 0 ? " like input_ids" : "");
    }
    *out = hb_xmalloc((size_t)(t->numel ? t->numel : 1) * sizeof **out);
    return hb_st_read_i32(st, t, *out, t->numel, err);
}

int hb_batch_file_load(const char *path, const hb_model_cfg *cfg, hb_batch_file *bf, hb_err *err) {
    memset(bf, 0, sizeof *bf);
    hb_st *st;
    int rc = hb_st_open(path, &st, err);
    if (rc) return rc;
    const hb_st_tensor *ids = hb_st_find(st, "input_ids");
    if (!(rc = read_ints(st, "input_ids", -1, -1, &bf->ids, err))) {
        bf->b.batch = ids->shape[0];
        bf->b.seq = ids->shape[1];
        rc = read_ints(st, "labels", bf->b.batch, bf->b.seq, &bf->labels, err);
    }
    const hb_st_tensor *px = hb_st_find(st, "pixel_values");
    if (!rc && px && px->numel) {
        int64_t S = cfg->vision.image_size;
        if (px->ndim != 4 || px->shape[1] != 3 || px->shape[2] != S || px->shape[3] != S) {
            char s[64];
            rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS,
                            "pixel_values has shape %s; [N, 3, %lld, %lld] expected (the config's image_size)",
                            hb_st_shape_str(px->ndim, px->shape, s, sizeof s), (long long)S, (long long)S);
        } else {
            bf->pixels = hb_xmalloc((size_t)px->numel * sizeof *bf->pixels);
            rc = hb_st_read_f32(st, px, bf->pixels, px->numel, err);
            bf->b.n_images = px->shape[0];
        }
    }
    hb_st_close(st);
    bf->b.pixels = bf->pixels;
    bf->b.input_ids = bf->ids;
    bf->b.labels = bf->labels;
    if (rc) hb_batch_file_free(bf);
    return rc;
}

void hb_batch_file_free(hb_batch_file *bf) {
    free(bf->pixels);
    free(bf->ids);
    free(bf->labels);
    memset(bf, 0, sizeof *bf);
}

/* ---- init ---- */
static char *config_dir(const char *path) {
    if (hb_path_is_dir(path)) return hb_xstrdup(path);
    const char *sl = strrchr(path, '/');
    if (!sl) return hb_xstrdup(".");
    char *d = hb_xstrdup(path);
    d[sl - path] = 0;
    return d;
}

static int open_part(const char *path, hb_st **st, hb_err *err) {
    int rc = hb_st_open(path, st, err);
    if (rc) hb_err_prefix(err, "while opening %s", path);
    return rc;
}

int hb_train_init(hb_ops *ops, const hb_init_opts *o, hb_buf *summary, hb_err *err) {
    hb_model_cfg cfg;
    int rc = o->preset ? hb_config_preset(o->preset, &cfg, err) : hb_config_load(o->config, &cfg, err);
    if (rc) return rc;
    if (o->clip) { /* the pretrained CLIP decides the vision tower (as HoneybeeConfig does) */
        char *d = config_dir(o->clip);
        hb_clip_cfg v;
        rc = hb_config_load_clip(d, &v, err);
        free(d);
        if (rc) return rc;
        memcpy(v.image_mean, cfg.vision.image_mean, sizeof v.image_mean);
        memcpy(v.image_std, cfg.vision.image_std, sizeof v.image_std);
        cfg.vision = v;
        cfg.proj.encoder_hidden_size = v.hidden_size;
    }
    if (o->llama) {
        char *d = config_dir(o->llama);
        hb_llama_cfg t;
        rc = hb_config_load_llama(d, &t, err);
        free(d);
        if (rc) return rc;
        snprintf(t.name, sizeof t.name, "%s", o->llama);
        cfg.text = t;
        cfg.proj.output_hidden_size = t.hidden_size;
    }
    if ((rc = hb_config_check(&cfg, o->preset ? o->preset : o->config, err))) return rc;
    /* open the pretrained parts before allocating anything: a mismatch is reported from the headers alone */
    hb_st *clip = NULL, *llama = NULL;
    if (o->clip && (rc = open_part(o->clip, &clip, err))) return rc;
    if (o->llama && (rc = open_part(o->llama, &llama, err))) {
        hb_st_close(clip);
        return rc;
    }
    if (clip) rc = hb_config_check_weights(&cfg, clip, HB_SRC_CLIP, HB_GROUP_VISION, NULL, err);
    if (!rc && llama) rc = hb_config_check_weights(&cfg, llama, HB_SRC_LLAMA, HB_GROUP_LM, NULL, err);
    hb_model_opts mo = {.stage = HB_STAGE_NONE, .limits = {0, 1, 2}, .param_dtype = HB_F32};
    hb_model *m = NULL;
    if (!rc) rc = hb_model_new(ops, &cfg, &mo, &m, err);
    unsigned rand = HB_GROUP_PROJ | (clip ? 0 : HB_GROUP_VISION) | (llama ? 0 : HB_GROUP_LM);
    if (!rc) rc = hb_model_init(m, o->seed, rand, err);
    if (!rc && clip) rc = hb_model_load_weights(m, clip, HB_SRC_CLIP, HB_GROUP_VISION, err);
    if (!rc && llama) rc = hb_model_load_weights(m, llama, HB_SRC_LLAMA, HB_GROUP_LM, err);
    if (!rc) rc = hb_model_save(m, o->out_dir, o->dtype, o->max_shard_bytes, err);
    if (!rc && summary) {
        char a[32], b[32], c[32];
        hb_buf_printf(summary, "wrote %s: vision %s params (%s), projector %s params (Honeybee init, seed %llu), "
                               "language model %s params (%s)\n",
                      o->out_dir, hb_fmt_count((uint64_t)hb_model_count(m, HB_GROUP_VISION), a, sizeof a),
                      clip ? "loaded" : "random", hb_fmt_count((uint64_t)hb_model_count(m, HB_GROUP_PROJ), b, sizeof b),
                      (unsigned long long)o->seed, hb_fmt_count((uint64_t)hb_model_count(m, HB_GROUP_LM), c, sizeof c),
                      llama ? "loaded" : "random");
    }
    hb_model_free(m);
    hb_st_close(clip);
    hb_st_close(llama);
    return rc;
}

/* ---- debug ---- */
int hb_train_debug(hb_ops *ops, const char *ckpt_dir, hb_stage stage, const char *batch_path, const char *out_path,
                   hb_buf *summary, hb_err *err) {
    hb_model_cfg cfg;
    int rc = hb_config_load(ckpt_dir, &cfg, err);
    if (rc) return rc;
    hb_batch_file bf;
    if ((rc = hb_batch_file_load(batch_path, &cfg, &bf, err))) return rc;
    hb_st *st;
    if ((rc = hb_st_open(ckpt_dir, &st, err))) {
        hb_batch_file_free(&bf);
        return rc;
    }
    hb_model_opts mo = {.stage = stage,
                        .limits = {bf.b.n_images, bf.b.batch, bf.b.seq},
                        .all_logits = 1,
                        .param_dtype = HB_F32};
    hb_model *m = NULL;
    rc = hb_config_check_weights(&cfg, st, HB_SRC_HONEYBEE, HB_GROUP_ALL, NULL, err);
    if (!rc) rc = hb_model_new(ops, &cfg, &mo, &m, err);
    if (!rc) rc = hb_model_check_batch(m, &bf.b, err);
    if (!rc) rc = hb_model_load_weights(m, st, HB_SRC_HONEYBEE, HB_GROUP_ALL, err);
    hb_st_close(st);
    hb_step_result res = {0};
    if (!rc) {
        hb_model_zero_grads(m);
        rc = hb_model_step(m, &bf.b, 1.0f, &res, err);
    }
    /* output: everything downloaded to host buffers, then one atomic safetensors write */
    hb_st_writer *w = hb_st_writer_new();
    float loss = (float)res.loss;
    int64_t N = bf.b.n_images, B = bf.b.batch, T = bf.b.seq, V = cfg.text.vocab_size;
    int64_t Np = hb_config_patches(&cfg.vision), nv = hb_config_visual_tokens(&cfg);
    int64_t sl[3] = {B, T, V}, sf[3] = {N, Np, cfg.vision.hidden_size}, sv[3] = {N, nv, cfg.text.hidden_size};
    float *logits = hb_xmalloc((size_t)(B * T * V) * sizeof(float));
    float *feat = hb_xmalloc((size_t)(N * Np * sf[2] + 1) * sizeof(float));
    float *vis = hb_xmalloc((size_t)(N * nv * sv[2] + 1) * sizeof(float));
    if (!rc) rc = hb_model_get_logits(m, logits, err);
    if (!rc) rc = hb_model_get_features(m, feat, err);
    if (!rc) rc = hb_model_get_visual(m, vis, err);
    if (!rc) rc = hb_st_writer_add(w, "loss", HB_ST_F32, 0, NULL, &loss, err);
    if (!rc) rc = hb_st_writer_add(w, "logits", HB_ST_F32, 3, sl, logits, err);
    if (!rc) rc = hb_st_writer_add(w, "features", HB_ST_F32, 3, sf, feat, err);
    if (!rc) rc = hb_st_writer_add(w, "visual_tokens", HB_ST_F32, 3, sv, vis, err);
    int np = 0;
    const hb_param *ps = m ? hb_model_params(m, &np) : NULL;
    float **grads = hb_xcalloc((size_t)np + 1, sizeof *grads);
    char name[600];
    for (int i = 0; i < np && !rc; i++) {
        if (!ps[i].trained) continue;
        grads[i] = hb_xmalloc((size_t)ps[i].numel * sizeof(float));
        rc = hb_ops_download(ops, grads[i], HB_F32, &ps[i].g, 0, ps[i].numel, err);
        snprintf(name, sizeof name, "grad.%s", ps[i].name);
        if (!rc) rc = hb_st_writer_add(w, name, HB_ST_F32, ps[i].ndim, ps[i].shape, grads[i], err);
    }
    if (!rc) rc = hb_st_writer_save(w, out_path, 0, err);
    if (!rc && summary)
        hb_buf_printf(summary, "stage %s: loss %.6f over %lld supervised tokens; wrote %s\n",
                      stage == HB_STAGE_PT ? "pt" : "ft", res.loss, (long long)res.n_supervised, out_path);
    for (int i = 0; i < np; i++) free(grads[i]);
    free(grads);
    free(logits);
    free(feat);
    free(vis);
    hb_st_writer_free(w);
    hb_model_free(m);
    hb_batch_file_free(&bf);
    return rc;
}

/* ---- bench ---- */
static double cpu_seconds(void) { /* CPU time of the whole process (every thread) */
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int hb_train_bench(hb_ops *ops, const hb_bench_opts *o, hb_bench_result *res, hb_err *err) {
    hb_model_cfg cfg;
    int rc = o->preset ? hb_config_preset(o->preset, &cfg, err) : hb_config_load(o->config, &cfg, err);
    if (rc) return rc;
    int64_t B = o->batch, T = o->seq, per = o->images_per_seq, nv = hb_config_visual_tokens(&cfg);
    int64_t N = B * per, S = cfg.vision.image_size, V = cfg.text.vocab_size;
    if (B < 1 || T < 2 || per < 0 || o->steps < 1 || 1 + per * nv >= T)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS,
                          "bench: need batch >= 1, steps >= 1 and room for %lld image tokens in %lld positions",
                          (long long)(per * nv), (long long)T);
    hb_model_opts mo = {.stage = o->stage, .limits = {N, B, T}, .param_dtype = HB_F32};
    hb_model *m = NULL;
    if ((rc = hb_model_new(ops, &cfg, &mo, &m, err))) return rc;
    if ((rc = hb_model_init(m, o->seed, HB_GROUP_ALL, err))) {
        hb_model_free(m);
        return rc;
    }
    float *px = hb_xmalloc((size_t)(N * 3 * S * S + 1) * sizeof *px);
    int32_t *ids = hb_xmalloc((size_t)(B * T) * sizeof *ids), *lab = hb_xmalloc((size_t)(B * T) * sizeof *lab);
    hb_rng r = hb_rng_for(o->seed, "bench", "batch");
    for (int64_t i = 0; i < N * 3 * S * S; i++) px[i] = (float)(hb_rng_uniform(&r) * 2 - 1);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            int64_t k = b * T + t;
            int img = t >= 1 && t < 1 + per * nv;
            ids[k] = t == 0 ? 1 : img ? -1 : (int32_t)(3 + hb_rng_below(&r, (uint64_t)(V - 3)));
            lab[k] = t == 0 || img || t % 2 ? -100 : ids[k];
        }
    hb_batch batch = {N, px, B, T, ids, lab};
    hb_step_result sr;
    hb_model_zero_grads(m);
    rc = hb_model_step(m, &batch, 1.0f, &sr, err); /* warm-up */
    double dt = 0, best = 1e300, best_cpu = 1e300;
    for (int s = 0; s < o->steps && !rc; s++) {
        double t0 = hb_now(), c0 = cpu_seconds();
        rc = hb_model_step(m, &batch, 1.0f, &sr, err);
        double d = hb_now() - t0, c = cpu_seconds() - c0;
        dt += d;
        if (d < best) best = d;
        if (c < best_cpu) best_cpu = c;
    }
    if (!rc) {
        res->tokens_per_step = B * T;
        res->ms_per_step = 1e3 * dt / o->steps;
        res->tokens_per_s = (double)(B * T) * o->steps / dt;
        res->best_tokens_per_s = (double)(B * T) / best;
        res->tokens_per_cpu_s = (double)(B * T) / best_cpu;
        res->loss = sr.loss;
    }
    free(px), free(ids), free(lab);
    hb_model_free(m);
    return rc;
}
