/* lib/text/template — template sets: the YAML files of the templates directory (specified in docs/templates.md)
 * that say how each dataset's examples become a conversation. A set maps pattern keys to one or more patterns
 * (instruction, input, target with {field} placeholders) and dataset names to pattern keys, and holds the system
 * messages, the image markers of pre-rendered conversations and the multiple-choice option format.
 *
 * Dependencies:
 *   core/core.h          hb_err, hb_buf
 *   (impl) recipe/yaml.h hb_yaml_parse (the file -> cJSON tree)
 *
 * A loaded set is immutable: any number of threads may look patterns up and render with it at once.
 */
#ifndef HB_TEMPLATE_H
#define HB_TEMPLATE_H

#include <stdint.h>

#include "core/core.h"

/* The instruction that selects Honeybee's pre-training layout "[NO_PROMPT] <image> <target>". */
#define HB_NO_PROMPT "[NO_PROMPT]"

/* A {field} format string compiled into segments: literal text (with "{{" and "}}" already unescaped) or a field
 * name to substitute. */
typedef struct {
    uint8_t is_field; /* 0: literal text, 1: a field name */
    uint32_t len;
    const char *text; /* not NUL-terminated: len bytes */
} hb_tseg;

typedef struct {
    const char *src; /* the string as written in the file */
    uint32_t n_segs;
    const hb_tseg *segs;
} hb_tstr;

/* Index styles of multiple-choice options (spec-data.md §1.2): the label case and its decoration. */
typedef enum { HB_IDX_UPPER = 0, HB_IDX_LOWER = 1, HB_IDX_NUMBER = 2 } hb_idx_case;
typedef enum { HB_IDX_DOT = 0, HB_IDX_RPAREN = 1, HB_IDX_PARENS = 2 } hb_idx_decor; /* "A."  "A)"  "(A)" */

/* How {option} and {answer} are built from an example's options (optionize). */
typedef struct {
    uint8_t shuffle;      /* shuffle the options (a copy; the example is never modified) */
    uint8_t random_index; /* draw the index style uniformly from the 9 (case, decoration) pairs */
    uint8_t icase;        /* hb_idx_case when !random_index */
    uint8_t decor;        /* hb_idx_decor when !random_index */
    uint8_t answer_text;  /* {answer} = "<label>. <option text>" instead of the bare label */
} hb_optfmt;

/* "A.", "a)", "(1)", ... for a (case, decoration) pair; and the inverse (0 on success, -1 for anything else). */
const char *hb_index_style_name(uint8_t icase, uint8_t decor);
int hb_index_style_parse(const char *s, uint8_t *icase, uint8_t *decor);

typedef struct {
    const char *name; /* optional label from the file ("" when none), recorded in the choices */
    uint8_t flip;     /* the pattern is input-inverted (docs/templates.md); recorded in the choices */
    uint8_t no_prompt; /* instruction == HB_NO_PROMPT */
    hb_tstr instruction, input, target;
    hb_optfmt options;
} hb_pattern;

typedef struct {
    const char *key;
    uint32_t n_patterns; /* >= 1 */
    const hb_pattern *patterns;
} hb_pattern_key;

typedef struct hb_template_set hb_template_set;

/* Load and check a template set. Every structural problem is an error (the first is returned in err, with a count
 * of the others; `hb-prep lint-templates FILE` lists them all). */
int hb_template_load(const char *path, hb_template_set **out, hb_err *err);
/* The same from text in memory; name is used in errors. */
int hb_template_parse(const char *text, size_t len, const char *name, hb_template_set **out, hb_err *err);
void hb_template_free(hb_template_set *ts);

const char *hb_template_name(const hb_template_set *ts); /* the file's `name:` */
const char *hb_template_path(const hb_template_set *ts); /* as given to load/parse */
const char *hb_template_system(const hb_template_set *ts);       /* system line of templated samples */
const char *hb_template_conv_system(const hb_template_set *ts);  /* system line of conversations */
uint32_t hb_template_n_markers(const hb_template_set *ts);       /* image markers of conversations */
const char *hb_template_marker(const hb_template_set *ts, uint32_t i);

/* The pattern key a dataset renders with: the set's `datasets` map first, else the pattern key of the same name
 * (Honeybee's lookup order); NULL when neither exists. */
const hb_pattern_key *hb_template_lookup(const hb_template_set *ts, const char *dataset);
uint32_t hb_template_n_keys(const hb_template_set *ts);
const hb_pattern_key *hb_template_key(const hb_template_set *ts, uint32_t i);

/* The fields a dataset provides, as a NULL-terminated list: the set's own `fields:` declaration for that name,
 * else hb's table of known datasets (docs/templates.md); NULL when unknown. For multiple-choice datasets the list
 * includes the fields the renderer builds (option, answer, answer_text). */
const char *const *hb_template_dataset_fields(const hb_template_set *ts, const char *dataset);
/* 1 when the name is a known dataset whose samples are pre-rendered conversations (LLaVA-150K, ShareGPT). */
int hb_template_is_conversation_dataset(const char *dataset);

/* Lint a template file: appends one line per problem to report, "FILE: error: PLACE: message" or
 * "FILE: warning: PLACE: message", and counts them. Checks everything the loader checks (YAML syntax, unknown
 * keys, wrong types, placeholder syntax, empty pattern lists, datasets mapped to missing keys) plus: placeholders
 * a dataset does not provide, known datasets without a pattern, unused pattern keys, duplicate patterns, and
 * conversation datasets given a pattern. Returns non-zero only when the file cannot be read. */
int hb_template_lint(const char *path, hb_buf *report, int *n_errors, int *n_warnings, hb_err *err);
int hb_template_lint_text(const char *text, size_t len, const char *name, hb_buf *report, int *n_errors,
                          int *n_warnings);

#endif
