/* lib/text/tokenizer_decode.c — ids -> text, exactly like the reference of each format.
 *
 * Dependencies: text/tokenizer_impl.h.
 *
 * tokenizer.json: HF `tokenizers` Tokenizer::decode(ids, skip_special_tokens=True): the token of each id (special
 *   added tokens dropped), then the decoder steps on the token list, then the tokens joined (with " " when the file
 *   has no decoder). Steps: Replace (every occurrence, left to right), ByteFallback (a run of "<0xXX>" tokens becomes
 *   its bytes when they are valid UTF-8, else one U+FFFD per byte), Fuse (join), Strip (up to `start` leading and
 *   `stop` trailing copies of a character per token), Metaspace (replacement -> " ", and every replacement of the
 *   first token dropped when prepending).
 * tokenizer.model: sentencepiece SentencePieceProcessor::Decode(ids): control pieces give "", <unk> gives the unk
 *   surface, a run of byte pieces gives its bytes with each invalid byte replaced by U+FFFD, other pieces give their
 *   text with "▁" -> " "; while nothing has been output yet, a leading "▁" of the first such piece is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_impl.h"

static const char REPL[] = "\xEF\xBF\xBD";

/* A list of strings in one buffer. */
typedef struct {
    hb_buf data;
    size_t *off; /* n + 1 */
    size_t n, cap;
} strlist;

static void sl_reset(strlist *l) {
    l->data.len = 0;
    l->n = 0;
    if (!l->cap) {
        l->cap = 64;
        l->off = hb_xmalloc((l->cap + 1) * sizeof *l->off);
    }
    l->off[0] = 0;
}

static void sl_end(strlist *l) { /* close the string being appended */
    if (l->n + 1 >= l->cap) {
        l->cap *= 2;
        l->off = hb_xrealloc(l->off, (l->cap + 1) * sizeof *l->off);
    }
    l->off[++l->n] = l->data.len;
}

static void sl_add(strlist *l, const void *p, size_t n) {
    hb_buf_append(&l->data, p, n);
    sl_end(l);
}

static void sl_free(strlist *l) {
    hb_buf_free(&l->data);
    free(l->off);
}

static inline const char *sl_get(const strlist *l, size_t i, size_t *n) {
    *n = l->off[i + 1] - l->off[i];
    return l->data.data ? (const char *)l->data.data + l->off[i] : ""; /* only empty strings so far: no buffer */
}

/* `tokenizers` ByteFallback: a 6-character token "<0x..>" whose two middle characters parse as a base-16 u8
 * (Rust from_str_radix: an optional '+', then hex digits of either case). */
static int hf_byte_token(const char *p, size_t n) {
    if (n != 6 || memcmp(p, "<0x", 3) || p[5] != '>') return -1;
    const char *d = p + 3;
    int len = 2, v = 0;
    if (d[0] == '+') d++, len = 1;
    for (int i = 0; i < len; i++) {
        char c = d[i];
        int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (x < 0) return -1;
        v = v * 16 + x;
    }
    return v;
}


static void step(const tok_dec_step *st, const strlist *in, strlist *out) {
    sl_reset(out);
    size_t n;
    switch (st->kind) {
    case TOK_DEC_REPLACE:
        for (size_t i = 0; i < in->n; i++) {
            const char *p = sl_get(in, i, &n);
            for (size_t j = 0; j < n;) {
                if (j + st->pat_len <= n && !memcmp(p + j, st->pat, st->pat_len)) {
                    hb_buf_append(&out->data, st->content, st->content_len);
                    j += st->pat_len;
                } else {
                    hb_buf_putc(&out->data, p[j++]);
                }
            }
            sl_end(out);
        }
        break;
    case TOK_DEC_BYTE_FALLBACK: {
        hb_buf bytes = {0};
        for (size_t i = 0; i <= in->n; i++) {
            const char *p = i < in->n ? sl_get(in, i, &n) : NULL;
            int b = p ? hf_byte_token(p, n) : -1;
            if (b >= 0) {
                hb_buf_put_u8(&bytes, (uint8_t)b);
                continue;
            }
            if (bytes.len) {
                if (hb_utf8_valid(bytes.data, bytes.len))
                    sl_add(out, bytes.data, bytes.len);
                else
                    for (size_t k = 0; k < bytes.len; k++) sl_add(out, REPL, 3);
                bytes.len = 0;
            }
            if (p) sl_add(out, p, n);
        }
        hb_buf_free(&bytes);
        break;
    }
    case TOK_DEC_FUSE:
        for (size_t i = 0; i < in->n; i++) {
            const char *p = sl_get(in, i, &n);
            hb_buf_append(&out->data, p, n);
        }
        sl_end(out);
        break;
    case TOK_DEC_STRIP:
        for (size_t i = 0; i < in->n; i++) {
            const uint8_t *p = (const uint8_t *)sl_get(in, i, &n);
            size_t a = 0, z = n;
            for (int k = 0; k < st->start && a < z; k++) {
                size_t l = hb_utf8_len(p + a, z - a);
                if (!l || hb_utf8_cp(p + a, l) != st->strip_char) break;
                a += l;
            }
            for (int k = 0; k < st->stop && z > a; k++) {
                size_t l = 1;
                while (l < 4 && z - l > a && (p[z - l] & 0xC0) == 0x80) l++;
                if (hb_utf8_len(p + z - l, l) != l || hb_utf8_cp(p + z - l, l) != st->strip_char) break;
                z -= l;
            }
            sl_add(out, p + a, z - a);
        }
        break;
    case TOK_DEC_METASPACE:
        for (size_t i = 0; i < in->n; i++) {
            const char *p = sl_get(in, i, &n);
            for (size_t j = 0; j < n;) {
                if (j + st->pat_len <= n && !memcmp(p + j, st->pat, st->pat_len)) {
                    if (!(i == 0 && st->start)) hb_buf_putc(&out->data, ' ');
                    j += st->pat_len;
                } else {
                    hb_buf_putc(&out->data, p[j++]);
                }
            }
            sl_end(out);
        }
        break;
    }
}

