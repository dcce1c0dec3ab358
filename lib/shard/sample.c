/* The hb.sample/1 record: binary encoding, decoding, and the JSON dump form (docs/shard-format.md §Sample).
 * Dependencies: shard.h, core/core.h (hb_buf, hb_arena, hb_hash128_hex/parse), <cjson/cJSON.h> (parsing the dump
 * form back). */
#include "shard.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const ROLE_NAMES[] = {"system", "human", "ai"};

const char *hb_role_name(uint8_t role) { return role < 3 ? ROLE_NAMES[role] : "unknown"; }

int hb_role_parse(const char *name) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, ROLE_NAMES[i]) == 0) return i;
    return -1;
}

static void put_str16(hb_buf *b, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > UINT16_MAX) n = UINT16_MAX; /* ids and names are short; the JSON choices use a 32-bit length */
    hb_buf_put_u16(b, (uint16_t)n);
    hb_buf_append(b, s, n);
}

static void put_str32(hb_buf *b, const char *s, size_t n) {
    hb_buf_put_u32(b, (uint32_t)n);
    hb_buf_append(b, s, n);
}

void hb_sample_encode(const hb_sample *s, hb_buf *out) {
    hb_buf_put_u32(out, 0); /* flags */
    put_str16(out, s->id);
    put_str16(out, s->source);
    put_str16(out, s->source_file);
    hb_buf_put_u32(out, s->n_records);
    for (uint32_t i = 0; i < s->n_records; i++) hb_buf_put_u64(out, (uint64_t)s->records[i]);
    const char *ch = s->choices ? s->choices : "{}";
    put_str32(out, ch, strlen(ch));
    hb_buf_put_u32(out, s->n_images);
    for (uint32_t i = 0; i < s->n_images; i++) {
        hb_buf_put_u64(out, s->images[i].lo);
        hb_buf_put_u64(out, s->images[i].hi);
    }
    hb_buf_put_u32(out, s->n_turns);
    for (uint32_t i = 0; i < s->n_turns; i++) {
        hb_buf_put_u8(out, s->turns[i].role);
        put_str32(out, s->turns[i].text, s->turns[i].len);
    }
    hb_buf_put_u32(out, s->n_tokens);
    uint32_t sup = 0, img = 0;
    hb_buf_reserve(out, 5ull * s->n_tokens + 8);
    for (uint32_t i = 0; i < s->n_tokens; i++) {
        hb_buf_put_u32(out, (uint32_t)s->tokens[i]);
        img += s->tokens[i] == HB_IMAGE_TOKEN;
    }
    for (uint32_t i = 0; i < s->n_tokens; i++) {
        uint8_t m = s->loss_mask && s->loss_mask[i] ? 1 : 0;
        hb_buf_put_u8(out, m);
        sup += m;
    }
    hb_buf_put_u32(out, sup);
    hb_buf_put_u32(out, img);
}

/* ---- decoding with bounds checks ---- */
typedef struct {
    const uint8_t *p, *end;
    const char *what; /* field being read, for the error */
} cursor;

static int need(cursor *c, uint64_t n) { return (uint64_t)(c->end - c->p) >= n; }

#define TAKE(c, n, field)                                                                                           \
    do {                                                                                                            \
        (c)->what = field;                                                                                          \
        if (!need((c), (n))) goto short_record;                                                                     \
    } while (0)

static char *take_str(cursor *c, size_t n, hb_arena *a) {
    char *s = hb_arena_strndup(a, (const char *)c->p, n);
    c->p += n;
    return s;
}

/* One JSON value making up all of p[0..n) (blanks may follow it, nothing else); NULL otherwise. */
static cJSON *parse_whole(const char *p, size_t n) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(p, n, &end, 0);
    if (!j) return NULL;
    while (end < p + n && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) end++;
    if (end != p + n) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* The choices text: a JSON object without NUL bytes (what the dump form embeds as it is). */
static int valid_choices(const uint8_t *p, size_t n) {
    if (memchr(p, 0, n)) return 0;
    cJSON *j = parse_whole((const char *)p, n);
    int ok = cJSON_IsObject(j);
    cJSON_Delete(j);
    return ok;
}

