/* model weights: the listing error for missing / mis-shaped / unexpected tensors (tiny fixtures and a generated,
 * sparse, header-only 7B bf16 checkpoint), legacy checkpoints (extra pos_emb row, legacy config), the vision
 * naming of transformers 5, checkpoint writing (F32 / BF16, single / sharded, stale files removed) and reading back,
 * Honeybee's initialisation, and `hb-train init` with HF CLIP and LLaMA directories. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers/modelutil.h"
#include "helpers/testutil.h"

/* Copies every tensor of src into a new safetensors file, through an edit callback that may rename (return a
 * different name), drop (return NULL) or keep a tensor; `extra` adds one more tensor when not NULL. */
typedef const char *(*edit_fn)(const hb_st_tensor *t, char *buf, size_t n, int64_t *shape, int *ndim);

static void rewrite(const char *src, const char *dst, edit_fn edit, const char *extra) {
    hb_st *st;
    hb_err e;
    cr_assert_eq(hb_st_open(src, &st, &e), 0, "%s", e.reason);
    hb_st_writer *w = hb_st_writer_new();
    hb_st_writer_meta(w, "format", "pt");
    char buf[512];
    for (size_t i = 0; i < hb_st_count(st); i++) {
        const hb_st_tensor *t = hb_st_at(st, i);
        int64_t shape[HB_ST_MAXDIM];
        int ndim = t->ndim;
        memcpy(shape, t->shape, sizeof shape);
        const char *name = edit ? edit(t, buf, sizeof buf, shape, &ndim) : t->name;
        if (!name) continue;
        cr_assert_eq(hb_st_writer_add(w, name, t->dtype, ndim, shape, t->data, &e), 0, "%s", e.reason);
    }
    static const float zero[4] = {0};
    int64_t s1[1] = {4};
    if (extra) cr_assert_eq(hb_st_writer_add(w, extra, HB_ST_F32, 1, s1, zero, &e), 0);
    cr_assert_eq(hb_st_writer_save(w, dst, 0, &e), 0, "%s", e.reason);
    hb_st_writer_free(w);
    hb_st_close(st);
}

static const char *drop_and_reshape(const hb_st_tensor *t, char *buf, size_t n, int64_t *shape, int *ndim) {
    (void)buf, (void)n;
    if (!strcmp(t->name, "abstractor.readout.2.bias")) return NULL;
    if (!strcmp(t->name, "language_model.model.layers.1.mlp.up_proj.weight")) { /* [48, 32] -> [32, 48] */
        shape[0] = 32, shape[1] = 48, *ndim = 2;
    }
    return t->name;
}

Test(weights, listing_error_names_every_mismatch) {
    char *d = tu_mkdtemp(), *src = mu_path("a/model.safetensors"), *dst = hb_path_join(d, "model.safetensors");
    rewrite(src, dst, drop_and_reshape, "abstractor.bogus");
    hb_model_cfg cfg;
    hb_err e;
    char *cdir = mu_path("a");
    cr_assert_eq(hb_config_load(cdir, &cfg, &e), 0);
    hb_st *st;
    cr_assert_eq(hb_st_open(dst, &st, &e), 0, "%s", e.reason);
    hb_buf listing = {0};
    cr_assert_eq(hb_config_check_weights(&cfg, st, HB_SRC_HONEYBEE, HB_GROUP_ALL, &listing, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "1 missing (abstractor.readout.2.bias [32])"), "%s", e.reason);
    cr_assert(strstr(e.reason, "language_model.model.layers.1.mlp.up_proj.weight is F32 [32, 48], the config needs "
                               "[48, 32]"), "%s", e.reason);
    cr_assert(strstr(e.reason, "1 unexpected (abstractor.bogus [4])"), "%s", e.reason);
    cr_assert(strstr(e.file, "model.safetensors"));
    cr_assert(strstr(hb_buf_cstr(&listing), "missing     abstractor.readout.2.bias"));
    /* only the groups asked for are checked: the vision tower alone is fine */
    cr_assert_eq(hb_config_check_weights(&cfg, st, HB_SRC_HONEYBEE, HB_GROUP_VISION, NULL, &e), 0, "%s", e.reason);
    hb_buf_free(&listing);
    hb_st_close(st);
    free(src), free(dst), free(cdir);
    tu_rmtree(d);
    free(d);
}

