/* lib/mix — exact, deterministic, resumable ratio balancing (hb-mix): from a recipe's `mix` section and the shards
 * hb-prep wrote, decide the whole training stream up front and write it as a mix plan (docs/mix-plan.md).
 *
 * Pipeline (each step is a function below; hb_mix_run chains them for the CLI):
 *   spec      the recipe's mix section, parsed and checked             hb_mix_spec_load
 *   input     per-source shards + per-sample lengths (cached)          hb_mix_input_open, hb_mix_input_lengths
 *   solve     exact per-source sample counts and the realised table    hb_mix_solve
 *   generate  interleave + seeded permutations (+ packing) -> plan     hb_mix_generate
 *   read      a trainer streams the plan: sequences, rank slices       hb_mix_plan_open, ...
 *
 * Dependencies:
 *   core/core.h      hb_err, hb_buf, hb_afile, hb_progress, hb_rng, hashing
 *   <cjson/cJSON.h>  the recipe tree (hb_mix_spec_parse)
 *   (impl) recipe/yaml.h (hb_yaml_load, hb_cfg_*), shard/shard.h (shards, manifest), <omp.h>, <sys/mman.h>
 *
 * Determinism: the plan is a pure function of (mix section, recipe seed, shard contents); thread count (-j) never
 * changes a byte. Every random choice is hb_rng_for(seed, "hb-mix/permutation", source) (docs/mix-plan.md §3).
 */
#ifndef HB_MIX_H
#define HB_MIX_H

#include <cjson/cJSON.h>

#include "core/core.h"

/* ---------------------------------------------------------------------------------------------------------------
 * Spec: the mix section of a recipe (docs/recipes.md `mix:`)
 * ------------------------------------------------------------------------------------------------------------- */
typedef enum { HB_MIX_SAMPLES = 0, HB_MIX_TOKENS = 1, HB_MIX_SUPERVISED = 2, HB_MIX_IMAGE = 3 } hb_mix_unit;
typedef enum { HB_MIX_WEIGHT = 0, HB_MIX_REPEAT = 1, HB_MIX_COUNT = 2 } hb_mix_kind;
typedef enum { HB_MIX_BALANCE_PREFIX = 0, HB_MIX_BALANCE_BATCH = 1 } hb_mix_balance;

typedef struct {
    char *name;     /* recipe source name */
    double value;   /* the weight (proportion), repeat (passes) or count (in the unit); >= 0 */
    int by_size;    /* `weight: size`: weight = min(source size in the unit, size_cap) */
} hb_mix_want;

typedef struct {
    char *recipe;       /* recipe path as given */
    char *name;         /* recipe name (report titles) */
    char *shards_dir;   /* hb-prep output directory (the recipe's `output`, relative paths resolved) */
    char *out_dir;      /* plan directory: mix.output, else <shards_dir>/mix-<name> */
    uint64_t seed;      /* mix.seed, else the recipe's seed, else 0 */
    hb_mix_unit unit;   /* what weights, total and count are measured in */
    hb_mix_kind kind;   /* one kind for all sources */
    uint64_t total;     /* stream size in the unit (weights only); 0 when given as steps x batch_size */
    uint64_t steps;     /* optional: total = steps x batch_size samples (weights only) */
    uint64_t batch;     /* global batch in sequences; 0 = none (then ranks cannot slice) */
    hb_mix_balance balance;
    uint64_t size_cap;  /* for `weight: size`; 0 = no cap */
    int pack;           /* pack several samples per sequence */
    uint32_t pack_tokens; /* sequence capacity in tokens (default max_length + 1) */
    uint32_t pack_window; /* open sequences first-fit considers (default 8; 1 = keep order exactly) */
    uint32_t max_length;  /* the recipe's max_length (0 when absent) */
    size_t n;
    hb_mix_want *want;  /* in recipe order: the source order of the plan */
    size_t n_known;     /* names of the recipe's `sources:` section (empty when it has none) */
    char **known;
} hb_mix_spec;

/* Parse the mix section of an already loaded recipe tree. file names the recipe in errors; base_dir is the
 * directory relative paths are resolved against. Checks everything that does not need the shards: unknown keys,
 * negative / non-finite / all-zero weights, mixed kinds, names not in the recipe's `sources:`, conflicting options. */
int hb_mix_spec_parse(const cJSON *recipe, const char *file, const char *base_dir, hb_mix_spec *spec, hb_err *err);
int hb_mix_spec_load(const char *recipe_path, hb_mix_spec *spec, hb_err *err);
void hb_mix_spec_free(hb_mix_spec *spec);
const char *hb_mix_unit_name(hb_mix_unit u);   /* "samples", "tokens", "supervised_tokens", "image_tokens" */
const char *hb_mix_kind_name(hb_mix_kind k);   /* "weight", "repeat", "count" */

