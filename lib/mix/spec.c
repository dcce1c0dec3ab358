/* lib/mix/spec — the recipe's `mix` section (docs/recipes.md) parsed into an hb_mix_spec, with every check that
 * does not need the shards: unknown keys, weights that are negative, non-finite, all zero or of mixed kinds, names
 * that the recipe's `sources:` does not define, and options that contradict each other.
 *
 * Dependencies: mix/mix.h (hb_mix_spec), recipe/yaml.h (hb_yaml_load, hb_cfg_*), core/core.h (hb_err, paths). */
#include "mix/mix.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recipe/yaml.h"

static const char *const UNITS[] = {"samples", "tokens", "supervised_tokens", "image_tokens"};
static const char *const KINDS[] = {"weight", "repeat", "count"};

const char *hb_mix_unit_name(hb_mix_unit u) { return (unsigned)u < 4 ? UNITS[u] : "?"; }
const char *hb_mix_kind_name(hb_mix_kind k) { return (unsigned)k < 3 ? KINDS[k] : "?"; }

static char *resolve(const char *base_dir, const char *p) {
    return hb_path_resolve(base_dir, p);
}

static int bad(hb_err *err, const char *file, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(hb_err *err, const char *file, const char *fmt, ...) {
    char reason[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s", reason);
}

static int get_u64(const cJSON *obj, const char *key, const char *file, const char *path, uint64_t *out, int positive,
                   hb_err *err) {
    long long v = -1;
    int code = hb_cfg_int(obj, key, 0, file, path, &v, err);
    if (code || v == -1) return code;
    if (v < 0 || (positive && v == 0))
        return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s.%s: must be %s", path, key,
                          positive ? "a positive integer" : "a non-negative integer");
    *out = (uint64_t)v;
    return 0;
}

/* One source entry: {weight: w} | {weight: size} | {repeat: r} | {count: c}. */
static int parse_want(const cJSON *v, const char *file, hb_mix_want *w, hb_mix_kind *kind, hb_err *err) {
    char path[300];
    snprintf(path, sizeof path, "mix.sources.%s", w->name);
    static const char *const known[] = {"weight", "repeat", "count", NULL};
    if (!cJSON_IsObject(v))
        return bad(err, file, "%s: expected a mapping such as {weight: 0.1}, {repeat: 2} or {count: 5000}", path);
    int code = hb_cfg_known_keys(v, known, file, path, err);
    if (code) return code;
    int found = 0;
    for (int k = 0; k < 3; k++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, KINDS[k]);
        if (!x) continue;
        if (found++) return bad(err, file, "%s: give exactly one of weight, repeat or count", path);
        *kind = (hb_mix_kind)k;
        if (k == HB_MIX_WEIGHT && cJSON_IsString(x) && !strcmp(x->valuestring, "size")) {
            w->by_size = 1;
            w->value = 0;
            continue;
        }
        if (!cJSON_IsNumber(x))
            return bad(err, file, "%s.%s: expected a number", path, k == 0 ? "weight (or the word size)" : KINDS[k]);
        w->value = x->valuedouble;
        if (!isfinite(w->value) || w->value < 0)
            return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s.%s: %g is not allowed (must be finite and >= 0)",
                              path, KINDS[k], w->value);
        if (k == HB_MIX_COUNT && (w->value != floor(w->value) || w->value > 9.007199254740992e15))
            return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s.count: %g is not a whole number", path,
                              w->value);
    }
    if (!found) return bad(err, file, "%s: give one of weight, repeat or count", path);
    return 0;
}

static int parse_pack(const cJSON *mix, const char *file, hb_mix_spec *s, hb_err *err) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(mix, "pack");
    if (!p || cJSON_IsNull(p)) return 0;
    if (cJSON_IsBool(p)) {
        s->pack = cJSON_IsTrue(p);
    } else if (cJSON_IsObject(p)) {
        static const char *const known[] = {"max_tokens", "window", NULL};
        int code = hb_cfg_known_keys(p, known, file, "mix.pack", err);
        uint64_t t = 0, w = 0;
        if (code || (code = get_u64(p, "max_tokens", file, "mix.pack", &t, 1, err)) ||
            (code = get_u64(p, "window", file, "mix.pack", &w, 1, err)))
            return code;
        if (t > UINT32_MAX || w > 4096)
            return bad(err, file, "mix.pack: max_tokens must fit 32 bits and window be at most 4096");
        s->pack = 1;
        if (t) s->pack_tokens = (uint32_t)t;
        if (w) s->pack_window = (uint32_t)w;
    } else {
        return bad(err, file, "mix.pack: expected true/false or a mapping {max_tokens, window}");
    }
    if (s->pack && !s->pack_tokens) {
        if (!s->max_length)
            return bad(err, file, "mix.pack: needs max_tokens (or the recipe's max_length)");
        s->pack_tokens = s->max_length + 1; /* max_length excludes BOS (spec-data.md §4.2) */
    }
    return 0;
}

