/* lib/mix/lengths — per-sample lengths (n_tokens, n_supervised, n_image_tokens) of every shard to mix, read once
 * from the shards and cached per shard in <cache_dir>/<shard xxh3 as 16 hex digits>.hblen (docs/mix-plan.md §5):
 *
 *   offset  size  field
 *   0       8     magic "HBLENS\0\0"
 *   8       4     version 1
 *   12      4     0
 *   16      8     the shard's checksum (its trailer's shard_hash): the cache key
 *   24      8     n: records in the shard
 *   32      12n   per record: n_tokens, n_supervised, n_image_tokens (u32 LE each)
 *   32+12n  8     XXH3-64 (seed 0) of bytes [0, 32 + 12n)
 *
 * A cache file that is missing, truncated or fails any check is rebuilt from the shard (atomically). Scanning reads
 * only the counts of each record (a bounds-checked walk over the record layout of docs/shard-format.md: structure and
 * counts, not every token and mask value, which hb-inspect verify checks), checks the record's source against the
 * manifest and the sums against the manifest totals.
 *
 * Dependencies: mix/mix.h (hb_mix_input), shard/shard.h (hb_shard_open, hb_shard_get), core/core.h (hb_err,
 * hb_write_file_atomic, hb_progress, hashing), <sys/mman.h> <sys/stat.h> <fcntl.h> (mapping cache files), <omp.h>. */
#include "mix/mix.h"

#include <fcntl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shard/shard.h"

#define LEN_MAGIC "HBLENS\0\0"
#define LEN_HEADER 32

/* The counts of one hb.sample/1 record; checks the source name. */
static int record_lengths(const uint8_t *p, size_t len, const char *source, uint8_t out[HB_MIX_LEN_BYTES],
                          const char *file, uint64_t k, hb_err *err) {
    size_t o = 4;
    const char *why = NULL;
#define NEED(n)                                                                                                        \
    do {                                                                                                               \
        if ((uint64_t)(n) > len - o) {                                                                                 \
            why = "record ends early";                                                                                 \
            goto bad;                                                                                                  \
        }                                                                                                              \
    } while (0)
    if (len < 4 || hb_le32(p) != 0) {
        why = "unknown flags or short record";
        goto bad;
    }
    size_t src_len = 0, src_off = 0;
    for (int f = 0; f < 3; f++) { /* id, source, source_file */
        NEED(2);
        size_t n = hb_le16(p + o);
        o += 2;
        NEED(n);
        if (f == 1) src_off = o, src_len = n;
        o += n;
    }
    NEED(4);
    uint64_t n = hb_le32(p + o); /* records */
    o += 4;
    NEED(8 * n);
    o += 8 * n;
    NEED(4);
    n = hb_le32(p + o); /* choices */
    o += 4;
    NEED(n);
    o += n;
    NEED(4);
    n = hb_le32(p + o); /* images */
    o += 4;
    NEED(16 * n);
    o += 16 * n;
    NEED(4);
    uint32_t turns = hb_le32(p + o);
    o += 4;
    for (uint32_t t = 0; t < turns; t++) {
        NEED(5);
        n = hb_le32(p + o + 1);
        o += 5;
        NEED(n);
        o += n;
    }
    NEED(4);
    uint64_t ntok = hb_le32(p + o);
    o += 4;
    NEED(5 * ntok + 8);
    o += 5 * ntok;
    if (o + 8 != len) {
        why = "trailing bytes after the counts";
        goto bad;
    }
    if (hb_le32(p + o) > ntok || hb_le32(p + o + 4) > ntok) {
        why = "more supervised or image tokens than tokens";
        goto bad;
    }
    if (src_len != strlen(source) || memcmp(p + src_off, source, src_len))
        return hb_err_set(err, HB_EFORMAT, file, (long long)k, HB_NOPOS,
                          "sample of source '%.*s' in a shard of source '%s' (hb-mix needs one source per shard; "
                          "the manifest, else the shard's first record, names it)", (int)src_len,
                          (const char *)p + src_off, source);
    for (int b = 0; b < 4; b++) out[b] = (uint8_t)(ntok >> 8 * b);
    memcpy(out + 4, p + o, 8); /* n_supervised, n_image_tokens */
    return 0;
bad:
    return hb_err_set(err, HB_EFORMAT, file, (long long)k, HB_NOPOS, "malformed sample record: %s", why);
#undef NEED
}

static char *cache_path(const char *dir, uint64_t xxh3) {
    char name[32], hex[17];
    hb_hash64_hex(xxh3, hex);
    snprintf(name, sizeof name, "%s.hblen", hex);
    return hb_path_join(dir, name);
}

/* Map a valid cache file for sh; 0 when it is usable. */
static int cache_load(const char *path, hb_mix_shard *sh) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    size_t want = LEN_HEADER + sh->n * HB_MIX_LEN_BYTES + 8;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == want) m = mmap(NULL, want, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return -1;
    const uint8_t *p = m;
    if (memcmp(p, LEN_MAGIC, 8) || hb_le32(p + 8) != 1 || hb_le32(p + 12) != 0 || hb_le64(p + 16) != sh->xxh3 ||
        hb_le64(p + 24) != sh->n || hb_le64(p + want - 8) != hb_hash64(p, want - 8, 0)) {
        munmap(m, want);
        return -1;
    }
    sh->map = m;
    sh->map_len = want;
    sh->lens = p + LEN_HEADER;
    return 0;
}

