/* model/trainer — `hb-train train`: the training loop over a mix plan (docs/training.md): its configuration (YAML,
 * every field overridable on the command line), AdamW with Honeybee's schedule and clipping, gradient accumulation,
 * checkpoints with resume, and the logs (progress lines, JSONL, an SVG plot).
 *
 * Dependencies:
 *   core/core.h        hb_err, hb_buf
 *   <cjson/cJSON.h>    configuration trees (hb_trainer_cfg_apply_tree)
 *   (impl) model/model.h, model/loader.h, model/tools.h (init), model/safetensors.h, kernels/ops.h,
 *          recipe/yaml.h, report/report.h
 *
 * Use: hb_trainer_cfg_defaults -> hb_trainer_cfg_load (YAML) -> hb_trainer_cfg_set for each `--key value` ->
 * hb_trainer_run. Field names are dotted paths ("optim.lr"); hb_trainer_cfg_fields lists them with their
 * documentation, which is also what `hb-train train --help-config` prints. */
#ifndef HB_TRAINER_H
#define HB_TRAINER_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdint.h>

#include "core/core.h"

typedef enum { HB_LOSS_GLOBAL = 0, HB_LOSS_MICRO = 1 } hb_loss_norm;
typedef enum { HB_NONFINITE_STOP = 0, HB_NONFINITE_SKIP = 1 } hb_nonfinite;

typedef struct {
    /* run */
    char run_dir[1024];     /* checkpoints, logs, plot */
    int stage;              /* 0 "pt", 1 "ft" */
    int64_t steps;          /* optimizer steps of the schedule (T); 0 = every whole global batch of the plan */
    int64_t seed;           /* initialisation seed (model.init) */
    char backend[16];       /* "cpu" */
    int64_t threads;        /* backend threads; 0 = HB_THREADS, else all cores */
    /* model: exactly one of checkpoint and init */
    char model_checkpoint[1024]; /* a Honeybee checkpoint directory (config.json + safetensors or .bin) */
    char model_init[1024];       /* a preset name or a Honeybee config.json: hb-train init into <run_dir>/init */
    char model_clip[1024];       /* with init: pretrained CLIP (directory or file) */
    char model_llama[1024];      /* with init: pretrained LLaMA */
    /* data */
    char data_plan[1024];   /* plan.hbmix */
    char data_shards[1024]; /* "" = the plan's recorded shards directory */
    char data_images[1024]; /* "" = the shards directory */
    int64_t max_tokens;     /* tokens per sequence, BOS included (Honeybee: 1024) */
    int64_t max_images;     /* images per micro-batch; 0 = 2 x batch.micro */
    int64_t prefetch;       /* micro-batches built ahead */
    /* batch */
    int64_t global_batch;   /* sequences per optimizer step; 0 = the plan's batch size */
    int64_t micro_batch;    /* sequences per forward/backward; 0 = global / ranks (no accumulation) */
    int64_t ranks;          /* emulated data-parallel ranks (rank slices of each global batch) */
    hb_loss_norm loss_norm; /* global: token mean over the global batch; micro: mean of micro-batch token means */
    /* optimizer (negative = the stage's default, spec-model.md §7.2/§7.3) */
    double lr, min_lr, weight_decay;
    int64_t warmup;         /* -1 = the stage's default */
    double beta1, beta2, eps;
    double clip;            /* max global gradient norm; 0 = no clipping */
    /* checkpoints */
    int64_t ckpt_every;     /* steps between checkpoints; 0 = only at the end */
    int64_t ckpt_keep;      /* newest checkpoints kept; 0 = all */
    int ckpt_bf16;          /* 0 "f32" (bit-exact resume), 1 "bf16" */
    /* logs */
    int64_t log_every;      /* progress line every N steps (the JSONL gets every step) */
    int64_t plot_every;     /* SVG refresh every N steps */
    /* bad steps */
    hb_nonfinite on_nonfinite;
    int64_t max_skips;      /* with skip: stop after this many skipped steps */
} hb_trainer_cfg;

typedef enum { HB_TF_STR, HB_TF_INT, HB_TF_NUM, HB_TF_ENUM /* an int: index into choices */ } hb_tf_type;

typedef struct {
    const char *name;    /* dotted path: "optim.lr" */
    hb_tf_type type;
    const char *choices; /* HB_TF_ENUM: "global|micro" */
    const char *doc;     /* one line for docs and --help-config */
} hb_trainer_field;

/* The field table (n set), in documentation order. */
const hb_trainer_field *hb_trainer_cfg_fields(int *n);
void hb_trainer_cfg_defaults(hb_trainer_cfg *c);
/* Applies a parsed YAML/JSON mapping (nested sections as in docs/training.md); unknown keys and wrong types fail
 * naming the file and the key path. Relative paths in the file are resolved against base_dir (NULL: as given). */
int hb_trainer_cfg_apply_tree(hb_trainer_cfg *c, const cJSON *root, const char *file, const char *base_dir,
                              hb_err *err);
int hb_trainer_cfg_load(hb_trainer_cfg *c, const char *path, hb_err *err);
/* One field from text (the command line): "optim.lr", "3e-4". Paths are taken as given. */
int hb_trainer_cfg_set(hb_trainer_cfg *c, const char *name, const char *value, hb_err *err);
/* One field as text (the value a YAML file would hold). */
void hb_trainer_cfg_get(const hb_trainer_cfg *c, const char *name, hb_buf *out);
/* Fills the stage defaults and checks every field and their combinations (HB_EINVAL naming the field). */
int hb_trainer_cfg_finish(hb_trainer_cfg *c, hb_err *err);
/* The whole configuration as YAML (every field, sections as in the file format). */
void hb_trainer_cfg_yaml(const hb_trainer_cfg *c, hb_buf *out);

/* Honeybee's learning rate at 0-based optimizer step k of T with W warmup steps (spec-model.md §7.1): with
 * r = min_lr/lr, lr·(r + (1−r)·k/W) for k < W, then lr·(r + (1−r)·0.5·(1 + cos(π·(k−W)/(T−W)))), min_lr from T on. */
double hb_trainer_lr(double lr, double min_lr, int64_t W, int64_t T, int64_t k);

typedef struct {
    const char *resume;                /* NULL: fresh run; "": the run's newest checkpoint; else a checkpoint dir */
    int64_t until;                     /* stop after this step (like an interruption; 0 = run to the end) */
    volatile sig_atomic_t *interrupt;  /* set by a signal handler: checkpoint after the current step and stop */
    FILE *progress;                    /* progress lines (NULL: none) */
} hb_trainer_opts;

typedef struct {
    int64_t first_step, last_step;     /* steps run by this call: [first_step, last_step) */
    int64_t skipped;                   /* steps skipped for non-finite values (whole run) */
    double final_loss;
    int interrupted;                   /* stopped by `interrupt` or `until` */
    char last_checkpoint[1100];        /* "" when none was written */
} hb_trainer_result;

/* Runs (or resumes) training as configured. On failure the error names the step, the samples or the file; the
 * last checkpoint written stays intact and the logs end at the last finished step. */
int hb_trainer_run(const hb_trainer_cfg *c, const hb_trainer_opts *o, hb_trainer_result *res, hb_err *err);

#endif
