/* Shared helpers of the libFuzzer harnesses (tests/fuzz/fuzz_*.c, built by `make fuzz`, run by tests/fuzz/run.sh;
 * docs/testing.md "Fuzzing"): a per-process scratch directory for parsers that read files, fixture paths, and the
 * checks a harness makes on what a parser returns.
 *
 * Dependencies: core/core.h (hb_err, hb_buf), libzstd (fz_unzstd), POSIX (mkdtemp, nftw).
 *
 * A harness is one translation unit: these are static functions. Every harness follows the same contract: any input
 * either parses (and then whatever was parsed must be usable: re-encoded, looked up, freed) or fails with an
 * hb_code and a non-empty reason. Anything else (a crash, a sanitizer report, a leak, a hang) is a bug in hb. */
#ifndef HB_FUZZ_H
#define HB_FUZZ_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop the run with a message libFuzzer records as a crash (the input is saved). */
#define FZ_ASSERT(cond, ...)                                                                                          \
    do {                                                                                                             \
        if (!(cond)) {                                                                                               \
            fprintf(stderr, "fuzz check failed: %s (%s:%d): ", #cond, __FILE__, __LINE__);                          \
            fprintf(stderr, __VA_ARGS__);                                                                            \
            fputc('\n', stderr);                                                                                     \
            abort();                                                                                                 \
        }                                                                                                            \
    } while (0)

/* A failed call must say why: a known code and a reason. */
static inline void fz_check_err(int rc, const hb_err *e) {
    FZ_ASSERT(rc > HB_OK && rc <= HB_EINTERNAL, "unknown code %d", rc);
    FZ_ASSERT(rc != HB_EINTERNAL, "internal error on bad input: %s", e->reason);
    FZ_ASSERT(e->code == (hb_code)rc, "err.code %d, returned %d (%s)", (int)e->code, rc, e->reason);
    FZ_ASSERT(e->reason[0], "error %s without a reason", hb_code_name((hb_code)rc));
}

static char fz_dir_path[256];

static inline int fz_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static inline void fz_cleanup(void) {
    if (fz_dir_path[0]) nftw(fz_dir_path, fz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A scratch directory for this process (in /dev/shm when there is one), removed at exit. */
static inline const char *fz_dir(void) {
    if (!fz_dir_path[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(fz_dir_path, sizeof fz_dir_path, "%s/hb-fuzz-XXXXXX", base);
        if (!mkdtemp(fz_dir_path)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fz_cleanup);
    }
    return fz_dir_path;
}

/* Write data to <scratch>/<name> (replacing it); returns the path (malloc'd). */
static inline char *fz_write(const char *name, const void *data, size_t n) {
    char *path = hb_path_join(fz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f)) {
        perror(path);
        abort();
    }
    return path;
}

/* A path under the repository (env HB_ROOT, else the working directory) or ../shared (env HB_SHARED); malloc'd. */
static inline char *fz_repo(const char *rel) {
    const char *r = getenv("HB_ROOT");
    return hb_path_join(r && *r ? r : ".", rel);
}
static inline char *fz_shared(const char *rel) {
    const char *s = getenv("HB_SHARED");
    return hb_path_join(s && *s ? s : "../shared", rel);
}

/* A whole fixture file; aborts when it is missing (the harness cannot run without it). */
static inline uint8_t *fz_read(const char *path, size_t *n) {
    uint8_t *d;
    hb_err e;
    if (hb_file_read_all(path, &d, n, &e)) {
        fprintf(stderr, "fuzz: cannot read %s: %s (run from the repository root, or set HB_ROOT / HB_SHARED)\n", path,
                e.reason);
        abort();
    }
    return d;
}

/* Decompress a .zst fixture (streaming frames without a content size). */
static inline uint8_t *fz_unzstd(const uint8_t *src, size_t n, size_t *out_len) {
    ZSTD_DStream *z = ZSTD_createDStream();
    ZSTD_initDStream(z);
    hb_buf b = {0};
    ZSTD_inBuffer in = {src, n, 0};
    static uint8_t chunk[1 << 16];
    for (;;) {
        ZSTD_outBuffer out = {chunk, sizeof chunk, 0};
        size_t r = ZSTD_decompressStream(z, &out, &in);
        if (ZSTD_isError(r)) {
            fprintf(stderr, "fuzz: zstd: %s\n", ZSTD_getErrorName(r));
            abort();
        }
        hb_buf_append(&b, chunk, out.pos);
        if (in.pos == in.size && out.pos < sizeof chunk) break;
    }
    ZSTD_freeDStream(z);
    hb_buf_cstr(&b);
    *out_len = b.len;
    return b.data;
}

/* memcmp for buffers that may be NULL when empty (memcmp's arguments must never be NULL). */
static inline int fz_memeq(const void *a, const void *b, size_t n) { return n == 0 || memcmp(a, b, n) == 0; }

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF): the library's own check. */
static inline int fz_valid_utf8(const uint8_t *s, size_t n) { return hb_utf8_valid(s, n); }

/* The input as a NUL-terminated string (malloc'd; embedded NULs kept). */
static inline char *fz_cstr(const uint8_t *data, size_t n) {
    char *s = malloc(n + 1);
    memcpy(s, data, n);
    s[n] = 0;
    return s;
}

/* Checksums stop a fuzzer at the first hash it cannot guess. The fix-ups below recompute the hashes of a mutated
 * file in place, as far as its structure allows, so that the checks behind them are reached too; a harness runs the
 * input as it is first and, when that fails, once more fixed up. */

/* Shard container (docs/shard-format.md): block hashes, the index hash and the shard hash. */
static inline void fz_fix_shard(uint8_t *m, size_t size) {
    if (size < 32 + 48) return;
    uint8_t *t = m + size - 48;
    uint64_t index_off = hb_le64(t), n_blocks = hb_le64(t + 8), trailer_off = size - 48;
    if (index_off > trailer_off || n_blocks > (trailer_off - index_off) / 40) return;
    uint8_t *ix = m + index_off;
    for (uint64_t b = 0; b < n_blocks; b++) {
        uint8_t *e = ix + 40 * b;
        uint64_t off = hb_le64(e), len = hb_le64(e + 8);
        if (off <= index_off && len <= index_off - off) {
            uint64_t h = hb_hash64(m + off, len, 0);
            memcpy(e + 32, &h, 8);
        }
    }
    uint64_t h = hb_hash64(ix, 40 * n_blocks, 0);
    memcpy(t + 24, &h, 8);
    h = hb_hash64(m, size - 16, 0);
    memcpy(t + 32, &h, 8);
}

/* A file whose last 16 bytes are (XXH3-64 of everything before them, end magic): the image index. */
static inline void fz_fix_tail16(uint8_t *m, size_t size) {
    if (size < 16) return;
    uint64_t h = hb_hash64(m, size - 16, 0);
    memcpy(m + size - 16, &h, 8);
}

#endif
