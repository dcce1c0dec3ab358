/* lib/text/prompt.c — Honeybee's chunk-wise prompt encoding; the rules are in prompt.h.
 *
 * Dependencies: text/prompt.h, text/tokenizer.h, core/core.h.
 */
#include <stdlib.h>
#include <string.h>

#include "text/prompt.h"

static const char NO_PROMPT[] = "[NO_PROMPT] <image> ";
static const char IMG[] = "<image>";
static const char AI[] = "\nAI: ";
static const char HUMAN[] = "\nHuman: ";

static void reserve(hb_prompt_enc *e, size_t need) {
    if (need <= e->cap) return;
    size_t cap = e->cap ? e->cap : 256;
    while (cap < need) cap *= 2;
    e->ids = hb_xrealloc(e->ids, cap * sizeof *e->ids);
    e->mask = hb_xrealloc(e->mask, cap);
    e->cap = cap;
}

static void push(hb_prompt_enc *e, int32_t id, uint8_t m) {
    reserve(e, e->n + 1);
    e->ids[e->n] = id;
    e->mask[e->n++] = m;
}

static void push_image(hb_prompt_enc *e, int32_t m) {
    reserve(e, e->n + (size_t)m);
    for (int32_t i = 0; i < m; i++) {
        e->ids[e->n] = HB_PROMPT_IMAGE_ID;
        e->mask[e->n++] = 0;
    }
}

/* Encode text straight into e->ids, then give the new positions mask m. */
static void push_text(const hb_tokenizer *t, hb_tok_scratch *s, hb_prompt_enc *e, const char *p, size_t n, uint8_t m) {
    hb_tok_ids v = {e->ids, e->n, e->cap};
    size_t first = e->n;
    hb_tok_encode(t, s, p, n, &v);
    e->ids = v.ids;
    if (v.cap > e->cap) {
        e->mask = hb_xrealloc(e->mask, v.cap);
        e->cap = v.cap;
    }
    memset(e->mask + first, m, v.n - first);
    e->n = v.n;
}

/* The next delimiter at or after p: its start and kind (0 image, 1 AI, 2 Human); NULL when none. Python's regex
 * alternation finds the leftmost match; the three delimiters cannot start at the same position. */
static const char *next_delim(const char *p, const char *end, int *kind) {
    for (; p < end; p++) {
        if (*p == '<' && (size_t)(end - p) >= sizeof IMG - 1 && !memcmp(p, IMG, sizeof IMG - 1)) {
            *kind = 0;
            return p;
        }
        if (*p == '\n') {
            if ((size_t)(end - p) >= sizeof AI - 1 && !memcmp(p, AI, sizeof AI - 1)) {
                *kind = 1;
                return p;
            }
            if ((size_t)(end - p) >= sizeof HUMAN - 1 && !memcmp(p, HUMAN, sizeof HUMAN - 1)) {
                *kind = 2;
                return p;
            }
        }
    }
    return NULL;
}

static size_t delim_len(int kind) { return kind == 0 ? sizeof IMG - 1 : kind == 1 ? sizeof AI - 1 : sizeof HUMAN - 1; }

int hb_prompt_encode(const hb_tokenizer *t, hb_tok_scratch *s, const char *prompt, size_t len, const hb_prompt_opts *o,
                     hb_prompt_enc *out, hb_err *err) {
    int32_t bos = hb_tok_bos(t), eos = hb_tok_eos(t), m = o->n_visual;
    out->n = 0;
    out->truncated = 0;
    out->n_images = out->n_images_in = out->n_supervised = 0;
    out->no_prompt = 0;
    if (bos < 0 || eos < 0)
        return hb_err_set(err, HB_EUNSUPPORTED, NULL, HB_NOPOS, HB_NOPOS, "the tokenizer has no <s>/</s> pieces for BOS/EOS");
    if (m < 0) return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "visual tokens per image must be >= 0, got %d", m);
    size_t limit = o->max_length > 0 ? (size_t)o->max_length + 1 : SIZE_MAX;
    hb_tok_scratch *own = NULL;
    if (!s) s = own = hb_tok_scratch_new();
    push(out, bos, 0);

    if (len >= sizeof NO_PROMPT - 1 && !memcmp(prompt, NO_PROMPT, sizeof NO_PROMPT - 1)) {
        out->no_prompt = 1;
        out->n_images_in = 1;
        /* caption = prompt with every "[NO_PROMPT] <image> " removed (str.replace) */
        hb_buf cap = {0};
        const char *p = prompt, *end = prompt + len;
        while (p < end) {
            const char *q = memmem(p, (size_t)(end - p), NO_PROMPT, sizeof NO_PROMPT - 1);
            if (!q) q = end;
            hb_buf_append(&cap, p, (size_t)(q - p));
            p = q < end ? q + sizeof NO_PROMPT - 1 : end;
        }
        push_image(out, m);
        out->n_images = 1;
        push_text(t, s, out, cap.data ? (const char *)cap.data : "", cap.len, 1);
        push(out, eos, 1);
        hb_buf_free(&cap);
    } else {
        const char *p = prompt, *end = prompt + len;
        int prev_ai = 0; /* the previous piece is exactly "\nAI: " */
        while (p < end) {
            int kind = -1;
            const char *d = next_delim(p, end, &kind);
            const char *piece = p;
            size_t plen = d == p ? delim_len(kind) : (d ? (size_t)(d - p) : (size_t)(end - p));
            int is_img = d == p && kind == 0, is_ai = d == p && kind == 1;
            int stop = out->n >= limit || (is_img && out->n + (size_t)m > limit);
            if (stop) {
                /* something is lost unless what remains are only zero-size images */
                for (const char *r = p; r < end;) {
                    int k2 = -1;
                    const char *d2 = next_delim(r, end, &k2);
                    if (d2 != r || k2 != 0 || m > 0) {
                        out->truncated = 1;
                        break;
                    }
                    r += delim_len(0);
                }
                while (p < end) { /* count the images that were not placed */
                    int k3 = -1;
                    const char *d3 = next_delim(p, end, &k3);
                    if (!d3) break;
                    if (k3 == 0) out->n_images_in++;
                    p = d3 + delim_len(k3);
                }
                break;
            }
            if (is_img) {
                push_image(out, m);
                out->n_images++;
                out->n_images_in++;
            } else if (prev_ai) {
                push_text(t, s, out, piece, plen, 1);
                push(out, eos, 1);
            } else {
                push_text(t, s, out, piece, plen, 0);
            }
            prev_ai = is_ai;
            p += plen;
        }
    }
    if (o->no_eos && out->n && out->ids[out->n - 1] == eos) out->n--;
    if (out->n > limit) {
        out->truncated = 1;
        if (out->no_prompt && (size_t)m + 1 > limit) out->n_images = 0;
        out->n = limit;
    }
    for (size_t i = 0; i < out->n; i++) out->n_supervised += out->mask[i];
    hb_tok_scratch_free(own);
    return 0;
}

void hb_prompt_enc_free(hb_prompt_enc *e) {
    free(e->ids);
    free(e->mask);
    memset(e, 0, sizeof *e);
}
