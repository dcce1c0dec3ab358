#include "mixutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

void tu_mix_sample(hb_arena *a, const char *source, uint64_t k, uint32_t ntok, uint32_t nsup, uint32_t nimg,
                   hb_sample *s) {
    memset(s, 0, sizeof *s);
    s->id = hb_arena_printf(a, "%s/%llu", source, (unsigned long long)k);
    s->source = hb_arena_strdup(a, source);
    s->source_file = "synthetic.json";
    int64_t *rec = hb_arena_alloc(a, 8);
    rec[0] = (int64_t)k;
    s->n_records = 1;
    s->records = rec;
    s->choices = "{}";
    hb_hash128 *im = hb_arena_alloc(a, 16);
    im[0] = (hb_hash128){k + 1, 7};
    s->n_images = nimg ? 1 : 0;
    s->images = im;
    hb_turn *t = hb_arena_alloc(a, sizeof *t);
    t[0] = (hb_turn){HB_ROLE_HUMAN, 1, "q"};
    s->n_turns = 1;
    s->turns = t;
    int32_t *tok = hb_arena_alloc(a, 4 * (size_t)ntok + 4);
    uint8_t *m = hb_arena_alloc(a, (size_t)ntok + 1);
    for (uint32_t i = 0; i < ntok; i++) {
        tok[i] = i == 0 ? 1 : i <= nimg ? HB_IMAGE_TOKEN : (int32_t)(100 + (k + i) % 30000);
        m[i] = i >= ntok - nsup && i > nimg;
    }
    s->n_tokens = ntok;
    s->tokens = tok;
    s->loss_mask = m;
}

void tu_mix_lens(const char *source, uint64_t k, uint32_t base, uint32_t spread, uint32_t image, uint32_t out[3]) {
    char id[64];
    snprintf(id, sizeof id, "%s/%llu", source, (unsigned long long)k);
    hb_rng r = hb_rng_for(1, "test-lengths", id);
    out[0] = base + (uint32_t)hb_rng_below(&r, spread ? spread : 1);
    if (out[0] < image + 2) out[0] = image + 2;
    out[2] = image;
    out[1] = (out[0] - image - 1) / 3;
}

int tu_mix_shard(const char *dir, const char *file, const char *source, uint64_t first, uint64_t n,
                 const uint32_t (*lens)[3], hb_manifest *m) {
    char *path = hb_path_join(dir, file);
    hb_sample_writer w;
    hb_shard_info info;
    hb_err err;
    hb_shard_opts opts = {4096, 1}; /* small blocks: several per shard */
    int code = hb_sample_writer_open(&w, path, &opts, &err);
    hb_arena a;
    hb_arena_init(&a, 0);
    for (uint64_t k = 0; k < n && !code; k++) {
        hb_sample s;
        hb_arena_reset(&a);
        tu_mix_sample(&a, source, first + k, lens[k][0], lens[k][1], lens[k][2], &s);
        code = hb_sample_writer_add(&w, &s, &err);
    }
    hb_sample_totals tot = w.totals;
    if (code) hb_sample_writer_abort(&w);
    else code = hb_sample_writer_close(&w, &info, &err);
    hb_arena_free(&a);
    if (!code && m) {
        hb_manifest_shard sh = {(char *)file, (char *)source, HB_SCHEMA_SAMPLE, tot.samples, tot.tokens,
                                tot.supervised_tokens, tot.image_tokens, info.bytes, info.xxh3};
        hb_manifest_add(m, &sh);
    }
    if (code) fprintf(stderr, "tu_mix_shard %s: %s\n", path, err.reason);
    free(path);
    return code;
}

int tu_mix_dir(const char *dir, size_t n, const char *const *names, const uint64_t *sizes, uint32_t per,
               int with_manifest) {
    hb_manifest m = {0};
    m.tool = hb_xstrdup("test");
    m.recipe_hash = hb_xstrdup("");
    int code = 0;
    for (size_t i = 0; i < n && !code; i++) {
        uint64_t first = 0;
        uint32_t image = strncmp(names[i], "text", 4) ? 8 : 0;
        for (uint32_t s = 0; s < per && !code; s++) {
            uint64_t cnt = sizes[i] / per + (s < sizes[i] % per);
            uint32_t (*lens)[3] = calloc(cnt + 1, sizeof *lens);
            for (uint64_t k = 0; k < cnt; k++) tu_mix_lens(names[i], first + k, 20 + 7 * (uint32_t)i, 40, image, lens[k]);
            char file[256];
            snprintf(file, sizeof file, "%s-%05u.hbs", names[i], s);
            code = tu_mix_shard(dir, file, names[i], first, cnt, (const uint32_t (*)[3])lens, &m);
            free(lens);
            first += cnt;
        }
    }
    hb_err err;
    if (!code && with_manifest) code = hb_manifest_write(&m, dir, &err);
    hb_manifest_free(&m);
    return code;
}

