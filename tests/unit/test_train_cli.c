/* `hb-train train` as a user runs it: a YAML config with command-line overrides, the progress lines and the plot
 * path, a real SIGKILL after a step and inside a checkpoint (HB_TRAIN_FAULT) followed by --resume, SIGTERM,
 * usage errors, and the checkpoint loaded by `hb-train debug`. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/testutil.h"
#include "helpers/trainutil.h"
#include "model/safetensors.h"

/* dir/train.yaml for the fixture model and data (the ft reference settings). */
static char *write_config(const char *dir, const char *extra) {
    char *model = tt_fixture("model"), *p = hb_path_join(dir, "train.yaml");
    char text[4096];
    snprintf(text, sizeof text,
             "run_dir: run\nstage: ft\nsteps: 10\nthreads: 1\n"
             "model: {checkpoint: %s}\n"
             "data: {plan: plan.hbmix, max_tokens: 32}\n"
             "batch: {global: 4}\n"
             "optim: {lr: 0.002, min_lr: 0.0002, warmup: 3, weight_decay: 0.1, clip: 1.0}\n"
             "checkpoint: {every: 2, keep: 0}\n%s",
             model, extra ? extra : "");
    cr_assert_eq(tu_write(p, text, strlen(text)), 0);
    free(model);
    return p;
}

static int hb_train(const char *dir, const char *args, const char *env, char **out) {
    char *bin = tu_bin("hb-train"), cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s '%s' train %s 2>&1", dir, env ? env : "", bin, args);
    int rc = tu_run(cmd, out);
    free(bin);
    return rc;
}

Test(train_cli, config_overrides_progress_and_plot, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    char *cfg = write_config(d, NULL), *out = NULL;
    int rc = hb_train(d, "--config train.yaml --optim.lr 0.001 --checkpoint.keep 1", NULL, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "memory (cpu"), "%s", out);
    cr_assert(strstr(out, "params") && strstr(out, "optim"), "%s", out);
    cr_assert(strstr(out, "step 1/10  loss ") && strstr(out, "  lr 2.000e-04  gnorm ") && strstr(out, " tok/s  ") &&
                  strstr(out, " s/step  ETA "),
              "%s", out); /* step 1 starts at min_lr */
    cr_assert(strstr(out, "(clipped)"), "%s", out);
    cr_assert(strstr(out, "step 10/10"), "%s", out);
    /* --optim.lr 0.001 overrode the file's 0.002: step 4 is the end of warmup, at the peak */
    cr_assert(strstr(out, "step 4/10  loss ") && strstr(out, "  lr 1.000e-03  gnorm "), "%s", out);
    char want[4200];
    snprintf(want, sizeof want, "loss plot: %s/run/loss.svg", d);
    cr_assert(strstr(out, want), "%s", out);
    snprintf(want, sizeof want, "%s/run/checkpoints", d);
    char cmd[4400], *ls = NULL;
    snprintf(cmd, sizeof cmd, "ls '%s' | tr '\\n' ' '", want);
    tu_run(cmd, &ls);
    cr_assert_str_eq(ls, "latest step-00000010 ", "%s", ls); /* keep 1 */
    /* the effective config records the override */
    snprintf(want, sizeof want, "%s/run/config.yaml", d);
    size_t len;
    char *y = (char *)tu_read(want, &len);
    cr_assert(strstr(y, "  lr: 0.001\n"), "%s", y);
    free(y), free(ls), free(out), free(cfg);
    tu_rmtree(d);
    free(d);
}

static char *file_text(const char *dir, const char *rel) {
    char *p = hb_path_join(dir, rel);
    size_t len;
    char *t = (char *)tu_read(p, &len);
    free(p);
    return t;
}

/* The loss/grad-norm/lr/cursor fields of every line of run/train.jsonl (the timings differ between runs). */
static void same_step_records(const char *d1, const char *d2) {
    char *a = hb_path_join(d1, "run"), *b = hb_path_join(d2, "run");
    tt_logrec x[16], y[16];
    cr_assert_eq(tt_read_log(a, x, 16), 10);
    cr_assert_eq(tt_read_log(b, y, 16), 10);
    for (int i = 0; i < 10; i++) {
        cr_assert(!memcmp(&x[i].loss, &y[i].loss, 8) && !memcmp(&x[i].grad_norm, &y[i].grad_norm, 8) &&
                      !memcmp(&x[i].lr, &y[i].lr, 8) && !strcmp(x[i].cursor, y[i].cursor),
                  "step %d differs: loss %.17g vs %.17g", i + 1, x[i].loss, y[i].loss);
    }
    free(a), free(b);
}

