/* lib/text/prompt — Honeybee's chunk-wise prompt encoding (honeybee/tokenization_honeybee.py::encode_prompt,
 * spec-data.md §7.2): the rendered prompt string -> token ids with image placeholders and the loss mask that
 * hb-prep stores.
 *
 * Dependencies: text/tokenizer.h (hb_tokenizer, hb_tok_scratch, hb_tok_encode), core/core.h.
 *
 * Algorithm (bit-compatible with the reference, except that "<s>", "</s>", "<unk>" inside text stay text):
 *   ids = [BOS], mask = [0].
 *   [NO_PROMPT] branch — the prompt starts with "[NO_PROMPT] <image> ": every occurrence of that marker is deleted
 *     (Python str.replace) and the rest is the caption: ids += [-1] * M + encode(caption) + [EOS], mask 0 for the
 *     image positions and 1 for the caption and EOS. No role splitting; no early stop.
 *   Otherwise the prompt is split at "<image>", "\nAI: " and "\nHuman: " (the delimiters are pieces of their own;
 *     empty pieces are dropped) and the pieces are walked in order:
 *       stop if len(ids) >= max_length + 1;
 *       "<image>": stop if len(ids) + M > max_length + 1 (an image is never cut), else ids += [-1] * M, mask 0;
 *       any other piece (role pieces included) is encoded on its own (dummy prefix, no BOS/EOS); when the previous
 *       piece is exactly "\nAI: " it is an answer: ids += toks + [EOS], mask 1; otherwise mask 0.
 *   no_eos and the last id is EOS: drop it. Finally cut ids and mask to max_length + 1 entries.
 *   max_length <= 0 means no truncation (the reference's max_length=None, and 0, which Python treats the same).
 *
 * Threads: like hb_tok_encode — the tokenizer is shared, the scratch and the output are per thread.
 */
#ifndef HB_PROMPT_H
#define HB_PROMPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "text/tokenizer.h"

#define HB_PROMPT_IMAGE_ID (-1) /* the id of an image position (shard/shard.h HB_IMAGE_TOKEN) */

typedef struct {
    int32_t max_length; /* text+image positions after BOS; <= 0: no truncation (FT: 1023, PT: 1024) */
    int32_t n_visual;   /* M: positions per image (Honeybee: 144 by default; 256, 576 for other projectors) */
    int no_eos;         /* eval prompts: drop a final EOS */
} hb_prompt_opts;

typedef struct {
    int32_t *ids;  /* BOS first; HB_PROMPT_IMAGE_ID for image positions */
    uint8_t *mask; /* 1 = supervised (answers and the EOS after each) */
    size_t n, cap;
    int truncated;         /* max_length removed something (pieces not added, an image left out, or the final cut) */
    uint32_t n_images;     /* complete image blocks in ids */
    uint32_t n_images_in;  /* "<image>" markers in the prompt (the [NO_PROMPT] image counts as one) */
    uint32_t n_supervised; /* positions with mask 1 */
    int no_prompt;         /* the [NO_PROMPT] captioning branch was taken */
} hb_prompt_enc;

/* Encode one rendered prompt into *out (its previous content is replaced; the buffers are reused). Errors: a
 * tokenizer without BOS/EOS, or n_visual < 0 (HB_EINVAL). */
int hb_prompt_encode(const hb_tokenizer *t, hb_tok_scratch *s, const char *prompt, size_t len, const hb_prompt_opts *o,
                     hb_prompt_enc *out, hb_err *err);
void hb_prompt_enc_free(hb_prompt_enc *e);

/* hb-tok prompt: one JSON string (a rendered prompt) per line -> one JSON object per line:
 * {"ids":[...],"mask":[...],"truncated":bool,"images":n,"images_in_prompt":n,"supervised":n}. */
int hb_prompt_run(const hb_tokenizer *t, FILE *in, const char *name, FILE *out, const hb_prompt_opts *o, hb_err *err);

#endif
