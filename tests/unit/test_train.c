/* The trainer's parts: the learning-rate schedule, the configuration (YAML, overrides, checks, dump), sequence
 * building (labels, truncation around images), pixel normalisation, and the loader (order, padding, rank slices,
 * image budget, prefetch independence, bad plans and shards). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers/testutil.h"
#include "helpers/trainutil.h"
#include "model/config.h"
#include "model/loader.h"
#include "model/trainer.h"
#include "model/trainer_internal.h"
#include "recipe/yaml.h"

/* ---- schedule (spec-model.md §7.1) ---- */
Test(train_sched, warmup_from_min_lr_then_cosine_to_min_lr) {
    /* lr 1e-4, min 1e-5 (r = 0.1), W = 10, T = 110 */
    cr_assert_float_eq(hb_trainer_lr(1e-4, 1e-5, 10, 110, 0), 1e-5, 1e-20);
    cr_assert_float_eq(hb_trainer_lr(1e-4, 1e-5, 10, 110, 5), 1e-4 * (0.1 + 0.9 * 0.5), 1e-18);
    cr_assert_float_eq(hb_trainer_lr(1e-4, 1e-5, 10, 110, 10), 1e-4, 1e-18);
    cr_assert_float_eq(hb_trainer_lr(1e-4, 1e-5, 10, 110, 60), 1e-4 * (0.1 + 0.9 * 0.5), 1e-18); /* cos(pi/2) */
    cr_assert_float_eq(hb_trainer_lr(1e-4, 1e-5, 10, 110, 109), 1e-4 * (0.1 + 0.45 * (1 + cos(M_PI * 0.99))), 1e-18);
    cr_assert_float_eq(hb_trainer_lr(1e-4, 1e-5, 10, 110, 110), 1e-5, 1e-18);
    cr_assert_float_eq(hb_trainer_lr(1e-4, 1e-5, 10, 110, 500), 1e-5, 1e-18);
    /* no warmup: the first step is at the peak */
    cr_assert_float_eq(hb_trainer_lr(2e-5, 1e-6, 0, 100, 0), 2e-5, 1e-20);
    /* monotone up during warmup, monotone down after */
    for (int k = 1; k < 110; k++) {
        double a = hb_trainer_lr(1e-4, 1e-5, 10, 110, k - 1), b = hb_trainer_lr(1e-4, 1e-5, 10, 110, k);
        cr_assert(k <= 10 ? b > a : b <= a, "k=%d", k);
    }
}

/* ---- configuration ---- */
static char *write_tmp(const char *dir, const char *name, const char *text) {
    char *p = hb_path_join(dir, name);
    cr_assert_eq(tu_write(p, text, strlen(text)), 0);
    return p;
}

