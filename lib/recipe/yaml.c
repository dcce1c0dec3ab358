/* YAML -> cJSON with libyaml's event API, and typed config getters.
 * Dependencies: yaml.h, core/core.h (hb_err, hb_file_read_all), <yaml.h> (yaml_parser_*), <cjson/cJSON.h>. */
#include "recipe/yaml.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Nesting deeper than this is refused (the tree is built, copied and freed recursively; cJSON's own limit). */
#define MAX_DEPTH 1000

typedef struct {
    char *name;
    cJSON *node;     /* owned copy to duplicate on alias */
    uint64_t nodes;  /* its size in nodes (what an alias to it costs) */
    int height;      /* its nesting depth (a scalar is 1) */
} anchor;

typedef struct {
    yaml_parser_t p;
    const char *file;
    anchor *anchors;
    size_t n_anchors;
    uint64_t alias_budget; /* nodes aliases may still copy: 65,536 + 64 per input byte (no "billion laughs") */
    hb_err *err;
} ctx;

static int parse_error(ctx *c, const yaml_event_t *ev, const char *what) {
    size_t line = ev ? ev->start_mark.line + 1 : c->p.problem_mark.line + 1;
    size_t col = ev ? ev->start_mark.column + 1 : c->p.problem_mark.column + 1;
    long long off = ev ? (long long)ev->start_mark.index : (long long)c->p.problem_mark.index;
    return hb_err_set(c->err, HB_EFORMAT, c->file, HB_NOPOS, off, "line %zu, column %zu: %s", line, col, what);
}

static cJSON *plain_scalar(const char *s, size_t n) {
    if (n == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return cJSON_CreateNull();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return cJSON_CreateTrue();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return cJSON_CreateFalse();
    if (!strcmp(s, ".inf") || !strcmp(s, "+.inf") || !strcmp(s, ".Inf")) return cJSON_CreateNumber(INFINITY);
    if (!strcmp(s, "-.inf") || !strcmp(s, "-.Inf")) return cJSON_CreateNumber(-INFINITY);
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN")) return cJSON_CreateNumber(NAN);
    /* numbers: the whole scalar must be consumed; no leading '.' or trailing '.' ambiguity with strings like "1." */
    const char *q = s;
    if (*q == '+' || *q == '-') q++;
    if ((*q >= '0' && *q <= '9') || (*q == '.' && q[1] >= '0' && q[1] <= '9')) {
        char *end;
        double v;
        if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) v = (double)strtoll(s, &end, 16);
        else if (q[0] == '0' && q[1] == 'o') v = (double)strtoll(q + 2, &end, 8) * (s[0] == '-' ? -1 : 1);
        else v = strtod(s, &end);
        if (*end == 0) return cJSON_CreateNumber(v);
    }
    return cJSON_CreateString(s);
}

/* Nodes and nesting depth of a tree (its depth is bounded by MAX_DEPTH, so the recursion is too). */
static void measure(const cJSON *n, uint64_t *nodes, int *height) {
    int h = 0;
    for (const cJSON *ch = n->child; ch; ch = ch->next) {
        int hc;
        measure(ch, nodes, &hc);
        if (hc > h) h = hc;
    }
    ++*nodes;
    *height = h + 1;
}

static void remember(ctx *c, const yaml_char_t *name, const cJSON *node) {
    if (!name) return;
    c->anchors = hb_xrealloc(c->anchors, (c->n_anchors + 1) * sizeof *c->anchors);
    anchor *a = &c->anchors[c->n_anchors++];
    a->name = hb_xstrdup((const char *)name);
    a->node = cJSON_Duplicate(node, 1);
    a->nodes = 0;
    measure(node, &a->nodes, &a->height);
}

/* Parses one node whose first event is *ev (consumed by the caller's loop) at nesting depth `depth` (the top-level
 * node is 1). Returns NULL on error. */
static cJSON *parse_node(ctx *c, yaml_event_t *ev, int depth);

static int next(ctx *c, yaml_event_t *ev) {
    if (!yaml_parser_parse(&c->p, ev)) {
        parse_error(c, NULL, c->p.problem ? c->p.problem : "YAML syntax error");
        return -1;
    }
    return 0;
}

