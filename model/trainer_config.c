/* model/trainer_config.c — the `hb-train train` configuration: one table of fields drives the YAML reader, the
 * command-line overrides, the checks, the effective-config dump and the documentation (docs/training.md).
 *
 * Dependencies:
 *   model/trainer.h    hb_trainer_cfg, the field table API
 *   recipe/yaml.h      hb_yaml_load
 *   core/core.h        hb_err, hb_buf, hb_parse_i64
 *   <cjson/cJSON.h>    the parsed tree
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/trainer.h"
#include "recipe/yaml.h"

typedef struct {
    hb_trainer_field f;
    size_t off;
    size_t size; /* strings: capacity */
    int path;    /* 1: a path (resolved against the config file's directory); 2: a path or a preset name */
} field_t;

#define S(name, member, path, doc) {{name, HB_TF_STR, NULL, doc}, offsetof(hb_trainer_cfg, member), \
                                    sizeof(((hb_trainer_cfg *)0)->member), path}
#define I(name, member, doc) {{name, HB_TF_INT, NULL, doc}, offsetof(hb_trainer_cfg, member), 0, 0}
#define N(name, member, doc) {{name, HB_TF_NUM, NULL, doc}, offsetof(hb_trainer_cfg, member), 0, 0}
#define E(name, member, choices, doc) {{name, HB_TF_ENUM, choices, doc}, offsetof(hb_trainer_cfg, member), 0, 0}

static const field_t FIELDS[] = {
    S("run_dir", run_dir, 1, "output directory: checkpoints/, train.jsonl, events.jsonl, loss.svg, config.yaml"),
    E("stage", stage, "pt|ft", "pt: train the abstractor (CLIP and LLaMA frozen); ft: the abstractor and LLaMA"),
    I("steps", steps, "optimizer steps (the schedule's T); 0 = every whole global batch of the plan"),
    I("seed", seed, "seed of the initialisation when model.init is used"),
    S("backend", backend, 0, "compute backend: cpu (fp32 reference)"),
    I("threads", threads, "backend threads; 0 = HB_THREADS, else all cores"),
    S("model.checkpoint", model_checkpoint, 1, "Honeybee checkpoint directory to start from (config.json + safetensors or pytorch_model*.bin)"),
    S("model.init", model_init, 2, "instead of a checkpoint: a preset name or a Honeybee config.json, initialised "
                                   "like `hb-train init` into <run_dir>/init"),
    S("model.clip", model_clip, 1, "with model.init: pretrained CLIP weights (directory or file)"),
    S("model.llama", model_llama, 1, "with model.init: pretrained LLaMA weights (directory or file)"),
    S("data.plan", data_plan, 1, "the mix plan (plan.hbmix) written by hb-mix"),
    S("data.shards", data_shards, 1, "shards directory; empty = the one the plan records"),
    S("data.images", data_images, 1, "directory holding images/<S>.hbs; empty = the shards directory"),
    I("data.max_tokens", max_tokens, "tokens per sequence, BOS included; longer samples are truncated (Honeybee: 1024)"),
    I("data.max_images", max_images, "images per micro-batch at most (a micro-batch closes early rather than exceed it); 0 = 2 x batch.micro"),
    I("data.prefetch", prefetch, "micro-batches the loader thread builds ahead"),
    I("batch.global", global_batch, "sequences per optimizer step; 0 = the plan's batch size"),
    I("batch.micro", micro_batch, "sequences per forward/backward; 0 = batch.global / batch.ranks (no accumulation)"),
    I("batch.ranks", ranks, "emulated data-parallel ranks: each global batch is read as this many rank slices"),
    E("batch.loss", loss_norm, "global|micro", "global: token mean over the whole global batch (accumulation = one "
                                               "large batch); micro: mean of per-micro-batch token means (HF)"),
    N("optim.lr", lr, "peak learning rate; negative = stage default (pt 1e-4, ft 2e-5)"),
    N("optim.min_lr", min_lr, "final and initial learning rate; negative = stage default (pt 1e-5, ft 1e-6)"),
    I("optim.warmup", warmup, "warmup steps from min_lr to lr; negative = stage default (pt 2000, ft 150)"),
    N("optim.weight_decay", weight_decay, "decoupled weight decay (not on biases and norm weights); negative = "
                                          "stage default (pt 0.01, ft 1e-4)"),
    N("optim.beta1", beta1, "AdamW beta1"),
    N("optim.beta2", beta2, "AdamW beta2"),
    N("optim.eps", eps, "AdamW epsilon"),
    N("optim.clip", clip, "clip the global gradient norm to this value; 0 = off (the released runs most likely had "
                          "no clipping)"),
    I("checkpoint.every", ckpt_every, "steps between checkpoints; 0 = only at the end"),
    I("checkpoint.keep", ckpt_keep, "newest checkpoints kept; 0 = all"),
    E("checkpoint.dtype", ckpt_bf16, "f32|bf16", "weight dtype in checkpoints (f32 resumes bit for bit)"),
    I("log.every", log_every, "a progress line every N steps (train.jsonl gets every step)"),
    I("log.plot_every", plot_every, "rewrite loss.svg every N steps"),
    E("nonfinite.action", on_nonfinite, "stop|skip", "on a NaN/Inf loss or gradient: stop naming the step and "
                                                    "samples, or skip the step's update and count it"),
    I("nonfinite.max_skips", max_skips, "with skip: stop once more steps than this were skipped"),
};
#define NFIELDS ((int)(sizeof FIELDS / sizeof FIELDS[0]))

