/* JSON lines in and out of the renderer (`hb-prep render`): parse one sample per line, render batches of lines on
 * several threads, write the results in input order.
 * Dependencies: render.h (hb_render, the JSON forms), shard/shard.h (hb_role_name), core/core.h (hb_arena, hb_buf,
 *               hb_err, hb_progress), <cjson/cJSON.h> (parsing lines), <omp.h> (threads). */
#include "text/render.h"

#include <cjson/cJSON.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- input ---- */
static int in_err(hb_err *err, const char *fmt, const char *what) {
    return hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, HB_NOPOS, fmt, what);
}

static int parse_images(const cJSON *v, uint32_t *n, hb_err *err) {
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v)) *n = 0;
    else if (cJSON_IsTrue(v) || cJSON_IsString(v)) *n = 1;
    else if (cJSON_IsArray(v)) *n = (uint32_t)cJSON_GetArraySize(v);
    else if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e6 &&
             v->valuedouble == (double)(uint32_t)v->valuedouble)
        *n = (uint32_t)v->valuedouble;
    else return in_err(err, "%s: expected true/false, an image count, a path or a list of paths", "image");
    return 0;
}

static int parse_example(const cJSON *o, uint32_t e, hb_example *ex, hb_arena *a, hb_err *err) {
    char place[64];
    snprintf(place, sizeof place, "examples[%u]", e);
    if (!cJSON_IsObject(o)) return in_err(err, "%s: expected an object of fields", place);
    memset(ex, 0, sizeof *ex);
    ex->answer_idx = -1;
    ex->record = -1;
    int n = cJSON_GetArraySize(o);
    hb_field *fields = hb_arena_calloc(a, sizeof *fields * (size_t)(n ? n : 1));
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        char where[256];
        snprintf(where, sizeof where, "%s.%s", place, it->string);
        if (!strcmp(it->string, "options")) {
            if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) == 0)
                return in_err(err, "%s: expected a non-empty list of strings", where);
            const char **opts = hb_arena_calloc(a, sizeof *opts * (size_t)cJSON_GetArraySize(it));
            const cJSON *s;
            cJSON_ArrayForEach(s, it) {
                if (!cJSON_IsString(s)) return in_err(err, "%s: expected a list of strings", where);
                opts[ex->n_options++] = hb_arena_strdup(a, s->valuestring);
            }
            ex->options = opts;
        } else if (!strcmp(it->string, "answer_idx") || !strcmp(it->string, "record")) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 9e15 ||
                it->valuedouble != (double)(long long)it->valuedouble)
                return in_err(err, "%s: expected a non-negative integer", where);
            if (it->string[0] == 'r') ex->record = (int64_t)it->valuedouble;
            else if (it->valuedouble > 2e9) return in_err(err, "%s: out of range", where);
            else ex->answer_idx = (int32_t)it->valuedouble;
        } else {
            if (!cJSON_IsString(it)) return in_err(err, "%s: expected a string", where);
            fields[ex->n_fields++] = (hb_field){hb_arena_strdup(a, it->string), hb_arena_strdup(a, it->valuestring)};
        }
    }
    ex->fields = fields;
    if ((ex->n_options != 0) != (ex->answer_idx >= 0))
        return in_err(err, "%s: multiple choice needs both \"options\" and \"answer_idx\"", place);
    return 0;
}

static int parse_role(const char *s) {
    if (!strcmp(s, "human") || !strcmp(s, "user")) return HB_ROLE_HUMAN;
    if (!strcmp(s, "gpt") || !strcmp(s, "ai")) return HB_ROLE_AI;
    return -1;
}

