/* lib/mix/run — what `hb-mix RECIPE` does, start to finish: spec, shards, lengths (cached), solve, generate, and the
 * reports next to the plan. Nothing is written before every input has been read and checked and the counts are
 * solved (even new lengths-cache files wait for the plan); outputs are atomic files, so a failed run leaves a previous
 * plan intact.
 *
 * Outputs in the plan directory (mix.output, else <shards>/mix-<name>):
 *   plan.hbmix   the plan (docs/mix-plan.md §1)         table.json / table.md   the realised table
 *   lengths/     the per-shard lengths cache (docs/mix-plan.md §5); entries for shards no longer mixed are removed
 *
 * Dependencies: mix/mix.h, core/core.h (paths, hb_write_file_atomic), <dirent.h> <unistd.h> (cwd, cache pruning). */
#include "mix/mix.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The components of p made absolute (cwd prefix) and lexically normalised ("." dropped, ".." pops; symlinks are not
 * followed, so the result depends only on the strings). Returns the count; *buf holds the storage. */
static size_t components(const char *p, char ***parts, char **buf) {
    char cwd[4096];
    hb_buf in = {0};
    if (p[0] != '/') hb_buf_puts(&in, getcwd(cwd, sizeof cwd) ? cwd : "/");
    hb_buf_putc(&in, '/');
    hb_buf_puts(&in, p);
    char *s = (char *)hb_buf_cstr(&in), *save = NULL;
    *parts = hb_xcalloc(in.len + 1, sizeof **parts);
    size_t np = 0;
    for (char *t = strtok_r(s, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, ".")) continue;
        if (!strcmp(t, "..")) {
            if (np) np--;
            continue;
        }
        (*parts)[np++] = t;
    }
    *buf = s;
    return np;
}

/* Directory `to` relative to directory `from`: "..", "../shards", "." ... malloc'd. */
static char *rel_path(const char *from, const char *to) {
    char **a, **b, *sa, *sb;
    size_t na = components(from, &a, &sa), nb = components(to, &b, &sb), k = 0;
    while (k < na && k < nb && !strcmp(a[k], b[k])) k++;
    hb_buf r = {0};
    for (size_t i = k; i < na; i++) hb_buf_puts(&r, r.len ? "/.." : "..");
    for (size_t i = k; i < nb; i++) hb_buf_printf(&r, "%s%s", r.len ? "/" : "", b[i]);
    if (!r.len) hb_buf_putc(&r, '.');
    char *out = hb_xstrdup(hb_buf_cstr(&r));
    hb_buf_free(&r);
    free(a), free(b), free(sa), free(sb);
    return out;
}

/* Remove cache files of shards that are not part of this input. */
static void prune_cache(const char *dir, const hb_mix_input *in) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l != 22 || strcmp(e->d_name + 16, ".hblen")) continue;
        int keep = 0;
        for (size_t i = 0; i < in->n_shards && !keep; i++) {
            char hex[17];
            hb_hash64_hex(in->shards[i].xxh3, hex);
            keep = !strncmp(hex, e->d_name, 16);
        }
        if (!keep) {
            char *p = hb_path_join(dir, e->d_name);
            unlink(p);
            free(p);
        }
    }
    closedir(d);
}

static int write_reports(const hb_mix_spec *spec, const hb_mix_input *in, const hb_mix_result *res,
                         const char *out_dir, hb_err *err) {
    hb_buf j = {0}, m = {0};
    hb_mix_report_json(spec, in, res, &j);
    hb_mix_report_md(spec, in, res, &m);
    char *pj = hb_path_join(out_dir, "table.json"), *pm = hb_path_join(out_dir, "table.md");
    int code = hb_write_file_atomic(pj, j.data, j.len, err);
    if (!code) code = hb_write_file_atomic(pm, m.data, m.len, err);
    free(pj);
    free(pm);
    hb_buf_free(&j);
    hb_buf_free(&m);
    return code;
}