static int check_kinds(const cJSON *mix, const char *file, hb_mix_spec *s, hb_err *err) {
    int any_size = 0, any_num = 0;
    double sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        any_size |= s->want[i].by_size;
        any_num |= !s->want[i].by_size;
        sum += s->want[i].value;
    }
    if (any_size && any_num)
        return bad(err, file, "mix.sources: `weight: size` cannot be mixed with numeric weights");
    if (!any_size && sum <= 0)
        return bad(err, file, "mix.sources: every %s is zero: the stream would be empty", KINDS[s->kind]);
    if (s->size_cap && !any_size) return bad(err, file, "mix.size_cap: only applies to `weight: size`");
    int has_total = cJSON_GetObjectItemCaseSensitive(mix, "total") != NULL;
    int has_steps = cJSON_GetObjectItemCaseSensitive(mix, "steps") != NULL;
    if (s->kind == HB_MIX_WEIGHT) {
        if (has_total && has_steps) return bad(err, file, "mix: give total or steps, not both");
        if (!has_total && !has_steps)
            return bad(err, file, "mix: weights need the stream length: total (in %s) or steps (x batch_size)",
                       UNITS[s->unit]);
        if (has_steps && !s->batch) return bad(err, file, "mix.steps: needs batch_size");
    } else if (has_total || has_steps) {
        return bad(err, file, "mix: total and steps only apply to weights; with %s the stream length follows from "
                   "the sources", KINDS[s->kind]);
    }
    if (s->balance == HB_MIX_BALANCE_BATCH && !s->batch)
        return bad(err, file, "mix.balance: batch needs batch_size");
    if (s->balance == HB_MIX_BALANCE_BATCH && s->pack)
        return bad(err, file, "mix: balance: batch counts samples per batch and cannot be combined with pack");
    return 0;
}