int hb_sample_decode(const uint8_t *rec, size_t len, hb_sample *s, hb_arena *a, hb_err *err) {
    memset(s, 0, sizeof *s);
    cursor c = {rec, rec + len, ""};
    uint32_t n;
    TAKE(&c, 4, "flags");
    if (hb_le32(c.p) != 0) return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, 0, "sample: unknown flags");
    c.p += 4;
    const char **strs[3] = {&s->id, &s->source, &s->source_file};
    const char *names[3] = {"id", "source", "source_file"};
    for (int i = 0; i < 3; i++) {
        TAKE(&c, 2, names[i]);
        n = hb_le16(c.p);
        c.p += 2;
        TAKE(&c, n, names[i]);
        if (memchr(c.p, 0, n))
            return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, c.p - rec, "sample: %s contains a NUL byte", names[i]);
        *strs[i] = take_str(&c, n, a);
    }
    TAKE(&c, 4, "records");
    s->n_records = hb_le32(c.p);
    c.p += 4;
    TAKE(&c, 8ull * s->n_records, "records");
    int64_t *recs = hb_arena_alloc(a, 8ull * s->n_records + 8);
    for (uint32_t i = 0; i < s->n_records; i++, c.p += 8) {
        recs[i] = (int64_t)hb_le64(c.p);
        if (recs[i] < -(1ll << 53) || recs[i] > (1ll << 53)) /* what the JSON form (doubles) holds exactly */
            return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, c.p - rec, "sample: record position %lld out of range",
                              (long long)recs[i]);
    }
    s->records = recs;
    TAKE(&c, 4, "choices");
    n = hb_le32(c.p);
    c.p += 4;
    TAKE(&c, n, "choices");
    if (!valid_choices(c.p, n))
        return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, c.p - rec, "sample: choices is not a JSON object");
    s->choices = take_str(&c, n, a);
    TAKE(&c, 4, "images");
    s->n_images = hb_le32(c.p);
    c.p += 4;
    TAKE(&c, 16ull * s->n_images, "images");
    hb_hash128 *imgs = hb_arena_alloc(a, 16ull * s->n_images + 16);
    for (uint32_t i = 0; i < s->n_images; i++, c.p += 16) imgs[i] = (hb_hash128){hb_le64(c.p), hb_le64(c.p + 8)};
    s->images = imgs;
    TAKE(&c, 4, "turns");
    s->n_turns = hb_le32(c.p);
    c.p += 4;
    TAKE(&c, 5ull * s->n_turns, "turns");
    hb_turn *turns = hb_arena_alloc(a, sizeof *turns * (s->n_turns + 1ull));
    for (uint32_t i = 0; i < s->n_turns; i++) {
        TAKE(&c, 5, "turn");
        turns[i].role = c.p[0];
        if (turns[i].role > HB_ROLE_AI)
            return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, c.p - rec, "sample: turn %u has unknown role %u", i,
                              turns[i].role);
        turns[i].len = hb_le32(c.p + 1);
        c.p += 5;
        TAKE(&c, turns[i].len, "turn text");
        turns[i].text = take_str(&c, turns[i].len, a);
    }
    s->turns = turns;
    TAKE(&c, 4, "tokens");
    s->n_tokens = hb_le32(c.p);
    c.p += 4;
    TAKE(&c, 5ull * s->n_tokens + 8, "tokens");
    int32_t *toks = hb_arena_alloc(a, 4ull * s->n_tokens + 4);
    uint8_t *mask = hb_arena_alloc(a, s->n_tokens + 1ull);
    uint32_t sup = 0, img = 0;
    for (uint32_t i = 0; i < s->n_tokens; i++, c.p += 4) {
        toks[i] = (int32_t)hb_le32(c.p);
        if (toks[i] < HB_IMAGE_TOKEN)
            return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, c.p - rec, "sample: token %u has negative id %d", i,
                              toks[i]);
        img += toks[i] == HB_IMAGE_TOKEN;
    }
    for (uint32_t i = 0; i < s->n_tokens; i++, c.p++) {
        if (c.p[0] > 1)
            return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, c.p - rec, "sample: loss mask value %u is not 0/1",
                              c.p[0]);
        mask[i] = c.p[0];
        sup += mask[i];
    }
    s->tokens = toks;
    s->loss_mask = mask;
    s->n_supervised = hb_le32(c.p);
    s->n_image_tokens = hb_le32(c.p + 4);
    c.p += 8;
    if (s->n_supervised != sup || s->n_image_tokens != img)
        return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, c.p - rec - 8,
                          "sample: stored counts (supervised %u, image %u) disagree with the tokens (%u, %u)",
                          s->n_supervised, s->n_image_tokens, sup, img);
    if (c.p != c.end)
        return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, c.p - rec, "sample: %td trailing bytes", c.end - c.p);
    return 0;
short_record:
    return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, c.p - rec, "sample: record ends inside field '%s'", c.what);
}

int hb_shard_get_sample(hb_shard *s, uint64_t k, hb_sample *out, hb_arena *a, hb_err *err) {
    const uint8_t *rec;
    size_t len;
    int code = hb_shard_get(s, k, &rec, &len, err);
    if (code) return code;
    code = hb_sample_decode(rec, len, out, a, err);
    if (code) {
        char why[sizeof err->reason];
        snprintf(why, sizeof why, "%s", err ? err->reason : "");
        hb_err_set(err, code, hb_shard_path(s), (long long)k, HB_NOPOS, "%s", why);
    }
    return code;
}