/* ---------------------------------------------------------------------------------------------------------------
 * Input: the sources to mix, their shards and per-sample lengths
 * ------------------------------------------------------------------------------------------------------------- */
/* Per-sample lengths as stored in the lengths cache: 12 bytes per sample, three little-endian u32:
 * n_tokens, n_supervised, n_image_tokens (the sample record's counts, docs/shard-format.md). */
#define HB_MIX_LEN_BYTES 12

typedef struct {
    char *file;           /* shard file name inside the shards directory */
    uint32_t source;      /* index into the input's sources */
    uint64_t n;           /* records */
    uint64_t first;       /* index of its first record within its source */
    uint64_t xxh3;        /* the shard checksum (trailer) */
    uint64_t units[4];    /* totals by hb_mix_unit (units[0] == n) */
    const uint8_t *lens;  /* n x HB_MIX_LEN_BYTES, or NULL until lengths are loaded */
    void *map;            /* mmap of the cache file (internal) */
    size_t map_len;
    int owns_lens;        /* lens is malloc'd (internal) */
    int have_units;       /* units[1..3] are known (manifest or lengths); else filled when lengths load */
} hb_mix_shard;

typedef struct {
    char *name;
    uint64_t n;           /* samples */
    uint64_t units[4];    /* totals by hb_mix_unit */
    size_t first_shard, n_shards; /* its shards are input->shards[first_shard .. first_shard + n_shards) */
    int without_images;   /* the manifest lists it as built without its images (hb-prep --no-images, images: none) */
} hb_mix_source;

typedef struct {
    char *dir;              /* shards directory (NULL for hand-built inputs) */
    size_t n_sources, n_shards;
    hb_mix_source *sources; /* in the order of the names given to hb_mix_input_open */
    hb_mix_shard *shards;   /* grouped by source, each source's shards in manifest (or file name) order */
    size_t n_unused;        /* sources present in the directory but not requested */
    char **unused;
    uint64_t scanned;       /* samples whose lengths were read from shards (not from the cache) */
} hb_mix_input;

/* Open the shards of the named sources in dir: its manifest.json (else every *.hbs, sorted, with the source read
 * from each shard's first record). Opens every shard (header, trailer, index) and checks its checksum against the
 * manifest. Fails, naming the source or file, when a name has no shards, a shard is missing or changed, or a shard
 * holds more than 2^32 - 1 records. Lengths are not loaded yet. */
int hb_mix_input_open(hb_mix_input *in, const char *dir, const char *const *names, size_t n_names, hb_err *err);

/* Load every shard's per-sample lengths. With cache_dir (may be NULL) it first tries
 * cache_dir/<xxh3 hex>.hblen and writes missing or stale ones there (atomically); it scans the shards otherwise
 * (jobs threads, progress on stderr), checks each record's source name and that the sums equal the manifest
 * totals. When write_cache is 0 nothing is written. in->scanned counts samples read from shards. */
int hb_mix_input_lengths(hb_mix_input *in, const char *cache_dir, int write_cache, int jobs, hb_err *err);

/* Write the cache files of the shards whose lengths were scanned (not read from a cache) by an earlier
 * hb_mix_input_lengths(..., write_cache = 0): how hb_mix_run defers every write until the plan has succeeded. */
int hb_mix_input_save_lengths(const hb_mix_input *in, const char *cache_dir, hb_err *err);

/* Build an input by hand (tests, benchmarks): add sources in order; lens (n x HB_MIX_LEN_BYTES, may be NULL) is
 * copied. Each call adds one shard; a new source starts when name differs from the previous call's. */
void hb_mix_input_add(hb_mix_input *in, const char *source, const char *file, uint64_t n, uint64_t xxh3,
                      const uint8_t *lens);
void hb_mix_input_free(hb_mix_input *in);

/* Lengths of sample j (0-based, within its source) of source s; unit HB_MIX_SAMPLES gives 1. Lengths must be
 * loaded. */
uint32_t hb_mix_input_len(const hb_mix_input *in, size_t s, uint64_t j, hb_mix_unit unit);
/* The shard (index into in->shards) and record of sample j of source s. */
void hb_mix_input_locate(const hb_mix_input *in, size_t s, uint64_t j, uint32_t *shard, uint64_t *record);