int hb_render_input_from_json(const char *json, size_t len, hb_render_input *in, hb_arena *a, hb_err *err) {
    memset(in, 0, sizeof *in);
    cJSON *o = cJSON_ParseWithLength(json, len);
    int code = 0;
    if (!cJSON_IsObject(o)) {
        code = in_err(err, "%s", "not a JSON object");
        goto done;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(o, "dataset");
    const cJSON *exs = cJSON_GetObjectItemCaseSensitive(o, "examples");
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(o, "conversations");
    if (!cJSON_IsString(id) || !*id->valuestring) {
        code = in_err(err, "%s: expected a non-empty string", "id");
        goto done;
    }
    in->id = hb_arena_strdup(a, id->valuestring);
    if (ds && !cJSON_IsString(ds)) {
        code = in_err(err, "%s: expected a string", "dataset");
        goto done;
    }
    in->dataset = ds ? hb_arena_strdup(a, ds->valuestring) : NULL;
    if ((code = parse_images(cJSON_GetObjectItemCaseSensitive(o, "image"), &in->n_images, err))) goto done;
    if (!exs == !conv) {
        code = in_err(err, "%s", "expected either \"examples\" or \"conversations\"");
        goto done;
    }
    if (exs) {
        if (!cJSON_IsArray(exs) || cJSON_GetArraySize(exs) == 0) {
            code = in_err(err, "%s: expected a non-empty list", "examples");
            goto done;
        }
        hb_example *ex = hb_arena_calloc(a, sizeof *ex * (size_t)cJSON_GetArraySize(exs));
        const cJSON *it;
        cJSON_ArrayForEach(it, exs) {
            if ((code = parse_example(it, in->n_examples, &ex[in->n_examples], a, err))) goto done;
            in->n_examples++;
        }
        in->examples = ex;
    } else {
        if (!cJSON_IsArray(conv) || cJSON_GetArraySize(conv) == 0) {
            code = in_err(err, "%s: expected a non-empty list", "conversations");
            goto done;
        }
        hb_turn *t = hb_arena_calloc(a, sizeof *t * (size_t)cJSON_GetArraySize(conv));
        const cJSON *it;
        cJSON_ArrayForEach(it, conv) {
            const cJSON *from = cJSON_GetObjectItemCaseSensitive(it, "from");
            const cJSON *val = cJSON_GetObjectItemCaseSensitive(it, "value");
            int role = cJSON_IsString(from) ? parse_role(from->valuestring) : -1;
            if (role < 0 || !cJSON_IsString(val)) {
                code = hb_err_set(err, HB_EFORMAT, NULL, HB_NOPOS, HB_NOPOS,
                                  "conversations[%u]: expected {\"from\": \"human\"|\"user\"|\"gpt\"|\"ai\", "
                                  "\"value\": \"...\"}%s%s%s",
                                  in->n_conv, cJSON_IsString(from) && role < 0 ? " (unknown role '" : "",
                                  cJSON_IsString(from) && role < 0 ? from->valuestring : "",
                                  cJSON_IsString(from) && role < 0 ? "')" : "");
                goto done;
            }
            t[in->n_conv++] = (hb_turn){(uint8_t)role, (uint32_t)strlen(val->valuestring),
                                        hb_arena_strdup(a, val->valuestring)};
        }
        in->conv = t;
    }
done:
    cJSON_Delete(o);
    return code;
}

/* ---- output ---- */
void hb_rendered_to_json(const hb_render_input *in, const hb_rendered *r, hb_buf *out) {
    hb_buf_puts(out, "{\"id\":");
    hb_buf_put_json_str(out, in->id, strlen(in->id));
    hb_buf_puts(out, ",\"dataset\":");
    hb_buf_put_json_str(out, in->dataset, strlen(in->dataset));
    hb_buf_puts(out, ",\"text\":");
    hb_buf_put_json_str(out, r->text, r->len);
    hb_buf_puts(out, ",\"turns\":[");
    for (uint32_t i = 0; i < r->n_turns; i++) {
        hb_buf_printf(out, "%s{\"role\":\"%s\",\"text\":", i ? "," : "", hb_role_name(r->turns[i].role));
        hb_buf_put_json_str(out, r->turns[i].text, r->turns[i].len);
        hb_buf_putc(out, '}');
    }
    hb_buf_puts(out, "],\"choices\":");
    hb_buf_puts(out, r->choices);
    hb_buf_putc(out, '}');
}

/* ---- the driver ---- */
typedef struct {
    char *line;
    size_t len;
    long long lineno;
    hb_buf out;
    int code;
    hb_err err;
} job;

#define BATCH 2048

static void render_line(const hb_template_set *ts, const hb_render_jsonl_opts *o, job *j, hb_arena *a) {
    hb_render_input in;
    hb_rendered r;
    hb_arena_reset(a);
    hb_buf_clear(&j->out);
    j->code = hb_render_input_from_json(j->line, j->len, &in, a, &j->err);
    if (!j->code && !in.dataset) {
        if (o->dataset) in.dataset = o->dataset;
        else j->code = hb_err_set(&j->err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS,
                                  "sample '%s' names no dataset (give --dataset or a \"dataset\" key)", in.id);
    }
    if (!j->code) j->code = hb_render(ts, &in, o->seed, a, &r, &j->err);
    if (!j->code) {
        hb_rendered_to_json(&in, &r, &j->out);
        hb_buf_putc(&j->out, '\n');
    }
}

int hb_render_jsonl(const hb_template_set *ts, FILE *in, FILE *out, const hb_render_jsonl_opts *opts,
                    uint64_t *n_done, hb_err *err) {
    int threads = opts->threads > 1 ? opts->threads : 1;
    const char *name = opts->in_name ? opts->in_name : "<stdin>";
    job *jobs = hb_xcalloc(BATCH, sizeof *jobs);
    hb_arena *arenas = hb_xcalloc((size_t)threads, sizeof *arenas);
    for (int t = 0; t < threads; t++) hb_arena_init(&arenas[t], 0);
    hb_progress *prog = hb_progress_start("render", 0, "samples");
    long long lineno = 0;
    uint64_t done = 0;
    int code = 0, eof = 0;
    char *buf = NULL;
    size_t cap = 0;
    while (!eof && !code) {
        int n = 0;
        while (n < BATCH) {
            ssize_t len = getline(&buf, &cap, in);
            if (len < 0) {
                eof = 1;
                break;
            }
            lineno++;
            while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
            size_t k = 0;
            while ((ssize_t)k < len && (buf[k] == ' ' || buf[k] == '\t')) k++;
            if ((ssize_t)k == len) continue; /* blank line */
            jobs[n].line = hb_xrealloc(jobs[n].line, (size_t)len + 1);
            memcpy(jobs[n].line, buf, (size_t)len);
            jobs[n].line[len] = 0;
            jobs[n].len = (size_t)len;
            jobs[n].lineno = lineno;
            n++;
        }
        if (ferror(in)) {
            code = hb_err_errno(err, HB_EIO, name, "read failed after line %lld", lineno);
            break;
        }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
        for (int i = 0; i < n; i++) render_line(ts, opts, &jobs[i], &arenas[omp_get_thread_num()]);
        for (int i = 0; i < n && !code; i++) {
            if (jobs[i].code) {
                *err = jobs[i].err;
                char why[sizeof err->reason];
                snprintf(why, sizeof why, "line %lld: %s", jobs[i].lineno, jobs[i].err.reason);
                snprintf(err->file, sizeof err->file, "%s", name);
                err->record = HB_NOPOS; /* the line says where */
                snprintf(err->reason, sizeof err->reason, "%s", why);
                code = jobs[i].code;
                break;
            }
            if (fwrite(jobs[i].out.data, 1, jobs[i].out.len, out) != jobs[i].out.len) {
                code = hb_err_errno(err, HB_EIO, "<output>", "write failed");
                break;
            }
            done++;
        }
        hb_progress_add(prog, (uint64_t)n);
    }
    if (!code && fflush(out)) code = hb_err_errno(err, HB_EIO, "<output>", "write failed");
    hb_progress_done(prog);
    free(buf);
    for (int i = 0; i < BATCH; i++) {
        free(jobs[i].line);
        hb_buf_free(&jobs[i].out);
    }
    free(jobs);
    for (int t = 0; t < threads; t++) hb_arena_free(&arenas[t]);
    free(arenas);
    if (n_done) *n_done = done;
    return code;
}