/* ---- JSON dump form ---- */
void hb_sample_to_json(const hb_sample *s, hb_buf *o) {
    const char *ch = s->choices && s->choices[0] ? s->choices : "{}";
    hb_buf_puts(o, "{\"id\":");
    hb_buf_put_json_str(o, s->id ? s->id : "", s->id ? strlen(s->id) : 0);
    hb_buf_puts(o, ",\"source\":");
    hb_buf_put_json_str(o, s->source ? s->source : "", s->source ? strlen(s->source) : 0);
    hb_buf_puts(o, ",\"source_file\":");
    hb_buf_put_json_str(o, s->source_file ? s->source_file : "", s->source_file ? strlen(s->source_file) : 0);
    hb_buf_puts(o, ",\"records\":[");
    for (uint32_t i = 0; i < s->n_records; i++) hb_buf_printf(o, "%s%lld", i ? "," : "", (long long)s->records[i]);
    hb_buf_puts(o, "],\"choices\":");
    hb_buf_puts(o, ch); /* already a JSON object */
    hb_buf_puts(o, ",\"images\":[");
    for (uint32_t i = 0; i < s->n_images; i++) {
        char hex[33];
        hb_hash128_hex(s->images[i], hex);
        hb_buf_printf(o, "%s\"%s\"", i ? "," : "", hex);
    }
    hb_buf_puts(o, "],\"turns\":[");
    for (uint32_t i = 0; i < s->n_turns; i++) {
        hb_buf_printf(o, "%s{\"role\":\"%s\",\"text\":", i ? "," : "", hb_role_name(s->turns[i].role));
        hb_buf_put_json_str(o, s->turns[i].text, s->turns[i].len);
        hb_buf_putc(o, '}');
    }
    hb_buf_puts(o, "],\"input_ids\":[");
    uint32_t sup = 0, img = 0;
    for (uint32_t i = 0; i < s->n_tokens; i++) {
        hb_buf_printf(o, "%s%d", i ? "," : "", s->tokens[i]);
        img += s->tokens[i] == HB_IMAGE_TOKEN;
    }
    hb_buf_puts(o, "],\"loss_mask\":[");
    for (uint32_t i = 0; i < s->n_tokens; i++) {
        int m = s->loss_mask && s->loss_mask[i];
        sup += (uint32_t)m;
        hb_buf_printf(o, "%s%d", i ? "," : "", m);
    }
    hb_buf_printf(o, "],\"n_tokens\":%u,\"n_supervised\":%u,\"n_image_tokens\":%u}", s->n_tokens, sup, img);
}

static int json_fail(hb_err *err, const char *what) {
    return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, HB_NOPOS, "sample JSON: %s", what);
}

static int get_u32_array(const cJSON *arr, uint32_t *n) {
    if (!cJSON_IsArray(arr)) return -1;
    int k = cJSON_GetArraySize(arr);
    *n = (uint32_t)k;
    return 0;
}

static int is_int(const cJSON *v, double lo, double hi) {
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= lo && v->valuedouble <= hi;
}

/* The dump form is lossless for valid UTF-8 without NUL bytes (what hb-prep writes: raw JSON text is UTF-8 and
 * NULs are rejected there). cJSON ends a string at an embedded NUL, and invalid bytes are dumped as \u00XX. */