int hb_mix_run(const hb_mix_opts *o, FILE *out, hb_err *err) {
    hb_mix_spec spec;
    hb_mix_input in = {0};
    hb_mix_result res = {0};
    char *out_dir = NULL, *cache = NULL, *plan = NULL, *ref = NULL;
    const char **names = NULL;
    int code = hb_mix_spec_load(o->recipe, &spec, err);
    if (code) return code;
    const char *shards = o->shards_dir ? o->shards_dir : spec.shards_dir;
    if (!shards) {
        code = hb_err_set(err, HB_EINVAL, o->recipe, HB_NOPOS, HB_NOPOS,
                          "no shards directory: set `output:` in the recipe or pass --shards DIR");
        goto done;
    }
    if (o->out_dir) out_dir = hb_xstrdup(o->out_dir);
    else if (spec.out_dir) out_dir = hb_xstrdup(spec.out_dir);
    else {
        char sub[300];
        snprintf(sub, sizeof sub, "mix-%s", spec.name);
        out_dir = hb_path_join(shards, sub);
    }
    names = hb_xcalloc(spec.n, sizeof *names);
    for (size_t i = 0; i < spec.n; i++) names[i] = spec.want[i].name;
    if ((code = hb_mix_input_open(&in, shards, names, spec.n, err))) goto done;
    for (size_t i = 0; i < in.n_sources && !code; i++) { /* image positions without images: hb-train would stop */
        const hb_mix_source *s = &in.sources[i];
        if (!s->without_images || !s->units[HB_MIX_IMAGE]) continue;
        if (o->dry_run) {
            if (out) fprintf(out, "warning: source %s was compiled without its images: a plan of it cannot be "
                                  "trained on\n", s->name);
            continue;
        }
        code = hb_err_set(err, HB_EINVAL, shards, HB_NOPOS, HB_NOPOS,
                          "source %s was compiled without its images (hb-prep --no-images or images: none), yet %llu "
                          "of its tokens are image positions: hb-train could not train on it. Give it its images and "
                          "rerun hb-prep, or leave it out of mix.sources (--dry-run shows the table anyway)", s->name,
                          (unsigned long long)s->units[HB_MIX_IMAGE]);
    }
    if (code) goto done;
    for (size_t i = 0; i < in.n_sources + in.n_shards && !code; i++) /* the plan stores names with a u16 length */
        if (strlen(i < in.n_sources ? in.sources[i].name : in.shards[i - in.n_sources].file) > 65535)
            code = hb_err_set(err, HB_EUNSUPPORTED, o->recipe, HB_NOPOS, HB_NOPOS, "source or shard name too long");
    if (code) goto done;
    cache = hb_path_join(out_dir, "lengths");
    if ((code = hb_mix_input_lengths(&in, cache, 0, o->jobs, err))) goto done; /* cache files: written at the end */
    if ((code = hb_mix_solve(&spec, &in, &res, err))) goto done;
    ref = rel_path(out_dir, shards);
    if (!o->dry_run) {
        if ((code = hb_mkdir_p(out_dir, err))) goto done;
        plan = hb_path_join(out_dir, "plan.hbmix");
    }
    if ((code = hb_mix_generate(&spec, &in, &res, plan, ref, o->jobs, err))) goto done;
    if (out) hb_mix_report_text(&spec, &in, &res, out);
    if (!o->dry_run) {
        if ((code = write_reports(&spec, &in, &res, out_dir, err)) || (code = hb_mix_input_save_lengths(&in, cache, err)))
            goto done;
        prune_cache(cache, &in);
        if (out) fprintf(out, "wrote %s (and table.json, table.md)\n", plan);
    } else if (out) {
        fprintf(out, "dry run: nothing written (the plan would go to %s/plan.hbmix)\n", out_dir);
    }
done:
    free(names);
    free(out_dir);
    free(cache);
    free(plan);
    free(ref);
    hb_mix_result_free(&res);
    hb_mix_input_free(&in);
    hb_mix_spec_free(&spec);
    return code;
}
