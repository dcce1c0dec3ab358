/* lib/text/tokenizer_impl — internals shared by the tokenizer's source files (not a public header).
 *
 * Dependencies: text/tokenizer.h, core/core.h.
 *
 * Model. Both file formats load into one representation:
 *   - pieces: ids 0..n_vocab-1, their bytes (blob + off), a type (TOK_T_*), the byte value of byte pieces;
 *   - symbols: what the merge loop works on. Symbol ids 0..n_vocab-1 are pieces; ids n_vocab..n_sym-1 are
 *     "virtual" single characters that are not pieces but are one half of some mergeable pair (sentencepiece
 *     merges any two adjacent strings whose concatenation is a piece); TOK_SYM_NONE is a character that can
 *     never merge;
 *   - pairs: (left symbol, right symbol) -> (priority, result piece). The loop always applies the pair with the
 *     lowest priority, leftmost first. tokenizer.json: priority = merge rank. tokenizer.model: priority = rank
 *     of the result piece's score in descending order (equal scores share a priority), which is sentencepiece's
 *     "highest score, then leftmost" rule.
 * Words. When no mergeable piece contains a non-"▁" character followed by "▁" (true for LLaMA and Mistral), no
 * merge can cross the start of a "▁"-run, so the normalized text is cut there and each word is encoded alone
 * (word_split) and memoised in the per-thread cache. The result is identical to encoding the whole string.
 */
#ifndef HB_TOKENIZER_IMPL_H
#define HB_TOKENIZER_IMPL_H

#include <stdint.h>

#include "core/core.h"
#include "text/tokenizer.h"

enum { /* piece types; the values are sentencepiece's ModelProto.SentencePiece.Type */
       TOK_T_NORMAL = 1,
       TOK_T_UNKNOWN = 2,
       TOK_T_CONTROL = 3,
       TOK_T_USER = 4,
       TOK_T_UNUSED = 5,
       TOK_T_BYTE = 6 };

#define TOK_SYM_NONE (-1)
#define TOK_WS "\xe2\x96\x81" /* U+2581 "▁", 3 bytes */

/* string -> int32 (open addressing; keys copied into the map's own blob) */
typedef struct {
    uint64_t *hash; /* 0 = empty slot */
    uint32_t *koff, *klen;
    int32_t *val;
    hb_buf keys;
    uint32_t cap, n; /* cap is a power of two */
} tok_strmap;

void tok_strmap_init(tok_strmap *m, uint32_t expected);
void tok_strmap_free(tok_strmap *m);
int32_t tok_strmap_get(const tok_strmap *m, const void *k, size_t n); /* -1 when absent */
/* Insert or overwrite; returns the previous value or -1. */
int32_t tok_strmap_put(tok_strmap *m, const void *k, size_t n, int32_t v);

/* (left, right) symbol pair -> (priority, result) */
typedef struct {
    uint64_t key; /* UINT64_MAX = empty */
    uint32_t prio;
    int32_t res;
} tok_pair;

typedef struct {
    tok_pair *slot;
    uint32_t cap, n;
} tok_pairmap;

static inline uint64_t tok_pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }
void tok_pairmap_init(tok_pairmap *m, uint32_t expected);
void tok_pairmap_free(tok_pairmap *m);
void tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, uint32_t prio, int32_t res); /* overwrites */
const tok_pair *tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b);            /* NULL when absent */

/* code point -> symbol id, for non-ASCII single characters */
typedef struct {
    uint32_t *cp; /* 0 = empty (code point 0 is ASCII and never stored) */
    int32_t *sym;
    uint32_t cap, n;
} tok_cpmap;

/* HF decoder steps (tokenizer.json "decoder") */
typedef enum { TOK_DEC_REPLACE = 1, TOK_DEC_BYTE_FALLBACK, TOK_DEC_FUSE, TOK_DEC_STRIP, TOK_DEC_METASPACE } tok_dec_kind;
typedef struct {
    tok_dec_kind kind;
    char *pat, *content; /* Replace: pattern -> content; Metaspace: pat = replacement */
    size_t pat_len, content_len;
    uint32_t strip_char; /* Strip: the character */
    int start, stop;     /* Strip: how many to strip at each end; Metaspace: start = 1 when prepending */
} tok_dec_step;

enum { TOK_PREFIX_NONE = 0, TOK_PREFIX_ALWAYS = 1, TOK_PREFIX_IF_MISSING = 2 };

