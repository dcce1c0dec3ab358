/* model checkpoints and initialisation: save -> read back (F32 exact, BF16 rounded, sharded with an index; files of
 * a previous save in the other layout removed), Honeybee's init (§3.9 statistics, seed and thread independence,
 * group independence), and `hb-train init` loading HF CLIP (both namings) and a sharded HF LLaMA. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/modelutil.h"
#include "helpers/testutil.h"

/* Every tensor of file `a` equals the same-named tensor of `b` (after rounding to bf16 when round_bf16). */
static void assert_same_tensors(const char *a, const char *b, const char *prefix, int round_bf16) {
    hb_st *sa, *sb;
    hb_err e;
    cr_assert_eq(hb_st_open(a, &sa, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_st_open(b, &sb, &e), 0, "%s", e.reason);
    int seen = 0;
    for (size_t i = 0; i < hb_st_count(sa); i++) {
        const hb_st_tensor *t = hb_st_at(sa, i);
        if (prefix && strncmp(t->name, prefix, strlen(prefix))) continue;
        const hb_st_tensor *u = hb_st_find(sb, t->name);
        cr_assert_not_null(u, "%s missing in %s", t->name, b);
        cr_assert_eq(t->numel, u->numel, "%s", t->name);
        cr_assert_eq(t->ndim, u->ndim, "%s", t->name);
        float *x = malloc((size_t)t->numel * 4 + 4), *y = malloc((size_t)t->numel * 4 + 4);
        cr_assert_eq(hb_st_read_f32(sa, t, x, t->numel, &e), 0);
        cr_assert_eq(hb_st_read_f32(sb, u, y, u->numel, &e), 0);
        for (int64_t k = 0; k < t->numel; k++) {
            float want = round_bf16 ? hb_bf16_to_f32(hb_f32_to_bf16(x[k])) : x[k];
            cr_assert_eq(memcmp(&want, &y[k], 4), 0, "%s[%lld]: %g vs %g", t->name, (long long)k, want, y[k]);
        }
        free(x), free(y);
        seen++;
    }
    cr_assert_gt(seen, 0);
    hb_st_close(sa);
    hb_st_close(sb);
}

Test(ckpt, save_and_read_back_f32_bf16_sharded) {
    mu_fixture f;
    mu_open(&f, "a", HB_STAGE_NONE, 1, 0, 0);
    char *d = tu_mkdtemp(), *orig = mu_path("a/model.safetensors");
    char *single = hb_path_join(d, "model.safetensors"), *index = hb_path_join(d, "model.safetensors.index.json");
    hb_err e;
    cr_assert_eq(hb_model_save(f.m, d, HB_ST_F32, 0, &e), 0, "%s", e.reason);
    assert_same_tensors(orig, single, NULL, 0);
    assert_same_tensors(single, orig, NULL, 0); /* same set of names both ways */
    hb_model_cfg back;
    cr_assert_eq(hb_config_load(d, &back, &e), 0, "%s", e.reason);
    cr_assert_eq(back.proj.num_query_tokens, f.cfg.proj.num_query_tokens);
    cr_assert_eq(back.proj.feature_layer_index, f.cfg.proj.feature_layer_index);
    /* bf16, sharded: the single file disappears, the index and shards appear */
    cr_assert_eq(hb_model_save(f.m, d, HB_ST_BF16, 40000, &e), 0, "%s", e.reason);
    cr_assert(!hb_path_exists(single) && hb_path_exists(index));
    assert_same_tensors(orig, d, NULL, 1);
    /* back to one file: index and shards are removed */
    cr_assert_eq(hb_model_save(f.m, d, HB_ST_F32, 0, &e), 0, "%s", e.reason);
    cr_assert(hb_path_exists(single) && !hb_path_exists(index));
    char *out = NULL, cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | tr '\\n' ' '", d);
    tu_run(cmd, &out);
    cr_assert_str_eq(out, "config.json model.safetensors ", "left: %s", out);
    free(out);
    /* the saved checkpoint loads and reproduces the reference loss */
    hb_model_opts mo = {.stage = HB_STAGE_PT, .limits = {f.bf.b.n_images, f.bf.b.batch, f.bf.b.seq}};
    hb_model *m2;
    cr_assert_eq(hb_model_new(f.ops, &f.cfg, &mo, &m2, &e), 0);
    cr_assert_eq(hb_model_load_checkpoint(m2, d, &e), 0, "%s", e.reason);
    hb_step_result r1, r2;
    cr_assert_eq(hb_model_forward(f.m, &f.bf.b, &r1, &e), 0);
    cr_assert_eq(hb_model_forward(m2, &f.bf.b, &r2, &e), 0);
    cr_assert_eq(r1.loss, r2.loss);
    hb_model_free(m2);
    free(single), free(index), free(orig);
    tu_rmtree(d);
    free(d);
    mu_close(&f);
}

static float *param_values(hb_ops *ops, const hb_param *p) {
    float *w = malloc((size_t)p->numel * sizeof *w);
    hb_err e;
    cr_assert_eq(hb_ops_download(ops, w, HB_F32, &p->w, 0, p->numel, &e), 0);
    return w;
}

static void stats(const float *x, int64_t n, double *mean, double *std) {
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; i++) s += x[i], q += (double)x[i] * x[i];
    *mean = s / (double)n;
    *std = sqrt(q / (double)n - *mean * *mean);
}

