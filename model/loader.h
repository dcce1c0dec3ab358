/* model/loader — the training data stream: the sequences of a mix plan (docs/mix-plan.md), read in plan order from
 * the sample shards and the image store, cut into micro-batches ready for hb_model_step, built on a prefetch thread.
 *
 * Dependencies:
 *   core/core.h        hb_err
 *   model/model.h      hb_batch (what a micro-batch hands to the model)
 *   (impl) mix/mix.h (plan reader), shard/shard.h (samples), shard/imgstore.h (pixels), <pthread.h>
 *
 * Stream (docs/training.md §Data): global batch g is plan sequences [g·G, (g+1)·G) for G = global_batch. It is split
 * into `ranks` rank slices (hb_mix_plan_rank_slice, so the slices are those a data-parallel run of that many ranks
 * would read) and each slice, in order, into micro-batches of at most micro_batch sequences and at most max_images
 * images (a micro-batch closes early when the next sequence's images would not fit).
 * Per sequence: input_ids = the sample's tokens (image placeholders -1), labels = the token where the loss mask is 1
 * and -100 elsewhere, truncated to max_tokens without splitting an image (the cut moves back to the start of the
 * image run and the images after it are dropped, as Honeybee's encoder stops before an image that does not fit);
 * right padding with id 0 and label -100 to the longest sequence of the micro-batch. Pixels: the store's S×S×3
 * uint8 RGB, as float CHW (x/255 − mean)/std with the model config's CLIP mean/std, in float32 like torchvision's
 * ToTensor + Normalize.
 * Nothing is parsed or tokenised here: samples are binary records with token ids.
 *
 * Memory: every buffer (ring slots of ids, labels, pixels and sample ids) is allocated in hb_loader_open; the
 * thread reuses them. The output does not depend on timing or on the prefetch depth. Packed plans are refused
 * (the model has no block-diagonal attention yet). */
#ifndef HB_LOADER_H
#define HB_LOADER_H

#include <stdint.h>

#include "core/core.h"
#include "model/model.h"

typedef struct {
    const char *plan;        /* the plan file (plan.hbmix) */
    const char *shards;      /* shards directory; NULL = the one the plan records (relative to the plan) */
    const char *images;      /* directory holding images/<S>.hbs; NULL = the shards directory */
    int64_t global_batch;    /* sequences per optimizer step (> 0) */
    int64_t micro_batch;     /* sequences per micro-batch at most (> 0) */
    int64_t ranks;           /* rank slices per global batch (divides global_batch) */
    int64_t max_tokens;      /* tokens per sequence, BOS included; longer samples are truncated */
    int64_t max_images;      /* images per micro-batch at most */
    int prefetch;            /* micro-batches built ahead of the consumer (>= 1) */
    /* what the model expects (from its config) */
    int image_size;          /* S */
    int visual_tokens;       /* placeholders per image (M + num_eos_tokens) */
    int vocab_size;
    float mean[3], std[3];   /* CLIP normalisation */
} hb_loader_opts;

/* One micro-batch. Valid until the next hb_loader_next call. */
typedef struct {
    hb_batch b;              /* pixels [n_images, 3, S, S], input_ids / labels [batch, seq] */
    int64_t step;            /* global batch index */
    int64_t index;           /* micro-batch index within its global batch */
    int last;                /* 1 for the last micro-batch of its global batch */
    int64_t rank;            /* rank slice it belongs to */
    int64_t first_seq;       /* plan sequence index of its first sequence (its sequences are consecutive) */
    int64_t tokens;          /* real (unpadded) tokens */
    int64_t supervised;      /* supervised targets (loss-mask ones after position 0) */
    int64_t truncated;       /* sequences cut to max_tokens */
    const char *const *ids;  /* the sample id of each sequence */
} hb_microbatch;

typedef struct hb_loader hb_loader;

/* Opens the plan, checks every shard it names against the shards directory (present, record count, checksum),
 * opens the image store of size S, allocates the ring. Errors name the plan, shard or store. */
int hb_loader_open(hb_loader **out, const hb_loader_opts *o, hb_err *err);
/* The check hb_loader_open makes of the shards, alone (cheap: shard headers and trailers): every shard the plan names
 * is in shards (NULL: the plan's recorded directory) with the record count and checksum the plan was made from. */
int hb_loader_check_plan(const char *plan, const char *shards, hb_err *err);
void hb_loader_close(hb_loader *L); /* stops the thread; NULL is fine */

uint64_t hb_loader_plan_hash(const hb_loader *L);
uint64_t hb_loader_sequences(const hb_loader *L);   /* sequences in the plan */
uint64_t hb_loader_full_batches(const hb_loader *L); /* whole global batches the plan holds */
uint64_t hb_loader_plan_batch(const hb_loader *L);   /* the plan's own global batch (0 = none) */
/* Host bytes the loader allocated (ring slots and reader state), for the memory report. */
int64_t hb_loader_bytes(const hb_loader *L);
/* "<plan hash hex>:<sequence>" for the position of global batch `step` (docs/mix-plan.md cursor). */
void hb_loader_cursor(const hb_loader *L, int64_t step, char *out, size_t n);
/* The global batch a cursor points at: checks the plan hash and that the position is a batch boundary. */
int hb_loader_cursor_step(const hb_loader *L, const char *cursor, int64_t *step, hb_err *err);

/* Starts the prefetch thread at global batch first_step; it stops after global batch end_step - 1. */
int hb_loader_start(hb_loader *L, int64_t first_step, int64_t end_step, hb_err *err);
/* The next micro-batch in stream order (blocks until it is built). Fails with the error the thread met (a bad
 * sample names its id, shard and record) or HB_ERANGE after end_step. */
int hb_loader_next(hb_loader *L, const hb_microbatch **mb, hb_err *err);

/* Builds one sequence from a sample record without a loader (tests): writes ids/labels (max_tokens each), returns
 * the length and the number of images kept; fails on placeholder runs that are not whole images. */
int hb_loader_sequence(const int32_t *tokens, const uint8_t *mask, int64_t n, int64_t n_images_in_sample,
                       int64_t max_tokens, int visual_tokens, int32_t *ids, int32_t *labels, int64_t *len,
                       int64_t *images, const char *sample_id, hb_err *err);
/* uint8 HWC RGB [S, S, 3] -> float CHW [3, S, S], (x/255 − mean)/std in float32. */
void hb_loader_pixels(const uint8_t *hwc, int S, const float mean[3], const float std[3], float *chw);

#endif
