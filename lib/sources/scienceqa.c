/* ScienceQA in both forms users have (raw-formats.md §5, spec-data.md §1.7):
 *  - "scienceqa": the official problems.json (+ pid_splits.json), an object keyed by problem id;
 *  - "scienceqa-llava": LLaVA's llava_{split}_QCM-LEPA.json conversion, which Honeybee reads, parsed back into
 *    question, context, options and answer.
 * Dependencies: sources.h (hb_src_*, hb_idmap), json/json.h (typed getters, hb_jsplit). */
#include "sources.h"

#include <stdlib.h>
#include <string.h>

static const char *const FIELDS[] = {"question", "context", "lecture", "solution", NULL};

/* ---- problems.json ---- */
static const char *const ROLES[] = {"problems", "pid_splits", NULL};
static const char *const OPTIONS[] = {"split", NULL};

typedef struct {
    const char *shown, *split;
    hb_idmap pids; /* hash of the pid -> 1, when pid_splits is given */
    int use_pids;
} opts;

static const char **options_of(hb_src_ctx *ctx, const cJSON *choices, uint32_t *n) {
    int c = cJSON_GetArraySize(choices);
    const char **o = hb_arena_alloc(&ctx->scratch, sizeof *o * (size_t)(c + 1));
    *n = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, choices) {
        if (!cJSON_IsString(x)) return NULL;
        o[(*n)++] = x->valuestring;
    }
    return o;
}

/* Python's s.replace("  ", " "): every non-overlapping pair of spaces, left to right, becomes one space (so three
 * spaces become two). Counted when it changes anything. */
static const char *single_spaces(hb_src_ctx *ctx, const char *s) {
    if (!strstr(s, "  ")) return s;
    size_t n = strlen(s);
    char *o = hb_arena_alloc(&ctx->scratch, n + 1), *w = o;
    for (size_t i = 0; i < n; i++) {
        *w++ = s[i];
        if (s[i] == ' ' && s[i + 1] == ' ') i++;
    }
    *w = 0;
    hb_src_note(ctx, "text.double_space");
    return o;
}

static int problem(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err) {
    opts *o = user;
    if (!rec->key) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "records must be keyed by problem id");
    if (o->use_pids) {
        if (!hb_idmap_get(&o->pids, hb_hash_str(rec->key, 0), NULL)) {
            hb_src_note(ctx, "split.other"); /* a problem of another split: skipped, counted */
            return 0;
        }
    } else {
        const char *sp = hb_jstr(j, "split");
        if (!sp) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "no split (give files.pid_splits)");
        if (strcmp(sp, o->split)) {
            hb_src_note(ctx, "split.other");
            return 0;
        }
    }
    const char *q = hb_jstr(j, "question");
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    long long ans;
    uint32_t n = 0;
    const char **opt = cJSON_IsArray(choices) ? options_of(ctx, choices, &n) : NULL;
    if (!q) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "no question");
    if (!opt || n < 2) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "choices must be 2 or more strings");
    if (hb_jint(j, "answer", &ans) || ans < 0 || ans >= n)
        return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "answer is not an index into the choices");
    /* What Honeybee reads back from LLaVA's conversion of the problem: the context is the hint, stripped, or "N/A"
     * when empty (get_context_text); the conversion then replaces "  " by " " in the whole human turn (Python's
     * str.replace: once, left to right) and strips it, so the question loses its leading whitespace; Honeybee strips
     * each option. */
    const char *hint = hb_src_strip(ctx, hb_jstr(j, "hint") ? hb_jstr(j, "hint") : "");
    q = single_spaces(ctx, q);
    while (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r') q++;
    hint = single_spaces(ctx, hint);
    for (uint32_t i = 0; i < n; i++) opt[i] = hb_src_strip(ctx, single_spaces(ctx, opt[i]));
    const char *img = hb_jstr(j, "image");
    hb_src_item it = {.key = rec->key, .file = o->shown, .record = rec->index, .offset = rec->offset};
    if (img) {
        it.image = hb_arena_printf(&ctx->scratch, "%s/%s", rec->key, img);
        it.group = rec->key;
    }
    hb_src_fields(ctx, &it.ex, "question", q, "context", *hint ? hint : "N/A", "lecture", hb_jstr(j, "lecture"),
                  "solution", hb_jstr(j, "solution"), NULL);
    it.ex.options = opt;
    it.ex.n_options = n;
    it.ex.answer_idx = (int32_t)ans;
    it.ex.record = rec->index;
    return hb_src_emit(ctx, &it, err);
}

