#include "trainutil.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/safetensors.h"
#include "shard/imgstore.h"
#include "testutil.h"

static void put(hb_buf *b, const void *p, size_t n) { hb_buf_append(b, p, n); }

int tt_identity_plan(const char *path, const char *shards_ref, int n_shards, const char *const *files,
                     const uint64_t *records, const uint64_t *checksums, uint64_t batch) {
    uint64_t total = 0;
    for (int i = 0; i < n_shards; i++) total += records[i];
    hb_buf h = {0};
    put(&h, "HBMIXPL\0", 8);
    hb_buf_put_u32(&h, 1);
    hb_buf_put_u32(&h, 0);
    hb_buf_put_u64(&h, 0); /* header_size, patched below */
    hb_buf_put_u64(&h, 1); /* seed */
    hb_buf_put_u64(&h, total);
    hb_buf_put_u64(&h, batch);
    hb_buf_put_u32(&h, 1);
    hb_buf_put_u32(&h, (uint32_t)n_shards);
    hb_buf_put_u32(&h, 0);
    hb_buf_put_u32(&h, 0);
    hb_buf_put_u32(&h, 0);
    hb_buf_put_u32(&h, (uint32_t)strlen(shards_ref));
    put(&h, shards_ref, strlen(shards_ref));
    hb_buf_put_u16(&h, 5);
    put(&h, "train", 5);
    hb_buf_put_u64(&h, total);
    hb_buf_put_u64(&h, total);
    for (int i = 0; i < n_shards; i++) {
        hb_buf_put_u32(&h, 0);
        hb_buf_put_u64(&h, records[i]);
        hb_buf_put_u64(&h, checksums[i]);
        hb_buf_put_u16(&h, (uint16_t)strlen(files[i]));
        put(&h, files[i], strlen(files[i]));
    }
    while (h.len % 8) hb_buf_putc(&h, 0);
    uint64_t hs = h.len;
    memcpy(h.data + 16, &hs, 8);
    for (int i = 0; i < n_shards; i++)
        for (uint64_t r = 0; r < records[i]; r++) {
            hb_buf_put_u32(&h, (uint32_t)i);
            hb_buf_put_u32(&h, (uint32_t)r);
        }
    hb_buf_put_u64(&h, total);
    hb_buf_put_u64(&h, total);
    uint64_t hash = hb_hash64(h.data, h.len, 0);
    hb_buf_put_u64(&h, hash);
    put(&h, "HBMIXEND", 8);
    hb_err err;
    int rc = hb_write_file_atomic(path, h.data, h.len, &err);
    hb_buf_free(&h);
    return rc;
}

char *tt_fixture(const char *rel) {
    char buf[512];
    snprintf(buf, sizeof buf, "tests/fixtures/train/%s", rel);
    char *p = tu_repo(buf), *abs = realpath(p, NULL); /* absolute: the CLI tests run in another directory */
    if (!abs) return p;
    free(p);
    return abs;
}

/* Writes the samples (n_shards files, consecutive ranges) and the plan. */
static void write_samples(const char *dir, hb_sample *s, int n, int n_shards) {
    char *sd = hb_path_join(dir, "shards");
    hb_err e;
    cr_assert_eq(hb_mkdir_p(sd, &e), 0);
    char names[16][64];
    const char *files[16];
    uint64_t recs[16], sums[16];
    cr_assert(n_shards >= 1 && n_shards <= 16);
    for (int f = 0; f < n_shards; f++) {
        int a = n * f / n_shards, b = n * (f + 1) / n_shards;
        snprintf(names[f], sizeof names[f], "train-%05d.hbs", f);
        files[f] = names[f];
        char *p = hb_path_join(sd, names[f]);
        hb_sample_writer w;
        hb_shard_opts so = {2048, 1};
        cr_assert_eq(hb_sample_writer_open(&w, p, &so, &e), 0, "%s", e.reason);
        for (int k = a; k < b; k++) cr_assert_eq(hb_sample_writer_add(&w, &s[k], &e), 0, "%s", e.reason);
        hb_shard_info info;
        cr_assert_eq(hb_sample_writer_close(&w, &info, &e), 0, "%s", e.reason);
        recs[f] = info.records;
        sums[f] = info.xxh3;
        free(p);
    }
    char *plan = hb_path_join(dir, "plan.hbmix");
    cr_assert_eq(tt_identity_plan(plan, "shards", n_shards, files, recs, sums, 0), 0);
    free(plan);
    free(sd);
}

