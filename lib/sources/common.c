/* What every converter shares: running one with its options checked, file roles, options, the record walk with
 * rejects and limits, field arrays and box formatting.
 * Dependencies: sources.h, recipe/yaml.h (hb_cfg_* getters), json/json.h (hb_jsplit), <math.h> (isfinite). */
#include "sources.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "recipe/yaml.h"

static const char *const COMMON_KEYS[] = {"dataset",      "files",      "images", "nturn", "dedup", "dedup_normalize",
                                          "template",     "limit",      "image_prefix", "image_flat", NULL};

static char *key_path(hb_src_ctx *ctx) {
    return hb_arena_printf(&ctx->scratch, "sources.%s", ctx->src->name);
}

/* An unknown converter name: the error lists the converters and suggests the closest name. */
static int unknown_converter(const hb_recipe *r, const hb_recipe_source *src, hb_err *err) {
    hb_buf names = {0};
    for (size_t i = 0; i < hb_converter_count(); i++)
        hb_buf_printf(&names, "%s%s", i ? ", " : "", hb_converter_at(i)->name);
    const char *all[64];
    const char *near = hb_closest(src->dataset, all, hb_converter_names(all, 64));
    int rc = hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS, "sources.%s.dataset: unknown converter '%s'%s%s%s "
                        "(known: %s; `hb-prep converters` describes them)", src->name, src->dataset,
                        near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "", hb_buf_cstr(&names));
    hb_buf_free(&names);
    return rc;
}

/* What hb_src_check and hb_src_run both check: the converter, the keys, the options every converter shares. */
static int check_common(hb_src_ctx *ctx, hb_err *err) {
    const hb_recipe *r = ctx->recipe;
    const hb_recipe_source *src = ctx->src;
    int rc = 0;
    if (!ctx->conv) return unknown_converter(r, src, err);
    /* the accepted keys: the common ones plus the converter's */
    size_t n = 0;
    const char *known[64];
    for (const char *const *k = COMMON_KEYS; *k; k++) known[n++] = *k;
    for (const char *const *k = ctx->conv->options; k && *k && n < 63; k++) known[n++] = *k;
    known[n] = NULL;
    if ((rc = hb_cfg_known_keys(src->node, known, r->path, key_path(ctx), err))) return rc;
    if (ctx->conv->conversation && (cJSON_GetObjectItem(src->node, "nturn") || cJSON_GetObjectItem(src->node, "dedup")))
        return hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS,
                          "sources.%s: nturn and dedup do not apply to conversation data (%s)", src->name, src->dataset);
    ctx->bbox_decimals = 3;
    long long dec = 3;
    const char *fmt = "normalize";
    if ((rc = hb_src_opt_int(ctx, "bbox_decimals", &dec, err))) return rc;
    if (dec != 2 && dec != 3)
        return hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS,
                          "sources.%s.bbox_decimals: Honeybee's bbox_coord_style is 2 or 3", src->name);
    ctx->bbox_decimals = (int)dec;
    if ((rc = hb_src_opt_bool(ctx, "bbox_clamp", &ctx->bbox_clamp, err))) return rc;
    if ((rc = hb_src_opt_str(ctx, "bbox_format", &fmt, err))) return rc;
    if (strcmp(fmt, "normalize") && strcmp(fmt, "pixel"))
        return hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS, "sources.%s.bbox_format: normalize or pixel",
                          src->name);
    ctx->bbox_pixels = !strcmp(fmt, "pixel");
    return 0;
}

static int must_exist(hb_src_ctx *ctx, const char *path, hb_err *err);

/* Every path string under node (a string, a list, or a mapping of either) exists and is a file (or, for converters
 * that take folders and patterns, a folder; patterns are expanded when the converter runs). */
