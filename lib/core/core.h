/* lib/core — the ground floor of libhb: errors as values, arenas, growable buffers, atomic output files,
 * a progress reporter, XXH3 hashing and a counter-based seeded RNG.
 *
 * Dependencies:
 *   <stdint.h>, <stddef.h>, <stdio.h>  fixed-width integers, size_t, FILE
 *   (implementation) libxxhash         XXH3_64bits_withSeed, XXH3_128bits, streaming state
 *
 * Conventions used everywhere in libhb:
 *   - A function that can fail returns int: 0 on success, an hb_code otherwise, and fills the caller's hb_err
 *     (which may be NULL) with the file, record/byte position and reason. The library never calls exit().
 *   - Public names are hb_<module>_<verb>; types are hb_<thing>_t.
 */
#ifndef HB_CORE_H
#define HB_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HB_VERSION "0.1.0"

/* ---------------------------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------------------------- */
typedef enum {
    HB_OK = 0,
    HB_EIO,          /* open/read/write/rename failed (errno text in the reason) */
    HB_EFORMAT,      /* malformed input: bad magic, bad JSON, wrong field type, ... */
    HB_ECHECKSUM,    /* a stored hash does not match the data */
    HB_ENOMEM,       /* allocation failed */
    HB_EINVAL,       /* bad argument or option */
    HB_ENOTFOUND,    /* missing file, key or sample */
    HB_EUNSUPPORTED, /* valid input this version cannot handle */
    HB_ERANGE,       /* an index or size out of range */
    HB_EINTERNAL,    /* an invariant broke: a bug in hb */
    HB_EINTR         /* interrupted (SIGINT/SIGTERM, hb_interrupted) */
} hb_code;

#define HB_NOPOS (-1LL)

typedef struct {
    hb_code code;
    char file[512];   /* the input or output the error is about ("" when none) */
    long long record; /* 0-based record / sample / line index, HB_NOPOS when unknown */
    long long offset; /* byte offset, HB_NOPOS when unknown */
    char reason[1024];
} hb_err;

