/* manifest.json of an output directory: which shards it holds, their counts, token totals and checksums, the
 * recipe hash and the tool version (docs/shard-format.md §Manifest).
 * Dependencies: shard.h, core/core.h (hb_write_file_atomic, hb_file_read_all, hb_buf), <cjson/cJSON.h>. */
#include "shard.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_NAME "manifest.json"

void hb_manifest_add(hb_manifest *m, const hb_manifest_shard *sh) {
    m->shards = hb_xrealloc(m->shards, (m->n_shards + 1) * sizeof *m->shards);
    hb_manifest_shard *d = &m->shards[m->n_shards++];
    *d = *sh;
    d->path = hb_xstrdup(sh->path ? sh->path : "");
    d->source = hb_xstrdup(sh->source ? sh->source : "");
    d->schema = hb_xstrdup(sh->schema ? sh->schema : HB_SCHEMA_SAMPLE);
}

int hb_manifest_write(const hb_manifest *m, const char *dir, hb_err *err) {
    hb_buf b = {0};
    hb_sample_totals t = {0};
    hb_buf_puts(&b, "{\n  \"format\": \"hb-shards\",\n  \"version\": 1,\n  \"tool\": ");
    const char *tool = m->tool ? m->tool : "hb " HB_VERSION;
    hb_buf_put_json_str(&b, tool, strlen(tool));
    hb_buf_puts(&b, ",\n  \"recipe_hash\": ");
    const char *rh = m->recipe_hash ? m->recipe_hash : "";
    hb_buf_put_json_str(&b, rh, strlen(rh));
    if (m->extra_json) {
        hb_buf_puts(&b, ",\n  \"info\": ");
        hb_buf_puts(&b, m->extra_json);
    }
    hb_buf_puts(&b, ",\n  \"shards\": [");
    for (size_t i = 0; i < m->n_shards; i++) {
        const hb_manifest_shard *s = &m->shards[i];
        char hex[17];
        hb_hash64_hex(s->xxh3, hex);
        hb_buf_puts(&b, i ? ",\n    {\"path\": " : "\n    {\"path\": ");
        hb_buf_put_json_str(&b, s->path, strlen(s->path));
        hb_buf_puts(&b, ", \"source\": ");
        hb_buf_put_json_str(&b, s->source, strlen(s->source));
        hb_buf_puts(&b, ", \"schema\": ");
        hb_buf_put_json_str(&b, s->schema, strlen(s->schema));
        hb_buf_printf(&b,
                      ", \"samples\": %llu, \"tokens\": %llu, \"supervised_tokens\": %llu, \"image_tokens\": %llu, "
                      "\"bytes\": %llu, \"xxh3\": \"%s\"}",
                      (unsigned long long)s->samples, (unsigned long long)s->tokens,
                      (unsigned long long)s->supervised_tokens, (unsigned long long)s->image_tokens,
                      (unsigned long long)s->bytes, hex);
        t.samples += s->samples;
        t.tokens += s->tokens;
        t.supervised_tokens += s->supervised_tokens;
        t.image_tokens += s->image_tokens;
    }
    hb_buf_printf(&b,
                  "\n  ],\n  \"totals\": {\"shards\": %zu, \"samples\": %llu, \"tokens\": %llu, \"supervised_tokens\": "
                  "%llu, \"image_tokens\": %llu}\n}\n",
                  m->n_shards, (unsigned long long)t.samples, (unsigned long long)t.tokens,
                  (unsigned long long)t.supervised_tokens, (unsigned long long)t.image_tokens);
    char *path = hb_path_join(dir, MANIFEST_NAME);
    int code = hb_write_file_atomic(path, b.data, b.len, err);
    free(path);
    hb_buf_free(&b);
    return code;
}

/* A count: an integral number in [0, 2^53] (JSON numbers are doubles; anything else cannot be converted). */
static int get_u64(const cJSON *o, const char *key, uint64_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0) ||
        v->valuedouble != floor(v->valuedouble))
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static const char *get_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int hb_manifest_load(hb_manifest *m, const char *dir, hb_err *err) {
    memset(m, 0, sizeof *m);
    char *path = hb_path_join(dir, MANIFEST_NAME);
    uint8_t *data;
    size_t len;
    int code = hb_file_read_all(path, &data, &len, err);
    if (code) {
        free(path);
        return code;
    }
    cJSON *root = cJSON_ParseWithLength((const char *)data, len);
    free(data);
    const cJSON *shards = root ? cJSON_GetObjectItemCaseSensitive(root, "shards") : NULL;
    const char *fmt = root ? get_str(root, "format") : NULL;
    if (!root || !fmt || strcmp(fmt, "hb-shards") != 0 || !cJSON_IsArray(shards)) {
        code = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS,
                          "not an hb manifest (needs \"format\": \"hb-shards\" and a \"shards\" array)");
        goto done;
    }
    m->tool = hb_xstrdup(get_str(root, "tool") ? get_str(root, "tool") : "");
    m->recipe_hash = hb_xstrdup(get_str(root, "recipe_hash") ? get_str(root, "recipe_hash") : "");
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(root, "info");
    if (info) {
        char *txt = cJSON_PrintUnformatted(info);
        m->extra_json = hb_xstrdup(txt);
        cJSON_free(txt);
    }
    long long i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, shards) {
        hb_manifest_shard s = {0};
        const char *xx = get_str(e, "xxh3");
        s.path = (char *)get_str(e, "path");
        s.source = (char *)get_str(e, "source");
        s.schema = (char *)get_str(e, "schema");
        if (!s.path || !s.source || !xx || strlen(xx) != 16 || strspn(xx, "0123456789abcdefABCDEF") != 16 ||
            get_u64(e, "samples", &s.samples) ||
            get_u64(e, "tokens", &s.tokens) || get_u64(e, "supervised_tokens", &s.supervised_tokens) ||
            get_u64(e, "image_tokens", &s.image_tokens) || get_u64(e, "bytes", &s.bytes) || strchr(s.path, '/')) {
            code = hb_err_set(err, HB_EFORMAT, path, i, HB_NOPOS,
                              "shard entry needs path (a plain file name), source, samples, tokens, "
                              "supervised_tokens, image_tokens, bytes and a 16-hex-digit xxh3");
            goto done;
        }
        s.xxh3 = strtoull(xx, NULL, 16);
        hb_manifest_add(m, &s);
        i++;
    }
done:
    cJSON_Delete(root);
    free(path);
    if (code) hb_manifest_free(m);
    return code;
}

void hb_manifest_free(hb_manifest *m) {
    for (size_t i = 0; i < m->n_shards; i++) {
        free(m->shards[i].path);
        free(m->shards[i].source);
        free(m->shards[i].schema);
    }
    free(m->shards);
    free(m->tool);
    free(m->recipe_hash);
    free(m->extra_json);
    memset(m, 0, sizeof *m);
}
