/* lib/shard — shard files (format v1, docs/shard-format.md), the sample record they hold, and the manifest of an
 * output directory.
 *
 * A shard is a container of records grouped into zstd-compressed blocks with a footer index (u64 offsets, XXH3-64
 * per block and per shard). The container does not interpret records; its header names the schema. Two schemas
 * exist: "hb.sample/1" (training samples, hb_sample below) and "hb.image/1" (the image store, lib/shard/imgstore.h).
 *
 * Dependencies:
 *   core/core.h   hb_err, hb_arena, hb_buf, hb_hash128
 *   (impl) <zstd.h> ZSTD_compress/ZSTD_decompress; <cjson/cJSON.h> for the JSON forms; <sys/mman.h> for reading.
 */
#ifndef HB_SHARD_H
#define HB_SHARD_H

#include "core/core.h"

#define HB_SHARD_MAGIC "HBSHARD\0"
#define HB_SHARD_END_MAGIC "HBSHEND\0"
#define HB_SHARD_VERSION 1
#define HB_SHARD_HEADER_SIZE 32
#define HB_SHARD_INDEX_ENTRY 40
#define HB_SHARD_TRAILER_SIZE 48
#define HB_SCHEMA_SAMPLE "hb.sample/1"
#define HB_SCHEMA_IMAGE "hb.image/1"

/* ---------------------------------------------------------------------------------------------------------------
 * Container: writer
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    size_t block_bytes; /* target uncompressed block size; 0 -> 1 MiB. A block always holds >= 1 record. */
    int zstd_level;     /* 0 -> 3 */
} hb_shard_opts;

typedef struct {
    uint64_t records, blocks, bytes; /* bytes: final file size */
    uint64_t xxh3;                   /* the shard checksum stored in the trailer */
} hb_shard_info;

typedef struct hb_shard_writer hb_shard_writer;

/* Opens an atomic output file at path (appears only on close). opts may be NULL. */
int hb_shard_writer_open(hb_shard_writer **w, const char *path, const char *schema, const hb_shard_opts *opts,
                         hb_err *err);
int hb_shard_writer_add(hb_shard_writer *w, const void *rec, size_t len, hb_err *err);
/* Flushes the last block, writes index and trailer, commits the file. Frees w (also on error). info may be NULL. */
int hb_shard_writer_close(hb_shard_writer *w, hb_shard_info *info, hb_err *err);
/* Discards everything written (no file appears). */
void hb_shard_writer_abort(hb_shard_writer *w);

/* ---------------------------------------------------------------------------------------------------------------
 * Container: reader (random access and sequential iteration; one decompressed block cached)
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct hb_shard hb_shard;

/* Checks header, trailer and index (cheap); block checksums are checked when a block is first read. */
int hb_shard_open(hb_shard **s, const char *path, hb_err *err);
void hb_shard_close(hb_shard *s);
uint64_t hb_shard_count(const hb_shard *s);
uint64_t hb_shard_blocks(const hb_shard *s);
const char *hb_shard_schema(const hb_shard *s);
const char *hb_shard_path(const hb_shard *s);
uint64_t hb_shard_checksum(const hb_shard *s);
/* Record k: *rec points into the reader's block cache, valid until the next get on this reader. */
int hb_shard_get(hb_shard *s, uint64_t k, const uint8_t **rec, size_t *len, hb_err *err);
/* Full check: header, trailer, index hash, every block hash, every block's record table, and the shard hash.
 * On failure the error names the place (header / trailer / index / block k at byte X / record k). If check_record
 * is given it is called on every record (e.g. to decode samples) and its failure is reported with the record. */
typedef int (*hb_record_check_fn)(const uint8_t *rec, size_t len, void *ctx, hb_err *err);
int hb_shard_verify(const char *path, hb_record_check_fn check_record, void *ctx, hb_err *err);

/* ---------------------------------------------------------------------------------------------------------------
 * Samples (schema hb.sample/1)
 * ------------------------------------------------------------------------------------------------------------- */
typedef enum { HB_ROLE_SYSTEM = 0, HB_ROLE_HUMAN = 1, HB_ROLE_AI = 2 } hb_role;

typedef struct {
    uint8_t role;     /* hb_role */
    uint32_t len;     /* bytes of text (may contain NUL) */
    const char *text; /* UTF-8 */
} hb_turn;

/* The placeholder id of an image position in tokens (Honeybee: -1 repeated M times per image). */
#define HB_IMAGE_TOKEN (-1)

typedef struct {
    const char *id;          /* stable sample id, unique in an output directory: "<source>/<key>" */
    const char *source;      /* recipe source name ("vqav2", "gqa", ...) */
    const char *source_file; /* the raw file the sample came from, as named in the recipe */
    uint32_t n_records;
    const int64_t *records; /* 0-based positions of the raw records it was built from, in order */
    const char *choices;    /* a JSON object with the choices made while building it (template, option order,
                               dedup group, ...); "{}" when none. */
    uint32_t n_images;
    const hb_hash128 *images; /* content hashes (XXH3-128 of the image file bytes), in order of use */
    uint32_t n_turns;
    const hb_turn *turns; /* the rendered conversation */
    uint32_t n_tokens;
    const int32_t *tokens;     /* token ids; HB_IMAGE_TOKEN for image positions */
    const uint8_t *loss_mask;  /* 1 where the token is supervised */
    uint32_t n_supervised;     /* filled in by hb_sample_encode from loss_mask */
    uint32_t n_image_tokens;   /* filled in by hb_sample_encode from tokens */
} hb_sample;

