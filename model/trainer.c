/* model/trainer.c — `hb-train train`: set-up (model, optimizer, loader, resume), the step loop (micro-batches,
 * gradient accumulation, grad norm and clipping, AdamW, schedule), and the stop conditions (docs/training.md).
 *
 * Dependencies:
 *   model/trainer_internal.h  config, optimizer state, checkpoints, logs
 *   model/loader.h            micro-batches in plan order
 *   model/model.h             hb_model_step and the parameter table
 *   model/tools.h             hb_train_init (model.init)
 *   model/config.h            config.json files
 *   mix/mix.h                 the plan's batch size and length (before the loader opens)
 *   kernels/ops.h             the backend, grad norm, AdamW
 *   core/core.h               hb_err, hb_now, hb_buf
 *
 * Gradient accumulation (docs/training.md §Batches): every micro-batch adds the gradient of a *sum* of token losses
 * (loss_scale = its supervised count: global) or of its token mean (loss_scale 1: micro); after the last one the
 * gradients are divided by D = the global batch's supervised tokens (global) or its number of micro-batches
 * (micro), inside AdamW's grad_scale together with the clip coefficient. `global` therefore gives the gradient of
 * one large batch whatever the micro-batch size or rank count; `micro` reproduces HF's data-parallel average of
 * per-micro-batch token means. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mix/mix.h"
#include "model/config.h"
#include "model/loader.h"
#include "model/tools.h"
#include "model/trainer_internal.h"

typedef struct {
    hb_trainer_cfg c;
    const hb_trainer_opts *o;
    hb_ops *ops;
    hb_model_cfg mcfg;
    hb_model *m;
    hb_optim opt;
    hb_loader *L;
    hb_run_state st;
    hb_tlog log;
    int log_open;
    int64_t T, end;           /* schedule length; this call stops after step `end` */
    int64_t G, micro, images; /* batch shape */
    char resume_dir[1100];
    char weights_dir[1100];   /* where the starting weights come from */
    double times[32];         /* recent step durations (ETA) */
    int64_t n_times;
} run_t;

static int init_model_dir(run_t *r, hb_err *err) {
    const hb_trainer_cfg *c = &r->c;
    char *dir = hb_path_join(c->run_dir, "init");
    snprintf(r->weights_dir, sizeof r->weights_dir, "%s", dir);
    int rc = 0;
    if (!r->resume_dir[0]) { /* a fresh run writes its initial checkpoint */
        int is_file = hb_path_exists(c->model_init);
        hb_init_opts io = {.preset = is_file ? NULL : c->model_init,
                           .config = is_file ? c->model_init : NULL,
                           .clip = c->model_clip[0] ? c->model_clip : NULL,
                           .llama = c->model_llama[0] ? c->model_llama : NULL,
                           .out_dir = dir,
                           .seed = (uint64_t)c->seed,
                           .dtype = HB_ST_F32};
        hb_buf sum = {0};
        /* its own backend context: the arenas of the model it builds are released when it closes */
        hb_ops_opts oo = {.threads = (int)c->threads, .deterministic = 1};
        hb_ops *ops = hb_ops_open(c->backend, &oo, err);
        rc = ops ? hb_train_init(ops, &io, &sum, err) : err ? (int)err->code : HB_EINTERNAL;
        hb_ops_close(ops);
        if (!rc && r->o->progress) fputs(hb_buf_cstr(&sum), r->o->progress);
        hb_buf_free(&sum);
    }
    free(dir);
    return rc;
}

/* The model config, the starting weights and the resume checkpoint's consistency with them. */
static int resolve_model(run_t *r, hb_err *err) {
    const hb_trainer_cfg *c = &r->c;
    int rc = 0;
    if (c->model_checkpoint[0]) {
        snprintf(r->weights_dir, sizeof r->weights_dir, "%s", c->model_checkpoint);
    } else if ((rc = init_model_dir(r, err))) {
        return rc;
    }
    hb_model_cfg want;
    int have_want = hb_path_exists(r->weights_dir);
    if (have_want && (rc = hb_config_load(r->weights_dir, &want, err))) return rc;
    if (!r->resume_dir[0]) {
        if (!have_want)
            return hb_err_set(err, HB_ENOTFOUND, r->weights_dir, HB_NOPOS, HB_NOPOS, "no such checkpoint directory");
        r->mcfg = want;
        return 0;
    }
    if ((rc = hb_config_load(r->resume_dir, &r->mcfg, err))) return rc;
    if (have_want) {
        hb_buf d = {0};
        hb_ckpt_config_diff(&want, &r->mcfg, &d);
        if (d.len)
            rc = hb_err_set(err, HB_EINVAL, r->resume_dir, HB_NOPOS, HB_NOPOS,
                            "the checkpoint is of another architecture than %s: %s", r->weights_dir, hb_buf_cstr(&d));
        hb_buf_free(&d);
    }
    snprintf(r->weights_dir, sizeof r->weights_dir, "%s", r->resume_dir);
    return rc;
}

