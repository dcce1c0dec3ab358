/* Zip and tar archives read in place: an index of entries built once, then each entry read at random through a
 * libarchive reader started at that entry's header (docs/images.md, "Archives").
 *
 * Zip: the index comes from the central directory (EOCD, zip64 EOCD locator and record, zip64 extra fields), read
 * with pread; an entry is read by libarchive's streaming zip reader from its local header, which decompresses and
 * checks the CRC-32. Tar: one pass of libarchive over the headers, skipping the data with seeks, records each
 * regular file's header position (archive_read_header_position); an entry is read by a tar reader started there.
 * Nothing is ever extracted: the bytes go to memory.
 *
 * Dependencies: image.h (hb_archive, hb_image_path_normalize), core/core.h (hb_err, hb_buf, hb_hash64, hb_arena),
 * <archive.h>/<archive_entry.h> (libarchive readers), <fcntl.h>/<unistd.h> (open, pread), <sys/stat.h>. */
#include "image.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { KIND_ZIP = 1, KIND_TAR = 2 };

typedef struct {
    char *name;      /* normalised; for an unsafe entry, the name with its unsafe parts removed */
    uint64_t size;   /* uncompressed bytes */
    uint64_t offset; /* zip: local header; tar: header position */
    int unsafe;
} entry;

struct hb_archive {
    char *path;
    int fd;
    uint64_t file_size;
    int kind;
    hb_arena names;
    entry *e;
    size_t n, cap;
    int64_t *slots; /* open-addressing hash table of entry indices, -1 empty */
    size_t nslots;
    char *top;      /* "dir/" when every entry lies under that one folder, else NULL */
};

/* ---- names ---- */

/* ".." as a segment, splitting on both '/' and '\\' (zip-slip names from Windows tools use backslashes). */
static int has_dotdot(const char *s) {
    for (const char *p = s; *p;) {
        const char *q = p;
        while (*q && *q != '/' && *q != '\\') q++;
        if (q - p == 2 && p[0] == '.' && p[1] == '.') return 1;
        p = *q ? q + 1 : q;
    }
    return 0;
}

int hb_image_path_normalize(char *path) {
    if (!path || !*path || path[0] == '/' || path[0] == '\\' || has_dotdot(path)) return HB_IMG_UNSAFE_PATH;
    if (((path[0] | 32) >= 'a' && (path[0] | 32) <= 'z') && path[1] == ':') return HB_IMG_UNSAFE_PATH; /* C:... */
    char *w = path;
    const char *r = path;
    while (*r) { /* drop "." and empty segments */
        const char *seg = r;
        while (*r && *r != '/') r++;
        size_t len = (size_t)(r - seg);
        if (!(len == 0 || (len == 1 && seg[0] == '.'))) {
            if (w != path) *w++ = '/';
            memmove(w, seg, len);
            w += len;
        }
        if (*r == '/') r++;
    }
    *w = 0;
    return w == path ? HB_IMG_UNSAFE_PATH : HB_IMG_OK;
}

/* The name with leading separators, drive letters and ".." segments removed, for unsafe entries. */
static char *strip_unsafe(const char *name) {
    size_t n = strlen(name);
    char *out = hb_xmalloc(n + 1), *w = out;
    const char *r = name;
    while (*r) {
        const char *seg = r;
        while (*r && *r != '/' && *r != '\\') r++;
        size_t len = (size_t)(r - seg);
        int drop = len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.') ||
                   (seg == name && len == 2 && seg[1] == ':');
        if (!drop) {
            if (w != out) *w++ = '/';
            memcpy(w, seg, len);
            w += len;
        }
        if (*r) r++;
    }
    *w = 0;
    return out;
}

/* The index name of an entry: normalised, or with its unsafe parts removed (then *unsafe = 1). malloc'd. */
static char *entry_name(const char *raw, int *unsafe) {
    char *norm = hb_xstrdup(raw);
    *unsafe = hb_image_path_normalize(norm) != HB_IMG_OK;
    if (*unsafe) {
        free(norm);
        norm = strip_unsafe(raw);
    }
    return norm;
}

static void add_entry(hb_archive *a, const char *raw, uint64_t size, uint64_t offset) {
    int unsafe;
    char *norm = entry_name(raw, &unsafe);
    if (a->n == a->cap) a->e = hb_xrealloc(a->e, (a->cap = a->cap ? 2 * a->cap : 256) * sizeof *a->e);
    a->e[a->n++] = (entry){hb_arena_strdup(&a->names, norm), size, offset, unsafe};
    free(norm);
}