static int cache_write(const char *path, const hb_mix_shard *sh, hb_err *err) {
    hb_buf b = {0};
    hb_buf_append(&b, LEN_MAGIC, 8);
    hb_buf_put_u32(&b, 1);
    hb_buf_put_u32(&b, 0);
    hb_buf_put_u64(&b, sh->xxh3);
    hb_buf_put_u64(&b, sh->n);
    hb_buf_append(&b, sh->lens, sh->n * HB_MIX_LEN_BYTES);
    hb_buf_put_u64(&b, hb_hash64(b.data, b.len, 0));
    int code = hb_write_file_atomic(path, b.data, b.len, err);
    hb_buf_free(&b);
    return code;
}

static int scan_shard(const char *dir, hb_mix_shard *sh, const char *source, hb_progress *prog, hb_err *err) {
    char *path = hb_path_join(dir, sh->file);
    hb_shard *s = NULL;
    int code = hb_shard_open(&s, path, err);
    uint8_t *lens = hb_xmalloc(sh->n * HB_MIX_LEN_BYTES + 1);
    if (!code && (hb_shard_count(s) != sh->n || hb_shard_checksum(s) != sh->xxh3))
        code = hb_err_set(err, HB_ECHECKSUM, path, HB_NOPOS, HB_NOPOS, "shard changed while hb-mix was reading it");
    for (uint64_t k = 0; !code && k < sh->n; k++) {
        const uint8_t *rec;
        size_t len;
        if (!(code = hb_shard_get(s, k, &rec, &len, err)))
            code = record_lengths(rec, len, source, lens + k * HB_MIX_LEN_BYTES, path, k, err);
        if ((k & 4095) == 4095) hb_progress_add(prog, 4096);
    }
    hb_progress_add(prog, sh->n & 4095);
    hb_shard_close(s);
    free(path);
    if (code) {
        free(lens);
        return code;
    }
    sh->lens = lens;
    sh->owns_lens = 1;
    return 0;
}

int hb_mix_input_save_lengths(const hb_mix_input *in, const char *cache_dir, hb_err *err) {
    int code = 0;
    for (size_t i = 0; i < in->n_shards && !code; i++) {
        const hb_mix_shard *sh = &in->shards[i];
        if (!sh->owns_lens || !sh->lens) continue;
        if (!code) code = hb_mkdir_p(cache_dir, err);
        char *p = cache_path(cache_dir, sh->xxh3);
        if (!code) code = cache_write(p, sh, err);
        free(p);
    }
    return code;
}

int hb_mix_input_lengths(hb_mix_input *in, const char *cache_dir, int write_cache, int jobs, hb_err *err) {
    int code = 0;
    if (cache_dir && write_cache && (code = hb_mkdir_p(cache_dir, err))) return code;
    size_t ns = in->n_shards;
    uint8_t *cached = hb_xcalloc(ns + 1, 1);
    uint64_t to_scan = 0;
    for (size_t i = 0; i < ns; i++) {
        hb_mix_shard *sh = &in->shards[i];
        if (sh->lens) continue;
        if (cache_dir) {
            char *p = cache_path(cache_dir, sh->xxh3);
            cached[i] = cache_load(p, sh) == 0;
            free(p);
        }
        if (!cached[i]) to_scan += sh->n;
    }
    hb_err *errs = hb_xcalloc(ns + 1, sizeof *errs);
    int *codes = hb_xcalloc(ns + 1, sizeof *codes);
    hb_progress *prog = to_scan ? hb_progress_start("hb-mix: reading sample lengths", to_scan, "samples") : NULL;
    if (jobs < 1) jobs = 1;
#pragma omp parallel for num_threads(jobs) schedule(dynamic, 1)
    for (size_t i = 0; i < ns; i++) {
        hb_mix_shard *sh = &in->shards[i];
        if (sh->lens) continue;
        codes[i] = scan_shard(in->dir, sh, in->sources[sh->source].name, prog, &errs[i]);
        if (!codes[i] && cache_dir && write_cache) {
            char *p = cache_path(cache_dir, sh->xxh3);
            codes[i] = cache_write(p, sh, &errs[i]);
            free(p);
        }
    }
    hb_progress_done(prog);
    for (size_t i = 0; i < ns && !code; i++) /* the first failure in shard order: the same for any -j */
        if (codes[i]) {
            code = codes[i];
            if (err) *err = errs[i];
        }
    if (!code) in->scanned = to_scan;
    for (size_t i = 0; i < ns && !code; i++) { /* sums against the manifest (or fill them in without one) */
        hb_mix_shard *sh = &in->shards[i];
        uint64_t sum[4] = {sh->n, 0, 0, 0};
        for (uint64_t k = 0; k < sh->n; k++)
            for (int u = 1; u < 4; u++) sum[u] += hb_le32(sh->lens + k * HB_MIX_LEN_BYTES + 4 * (u - 1));
        if (sh->have_units && memcmp(sum, sh->units, sizeof sum)) {
            char *p = hb_path_join(in->dir ? in->dir : "", sh->file);
            code = hb_err_set(err, HB_EFORMAT, p, HB_NOPOS, HB_NOPOS,
                              "samples hold %llu tokens, %llu supervised, %llu image tokens; the manifest says %llu, "
                              "%llu, %llu (rerun hb-prep)", (unsigned long long)sum[1], (unsigned long long)sum[2],
                              (unsigned long long)sum[3], (unsigned long long)sh->units[1],
                              (unsigned long long)sh->units[2], (unsigned long long)sh->units[3]);
            free(p);
        }
        if (!sh->have_units) {
            sh->have_units = 1;
            hb_mix_source *src = &in->sources[sh->source];
            for (int u = 1; u < 4; u++) sh->units[u] = sum[u], src->units[u] += sum[u];
        }
    }
    free(cached);
    free(errs);
    free(codes);
    return code;
}