static int check_paths(hb_src_ctx *ctx, const cJSON *node, const char *key, hb_err *err) {
    if (cJSON_IsArray(node) || cJSON_IsObject(node)) {
        const cJSON *c;
        cJSON_ArrayForEach(c, node) {
            int rc = check_paths(ctx, c, c->string ? c->string : key, err);
            if (rc) return rc;
        }
        return 0;
    }
    if (!cJSON_IsString(node))
        return hb_err_set(err, HB_EINVAL, ctx->recipe->path, HB_NOPOS, HB_NOPOS, "sources.%s.files%s%s: expected paths",
                          ctx->src->name, key ? "." : "", key ? key : "");
    if (ctx->conv->folders && strpbrk(node->valuestring, "*?[")) return 0;
    char *p = hb_recipe_path(ctx->recipe, node->valuestring);
    int rc = ctx->conv->folders && hb_path_is_dir(p) ? 0 : must_exist(ctx, p, err);
    FILE *f = !rc && !hb_path_is_dir(p) ? fopen(p, "rb") : NULL;
    if (f) { /* a clone without git-lfs holds pointers where the data should be */
        char head[64];
        size_t got = fread(head, 1, sizeof head, f);
        int lfs = fseek(f, 0, SEEK_END) == 0 && ftell(f) < 1024 && hb_is_lfs_pointer(head, got);
        fclose(f);
        if (lfs)
            rc = hb_err_set(err, HB_EFORMAT, p, HB_NOPOS, 0,
                            "this is a Git LFS pointer, not the data (named by sources.%s.files in %s; the repository "
                            "was cloned without git-lfs: run `git lfs pull` there, or download the file itself)",
                            ctx->src->name, ctx->recipe->path);
    }
    free(p);
    return rc;
}

int hb_src_check(const hb_recipe *r, const hb_recipe_source *src, int with_images, hb_err *err) {
    hb_src_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.recipe = r;
    ctx.src = src;
    hb_arena_init(&ctx.scratch, 0);
    ctx.conv = hb_converter_find(src->dataset);
    int rc = check_common(&ctx, err);
    const cJSON *f = src->files;
    const char *const *roles = ctx.conv ? ctx.conv->file_roles : NULL;
    if (!rc && !f)
        rc = hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS, "sources.%s.files: missing (the raw files of %s)",
                        src->name, ctx.conv->name);
    if (!rc && cJSON_IsObject(f) && roles && cJSON_GetArraySize(f) > 1) { /* every key is a role of the converter */
        const cJSON *c;
        cJSON_ArrayForEach(c, f) {
            int known = 0;
            size_t n = 0;
            for (const char *const *k = roles; *k; k++, n++) known |= !strcmp(*k, c->string);
            if (known) continue;
            hb_buf b = {0};
            for (const char *const *k = roles; *k; k++) hb_buf_printf(&b, "%s%s", k == roles ? "" : ", ", *k);
            const char *near = hb_closest(c->string, (const char *const *)roles, n);
            rc = hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS,
                            "sources.%s.files.%s: not a file role of %s%s%s%s (its roles: %s)", src->name, c->string,
                            ctx.conv->name, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "",
                            hb_buf_cstr(&b));
            hb_buf_free(&b);
            break;
        }
    }
    if (!rc && cJSON_IsObject(f) && !roles)
        rc = hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS,
                        "sources.%s.files: %s takes a path or a list of paths, not a mapping", src->name, ctx.conv->name);
    if (!rc) rc = check_paths(&ctx, f, NULL, err);
    if (!rc && with_images && !src->no_images && src->images && !hb_path_exists(src->images))
        rc = hb_err_set(err, HB_ENOTFOUND, src->images, HB_NOPOS, HB_NOPOS,
                        "no such image folder or archive (sources.%s.images in %s)", src->name, r->path);
    if (!rc && with_images && ctx.conv->image_paths && !src->images && !src->no_images)
        rc = hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS,
                        "sources.%s.images: missing: the records of %s name image files; give their root (a folder "
                        "or a zip/tar archive), or `images: none` to build this source without images (or run "
                        "with --no-images)", src->name, ctx.conv->name);
    hb_arena_free(&ctx.scratch);
    return rc;
}

