/* Whole training runs through hb_trainer_run on the fixture model and data: resume equivalence (bit for bit),
 * resume at another micro-batch size / rank count, accumulation equivalence, what PT freezes, checkpoint rotation
 * and logs, interruption, non-finite losses, a full disk, and the refusals (another architecture, stage, global
 * batch, a damaged checkpoint, a used run directory). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/testutil.h"
#include "helpers/trainutil.h"
#include "model/safetensors.h"

static void train(hb_trainer_cfg *c, const char *resume, int64_t until, hb_trainer_result *r) {
    hb_trainer_opts o = {.resume = resume, .until = until};
    hb_err e;
    cr_assert_eq(hb_trainer_run(c, &o, r, &e), 0, "%s: %s", c->run_dir, e.reason);
}

static int train_fails(hb_trainer_cfg *c, const char *resume, hb_err *e) {
    hb_trainer_opts o = {.resume = resume};
    hb_trainer_result r;
    return hb_trainer_run(c, &o, &r, e);
}

static char *ckpt(const hb_trainer_cfg *c, int step, const char *file) {
    char rel[128];
    snprintf(rel, sizeof rel, "checkpoints/step-%08d%s%s", step, file ? "/" : "", file ? file : "");
    return hb_path_join(c->run_dir, rel);
}

static void same_logs(const char *a, const char *b, int n) {
    tt_logrec x[32], y[32];
    cr_assert_eq(tt_read_log(a, x, 32), n);
    cr_assert_eq(tt_read_log(b, y, 32), n);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(x[i].step, y[i].step);
        cr_assert(memcmp(&x[i].loss, &y[i].loss, 8) == 0, "step %d: loss %.17g vs %.17g", i + 1, x[i].loss, y[i].loss);
        cr_assert(memcmp(&x[i].grad_norm, &y[i].grad_norm, 8) == 0, "step %d: grad norm", i + 1);
        cr_assert(memcmp(&x[i].lr, &y[i].lr, 8) == 0, "step %d: lr", i + 1);
        cr_assert_str_eq(x[i].cursor, y[i].cursor);
    }
}

static void same_checkpoint(const hb_trainer_cfg *a, const hb_trainer_cfg *b, int step) {
    char *ma = ckpt(a, step, "model.safetensors"), *mb = ckpt(b, step, "model.safetensors");
    char *oa = ckpt(a, step, "optimizer.safetensors"), *ob = ckpt(b, step, "optimizer.safetensors");
    tt_same_tensors(ma, mb, NULL);
    tt_same_tensors(oa, ob, NULL);
    size_t la, lb;
    uint8_t *x = tu_read(ma, &la), *y = tu_read(mb, &lb);
    cr_assert(la == lb && !memcmp(x, y, la), "model files differ");
    free(x), free(y);
    free(ma), free(mb), free(oa), free(ob);
}

Test(train_run, kill_and_resume_is_bit_identical, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    hb_trainer_cfg a, b;
    hb_trainer_result r;
    tt_fixture_cfg(&a, d, "a", "ft");
    a.ckpt_every = 3;
    a.ckpt_keep = 0;
    train(&a, NULL, 0, &r);
    cr_assert_eq(r.last_step, 10);
    /* b stops after step 5 (checkpoints at 3 and 5), resumes to the end */
    tt_fixture_cfg(&b, d, "b", "ft");
    b.ckpt_every = 3;
    b.ckpt_keep = 0;
    train(&b, NULL, 5, &r);
    cr_assert(r.interrupted && r.last_step == 5);
    train(&b, "", 0, &r);
    cr_assert_eq(r.first_step, 5);
    cr_assert_eq(r.last_step, 10);
    same_logs(a.run_dir, b.run_dir, 10);
    same_checkpoint(&a, &b, 10);
    same_checkpoint(&a, &b, 6);
    /* resuming from the older checkpoint (step 3) again: the log is rewound and the same run replays */
    char *s3 = ckpt(&b, 3, NULL);
    train(&b, s3, 0, &r);
    cr_assert_eq(r.first_step, 3);
    same_logs(a.run_dir, b.run_dir, 10);
    same_checkpoint(&a, &b, 10);
    free(s3);
    tu_rmtree(d);
    free(d);
}

