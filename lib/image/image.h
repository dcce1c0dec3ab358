/* lib/image — images from folders and archives, verified once and preprocessed the way Honeybee does (docs/images.md).
 *
 *   decode   format from the bytes (JPEG, PNG, GIF, BMP), converted to RGB as Pillow's Image.convert("RGB") does
 *   resize   Pillow's antialiased bicubic Image.resize, bit for bit (squash to S×S, no crop)
 *   archive  zip and tar read in place through libarchive, with an entry index for random access by name
 *   root     an image root (folder or archive) that resolves the relative paths samples name, safely
 *   ingest   what hb-prep calls per image: resolve, hash, verify, preprocess, store once (lib/shard/imgstore.h)
 *
 * Pixels are uint8 RGB, row-major, [height][width][3] (grayscale buffers [height][width]). Sizes are in pixels.
 * Everything here is thread-safe unless a function says otherwise; the CLIP mean/std normalisation is the trainer's.
 *
 * Dependencies:
 *   core/core.h          hb_err, hb_buf, hb_hash128
 *   (impl) <jpeglib.h>   libjpeg-turbo: JPEG decoding (ISLOW DCT, fancy upsampling, as Pillow)
 *   (impl) <png.h>       libpng: PNG decoding and the PNG writer
 *   (impl) stb_image.h   16/24/32-bit BMP decoding (private to bmp.c)
 *   (impl) <archive.h>   libarchive: zip and tar entries
 *   (impl) shard/imgstore.h  the image store that ingest writes
 */
#ifndef HB_IMAGE_H
#define HB_IMAGE_H

#include "core/core.h"

/* ---------------------------------------------------------------------------------------------------------------
 * Formats and reject reasons
 * ------------------------------------------------------------------------------------------------------------- */
typedef enum { HB_IMGFMT_UNKNOWN = 0, HB_IMGFMT_JPEG = 1, HB_IMGFMT_PNG = 2, HB_IMGFMT_GIF = 3, HB_IMGFMT_BMP = 4 } hb_imgfmt;

/* "jpeg", "png", "gif", "bmp", "unknown". */
const char *hb_imgfmt_name(int fmt);
/* The format from the first bytes (real datasets hold PNGs named .jpg); HB_IMGFMT_UNKNOWN when none matches. */
hb_imgfmt hb_image_sniff(const uint8_t *p, size_t n);

/* Why an image was not accepted. The names (hb_img_reject_name) are what rejects reports print. */
typedef enum {
    HB_IMG_OK = 0,
    HB_IMG_MISSING,     /* "missing": no such file or archive entry */
    HB_IMG_UNSAFE_PATH, /* "unsafe-path": absolute path, "..", empty component or NUL in a path or an entry name */
    HB_IMG_EMPTY,       /* "empty": zero bytes */
    HB_IMG_UNSUPPORTED, /* "unsupported": not JPEG/PNG/GIF/BMP by its bytes, or a variant hb does not decode */
    HB_IMG_TRUNCATED,   /* "truncated": the data ends before the image does */
    HB_IMG_CORRUPT,     /* "corrupt": invalid data (bad marker, checksum, LZW code, dimensions, ...) */
    HB_IMG_TOO_LARGE,   /* "too-large": width*height over the pixel limit (decompression bomb) or file too big */
    HB_IMG_UNREADABLE,  /* "unreadable": permission denied, not a regular file, unreadable archive entry */
    HB_IMG_N_REASONS
} hb_img_reject;

const char *hb_img_reject_name(int reason);

/* ---------------------------------------------------------------------------------------------------------------
 * Decoding and preprocessing
 * ------------------------------------------------------------------------------------------------------------- */
/* Pillow raises DecompressionBombError above 2 * Image.MAX_IMAGE_PIXELS = 2 * 89,478,485 pixels. */
#define HB_IMAGE_MAX_PIXELS 178956970ull

typedef struct {
    uint64_t max_pixels; /* reject images with more pixels; 0 -> HB_IMAGE_MAX_PIXELS */
    int fast;            /* JPEG only: let libjpeg scale by 1/2, 1/4 or 1/8 in the DCT domain while the scaled image
                            stays at least the target size in both axes, then resize. Not Pillow-exact: the measured
                            error is in docs/images.md. 0 = exact. */
    int legacy_resize;   /* 1: always run the horizontal pass first, as Pillow <= 12 (and so the Honeybee release)
                            did. 0: Pillow 13's order, which runs the vertical pass first when the height shrinks by
                            more than twice as many pixels as the width. The two differ by a few levels on some
                            pixels of such images. */
} hb_image_opts;

typedef struct {
    int format;                 /* hb_imgfmt */
    uint32_t width, height;     /* of the original image */
    int reject;                 /* hb_img_reject: HB_IMG_OK, or why decoding failed */
} hb_image_info;

