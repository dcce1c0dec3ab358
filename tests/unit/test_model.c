/* model: the whole Honeybee forward + backward on the CPU backend against PyTorch (tests/ref/gen_model_fixtures.py:
 * HF CLIPVisionModel + timm RegStage C-Abstractor + HF LlamaForCausalLM in float64). Tolerances (fp32 against a
 * float64 reference), as max|ours - ref| / max|ref| per tensor: loss, logits, CLIP features and visual tokens
 * < 1e-4; every gradient < 1e-3. A failure prints the whole per-tensor table.
 * Also: determinism across thread counts, gradient accumulation, the chunked LM head, forward-only runs, text-only
 * micro-batches, batch validation, malformed batch files and bf16 parameters. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/modelutil.h"
#include "helpers/testutil.h"

#define TOL_FWD 1e-4
#define TOL_GRAD 1e-3

static void compare_with_pytorch(const char *name, hb_stage stage, int all_logits, int64_t head_chunk) {
    mu_fixture f;
    mu_open(&f, name, stage, 2, all_logits, head_chunk);
    hb_err e;
    hb_step_result res;
    hb_model_zero_grads(f.m);
    cr_assert_eq(hb_model_step(f.m, &f.bf.b, 1.0f, &res, &e), 0, "%s", e.reason);

    char rel[64];
    snprintf(rel, sizeof rel, "%s/ref_%s.safetensors", name, stage == HB_STAGE_PT ? "pt" : "ft");
    char *rp = mu_path(rel);
    hb_st *ref;
    cr_assert_eq(hb_st_open(rp, &ref, &e), 0, "%s", e.reason);
    hb_buf table = {0};
    int bad = 0, n_grads = 0;
    double worst_fwd = 0, worst_grad = 0;
    for (size_t i = 0; i < hb_st_count(ref); i++) {
        const hb_st_tensor *t = hb_st_at(ref, i);
        float *r = malloc((size_t)t->numel * sizeof *r), *ours = NULL;
        cr_assert_eq(hb_st_read_f32(ref, t, r, t->numel, &e), 0);
        int is_grad = !strncmp(t->name, "grad.", 5);
        if (!strcmp(t->name, "loss")) {
            ours = malloc(sizeof *ours);
            ours[0] = (float)res.loss;
        } else if (!strcmp(t->name, "logits")) {
            if (!all_logits) { /* training mode keeps no logits */
                free(r);
                continue;
            }
            ours = malloc((size_t)t->numel * sizeof *ours);
            cr_assert_eq(hb_model_get_logits(f.m, ours, &e), 0, "%s", e.reason);
        } else if (!strcmp(t->name, "features")) {
            ours = malloc((size_t)t->numel * sizeof *ours);
            cr_assert_eq(hb_model_get_features(f.m, ours, &e), 0, "%s", e.reason);
        } else if (!strcmp(t->name, "visual_tokens")) {
            ours = malloc((size_t)t->numel * sizeof *ours);
            cr_assert_eq(hb_model_get_visual(f.m, ours, &e), 0, "%s", e.reason);
        } else {
            cr_assert(is_grad, "unexpected reference tensor %s", t->name);
            const hb_param *p = hb_model_param(f.m, t->name + 5);
            cr_assert_not_null(p, "the model has no parameter %s", t->name + 5);
            cr_assert(p->trained, "%s has a PyTorch gradient but is not trained in this stage", p->name);
            cr_assert_eq(p->numel, t->numel, "%s: size", p->name);
            ours = mu_grad(&f, p);
            n_grads++;
        }
        double err = mu_rel_err(ours, r, t->numel), tol = is_grad ? TOL_GRAD : TOL_FWD;
        int ok = err < tol;
        bad += !ok;
        if (is_grad && err > worst_grad) worst_grad = err;
        if (!is_grad && err > worst_fwd) worst_fwd = err;
        hb_buf_printf(&table, "  %-4s %-64s rel err %.2e (tol %.0e)\n", ok ? "ok" : "FAIL", t->name, err, tol);
        free(r);
        free(ours);
    }
    int np, trained = 0;
    const hb_param *ps = hb_model_params(f.m, &np);
    for (int i = 0; i < np; i++) trained += ps[i].trained;
    if (bad) fprintf(stderr, "%s/%s against PyTorch:\n%s", name, stage == HB_STAGE_PT ? "pt" : "ft", hb_buf_cstr(&table));
    cr_assert_eq(bad, 0, "%d tensors beyond tolerance (table on stderr)", bad);
    cr_assert_eq(n_grads, trained, "every trained parameter has a reference gradient (%d vs %d)", n_grads, trained);
    cr_log_info("%s/%s: worst forward rel err %.2e, worst gradient rel err %.2e over %d gradients", name,
                stage == HB_STAGE_PT ? "pt" : "ft", worst_fwd, worst_grad, n_grads);
    hb_buf_free(&table);
    hb_st_close(ref);
    free(rp);
    mu_close(&f);
}