static void build_table(hb_archive *a) {
    a->nslots = 16;
    while (a->nslots < 2 * a->n + 16) a->nslots *= 2;
    a->slots = hb_xmalloc(sizeof(int64_t) * a->nslots);
    for (size_t i = 0; i < a->nslots; i++) a->slots[i] = -1;
    for (size_t i = 0; i < a->n; i++) {
        size_t s = hb_hash_str(a->e[i].name, 0) & (a->nslots - 1);
        while (a->slots[s] >= 0 && strcmp(a->e[a->slots[s]].name, a->e[i].name) != 0) s = (s + 1) & (a->nslots - 1);
        a->slots[s] = (int64_t)i; /* a later entry of the same name replaces the earlier one */
    }
    /* one top-level folder holding everything? */
    const char *first = a->n ? strchr(a->e[0].name, '/') : NULL;
    if (!first) return;
    size_t plen = (size_t)(first - a->e[0].name) + 1;
    for (size_t i = 1; i < a->n; i++)
        if (strncmp(a->e[i].name, a->e[0].name, plen) != 0) return;
    a->top = hb_arena_strndup(&a->names, a->e[0].name, plen);
}

static int64_t lookup(const hb_archive *a, const char *name) {
    if (!a->nslots) return -1;
    size_t s = hb_hash_str(name, 0) & (a->nslots - 1);
    while (a->slots[s] >= 0) {
        if (!strcmp(a->e[a->slots[s]].name, name)) return a->slots[s];
        s = (s + 1) & (a->nslots - 1);
    }
    return -1;
}

int64_t hb_archive_find(const hb_archive *a, const char *name) {
    char *norm = hb_xstrdup(name);
    int64_t k = -1;
    if (hb_image_path_normalize(norm) == HB_IMG_OK) {
        k = lookup(a, norm);
        if (k < 0 && a->top && strncmp(norm, a->top, strlen(a->top)) != 0) {
            char *with = hb_xmalloc(strlen(a->top) + strlen(norm) + 1);
            strcpy(with, a->top);
            strcat(with, norm);
            k = lookup(a, with);
            free(with);
        }
    }
    free(norm);
    return k;
}

/* ---- zip: central directory ---- */