/* The checks of hb_src_run, then the converter. */
static int run_checked(hb_src_ctx *ctx, hb_err *err) {
    int rc = check_common(ctx, err);
    if (rc) return rc;
    hb_arena_reset(&ctx->scratch);
    return ctx->conv->run(ctx, err);
}

int hb_src_run(const hb_recipe *r, const hb_recipe_source *src, const hb_src_sink *sink, hb_src_ctx *ctx, hb_err *err) {
    memset(ctx, 0, sizeof *ctx);
    ctx->recipe = r;
    ctx->src = src;
    ctx->sink = *sink;
    hb_arena_init(&ctx->scratch, 0);
    hb_arena_init(&ctx->keep, 0);
    ctx->conv = hb_converter_find(src->dataset);
    int rc = run_checked(ctx, err);
    hb_arena_free(&ctx->scratch);
    hb_arena_free(&ctx->keep);
    return rc;
}

/* ---- files ---- */
static const cJSON *role_node(hb_src_ctx *ctx, const char *role, hb_err *err, int *rc) {
    const cJSON *f = ctx->src->files;
    *rc = 0;
    if (!f) {
        *rc = hb_err_set(err, HB_EINVAL, ctx->recipe->path, HB_NOPOS, HB_NOPOS, "sources.%s.files: missing (%s needs %s)",
                         ctx->src->name, ctx->conv->name, role ? role : "a path or a list of paths");
        return NULL;
    }
    if (!role) {
        if (cJSON_IsObject(f)) {
            *rc = hb_err_set(err, HB_EINVAL, ctx->recipe->path, HB_NOPOS, HB_NOPOS,
                             "sources.%s.files: %s takes a path or a list of paths, not a mapping", ctx->src->name,
                             ctx->conv->name);
            return NULL;
        }
        return f;
    }
    const char *const *roles = ctx->conv->file_roles;
    if (!cJSON_IsObject(f) && roles && roles[0] && !strcmp(role, roles[0])) return f; /* a plain path: the first role */
    if (!cJSON_IsObject(f)) {
        *rc = hb_err_set(err, HB_EINVAL, ctx->recipe->path, HB_NOPOS, HB_NOPOS,
                         "sources.%s.files: %s takes a mapping of file roles (%s, ...)", ctx->src->name,
                         ctx->conv->name, role);
        return NULL;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, role);
    if (!v && roles && !strcmp(role, roles[0]) && cJSON_GetArraySize(f) == 1) {
        /* a one-entry mapping whose key is no role of the converter ({train: x.json}): the key is only a label */
        int known = 0;
        for (const char *const *r = roles; *r; r++) known |= !strcmp(f->child->string, *r);
        if (!known) v = f->child;
    }
    if (!v) {
        *rc = hb_err_set(err, HB_EINVAL, ctx->recipe->path, HB_NOPOS, HB_NOPOS, "sources.%s.files.%s: missing",
                         ctx->src->name, role);
        return NULL;
    }
    return v;
}

static int must_exist(hb_src_ctx *ctx, const char *path, hb_err *err) {
    if (hb_path_is_dir(path))
        return hb_err_set(err, HB_EINVAL, path, HB_NOPOS, HB_NOPOS,
                          "is a folder; sources.%s.files in %s must name the raw files themselves", ctx->src->name,
                          ctx->recipe->path);
    if (hb_path_exists(path)) return 0;
    return hb_err_set(err, HB_ENOTFOUND, path, HB_NOPOS, HB_NOPOS, "missing raw file (named by sources.%s.files in %s)",
                      ctx->src->name, ctx->recipe->path);
}

