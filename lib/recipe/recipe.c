/* Recipe loading: YAML -> hb_recipe, with typed checks of the top-level keys and of the keys every source shares.
 * Dependencies: recipe.h, yaml.h (hb_yaml_parse, hb_cfg_*), core/core.h (hb_file_read_all, hb_hash64, hb_path_join). */
#include "recipe.h"

#include <stdlib.h>
#include <string.h>

#include "yaml.h"

static const char *const TOP_KEYS[] = {"name",       "description", "seed",    "tokenizer", "templates",
                                       "max_length", "visual_tokens", "image_size", "output", "sources",
                                       "defaults",   "mix",          NULL};
static const char *const DEFAULT_KEYS[] = {"nturn", "dedup", "dedup_normalize", NULL};

char *hb_recipe_path(const hb_recipe *r, const char *rel) {
    if (!rel) return NULL;
    return hb_path_resolve(r->dir, rel);
}

const hb_recipe_source *hb_recipe_find(const hb_recipe *r, const char *name) {
    for (size_t i = 0; i < r->n_sources; i++)
        if (!strcmp(r->sources[i].name, name)) return &r->sources[i];
    return NULL;
}

static int valid_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("_.+-", *s)))
            return 0;
    return 1;
}

static int int_in(const cJSON *o, const char *key, const char *file, const char *path, long long lo, long long hi,
                  int *out, hb_err *err) {
    long long v = *out;
    int rc = hb_cfg_int(o, key, 0, file, path, &v, err);
    if (rc) return rc;
    if (!cJSON_GetObjectItemCaseSensitive(o, key)) return 0;
    if (v < lo || v > hi)
        return hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "%s%s%s: %lld is out of range [%lld, %lld]", path,
                          *path ? "." : "", key, v, lo, hi);
    *out = (int)v;
    return 0;
}

static int check_files(const cJSON *f, const char *file, const char *path, hb_err *err) {
    if (!f) return 0;
    if (cJSON_IsString(f)) return 0;
    if (cJSON_IsArray(f) || cJSON_IsObject(f)) {
        const cJSON *c;
        cJSON_ArrayForEach(c, f) {
            if (cJSON_IsString(c)) continue;
            if (cJSON_IsObject(f) && cJSON_IsArray(c)) { /* role -> list of paths */
                const cJSON *d;
                cJSON_ArrayForEach(d, c) if (!cJSON_IsString(d)) goto bad;
                continue;
            }
            goto bad;
        }
        return 0;
    }
bad:
    return hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS,
                      "%s.files: expected a path, a list of paths or a mapping of file roles to paths", path);
}

static int parse_source(hb_recipe *r, cJSON *node, hb_recipe_source *s, hb_err *err) {
    const char *file = r->path;
    char path[300];
    snprintf(path, sizeof path, "sources.%s", node->string);
    s->name = node->string;
    s->node = node;
    s->nturn = HB_NTURN_DEFAULT;
    s->dedup_normalize = -1;
    s->limit = -1;
    s->image_prefix = "";
    if (!valid_name(s->name))
        return hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS,
                          "%s: a source name may only hold letters, digits and _ . + -", path);
    if (!cJSON_IsObject(node))
        return hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "%s: expected a mapping", path);
    int rc;
    s->dataset = s->name;
    if ((rc = hb_cfg_str(node, "dataset", 0, file, path, &s->dataset, err))) return rc;
    s->files = cJSON_GetObjectItemCaseSensitive(node, "files");
    if ((rc = check_files(s->files, file, path, err))) return rc;
    const char *images = NULL;
    if ((rc = hb_cfg_str(node, "images", 0, file, path, &images, err))) return rc;
    if (images && !strcmp(images, "none")) s->no_images = 1; /* built without images (a folder named none: ./none) */
    else s->images = images ? hb_recipe_path(r, images) : NULL;
    if ((rc = int_in(node, "nturn", file, path, 0, 1000000, &s->nturn, err))) return rc;
    if ((rc = hb_cfg_str(node, "dedup", 0, file, path, &s->dedup, err))) return rc;
    if (s->dedup && !*s->dedup)
        return hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "%s.dedup: empty (use none or a field name)", path);
    if ((rc = hb_cfg_bool(node, "dedup_normalize", 0, file, path, &s->dedup_normalize, err))) return rc;
    if ((rc = hb_cfg_str(node, "template", 0, file, path, &s->template_key, err))) return rc;
    if ((rc = hb_cfg_int(node, "limit", 0, file, path, &s->limit, err))) return rc;
    if (s->limit < -1)
        return hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "%s.limit: must be >= 0", path);
    if ((rc = hb_cfg_str(node, "image_prefix", 0, file, path, &s->image_prefix, err))) return rc;
    if ((rc = hb_cfg_bool(node, "image_flat", 0, file, path, &s->image_flat, err))) return rc;
    return 0;
}

