/* The image store: hb.image/1 records in a shard container plus a sorted hash index (docs/images.md).
 * Dependencies: imgstore.h, shard.h (hb_shard_writer, hb_shard, hb_shard_verify), core/core.h (hb_buf, hb_afile,
 * hb_hash64), <zstd.h> (pixel payloads), <pthread.h> (writer lock, reader pool), <sys/mman.h> (index map),
 * <dirent.h> (hb_imgstore_sizes), <fcntl.h>/<unistd.h> (spill file). */
#include "imgstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define REC_FIXED 44     /* bytes before the origin */
#define PAYLOAD_LEVEL 1  /* zstd level of the pixel payload (compressed by the adding thread) */
#define MAX_ORIGIN 65535

/* ---------------------------------------------------------------------------------------------------------------
 * Paths
 * ------------------------------------------------------------------------------------------------------------- */
static char *store_file(const char *dir, uint32_t size, const char *ext) {
    size_t n = strlen(dir) + strlen(HB_IMGSTORE_DIR) + 32;
    char *p = hb_xmalloc(n);
    snprintf(p, n, "%s/%s/%u.%s", dir, HB_IMGSTORE_DIR, size, ext);
    return p;
}

char *hb_imgstore_path(const char *dir, uint32_t size) { return store_file(dir, size, "hbs"); }
char *hb_imgstore_index_path(const char *dir, uint32_t size) { return store_file(dir, size, "hbi"); }

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int hb_imgstore_sizes(const char *dir, uint32_t *sizes, int max) {
    char *sub = hb_path_join(dir, HB_IMGSTORE_DIR);
    DIR *d = opendir(sub);
    free(sub);
    if (!d) return 0;
    uint32_t found[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        char *end;
        unsigned long v = strtoul(e->d_name, &end, 10);
        if (end != e->d_name && !strcmp(end, ".hbs") && v > 0 && v < 65536 && e->d_name[0] != '0') found[n++] = (uint32_t)v;
    }
    closedir(d);
    qsort(found, (size_t)n, sizeof *found, cmp_u32);
    for (int i = 0; i < n && i < max; i++) sizes[i] = found[i];
    return n;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------------------------------------------------- */
/* Left-neighbour delta per channel within each row (the first pixel of a row is kept), then zstd. */
static void encode_payload(const uint8_t *px, uint32_t S, hb_buf *out) {
    size_t row = (size_t)S * 3, n = row * S;
    uint8_t *d = hb_xmalloc(n ? n : 1);
    for (uint32_t y = 0; y < S; y++) {
        const uint8_t *p = px + y * row;
        uint8_t *q = d + y * row;
        for (size_t i = 0; i < row; i++) q[i] = (uint8_t)(i < 3 ? p[i] : p[i] - p[i - 3]);
    }
    size_t bound = ZSTD_compressBound(n);
    hb_buf_clear(out);
    hb_buf_reserve(out, bound);
    size_t c = ZSTD_compress(out->data, bound, d, n, PAYLOAD_LEVEL);
    if (ZSTD_isError(c)) abort(); /* compressing into a ZSTD_compressBound buffer cannot fail */
    out->len = c;
    free(d);
}

static void put_record(hb_buf *out, hb_hash128 h, uint32_t w, uint32_t ht, uint8_t fmt, uint8_t enc, uint32_t S,
                       uint64_t pix_hash, const char *origin, size_t olen, const uint8_t *payload, size_t plen) {
    if (olen > MAX_ORIGIN) olen = MAX_ORIGIN;
    hb_buf_put_u32(out, 0);
    hb_buf_put_u64(out, h.lo);
    hb_buf_put_u64(out, h.hi);
    hb_buf_put_u32(out, w);
    hb_buf_put_u32(out, ht);
    hb_buf_put_u8(out, fmt);
    hb_buf_put_u8(out, 3);
    hb_buf_put_u8(out, enc);
    hb_buf_put_u8(out, 0);
    hb_buf_put_u32(out, S);
    hb_buf_put_u64(out, pix_hash);
    hb_buf_put_u16(out, (uint16_t)olen);
    hb_buf_append(out, origin, olen);
    hb_buf_put_u32(out, (uint32_t)plen);
    hb_buf_append(out, payload, plen);
}

void hb_image_rec_encode(const hb_image_rec *r, hb_buf *out) {
    hb_buf payload = {0};
    encode_payload(r->pixels, r->size, &payload);
    put_record(out, r->hash, r->width, r->height, r->format, HB_IMGENC_DELTA_ZSTD, r->size,
               hb_hash64(r->pixels, (size_t)r->size * r->size * 3, 0), r->origin, r->origin ? strlen(r->origin) : 0,
               payload.data, payload.len);
    hb_buf_free(&payload);
}

static int rec_err(hb_err *err, const char *what) { return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, HB_NOPOS, "hb.image/1 record: %s", what); }

