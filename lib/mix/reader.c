/* lib/mix/reader — a mix plan as the trainer reads it (docs/mix-plan.md §1): mapped read-only, every table and size
 * checked and the plan hash recomputed on open; samples, sequences and rank slices by index; resume cursors.
 *
 * Dependencies: mix/mix.h (hb_mix_plan API), core/core.h (hb_err, hashing, paths), <sys/mman.h> <fcntl.h>. */
#include "mix/mix.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAN_MAGIC "HBMIXPL\0"
#define PLAN_END "HBMIXEND"
#define PLAN_FIXED 72
#define PLAN_TRAILER 32

typedef struct {
    char *name;
    uint64_t samples, size;
} plan_source;

typedef struct {
    char *file;
    uint32_t source;
    uint64_t n, xxh3;
} plan_shard;

struct hb_mix_plan {
    char *path, *shards_dir;
    const uint8_t *map;
    size_t size;
    uint32_t flags, unit, pack_tokens, pack_window;
    uint64_t seed, samples, sequences, batch, hash, header_size;
    size_t n_sources, n_shards;
    plan_source *sources;
    plan_shard *shards;
    const uint8_t *ents, *index;
};

static int bad(hb_mix_plan *p, long long off, const char *why, hb_err *err) {
    return hb_err_set(err, HB_EFORMAT, p->path, HB_NOPOS, off, "not a valid mix plan: %s", why);
}

/* Read a u16-length string at *o (bounded by end) into a malloc'd copy. */
static char *take_str(const uint8_t *m, size_t *o, size_t end, size_t len_bytes) {
    if (*o + len_bytes > end) return NULL;
    size_t l = len_bytes == 2 ? hb_le16(m + *o) : hb_le32(m + *o);
    *o += len_bytes;
    if (l > end - *o) return NULL;
    char *s = hb_xmalloc(l + 1);
    memcpy(s, m + *o, l);
    s[l] = 0;
    *o += l;
    return s;
}

static int parse(hb_mix_plan *p, hb_err *err) {
    const uint8_t *m = p->map;
    if (p->size < PLAN_FIXED + PLAN_TRAILER || memcmp(m, PLAN_MAGIC, 8)) return bad(p, 0, "bad magic or too short", err);
    if (memcmp(m + p->size - 8, PLAN_END, 8)) return bad(p, (long long)p->size - 8, "no end magic (truncated?)", err);
    if (hb_le32(m + 8) != 1) return bad(p, 8, "unsupported version", err);
    p->flags = hb_le32(m + 12);
    if (p->flags & ~3u) return bad(p, 12, "unknown flags", err);
    p->header_size = hb_le64(m + 16);
    p->seed = hb_le64(m + 24);
    p->samples = hb_le64(m + 32);
    p->batch = hb_le64(m + 40);
    p->n_sources = hb_le32(m + 48);
    p->n_shards = hb_le32(m + 52);
    p->unit = hb_le32(m + 56);
    p->pack_tokens = hb_le32(m + 60);
    p->pack_window = hb_le32(m + 64);
    const uint8_t *tr = m + p->size - PLAN_TRAILER;
    p->sequences = hb_le64(tr + 8);
    p->hash = hb_le64(tr + 16);
    if (hb_le64(tr) != p->samples) return bad(p, (long long)p->size - PLAN_TRAILER, "trailer disagrees with header", err);
    if (p->unit > 3 || (!(p->flags & 1) && (p->pack_tokens || p->pack_window || p->sequences != p->samples)) ||
        ((p->flags & 1) && (!p->pack_tokens || p->sequences > p->samples || (p->samples && !p->sequences))))
        return bad(p, 56, "inconsistent unit or packing fields", err);
    if (p->header_size % 8 || p->header_size < PLAN_FIXED || p->header_size > p->size) return bad(p, 16, "bad header_size", err);
    uint64_t body = p->size - PLAN_TRAILER - p->header_size, want = 8 * p->samples;
    if (p->samples > body / 8) return bad(p, 32, "file too short for its samples", err);
    if (p->flags & 1) {
        if (p->sequences + 1 > (body - want) / 8) return bad(p, 32, "file too short for its sequence index", err);
        want += 8 * (p->sequences + 1);
    }
    if (want != body) return bad(p, 32, "file size does not match its counts", err);
    if (hb_hash64(m, p->size - 16, 0) != p->hash)
        return hb_err_set(err, HB_ECHECKSUM, p->path, HB_NOPOS, HB_NOPOS, "mix plan hash does not match its contents");
    size_t o = 68, end = p->header_size;
    if ((uint64_t)p->n_sources * 18 + (uint64_t)p->n_shards * 22 > end) /* smallest records: bound before allocating */
        return bad(p, 48, "more sources or shards than the header can hold", err);
    if (!(p->shards_dir = take_str(m, &o, end, 4))) return bad(p, (long long)o, "shards directory", err);
    p->sources = hb_xcalloc(p->n_sources + 1, sizeof *p->sources);
    p->shards = hb_xcalloc(p->n_shards + 1, sizeof *p->shards);
    for (size_t i = 0; i < p->n_sources; i++) {
        if (!(p->sources[i].name = take_str(m, &o, end, 2)) || o + 16 > end) return bad(p, (long long)o, "source table", err);
        p->sources[i].samples = hb_le64(m + o);
        p->sources[i].size = hb_le64(m + o + 8);
        o += 16;
    }
    for (size_t i = 0; i < p->n_shards; i++) {
        if (o + 20 > end) return bad(p, (long long)o, "shard table", err);
        p->shards[i].source = hb_le32(m + o);
        p->shards[i].n = hb_le64(m + o + 4);
        p->shards[i].xxh3 = hb_le64(m + o + 12);
        o += 20;
        if (!(p->shards[i].file = take_str(m, &o, end, 2)) || p->shards[i].source >= p->n_sources)
            return bad(p, (long long)o, "shard table", err);
    }
    while (o < end)
        if (m[o++]) return bad(p, (long long)o - 1, "non-zero header padding", err);
    p->ents = m + p->header_size;
    p->index = p->flags & 1 ? p->ents + 8 * p->samples : NULL;
    if (p->index && (hb_le64(p->index) != 0 || hb_le64(p->index + 8 * p->sequences) != p->samples))
        return bad(p, (long long)(p->index - m), "sequence index does not span the samples", err);
    return 0;
}

