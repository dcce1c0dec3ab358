/* lib/text/example — the contract between the dataset converters (lib/sources, hb-prep) and the renderer
 * (lib/text/render): what one raw record becomes before templating, and what one sample is before rendering.
 *
 * Dependencies: shard/shard.h (hb_turn, hb_role).
 *
 * Ownership: all pointers are borrowed (typically from an hb_arena of the converter); the renderer copies what it
 * keeps. Strings are NUL-terminated UTF-8.
 */
#ifndef HB_EXAMPLE_H
#define HB_EXAMPLE_H

#include <stdint.h>

#include "shard/shard.h"

/* One named text field of an example, referenced by templates as {key}: "question", "answer", "caption", "phrase",
 * "bbox" (already formatted, e.g. "[0.000,0.096,0.373,0.947]"), "context", "question_interro", "rationale",
 * "full_answer", ... Converters document which fields they provide (docs/sources.md). */
typedef struct {
    const char *key;
    const char *value;
} hb_field;

/* One QA example (one turn after templating). */
typedef struct {
    uint32_t n_fields;
    const hb_field *fields;
    /* Multiple choice: the options in their original order and the index of the correct one. The renderer builds
     * {option} and {answer} from them (optionize, spec-data.md §1.2) on a copy; n_options == 0 when not MC. */
    uint32_t n_options;
    const char *const *options;
    int32_t answer_idx; /* -1 when not MC */
    int64_t record;     /* 0-based position of the raw record in its file (provenance) */
} hb_example;

/* What the renderer turns into one sample's conversation. Exactly one of (examples, conv) is used:
 *  - templated data: n_examples >= 1 examples rendered with one pattern of the dataset's pattern key;
 *  - pre-rendered conversations (LLaVA-150K, ShareGPT): n_conv turns with roles HB_ROLE_HUMAN / HB_ROLE_AI whose
 *    texts are the raw values (the renderer applies the image-marker rules of spec-data.md §1.11). */
typedef struct {
    const char *id;      /* stable sample id: the key of every seeded choice */
    const char *dataset; /* template lookup name (the recipe source's template key) */
    uint32_t n_images;   /* 0 = text-only (no "Human: <image>" line) */
    uint32_t n_examples;
    const hb_example *examples;
    uint32_t n_conv;
    const hb_turn *conv;
} hb_render_input;

/* Field lookup; NULL when absent. */
static inline const char *hb_example_get(const hb_example *ex, const char *key) {
    for (uint32_t i = 0; i < ex->n_fields; i++) {
        const char *a = ex->fields[i].key, *b = key;
        while (*a && *a == *b) a++, b++;
        if (*a == 0 && *b == 0) return ex->fields[i].value;
    }
    return 0;
}

#endif
