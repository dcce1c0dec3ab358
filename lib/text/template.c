/* Template sets: YAML -> checked, compiled patterns (docs/templates.md).
 * Dependencies: template_impl.h (the set's layout, ts_diag), recipe/yaml.h (hb_yaml_parse),
 *               core/core.h (hb_arena, hb_buf, hb_err), <cjson/cJSON.h> (the tree). */
#include "text/template_impl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "recipe/yaml.h"

/* ---- diagnostics ---- */
void ts_problem(ts_diag *d, int is_error, const char *place, const char *fmt, ...) {
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (is_error) {
        if (!d->errors) snprintf(d->first, sizeof d->first, "%s%s%s", place, *place ? ": " : "", msg);
        d->errors++;
    } else {
        d->warnings++;
    }
    if (d->out)
        hb_buf_printf(d->out, "%s: %s: %s%s%s\n", d->file, is_error ? "error" : "warning", place, *place ? ": " : "",
                      msg);
}

/* ---- {field} format strings ---- */
static int field_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Compile src into segments (Python str.format rules for the subset we accept: "{name}", "{{", "}}"). */
static int compile_tstr(hb_arena *a, const char *src, hb_tstr *out, ts_diag *d, const char *place) {
    size_t n = strlen(src), cap = 4, ns = 0;
    hb_tseg *segs = hb_xmalloc(cap * sizeof *segs);
    hb_buf lit = {0};
    int ok = 1;
    for (size_t i = 0; i < n && ok;) {
        char c = src[i];
        if ((c == '{' && src[i + 1] == '{') || (c == '}' && src[i + 1] == '}')) {
            hb_buf_putc(&lit, c);
            i += 2;
            continue;
        }
        if (c == '}') {
            ts_problem(d, 1, place, "single '}' at offset %zu (write '}}' for a literal brace)", i);
            ok = 0;
            break;
        }
        if (c != '{') {
            hb_buf_putc(&lit, c);
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && src[j] != '}' && src[j] != '{') j++;
        if (j >= n || src[j] != '}') {
            ts_problem(d, 1, place, "unclosed '{' at offset %zu (write '{{' for a literal brace)", i);
            ok = 0;
            break;
        }
        size_t k = i + 1, all_digits = 1;
        for (; k < j && field_char(src[k]); k++) all_digits &= src[k] >= '0' && src[k] <= '9';
        if (j == i + 1 || k < j || all_digits) {
            ts_problem(d, 1, place,
                       "placeholder '%.*s' at offset %zu: only named fields like {question} are supported "
                       "(no positional fields, attributes, indexes, conversions or format specs)",
                       (int)(j - i + 1), src + i, i);
            ok = 0;
            break;
        }
        if (ns + 2 > cap) segs = hb_xrealloc(segs, (cap *= 2) * sizeof *segs);
        if (lit.len) {
            segs[ns++] = (hb_tseg){0, (uint32_t)lit.len, hb_arena_strndup(a, (const char *)lit.data, lit.len)};
            hb_buf_clear(&lit);
        }
        segs[ns++] = (hb_tseg){1, (uint32_t)(j - i - 1), hb_arena_strndup(a, src + i + 1, j - i - 1)};
        i = j + 1;
    }
    if (ok && lit.len) {
        if (ns + 1 > cap) segs = hb_xrealloc(segs, (cap += 1) * sizeof *segs);
        segs[ns++] = (hb_tseg){0, (uint32_t)lit.len, hb_arena_strndup(a, (const char *)lit.data, lit.len)};
    }
    hb_buf_free(&lit);
    out->src = hb_arena_strdup(a, src);
    out->n_segs = ok ? (uint32_t)ns : 0;
    out->segs = ok && ns ? hb_arena_memdup(a, segs, ns * sizeof *segs) : NULL;
    free(segs);
    return ok;
}

/* The instruction is used as written: one literal segment (empty: none). */
static void literal_tstr(hb_arena *a, const char *src, hb_tstr *out) {
    size_t n = strlen(src);
    out->src = hb_arena_strdup(a, src);
    out->n_segs = n ? 1 : 0;
    hb_tseg *seg = n ? hb_arena_alloc(a, sizeof *seg) : NULL;
    if (seg) *seg = (hb_tseg){0, (uint32_t)n, out->src};
    out->segs = seg;
}

/* Text that would change the prompt's structure when tokenized (spec-data.md §7.2): an image placeholder or a role
 * boundary. Returns the offending marker or NULL. */
