/* lib/text/bpe_encode.c — encoding: normalized text -> words -> initial symbols -> merges -> ids, with a per-thread
 * word cache.
 *
 * Dependencies: text/tokenizer_impl.h, core/core.h (hb_hash64).
 *
 * The merge loop is the one both references run: repeatedly apply the pair with the lowest priority, the leftmost
 * one among equals, until no adjacent pair has a merge. Short words scan for the best pair directly; long ones use a
 * binary heap with lazy invalidation (a heap entry is live while both symbols are unchanged and still adjacent).
 * Initial symbols and the final id mapping follow each reference:
 *   tokenizer.json (HF `tokenizers` BPE::merge_word): a character in the vocabulary is its piece; otherwise its
 *     UTF-8 bytes become byte pieces when all exist (byte_fallback); otherwise <unk>, consecutive ones fused into one
 *     when fuse_unk (a pending <unk> is emitted when the next known character comes, as in `tokenizers`).
 *   tokenizer.model (sentencepiece bpe::Model::SampleEncode + PopulateSentencePieceText): user-defined pieces are
 *     matched first and never merge; characters are symbols; after merging, UNUSED pieces are split back into the
 *     pair that formed them, the id of a final symbol is looked up (reserved pieces first) and an unknown one becomes
 *     its byte pieces (byte_fallback) or <unk> (consecutive ones fused).
 */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_impl.h"

typedef struct {
    int32_t id;         /* symbol id (piece, virtual character, TOK_SYM_NONE) */
    int32_t prev, next; /* -1 at the ends */
    uint32_t start, len; /* bytes of the word; len 0 = merged away */
    uint32_t ver;
    uint8_t frozen;
} tsym;

typedef struct {
    uint32_t prio, left, right, lver, rver;
    int32_t res;
} hent;

#define CACHE_SLOTS (1u << 16)
#define CACHE_MAX_KEY 64
#define CACHE_MAX_BYTES (8u << 20)
#define NAIVE_MAX 48

struct hb_tok_scratch {
    uint64_t owner; /* serial of the tokenizer the cache was filled with */
    hb_buf norm;
    tsym *sym;
    uint32_t *pr;
    int32_t *res;
    size_t sym_cap;
    hent *heap;
    size_t heap_cap;
    /* word cache */
    uint64_t *c_hash;
    uint32_t *c_koff, *c_ioff;
    uint8_t *c_klen, *c_nid;
    uint32_t c_n;
    hb_buf c_keys, c_ids;
    /* UNUSED resegmentation: result piece -> the pair last pushed for it */
    int32_t *rev_l, *rev_r;
    uint32_t *rev_gen, gen;
    size_t rev_cap;
};

hb_tok_scratch *hb_tok_scratch_new(void) { return hb_xcalloc(1, sizeof(hb_tok_scratch)); }

void hb_tok_scratch_free(hb_tok_scratch *s) {
    if (!s) return;
    hb_buf_free(&s->norm);
    free(s->sym);
    free(s->pr);
    free(s->res);
    free(s->heap);
    free(s->c_hash);
    free(s->c_koff);
    free(s->c_ioff);
    free(s->c_klen);
    free(s->c_nid);
    hb_buf_free(&s->c_keys);
    hb_buf_free(&s->c_ids);
    free(s->rev_l);
    free(s->rev_r);
    free(s->rev_gen);
    free(s);
}

static void cache_clear(hb_tok_scratch *s) {
    if (s->c_hash) memset(s->c_hash, 0, CACHE_SLOTS * sizeof *s->c_hash);
    s->c_n = 0;
    s->c_keys.len = 0;
    s->c_ids.len = 0;
}

static void sym_reserve(hb_tok_scratch *s, size_t n) {
    if (n <= s->sym_cap) return;
    size_t cap = s->sym_cap ? s->sym_cap : 256;
    while (cap < n) cap *= 2;
    s->sym = hb_xrealloc(s->sym, cap * sizeof *s->sym);
    s->pr = hb_xrealloc(s->pr, cap * sizeof *s->pr);
    s->res = hb_xrealloc(s->res, cap * sizeof *s->res);
    s->sym_cap = cap;
}

static inline void push_sym(hb_tok_scratch *s, int *n, int32_t id, uint32_t start, uint32_t len, uint8_t frozen) {
    tsym *y = &s->sym[*n];
    y->id = id;
    y->prev = *n - 1;
    y->next = -1;
    if (*n) s->sym[*n - 1].next = *n;
    y->start = start;
    y->len = len;
    y->ver = 0;
    y->frozen = frozen;
    (*n)++;
}