/* The fields of a record, checked, pointing into it. */
typedef struct {
    hb_image_rec r;
    uint8_t enc;
    uint64_t pix_hash;
    const uint8_t *origin, *payload;
    size_t olen, plen;
} rec_view;

static int parse_record(const uint8_t *rec, size_t len, rec_view *v, hb_err *err) {
    memset(v, 0, sizeof *v);
    hb_image_rec *r = &v->r;
    if (len < REC_FIXED + 2 + 4) return rec_err(err, "too short");
    if (hb_le32(rec) != 0) return rec_err(err, "unknown flags");
    r->hash.lo = hb_le64(rec + 4);
    r->hash.hi = hb_le64(rec + 12);
    r->width = hb_le32(rec + 20);
    r->height = hb_le32(rec + 24);
    r->format = rec[28];
    uint8_t channels = rec[29];
    v->enc = rec[30];
    r->size = hb_le32(rec + 32);
    v->pix_hash = hb_le64(rec + 36);
    if (channels != 3 || rec[31] != 0 || (v->enc != HB_IMGENC_RAW && v->enc != HB_IMGENC_DELTA_ZSTD))
        return rec_err(err, "bad channels, encoding or reserved byte");
    if (r->format < 1 || r->format > 4 || r->width == 0 || r->height == 0 || r->size == 0 || r->size > 16384)
        return rec_err(err, "bad format code or size");
    size_t pos = REC_FIXED + 2;
    v->olen = hb_le16(rec + REC_FIXED);
    if (len - pos < v->olen + 4) return rec_err(err, "origin runs past the record");
    v->origin = rec + pos;
    pos += v->olen;
    v->plen = hb_le32(rec + pos);
    pos += 4;
    if (len - pos != v->plen) return rec_err(err, "payload length disagrees with the record size");
    v->payload = rec + pos;
    return 0;
}

int hb_image_rec_decode(const uint8_t *rec, size_t len, hb_image_rec *r, uint8_t *out_pixels, char *origin,
                        size_t origin_cap, hb_err *err) {
    rec_view v;
    int code = parse_record(rec, len, &v, err);
    *r = v.r;
    if (code) return code;
    if (origin && origin_cap) {
        size_t c = v.olen < origin_cap - 1 ? v.olen : origin_cap - 1;
        memcpy(origin, v.origin, c);
        origin[c] = 0;
        r->origin = origin;
    }
    /* The payload must be able to hold S*S*3 bytes before anyone allocates that much for it: a raw payload has that
     * size, a zstd frame says so in its header, and no zstd frame expands more than 32768-fold (a block yields at
     * most 128 KiB and costs at least 4 bytes). */
    size_t n = (size_t)r->size * r->size * 3;
    if (v.enc == HB_IMGENC_RAW && v.plen != n) return rec_err(err, "raw payload of the wrong size");
    if (v.enc != HB_IMGENC_RAW &&
        (ZSTD_getFrameContentSize(v.payload, v.plen) != n || (uint64_t)v.plen * 32768 < n))
        return rec_err(err, "compressed payload does not hold S*S*3 bytes");
    if (!out_pixels) return 0;
    if (v.enc == HB_IMGENC_RAW) {
        memcpy(out_pixels, v.payload, n);
    } else {
        size_t got = ZSTD_decompress(out_pixels, n, v.payload, v.plen);
        if (ZSTD_isError(got) || got != n) return rec_err(err, "cannot decompress the pixels");
        size_t row = (size_t)r->size * 3;
        for (uint32_t y = 0; y < r->size; y++) {
            uint8_t *q = out_pixels + y * row;
            for (size_t i = 3; i < row; i++) q[i] = (uint8_t)(q[i] + q[i - 3]);
        }
    }
    if (hb_hash64(out_pixels, n, 0) != v.pix_hash)
        return hb_err_set(err, HB_ECHECKSUM, NULL, HB_NOPOS, HB_NOPOS, "hb.image/1 record: pixel checksum mismatch");
    r->pixels = out_pixels;
    return 0;
}

