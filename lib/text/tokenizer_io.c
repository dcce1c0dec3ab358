/* lib/text/tokenizer_io.c — strict parsers for the line-oriented JSON that hb-tok reads: one string literal or one
 * array of integers per line. Written here rather than with cJSON so that "\u0000" and raw non-UTF-8 bytes inside
 * a string survive (cJSON strings are NUL-terminated).
 *
 * Dependencies: text/tokenizer.h, core/core.h.
 */
#include <string.h>

#include "text/tokenizer.h"

static size_t skip_ws(const char *s, size_t i, size_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
    return i;
}

static int hex4(const char *s, size_t i, size_t n, uint32_t *v) {
    if (i + 4 > n) return -1;
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[i + k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}


static int bad(hb_err *err, size_t at, const char *what) {
    return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, (long long)at, "%s", what);
}

int hb_tok_parse_json_string(const char *s, size_t n, hb_buf *out, hb_err *err) {
    out->len = 0;
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '"') return bad(err, i, "expected a JSON string (\"...\")");
    i++;
    for (;;) {
        if (i >= n) return bad(err, i, "unterminated JSON string");
        unsigned char c = (unsigned char)s[i];
        if (c == '"') break;
        if (c < 0x20) return bad(err, i, "raw control character in a JSON string (write it as an escape such as \\n)");
        if (c != '\\') {
            size_t j = i + 1;
            while (j < n && s[j] != '"' && s[j] != '\\' && (unsigned char)s[j] >= 0x20) j++;
            hb_buf_append(out, s + i, j - i);
            i = j;
            continue;
        }
        if (i + 1 >= n) return bad(err, i, "unterminated escape");
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '"': hb_buf_putc(out, '"'); break;
        case '\\': hb_buf_putc(out, '\\'); break;
        case '/': hb_buf_putc(out, '/'); break;
        case 'b': hb_buf_putc(out, '\b'); break;
        case 'f': hb_buf_putc(out, '\f'); break;
        case 'n': hb_buf_putc(out, '\n'); break;
        case 'r': hb_buf_putc(out, '\r'); break;
        case 't': hb_buf_putc(out, '\t'); break;
        case 'u': {
            uint32_t v, w;
            if (hex4(s, i, n, &v)) return bad(err, i - 2, "bad \\u escape (needs 4 hex digits)");
            i += 4;
            if (v >= 0xDC00 && v <= 0xDFFF) return bad(err, i - 6, "lone low surrogate in a \\u escape");
            if (v >= 0xD800 && v <= 0xDBFF) {
                if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' || hex4(s, i + 2, n, &w) || w < 0xDC00 || w > 0xDFFF)
                    return bad(err, i - 6, "lone high surrogate in a \\u escape (text must be Unicode scalar values)");
                v = 0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00);
                i += 6;
            }
            hb_buf_put_utf8(out, v);
            break;
        }
        default: return bad(err, i - 2, "unknown escape in a JSON string");
        }
    }
    i = skip_ws(s, i + 1, n);
    if (i != n) return bad(err, i, "unexpected characters after the JSON string");
    return 0;
}

int hb_tok_parse_json_ids(const char *s, size_t n, hb_tok_ids *out, hb_err *err) {
    out->n = 0;
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '[') return bad(err, i, "expected a JSON array of integers ([1, 2, 3])");
    i = skip_ws(s, i + 1, n);
    if (i < n && s[i] == ']') {
        i = skip_ws(s, i + 1, n);
        return i == n ? 0 : bad(err, i, "unexpected characters after the array");
    }
    for (;;) {
        size_t st = i;
        int neg = 0;
        if (i < n && s[i] == '-') neg = 1, i++;
        if (i >= n || s[i] < '0' || s[i] > '9') return bad(err, st, "expected an integer");
        long long v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i] - '0');
            if (v > 2147483648LL) return bad(err, st, "integer out of the int32 range");
            i++;
        }
        if (i < n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) return bad(err, st, "ids must be integers");
        if (neg) v = -v;
        if (v > 2147483647LL) return bad(err, st, "integer out of the int32 range");
        hb_tok_ids_push(out, (int32_t)v);
        i = skip_ws(s, i, n);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, i + 1, n);
            continue;
        }
        if (i < n && s[i] == ']') break;
        return bad(err, i, "expected ',' or ']'");
    }
    i = skip_ws(s, i + 1, n);
    return i == n ? 0 : bad(err, i, "unexpected characters after the array");
}
