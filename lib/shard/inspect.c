/* What hb-inspect does: list the shards of a path, dump, verify, stats and pack.
 * Dependencies: shard.h, imgstore.h (verifying image stores and hb.image/1 records), core/core.h (hb_arena, hb_buf, hb_err, hb_progress), <dirent.h> (listing *.hbs),
 * <stdlib.h> (qsort). */
#include "shard.h"
#include "imgstore.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int hb_shard_paths(const char *path, char ***out, size_t *n_out, hb_err *err) {
    *out = NULL;
    *n_out = 0;
    if (!hb_path_exists(path)) return hb_err_set(err, HB_ENOTFOUND, path, HB_NOPOS, HB_NOPOS, "no such file or directory");
    if (!hb_path_is_dir(path)) {
        *out = hb_xmalloc(sizeof **out);
        (*out)[0] = hb_xstrdup(path);
        *n_out = 1;
        return 0;
    }
    char *mpath = hb_path_join(path, "manifest.json");
    int has_manifest = hb_path_exists(mpath);
    free(mpath);
    if (has_manifest) {
        hb_manifest m;
        int code = hb_manifest_load(&m, path, err);
        if (code) return code;
        *out = hb_xcalloc(m.n_shards + 1, sizeof **out);
        for (size_t i = 0; i < m.n_shards; i++) (*out)[i] = hb_path_join(path, m.shards[i].path);
        *n_out = m.n_shards;
        hb_manifest_free(&m);
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) return hb_err_errno(err, HB_EIO, path, "cannot list directory");
    size_t n = 0, cap = 16;
    char **v = hb_xmalloc(cap * sizeof *v);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".hbs") != 0) continue;
        if (n == cap) v = hb_xrealloc(v, (cap *= 2) * sizeof *v);
        v[n++] = hb_path_join(path, e->d_name);
    }
    closedir(d);
    qsort(v, n, sizeof *v, cmp_str);
    if (n == 0) {
        free(v);
        return hb_err_set(err, HB_ENOTFOUND, path, HB_NOPOS, HB_NOPOS, "directory holds no manifest.json and no *.hbs shard");
    }
    *out = v;
    *n_out = n;
    return 0;
}

