/* The text side of a sample: template set and tokenizer of the recipe, rendering and tokenizing.
 * Dependencies: prep_impl.h. */
#include "prep_impl.h"

#include <string.h>

int hb_prep_open_text(hb_prep *p, hb_err *err) {
    if (p->o->inputs_only) return 0;
    return hb_err_set(err, HB_EUNSUPPORTED, p->r->path, HB_NOPOS, HB_NOPOS,
                      "rendering and tokenizing are not built in yet: run with --inputs");
}

void hb_prep_close_text(hb_prep *p) { (void)p; }

int hb_prep_check_source(hb_prep *p, hb_psrc *s, hb_err *err) {
    (void)p, (void)s, (void)err;
    return 0;
}

void hb_prep_worker_init(hb_prep *p, hb_prep_worker *w) {
    (void)p;
    memset(w, 0, sizeof *w);
    hb_arena_init(&w->arena, 1 << 20);
}

void hb_prep_worker_free(hb_prep_worker *w) { hb_arena_free(&w->arena); }

void hb_prep_build_sample(hb_psrc *s, const hb_psample *ps, hb_prep_worker *w, hb_prep_result *r) {
    (void)s, (void)ps, (void)w;
    r->reason = "not built";
}