Test(model, pytorch_a_pt) { compare_with_pytorch("a", HB_STAGE_PT, 1, 0); }
Test(model, pytorch_a_ft) { compare_with_pytorch("a", HB_STAGE_FT, 1, 0); }
Test(model, pytorch_b_pt) { compare_with_pytorch("b", HB_STAGE_PT, 1, 0); }
Test(model, pytorch_b_ft) { compare_with_pytorch("b", HB_STAGE_FT, 1, 0); }
/* training mode: only the supervised rows go through the head, 5 rows per chunk */
Test(model, pytorch_a_ft_chunked_head) { compare_with_pytorch("a", HB_STAGE_FT, 0, 5); }
Test(model, pytorch_b_ft_chunked_head) { compare_with_pytorch("b", HB_STAGE_FT, 0, 4); }

/* All gradients of a fixture run, concatenated. */
static float *all_grads(mu_fixture *f, int64_t *n) {
    int np;
    const hb_param *ps = hb_model_params(f->m, &np);
    int64_t total = 0;
    for (int i = 0; i < np; i++) total += ps[i].trained ? ps[i].numel : 0;
    float *out = malloc((size_t)total * sizeof *out);
    int64_t off = 0;
    for (int i = 0; i < np; i++) {
        if (!ps[i].trained) continue;
        float *g = mu_grad(f, &ps[i]);
        memcpy(out + off, g, (size_t)ps[i].numel * sizeof *g);
        off += ps[i].numel;
        free(g);
    }
    *n = total;
    return out;
}

Test(model, bitwise_identical_for_any_thread_count) {
    float *g[2], *lg[2];
    int64_t n[2];
    double loss[2];
    for (int k = 0; k < 2; k++) {
        mu_fixture f;
        mu_open(&f, "a", HB_STAGE_FT, k ? 2 : 1, 1, 0);
        hb_err e;
        hb_step_result res;
        hb_model_zero_grads(f.m);
        cr_assert_eq(hb_model_step(f.m, &f.bf.b, 1.0f, &res, &e), 0, "%s", e.reason);
        loss[k] = res.loss;
        g[k] = all_grads(&f, &n[k]);
        int64_t nl = f.bf.b.batch * f.bf.b.seq * f.cfg.text.vocab_size;
        lg[k] = malloc((size_t)nl * sizeof(float));
        cr_assert_eq(hb_model_get_logits(f.m, lg[k], &e), 0);
        if (k) cr_assert_eq(memcmp(lg[0], lg[1], (size_t)nl * sizeof(float)), 0, "logits differ between 1 and 2 threads");
        mu_close(&f);
    }
    cr_assert_eq(loss[0], loss[1]);
    cr_assert_eq(n[0], n[1]);
    cr_assert_eq(memcmp(g[0], g[1], (size_t)n[0] * sizeof(float)), 0, "gradients differ between 1 and 2 threads");
    for (int k = 0; k < 2; k++) free(g[k]), free(lg[k]);
}

Test(model, gradients_accumulate_across_micro_batches) {
    mu_fixture f;
    mu_open(&f, "b", HB_STAGE_FT, 2, 0, 0);
    hb_err e;
    hb_step_result r1, r2;
    hb_model_zero_grads(f.m);
    cr_assert_eq(hb_model_step(f.m, &f.bf.b, 1.0f, &r1, &e), 0, "%s", e.reason);
    int64_t n;
    float *once = all_grads(&f, &n);
    hb_model_zero_grads(f.m);
    for (int k = 0; k < 2; k++) cr_assert_eq(hb_model_step(f.m, &f.bf.b, 0.5f, &r2, &e), 0, "%s", e.reason);
    float *twice = all_grads(&f, &n);
    cr_assert_eq(r1.loss, r2.loss, "the reported loss is unscaled");
    double err = mu_rel_err(twice, once, n);
    cr_assert_lt(err, 1e-6, "two half-weighted micro-batches = one full one (rel err %.2e)", err);
    /* forward only: same loss, gradients untouched */
    hb_step_result r3;
    cr_assert_eq(hb_model_forward(f.m, &f.bf.b, &r3, &e), 0, "%s", e.reason);
    cr_assert_float_eq(r3.loss, r1.loss, 1e-6 * r1.loss);
    float *after = all_grads(&f, &n);
    cr_assert_eq(memcmp(after, twice, (size_t)n * sizeof(float)), 0);
    free(once);
    free(twice);
    free(after);
    mu_close(&f);
}

