/* lib/shard/imgstore — the content-addressed image store of an output directory (docs/images.md).
 *
 * <dir>/images/<S>.hbs   shard container (docs/shard-format.md), schema "hb.image/1": one record per distinct image,
 *                        S×S×3 uint8 RGB pixels preprocessed once, sorted by content hash, one record per block
 * <dir>/images/<S>.hbi   hash index: the sorted XXH3-128 hashes, so record k is the image with hash k; lookup is
 *                        a binary search over a memory map, no scan
 *
 * The hash is XXH3-128 of the original file bytes (what samples store); the same file reached through several
 * sources or paths is stored once per resolution. Pixels are stored losslessly (left-neighbour delta + zstd inside
 * the record) with an XXH3-64 of the pixels checked on every read.
 *
 * Dependencies:
 *   shard/shard.h  the container writer/reader and verifier
 *   core/core.h    hb_err, hb_hash128, hb_buf
 *   (impl) <zstd.h>, <pthread.h> (the writer and the reader pool are thread-safe), <sys/mman.h> (the index)
 */
#ifndef HB_IMGSTORE_H
#define HB_IMGSTORE_H

#include "core/core.h"
#include "shard/shard.h"

#define HB_IMGSTORE_DIR "images"
#define HB_IMGINDEX_MAGIC "HBIMGIX\0"
#define HB_IMGINDEX_END_MAGIC "HBIXEND\0"
#define HB_IMGINDEX_VERSION 1
#define HB_IMGINDEX_HEADER 32
#define HB_IMGINDEX_TRAILER 16
/* Record encodings of the pixel payload. */
#define HB_IMGENC_RAW 0
#define HB_IMGENC_DELTA_ZSTD 1

/* One image of the store. Strings and pixels belong to whoever filled the struct. */
typedef struct {
    hb_hash128 hash;        /* XXH3-128 of the original file bytes */
    uint32_t width, height; /* of the original image */
    uint8_t format;         /* 1 jpeg, 2 png, 3 gif, 4 bmp (hb_imgfmt in image/image.h) */
    uint32_t size;          /* S: pixels are [S][S][3] */
    const char *origin;     /* where the file was found: "<root>//<path>" (the smallest such string) */
    const uint8_t *pixels;  /* S*S*3 bytes, RGB, row-major */
} hb_image_rec;

/* "<dir>/images/<S>.hbs" and ".hbi" (malloc'd). */
char *hb_imgstore_path(const char *dir, uint32_t size);
char *hb_imgstore_index_path(const char *dir, uint32_t size);
/* The resolutions stored in dir (ascending), at most max of them; returns how many there are. */
int hb_imgstore_sizes(const char *dir, uint32_t *sizes, int max);

/* Encode/decode one hb.image/1 record (decode checks every field and the pixel checksum; pixels go to out_pixels,
 * S*S*3 bytes, when not NULL; the origin is copied into origin[origin_cap]). Without out_pixels the payload is still
 * checked to be able to hold S*S*3 bytes, so a caller may allocate that after a first call without pixels. */
void hb_image_rec_encode(const hb_image_rec *r, hb_buf *out);
int hb_image_rec_decode(const uint8_t *rec, size_t len, hb_image_rec *r, uint8_t *out_pixels, char *origin,
                        size_t origin_cap, hb_err *err);

/* ---------------------------------------------------------------------------------------------------------------
 * Writer: thread-safe. Records go to a spill file in <dir>/images/ as they arrive (compressed by the calling
 * thread); close sorts them by hash and writes the store and its index atomically, so the result does not depend on
 * the thread count or arrival order.
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct hb_imgstore_writer hb_imgstore_writer;

typedef struct {
    uint64_t images;       /* records in the store */
    uint64_t duplicates;   /* adds whose hash was already there */
    uint64_t bytes;        /* store file size */
    uint64_t xxh3;         /* the store's shard checksum */
} hb_imgstore_info;

int hb_imgstore_writer_open(hb_imgstore_writer **w, const char *dir, uint32_t size, hb_err *err);
/* 1 when an image with this hash was added (its origin becomes the smaller of the two when origin != NULL). */
int hb_imgstore_writer_note(hb_imgstore_writer *w, hb_hash128 hash, const char *origin);
/* Add an image (r->size must be the store's); a hash already present is not stored again. */
int hb_imgstore_writer_add(hb_imgstore_writer *w, const hb_image_rec *r, hb_err *err);
/* Writes <S>.hbs then <S>.hbi, removes the spill file, frees w (also on error). info may be NULL. */
int hb_imgstore_writer_close(hb_imgstore_writer *w, hb_imgstore_info *info, hb_err *err);
void hb_imgstore_writer_abort(hb_imgstore_writer *w);

/* ---------------------------------------------------------------------------------------------------------------
 * Reader: thread-safe (a small pool of shard handles, one per concurrent call).
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct hb_imgstore hb_imgstore;

typedef struct {
    hb_hash128 hash;
    uint32_t width, height, size;
    uint8_t format;
    char origin[1024];
} hb_image_meta;

/* Opens <dir>/images/<size>.hbs and its index (size 0: the only store in dir). Checks the index (checksum, order,
 * count and the store checksum it names). */
int hb_imgstore_open(hb_imgstore **s, const char *dir, uint32_t size, hb_err *err);
void hb_imgstore_close(hb_imgstore *s);
uint64_t hb_imgstore_count(const hb_imgstore *s);
uint32_t hb_imgstore_size(const hb_imgstore *s);
/* Record number of hash, or HB_ENOTFOUND (no error filled). */
int hb_imgstore_find(const hb_imgstore *s, hb_hash128 hash, uint64_t *k);
/* Pixels ([S][S][3], S*S*3 bytes) and metadata (may be NULL) of the image with this hash. */
int hb_imgstore_get(hb_imgstore *s, hb_hash128 hash, uint8_t *pixels, hb_image_meta *meta, hb_err *err);
/* The same by record number (0 .. count-1, ascending hash). */
int hb_imgstore_get_at(hb_imgstore *s, uint64_t k, uint8_t *pixels, hb_image_meta *meta, hb_err *err);
/* Everything: the store's container checks, every record decoded with its pixel checksum, the index's checksum,
 * order and agreement with the records. */
int hb_imgstore_verify(const char *dir, uint32_t size, hb_err *err);

/* Merge the size-S stores of in_dirs into out_dir's (for hb-prep --shard i/N, or a sweep adding to shared images):
 * every hash once, in hash order, keeping the smallest origin; payloads are copied, not recompressed. The same inputs
 * in any order give the same bytes, and the same bytes as one ingest of all their images. out_dir may be one of
 * in_dirs: its store is replaced atomically at the end. info->duplicates counts hashes found in several inputs. */
int hb_imgstore_merge(const char *out_dir, uint32_t size, const char *const *in_dirs, size_t n, hb_imgstore_info *info,
                      hb_err *err);

#endif
