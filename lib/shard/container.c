/* Shard container v1: writer, random-access reader and verifier. Byte layout: docs/shard-format.md.
 * Dependencies: shard.h, core/core.h (hb_afile, hb_buf, hb_hash64, hb_hasher), <zstd.h> (ZSTD_compress,
 * ZSTD_decompressStream, ZSTD_getFrameContentSize), <sys/mman.h> (mmap), <fcntl.h>/<unistd.h>. */
#include "shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define MAX_SCHEMA 255

/* ---------------------------------------------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------------------------------------------- */
struct hb_shard_writer {
    hb_afile f;
    hb_hasher *hash; /* over every byte written so far (the shard checksum) */
    uint64_t pos;    /* bytes written */
    size_t block_bytes;
    int level;
    hb_buf offsets; /* u32 record offsets of the open block */
    hb_buf data;    /* record bytes of the open block */
    uint32_t block_n;
    hb_buf raw;  /* scratch: assembled raw block */
    hb_buf comp; /* scratch: compressed block */
    hb_buf index;
    uint64_t records, blocks;
};

static int w_put(hb_shard_writer *w, const void *p, size_t n, hb_err *err) {
    int code = hb_afile_write(&w->f, p, n, err);
    if (code) return code;
    hb_hasher_update(w->hash, p, n);
    w->pos += n;
    return 0;
}

int hb_shard_writer_open(hb_shard_writer **out, const char *path, const char *schema, const hb_shard_opts *opts,
                         hb_err *err) {
    size_t slen = strlen(schema);
    if (slen == 0 || slen > MAX_SCHEMA)
        return hb_err_set(err, HB_EINVAL, path, HB_NOPOS, HB_NOPOS, "schema name must be 1..%d bytes", MAX_SCHEMA);
    hb_shard_writer *w = hb_xcalloc(1, sizeof *w);
    w->block_bytes = opts && opts->block_bytes ? opts->block_bytes : (1u << 20);
    w->level = opts && opts->zstd_level ? opts->zstd_level : 3;
    int code = hb_afile_open(&w->f, path, err);
    if (code) {
        free(w);
        return code;
    }
    w->hash = hb_hasher_new(0);
    /* header: magic, version, header size, schema length, flags, reserved, then the schema padded to 8 bytes */
    size_t schema_pad = (slen + 7) & ~(size_t)7;
    hb_buf h = {0};
    hb_buf_append(&h, HB_SHARD_MAGIC, 8);
    hb_buf_put_u32(&h, HB_SHARD_VERSION);
    hb_buf_put_u32(&h, (uint32_t)(HB_SHARD_HEADER_SIZE + schema_pad));
    hb_buf_put_u32(&h, (uint32_t)slen);
    hb_buf_put_u32(&h, 0);
    hb_buf_put_u64(&h, 0);
    hb_buf_append(&h, schema, slen);
    while (h.len < HB_SHARD_HEADER_SIZE + schema_pad) hb_buf_putc(&h, 0);
    code = w_put(w, h.data, h.len, err);
    hb_buf_free(&h);
    if (code) {
        hb_shard_writer_abort(w);
        return code;
    }
    *out = w;
    return 0;
}

static int flush_block(hb_shard_writer *w, hb_err *err) {
    if (w->block_n == 0) return 0;
    /* raw block: u32 n, u32 offsets[n+1] (relative to the start of the record area), record bytes */
    hb_buf_clear(&w->raw);
    hb_buf_put_u32(&w->raw, w->block_n);
    hb_buf_append(&w->raw, w->offsets.data, w->offsets.len);
    hb_buf_put_u32(&w->raw, (uint32_t)w->data.len);
    hb_buf_append(&w->raw, w->data.data, w->data.len);
    if (w->raw.len > UINT32_MAX)
        return hb_err_set(err, HB_ERANGE, w->f.path, (long long)w->records, HB_NOPOS,
                          "a block would exceed 4 GiB (one record is too large)");
    size_t bound = ZSTD_compressBound(w->raw.len);
    hb_buf_clear(&w->comp);
    hb_buf_reserve(&w->comp, bound);
    size_t clen = ZSTD_compress(w->comp.data, bound, w->raw.data, w->raw.len, w->level);
    if (ZSTD_isError(clen))
        return hb_err_set(err, HB_EINTERNAL, w->f.path, HB_NOPOS, HB_NOPOS, "zstd: %s", ZSTD_getErrorName(clen));
    uint64_t off = w->pos;
    int code = w_put(w, w->comp.data, clen, err);
    if (code) return code;
    hb_buf_put_u64(&w->index, off);
    hb_buf_put_u64(&w->index, clen);
    hb_buf_put_u64(&w->index, w->records - w->block_n);
    hb_buf_put_u32(&w->index, w->block_n);
    hb_buf_put_u32(&w->index, (uint32_t)w->raw.len);
    hb_buf_put_u64(&w->index, hb_hash64(w->comp.data, clen, 0));
    w->blocks++;
    w->block_n = 0;
    hb_buf_clear(&w->offsets);
    hb_buf_clear(&w->data);
    return 0;
}

