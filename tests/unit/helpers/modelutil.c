/* Helpers for the model tests (see modelutil.h). Dependencies: modelutil.h, testutil.h, <criterion/criterion.h>. */
#include "modelutil.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "testutil.h"

char *mu_path(const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "tests/fixtures/model/%s", rel);
    return tu_repo(p);
}

void mu_open(mu_fixture *f, const char *name, hb_stage stage, int threads, int all_logits, int64_t head_chunk) {
    hb_err e;
    hb_ops_opts oo = {.threads = threads};
    f->ops = hb_ops_open("cpu", &oo, &e);
    cr_assert_not_null(f->ops, "%s", e.reason);
    char *dir = mu_path(name);
    cr_assert_eq(hb_config_load(dir, &f->cfg, &e), 0, "%s", e.reason);
    char rel[64];
    snprintf(rel, sizeof rel, "%s/batch.safetensors", name);
    char *bp = mu_path(rel);
    cr_assert_eq(hb_batch_file_load(bp, &f->cfg, &f->bf, &e), 0, "%s", e.reason);
    hb_model_opts mo = {.stage = stage,
                        .limits = {f->bf.b.n_images, f->bf.b.batch, f->bf.b.seq},
                        .all_logits = all_logits,
                        .param_dtype = HB_F32,
                        .head_chunk = head_chunk};
    cr_assert_eq(hb_model_new(f->ops, &f->cfg, &mo, &f->m, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_model_load_checkpoint(f->m, dir, &e), 0, "%s", e.reason);
    free(bp);
    free(dir);
}

void mu_close(mu_fixture *f) {
    hb_model_free(f->m);
    hb_batch_file_free(&f->bf);
    hb_ops_close(f->ops);
}

double mu_rel_err(const float *a, const float *r, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)r[i]);
        if (!(d <= num)) num = d; /* NaN propagates */
        if (fabs((double)r[i]) > den) den = fabs((double)r[i]);
    }
    return num == 0 ? 0 : num / (den > 0 ? den : 1e-30);
}

float *mu_grad(mu_fixture *f, const hb_param *p) {
    float *g = malloc((size_t)p->numel * sizeof *g);
    hb_err e;
    cr_assert_eq(hb_ops_download(f->ops, g, HB_F32, &p->g, 0, p->numel, &e), 0, "%s", e.reason);
    return g;
}

float *mu_weights(mu_fixture *f, const hb_param *p) {
    float *w = malloc((size_t)p->numel * sizeof *w);
    hb_err e;
    cr_assert_eq(hb_ops_download(f->ops, w, HB_F32, &p->w, 0, p->numel, &e), 0, "%s", e.reason);
    return w;
}
