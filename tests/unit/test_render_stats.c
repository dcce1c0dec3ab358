/* lib/text/render: the seeded choices have the frequencies they should. With a fixed seed over many sample ids,
 * pattern picks, option orders, answer positions and random index styles are uniform (chi-square below the 0.1%
 * critical value), the pattern and option draws are independent of each other, and another seed changes a pick
 * with the probability 1 - 1/n. Deterministic: the seeds are fixed, so a failure is a real regression. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "text/render.h"

/* Chi-square critical values at p = 0.001 for the degrees of freedom used below. */
#define CHI2_1 10.83
#define CHI2_3 16.27
#define CHI2_8 26.12
#define CHI2_9 27.88
#define CHI2_23 49.73
#define CHI2_39 72.05

static double chi2_uniform(const long *counts, int k, long n) {
    double e = (double)n / k, s = 0;
    for (int i = 0; i < k; i++) s += (counts[i] - e) * (counts[i] - e) / e;
    return s;
}

static hb_template_set *load_set(const char *rel) {
    char *p = tu_repo(rel);
    hb_template_set *ts;
    hb_err e;
    cr_assert_eq(hb_template_load(p, &ts, &e), 0, "%s: %s", p, e.reason);
    free(p);
    return ts;
}

typedef struct {
    int pattern;
    uint32_t order[8];
    int n;
    char index[4];
} drawn;

/* Render sample id "<prefix>/<i>" of an example with n_opts options (0: open question) and read the choices. */
static void draw(const hb_template_set *ts, const char *dataset, int i, int n_opts, uint64_t seed, hb_arena *a,
                 drawn *out) {
    static const char *const opts[] = {"o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7"};
    hb_field f[8] = {{"question", "q"}, {"answer", "a"}, {"phrase", "p"}, {"bbox", "b"},
                     {"context", "c"},  {"full_answer", "f"}, {"question_interro", "qi"}, {"rationale", "r"}};
    hb_example ex = {.n_fields = 8, .fields = f, .n_options = (uint32_t)n_opts, .options = opts,
                     .answer_idx = n_opts ? 1 : -1};
    char id[64];
    snprintf(id, sizeof id, "stats/%d", i);
    hb_render_input in = {.id = id, .dataset = dataset, .n_images = 1, .n_examples = 1, .examples = &ex};
    hb_rendered r;
    hb_err e;
    hb_arena_reset(a);
    cr_assert_eq(hb_render(ts, &in, seed, a, &r, &e), 0, "%s", e.reason);
    cJSON *c = cJSON_Parse(r.choices);
    memset(out, 0, sizeof *out);
    out->pattern = (int)cJSON_GetObjectItem(c, "pattern")->valuedouble;
    out->n = 0;
    const cJSON *o = cJSON_GetObjectItem(c, "options");
    if (o) {
        const cJSON *d = cJSON_GetArrayItem(o, 0), *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(d, "order")) out->order[out->n++] = (uint32_t)it->valuedouble;
        snprintf(out->index, sizeof out->index, "%s", cJSON_GetObjectItem(d, "index")->valuestring);
    }
    cJSON_Delete(c);
}

static int perm_rank(const uint32_t *p, int n) { /* Lehmer code */
    int r = 0;
    for (int i = 0; i < n; i++) {
        int smaller = 0;
        for (int j = i + 1; j < n; j++) smaller += p[j] < p[i];
        r = r * (n - i) + smaller;
    }
    return r;
}

#define N 24000

