/* The streaming splitter: walks a JSON document in 1 MiB chunks and cuts the selected container into records.
 * Dependencies: json.h, core/core.h (hb_err, hb_xmalloc), <stdio.h> (fread), <sys/stat.h> (file size). */
#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef HB_JSPLIT_CHUNK
#define HB_JSPLIT_CHUNK (1u << 20) /* the fuzz build (make fuzz) reads 7 bytes at a time: every boundary is crossed */
#endif
#define CHUNK HB_JSPLIT_CHUNK
#define MAX_DEPTH 1024
#define NO_MARK ((size_t)-1)

struct hb_jsplit {
    FILE *fp;
    char *path;
    uint8_t *buf;
    size_t cap, pos, end; /* buf[pos, end) is read but not yet consumed; one spare byte past end for a NUL */
    uint64_t base;        /* file offset of buf[0] */
    size_t mark;          /* start of the record being cut (kept across refills), NO_MARK when none */
    size_t nul_at;        /* where a NUL was written over a byte (restored on the next call), NO_MARK when none */
    uint8_t nul_saved;
    int lines, is_obj, top; /* top: the container is the top-level value (trailing bytes are checked) */
    int state;            /* 0 before the first element, 1 after an element, 2 done */
    int io_error;
    uint8_t close;        /* ']' or '}' */
    int64_t index;
    uint64_t size;
    size_t peak;
    hb_buf key;
};

/* Make room and read more. Keeps buf[mark, end) when a record is being cut, drops consumed bytes otherwise.
 * Returns the number of new bytes (0 at end of file or on a read error, which sets io_error). */
static size_t refill(hb_jsplit *s) {
    size_t keep = s->mark == NO_MARK ? s->end : s->mark;
    if (keep > 0) {
        memmove(s->buf, s->buf + keep, s->end - keep);
        s->base += keep;
        s->pos -= keep;
        s->end -= keep;
        if (s->mark != NO_MARK) s->mark = 0;
    }
    if (s->cap - s->end < CHUNK + 1) {
        size_t nc = s->cap * 2 > s->end + CHUNK + 1 ? s->cap * 2 : s->end + CHUNK + 1;
        s->buf = hb_xrealloc(s->buf, nc);
        s->cap = nc;
        if (nc > s->peak) s->peak = nc;
    }
    size_t n = fread(s->buf + s->end, 1, s->cap - s->end - 1, s->fp);
    if (n == 0 && ferror(s->fp)) s->io_error = errno ? errno : EIO;
    s->end += n;
    return n;
}

static inline int peekc(hb_jsplit *s) {
    if (s->pos == s->end && refill(s) == 0) return -1;
    return s->buf[s->pos];
}

static void skip_ws(hb_jsplit *s) {
    for (;;) {
        int c = peekc(s);
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
        s->pos++;
    }
}

static int fail(hb_jsplit *s, hb_err *err, const char *what) {
    if (s->io_error) return hb_err_set(err, HB_EIO, s->path, s->index, (long long)(s->base + s->pos), "read failed: %s",
                                       strerror(s->io_error));
    return hb_err_set(err, HB_EFORMAT, s->path, s->index, (long long)(s->base + s->pos), "%s", what);
}

static int eof_fail(hb_jsplit *s, hb_err *err, const char *what) {
    char msg[160];
    snprintf(msg, sizeof msg, "file ends inside %s (truncated download?)", what);
    return fail(s, err, msg);
}

/* pos at the opening quote; consumes through the closing quote. */
static int scan_string(hb_jsplit *s, hb_err *err) {
    s->pos++;
    for (;;) {
        const uint8_t *p = s->buf + s->pos, *e = s->buf + s->end;
        while (p < e && *p != '"' && *p != '\\') p++;
        s->pos = (size_t)(p - s->buf);
        if (p == e) {
            if (refill(s) == 0) return eof_fail(s, err, "a string");
            continue;
        }
        s->pos++;
        if (*p == '"') return 0;
        if (peekc(s) < 0) return eof_fail(s, err, "a string");
        s->pos++; /* the escaped byte */
    }
}