/* The plan's batch size and length decide the global batch and the number of steps. */
static int resolve_batches(run_t *r, hb_err *err) {
    hb_trainer_cfg *c = &r->c;
    hb_mix_plan *p;
    int rc = hb_mix_plan_open(&p, c->data_plan, err);
    if (rc) return rc;
    uint64_t pb = hb_mix_plan_batch(p), seqs = hb_mix_plan_sequences(p);
    hb_mix_plan_close(p);
    r->G = c->global_batch ? c->global_batch : (int64_t)pb;
    if (!r->G)
        return hb_err_set(err, HB_EINVAL, c->data_plan, HB_NOPOS, HB_NOPOS,
                          "the plan has no global batch size: set batch.global");
    if (pb && (uint64_t)r->G != pb)
        return hb_err_set(err, HB_EINVAL, c->data_plan, HB_NOPOS, HB_NOPOS,
                          "the plan was made for a global batch of %llu sequences, batch.global is %lld (re-run hb-mix "
                          "with batch_size %lld, or leave batch.global unset)",
                          (unsigned long long)pb, (long long)r->G, (long long)r->G);
    if (r->G % c->ranks)
        return hb_err_set(err, HB_EINVAL, "config", HB_NOPOS, HB_NOPOS,
                          "batch.ranks: %lld ranks do not divide the global batch of %lld", (long long)c->ranks,
                          (long long)r->G);
    int64_t per = r->G / c->ranks;
    r->micro = c->micro_batch && c->micro_batch < per ? c->micro_batch : per;
    r->images = c->max_images ? c->max_images : 2 * r->micro;
    int64_t full = (int64_t)(seqs / (uint64_t)r->G);
    r->T = c->steps ? c->steps : full;
    if (r->T < 1 || r->T > full)
        return hb_err_set(err, HB_EINVAL, c->data_plan, HB_NOPOS, HB_NOPOS,
                          "%lld steps of %lld sequences need %lld sequences; the plan holds %llu (%lld whole global "
                          "batches)",
                          (long long)r->T, (long long)r->G, (long long)(r->T * r->G), (unsigned long long)seqs,
                          (long long)full);
    r->end = r->o->until > 0 && r->o->until < r->T ? r->o->until : r->T;
    return 0;
}

static int open_loader(run_t *r, hb_err *err) {
    const hb_trainer_cfg *c = &r->c;
    hb_loader_opts lo = {.plan = c->data_plan,
                         .shards = c->data_shards[0] ? c->data_shards : NULL,
                         .images = c->data_images[0] ? c->data_images : NULL,
                         .global_batch = r->G,
                         .micro_batch = r->micro,
                         .ranks = c->ranks,
                         .max_tokens = c->max_tokens,
                         .max_images = r->images,
                         .prefetch = (int)c->prefetch,
                         .image_size = r->mcfg.vision.image_size,
                         .visual_tokens = hb_config_visual_tokens(&r->mcfg),
                         .vocab_size = r->mcfg.text.vocab_size};
    memcpy(lo.mean, r->mcfg.vision.image_mean, sizeof lo.mean);
    memcpy(lo.std, r->mcfg.vision.image_std, sizeof lo.std);
    return hb_loader_open(&r->L, &lo, err);
}

