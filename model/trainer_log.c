/* model/trainer_log.c — the trainer's outputs people read (docs/training.md §Logs): train.jsonl (one object per
 * step), events.jsonl (start, resume, checkpoints, stop), loss.svg (loss and learning rate, rewritten atomically so
 * a browser can keep refreshing it) and the progress line.
 *
 * Dependencies:
 *   model/trainer_internal.h  hb_tlog
 *   report/report.h       hb_plot_svg
 *   core/core.h           hb_err, hb_buf, hb_fmt_duration, hb_fmt_count
 *   <cjson/cJSON.h>       reading train.jsonl back on resume
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/trainer_internal.h"
#include "report/report.h"

#define PLOT_POINTS 2000

static int put_line(FILE *f, const char *path, hb_buf *b, hb_err *err) {
    hb_buf_putc(b, '\n');
    if (fwrite(b->data, 1, b->len, f) != b->len || fflush(f))
        return hb_err_errno(err, HB_EIO, path, "cannot append to the log");
    return 0;
}

static void put_num(hb_buf *b, const char *key, double v) {
    if (isfinite(v))
        hb_buf_printf(b, ",\"%s\":%.17g", key, v);
    else
        hb_buf_printf(b, ",\"%s\":null", key);
}

int hb_tlog_open(hb_tlog *l, const char *run_dir, int64_t keep_through, int64_t capacity, const char *title,
                 hb_err *err) {
    memset(l, 0, sizeof *l);
    l->steps_path = hb_path_join(run_dir, "train.jsonl");
    l->events_path = hb_path_join(run_dir, "events.jsonl");
    l->plot_path = hb_path_join(run_dir, "loss.svg");
    snprintf(l->title, sizeof l->title, "%s", title);
    l->cap = capacity > 0 ? capacity : 1;
    l->x = hb_xcalloc((size_t)l->cap, sizeof *l->x);
    l->loss = hb_xcalloc((size_t)l->cap, sizeof *l->loss);
    l->lr = hb_xcalloc((size_t)l->cap, sizeof *l->lr);
    l->px = hb_xcalloc(PLOT_POINTS, sizeof *l->px);
    l->ploss = hb_xcalloc(PLOT_POINTS, sizeof *l->ploss);
    l->plr = hb_xcalloc(PLOT_POINTS, sizeof *l->plr);
    /* keep the records of steps 1..keep_through (a resumed run replays the rest) */
    hb_buf kept = {0};
    uint8_t *text = NULL;
    size_t len = 0;
    if (keep_through > 0 && !hb_file_read_all(l->steps_path, &text, &len, NULL)) {
        char *line = (char *)text, *end = (char *)text + len;
        while (line < end) {
            char *nl = memchr(line, '\n', (size_t)(end - line));
            if (!nl) break; /* a torn last line */
            cJSON *j = cJSON_ParseWithLength(line, (size_t)(nl - line));
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "step");
            const cJSON *lo = cJSON_GetObjectItemCaseSensitive(j, "loss"), *lr = cJSON_GetObjectItemCaseSensitive(j, "lr");
            if (cJSON_IsNumber(s) && s->valuedouble >= 1 && s->valuedouble <= (double)keep_through &&
                l->n < l->cap && s->valuedouble > (l->n ? l->x[l->n - 1] : 0)) {
                hb_buf_append(&kept, line, (size_t)(nl - line) + 1);
                l->x[l->n] = s->valuedouble;
                l->loss[l->n] = cJSON_IsNumber(lo) ? lo->valuedouble : NAN;
                l->lr[l->n] = cJSON_IsNumber(lr) ? lr->valuedouble : NAN;
                l->n++;
            }
            cJSON_Delete(j);
            line = nl + 1;
        }
        free(text);
    }
    int rc = hb_write_file_atomic(l->steps_path, kept.data ? (const void *)kept.data : "", kept.len, err);
    hb_buf_free(&kept);
    if (!rc && !(l->steps = fopen(l->steps_path, "ab"))) rc = hb_err_errno(err, HB_EIO, l->steps_path, "cannot open");
    if (!rc && !(l->events = fopen(l->events_path, "ab")))
        rc = hb_err_errno(err, HB_EIO, l->events_path, "cannot open");
    return rc;
}

void hb_tlog_close(hb_tlog *l) {
    if (l->steps) fclose(l->steps);
    if (l->events) fclose(l->events);
    free(l->steps_path), free(l->events_path), free(l->plot_path);
    free(l->x), free(l->loss), free(l->lr), free(l->px), free(l->ploss), free(l->plr);
    hb_buf_free(&l->line);
    memset(l, 0, sizeof *l);
}

