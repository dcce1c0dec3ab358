/* lib/text/render — one sample (lib/text/example.h) + a template set + the recipe seed -> the prompt text in
 * Honeybee's layout, its turns, and the choices made (docs/templates.md §Rendering).
 *
 * Dependencies:
 *   text/example.h   hb_render_input, hb_example (the converters' output)
 *   text/template.h  hb_template_set, hb_pattern, hb_optfmt
 *   shard/shard.h    hb_turn, hb_role
 *   core/core.h      hb_arena, hb_buf, hb_rng, hb_err
 *
 * Thread safety: the template set is read-only and every allocation goes to the caller's arena, so threads may
 * render at once with one arena each. Every random choice is drawn from hb_rng_for(seed, domain, sample id) with
 * the domains "template" (which pattern) and "options" (option order and index style, example by example): the
 * same seed renders the same text on any machine, thread count or resume point.
 */
#ifndef HB_RENDER_H
#define HB_RENDER_H

#include <stdio.h>

#include "core/core.h"
#include "text/example.h"
#include "text/template.h"

typedef struct {
    const char *text; /* exactly the string Honeybee's encode_prompt receives; NUL-terminated */
    size_t len;
    uint32_t n_turns;
    const hb_turn *turns; /* system / human / ai in order; texts point into `text` (not NUL-terminated) */
    const char *choices;  /* a JSON object: {"template":KEY,"pattern":I,...} or {"conversation":true,...} */
    const char *key;      /* the pattern key used; "" for conversations */
} hb_rendered;

/* Render with choices drawn from the seed. Errors (HB_ENOTFOUND for an unknown dataset or a missing field,
 * HB_EFORMAT for bad input) name the dataset, the sample id and the field; record is the example's raw record. */
int hb_render(const hb_template_set *ts, const hb_render_input *in, uint64_t seed, hb_arena *a, hb_rendered *out,
              hb_err *err);
/* Render again with the choices a previous render recorded (its `choices` JSON) instead of drawing them: the text
 * is identical as long as the sample and its pattern key are. Fails when the choices do not fit the sample. */
int hb_render_replay(const hb_template_set *ts, const hb_render_input *in, const char *choices, hb_arena *a,
                     hb_rendered *out, hb_err *err);

/* ---- optionize (spec-data.md §1.2), on a copy: the example's option list is never modified ---- */
typedef struct {
    uint32_t n;
    uint32_t *order;     /* order[i] = original index of the option shown at position i */
    uint8_t icase, decor; /* the index style used (hb_idx_case, hb_idx_decor) */
} hb_option_draw;

/* Draw one example's option order (identity unless fmt->shuffle) and index style (fmt's, or one of the 9 when
 * fmt->random_index), in that order, from rng. order is allocated in a. */
void hb_options_draw(const hb_optfmt *fmt, uint32_t n, hb_rng *rng, hb_arena *a, hb_option_draw *out);

typedef struct {
    const char *option;      /* "A. cat\nB. dog": one "<label> <text>" line per option, no trailing newline */
    const char *answer;      /* the bare label of the correct option ("B", "b", "2"), or "B. dog" with answer_text */
    const char *answer_text; /* the correct option's text */
} hb_optionized;

/* Format options under a draw. Fails (HB_ERANGE) when answer_idx is out of range or a letter style meets more than
 * 26 options. */
int hb_optionize(const char *const *options, uint32_t n, int32_t answer_idx, const hb_option_draw *draw,
                 int answer_text, hb_arena *a, hb_optionized *out, hb_err *err);

/* ---- JSON lines (hb-prep render) ---- */
/* One input line: {"id", "dataset"?, "image": bool|count|string|array, "examples": [{FIELD: "text", ...,
 * "options": [...], "answer_idx": N, "record": N}]} or {..., "conversations": [{"from": "human"|"user"|"gpt"|"ai",
 * "value": "..."}]}. Strings are copied into a. */
int hb_render_input_from_json(const char *json, size_t len, hb_render_input *in, hb_arena *a, hb_err *err);
/* {"id":...,"dataset":...,"text":...,"turns":[{"role":...,"text":...}],"choices":{...}} without a newline. */
void hb_rendered_to_json(const hb_render_input *in, const hb_rendered *r, hb_buf *out);

typedef struct {
    const char *dataset; /* for lines without "dataset" (NULL: every line must name one) */
    uint64_t seed;
    int threads;         /* <= 1: one */
    const char *in_name; /* for errors */
} hb_render_jsonl_opts;

/* Render every line of in to out, in input order, with opts->threads threads: the output is byte-identical for any
 * thread count. Stops at the first bad line (error names the line, dataset, sample and field); the lines before it
 * are written. *n_done (may be NULL) counts the lines written. */
int hb_render_jsonl(const hb_template_set *ts, FILE *in, FILE *out, const hb_render_jsonl_opts *opts,
                    uint64_t *n_done, hb_err *err);

#endif