static cJSON *parse_node(ctx *c, yaml_event_t *ev, int depth) {
    cJSON *node = NULL;
    if ((ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) && depth > MAX_DEPTH) {
        parse_error(c, ev, "sequences and mappings nested more than 1000 deep");
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev->data.scalar.value;
        node = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(v, ev->data.scalar.length)
                                                                 : cJSON_CreateString(v);
        remember(c, ev->data.scalar.anchor, node);
        return node;
    }
    case YAML_ALIAS_EVENT:
        for (size_t i = c->n_anchors; i-- > 0;)
            if (!strcmp(c->anchors[i].name, (const char *)ev->data.alias.anchor)) {
                const anchor *a = &c->anchors[i];
                if (a->nodes > c->alias_budget) {
                    parse_error(c, ev, "aliases expand to too many nodes (65,536 + 64 per byte of the file)");
                    return NULL;
                }
                if (depth - 1 + a->height > MAX_DEPTH) {
                    parse_error(c, ev, "this alias nests the document more than 1000 deep");
                    return NULL;
                }
                c->alias_budget -= a->nodes;
                return cJSON_Duplicate(a->node, 1);
            }
        parse_error(c, ev, "unknown alias");
        return NULL;
    case YAML_SEQUENCE_START_EVENT: {
        yaml_char_t *anc = ev->data.sequence_start.anchor ? (yaml_char_t *)hb_xstrdup((char *)ev->data.sequence_start.anchor) : NULL;
        node = cJSON_CreateArray();
        for (;;) {
            yaml_event_t e;
            if (next(c, &e)) goto fail_seq;
            if (e.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&e);
                break;
            }
            cJSON *item = parse_node(c, &e, depth + 1);
            yaml_event_delete(&e);
            if (!item) goto fail_seq;
            cJSON_AddItemToArray(node, item);
        }
        remember(c, anc, node);
        free(anc);
        return node;
    fail_seq:
        free(anc);
        cJSON_Delete(node);
        return NULL;
    }
    case YAML_MAPPING_START_EVENT: {
        yaml_char_t *anc = ev->data.mapping_start.anchor ? (yaml_char_t *)hb_xstrdup((char *)ev->data.mapping_start.anchor) : NULL;
        node = cJSON_CreateObject();
        for (;;) {
            yaml_event_t k;
            if (next(c, &k)) goto fail_map;
            if (k.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&k);
                break;
            }
            if (k.type != YAML_SCALAR_EVENT) {
                parse_error(c, &k, "mapping keys must be scalars");
                yaml_event_delete(&k);
                goto fail_map;
            }
            char *key = hb_xstrdup((const char *)k.data.scalar.value);
            if (cJSON_GetObjectItemCaseSensitive(node, key)) {
                char why[600];
                snprintf(why, sizeof why, "duplicate key '%s'", key);
                parse_error(c, &k, why);
                free(key);
                yaml_event_delete(&k);
                goto fail_map;
            }
            yaml_event_delete(&k);
            yaml_event_t v;
            if (next(c, &v)) {
                free(key);
                goto fail_map;
            }
            cJSON *val = parse_node(c, &v, depth + 1);
            yaml_event_delete(&v);
            if (!val) {
                free(key);
                goto fail_map;
            }
            cJSON_AddItemToObject(node, key, val);
            free(key);
        }
        remember(c, anc, node);
        free(anc);
        return node;
    fail_map:
        free(anc);
        cJSON_Delete(node);
        return NULL;
    }
    default:
        parse_error(c, ev, "unexpected YAML event");
        return NULL;
    }
}