int hb_tlog_step(hb_tlog *l, const hb_tlog_step_rec *r, hb_err *err) {
    hb_buf *b = &l->line;
    hb_buf_clear(b);
    hb_buf_printf(b, "{\"step\":%lld", (long long)r->step);
    put_num(b, "loss", r->loss);
    put_num(b, "lr", r->lr);
    put_num(b, "grad_norm", r->grad_norm);
    put_num(b, "clip_coef", r->clip_coef);
    hb_buf_printf(b, ",\"skipped\":%s,\"tokens\":%lld,\"supervised\":%lld,\"sequences\":%lld,\"images\":%lld,"
                     "\"micro_batches\":%lld,\"truncated\":%lld",
                  r->skipped ? "true" : "false", (long long)r->tokens, (long long)r->supervised,
                  (long long)r->sequences, (long long)r->images, (long long)r->micro_batches, (long long)r->truncated);
    put_num(b, "step_s", r->step_s);
    put_num(b, "tokens_per_s", r->tokens_per_s);
    put_num(b, "elapsed_s", r->elapsed_s);
    hb_buf_printf(b, ",\"cursor\":\"%s\"}", r->cursor);
    int rc = put_line(l->steps, l->steps_path, b, err);
    if (!rc && l->n < l->cap) {
        l->x[l->n] = (double)r->step;
        l->loss[l->n] = r->skipped ? NAN : r->loss;
        l->lr[l->n] = r->lr;
        l->n++;
    }
    return rc;
}

int hb_tlog_event(hb_tlog *l, const char *json_object, hb_err *err) {
    hb_buf b = {0};
    hb_buf_puts(&b, json_object);
    int rc = put_line(l->events, l->events_path, &b, err);
    hb_buf_free(&b);
    return rc;
}

/* Bucket means when there are more steps than plot points (NaN buckets stay gaps). */
static size_t downsample(const hb_tlog *l, const double *y, double *px, double *py) {
    if (l->n <= PLOT_POINTS) {
        memcpy(px, l->x, (size_t)l->n * sizeof *px);
        memcpy(py, y, (size_t)l->n * sizeof *py);
        return (size_t)l->n;
    }
    for (int64_t b = 0; b < PLOT_POINTS; b++) {
        int64_t a = b * l->n / PLOT_POINTS, e = (b + 1) * l->n / PLOT_POINTS;
        double sx = 0, sy = 0;
        int64_t k = 0;
        for (int64_t i = a; i < e; i++)
            if (isfinite(y[i])) {
                sx += l->x[i];
                sy += y[i];
                k++;
            }
        px[b] = k ? sx / (double)k : l->x[a];
        py[b] = k ? sy / (double)k : NAN;
    }
    return PLOT_POINTS;
}

int hb_tlog_plot(hb_tlog *l, hb_err *err) {
    size_t n = downsample(l, l->loss, l->px, l->ploss);
    double *px2 = l->px; /* the same x for both panels */
    downsample(l, l->lr, l->px, l->plr);
    hb_plot_series sl = {"train loss", n, px2, l->ploss}, sr = {"learning rate", n, px2, l->plr};
    hb_plot_panel panels[2] = {{"loss", 0, 1, &sl}, {"lr", 0, 1, &sr}};
    return hb_plot_svg(l->plot_path, l->title, "step", 2, panels, err);
}

void hb_tlog_progress(FILE *out, const hb_tlog_step_rec *r, int64_t total, double eta_s) {
    if (!out) return;
    char tps[32], eta[32];
    if (r->skipped)
        fprintf(out, "step %lld/%lld  loss %s  SKIPPED (non-finite)  lr %.3e\n", (long long)r->step,
                (long long)total, isfinite(r->loss) ? "finite" : "nan/inf", r->lr);
    else
        fprintf(out, "step %lld/%lld  loss %.4f  lr %.3e  gnorm %.4g%s  %s tok/s  %.2f s/step  ETA %s\n",
                (long long)r->step, (long long)total, r->loss, r->lr, r->grad_norm,
                r->clip_coef < 1 ? " (clipped)" : "", hb_fmt_count((uint64_t)llround(r->tokens_per_s), tps, sizeof tps),
                r->step_s, hb_fmt_duration(eta_s, eta, sizeof eta));
    fflush(out);
}