/* ---------------------------------------------------------------------------------------------------------------
 * Seeded bijection over [0, n): a 4-round Feistel network over 2h bits (2^(2h) >= n) with cycle walking
 * (docs/mix-plan.md §3). No table: O(1) memory, a few hash rounds per call.
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    uint64_t n;
    uint32_t half_bits;
    uint64_t keys[4];
} hb_perm;

void hb_perm_init(hb_perm *p, uint64_t n, const uint64_t keys[4]);
uint64_t hb_perm_at(const hb_perm *p, uint64_t i); /* i < n; returns a value < n */
/* The permutation of pass `pass` over source `source` under seed (keys from hb_rng_for; docs/mix-plan.md §3). */
void hb_perm_for(hb_perm *p, uint64_t n, uint64_t seed, const char *source, uint64_t pass);
/* Same, from the per-source key hb_perm_source_key(seed, source) (cheap per pass). */
uint64_t hb_perm_source_key(uint64_t seed, const char *source);
void hb_perm_for_key(hb_perm *p, uint64_t n, uint64_t source_key, uint64_t pass);

/* ---------------------------------------------------------------------------------------------------------------
 * Interleaving: which source fills each position of the stream (docs/mix-plan.md §4)
 * ------------------------------------------------------------------------------------------------------------- */
/* counts[i] samples of source i, N = sum. Prefix mode: earliest-deadline-first over the windows that keep every
 * prefix of length t within |c_i(t) - t*counts[i]/N| < 1. Batch mode (batch > 0): every full batch of `batch`
 * positions holds floor or ceil of its share of each source (Pfair PD^2 over the remainders), positions inside a
 * batch ordered as in prefix mode, the final partial batch likewise. Totals are exact in both modes. */
typedef struct hb_mix_sched hb_mix_sched;

int hb_mix_sched_new(hb_mix_sched **s, size_t n_src, const uint64_t *counts, hb_mix_balance balance, uint64_t batch,
                     hb_err *err);
/* Next m source indices into out; returns 0, or HB_EINTERNAL if a guarantee could not be met (a bug) or
 * HB_ERANGE past the end. */
int hb_mix_sched_next(hb_mix_sched *s, uint32_t *out, size_t m, hb_err *err);
void hb_mix_sched_free(hb_mix_sched *s);

/* ---------------------------------------------------------------------------------------------------------------
 * Solve: exact per-source counts and the realised table
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    double target_share;    /* requested share of the unit */
    double realised_share;  /* realised share of the unit */
    uint64_t samples;       /* samples of this source in the stream */
    double passes;          /* samples / source size */
    uint64_t units[4];      /* realised totals by hb_mix_unit */
    uint32_t batch_min, batch_max; /* fewest / most samples in one full global batch (generate fills these) */
} hb_mix_row;

typedef struct {
    size_t n;
    hb_mix_row *rows;       /* one per spec source, in spec order */
    uint64_t samples;       /* stream length in samples */
    uint64_t units[4];      /* realised totals */
    /* filled by hb_mix_generate: */
    uint64_t sequences;     /* == samples unless packed */
    uint64_t packed_tokens; /* tokens inside sequences (packing) */
    double max_prefix_dev;  /* max over sources and prefixes of |c_i(t) - t n_i / N| (in samples) */
    uint64_t plan_hash;
} hb_mix_result;

/* Turn the spec into exact per-source sample counts (docs/mix-plan.md §2). Needs loaded lengths for units other
 * than samples and for the realised token columns. Fails on sources that cannot meet their weight (no samples, or
 * no tokens of the unit) and on an empty stream. */
int hb_mix_solve(const hb_mix_spec *spec, const hb_mix_input *in, hb_mix_result *res, hb_err *err);
void hb_mix_result_free(hb_mix_result *res);

/* ---------------------------------------------------------------------------------------------------------------
 * Generate the plan (docs/mix-plan.md §1 format). plan_path NULL = dry run (everything computed, nothing written).
 * shards_ref is the shards directory as recorded in the plan (relative to the plan's directory). jobs threads
 * resolve permutations; the output does not depend on it.
 * ------------------------------------------------------------------------------------------------------------- */
int hb_mix_generate(const hb_mix_spec *spec, const hb_mix_input *in, hb_mix_result *res, const char *plan_path,
                    const char *shards_ref, int jobs, hb_err *err);

/* The realised table: text (stdout), JSON and Markdown (written next to the plan). */
void hb_mix_report_text(const hb_mix_spec *spec, const hb_mix_input *in, const hb_mix_result *res, FILE *out);
void hb_mix_report_json(const hb_mix_spec *spec, const hb_mix_input *in, const hb_mix_result *res, hb_buf *out);
void hb_mix_report_md(const hb_mix_spec *spec, const hb_mix_input *in, const hb_mix_result *res, hb_buf *out);

/* Everything hb-mix RECIPE does: spec, input, lengths (cached in <out_dir>/lengths), solve, generate, reports
 * (<out_dir>/plan.hbmix, table.json, table.md), the table on out. Nothing is written when dry_run (the lengths
 * cache included) or when any input is bad. shards_dir / out_dir override the recipe when not NULL. */