char *tu_mix_recipe(const char *dir, const char *name, const char *text) {
    char *p = hb_path_join(dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

int tu_mix_layout(const char *dir, int with_manifest) {
    static const char *const names[] = {"vqav2", "gqa", "ocrvqa", "textchat", "unused"};
    static const uint64_t sizes[] = {500, 120, 37, 9, 20};
    static const uint32_t per[] = {3, 2, 1, 1, 1};
    char *sd = hb_path_join(dir, "shards");
    hb_err err;
    int code = hb_mkdir_p(sd, &err);
    hb_manifest m = {0};
    m.tool = hb_xstrdup("test");
    m.recipe_hash = hb_xstrdup("");
    for (size_t i = 0; i < 5 && !code; i++) {
        uint64_t first = 0;
        uint32_t image = strncmp(names[i], "text", 4) ? 8 : 0;
        for (uint32_t s = 0; s < per[i] && !code; s++) {
            uint64_t cnt = sizes[i] / per[i] + (s < sizes[i] % per[i]);
            uint32_t (*lens)[3] = calloc(cnt + 1, sizeof *lens);
            for (uint64_t k = 0; k < cnt; k++) tu_mix_lens(names[i], first + k, 20 + 7 * (uint32_t)i, 40, image, lens[k]);
            char file[64];
            snprintf(file, sizeof file, "%s-%05u.hbs", names[i], s);
            code = tu_mix_shard(sd, file, names[i], first, cnt, (const uint32_t (*)[3])lens, &m);
            free(lens);
            first += cnt;
        }
    }
    if (!code && with_manifest) code = hb_manifest_write(&m, sd, &err);
    hb_manifest_free(&m);
    free(sd);
    return code;
}

int tu_mix_run(const char *dir, const char *name, const char *body, int jobs, int dry_run, hb_err *err) {
    char file[128];
    snprintf(file, sizeof file, "%s.yaml", name);
    hb_buf b = {0};
    hb_buf_printf(&b, "name: %s\nseed: 5\nmax_length: 127\noutput: shards\n%s", name, body);
    char *recipe = tu_mix_recipe(dir, file, hb_buf_cstr(&b));
    hb_buf_free(&b);
    hb_mix_opts o = {recipe, NULL, NULL, dry_run, jobs};
    FILE *null = fopen("/dev/null", "w");
    int code = hb_mix_run(&o, null, err);
    fclose(null);
    free(recipe);
    return code;
}

char *tu_mix_plan_path(const char *dir, const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "shards/mix-%s/plan.hbmix", name);
    return hb_path_join(dir, rel);
}

void tu_mix_stream(const hb_mix_plan *p, uint32_t **src, uint64_t **idx) {
    size_t ns = hb_mix_plan_n_shards(p);
    uint64_t *first = calloc(ns + 1, sizeof *first), *next = calloc(hb_mix_plan_n_sources(p) + 1, sizeof *next);
    for (size_t i = 0; i < ns; i++) { /* shards of a source are consecutive, in order */
        uint32_t s = hb_mix_plan_shard_source(p, i);
        first[i] = next[s];
        next[s] += hb_mix_plan_shard_records(p, i);
    }
    uint64_t n = hb_mix_plan_samples(p);
    *src = malloc((n + 1) * sizeof **src);
    *idx = malloc((n + 1) * sizeof **idx);
    for (uint64_t k = 0; k < n; k++) {
        hb_mix_ref r;
        hb_err e;
        if (hb_mix_plan_sample(p, k, &r, &e)) abort();
        (*src)[k] = r.source;
        (*idx)[k] = first[r.shard] + r.record;
    }
    free(first);
    free(next);
}