int hb_shard_writer_add(hb_shard_writer *w, const void *rec, size_t len, hb_err *err) {
    if (len > UINT32_MAX - 64)
        return hb_err_set(err, HB_ERANGE, w->f.path, (long long)w->records, HB_NOPOS, "record of %zu bytes is too large",
                          len);
    if (w->block_n > 0 && w->data.len + len > w->block_bytes) {
        int code = flush_block(w, err);
        if (code) return code;
    }
    if (w->data.len + len > UINT32_MAX - 64) {
        int code = flush_block(w, err);
        if (code) return code;
    }
    hb_buf_put_u32(&w->offsets, (uint32_t)w->data.len);
    hb_buf_append(&w->data, rec, len);
    w->block_n++;
    w->records++;
    return 0;
}

static void writer_free(hb_shard_writer *w) {
    hb_hasher_free(w->hash);
    hb_buf_free(&w->offsets);
    hb_buf_free(&w->data);
    hb_buf_free(&w->raw);
    hb_buf_free(&w->comp);
    hb_buf_free(&w->index);
    free(w);
}

void hb_shard_writer_abort(hb_shard_writer *w) {
    if (!w) return;
    hb_afile_abort(&w->f);
    writer_free(w);
}

int hb_shard_writer_close(hb_shard_writer *w, hb_shard_info *info, hb_err *err) {
    int code = flush_block(w, err);
    uint64_t index_off = w->pos;
    if (!code) code = w_put(w, w->index.data, w->index.len, err);
    if (!code) {
        /* trailer: index offset, block count, record count, index hash, shard hash, end magic */
        hb_buf t = {0};
        hb_buf_put_u64(&t, index_off);
        hb_buf_put_u64(&t, w->blocks);
        hb_buf_put_u64(&t, w->records);
        hb_buf_put_u64(&t, hb_hash64(w->index.data, w->index.len, 0));
        code = w_put(w, t.data, t.len, err);
        uint64_t shard_hash = hb_hasher_digest(w->hash);
        hb_buf_clear(&t);
        hb_buf_put_u64(&t, shard_hash);
        hb_buf_append(&t, HB_SHARD_END_MAGIC, 8);
        if (!code) code = hb_afile_write(&w->f, t.data, t.len, err);
        hb_buf_free(&t);
        if (info) {
            info->records = w->records;
            info->blocks = w->blocks;
            info->bytes = w->pos + 16;
            info->xxh3 = shard_hash;
        }
    }
    if (!code) code = hb_afile_commit(&w->f, err);
    else hb_afile_abort(&w->f);
    writer_free(w);
    return code;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Reader
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    uint64_t offset, comp_size, first;
    uint32_t n, raw_size;
    uint64_t hash;
} block_entry;

struct hb_shard {
    char *path;
    const uint8_t *map;
    size_t size;
    char schema[MAX_SCHEMA + 1];
    uint64_t n_records, n_blocks, index_off, shard_hash, data_end;
    block_entry *blocks;
    /* cache of one decompressed block */
    int64_t cached; /* block number or -1 */
    uint8_t *raw;
    size_t raw_cap;
    uint8_t *verified; /* per block: checksum already checked */
    ZSTD_DStream *dctx; /* created on the first block read */
};