Test(train_cfg, yaml_sections_overrides_defaults_and_paths) {
    char *d = tu_mkdtemp();
    char *p = write_tmp(d, "t.yaml",
                        "run_dir: runs/a\nstage: pt\nsteps: 50\nmodel: {checkpoint: ckpt}\n"
                        "data:\n  plan: mix/plan.hbmix\n  max_tokens: 512\n"
                        "batch: {global: 8, micro: 2, loss: micro}\noptim: {lr: 3.0e-4, clip: 0}\n"
                        "checkpoint: {every: 10, keep: 0, dtype: bf16}\nnonfinite: {action: skip}\n");
    hb_trainer_cfg c;
    hb_trainer_cfg_defaults(&c);
    hb_err e;
    cr_assert_eq(hb_trainer_cfg_load(&c, p, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_trainer_cfg_set(&c, "optim.lr", "5e-4", &e), 0); /* the command line wins */
    cr_assert_eq(hb_trainer_cfg_set(&c, "batch.ranks", "2", &e), 0);
    cr_assert_eq(hb_trainer_cfg_finish(&c, &e), 0, "%s", e.reason);
    char want[2048];
    snprintf(want, sizeof want, "%s/runs/a", d);
    cr_assert_str_eq(c.run_dir, want); /* relative to the file's directory, made absolute */
    snprintf(want, sizeof want, "%s/mix/plan.hbmix", d);
    cr_assert_str_eq(c.data_plan, want);
    cr_assert_eq(c.stage, 0);
    cr_assert_eq(c.steps, 50);
    cr_assert_eq(c.max_tokens, 512);
    cr_assert_eq(c.global_batch, 8);
    cr_assert_eq(c.micro_batch, 2);
    cr_assert_eq(c.ranks, 2);
    cr_assert_eq(c.loss_norm, HB_LOSS_MICRO);
    cr_assert_float_eq(c.lr, 5e-4, 1e-18);
    cr_assert_float_eq(c.min_lr, 1e-5, 1e-18);  /* PT defaults (spec-model.md §7.2) */
    cr_assert_eq(c.warmup, 2000);
    cr_assert_float_eq(c.weight_decay, 0.01, 1e-18);
    cr_assert_float_eq(c.clip, 0, 0);
    cr_assert_float_eq(c.beta2, 0.98, 0);
    cr_assert_float_eq(c.eps, 1e-6, 0);
    cr_assert_eq(c.ckpt_bf16, 1);
    cr_assert_eq(c.ckpt_keep, 0);
    cr_assert_eq(c.on_nonfinite, HB_NONFINITE_SKIP);
    /* FT defaults (§7.3) */
    hb_trainer_cfg f;
    hb_trainer_cfg_defaults(&f);
    cr_assert_eq(hb_trainer_cfg_load(&f, p, &e), 0);
    cr_assert_eq(hb_trainer_cfg_set(&f, "stage", "ft", &e), 0);
    cr_assert_eq(hb_trainer_cfg_set(&f, "optim.lr", "-1", &e), 0);
    cr_assert_eq(hb_trainer_cfg_finish(&f, &e), 0, "%s", e.reason);
    cr_assert_float_eq(f.lr, 2e-5, 1e-20);
    cr_assert_float_eq(f.min_lr, 1e-6, 1e-20);
    cr_assert_eq(f.warmup, 150);
    cr_assert_float_eq(f.weight_decay, 1e-4, 1e-20);
    free(p);
    tu_rmtree(d);
    free(d);
}

Test(train_cfg, dump_reloads_to_the_same_config) {
    hb_trainer_cfg c, back;
    hb_trainer_cfg_defaults(&c);
    hb_err e;
    const char *kv[][2] = {{"run_dir", "/r/x"}, {"stage", "ft"}, {"data.plan", "/p/plan.hbmix"},
                           {"model.init", "tiny"}, {"optim.lr", "0.1"}, {"optim.beta1", "0.85"},
                           {"batch.loss", "micro"}, {"checkpoint.dtype", "bf16"}, {"threads", "3"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        cr_assert_eq(hb_trainer_cfg_set(&c, kv[i][0], kv[i][1], &e), 0, "%s", e.reason);
    cr_assert_str_eq(c.model_init, "tiny"); /* a preset name is not a path */
    hb_buf y = {0};
    hb_trainer_cfg_yaml(&c, &y);
    cJSON *t;
    cr_assert_eq(hb_yaml_parse((const char *)y.data, y.len, "dump", &t, &e), 0, "%s\n%s", e.reason, hb_buf_cstr(&y));
    hb_trainer_cfg_defaults(&back);
    cr_assert_eq(hb_trainer_cfg_apply_tree(&back, t, "dump", "/", &e), 0, "%s", e.reason);
    int n;
    const hb_trainer_field *f = hb_trainer_cfg_fields(&n);
    for (int i = 0; i < n; i++) {
        hb_buf a = {0}, b = {0};
        hb_trainer_cfg_get(&c, f[i].name, &a);
        hb_trainer_cfg_get(&back, f[i].name, &b);
        cr_assert_str_eq(hb_buf_cstr(&a), hb_buf_cstr(&b), "%s", f[i].name);
        hb_buf_free(&a), hb_buf_free(&b);
    }
    cJSON_Delete(t);
    hb_buf_free(&y);
}

Test(train_cfg, bad_configs_name_the_field) {
    char *d = tu_mkdtemp();
    const char *cases[][2] = {
        {"run_dir: a\nstage: pt\nbatch: {globl: 4}\n", "batch.globl: unknown key"},
        {"run_dir: a\nstage: pt\nsteps: 2.5\n", "steps: expected an integer"},
        {"run_dir: a\nstage: pt\nsteps: ten\n", "steps: expected a number"},
        {"run_dir: a\nstage: mid\n", "stage: 'mid' is not one of pt|ft"},
        {"run_dir: a\nstage: pt\noptim: 3\n", "optim: expected a mapping"},
        {"run_dir: a\nstage: pt\nfoo: 1\n", "foo: unknown key"},
        {"run_dir: a\nstage: [pt]\n", "stage: expected a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = write_tmp(d, "bad.yaml", cases[i][0]);
        hb_trainer_cfg c;
        hb_trainer_cfg_defaults(&c);
        hb_err e;
        cr_assert_neq(hb_trainer_cfg_load(&c, p, &e), 0, "case %zu", i);
        cr_assert(strstr(e.reason, cases[i][1]), "case %zu: %s", i, e.reason);
        cr_assert(strstr(e.file, "bad.yaml"), "case %zu: %s", i, e.file);
        free(p);
    }
    const char *fin[][3] = {
        {"", "", "run_dir: required"},
        {"run_dir", "/x", "stage: required"},
        {"stage", "ft", "data.plan: required"},
        {"data.plan", "/p", "give exactly one of model.checkpoint and model.init"},
    };
    hb_trainer_cfg c;
    hb_trainer_cfg_defaults(&c);
    hb_err e;
    for (size_t i = 0; i < sizeof fin / sizeof fin[0]; i++) {
        if (fin[i][0][0]) cr_assert_eq(hb_trainer_cfg_set(&c, fin[i][0], fin[i][1], &e), 0);
        hb_trainer_cfg t = c;
        cr_assert_neq(hb_trainer_cfg_finish(&t, &e), 0);
        cr_assert(strstr(e.reason, fin[i][2]), "%zu: %s", i, e.reason);
    }
    cr_assert_eq(hb_trainer_cfg_set(&c, "model.init", "tiny", &e), 0);
    const char *bad[][3] = {{"optim.min_lr", "1", "above optim.lr"}, {"batch.ranks", "0", "batch.ranks"},
                            {"optim.beta2", "1", "optim.beta2"}, {"log.every", "0", "log.every"},
                            {"data.max_tokens", "1", "data.max_tokens"}, {"backend", "tpu", "not a backend"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hb_trainer_cfg t = c;
        cr_assert_eq(hb_trainer_cfg_set(&t, bad[i][0], bad[i][1], &e), 0);
        cr_assert_neq(hb_trainer_cfg_finish(&t, &e), 0, "%s", bad[i][0]);
        cr_assert(strstr(e.reason, bad[i][2]), "%s: %s", bad[i][0], e.reason);
    }
    cr_assert_neq(hb_trainer_cfg_set(&c, "optim.lrr", "1", &e), 0);
    cr_assert(strstr(e.reason, "unknown setting 'optim.lrr'"));
    cr_assert_neq(hb_trainer_cfg_set(&c, "optim.lr", "nan", &e), 0);
    cr_assert_neq(hb_trainer_cfg_set(&c, "steps", "1e3", &e), 0);
    tu_rmtree(d);
    free(d);
}

/* ---- sequences and pixels ---- */
Test(train_seq, labels_and_truncation_around_images) {
    /* BOS, 2 images (runs of 3) back to back, text, answer */
    const int32_t tok[] = {1, -1, -1, -1, -1, -1, -1, 7, 8, 9, 2};
    const uint8_t mask[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1};
    int32_t ids[16], lab[16];
    int64_t len, im;
    hb_err e;
    cr_assert_eq(hb_loader_sequence(tok, mask, 11, 2, 16, 3, ids, lab, &len, &im, "s", &e), 0, "%s", e.reason);
    cr_assert_eq(len, 11);
    cr_assert_eq(im, 2);
    int32_t want_lab[] = {-100, -100, -100, -100, -100, -100, -100, -100, 8, 9, 2};
    cr_assert_arr_eq(lab, want_lab, sizeof want_lab);
    cr_assert_arr_eq(ids, tok, sizeof tok);
    /* a cut inside the second image moves back to its start: one image kept */
    cr_assert_eq(hb_loader_sequence(tok, mask, 11, 2, 6, 3, ids, lab, &len, &im, "s", &e), 0);
    cr_assert_eq(len, 4);
    cr_assert_eq(im, 1);
    /* a cut exactly at the end of the first image keeps it */
    cr_assert_eq(hb_loader_sequence(tok, mask, 11, 2, 4, 3, ids, lab, &len, &im, "s", &e), 0);
    cr_assert_eq(len, 4);
    cr_assert_eq(im, 1);
    /* inside the first image: nothing but BOS */
    cr_assert_eq(hb_loader_sequence(tok, mask, 11, 2, 3, 3, ids, lab, &len, &im, "s", &e), 0);
    cr_assert_eq(len, 1);
    cr_assert_eq(im, 0);
    /* a cut in text */
    cr_assert_eq(hb_loader_sequence(tok, mask, 11, 2, 9, 3, ids, lab, &len, &im, "s", &e), 0);
    cr_assert_eq(len, 9);
    cr_assert_eq(im, 2);
    cr_assert_eq(lab[8], 8);
    /* shards compiled for another number of visual tokens */
    cr_assert_neq(hb_loader_sequence(tok, mask, 11, 2, 16, 4, ids, lab, &len, &im, "vqav2/7", &e), 0);
    cr_assert(strstr(e.reason, "run of 6 image placeholders") && strstr(e.reason, "4 visual tokens"), "%s", e.reason);
    cr_assert_str_eq(e.file, "vqav2/7");
    /* image count disagrees with the placeholders */
    cr_assert_neq(hb_loader_sequence(tok, mask, 11, 1, 16, 3, ids, lab, &len, &im, "s", &e), 0);
    cr_assert(strstr(e.reason, "6 image placeholders for 1 images"), "%s", e.reason);
    /* a sample compiled without its image (hb-prep --no-images, images: none) */
    cr_assert_neq(hb_loader_sequence(tok, mask, 11, 0, 16, 3, ids, lab, &len, &im, "vsr/3", &e), 0);
    cr_assert(strstr(e.reason, "no image") && strstr(e.reason, "images: none"), "%s", e.reason);
    /* a supervised placeholder */
    const uint8_t bad[] = {0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1};
    cr_assert_neq(hb_loader_sequence(tok, bad, 11, 2, 16, 3, ids, lab, &len, &im, "s", &e), 0);
    cr_assert(strstr(e.reason, "loss-mask 1"), "%s", e.reason);
}

Test(train_seq, pixels_are_torchvision_to_tensor_then_normalize) {
    const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f}, std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    uint8_t hwc[2 * 2 * 3];
    for (int i = 0; i < 12; i++) hwc[i] = (uint8_t)(i * 23);
    float chw[12];
    hb_loader_pixels(hwc, 2, mean, std, chw);
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 4; p++) {
            float v = (float)hwc[p * 3 + c] / 255.0f;
            float want = (v - mean[c]) / std[c];
            cr_assert_eq(memcmp(&chw[c * 4 + p], &want, 4), 0, "c%d p%d", c, p);
        }
    /* the extremes, as plain numbers: (0 - mean)/std and (1 - mean)/std */
    uint8_t ends[6] = {0, 0, 0, 255, 255, 255};
    float out[6];
    hb_loader_pixels(ends, 1, mean, std, out);
    (void)out;
    hb_loader_pixels(ends + 3, 1, mean, std, out + 3);
    cr_assert_float_eq(out[0], -1.7922625, 1e-6);
    cr_assert_float_eq(out[3], 1.9303361, 1e-6);
}

/* ---- the loader ---- */
typedef struct {
    int64_t step, index, rank, first_seq, batch, seq, n_images, tokens, supervised;
    uint64_t hash; /* of ids, labels and pixels */
} mb_sum;

static int collect(const char *dir, int64_t G, int64_t micro, int64_t ranks, int64_t max_images, int prefetch,
                   int64_t max_tokens, int64_t steps, mb_sum *out, int cap, hb_err *e) {
    char *plan = hb_path_join(dir, "plan.hbmix");
    hb_loader_opts o = {.plan = plan, .global_batch = G, .micro_batch = micro, .ranks = ranks,
                        .max_tokens = max_tokens, .max_images = max_images, .prefetch = prefetch, .image_size = 16,
                        .visual_tokens = 4, .vocab_size = 64, .mean = {0.5f, 0.5f, 0.5f}, .std = {0.25f, 0.25f, 0.25f}};
    hb_loader *L;
    int rc = hb_loader_open(&L, &o, e);
    free(plan);
    if (rc) return -1;
    int n = 0;
    if (hb_loader_start(L, 0, steps, e)) {
        hb_loader_close(L);
        return -1;
    }
    for (;;) {
        const hb_microbatch *mb;
        rc = hb_loader_next(L, &mb, e);
        if (rc == HB_ERANGE) break;
        if (rc) {
            n = -1;
            break;
        }
        cr_assert_lt(n, cap);
        hb_hasher *h = hb_hasher_new(0);
        hb_hasher_update(h, mb->b.input_ids, (size_t)(mb->b.batch * mb->b.seq) * 4);
        hb_hasher_update(h, mb->b.labels, (size_t)(mb->b.batch * mb->b.seq) * 4);
        if (mb->b.n_images) hb_hasher_update(h, mb->b.pixels, (size_t)mb->b.n_images * 3 * 16 * 16 * 4);
        out[n++] = (mb_sum){mb->step, mb->index, mb->rank, mb->first_seq, mb->b.batch, mb->b.seq, mb->b.n_images,
                            mb->tokens, mb->supervised, hb_hasher_digest(h)};
        hb_hasher_free(h);
        /* padding: right, id 0, label -100, to the longest sequence */
        for (int64_t i = 0; i < mb->b.batch; i++) {
            int64_t len = mb->b.seq;
            while (len > 0 && mb->b.input_ids[i * mb->b.seq + len - 1] == 0) len--;
            for (int64_t t = len; t < mb->b.seq; t++) cr_assert_eq(mb->b.labels[i * mb->b.seq + t], -100);
            cr_assert_not_null(mb->ids[i]);
        }
    }
    hb_loader_close(L);
    return n;
}

Test(train_loader, stream_order_padding_ranks_and_prefetch_independence, .timeout = 60) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    mb_sum a[256], b[256], c[256];
    hb_err e;
    int na = collect(d, 4, 4, 1, 8, 1, 32, 10, a, 256, &e);
    cr_assert_eq(na, 10, "%s", e.reason);
    int64_t tok = 0;
    for (int i = 0; i < na; i++) {
        cr_assert_eq(a[i].step, i);
        cr_assert_eq(a[i].first_seq, 4 * i);
        cr_assert_eq(a[i].batch, 4);
        tok += a[i].tokens;
    }
    /* the same stream with deep prefetch: identical micro-batches */
    int nb = collect(d, 4, 4, 1, 8, 16, 32, 10, b, 256, &e);
    cr_assert_eq(nb, na);
    for (int i = 0; i < na; i++) cr_assert_eq(a[i].hash, b[i].hash, "micro-batch %d", i);
    /* 2 ranks x micro 1: 4 micro-batches per step, rank slices of 2 consecutive sequences */
    int nc = collect(d, 4, 1, 2, 8, 3, 32, 10, c, 256, &e);
    cr_assert_eq(nc, 40);
    int64_t tok2 = 0;
    for (int i = 0; i < nc; i++) {
        cr_assert_eq(c[i].step, i / 4);
        cr_assert_eq(c[i].index, i % 4);
        cr_assert_eq(c[i].rank, (i % 4) / 2);
        cr_assert_eq(c[i].first_seq, i);
        tok2 += c[i].tokens;
    }
    cr_assert_eq(tok, tok2);
    /* an image budget of 2 closes micro-batches early (fx/4 holds 2 images): same sequences, more micro-batches */
    int nd = collect(d, 4, 4, 1, 2, 2, 32, 10, c, 256, &e);
    cr_assert_gt(nd, 10);
    int64_t seqs = 0;
    for (int i = 0; i < nd; i++) {
        cr_assert_leq(c[i].n_images, 2);
        seqs += c[i].batch;
    }
    cr_assert_eq(seqs, 40);
    /* truncation: sample 13 is longer than 32 tokens */
    int ne = collect(d, 4, 4, 1, 8, 2, 1024, 10, c, 256, &e);
    cr_assert_eq(ne, 10);
    cr_assert_gt(c[3].tokens, a[3].tokens);
    tu_rmtree(d);
    free(d);
}

Test(train_loader, bad_plans_shards_and_samples, .timeout = 60) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    mb_sum s[64];
    hb_err e;
    /* a sample holding more images than the per-micro-batch budget */
    cr_assert_eq(collect(d, 4, 4, 1, 1, 1, 32, 10, s, 64, &e), -1);
    cr_assert(strstr(e.reason, "fx/4 holds 2 images") && strstr(e.reason, "data.max_images"), "%s", e.reason);
    /* more steps than the plan holds */
    cr_assert_eq(collect(d, 4, 4, 1, 8, 1, 32, 11, s, 64, &e), -1);
    cr_assert(strstr(e.reason, "the plan holds 10"), "%s", e.reason);
    /* a shard rewritten after planning: checksum mismatch names the shard and says what to do */
    char *sh = hb_path_join(d, "shards/train-00001.hbs"), *keep = hb_path_join(d, "keep.hbs");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && printf 'x' | dd of='%s' bs=1 seek=40 conv=notrunc 2>/dev/null", sh,
             keep, sh);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(collect(d, 4, 4, 1, 8, 1, 32, 10, s, 64, &e), -1);
    cr_assert(strstr(e.file, "train-00001.hbs") || strstr(e.reason, "train-00001.hbs"), "%s: %s", e.file, e.reason);
    /* a missing shard */
    cr_assert_eq(unlink(sh), 0);
    cr_assert_eq(collect(d, 4, 4, 1, 8, 1, 32, 10, s, 64, &e), -1);
    cr_assert(strstr(e.reason, "names shard train-00001.hbs"), "%s", e.reason);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", keep, sh);
    cr_assert_eq(system(cmd), 0);
    /* a damaged plan */
    char *plan = hb_path_join(d, "plan.hbmix");
    snprintf(cmd, sizeof cmd, "printf 'y' | dd of='%s' bs=1 seek=100 conv=notrunc 2>/dev/null", plan);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(collect(d, 4, 4, 1, 8, 1, 32, 10, s, 64, &e), -1);
    cr_assert(strstr(e.reason, "hash") || strstr(e.reason, "not a valid mix plan"), "%s", e.reason);
    free(plan), free(sh), free(keep);
    tu_rmtree(d);
    free(d);
}