const hb_trainer_field *hb_trainer_cfg_fields(int *n) {
    static hb_trainer_field out[NFIELDS];
    for (int i = 0; i < NFIELDS; i++) out[i] = FIELDS[i].f;
    *n = NFIELDS;
    return out;
}

void hb_trainer_cfg_defaults(hb_trainer_cfg *c) {
    memset(c, 0, sizeof *c);
    c->stage = -1;
    c->seed = 42;
    snprintf(c->backend, sizeof c->backend, "cpu");
    c->max_tokens = 1024;
    c->prefetch = 4;
    c->ranks = 1;
    c->loss_norm = HB_LOSS_GLOBAL;
    c->lr = c->min_lr = c->weight_decay = -1;
    c->warmup = -1;
    c->beta1 = 0.9;
    c->beta2 = 0.98;
    c->eps = 1e-6;
    c->clip = 1.0;
    c->ckpt_every = 1000;
    c->ckpt_keep = 3;
    c->log_every = 1;
    c->plot_every = 10;
    c->on_nonfinite = HB_NONFINITE_STOP;
    c->max_skips = 10;
}

static const field_t *find(const char *name) {
    for (int i = 0; i < NFIELDS; i++)
        if (!strcmp(FIELDS[i].f.name, name)) return &FIELDS[i];
    return NULL;
}

/* base/value as an absolute path (base NULL: the working directory). */
static void absolute(const char *base, const char *value, char *out, size_t cap) {
    char cwd[4096];
    if (value[0] == '/' || !value[0]) {
        snprintf(out, cap, "%s", value);
        return;
    }
    if (!base || base[0] != '/') {
        if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
        if (base && base[0] && strcmp(base, "."))
            snprintf(out, cap, "%s/%s/%s", cwd, base, value);
        else
            snprintf(out, cap, "%s/%s", cwd, value);
    } else {
        snprintf(out, cap, "%s/%s", base, value);
    }
    hb_path_normalize(out);
}

static int enum_index(const char *choices, const char *v) {
    int i = 0;
    size_t n = strlen(v);
    for (const char *p = choices; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == n && !strncmp(p, v, n)) return i;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

static void enum_name(const char *choices, int idx, char *out, size_t cap) {
    const char *p = choices;
    for (int i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p || idx < 0) {
        snprintf(out, cap, "unset");
        return;
    }
    const char *bar = strchr(p, '|');
    snprintf(out, cap, "%.*s", (int)(bar ? bar - p : (long)strlen(p)), p);
}

/* Sets a field from text; base is the directory relative paths are resolved against (NULL: working directory). */
static int set_text(hb_trainer_cfg *c, const field_t *f, const char *v, const char *base, const char *file,
                    hb_err *err) {
    char *dst = (char *)c + f->off;
    switch (f->f.type) {
    case HB_TF_STR: {
        char tmp[4096];
        int is_path = f->path == 1 || (f->path == 2 && (strchr(v, '/') || strstr(v, ".json")));
        if (is_path && v[0])
            absolute(base, v, tmp, sizeof tmp);
        else
            snprintf(tmp, sizeof tmp, "%s", v);
        if (strlen(tmp) >= f->size)
            return hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "%s: value longer than %zu bytes",
                              f->f.name, f->size - 1);
        memcpy(dst, tmp, strlen(tmp) + 1);
        return 0;
    }
    case HB_TF_INT: {
        long long x;
        if (hb_parse_i64(v, &x))
            return hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "%s: expected an integer, got '%s'",
                              f->f.name, v);
        *(int64_t *)dst = x;
        return 0;
    }
    case HB_TF_NUM: {
        char *end;
        double x = strtod(v, &end);
        if (!*v || *end || !isfinite(x))
            return hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "%s: expected a finite number, got '%s'",
                              f->f.name, v);
        *(double *)dst = x;
        return 0;
    }
    case HB_TF_ENUM: {
        int k = enum_index(f->f.choices, v);
        if (k < 0)
            return hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "%s: '%s' is not one of %s", f->f.name, v,
                              f->f.choices);
        *(int *)dst = k;
        return 0;
    }
    }
    return 0;
}

