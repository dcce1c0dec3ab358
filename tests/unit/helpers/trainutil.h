/* Test helpers for the trainer (model/trainer.h, model/loader.h): training data on disk from the PyTorch fixture
 * (tests/fixtures/train/) or from a synthetic generator, an identity mix plan writer, and config shortcuts.
 * Dependencies: shard/shard.h (sample writer), shard/imgstore.h (image store writer), model/trainer.h, core/core.h. */
#ifndef HB_TRAINUTIL_H
#define HB_TRAINUTIL_H

#include <stdint.h>

#include "model/trainer.h"
#include "shard/shard.h"

/* Writes a mix plan at path (docs/mix-plan.md §1) whose stream is every record of the given shards in order (shard
 * 0's records, then shard 1's, ...), one source "train", unpacked; shards_ref is the shards directory relative to
 * the plan's directory. Returns 0 or an hb_code. */
int tt_identity_plan(const char *path, const char *shards_ref, int n_shards, const char *const *files,
                     const uint64_t *records, const uint64_t *checksums, uint64_t batch);

/* The fixture data set (tests/fixtures/train/samples.jsonl + images.safetensors) laid out under dir:
 * dir/shards/train-00000.hbs (small blocks), dir/shards/images/<S>.hbs, dir/plan.hbmix (identity order, batch 0).
 * Returns 0 or fails the test. */
void tt_fixture_data(const char *dir);

/* Synthetic data for a model with image size S, `nvis` visual tokens per image and vocabulary V: n samples
 * ("syn/<k>": BOS, one image of a flat colour for most samples, a caption of 4..12 tokens that names the colour,
 * supervised with its EOS; every 7th sample text-only, every 11th with two images), in `shards` files, same
 * layout as tt_fixture_data. */
void tt_synth_data(const char *dir, int n, int S, int nvis, int V, int shards);

/* Path of tests/fixtures/train/<rel> (malloc'd). */
char *tt_fixture(const char *rel);

/* A config for the fixture model and data under dir: run_dir dir/<run>, model.checkpoint = the fixture model,
 * data.plan dir/plan.hbmix, and every setting of the reference run ref_<ref_name>.safetensors (its metadata:
 * stage, steps, batch, optimiser); one thread, no progress lines. */
void tt_fixture_cfg(hb_trainer_cfg *c, const char *dir, const char *run, const char *ref_name);

/* One line of train.jsonl. */
typedef struct {
    int64_t step;
    double loss, lr, grad_norm, clip_coef;
    int64_t tokens;
    int skipped;
    char cursor[64];
} tt_logrec;

/* Reads <run_dir>/train.jsonl into out (at most max lines); returns the count, -1 when the file is missing. */
int tt_read_log(const char *run_dir, tt_logrec *out, int max);

/* Every tensor of two safetensors files equal bit for bit (prefix: only names starting with it). */
void tt_same_tensors(const char *a, const char *b, const char *prefix);

#endif