/* The pair at (a, b) if it merges; records the push for UNUSED resegmentation like sentencepiece does. */
static inline const tok_pair *pair_at(const hb_tokenizer *t, hb_tok_scratch *s, const tsym *a, const tsym *b) {
    if (a->id < 0 || b->id < 0 || a->frozen || b->frozen) return NULL;
    const tok_pair *p = tok_pairmap_get(&t->pairs, a->id, b->id);
    if (p && t->has_unused && t->type[p->res] == TOK_T_UNUSED) {
        s->rev_l[p->res] = a->id;
        s->rev_r[p->res] = b->id;
        s->rev_gen[p->res] = s->gen;
    }
    return p;
}

static inline void merge_into(tsym *y, int32_t l, int32_t r, int32_t res) {
    y[l].id = res;
    y[l].len += y[r].len;
    y[l].ver++;
    y[l].next = y[r].next;
    if (y[r].next >= 0) y[y[r].next].prev = l;
    y[r].len = 0;
    y[r].ver++;
}

static void merge_naive(const hb_tokenizer *t, hb_tok_scratch *s, int n) {
    tsym *y = s->sym;
    uint32_t *pr = s->pr;
    int32_t *res = s->res;
    for (int i = 0; i < n; i++) {
        const tok_pair *p = i + 1 < n ? pair_at(t, s, &y[i], &y[i + 1]) : NULL;
        pr[i] = p ? p->prio : UINT32_MAX;
        res[i] = p ? p->res : -1;
    }
    for (;;) {
        uint32_t best = UINT32_MAX;
        int bi = -1;
        for (int i = 0; i >= 0; i = y[i].next)
            if (pr[i] < best) best = pr[i], bi = i;
        if (bi < 0) return;
        merge_into(y, bi, y[bi].next, res[bi]);
        int pv = y[bi].prev;
        if (pv >= 0) {
            const tok_pair *p = pair_at(t, s, &y[pv], &y[bi]);
            pr[pv] = p ? p->prio : UINT32_MAX;
            res[pv] = p ? p->res : -1;
        }
        const tok_pair *p = y[bi].next >= 0 ? pair_at(t, s, &y[bi], &y[y[bi].next]) : NULL;
        pr[bi] = p ? p->prio : UINT32_MAX;
        res[bi] = p ? p->res : -1;
    }
}

static inline int hent_less(const hent *a, const hent *b) {
    return a->prio < b->prio || (a->prio == b->prio && a->left < b->left);
}

