/* lib/sources — one converter per dataset: official raw files in, hb_src_item (examples or conversations with
 * their image reference and provenance) out. The registry maps a recipe's `dataset:` name to a converter; the
 * pipeline (lib/prep) groups, deduplicates, renders and tokenizes what the converters emit.
 *
 * Dependencies:
 *   core/core.h        hb_err, hb_arena
 *   json/json.h        hb_jsplit / hb_jrec (streaming records), cJSON per record
 *   recipe/recipe.h    hb_recipe, hb_recipe_source (files, options)
 *   text/example.h     hb_example, hb_field (the converter -> renderer contract)
 *   shard/shard.h      hb_turn, hb_role
 *   sources/pickle.h   the safe pickle reader (pickle.c)
 *
 * Writing a converter: fill an hb_converter (name, file roles, options, Honeybee's default nturn/dedup) whose run()
 * reads the files named by the source (hb_src_file / hb_src_files), walks them with hb_src_foreach, and for each
 * record either calls hb_src_emit (once per example or conversation) or hb_src_reject with a reason. Strings in an
 * item are borrowed for the duration of the emit call only (use ctx->scratch, reset after every record). Add it to
 * registry.c and document it in docs/sources.md. */
#ifndef HB_SOURCES_H
#define HB_SOURCES_H

#include <stdint.h>

#include "core/core.h"
#include "json/json.h"
#include "recipe/recipe.h"
#include "shard/shard.h"
#include "sources/pickle.h" /* hb_pickle_load (RefCOCO refs(*).p) */
#include "text/example.h"

/* One example (templated data) or one conversation (LLaVA, ShareGPT) as read from the raw files. */
typedef struct {
    const char *key;       /* the record's unique key within the source (question id, line, ...): the sample id
                              when samples are not grouped */
    const char *group;     /* grouping key (normally the image path); NULL = never grouped with other items */
    const char *image;     /* image path relative to the source's image root, before image_prefix/image_flat;
                              NULL for text-only items */
    const char *image_archive; /* NULL, or the archive (a webdataset tar) that holds `image` as a member */
    const uint8_t *image_data; /* the image bytes when the converter read them (archives streamed once), else NULL */
    size_t image_len;
    const char *file;      /* the raw file the record came from, as the recipe names it */
    int64_t record;        /* 0-based position of the record in `file` */
    int64_t offset;        /* its byte offset (for rejects found later), -1 when unknown */
    hb_example ex;         /* templated data: n_fields > 0 or n_options > 0 */
    uint32_t n_conv;       /* conversations: turns with roles HB_ROLE_HUMAN / HB_ROLE_AI and raw texts */
    const hb_turn *conv;
} hb_src_item;

typedef struct hb_src_ctx hb_src_ctx;

typedef struct {
    const char *name;               /* registry name: the recipe's `dataset:` */
    const char *summary;            /* one line for `hb-prep --list` and docs */
    const char *const *file_roles;  /* roles of `files:` as a mapping (NULL-terminated), or NULL when `files:` is a
                                       path or a list of paths (read in order) */
    const char *const *options;     /* converter-specific keys accepted in the source mapping (NULL-terminated) */
    const char *const *fields;      /* example fields it provides (NULL-terminated; empty for conversations) */
    int nturn;                      /* Honeybee's default grouping (spec-data.md §1.1) */
    const char *dedup;              /* Honeybee's default dedup key, "none" when off */
    int conversation;               /* 1: emits conversations; nturn/dedup do not apply */
    int image_paths;                /* 1: every record names an image file under the source's `images:` root (so
                                       a source without `images:` is an error caught before anything is built) */
    int folders;                    /* 1: `files:` may name folders and glob patterns (webdataset) */
    int (*run)(hb_src_ctx *ctx, hb_err *err);
} hb_converter;

/* The registry (registry.c). */
const hb_converter *hb_converter_find(const char *name);
size_t hb_converter_count(void);
const hb_converter *hb_converter_at(size_t i);
/* Every name the registry knows, converters then aliases (at most cap); returns the count. */
size_t hb_converter_names(const char **out, size_t cap);

/* Receives what a converter produces; implemented by the pipeline (or a test). */
typedef struct {
    void *user;
    int (*emit)(void *user, const hb_src_item *it, hb_err *err);
    /* A skipped record. Returns 0 to go on, or an hb_code to stop (--strict). */
    int (*reject)(void *user, const char *file, int64_t record, int64_t offset, const char *reason, hb_err *err);
    /* Optional: raw bytes consumed so far in the current input and its size (progress and MB/s). Every input
     * starts with a call (0, size); converters reading files in lockstep report them as one input. */
    void (*progress)(void *user, uint64_t done, uint64_t total);
    /* Optional: a named counter of the converter's choices and quirks ("rewrite.copula", "answer.from_answers"),
     * reported in the source's stats. */
    void (*count)(void *user, const char *name, long long n);
} hb_src_sink;

struct hb_src_ctx {
    const hb_recipe *recipe;
    const hb_recipe_source *src;
    const hb_converter *conv;
    hb_src_sink sink;
    hb_arena scratch;      /* per-record scratch memory; hb_src_foreach resets it after every record */
    hb_arena keep;         /* memory that lives until hb_src_run returns (file names for provenance) */
    long long records;     /* raw records read so far (counted against src->limit) */
    long long emitted;     /* items emitted */
    long long rejected;    /* records rejected */
    int stop;              /* set when the limit is reached: converters end their loops */
    int uncounted;         /* set while reading side files (metadata) that do not count against the limit */
    /* box formatting options, read once (bbox_decimals, bbox_clamp, bbox_format) */
    int bbox_decimals, bbox_clamp, bbox_pixels;
};