/* Resume: the checkpoint's state (read and verified in setup) against this run, then the moments. */
static int resume(run_t *r, hb_err *err) {
    hb_run_state *st = &r->st;
    int rc;
    if (st->stage != r->c.stage)
        return hb_err_set(err, HB_EINVAL, r->resume_dir, HB_NOPOS, HB_NOPOS,
                          "the checkpoint was written by a %s run; this run is %s (start a new run_dir with "
                          "model.checkpoint to change stage)",
                          st->stage ? "ft" : "pt", r->c.stage ? "ft" : "pt");
    if (st->global_batch != r->G)
        return hb_err_set(err, HB_EINVAL, r->resume_dir, HB_NOPOS, HB_NOPOS,
                          "the checkpoint was written with a global batch of %lld; this run has %lld (the micro-batch "
                          "size and rank count may change, the global batch may not)",
                          (long long)st->global_batch, (long long)r->G);
    int64_t at;
    if ((rc = hb_loader_cursor_step(r->L, st->cursor, &at, err))) {
        hb_err_prefix(err, "checkpoint %s", r->resume_dir);
        return rc;
    }
    if (at != st->step)
        return hb_err_set(err, HB_EFORMAT, r->resume_dir, HB_NOPOS, HB_NOPOS,
                          "state.json: cursor %s is not the position after step %lld", st->cursor, (long long)st->step);
    if (st->step >= r->T)
        return hb_err_set(err, HB_EINVAL, r->resume_dir, HB_NOPOS, HB_NOPOS,
                          "the checkpoint is at step %lld; the run has %lld steps: nothing left to do",
                          (long long)st->step, (long long)r->T);
    if (r->o->until > 0 && r->o->until <= st->step)
        return hb_err_set(err, HB_EINVAL, r->resume_dir, HB_NOPOS, HB_NOPOS,
                          "--until %lld: the checkpoint is already at step %lld", (long long)r->o->until,
                          (long long)st->step);
    if ((rc = hb_ckpt_load_optim(r->resume_dir, &r->opt, err))) return rc;
    r->opt.t = st->adam_t;
    return 0;
}

static int setup(run_t *r, hb_err *err) {
    hb_trainer_cfg *c = &r->c;
    int rc = hb_trainer_cfg_finish(c, err);
    if (!rc) rc = hb_mkdir_p(c->run_dir, err);
    if (rc) return rc;
    if (r->o->resume) {
        if (r->o->resume[0])
            snprintf(r->resume_dir, sizeof r->resume_dir, "%s", r->o->resume);
        else if ((rc = hb_ckpt_latest(c->run_dir, r->resume_dir, sizeof r->resume_dir, err)))
            return rc;
    } else if (!hb_ckpt_latest(c->run_dir, r->resume_dir, sizeof r->resume_dir, NULL)) {
        return hb_err_set(err, HB_EINVAL, c->run_dir, HB_NOPOS, HB_NOPOS,
                          "the run directory already holds checkpoints (%s): pass --resume to continue it, or choose "
                          "another run_dir",
                          r->resume_dir);
    }
    hb_ops_opts oo = {.threads = (int)c->threads, .deterministic = 1};
    if (!(r->ops = hb_ops_open(c->backend, &oo, err))) return err ? (int)err->code : HB_EINTERNAL;
    if ((rc = resolve_batches(r, err))) return rc;
    /* the plan against the shards before anything is initialised or written */
    if ((rc = hb_loader_check_plan(c->data_plan, c->data_shards[0] ? c->data_shards : NULL, err))) return rc;
    if ((rc = resolve_model(r, err))) return rc;
    /* a resumed checkpoint's files are verified (sizes, checksums) before anything is loaded from them */
    if (r->resume_dir[0] && (rc = hb_ckpt_read_state(r->resume_dir, &r->st, NULL, err))) return rc;
    hb_model_opts mo = {.stage = c->stage ? HB_STAGE_FT : HB_STAGE_PT,
                        .limits = {r->images, r->micro, c->max_tokens},
                        .param_dtype = HB_F32};
    if ((rc = hb_model_new(r->ops, &r->mcfg, &mo, &r->m, err))) return rc;
    if ((rc = hb_model_load_checkpoint(r->m, r->weights_dir, err))) return rc;
    if ((rc = hb_optim_init(&r->opt, r->m, err))) return rc;
    if ((rc = open_loader(r, err))) return rc;
    if (r->resume_dir[0]) {
        if ((rc = resume(r, err))) return rc;
    } else {
        r->st.stage = c->stage;
        r->st.global_batch = r->G;
        hb_hash64_hex(hb_loader_plan_hash(r->L), r->st.plan_hash);
    }
    hb_loader_cursor(r->L, r->st.step, r->st.cursor, sizeof r->st.cursor);
    char title[300];
    const char *base = strrchr(c->run_dir, '/');
    snprintf(title, sizeof title, "hb-train %s (stage %s)", base ? base + 1 : c->run_dir, c->stage ? "ft" : "pt");
    if ((rc = hb_tlog_open(&r->log, c->run_dir, r->st.step, r->T, title, err))) return rc;
    r->log_open = 1;
    hb_buf y = {0};
    hb_trainer_cfg_yaml(c, &y);
    char *cp = hb_path_join(c->run_dir, "config.yaml");
    rc = hb_write_file_atomic(cp, y.data, y.len, err);
    free(cp);
    hb_buf_free(&y);
    if (!rc) rc = hb_loader_start(r->L, r->st.step, r->end, err);
    return rc;
}

