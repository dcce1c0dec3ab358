/* lib/mix/input — the sources to mix: their shards (from manifest.json, or every *.hbs of a directory), checked
 * against the manifest before anything is planned, and per-sample lookups (which shard and record holds sample j of
 * a source, and its lengths).
 *
 * Dependencies: mix/mix.h (hb_mix_input), shard/shard.h (hb_manifest_load, hb_shard_open, hb_shard_paths,
 * hb_shard_get_sample), core/core.h (hb_err, hb_arena, paths), <sys/mman.h> (munmap of cached lengths). */
#include "mix/mix.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "shard/shard.h"

void hb_mix_input_add(hb_mix_input *in, const char *source, const char *file, uint64_t n, uint64_t xxh3,
                      const uint8_t *lens) {
    if (!in->n_sources || strcmp(in->sources[in->n_sources - 1].name, source)) {
        in->sources = hb_xrealloc(in->sources, (in->n_sources + 1) * sizeof *in->sources);
        hb_mix_source *s = &in->sources[in->n_sources++];
        memset(s, 0, sizeof *s);
        s->name = hb_xstrdup(source);
        s->first_shard = in->n_shards;
    }
    hb_mix_source *s = &in->sources[in->n_sources - 1];
    in->shards = hb_xrealloc(in->shards, (in->n_shards + 1) * sizeof *in->shards);
    hb_mix_shard *sh = &in->shards[in->n_shards++];
    memset(sh, 0, sizeof *sh);
    sh->file = hb_xstrdup(file);
    sh->source = (uint32_t)(in->n_sources - 1);
    sh->n = n;
    sh->first = s->n;
    sh->xxh3 = xxh3;
    sh->units[HB_MIX_SAMPLES] = n;
    if (lens) {
        uint8_t *c = hb_xmalloc(n * HB_MIX_LEN_BYTES + 1);
        memcpy(c, lens, n * HB_MIX_LEN_BYTES);
        sh->lens = c;
        sh->owns_lens = 1;
        sh->have_units = 1;
        for (uint64_t k = 0; k < n; k++)
            for (int u = 1; u < 4; u++) sh->units[u] += hb_le32(c + k * HB_MIX_LEN_BYTES + 4 * (u - 1));
    }
    s->n += n;
    s->n_shards++;
    for (int u = 0; u < 4; u++) s->units[u] += sh->units[u];
}

void hb_mix_input_free(hb_mix_input *in) {
    for (size_t i = 0; i < in->n_shards; i++) {
        hb_mix_shard *sh = &in->shards[i];
        if (sh->map) munmap(sh->map, sh->map_len);
        if (sh->owns_lens) free((void *)sh->lens);
        free(sh->file);
    }
    for (size_t i = 0; i < in->n_sources; i++) free(in->sources[i].name);
    for (size_t i = 0; i < in->n_unused; i++) free(in->unused[i]);
    free(in->sources);
    free(in->shards);
    free(in->unused);
    free(in->dir);
    memset(in, 0, sizeof *in);
}

void hb_mix_input_locate(const hb_mix_input *in, size_t s, uint64_t j, uint32_t *shard, uint64_t *record) {
    const hb_mix_source *src = &in->sources[s];
    size_t lo = src->first_shard, hi = src->first_shard + src->n_shards; /* last shard with first <= j */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (in->shards[mid].first <= j) lo = mid;
        else hi = mid;
    }
    *shard = (uint32_t)lo;
    *record = j - in->shards[lo].first;
}

uint32_t hb_mix_input_len(const hb_mix_input *in, size_t s, uint64_t j, hb_mix_unit unit) {
    if (unit == HB_MIX_SAMPLES) return 1;
    uint32_t sh;
    uint64_t rec;
    hb_mix_input_locate(in, s, j, &sh, &rec);
    return hb_le32(in->shards[sh].lens + rec * HB_MIX_LEN_BYTES + 4 * ((int)unit - 1));
}