/* Decode to RGB as Pillow's Image.open(...).convert("RGB") does; *rgb is malloc'd [height][width][3].
 * Returns 0, or an hb_code with info->reject set (HB_EFORMAT for truncated/corrupt data, HB_EUNSUPPORTED, HB_ERANGE for
 * the pixel limit) and err naming the reason. opts may be NULL (exact, default limit). */
int hb_image_decode(const uint8_t *p, size_t n, const hb_image_opts *opts, hb_image_info *info, uint8_t **rgb,
                    hb_err *err);

/* Decode and squash-resize to out_w x out_h as Honeybee's preprocessing does (Pillow convert("RGB"), then
 * resize((out_w, out_h), BICUBIC)); out holds out_w*out_h*3 bytes. Decoding streams rows into the resizer, so a JPEG
 * or non-interlaced PNG never exists at full size in memory. Errors as hb_image_decode. */
int hb_image_prepare(const uint8_t *p, size_t n, uint32_t out_w, uint32_t out_h, const hb_image_opts *opts,
                     hb_image_info *info, uint8_t *out, hb_err *err);

/* Pillow's Image.resize((out_w, out_h), Image.BICUBIC) of an 8-bit image with ch = 1 (L) or 3 (RGB) channels:
 * separable, support 2 scaled by the downscale factor, 22-bit fixed-point coefficients, uint8 rounding and clipping
 * after each pass, pass order as opts->legacy_resize says (opts may be NULL). Bit-exact with Pillow.
 * out holds out_w*out_h*ch bytes. */
int hb_image_resize(const uint8_t *in, uint32_t w, uint32_t h, uint32_t ch, uint8_t *out, uint32_t out_w,
                    uint32_t out_h, const hb_image_opts *opts, hb_err *err);

/* Write an RGB image as an 8-bit PNG, atomically (for people to look at: hb-inspect image). */
int hb_image_write_png(const char *path, const uint8_t *rgb, uint32_t w, uint32_t h, hb_err *err);

/* ---------------------------------------------------------------------------------------------------------------
 * Archives: zip and tar, read in place
 *
 * Opening builds an index once: for zip from the central directory (zip64 included); for tar by one pass over the
 * headers with libarchive, skipping the data with seeks. Reading entry i then starts a libarchive reader at that
 * entry's header (pread on the archive's file descriptor), so reads are random access, thread-safe and never touch
 * the disk. Compressed tars (.tar.gz, ...) cannot be read at random and are refused at open with that reason.
 * Names are normalised ("./" and repeated '/' removed); entries that are not regular files are left out of the index;
 * when a name occurs twice the later entry wins, as extraction would have it. Entries whose names are absolute or
 * contain ".." stay in the index marked unsafe: reading them is refused (HB_IMG_UNSAFE_PATH).
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct hb_archive hb_archive;

int hb_archive_open(hb_archive **a, const char *path, hb_err *err);
void hb_archive_close(hb_archive *a);
const char *hb_archive_path(const hb_archive *a);
/* "zip" or "tar" */
const char *hb_archive_kind(const hb_archive *a);
size_t hb_archive_count(const hb_archive *a);
/* Entry i, in archive order: normalised name, uncompressed size in bytes, unsafe flag. */
const char *hb_archive_name(const hb_archive *a, size_t i);
uint64_t hb_archive_size(const hb_archive *a, size_t i);
int hb_archive_unsafe(const hb_archive *a, size_t i);
/* The entry with this name (normalised first), or -1. When every entry lies under one top-level folder (COCO's
 * train2014.zip holds train2014/...), a name without that folder is found too. */
int64_t hb_archive_find(const hb_archive *a, const char *name);
/* The bytes of entry i into out (replacing its contents). max_bytes > 0 refuses larger entries (HB_ERANGE).
 * Unsafe entries fail with HB_EINVAL. */
int hb_archive_read(hb_archive *a, size_t i, hb_buf *out, uint64_t max_bytes, hb_err *err);

/* ---------------------------------------------------------------------------------------------------------------
 * Image roots: a folder, a .zip or a tar (told apart by the bytes, not the name)
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct hb_imgroot hb_imgroot;

int hb_imgroot_open(hb_imgroot **r, const char *path, hb_err *err);
void hb_imgroot_close(hb_imgroot *r);
const char *hb_imgroot_path(const hb_imgroot *r);
int hb_imgroot_is_archive(const hb_imgroot *r);
/* Normalise a relative image path in place ("./a//b.jpg" -> "a/b.jpg"). Returns HB_IMG_OK, or HB_IMG_UNSAFE_PATH for
 * an empty path, an absolute path or a ".." component. */
int hb_image_path_normalize(char *path);
/* The bytes of relpath under the root into out. Returns 0; or an hb_code with *why set to HB_IMG_MISSING,
 * HB_IMG_UNSAFE_PATH, HB_IMG_UNREADABLE or HB_IMG_TOO_LARGE (files over max_bytes when max_bytes > 0) and err naming
 * the file (and the entry). Thread-safe. */