/* A 7B-shaped bf16 checkpoint written as a header plus a sparse data region: ~14 GB that occupy no disk. */
Test(weights, sparse_7b_bf16_checkpoint_with_a_missing_and_a_misshaped_tensor) {
    hb_model_cfg cfg;
    hb_err e;
    cr_assert_eq(hb_config_preset("7b-m144", &cfg, &e), 0);
    int n;
    hb_param *ps = hb_config_params(&cfg, &n);
    hb_buf h = {0};
    hb_buf_putc(&h, '{');
    uint64_t off = 0;
    int first = 1;
    for (int i = 0; i < n; i++) {
        if (!strcmp(ps[i].name, "language_model.model.layers.31.mlp.up_proj.weight")) continue;
        int64_t s0 = ps[i].shape[0], s1 = ps[i].shape[1];
        if (!strcmp(ps[i].name, "language_model.model.layers.0.self_attn.q_proj.weight")) s1 = 4095;
        uint64_t bytes = 2;
        hb_buf_printf(&h, "%s\"%s\":{\"dtype\":\"BF16\",\"shape\":[", first ? "" : ",", ps[i].name);
        for (int k = 0; k < ps[i].ndim; k++) {
            int64_t v = k == 0 ? s0 : k == 1 ? s1 : ps[i].shape[k];
            hb_buf_printf(&h, "%s%lld", k ? "," : "", (long long)v);
            bytes *= (uint64_t)v;
        }
        hb_buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + bytes));
        off += bytes;
        first = 0;
    }
    hb_buf_putc(&h, '}');
    char *d = tu_mkdtemp(), *p = hb_path_join(d, "model.safetensors");
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    cr_assert_eq(write(fd, len8, 8), 8);
    cr_assert_eq(write(fd, h.data, h.len), (ssize_t)h.len);
    cr_assert_eq(ftruncate(fd, (off_t)(8 + h.len + off)), 0);
    close(fd);
    cr_assert_gt(off, 13000000000ULL, "7B bf16 is ~14 GB of (sparse) data");
    double t0 = hb_now();
    hb_st *st;
    cr_assert_eq(hb_st_open(d, &st, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_config_check_weights(&cfg, st, HB_SRC_HONEYBEE, HB_GROUP_ALL, NULL, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "1 missing (language_model.model.layers.31.mlp.up_proj.weight [11008, 4096])"), "%s",
              e.reason);
    cr_assert(strstr(e.reason, "language_model.model.layers.0.self_attn.q_proj.weight is BF16 [4096, 4095], the config "
                               "needs [4096, 4096]"), "%s", e.reason);
    cr_assert_lt(hb_now() - t0, 5.0, "header-only: no data is read");
    hb_st_close(st);
    hb_params_free(ps, n);
    hb_buf_free(&h);
    free(p);
    tu_rmtree(d);
    free(d);
}