/* The memory report: backend arenas (parameters, gradients, activations, optimizer) and the loader's host buffers. */
static void memory_report(run_t *r, hb_buf *out) {
    char a[32], b[32], g[32];
    hb_buf_printf(out, "memory (%s):\n", hb_ops_describe(r->ops));
    hb_ops_memory_report(r->ops, out);
    hb_buf_printf(out, "  loader host buffers %s bytes (%d micro-batches ahead)\n",
                  hb_fmt_count((uint64_t)hb_loader_bytes(r->L), a, sizeof a), (int)r->c.prefetch);
    hb_buf_printf(out, "trained: %s of %s parameters; global batch %lld = %lld rank(s) x %lld micro-batch(es) of <= "
                       "%lld sequences, <= %lld tokens, <= %lld images\n",
                  hb_fmt_count((uint64_t)r->opt.numel, b, sizeof b),
                  hb_fmt_count((uint64_t)hb_model_count(r->m, HB_GROUP_ALL), g, sizeof g), (long long)r->G,
                  (long long)r->c.ranks, (long long)((r->G / r->c.ranks + r->micro - 1) / r->micro),
                  (long long)r->micro, (long long)r->c.max_tokens, (long long)r->images);
}

static int checkpoint(run_t *r, char *path, size_t cap, hb_err *err) {
    double t0 = hb_now();
    int rc = hb_ckpt_save(&r->c, r->m, &r->opt, &r->st, path, cap, err);
    if (rc) return rc;
    hb_buf ev = {0};
    hb_buf_printf(&ev, "{\"event\":\"checkpoint\",\"step\":%lld,\"path\":", (long long)r->st.step);
    hb_buf_put_json_str(&ev, path, strlen(path));
    hb_buf_printf(&ev, ",\"seconds\":%.3f}", hb_now() - t0);
    rc = hb_tlog_event(&r->log, hb_buf_cstr(&ev), err);
    hb_buf_free(&ev);
    if (r->o->progress) fprintf(r->o->progress, "checkpoint: %s\n", path);
    return rc;
}