static int pread_all(int fd, void *buf, size_t n, uint64_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static int zip_index(hb_archive *a, hb_err *err) {
    uint64_t tail = a->file_size < 65557 + 20 ? a->file_size : 65557 + 20;
    uint8_t *t = hb_xmalloc(tail ? tail : 1);
    if (pread_all(a->fd, t, tail, a->file_size - tail)) {
        free(t);
        return hb_err_errno(err, HB_EIO, a->path, "cannot read the end of the zip");
    }
    int64_t eocd = -1;
    for (int64_t i = (int64_t)tail - 22; i >= 0; i--) {
        if (hb_le32(t + i) == 0x06054b50 && (uint64_t)i + 22 + hb_le16(t + i + 20) <= tail) {
            eocd = i;
            break;
        }
    }
    if (eocd < 0) {
        free(t);
        return hb_err_set(err, HB_EFORMAT, a->path, HB_NOPOS, HB_NOPOS,
                          "zip: no end-of-central-directory record (truncated or not a zip)");
    }
    uint64_t eocd_pos = a->file_size - tail + (uint64_t)eocd;
    const uint8_t *e = t + eocd;
    uint64_t count = hb_le16(e + 10), cd_size = hb_le32(e + 12), cd_off = hb_le32(e + 16);
    if (hb_le16(e + 4) != 0 || hb_le16(e + 6) != 0) {
        free(t);
        return hb_err_set(err, HB_EUNSUPPORTED, a->path, HB_NOPOS, (long long)eocd_pos, "zip: multi-disk archives are not supported");
    }
    if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) {
        uint8_t loc[20], rec[56];
        if (eocd_pos < 20 || pread_all(a->fd, loc, 20, eocd_pos - 20) || hb_le32(loc) != 0x07064b50) {
            free(t);
            return hb_err_set(err, HB_EFORMAT, a->path, HB_NOPOS, (long long)eocd_pos, "zip: zip64 locator missing");
        }
        uint64_t z64 = hb_le64(loc + 8);
        if (z64 + 56 > eocd_pos || pread_all(a->fd, rec, 56, z64) || hb_le32(rec) != 0x06064b50) {
            free(t);
            return hb_err_set(err, HB_EFORMAT, a->path, HB_NOPOS, (long long)z64, "zip: bad zip64 end-of-central-directory record");
        }
        count = hb_le64(rec + 32);
        cd_size = hb_le64(rec + 40);
        cd_off = hb_le64(rec + 48);
        eocd_pos = z64;
    }
    free(t);
    if (cd_off > eocd_pos || cd_size > eocd_pos - cd_off || count > cd_size / 46 + 1)
        return hb_err_set(err, HB_EFORMAT, a->path, HB_NOPOS, (long long)cd_off,
                          "zip: central directory out of range (%llu entries, %llu bytes at %llu)",
                          (unsigned long long)count, (unsigned long long)cd_size, (unsigned long long)cd_off);
    uint8_t *cd = hb_xmalloc(cd_size ? cd_size : 1);
    if (pread_all(a->fd, cd, cd_size, cd_off)) {
        free(cd);
        return hb_err_errno(err, HB_EIO, a->path, "cannot read the zip central directory");
    }
    uint64_t pos = 0;
    char *name = NULL;
    for (uint64_t i = 0; i < count; i++) {
        if (cd_size - pos < 46 || hb_le32(cd + pos) != 0x02014b50) {
            free(cd);
            free(name);
            return hb_err_set(err, HB_EFORMAT, a->path, (long long)i, (long long)(cd_off + pos),
                              "zip: central directory entry %llu is malformed", (unsigned long long)i);
        }
        const uint8_t *c = cd + pos;
        uint32_t made_by = hb_le16(c + 4), nlen = hb_le16(c + 28), xlen = hb_le16(c + 30), clen = hb_le16(c + 32);
        uint64_t csize = hb_le32(c + 20), usize = hb_le32(c + 24), loff = hb_le32(c + 42);
        uint32_t ext_attr = hb_le32(c + 38);
        if (46ull + nlen + xlen + clen > cd_size - pos) {
            free(cd);
            free(name);
            return hb_err_set(err, HB_EFORMAT, a->path, (long long)i, (long long)(cd_off + pos),
                              "zip: central directory entry %llu runs past the directory", (unsigned long long)i);
        }
        /* zip64 extended information: the 64-bit values of the fields that read 0xFFFFFFFF, in this order */
        const uint8_t *x = c + 46 + nlen, *xend = x + xlen;
        while (xend - x >= 4) {
            uint32_t id = hb_le16(x), len = hb_le16(x + 2);
            if ((size_t)(xend - x - 4) < len) break;
            if (id == 0x0001) {
                const uint8_t *f = x + 4, *fend = f + len;
                if (usize == 0xFFFFFFFF && fend - f >= 8) usize = hb_le64(f), f += 8;
                if (csize == 0xFFFFFFFF && fend - f >= 8) csize = hb_le64(f), f += 8;
                if (loff == 0xFFFFFFFF && fend - f >= 8) loff = hb_le64(f), f += 8;
            }
            x += 4 + len;
        }
        name = hb_xrealloc(name, nlen + 1);
        memcpy(name, c + 46, nlen);
        name[nlen] = 0;
        int is_dir = nlen > 0 && (name[nlen - 1] == '/' || name[nlen - 1] == '\\');
        int unix_host = (made_by >> 8) == 3;
        uint32_t mode = ext_attr >> 16;
        int not_regular = unix_host && (mode & 0170000) != 0 && (mode & 0170000) != 0100000; /* symlink, device */
        if (memchr(c + 46, 0, nlen) == NULL && !is_dir && !not_regular && nlen > 0) {
            if (loff >= cd_off) {
                free(cd);
                free(name);
                return hb_err_set(err, HB_EFORMAT, a->path, (long long)i, (long long)(cd_off + pos),
                                  "zip: entry %llu has its data past the central directory", (unsigned long long)i);
            }
            add_entry(a, name, usize, loff);
        }
        pos += 46ull + nlen + xlen + clen;
    }
    free(cd);
    free(name);
    return 0;
}

/* ---- libarchive over pread ---- */

typedef struct {
    int fd;
    uint64_t pos, size;
    uint8_t buf[1 << 16];
} cursor;