static void same_final(const char *d1, const char *d2) {
    const char *files[2] = {"run/checkpoints/step-00000010/model.safetensors",
                            "run/checkpoints/step-00000010/optimizer.safetensors"};
    for (int k = 0; k < 2; k++) {
        char *a = hb_path_join(d1, files[k]), *b = hb_path_join(d2, files[k]);
        size_t la, lb;
        uint8_t *x = tu_read(a, &la), *y = tu_read(b, &lb);
        cr_assert(x && y && la == lb && !memcmp(x, y, la), "%s differs", files[k]);
        free(x), free(y), free(a), free(b);
    }
}

Test(train_cli, sigkill_then_resume_is_bit_identical, .timeout = 180) {
    char *ref = tu_mkdtemp(), *d = tu_mkdtemp(), *d2 = tu_mkdtemp();
    tt_fixture_data(ref);
    tt_fixture_data(d);
    tt_fixture_data(d2);
    char *c0 = write_config(ref, NULL), *c1 = write_config(d, NULL), *c2 = write_config(d2, NULL), *out = NULL;
    cr_assert_eq(hb_train(ref, "--config train.yaml", NULL, &out), 0, "%s", out);
    free(out);
    /* killed right after step 5 was logged (last checkpoint: step 4) */
    int rc = hb_train(d, "--config train.yaml", "HB_TRAIN_FAULT=kill-after-step:5", &out);
    cr_assert_neq(rc, 0, "%s", out);
    free(out);
    char *latest = file_text(d, "run/checkpoints/latest");
    cr_assert_str_eq(latest, "step-00000004\n");
    free(latest);
    rc = hb_train(d, "--config train.yaml --resume", NULL, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "resuming from ") && strstr(out, "at step 4 of 10"), "%s", out);
    free(out);
    same_step_records(ref, d);
    same_final(ref, d);
    /* killed in the middle of writing checkpoint 6 (model written, optimizer not): the temporary directory is
     * left behind, `latest` still names step 4, and the resumed run cleans up and ends the same */
    rc = hb_train(d2, "--config train.yaml", "HB_TRAIN_FAULT=kill-in-checkpoint:6", &out);
    cr_assert_neq(rc, 0, "%s", out);
    free(out);
    char cmd[4400], *ls = NULL;
    snprintf(cmd, sizeof cmd, "ls -a '%s/run/checkpoints' | grep -c '^.tmp-step-00000006'", d2);
    tu_run(cmd, &ls);
    cr_assert_str_eq(ls, "1\n");
    free(ls);
    latest = file_text(d2, "run/checkpoints/latest");
    cr_assert_str_eq(latest, "step-00000004\n");
    free(latest);
    cr_assert_eq(hb_train(d2, "--config train.yaml --resume", NULL, &out), 0, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "ls -a '%s/run/checkpoints' | grep -c '^.tmp'", d2);
    tu_run(cmd, &ls);
    cr_assert_str_eq(ls, "0\n");
    free(ls);
    same_step_records(ref, d2);
    same_final(ref, d2);
    free(c0), free(c1), free(c2);
    tu_rmtree(ref), tu_rmtree(d), tu_rmtree(d2);
    free(ref), free(d), free(d2);
}