static int hash_less(hb_hash128 a, hb_hash128 b) { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo); }

/* ---------------------------------------------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    hb_hash128 h;
    uint64_t off, pix_hash;
    uint32_t len, w, ht;
    uint8_t fmt;
    char *origin;
} went;

struct hb_imgstore_writer {
    char *store, *index, *spill;
    uint32_t size;
    int fd;
    uint64_t spill_len;
    pthread_mutex_t mu;
    went *e;
    size_t n, cap;
    int64_t *slots;
    size_t nslots;
    uint64_t dups;
    int failed;
    char failure[256];
};

int hb_imgstore_writer_open(hb_imgstore_writer **out, const char *dir, uint32_t size, hb_err *err) {
    *out = NULL;
    if (size == 0 || size > 16384)
        return hb_err_set(err, HB_EINVAL, dir, HB_NOPOS, HB_NOPOS, "image store: bad size %u", size);
    char *sub = hb_path_join(dir, HB_IMGSTORE_DIR);
    int code = hb_mkdir_p(sub, err);
    if (code) {
        free(sub);
        return code;
    }
    hb_imgstore_writer *w = hb_xcalloc(1, sizeof *w);
    w->size = size;
    w->store = hb_imgstore_path(dir, size);
    w->index = hb_imgstore_index_path(dir, size);
    size_t n = strlen(sub) + 64;
    w->spill = hb_xmalloc(n);
    static unsigned counter;
    snprintf(w->spill, n, "%s/%u.spill.%d.%u", sub, size, (int)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    free(sub);
    w->fd = open(w->spill, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        code = hb_err_errno(err, HB_EIO, w->spill, "cannot create the image spill file");
        w->fd = -1;
        free(w->spill);
        w->spill = NULL; /* not ours: never unlink it */
        hb_imgstore_writer_abort(w);
        return code;
    }
    pthread_mutex_init(&w->mu, NULL);
    w->nslots = 1024;
    w->slots = hb_xmalloc(sizeof(int64_t) * w->nslots);
    for (size_t i = 0; i < w->nslots; i++) w->slots[i] = -1;
    *out = w;
    return 0;
}

/* Slot of hash h (its entry, or the empty slot where it would go). Lock held. */
static size_t find_slot(const hb_imgstore_writer *w, hb_hash128 h) {
    size_t s = (size_t)(h.lo ^ (h.hi >> 7)) & (w->nslots - 1);
    while (w->slots[s] >= 0 && !hb_hash128_eq(w->e[w->slots[s]].h, h)) s = (s + 1) & (w->nslots - 1);
    return s;
}

static void grow_table(hb_imgstore_writer *w) {
    free(w->slots);
    w->nslots *= 2;
    w->slots = hb_xmalloc(sizeof(int64_t) * w->nslots);
    for (size_t i = 0; i < w->nslots; i++) w->slots[i] = -1;
    for (size_t i = 0; i < w->n; i++) w->slots[find_slot(w, w->e[i].h)] = (int64_t)i;
}

static void keep_smaller_origin(went *e, const char *origin) {
    if (origin && (!e->origin || strcmp(origin, e->origin) < 0)) {
        free(e->origin);
        e->origin = hb_xstrdup(origin);
    }
}

int hb_imgstore_writer_note(hb_imgstore_writer *w, hb_hash128 hash, const char *origin) {
    pthread_mutex_lock(&w->mu);
    size_t s = find_slot(w, hash);
    int found = w->slots[s] >= 0;
    if (found) keep_smaller_origin(&w->e[w->slots[s]], origin);
    pthread_mutex_unlock(&w->mu);
    return found;
}