static const char *structural_marker(const char *s) {
    static const char *const marks[] = {"<image>", "\nHuman: ", "\nAI: "};
    for (size_t i = 0; i < 3; i++)
        if (strstr(s, marks[i])) return marks[i];
    return NULL;
}

static const char *show_marker(const char *m) {
    return !strcmp(m, "<image>") ? "the image placeholder '<image>'" : m[1] == 'H' ? "a role boundary '\\nHuman: '"
                                                                                   : "a role boundary '\\nAI: '";
}

/* ---- small typed readers that report instead of stopping ---- */
static const char *get_str(hb_template_set *ts, const cJSON *obj, const char *key, int required, const char *place,
                           ts_diag *d) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char where[300];
    snprintf(where, sizeof where, "%s%s%s", place, *place ? "." : "", key);
    if (!v || cJSON_IsNull(v)) {
        if (required) ts_problem(d, 1, where, "required key is missing");
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        ts_problem(d, 1, where, "expected a string");
        return NULL;
    }
    return hb_arena_strdup(&ts->arena, v->valuestring);
}

static void check_keys(const cJSON *obj, const char *const *known, const char *place, ts_diag *d) {
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, it->string);
        if (ok) continue;
        char list[300] = "";
        for (const char *const *k = known; *k; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k == known ? "" : ", ", *k);
        ts_problem(d, 1, place, "unknown key '%s' (known: %s)", it->string, list);
    }
}

/* ---- option format ---- */
int hb_index_style_parse(const char *s, uint8_t *icase, uint8_t *decor) {
    size_t n = strlen(s);
    char c;
    uint8_t dec;
    if (n == 2 && (s[1] == '.' || s[1] == ')')) {
        c = s[0];
        dec = s[1] == '.' ? HB_IDX_DOT : HB_IDX_RPAREN;
    } else if (n == 3 && s[0] == '(' && s[2] == ')') {
        c = s[1];
        dec = HB_IDX_PARENS;
    } else {
        return -1;
    }
    if (c != 'A' && c != 'a' && c != '1') return -1;
    *icase = c == 'A' ? HB_IDX_UPPER : c == 'a' ? HB_IDX_LOWER : HB_IDX_NUMBER;
    *decor = dec;
    return 0;
}

const char *hb_index_style_name(uint8_t icase, uint8_t decor) {
    static const char *const names[3][3] = {{"A.", "A)", "(A)"}, {"a.", "a)", "(a)"}, {"1.", "1)", "(1)"}};
    return icase < 3 && decor < 3 ? names[icase][decor] : "?";
}

static void parse_options(const cJSON *obj, hb_optfmt *o, const char *place, ts_diag *d) {
    if (!obj || cJSON_IsNull(obj)) return;
    if (!cJSON_IsObject(obj)) {
        ts_problem(d, 1, place, "expected a mapping");
        return;
    }
    static const char *const known[] = {"shuffle", "index", "answer", NULL};
    check_keys(obj, known, place, d);
    char where[300];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "shuffle");
    if (v) {
        snprintf(where, sizeof where, "%s.shuffle", place);
        if (cJSON_IsBool(v)) o->shuffle = (uint8_t)cJSON_IsTrue(v);
        else ts_problem(d, 1, where, "expected true or false");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "index"))) {
        snprintf(where, sizeof where, "%s.index", place);
        if (cJSON_IsString(v) && !strcmp(v->valuestring, "random")) {
            o->random_index = 1;
        } else if (cJSON_IsString(v) && !hb_index_style_parse(v->valuestring, &o->icase, &o->decor)) {
            o->random_index = 0;
        } else {
            ts_problem(d, 1, where, "expected one of A. A) (A) a. a) (a) 1. 1) (1) random");
        }
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "answer"))) {
        snprintf(where, sizeof where, "%s.answer", place);
        if (cJSON_IsString(v) && !strcmp(v->valuestring, "index")) o->answer_text = 0;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "index-text")) o->answer_text = 1;
        else ts_problem(d, 1, where, "expected 'index' (\"B\") or 'index-text' (\"B. the option\")");
    }
}