Test(model, text_only_micro_batch_leaves_the_projector_alone) {
    mu_fixture f;
    mu_open(&f, "b", HB_STAGE_PT, 2, 0, 0);
    /* sequence 1 of fixture b is text only: run it alone */
    int64_t T = f.bf.b.seq;
    hb_batch b = {.n_images = 0, .pixels = NULL, .batch = 1, .seq = T, .input_ids = f.bf.ids + T,
                  .labels = f.bf.labels + T};
    hb_err e;
    hb_step_result res;
    hb_model_zero_grads(f.m);
    cr_assert_eq(hb_model_step(f.m, &b, 1.0f, &res, &e), 0, "%s", e.reason);
    cr_assert(res.n_supervised == 6 && res.loss > 0 && isfinite(res.loss), "loss %g over %lld", res.loss,
              (long long)res.n_supervised);
    int64_t n;
    float *g = all_grads(&f, &n);
    for (int64_t i = 0; i < n; i++) cr_assert_eq(g[i], 0.0f, "no image, no projector gradient");
    free(g);
    mu_close(&f);
}

Test(model, batches_that_do_not_fit_are_rejected) {
    mu_fixture f;
    mu_open(&f, "a", HB_STAGE_PT, 1, 0, 0);
    int64_t B = f.bf.b.batch, T = f.bf.b.seq, R = B * T;
    int32_t *ids = malloc((size_t)R * sizeof *ids), *lab = malloc((size_t)R * sizeof *lab);
    hb_err e;
    hb_step_result res;
    struct {
        int64_t pos, images;
        int32_t id, label;
        const char *needle;
    } cases[] = {
        {3, 3, 0, -100, "multiple"},          /* a placeholder run cut short */
        {-1, 2, 0, -100, "placeholders for 2 images"},
        {20, 3, 128, -100, "vocabulary"},     /* id == vocab size */
        {20, 3, -5, -100, "vocabulary"},
        {20, 3, 5, 128, "labels"},
        {20, 3, 5, -1, "labels"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        memcpy(ids, f.bf.ids, (size_t)R * sizeof *ids);
        memcpy(lab, f.bf.labels, (size_t)R * sizeof *lab);
        if (cases[k].pos >= 0) {
            ids[cases[k].pos] = cases[k].id;
            lab[cases[k].pos] = cases[k].label;
        }
        hb_batch b = f.bf.b;
        b.input_ids = ids;
        b.labels = lab;
        b.n_images = cases[k].images;
        hb_err_clear(&e);
        cr_assert_eq(hb_model_step(f.m, &b, 1.0f, &res, &e), HB_EINVAL, "case %zu accepted", k);
        cr_assert(strstr(e.reason, cases[k].needle), "case %zu: %s", k, e.reason);
    }
    hb_batch b = f.bf.b;
    b.seq = T + 1;
    cr_assert_eq(hb_model_step(f.m, &b, 1.0f, &res, &e), HB_EINVAL, "longer than planned");
    cr_assert(strstr(e.reason, "exceeds"));
    free(ids);
    free(lab);
    mu_close(&f);
}

/* Writes a batch file from (name, dtype, ndim, shape, data) rows and returns the load error (0 when it loads). */
static int load_batch(const char *dir, int n, const char **names, const hb_st_dtype *dt, const int *nd,
                      const int64_t (*shapes)[4], const void **data, hb_err *e) {
    char *p = hb_path_join(dir, "batch.safetensors");
    hb_st_writer *w = hb_st_writer_new();
    for (int i = 0; i < n; i++) cr_assert_eq(hb_st_writer_add(w, names[i], dt[i], nd[i], shapes[i], data[i], e), 0);
    cr_assert_eq(hb_st_writer_save(w, p, 0, e), 0);
    hb_st_writer_free(w);
    char *cdir = mu_path("a");
    hb_model_cfg cfg;
    cr_assert_eq(hb_config_load(cdir, &cfg, e), 0);
    hb_batch_file bf;
    int rc = hb_batch_file_load(p, &cfg, &bf, e);
    if (!rc) hb_batch_file_free(&bf);
    free(p);
    free(cdir);
    return rc;
}

Test(model, malformed_batch_files) {
    char *d = tu_mkdtemp();
    static int32_t ids[8] = {1, 5, 6, 7, 1, 8, 9, 2};
    static int64_t ids64[8] = {1, 5, 6, 7, 1, 8, 9, 2};
    static float px[3 * 16 * 16], fids[8];
    static const int64_t ok[3][4] = {{2, 4}, {2, 4}, {1, 3, 16, 16}}, mis[2][4] = {{2, 4}, {4, 2}},
                         badpx[3][4] = {{2, 4}, {2, 4}, {1, 3, 14, 14}};
    const char *n2[2] = {"input_ids", "labels"}, *n3[3] = {"input_ids", "labels", "pixel_values"}, *n1[1] = {"labels"};
    const hb_st_dtype i32[3] = {HB_ST_I32, HB_ST_I32, HB_ST_F32}, i64[2] = {HB_ST_I64, HB_ST_I64},
                      f32ids[2] = {HB_ST_F32, HB_ST_I32};
    const int nd[3] = {2, 2, 4};
    const void *d_ok[3] = {ids, ids, px}, *d64[2] = {ids64, ids64}, *d_f[2] = {fids, ids};
    hb_err e;
    cr_assert_eq(load_batch(d, 3, n3, i32, nd, ok, d_ok, &e), 0, "%s", e.reason);
    cr_assert_eq(load_batch(d, 2, n2, i64, nd, ok, d64, &e), 0, "I64 ids are accepted: %s", e.reason);
    cr_assert_eq(load_batch(d, 2, n2, i32, nd, mis, d_ok, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "'labels' has shape [4, 2]"), "%s", e.reason);
    cr_assert_eq(load_batch(d, 2, n2, f32ids, nd, ok, d_f, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "input_ids") && strstr(e.reason, "integer"), "%s", e.reason);
    cr_assert_eq(load_batch(d, 1, n1, i32, nd, ok, d_ok, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "no tensor 'input_ids'"), "%s", e.reason);
    cr_assert_eq(load_batch(d, 3, n3, i32, nd, badpx, d_ok, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "pixel_values has shape [1, 3, 14, 14]"), "%s", e.reason);
    tu_rmtree(d);
    free(d);
}

/* bf16 parameters (the CUDA backend's storage; the CPU backend rounds them on upload and computes in fp32): the loss
 * moves by bf16 rounding only, and the loaded weights are exactly the bf16 roundings of the checkpoint's. */
Test(model, bf16_parameters) {
    hb_err e;
    hb_ops *ops = hb_ops_open("cpu", NULL, &e);
    hb_model_cfg cfg;
    char *dir = mu_path("a"), *bp = mu_path("a/batch.safetensors");
    cr_assert_eq(hb_config_load(dir, &cfg, &e), 0);
    hb_batch_file bf;
    cr_assert_eq(hb_batch_file_load(bp, &cfg, &bf, &e), 0);
    hb_model_opts mo = {.stage = HB_STAGE_FT, .limits = {bf.b.n_images, bf.b.batch, bf.b.seq}, .param_dtype = HB_BF16};
    hb_model *m;
    cr_assert_eq(hb_model_new(ops, &cfg, &mo, &m, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_model_load_checkpoint(m, dir, &e), 0, "%s", e.reason);
    hb_step_result r;
    hb_model_zero_grads(m);
    cr_assert_eq(hb_model_step(m, &bf.b, 1.0f, &r, &e), 0, "%s", e.reason);
    hb_st *st;
    char *rp = mu_path("a/ref_ft.safetensors");
    float ref_loss;
    cr_assert_eq(hb_st_open(rp, &st, &e), 0);
    cr_assert_eq(hb_st_read_f32(st, hb_st_find(st, "loss"), &ref_loss, 1, &e), 0);
    hb_st_close(st);
    free(rp);
    cr_assert_lt(fabs(r.loss - ref_loss) / ref_loss, 1e-2, "bf16 loss %g vs fp32 reference %g", r.loss, ref_loss);
    cr_assert_gt(fabs(r.loss - ref_loss) / ref_loss, 1e-6, "the weights were rounded");
    const hb_param *p = hb_model_param(m, "language_model.lm_head.weight");
    char *ck = mu_path("a/model.safetensors");
    cr_assert_eq(hb_st_open(ck, &st, &e), 0);
    float *ref = malloc((size_t)p->numel * 4), *got = malloc((size_t)p->numel * 4);
    cr_assert_eq(hb_st_read_f32(st, hb_st_find(st, p->name), ref, p->numel, &e), 0);
    cr_assert_eq(hb_ops_download(ops, got, HB_F32, &p->w, 0, p->numel, &e), 0);
    for (int64_t i = 0; i < p->numel; i++) cr_assert_eq(got[i], hb_bf16_to_f32(hb_f32_to_bf16(ref[i])));
    free(ref), free(got), free(ck), free(dir), free(bp);
    hb_st_close(st);
    hb_model_free(m);
    hb_batch_file_free(&bf);
    hb_ops_close(ops);
}