static int fmt_err(hb_err *err, const char *path, long long off, const char *what) {
    return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, off, "%s", what);
}

/* Parses header, trailer and index; checks the index hash. Fills s (map and path already set). */
static int parse_layout(hb_shard *s, hb_err *err) {
    const uint8_t *m = s->map;
    if (s->size < HB_SHARD_HEADER_SIZE + HB_SHARD_TRAILER_SIZE)
        return fmt_err(err, s->path, 0, "file too small to be a shard (truncated?)");
    if (memcmp(m, HB_SHARD_MAGIC, 8) != 0) return fmt_err(err, s->path, 0, "header: bad magic (not an hb shard)");
    uint32_t version = hb_le32(m + 8), hsize = hb_le32(m + 12), slen = hb_le32(m + 16), flags = hb_le32(m + 20);
    if (version != HB_SHARD_VERSION)
        return hb_err_set(err, HB_EUNSUPPORTED, s->path, HB_NOPOS, 8, "header: shard version %u (this hb reads 1)",
                          version);
    if (slen == 0 || slen > MAX_SCHEMA || hsize != HB_SHARD_HEADER_SIZE + ((slen + 7) & ~7u) || flags != 0 ||
        hb_le64(m + 24) != 0 || hsize > s->size)
        return fmt_err(err, s->path, 12, "header: inconsistent sizes or flags");
    memcpy(s->schema, m + HB_SHARD_HEADER_SIZE, slen);
    s->schema[slen] = 0;
    for (uint32_t i = slen; i < hsize - HB_SHARD_HEADER_SIZE; i++)
        if (m[HB_SHARD_HEADER_SIZE + i] != 0) return fmt_err(err, s->path, HB_SHARD_HEADER_SIZE + i, "header: padding not zero");
    const uint8_t *t = m + s->size - HB_SHARD_TRAILER_SIZE;
    if (memcmp(t + 40, HB_SHARD_END_MAGIC, 8) != 0)
        return fmt_err(err, s->path, (long long)(s->size - 8), "trailer: end magic missing (file truncated?)");
    s->index_off = hb_le64(t);
    s->n_blocks = hb_le64(t + 8);
    s->n_records = hb_le64(t + 16);
    uint64_t index_hash = hb_le64(t + 24);
    s->shard_hash = hb_le64(t + 32);
    uint64_t trailer_off = s->size - HB_SHARD_TRAILER_SIZE;
    if (s->index_off < hsize || s->index_off > trailer_off || s->n_blocks > (trailer_off - s->index_off) / HB_SHARD_INDEX_ENTRY ||
        s->index_off + s->n_blocks * HB_SHARD_INDEX_ENTRY != trailer_off)
        return fmt_err(err, s->path, (long long)trailer_off, "trailer: index offset or block count out of range");
    const uint8_t *ix = m + s->index_off;
    if (hb_hash64(ix, s->n_blocks * HB_SHARD_INDEX_ENTRY, 0) != index_hash)
        return hb_err_set(err, HB_ECHECKSUM, s->path, HB_NOPOS, (long long)s->index_off, "index: checksum mismatch");
    s->blocks = hb_xcalloc(s->n_blocks ? s->n_blocks : 1, sizeof *s->blocks);
    uint64_t expect_off = hsize, expect_first = 0;
    for (uint64_t b = 0; b < s->n_blocks; b++) {
        const uint8_t *e = ix + b * HB_SHARD_INDEX_ENTRY;
        block_entry *be = &s->blocks[b];
        be->offset = hb_le64(e);
        be->comp_size = hb_le64(e + 8);
        be->first = hb_le64(e + 16);
        be->n = hb_le32(e + 24);
        be->raw_size = hb_le32(e + 28);
        be->hash = hb_le64(e + 32);
        if (be->offset != expect_off || be->comp_size == 0 || be->comp_size > s->index_off - be->offset ||
            be->first != expect_first || be->n == 0 || be->raw_size < 8 + 4ull * be->n)
            return hb_err_set(err, HB_EFORMAT, s->path, HB_NOPOS, (long long)(s->index_off + b * HB_SHARD_INDEX_ENTRY),
                              "index: entry for block %llu is inconsistent", (unsigned long long)b);
        expect_off += be->comp_size;
        expect_first += be->n;
    }
    if (expect_off != s->index_off)
        return fmt_err(err, s->path, (long long)s->index_off, "index: blocks do not end where the index starts");
    if (expect_first != s->n_records)
        return fmt_err(err, s->path, (long long)(trailer_off + 16), "trailer: record count disagrees with the index");
    s->data_end = s->index_off;
    return 0;
}