int hb_imgroot_read(hb_imgroot *r, const char *relpath, hb_buf *out, uint64_t max_bytes, int *why, hb_err *err);

/* ---------------------------------------------------------------------------------------------------------------
 * Ingest: what hb-prep calls for every image a sample uses
 *
 * Each distinct (root, path) is read, hashed (XXH3-128 of the file bytes, the sample's image reference), decoded,
 * checked and resized to S×S once; each distinct hash is stored once in <out_dir>/images/<S>.hbs whatever the number
 * of paths and sources that name it. Several threads may call hb_ingest_image at once; the store that
 * hb_ingest_finish writes is byte-identical for any thread count and call order (records sorted by hash, each
 * image's origin the smallest "<root>//<path>" that named it). A rejected image is not an error: the call returns 0
 * with *why set, the caller drops the samples that need it, and finish reports it once.
 * ------------------------------------------------------------------------------------------------------------- */
/* One line of the rejects report: file is the image file or the archive, entry the path inside an archive ("" for a
 * folder root), reason an hb_img_reject, detail the decoder's or the system's words. */
typedef void (*hb_ingest_reject_fn)(void *ctx, const char *file, const char *entry, int reason, const char *detail);

typedef struct {
    uint32_t size;            /* S: images are stored S×S×3 (224 or 336 for Honeybee); required */
    hb_image_opts image;      /* decoding options (pixel limit, fast JPEG mode) */
    uint64_t max_file_bytes;  /* larger files are rejected too-large; 0 -> 1 GiB */
    hb_ingest_reject_fn on_reject; /* called by hb_ingest_finish once per rejected (file, entry), sorted; may be NULL */
    void *ctx;
} hb_ingest_opts;

typedef struct {
    uint64_t requests;            /* hb_ingest_image/bytes calls */
    uint64_t paths;               /* distinct (root, path) resolved */
    uint64_t stored;              /* distinct images in the store */
    uint64_t duplicates;          /* distinct paths whose bytes were already stored under another path */
    uint64_t rejected;            /* distinct paths rejected */
    uint64_t by_reason[HB_IMG_N_REASONS]; /* rejected paths per reason */
    uint64_t bytes_read;          /* image file bytes read */
    uint64_t store_bytes;         /* size of the store file */
} hb_ingest_stats;

typedef struct hb_ingest hb_ingest;

/* Creates <out_dir>/images/ (nothing else is written anywhere until finish, except a temporary spill file in it). */
int hb_ingest_open(hb_ingest **g, const char *out_dir, const hb_ingest_opts *opts, hb_err *err);
/* Register an image root (folder or archive; archives are indexed now). The same path twice gives the same id.
 * Not thread-safe: add the roots before workers start. */
int hb_ingest_add_root(hb_ingest *g, const char *path, int *root_id, hb_err *err);
/* How the store's origins and the rejects name a root (default: its path as given to add_root), e.g. as a recipe
 * writes it, so that the outputs do not depend on the working directory. The first name given sticks. */
void hb_ingest_name_root(hb_ingest *g, int root_id, const char *name);
/* Resolve relpath under root, then as hb_ingest_bytes. Returns 0 with *why = HB_IMG_OK and *hash set, or 0 with
 * *why the reject reason; an hb_code only for failures that should stop the run (the store cannot be written). */
int hb_ingest_image(hb_ingest *g, int root_id, const char *relpath, hb_hash128 *hash, int *why, hb_err *err);
/* Bytes the caller already holds (a webdataset member, say); origin names them in the store and rejects report. */
int hb_ingest_bytes(hb_ingest *g, const char *origin, const uint8_t *p, size_t n, hb_hash128 *hash, int *why,
                    hb_err *err);
/* Writes the store and its hash index atomically, reports the rejects (sorted), fills st (may be NULL), frees g. */
int hb_ingest_finish(hb_ingest *g, hb_ingest_stats *st, hb_err *err);
/* Discards everything (no store appears; a store from an earlier run stays as it was). */
void hb_ingest_abort(hb_ingest *g);

/* ---------------------------------------------------------------------------------------------------------------
 * Inspection: hb-inspect image PATH SAMPLE -o out.png
 * ------------------------------------------------------------------------------------------------------------- */
/* Find sample SAMPLE (an id, or a 0-based index over the directory's samples in shard order) in the prep output
 * directory dir, take its image number image_index, read it from the directory's image store (size 0: the only
 * store there) and write it to out_png. One line describing it goes to info (may be NULL). */
int hb_inspect_image(const char *dir, const char *sample, uint32_t image_index, uint32_t size, const char *out_png,
                     FILE *info, hb_err *err);

#endif
