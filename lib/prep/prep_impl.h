/* lib/prep internals shared by its files (not a public header).
 * Dependencies: prep.h, sources/sources.h (hb_src_item, hb_idmap), shard/shard.h (writers, manifest). */
#ifndef HB_PREP_IMPL_H
#define HB_PREP_IMPL_H

#include <pthread.h>

#include "prep.h"
#include "shard/shard.h"
#include "sources/sources.h"

#define HB_PREP_BATCH 4096 /* samples built in parallel between two writes */
#define HB_PREP_HIST_BINS 17 /* token length histogram: [0,64), then [64*2^(k-1), 64*2^k); the last bin is open */

/* ---- items and samples of one source ---- */
typedef struct {
    const char *key, *group, *file, *image; /* image: as the converter named it (after prefix/flat) */
    int64_t record, offset;
    hb_example ex;
    uint32_t n_conv;
    hb_turn *conv;
    int32_t root;  /* the source's image root id in the ingest, -1 for none (no root, or bytes given inline) */
    const char *archive;    /* the archive the converter read the image from (webdataset), else NULL */
    const uint8_t *img_data; /* the image bytes the converter read (webdataset members), else NULL */
    size_t img_len;
    int32_t next;  /* next item of the same group, -1 at the end */
} hb_pitem;

typedef struct {
    const char *id;
    uint32_t first, n;      /* a run of indices in the source's order[] array */
    const char *dedup_json; /* choices fragment "[{...}]" or NULL */
} hb_psample;

typedef struct {
    char *reason;
    uint64_t n;
} hb_reason_count;

typedef struct {
    uint64_t records, items, rejected, groups, dedup_buckets, dedup_dropped, samples_total, samples_slice,
        samples_written, missing_image, bad_sample, truncated, no_supervision, turns, tokens, supervised, image_tokens,
        max_len, images_ref, input_bytes, dup_ids;
    uint64_t hist[HB_PREP_HIST_BINS];
    hb_reason_count *reasons; /* rejected records (reasons with digits folded to '#') and dropped samples (by class) */
    size_t n_reasons;
    hb_reason_count *notes;   /* converter counters */
    char *first_missing;      /* the first image path found missing (for the hint when none is found) */
    size_t n_notes;
    double seconds;
} hb_pstats;

typedef struct hb_prep hb_prep;

/* A rejected sample noted while a batch is built (by the builder thread) and written to the rejects file by the
 * reading thread when it collects the batch, so the file's order does not depend on timing. */
typedef struct {
    const char *file; /* interned in the source */
    int64_t record, offset;
    char *reason;     /* malloc'd */
    char *cls;        /* malloc'd: the class of the reason (hb_prep_result.cls) */
} hb_prej;

/* One batch: the items read, their planned samples, and the rejects of building them. Streaming sources fill one
 * batch while the other is built; grouped sources use one for everything. */
typedef struct {
    hb_pitem *items;
    size_t n_items, cap_items;
    hb_arena arena;         /* items and their strings, sample ids and choices */
    uint64_t pending_bytes; /* inline image bytes held by its items (streaming batches close above a budget) */
    size_t planned;         /* items already planned */
    uint32_t *order;        /* item indices of the samples, sample after sample */
    size_t n_order, cap_order;
    hb_psample *samples;
    size_t n_samples, cap_samples;
    hb_prej *rej;
    size_t n_rej, cap_rej;
} hb_pbuf;

typedef struct {
    hb_prep *p;
    const hb_recipe_source *src;
    hb_prep_settings set;
    const char *dataset;   /* template lookup name */
    int grouped;           /* collect everything, then group (nturn != 1) */
    hb_pbuf bufs[2];
    hb_pbuf *in;           /* the batch the converter fills */
    hb_pbuf *job;          /* the batch being built (streaming), NULL when none */
    int job_thread;        /* job runs on a thread (-j > 1), else it was built at once */
    pthread_t thread;
    int job_rc;
    hb_err job_err;
    hb_arena tmp;          /* per-group scratch of the planner */
    int root_id;           /* the source's image root in the ingest, -1 when none */
    hb_idmap groups;       /* hash64(group) -> first item index + 1 */
    int32_t *group_last;   /* per item that starts a group: the group's last item */
    uint32_t *group_heads; /* items that start a group, in first-seen order */
    size_t n_groups, cap_groups;
    uint64_t ordinal;      /* samples so far in the source (the slice key) */
    hb_idmap ids;          /* hash64(sample id) -> 1: duplicate keys get "~<record>" */
    char **files;          /* interned file names */
    size_t n_files;
    hb_pstats st;
    hb_afile rejects;      /* <source>.rejects.jsonl */
    int rejects_open;
    hb_progress *prog;
    uint64_t prog_base, prog_last_total;
    /* output */
    hb_sample_writer sw;
    int sw_open;
    uint32_t shard_no;
    uint64_t in_shard;
    hb_afile inputs;       /* inputs_only: <source>.inputs.jsonl */
    int inputs_open;
} hb_psrc;

