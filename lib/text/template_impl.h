/* lib/text/template_impl.h — internals shared by template.c (loading) and template_lint.c (lint, known datasets).
 * Not a public header: other modules use lib/text/template.h.
 *
 * Dependencies: text/template.h (the public types), core/core.h (hb_arena, hb_buf), <cjson/cJSON.h>.
 */
#ifndef HB_TEMPLATE_IMPL_H
#define HB_TEMPLATE_IMPL_H

#include <cjson/cJSON.h>

#include "text/template.h"

typedef struct {
    const char *name;
    uint32_t key; /* index into keys */
} ts_dataset;

typedef struct {
    const char *name;
    const char *const *fields; /* NULL-terminated */
} ts_fields;

struct hb_template_set {
    hb_arena arena; /* every string and array below */
    const char *path, *name, *description;
    const char *system, *conv_system;
    const char **markers;
    uint32_t n_markers;
    hb_optfmt options; /* the set's defaults; each pattern holds its merged copy */
    hb_pattern_key *keys;
    uint32_t n_keys;
    ts_dataset *datasets;
    uint32_t n_datasets;
    ts_fields *fields;
    uint32_t n_fields;
};

/* Problems found while loading or linting. out may be NULL (count only). */
typedef struct {
    hb_buf *out;
    const char *file;
    int errors, warnings;
    char first[900]; /* the first error, for hb_err */
} ts_diag;

void ts_problem(ts_diag *d, int is_error, const char *place, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Build a set from a parsed tree, reporting every structural problem to d and skipping what is broken. Returns
 * NULL only when root is not a mapping. */
hb_template_set *ts_build(const cJSON *root, const char *name, ts_diag *d);

/* Index of the pattern key named key, or -1. */
int ts_key_index(const hb_template_set *ts, const char *key);

/* hb's table of known datasets (template_lint.c). */
typedef enum { TS_QA = 0, TS_MC = 1, TS_CONV = 2 } ts_kind;
typedef struct {
    const char *name;
    ts_kind kind;
    uint8_t required; /* lint warns when a set has no pattern for it */
    const char *const *fields;
} ts_known;
const ts_known *ts_known_dataset(const char *name);
size_t ts_known_count(void);
const ts_known *ts_known_at(size_t i);

#endif