int hb_shard_open(hb_shard **out, const char *path, hb_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hb_err_errno(err, errno == ENOENT ? HB_ENOTFOUND : HB_EIO, path, "cannot open shard");
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return hb_err_errno(err, HB_EIO, path, "stat");
    }
    hb_shard *s = hb_xcalloc(1, sizeof *s);
    s->path = hb_xstrdup(path);
    s->size = (size_t)st.st_size;
    s->cached = -1;
    if (s->size > 0) {
        void *m = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            int code = hb_err_errno(err, HB_EIO, path, "mmap");
            hb_shard_close(s);
            return code;
        }
        s->map = m;
    }
    close(fd);
    int code = parse_layout(s, err);
    if (code) {
        hb_shard_close(s);
        return code;
    }
    s->verified = hb_xcalloc(s->n_blocks ? s->n_blocks : 1, 1);
    *out = s;
    return 0;
}

void hb_shard_close(hb_shard *s) {
    if (!s) return;
    if (s->map) munmap((void *)s->map, s->size);
    free(s->path);
    free(s->blocks);
    free(s->raw);
    free(s->verified);
    ZSTD_freeDStream(s->dctx);
    free(s);
}

uint64_t hb_shard_count(const hb_shard *s) { return s->n_records; }
uint64_t hb_shard_blocks(const hb_shard *s) { return s->n_blocks; }
const char *hb_shard_schema(const hb_shard *s) { return s->schema; }
const char *hb_shard_path(const hb_shard *s) { return s->path; }
uint64_t hb_shard_checksum(const hb_shard *s) { return s->shard_hash; }

/* Decompresses a block's frame into s->raw (be->raw_size bytes); NULL, or why not. The sizes in the index and the
 * frame header are claims: the buffer grows with what the frame really yields (1 MiB first, then doubling), so a
 * damaged or crafted entry claiming a 4 GiB block costs no more memory than the data behind it. */
static const char *inflate_block(hb_shard *s, const block_entry *be, const uint8_t *comp) {
    unsigned long long fcs = ZSTD_getFrameContentSize(comp, be->comp_size);
    if (fcs == ZSTD_CONTENTSIZE_ERROR) return "not a zstd frame";
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != be->raw_size) return "size differs from the index";
    if (!s->dctx) s->dctx = ZSTD_createDStream();
    ZSTD_DCtx_reset(s->dctx, ZSTD_reset_session_only);
    size_t want = (size_t)be->raw_size + 1; /* one spare byte tells a frame that holds more than the index says */
    if (s->raw_cap < want && s->raw_cap < (1u << 20)) {
        free(s->raw);
        s->raw_cap = want < (1u << 20) ? want : (1u << 20);
        s->raw = hb_xmalloc(s->raw_cap);
    }
    ZSTD_inBuffer in = {comp, be->comp_size, 0};
    ZSTD_outBuffer out = {s->raw, s->raw_cap < want ? s->raw_cap : want, 0};
    for (;;) {
        size_t r = ZSTD_decompressStream(s->dctx, &out, &in);
        if (ZSTD_isError(r)) return ZSTD_getErrorName(r);
        if (r == 0) break; /* the frame is complete */
        if (out.pos == out.size) {
            if (out.size == want) return "size differs from the index";
            size_t cap = out.size * 2 < want ? out.size * 2 : want;
            if (cap > s->raw_cap) {
                s->raw = hb_xrealloc(s->raw, cap);
                s->raw_cap = cap;
            }
            out.dst = s->raw;
            out.size = cap;
        } else if (in.pos == in.size) {
            return "the frame is truncated";
        }
    }
    if (in.pos != in.size) return "bytes after the frame";
    if (out.pos != be->raw_size) return "size differs from the index";
    return NULL;
}