struct hb_prep {
    const hb_recipe *r;
    const hb_prep_opts *o;
    void *ingest;          /* hb_ingest * (NULL with --no-images or --inputs) */
    char *ingest_dir;      /* the directory whose images/ the ingest writes */
    hb_afile img_rejects;  /* images.rejects.jsonl */
    int img_rejects_open;
    void *templates;       /* hb_template_set * (NULL in inputs_only mode) */
    void *tokenizer;       /* hb_tokenizer * */
    hb_manifest manifest;  /* shards written in this run */
    struct hb_prep_worker_s *workers; /* -j of them, made by the first batch built */
    struct hb_prep_result_s *results; /* one per sample of a batch */
};

/* collect.c: the converter sink and the grouping into samples */
void hb_psrc_sink(hb_psrc *s, hb_src_sink *sink);
/* Turn the items of b into samples: every group (grouped) or each item not planned yet (streaming). */
void hb_psrc_plan(hb_psrc *s, hb_pbuf *b);
/* Reject a raw record (the converter's verdict): a line in the rejects file, a count. Non-zero under --strict. */
int hb_psrc_reject(hb_psrc *s, const char *file, int64_t record, int64_t offset, const char *reason, hb_err *err);
/* Drop a built sample (its image, rendering or length): a line in the rejects file, counted under cls in
 * rejects_by_reason (not as a rejected record). Non-zero under --strict. */
int hb_psrc_drop(hb_psrc *s, const char *file, int64_t record, int64_t offset, const char *reason, const char *cls,
                 hb_err *err);
void hb_psrc_note(hb_psrc *s, hb_reason_count **list, size_t *n, const char *name, uint64_t k);

/* One worker thread's state: an arena for the samples it builds in a batch, plus the tokenizer scratch. */
typedef struct hb_prep_worker_s {
    hb_arena arena;
    void *tok;  /* tokenizer scratch */
    void *enc;  /* prompt encoding buffers */
} hb_prep_worker;

/* The outcome of building one sample: the sample (in the worker's arena), or a reason to reject it. */
typedef struct hb_prep_result_s {
    hb_sample sample;
    const char *reason;
    const char *cls; /* the reason's class, the key of rejects_by_reason ("image missing", "cannot render", ...) */
    int truncated, no_supervision, image_rejected;
    int fatal;  /* the image store failed: err says why and the run stops */
    hb_err err;
} hb_prep_result;

/* images.c */
int hb_prep_images_open(hb_prep *p, hb_err *err);
int hb_prep_images_root(hb_prep *p, hb_psrc *s, hb_err *err);
/* The content hash of a sample's image (ingesting it the first time); NULL, or the reason it was rejected (in a),
 * or with *fatal set an error in err. Thread-safe. */
const char *hb_prep_image_of(hb_psrc *s, const hb_pitem *f, hb_hash128 *hash, hb_arena *a, int *fatal, hb_err *err);
int hb_prep_images_finish(hb_prep *p, hb_err *err);
int hb_prep_images_merge_slices(hb_prep *p, hb_err *err);
void hb_prep_images_abort(hb_prep *p);

void hb_prep_worker_init(hb_prep *p, hb_prep_worker *w);
void hb_prep_worker_free(hb_prep_worker *w);
void hb_prep_build_sample(hb_psrc *s, const hb_pbuf *b, const hb_psample *ps, hb_prep_worker *w, hb_prep_result *r);

/* build.c: build and write the planned samples of b (their rejects are noted in b) */
int hb_psrc_flush(hb_psrc *s, hb_pbuf *b, hb_err *err);
/* Streaming: hand the filled batch to the builder (after collecting the previous one) and read on into the other. */
int hb_psrc_submit(hb_psrc *s, hb_err *err);
/* Wait for the batch being built, write its rejects, empty it. */
int hb_psrc_collect(hb_psrc *s, hb_err *err);
/* Write the rejects noted in b, in order (under --strict the first stops the run). */
int hb_psrc_drain(hb_psrc *s, hb_pbuf *b, hb_err *err);
void hb_pbuf_reset(hb_pbuf *b);
void hb_pbuf_free(hb_pbuf *b);
/* text.c: load the template set and the tokenizer of the recipe (nothing in inputs_only mode); check that a source
 * has a pattern; render + tokenize one sample. */
int hb_prep_open_text(hb_prep *p, hb_err *err);
void hb_prep_close_text(hb_prep *p);
int hb_prep_check_source(hb_prep *p, const hb_recipe_source *src, const char *template_key, hb_err *err);

/* output.c */
int hb_psrc_write_sample(hb_psrc *s, const hb_sample *smp, hb_err *err);
int hb_psrc_close_output(hb_psrc *s, hb_err *err);
int hb_psrc_write_stats(hb_psrc *s, hb_err *err);
char *hb_prep_out_name(const hb_prep *p, const char *source, const char *suffix); /* malloc'd path in outdir */

#endif