/* Fill *e (when e != NULL) and return code. file may be NULL. */
int hb_err_set(hb_err *e, hb_code code, const char *file, long long record, long long offset, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Same, with the errno text appended to the reason: "reason: No such file or directory". */
int hb_err_errno(hb_err *e, hb_code code, const char *file, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Prefix more context onto an existing reason ("while reading X: <old reason>"). */
void hb_err_prefix(hb_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hb_err_clear(hb_err *e);
/* "file: record 12: byte 345: reason" (parts that are unknown are left out). Returns buf. */
const char *hb_err_format(const hb_err *e, char *buf, size_t n);
const char *hb_code_name(hb_code c);

/* ---------------------------------------------------------------------------------------------------------------
 * Memory: checked allocation, arenas, growable byte buffers
 * ------------------------------------------------------------------------------------------------------------- */
/* malloc/realloc that return NULL only for size 0; they abort the process on out-of-memory, which is the one
 * exception to "never exit": no caller can recover from it meaningfully and checking every string copy is noise. */
void *hb_xmalloc(size_t n);
void *hb_xcalloc(size_t n, size_t size);
void *hb_xrealloc(void *p, size_t n);
char *hb_xstrdup(const char *s);

typedef struct hb_arena_block hb_arena_block;
typedef struct {
    hb_arena_block *head;
    size_t block_size; /* default size of new blocks (bytes) */
    size_t used;       /* bytes handed out since the last reset */
} hb_arena;

void hb_arena_init(hb_arena *a, size_t block_size); /* block_size 0 -> 64 KiB */
void *hb_arena_alloc(hb_arena *a, size_t n);        /* 16-byte aligned, never NULL (aborts on OOM) */
void *hb_arena_calloc(hb_arena *a, size_t n);
char *hb_arena_strdup(hb_arena *a, const char *s);
char *hb_arena_strndup(hb_arena *a, const char *s, size_t n);
void *hb_arena_memdup(hb_arena *a, const void *p, size_t n);
char *hb_arena_printf(hb_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hb_arena_reset(hb_arena *a); /* keeps the first block, frees the rest */
void hb_arena_free(hb_arena *a);

typedef struct {
    uint8_t *data;
    size_t len, cap;
} hb_buf;

void hb_buf_reserve(hb_buf *b, size_t extra);
void hb_buf_append(hb_buf *b, const void *p, size_t n);
void hb_buf_putc(hb_buf *b, int c);
void hb_buf_puts(hb_buf *b, const char *s);
void hb_buf_printf(hb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hb_buf_put_u8(hb_buf *b, uint8_t v);
void hb_buf_put_u16(hb_buf *b, uint16_t v); /* little-endian */
void hb_buf_put_u32(hb_buf *b, uint32_t v);
void hb_buf_put_u64(hb_buf *b, uint64_t v);
/* Append code point cp (<= 0x10FFFF) as UTF-8. */
void hb_buf_put_utf8(hb_buf *b, uint32_t cp);
/* Append s as a JSON string literal (quotes included; control characters, quote and backslash escaped; invalid
 * UTF-8 bytes written as \u00XX of the byte value so the output is always valid JSON). */
void hb_buf_put_json_str(hb_buf *b, const char *s, size_t n);
const char *hb_buf_cstr(hb_buf *b); /* NUL-terminates (not counted in len) and returns data */
void hb_buf_clear(hb_buf *b);
void hb_buf_free(hb_buf *b);

/* UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
size_t hb_utf8_len(const uint8_t *s, size_t n);  /* length (1..4) of the valid sequence at s, 0 when invalid */
int hb_utf8_valid(const uint8_t *s, size_t n);   /* 1 when all n bytes are valid UTF-8 */
uint32_t hb_utf8_cp(const uint8_t *s, size_t k); /* the code point of a valid k-byte sequence */

/* Little-endian loads from unaligned memory. */
static inline uint16_t hb_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t hb_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t hb_le64(const uint8_t *p) { return (uint64_t)hb_le32(p) | (uint64_t)hb_le32(p + 4) << 32; }

/* ---------------------------------------------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------------------------------------------- */
/* Read a whole file into a NUL-terminated malloc'd buffer. */
int hb_file_read_all(const char *path, uint8_t **out, size_t *len, hb_err *err);
int hb_mkdir_p(const char *path, hb_err *err);
int hb_path_exists(const char *path);
int hb_path_is_dir(const char *path);
/* Join dir and name with one '/' into a malloc'd string. */
char *hb_path_join(const char *dir, const char *name);
/* Lexical clean-up in place: repeated '/' and "." segments removed, "x/.." collapsed where x is a name (leading
 * ".." of a relative path kept), no trailing '/'; "" becomes ".". Does not touch the file system (a symlinked
 * directory followed by ".." is resolved lexically, as most shells' `cd` does). */
void hb_path_normalize(char *path);
/* rel relative to base_dir (rel unchanged when absolute or base_dir is NULL/""), normalised; malloc'd. */
char *hb_path_resolve(const char *base_dir, const char *rel);

/* An output file that appears under its final name only when complete: data goes to "<path>.tmp.<random>" in the
 * same directory; commit flushes, fsyncs, renames over <path> and fsyncs the directory. abort (or a crash) leaves
 * the final name untouched (a previous version stays intact) and abort removes the temporary. */
typedef struct {
    FILE *fp;
    char *path;
    char *tmp_path;
    int failed; /* a write failed; commit will refuse */
    char failure[256];
} hb_afile;

int hb_afile_open(hb_afile *f, const char *path, hb_err *err);
int hb_afile_write(hb_afile *f, const void *p, size_t n, hb_err *err);
int64_t hb_afile_tell(const hb_afile *f);
int hb_afile_commit(hb_afile *f, hb_err *err);
void hb_afile_abort(hb_afile *f);
/* Convenience: write a whole buffer atomically. */
int hb_write_file_atomic(const char *path, const void *p, size_t n, hb_err *err);

/* ---------------------------------------------------------------------------------------------------------------
 * Progress on stderr: "label  12,345/100,000  12.3%  4,567/s  ETA 0:00:17". Redraws in place at most ~10 times a
 * second when stderr is a TTY; prints nothing otherwise. HB_PROGRESS=0 silences it, HB_PROGRESS=1 forces it on
 * (one line per redraw, for logs). Thread-safe: several threads may call hb_progress_add.
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct hb_progress hb_progress;
hb_progress *hb_progress_start(const char *label, uint64_t total /* 0 = unknown */, const char *unit);
void hb_progress_add(hb_progress *p, uint64_t n);
void hb_progress_set(hb_progress *p, uint64_t done);
void hb_progress_done(hb_progress *p); /* final redraw, newline, free; NULL is fine */
int hb_progress_enabled(void);
/* Format seconds as H:MM:SS into buf. */
const char *hb_fmt_duration(double seconds, char *buf, size_t n);
double hb_now(void); /* monotonic seconds */

/* ---------------------------------------------------------------------------------------------------------------
 * Hashing (XXH3)
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    uint64_t lo, hi;
} hb_hash128;

uint64_t hb_hash64(const void *p, size_t n, uint64_t seed); /* XXH3-64 with seed */
uint64_t hb_hash_str(const char *s, uint64_t seed);
hb_hash128 hb_hash128_of(const void *p, size_t n); /* XXH3-128, seed 0 */
/* 32 lowercase hex digits, hi then lo (the canonical XXH128 order). out must hold 33 bytes. */
void hb_hash128_hex(hb_hash128 h, char *out);
int hb_hash128_parse(const char *hex, hb_hash128 *out);
int hb_hash128_eq(hb_hash128 a, hb_hash128 b);
/* 16 lowercase hex digits. out must hold 17 bytes. */
void hb_hash64_hex(uint64_t h, char *out);

typedef struct hb_hasher hb_hasher; /* streaming XXH3-64 */
hb_hasher *hb_hasher_new(uint64_t seed);
void hb_hasher_update(hb_hasher *h, const void *p, size_t n);
uint64_t hb_hasher_digest(const hb_hasher *h);
void hb_hasher_free(hb_hasher *h);

/* ---------------------------------------------------------------------------------------------------------------
 * Seeded counter-based RNG. Output depends only on (seed, key, counter): the same sample id under the same recipe
 * seed draws the same numbers on any machine, thread count or resume point. The mixer is SplitMix64's finaliser
 * applied to seed, key and counter (see docs/design.md); it is not cryptographic.
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    uint64_t seed, key, ctr;
} hb_rng;

/* SplitMix64's finaliser: a bijection with full avalanche (inline: hb-mix's permutations call it per position). */
static inline uint64_t hb_mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}
hb_rng hb_rng_make(uint64_t seed, uint64_t key);
hb_rng hb_rng_for(uint64_t seed, const char *domain, const char *id); /* key = hash(domain "\0" id) */
uint64_t hb_rng_u64(hb_rng *r);
uint64_t hb_rng_below(hb_rng *r, uint64_t n); /* uniform in [0, n), unbiased; n = 0 -> 0 */
double hb_rng_uniform(hb_rng *r);             /* uniform in [0, 1), 53 bits */
void hb_rng_shuffle_u32(hb_rng *r, uint32_t *a, size_t n); /* Fisher-Yates */

/* ---------------------------------------------------------------------------------------------------------------
 * Logging and small helpers
 * ------------------------------------------------------------------------------------------------------------- */
void hb_log(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* "hb: ..." to stderr */
/* Thousands separators: 1234567 -> "1,234,567". */
const char *hb_fmt_count(uint64_t v, char *buf, size_t n);
/* Parse a decimal integer; 0 on success. */
int hb_parse_i64(const char *s, long long *out);
/* The candidate closest to s by edit distance (ASCII case-insensitive), when close enough to be a likely typo
 * (at most 1 edit for names of up to 4 characters, 2 up to 8, 3 beyond); NULL otherwise. For "did you mean". */
const char *hb_closest(const char *s, const char *const *candidates, size_t n);

/* 1 when the bytes (a file's start) are a Git LFS pointer ("version https://git-lfs.github.com/spec/..."): what a
 * clone without git-lfs holds in place of a large file (datasets and models on the HF hub). */
int hb_is_lfs_pointer(const void *data, size_t n);

/* Interruption (SIGINT/SIGTERM): a command's signal handler calls hb_interrupt_set(); long loops in the libraries
 * poll hb_interrupted() and stop with HB_EINTR, so their usual error paths remove temporary files. */
void hb_interrupt_set(int sig); /* 0 clears */
int hb_interrupted(void);       /* the signal number, or 0 */

#endif