int hb_mix_plan_open(hb_mix_plan **out, const char *path, hb_err *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hb_err_errno(err, errno == ENOENT ? HB_ENOTFOUND : HB_EIO, path, "cannot open mix plan");
    struct stat st;
    if (fstat(fd, &st)) {
        close(fd);
        return hb_err_errno(err, HB_EIO, path, "cannot stat mix plan");
    }
    hb_mix_plan *p = hb_xcalloc(1, sizeof *p);
    p->path = hb_xstrdup(path);
    p->size = (size_t)st.st_size;
    void *m = p->size ? mmap(NULL, p->size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    int code;
    if (m == MAP_FAILED) {
        p->map = NULL;
        code = p->size ? hb_err_errno(err, HB_EIO, path, "cannot map mix plan") : bad(p, 0, "empty file", err);
    } else {
        p->map = m;
        code = parse(p, err);
    }
    if (code) {
        hb_mix_plan_close(p);
        return code;
    }
    *out = p;
    return 0;
}

void hb_mix_plan_close(hb_mix_plan *p) {
    if (!p) return;
    if (p->map) munmap((void *)p->map, p->size);
    for (size_t i = 0; p->sources && i < p->n_sources; i++) free(p->sources[i].name);
    for (size_t i = 0; p->shards && i < p->n_shards; i++) free(p->shards[i].file);
    free(p->sources);
    free(p->shards);
    free(p->shards_dir);
    free(p->path);
    free(p);
}

uint64_t hb_mix_plan_hash(const hb_mix_plan *p) { return p->hash; }
uint64_t hb_mix_plan_samples(const hb_mix_plan *p) { return p->samples; }
uint64_t hb_mix_plan_sequences(const hb_mix_plan *p) { return p->sequences; }
uint64_t hb_mix_plan_batch(const hb_mix_plan *p) { return p->batch; }
uint64_t hb_mix_plan_seed(const hb_mix_plan *p) { return p->seed; }
int hb_mix_plan_packed(const hb_mix_plan *p) { return (int)(p->flags & 1); }
uint32_t hb_mix_plan_pack_tokens(const hb_mix_plan *p) { return p->pack_tokens; }
size_t hb_mix_plan_n_sources(const hb_mix_plan *p) { return p->n_sources; }
const char *hb_mix_plan_source(const hb_mix_plan *p, size_t i) { return i < p->n_sources ? p->sources[i].name : NULL; }
size_t hb_mix_plan_n_shards(const hb_mix_plan *p) { return p->n_shards; }
const char *hb_mix_plan_shard_file(const hb_mix_plan *p, size_t i) { return i < p->n_shards ? p->shards[i].file : NULL; }
uint64_t hb_mix_plan_shard_checksum(const hb_mix_plan *p, size_t i) { return i < p->n_shards ? p->shards[i].xxh3 : 0; }
uint32_t hb_mix_plan_shard_source(const hb_mix_plan *p, size_t i) { return i < p->n_shards ? p->shards[i].source : 0; }
uint64_t hb_mix_plan_shard_records(const hb_mix_plan *p, size_t i) { return i < p->n_shards ? p->shards[i].n : 0; }
uint64_t hb_mix_plan_source_size(const hb_mix_plan *p, size_t i) { return i < p->n_sources ? p->sources[i].size : 0; }
const char *hb_mix_plan_shards_dir(const hb_mix_plan *p) { return p->shards_dir; }

char *hb_mix_plan_shards_path(const hb_mix_plan *p) {
    if (p->shards_dir[0] == '/') return hb_xstrdup(p->shards_dir);
    char *dir = hb_xstrdup(p->path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    char *out = slash ? hb_path_join(dir, p->shards_dir) : hb_xstrdup(p->shards_dir);
    free(dir);
    return out;
}

int hb_mix_plan_sample(const hb_mix_plan *p, uint64_t k, hb_mix_ref *out, hb_err *err) {
    if (k >= p->samples)
        return hb_err_set(err, HB_ERANGE, p->path, (long long)k, HB_NOPOS, "sample %" PRIu64 " is past the end (%" PRIu64 ")",
                          k, p->samples);
    const uint8_t *e = p->ents + 8 * k;
    uint32_t sh = hb_le32(e), rec = hb_le32(e + 4);
    if (sh >= p->n_shards || rec >= p->shards[sh].n)
        return hb_err_set(err, HB_EFORMAT, p->path, (long long)k, HB_NOPOS, "entry names shard %u record %u, out of range",
                          sh, rec);
    out->shard = sh;
    out->record = rec;
    out->source = p->shards[sh].source;
    return 0;
}

int hb_mix_plan_sequence(const hb_mix_plan *p, uint64_t q, uint64_t *first, uint64_t *n, hb_err *err) {
    if (q >= p->sequences)
        return hb_err_set(err, HB_ERANGE, p->path, (long long)q, HB_NOPOS,
                          "sequence %" PRIu64 " is past the end (%" PRIu64 ")", q, p->sequences);
    if (!p->index) {
        *first = q;
        *n = 1;
        return 0;
    }
    uint64_t a = hb_le64(p->index + 8 * q), b = hb_le64(p->index + 8 * (q + 1));
    if (b <= a || b > p->samples)
        return hb_err_set(err, HB_EFORMAT, p->path, (long long)q, HB_NOPOS, "sequence index is not increasing");
    *first = a;
    *n = b - a;
    return 0;
}

int hb_mix_plan_rank_slice(const hb_mix_plan *p, uint64_t g, uint32_t rank, uint32_t world, uint64_t *first_seq,
                           uint64_t *n_seq, hb_err *err) {
    if (!p->batch) return hb_err_set(err, HB_EINVAL, p->path, HB_NOPOS, HB_NOPOS, "the plan has no global batch size");
    if (!world || rank >= world || p->batch % world)
        return hb_err_set(err, HB_EINVAL, p->path, HB_NOPOS, HB_NOPOS,
                          "rank %u of %u: the global batch %" PRIu64 " must divide by the number of ranks", rank, world,
                          p->batch);
    uint64_t start = g * p->batch;
    if (g >= (p->sequences + p->batch - 1) / p->batch)
        return hb_err_set(err, HB_ERANGE, p->path, HB_NOPOS, HB_NOPOS, "global batch %" PRIu64 " is past the end", g);
    uint64_t per = p->batch / world, a = start + rank * per, b = a + per;
    if (a > p->sequences) a = p->sequences;
    if (b > p->sequences) b = p->sequences;
    *first_seq = a;
    *n_seq = b - a;
    return 0;
}

void hb_mix_cursor_format(const hb_mix_plan *p, uint64_t position, char *out, size_t n) {
    snprintf(out, n, "%016" PRIx64 ":%" PRIu64, p->hash, position);
}

int hb_mix_cursor_parse(const hb_mix_plan *p, const char *text, uint64_t *position, hb_err *err) {
    char *end;
    uint64_t h = strtoull(text, &end, 16);
    if (end != text + 16 || *end != ':' || !end[1])
        return hb_err_set(err, HB_EINVAL, p->path, HB_NOPOS, HB_NOPOS, "cursor '%s' is not <16 hex digits>:<position>", text);
    const char *num = end + 1;
    uint64_t pos = strtoull(num, &end, 10);
    if (*end || *num < '0' || *num > '9')
        return hb_err_set(err, HB_EINVAL, p->path, HB_NOPOS, HB_NOPOS, "cursor '%s' is not <16 hex digits>:<position>", text);
    if (h != p->hash)
        return hb_err_set(err, HB_EINVAL, p->path, HB_NOPOS, HB_NOPOS,
                          "cursor belongs to plan %016" PRIx64 ", this plan is %016" PRIx64, h, p->hash);
    if (pos > p->sequences)
        return hb_err_set(err, HB_ERANGE, p->path, HB_NOPOS, HB_NOPOS, "cursor position %" PRIu64 " is past the end (%" PRIu64 ")",
                          pos, p->sequences);
    *position = pos;
    return 0;
}