Test(train_cli, sigterm_checkpoints_and_exits_cleanly, .timeout = 180) {
    char *d = tu_mkdtemp();
    tt_synth_data(d, 2000, 16, 4, 64, 2);
    char *cfg = write_config(d, NULL);
    char *bin = tu_bin("hb-train"), *log = hb_path_join(d, "run/train.jsonl");
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(d)) _exit(99);
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(bin, bin, "train", "--config", "train.yaml", "--steps", "500", "--data.max_tokens", "64",
              "--checkpoint.every", "0", (char *)NULL);
        _exit(98);
    }
    int status = 0, gone = 0;
    for (int i = 0; i < 6000 && !gone; i++) { /* wait for the first logged step */
        gone = waitpid(pid, &status, WNOHANG) == pid;
        size_t len = 0;
        uint8_t *t = tu_read(log, &len);
        free(t);
        if (len > 0) break;
        usleep(10000);
    }
    cr_assert(!gone, "hb-train exited early (status %d)", status);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    char *latest = file_text(d, "run/checkpoints/latest");
    cr_assert_not_null(latest);
    cr_assert_str_neq(latest, "step-00000500\n"); /* stopped early, with a checkpoint */
    char *ev = file_text(d, "run/events.jsonl");
    cr_assert(strstr(ev, "\"reason\":\"interrupted\""), "%s", ev);
    free(ev), free(latest), free(log), free(bin), free(cfg);
    tu_rmtree(d);
    free(d);
}

Test(train_cli, usage_and_input_errors) {
    char *d = tu_mkdtemp();
    char *out = NULL;
    cr_assert_eq(hb_train(d, "--optim.lrr 1", NULL, &out), 2);
    cr_assert(strstr(out, "unknown setting 'optim.lrr'"), "%s", out);
    free(out);
    cr_assert_eq(hb_train(d, "--steps ten", NULL, &out), 2);
    cr_assert(strstr(out, "steps: expected an integer"), "%s", out);
    free(out);
    cr_assert_eq(hb_train(d, "--until 0", NULL, &out), 2);
    free(out);
    cr_assert_eq(hb_train(d, "--config missing.yaml", NULL, &out), 1);
    cr_assert(strstr(out, "missing.yaml"), "%s", out);
    free(out);
    cr_assert_eq(hb_train(d, "--run_dir r --stage pt --model.init tiny --data.plan nope.hbmix", NULL, &out), 1);
    cr_assert(strstr(out, "nope.hbmix") && strstr(out, "cannot open mix plan"), "%s", out);
    free(out);
    cr_assert_eq(hb_train(d, "--help-config", NULL, &out), 0);
    cr_assert(strstr(out, "--optim.clip") && strstr(out, "most likely had no clipping"), "%s", out);
    free(out);
    tu_rmtree(d);
    free(d);
}

Test(train_cli, checkpoints_load_in_hb_train_debug, .timeout = 120) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    char *cfg = write_config(d, NULL), *out = NULL;
    cr_assert_eq(hb_train(d, "--config train.yaml --steps 2", NULL, &out), 0, "%s", out);
    free(out);
    /* a batch in hb-train debug's format: one image, 4 placeholders */
    float px[3 * 16 * 16];
    for (int i = 0; i < 3 * 16 * 16; i++) px[i] = (float)((i * 37) % 100) / 50.0f - 1.0f;
    int32_t ids[12] = {1, -1, -1, -1, -1, 5, 6, 7, 8, 9, 2, 0};
    int32_t lab[12] = {-100, -100, -100, -100, -100, -100, -100, 7, 8, 9, 2, -100};
    int64_t sp[4] = {1, 3, 16, 16}, si[2] = {1, 12};
    hb_st_writer *w = hb_st_writer_new();
    hb_err e;
    cr_assert_eq(hb_st_writer_add(w, "pixel_values", HB_ST_F32, 4, sp, px, &e), 0);
    cr_assert_eq(hb_st_writer_add(w, "input_ids", HB_ST_I32, 2, si, ids, &e), 0);
    cr_assert_eq(hb_st_writer_add(w, "labels", HB_ST_I32, 2, si, lab, &e), 0);
    char *bp = hb_path_join(d, "batch.safetensors");
    cr_assert_eq(hb_st_writer_save(w, bp, 0, &e), 0);
    hb_st_writer_free(w);
    char *bin = tu_bin("hb-train"), cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' debug --checkpoint run/checkpoints/step-00000002 --stage ft "
                              "--batch batch.safetensors --out dbg.safetensors --threads 1 2>&1", d, bin);
    cr_assert_eq(tu_run(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "stage ft: loss "), "%s", out);
    free(out), free(bp), free(bin), free(cfg);
    tu_rmtree(d);
    free(d);
}