Test(train_run, resume_at_another_micro_batch_and_rank_count, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    hb_trainer_cfg a, b;
    hb_trainer_result r;
    tt_fixture_cfg(&a, d, "a", "ft");
    train(&a, NULL, 0, &r);
    tt_fixture_cfg(&b, d, "b", "ft");
    train(&b, NULL, 4, &r); /* micro-batch 4, one rank */
    b.micro_batch = 1;
    b.ranks = 2;
    train(&b, "", 0, &r);
    tt_logrec x[16], y[16];
    cr_assert_eq(tt_read_log(a.run_dir, x, 16), 10);
    cr_assert_eq(tt_read_log(b.run_dir, y, 16), 10);
    for (int i = 0; i < 10; i++) {
        cr_assert_str_eq(x[i].cursor, y[i].cursor);
        cr_assert(fabs(x[i].loss - y[i].loss) <= 1e-6 * fabs(x[i].loss), "step %d: %.9g vs %.9g", i + 1, x[i].loss,
                  y[i].loss);
    }
    tu_rmtree(d);
    free(d);
}

Test(train_run, accumulation_equals_one_large_batch, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_synth_data(d, 96, 16, 4, 64, 2);
    const char *shapes[][2] = {{"8", "1"}, {"1", "1"}, {"3", "1"}, {"2", "2"}, {"1", "4"}};
    tt_logrec ref[16];
    char *first = NULL;
    for (int s = 0; s < 5; s++) {
        hb_trainer_cfg c;
        char run[16];
        snprintf(run, sizeof run, "r%d", s);
        tt_fixture_cfg(&c, d, run, "ft");
        hb_err e;
        cr_assert_eq(hb_trainer_cfg_set(&c, "batch.global", "8", &e), 0);
        cr_assert_eq(hb_trainer_cfg_set(&c, "batch.micro", shapes[s][0], &e), 0);
        cr_assert_eq(hb_trainer_cfg_set(&c, "batch.ranks", shapes[s][1], &e), 0);
        cr_assert_eq(hb_trainer_cfg_set(&c, "steps", "8", &e), 0);
        c.ckpt_every = 0;
        hb_trainer_result r;
        train(&c, NULL, 0, &r);
        tt_logrec g[16];
        cr_assert_eq(tt_read_log(c.run_dir, g, 16), 8);
        char *m = ckpt(&c, 8, "model.safetensors");
        if (!s) {
            memcpy(ref, g, sizeof ref);
            first = m;
            continue;
        }
        /* step 1 starts from the same weights: the same gradient up to float32 summation order; later steps drift
         * by the accumulated rounding of the updates (measured: loss <= 1.3e-6, grad norm <= 1.6e-5 by step 9) */
        for (int i = 0; i < 8; i++) {
            double tl = i ? 5e-6 : 1e-7, tg = i ? 1e-4 : 1e-6;
            cr_assert(fabs(g[i].loss - ref[i].loss) <= tl * ref[i].loss, "micro %s ranks %s step %d: loss %.9g vs %.9g",
                      shapes[s][0], shapes[s][1], i + 1, g[i].loss, ref[i].loss);
            cr_assert(fabs(g[i].grad_norm - ref[i].grad_norm) <= tg * ref[i].grad_norm,
                      "micro %s ranks %s step %d: grad norm %.9g vs %.9g", shapes[s][0], shapes[s][1], i + 1,
                      g[i].grad_norm, ref[i].grad_norm);
        }
        /* final weights: float32 summation order only */
        hb_st *x, *y;
        cr_assert_eq(hb_st_open(first, &x, &e), 0);
        cr_assert_eq(hb_st_open(m, &y, &e), 0);
        double worst = 0;
        for (size_t i = 0; i < hb_st_count(x); i++) {
            const hb_st_tensor *t = hb_st_at(x, i), *u = hb_st_find(y, t->name);
            const float *p = t->data, *q = u->data;
            for (int64_t k = 0; k < t->numel; k++) worst = fmax(worst, fabs(p[k] - q[k]) / (1e-6 + 1e-5 * fabs(p[k])));
        }
        cr_assert_leq(worst, 1.0, "micro %s ranks %s: weights differ by %.2f x tolerance", shapes[s][0],
                      shapes[s][1], worst);
        hb_st_close(x), hb_st_close(y);
        free(m);
    }
    /* the `micro` normalisation (mean of micro-batch means) is a different objective when the micro-batches hold
     * different numbers of supervised tokens */
    hb_trainer_cfg c;
    tt_fixture_cfg(&c, d, "micro", "ft");
    hb_err e;
    cr_assert_eq(hb_trainer_cfg_set(&c, "batch.global", "8", &e), 0);
    cr_assert_eq(hb_trainer_cfg_set(&c, "batch.micro", "1", &e), 0);
    cr_assert_eq(hb_trainer_cfg_set(&c, "batch.loss", "micro", &e), 0);
    cr_assert_eq(hb_trainer_cfg_set(&c, "steps", "8", &e), 0);
    hb_trainer_result r;
    train(&c, NULL, 0, &r);
    tt_logrec g[16];
    cr_assert_eq(tt_read_log(c.run_dir, g, 16), 8);
    cr_assert_gt(fabs(g[0].loss - ref[0].loss), 1e-4 * ref[0].loss);
    free(first);
    tu_rmtree(d);
    free(d);
}