static la_ssize_t cur_read(struct archive *ar, void *p, const void **out) {
    (void)ar;
    cursor *c = p;
    *out = c->buf;
    if (c->pos >= c->size) return 0;
    size_t want = c->size - c->pos < sizeof c->buf ? (size_t)(c->size - c->pos) : sizeof c->buf;
    for (;;) {
        ssize_t r = pread(c->fd, c->buf, want, (off_t)c->pos);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            archive_set_error(ar, errno, "read failed");
            return -1;
        }
        c->pos += (uint64_t)r;
        return r;
    }
}

static la_int64_t cur_skip(struct archive *ar, void *p, la_int64_t n) {
    (void)ar;
    cursor *c = p;
    if (n < 0) return 0;
    uint64_t left = c->size - c->pos;
    if ((uint64_t)n > left) n = (la_int64_t)left;
    c->pos += (uint64_t)n;
    return n;
}

static la_int64_t cur_seek(struct archive *ar, void *p, la_int64_t off, int whence) {
    (void)ar;
    cursor *c = p;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)c->pos : (int64_t)c->size;
    int64_t to = base + off;
    if (to < 0 || (uint64_t)to > c->size) return ARCHIVE_FATAL;
    c->pos = (uint64_t)to;
    return to;
}

static struct archive *reader_at(hb_archive *a, cursor *c, uint64_t offset, int seekable) {
    c->fd = a->fd;
    c->pos = offset;
    c->size = a->file_size;
    struct archive *ar = archive_read_new();
    if (a->kind == KIND_ZIP) {
        archive_read_support_format_zip_streamable(ar);
    } else {
        archive_read_support_format_tar(ar);
        archive_read_support_filter_all(ar);
    }
    archive_read_set_read_callback(ar, cur_read);
    archive_read_set_skip_callback(ar, cur_skip);
    if (seekable) archive_read_set_seek_callback(ar, cur_seek);
    archive_read_set_callback_data(ar, c);
    if (archive_read_open1(ar) != ARCHIVE_OK) {
        archive_read_free(ar);
        return NULL;
    }
    return ar;
}

static int tar_index(hb_archive *a, hb_err *err) {
    cursor *c = hb_xmalloc(sizeof *c);
    struct archive *ar = reader_at(a, c, 0, 1);
    if (!ar) {
        free(c);
        return hb_err_set(err, HB_EFORMAT, a->path, HB_NOPOS, 0, "tar: cannot open");
    }
    struct archive_entry *e;
    int r, code = 0;
    long long k = 0;
    while ((r = archive_read_next_header(ar, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        if (k == 0 && archive_filter_code(ar, 0) != ARCHIVE_FILTER_NONE) {
            code = hb_err_set(err, HB_EUNSUPPORTED, a->path, HB_NOPOS, HB_NOPOS,
                              "tar: compressed with %s: a compressed tar cannot be read at random; decompress it to a "
                              "plain .tar first", archive_filter_name(ar, 0));
            break;
        }
        uint64_t pos = (uint64_t)archive_read_header_position(ar);
        const char *name = archive_entry_pathname(e);
        if (name && archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e) && archive_entry_size_is_set(e))
            add_entry(a, name, (uint64_t)archive_entry_size(e), pos);
        k++;
        if (archive_read_data_skip(ar) != ARCHIVE_OK) {
            r = ARCHIVE_FATAL;
            break;
        }
    }
    if (!code && r != ARCHIVE_EOF)
        code = hb_err_set(err, HB_EFORMAT, a->path, k, (long long)c->pos, "tar: %s",
                          archive_error_string(ar) ? archive_error_string(ar) : "cannot read the headers");
    archive_read_free(ar);
    free(c);
    return code;
}

/* ---- public ---- */

int hb_archive_open(hb_archive **out, const char *path, hb_err *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hb_err_errno(err, errno == ENOENT ? HB_ENOTFOUND : HB_EIO, path, "cannot open archive");
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hb_err_set(err, HB_EIO, path, HB_NOPOS, HB_NOPOS, "not a regular file");
    }
    hb_archive *a = hb_xcalloc(1, sizeof *a);
    a->path = hb_xstrdup(path);
    a->fd = fd;
    a->file_size = (uint64_t)st.st_size;
    hb_arena_init(&a->names, 0);
    uint8_t head[512] = {0};
    size_t hn = a->file_size < sizeof head ? (size_t)a->file_size : sizeof head;
    int code = 0;
    if (pread_all(fd, head, hn, 0)) code = hb_err_errno(err, HB_EIO, path, "cannot read");
    else if (hn >= 4 && head[0] == 'P' && head[1] == 'K' && ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6)))
        a->kind = KIND_ZIP;
    else a->kind = KIND_TAR; /* tar (possibly compressed); libarchive decides */
    if (!code) code = a->kind == KIND_ZIP ? zip_index(a, err) : tar_index(a, err);
    if (code) {
        hb_archive_close(a);
        return code;
    }
    build_table(a);
    *out = a;
    return 0;
}