/* ---- patterns ---- */
static int parse_pattern(hb_template_set *ts, const cJSON *obj, hb_pattern *p, const char *place, ts_diag *d) {
    if (!cJSON_IsObject(obj)) {
        ts_problem(d, 1, place, "expected a mapping with instruction, input, target");
        return 0;
    }
    static const char *const known[] = {"name", "flip", "instruction", "input", "target", "options", NULL};
    int errors0 = d->errors;
    check_keys(obj, known, place, d);
    memset(p, 0, sizeof *p);
    const char *name = get_str(ts, obj, "name", 0, place, d);
    p->name = name ? name : "";
    const cJSON *flip = cJSON_GetObjectItemCaseSensitive(obj, "flip");
    if (flip && !cJSON_IsBool(flip)) {
        char where[300];
        snprintf(where, sizeof where, "%s.flip", place);
        ts_problem(d, 1, where, "expected true or false");
    }
    p->flip = (uint8_t)cJSON_IsTrue(flip);
    const char *texts[3];
    static const char *const parts[3] = {"instruction", "input", "target"};
    hb_tstr *outs[3] = {&p->instruction, &p->input, &p->target};
    for (int i = 0; i < 3; i++) {
        texts[i] = get_str(ts, obj, parts[i], i == 2, place, d);
        char where[300];
        snprintf(where, sizeof where, "%s.%s", place, parts[i]);
        if (!texts[i]) texts[i] = "";
        const char *m = structural_marker(texts[i]);
        if (m) ts_problem(d, 1, where, "contains %s, which would change the prompt's structure", show_marker(m));
        if (i == 0) literal_tstr(&ts->arena, texts[i], outs[i]); /* Honeybee never formats the instruction */
        else compile_tstr(&ts->arena, texts[i], outs[i], d, where);
    }
    p->no_prompt = !strcmp(texts[0], HB_NO_PROMPT);
    if (p->no_prompt && *texts[1])
        ts_problem(d, 1, place, "a " HB_NO_PROMPT " pattern renders \"" HB_NO_PROMPT " <image> <target>\"; its input "
                                "would be ignored, so it must be empty");
    p->options = ts->options;
    char where[300];
    snprintf(where, sizeof where, "%s.options", place);
    parse_options(cJSON_GetObjectItemCaseSensitive(obj, "options"), &p->options, where, d);
    return d->errors == errors0;
}

static void parse_patterns(hb_template_set *ts, const cJSON *obj, ts_diag *d) {
    if (!obj) {
        ts_problem(d, 1, "patterns", "required key is missing");
        return;
    }
    if (!cJSON_IsObject(obj)) {
        ts_problem(d, 1, "patterns", "expected a mapping from pattern key to a list of patterns");
        return;
    }
    int n = cJSON_GetArraySize(obj);
    if (n == 0) ts_problem(d, 1, "patterns", "no pattern keys");
    ts->keys = hb_arena_calloc(&ts->arena, sizeof *ts->keys * (size_t)(n + 1));
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        char place[300];
        snprintf(place, sizeof place, "patterns.%s", it->string);
        if (!*it->string) {
            ts_problem(d, 1, "patterns", "empty pattern key");
            continue;
        }
        if (!cJSON_IsArray(it)) {
            ts_problem(d, 1, place, "expected a list of patterns");
            continue;
        }
        int m = cJSON_GetArraySize(it);
        if (m == 0) {
            ts_problem(d, 1, place, "empty pattern list");
            continue;
        }
        hb_pattern *pats = hb_arena_calloc(&ts->arena, sizeof *pats * (size_t)m);
        uint32_t kept = 0;
        int i = 0, all_ok = 1;
        const cJSON *p;
        cJSON_ArrayForEach(p, it) {
            char pp[340];
            snprintf(pp, sizeof pp, "%s[%d]", place, i++);
            if (parse_pattern(ts, p, &pats[kept], pp, d)) kept++;
            else all_ok = 0;
        }
        if (!all_ok) continue; /* a key with a broken pattern is left out (its datasets then report nothing more) */
        hb_pattern_key *k = &ts->keys[ts->n_keys++];
        k->key = hb_arena_strdup(&ts->arena, it->string);
        k->n_patterns = kept;
        k->patterns = pats;
    }
}

int ts_key_index(const hb_template_set *ts, const char *key) {
    for (uint32_t i = 0; i < ts->n_keys; i++)
        if (!strcmp(ts->keys[i].key, key)) return (int)i;
    return -1;
}

static int key_declared(const cJSON *patterns, const char *key) {
    return cJSON_IsObject(patterns) && cJSON_GetObjectItemCaseSensitive(patterns, key);
}