int hb_src_files(hb_src_ctx *ctx, const char *role, char ***paths, size_t *n, hb_err *err) {
    int rc;
    *paths = NULL;
    *n = 0;
    const cJSON *v = role_node(ctx, role, err, &rc);
    if (!v) return rc;
    size_t cnt = cJSON_IsString(v) ? 1 : (size_t)cJSON_GetArraySize(v);
    char **p = hb_xcalloc(cnt + 1, sizeof *p);
    if (cJSON_IsString(v)) p[0] = hb_recipe_path(ctx->recipe, v->valuestring);
    else {
        size_t i = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, v) {
            if (!cJSON_IsString(c)) {
                hb_src_files_free(p, cnt);
                return hb_err_set(err, HB_EINVAL, ctx->recipe->path, HB_NOPOS, HB_NOPOS,
                                  "sources.%s.files%s%s: expected paths", ctx->src->name, role ? "." : "", role ? role : "");
            }
            p[i++] = hb_recipe_path(ctx->recipe, c->valuestring);
        }
    }
    for (size_t i = 0; i < cnt; i++)
        if ((rc = must_exist(ctx, p[i], err))) {
            hb_src_files_free(p, cnt);
            return rc;
        }
    *paths = p;
    *n = cnt;
    return 0;
}

void hb_src_files_free(char **paths, size_t n) {
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

int hb_src_file(hb_src_ctx *ctx, const char *role, char **path, hb_err *err) {
    int rc;
    *path = NULL;
    const cJSON *v = role_node(ctx, role, err, &rc);
    if (!v) return rc;
    if (!cJSON_IsString(v))
        return hb_err_set(err, HB_EINVAL, ctx->recipe->path, HB_NOPOS, HB_NOPOS, "sources.%s.files%s%s: expected one path",
                          ctx->src->name, role ? "." : "", role ? role : "");
    char *p = hb_recipe_path(ctx->recipe, v->valuestring);
    if ((rc = must_exist(ctx, p, err))) {
        free(p);
        return rc;
    }
    *path = p;
    return 0;
}

/* The recipe's spelling of path among the strings of `files:` (a string, a list, or a mapping of either): the string
 * that resolves to path itself, or for a file found through a folder or a glob pattern, the folder (or the pattern's
 * folder) as written plus the rest of path. NULL when none matches. */
static const char *written_as(hb_src_ctx *ctx, const cJSON *node, const char *path) {
    if (cJSON_IsArray(node) || cJSON_IsObject(node)) {
        const cJSON *c;
        cJSON_ArrayForEach(c, node) {
            const char *w = written_as(ctx, c, path);
            if (w) return w;
        }
        return NULL;
    }
    if (!cJSON_IsString(node)) return NULL;
    const char *w = node->valuestring;
    char *r = hb_recipe_path(ctx->recipe, w);
    const char *out = NULL;
    size_t n = strlen(r);
    if (!strcmp(r, path)) out = w;
    else if (strpbrk(w, "*?[")) { /* a pattern: its literal folder part as written + the rest of the path */
        size_t k = (size_t)(strpbrk(w, "*?[") - w);
        while (k > 0 && w[k - 1] != '/') k--;
        char *lit = hb_arena_strndup(&ctx->keep, w, k);
        char *lr = hb_recipe_path(ctx->recipe, k ? lit : ".");
        size_t m = strlen(lr);
        if (!strcmp(lr, ".")) out = path[0] != '/' ? hb_arena_printf(&ctx->keep, "%s%s", lit, path) : NULL;
        else if (!strncmp(path, lr, m) && path[m] == '/') out = hb_arena_printf(&ctx->keep, "%s%s", lit, path + m + 1);
        free(lr);
    } else if (!strncmp(path, r, n) && path[n] == '/') /* a file inside a folder named in the recipe */
        out = hb_arena_printf(&ctx->keep, "%s%s%s", w, w[strlen(w) - 1] == '/' ? "" : "/", path + n + 1);
    free(r);
    return out;
}

const char *hb_src_display(hb_src_ctx *ctx, const char *path) {
    const char *w = written_as(ctx, ctx->src->files, path);
    return w ? w : path;
}

/* ---- options ---- */
int hb_src_opt_str(hb_src_ctx *ctx, const char *key, const char **out, hb_err *err) {
    return hb_cfg_str(ctx->src->node, key, 0, ctx->recipe->path, key_path(ctx), out, err);
}
int hb_src_opt_bool(hb_src_ctx *ctx, const char *key, int *out, hb_err *err) {
    return hb_cfg_bool(ctx->src->node, key, 0, ctx->recipe->path, key_path(ctx), out, err);
}
int hb_src_opt_int(hb_src_ctx *ctx, const char *key, long long *out, hb_err *err) {
    return hb_cfg_int(ctx->src->node, key, 0, ctx->recipe->path, key_path(ctx), out, err);
}

int hb_src_opt_enum(hb_src_ctx *ctx, const char *key, const char *const *values, int *idx, hb_err *err) {
    const char *v = NULL;
    int rc = hb_src_opt_str(ctx, key, &v, err);
    if (rc || !v) return rc;
    hb_buf b = {0};
    for (int i = 0; values[i]; i++) {
        if (!strcmp(values[i], v)) {
            *idx = i;
            hb_buf_free(&b);
            return 0;
        }
        hb_buf_printf(&b, "%s%s", i ? ", " : "", values[i]);
    }
    rc = hb_err_set(err, HB_EINVAL, ctx->recipe->path, HB_NOPOS, HB_NOPOS, "sources.%s.%s: '%s' is not one of %s",
                    ctx->src->name, key, v, hb_buf_cstr(&b));
    hb_buf_free(&b);
    return rc;
}

/* ---- records ---- */
int hb_src_count_record(hb_src_ctx *ctx) {
    ctx->records++;
    if (ctx->src->limit >= 0 && ctx->records >= ctx->src->limit) ctx->stop = 1;
    return ctx->stop;
}

int hb_src_foreach(hb_src_ctx *ctx, const char *path, const char *select, hb_src_record_fn fn, void *user, hb_err *err) {
    if (ctx->stop && !ctx->uncounted) return 0;
    hb_jsplit *s;
    int rc = select ? hb_jsplit_open(&s, path, select, err) : hb_jsplit_open_lines(&s, path, err);
    if (rc) return rc;
    const char *shown = hb_src_display(ctx, path);
    uint64_t last = 0;
    if (ctx->sink.progress) ctx->sink.progress(ctx->sink.user, 0, hb_jsplit_size(s));
    while (!ctx->stop || ctx->uncounted) {
        hb_jrec rec;
        if ((rc = hb_jsplit_next(s, &rec, err))) break;
        if (!rec.data) break;
        cJSON *j = NULL;
        rc = hb_src_parse(ctx, &rec, shown, &j, err);
        if (j) {
            rc = fn(ctx, &rec, j, user, err);
            cJSON_Delete(j);
        }
        hb_arena_reset(&ctx->scratch);
        if (rc) break;
        uint64_t pos = hb_jsplit_tell(s);
        if (ctx->sink.progress && pos - last > (4u << 20)) {
            ctx->sink.progress(ctx->sink.user, pos, hb_jsplit_size(s));
            last = pos;
        }
    }
    if (ctx->sink.progress && !rc) ctx->sink.progress(ctx->sink.user, hb_jsplit_tell(s), hb_jsplit_size(s));
    hb_jsplit_close(s);
    return rc;
}

int hb_src_emit(hb_src_ctx *ctx, const hb_src_item *it, hb_err *err) {
    ctx->emitted++;
    return ctx->sink.emit(ctx->sink.user, it, err);
}

void hb_src_note(hb_src_ctx *ctx, const char *name) {
    if (ctx->sink.count) ctx->sink.count(ctx->sink.user, name, 1);
}

int hb_src_parse(hb_src_ctx *ctx, const hb_jrec *rec, const char *shown, cJSON **j, hb_err *err) {
    *j = NULL;
    if (hb_interrupted())
        return hb_err_set(err, HB_EINTR, shown, rec->index, rec->offset, "interrupted (signal %d)", hb_interrupted());
    if (!ctx->uncounted) hb_src_count_record(ctx);
    hb_err perr;
    if (hb_jrec_parse(rec, shown, j, &perr)) return hb_src_reject(ctx, shown, rec->index, perr.offset, err, "%s", perr.reason);
    return 0;
}

int hb_src_reject(hb_src_ctx *ctx, const char *file, int64_t record, int64_t offset, hb_err *err, const char *fmt, ...) {
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    ctx->rejected++;
    return ctx->sink.reject(ctx->sink.user, file, record, offset, reason, err);
}

/* ---- fields and boxes ---- */
void hb_src_fields(hb_src_ctx *ctx, hb_example *ex, ...) {
    va_list ap;
    uint32_t n = 0;
    va_start(ap, ex);
    while (va_arg(ap, const char *)) {
        (void)va_arg(ap, const char *);
        n++;
    }
    va_end(ap);
    hb_field *f = hb_arena_alloc(&ctx->scratch, sizeof *f * (n ? n : 1));
    va_start(ap, ex);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *key = va_arg(ap, const char *), *val = va_arg(ap, const char *);
        if (!val) continue; /* absent optional fields are left out */
        f[k].key = key;
        f[k].value = val;
        k++;
    }
    va_end(ap);
    ex->fields = f;
    ex->n_fields = k;
}

