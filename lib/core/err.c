/* Errors as values, and logging.
 * Dependencies: core.h (hb_err), <errno.h>/<string.h> (strerror), <stdarg.h>. */
#include "core.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h> /* sig_atomic_t */
#include <stdlib.h>
#include <string.h>

static void copy_file(hb_err *e, const char *file) {
    if (!file) file = "";
    size_t n = strlen(file);
    if (n >= sizeof e->file) n = sizeof e->file - 1;
    memcpy(e->file, file, n);
    e->file[n] = 0;
}

int hb_err_set(hb_err *e, hb_code code, const char *file, long long record, long long offset, const char *fmt, ...) {
    if (!e) return code;
    e->code = code;
    copy_file(e, file);
    e->record = record;
    e->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return code;
}

int hb_err_errno(hb_err *e, hb_code code, const char *file, const char *fmt, ...) {
    int saved = errno;
    if (!e) return code;
    e->code = code;
    copy_file(e, file);
    e->record = HB_NOPOS;
    e->offset = HB_NOPOS;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof e->reason)
        snprintf(e->reason + n, sizeof e->reason - (size_t)n, ": %s", strerror(saved));
    return code;
}

void hb_err_prefix(hb_err *e, const char *fmt, ...) {
    if (!e) return;
    char pre[512], old[sizeof e->reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->reason, sizeof old);
    snprintf(e->reason, sizeof e->reason, "%s: %s", pre, old);
}

void hb_err_clear(hb_err *e) {
    if (!e) return;
    memset(e, 0, sizeof *e);
    e->record = HB_NOPOS;
    e->offset = HB_NOPOS;
}

const char *hb_err_format(const hb_err *e, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
#define PUT(...) do { int w_ = snprintf(buf + k, k < n ? n - k : 0, __VA_ARGS__); if (w_ > 0) k += (size_t)w_; } while (0)
    if (e->file[0]) PUT("%s: ", e->file);
    if (e->record >= 0) PUT("record %lld: ", e->record);
    if (e->offset >= 0) PUT("byte %lld: ", e->offset);
    PUT("%s", e->reason[0] ? e->reason : hb_code_name(e->code));
#undef PUT
    return buf;
}

const char *hb_code_name(hb_code c) {
    switch (c) {
    case HB_OK: return "ok";
    case HB_EIO: return "I/O error";
    case HB_EFORMAT: return "malformed input";
    case HB_ECHECKSUM: return "checksum mismatch";
    case HB_ENOMEM: return "out of memory";
    case HB_EINVAL: return "invalid argument";
    case HB_ENOTFOUND: return "not found";
    case HB_EUNSUPPORTED: return "unsupported";
    case HB_ERANGE: return "out of range";
    case HB_EINTR: return "interrupted";
    case HB_EINTERNAL: return "internal error";
    }
    return "unknown error";
}

void hb_log(const char *fmt, ...) {
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "hb: %s\n", line);
}

const char *hb_fmt_count(uint64_t v, char *buf, size_t n) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t k = 0;
    for (int i = 0; i < len && k + 1 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0 && k + 2 < n) buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k < n ? k : n - 1] = 0;
    return buf;
}

int hb_parse_i64(const char *s, long long *out) {
    if (!s || !*s) return HB_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return HB_EINVAL;
    *out = v;
    return 0;
}

static int edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) return 1 << 20;
    int row[65];
    for (size_t j = 0; j <= m; j++) row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int up = row[j];
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = diag + cost;
            if (up + 1 < v) v = up + 1;
            if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
        }
    }
    return row[m];
}

const char *hb_closest(const char *s, const char *const *candidates, size_t n) {
    size_t len = strlen(s);
    int limit = len <= 4 ? 1 : len <= 8 ? 2 : 3, best = limit + 1;
    const char *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i]) continue;
        int d = edit_distance(s, candidates[i]);
        if (d < best) best = d, out = candidates[i];
    }
    return out;
}

int hb_is_lfs_pointer(const void *data, size_t n) {
    static const char sig[] = "version https://git-lfs.github.com/spec/";
    return n >= sizeof sig - 1 && !memcmp(data, sig, sizeof sig - 1);
}

static volatile sig_atomic_t interrupted_by;

void hb_interrupt_set(int sig) { interrupted_by = sig; }
int hb_interrupted(void) { return interrupted_by; }
