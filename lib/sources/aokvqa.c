/* A-OKVQA: the official aokvqa_v1p0_{split}.json list (raw-formats.md §6, spec-data.md §1.8). The multiple-choice
 * form is what Honeybee trains on; the direct answers stay available as fields for open-ended templates.
 * Dependencies: sources.h (hb_src_*), json/json.h (typed getters). */
#include "sources.h"

#include <stdlib.h>
#include <string.h>

static const char *const ROLES[] = {"data", NULL};
static const char *const OPTIONS[] = {"split", NULL};
static const char *const FIELDS[] = {"question", "rationale", "direct_answer", "direct_answers", NULL};

typedef struct {
    const char *shown, *split;
} opts;

/* The most frequent direct answer (ties: the first seen). */
static const char *most_common(const cJSON *list) {
    const char *best = NULL;
    int best_n = 0;
    const cJSON *a, *b;
    cJSON_ArrayForEach(a, list) {
        if (!cJSON_IsString(a)) continue;
        int n = 0;
        cJSON_ArrayForEach(b, list) n += cJSON_IsString(b) && !strcmp(a->valuestring, b->valuestring);
        if (n > best_n) best = a->valuestring, best_n = n;
    }
    return best;
}

/* Strings of a list joined by sep in the scratch arena ("" for an empty list); NULL when an item is not a string. */
static const char *join(hb_src_ctx *ctx, const cJSON *list, const char *sep) {
    hb_buf b = {0};
    const cJSON *x;
    int i = 0;
    cJSON_ArrayForEach(x, list) {
        if (!cJSON_IsString(x)) {
            hb_buf_free(&b);
            return NULL;
        }
        if (i++) hb_buf_puts(&b, sep);
        hb_buf_puts(&b, x->valuestring);
    }
    const char *s = hb_arena_strdup(&ctx->scratch, b.data ? hb_buf_cstr(&b) : "");
    hb_buf_free(&b);
    return s;
}

static int record(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err) {
    const opts *o = user;
    char qid[64];
    long long img, ans;
    const char *q = hb_jstr(j, "question"), *split = hb_jstr(j, "split");
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    if (!hb_jid(j, "question_id", qid, sizeof qid) || hb_jint(j, "image_id", &img) || !q)
        return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "needs question_id, integer image_id and question");
    if (!split) split = o->split;
    if (!split) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "no split (set sources.%s.split)", ctx->src->name);
    if (o->split && strcmp(split, o->split)) /* Honeybee asserts this */
        return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "split is %s, not %s", split, o->split);
    int n = cJSON_IsArray(choices) ? cJSON_GetArraySize(choices) : 0;
    if (n < 2) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "choices must be a list of 2 or more");
    if (hb_jint(j, "correct_choice_idx", &ans))
        return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "no correct_choice_idx (the test split has none)");
    if (ans < 0 || ans >= n)
        return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "correct_choice_idx %lld out of %d choices", ans, n);
    const char **opt = hb_arena_alloc(&ctx->scratch, sizeof *opt * (size_t)n);
    int k = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, choices) {
        if (!cJSON_IsString(x)) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "a choice is not a string");
        opt[k++] = x->valuestring;
    }
    const cJSON *rats = cJSON_GetObjectItemCaseSensitive(j, "rationales"), *das = cJSON_GetObjectItemCaseSensitive(j, "direct_answers");
    const char *image = hb_arena_printf(&ctx->scratch, "%s2017/%012lld.jpg", split, img);
    hb_src_item it = {
        .key = hb_arena_strdup(&ctx->scratch, qid),
        .group = image,
        .image = image,
        .file = o->shown,
        .record = rec->index,
        .offset = rec->offset,
    };
    hb_src_fields(ctx, &it.ex, "question", q, "rationale", rats ? join(ctx, rats, " ") : NULL, "direct_answer",
                  das ? most_common(das) : NULL, "direct_answers", das ? join(ctx, das, "; ") : NULL, NULL);
    it.ex.options = opt;
    it.ex.n_options = (uint32_t)n;
    it.ex.answer_idx = (int32_t)ans;
    it.ex.record = rec->index;
    return hb_src_emit(ctx, &it, err);
}

static int run(hb_src_ctx *ctx, hb_err *err) {
    opts o = {0};
    char **paths;
    size_t n;
    int rc = hb_src_opt_str(ctx, "split", &o.split, err);
    if (rc || (rc = hb_src_files(ctx, "data", &paths, &n, err))) return rc;
    for (size_t i = 0; !rc && i < n && !ctx->stop; i++) {
        o.shown = hb_src_display(ctx, paths[i]);
        rc = hb_src_foreach(ctx, paths[i], "", record, &o, err);
    }
    hb_src_files_free(paths, n);
    return rc;
}

const hb_converter hb_conv_aokvqa = {
    .name = "aokvqa",
    .summary = "A-OKVQA aokvqa_v1p0_{split}.json (multiple choice; direct answers kept as fields)",
    .file_roles = ROLES,
    .options = OPTIONS,
    .fields = FIELDS,
    .nturn = 1,
    .dedup = "none",
    .image_paths = 1,
    .run = run,
};