Test(train_run, pt_trains_the_abstractor_and_nothing_else, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    hb_trainer_cfg c;
    tt_fixture_cfg(&c, d, "pt", "pt");
    hb_err e;
    cr_assert_eq(hb_trainer_cfg_set(&c, "steps", "3", &e), 0);
    hb_trainer_result r;
    train(&c, NULL, 0, &r);
    char *init = tt_fixture("model/model.safetensors"), *fin = ckpt(&c, 3, "model.safetensors");
    char *opt = ckpt(&c, 3, "optimizer.safetensors");
    tt_same_tensors(init, fin, "vision_model.");
    tt_same_tensors(init, fin, "language_model.");
    hb_st *a, *b, *o;
    cr_assert_eq(hb_st_open(init, &a, &e), 0);
    cr_assert_eq(hb_st_open(fin, &b, &e), 0);
    cr_assert_eq(hb_st_open(opt, &o, &e), 0);
    cr_assert_eq(hb_st_count(a), hb_st_count(b));
    size_t n_abs = 0;
    for (size_t i = 0; i < hb_st_count(a); i++) {
        const hb_st_tensor *t = hb_st_at(a, i);
        if (strncmp(t->name, "abstractor.", 11)) continue;
        n_abs++;
        const hb_st_tensor *u = hb_st_find(b, t->name);
        cr_assert(memcmp(t->data, u->data, (size_t)t->numel * 4), "%s did not change", t->name);
        char name[600];
        snprintf(name, sizeof name, "exp_avg.%s", t->name);
        cr_assert_not_null(hb_st_find(o, name));
        snprintf(name, sizeof name, "exp_avg_sq.%s", t->name);
        cr_assert_not_null(hb_st_find(o, name));
    }
    cr_assert_gt(n_abs, 10);
    cr_assert_eq(hb_st_count(o), 2 * n_abs); /* moments of the abstractor only */
    hb_st_close(a), hb_st_close(b), hb_st_close(o);
    free(init), free(fin), free(opt);
    tu_rmtree(d);
    free(d);
}

