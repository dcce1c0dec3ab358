/* lib/text/tokenizer — the LLaMA-family SentencePiece-BPE tokenizer (LLaMA-1/2, Vicuna v1.5, Mistral), loaded
 * from either file users have and exact against the reference for that file:
 *   - tokenizer.json (HuggingFace): BPE with merges by rank, byte fallback, the Prepend("▁") + Replace(" ", "▁")
 *     normalizer (or the equivalent Metaspace pre-tokenizer), decoded with the file's decoder. Reference: HF
 *     `tokenizers`, encode(text, add_special_tokens=False) with special-token matching off.
 *   - tokenizer.model (SentencePiece protobuf): BPE that merges by piece score, byte fallback, the model's
 *     normalizer spec (identity or a precompiled charsmap such as nmt_nfkc). Reference: `sentencepiece`
 *     (spm_encode / spm_decode).
 * The file type is detected from the content, never from the name. docs/tokenizer.md has the details.
 *
 * Dependencies:
 *   core/core.h   hb_err, hb_buf
 *   (impl) libcjson (tokenizer.json), libxxhash via core (word cache)
 *
 * Rules that hold for both formats:
 *   - Text is plain text: literal "<s>", "</s>", "<unk>", "<image>" in the input are encoded like any other
 *     characters and never become control ids (unlike the slow HF LlamaTokenizer, which turns "<s>" into BOS).
 *     Data cannot inject control tokens. Control ids are added only by the caller (hb_tok_bos/eos, prompt.h).
 *   - Invalid UTF-8: every byte that does not start a valid UTF-8 sequence (strict UTF-8: no overlongs,
 *     surrogates or code points above U+10FFFF) is read as U+FFFD, one U+FFFD per byte. This is exactly what
 *     sentencepiece does; for tokenizer.json the ids equal HF `tokenizers` on the text with that replacement.
 *   - Encoding adds no BOS/EOS and keeps the leading "▁" dummy prefix (HF add_special_tokens=False).
 *
 * Threads: an hb_tokenizer is immutable after loading; any number of threads may encode and decode with the same
 * one at once. Each thread passes its own hb_tok_scratch (a word cache and work buffers), or NULL for a temporary
 * one (slower: no cache across calls).
 */
#ifndef HB_TOKENIZER_H
#define HB_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

typedef struct hb_tokenizer hb_tokenizer;
typedef struct hb_tok_scratch hb_tok_scratch;

typedef enum {
    HB_TOK_HF_JSON = 1,  /* HuggingFace tokenizer.json */
    HB_TOK_SPM_MODEL = 2 /* SentencePiece tokenizer.model */
} hb_tok_format;

/* Load a tokenizer from a file (tokenizer.json or tokenizer.model, detected by content). Errors name the file and,
 * where known, the byte offset or JSON path; a Git LFS pointer file gets its own message. */
int hb_tok_load(const char *path, hb_tokenizer **out, hb_err *err);
/* Same from memory; name is used in error messages only. The data is copied where needed and may be freed after. */
int hb_tok_load_mem(const void *data, size_t n, const char *name, hb_tokenizer **out, hb_err *err);
void hb_tok_free(hb_tokenizer *t);

hb_tok_format hb_tok_format_of(const hb_tokenizer *t);
int32_t hb_tok_vocab_size(const hb_tokenizer *t); /* ids are 0 .. size-1 */
int32_t hb_tok_bos(const hb_tokenizer *t);        /* "<s>" (LLaMA: 1); -1 when the tokenizer has none */
int32_t hb_tok_eos(const hb_tokenizer *t);        /* "</s>" (LLaMA: 2); -1 when none */
int32_t hb_tok_unk(const hb_tokenizer *t);        /* "<unk>" (LLaMA: 0); -1 when none */
/* The piece string of an id (e.g. "▁Hello", "<0x0A>", "<s>"), not NUL-terminated; NULL when out of range. */
const char *hb_tok_piece(const hb_tokenizer *t, int32_t id, size_t *len);
/* A one-line description: format, vocabulary size, special ids, normalizer, byte fallback. Returns buf. */
const char *hb_tok_describe(const hb_tokenizer *t, char *buf, size_t n);

