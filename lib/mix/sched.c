/* lib/mix/sched — which source fills each position of the stream (docs/mix-plan.md §4).
 *
 * Prefix mode. Source i must appear n_i times in N positions so that after t positions its count c_i(t) stays within
 * |c_i(t) - t n_i / N| < 1. That turns its k-th sample (k = 1..n_i) into a unit job with a window of positions
 * (0-based): release floor((k-1) N / n_i), deadline ceil(k N / n_i) - 1. Tijdeman (1980) showed sequences with
 * this bound exist for any shares, so the windows are feasible, and earliest-deadline-first over released jobs
 * (ties: lower source index) meets every deadline for unit jobs with integer releases. At least t jobs are
 * released by position t, so the stream never stalls. A missed deadline is reported as HB_EINTERNAL, never hidden.
 *
 * Batch mode (global batch B). The N positions are G = floor(N/B) full batches and a tail of N - G B. First m_i
 * (sum G B) of each source's samples go to the full batches (largest remainder of G B over the n_i), the rest t_i
 * to the tail. A full batch holds base_i = floor(m_i / G) of source i plus one more in X_i = m_i mod G of the G
 * batches; which batches get the extra ones is a Pfair schedule (r = B - sum base_i "processors", task weights
 * X_i / G summing to r) made with PD^2 (Anderson & Srinivasan), whose lag stays below 1, so every batch holds
 * floor or ceil of its share and the extras add up exactly. Inside each batch, and in the tail, positions are
 * ordered by the prefix-mode rule.
 *
 * Dependencies: mix/mix.h (hb_mix_sched), core/core.h (hb_err, hb_xmalloc). */
#include "mix/mix.h"

#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

static inline uint64_t muldiv_floor(uint64_t a, uint64_t b, uint64_t c) {
    if ((a | b) < (1ULL << 32)) return a * b / c;
    return (uint64_t)((u128)a * b / c);
}

static inline uint64_t muldiv_ceil(uint64_t a, uint64_t b, uint64_t c) {
    if ((a | b) < (1ULL << 32)) return (a * b + c - 1) / c;
    u128 p = (u128)a * b;
    return (uint64_t)(p / c + (p % c != 0));
}

/* ---- earliest-deadline-first over the strict windows ---- */
typedef struct {
    size_t n;
    uint64_t total, pos;   /* N and positions emitted */
    const uint64_t *target;
    uint64_t *count, *rel, *dl;
    uint32_t *ready, *pend; /* binary heaps of source indices: ready by (dl, i), pending by (rel, i) */
    size_t n_ready, n_pend;
} edf;

static int ready_less(const edf *e, uint32_t a, uint32_t b) { return e->dl[a] < e->dl[b] || (e->dl[a] == e->dl[b] && a < b); }
static int pend_less(const edf *e, uint32_t a, uint32_t b) { return e->rel[a] < e->rel[b] || (e->rel[a] == e->rel[b] && a < b); }

static void heap_push(const edf *e, uint32_t *h, size_t *n, uint32_t v, int (*less)(const edf *, uint32_t, uint32_t)) {
    size_t i = (*n)++;
    h[i] = v;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!less(e, h[i], h[p])) break;
        uint32_t t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static uint32_t heap_pop(const edf *e, uint32_t *h, size_t *n, int (*less)(const edf *, uint32_t, uint32_t)) {
    uint32_t top = h[0];
    h[0] = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && less(e, h[l], h[m])) m = l;
        if (r < *n && less(e, h[r], h[m])) m = r;
        if (m == i) break;
        uint32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
    return top;
}

static void edf_job(edf *e, uint32_t i) { /* window of source i's next job, then queue it */
    uint64_t k = e->count[i] + 1;
    e->rel[i] = muldiv_floor(k - 1, e->total, e->target[i]);
    e->dl[i] = muldiv_ceil(k, e->total, e->target[i]) - 1;
    heap_push(e, e->pend, &e->n_pend, i, pend_less);
}

static void edf_alloc(edf *e, size_t n) {
    memset(e, 0, sizeof *e);
    e->n = n;
    e->count = hb_xcalloc(n ? n : 1, sizeof *e->count);
    e->rel = hb_xcalloc(n ? n : 1, sizeof *e->rel);
    e->dl = hb_xcalloc(n ? n : 1, sizeof *e->dl);
    e->ready = hb_xcalloc(n ? n : 1, sizeof *e->ready);
    e->pend = hb_xcalloc(n ? n : 1, sizeof *e->pend);
}