Test(train_run, checkpoints_rotate_and_logs_record_the_run, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    hb_trainer_cfg c;
    tt_fixture_cfg(&c, d, "run", "ft");
    c.ckpt_every = 2;
    c.ckpt_keep = 2;
    c.plot_every = 3;
    hb_trainer_result r;
    train(&c, NULL, 0, &r);
    char *cd = hb_path_join(c.run_dir, "checkpoints"), cmd[4200];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | tr '\\n' ' '", cd);
    char *out = NULL;
    tu_run(cmd, &out);
    cr_assert_str_eq(out, ". .. latest step-00000008 step-00000010 ", "%s", out);
    free(out);
    char *latest = hb_path_join(cd, "latest");
    size_t len;
    char *t = (char *)tu_read(latest, &len);
    cr_assert_str_eq(t, "step-00000010\n");
    free(t);
    /* state.json */
    char *sp = ckpt(&c, 10, "state.json");
    t = (char *)tu_read(sp, &len);
    cJSON *j = cJSON_Parse(t);
    cr_assert_not_null(j);
    cr_assert_eq(cJSON_GetObjectItem(j, "step")->valueint, 10);
    cr_assert_eq(cJSON_GetObjectItem(j, "adam_step")->valueint, 10);
    cr_assert(strstr(cJSON_GetObjectItem(j, "cursor")->valuestring, ":40"));
    cr_assert_not_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "files"), "model.safetensors"));
    cr_assert_not_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "files"), "optimizer.safetensors"));
    cr_assert_not_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "config"), "optim"));
    cJSON_Delete(j);
    free(t);
    /* events: start, 5 checkpoints, stop */
    char *ev = hb_path_join(c.run_dir, "events.jsonl");
    t = (char *)tu_read(ev, &len);
    cr_assert(strstr(t, "\"event\":\"start\"") && strstr(t, "\"memory\":"), "%s", t);
    int n = 0;
    for (char *p = t; (p = strstr(p, "\"event\":\"checkpoint\"")); p++) n++;
    cr_assert_eq(n, 5);
    cr_assert(strstr(t, "\"event\":\"stop\",\"step\":10,\"reason\":\"done\""), "%s", t);
    free(t);
    /* the plot and the effective config */
    char *svg = hb_path_join(c.run_dir, "loss.svg"), *cy = hb_path_join(c.run_dir, "config.yaml");
    t = (char *)tu_read(svg, &len);
    cr_assert(t && strstr(t, "<svg") && strstr(t, "train loss") && strstr(t, "learning rate"));
    free(t);
    hb_trainer_cfg back;
    hb_trainer_cfg_defaults(&back);
    hb_err e;
    cr_assert_eq(hb_trainer_cfg_load(&back, cy, &e), 0, "%s", e.reason);
    cr_assert_str_eq(back.run_dir, c.run_dir);
    cr_assert_float_eq(back.lr, c.lr, 0);
    /* a fresh run into the same directory is refused */
    cr_assert_neq(train_fails(&c, NULL, &e), 0);
    cr_assert(strstr(e.reason, "already holds checkpoints") && strstr(e.reason, "--resume"), "%s", e.reason);
    /* nothing left to resume */
    cr_assert_neq(train_fails(&c, "", &e), 0);
    cr_assert(strstr(e.reason, "nothing left to do"), "%s", e.reason);
    free(svg), free(cy), free(ev), free(sp), free(latest), free(cd);
    tu_rmtree(d);
    free(d);
}

Test(train_run, interrupt_checkpoints_after_the_current_step, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    hb_trainer_cfg c;
    tt_fixture_cfg(&c, d, "run", "ft");
    volatile sig_atomic_t flag = 1;
    hb_trainer_opts o = {.interrupt = &flag};
    hb_trainer_result r;
    hb_err e;
    cr_assert_eq(hb_trainer_run(&c, &o, &r, &e), 0, "%s", e.reason);
    cr_assert(r.interrupted && r.last_step == 1);
    char *s1 = ckpt(&c, 1, "state.json");
    cr_assert(hb_path_exists(s1));
    train(&c, "", 0, &r);
    cr_assert_eq(r.last_step, 10);
    free(s1);
    tu_rmtree(d);
    free(d);
}