/* Per-thread scratch: work buffers and a cache of encoded words. Never share one between threads at once. */
hb_tok_scratch *hb_tok_scratch_new(void);
void hb_tok_scratch_free(hb_tok_scratch *s);

/* A growable id array: ids[0..n). Zero-initialise; reuse across calls (set n = 0); free with hb_tok_ids_free. */
typedef struct {
    int32_t *ids;
    size_t n, cap;
} hb_tok_ids;
void hb_tok_ids_push(hb_tok_ids *v, int32_t id);
void hb_tok_ids_free(hb_tok_ids *v);

/* Encode text[0..len) (any bytes; see the invalid UTF-8 rule above) and APPEND the ids to *out. No BOS/EOS; the
 * empty string gives no ids. Returns the number of ids appended. Cannot fail for a loaded tokenizer. */
size_t hb_tok_encode(const hb_tokenizer *t, hb_tok_scratch *s, const char *text, size_t len, hb_tok_ids *out);

/* Decode ids exactly like the reference for the tokenizer's format, APPENDING UTF-8 text to *out:
 *   tokenizer.json:  HF `tokenizers` decode(ids) with its default skip_special_tokens=True (special added tokens
 *                    such as <s>, </s>, <unk> vanish), then the file's decoder (LLaMA: "▁" -> " ", byte pieces ->
 *                    bytes, a run of byte pieces that is not valid UTF-8 becomes one U+FFFD per byte, strip one
 *                    leading space).
 *   tokenizer.model: sentencepiece DecodeIds: control pieces vanish, <unk> becomes the model's unk surface
 *                    (" ⁇ "), byte pieces are joined and each invalid byte becomes U+FFFD, the first "▁" of the
 *                    text is dropped.
 * An id outside [0, vocab size) is an HB_ERANGE error naming its position (nothing is appended then). */
int hb_tok_decode(const hb_tokenizer *t, const int32_t *ids, size_t n, hb_buf *out, hb_err *err);

/* ---- line-oriented JSON helpers (hb-tok, tests) ----
 * Parse one JSON string literal that makes up the whole line (surrounding blanks allowed) into raw bytes (escapes
 * resolved, \u0000 allowed, surrogate pairs joined; raw bytes, valid UTF-8 or not, are kept as they are). The
 * bytes are written to *out (cleared first). On error returns HB_EFORMAT with the byte offset in the line. */
int hb_tok_parse_json_string(const char *line, size_t n, hb_buf *out, hb_err *err);
/* Parse a JSON array of integers ("[1, 2, 3]", "[]") into *out (cleared first). Values must fit in int32. */
int hb_tok_parse_json_ids(const char *line, size_t n, hb_tok_ids *out, hb_err *err);

/* ---- the loops behind hb-tok (tokenizer_cli.c); `name` names the input in errors ("line N, column C: ...") ----
 * encode: one JSON string per line -> one JSON array of ids per line (pieces: of piece strings instead); bos/eos
 *         add <s> / </s>.
 * decode: one JSON array of ids per line -> one JSON string per line.
 * bench:  encode every line of a raw text file (bytes between '\n's) with `threads` threads, each with its own
 *         scratch; print lines, bytes, tokens, seconds and MB/s of the encoding alone to `report`; with ids_out,
 *         write per line an int32 count then the int32 ids (host byte order). */
int hb_tok_run_encode(const hb_tokenizer *t, FILE *in, const char *name, FILE *out, int bos, int eos, int pieces,
                      hb_err *err);
int hb_tok_run_decode(const hb_tokenizer *t, FILE *in, const char *name, FILE *out, hb_err *err);
int hb_tok_run_bench(const hb_tokenizer *t, const char *path, const char *ids_out, int threads, FILE *report,
                     hb_err *err);

#endif