static int run_llava(hb_src_ctx *ctx, hb_err *err);

/* '[' for LLaVA's conversion (a list), '{' for problems.json (an object keyed by pid). */
static int first_byte(const char *path) {
    FILE *f = fopen(path, "rb");
    int c = EOF;
    if (!f) return c;
    while ((c = fgetc(f)) != EOF && (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == 0xEF || c == 0xBB || c == 0xBF)) {
    }
    fclose(f);
    return c;
}

static int run_problems(hb_src_ctx *ctx, hb_err *err) {
    opts o = {.split = "train"};
    char *ppath = NULL, *spath = NULL;
    int rc = hb_src_opt_str(ctx, "split", &o.split, err);
    if (rc || (rc = hb_src_file(ctx, "problems", &ppath, err))) return rc;
    if (first_byte(ppath) == '[') { /* given LLaVA's QCM-LEPA file: read it as scienceqa-llava does */
        free(ppath);
        hb_src_note(ctx, "format.llava_qcm_lepa");
        return run_llava(ctx, err);
    }
    if (cJSON_GetObjectItemCaseSensitive(ctx->src->files, "pid_splits")) {
        if ((rc = hb_src_file(ctx, "pid_splits", &spath, err))) goto done;
        hb_jsplit *s;
        if ((rc = hb_jsplit_open(&s, spath, o.split, err))) goto done;
        o.use_pids = 1;
        for (;;) {
            hb_jrec r;
            if ((rc = hb_jsplit_next(s, &r, err)) || !r.data) break;
            cJSON *v;
            if ((rc = hb_jrec_parse(&r, spath, &v, err))) break;
            if (!cJSON_IsString(v) && !cJSON_IsNumber(v)) {
                cJSON_Delete(v);
                rc = hb_err_set(err, HB_EFORMAT, spath, r.index, r.offset, "pid_splits.%s holds a non-id", o.split);
                break;
            }
            char buf[32];
            const char *pid = cJSON_IsString(v) ? v->valuestring : (snprintf(buf, sizeof buf, "%.0f", v->valuedouble), buf);
            hb_idmap_put(&o.pids, hb_hash_str(pid, 0), 1);
            cJSON_Delete(v);
        }
        hb_jsplit_close(s);
        if (rc) goto done;
    }
    o.shown = hb_src_display(ctx, ppath);
    rc = hb_src_foreach(ctx, ppath, "", problem, &o, err);
done:
    hb_idmap_free(&o.pids);
    free(ppath);
    free(spath);
    return rc;
}

const hb_converter hb_conv_scienceqa = {
    .name = "scienceqa",
    .summary = "ScienceQA problems.json (+ pid_splits.json; split: train|val|test|...); given LLaVA's QCM-LEPA list, reads that",
    .file_roles = ROLES,
    .options = OPTIONS,
    .fields = FIELDS,
    .nturn = 1,
    .dedup = "none",
    .run = run_problems,
};

/* ---- LLaVA's QCM-LEPA conversion ---- */
static const char *const LROLES[] = {"data", NULL};

/* The text between the end of marker a and the start of marker b (or the end), stripped; NULL without a. */
static const char *between(hb_src_ctx *ctx, const char *s, const char *a, const char *b) {
    const char *p = strstr(s, a);
    if (!p) return NULL;
    p += strlen(a);
    const char *e = b ? strstr(p, b) : NULL;
    char *t = hb_arena_strndup(&ctx->scratch, p, e ? (size_t)(e - p) : strlen(p));
    return hb_src_strip(ctx, t);
}