static int is_delim(int c) { return c == ',' || c == ']' || c == '}' || c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* Consumes one value starting at pos (whitespace already skipped). */
static int scan_value(hb_jsplit *s, hb_err *err) {
    int c = peekc(s);
    if (c < 0) return eof_fail(s, err, "the document");
    if (c == '"') return scan_string(s, err);
    if (c != '{' && c != '[') {
        if (!strchr("-0123456789tfn", c)) {
            char msg[64];
            snprintf(msg, sizeof msg, "unexpected character '%c' where a value should start", c >= 32 && c < 127 ? c : '?');
            return fail(s, err, msg);
        }
        while ((c = peekc(s)) >= 0 && !is_delim(c)) s->pos++;
        return 0;
    }
    uint8_t stack[MAX_DEPTH];
    int d = 0;
    stack[d++] = c == '{' ? '}' : ']';
    s->pos++;
    for (;;) {
        const uint8_t *p = s->buf + s->pos, *e = s->buf + s->end;
        while (p < e && *p != '"' && *p != '{' && *p != '[' && *p != '}' && *p != ']') p++;
        s->pos = (size_t)(p - s->buf);
        if (p == e) {
            if (refill(s) == 0) return eof_fail(s, err, "an array or object");
            continue;
        }
        c = *p;
        if (c == '"') {
            int rc = scan_string(s, err);
            if (rc) return rc;
        } else if (c == '{' || c == '[') {
            if (d == MAX_DEPTH) return fail(s, err, "nesting deeper than 1024 levels");
            stack[d++] = c == '{' ? '}' : ']';
            s->pos++;
        } else {
            if (c != stack[d - 1]) return fail(s, err, c == '}' ? "'}' closes an array" : "']' closes an object");
            s->pos++;
            if (--d == 0) return 0;
        }
    }
}

static int hex4(const uint8_t *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 0;
}

/* Reads a member name (pos at the opening quote) into s->key, decoding escapes. */
static int read_key(hb_jsplit *s, hb_err *err) {
    size_t start = s->pos;
    s->mark = start; /* keep the raw key in the buffer while it is scanned */
    int rc = scan_string(s, err);
    start = s->mark;
    s->mark = NO_MARK;
    if (rc) return rc;
    hb_buf_clear(&s->key);
    const uint8_t *p = s->buf + start + 1, *e = s->buf + s->pos - 1;
    while (p < e) {
        if (*p != '\\') {
            hb_buf_putc(&s->key, *p++);
            continue;
        }
        p++;
        int c = *p++, out = -1;
        switch (c) {
        case '"': case '\\': case '/': out = c; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        default: break;
        }
        if (out >= 0) {
            hb_buf_putc(&s->key, out);
            continue;
        }
        unsigned cp = 0;
        if (c != 'u' || e - p < 4 || hex4(p, &cp)) return fail(s, err, "bad escape in a member name");
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && e - p >= 6 && p[0] == '\\' && p[1] == 'u') {
            unsigned lo = 0;
            if (!hex4(p + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
        }
        if (cp < 0x80) hb_buf_putc(&s->key, (int)cp);
        else if (cp < 0x800) {
            hb_buf_putc(&s->key, 0xC0 | (cp >> 6));
            hb_buf_putc(&s->key, 0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            hb_buf_putc(&s->key, 0xE0 | (cp >> 12));
            hb_buf_putc(&s->key, 0x80 | ((cp >> 6) & 0x3F));
            hb_buf_putc(&s->key, 0x80 | (cp & 0x3F));
        } else {
            hb_buf_putc(&s->key, 0xF0 | (cp >> 18));
            hb_buf_putc(&s->key, 0x80 | ((cp >> 12) & 0x3F));
            hb_buf_putc(&s->key, 0x80 | ((cp >> 6) & 0x3F));
            hb_buf_putc(&s->key, 0x80 | (cp & 0x3F));
        }
    }
    hb_buf_cstr(&s->key);
    return 0;
}

static int open_file(hb_jsplit **out, const char *path, hb_err *err) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return hb_err_errno(err, errno == ENOENT ? HB_ENOTFOUND : HB_EIO, path, "cannot open");
    hb_jsplit *s = hb_xcalloc(1, sizeof *s);
    s->fp = fp;
    s->path = hb_xstrdup(path);
    s->mark = s->nul_at = NO_MARK;
    struct stat st;
    if (fstat(fileno(fp), &st) == 0) s->size = (uint64_t)st.st_size;
    char head[64];
    size_t got = fread(head, 1, sizeof head, fp);
    rewind(fp);
    if (s->size < 1024 && hb_is_lfs_pointer(head, got)) {
        hb_jsplit_close(s);
        return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 0,
                          "this is a Git LFS pointer, not the data (the repository was cloned without git-lfs: run "
                          "`git lfs pull` there, or download the file itself)");
    }
    *out = s;
    return 0;
}

int hb_jsplit_open_lines(hb_jsplit **out, const char *path, hb_err *err) {
    int rc = open_file(out, path, err);
    if (rc) return rc;
    (*out)->lines = 1;
    return 0;
}

static void terminate(hb_jsplit *s, size_t at);

/* pos at an object's '{': advance to the value of member seg[0, n) (pos at its first byte). */
static int find_member(hb_jsplit *s, const char *seg, size_t n, hb_err *err) {
    int rc;
    if (peekc(s) != '{') {
        rc = peekc(s) < 0 ? eof_fail(s, err, "the document") : fail(s, err, "expected an object");
        hb_err_prefix(err, "looking for member '%.*s'", (int)n, seg);
        return rc;
    }
    s->pos++;
    for (int first = 1;; first = 0) {
        skip_ws(s);
        int c = peekc(s);
        if (c == '}' || c < 0)
            return hb_err_set(err, c < 0 ? HB_EFORMAT : HB_ENOTFOUND, s->path, HB_NOPOS, (long long)(s->base + s->pos),
                              c < 0 ? "file ends before member '%.*s' (truncated?)" : "no member '%.*s' in the object",
                              (int)n, seg);
        if (!first) {
            if (c != ',') return fail(s, err, "expected ',' or '}' between members");
            s->pos++;
            skip_ws(s);
            c = peekc(s);
        }
        if (c != '"') return c < 0 ? eof_fail(s, err, "an object") : fail(s, err, "expected a member name");
        if ((rc = read_key(s, err))) return rc;
        skip_ws(s);
        if (peekc(s) != ':') return fail(s, err, "expected ':' after a member name");
        s->pos++;
        skip_ws(s);
        if (s->key.len == n && !memcmp(s->key.data, seg, n)) return 0;
        if ((rc = scan_value(s, err))) return rc;
    }
}

static void skip_bom(hb_jsplit *s) {
    if (peekc(s) == 0xEF && s->end - s->pos >= 3 && !memcmp(s->buf + s->pos, "\xEF\xBB\xBF", 3)) s->pos += 3;
    skip_ws(s);
}

int hb_jsplit_open(hb_jsplit **out, const char *path, const char *select, hb_err *err) {
    int rc = open_file(out, path, err);
    if (rc) return rc;
    hb_jsplit *s = *out;
    skip_bom(s);
    s->top = 1;
    const char *seg = select ? select : "";
    while (*seg) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        s->top = 0;
        if ((rc = find_member(s, seg, n, err))) goto bad;
        seg += n + (dot ? 1 : 0);
    }
    int c = peekc(s);
    if (c != '[' && c != '{') {
        rc = c < 0 ? hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 0, "empty file")
                   : fail(s, err, "expected an array or an object of records");
        goto bad;
    }
    s->is_obj = c == '{';
    s->close = c == '{' ? '}' : ']';
    s->pos++;
    return 0;