static void edf_reset(edf *e, const uint64_t *target) {
    e->target = target;
    e->total = e->pos = 0;
    e->n_ready = e->n_pend = 0;
    for (size_t i = 0; i < e->n; i++) e->total += target[i];
    memset(e->count, 0, e->n * sizeof *e->count);
    for (size_t i = 0; i < e->n; i++)
        if (target[i]) edf_job(e, (uint32_t)i);
}

static void edf_free(edf *e) {
    free(e->count);
    free(e->rel);
    free(e->dl);
    free(e->ready);
    free(e->pend);
}

static int edf_next(edf *e, uint32_t *out, hb_err *err) {
    uint64_t s = e->pos;
    while (e->n_pend && e->rel[e->pend[0]] <= s) heap_push(e, e->ready, &e->n_ready, heap_pop(e, e->pend, &e->n_pend, pend_less), ready_less);
    if (!e->n_ready)
        return hb_err_set(err, HB_EINTERNAL, NULL, (long long)s, HB_NOPOS, "interleave: no source is due at position %llu",
                          (unsigned long long)s);
    uint32_t i = heap_pop(e, e->ready, &e->n_ready, ready_less);
    if (e->dl[i] < s)
        return hb_err_set(err, HB_EINTERNAL, NULL, (long long)s, HB_NOPOS,
                          "interleave: source %u missed its deadline at position %llu", i, (unsigned long long)s);
    e->pos++;
    if (++e->count[i] < e->target[i]) edf_job(e, i);
    *out = i;
    return 0;
}

/* PD^2 priority of task i's next subtask k = E_i + 1 (weight X/G): pseudo-deadline, b-bit, group deadline. */
typedef struct pd2 {
    uint64_t d, D;
    int b;
} pd2;

/* ---- the scheduler: prefix mode is one EDF; batch mode is PD^2 over batches + EDF inside each ---- */
struct hb_mix_sched {
    size_t n;
    hb_mix_balance balance;
    uint64_t total, emitted;
    uint64_t *counts;
    edf e;                 /* prefix mode: the whole stream; batch mode: the current batch or the tail */
    /* batch mode */
    uint64_t B, G, g, r;   /* batch size, full batches, current batch, extras per batch */
    uint64_t in_batch;     /* positions left in the current batch (or tail) */
    uint64_t *base, *X, *E, *tail, *cur;
    uint32_t *cand;
    pd2 *prio;
};

static void largest_remainder(size_t n, const uint64_t *w, uint64_t W, uint64_t house, uint64_t *out, uint32_t *idx,
                              uint64_t *rem) {
    uint64_t given = 0;
    for (size_t i = 0; i < n; i++) {
        u128 p = (u128)w[i] * house;
        out[i] = (uint64_t)(p / W);
        rem[i] = (uint64_t)(p % W);
        given += out[i];
        idx[i] = (uint32_t)i;
    }
    /* the house - given largest remainders get one more; ties go to the lower index (insertion sort: n is small) */
    for (size_t a = 1; a < n; a++) {
        uint32_t v = idx[a];
        size_t b = a;
        while (b > 0 && (rem[idx[b - 1]] < rem[v] || (rem[idx[b - 1]] == rem[v] && idx[b - 1] > v))) idx[b] = idx[b - 1], b--;
        idx[b] = v;
    }
    for (uint64_t k = 0; k < house - given; k++) out[idx[k]]++;
}

int hb_mix_sched_new(hb_mix_sched **out, size_t n, const uint64_t *counts, hb_mix_balance balance, uint64_t batch,
                     hb_err *err) {
    *out = NULL;
    if (n == 0 || n > UINT32_MAX)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "interleave: need 1 to 2^32-1 sources");
    if (balance == HB_MIX_BALANCE_BATCH && batch == 0)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "interleave: batch balance needs a batch size");
    hb_mix_sched *s = hb_xcalloc(1, sizeof *s);
    s->n = n;
    s->balance = balance;
    s->counts = hb_xmalloc(n * sizeof *s->counts);
    memcpy(s->counts, counts, n * sizeof *counts);
    for (size_t i = 0; i < n; i++) s->total += counts[i];
    edf_alloc(&s->e, n);
    if (balance == HB_MIX_BALANCE_PREFIX) {
        edf_reset(&s->e, s->counts);
        *out = s;
        return 0;
    }
    s->B = batch;
    s->G = s->total / batch;
    s->base = hb_xcalloc(n, sizeof *s->base);
    s->X = hb_xcalloc(n, sizeof *s->X);
    s->E = hb_xcalloc(n, sizeof *s->E);
    s->tail = hb_xcalloc(n, sizeof *s->tail);
    s->cur = hb_xcalloc(n, sizeof *s->cur);
    s->cand = hb_xcalloc(n, sizeof *s->cand);
    s->prio = hb_xcalloc(n, sizeof(pd2));
    uint64_t *m = hb_xcalloc(n, sizeof *m), *rem = hb_xcalloc(n, sizeof *rem);
    if (s->G && s->total) largest_remainder(n, s->counts, s->total, s->G * batch, m, s->cand, rem);
    uint64_t sum_base = 0;
    for (size_t i = 0; i < n; i++) {
        s->tail[i] = s->counts[i] - m[i];
        if (s->G) {
            s->base[i] = m[i] / s->G;
            s->X[i] = m[i] % s->G;
        }
        sum_base += s->base[i];
    }
    s->r = s->G ? batch - sum_base : 0;
    free(m);
    free(rem);
    *out = s;
    return 0;
}