int hb_trainer_cfg_set(hb_trainer_cfg *c, const char *name, const char *value, hb_err *err) {
    const field_t *f = find(name);
    if (!f)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS,
                          "unknown setting '%s' (hb-train train --help-config lists them)", name);
    return set_text(c, f, value, NULL, "command line", err);
}

static int apply_section(hb_trainer_cfg *c, const cJSON *obj, const char *prefix, const char *file, const char *base,
                         hb_err *err) {
    if (!cJSON_IsObject(obj))
        return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s: expected a mapping",
                          prefix[0] ? prefix : "(top level)");
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        char name[256];
        snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "." : "", it->string);
        const field_t *f = find(name);
        if (!f) {
            size_t l = strlen(name);
            int section = 0;
            for (int i = 0; i < NFIELDS && !section; i++)
                section = !strncmp(FIELDS[i].f.name, name, l) && FIELDS[i].f.name[l] == '.';
            if (section && !prefix[0]) {
                int rc = apply_section(c, it, name, file, base, err);
                if (rc) return rc;
                continue;
            }
            return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s: unknown key (docs/training.md lists "
                                                                          "the fields)", name);
        }
        char num[64];
        const char *text = NULL;
        if (cJSON_IsString(it)) {
            if (f->f.type == HB_TF_INT || f->f.type == HB_TF_NUM)
                return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s: expected a number, got \"%s\"", name,
                                  it->valuestring);
            text = it->valuestring;
        } else if (cJSON_IsNumber(it)) {
            if (f->f.type == HB_TF_INT) {
                if (it->valuedouble != floor(it->valuedouble) || fabs(it->valuedouble) > 9e15)
                    return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s: expected an integer, got %g",
                                      name, it->valuedouble);
                snprintf(num, sizeof num, "%.0f", it->valuedouble);
            } else {
                snprintf(num, sizeof num, "%.17g", it->valuedouble);
            }
            text = num;
        } else if (cJSON_IsNull(it) && f->f.type == HB_TF_STR) {
            text = "";
        } else {
            return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s: expected a %s", name,
                              f->f.type == HB_TF_STR || f->f.type == HB_TF_ENUM ? "string" : "number");
        }
        int rc = set_text(c, f, text, base, file, err);
        if (rc) return rc;
    }
    return 0;
}

int hb_trainer_cfg_apply_tree(hb_trainer_cfg *c, const cJSON *root, const char *file, const char *base_dir,
                              hb_err *err) {
    return apply_section(c, root, "", file, base_dir, err);
}

int hb_trainer_cfg_load(hb_trainer_cfg *c, const char *path, hb_err *err) {
    cJSON *root;
    int rc = hb_yaml_load(path, &root, err);
    if (rc) return rc;
    char *base = hb_xstrdup(path), *sl = strrchr(base, '/');
    if (sl)
        *sl = 0;
    else
        snprintf(base, strlen(base) + 1, ".");
    rc = hb_trainer_cfg_apply_tree(c, root, path, base, err);
    free(base);
    cJSON_Delete(root);
    return rc;
}

void hb_trainer_cfg_get(const hb_trainer_cfg *c, const char *name, hb_buf *out) {
    const field_t *f = find(name);
    if (!f) return;
    const char *src = (const char *)c + f->off;
    char tmp[64];
    switch (f->f.type) {
    case HB_TF_STR: hb_buf_puts(out, src); break;
    case HB_TF_INT: hb_buf_printf(out, "%lld", (long long)*(const int64_t *)src); break;
    case HB_TF_NUM: { /* the shortest text that reads back as the same double */
        double v = *(const double *)src;
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v);
            if (strtod(tmp, NULL) == v) break;
        }
        hb_buf_puts(out, tmp);
        break;
    }
    case HB_TF_ENUM:
        enum_name(f->f.choices, *(const int *)src, tmp, sizeof tmp);
        hb_buf_puts(out, tmp);
        break;
    }
}