int hb_recipe_parse(hb_recipe *r, const char *text, size_t len, const char *path, hb_err *err) {
    memset(r, 0, sizeof *r);
    r->path = hb_xstrdup(path);
    const char *slash = strrchr(path, '/');
    r->dir = hb_xstrdup(slash ? path : ".");
    if (slash) r->dir[slash == path ? 1 : slash - path] = 0;
    hb_hash64_hex(hb_hash64(text, len, 0), r->hash);
    r->max_length = 1023;
    r->visual_tokens = 144;
    r->image_size = 224;
    int rc = hb_yaml_parse(text, len, path, &r->root, err);
    if (rc) goto fail;
    const char *file = path;
    if (!cJSON_IsObject(r->root)) {
        rc = hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "a recipe is a mapping (name, seed, sources, ...)");
        goto fail;
    }
    if ((rc = hb_cfg_known_keys(r->root, TOP_KEYS, file, "", err))) goto fail;
    const char *name = NULL, *tok = NULL, *tmpl = NULL, *out = NULL;
    long long seed = 0;
    if ((rc = hb_cfg_str(r->root, "name", 0, file, "", &name, err))) goto fail;
    if ((rc = hb_cfg_int(r->root, "seed", 0, file, "", &seed, err))) goto fail;
    if ((rc = hb_cfg_str(r->root, "tokenizer", 0, file, "", &tok, err))) goto fail;
    if ((rc = hb_cfg_str(r->root, "templates", 0, file, "", &tmpl, err))) goto fail;
    if ((rc = hb_cfg_str(r->root, "output", 0, file, "", &out, err))) goto fail;
    if ((rc = int_in(r->root, "max_length", file, "", 1, 1 << 24, &r->max_length, err))) goto fail;
    if ((rc = int_in(r->root, "visual_tokens", file, "", 0, 1 << 16, &r->visual_tokens, err))) goto fail;
    if ((rc = int_in(r->root, "image_size", file, "", 1, 1 << 14, &r->image_size, err))) goto fail;
    if (seed < 0) {
        rc = hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "seed: must be >= 0");
        goto fail;
    }
    r->seed = (uint64_t)seed;
    if (name) r->name = hb_xstrdup(name);
    else {
        const char *base = slash ? slash + 1 : path;
        r->name = hb_xstrdup(base);
        char *dot = strrchr(r->name, '.');
        if (dot && dot != r->name) *dot = 0;
    }
    r->tokenizer = hb_recipe_path(r, tok);
    r->templates = hb_recipe_path(r, tmpl);
    r->output = hb_recipe_path(r, out);
    r->mix = cJSON_GetObjectItemCaseSensitive(r->root, "mix");
    r->defaults = cJSON_GetObjectItemCaseSensitive(r->root, "defaults");
    if (r->defaults) {
        if (!cJSON_IsObject(r->defaults)) {
            rc = hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "defaults: expected a mapping");
            goto fail;
        }
        if ((rc = hb_cfg_known_keys(r->defaults, DEFAULT_KEYS, file, "defaults", err))) goto fail;
        int nt = 1, dn = 1;
        const char *dd = NULL;
        if ((rc = int_in(r->defaults, "nturn", file, "defaults", 0, 1000000, &nt, err))) goto fail;
        if ((rc = hb_cfg_str(r->defaults, "dedup", 0, file, "defaults", &dd, err))) goto fail;
        if ((rc = hb_cfg_bool(r->defaults, "dedup_normalize", 0, file, "defaults", &dn, err))) goto fail;
    }
    cJSON *srcs = cJSON_GetObjectItemCaseSensitive(r->root, "sources");
    if (srcs && !cJSON_IsObject(srcs)) {
        rc = hb_err_set(err, HB_EINVAL, file, HB_NOPOS, HB_NOPOS, "sources: expected a mapping of source names");
        goto fail;
    }
    r->n_sources = (size_t)(srcs ? cJSON_GetArraySize(srcs) : 0);
    r->sources = hb_xcalloc(r->n_sources + 1, sizeof *r->sources);
    size_t i = 0;
    cJSON *node;
    if (srcs)
        cJSON_ArrayForEach(node, srcs) {
            if ((rc = parse_source(r, node, &r->sources[i++], err))) goto fail;
        }
    return 0;
fail:
    hb_recipe_free(r);
    return rc;
}

int hb_recipe_load(hb_recipe *r, const char *path, hb_err *err) {
    uint8_t *text;
    size_t len;
    memset(r, 0, sizeof *r);
    int rc = hb_file_read_all(path, &text, &len, err);
    if (rc) return rc;
    rc = hb_recipe_parse(r, (const char *)text, len, path, err);
    free(text);
    return rc;
}

void hb_recipe_free(hb_recipe *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_sources; i++) free(r->sources[i].images);
    free(r->sources);
    free(r->path);
    free(r->dir);
    free(r->name);
    free(r->tokenizer);
    free(r->templates);
    free(r->output);
    cJSON_Delete(r->root);
    memset(r, 0, sizeof *r);
}