/* ---- opening a shards directory ---- */
typedef struct {
    char *file, *source;
    uint64_t n, xxh3, units[4];
    int have_units;
} found_shard;

static void found_free(found_shard *f, size_t n) {
    for (size_t i = 0; i < n; i++) free(f[i].file), free(f[i].source);
    free(f);
}

/* Open one shard: exists, is a sample shard, and (when a manifest is given) matches its count and checksum. */
static int check_shard(const char *dir, found_shard *f, int from_manifest, hb_err *err) {
    char *path = hb_path_join(dir, f->file);
    hb_shard *sh = NULL;
    int code = hb_shard_open(&sh, path, err);
    if (code) {
        if (!hb_path_exists(path))
            code = hb_err_set(err, HB_ENOTFOUND, path, HB_NOPOS, HB_NOPOS,
                              "shard listed in the manifest is missing (rerun hb-prep)");
        free(path);
        return code;
    }
    if (strcmp(hb_shard_schema(sh), HB_SCHEMA_SAMPLE))
        code = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS, "schema is %s, hb-mix needs %s", hb_shard_schema(sh),
                          HB_SCHEMA_SAMPLE);
    else if (from_manifest && (hb_shard_count(sh) != f->n || hb_shard_checksum(sh) != f->xxh3))
        code = hb_err_set(err, HB_ECHECKSUM, path, HB_NOPOS, HB_NOPOS,
                          "shard has %llu samples and checksum %016llx, the manifest says %llu and %016llx "
                          "(the shard changed after the manifest was written: rerun hb-prep)",
                          (unsigned long long)hb_shard_count(sh), (unsigned long long)hb_shard_checksum(sh),
                          (unsigned long long)f->n, (unsigned long long)f->xxh3);
    else if (hb_shard_count(sh) > UINT32_MAX)
        code = hb_err_set(err, HB_EUNSUPPORTED, path, HB_NOPOS, HB_NOPOS,
                          "%llu records: a mix plan addresses at most 2^32-1 records per shard",
                          (unsigned long long)hb_shard_count(sh));
    if (!code && !from_manifest) {
        f->n = hb_shard_count(sh);
        f->xxh3 = hb_shard_checksum(sh);
        if (f->n) { /* the source is the first record's */
            hb_arena a;
            hb_arena_init(&a, 0);
            hb_sample smp;
            if (!(code = hb_shard_get_sample(sh, 0, &smp, &a, err))) f->source = hb_xstrdup(smp.source);
            hb_arena_free(&a);
        }
    }
    hb_shard_close(sh);
    free(path);
    return code;
}

/* *info: the manifest's info object (NULL without a manifest); the caller deletes it. */
static int list_shards(const char *dir, found_shard **out, size_t *n_out, int *from_manifest, cJSON **info,
                       hb_err *err) {
    *out = NULL;
    *n_out = 0;
    *info = NULL;
    char *mpath = hb_path_join(dir, "manifest.json");
    *from_manifest = hb_path_exists(mpath);
    free(mpath);
    if (!hb_path_is_dir(dir))
        return hb_err_set(err, HB_ENOTFOUND, dir, HB_NOPOS, HB_NOPOS, "shards directory not found (run hb-prep first)");
    int code = 0;
    if (*from_manifest) {
        hb_manifest m;
        if ((code = hb_manifest_load(&m, dir, err))) return code;
        *info = m.extra_json ? cJSON_Parse(m.extra_json) : NULL;
        found_shard *f = hb_xcalloc(m.n_shards + 1, sizeof *f);
        for (size_t i = 0; i < m.n_shards; i++) {
            const hb_manifest_shard *s = &m.shards[i];
            if (s->schema && strcmp(s->schema, HB_SCHEMA_SAMPLE)) continue; /* e.g. an image store */
            found_shard *x = &f[(*n_out)++];
            x->file = hb_xstrdup(s->path);
            x->source = hb_xstrdup(s->source);
            x->n = s->samples;
            x->xxh3 = s->xxh3;
            x->units[0] = s->samples;
            x->units[1] = s->tokens;
            x->units[2] = s->supervised_tokens;
            x->units[3] = s->image_tokens;
            x->have_units = 1;
        }
        hb_manifest_free(&m);
        *out = f;
        return 0;
    }
    char **paths;
    size_t np;
    if ((code = hb_shard_paths(dir, &paths, &np, err))) return code;
    found_shard *f = hb_xcalloc(np + 1, sizeof *f);
    for (size_t i = 0; i < np && !code; i++) {
        const char *b = strrchr(paths[i], '/');
        f[i].file = hb_xstrdup(b ? b + 1 : paths[i]);
        *n_out = i + 1;
        code = check_shard(dir, &f[i], 0, err);
    }
    hb_shard_paths_free(paths, np);
    if (code) {
        found_free(f, *n_out);
        *n_out = 0;
        return code;
    }
    *out = f;
    return 0;
}

