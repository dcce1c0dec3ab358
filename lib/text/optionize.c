/* Multiple-choice options: seeded draws of order and index style, and the {option}/{answer} strings
 * (spec-data.md §1.2). Unlike Honeybee, the options are shuffled through an index permutation on a copy, so the
 * example's list is never modified and the answer letter always follows the correct option.
 * Dependencies: render.h (hb_option_draw, hb_optionized), template.h (hb_optfmt, index styles),
 *               core/core.h (hb_rng, hb_arena, hb_buf, hb_err). */
#include "text/render.h"

#include <string.h>

void hb_options_draw(const hb_optfmt *fmt, uint32_t n, hb_rng *rng, hb_arena *a, hb_option_draw *out) {
    out->n = n;
    out->order = hb_arena_alloc(a, sizeof *out->order * (n ? n : 1));
    for (uint32_t i = 0; i < n; i++) out->order[i] = i;
    if (fmt->shuffle) hb_rng_shuffle_u32(rng, out->order, n);
    if (fmt->random_index) {
        /* Honeybee draws the case, then the decoration, each uniformly: 9 equally likely styles */
        out->icase = (uint8_t)hb_rng_below(rng, 3);
        out->decor = (uint8_t)hb_rng_below(rng, 3);
    } else {
        out->icase = fmt->icase;
        out->decor = fmt->decor;
    }
}

/* The bare label of position i ("C", "c", "3"). */
static void label(uint8_t icase, uint32_t i, char *buf, size_t n) {
    if (icase == HB_IDX_NUMBER) snprintf(buf, n, "%u", i + 1);
    else snprintf(buf, n, "%c", (icase == HB_IDX_UPPER ? 'A' : 'a') + (int)i);
}

int hb_optionize(const char *const *options, uint32_t n, int32_t answer_idx, const hb_option_draw *draw,
                 int answer_text, hb_arena *a, hb_optionized *out, hb_err *err) {
    if (n == 0 || answer_idx < 0 || (uint32_t)answer_idx >= n)
        return hb_err_set(err, HB_ERANGE, NULL, HB_NOPOS, HB_NOPOS, "answer index %d is outside the %u options",
                          (int)answer_idx, n);
    if (draw->n != n)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "an option order of %u entries for %u options",
                          draw->n, n);
    if (draw->icase != HB_IDX_NUMBER && n > 26)
        return hb_err_set(err, HB_ERANGE, NULL, HB_NOPOS, HB_NOPOS,
                          "%u options cannot be labelled with letters (at most 26)", n);
    hb_buf b = {0};
    uint32_t answer_pos = n;
    uint8_t *seen = hb_arena_calloc(a, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t src = draw->order[i];
        if (src >= n || seen[src]) {
            hb_buf_free(&b);
            return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS,
                              "the option order is not a permutation of the %u options", n);
        }
        seen[src] = 1;
        if (src == (uint32_t)answer_idx) answer_pos = i;
        char l[16];
        label(draw->icase, i, l, sizeof l);
        if (i) hb_buf_putc(&b, '\n');
        if (draw->decor == HB_IDX_PARENS) hb_buf_printf(&b, "(%s) ", l);
        else hb_buf_printf(&b, "%s%c ", l, draw->decor == HB_IDX_DOT ? '.' : ')');
        hb_buf_puts(&b, options[src] ? options[src] : "");
    }
    out->option = hb_arena_strndup(a, b.data ? (const char *)b.data : "", b.len);
    hb_buf_free(&b);
    char l[16];
    label(draw->icase, answer_pos, l, sizeof l);
    out->answer_text = options[answer_idx] ? options[answer_idx] : "";
    out->answer = answer_text ? hb_arena_printf(a, "%s. %s", l, out->answer_text) : hb_arena_strdup(a, l);
    return 0;
}
