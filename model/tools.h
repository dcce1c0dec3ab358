/* model/tools — the library side of `hb-train init` and `hb-train debug` (cmd/hb-train.c only parses arguments).
 *
 * Dependencies:
 *   core/core.h      hb_err
 *   kernels/ops.h    hb_ops (the backend the debug run computes on)
 *   model/model.h    hb_batch, hb_stage
 *
 * Batch file (the `--batch` input of debug, a safetensors file):
 *   pixel_values  F32 (F16/BF16 accepted) [N, 3, S, S]  already normalised with the CLIP mean/std; absent or N = 0
 *                 for text-only batches
 *   input_ids     I32 (I64 accepted) [B, T]  an image is a run of M + num_eos_tokens ids of -1, images in order
 *   labels        I32 (I64 accepted) [B, T]  -100 = ignored; position t predicts labels[t+1] (HF shift)
 * Debug output (the `--out` file, safetensors, F32):
 *   loss [] ; logits [B, T, V] ; features [N, Np, C_v] (CLIP output without CLS) ; visual_tokens [N, M+eos, D] ;
 *   grad.<name> for every parameter trained in the stage (pt: abstractor.*; ft: abstractor.* and language_model.*). */
#ifndef HB_MODEL_TOOLS_H
#define HB_MODEL_TOOLS_H

#include "core/core.h"
#include "kernels/ops.h"
#include "model/model.h"

/* A batch read from a safetensors file (owns its arrays). */
typedef struct {
    hb_batch b;
    float *pixels;
    int32_t *ids, *labels;
} hb_batch_file;

/* Reads and checks shapes against cfg (image size, channels, B×T agreement). */
int hb_batch_file_load(const char *path, const hb_model_cfg *cfg, hb_batch_file *out, hb_err *err);
void hb_batch_file_free(hb_batch_file *bf);

typedef struct {
    const char *preset;      /* a preset name, or */
    const char *config;      /* a Honeybee config.json (file or directory) */
    const char *clip;        /* optional: CLIP directory or file (its config.json replaces vision_config) */
    const char *llama;       /* optional: LLaMA directory or file (its config.json replaces text_config) */
    const char *out_dir;
    uint64_t seed;
    hb_st_dtype dtype;       /* F32 (default) or BF16 */
    uint64_t max_shard_bytes; /* 0: one file */
} hb_init_opts;

/* Builds the config (preset or file, then the CLIP / LLaMA configs when given), initialises the projector with
 * Honeybee's init, loads or HF-initialises CLIP and LLaMA, and writes the checkpoint. `summary` (may be NULL)
 * receives a few human-readable lines (sizes, what was loaded). */
int hb_train_init(hb_ops *ops, const hb_init_opts *o, hb_buf *summary, hb_err *err);

/* Loads the checkpoint, runs one forward + backward of stage on the batch file and writes the debug output.
 * `summary` receives the loss and the number of supervised tokens. */
int hb_train_debug(hb_ops *ops, const char *ckpt_dir, hb_stage stage, const char *batch_path, const char *out_path,
                   hb_buf *summary, hb_err *err);

/* Throughput of hb_model_step on a random batch (seeded): B sequences of T tokens, images_per_seq images at the start
 * of each (after BOS), every other token supervised. One warm-up step, then `steps` timed steps. */
typedef struct {
    const char *preset, *config; /* model (random init) */
    hb_stage stage;
    int64_t batch, seq, images_per_seq;
    int steps;
    uint64_t seed;
} hb_bench_opts;

typedef struct {
    double tokens_per_s, ms_per_step; /* mean over the timed steps */
    double best_tokens_per_s;         /* the fastest step (robust to other jobs on a shared machine) */
    double tokens_per_cpu_s;          /* per second of process CPU time, fastest step (insensitive to load) */
    double loss;
    int64_t tokens_per_step;
} hb_bench_result;

int hb_train_bench(hb_ops *ops, const hb_bench_opts *o, hb_bench_result *res, hb_err *err);

#endif