static void decode_hf(const hb_tokenizer *t, const int32_t *ids, size_t n, hb_buf *out) {
    strlist a = {0}, b = {0};
    sl_reset(&a);
    for (size_t i = 0; i < n; i++) {
        if (t->special[ids[i]]) continue;
        uint32_t l;
        const char *p = tok_piece(t, ids[i], &l);
        sl_add(&a, p, l);
    }
    strlist *cur = &a, *nxt = &b;
    for (int k = 0; k < t->n_dec; k++) {
        step(&t->dec[k], cur, nxt);
        strlist *x = cur;
        cur = nxt, nxt = x;
    }
    for (size_t i = 0; i < cur->n; i++) {
        size_t l;
        const char *p = sl_get(cur, i, &l);
        if (i && !t->n_dec) hb_buf_putc(out, ' ');
        hb_buf_append(out, p, l);
    }
    sl_free(&a);
    sl_free(&b);
}

static void spm_bytes(const uint8_t *b, size_t n, hb_buf *out) {
    for (size_t i = 0; i < n;) {
        size_t k = hb_utf8_len(b + i, n - i);
        if (k) {
            hb_buf_append(out, b + i, k);
            i += k;
        } else {
            hb_buf_append(out, REPL, 3);
            i++;
        }
    }
}

static void decode_spm(const hb_tokenizer *t, const int32_t *ids, size_t n, hb_buf *out) {
    size_t base = out->len;
    hb_buf bytes = {0};
    int is_bos_ws = 1, bos_ws_seen = 0;
    for (size_t i = 0; i <= n; i++) {
        int32_t id = i < n ? t->canon[ids[i]] : -1;
        if (id >= 0 && t->type[id] == TOK_T_BYTE) {
            hb_buf_put_u8(&bytes, (uint8_t)t->byte_of[id]);
            continue;
        }
        if (bytes.len) spm_bytes(bytes.data, bytes.len, out);
        bytes.len = 0;
        if (id < 0) break;
        if (bos_ws_seen || out->len > base) is_bos_ws = 0;
        uint8_t ty = t->type[id];
        bos_ws_seen = 0;
        if (ty == TOK_T_CONTROL) continue;
        if (ty == TOK_T_UNKNOWN) {
            hb_buf_append(out, t->unk_surface, t->unk_surface_len);
            continue;
        }
        uint32_t l;
        const char *p = tok_piece(t, id, &l);
        if (is_bos_ws && t->dec_strip_bos_ws && l >= 3 && !memcmp(p, TOK_WS, 3)) {
            p += 3, l -= 3;
            bos_ws_seen = !t->dec_remove_extra_ws;
        }
        for (uint32_t j = 0; j < l;) {
            if (j + 3 <= l && !memcmp(p + j, TOK_WS, 3)) {
                hb_buf_putc(out, ' ');
                j += 3;
            } else {
                hb_buf_putc(out, p[j++]);
            }
        }
    }
    hb_buf_free(&bytes);
}

int hb_tok_decode(const hb_tokenizer *t, const int32_t *ids, size_t n, hb_buf *out, hb_err *err) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return hb_err_set(err, HB_ERANGE, NULL, HB_NOPOS, HB_NOPOS, "id %d at position %zu is outside the vocabulary [0, %d)",
                              ids[i], i, t->n_vocab);
    if (t->format == HB_TOK_HF_JSON)
        decode_hf(t, ids, n, out);
    else
        decode_spm(t, ids, n, out);
    return 0;
}
