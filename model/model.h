/* model/model — Honeybee (CLIP ViT -> C-Abstractor -> LLaMA) over the backend interface kernels/ops.h: parameters,
 * loading and saving in the HF / Honeybee naming, Honeybee's initialisation, and one micro-batch forward + backward
 * with HF's masked LM loss. Written once for every backend; the CPU backend is the fp32 reference.
 *
 * Dependencies:
 *   core/core.h         hb_err
 *   kernels/ops.h       hb_ops (the backend), hb_tensor (parameter and gradient handles)
 *   model/config.h      hb_model_cfg
 *   model/safetensors.h hb_st (weights to load)
 *
 * Training-loop use (issue 9):
 *   hb_model_new(ops, cfg, &opts{stage, limits}) -> load or init -> per optimizer step:
 *     hb_model_zero_grads; for each micro-batch hb_model_step(batch, 1/accum); grad norm and AdamW over the
 *     table hb_model_params() (trained entries: .w, .g and .decay) or the flat group tensors hb_model_group().
 *   Gradients accumulate (+=) across hb_model_step calls; each call scales its loss gradient by loss_scale divided
 *   by its own number of supervised tokens, so loss_scale = 1/accum reproduces HF's average of per-micro-batch token
 *   means (spec-model.md §1.6).
 *
 * Stages (spec-model.md §7): PT trains `abstractor.*`; FT trains `abstractor.*` and `language_model.*`; CLIP is
 * always frozen. Under PT the LLM still back-propagates to its input (its weight gradients are skipped).
 *
 * Memory: every tensor (parameters, gradients, activations for the largest micro-batch of opts.limits) is planned
 * and allocated in hb_model_new; nothing is allocated per step. */
#ifndef HB_MODEL_H
#define HB_MODEL_H

#include <stdint.h>

#include "core/core.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/safetensors.h"

typedef enum { HB_GROUP_VISION = 1, HB_GROUP_PROJ = 2, HB_GROUP_LM = 4, HB_GROUP_ALL = 7 } hb_group;
typedef enum { HB_STAGE_NONE = 0, HB_STAGE_PT = 1, HB_STAGE_FT = 2 } hb_stage;

/* Groups trained in a stage: PT -> PROJ, FT -> PROJ|LM, NONE -> 0. */
unsigned hb_stage_groups(hb_stage s);
/* "pt" / "ft" -> stage; HB_EINVAL otherwise. */
int hb_stage_parse(const char *s, hb_stage *out, hb_err *err);

/* One named parameter: a view into its group's flat weight tensor (and, when trained in the model's stage, into
 * the group's flat gradient tensor, with the same layout). */
typedef struct {
    const char *name; /* Honeybee checkpoint name, e.g. "language_model.model.layers.0.mlp.up_proj.weight" */
    int ndim;
    int64_t shape[4];
    int64_t numel;
    int64_t offset;   /* element offset in the group's flat tensor */
    hb_group group;
    int decay;        /* AdamW weight decay applies (0 for biases and LayerNorm/RMSNorm weights) */
    int used;         /* 0 for tensors kept only for a faithful checkpoint (CLIP post_layernorm, unused layers) */
    int trained;      /* 1 when the model's stage trains this group */
    hb_tensor w;      /* weights */
    hb_tensor g;      /* gradient (arena NULL when not trained) */
} hb_param;

typedef struct {
    int64_t max_images; /* images per micro-batch */
    int64_t max_batch;  /* sequences per micro-batch (B) */
    int64_t max_seq;    /* tokens per sequence (T) */
} hb_model_limits;

typedef struct {
    hb_stage stage;         /* which groups get gradients (NONE: forward only) */
    hb_model_limits limits;
    int all_logits;         /* 1: compute and keep logits for every position (hb-train debug); 0: only the
                               supervised rows go through the LM head (training) */
    hb_dtype param_dtype;   /* HB_F32 (CPU); HB_BF16 for the CUDA backend */
    int64_t head_chunk;     /* rows per LM-head chunk (bounds the logits memory to chunk × vocab); 0 = 1024.
                               Ignored with all_logits (one chunk of every row). */
} hb_model_opts;

typedef struct hb_model hb_model;

/* Plans and allocates everything; parameters start at zero (load or init them). */
int hb_model_new(hb_ops *ops, const hb_model_cfg *cfg, const hb_model_opts *opts, hb_model **out, hb_err *err);
/* Frees the host side. The backend memory (its arenas) is released by hb_ops_close: ops.h has no per-arena free
 * yet, so create models once per ops context. */
void hb_model_free(hb_model *m);
const hb_model_cfg *hb_model_config(const hb_model *m);
hb_ops *hb_model_ops(const hb_model *m);
hb_stage hb_model_stage(const hb_model *m);

/* The parameter table in flat-layout order. */
const hb_param *hb_model_params(const hb_model *m, int *n);
const hb_param *hb_model_param(const hb_model *m, const char *name); /* NULL when unknown */
/* The flat weight and gradient tensors of a group (gradient arena NULL when the group is not trained). */
void hb_model_group(const hb_model *m, hb_group g, hb_tensor *weights, hb_tensor *grads);
/* Number of parameters (elements) in the given groups. */
int64_t hb_model_count(const hb_model *m, unsigned groups);
/* The parameter table of a config without allocating a model (.w and .g are empty; .trained is 0): names,
 * shapes, groups, decay flags and flat offsets. Free with hb_params_free. */