/* Copy of the fixture model with a NaN in row `row` of the embedding table. */
static char *poisoned_model(const char *dir, int row) {
    char *src = tt_fixture("model"), *dst = hb_path_join(dir, "poisoned");
    hb_err e;
    hb_st *st;
    cr_assert_eq(hb_st_open(src, &st, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_mkdir_p(dst, &e), 0);
    hb_st_writer *w = hb_st_writer_new();
    float **bufs = calloc(hb_st_count(st), sizeof *bufs);
    for (size_t i = 0; i < hb_st_count(st); i++) {
        const hb_st_tensor *t = hb_st_at(st, i);
        bufs[i] = malloc((size_t)t->numel * 4);
        memcpy(bufs[i], t->data, (size_t)t->numel * 4);
        if (!strcmp(t->name, "language_model.model.embed_tokens.weight"))
            for (int64_t k = 0; k < t->shape[1]; k++) bufs[i][row * t->shape[1] + k] = NAN;
        cr_assert_eq(hb_st_writer_add(w, t->name, HB_ST_F32, t->ndim, t->shape, bufs[i], &e), 0);
    }
    char *mp = hb_path_join(dst, "model.safetensors"), *cs = hb_path_join(src, "config.json");
    char *cd = hb_path_join(dst, "config.json"), cmd[4200];
    cr_assert_eq(hb_st_writer_save(w, mp, 0, &e), 0, "%s", e.reason);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", cs, cd);
    cr_assert_eq(system(cmd), 0);
    for (size_t i = 0; i < hb_st_count(st); i++) free(bufs[i]);
    free(bufs);
    hb_st_writer_free(w);
    hb_st_close(st);
    free(src), free(mp), free(cs), free(cd);
    return dst;
}

Test(train_run, nonfinite_loss_stops_naming_step_and_samples_or_is_skipped, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    char *model = poisoned_model(d, 49); /* token 49 occurs only in sample fx/29 (step 8) */
    hb_trainer_cfg c;
    tt_fixture_cfg(&c, d, "stop", "ft");
    snprintf(c.model_checkpoint, sizeof c.model_checkpoint, "%s", model);
    c.ckpt_every = 2;
    hb_err e;
    cr_assert_neq(train_fails(&c, NULL, &e), 0);
    cr_assert(strstr(e.reason, "step 8: non-finite loss") && strstr(e.reason, "fx/29"), "%s", e.reason);
    char *last = NULL, *l = hb_path_join(c.run_dir, "checkpoints/latest");
    size_t len;
    last = (char *)tu_read(l, &len);
    cr_assert_str_eq(last, "step-00000006\n"); /* the last good checkpoint stays */
    free(last), free(l);
    tt_logrec g[16];
    cr_assert_eq(tt_read_log(c.run_dir, g, 16), 7); /* the log ends at the last finished step */
    /* skip: step 8 is skipped and counted, training goes on */
    tt_fixture_cfg(&c, d, "skip", "ft");
    snprintf(c.model_checkpoint, sizeof c.model_checkpoint, "%s", model);
    c.on_nonfinite = HB_NONFINITE_SKIP;
    hb_trainer_result r;
    train(&c, NULL, 0, &r);
    cr_assert_eq(r.last_step, 10);
    cr_assert_eq(r.skipped, 1);
    cr_assert_eq(tt_read_log(c.run_dir, g, 16), 10);
    cr_assert(g[7].skipped && isnan(g[7].loss));
    cr_assert(!g[8].skipped && isfinite(g[8].loss));
    char *sp = ckpt(&c, 10, "state.json");
    char *st = (char *)tu_read(sp, &len);
    cr_assert(strstr(st, "\"adam_step\":\t9") || strstr(st, "\"adam_step\": 9") || strstr(st, "\"adam_step\":9"),
              "%s", st);
    free(st), free(sp);
    /* max_skips 0: the first skip stops the run */
    tt_fixture_cfg(&c, d, "skip0", "ft");
    snprintf(c.model_checkpoint, sizeof c.model_checkpoint, "%s", model);
    c.on_nonfinite = HB_NONFINITE_SKIP;
    c.max_skips = 0;
    cr_assert_neq(train_fails(&c, NULL, &e), 0);
    cr_assert(strstr(e.reason, "nonfinite.max_skips"), "%s", e.reason);
    free(model);
    tu_rmtree(d);
    free(d);
}

Test(train_run, full_disk_keeps_the_last_good_checkpoint, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    hb_trainer_cfg a, c;
    hb_trainer_result r;
    tt_fixture_cfg(&a, d, "a", "ft");
    train(&a, NULL, 0, &r);
    tt_fixture_cfg(&c, d, "run", "ft");
    c.ckpt_every = 2;
    train(&c, NULL, 4, &r);
    pid_t pid = fork();
    if (pid == 0) { /* files may not grow past 64 KiB: the model file of the next checkpoint cannot be written */
        struct rlimit rl = {65536, 65536};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        hb_err e;
        int rc = train_fails(&c, "", &e);
        int ok = rc && strstr(e.reason, "step-00000006") && strstr(e.reason, "earlier checkpoints are intact");
        if (!ok) fprintf(stderr, "unexpected: rc %d: %s\n", rc, e.reason);
        _exit(ok ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *l = hb_path_join(c.run_dir, "checkpoints/latest"), cmd[4200];
    size_t len;
    char *last = (char *)tu_read(l, &len);
    cr_assert_str_eq(last, "step-00000004\n");
    snprintf(cmd, sizeof cmd, "ls -a '%s/checkpoints' | tr '\\n' ' '", c.run_dir);
    char *out = NULL;
    tu_run(cmd, &out);
    cr_assert_str_eq(out, ". .. latest step-00000002 step-00000004 ", "%s", out);
    /* and the run resumes from it to the same result as an uninterrupted one */
    train(&c, "", 0, &r);
    same_logs(a.run_dir, c.run_dir, 10);
    same_checkpoint(&a, &c, 10);
    free(out), free(last), free(l);
    tu_rmtree(d);
    free(d);
}

Test(train_run, refusals_name_the_mismatch, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    hb_trainer_cfg c, t;
    hb_trainer_result r;
    tt_fixture_cfg(&c, d, "run", "ft");
    c.ckpt_every = 2;
    train(&c, NULL, 4, &r);
    hb_err e;
    /* another global batch */
    t = c;
    t.global_batch = 2;
    cr_assert_neq(train_fails(&t, "", &e), 0);
    cr_assert(strstr(e.reason, "global batch of 4"), "%s", e.reason);
    /* another stage */
    t = c;
    t.stage = 0;
    cr_assert_neq(train_fails(&t, "", &e), 0);
    cr_assert(strstr(e.reason, "written by a ft run; this run is pt"), "%s", e.reason);
    /* a model of another architecture */
    t = c;
    char *other = tu_repo("tests/fixtures/model/a");
    snprintf(t.model_checkpoint, sizeof t.model_checkpoint, "%s", other);
    cr_assert_neq(train_fails(&t, "", &e), 0);
    cr_assert(strstr(e.reason, "another architecture") && strstr(e.reason, "hidden_size"), "%s", e.reason);
    /* the same model started fresh: data built for 4 visual tokens per image, model a takes 9 */
    char *rd = hb_path_join(d, "other");
    snprintf(t.run_dir, sizeof t.run_dir, "%s", rd);
    cr_assert_neq(train_fails(&t, NULL, &e), 0);
    cr_assert(strstr(e.reason, "visual tokens per image") || strstr(e.reason, "per image"), "%s", e.reason);
    /* a damaged checkpoint */
    char *op = ckpt(&c, 4, "optimizer.safetensors"), cmd[4200];
    snprintf(cmd, sizeof cmd, "printf 'z' | dd of='%s' bs=1 seek=300 conv=notrunc 2>/dev/null", op);
    cr_assert_eq(system(cmd), 0);
    cr_assert_neq(train_fails(&c, "", &e), 0);
    cr_assert(strstr(e.reason, "damaged") && strstr(e.file, "optimizer.safetensors"), "%s: %s", e.file, e.reason);
    /* an explicit older checkpoint still works */
    char *s2 = ckpt(&c, 2, NULL);
    train(&c, s2, 0, &r);
    cr_assert_eq(r.last_step, 10);
    free(s2), free(op), free(rd), free(other);
    tu_rmtree(d);
    free(d);
}

Test(train_run, init_from_a_preset_trains_on_matching_data, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_synth_data(d, 24, 16, 9, 128, 1); /* the tiny preset: 16 px, 9 visual tokens, 128 tokens */
    hb_trainer_cfg c;
    hb_trainer_cfg_defaults(&c);
    hb_err e;
    char *rd = hb_path_join(d, "run"), *plan = hb_path_join(d, "plan.hbmix");
    const char *kv[][2] = {{"run_dir", rd}, {"stage", "ft"}, {"model.init", "tiny"}, {"data.plan", plan},
                           {"batch.global", "4"}, {"optim.warmup", "1"}, {"optim.lr", "1e-3"}, {"threads", "1"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        cr_assert_eq(hb_trainer_cfg_set(&c, kv[i][0], kv[i][1], &e), 0, "%s", e.reason);
    /* the plan against another shards directory: refused, naming both, before anything is initialised */
    char *od = hb_path_join(d, "other");
    tt_synth_data(od, 20, 16, 9, 128, 1);
    char *oshards = hb_path_join(od, "shards"), *init0 = hb_path_join(rd, "init");
    hb_trainer_cfg t = c;
    cr_assert_eq(hb_trainer_cfg_set(&t, "data.shards", oshards, &e), 0, "%s", e.reason);
    cr_assert_neq(train_fails(&t, NULL, &e), 0);
    cr_assert(strstr(e.reason, "another version of this shard") && strstr(e.reason, "use the shards it was made from"),
              "%s", e.reason);
    cr_assert(strstr(e.file, oshards), "%s", e.file);
    cr_assert(!hb_path_exists(init0), "nothing initialised for a run that cannot start");
    free(od), free(oshards), free(init0);
    hb_trainer_result r;
    train(&c, NULL, 0, &r);
    cr_assert_eq(r.last_step, 6);
    char *init = hb_path_join(rd, "init/model.safetensors");
    cr_assert(hb_path_exists(init));
    /* resuming does not re-initialise */
    free(init), free(rd), free(plan);
    tu_rmtree(d);
    free(d);
}