struct hb_tokenizer {
    hb_tok_format format;
    uint64_t serial; /* unique per load: scratch caches are keyed by it */
    int32_t n_vocab;
    uint8_t *blob;  /* piece bytes */
    uint32_t *off;  /* n_vocab + 1 offsets into blob */
    uint8_t *type;  /* TOK_T_* per id */
    int16_t *byte_of; /* byte value of <0xXX> byte pieces, -1 otherwise */
    int32_t byte_id[256];
    int32_t unk, bos, eos;
    int byte_fallback;
    int fuse_unk; /* consecutive unknown characters give one unk id */

    /* symbols and merges */
    int32_t n_sym;         /* pieces + virtual characters */
    uint8_t *sym_len;      /* byte length of virtual characters (index sym - n_vocab) */
    int32_t ascii_sym[128];
    tok_cpmap chars;       /* non-ASCII character -> symbol */
    tok_pairmap pairs;
    int32_t *canon;        /* SPM: the id reported for a final piece symbol (reserved pieces first); NULL for HF */
    int word_split;

    /* sentencepiece specifics */
    int has_unused; /* UNUSED pieces: resegmented after merging (disables word_split and the cache) */
    int has_user;   /* USER_DEFINED pieces: matched first, never merged */
    tok_strmap user;
    uint32_t user_max_len;
    uint8_t user_first[32]; /* bitmap of first bytes of user-defined pieces */

    /* normalizer */
    int prefix;          /* TOK_PREFIX_* ("▁" dummy prefix) */
    int escape_ws;       /* ' ' -> "▁" */
    int remove_extra_ws; /* sentencepiece remove_extra_whitespaces */
    uint32_t *trie;      /* sentencepiece precompiled charsmap (darts-clone double array); NULL = identity */
    size_t trie_units;
    char *trie_norm; /* the replacement strings, NUL-terminated, indexed by the trie values */
    size_t trie_norm_len;
    char norm_name[32];

    /* decoding */
    uint8_t *special; /* HF: 1 for ids whose token is a special added token (skipped) */
    tok_dec_step *dec;
    int n_dec;
    char *unk_surface; /* SPM */
    size_t unk_surface_len;
    int dec_strip_bos_ws;    /* SPM: add_dummy_prefix || remove_extra_whitespaces */
    int dec_remove_extra_ws; /* SPM */
};

static inline const char *tok_piece(const hb_tokenizer *t, int32_t id, uint32_t *len) {
    *len = t->off[id + 1] - t->off[id];
    return (const char *)t->blob + t->off[id];
}


/* Loading: hb_tok_load_mem (tokenizer.c) detects the format, then a loader fills pieces, symbols, pairs and options. */
int tok_load_json(hb_tokenizer *t, const char *data, size_t n, const char *name, hb_err *err);
int tok_load_spm(hb_tokenizer *t, const uint8_t *data, size_t n, const char *name, hb_err *err);
hb_tokenizer *tok_alloc(void);
/* Allocate the per-piece arrays for n pieces; tok_set_piece (in id order) appends each piece's bytes to blob. */
void tok_pieces_init(hb_tokenizer *t, int32_t n);
void tok_set_piece(hb_tokenizer *t, hb_buf *blob, int32_t id, const void *p, size_t len, uint8_t type);
/* After loading: turn word_split off unless "▁" is a piece of its own and there are no UNUSED pieces. */
void tok_finish(hb_tokenizer *t);
/* Initial symbol of a character (code point): a piece, a virtual character, or TOK_SYM_NONE. */
void tok_add_char_symbol(hb_tokenizer *t, uint32_t cp, int32_t sym);
int32_t tok_char_symbol(const hb_tokenizer *t, uint32_t cp);
/* 1 when the piece contains a character other than "▁" followed by "▁" (such pieces rule out word_split). */
int tok_piece_has_inner_ws(const char *p, size_t n);

/* Normalization (tokenizer_norm.c): the text the merge loop sees, written to out (cleared first). */
void tok_normalize(const hb_tokenizer *t, const char *text, size_t len, hb_buf *out);
/* Validate a precompiled charsmap blob and copy it into the tokenizer. */
int tok_charsmap_load(hb_tokenizer *t, const uint8_t *blob, size_t n, const char *name, hb_err *err);

#endif