static int llava_record(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err) {
    const char *shown = user;
    char id[64];
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(j, "conversations");
    if (!hb_jid(j, "id", id, sizeof id)) return hb_src_reject(ctx, shown, rec->index, rec->offset, err, "no id");
    if (cJSON_GetArraySize(conv) < 2)
        return hb_src_reject(ctx, shown, rec->index, rec->offset, err, "needs a human and a gpt turn");
    const char *hv = hb_jstr(cJSON_GetArrayItem(conv, 0), "value"), *gv = hb_jstr(cJSON_GetArrayItem(conv, 1), "value");
    if (!hv || !gv) return hb_src_reject(ctx, shown, rec->index, rec->offset, err, "turn values must be strings");
    /* human: "<question>\nContext: <context>\nOptions: (A) x (B) y\n<image>" */
    const char *cx = strstr(hv, "\nContext: "), *op = cx ? strstr(cx, "\nOptions: ") : NULL;
    if (!cx || !op)
        return hb_src_reject(ctx, shown, rec->index, rec->offset, err,
                             "human turn is not \"<question>\\nContext: ...\\nOptions: ...\" (QCM format)");
    const char *q = hb_arena_strndup(&ctx->scratch, hv, (size_t)(cx - hv));
    if (!strncmp(q, "<image>\n", 8)) { /* a marker before the question would leak into it: take it off */
        q += 8;
        hb_src_note(ctx, "image_marker.before_question");
    }
    const char *context = hb_arena_strndup(&ctx->scratch, cx + 10, (size_t)(op - cx - 10));
    /* options: drop "<image>", split on "(A)".."(Z)", strip, drop empty pieces */
    const char *p = op + 10;
    const char **opt = hb_arena_alloc(&ctx->scratch, sizeof *opt * 27);
    uint32_t n = 0;
    const char *cur = NULL;
    for (;; p++) {
        int mark = *p == '(' && p[1] >= 'A' && p[1] <= 'Z' && p[2] == ')';
        if (*p == 0 || mark) {
            if (cur) {
                hb_buf piece = {0};
                for (const char *c = cur; c < p; c++) {
                    if (!strncmp(c, "<image>", 7)) {
                        c += 6;
                        continue;
                    }
                    hb_buf_putc(&piece, *c);
                }
                const char *t = hb_src_strip(ctx, piece.data ? hb_buf_cstr(&piece) : "");
                hb_buf_free(&piece);
                if (*t && n < 26) opt[n++] = t;
            }
            if (*p == 0) break;
            cur = p + 3;
            p += 2;
        } else if (!cur)
            cur = p;
    }
    const char *ans = between(ctx, gv, "###\nANSWER:", NULL);
    if (!ans) ans = between(ctx, gv, "ANSWER:", NULL), hb_src_note(ctx, "answer.without_###");
    if (n < 2 || !ans || !*ans || ans[0] < 'A' || ans[0] >= 'A' + (int)n)
        return hb_src_reject(ctx, shown, rec->index, rec->offset, err,
                             "cannot read %s (options: %u)", !ans || !*ans ? "the answer letter" : "a valid answer letter", n);
    const char *img = hb_jstr(j, "image");
    hb_src_item it = {.key = hb_arena_strdup(&ctx->scratch, id), .file = shown, .record = rec->index, .offset = rec->offset};
    if (img) {
        it.image = img;
        it.group = it.key;
    }
    hb_src_fields(ctx, &it.ex, "question", q, "context", context, "lecture", between(ctx, gv, "LECTURE:", "SOLUTION:"),
                  "solution", between(ctx, gv, "SOLUTION:", "###"), NULL);
    it.ex.options = opt;
    it.ex.n_options = n;
    it.ex.answer_idx = ans[0] - 'A';
    it.ex.record = rec->index;
    return hb_src_emit(ctx, &it, err);
}

static int run_llava(hb_src_ctx *ctx, hb_err *err) {
    char **paths;
    size_t n;
    const cJSON *f = ctx->src->files;
    /* the "data" role, or the plain path/list the auto-detecting "scienceqa" converter was given */
    const char *role = !cJSON_IsObject(f) ? NULL : cJSON_GetObjectItemCaseSensitive(f, "data") ? "data" : "problems";
    int rc = hb_src_files(ctx, role, &paths, &n, err);
    for (size_t i = 0; !rc && i < n && !ctx->stop; i++)
        rc = hb_src_foreach(ctx, paths[i], "", llava_record, (void *)hb_src_display(ctx, paths[i]), err);
    hb_src_files_free(paths, n);
    return rc;
}

const hb_converter hb_conv_scienceqa_llava = {
    .name = "scienceqa-llava",
    .summary = "ScienceQA as LLaVA's llava_{split}_QCM-LEPA.json (what Honeybee reads)",
    .file_roles = LROLES,
    .fields = FIELDS,
    .nturn = 1,
    .dedup = "none",
    .run = run_llava,
};
