/* Progress reporter on stderr (count, rate, ETA), redrawn in place on a TTY, silent otherwise.
 * Dependencies: core.h, <pthread.h> (mutex), <time.h> (clock_gettime), <unistd.h> (isatty). */
#include "core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct hb_progress {
    pthread_mutex_t mu;
    char label[64];
    char unit[16];
    uint64_t total, done;
    double t0, last_draw;
    int tty; /* redraw in place with \r */
    int drawn;
};

double hb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int hb_progress_enabled(void) {
    const char *e = getenv("HB_PROGRESS");
    if (e && *e) return atoi(e) != 0;
    return isatty(2);
}

const char *hb_fmt_duration(double s, char *buf, size_t n) {
    if (s < 0 || s != s || s > 1e9) {
        snprintf(buf, n, "--:--");
        return buf;
    }
    long long t = (long long)(s + 0.5);
    snprintf(buf, n, "%lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
    return buf;
}

hb_progress *hb_progress_start(const char *label, uint64_t total, const char *unit) {
    if (!hb_progress_enabled()) return NULL;
    hb_progress *p = hb_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    p->total = total;
    p->t0 = hb_now();
    p->tty = isatty(2);
    return p;
}

static void draw(hb_progress *p, int final) {
    double now = hb_now(), el = now - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    char a[32], b[32], r[32], eta[32], line[256];
    hb_fmt_count(p->done, a, sizeof a);
    if (p->total) {
        hb_fmt_count(p->total, b, sizeof b);
        double left = rate > 0 ? (double)(p->total - (p->done < p->total ? p->done : p->total)) / rate : -1;
        snprintf(line, sizeof line, "%-18s %s/%s %s %5.1f%%  %s/s  %s %s", p->label, a, b, p->unit,
                 100.0 * (double)p->done / (double)p->total, hb_fmt_count((uint64_t)rate, r, sizeof r),
                 final ? "in" : "ETA", hb_fmt_duration(final ? el : left, eta, sizeof eta));
    } else {
        snprintf(line, sizeof line, "%-18s %s %s  %s/s  %s", p->label, a, p->unit,
                 hb_fmt_count((uint64_t)rate, r, sizeof r), hb_fmt_duration(el, eta, sizeof eta));
    }
    if (p->tty) fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    else fprintf(stderr, "%s\n", line);
    p->last_draw = now;
    p->drawn = 1;
}

void hb_progress_add(hb_progress *p, uint64_t n) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->done += n;
    double now = hb_now();
    if (now - p->last_draw >= (p->tty ? 0.1 : 5.0)) draw(p, 0);
    pthread_mutex_unlock(&p->mu);
}

void hb_progress_set(hb_progress *p, uint64_t done) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->done = done;
    if (hb_now() - p->last_draw >= (p->tty ? 0.1 : 5.0)) draw(p, 0);
    pthread_mutex_unlock(&p->mu);
}

void hb_progress_done(hb_progress *p) {
    if (!p) return;
    draw(p, 1);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