int hb_mix_input_open(hb_mix_input *in, const char *dir, const char *const *names, size_t n_names, hb_err *err) {
    memset(in, 0, sizeof *in);
    found_shard *f;
    size_t nf;
    cJSON *info;
    int from_manifest, code = list_shards(dir, &f, &nf, &from_manifest, &info, err);
    if (code) return code;
    in->dir = hb_xstrdup(dir);
    for (size_t k = 0; k < n_names && !code; k++) {
        size_t before = in->n_shards;
        for (size_t i = 0; i < nf && !code; i++) {
            if (!f[i].source || strcmp(f[i].source, names[k])) continue;
            if (from_manifest && (code = check_shard(dir, &f[i], 1, err))) break;
            hb_mix_input_add(in, names[k], f[i].file, f[i].n, f[i].xxh3, NULL);
            hb_mix_shard *sh = &in->shards[in->n_shards - 1];
            if (f[i].have_units) {
                memcpy(sh->units, f[i].units, sizeof sh->units);
                sh->have_units = 1;
                for (int u = 1; u < 4; u++) in->sources[sh->source].units[u] += f[i].units[u];
            }
        }
        if (!code && in->n_shards == before) {
            hb_buf b = {0};
            for (size_t i = 0; i < nf; i++) {
                int seen = 0;
                for (size_t j = 0; j < i && !seen; j++) seen = f[j].source && f[i].source && !strcmp(f[j].source, f[i].source);
                if (!seen && f[i].source) hb_buf_printf(&b, "%s%s", b.len ? ", " : "", f[i].source);
            }
            code = hb_err_set(err, HB_ENOTFOUND, dir, HB_NOPOS, HB_NOPOS,
                              "source '%s' has no shards here (sources present: %s); compile it with hb-prep or "
                              "remove it from mix.sources%s", names[k], b.len ? hb_buf_cstr(&b) : "none",
                              from_manifest ? "" : " (no manifest.json: each shard counts as the source of its "
                                                   "first record)");
            hb_buf_free(&b);
        }
    }
    for (size_t i = 0; i < nf && !code; i++) { /* sources present but not mixed, each once */
        int used = !f[i].source;
        for (size_t k = 0; k < n_names && !used; k++) used = !strcmp(names[k], f[i].source);
        for (size_t j = 0; j < in->n_unused && !used; j++) used = !strcmp(in->unused[j], f[i].source);
        if (used) continue;
        in->unused = hb_xrealloc(in->unused, (in->n_unused + 1) * sizeof *in->unused);
        in->unused[in->n_unused++] = hb_xstrdup(f[i].source);
    }
    const cJSON *x, *without = cJSON_GetObjectItemCaseSensitive(info, "without_images");
    cJSON_ArrayForEach(x, without)
        for (size_t i = 0; i < in->n_sources && !code && cJSON_IsString(x); i++)
            if (!strcmp(in->sources[i].name, x->valuestring)) in->sources[i].without_images = 1;
    cJSON_Delete(info);
    found_free(f, nf);
    if (code) hb_mix_input_free(in);
    return code;
}
