/* lib/prep — the hb-prep pipeline: every source of a recipe from its raw files to sample shards.
 *
 *   converter (lib/sources) -> items -> group per image, deduplicate, cut into nturn chunks -> sample ids ->
 *   slice (--shard i/N) -> image ingested (lib/image: read, hashed, verified, resized, stored once) -> render
 *   (lib/text/render) -> tokenize with the loss mask (lib/text/prompt) -> hb.sample/1 records in order ->
 *   <source>-NNNNN.hbs shards, <source>.stats.json, <source>.rejects.jsonl, images/<S>.hbs, manifest.json.
 *   docs/prep.md describes the pipeline and the output directory.
 *
 * Dependencies:
 *   core/core.h, recipe/recipe.h (hb_recipe), sources/sources.h (converters), shard/shard.h (writer, manifest),
 *   text/render.h + text/template.h (rendering), text/tokenizer.h + text/prompt.h (tokens and loss mask),
 *   image/image.h + shard/imgstore.h (images), json/json.h; <pthread.h>, <omp.h> (threads).
 *
 * Determinism: every choice (dedup representative, template pattern, option order) is drawn from
 * hb_rng_for(recipe seed, domain, sample id); samples are built in parallel and written in source order, so the
 * output is byte-identical for any -j. Sample ids are "<source>/<record key>" for single-turn sources and
 * "<source>/<group>/<chunk>" for grouped ones; both are unique within the output directory. */
#ifndef HB_PREP_H
#define HB_PREP_H

#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "recipe/recipe.h"

typedef struct {
    const char *outdir;     /* output directory (created) */
    const char *only;       /* build only this source (NULL: all); the manifest keeps the other sources' entries */
    int slice, n_slices;    /* --shard i/N: build samples with ordinal % N == i (0/1: all) */
    int jobs;               /* worker threads (>= 1) */
    int strict;             /* stop at the first rejected record or sample */
    int no_images;          /* do not resolve images (text-only dry runs and benchmarks): samples keep their image
                               positions but reference no image hash */
    int inputs_only;        /* write <source>.inputs.jsonl (the render inputs, hb-prep render's format) instead of
                               rendering, tokenizing and writing shards: needs neither tokenizer nor templates */
    uint64_t shard_samples; /* samples per shard file (0: 100,000) */
    int quiet;              /* no per-source summary lines on stderr */
} hb_prep_opts;

/* Totals of one run (all sources built). */
typedef struct {
    uint64_t records, items, rejected, samples, tokens, dropped;
    double seconds;
    uint64_t input_bytes;
} hb_prep_summary;

/* Build the recipe's sources into o->outdir. A missing raw file, a structural error in one, or (with strict) a bad
 * record stops the run with an error naming the file and position; what was committed before stays intact. */
int hb_prep_run(const hb_recipe *r, const hb_prep_opts *o, hb_prep_summary *sum, hb_err *err);

/* The dedup key normalisation: ASCII lower case, whitespace runs -> one space, trimmed, ASCII punctuation removed
 * except '.' and ',' between digits ("2.5", "1,000"). Appends to out. */
void hb_prep_normalize(const char *s, hb_buf *out);

/* Resolved grouping settings of a source: its explicit keys, then the recipe's `defaults:`, then the converter's
 * Honeybee defaults. dedup is "none" or a field name; conversation sources get nturn 1, dedup "none". */
typedef struct {
    int nturn;
    const char *dedup;
    int normalize;
    const char *template_key;
} hb_prep_settings;
int hb_prep_settings_of(const hb_recipe *r, const hb_recipe_source *s, hb_prep_settings *out, hb_err *err);

#endif
