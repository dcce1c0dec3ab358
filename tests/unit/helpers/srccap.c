#include "srccap.h"

#include <stdlib.h>
#include <string.h>

#include "recipe/recipe.h"
#include "sources/sources.h"
#include "testutil.h"

static int cap_emit(void *u, const hb_src_item *it, hb_err *err) {
    (void)err;
    sc_capture *c = u;
    cJSON *o = cJSON_CreateObject();
    if (it->key) cJSON_AddStringToObject(o, "key", it->key);
    if (it->group) cJSON_AddStringToObject(o, "group", it->group);
    if (it->image) cJSON_AddStringToObject(o, "image", it->image);
    if (it->image_archive) cJSON_AddStringToObject(o, "archive", it->image_archive);
    if (it->file) cJSON_AddStringToObject(o, "file", it->file);
    cJSON_AddNumberToObject(o, "record", (double)it->record);
    cJSON_AddNumberToObject(o, "offset", (double)it->offset);
    cJSON_AddNumberToObject(o, "image_len", (double)it->image_len);
    cJSON *f = cJSON_AddObjectToObject(o, "fields");
    for (uint32_t i = 0; i < it->ex.n_fields; i++) cJSON_AddStringToObject(f, it->ex.fields[i].key, it->ex.fields[i].value);
    if (it->ex.n_options) {
        cJSON *opts = cJSON_AddArrayToObject(o, "options");
        for (uint32_t i = 0; i < it->ex.n_options; i++) cJSON_AddItemToArray(opts, cJSON_CreateString(it->ex.options[i]));
        cJSON_AddNumberToObject(o, "answer_idx", it->ex.answer_idx);
    }
    if (it->n_conv) {
        cJSON *conv = cJSON_AddArrayToObject(o, "conv");
        for (uint32_t i = 0; i < it->n_conv; i++) {
            cJSON *t = cJSON_CreateObject();
            cJSON_AddStringToObject(t, "role", it->conv[i].role == HB_ROLE_HUMAN ? "human" : "ai");
            char *text = hb_xmalloc(it->conv[i].len + 1);
            memcpy(text, it->conv[i].text, it->conv[i].len);
            text[it->conv[i].len] = 0;
            cJSON_AddStringToObject(t, "text", text);
            free(text);
            cJSON_AddItemToArray(conv, t);
        }
    }
    cJSON_AddItemToArray(c->items, o);
    return 0;
}

static int cap_reject(void *u, const char *file, int64_t record, int64_t offset, const char *reason, hb_err *err) {
    (void)err;
    sc_capture *c = u;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", file ? file : "");
    cJSON_AddNumberToObject(o, "record", (double)record);
    cJSON_AddNumberToObject(o, "offset", (double)offset);
    cJSON_AddStringToObject(o, "reason", reason);
    cJSON_AddItemToArray(c->rejects, o);
    return 0;
}

static void cap_count(void *u, const char *name, long long n) {
    sc_capture *c = u;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(c->notes, name);
    if (v) cJSON_SetNumberValue(v, v->valuedouble + (double)n);
    else cJSON_AddNumberToObject(c->notes, name, (double)n);
}

static char *subst(const char *yaml) {
    const char *re = getenv("HB_ROOT"), *sh = getenv("HB_SHARED");
    char *repo = hb_xstrdup(re && *re ? re : "."), *shared = hb_xstrdup(sh && *sh ? sh : "../shared");
    hb_buf b = {0};
    for (const char *p = yaml; *p;) {
        if (!strncmp(p, "@REPO@", 6)) hb_buf_puts(&b, repo), p += 6;
        else if (!strncmp(p, "@SHARED@", 8)) hb_buf_puts(&b, shared), p += 8;
        else hb_buf_putc(&b, *p++);
    }
    free(repo);
    free(shared);
    char *s = hb_xstrdup(hb_buf_cstr(&b));
    hb_buf_free(&b);
    return s;
}

int sc_run(const char *yaml, const char *name, sc_capture *c, hb_err *err) {
    memset(c, 0, sizeof *c);
    c->items = cJSON_CreateArray();
    c->rejects = cJSON_CreateArray();
    c->notes = cJSON_CreateObject();
    char *text = subst(yaml);
    hb_recipe r;
    int rc = hb_recipe_parse(&r, text, strlen(text), "/test/recipe.yaml", err);
    free(text);
    if (rc) return rc;
    const hb_recipe_source *src = hb_recipe_find(&r, name);
    if (!src) {
        hb_recipe_free(&r);
        return hb_err_set(err, HB_ENOTFOUND, NULL, HB_NOPOS, HB_NOPOS, "no source %s", name);
    }
    hb_src_sink sink = {.user = c, .emit = cap_emit, .reject = cap_reject, .count = cap_count};
    hb_src_ctx ctx;
    rc = hb_src_run(&r, src, &sink, &ctx, err);
    c->records = ctx.records;
    hb_recipe_free(&r);
    return rc;
}

void sc_free(sc_capture *c) {
    cJSON_Delete(c->items);
    cJSON_Delete(c->rejects);
    cJSON_Delete(c->notes);
    memset(c, 0, sizeof *c);
}

int sc_count(const sc_capture *c) { return cJSON_GetArraySize(c->items); }

const char *sc_field(const sc_capture *c, int i, const char *key) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(c->items, i), "fields");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

const char *sc_str(const sc_capture *c, int i, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(c->items, i), key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int sc_note(const sc_capture *c, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->notes, name);
    return v ? (int)v->valuedouble : 0;
}

char *sc_dump(const sc_capture *c, int i) { return cJSON_PrintUnformatted(cJSON_GetArrayItem(c->items, i)); }