static void write_images(const char *dir, int S, int n, const hb_hash128 *hashes, const uint8_t *pixels) {
    char *sd = hb_path_join(dir, "shards");
    hb_imgstore_writer *w;
    hb_err e;
    cr_assert_eq(hb_imgstore_writer_open(&w, sd, (uint32_t)S, &e), 0, "%s", e.reason);
    for (int i = 0; i < n; i++) {
        hb_image_rec r = {.hash = hashes[i], .width = (uint32_t)S, .height = (uint32_t)S, .format = 2,
                          .size = (uint32_t)S, .origin = "test//img", .pixels = pixels + (size_t)i * S * S * 3};
        cr_assert_eq(hb_imgstore_writer_add(w, &r, &e), 0, "%s", e.reason);
    }
    cr_assert_eq(hb_imgstore_writer_close(w, NULL, &e), 0, "%s", e.reason);
    free(sd);
}

void tt_fixture_data(const char *dir) {
    char *jp = tt_fixture("samples.jsonl"), *ip = tt_fixture("images.safetensors");
    size_t len;
    char *text = (char *)tu_read(jp, &len);
    cr_assert_not_null(text, "%s", jp);
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_sample s[256];
    int n = 0;
    hb_err e;
    for (char *line = text; *line && n < 256;) {
        char *nl = strchr(line, '\n');
        size_t l = nl ? (size_t)(nl - line) : strlen(line);
        cr_assert_eq(hb_sample_from_json(line, l, &s[n], &a, &e), 0, "%s", e.reason);
        n++;
        line += l + (nl ? 1 : 0);
    }
    write_samples(dir, s, n, 3);
    hb_st *st;
    cr_assert_eq(hb_st_open(ip, &st, &e), 0, "%s", e.reason);
    const hb_st_tensor *px = hb_st_find(st, "pixels");
    cr_assert(px && px->dtype == HB_ST_U8 && px->ndim == 4);
    int ni = (int)px->shape[0], S = (int)px->shape[1];
    hb_hash128 hashes[64];
    const char *hl = hb_st_meta(st, "hashes");
    cr_assert_not_null(hl);
    for (int i = 0; i < ni; i++) {
        char hex[33];
        memcpy(hex, hl + 33 * i, 32);
        hex[32] = 0;
        cr_assert_eq(hb_hash128_parse(hex, &hashes[i]), 0, "%s", hex);
    }
    write_images(dir, S, ni, hashes, px->data);
    hb_st_close(st);
    hb_arena_free(&a);
    free(text), free(jp), free(ip);
}

void tt_synth_data(const char *dir, int n, int S, int nvis, int V, int shards) {
    static const uint8_t colours[6][3] = {{220, 30, 30}, {30, 200, 40}, {40, 60, 220},
                                          {230, 220, 40}, {20, 20, 20}, {240, 240, 240}};
    uint8_t *pix = hb_xmalloc((size_t)6 * S * S * 3);
    hb_hash128 hashes[6];
    for (int c = 0; c < 6; c++) {
        for (int i = 0; i < S * S; i++)
            for (int k = 0; k < 3; k++)
                pix[((size_t)c * S * S + i) * 3 + k] = (uint8_t)(colours[c][k] + (i * 7 + k * 13) % 17);
        hashes[c] = hb_hash128_of(pix + (size_t)c * S * S * 3, (size_t)S * S * 3);
    }
    write_images(dir, S, 6, hashes, pix);
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_sample *s = hb_xcalloc((size_t)n, sizeof *s);
    for (int k = 0; k < n; k++) {
        char id[32];
        snprintf(id, sizeof id, "syn/%d", k);
        hb_rng r = hb_rng_for(7, "synth", id);
        int nimg = k % 7 == 3 ? 0 : k % 11 == 5 ? 2 : 1, c = (int)hb_rng_below(&r, 6);
        int cap = 4 + (int)hb_rng_below(&r, 9), T = 1 + nimg * nvis + 2 + cap + 1;
        int32_t *tok = hb_arena_alloc(&a, 4 * (size_t)T);
        uint8_t *m = hb_arena_calloc(&a, (size_t)T);
        hb_hash128 *im = hb_arena_alloc(&a, 16 * (size_t)(nimg + 1));
        int t = 0;
        tok[t++] = 1;
        for (int i = 0; i < nimg; i++) {
            im[i] = hashes[(c + i) % 6];
            for (int j = 0; j < nvis; j++) tok[t++] = HB_IMAGE_TOKEN;
        }
        tok[t++] = 3 + (int)hb_rng_below(&r, 4); /* a short prompt */
        tok[t++] = 7;
        for (int j = 0; j < cap; j++) { /* the caption: the colour word, then colour-dependent tokens */
            m[t] = 1;
            tok[t++] = j == 0 ? 10 + c : 16 + (int)((c * 29 + j * 13 + hb_rng_below(&r, 3)) % (uint64_t)(V - 16));
        }
        m[t] = 1;
        tok[t++] = 2;
        s[k] = (hb_sample){.id = hb_arena_strdup(&a, id), .source = "syn", .source_file = "synthetic",
                           .choices = "{}", .n_images = (uint32_t)nimg, .images = im, .n_tokens = (uint32_t)t,
                           .tokens = tok, .loss_mask = m};
    }
    write_samples(dir, s, n, shards);
    free(s);
    free(pix);
    hb_arena_free(&a);
}