static pd2 pd2_of(const hb_mix_sched *s, uint32_t i) {
    uint64_t X = s->X[i], G = s->G, k = s->E[i] + 1;
    pd2 p;
    p.d = muldiv_ceil(k, G, X);
    p.b = (uint64_t)((u128)k * G % X) != 0;
    p.D = 0;
    if (2 * X >= G && X < G) { /* heavy task */
        uint64_t a = muldiv_ceil(p.d, G - X, G);
        p.D = muldiv_ceil(a, G, G - X);
    }
    return p;
}

static int pd2_before(const pd2 *pr, uint32_t a, uint32_t b) {
    pd2 x = pr[a], y = pr[b];
    if (x.d != y.d) return x.d < y.d;
    if (x.b != y.b) return x.b > y.b;
    if (x.b && x.D != y.D) return x.D > y.D;
    return a < b;
}

static int start_batch(hb_mix_sched *s, hb_err *err) {
    if (s->g < s->G) {
        size_t nc = 0;
        for (size_t i = 0; i < s->n; i++) {
            s->cur[i] = s->base[i];
            if (s->X[i] && s->E[i] < s->X[i] && muldiv_floor(s->E[i], s->G, s->X[i]) <= s->g) {
                s->prio[i] = pd2_of(s, (uint32_t)i);
                s->cand[nc++] = (uint32_t)i;
            }
        }
        if (nc < s->r)
            return hb_err_set(err, HB_EINTERNAL, NULL, (long long)s->g, HB_NOPOS,
                              "batch balance: only %zu of %llu extra slots can be filled in batch %llu", nc,
                              (unsigned long long)s->r, (unsigned long long)s->g);
        for (size_t a = 1; a < nc; a++) { /* insertion sort by PD^2 priority (n is small) */
            uint32_t v = s->cand[a];
            size_t b = a;
            while (b > 0 && pd2_before(s->prio, v, s->cand[b - 1])) s->cand[b] = s->cand[b - 1], b--;
            s->cand[b] = v;
        }
        for (uint64_t k = 0; k < s->r; k++) s->cur[s->cand[k]]++, s->E[s->cand[k]]++;
        for (size_t i = 0; i < s->n; i++) { /* lag |E_i G - (g+1) X_i| < G, else the extras would not add up */
            u128 have = (u128)s->E[i] * s->G, want = (u128)(s->g + 1) * s->X[i];
            if (have >= want + s->G || want >= have + s->G)
                return hb_err_set(err, HB_EINTERNAL, NULL, (long long)s->g, HB_NOPOS,
                                  "batch balance: source %zu fell a full sample behind its share in batch %llu", i,
                                  (unsigned long long)s->g);
        }
        s->in_batch = s->B;
    } else {
        memcpy(s->cur, s->tail, s->n * sizeof *s->cur);
        s->in_batch = s->total - s->G * s->B;
    }
    s->g++;
    edf_reset(&s->e, s->cur);
    return 0;
}

int hb_mix_sched_next(hb_mix_sched *s, uint32_t *out, size_t m, hb_err *err) {
    if (m > s->total - s->emitted)
        return hb_err_set(err, HB_ERANGE, NULL, HB_NOPOS, HB_NOPOS, "interleave: %zu positions asked, %llu left", m,
                          (unsigned long long)(s->total - s->emitted));
    for (size_t k = 0; k < m; k++) {
        int code;
        if (s->balance == HB_MIX_BALANCE_BATCH && s->in_batch == 0 && (code = start_batch(s, err))) return code;
        if ((code = edf_next(&s->e, &out[k], err))) return code;
        s->emitted++;
        if (s->balance == HB_MIX_BALANCE_BATCH) s->in_batch--;
    }
    return 0;
}

void hb_mix_sched_free(hb_mix_sched *s) {
    if (!s) return;
    edf_free(&s->e);
    free(s->counts);
    free(s->base);
    free(s->X);
    free(s->E);
    free(s->tail);
    free(s->cur);
    free(s->cand);
    free(s->prio);
    free(s);
}