int hb_mix_spec_parse(const cJSON *recipe, const char *file, const char *base_dir, hb_mix_spec *s, hb_err *err) {
    memset(s, 0, sizeof *s);
    s->recipe = hb_xstrdup(file ? file : "");
    int code = 0;
    const char *name = NULL, *output = NULL, *mix_out = NULL, *unit = "samples", *balance = "prefix";
    long long seed = 0, max_length = 0;
    const cJSON *mix = cJSON_IsObject(recipe) ? cJSON_GetObjectItemCaseSensitive(recipe, "mix") : NULL;
    if (!cJSON_IsObject(recipe)) {
        code = bad(err, file, "a recipe is a mapping (name, seed, ..., sources, mix)");
        goto fail;
    }
    if ((code = hb_cfg_str(recipe, "name", 0, file, "", &name, err)) ||
        (code = hb_cfg_str(recipe, "output", 0, file, "", &output, err)) ||
        (code = hb_cfg_int(recipe, "seed", 0, file, "", &seed, err)) ||
        (code = hb_cfg_int(recipe, "max_length", 0, file, "", &max_length, err)))
        goto fail;
    if (seed < 0 || max_length < 0 || max_length > (long long)UINT32_MAX - 1) {
        code = bad(err, file, "seed and max_length must be non-negative integers");
        goto fail;
    }
    if (!cJSON_IsObject(mix)) {
        code = bad(err, file, "mix: %s (docs/recipes.md)", mix ? "expected a mapping" : "the recipe has no mix section");
        goto fail;
    }
    static const char *const known[] = {"unit", "total", "steps", "batch_size", "balance", "size_cap", "pack", "output",
                                        "seed", "sources", NULL};
    if ((code = hb_cfg_known_keys(mix, known, file, "mix", err)) ||
        (code = hb_cfg_str(mix, "unit", 0, file, "mix", &unit, err)) ||
        (code = hb_cfg_str(mix, "balance", 0, file, "mix", &balance, err)) ||
        (code = hb_cfg_str(mix, "output", 0, file, "mix", &mix_out, err)) ||
        (code = hb_cfg_int(mix, "seed", 0, file, "mix", &seed, err)) ||
        (code = get_u64(mix, "total", file, "mix", &s->total, 1, err)) ||
        (code = get_u64(mix, "steps", file, "mix", &s->steps, 1, err)) ||
        (code = get_u64(mix, "batch_size", file, "mix", &s->batch, 1, err)) ||
        (code = get_u64(mix, "size_cap", file, "mix", &s->size_cap, 1, err)))
        goto fail;
    if (seed < 0) {
        code = bad(err, file, "mix.seed: must be a non-negative integer");
        goto fail;
    }
    s->seed = (uint64_t)seed;
    s->max_length = (uint32_t)max_length;
    s->pack_window = 8;
    int u = -1;
    for (int k = 0; k < 4; k++)
        if (!strcmp(unit, UNITS[k])) u = k;
    if (u < 0) {
        code = bad(err, file, "mix.unit: '%s' is not one of samples, tokens, supervised_tokens, image_tokens", unit);
        goto fail;
    }
    s->unit = (hb_mix_unit)u;
    if (strcmp(balance, "prefix") && strcmp(balance, "batch")) {
        code = bad(err, file, "mix.balance: '%s' is not prefix or batch", balance);
        goto fail;
    }
    s->balance = strcmp(balance, "batch") ? HB_MIX_BALANCE_PREFIX : HB_MIX_BALANCE_BATCH;
    if ((code = parse_pack(mix, file, s, err))) goto fail;

    const cJSON *srcs = cJSON_GetObjectItemCaseSensitive(recipe, "sources"), *it;
    if (srcs && cJSON_IsObject(srcs)) {
        s->known = hb_xcalloc((size_t)cJSON_GetArraySize(srcs) + 1, sizeof *s->known);
        cJSON_ArrayForEach(it, srcs) s->known[s->n_known++] = hb_xstrdup(it->string);
    }
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(mix, "sources");
    if (!cJSON_IsObject(ms) || cJSON_GetArraySize(ms) == 0) {
        code = bad(err, file, "mix.sources: expected a mapping from source name to {weight|repeat|count}");
        goto fail;
    }
    s->want = hb_xcalloc((size_t)cJSON_GetArraySize(ms), sizeof *s->want);
    int first_kind = -1;
    const char *first_name = NULL;
    cJSON_ArrayForEach(it, ms) {
        hb_mix_want *w = &s->want[s->n++];
        w->name = hb_xstrdup(it->string);
        if (s->n_known) {
            size_t k = 0;
            while (k < s->n_known && strcmp(s->known[k], w->name)) k++;
            if (k == s->n_known) {
                hb_buf b = {0};
                for (size_t j = 0; j < s->n_known; j++) hb_buf_printf(&b, "%s%s", j ? ", " : "", s->known[j]);
                code = bad(err, file, "mix.sources.%s: unknown source (the recipe's sources are: %s)", w->name,
                           hb_buf_cstr(&b));
                hb_buf_free(&b);
                goto fail;
            }
        }
        hb_mix_kind kind = HB_MIX_WEIGHT;
        if ((code = parse_want(it, file, w, &kind, err))) goto fail;
        if (first_kind >= 0 && (int)kind != first_kind) {
            code = hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS,
                              "mix.sources: %s uses %s but %s uses %s: all sources must use the same kind", first_name,
                              KINDS[first_kind], w->name, KINDS[kind]);
            goto fail;
        }
        if (first_kind < 0) first_kind = (int)kind, first_name = w->name;
        s->kind = kind;
    }
    if ((code = check_kinds(mix, file, s, err))) goto fail;
    if (s->steps && s->batch > UINT64_MAX / 2 / s->steps) {
        code = bad(err, file, "mix: steps x batch_size is too large");
        goto fail;
    }
    if (s->steps) s->total = s->steps * s->batch;

    if (name) s->name = hb_xstrdup(name);
    else { /* the recipe file's base name without extension */
        const char *b = file ? strrchr(file, '/') : NULL;
        s->name = hb_xstrdup(b ? b + 1 : file ? file : "mix");
        char *dot = strrchr(s->name, '.');
        if (dot && dot != s->name) *dot = 0;
    }
    if (output) s->shards_dir = resolve(base_dir, output);
    if (mix_out) s->out_dir = resolve(base_dir, mix_out);
    return 0;
fail:
    hb_mix_spec_free(s);
    return code;
}

int hb_mix_spec_load(const char *path, hb_mix_spec *s, hb_err *err) {
    memset(s, 0, sizeof *s);
    cJSON *root = NULL;
    int code = hb_yaml_load(path, &root, err);
    if (code) return code;
    char *dir = hb_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else strcpy(dir, ".");
    code = hb_mix_spec_parse(root, path, dir, s, err);
    free(dir);
    cJSON_Delete(root);
    return code;
}

void hb_mix_spec_free(hb_mix_spec *s) {
    for (size_t i = 0; i < s->n; i++) free(s->want[i].name);
    for (size_t i = 0; i < s->n_known; i++) free(s->known[i]);
    free(s->want);
    free(s->known);
    free(s->recipe);
    free(s->name);
    free(s->shards_dir);
    free(s->out_dir);
    memset(s, 0, sizeof *s);
}
