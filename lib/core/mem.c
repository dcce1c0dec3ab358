/* Checked allocation, arenas and growable byte buffers.
 * Dependencies: core.h, <stdlib.h> (malloc), <string.h> (memcpy). */
#include "core.h"

#include <stdlib.h>
#include <string.h>

static void oom(size_t n) {
    fprintf(stderr, "hb: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *hb_xmalloc(size_t n) {
    if (n == 0) return NULL;
    void *p = malloc(n);
    if (!p) oom(n);
    return p;
}

void *hb_xcalloc(size_t n, size_t size) {
    if (n == 0 || size == 0) return NULL;
    void *p = calloc(n, size);
    if (!p) oom(n * size);
    return p;
}

void *hb_xrealloc(void *p, size_t n) {
    if (n == 0) {
        free(p);
        return NULL;
    }
    void *q = realloc(p, n);
    if (!q) oom(n);
    return q;
}

char *hb_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = hb_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

/* ---- arena ---- */
struct hb_arena_block {
    hb_arena_block *next;
    size_t cap, used;
    _Alignas(16) uint8_t data[];
};

void hb_arena_init(hb_arena *a, size_t block_size) {
    a->head = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->used = 0;
}

void *hb_arena_alloc(hb_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    hb_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > a->block_size ? n : a->block_size;
        b = hb_xmalloc(sizeof *b + cap);
        b->cap = cap;
        b->used = 0;
        /* A block made for one oversized request goes behind the head so the head keeps serving small ones. */
        if (a->head && cap > a->block_size) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += n;
    a->used += n;
    return p;
}

void *hb_arena_calloc(hb_arena *a, size_t n) {
    void *p = hb_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *hb_arena_strndup(hb_arena *a, const char *s, size_t n) {
    char *p = hb_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *hb_arena_strdup(hb_arena *a, const char *s) { return hb_arena_strndup(a, s, strlen(s)); }

void *hb_arena_memdup(hb_arena *a, const void *p, size_t n) {
    void *q = hb_arena_alloc(a, n);
    if (n) memcpy(q, p, n);
    return q;
}

char *hb_arena_printf(hb_arena *a, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = hb_arena_alloc(a, (size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void hb_arena_reset(hb_arena *a) {
    /* Keep one standard-size block so a loop that resets every iteration does not churn malloc. */
    hb_arena_block *keep = NULL;
    for (hb_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        if (!keep && b->cap == a->block_size) keep = b;
        else free(b);
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->head = keep;
    a->used = 0;
}

void hb_arena_free(hb_arena *a) {
    for (hb_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
    a->used = 0;
}

/* ---- buffers ---- */
void hb_buf_reserve(hb_buf *b, size_t extra) {
    if (b->cap - b->len > extra) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra) {
        if (cap > SIZE_MAX / 2) oom(b->len + extra);
        cap *= 2;
    }
    b->data = hb_xrealloc(b->data, cap);
    b->cap = cap;
}

void hb_buf_append(hb_buf *b, const void *p, size_t n) {
    if (!n) return;
    hb_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void hb_buf_putc(hb_buf *b, int c) {
    hb_buf_reserve(b, 1);
    b->data[b->len++] = (uint8_t)c;
}

void hb_buf_puts(hb_buf *b, const char *s) { hb_buf_append(b, s, strlen(s)); }

void hb_buf_printf(hb_buf *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        hb_buf_reserve(b, (size_t)n + 1);
        vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void hb_buf_put_u8(hb_buf *b, uint8_t v) { hb_buf_putc(b, v); }
void hb_buf_put_u16(hb_buf *b, uint16_t v) {
    uint8_t t[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    hb_buf_append(b, t, 2);
}
void hb_buf_put_u32(hb_buf *b, uint32_t v) {
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    hb_buf_append(b, t, 4);
}
void hb_buf_put_u64(hb_buf *b, uint64_t v) {
    hb_buf_put_u32(b, (uint32_t)v);
    hb_buf_put_u32(b, (uint32_t)(v >> 32));
}

size_t hb_utf8_len(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

int hb_utf8_valid(const uint8_t *s, size_t n) {
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = hb_utf8_len(s + i, n - i))) return 0;
    return 1;
}

uint32_t hb_utf8_cp(const uint8_t *s, size_t k) {
    switch (k) {
    case 1: return s[0];
    case 2: return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
    case 3: return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    default:
        return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 |
               (s[3] & 0x3F);
    }
}

void hb_buf_put_utf8(hb_buf *b, uint32_t cp) {
    uint8_t t[4];
    size_t n;
    if (cp < 0x80) t[0] = (uint8_t)cp, n = 1;
    else if (cp < 0x800) t[0] = (uint8_t)(0xC0 | cp >> 6), t[1] = (uint8_t)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
        t[0] = (uint8_t)(0xE0 | cp >> 12), t[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)), t[2] = (uint8_t)(0x80 | (cp & 0x3F)),
        n = 3;
    else
        t[0] = (uint8_t)(0xF0 | cp >> 18), t[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F)),
        t[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)), t[3] = (uint8_t)(0x80 | (cp & 0x3F)), n = 4;
    hb_buf_append(b, t, n);
}

void hb_buf_put_json_str(hb_buf *b, const char *str, size_t n) {
    const uint8_t *s = (const uint8_t *)str;
    hb_buf_reserve(b, n + 2);
    hb_buf_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            hb_buf_putc(b, '\\');
            hb_buf_putc(b, c);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': hb_buf_puts(b, "\\n"); break;
            case '\t': hb_buf_puts(b, "\\t"); break;
            case '\r': hb_buf_puts(b, "\\r"); break;
            case '\b': hb_buf_puts(b, "\\b"); break;
            case '\f': hb_buf_puts(b, "\\f"); break;
            default: hb_buf_printf(b, "\\u%04x", c);
            }
            i++;
        } else if (c < 0x80) {
            hb_buf_putc(b, c);
            i++;
        } else {
            size_t k = hb_utf8_len(s + i, n - i);
            if (k) {
                hb_buf_append(b, s + i, k);
                i += k;
            } else {
                hb_buf_printf(b, "\\u%04x", c);
                i++;
            }
        }
    }
    hb_buf_putc(b, '"');
}

const char *hb_buf_cstr(hb_buf *b) {
    hb_buf_reserve(b, 1);
    b->data[b->len] = 0;
    return (const char *)b->data;
}

void hb_buf_clear(hb_buf *b) { b->len = 0; }

void hb_buf_free(hb_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