void hb_archive_close(hb_archive *a) {
    if (!a) return;
    if (a->fd >= 0) close(a->fd);
    free(a->path);
    free(a->e);
    free(a->slots);
    hb_arena_free(&a->names);
    free(a);
}

const char *hb_archive_path(const hb_archive *a) { return a->path; }
const char *hb_archive_kind(const hb_archive *a) { return a->kind == KIND_ZIP ? "zip" : "tar"; }
size_t hb_archive_count(const hb_archive *a) { return a->n; }
const char *hb_archive_name(const hb_archive *a, size_t i) { return i < a->n ? a->e[i].name : NULL; }
uint64_t hb_archive_size(const hb_archive *a, size_t i) { return i < a->n ? a->e[i].size : 0; }
int hb_archive_unsafe(const hb_archive *a, size_t i) { return i < a->n ? a->e[i].unsafe : 1; }

int hb_archive_read(hb_archive *a, size_t i, hb_buf *out, uint64_t max_bytes, hb_err *err) {
    hb_buf_clear(out);
    if (i >= a->n) return hb_err_set(err, HB_ERANGE, a->path, (long long)i, HB_NOPOS, "no entry %zu", i);
    const entry *en = &a->e[i];
    if (en->unsafe)
        return hb_err_set(err, HB_EINVAL, a->path, (long long)i, (long long)en->offset,
                          "entry '%s' has an absolute or '..' path", en->name);
    if (max_bytes && en->size > max_bytes)
        return hb_err_set(err, HB_ERANGE, a->path, (long long)i, (long long)en->offset,
                          "entry '%s' is %llu bytes, over the limit of %llu", en->name, (unsigned long long)en->size,
                          (unsigned long long)max_bytes);
    cursor *c = hb_xmalloc(sizeof *c);
    struct archive *ar = reader_at(a, c, en->offset, 0);
    int code = 0;
    struct archive_entry *e;
    if (!ar) {
        code = hb_err_set(err, HB_EFORMAT, a->path, (long long)i, (long long)en->offset, "cannot start reading entry '%s'", en->name);
    } else {
        int r = archive_read_next_header(ar, &e), unsafe;
        char *at = r == ARCHIVE_OK || r == ARCHIVE_WARN ? entry_name(archive_entry_pathname(e) ? archive_entry_pathname(e) : "", &unsafe) : NULL;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            code = hb_err_set(err, HB_EFORMAT, a->path, (long long)i, (long long)en->offset, "entry '%s': %s", en->name,
                              archive_error_string(ar) ? archive_error_string(ar) : "bad header");
        } else if (strcmp(at, en->name) != 0) { /* a zip whose local header disagrees with its central directory */
            code = hb_err_set(err, HB_EFORMAT, a->path, (long long)i, (long long)en->offset,
                              "entry '%s': the header at its offset names '%s'", en->name, at);
        } else {
            hb_buf_reserve(out, en->size + 1);
            for (;;) {
                hb_buf_reserve(out, 1 << 16);
                la_ssize_t got = archive_read_data(ar, out->data + out->len, out->cap - out->len);
                if (got == 0) break;
                if (got < 0) {
                    const char *why = archive_error_string(ar) ? archive_error_string(ar) : "read failed";
                    hb_code hc = strstr(why, "ncrypt") || strstr(why, "nsupported") ? HB_EUNSUPPORTED : HB_EFORMAT;
                    code = hb_err_set(err, hc, a->path, (long long)i, (long long)en->offset, "entry '%s': %s", en->name, why);
                    break;
                }
                out->len += (size_t)got;
                if (out->len > en->size) break;
            }
            if (!code && out->len != en->size)
                code = hb_err_set(err, HB_EFORMAT, a->path, (long long)i, (long long)en->offset,
                                  "entry '%s': %zu bytes read, the index says %llu", en->name, out->len,
                                  (unsigned long long)en->size);
        }
        free(at);
        archive_read_free(ar);
    }
    free(c);
    if (code) hb_buf_clear(out);
    return code;
}