void hb_shard_paths_free(char **paths, size_t n) {
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

static int need_sample_schema(hb_shard *s, hb_err *err) {
    if (strcmp(hb_shard_schema(s), HB_SCHEMA_SAMPLE) != 0)
        return hb_err_set(err, HB_EUNSUPPORTED, hb_shard_path(s), HB_NOPOS, HB_NOPOS,
                          "schema is '%s', not a sample shard (%s)", hb_shard_schema(s), HB_SCHEMA_SAMPLE);
    return 0;
}

int hb_inspect_dump(const char *path, FILE *out, hb_err *err) {
    char **paths;
    size_t n;
    int code = hb_shard_paths(path, &paths, &n, err);
    if (code) return code;
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_buf line = {0};
    for (size_t i = 0; i < n && !code; i++) {
        hb_shard *s;
        if ((code = hb_shard_open(&s, paths[i], err))) break;
        if (!(code = need_sample_schema(s, err))) {
            for (uint64_t k = 0; k < hb_shard_count(s) && !code; k++) {
                hb_sample smp;
                hb_arena_reset(&a);
                if ((code = hb_shard_get_sample(s, k, &smp, &a, err))) break;
                hb_buf_clear(&line);
                hb_sample_to_json(&smp, &line);
                hb_buf_putc(&line, '\n');
                if (fwrite(line.data, 1, line.len, out) != line.len)
                    code = hb_err_errno(err, HB_EIO, "<stdout>", "write failed");
            }
        }
        hb_shard_close(s);
    }
    hb_buf_free(&line);
    hb_arena_free(&a);
    hb_shard_paths_free(paths, n);
    return code;
}

static int check_sample(const uint8_t *rec, size_t len, void *ctx, hb_err *err) {
    hb_arena *a = ctx;
    hb_sample s;
    hb_arena_reset(a);
    return hb_sample_decode(rec, len, &s, a, err);
}

static int check_image(const uint8_t *rec, size_t len, void *ctx, hb_err *err) {
    hb_buf *pixels = ctx;
    hb_image_rec r;
    char origin[1024];
    /* A first decode without pixels reads the size; the second checks the pixel checksum. */
    int code = hb_image_rec_decode(rec, len, &r, NULL, origin, sizeof origin, err);
    if (code) return code;
    size_t need = (size_t)r.size * r.size * 3; /* exactly: up to 805 MB for S = 16384 */
    if (pixels->cap < need) {
        free(pixels->data);
        pixels->data = hb_xmalloc(need);
        pixels->cap = need;
    }
    pixels->len = 0;
    return hb_image_rec_decode(rec, len, &r, pixels->data, origin, sizeof origin, err);
}

int hb_inspect_verify(const char *path, FILE *out, hb_err *err) {
    char **paths;
    size_t n;
    int code = hb_shard_paths(path, &paths, &n, err);
    if (code) return code;
    hb_manifest m = {0};
    int have_manifest = 0;
    if (hb_path_is_dir(path)) {
        char *mp = hb_path_join(path, "manifest.json");
        have_manifest = hb_path_exists(mp);
        free(mp);
        if (have_manifest && (code = hb_manifest_load(&m, path, err))) goto done;
    }
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_buf pixels = {0};
    for (size_t i = 0; i < n && !code; i++) {
        hb_shard *s;
        if ((code = hb_shard_open(&s, paths[i], err))) break;
        int is_sample = strcmp(hb_shard_schema(s), HB_SCHEMA_SAMPLE) == 0;
        int is_image = strcmp(hb_shard_schema(s), HB_SCHEMA_IMAGE) == 0;
        uint64_t count = hb_shard_count(s), sum = hb_shard_checksum(s);
        hb_shard_close(s);
        code = hb_shard_verify(paths[i], is_sample ? check_sample : is_image ? check_image : NULL,
                               is_image ? (void *)&pixels : (void *)&a, err);
        if (!code && have_manifest) {
            const hb_manifest_shard *e = &m.shards[i];
            if (e->samples != count || e->xxh3 != sum)
                code = hb_err_set(err, HB_ECHECKSUM, paths[i], HB_NOPOS, HB_NOPOS,
                                  "manifest says %llu samples, checksum %016llx; the shard has %llu, %016llx",
                                  (unsigned long long)e->samples, (unsigned long long)e->xxh3,
                                  (unsigned long long)count, (unsigned long long)sum);
        }
        if (!code && out) fprintf(out, "ok %s (%llu records)\n", paths[i], (unsigned long long)count);
    }
    /* A prep output directory also holds image stores (images/<S>.hbs + .hbi): verify them with their indexes. */
    if (!code && hb_path_is_dir(path)) {
        uint32_t sizes[16];
        int ns = hb_imgstore_sizes(path, sizes, 16);
        for (int i = 0; i < ns && i < 16 && !code; i++) {
            code = hb_imgstore_verify(path, sizes[i], err);
            if (!code && out) fprintf(out, "ok %s/images/%u.hbs (image store and index)\n", path, sizes[i]);
        }
    }
    hb_buf_free(&pixels);
    hb_arena_free(&a);
done:
    if (have_manifest) hb_manifest_free(&m);
    hb_shard_paths_free(paths, n);
    return code;
}

typedef struct {
    char *source;
    uint64_t samples, tokens, supervised, image_tokens, images, max_len, turns;
} source_stats;

static source_stats *stats_for(source_stats **v, size_t *n, const char *source) {
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].source, source) == 0) return &(*v)[i];
    *v = hb_xrealloc(*v, (*n + 1) * sizeof **v);
    source_stats *s = &(*v)[(*n)++];
    memset(s, 0, sizeof *s);
    s->source = hb_xstrdup(source);
    return s;
}