static hb_model *tiny(hb_ops **ops, int threads, uint64_t seed, unsigned groups) {
    hb_err e;
    hb_ops_opts oo = {.threads = threads};
    *ops = hb_ops_open("cpu", &oo, &e);
    hb_model_cfg c;
    cr_assert_eq(hb_config_preset("small", &c, &e), 0);
    c.text.vocab_size = 512; /* keep the test small; the projector is the small preset's (C-Abs 256 wide) */
    c.text.num_hidden_layers = 1;
    c.vision.num_hidden_layers = 1;
    hb_model_opts mo = {.stage = HB_STAGE_NONE, .limits = {0, 1, 2}};
    hb_model *m;
    cr_assert_eq(hb_model_new(*ops, &c, &mo, &m, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_model_init(m, seed, groups, &e), 0, "%s", e.reason);
    return m;
}

Test(ckpt, honeybee_init_statistics) {
    hb_ops *ops;
    hb_model *m = tiny(&ops, 2, 7, HB_GROUP_ALL);
    int n;
    const hb_param *ps = hb_model_params(m, &n);
    int checked = 0;
    for (int i = 0; i < n; i++) {
        const hb_param *p = &ps[i];
        float *w = param_values(ops, p);
        double mean, sd;
        stats(w, p->numel, &mean, &sd);
        const char *nm = p->name;
        size_t L = strlen(nm);
        int bias = L > 5 && !strcmp(nm + L - 5, ".bias");
        if (p->group == HB_GROUP_PROJ) {
            if (bias) cr_assert(mean == 0 && sd == 0, "%s: biases are 0", nm);
            else if (strstr(nm, ".bn.weight")) cr_assert(mean == 1 && sd == 0, "%s: LayerNorm gains are 1", nm);
            else if (p->numel >= 4096) { /* Conv2d / Linear / pos_emb: N(0, 0.02^2) */
                cr_assert_lt(fabs(sd - 0.02), 0.002, "%s: std %g", nm, sd);
                cr_assert_lt(fabs(mean), 0.002, "%s: mean %g", nm, mean);
                checked++;
            }
        } else if (p->group == HB_GROUP_LM) {
            if (strstr(nm, "norm.weight")) cr_assert(mean == 1 && sd == 0, "%s", nm);
            else if (p->numel >= 4096) cr_assert_lt(fabs(sd - 0.02), 0.002, "%s: std %g", nm, sd);
            if (strstr(nm, "embed_tokens"))
                for (int k = 0; k < hb_model_config(m)->text.hidden_size; k++) cr_assert_eq(w[k], 0.0f, "pad row 0 is zero");
        } else if (strstr(nm, "class_embedding")) {
            cr_assert_lt(fabs(sd - pow(256, -0.5)), 0.02, "%s: std %g", nm, sd);
        }
        free(w);
    }
    cr_assert_gt(checked, 20);
    hb_model_free(m);
    hb_ops_close(ops);
}

Test(ckpt, init_depends_only_on_seed_and_name) {
    hb_ops *o1, *o2, *o3;
    hb_model *a = tiny(&o1, 1, 11, HB_GROUP_ALL), *b = tiny(&o2, 2, 11, HB_GROUP_PROJ), *c = tiny(&o3, 2, 12, HB_GROUP_PROJ);
    int n;
    const hb_param *pa = hb_model_params(a, &n), *pb = hb_model_params(b, &n), *pc = hb_model_params(c, &n);
    int differs = 0;
    for (int i = 0; i < n; i++) {
        if (pa[i].group != HB_GROUP_PROJ) continue;
        float *x = param_values(o1, &pa[i]), *y = param_values(o2, &pb[i]), *z = param_values(o3, &pc[i]);
        cr_assert_eq(memcmp(x, y, (size_t)pa[i].numel * 4), 0, "%s: threads or other groups changed the init",
                     pa[i].name);
        differs |= memcmp(x, z, (size_t)pa[i].numel * 4) != 0;
        free(x), free(y), free(z);
    }
    cr_assert(differs, "another seed gives other weights");
    hb_model_free(a), hb_model_free(b), hb_model_free(c);
    hb_ops_close(o1), hb_ops_close(o2), hb_ops_close(o3);
}

static void init_with_parts(const char *clip_rel) {
    char *d = tu_mkdtemp(), *cfg = mu_path("a/config.json"), *clip = mu_path(clip_rel), *llama = mu_path("a/hf_llama");
    char *orig = mu_path("a/model.safetensors"), *out = hb_path_join(d, "ckpt");
    hb_err e;
    hb_ops *ops = hb_ops_open("cpu", NULL, &e);
    hb_init_opts o = {.config = cfg, .clip = clip, .llama = llama, .out_dir = out, .seed = 3, .dtype = HB_ST_F32};
    hb_buf sum = {0};
    cr_assert_eq(hb_train_init(ops, &o, &sum, &e), 0, "%s", e.reason);
    cr_assert(strstr(hb_buf_cstr(&sum), "loaded"), "%s", hb_buf_cstr(&sum));
    assert_same_tensors(orig, out, "vision_model.", 0);
    assert_same_tensors(orig, out, "language_model.", 0);
    hb_model_cfg back;
    cr_assert_eq(hb_config_load(out, &back, &e), 0, "%s", e.reason);
    cr_assert_eq(back.text.hidden_size, 32);
    cr_assert_eq(back.vision.hidden_size, 16);
    hb_buf_free(&sum);
    hb_ops_close(ops);
    free(cfg), free(clip), free(llama), free(orig), free(out);
    tu_rmtree(d);
    free(d);
}

Test(ckpt, init_loads_clipmodel_and_sharded_llama) { init_with_parts("a/hf_clip_model"); }
Test(ckpt, init_loads_transformers5_clipvisionmodel) { init_with_parts("a/hf_clip/model.safetensors"); }

Test(ckpt, init_refuses_a_llama_with_a_missing_tensor) {
    char *d = tu_mkdtemp(), *cfg = mu_path("a/config.json"), *llama = hb_path_join(d, "llama");
    char *src = mu_path("a/hf_llama/model-00001-of-00003.safetensors");
    hb_err e;
    /* a LLaMA directory holding only the first shard (no index) */
    cr_assert_eq(hb_mkdir_p(llama, &e), 0);
    char *cfgsrc = mu_path("a/hf_llama/config.json"), *cfgdst = hb_path_join(llama, "config.json");
    char *shard = hb_path_join(llama, "model.safetensors");
    size_t n;
    uint8_t *b = tu_read(cfgsrc, &n);
    cr_assert_eq(tu_write(cfgdst, b, n), 0);
    free(b);
    b = tu_read(src, &n);
    cr_assert_eq(tu_write(shard, b, n), 0);
    free(b);
    hb_ops *ops = hb_ops_open("cpu", NULL, &e);
    char *out = hb_path_join(d, "out");
    hb_init_opts o = {.config = cfg, .llama = llama, .out_dir = out, .seed = 1, .dtype = HB_ST_F32};
    cr_assert_eq(hb_train_init(ops, &o, NULL, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "15 missing (model.layers.0.input_layernorm.weight [32]"), "%s", e.reason);
    cr_assert(!hb_path_exists(out), "nothing written");
    hb_ops_close(ops);
    free(cfg), free(llama), free(src), free(cfgsrc), free(cfgdst), free(shard), free(out);
    tu_rmtree(d);
    free(d);
}