static void parse_datasets(hb_template_set *ts, const cJSON *obj, const cJSON *patterns, ts_diag *d) {
    if (!obj || cJSON_IsNull(obj)) return;
    if (!cJSON_IsObject(obj)) {
        ts_problem(d, 1, "datasets", "expected a mapping from dataset name to pattern key");
        return;
    }
    ts->datasets = hb_arena_calloc(&ts->arena, sizeof *ts->datasets * (size_t)(cJSON_GetArraySize(obj) + 1));
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        char place[300];
        snprintf(place, sizeof place, "datasets.%s", it->string);
        if (!cJSON_IsString(it)) {
            ts_problem(d, 1, place, "expected the name of a pattern key");
            continue;
        }
        int k = ts_key_index(ts, it->valuestring);
        if (k < 0) {
            /* a key that exists but failed to load was reported already */
            if (!key_declared(patterns, it->valuestring))
                ts_problem(d, 1, place, "maps to pattern key '%s', which is not under patterns", it->valuestring);
            continue;
        }
        ts->datasets[ts->n_datasets++] = (ts_dataset){hb_arena_strdup(&ts->arena, it->string), (uint32_t)k};
    }
}

static void parse_fields(hb_template_set *ts, const cJSON *obj, ts_diag *d) {
    if (!obj || cJSON_IsNull(obj)) return;
    if (!cJSON_IsObject(obj)) {
        ts_problem(d, 1, "fields", "expected a mapping from dataset name to a list of field names");
        return;
    }
    ts->fields = hb_arena_calloc(&ts->arena, sizeof *ts->fields * (size_t)(cJSON_GetArraySize(obj) + 1));
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        char place[300];
        snprintf(place, sizeof place, "fields.%s", it->string);
        if (!cJSON_IsArray(it)) {
            ts_problem(d, 1, place, "expected a list of field names");
            continue;
        }
        int n = cJSON_GetArraySize(it), ok = 1, i = 0;
        const char **names = hb_arena_calloc(&ts->arena, sizeof *names * (size_t)(n + 1));
        const cJSON *f;
        cJSON_ArrayForEach(f, it) {
            int good = cJSON_IsString(f) && *f->valuestring;
            for (const char *c = good ? f->valuestring : ""; *c; c++) good &= field_char(*c);
            if (!good) {
                ts_problem(d, 1, place, "item %d: expected a field name (letters, digits, '_' or '-')", i);
                ok = 0;
            } else {
                names[i] = hb_arena_strdup(&ts->arena, f->valuestring);
            }
            i++;
        }
        if (ok) ts->fields[ts->n_fields++] = (ts_fields){hb_arena_strdup(&ts->arena, it->string), names};
    }
}

static const char *stem(hb_arena *a, const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && !strcmp(b + n - 5, ".yaml")) n -= 5;
    else if (n > 4 && !strcmp(b + n - 4, ".yml")) n -= 4;
    return hb_arena_strndup(a, b, n);
}

static const char *get_system(hb_template_set *ts, const cJSON *obj, const char *place, ts_diag *d) {
    const char *s = get_str(ts, obj, "system", 1, place, d);
    char where[300];
    snprintf(where, sizeof where, "%s%ssystem", place, *place ? "." : "");
    if (s && !*s) ts_problem(d, 1, where, "must not be empty");
    const char *m = s ? structural_marker(s) : NULL;
    if (m) ts_problem(d, 1, where, "contains %s", show_marker(m));
    return s ? s : "";
}

static void parse_conversation(hb_template_set *ts, const cJSON *obj, ts_diag *d) {
    if (!obj) {
        ts_problem(d, 1, "conversation", "required key is missing (system message and image markers of "
                                         "pre-rendered conversations)");
        ts->conv_system = "";
        return;
    }
    if (!cJSON_IsObject(obj)) {
        ts_problem(d, 1, "conversation", "expected a mapping with system and image_markers");
        ts->conv_system = "";
        return;
    }
    static const char *const known[] = {"system", "image_markers", NULL};
    check_keys(obj, known, "conversation", d);
    ts->conv_system = get_system(ts, obj, "conversation", d);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "image_markers");
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0) {
        ts_problem(d, 1, "conversation.image_markers", "expected a non-empty list of strings");
        return;
    }
    ts->markers = hb_arena_calloc(&ts->arena, sizeof *ts->markers * (size_t)cJSON_GetArraySize(m));
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, m) {
        if (!cJSON_IsString(it) || !strstr(it->valuestring, "<image>"))
            ts_problem(d, 1, "conversation.image_markers", "item %d: expected a string containing '<image>'", i);
        else ts->markers[ts->n_markers++] = hb_arena_strdup(&ts->arena, it->valuestring);
        i++;
    }
}