static void heap_push(hb_tok_scratch *s, size_t *hn, hent e) {
    if (*hn == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 1024;
        s->heap = hb_xrealloc(s->heap, s->heap_cap * sizeof *s->heap);
    }
    size_t i = (*hn)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hent_less(&e, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
}

static hent heap_pop(hb_tok_scratch *s, size_t *hn) {
    hent top = s->heap[0], last = s->heap[--(*hn)];
    size_t i = 0, n = *hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && hent_less(&s->heap[c + 1], &s->heap[c])) c++;
        if (!hent_less(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

static inline void maybe_push(const hb_tokenizer *t, hb_tok_scratch *s, size_t *hn, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const tok_pair *p = pair_at(t, s, &s->sym[l], &s->sym[r]);
    if (p)
        heap_push(s, hn, (hent){p->prio, (uint32_t)l, (uint32_t)r, s->sym[l].ver, s->sym[r].ver, p->res});
}

static void merge_heap(const hb_tokenizer *t, hb_tok_scratch *s, int n) {
    size_t hn = 0;
    for (int i = 1; i < n; i++) maybe_push(t, s, &hn, i - 1, i);
    tsym *y;
    while (hn) {
        hent e = heap_pop(s, &hn);
        y = s->sym;
        if (!y[e.left].len || y[e.left].next != (int32_t)e.right || y[e.left].ver != e.lver || y[e.right].ver != e.rver)
            continue;
        merge_into(y, (int32_t)e.left, (int32_t)e.right, e.res);
        maybe_push(t, s, &hn, y[e.left].prev, (int32_t)e.left);
        maybe_push(t, s, &hn, (int32_t)e.left, s->sym[e.left].next);
    }
}

/* ---- initial symbols ---- */
static int symbols_hf(const hb_tokenizer *t, hb_tok_scratch *s, const uint8_t *w, size_t wl) {
    int n = 0;
    int has_unk = 0;
    uint32_t unk_start = 0, unk_len = 0;
    for (size_t i = 0; i < wl;) {
        size_t k = hb_utf8_len(w + i, wl - i);
        if (!k) k = 1; /* cannot happen after normalization */
        int32_t sym = tok_char_symbol(t, hb_utf8_cp(w + i, k));
        if (sym >= 0) {
            if (has_unk) push_sym(s, &n, t->unk, unk_start, unk_len, 0), has_unk = 0;
            push_sym(s, &n, sym, (uint32_t)i, (uint32_t)k, 0);
        } else {
            int all = t->byte_fallback;
            for (size_t b = 0; all && b < k; b++) all = t->byte_id[w[i + b]] >= 0;
            if (all) {
                for (size_t b = 0; b < k; b++) push_sym(s, &n, t->byte_id[w[i + b]], (uint32_t)(i + b), 1, 0);
            } else if (has_unk && t->fuse_unk) {
                unk_len += (uint32_t)k;
            } else {
                if (has_unk) push_sym(s, &n, t->unk, unk_start, unk_len, 0);
                has_unk = 1, unk_start = (uint32_t)i, unk_len = (uint32_t)k;
            }
        }
        i += k;
    }
    if (has_unk) push_sym(s, &n, t->unk, unk_start, unk_len, 0);
    return n;
}

static int symbols_spm(const hb_tokenizer *t, hb_tok_scratch *s, const uint8_t *w, size_t wl) {
    int n = 0;
    for (size_t i = 0; i < wl;) {
        if (t->has_user && (t->user_first[w[i] >> 3] & (1u << (w[i] & 7)))) {
            size_t l = wl - i < t->user_max_len ? wl - i : t->user_max_len;
            for (; l > 0; l--) {
                int32_t id = tok_strmap_get(&t->user, w + i, l);
                if (id >= 0) {
                    push_sym(s, &n, id, (uint32_t)i, (uint32_t)l, 1);
                    break;
                }
            }
            if (l) {
                i += l;
                continue;
            }
        }
        size_t k = hb_utf8_len(w + i, wl - i);
        if (!k) k = 1;
        push_sym(s, &n, tok_char_symbol(t, hb_utf8_cp(w + i, k)), (uint32_t)i, (uint32_t)k, 0);
        i += k;
    }
    return n;
}

/* ---- final ids ---- */
static uint32_t sym_bytes(const hb_tokenizer *t, int32_t sym) {
    return sym < t->n_vocab ? t->off[sym + 1] - t->off[sym] : t->sym_len[sym - t->n_vocab];
}

static void emit_spm(const hb_tokenizer *t, hb_tok_scratch *s, int32_t sym, const uint8_t *w, uint32_t start,
                     uint32_t len, int *prev_unk, hb_tok_ids *out) {
    int32_t id = sym >= 0 && sym < t->n_vocab ? t->canon[sym] : t->unk;
    if (t->has_unused && t->type[id] == TOK_T_UNUSED && s->rev_gen[sym] == s->gen) {
        int32_t l = s->rev_l[sym], r = s->rev_r[sym];
        uint32_t ll = sym_bytes(t, l);
        emit_spm(t, s, l, w, start, ll, prev_unk, out);
        emit_spm(t, s, r, w, start + ll, len - ll, prev_unk, out);
        return;
    }
    if (t->type[id] == TOK_T_UNKNOWN) {
        if (t->byte_fallback) {
            for (uint32_t b = 0; b < len; b++) hb_tok_ids_push(out, t->byte_id[w[start + b]]);
        } else if (!*prev_unk) {
            hb_tok_ids_push(out, id);
        }
        *prev_unk = 1;
        return;
    }
    hb_tok_ids_push(out, id);
    *prev_unk = 0;
}

static void encode_word(const hb_tokenizer *t, hb_tok_scratch *s, const uint8_t *w, size_t wl, hb_tok_ids *out) {
    uint64_t h = 0;
    uint32_t slot = 0;
    int cacheable = t->word_split && wl <= CACHE_MAX_KEY;
    if (cacheable) {
        h = hb_hash64(w, wl, 0) | 1;
        slot = (uint32_t)h & (CACHE_SLOTS - 1);
        while (s->c_hash[slot]) {
            if (s->c_hash[slot] == h && s->c_klen[slot] == wl && !memcmp(s->c_keys.data + s->c_koff[slot], w, wl)) {
                const int32_t *ids = (const int32_t *)(s->c_ids.data + s->c_ioff[slot]);
                for (uint32_t i = 0; i < s->c_nid[slot]; i++) hb_tok_ids_push(out, ids[i]);
                return;
            }
            slot = (slot + 1) & (CACHE_SLOTS - 1);
        }
    }
    size_t first = out->n;
    sym_reserve(s, wl + 1);
    int n = t->format == HB_TOK_HF_JSON ? symbols_hf(t, s, w, wl) : symbols_spm(t, s, w, wl);
    if (n > 1) {
        if (n <= NAIVE_MAX)
            merge_naive(t, s, n);
        else
            merge_heap(t, s, n);
    }
    if (n > 0) {
        const tsym *y = s->sym;
        if (t->format == HB_TOK_HF_JSON) {
            for (int i = 0; i >= 0; i = y[i].next) hb_tok_ids_push(out, y[i].id);
        } else {
            int prev_unk = 0;
            for (int i = 0; i >= 0; i = y[i].next) emit_spm(t, s, y[i].id, w, y[i].start, y[i].len, &prev_unk, out);
        }
    }
    if (cacheable && out->n - first <= 255) {
        if (s->c_n >= CACHE_SLOTS / 2 || s->c_keys.len + s->c_ids.len > CACHE_MAX_BYTES) {
            cache_clear(s);
            slot = (uint32_t)h & (CACHE_SLOTS - 1);
        }
        s->c_hash[slot] = h;
        s->c_klen[slot] = (uint8_t)wl;
        s->c_koff[slot] = (uint32_t)s->c_keys.len;
        hb_buf_append(&s->c_keys, w, wl);
        s->c_nid[slot] = (uint8_t)(out->n - first);
        s->c_ioff[slot] = (uint32_t)s->c_ids.len;
        hb_buf_append(&s->c_ids, out->ids + first, (out->n - first) * sizeof(int32_t));
        s->c_n++;
    }
}

static const uint8_t *find_ws(const uint8_t *p, const uint8_t *end) {
    while (p + 3 <= end) {
        const uint8_t *q = memchr(p, 0xE2, (size_t)(end - p));
        if (!q || q + 3 > end) return NULL;
        if (q[1] == 0x96 && q[2] == 0x81) return q;
        p = q + 1;
    }
    return NULL;
}

size_t hb_tok_encode(const hb_tokenizer *t, hb_tok_scratch *s, const char *text, size_t len, hb_tok_ids *out) {
    hb_tok_scratch *own = NULL;
    if (!s) s = own = hb_tok_scratch_new();
    if (s->owner != t->serial) {
        if (!s->c_hash) {
            s->c_hash = hb_xcalloc(CACHE_SLOTS, sizeof *s->c_hash);
            s->c_koff = hb_xmalloc(CACHE_SLOTS * sizeof *s->c_koff);
            s->c_ioff = hb_xmalloc(CACHE_SLOTS * sizeof *s->c_ioff);
            s->c_klen = hb_xmalloc(CACHE_SLOTS);
            s->c_nid = hb_xmalloc(CACHE_SLOTS);
        }
        cache_clear(s);
        s->owner = t->serial;
        free(s->rev_l), free(s->rev_r), free(s->rev_gen);
        s->rev_l = s->rev_r = NULL, s->rev_gen = NULL;
        if (t->has_unused) {
            s->rev_l = hb_xmalloc((size_t)t->n_vocab * sizeof *s->rev_l);
            s->rev_r = hb_xmalloc((size_t)t->n_vocab * sizeof *s->rev_r);
            s->rev_gen = hb_xcalloc((size_t)t->n_vocab, sizeof *s->rev_gen);
            s->gen = 0;
        }
    }
    if (t->has_unused && ++s->gen == 0) { /* generation wrapped: forget every old entry */
        memset(s->rev_gen, 0, (size_t)t->n_vocab * sizeof *s->rev_gen);
        s->gen = 1;
    }
    size_t before = out->n;
    tok_normalize(t, text, len, &s->norm);
    const uint8_t *b = s->norm.data, *end = s->norm.len ? b + s->norm.len : b; /* data is NULL while never used */
    if (s->norm.len) {
        if (!t->word_split) {
            encode_word(t, s, b, s->norm.len, out);
        } else {
            const uint8_t *start = b, *p = b;
            for (;;) {
                const uint8_t *q = find_ws(p, end);
                if (!q) break;
                /* a word starts at a "▁" not preceded by "▁" (and not at the word's own start) */
                if (q > start && !(q - b >= 3 && q[-3] == 0xE2 && q[-2] == 0x96 && q[-1] == 0x81)) {
                    encode_word(t, s, start, (size_t)(q - start), out);
                    start = q;
                }
                p = q + 3;
            }
            encode_word(t, s, start, (size_t)(end - start), out);
        }
    }
    hb_tok_scratch_free(own);
    return out->n - before;
}
