/* lib/mix/solve — from the spec to exact per-source sample counts n_i, and the realised table (docs/mix-plan.md §2).
 *
 * The q-th sample of source i in the stream (q = 0 .. n_i - 1) is sample perm_{i, q / N_i}(q mod N_i): whole passes
 * over the source, each a fresh seeded permutation, then a prefix of one more permutation. So realised token totals
 * are (whole passes) x (source total) + the sum over that prefix, and a target in tokens becomes the n_i whose
 * prefix sum is nearest to it (ties: fewer samples).
 *
 * Dependencies: mix/mix.h (spec, input, result, hb_perm), core/core.h (hb_err). */
#include "mix/mix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Largest remainder: split `house` samples over weights w (sum > 0); ties go to the lower index. */
static void apportion(size_t n, const double *w, uint64_t house, uint64_t *out) {
    double W = 0;
    for (size_t i = 0; i < n; i++) W += w[i];
    double *rem = hb_xcalloc(n, sizeof *rem);
    uint64_t given = 0;
    for (size_t i = 0; i < n; i++) {
        double q = (double)house * (w[i] / W);
        double f = floor(q);
        out[i] = (uint64_t)f;
        rem[i] = w[i] > 0 ? q - f : -1; /* a zero weight never gets a remainder seat */
        given += out[i];
    }
    while (given > house) { /* rounding pushed a quota over: take back from the smallest remainder */
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (out[i] && (best == n || rem[i] < rem[best])) best = i;
        out[best]--, rem[best] = 2, given--;
    }
    while (given < house) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (rem[i] >= 0 && rem[i] <= 1 && (best == n || rem[i] > rem[best])) best = i;
        if (best == n) { /* float rounding left a seat over: the largest weight takes it */
            best = 0;
            for (size_t i = 1; i < n; i++)
                if (w[i] > w[best]) best = i;
        }
        out[best]++, rem[best] = 3, given++; /* one extra seat per source */
    }
    free(rem);
}

/* Walk the prefix of pass `pass` of source s: add the lengths of its first k samples into sum[1..3]. With
 * target >= 0, stop at the k whose unit sum is nearest to target (ties: fewer) and return that k. */
static uint64_t walk(const hb_mix_input *in, size_t s, uint64_t key, uint64_t pass, uint64_t k_max, hb_mix_unit unit,
                     double target, uint64_t sum[4]) {
    const hb_mix_source *src = &in->sources[s];
    hb_perm p;
    hb_perm_for_key(&p, src->n, key, pass);
    uint64_t acc[4] = {0, 0, 0, 0}, k = 0;
    while (k < k_max) {
        uint64_t j = hb_perm_at(&p, k);
        uint32_t l[4] = {1, hb_mix_input_len(in, s, j, HB_MIX_TOKENS), hb_mix_input_len(in, s, j, HB_MIX_SUPERVISED),
                         hb_mix_input_len(in, s, j, HB_MIX_IMAGE)};
        if (target >= 0) {
            double before = (double)acc[unit], after = before + l[unit];
            if (after >= target) {
                if (target - before <= after - target) break; /* nearer (or tied) without it */
                for (int u = 0; u < 4; u++) acc[u] += l[u];
                k++;
                break;
            }
        }
        for (int u = 0; u < 4; u++) acc[u] += l[u];
        k++;
    }
    for (int u = 0; u < 4; u++) sum[u] += acc[u];
    return k;
}

/* The sample count whose realised units are nearest to target (source has units > 0). */
static uint64_t nearest(const hb_mix_input *in, size_t s, uint64_t key, hb_mix_unit unit, double target) {
    const hb_mix_source *src = &in->sources[s];
    double U = (double)src->units[unit];
    uint64_t passes = (uint64_t)floor(target / U);
    double rest = target - (double)passes * U;
    uint64_t sum[4] = {0, 0, 0, 0};
    return passes * src->n + walk(in, s, key, passes, src->n, unit, rest, sum);
}

static int need_samples(const hb_mix_spec *spec, const hb_mix_input *in, size_t i, hb_err *err) {
    if (in->sources[i].n == 0)
        return hb_err_set(err, HB_EINVAL, spec->recipe, HB_NOPOS, HB_NOPOS,
                          "mix.sources.%s: the source has no samples, so it cannot get a share", spec->want[i].name);
    if (spec->unit != HB_MIX_SAMPLES && in->sources[i].units[spec->unit] == 0 && spec->kind != HB_MIX_REPEAT)
        return hb_err_set(err, HB_EINVAL, spec->recipe, HB_NOPOS, HB_NOPOS,
                          "mix.sources.%s: the source has no %s, so a share of %s cannot be met", spec->want[i].name,
                          hb_mix_unit_name(spec->unit), hb_mix_unit_name(spec->unit));
    return 0;
}

