/* lib/report: SVG plots and axis ticks. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "report/report.h"

Test(report, nice_ticks) {
    double t[16];
    size_t n = hb_plot_ticks(0, 1, 6, t);
    cr_assert_eq(n, 6);
    cr_assert_float_eq(t[1], 0.2, 1e-12);
    n = hb_plot_ticks(2.3, 9.7, 8, t);
    cr_assert_eq(n, 3, "step 2 over [2.3, 9.7]: 4, 6, 8");
    cr_assert_float_eq(t[0], 4, 1e-12);
    cr_assert_float_eq(t[n - 1], 8, 1e-12);
    n = hb_plot_ticks(5, 5, 6, t);
    cr_assert_eq(n, 1);
}

static size_t count(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++) n++;
    return n;
}

Test(report, svg_has_one_polyline_per_unbroken_run_and_escapes_text) {
    double x[6] = {0, 1, 2, 3, 4, 5}, loss[6] = {2.5, 2.0, NAN, 1.2, 1.0, 0.9}, lr[6] = {1e-5, 5e-5, 1e-4, 8e-5, 4e-5, 1e-5};
    hb_plot_series s1 = {"loss <train>", 6, x, loss}, s2 = {"lr", 6, x, lr};
    hb_plot_panel p[2] = {{"loss", 0, 1, &s1}, {"learning rate", 1, 1, &s2}};
    hb_buf b = {0};
    hb_plot_svg_buf(&b, "run \"a\" & b", "step", 2, p);
    const char *svg = hb_buf_cstr(&b);
    cr_assert(!strncmp(svg, "<svg ", 5));
    cr_assert(strstr(svg, "</svg>\n"));
    cr_assert_eq(count(svg, "<polyline"), 3, "the NaN splits the loss line in two; lr is one line");
    cr_assert(strstr(svg, "loss &lt;train&gt;"));
    cr_assert(strstr(svg, "run &quot;a&quot; &amp; b"));
    cr_assert(strstr(svg, "learning rate (log)"));
    hb_buf c = {0};
    hb_plot_svg_buf(&c, "run \"a\" & b", "step", 2, p);
    cr_assert(b.len == c.len && !memcmp(b.data, c.data, b.len), "deterministic output");
    hb_buf_free(&b);
    hb_buf_free(&c);
}
