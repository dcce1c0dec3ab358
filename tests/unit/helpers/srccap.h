/* Test helper for lib/sources: run one source of a recipe (given as YAML text) through its converter and capture
 * what it emits, rejects and counts as JSON, for assertions.
 * Dependencies: sources/sources.h, recipe/recipe.h, <cjson/cJSON.h>. */
#ifndef HB_SRCCAP_H
#define HB_SRCCAP_H

#include <cjson/cJSON.h>

#include "core/core.h"

typedef struct {
    cJSON *items;   /* [{key, group, image, archive, file, record, offset, fields: {..}, options, answer_idx,
                        conv: [{role, text}], image_len}] */
    cJSON *rejects; /* [{file, record, offset, reason}] */
    cJSON *notes;   /* {name: count} */
    long long records;
} sc_capture;

/* Parse yaml (paths inside are used as given) and run source `name`; returns hb_src_run's code. The YAML may use
 * the placeholders @REPO@ and @SHARED@ for the repository root and ../shared. */
int sc_run(const char *yaml, const char *name, sc_capture *c, hb_err *err);
void sc_free(sc_capture *c);
/* Field `key` of item i ("" when absent). */
const char *sc_field(const sc_capture *c, int i, const char *key);
const char *sc_str(const sc_capture *c, int i, const char *key); /* a top-level string of item i, NULL when absent */
int sc_count(const sc_capture *c);
int sc_note(const sc_capture *c, const char *name);
/* The JSON text of item i (for messages). */
char *sc_dump(const sc_capture *c, int i);

#endif