typedef struct {
    const char *recipe;
    const char *shards_dir;
    const char *out_dir;
    int dry_run;
    int jobs;
} hb_mix_opts;
int hb_mix_run(const hb_mix_opts *o, FILE *out, hb_err *err);

/* ---------------------------------------------------------------------------------------------------------------
 * Reading a plan (what the trainer does)
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct hb_mix_plan hb_mix_plan;

typedef struct {
    uint32_t source;  /* index into the plan's sources */
    uint32_t shard;   /* index into the plan's shards */
    uint64_t record;  /* record within the shard */
} hb_mix_ref;

/* Maps the file and checks header, tables, sizes and the plan hash (one pass over the file). */
int hb_mix_plan_open(hb_mix_plan **p, const char *path, hb_err *err);
void hb_mix_plan_close(hb_mix_plan *p);
uint64_t hb_mix_plan_hash(const hb_mix_plan *p);
uint64_t hb_mix_plan_samples(const hb_mix_plan *p);
uint64_t hb_mix_plan_sequences(const hb_mix_plan *p); /* == samples unless packed */
uint64_t hb_mix_plan_batch(const hb_mix_plan *p);     /* global batch in sequences (0 = none) */
uint64_t hb_mix_plan_seed(const hb_mix_plan *p);
int hb_mix_plan_packed(const hb_mix_plan *p);
uint32_t hb_mix_plan_pack_tokens(const hb_mix_plan *p);
size_t hb_mix_plan_n_sources(const hb_mix_plan *p);
const char *hb_mix_plan_source(const hb_mix_plan *p, size_t i);
size_t hb_mix_plan_n_shards(const hb_mix_plan *p);
const char *hb_mix_plan_shard_file(const hb_mix_plan *p, size_t i);
uint64_t hb_mix_plan_shard_checksum(const hb_mix_plan *p, size_t i);
uint32_t hb_mix_plan_shard_source(const hb_mix_plan *p, size_t i);
uint64_t hb_mix_plan_shard_records(const hb_mix_plan *p, size_t i);
uint64_t hb_mix_plan_source_size(const hb_mix_plan *p, size_t i); /* samples the source has */
const char *hb_mix_plan_shards_dir(const hb_mix_plan *p); /* as recorded: relative to the plan's directory */
/* The shards directory as a usable path: the recorded one joined to the plan's directory (malloc'd). */
char *hb_mix_plan_shards_path(const hb_mix_plan *p);

/* Sample k of the stream (0 <= k < samples). */
int hb_mix_plan_sample(const hb_mix_plan *p, uint64_t k, hb_mix_ref *out, hb_err *err);
/* Sequence q: its samples are [*first, *first + *n). Unpacked plans: first = q, n = 1. */
int hb_mix_plan_sequence(const hb_mix_plan *p, uint64_t q, uint64_t *first, uint64_t *n, hb_err *err);
/* The sequences rank `rank` of `world` consumes from global batch g: [*first_seq, *first_seq + *n_seq). The global
 * batch must divide by world; the final partial batch is split the same way (its last ranks may get fewer). */
int hb_mix_plan_rank_slice(const hb_mix_plan *p, uint64_t g, uint32_t rank, uint32_t world, uint64_t *first_seq,
                           uint64_t *n_seq, hb_err *err);

/* Resume cursor: the plan hash and the index of the next sequence of the global stream. Text form
 * "<16 hex digits>:<decimal position>"; parse checks that it belongs to p. */
void hb_mix_cursor_format(const hb_mix_plan *p, uint64_t position, char *out, size_t n);
int hb_mix_cursor_parse(const hb_mix_plan *p, const char *text, uint64_t *position, hb_err *err);

/* ---------------------------------------------------------------------------------------------------------------
 * Inspecting a plan (hb-mix info / dump / verify)
 * ------------------------------------------------------------------------------------------------------------- */
/* Header, sources (planned samples / size) and shard count, as text. */
void hb_mix_plan_info(const hb_mix_plan *p, FILE *out);
/* One JSON object per sample of sequences [from, from + count) (count 0 = to the end), optionally only those rank
 * `rank` of `world` consumes (world 0 = all): {"seq":q,"sample":k,"source":..,"shard":..,"record":r[,"id":..]}.
 * With ids, the sample ids are read from the shards (shards_dir NULL = the plan's recorded directory). */
int hb_mix_plan_dump(const hb_mix_plan *p, uint64_t from, uint64_t count, uint32_t rank, uint32_t world, int ids,
                     const char *shards_dir, FILE *out, hb_err *err);
/* Every entry and sequence in range, and every shard present in shards_dir (NULL = recorded) with the recorded
 * record count and checksum. */
int hb_mix_plan_verify(const hb_mix_plan *p, const char *shards_dir, hb_err *err);

#endif