int hb_inspect_stats(const char *path, int json, FILE *out, hb_err *err) {
    char **paths;
    size_t n;
    int code = hb_shard_paths(path, &paths, &n, err);
    if (code) return code;
    source_stats *v = NULL;
    size_t nv = 0;
    hb_arena a;
    hb_arena_init(&a, 0);
    for (size_t i = 0; i < n && !code; i++) {
        hb_shard *s;
        if ((code = hb_shard_open(&s, paths[i], err))) break;
        if (!(code = need_sample_schema(s, err))) {
            for (uint64_t k = 0; k < hb_shard_count(s) && !code; k++) {
                hb_sample smp;
                hb_arena_reset(&a);
                if ((code = hb_shard_get_sample(s, k, &smp, &a, err))) break;
                source_stats *st = stats_for(&v, &nv, smp.source);
                st->samples++;
                st->tokens += smp.n_tokens;
                st->supervised += smp.n_supervised;
                st->image_tokens += smp.n_image_tokens;
                st->images += smp.n_images;
                st->turns += smp.n_turns;
                if (smp.n_tokens > st->max_len) st->max_len = smp.n_tokens;
            }
        }
        hb_shard_close(s);
    }
    hb_arena_free(&a);
    if (!code) {
        source_stats tot = {.source = "total"};
        for (size_t i = 0; i < nv; i++) {
            tot.samples += v[i].samples;
            tot.tokens += v[i].tokens;
            tot.supervised += v[i].supervised;
            tot.image_tokens += v[i].image_tokens;
            tot.images += v[i].images;
            tot.turns += v[i].turns;
            if (v[i].max_len > tot.max_len) tot.max_len = v[i].max_len;
        }
        if (json) fprintf(out, "{\"sources\": [");
        else
            fprintf(out, "%-16s %12s %14s %14s %14s %10s %9s %8s\n", "source", "samples", "tokens", "supervised",
                    "image_tokens", "images", "mean_len", "max_len");
        for (size_t i = 0; i <= nv; i++) {
            const source_stats *s = i < nv ? &v[i] : &tot;
            double mean = s->samples ? (double)s->tokens / (double)s->samples : 0;
            if (json)
                fprintf(out,
                        "%s{\"source\": \"%s\", \"samples\": %llu, \"tokens\": %llu, \"supervised_tokens\": %llu, "
                        "\"image_tokens\": %llu, \"images\": %llu, \"turns\": %llu, \"mean_len\": %.2f, "
                        "\"max_len\": %llu}",
                        i == nv ? "], \"total\": " : (i ? ", " : ""), s->source, (unsigned long long)s->samples,
                        (unsigned long long)s->tokens, (unsigned long long)s->supervised,
                        (unsigned long long)s->image_tokens, (unsigned long long)s->images,
                        (unsigned long long)s->turns, mean, (unsigned long long)s->max_len);
            else
                fprintf(out, "%-16s %12llu %14llu %14llu %14llu %10llu %9.1f %8llu\n", s->source,
                        (unsigned long long)s->samples, (unsigned long long)s->tokens,
                        (unsigned long long)s->supervised, (unsigned long long)s->image_tokens,
                        (unsigned long long)s->images, mean, (unsigned long long)s->max_len);
        }
        if (json) fprintf(out, "}\n");
    }
    for (size_t i = 0; i < nv; i++) free(v[i].source);
    free(v);
    hb_shard_paths_free(paths, n);
    return code;
}

int hb_inspect_pack(FILE *in, const char *in_name, const char *out_path, const hb_shard_opts *opts, hb_err *err) {
    hb_sample_writer sw;
    int code = hb_sample_writer_open(&sw, out_path, opts, err);
    if (code) return code;
    hb_arena a;
    hb_arena_init(&a, 0);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long long lineno = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (len == 0) continue;
        hb_sample s;
        hb_arena_reset(&a);
        if ((code = hb_sample_from_json(line, (size_t)len, &s, &a, err))) {
            char why[sizeof err->reason];
            snprintf(why, sizeof why, "line %lld: %s", lineno, err ? err->reason : "");
            hb_err_set(err, code, in_name, HB_NOPOS, HB_NOPOS, "%s", why);
            break;
        }
        if ((code = hb_sample_writer_add(&sw, &s, err))) break;
    }
    free(line);
    hb_arena_free(&a);
    if (code) {
        hb_sample_writer_abort(&sw);
        return code;
    }
    return hb_sample_writer_close(&sw, NULL, err);
}