void tt_fixture_cfg(hb_trainer_cfg *c, const char *dir, const char *run, const char *ref_name) {
    hb_trainer_cfg_defaults(c);
    hb_err e;
    char *rd = hb_path_join(dir, run), *plan = hb_path_join(dir, "plan.hbmix"), *model = tt_fixture("model");
    cr_assert_eq(hb_trainer_cfg_set(c, "run_dir", rd, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_trainer_cfg_set(c, "data.plan", plan, &e), 0);
    cr_assert_eq(hb_trainer_cfg_set(c, "model.checkpoint", model, &e), 0);
    char refrel[64];
    snprintf(refrel, sizeof refrel, "ref_%s.safetensors", ref_name);
    char *ref = tt_fixture(refrel);
    hb_st *st;
    cr_assert_eq(hb_st_open(ref, &st, &e), 0, "%s", e.reason);
    int n;
    const hb_trainer_field *f = hb_trainer_cfg_fields(&n);
    for (int i = 0; i < n; i++) {
        const char *v = hb_st_meta(st, f[i].name);
        if (v) cr_assert_eq(hb_trainer_cfg_set(c, f[i].name, v, &e), 0, "%s", e.reason);
    }
    c->threads = 1;
    c->log_every = 1000;
    hb_st_close(st);
    free(ref), free(rd), free(plan), free(model);
}

void tt_same_tensors(const char *a, const char *b, const char *prefix) {
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
        cr_assert(t->numel == u->numel && t->dtype == u->dtype, "%s", t->name);
        cr_assert_eq(memcmp(t->data, u->data, (size_t)t->numel * hb_st_dtype_size(t->dtype)), 0,
                     "%s differs between %s and %s", t->name, a, b);
        seen++;
    }
    cr_assert_gt(seen, 0);
    hb_st_close(sa);
    hb_st_close(sb);
}

int tt_read_log(const char *run_dir, tt_logrec *out, int max) {
    char *p = hb_path_join(run_dir, "train.jsonl");
    size_t len;
    char *text = (char *)tu_read(p, &len);
    free(p);
    if (!text) return -1;
    int n = 0;
    for (char *line = text; *line && n < max;) {
        char *nl = strchr(line, '\n');
        size_t l = nl ? (size_t)(nl - line) : strlen(line);
        cJSON *j = cJSON_ParseWithLength(line, l);
        cr_assert_not_null(j, "bad log line: %.*s", (int)l, line);
        const char *keys[6] = {"step", "loss", "lr", "grad_norm", "clip_coef", "tokens"};
        double v[6];
        for (int k = 0; k < 6; k++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
            v[k] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        }
        const cJSON *sk = cJSON_GetObjectItemCaseSensitive(j, "skipped"), *cu = cJSON_GetObjectItemCaseSensitive(j, "cursor");
        out[n] = (tt_logrec){(int64_t)v[0], v[1], v[2], v[3], v[4], (int64_t)v[5], cJSON_IsTrue(sk), ""};
        if (cJSON_IsString(cu)) snprintf(out[n].cursor, sizeof out[n].cursor, "%s", cu->valuestring);
        cJSON_Delete(j);
        n++;
        line += l + (nl ? 1 : 0);
    }
    free(text);
    return n;
}