const char *hb_src_bbox(hb_src_ctx *ctx, double x, double y, double w, double h, double W, double H) {
    double v[4] = {x, y, x + w, y + h};
    if (!ctx->bbox_pixels) {
        if (!(W > 0) || !(H > 0)) return NULL;
        v[0] /= W, v[1] /= H, v[2] /= W, v[3] /= H;
    }
    for (int i = 0; i < 4; i++) {
        if (!isfinite(v[i])) return NULL;
        if (ctx->bbox_clamp) {
            double hi = ctx->bbox_pixels ? (i % 2 ? H : W) : 1.0;
            if (v[i] < 0) v[i] = 0;
            if (v[i] > hi) v[i] = hi;
        }
    }
    int d = ctx->bbox_decimals;
    return hb_arena_printf(&ctx->scratch, "[%.*f,%.*f,%.*f,%.*f]", d, v[0], d, v[1], d, v[2], d, v[3]);
}

const char *hb_src_strip(hb_src_ctx *ctx, const char *s) {
    if (!s) return NULL;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    return hb_arena_strndup(&ctx->scratch, s, n);
}

const hb_turn *hb_src_turns(hb_src_ctx *ctx, const cJSON *list, uint32_t *n, char *why, size_t why_len) {
    static const char *const HUMAN[] = {"human", "user", NULL};
    static const char *const AI[] = {"gpt", "assistant", "chatgpt", "bing", "bard", NULL};
    int cnt = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    *n = 0;
    if (!cJSON_IsArray(list)) {
        snprintf(why, why_len, "no conversations list");
        return NULL;
    }
    if (cnt == 0) {
        snprintf(why, why_len, "empty conversation");
        return NULL;
    }
    hb_turn *t = hb_arena_alloc(&ctx->scratch, sizeof *t * (size_t)cnt);
    const cJSON *x;
    int i = 0;
    cJSON_ArrayForEach(x, list) {
        const char *from = hb_jstr(x, "from"), *value = hb_jstr(x, "value");
        if (!from) from = hb_jstr(x, "role"); /* OpenAI-style {role, content} */
        if (!value) value = hb_jstr(x, "content");
        if (!from || !value) {
            snprintf(why, why_len, "turn %d needs string from and value", i);
            return NULL;
        }
        int role = -1;
        for (int k = 0; HUMAN[k]; k++)
            if (!strcmp(from, HUMAN[k])) role = HB_ROLE_HUMAN;
        for (int k = 0; AI[k]; k++)
            if (!strcmp(from, AI[k])) role = HB_ROLE_AI;
        if (role < 0) {
            snprintf(why, why_len, "turn %d has unknown role '%.40s'", i, from);
            return NULL;
        }
        t[i].role = (uint8_t)role;
        t[i].text = value;
        t[i].len = (uint32_t)strlen(value);
        i++;
    }
    *n = (uint32_t)cnt;
    return t;
}