static double run_loss(const char *dir, const char *fixture_batch) {
    hb_err e;
    hb_ops *ops = hb_ops_open("cpu", NULL, &e);
    hb_model_cfg cfg;
    cr_assert_eq(hb_config_load(dir, &cfg, &e), 0, "%s", e.reason);
    hb_batch_file bf;
    char *bp = mu_path(fixture_batch);
    cr_assert_eq(hb_batch_file_load(bp, &cfg, &bf, &e), 0, "%s", e.reason);
    hb_model_opts mo = {.stage = HB_STAGE_PT, .limits = {bf.b.n_images, bf.b.batch, bf.b.seq}};
    hb_model *m;
    cr_assert_eq(hb_model_new(ops, &cfg, &mo, &m, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_model_load_checkpoint(m, dir, &e), 0, "%s", e.reason);
    hb_step_result r;
    cr_assert_eq(hb_model_forward(m, &bf.b, &r, &e), 0, "%s", e.reason);
    hb_model_free(m);
    hb_batch_file_free(&bf);
    hb_ops_close(ops);
    free(bp);
    return r.loss;
}

static double ref_loss(const char *name) {
    char rel[64];
    snprintf(rel, sizeof rel, "%s/ref_pt.safetensors", name);
    char *p = mu_path(rel);
    hb_st *st;
    hb_err e;
    cr_assert_eq(hb_st_open(p, &st, &e), 0);
    float l;
    cr_assert_eq(hb_st_read_f32(st, hb_st_find(st, "loss"), &l, 1, &e), 0);
    hb_st_close(st);
    free(p);
    return l;
}

Test(weights, legacy_checkpoint_with_the_old_pos_emb_row_and_legacy_config) {
    char *d = tu_mkdtemp(), *src = mu_path("a/model.safetensors"), *dst = hb_path_join(d, "model.safetensors");
    /* pos_emb [1, 16, 16] -> [1, 17, 16] with a garbage row 0 */
    hb_st *st;
    hb_err e;
    cr_assert_eq(hb_st_open(src, &st, &e), 0);
    hb_st_writer *w = hb_st_writer_new();
    float pos[17 * 16];
    for (size_t i = 0; i < hb_st_count(st); i++) {
        const hb_st_tensor *t = hb_st_at(st, i);
        if (!strcmp(t->name, "abstractor.pos_emb")) {
            for (int k = 0; k < 16; k++) pos[k] = 1e3f;
            cr_assert_eq(hb_st_read_f32(st, t, pos + 16, 256, &e), 0);
            int64_t s[3] = {1, 17, 16};
            cr_assert_eq(hb_st_writer_add(w, t->name, HB_ST_F32, 3, s, pos, &e), 0);
        } else {
            cr_assert_eq(hb_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, &e), 0);
        }
    }
    cr_assert_eq(hb_st_writer_save(w, dst, 0, &e), 0);
    hb_st_writer_free(w);
    hb_st_close(st);
    char *lc = mu_path("a/config_legacy.json"), *cc = hb_path_join(d, "config.json");
    size_t n;
    uint8_t *txt = tu_read(lc, &n);
    cr_assert_eq(tu_write(cc, txt, n), 0);
    double loss = run_loss(d, "a/batch.safetensors"), ref = ref_loss("a");
    cr_assert_lt(fabs(loss - ref) / ref, 1e-5, "legacy checkpoint loss %.7f vs reference %.7f", loss, ref);
    free(txt), free(lc), free(cc), free(src), free(dst);
    tu_rmtree(d);
    free(d);
}

static const char *flatten_vision(const hb_st_tensor *t, char *buf, size_t n, int64_t *shape, int *ndim) {
    (void)shape, (void)ndim;
    if (strncmp(t->name, "vision_model.vision_model.", 26)) return t->name;
    snprintf(buf, n, "vision_model.%s", t->name + 26);
    return buf;
}

Test(weights, vision_tower_saved_by_transformers_5_loads) {
    char *d = tu_mkdtemp(), *src = mu_path("b/model.safetensors"), *dst = hb_path_join(d, "model.safetensors");
    rewrite(src, dst, flatten_vision, NULL);
    char *cs = mu_path("b/config.json"), *cc = hb_path_join(d, "config.json");
    size_t n;
    uint8_t *txt = tu_read(cs, &n);
    cr_assert_eq(tu_write(cc, txt, n), 0);
    double loss = run_loss(d, "b/batch.safetensors"), ref = ref_loss("b");
    cr_assert_lt(fabs(loss - ref) / ref, 1e-5, "loss %.7f vs reference %.7f", loss, ref);
    free(txt), free(cs), free(cc), free(src), free(dst);
    tu_rmtree(d);
    free(d);
}
