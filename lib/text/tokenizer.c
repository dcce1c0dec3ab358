/* lib/text/tokenizer.c — loading dispatch (detection by content), the shared hash maps, accessors.
 *
 * Dependencies: text/tokenizer_impl.h, core/core.h (hb_err, hb_buf, hb_hash64, hb_mix64, hb_file_read_all).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_impl.h"

/* ---- string map ---- */
static uint32_t pow2_for(uint32_t expected) {
    uint32_t cap = 16;
    while (cap < expected * 2 + 16) cap <<= 1;
    return cap;
}

void tok_strmap_init(tok_strmap *m, uint32_t expected) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_for(expected);
    m->hash = hb_xcalloc(m->cap, sizeof *m->hash);
    m->koff = hb_xmalloc(m->cap * sizeof *m->koff);
    m->klen = hb_xmalloc(m->cap * sizeof *m->klen);
    m->val = hb_xmalloc(m->cap * sizeof *m->val);
}

void tok_strmap_free(tok_strmap *m) {
    free(m->hash);
    free(m->koff);
    free(m->klen);
    free(m->val);
    hb_buf_free(&m->keys);
    memset(m, 0, sizeof *m);
}

static uint64_t str_hash(const void *k, size_t n) { return hb_hash64(k, n, 0x746f6b) | 1; }