int hb_imgstore_writer_add(hb_imgstore_writer *w, const hb_image_rec *r, hb_err *err) {
    if (r->size != w->size)
        return hb_err_set(err, HB_EINVAL, w->store, HB_NOPOS, HB_NOPOS, "image of size %u added to the %u store", r->size, w->size);
    if (hb_imgstore_writer_note(w, r->hash, r->origin)) {
        pthread_mutex_lock(&w->mu);
        w->dups++;
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    hb_buf payload = {0};
    encode_payload(r->pixels, r->size, &payload);
    uint64_t pix_hash = hb_hash64(r->pixels, (size_t)r->size * r->size * 3, 0);
    pthread_mutex_lock(&w->mu);
    size_t s = find_slot(w, r->hash);
    if (w->slots[s] >= 0) { /* another thread stored it meanwhile */
        keep_smaller_origin(&w->e[w->slots[s]], r->origin);
        w->dups++;
        pthread_mutex_unlock(&w->mu);
        hb_buf_free(&payload);
        return 0;
    }
    if (w->n == w->cap) w->e = hb_xrealloc(w->e, (w->cap = w->cap ? 2 * w->cap : 1024) * sizeof *w->e);
    uint64_t off = w->spill_len;
    w->spill_len += payload.len;
    w->e[w->n] = (went){r->hash, off, pix_hash, (uint32_t)payload.len, r->width, r->height, r->format,
                        r->origin ? hb_xstrdup(r->origin) : NULL};
    w->slots[s] = (int64_t)w->n++;
    if (2 * w->n > w->nslots) grow_table(w);
    pthread_mutex_unlock(&w->mu);
    /* the reserved range is written outside the lock */
    size_t done = 0;
    int code = 0;
    while (done < payload.len) {
        ssize_t k = pwrite(w->fd, payload.data + done, payload.len - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            code = hb_err_errno(err, HB_EIO, w->spill, "cannot write the image spill file");
            pthread_mutex_lock(&w->mu);
            w->failed = 1;
            snprintf(w->failure, sizeof w->failure, "%s", err ? err->reason : "spill write failed");
            pthread_mutex_unlock(&w->mu);
            break;
        }
        done += (size_t)k;
    }
    hb_buf_free(&payload);
    return code;
}

static void writer_free(hb_imgstore_writer *w) {
    if (w->fd >= 0) close(w->fd);
    if (w->spill) unlink(w->spill);
    for (size_t i = 0; i < w->n; i++) free(w->e[i].origin);
    free(w->e);
    free(w->slots);
    free(w->store);
    free(w->index);
    free(w->spill);
    if (w->nslots) pthread_mutex_destroy(&w->mu);
    free(w);
}

void hb_imgstore_writer_abort(hb_imgstore_writer *w) {
    if (w) writer_free(w);
}

static int cmp_went(const void *a, const void *b) {
    const went *x = a, *y = b;
    return hash_less(x->h, y->h) ? -1 : hash_less(y->h, x->h);
}

/* The final files: the store (records in hash order, one per block) and its index, both atomic. */
typedef struct {
    hb_shard_writer *sw;
    hb_buf index, rec;
    uint64_t n;
} out_store;

static int out_open(out_store *o, const char *store, uint32_t size, hb_err *err) {
    memset(o, 0, sizeof *o);
    /* One record per block: the trainer decompresses exactly the image it reads. The payload is already
     * compressed, so the container's zstd pass runs at its fastest level. */
    hb_shard_opts so = {.block_bytes = 1, .zstd_level = 1};
    int code = hb_shard_writer_open(&o->sw, store, HB_SCHEMA_IMAGE, &so, err);
    if (code) return code;
    hb_buf_append(&o->index, HB_IMGINDEX_MAGIC, 8);
    hb_buf_put_u32(&o->index, HB_IMGINDEX_VERSION);
    hb_buf_put_u32(&o->index, size);
    hb_buf_put_u64(&o->index, 0); /* count and store checksum: filled in by out_close */
    hb_buf_put_u64(&o->index, 0);
    return 0;
}

static int out_add(out_store *o, const rec_view *v, const uint8_t *origin, size_t olen, hb_err *err) {
    hb_buf_clear(&o->rec);
    put_record(&o->rec, v->r.hash, v->r.width, v->r.height, v->r.format, v->enc, v->r.size, v->pix_hash,
               (const char *)origin, olen, v->payload, v->plen);
    hb_buf_put_u64(&o->index, v->r.hash.lo);
    hb_buf_put_u64(&o->index, v->r.hash.hi);
    o->n++;
    return hb_shard_writer_add(o->sw, o->rec.data, o->rec.len, err);
}

static void out_free(out_store *o) {
    hb_buf_free(&o->index);
    hb_buf_free(&o->rec);
}

static int out_close(out_store *o, int code, const char *index_path, uint64_t dups, hb_imgstore_info *info, hb_err *err) {
    hb_shard_info si;
    if (code) hb_shard_writer_abort(o->sw);
    else code = hb_shard_writer_close(o->sw, &si, err);
    if (!code) {
        for (int b = 0; b < 8; b++) o->index.data[16 + b] = (uint8_t)(o->n >> (8 * b));
        for (int b = 0; b < 8; b++) o->index.data[24 + b] = (uint8_t)(si.xxh3 >> (8 * b));
        hb_buf_put_u64(&o->index, hb_hash64(o->index.data, o->index.len, 0));
        hb_buf_append(&o->index, HB_IMGINDEX_END_MAGIC, 8);
        code = hb_write_file_atomic(index_path, o->index.data, o->index.len, err);
        if (info) *info = (hb_imgstore_info){o->n, dups, si.bytes, si.xxh3};
    }
    out_free(o);
    return code;
}

int hb_imgstore_writer_close(hb_imgstore_writer *w, hb_imgstore_info *info, hb_err *err) {
    if (w->failed) {
        int code = hb_err_set(err, HB_EIO, w->spill, HB_NOPOS, HB_NOPOS, "%s", w->failure);
        writer_free(w);
        return code;
    }
    if (w->n) qsort(w->e, w->n, sizeof *w->e, cmp_went);
    out_store o;
    int code = out_open(&o, w->store, w->size, err);
    if (code) {
        writer_free(w);
        return code;
    }
    hb_buf payload = {0};
    for (size_t i = 0; i < w->n && !code; i++) {
        const went *e = &w->e[i];
        hb_buf_clear(&payload);
        hb_buf_reserve(&payload, e->len);
        size_t done = 0;
        while (done < e->len) {
            ssize_t k = pread(w->fd, payload.data + done, e->len - done, (off_t)(e->off + done));
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) break;
            done += (size_t)k;
        }
        if (done != e->len) {
            code = hb_err_errno(err, HB_EIO, w->spill, "cannot read the image spill file back");
            break;
        }
        rec_view v = {{e->h, e->w, e->ht, e->fmt, w->size, NULL, NULL}, HB_IMGENC_DELTA_ZSTD, e->pix_hash, NULL,
                      payload.data, 0, e->len};
        code = out_add(&o, &v, (const uint8_t *)e->origin, e->origin ? strlen(e->origin) : 0, err);
    }
    hb_buf_free(&payload);
    code = out_close(&o, code, w->index, w->dups, info, err);
    writer_free(w);
    return code;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Reader
 * ------------------------------------------------------------------------------------------------------------- */
struct hb_imgstore {
    char *store, *index;
    uint32_t size;
    uint64_t n, store_xxh3;
    uint8_t *ix;
    size_t ix_size;
    const uint8_t *hashes; /* n * 16 bytes */
    pthread_mutex_t mu;
    hb_shard **pool;
    size_t n_pool, cap_pool;
};

static int ix_fail(hb_imgstore *s, long long off, const char *what, hb_err *err) {
    return hb_err_set(err, HB_EFORMAT, s->index, HB_NOPOS, off, "image index: %s", what);
}

static hb_hash128 hash_at(const hb_imgstore *s, uint64_t k) {
    const uint8_t *p = s->hashes + 16 * k;
    return (hb_hash128){hb_le64(p), hb_le64(p + 8)};
}

static int map_index(hb_imgstore *s, hb_err *err) {
    int fd = open(s->index, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hb_err_errno(err, errno == ENOENT ? HB_ENOTFOUND : HB_EIO, s->index, "cannot open the image index");
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return hb_err_errno(err, HB_EIO, s->index, "stat");
    }
    s->ix_size = (size_t)st.st_size;
    if (s->ix_size < HB_IMGINDEX_HEADER + HB_IMGINDEX_TRAILER) {
        close(fd);
        return ix_fail(s, 0, "file too small (truncated?)", err);
    }
    void *m = mmap(NULL, s->ix_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return hb_err_errno(err, HB_EIO, s->index, "mmap");
    s->ix = m;
    const uint8_t *p = s->ix;
    if (memcmp(p, HB_IMGINDEX_MAGIC, 8) != 0) return ix_fail(s, 0, "bad magic (not an hb image index)", err);
    if (hb_le32(p + 8) != HB_IMGINDEX_VERSION) return ix_fail(s, 8, "unsupported version", err);
    if (hb_le32(p + 12) != s->size) return ix_fail(s, 12, "its size disagrees with the file name", err);
    s->n = hb_le64(p + 16);
    s->store_xxh3 = hb_le64(p + 24);
    if (s->n > (s->ix_size - HB_IMGINDEX_HEADER - HB_IMGINDEX_TRAILER) / 16 ||
        HB_IMGINDEX_HEADER + 16 * s->n + HB_IMGINDEX_TRAILER != s->ix_size)
        return ix_fail(s, 16, "count disagrees with the file size", err);
    const uint8_t *t = p + s->ix_size - HB_IMGINDEX_TRAILER;
    if (memcmp(t + 8, HB_IMGINDEX_END_MAGIC, 8) != 0) return ix_fail(s, (long long)(s->ix_size - 8), "end magic missing (truncated?)", err);
    if (hb_hash64(p, s->ix_size - HB_IMGINDEX_TRAILER, 0) != hb_le64(t))
        return hb_err_set(err, HB_ECHECKSUM, s->index, HB_NOPOS, (long long)(s->ix_size - HB_IMGINDEX_TRAILER),
                          "image index: checksum mismatch");
    s->hashes = p + HB_IMGINDEX_HEADER;
    for (uint64_t k = 1; k < s->n; k++)
        if (!hash_less(hash_at(s, k - 1), hash_at(s, k)))
            return ix_fail(s, (long long)(HB_IMGINDEX_HEADER + 16 * k), "hashes are not strictly ascending", err);
    return 0;
}

static int pick_size(const char *dir, uint32_t *size, hb_err *err) {
    if (*size) return 0;
    uint32_t sizes[8];
    int n = hb_imgstore_sizes(dir, sizes, 8);
    if (n == 0) return hb_err_set(err, HB_ENOTFOUND, dir, HB_NOPOS, HB_NOPOS, "no image store (%s/<S>.hbs) in this directory", HB_IMGSTORE_DIR);
    if (n > 1) {
        char list[128] = "";
        for (int i = 0; i < n && i < 8; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%u", i ? ", " : "", sizes[i]);
        return hb_err_set(err, HB_EINVAL, dir, HB_NOPOS, HB_NOPOS, "several image stores (%s): name the size", list);
    }
    *size = sizes[0];
    return 0;
}

static hb_shard *pool_take(hb_imgstore *s, hb_err *err) {
    pthread_mutex_lock(&s->mu);
    hb_shard *h = s->n_pool ? s->pool[--s->n_pool] : NULL;
    pthread_mutex_unlock(&s->mu);
    if (h) return h;
    if (hb_shard_open(&h, s->store, err)) return NULL;
    return h;
}

static void pool_give(hb_imgstore *s, hb_shard *h) {
    pthread_mutex_lock(&s->mu);
    if (s->n_pool == s->cap_pool) s->pool = hb_xrealloc(s->pool, (s->cap_pool = s->cap_pool ? 2 * s->cap_pool : 8) * sizeof *s->pool);
    s->pool[s->n_pool++] = h;
    pthread_mutex_unlock(&s->mu);
}

int hb_imgstore_open(hb_imgstore **out, const char *dir, uint32_t size, hb_err *err) {
    *out = NULL;
    int code = pick_size(dir, &size, err);
    if (code) return code;
    hb_imgstore *s = hb_xcalloc(1, sizeof *s);
    s->size = size;
    s->store = hb_imgstore_path(dir, size);
    s->index = hb_imgstore_index_path(dir, size);
    pthread_mutex_init(&s->mu, NULL);
    code = map_index(s, err);
    hb_shard *h = NULL;
    if (!code) code = hb_shard_open(&h, s->store, err);
    if (!code && strcmp(hb_shard_schema(h), HB_SCHEMA_IMAGE) != 0)
        code = hb_err_set(err, HB_EFORMAT, s->store, HB_NOPOS, HB_NOPOS, "schema is '%s', not %s", hb_shard_schema(h), HB_SCHEMA_IMAGE);
    if (!code && (hb_shard_count(h) != s->n || hb_shard_checksum(h) != s->store_xxh3))
        code = hb_err_set(err, HB_EFORMAT, s->index, HB_NOPOS, HB_NOPOS,
                          "the index does not belong to %s (count or store checksum differ): rewritten separately?", s->store);
    if (code) {
        hb_shard_close(h);
        hb_imgstore_close(s);
        return code;
    }
    pool_give(s, h);
    *out = s;
    return 0;
}

void hb_imgstore_close(hb_imgstore *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_pool; i++) hb_shard_close(s->pool[i]);
    free(s->pool);
    if (s->ix) munmap(s->ix, s->ix_size);
    pthread_mutex_destroy(&s->mu);
    free(s->store);
    free(s->index);
    free(s);
}

uint64_t hb_imgstore_count(const hb_imgstore *s) { return s->n; }
uint32_t hb_imgstore_size(const hb_imgstore *s) { return s->size; }

int hb_imgstore_find(const hb_imgstore *s, hb_hash128 hash, uint64_t *k) {
    uint64_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        hb_hash128 m = hash_at(s, mid);
        if (hash_less(m, hash)) lo = mid + 1;
        else hi = mid;
    }
    if (lo < s->n && hb_hash128_eq(hash_at(s, lo), hash)) {
        *k = lo;
        return 0;
    }
    return HB_ENOTFOUND;
}

/* hb_image_rec_decode into a buffer of S*S*3 bytes: a record of another size is an error before any pixel is
 * written (the buffer is sized for the store, the record says its own size). */
static int decode_sized(const uint8_t *rec, size_t len, uint32_t S, hb_image_rec *r, uint8_t *pixels, char *origin,
                        size_t origin_cap, hb_err *err) {
    rec_view v;
    int code = parse_record(rec, len, &v, err);
    if (code) return code;
    if (v.r.size != S)
        return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, HB_NOPOS, "hb.image/1 record of size %u in a store of size %u",
                          v.r.size, S);
    return hb_image_rec_decode(rec, len, r, pixels, origin, origin_cap, err);
}