/* Check a source before anything is built: its converter exists (an unknown name gets the closest known one
 * suggested), its keys are known, the common options are valid, `files:` names existing files of the right kind
 * (roles of the converter, no folder where a file is expected), and, when images are wanted (with_images), a source
 * whose records name images has an `images:` root that exists. Errors name the recipe key. */
int hb_src_check(const hb_recipe *r, const hb_recipe_source *src, int with_images, hb_err *err);

/* Run the source's converter: checks its options against conv->options and the common keys, then calls run().
 * A missing raw file or an unreadable structure is an error; bad records go to sink.reject. */
int hb_src_run(const hb_recipe *r, const hb_recipe_source *src, const hb_src_sink *sink, hb_src_ctx *ctx_out,
               hb_err *err);

/* ---- helpers for converters (common.c) ---- */
/* The resolved path of file role `role` (NULL role: the single path of `files:`). Fails naming the recipe key when
 * the role is missing and naming the file when it does not exist. *path is malloc'd. */
int hb_src_file(hb_src_ctx *ctx, const char *role, char **path, hb_err *err);
/* All paths of a role (a path or a list; NULL role: `files:` itself), resolved; each must exist. */
int hb_src_files(hb_src_ctx *ctx, const char *role, char ***paths, size_t *n, hb_err *err);
void hb_src_files_free(char **paths, size_t n);
/* The name of a file as the recipe writes it (for provenance and rejects; it does not depend on the working
 * directory): the string of `files:` that names it, or for a file found through a folder or a glob pattern, the
 * folder as written plus the rest of its path. */
const char *hb_src_display(hb_src_ctx *ctx, const char *path);

/* Converter options from the source mapping; absent keys keep *out (the default). */
int hb_src_opt_str(hb_src_ctx *ctx, const char *key, const char **out, hb_err *err);
int hb_src_opt_bool(hb_src_ctx *ctx, const char *key, int *out, hb_err *err);
int hb_src_opt_int(hb_src_ctx *ctx, const char *key, long long *out, hb_err *err);
/* A string option restricted to a NULL-terminated list of values; *idx is the index of the value. */
int hb_src_opt_enum(hb_src_ctx *ctx, const char *key, const char *const *values, int *idx, hb_err *err);

/* Walk the records of path (select as in hb_jsplit_open; NULL = JSON Lines), parse each with cJSON and call fn.
 * Malformed records are rejected (file, record, offset, reason) and skipped; fn may reject and return 0 itself.
 * Counts records against the source's limit and stops when it is reached. ctx->scratch is reset after each. */
typedef int (*hb_src_record_fn)(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err);
int hb_src_foreach(hb_src_ctx *ctx, const char *path, const char *select, hb_src_record_fn fn, void *user,
                   hb_err *err);
/* Count one record read outside hb_src_foreach (returns 1 when the limit is reached and the converter must stop). */
int hb_src_count_record(hb_src_ctx *ctx);

int hb_src_emit(hb_src_ctx *ctx, const hb_src_item *it, hb_err *err);
/* Add one to the converter counter `name` (see hb_src_sink.count). */
void hb_src_note(hb_src_ctx *ctx, const char *name);
/* Parse a record split outside hb_src_foreach: *j is NULL when the record was malformed (it has been rejected; the
 * return value is then the sink's verdict). Counts the record against the limit. */
int hb_src_parse(hb_src_ctx *ctx, const hb_jrec *rec, const char *shown, cJSON **j, hb_err *err);
int hb_src_reject(hb_src_ctx *ctx, const char *file, int64_t record, int64_t offset, hb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Build an example's field array in ctx->scratch: hb_src_fields(ctx, &ex, "question", q, "answer", a, NULL). */
void hb_src_fields(hb_src_ctx *ctx, hb_example *ex, ...);
/* A box given as COCO x, y, w, h in pixels of a W x H image, formatted as Honeybee does (spec-data.md §1.2):
 * "[x1,y1,x2,y2]" normalised by W and H with bbox_decimals (3) decimals, no spaces; clamped to [0, 1] when
 * bbox_clamp is set; pixel coordinates when bbox_format is "pixel". Returns a string in ctx->scratch, or NULL when
 * W or H is not positive or a value is not finite. */
const char *hb_src_bbox(hb_src_ctx *ctx, double x, double y, double w, double h, double W, double H);
/* A "conversations" list of {from, value} as turns in ctx->scratch. Roles: human/user -> HB_ROLE_HUMAN;
 * gpt/assistant/chatgpt/bing/bard -> HB_ROLE_AI. Returns NULL with a reason for an empty list, an unknown role or
 * a value that is not a string. */
const hb_turn *hb_src_turns(hb_src_ctx *ctx, const cJSON *list, uint32_t *n, char *why, size_t why_len);
/* Strip leading/trailing ASCII whitespace into ctx->scratch. */
const char *hb_src_strip(hb_src_ctx *ctx, const char *s);

/* ---- a u64 -> u64 hash map (ids to positions; idmap.c) ---- */
typedef struct {
    uint64_t *keys, *vals;
    uint8_t *used;
    size_t cap, n;
} hb_idmap;
void hb_idmap_put(hb_idmap *m, uint64_t key, uint64_t val); /* insert or replace */
int hb_idmap_get(const hb_idmap *m, uint64_t key, uint64_t *val); /* 1 when found */
void hb_idmap_free(hb_idmap *m);

#endif