static uint32_t strmap_find(const tok_strmap *m, const void *k, size_t n, uint64_t h) {
    uint32_t i = (uint32_t)h & (m->cap - 1);
    while (m->hash[i]) {
        if (m->hash[i] == h && m->klen[i] == n && (!n || !memcmp(m->keys.data + m->koff[i], k, n))) return i;
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

int32_t tok_strmap_get(const tok_strmap *m, const void *k, size_t n) {
    if (!m->cap) return -1;
    uint32_t i = strmap_find(m, k, n, str_hash(k, n));
    return m->hash[i] ? m->val[i] : -1;
}

static void strmap_grow(tok_strmap *m) {
    tok_strmap g;
    g = *m;
    m->cap *= 2;
    m->hash = hb_xcalloc(m->cap, sizeof *m->hash);
    m->koff = hb_xmalloc(m->cap * sizeof *m->koff);
    m->klen = hb_xmalloc(m->cap * sizeof *m->klen);
    m->val = hb_xmalloc(m->cap * sizeof *m->val);
    for (uint32_t i = 0; i < g.cap; i++) {
        if (!g.hash[i]) continue;
        uint32_t j = (uint32_t)g.hash[i] & (m->cap - 1);
        while (m->hash[j]) j = (j + 1) & (m->cap - 1);
        m->hash[j] = g.hash[i];
        m->koff[j] = g.koff[i];
        m->klen[j] = g.klen[i];
        m->val[j] = g.val[i];
    }
    free(g.hash);
    free(g.koff);
    free(g.klen);
    free(g.val);
}

int32_t tok_strmap_put(tok_strmap *m, const void *k, size_t n, int32_t v) {
    if (!m->cap) tok_strmap_init(m, 16);
    if ((m->n + 1) * 2 > m->cap) strmap_grow(m);
    uint64_t h = str_hash(k, n);
    uint32_t i = strmap_find(m, k, n, h);
    if (m->hash[i]) {
        int32_t old = m->val[i];
        m->val[i] = v;
        return old;
    }
    m->hash[i] = h;
    m->koff[i] = (uint32_t)m->keys.len;
    m->klen[i] = (uint32_t)n;
    m->val[i] = v;
    hb_buf_append(&m->keys, k, n);
    m->n++;
    return -1;
}

/* ---- pair map ---- */
void tok_pairmap_init(tok_pairmap *m, uint32_t expected) {
    m->cap = pow2_for(expected);
    m->n = 0;
    m->slot = hb_xmalloc(m->cap * sizeof *m->slot);
    for (uint32_t i = 0; i < m->cap; i++) m->slot[i].key = UINT64_MAX;
}

void tok_pairmap_free(tok_pairmap *m) {
    free(m->slot);
    memset(m, 0, sizeof *m);
}

static void pairmap_insert(tok_pairmap *m, uint64_t key, uint32_t prio, int32_t res) {
    uint32_t i = (uint32_t)hb_mix64(key) & (m->cap - 1);
    while (m->slot[i].key != UINT64_MAX && m->slot[i].key != key) i = (i + 1) & (m->cap - 1);
    if (m->slot[i].key == UINT64_MAX) m->n++;
    m->slot[i] = (tok_pair){key, prio, res};
}

void tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, uint32_t prio, int32_t res) {
    if (!m->cap) tok_pairmap_init(m, 1024);
    if ((m->n + 1) * 2 > m->cap) {
        tok_pairmap old = *m;
        m->cap *= 2;
        m->n = 0;
        m->slot = hb_xmalloc(m->cap * sizeof *m->slot);
        for (uint32_t i = 0; i < m->cap; i++) m->slot[i].key = UINT64_MAX;
        for (uint32_t i = 0; i < old.cap; i++)
            if (old.slot[i].key != UINT64_MAX) pairmap_insert(m, old.slot[i].key, old.slot[i].prio, old.slot[i].res);
        free(old.slot);
    }
    pairmap_insert(m, tok_pair_key(a, b), prio, res);
}

const tok_pair *tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b) {
    if (!m->cap) return NULL;
    uint64_t key = tok_pair_key(a, b);
    uint32_t i = (uint32_t)hb_mix64(key) & (m->cap - 1);
    while (m->slot[i].key != UINT64_MAX) {
        if (m->slot[i].key == key) return &m->slot[i];
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

/* ---- code point map ---- */
static void cpmap_put(tok_cpmap *m, uint32_t cp, int32_t sym) {
    if (!m->cap || (m->n + 1) * 2 > m->cap) {
        tok_cpmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 1024;
        m->n = 0;
        m->cp = hb_xcalloc(m->cap, sizeof *m->cp);
        m->sym = hb_xmalloc(m->cap * sizeof *m->sym);
        for (uint32_t i = 0; i < old.cap; i++)
            if (old.cp[i]) cpmap_put(m, old.cp[i], old.sym[i]);
        free(old.cp);
        free(old.sym);
    }
    uint32_t i = (uint32_t)hb_mix64(cp) & (m->cap - 1);
    while (m->cp[i] && m->cp[i] != cp) i = (i + 1) & (m->cap - 1);
    if (!m->cp[i]) m->n++;
    m->cp[i] = cp;
    m->sym[i] = sym;
}

/* ---- tokenizer ---- */
hb_tokenizer *tok_alloc(void) {
    static uint64_t serial;
    hb_tokenizer *t = hb_xcalloc(1, sizeof *t);
    t->serial = __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED);
    t->unk = t->bos = t->eos = -1;
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
    for (int i = 0; i < 128; i++) t->ascii_sym[i] = TOK_SYM_NONE;
    return t;
}

void tok_pieces_init(hb_tokenizer *t, int32_t n) {
    t->n_vocab = n;
    t->n_sym = n;
    t->off = hb_xcalloc((size_t)n + 1, sizeof *t->off);
    t->type = hb_xcalloc((size_t)n + 1, 1);
    t->byte_of = hb_xmalloc(((size_t)n + 1) * sizeof *t->byte_of);
    for (int32_t i = 0; i <= n; i++) t->byte_of[i] = -1;
}

/* Byte value of a "<0xXX>" piece (upper-case hex, as both references write them), -1 otherwise. */
static int byte_piece_value(const char *p, size_t n) {
    if (n != 6 || memcmp(p, "<0x", 3) || p[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Pieces must be set in id order (the blob is appended to). */
void tok_set_piece(hb_tokenizer *t, hb_buf *blob, int32_t id, const void *p, size_t len, uint8_t type) {
    t->off[id] = (uint32_t)blob->len;
    hb_buf_append(blob, p, len);
    t->off[id + 1] = (uint32_t)blob->len;
    t->type[id] = type;
    int b = byte_piece_value(p, len);
    if (b >= 0 && (type == TOK_T_BYTE || t->format == HB_TOK_HF_JSON)) {
        t->byte_of[id] = (int16_t)b;
        if (t->byte_id[b] < 0) t->byte_id[b] = id;
    }
}

void tok_finish(hb_tokenizer *t) {
    /* word_split needs "▁" to be a symbol of its own so that unknown-character runs never cross a word start */
    if (t->word_split) {
        int ws_known = 0;
        for (uint32_t i = 0; i < t->chars.cap; i++)
            if (t->chars.cp[i] == 0x2581 && t->chars.sym[i] >= 0 && t->chars.sym[i] < t->n_vocab) ws_known = 1;
        if (!ws_known || t->has_unused) t->word_split = 0;
    }
}

void tok_add_char_symbol(hb_tokenizer *t, uint32_t cp, int32_t sym) {
    if (cp < 128)
        t->ascii_sym[cp] = sym;
    else
        cpmap_put(&t->chars, cp, sym);
}

int32_t tok_char_symbol(const hb_tokenizer *t, uint32_t cp) {
    if (cp < 128) return t->ascii_sym[cp];
    const tok_cpmap *m = &t->chars;
    if (!m->cap) return TOK_SYM_NONE;
    uint32_t i = (uint32_t)hb_mix64(cp) & (m->cap - 1);
    while (m->cp[i]) {
        if (m->cp[i] == cp) return m->sym[i];
        i = (i + 1) & (m->cap - 1);
    }
    return TOK_SYM_NONE;
}

int tok_piece_has_inner_ws(const char *p, size_t n) {
    for (size_t i = 0; i + 3 <= n; i++) {
        if (memcmp(p + i, TOK_WS, 3)) continue;
        if (i >= 3 && !memcmp(p + i - 3, TOK_WS, 3)) { i += 2; continue; }
        if (i > 0) return 1;
        i += 2;
    }
    return 0;
}

void hb_tok_free(hb_tokenizer *t) {
    if (!t) return;
    free(t->blob);
    free(t->off);
    free(t->type);
    free(t->byte_of);
    free(t->sym_len);
    free(t->chars.cp);
    free(t->chars.sym);
    tok_pairmap_free(&t->pairs);
    free(t->canon);
    tok_strmap_free(&t->user);
    free(t->trie);
    free(t->trie_norm);
    free(t->special);
    for (int i = 0; i < t->n_dec; i++) {
        free(t->dec[i].pat);
        free(t->dec[i].content);
    }
    free(t->dec);
    free(t->unk_surface);
    free(t);
}

static int is_lfs_pointer(const uint8_t *d, size_t n) { return n < 1024 && hb_is_lfs_pointer(d, n); }

int hb_tok_load_mem(const void *data, size_t n, const char *name, hb_tokenizer **out, hb_err *err) {
    const uint8_t *d = data;
    *out = NULL;
    if (!name) name = "<memory>";
    if (n == 0) return hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "empty file: not a tokenizer");
    if (is_lfs_pointer(d, n))
        return hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, 0,
                          "this is a Git LFS pointer, not the tokenizer itself (run `git lfs pull` in its repository "
                          "or download the file directly)");
    size_t i = 0, bom = 0;
    if (n >= 3 && d[0] == 0xEF && d[1] == 0xBB && d[2] == 0xBF) i = bom = 3; /* UTF-8 BOM */
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n')) i++;
    hb_tokenizer *t = tok_alloc();
    int rc;
    if (i < n && d[i] == '{') {
        t->format = HB_TOK_HF_JSON;
        rc = tok_load_json(t, (const char *)data + bom, n - bom, name, err);
    } else if (d[0] == 0x0A) { /* protobuf: field 1 (pieces), length-delimited */
        t->format = HB_TOK_SPM_MODEL;
        rc = tok_load_spm(t, d, n, name, err);
    } else {
        const char *hint = n >= 4 && !memcmp(d, "\x28\xb5\x2f\xfd", 4) ? " (the file is zstd-compressed: decompress it first)"
                           : n >= 2 && d[0] == 0x1f && d[1] == 0x8b ? " (the file is gzip-compressed: decompress it first)"
                                                                    : "";
        rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, 0,
                        "not a tokenizer: expected a HuggingFace tokenizer.json (a JSON object) or a SentencePiece "
                        "tokenizer.model (protobuf starting with byte 0x0a), found byte 0x%02x%s",
                        d[i < n ? i : 0], hint);
    }
    if (rc) {
        hb_tok_free(t);
        return rc;
    }
    tok_finish(t);
    *out = t;
    return 0;
}

int hb_tok_load(const char *path, hb_tokenizer **out, hb_err *err) {
    uint8_t *data;
    size_t n;
    *out = NULL;
    if (hb_path_is_dir(path))
        return hb_err_set(err, HB_EINVAL, path, HB_NOPOS, HB_NOPOS,
                          "is a directory; pass the tokenizer.json or tokenizer.model file inside it");
    int rc = hb_file_read_all(path, &data, &n, err);
    if (rc) return rc;
    rc = hb_tok_load_mem(data, n, path, out, err);
    free(data);
    return rc;
}

hb_tok_format hb_tok_format_of(const hb_tokenizer *t) { return t->format; }
int32_t hb_tok_vocab_size(const hb_tokenizer *t) { return t->n_vocab; }
int32_t hb_tok_bos(const hb_tokenizer *t) { return t->bos; }
int32_t hb_tok_eos(const hb_tokenizer *t) { return t->eos; }
int32_t hb_tok_unk(const hb_tokenizer *t) { return t->unk; }

const char *hb_tok_piece(const hb_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    uint32_t l;
    const char *p = tok_piece(t, id, &l);
    if (len) *len = l;
    return p;
}

const char *hb_tok_describe(const hb_tokenizer *t, char *buf, size_t n) {
    int n_bytes = 0;
    for (int i = 0; i < 256; i++) n_bytes += t->byte_id[i] >= 0;
    snprintf(buf, n,
             "%s: %d pieces, unk=%d bos=%d eos=%d, byte_fallback=%s (%d byte pieces), normalizer=%s%s%s, "
             "%u merge pairs, word_split=%s",
             t->format == HB_TOK_HF_JSON ? "tokenizer.json (HF BPE, merges by rank)"
                                         : "tokenizer.model (SentencePiece BPE, merges by score)",
             t->n_vocab, t->unk, t->bos, t->eos, t->byte_fallback ? "yes" : "no", n_bytes, t->norm_name,
             t->prefix == TOK_PREFIX_NONE ? "" : t->prefix == TOK_PREFIX_ALWAYS ? "+dummy_prefix" : "+prefix_if_missing",
             t->remove_extra_ws ? "+remove_extra_whitespaces" : "", t->pairs.n, t->word_split ? "yes" : "no");
    return buf;
}

void hb_tok_ids_push(hb_tok_ids *v, int32_t id) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->ids = hb_xrealloc(v->ids, v->cap * sizeof *v->ids);
    }
    v->ids[v->n++] = id;
}

void hb_tok_ids_free(hb_tok_ids *v) {
    free(v->ids);
    memset(v, 0, sizeof *v);
}
