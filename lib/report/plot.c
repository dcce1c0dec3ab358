/* SVG line plots: stacked panels over a shared x axis, nice ticks, a legend per panel.
 * Dependencies: report.h, core/core.h (hb_buf, hb_write_file_atomic, hb_buf_put_json_str is not used: SVG text is
 * escaped here), <math.h>. */
#include "report/report.h"

#include <math.h>
#include <string.h>

#define W 800.0
#define PANEL_H 260.0
#define ML 70.0 /* margins */
#define MR 20.0
#define MT 40.0
#define GAP 40.0

static const char *const COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

size_t hb_plot_ticks(double lo, double hi, size_t max, double *ticks) {
    if (!(hi > lo) || max < 2) {
        ticks[0] = lo;
        return 1;
    }
    double raw = (hi - lo) / (double)(max - 1);
    double mag = pow(10, floor(log10(raw)));
    double step = mag;
    if (raw / mag > 5) step = 10 * mag;
    else if (raw / mag > 2) step = 5 * mag;
    else if (raw / mag > 1) step = 2 * mag;
    size_t n = 0;
    for (double t = ceil(lo / step) * step; t <= hi + step * 1e-9 && n < max; t += step) ticks[n++] = fabs(t) < step * 1e-9 ? 0 : t;
    return n;
}

static void esc(hb_buf *b, const char *s) {
    for (; s && *s; s++) {
        if (*s == '<') hb_buf_puts(b, "&lt;");
        else if (*s == '>') hb_buf_puts(b, "&gt;");
        else if (*s == '&') hb_buf_puts(b, "&amp;");
        else if (*s == '"') hb_buf_puts(b, "&quot;");
        else hb_buf_putc(b, *s);
    }
}

static void fmt_num(char *out, size_t n, double v) {
    double a = fabs(v);
    if (v == 0) snprintf(out, n, "0");
    else if (a >= 1e5 || a < 1e-3) snprintf(out, n, "%.1e", v);
    else snprintf(out, n, "%.4g", v);
}

static int usable(const hb_plot_panel *p, double y) { return isfinite(y) && (!p->log_y || y > 0); }

void hb_plot_svg_buf(hb_buf *b, const char *title, const char *xlabel, size_t n_panels, const hb_plot_panel *panels) {
    double H = MT + (double)n_panels * (PANEL_H + GAP) + 20;
    double xlo = INFINITY, xhi = -INFINITY;
    for (size_t p = 0; p < n_panels; p++)
        for (size_t s = 0; s < panels[p].n_series; s++)
            for (size_t i = 0; i < panels[p].series[s].n; i++) {
                double x = panels[p].series[s].x[i];
                if (isfinite(x) && usable(&panels[p], panels[p].series[s].y[i])) {
                    if (x < xlo) xlo = x;
                    if (x > xhi) xhi = x;
                }
            }
    if (!(xhi >= xlo)) xlo = 0, xhi = 1;
    if (xhi == xlo) xhi = xlo + 1;
    hb_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    hb_buf_printf(b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"%.0f\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">", W / 2);
    esc(b, title);
    hb_buf_puts(b, "</text>\n");
    for (size_t p = 0; p < n_panels; p++) {
        const hb_plot_panel *pn = &panels[p];
        double top = MT + (double)p * (PANEL_H + GAP), bottom = top + PANEL_H;
        double ylo = INFINITY, yhi = -INFINITY;
        for (size_t s = 0; s < pn->n_series; s++)
            for (size_t i = 0; i < pn->series[s].n; i++) {
                double y = pn->series[s].y[i];
                if (!usable(pn, y)) continue;
                y = pn->log_y ? log10(y) : y;
                if (y < ylo) ylo = y;
                if (y > yhi) yhi = y;
            }
        if (!(yhi >= ylo)) ylo = 0, yhi = 1;
        if (yhi == ylo) ylo -= 0.5, yhi += 0.5;
        double pad = (yhi - ylo) * 0.05;
        ylo -= pad, yhi += pad;
#define XPIX(x) (ML + ((x) - xlo) / (xhi - xlo) * (W - ML - MR))
#define YPIX(y) (bottom - ((y) - ylo) / (yhi - ylo) * PANEL_H)
        hb_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", ML, top,
                      W - ML - MR, PANEL_H);
        double t[16];
        char lab[32];
        size_t nt = hb_plot_ticks(ylo, yhi, 6, t);
        for (size_t i = 0; i < nt; i++) {
            double y = YPIX(t[i]);
            fmt_num(lab, sizeof lab, pn->log_y ? pow(10, t[i]) : t[i]);
            hb_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                          ML, W - MR, y, y, ML - 4, y + 4, lab);
        }
        nt = hb_plot_ticks(xlo, xhi, 8, t);
        for (size_t i = 0; i < nt; i++) {
            double x = XPIX(t[i]);
            fmt_num(lab, sizeof lab, t[i]);
            hb_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                          x, x, top, bottom, x, bottom + 15, lab);
        }
        hb_buf_printf(b, "<text transform=\"translate(16,%.1f) rotate(-90)\" text-anchor=\"middle\">", (top + bottom) / 2);
        esc(b, pn->ylabel);
        hb_buf_printf(b, "%s</text>\n", pn->log_y ? " (log)" : "");
        for (size_t s = 0; s < pn->n_series; s++) {
            const hb_plot_series *se = &pn->series[s];
            const char *color = COLORS[s % (sizeof COLORS / sizeof *COLORS)];
            int open = 0;
            for (size_t i = 0; i < se->n; i++) {
                if (!isfinite(se->x[i]) || !usable(pn, se->y[i])) {
                    if (open) hb_buf_puts(b, "\"/>\n");
                    open = 0;
                    continue;
                }
                double y = pn->log_y ? log10(se->y[i]) : se->y[i];
                if (!open) hb_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
                hb_buf_printf(b, "%s%.2f,%.2f", open ? " " : "", XPIX(se->x[i]), YPIX(y));
                open = 1;
            }
            if (open) hb_buf_puts(b, "\"/>\n");
            hb_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"3\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">", W - MR - 150,
                          top + 14 + 16.0 * (double)s, color, W - MR - 134, top + 18 + 16.0 * (double)s);
            esc(b, se->name);
            hb_buf_puts(b, "</text>\n");
        }
#undef XPIX
#undef YPIX
    }
    hb_buf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">", W / 2, H - 6);
    esc(b, xlabel);
    hb_buf_puts(b, "</text>\n</svg>\n");
}

int hb_plot_svg(const char *path, const char *title, const char *xlabel, size_t n_panels, const hb_plot_panel *panels,
                hb_err *err) {
    hb_buf b = {0};
    hb_plot_svg_buf(&b, title, xlabel, n_panels, panels);
    int code = hb_write_file_atomic(path, b.data, b.len, err);
    hb_buf_free(&b);
    return code;
}