/* Up to 8 sample ids of a micro-batch, for an error message. */
static void sample_list(const hb_microbatch *mb, char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (int64_t i = 0; i < mb->b.batch && i < 8 && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", mb->ids[i]);
    if (mb->b.batch > 8 && o < cap) snprintf(out + o, cap - o, ", ... (%lld sequences)", (long long)mb->b.batch);
}

typedef struct {
    double loss_sum;
    int64_t sup, micro, tokens, images, seqs, truncated;
    int bad;             /* a micro-batch had a non-finite loss */
    char bad_what[1400]; /* its description */
} step_acc;

static int run_micro_batches(run_t *r, int64_t k, step_acc *a, hb_err *err) {
    memset(a, 0, sizeof *a);
    hb_model_zero_grads(r->m);
    for (;;) {
        const hb_microbatch *mb;
        int rc = hb_loader_next(r->L, &mb, err);
        if (rc) return rc;
        if (mb->step != k)
            return hb_err_set(err, HB_EINTERNAL, r->c.data_plan, HB_NOPOS, HB_NOPOS,
                              "loader out of step (%lld, expected %lld)", (long long)mb->step, (long long)k);
        float scale = r->c.loss_norm == HB_LOSS_GLOBAL ? (float)mb->supervised : 1.0f;
        hb_step_result res;
        if ((rc = hb_model_step(r->m, &mb->b, scale, &res, err))) {
            char ids[1024];
            sample_list(mb, ids, sizeof ids);
            hb_err_prefix(err, "step %lld, micro-batch %lld (samples %s)", (long long)k + 1, (long long)mb->index,
                          ids);
            return rc;
        }
        if (!isfinite(res.loss) && !a->bad) {
            char ids[1024];
            sample_list(mb, ids, sizeof ids);
            snprintf(a->bad_what, sizeof a->bad_what,
                     "non-finite loss (%g) in micro-batch %lld (plan sequences %lld..%lld: %s)", res.loss,
                     (long long)mb->index, (long long)mb->first_seq, (long long)(mb->first_seq + mb->b.batch - 1), ids);
            a->bad = 1;
        }
        a->loss_sum += r->c.loss_norm == HB_LOSS_GLOBAL ? res.loss * (double)res.n_supervised : res.loss;
        a->sup += res.n_supervised;
        a->micro++;
        a->tokens += mb->tokens;
        a->images += mb->b.n_images;
        a->seqs += mb->b.batch;
        a->truncated += mb->truncated;
        if (mb->last) return 0;
    }
}

/* One optimizer step (k is 0-based). */
static int train_step(run_t *r, int64_t k, hb_tlog_step_rec *rec, hb_err *err) {
    const hb_trainer_cfg *c = &r->c;
    double t0 = hb_now();
    step_acc a;
    int rc = run_micro_batches(r, k, &a, err);
    if (rc) return rc;
    double D = c->loss_norm == HB_LOSS_GLOBAL ? (double)a.sup : (double)a.micro;
    if (D <= 0) D = 1; /* no supervised token in the whole global batch: a zero gradient */
    double loss = a.loss_sum / D, raw = 0;
    if ((rc = hb_ops_grad_norm(r->ops, r->opt.grads, r->opt.n_grads, &raw, err))) return rc;
    double gnorm = raw / D, lr = hb_trainer_lr(c->lr, c->min_lr, c->warmup, r->T, k), coef = 1.0;
    int skipped = 0;
    if (a.bad || !isfinite(loss) || !isfinite(gnorm)) {
        char what[1600];
        int64_t first = k * r->G;
        if (a.bad)
            snprintf(what, sizeof what, "%s", a.bad_what);
        else
            snprintf(what, sizeof what, "non-finite gradient norm (loss %g) over plan sequences %lld..%lld "
                                        "(hb-mix dump PLAN --from %lld --count %lld --ids lists them)",
                     loss, (long long)first, (long long)(first + r->G - 1), (long long)first, (long long)r->G);
        if (c->on_nonfinite == HB_NONFINITE_STOP)
            return hb_err_set(err, HB_ERANGE, c->data_plan, (long long)k + 1, HB_NOPOS,
                              "step %lld: %s; stopping (nonfinite.action: skip skips such steps)", (long long)k + 1,
                              what);
        r->st.skipped++;
        skipped = 1;
        if (r->o->progress) fprintf(r->o->progress, "step %lld skipped: %s\n", (long long)k + 1, what);
        if (r->st.skipped > c->max_skips)
            return hb_err_set(err, HB_ERANGE, c->data_plan, (long long)k + 1, HB_NOPOS,
                              "step %lld: %lld steps skipped for non-finite values, more than nonfinite.max_skips = "
                              "%lld; last: %s",
                              (long long)k + 1, (long long)r->st.skipped, (long long)c->max_skips, what);
    } else {
        if (c->clip > 0) coef = fmin(1.0, c->clip / (gnorm + 1e-6)); /* torch.nn.utils.clip_grad_norm_ */
        hb_adamw_hparams hp = {.lr = lr, .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps,
                               .weight_decay = c->weight_decay, .grad_scale = (float)(coef / D),
                               .step = r->opt.t + 1};
        hb_ops_adamw(r->ops, r->opt.slots, r->opt.n_slots, &hp);
        if ((rc = hb_ops_sync(r->ops, err))) return rc;
        r->opt.t++;
    }
    double dt = hb_now() - t0;
    r->st.step = k + 1;
    r->st.adam_t = r->opt.t;
    r->st.tokens += a.tokens;
    r->st.supervised += a.sup;
    r->st.elapsed += dt;
    r->st.last_loss = loss;
    hb_loader_cursor(r->L, r->st.step, r->st.cursor, sizeof r->st.cursor);
    r->times[r->n_times++ % 32] = dt;
    *rec = (hb_tlog_step_rec){.step = k + 1, .loss = loss, .lr = lr, .grad_norm = gnorm, .clip_coef = coef,
                              .skipped = skipped, .tokens = a.tokens, .supervised = a.sup, .sequences = a.seqs,
                              .images = a.images, .micro_batches = a.micro, .truncated = a.truncated, .step_s = dt,
                              .tokens_per_s = dt > 0 ? (double)a.tokens / dt : 0, .elapsed_s = r->st.elapsed,
                              .cursor = r->st.cursor};
    return 0;
}

static double eta(const run_t *r) {
    int64_t n = r->n_times < 32 ? r->n_times : 32;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += r->times[i];
    return n ? s / (double)n * (double)(r->T - r->st.step) : 0;
}

static int loop(run_t *r, hb_trainer_result *res, hb_err *err) {
    const hb_trainer_cfg *c = &r->c;
    int rc = 0;
    res->first_step = r->st.step;
    for (int64_t k = r->st.step; k < r->end; k++) {
        hb_tlog_step_rec rec;
        if ((rc = train_step(r, k, &rec, err))) break;
        res->final_loss = rec.loss;
        if ((rc = hb_tlog_step(&r->log, &rec, err))) break;
        int64_t s = k + 1;
        if (s % c->log_every == 0 || s == r->end || s == 1) hb_tlog_progress(r->o->progress, &rec, r->T, eta(r));
        if ((s % c->plot_every == 0 || s == r->end) && (rc = hb_tlog_plot(&r->log, err))) break;
        int stop = (r->o->interrupt && *r->o->interrupt) || s == r->end;
        if ((c->ckpt_every && s % c->ckpt_every == 0) || stop) {
            if ((rc = checkpoint(r, res->last_checkpoint, sizeof res->last_checkpoint, err))) break;
        }
        hb_trainer_fault("kill-after-step", s);
        if (stop) {
            res->interrupted = s < r->T;
            break;
        }
    }
    res->last_step = r->st.step;
    res->skipped = r->st.skipped;
    return rc;
}

int hb_trainer_run(const hb_trainer_cfg *cfg, const hb_trainer_opts *o, hb_trainer_result *res, hb_err *err) {
    static const hb_trainer_opts none = {0};
    hb_trainer_result dummy;
    if (!res) res = &dummy;
    memset(res, 0, sizeof *res);
    run_t *r = hb_xcalloc(1, sizeof *r);
    r->c = *cfg;
    r->o = o ? o : &none;
    int rc = setup(r, err);
    if (!rc) {
        hb_buf mem = {0}, ev = {0};
        memory_report(r, &mem);
        if (r->o->progress) fputs(hb_buf_cstr(&mem), r->o->progress);
        hb_buf_printf(&ev, "{\"event\":\"%s\",\"step\":%lld,\"steps\":%lld,\"cursor\":\"%s\",\"memory\":",
                      r->resume_dir[0] ? "resume" : "start", (long long)r->st.step, (long long)r->T, r->st.cursor);
        hb_buf_put_json_str(&ev, (const char *)mem.data, mem.len);
        if (r->resume_dir[0]) {
            hb_buf_puts(&ev, ",\"from\":");
            hb_buf_put_json_str(&ev, r->resume_dir, strlen(r->resume_dir));
        }
        hb_buf_putc(&ev, '}');
        rc = hb_tlog_event(&r->log, hb_buf_cstr(&ev), err);
        hb_buf_free(&mem);
        hb_buf_free(&ev);
        if (r->o->progress && r->resume_dir[0])
            fprintf(r->o->progress, "resuming from %s at step %lld of %lld\n", r->resume_dir, (long long)r->st.step,
                    (long long)r->T);
    }
    if (!rc) rc = loop(r, res, err);
    if (r->log_open) {
        hb_buf ev = {0};
        hb_buf_printf(&ev, "{\"event\":\"stop\",\"step\":%lld,\"reason\":\"%s\"", (long long)r->st.step,
                      rc ? "error" : res->interrupted ? "interrupted" : "done");
        if (rc) {
            char msg[2048];
            hb_err_format(err, msg, sizeof msg);
            hb_buf_puts(&ev, ",\"error\":");
            hb_buf_put_json_str(&ev, msg, strlen(msg));
        }
        hb_buf_putc(&ev, '}');
        hb_tlog_event(&r->log, hb_buf_cstr(&ev), NULL);
        hb_buf_free(&ev);
        if (r->log.n) hb_tlog_plot(&r->log, NULL);
        hb_tlog_close(&r->log);
    }
    hb_loader_close(r->L);
    hb_optim_free(&r->opt);
    hb_model_free(r->m);
    hb_ops_close(r->ops);
    free(r);
    return rc;
}