int hb_imgstore_get_at(hb_imgstore *s, uint64_t k, uint8_t *pixels, hb_image_meta *meta, hb_err *err) {
    if (k >= s->n)
        return hb_err_set(err, HB_ERANGE, s->store, (long long)k, HB_NOPOS, "image %llu out of range (store has %llu)",
                          (unsigned long long)k, (unsigned long long)s->n);
    hb_shard *h = pool_take(s, err);
    if (!h) return err ? err->code : HB_EIO;
    const uint8_t *rec;
    size_t len;
    int code = hb_shard_get(h, k, &rec, &len, err);
    hb_image_rec r;
    char origin_buf[8];
    if (!code) code = decode_sized(rec, len, s->size, &r, pixels, meta ? meta->origin : origin_buf,
                                   meta ? sizeof meta->origin : sizeof origin_buf, err);
    if (!code && (!hb_hash128_eq(r.hash, hash_at(s, k)) || r.size != s->size))
        code = hb_err_set(err, HB_EFORMAT, s->store, (long long)k, HB_NOPOS, "record %llu disagrees with the index",
                          (unsigned long long)k);
    else if (code && err && !err->file[0]) {
        char why[sizeof err->reason];
        snprintf(why, sizeof why, "%s", err->reason);
        hb_err_set(err, code, s->store, (long long)k, HB_NOPOS, "%s", why);
    }
    if (!code && meta) {
        meta->hash = r.hash;
        meta->width = r.width;
        meta->height = r.height;
        meta->size = r.size;
        meta->format = r.format;
    }
    pool_give(s, h);
    return code;
}

