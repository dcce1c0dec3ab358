/* lib/text/tokenizer_norm.c — the text the merge loop sees: invalid UTF-8 -> U+FFFD per byte, the "▁" dummy
 * prefix, " " -> "▁", and for tokenizer.model the rest of sentencepiece's Normalizer (precompiled charsmap rules,
 * remove_extra_whitespaces, user-defined pieces passed through untouched).
 *
 * Dependencies: text/tokenizer_impl.h.
 *
 * The charsmap is sentencepiece's precompiled form: uint32 LE trie size, a darts-clone double array of that many
 * bytes (uint32 units), then the replacement strings, each NUL-terminated; a trie value is the offset of its
 * replacement. Each step takes the longest rule matching a prefix of the remaining input.
 */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_impl.h"

static const char REPL[] = "\xEF\xBF\xBD"; /* U+FFFD */

int tok_charsmap_load(hb_tokenizer *t, const uint8_t *blob, size_t n, const char *name, hb_err *err) {
    if (n <= 4) return hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "normalizer charsmap is truncated");
    uint32_t tsize = hb_le32(blob);
    if ((uint64_t)tsize + 4 > n || tsize % 4 || tsize == 0)
        return hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "normalizer charsmap: trie size %u does not fit in %zu bytes",
                          tsize, n);
    t->trie_units = tsize / 4;
    t->trie = hb_xmalloc(tsize);
    for (size_t i = 0; i < t->trie_units; i++) t->trie[i] = hb_le32(blob + 4 + 4 * i);
    t->trie_norm_len = n - 4 - tsize;
    t->trie_norm = hb_xmalloc(t->trie_norm_len + 1);
    memcpy(t->trie_norm, blob + 4 + tsize, t->trie_norm_len);
    t->trie_norm[t->trie_norm_len] = 0;
    return 0;
}

/* darts-clone unit fields */
static inline int u_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t u_value(uint32_t u) { return u & 0x7fffffffu; }
static inline uint32_t u_label(uint32_t u) { return u & (0x80000000u | 0xffu); }
static inline uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* Longest charsmap rule at s; returns its length (0 = none) and sets *repl / *repl_len. */
static size_t charsmap_match(const hb_tokenizer *t, const uint8_t *s, size_t n, const char **repl, size_t *repl_len) {
    const uint32_t *a = t->trie;
    size_t units = t->trie_units, best = 0;
    uint32_t best_v = 0;
    uint32_t pos = u_offset(a[0]);
    for (size_t i = 0; i < n; i++) {
        pos ^= s[i];
        if (pos >= units) break;
        uint32_t unit = a[pos];
        if (u_label(unit) != s[i]) break;
        pos ^= u_offset(unit);
        if (pos >= units) break;
        if (u_leaf(unit)) best = i + 1, best_v = u_value(a[pos]);
    }
    if (!best || best_v >= t->trie_norm_len) return 0;
    const char *r = t->trie_norm + best_v;
    *repl = r;
    *repl_len = strlen(r); /* trie_norm is NUL-terminated past its end */
    return best;
}

/* Longest user-defined piece at s (sentencepiece's PrefixMatcher); 0 when none. */
static size_t user_match(const hb_tokenizer *t, const uint8_t *s, size_t n) {
    if (!(t->user_first[s[0] >> 3] & (1u << (s[0] & 7)))) return 0;
    size_t l = n < t->user_max_len ? n : t->user_max_len;
    for (; l > 0; l--)
        if (tok_strmap_get(&t->user, s, l) >= 0) return l;
    return 0;
}

/* One NormalizePrefix step: the normalized text of the next unit of input and how many bytes it consumed. */
static size_t norm_prefix(const hb_tokenizer *t, const uint8_t *s, size_t n, const char **out, size_t *out_len) {
    size_t k;
    if (t->has_user && (k = user_match(t, s, n))) {
        *out = (const char *)s, *out_len = k;
        return k;
    }
    if (t->trie && (k = charsmap_match(t, s, n, out, out_len))) return k;
    k = hb_utf8_len(s, n);
    if (!k) {
        *out = REPL, *out_len = 3;
        return 1;
    }
    *out = (const char *)s, *out_len = k;
    return k;
}

static void put_ws(const hb_tokenizer *t, hb_buf *b) {
    if (t->escape_ws)
        hb_buf_append(b, TOK_WS, 3);
    else
        hb_buf_putc(b, ' ');
}

/* sentencepiece Normalizer::Normalize, general case. */
static void normalize_spm(const hb_tokenizer *t, const uint8_t *s, size_t n, hb_buf *out) {
    const char *p;
    size_t pl, k;
    if (t->remove_extra_ws) { /* heading spaces */
        while (n && (k = norm_prefix(t, s, n, &p, &pl)) && pl == 1 && p[0] == ' ') s += k, n -= k;
    }
    if (!n) return;
    if (t->prefix) put_ws(t, out);
    int prev_space = t->remove_extra_ws;
    while (n) {
        k = norm_prefix(t, s, n, &p, &pl);
        while (prev_space && pl && p[0] == ' ') p++, pl--;
        if (pl) {
            for (size_t i = 0; i < pl; i++) {
                if (t->escape_ws && p[i] == ' ')
                    hb_buf_append(out, TOK_WS, 3);
                else
                    hb_buf_putc(out, p[i]);
            }
            prev_space = p[pl - 1] == ' ';
        }
        s += k, n -= k;
        if (!t->remove_extra_ws) prev_space = 0;
    }
    if (t->remove_extra_ws) { /* trailing spaces */
        size_t wl = t->escape_ws ? 3 : 1;
        const char *w = t->escape_ws ? TOK_WS : " ";
        while (out->len >= wl && !memcmp(out->data + out->len - wl, w, wl)) out->len -= wl;
    }
}

void tok_normalize(const hb_tokenizer *t, const char *text, size_t len, hb_buf *out) {
    const uint8_t *s = (const uint8_t *)text;
    out->len = 0;
    if (!len) return;
    if (t->trie || t->has_user || t->remove_extra_ws) {
        hb_buf_reserve(out, len * 3 + 3);
        normalize_spm(t, s, len, out);
        return;
    }
    hb_buf_reserve(out, len * 3 + 3);
    uint8_t *o = out->data;
    size_t j = 0;
    if (t->prefix == TOK_PREFIX_ALWAYS ||
        (t->prefix == TOK_PREFIX_IF_MISSING && !(t->escape_ws && s[0] == ' ') &&
         !(len >= 3 && !memcmp(s, TOK_WS, 3)))) {
        memcpy(o, TOK_WS, 3);
        j = 3;
    }
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c == ' ' && t->escape_ws) {
                memcpy(o + j, TOK_WS, 3);
                j += 3;
            } else {
                o[j++] = c;
            }
            i++;
            continue;
        }
        size_t k = hb_utf8_len(s + i, len - i);
        if (k) {
            memcpy(o + j, s + i, k);
            j += k;
            i += k;
        } else {
            memcpy(o + j, REPL, 3);
            j += 3;
            i++;
        }
    }
    out->len = j;
}