int hb_mix_solve(const hb_mix_spec *spec, const hb_mix_input *in, hb_mix_result *res, hb_err *err) {
    memset(res, 0, sizeof *res);
    if (in->n_sources != spec->n)
        return hb_err_set(err, HB_EINVAL, spec->recipe, HB_NOPOS, HB_NOPOS, "input has %zu sources, the mix %zu",
                          in->n_sources, spec->n);
    for (size_t i = 0; i < in->n_shards; i++)
        if (!in->shards[i].lens && in->shards[i].n)
            return hb_err_set(err, HB_EINVAL, in->shards[i].file, HB_NOPOS, HB_NOPOS,
                              "per-sample lengths are not loaded (hb_mix_input_lengths)");
    size_t n = spec->n;
    hb_mix_unit unit = spec->unit;
    double *w = hb_xcalloc(n, sizeof *w), W = 0;
    uint64_t *cnt = hb_xcalloc(n, sizeof *cnt), *key = hb_xcalloc(n, sizeof *key);
    int code = 0;
    for (size_t i = 0; i < n; i++) {
        const hb_mix_source *src = &in->sources[i];
        key[i] = hb_perm_source_key(spec->seed, src->name);
        double U = (double)src->units[unit], v = spec->want[i].value;
        if (spec->want[i].by_size) v = spec->size_cap && U > (double)spec->size_cap ? (double)spec->size_cap : U;
        w[i] = spec->kind == HB_MIX_REPEAT ? v * U : v; /* the request, in the unit */
        W += w[i];
        if (v > 0 && !code) code = need_samples(spec, in, i, err);
    }
    if (!code && W <= 0)
        code = hb_err_set(err, HB_EINVAL, spec->recipe, HB_NOPOS, HB_NOPOS, "the mix asks for nothing: every share is 0");
    for (size_t i = 0; i < n && !code; i++) {
        const hb_mix_source *src = &in->sources[i];
        double v = spec->want[i].value;
        if (spec->kind == HB_MIX_REPEAT) cnt[i] = (uint64_t)floor(v * (double)src->n + 0.5);
        else if (spec->kind == HB_MIX_COUNT) cnt[i] = unit == HB_MIX_SAMPLES || v == 0 ? (uint64_t)v : nearest(in, i, key[i], unit, v);
        else if (unit != HB_MIX_SAMPLES && !spec->steps && w[i] > 0)
            cnt[i] = nearest(in, i, key[i], unit, (double)spec->total * (w[i] / W));
    }
    if (!code && spec->kind == HB_MIX_WEIGHT && (unit == HB_MIX_SAMPLES || spec->steps)) {
        double *e = hb_xcalloc(n, sizeof *e); /* a sample budget: weights over units become weights over samples */
        for (size_t i = 0; i < n; i++)
            e[i] = unit == HB_MIX_SAMPLES || w[i] == 0 ? w[i] : w[i] * (double)in->sources[i].n / (double)in->sources[i].units[unit];
        apportion(n, e, spec->total, cnt);
        free(e);
    }
    if (!code) {
        res->n = n;
        res->rows = hb_xcalloc(n, sizeof *res->rows);
        for (size_t i = 0; i < n; i++) {
            const hb_mix_source *src = &in->sources[i];
            hb_mix_row *r = &res->rows[i];
            r->target_share = w[i] / W;
            r->samples = cnt[i];
            r->passes = src->n ? (double)cnt[i] / (double)src->n : 0;
            if (cnt[i]) {
                uint64_t full = cnt[i] / src->n;
                for (int u = 0; u < 4; u++) r->units[u] = full * src->units[u];
                walk(in, i, key[i], full, cnt[i] % src->n, unit, -1, r->units);
            }
            for (int u = 0; u < 4; u++) res->units[u] += r->units[u];
            res->samples += cnt[i];
        }
        for (size_t i = 0; i < n; i++)
            res->rows[i].realised_share = res->units[unit] ? (double)res->rows[i].units[unit] / (double)res->units[unit] : 0;
        if (res->samples == 0)
            code = hb_err_set(err, HB_EINVAL, spec->recipe, HB_NOPOS, HB_NOPOS,
                              "the mix is empty: every source rounds to 0 samples (raise total or the weights)");
        res->sequences = res->samples;
    }
    free(w);
    free(cnt);
    free(key);
    if (code) hb_mix_result_free(res);
    return code;
}

void hb_mix_result_free(hb_mix_result *res) {
    free(res->rows);
    memset(res, 0, sizeof *res);
}