Test(render_stats, pattern_picks_are_uniform) {
    hb_template_set *multi = load_set("templates/multi.yaml"), *hb = load_set("templates/honeybee.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    long c10[10] = {0}, c2[2] = {0};
    drawn d;
    for (int i = 0; i < N; i++) {
        draw(multi, "gqa", i, 0, 1234, &a, &d);
        c10[d.pattern]++;
        draw(hb, "refcoco", i, 0, 1234, &a, &d);
        c2[d.pattern]++;
    }
    double x10 = chi2_uniform(c10, 10, N), x2 = chi2_uniform(c2, 2, N);
    cr_assert_lt(x10, CHI2_9, "multi/gqa pattern counts: chi2 %.2f", x10);
    cr_assert_lt(x2, CHI2_1, "REC/REG: %ld / %ld, chi2 %.2f", c2[0], c2[1], x2);
    for (int k = 0; k < 10; k++) cr_assert_gt(c10[k], N / 10 * 9 / 10, "pattern %d: %ld", k, c10[k]);
    hb_arena_free(&a);
    hb_template_free(multi);
    hb_template_free(hb);
}

Test(render_stats, option_orders_and_answer_positions_are_uniform) {
    hb_template_set *hb = load_set("templates/honeybee.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    long perms[24] = {0}, pos[4] = {0};
    drawn d;
    for (int i = 0; i < N; i++) {
        draw(hb, "aokvqa", i, 4, 99, &a, &d);
        cr_assert_eq(d.n, 4);
        cr_assert_str_eq(d.index, "A.", "honeybee never augments the index style");
        perms[perm_rank(d.order, 4)]++;
        for (int k = 0; k < 4; k++)
            if (d.order[k] == 1) pos[k]++; /* where the correct option (index 1) was shown */
    }
    double xp = chi2_uniform(perms, 24, N), xa = chi2_uniform(pos, 4, N);
    cr_assert_lt(xp, CHI2_23, "24 orders: chi2 %.2f", xp);
    cr_assert_lt(xa, CHI2_3, "answer positions %ld %ld %ld %ld: chi2 %.2f", pos[0], pos[1], pos[2], pos[3], xa);
    /* eval-sqa keeps the original order */
    for (int i = 0; i < 200; i++) {
        draw(hb, "eval-sqa", i, 4, 99, &a, &d);
        for (int k = 0; k < 4; k++) cr_assert_eq(d.order[k], (uint32_t)k);
    }
    hb_arena_free(&a);
    hb_template_free(hb);
}

Test(render_stats, random_index_styles_are_uniform_over_nine) {
    char *p = tu_repo("tests/fixtures/render/edge.yaml");
    hb_template_set *edge;
    hb_err e;
    cr_assert_eq(hb_template_load(p, &edge, &e), 0, "%s", e.reason);
    free(p);
    static const char *const styles[9] = {"A.", "A)", "(A)", "a.", "a)", "(a)", "1.", "1)", "(1)"};
    long c[9] = {0};
    long n = 0;
    hb_arena a;
    hb_arena_init(&a, 0);
    drawn d;
    for (int i = 0; i < 3 * N / 2; i++) {
        draw(edge, "edge-mc", i, 3, 5, &a, &d);
        if (d.pattern != 0) continue; /* patterns 1 and 2 fix their style */
        for (int k = 0; k < 9; k++)
            if (!strcmp(d.index, styles[k])) c[k]++, n++;
    }
    double x = chi2_uniform(c, 9, n);
    cr_assert_gt(n, N / 3);
    cr_assert_lt(x, CHI2_8, "9 styles over %ld draws: chi2 %.2f", n, x);
    hb_arena_free(&a);
    hb_template_free(edge);
}

Test(render_stats, pattern_and_option_draws_are_independent) {
    hb_template_set *multi = load_set("templates/multi.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    long joint[40] = {0};
    drawn d;
    for (int i = 0; i < N; i++) {
        draw(multi, "aokvqa", i, 4, 7, &a, &d);
        int at = 0;
        for (int k = 0; k < 4; k++)
            if (d.order[k] == 1) at = k;
        joint[d.pattern * 4 + at]++;
    }
    double x = chi2_uniform(joint, 40, N);
    cr_assert_lt(x, CHI2_39, "pattern x answer position: chi2 %.2f", x);
    hb_arena_free(&a);
    hb_template_free(multi);
}

Test(render_stats, another_seed_changes_picks_at_the_expected_rate) {
    hb_template_set *multi = load_set("templates/multi.yaml");
    hb_arena a;
    hb_arena_init(&a, 0);
    long pattern_changed = 0, order_changed = 0;
    drawn x, y;
    for (int i = 0; i < N; i++) {
        draw(multi, "aokvqa", i, 4, 1, &a, &x);
        draw(multi, "aokvqa", i, 4, 2, &a, &y);
        pattern_changed += x.pattern != y.pattern;
        order_changed += memcmp(x.order, y.order, sizeof x.order[0] * (size_t)x.n) != 0;
    }
    double pc = (double)pattern_changed / N, oc = (double)order_changed / N;
    /* expected 0.9 and 23/24 = 0.958; binomial sd about 0.002 and 0.0013 */
    cr_assert(pc > 0.89 && pc < 0.91, "pattern changed for %.4f of the samples", pc);
    cr_assert(oc > 0.952 && oc < 0.965, "option order changed for %.4f of the samples", oc);
    hb_arena_free(&a);
    hb_template_free(multi);
}
