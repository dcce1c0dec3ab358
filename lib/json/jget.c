/* Per-record parsing with cJSON and typed member getters.
 * Dependencies: json.h, <cjson/cJSON.h> (cJSON_ParseWithLengthOpts), <math.h> (floor). */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int hb_jrec_parse(const hb_jrec *rec, const char *path, cJSON **out, hb_err *err) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(rec->data, rec->len, &end, 0);
    if (!j) {
        long long at = end && end >= rec->data && end <= rec->data + rec->len ? (long long)(end - rec->data) : 0;
        *out = NULL;
        return hb_err_set(err, HB_EFORMAT, path, rec->index, rec->offset + at, "malformed JSON record (at byte %lld of it)", at);
    }
    size_t used = (size_t)(end - rec->data);
    while (used < rec->len && strchr(" \t\r\n", rec->data[used])) used++;
    if (used < rec->len) {
        cJSON_Delete(j);
        *out = NULL;
        return hb_err_set(err, HB_EFORMAT, path, rec->index, rec->offset + (long long)used,
                          "malformed JSON record: extra data after the value");
    }
    *out = j;
    return 0;
}

const char *hb_jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int hb_jnum(const cJSON *o, const char *key, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return -1;
    *out = v->valuedouble;
    return 0;
}

int hb_jint(const cJSON *o, const char *key, long long *out) {
    double d;
    if (hb_jnum(o, key, &d) || d != floor(d) || fabs(d) > 9007199254740992.0) return -1;
    *out = (long long)d;
    return 0;
}

const char *hb_jid(const cJSON *o, const char *key, char *buf, size_t n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v)) {
        snprintf(buf, n, "%s", v->valuestring);
        return buf;
    }
    long long i;
    if (!hb_jint(o, key, &i)) {
        snprintf(buf, n, "%lld", i);
        return buf;
    }
    return NULL;
}