int hb_imgstore_get(hb_imgstore *s, hb_hash128 hash, uint8_t *pixels, hb_image_meta *meta, hb_err *err) {
    uint64_t k;
    if (hb_imgstore_find(s, hash, &k)) {
        char hex[33];
        hb_hash128_hex(hash, hex);
        return hb_err_set(err, HB_ENOTFOUND, s->store, HB_NOPOS, HB_NOPOS, "no image %s in the store", hex);
    }
    return hb_imgstore_get_at(s, k, pixels, meta, err);
}

typedef struct {
    hb_imgstore *s;
    uint64_t k;
    uint8_t *pixels;
} verify_ctx;

static int verify_record(const uint8_t *rec, size_t len, void *p, hb_err *err) {
    verify_ctx *c = p;
    hb_image_rec r;
    char origin[8];
    int code = decode_sized(rec, len, c->s->size, &r, c->pixels, origin, sizeof origin, err);
    if (code) return code;
    if (c->k >= c->s->n || !hb_hash128_eq(r.hash, hash_at(c->s, c->k)) || r.size != c->s->size)
        return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, HB_NOPOS, "hash or size disagrees with the index entry %llu",
                          (unsigned long long)c->k);
    c->k++;
    return 0;
}

int hb_imgstore_verify(const char *dir, uint32_t size, hb_err *err) {
    hb_imgstore *s;
    int code = hb_imgstore_open(&s, dir, size, err);
    if (code) return code;
    verify_ctx c = {s, 0, hb_xmalloc((size_t)s->size * s->size * 3)};
    code = hb_shard_verify(s->store, verify_record, &c, err);
    free(c.pixels);
    hb_imgstore_close(s);
    return code;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Merge
 * ------------------------------------------------------------------------------------------------------------- */
static int origin_less(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c < 0 || (c == 0 && an < bn);
}

int hb_imgstore_merge(const char *out_dir, uint32_t size, const char *const *in_dirs, size_t n, hb_imgstore_info *info,
                      hb_err *err) {
    if (size == 0 || size > 16384)
        return hb_err_set(err, HB_EINVAL, out_dir, HB_NOPOS, HB_NOPOS, "image store merge: bad size %u", size);
    hb_imgstore **in = hb_xcalloc(n + 1, sizeof *in);
    hb_shard **h = hb_xcalloc(n + 1, sizeof *h);
    uint64_t *pos = hb_xcalloc(n + 1, sizeof *pos);
    int code = 0;
    for (size_t i = 0; i < n && !code; i++) {
        code = hb_imgstore_open(&in[i], in_dirs[i], size, err);
        if (!code && !(h[i] = pool_take(in[i], err))) code = err ? err->code : HB_EIO;
    }
    char *sub = hb_path_join(out_dir, HB_IMGSTORE_DIR), *store = hb_imgstore_path(out_dir, size);
    char *index = hb_imgstore_index_path(out_dir, size);
    if (!code) code = hb_mkdir_p(sub, err);
    out_store o;
    int opened = !code && !(code = out_open(&o, store, size, err));
    hb_buf origin = {0};
    uint64_t dups = 0;
    while (!code) {
        /* the smallest hash at the inputs' heads; every input holding it contributes its origin */
        int have = 0;
        hb_hash128 min = {0, 0};
        for (size_t i = 0; i < n; i++)
            if (pos[i] < in[i]->n && (!have || hash_less(hash_at(in[i], pos[i]), min))) min = hash_at(in[i], pos[i]), have = 1;
        if (!have) break;
        rec_view first;
        int got = 0;
        for (size_t i = 0; i < n && !code; i++) {
            if (pos[i] >= in[i]->n || !hb_hash128_eq(hash_at(in[i], pos[i]), min)) continue;
            const uint8_t *rec;
            size_t len;
            rec_view v;
            if ((code = hb_shard_get(h[i], pos[i], &rec, &len, err)) || (code = parse_record(rec, len, &v, err))) break;
            if (!got || origin_less(v.origin, v.olen, origin.data, origin.len)) {
                hb_buf_clear(&origin);
                hb_buf_append(&origin, v.origin, v.olen);
            }
            if (!got) first = v, got = 1; /* its record stays valid: later gets go to other inputs' handles */
            else dups++;
            pos[i]++;
        }
        if (!code) code = out_add(&o, &first, origin.data, origin.len, err);
    }
    if (opened) code = out_close(&o, code, index, dups, info, err);
    hb_buf_free(&origin);
    for (size_t i = 0; i < n; i++) {
        if (h[i]) pool_give(in[i], h[i]);
        hb_imgstore_close(in[i]);
    }
    free(in), free(h), free(pos), free(sub), free(store), free(index);
    return code;
}