/* Append the binary form of *s to out (the counts are computed, not trusted). */
void hb_sample_encode(const hb_sample *s, hb_buf *out);
/* Decode rec into *s; strings and arrays are copied into the arena. Fails with HB_EFORMAT on any inconsistency,
 * including a NUL byte in id, source, source_file or choices, choices that are not a JSON object and record positions
 * beyond +-2^53 (what the JSON form holds). */
int hb_sample_decode(const uint8_t *rec, size_t len, hb_sample *s, hb_arena *a, hb_err *err);
/* One JSON object, no trailing newline (the dump format, docs/shard-format.md). */
void hb_sample_to_json(const hb_sample *s, hb_buf *out);
/* Parse the dump format back (the inverse of hb_sample_to_json); line is used in errors. */
int hb_sample_from_json(const char *json, size_t len, hb_sample *s, hb_arena *a, hb_err *err);
const char *hb_role_name(uint8_t role);
int hb_role_parse(const char *name); /* -1 when unknown */

/* Sample-level convenience over the container. */
int hb_shard_get_sample(hb_shard *s, uint64_t k, hb_sample *out, hb_arena *a, hb_err *err);

/* ---------------------------------------------------------------------------------------------------------------
 * Manifest of an output directory: manifest.json (docs/shard-format.md §Manifest)
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    char *path;   /* shard file name, relative to the directory */
    char *source; /* source name of the samples in it */
    char *schema;
    uint64_t samples, tokens, supervised_tokens, image_tokens, bytes, xxh3;
} hb_manifest_shard;

/* All strings are malloc'd and owned by the manifest (set them with hb_xstrdup); hb_manifest_free frees them. */
typedef struct {
    char *tool;        /* "hb-prep 0.1.0" */
    char *recipe_hash; /* hex XXH3-64 of the recipe file bytes ("" when none) */
    char *extra_json;  /* optional JSON object text merged under "info" (NULL: none) */
    size_t n_shards;
    hb_manifest_shard *shards;
} hb_manifest;

void hb_manifest_add(hb_manifest *m, const hb_manifest_shard *sh); /* copies strings */
int hb_manifest_write(const hb_manifest *m, const char *dir, hb_err *err);
int hb_manifest_load(hb_manifest *m, const char *dir, hb_err *err);
void hb_manifest_free(hb_manifest *m);

/* The shard files behind PATH: PATH itself when it is a file; for a directory, the shards its manifest.json lists
 * (in manifest order) or, without a manifest, every "*.hbs" file in it, sorted by name. */
int hb_shard_paths(const char *path, char ***paths, size_t *n, hb_err *err);
void hb_shard_paths_free(char **paths, size_t n);

/* ---------------------------------------------------------------------------------------------------------------
 * Inspection (what hb-inspect prints); PATH as in hb_shard_paths.
 * ------------------------------------------------------------------------------------------------------------- */
/* One JSON object per sample per line (hb_sample_to_json). */
int hb_inspect_dump(const char *path, FILE *out, hb_err *err);
/* Every checksum, the index and every sample of every shard; for a directory also the manifest's counts and
 * checksums. Prints one "ok" line per shard to out (may be NULL); stops at the first bad place. */
int hb_inspect_verify(const char *path, FILE *out, hb_err *err);
/* Per source: samples, tokens, supervised and image tokens, images, mean/max length; as a table or JSON. */
int hb_inspect_stats(const char *path, int json, FILE *out, hb_err *err);
/* The inverse of dump: JSON lines (hb_sample_from_json) to one shard file. */
int hb_inspect_pack(FILE *in, const char *in_name, const char *out_path, const hb_shard_opts *opts, hb_err *err);

/* Stats of a sample shard, for writers that fill manifests: sums over its samples. */
typedef struct {
    uint64_t samples, tokens, supervised_tokens, image_tokens;
} hb_sample_totals;

/* A sample shard writer that also keeps totals: the usual way to write hb.sample/1 shards. */
typedef struct {
    hb_shard_writer *w;
    hb_buf scratch;
    hb_sample_totals totals;
} hb_sample_writer;

int hb_sample_writer_open(hb_sample_writer *sw, const char *path, const hb_shard_opts *opts, hb_err *err);
int hb_sample_writer_add(hb_sample_writer *sw, const hb_sample *s, hb_err *err);
int hb_sample_writer_close(hb_sample_writer *sw, hb_shard_info *info, hb_err *err);
void hb_sample_writer_abort(hb_sample_writer *sw);

#endif