hb_template_set *ts_build(const cJSON *root, const char *name, ts_diag *d) {
    if (!cJSON_IsObject(root)) {
        ts_problem(d, 1, "", "a template set is a YAML mapping (system, conversation, options, patterns, datasets)");
        return NULL;
    }
    hb_template_set *ts = hb_xcalloc(1, sizeof *ts);
    hb_arena_init(&ts->arena, 0);
    ts->path = hb_arena_strdup(&ts->arena, name);
    static const char *const known[] = {"name",    "description", "system",   "conversation",
                                        "options", "patterns",    "datasets", "fields", NULL};
    check_keys(root, known, "", d);
    const char *n = get_str(ts, root, "name", 0, "", d);
    ts->name = n && *n ? n : stem(&ts->arena, name);
    const char *desc = get_str(ts, root, "description", 0, "", d);
    ts->description = desc ? desc : "";
    ts->system = get_system(ts, root, "", d);
    parse_conversation(ts, cJSON_GetObjectItemCaseSensitive(root, "conversation"), d);
    ts->options = (hb_optfmt){.icase = HB_IDX_UPPER, .decor = HB_IDX_DOT};
    parse_options(cJSON_GetObjectItemCaseSensitive(root, "options"), &ts->options, "options", d);
    const cJSON *patterns = cJSON_GetObjectItemCaseSensitive(root, "patterns");
    parse_patterns(ts, patterns, d);
    parse_datasets(ts, cJSON_GetObjectItemCaseSensitive(root, "datasets"), patterns, d);
    parse_fields(ts, cJSON_GetObjectItemCaseSensitive(root, "fields"), d);
    return ts;
}

/* ---- public API ---- */
int hb_template_parse(const char *text, size_t len, const char *name, hb_template_set **out, hb_err *err) {
    *out = NULL;
    cJSON *root = NULL;
    int code = hb_yaml_parse(text, len, name, &root, err);
    if (code) return code;
    ts_diag d = {.file = name};
    hb_template_set *ts = ts_build(root, name, &d);
    cJSON_Delete(root);
    if (d.errors) {
        hb_template_free(ts);
        if (d.errors == 1) return hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "%s", d.first);
        return hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS,
                          "%s (and %d more problems; `hb-prep lint-templates %s` lists them all)", d.first,
                          d.errors - 1, name);
    }
    *out = ts;
    return 0;
}

int hb_template_load(const char *path, hb_template_set **out, hb_err *err) {
    uint8_t *text;
    size_t n;
    *out = NULL;
    int code = hb_file_read_all(path, &text, &n, err);
    if (code) return code;
    code = hb_template_parse((const char *)text, n, path, out, err);
    free(text);
    return code;
}

void hb_template_free(hb_template_set *ts) {
    if (!ts) return;
    hb_arena_free(&ts->arena);
    free(ts);
}

const char *hb_template_name(const hb_template_set *ts) { return ts->name; }
const char *hb_template_path(const hb_template_set *ts) { return ts->path; }
const char *hb_template_system(const hb_template_set *ts) { return ts->system; }
const char *hb_template_conv_system(const hb_template_set *ts) { return ts->conv_system; }
uint32_t hb_template_n_markers(const hb_template_set *ts) { return ts->n_markers; }
const char *hb_template_marker(const hb_template_set *ts, uint32_t i) { return i < ts->n_markers ? ts->markers[i] : NULL; }
uint32_t hb_template_n_keys(const hb_template_set *ts) { return ts->n_keys; }
const hb_pattern_key *hb_template_key(const hb_template_set *ts, uint32_t i) { return i < ts->n_keys ? &ts->keys[i] : NULL; }

const hb_pattern_key *hb_template_lookup(const hb_template_set *ts, const char *dataset) {
    for (uint32_t i = 0; i < ts->n_datasets; i++)
        if (!strcmp(ts->datasets[i].name, dataset)) return &ts->keys[ts->datasets[i].key];
    int k = ts_key_index(ts, dataset);
    return k < 0 ? NULL : &ts->keys[k];
}

const char *const *hb_template_dataset_fields(const hb_template_set *ts, const char *dataset) {
    for (uint32_t i = 0; i < ts->n_fields; i++)
        if (!strcmp(ts->fields[i].name, dataset)) return ts->fields[i].fields;
    const ts_known *k = ts_known_dataset(dataset);
    return k && k->kind != TS_CONV ? k->fields : NULL;
}

int hb_template_is_conversation_dataset(const char *dataset) {
    const ts_known *k = ts_known_dataset(dataset);
    return k && k->kind == TS_CONV;
}