void hb_trainer_cfg_yaml(const hb_trainer_cfg *c, hb_buf *out) {
    const char *section = "";
    size_t seclen = 0;
    for (int i = 0; i < NFIELDS; i++) {
        const char *name = FIELDS[i].f.name, *dot = strchr(name, '.');
        if (dot && (seclen != (size_t)(dot - name) || strncmp(section, name, seclen))) {
            section = name;
            seclen = (size_t)(dot - name);
            hb_buf_printf(out, "%.*s:\n", (int)seclen, name);
        }
        hb_buf val = {0};
        hb_trainer_cfg_get(c, name, &val);
        hb_buf_printf(out, "%s%s: ", dot ? "  " : "", dot ? dot + 1 : name);
        if (FIELDS[i].f.type == HB_TF_STR)
            hb_buf_put_json_str(out, (const char *)val.data ? (const char *)val.data : "", val.len);
        else
            hb_buf_puts(out, hb_buf_cstr(&val));
        hb_buf_putc(out, '\n');
        hb_buf_free(&val);
    }
}

#define BAD(field, ...) hb_err_set(err, HB_EINVAL, "config", HB_NOPOS, HB_NOPOS, field ": " __VA_ARGS__)

int hb_trainer_cfg_finish(hb_trainer_cfg *c, hb_err *err) {
    if (!c->run_dir[0]) return BAD("run_dir", "required (where checkpoints and logs go)");
    if (c->stage < 0) return BAD("stage", "required: pt or ft");
    if (!c->data_plan[0]) return BAD("data.plan", "required (the plan.hbmix hb-mix wrote)");
    if (!c->model_checkpoint[0] == !c->model_init[0])
        return BAD("model", "give exactly one of model.checkpoint and model.init");
    if ((c->model_clip[0] || c->model_llama[0]) && !c->model_init[0])
        return BAD("model.clip/model.llama", "only used with model.init");
    if (strcmp(c->backend, "cpu") && strcmp(c->backend, "cuda"))
        return BAD("backend", "'%s' is not a backend (cpu, cuda)", c->backend);
    if (c->steps < 0) return BAD("steps", "must be >= 0");
    if (c->seed < 0) return BAD("seed", "must be >= 0");
    if (c->threads < 0 || c->threads > 4096) return BAD("threads", "must be in 0..4096");
    if (c->max_tokens < 2 || c->max_tokens > (1 << 20)) return BAD("data.max_tokens", "must be in 2..1048576");
    if (c->max_images < 0) return BAD("data.max_images", "must be >= 0");
    if (c->prefetch < 1 || c->prefetch > 1024) return BAD("data.prefetch", "must be in 1..1024");
    if (c->global_batch < 0) return BAD("batch.global", "must be >= 0");
    if (c->micro_batch < 0) return BAD("batch.micro", "must be >= 0");
    if (c->ranks < 1) return BAD("batch.ranks", "must be >= 1");
    const int pt = c->stage == 0;
    if (c->lr < 0) c->lr = pt ? 1e-4 : 2e-5;
    if (c->min_lr < 0) c->min_lr = pt ? 1e-5 : 1e-6;
    if (c->warmup < 0) c->warmup = pt ? 2000 : 150;
    if (c->weight_decay < 0) c->weight_decay = pt ? 0.01 : 1e-4;
    if (c->lr <= 0) return BAD("optim.lr", "must be > 0");
    if (c->min_lr > c->lr) return BAD("optim.min_lr", "%g is above optim.lr %g", c->min_lr, c->lr);
    if (!(c->beta1 >= 0 && c->beta1 < 1)) return BAD("optim.beta1", "must be in [0, 1)");
    if (!(c->beta2 >= 0 && c->beta2 < 1)) return BAD("optim.beta2", "must be in [0, 1)");
    if (!(c->eps > 0)) return BAD("optim.eps", "must be > 0");
    if (c->clip < 0) return BAD("optim.clip", "must be >= 0 (0 = off)");
    if (c->ckpt_every < 0) return BAD("checkpoint.every", "must be >= 0");
    if (c->ckpt_keep < 0) return BAD("checkpoint.keep", "must be >= 0");
    if (c->log_every < 1) return BAD("log.every", "must be >= 1");
    if (c->plot_every < 1) return BAD("log.plot_every", "must be >= 1");
    if (c->max_skips < 0) return BAD("nonfinite.max_skips", "must be >= 0");
    return 0;
}

double hb_trainer_lr(double lr, double min_lr, int64_t W, int64_t T, int64_t k) {
    double r = min_lr / lr;
    if (k < W) return lr * (r + (1.0 - r) * (double)k / (double)W);
    if (k >= T) return lr * r;
    return lr * (r + (1.0 - r) * 0.5 * (1.0 + cos(M_PI * (double)(k - W) / (double)(T - W))));
}