/* Decompresses block b into the cache after checking its hash and its record table. */
static int load_block(hb_shard *s, uint64_t b, hb_err *err) {
    if ((int64_t)b == s->cached) return 0;
    const block_entry *be = &s->blocks[b];
    const uint8_t *comp = s->map + be->offset;
    if (!s->verified[b]) {
        if (hb_hash64(comp, be->comp_size, 0) != be->hash)
            return hb_err_set(err, HB_ECHECKSUM, s->path, HB_NOPOS, (long long)be->offset,
                              "block %llu: checksum mismatch", (unsigned long long)b);
        s->verified[b] = 1;
    }
    s->cached = -1;
    const char *why = inflate_block(s, be, comp);
    if (why)
        return hb_err_set(err, HB_EFORMAT, s->path, HB_NOPOS, (long long)be->offset, "block %llu: cannot decompress (%s)",
                          (unsigned long long)b, why);
    uint32_t n = hb_le32(s->raw);
    if (n != be->n)
        return hb_err_set(err, HB_EFORMAT, s->path, HB_NOPOS, (long long)be->offset,
                          "block %llu: record count %u disagrees with the index (%u)", (unsigned long long)b, n, be->n);
    const uint8_t *offs = s->raw + 4;
    size_t area = be->raw_size - 4 - 4ull * (n + 1);
    uint32_t prev = 0;
    for (uint32_t i = 0; i <= n; i++) {
        uint32_t o = hb_le32(offs + 4ull * i);
        if (o < prev || o > area || (i == 0 && o != 0) || (i == n && o != area))
            return hb_err_set(err, HB_EFORMAT, s->path, HB_NOPOS, (long long)be->offset,
                              "block %llu: record table is inconsistent", (unsigned long long)b);
        prev = o;
    }
    s->cached = (int64_t)b;
    return 0;
}

static uint64_t find_block(const hb_shard *s, uint64_t k) {
    uint64_t lo = 0, hi = s->n_blocks; /* last block with first <= k */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (s->blocks[mid].first <= k) lo = mid;
        else hi = mid;
    }
    return lo;
}

int hb_shard_get(hb_shard *s, uint64_t k, const uint8_t **rec, size_t *len, hb_err *err) {
    if (k >= s->n_records)
        return hb_err_set(err, HB_ERANGE, s->path, (long long)k, HB_NOPOS, "record %llu out of range (shard has %llu)",
                          (unsigned long long)k, (unsigned long long)s->n_records);
    uint64_t b = find_block(s, k);
    int code = load_block(s, b, err);
    if (code) return code;
    const block_entry *be = &s->blocks[b];
    uint32_t i = (uint32_t)(k - be->first);
    const uint8_t *offs = s->raw + 4;
    const uint8_t *area = offs + 4ull * (be->n + 1);
    uint32_t a = hb_le32(offs + 4ull * i), z = hb_le32(offs + 4ull * (i + 1));
    *rec = area + a;
    *len = z - a;
    return 0;
}

int hb_shard_verify(const char *path, hb_record_check_fn check_record, void *ctx, hb_err *err) {
    hb_shard *s;
    int code = hb_shard_open(&s, path, err);
    if (code) return code;
    for (uint64_t b = 0; b < s->n_blocks && !code; b++) {
        code = load_block(s, b, err);
        if (code || !check_record) continue;
        for (uint64_t k = s->blocks[b].first; k < s->blocks[b].first + s->blocks[b].n && !code; k++) {
            const uint8_t *rec;
            size_t len;
            code = hb_shard_get(s, k, &rec, &len, err);
            if (!code && (code = check_record(rec, len, ctx, err))) {
                char why[sizeof err->reason];
                snprintf(why, sizeof why, "block %llu: %s", (unsigned long long)b, err->reason);
                hb_err_set(err, code, path, (long long)k, (long long)s->blocks[b].offset, "%s", why);
            }
        }
    }
    if (!code && hb_hash64(s->map, s->size - 16, 0) != s->shard_hash)
        code = hb_err_set(err, HB_ECHECKSUM, path, HB_NOPOS, (long long)(s->size - 16),
                          "shard checksum mismatch (header, padding or trailer bytes changed)");
    hb_shard_close(s);
    return code;
}
