/* lib/report — outputs people look at: SVG line plots (loss curves, sweeps) that any browser shows.
 *
 * Dependencies: core/core.h (hb_err, hb_buf, hb_write_file_atomic).
 */
#ifndef HB_REPORT_H
#define HB_REPORT_H

#include "core/core.h"

typedef struct {
    const char *name;  /* legend label */
    size_t n;
    const double *x, *y; /* n points; non-finite y values are skipped (gaps) */
} hb_plot_series;

typedef struct {
    const char *ylabel;
    int log_y; /* 1: logarithmic y axis (values <= 0 skipped) */
    size_t n_series;
    const hb_plot_series *series;
} hb_plot_panel;

/* Writes an SVG with the panels stacked vertically, sharing the x axis (atomically: readers never see a partial
 * file, so a browser can keep refreshing it while training runs). Output depends only on the data. */
int hb_plot_svg(const char *path, const char *title, const char *xlabel, size_t n_panels, const hb_plot_panel *panels,
                hb_err *err);
/* The same SVG into a buffer. */
void hb_plot_svg_buf(hb_buf *out, const char *title, const char *xlabel, size_t n_panels, const hb_plot_panel *panels);

/* "Nice" axis ticks covering [lo, hi]: step is 1, 2 or 5 times a power of ten; returns the count (<= max). */
size_t hb_plot_ticks(double lo, double hi, size_t max, double *ticks);

#endif