Test(train_loader, missing_images_and_vocabulary_errors_name_the_sample, .timeout = 60) {
    char *d = tu_mkdtemp();
    tt_fixture_data(d);
    mb_sum s[64];
    hb_err e;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -r '%s/shards/images'", d);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(collect(d, 4, 4, 1, 8, 1, 32, 10, s, 64, &e), -1);
    cr_assert(strstr(e.reason, "sample fx/0 needs an image"), "%s", e.reason);
    tu_rmtree(d);
    free(d);
    /* tokens beyond the model's vocabulary: synthetic data with V = 200 read by a 64-token model */
    d = tu_mkdtemp();
    tt_synth_data(d, 8, 16, 4, 200, 1);
    cr_assert_eq(collect(d, 4, 4, 1, 8, 1, 64, 2, s, 64, &e), -1);
    cr_assert(strstr(e.reason, "outside the model's vocabulary of 64") && strstr(e.reason, "sample syn/"), "%s",
              e.reason);
    tu_rmtree(d);
    free(d);
}

/* ---- the shipped files ---- */
Test(train_cfg, demo_config_and_docs) {
    char *p = tu_repo("examples/train/demo.yaml"), *m = tu_repo("examples/train/tiny-224.json");
    hb_trainer_cfg c;
    hb_trainer_cfg_defaults(&c);
    hb_err e;
    cr_assert_eq(hb_trainer_cfg_load(&c, p, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_trainer_cfg_finish(&c, &e), 0, "%s", e.reason);
    cr_assert(strstr(c.data_plan, "demo-out/shards/mix-demo/plan.hbmix"), "%s", c.data_plan);
    cr_assert(strstr(c.model_init, "examples/train/tiny-224.json"), "%s", c.model_init);
    hb_model_cfg mc;
    cr_assert_eq(hb_config_load(m, &mc, &e), 0, "%s", e.reason);
    /* the demo recipe's shape: 224 px, 144 visual tokens, the LLaMA vocabulary */
    cr_assert_eq(mc.vision.image_size, 224);
    cr_assert_eq(hb_config_visual_tokens(&mc), 144);
    cr_assert_eq(mc.text.vocab_size, 32000);
    /* docs/training.md documents every field */
    char *doc = tu_repo("docs/training.md");
    size_t len;
    char *t = (char *)tu_read(doc, &len);
    cr_assert_not_null(t);
    int n;
    const hb_trainer_field *f = hb_trainer_cfg_fields(&n);
    for (int i = 0; i < n; i++) {
        char want[128];
        snprintf(want, sizeof want, "| `%s` |", f[i].name);
        cr_assert(strstr(t, want), "docs/training.md has no row for %s", f[i].name);
    }
    free(t), free(doc), free(p), free(m);
}

/* Found by fuzzing (fuzz_ckpt_state): counts in state.json were converted to integers unchecked ("step": 1e300 is
 * undefined behaviour; -0.5 or 2.5 were truncated). Counts must be integers in [0, 2^53]. */
Test(train_ckpt, state_json_counts_are_checked) {
    char *d = tu_mkdtemp(), *p = hb_path_join(d, "state.json");
    const char *head = "{\"format\":\"hb-train-state\",\"cursor\":\"0123456789abcdef:4\",\"plan_hash\":\"0123456789abcdef\","
                       "\"stage\":\"ft\",\"files\":{},";
    const struct {
        const char *rest;
        int ok;
    } cases[] = {
        {"\"step\":10,\"adam_step\":9,\"skipped\":1,\"global_batch\":4,\"tokens\":100}", 1},
        {"\"step\":1e300,\"adam_step\":9,\"skipped\":1,\"global_batch\":4}", 0},
        {"\"step\":10,\"adam_step\":-1e300,\"skipped\":1,\"global_batch\":4}", 0},
        {"\"step\":10,\"adam_step\":9,\"skipped\":2.5,\"global_batch\":4}", 0},
        {"\"step\":10,\"adam_step\":9,\"skipped\":0,\"global_batch\":1e30}", 0},
        {"\"step\":10,\"adam_step\":9,\"skipped\":0,\"global_batch\":0}", 0},
        {"\"step\":10,\"adam_step\":9,\"skipped\":0,\"global_batch\":4,\"tokens\":1e300}", 1}, /* optional: 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[512];
        snprintf(text, sizeof text, "%s%s", head, cases[i].rest);
        cr_assert_eq(tu_write(p, text, strlen(text)), 0);
        hb_run_state st;
        hb_err e;
        int rc = hb_ckpt_read_state(d, &st, NULL, &e);
        if (cases[i].ok) {
            cr_assert_eq(rc, 0, "case %zu: %s", i, e.reason);
            cr_assert(st.step == 10 && st.adam_t == 9 && st.global_batch == 4, "case %zu", i);
            cr_assert_eq(st.tokens, i == 0 ? 100 : 0, "case %zu", i);
        } else {
            cr_assert_eq(rc, HB_EFORMAT, "case %zu accepted", i);
            cr_assert(strstr(e.reason, "not a valid hb-train state file"), "%s", e.reason);
        }
    }
    /* a file entry whose size is not a count */
    const char *bad = "{\"format\":\"hb-train-state\",\"cursor\":\"c\",\"plan_hash\":\"h\",\"stage\":\"ft\",\"step\":1,"
                      "\"adam_step\":1,\"skipped\":0,\"global_batch\":1,\"files\":{\"x\":{\"bytes\":1e300,\"xxh3\":\"0\"}}}";
    cr_assert_eq(tu_write(p, bad, strlen(bad)), 0);
    hb_run_state st;
    hb_err e;
    cr_assert_eq(hb_ckpt_read_state(d, &st, NULL, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "bad entry for file x"), "%s", e.reason);
    free(p);
    tu_rmtree(d);
    free(d);
}