int hb_yaml_parse(const char *text, size_t len, const char *name, cJSON **out, hb_err *err) {
    ctx c = {.file = name, .err = err, .alias_budget = 65536 + 64ull * len};
    *out = NULL;
    if (!yaml_parser_initialize(&c.p)) return hb_err_set(err, HB_ENOMEM, name, HB_NOPOS, HB_NOPOS, "libyaml init");
    yaml_parser_set_input_string(&c.p, (const unsigned char *)text, len);
    cJSON *root = NULL;
    int code = 0, done = 0;
    while (!done) {
        yaml_event_t ev;
        if (next(&c, &ev)) {
            code = HB_EFORMAT;
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT: break;
        case YAML_DOCUMENT_END_EVENT:
        case YAML_STREAM_END_EVENT: done = 1; break;
        default:
            if (root) {
                code = parse_error(&c, &ev, "more than one top-level node");
                done = 1;
                break;
            }
            root = parse_node(&c, &ev, 1);
            if (!root) {
                code = HB_EFORMAT;
                done = 1;
            }
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&c.p);
    for (size_t i = 0; i < c.n_anchors; i++) {
        free(c.anchors[i].name);
        cJSON_Delete(c.anchors[i].node);
    }
    free(c.anchors);
    if (code) {
        cJSON_Delete(root);
        return code;
    }
    *out = root ? root : cJSON_CreateNull();
    return 0;
}

int hb_yaml_load(const char *path, cJSON **out, hb_err *err) {
    uint8_t *d;
    size_t n;
    int code = hb_file_read_all(path, &d, &n, err);
    if (code) return code;
    code = hb_yaml_parse((const char *)d, n, path, out, err);
    free(d);
    return code;
}

/* ---- typed getters ---- */
static int type_err(const char *file, const char *path, const char *key, const char *want, hb_err *err) {
    return hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s%s%s: expected %s", path ? path : "",
                      path && *path ? "." : "", key, want);
}

static const cJSON *lookup(const cJSON *obj, const char *key, int required, const char *file, const char *path,
                           int *code, hb_err *err) {
    *code = 0;
    const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if ((!v || cJSON_IsNull(v)) && required)
        *code = hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s%s%s: required key is missing",
                           path ? path : "", path && *path ? "." : "", key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

int hb_cfg_str(const cJSON *obj, const char *key, int required, const char *file, const char *path, const char **out,
               hb_err *err) {
    int code;
    const cJSON *v = lookup(obj, key, required, file, path, &code, err);
    if (code || !v) return code;
    if (!cJSON_IsString(v)) return type_err(file, path, key, "a string", err);
    *out = v->valuestring;
    return 0;
}

int hb_cfg_int(const cJSON *obj, const char *key, int required, const char *file, const char *path, long long *out,
               hb_err *err) {
    int code;
    const cJSON *v = lookup(obj, key, required, file, path, &code, err);
    if (code || !v) return code;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9.007199254740992e15)
        return type_err(file, path, key, "an integer", err);
    *out = (long long)v->valuedouble;
    return 0;
}

int hb_cfg_num(const cJSON *obj, const char *key, int required, const char *file, const char *path, double *out,
               hb_err *err) {
    int code;
    const cJSON *v = lookup(obj, key, required, file, path, &code, err);
    if (code || !v) return code;
    if (!cJSON_IsNumber(v)) return type_err(file, path, key, "a number", err);
    *out = v->valuedouble;
    return 0;
}

int hb_cfg_bool(const cJSON *obj, const char *key, int required, const char *file, const char *path, int *out,
                hb_err *err) {
    int code;
    const cJSON *v = lookup(obj, key, required, file, path, &code, err);
    if (code || !v) return code;
    if (!cJSON_IsBool(v)) return type_err(file, path, key, "true or false", err);
    *out = cJSON_IsTrue(v);
    return 0;
}

int hb_cfg_known_keys(const cJSON *obj, const char *const *known, const char *file, const char *path, hb_err *err) {
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, it->string);
        if (!ok) {
            hb_buf b = {0};
            size_t n = 0;
            for (const char *const *k = known; *k; k++, n++) hb_buf_printf(&b, "%s%s", k == known ? "" : ", ", *k);
            const char *near = hb_closest(it->string, known, n);
            int code = hb_err_set(err, HB_EFORMAT, file, HB_NOPOS, HB_NOPOS, "%s%s%s: unknown key%s%s%s (known: %s)",
                                  path ? path : "", path && *path ? "." : "", it->string, near ? " (did you mean '" : "",
                                  near ? near : "", near ? "'?)" : "", hb_buf_cstr(&b));
            hb_buf_free(&b);
            return code;
        }
    }
    return 0;
}