hb_param *hb_config_params(const hb_model_cfg *cfg, int *n);
void hb_params_free(hb_param *p, int n);
/* Parameter counts of a config without building a model (for init / reports). */
int64_t hb_config_param_count(const hb_model_cfg *cfg, unsigned groups);

/* ---- weights ----
 * Where a tensor set comes from decides how names map (spec-model.md §2.4, §3.8, §6.3):
 *   HONEYBEE  names as in the model (vision_model.vision_model.*, abstractor.*, language_model.*); a vision tower
 *             saved by transformers >= 5 (vision_model.embeddings.*, one prefix less) is accepted too;
 *   CLIP      a CLIPModel or CLIPVisionModel file: vision_model.* (or the bare names of transformers >= 5);
 *             text_model.*, visual_projection, text_projection and logit_scale are ignored;
 *   LLAMA     a LlamaForCausalLM file: model.*, lm_head.weight.
 * Position-id buffers and rotary inv_freq buffers are ignored everywhere. A legacy abstractor.pos_emb with one
 * extra leading row (the old CLS slot) loses that row (§3.8). */
typedef enum { HB_SRC_HONEYBEE, HB_SRC_CLIP, HB_SRC_LLAMA } hb_weight_src;

/* Checks names, shapes and dtypes of every parameter of `groups` against st before any data moves. On a mismatch:
 * HB_EFORMAT whose reason lists the missing, mis-shaped and unexpected tensors (the first few of each, with
 * counts); when listing is not NULL it receives the complete listing, one tensor per line. */
int hb_model_check_weights(const hb_model *m, const hb_st *st, hb_weight_src src, unsigned groups, hb_buf *listing,
                           hb_err *err);
/* The same check from a config alone, before any model memory is allocated (a 7B checkpoint with a missing tensor
 * fails in milliseconds, not after allocating 27 GB). */
int hb_config_check_weights(const hb_model_cfg *cfg, const hb_st *st, hb_weight_src src, unsigned groups,
                            hb_buf *listing, hb_err *err);
/* Check, then upload (F32/F16/BF16/F64 converted to the parameter dtype), with progress on stderr. */
int hb_model_load_weights(hb_model *m, const hb_st *st, hb_weight_src src, unsigned groups, hb_err *err);
/* Opens dir (a checkpoint: config must match m's) and loads every group. */
int hb_model_load_checkpoint(hb_model *m, const char *dir, hb_err *err);

/* Honeybee's initialisation of `groups` (spec-model.md §3.9 for the projector: Conv2d/Linear N(0, range²), biases
 * 0, LayerNorms 1/0, pos_emb and eos tokens truncated normal; HF's CLIP and LLaMA inits for the other groups, used
 * only when no pretrained weights are given). Every value comes from hb_rng_for(seed, "init", name): the result
 * does not depend on the thread count or on which other groups are initialised. */
int hb_model_init(hb_model *m, uint64_t seed, unsigned groups, hb_err *err);

/* Writes dir/config.json and the safetensors weights in the Honeybee naming (every parameter, F32 or BF16;
 * shards of at most max_shard_bytes with an index when > 0). */
int hb_model_save(hb_model *m, const char *dir, hb_st_dtype dtype, uint64_t max_shard_bytes, hb_err *err);

/* ---- one micro-batch ---- */
typedef struct {
    int64_t n_images;        /* N */
    const float *pixels;     /* [N, 3, S, S], already normalised with the CLIP mean/std */
    int64_t batch, seq;      /* B, T */
    const int32_t *input_ids; /* [B, T]; an image is a run of M + num_eos_tokens ids of -1, images in order */
    const int32_t *labels;    /* [B, T]; -100 ignored; position t is trained to predict labels[t + 1] (HF shift) */
} hb_batch;

typedef struct {
    double loss;           /* mean cross-entropy over the supervised tokens (0 when there are none) */
    int64_t n_supervised;  /* targets that count */
} hb_step_result;

/* Checks a batch against the config and the limits (image count vs placeholder runs, token and label ranges):
 * HB_EINVAL naming the sequence and position. */
int hb_model_check_batch(const hb_model *m, const hb_batch *b, hb_err *err);
/* Forward, loss, and (when the stage trains something) backward: gradients += d(loss_scale · loss)/dθ. */
int hb_model_step(hb_model *m, const hb_batch *b, float loss_scale, hb_step_result *res, hb_err *err);
/* Forward and loss only (evaluation; no gradients, whatever the stage). */
int hb_model_forward(hb_model *m, const hb_batch *b, hb_step_result *res, hb_err *err);
/* Zero every gradient tensor. */
void hb_model_zero_grads(hb_model *m);

/* After a step/forward: download results into host f32 arrays (sync points).
 * logits [B, T, V] (opts.all_logits only); features [N, Np, C_v] (CLIP output without CLS, the projector input
 * before prenorm/pos_emb); visual [N, M + eos, D] (projector output). */
int hb_model_get_logits(hb_model *m, float *dst, hb_err *err);
int hb_model_get_features(hb_model *m, float *dst, hb_err *err);
int hb_model_get_visual(hb_model *m, float *dst, hb_err *err);

#endif