bad:
    hb_jsplit_close(s);
    *out = NULL;
    return rc;
}

int hb_json_member(const char *path, const char *name, cJSON **out, hb_err *err) {
    hb_jsplit *s;
    *out = NULL;
    int rc = open_file(&s, path, err);
    if (rc) return rc;
    skip_bom(s);
    if (!(rc = find_member(s, name, strlen(name), err))) {
        s->mark = s->pos;
        rc = scan_value(s, err);
        if (!rc) {
            hb_jrec r = {(const char *)s->buf + s->mark, s->pos - s->mark, NULL, 0, 0, (int64_t)(s->base + s->mark)};
            terminate(s, s->pos);
            rc = hb_jrec_parse(&r, path, out, err);
        }
    }
    hb_jsplit_close(s);
    return rc;
}

static void restore_nul(hb_jsplit *s) {
    if (s->nul_at != NO_MARK) s->buf[s->nul_at] = s->nul_saved;
    s->nul_at = NO_MARK;
}

static void terminate(hb_jsplit *s, size_t at) {
    s->nul_at = at;
    s->nul_saved = s->buf[at];
    s->buf[at] = 0;
}

static int next_line(hb_jsplit *s, hb_jrec *rec, hb_err *err) {
    for (;;) {
        s->mark = s->pos;
        const uint8_t *nl;
        while (!(nl = s->pos < s->end ? memchr(s->buf + s->pos, '\n', s->end - s->pos) : NULL)) {
            s->pos = s->end;
            if (refill(s) == 0) break;
        }
        if (s->io_error) return fail(s, err, "");
        size_t start = s->mark, stop;
        s->mark = NO_MARK;
        if (nl) {
            stop = (size_t)(nl - s->buf);
            s->pos = stop + 1;
        } else {
            stop = s->end;
            if (stop == start) {
                s->state = 2;
                return 0;
            }
        }
        int64_t line = s->index++;
        size_t e = stop;
        if (e > start && s->buf[e - 1] == '\r') e--;
        size_t b = start;
        while (b < e && (s->buf[b] == ' ' || s->buf[b] == '\t')) b++;
        if (b == e) continue; /* blank line */
        terminate(s, e);
        rec->data = (const char *)s->buf + start;
        rec->len = e - start;
        rec->index = line;
        rec->offset = (int64_t)(s->base + start);
        return 0;
    }
}

