/* hb-train against PyTorch (tests/ref/gen_train_fixtures.py): 10-step trajectories of a tiny Honeybee on the same
 * 40 samples with the same AdamW, schedule, clipping and loss normalisation. Compared: per step the loss, the
 * learning rate, the gradient norm before clipping and the clip coefficient; after step 10 every trained tensor.
 *
 * Tolerances (hb computes in float32, the reference in float64 from the same float32 start): learning rate 1e-15
 * relative (the same double formula); loss 2e-6 and gradient norm and clip coefficient 5e-5 relative; final
 * weights |hb − ref| <= 2e-6 + 1e-5·|ref| per element. Measured (CPU backend, 1 thread): loss <= 3.5e-7, gradient
 * norm <= 8.5e-6, weights <= 0.2 of their tolerance. A wrong decay flag (lr·wd = 2e-4 of |w| per step here), a
 * missed clip, a schedule off by one step or a wrong accumulation weight each exceed these by orders of
 * magnitude. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/testutil.h"
#include "helpers/trainutil.h"
#include "model/safetensors.h"

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-30); }

/* The reference run `ref` under `dir`, with hb's run in run_dir (already trained). */
static void compare(const char *run_dir, const char *ref, int check_weights) {
    char rel_path[64];
    snprintf(rel_path, sizeof rel_path, "ref_%s.safetensors", ref);
    char *rp = tt_fixture(rel_path);
    hb_st *st;
    hb_err e;
    cr_assert_eq(hb_st_open(rp, &st, &e), 0, "%s", e.reason);
    double want[4][10];
    const char *keys[4] = {"loss", "lr", "grad_norm", "clip_coef"};
    for (int k = 0; k < 4; k++) {
        const hb_st_tensor *t = hb_st_find(st, keys[k]);
        cr_assert(t && t->numel == 10 && t->dtype == HB_ST_F64);
        memcpy(want[k], t->data, sizeof want[k]);
    }
    tt_logrec got[16];
    cr_assert_eq(tt_read_log(run_dir, got, 16), 10);
    for (int s = 0; s < 10; s++) {
        const double tol = 5e-5;
        cr_assert_eq(got[s].step, s + 1);
        cr_expect(rel(got[s].lr, want[1][s]) < 1e-15, "%s step %d: lr %.17g vs %.17g", ref, s + 1, got[s].lr,
                  want[1][s]);
        cr_expect(rel(got[s].loss, want[0][s]) < 2e-6, "%s step %d: loss %.9g vs %.9g (rel %.2e)", ref, s + 1,
                  got[s].loss, want[0][s], rel(got[s].loss, want[0][s]));
        cr_expect(rel(got[s].grad_norm, want[2][s]) < tol, "%s step %d: grad norm %.9g vs %.9g (rel %.2e)", ref, s + 1,
                  got[s].grad_norm, want[2][s], rel(got[s].grad_norm, want[2][s]));
        cr_expect(fabs(got[s].clip_coef - want[3][s]) < tol * fmax(want[3][s], 1e-3), "%s step %d: clip %.9g vs %.9g",
                  ref, s + 1, got[s].clip_coef, want[3][s]);
    }
    if (check_weights) {
        char *ck = hb_path_join(run_dir, "checkpoints/step-00000010");
        hb_st *mine;
        cr_assert_eq(hb_st_open(ck, &mine, &e), 0, "%s", e.reason);
        int n = 0;
        double worst = 0;
        const char *worst_name = "";
        for (size_t i = 0; i < hb_st_count(st); i++) {
            const hb_st_tensor *t = hb_st_at(st, i);
            if (strncmp(t->name, "final.", 6)) continue;
            const char *name = t->name + 6;
            char hbname[600];
            /* the reference names CLIP as HF transformers 5 does; checkpoints keep Honeybee's prefix */
            if (!strncmp(name, "vision_model.", 13) && strncmp(name, "vision_model.vision_model.", 26))
                snprintf(hbname, sizeof hbname, "vision_model.%s", name);
            else
                snprintf(hbname, sizeof hbname, "%s", name);
            const hb_st_tensor *u = hb_st_find(mine, hbname);
            cr_assert_not_null(u, "%s missing from the checkpoint", hbname);
            cr_assert_eq(u->numel, t->numel);
            float *a = malloc((size_t)t->numel * 4), *b = malloc((size_t)t->numel * 4);
            cr_assert_eq(hb_st_read_f32(st, t, a, t->numel, &e), 0);
            cr_assert_eq(hb_st_read_f32(mine, u, b, u->numel, &e), 0);
            for (int64_t k = 0; k < t->numel; k++) {
                double d = fabs((double)b[k] - a[k]) / (2e-6 + 1e-5 * fabs(a[k]));
                if (d > worst) worst = d, worst_name = u->name;
            }
            free(a), free(b);
            n++;
        }
        cr_assert_gt(n, 0);
        cr_expect(worst <= 1.0, "%s: final weights off by %.2f x the tolerance (worst tensor %s)", ref, worst,
                  worst_name);
        hb_st_close(mine);
        free(ck);
    }
    hb_st_close(st);
    free(rp);
}

static void run(const char *dir, const char *name, const char *ref, const char *micro, const char *ranks) {
    hb_trainer_cfg c;
    tt_fixture_cfg(&c, dir, name, ref);
    hb_err e;
    if (micro) cr_assert_eq(hb_trainer_cfg_set(&c, "batch.micro", micro, &e), 0);
    if (ranks) cr_assert_eq(hb_trainer_cfg_set(&c, "batch.ranks", ranks, &e), 0);
    c.ckpt_every = 0;
    hb_trainer_result r;
    cr_assert_eq(hb_trainer_run(&c, NULL, &r, &e), 0, "%s: %s", name, e.reason);
    cr_assert_eq(r.last_step, 10);
}

Test(train_ref, ft_trajectory_matches_pytorch, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    run(d, "ft", "ft", NULL, NULL); /* one micro-batch per step */
    char *rd = hb_path_join(d, "ft");
    compare(rd, "ft", 1);
    free(rd);
    tu_rmtree(d);
    free(d);
}

Test(train_ref, ft_with_accumulation_and_ranks_matches_pytorch, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    run(d, "acc", "ft", "1", NULL); /* 4 micro-batches of 1 sequence */
    run(d, "ranks", "ft", "1", "2"); /* 2 rank slices x 2 micro-batches */
    char *a = hb_path_join(d, "acc"), *b = hb_path_join(d, "ranks");
    compare(a, "ft", 1);
    compare(b, "ft", 1);
    free(a), free(b);
    tu_rmtree(d);
    free(d);
}

Test(train_ref, pt_trajectory_matches_pytorch, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    run(d, "pt", "pt", "2", NULL);
    char *rd = hb_path_join(d, "pt");
    compare(rd, "pt", 1);
    free(rd);
    tu_rmtree(d);
    free(d);
}

Test(train_ref, micro_loss_mode_matches_pytorch, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    run(d, "micro", "ft_micro", NULL, NULL);
    char *rd = hb_path_join(d, "micro");
    compare(rd, "ft_micro", 1);
    free(rd);
    tu_rmtree(d);
    free(d);
}