int hb_sample_from_json(const char *json, size_t len, hb_sample *s, hb_arena *a, hb_err *err) {
    memset(s, 0, sizeof *s);
    cJSON *root = parse_whole(json, len);
    if (!root) return json_fail(err, "not valid JSON");
    int code = 0;
    const cJSON *v;
    if (!cJSON_IsObject(root)) {
        code = json_fail(err, "not an object");
        goto done;
    }
    const char *keys[3] = {"id", "source", "source_file"};
    const char **dst[3] = {&s->id, &s->source, &s->source_file};
    for (int i = 0; i < 3; i++) {
        v = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
        if (!cJSON_IsString(v)) {
            code = hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, HB_NOPOS, "sample JSON: '%s' must be a string", keys[i]);
            goto done;
        }
        *dst[i] = hb_arena_strdup(a, v->valuestring);
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "records");
    if (v) {
        if (get_u32_array(v, &s->n_records)) {
            code = json_fail(err, "'records' must be an array of integers");
            goto done;
        }
        int64_t *r = hb_arena_alloc(a, 8ull * s->n_records + 8);
        uint32_t i = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, v) {
            if (!is_int(x, -9.007199254740992e15, 9.007199254740992e15)) {
                code = json_fail(err, "'records' must be an array of integers");
                goto done;
            }
            r[i++] = (int64_t)x->valuedouble;
        }
        s->records = r;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (v && !cJSON_IsObject(v)) {
        code = json_fail(err, "'choices' must be an object");
        goto done;
    }
    if (v) {
        char *txt = cJSON_PrintUnformatted(v);
        s->choices = hb_arena_strdup(a, txt);
        cJSON_free(txt);
    } else {
        s->choices = "{}";
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "images");
    if (v) {
        if (get_u32_array(v, &s->n_images)) {
            code = json_fail(err, "'images' must be an array of 32-hex-digit hashes");
            goto done;
        }
        hb_hash128 *h = hb_arena_alloc(a, 16ull * s->n_images + 16);
        uint32_t i = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, v) {
            if (!cJSON_IsString(x) || hb_hash128_parse(x->valuestring, &h[i])) {
                code = json_fail(err, "'images' must be an array of 32-hex-digit hashes");
                goto done;
            }
            i++;
        }
        s->images = h;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "turns");
    if (v) {
        if (get_u32_array(v, &s->n_turns)) {
            code = json_fail(err, "'turns' must be an array");
            goto done;
        }
        hb_turn *t = hb_arena_alloc(a, sizeof *t * (s->n_turns + 1ull));
        uint32_t i = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, v) {
            const cJSON *role = cJSON_GetObjectItemCaseSensitive(x, "role");
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(x, "text");
            int r = cJSON_IsString(role) ? hb_role_parse(role->valuestring) : -1;
            if (r < 0 || !cJSON_IsString(text)) {
                code = hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, HB_NOPOS,
                                  "sample JSON: turn %u needs a role (system|human|ai) and a text", i);
                goto done;
            }
            t[i].role = (uint8_t)r;
            t[i].len = (uint32_t)strlen(text->valuestring);
            t[i].text = hb_arena_strndup(a, text->valuestring, t[i].len);
            i++;
        }
        s->turns = t;
    }
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "input_ids");
    const cJSON *mask = cJSON_GetObjectItemCaseSensitive(root, "loss_mask");
    if (ids || mask) {
        uint32_t nm = 0;
        if (get_u32_array(ids, &s->n_tokens) || get_u32_array(mask, &nm) || nm != s->n_tokens) {
            code = json_fail(err, "'input_ids' and 'loss_mask' must be arrays of the same length");
            goto done;
        }
        int32_t *t = hb_arena_alloc(a, 4ull * s->n_tokens + 4);
        uint8_t *m = hb_arena_alloc(a, s->n_tokens + 1ull);
        uint32_t i = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, ids) {
            if (!is_int(x, -1, 2147483647.0)) {
                code = hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, HB_NOPOS,
                                  "sample JSON: input_ids[%u] must be an integer >= -1", i);
                goto done;
            }
            t[i++] = (int32_t)x->valuedouble;
        }
        i = 0;
        cJSON_ArrayForEach(x, mask) {
            if (!is_int(x, 0, 1)) {
                code = hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, HB_NOPOS, "sample JSON: loss_mask[%u] must be 0 or 1",
                                  i);
                goto done;
            }
            m[i++] = (uint8_t)x->valuedouble;
        }
        s->tokens = t;
        s->loss_mask = m;
    }
done:
    cJSON_Delete(root);
    return code;
}

/* ---- sample writer ---- */
int hb_sample_writer_open(hb_sample_writer *sw, const char *path, const hb_shard_opts *opts, hb_err *err) {
    memset(sw, 0, sizeof *sw);
    return hb_shard_writer_open(&sw->w, path, HB_SCHEMA_SAMPLE, opts, err);
}

int hb_sample_writer_add(hb_sample_writer *sw, const hb_sample *s, hb_err *err) {
    hb_buf_clear(&sw->scratch);
    hb_sample_encode(s, &sw->scratch);
    int code = hb_shard_writer_add(sw->w, sw->scratch.data, sw->scratch.len, err);
    if (code) return code;
    const uint8_t *tail = sw->scratch.data + sw->scratch.len - 8;
    sw->totals.samples++;
    sw->totals.tokens += s->n_tokens;
    sw->totals.supervised_tokens += hb_le32(tail);
    sw->totals.image_tokens += hb_le32(tail + 4);
    return 0;
}

int hb_sample_writer_close(hb_sample_writer *sw, hb_shard_info *info, hb_err *err) {
    int code = hb_shard_writer_close(sw->w, info, err);
    sw->w = NULL;
    hb_buf_free(&sw->scratch);
    return code;
}

void hb_sample_writer_abort(hb_sample_writer *sw) {
    hb_shard_writer_abort(sw->w);
    sw->w = NULL;
    hb_buf_free(&sw->scratch);
}
