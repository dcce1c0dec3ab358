/* Test helpers for lib/mix: synthetic sample shards with chosen per-sample lengths, and a recipe writer.
 * Dependencies: shard/shard.h (hb_sample, hb_manifest), mix/mix.h (hb_mix_run, plan reader), core/core.h. */
#ifndef HB_MIXUTIL_H
#define HB_MIXUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "mix/mix.h"
#include "shard/shard.h"

/* A sample "<source>/<k>" with exactly ntok tokens: BOS, nimg image placeholders, text; the last nsup text tokens
 * supervised (nsup <= ntok - nimg - 1 when ntok > 0). */
void tu_mix_sample(hb_arena *a, const char *source, uint64_t k, uint32_t ntok, uint32_t nsup, uint32_t nimg,
                   hb_sample *s);
/* Deterministic synthetic lengths of sample k of a source: tokens in [base, base + spread), a third supervised,
 * `image` placeholders (0 for text-only). out = {ntok, nsup, nimg}. */
void tu_mix_lens(const char *source, uint64_t k, uint32_t base, uint32_t spread, uint32_t image, uint32_t out[3]);
/* Write dir/file holding samples first .. first + n - 1 of source with lengths lens[k - first]; add it to m. */
int tu_mix_shard(const char *dir, const char *file, const char *source, uint64_t first, uint64_t n,
                 const uint32_t (*lens)[3], hb_manifest *m);
/* Sources names[i] with sizes[i] samples each in `per` shards ("<name>-0000i.hbs"), synthetic lengths
 * (base 20 + 7 i, spread 40, 8 image tokens unless the name starts with "text"); manifest.json when asked. */
int tu_mix_dir(const char *dir, size_t n, const char *const *names, const uint64_t *sizes, uint32_t per,
               int with_manifest);
/* Write a recipe file dir/name with the given text; returns the malloc'd path. */
char *tu_mix_recipe(const char *dir, const char *name, const char *text);

/* The standard test layout: dir/shards with sources vqav2 (500 samples, 3 shards), gqa (120, 2), ocrvqa (37, 1),
 * textchat (9, 1, text-only) and unused (20, 1), with a manifest unless told otherwise. Returns 0 on success. */
int tu_mix_layout(const char *dir, int with_manifest);
/* Write dir/<name>.yaml = "name: <name>\nseed: 5\nmax_length: 127\noutput: shards\n" + body and run hb-mix on it
 * (output to /dev/null). */
int tu_mix_run(const char *dir, const char *name, const char *body, int jobs, int dry_run, hb_err *err);
/* The plan path of tu_mix_run(name) (malloc'd). */
char *tu_mix_plan_path(const char *dir, const char *name);
/* Per sample of the plan: source index and index within its source (shard offset + record); malloc'd arrays. */
void tu_mix_stream(const hb_mix_plan *p, uint32_t **src, uint64_t **idx);

#endif