int hb_jsplit_next(hb_jsplit *s, hb_jrec *rec, hb_err *err) {
    memset(rec, 0, sizeof *rec);
    restore_nul(s);
    if (s->state == 2) return 0;
    if (s->lines) return next_line(s, rec, err);
    skip_ws(s);
    int c = peekc(s);
    if (c < 0) return eof_fail(s, err, s->is_obj ? "the object of records" : "the array of records");
    if (c == s->close) {
        s->pos++;
        s->state = 2;
        if (s->top) {
            skip_ws(s);
            if (peekc(s) >= 0)
                return fail(s, err, peekc(s) == '{' || peekc(s) == '['
                                        ? "a second JSON value after the first: this looks like JSON Lines (one "
                                          "record per line), where one JSON document (a list or an object of "
                                          "records) is expected; is it the file the converter reads?"
                                        : "unexpected data after the top-level value");
        }
        return 0;
    }
    if (s->state == 1) {
        if (c != ',') return fail(s, err, s->is_obj ? "expected ',' or '}' between records" : "expected ',' or ']' between records");
        s->pos++;
        skip_ws(s);
        c = peekc(s);
    }
    if (s->is_obj) {
        if (c != '"') return c < 0 ? eof_fail(s, err, "the object of records") : fail(s, err, "expected a member name");
        int rc = read_key(s, err);
        if (rc) return rc;
        skip_ws(s);
        if (peekc(s) != ':') return fail(s, err, "expected ':' after a member name");
        s->pos++;
        skip_ws(s);
    }
    s->mark = s->pos;
    int rc = scan_value(s, err);
    size_t start = s->mark;
    s->mark = NO_MARK;
    if (rc) return rc;
    terminate(s, s->pos);
    rec->data = (const char *)s->buf + start;
    rec->len = s->pos - start;
    rec->index = s->index++;
    rec->offset = (int64_t)(s->base + start);
    if (s->is_obj) {
        rec->key = (const char *)s->key.data;
        rec->key_len = s->key.len;
    }
    s->state = 1;
    return 0;
}

int hb_jsplit_is_object(const hb_jsplit *s) { return s->is_obj; }
uint64_t hb_jsplit_tell(const hb_jsplit *s) { return s->base + s->pos; }
uint64_t hb_jsplit_size(const hb_jsplit *s) { return s->size; }
size_t hb_jsplit_peak(const hb_jsplit *s) { return s->peak; }
const char *hb_jsplit_path(const hb_jsplit *s) { return s->path; }

void hb_jsplit_close(hb_jsplit *s) {
    if (!s) return;
    if (s->fp) fclose(s->fp);
    free(s->path);
    free(s->buf);
    hb_buf_free(&s->key);
    free(s);
}
