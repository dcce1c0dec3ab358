/* VQAv2: the official questions and annotations files, read in lockstep (raw-formats.md §1, spec-data.md §1.3).
 * Dependencies: sources.h (hb_src_*), json/json.h (hb_jsplit, hb_json_member, typed getters). */
#include "sources.h"

#include <stdlib.h>
#include <string.h>

static const char *const ROLES[] = {"questions", "annotations", NULL};
static const char *const OPTIONS[] = {"answer", "data_subtype", NULL};
static const char *const FIELDS[] = {"question", "answer", "answer_type", "question_type", NULL};
static const char *const ANSWER_MODES[] = {"majority", "all", NULL};

/* "train2014" from the file's data_subtype member, else from a name like v2_OpenEnded_mscoco_train2014_questions. */
static int subtype_of(hb_src_ctx *ctx, const char *path, char *out, size_t n, hb_err *err) {
    const char *opt = NULL;
    int rc = hb_src_opt_str(ctx, "data_subtype", &opt, err);
    if (rc) return rc;
    if (opt) {
        snprintf(out, n, "%s", opt);
        return 0;
    }
    cJSON *v = NULL;
    hb_err e2;
    if (!hb_json_member(path, "data_subtype", &v, &e2) && cJSON_IsString(v)) {
        snprintf(out, n, "%s", v->valuestring);
        cJSON_Delete(v);
        return 0;
    }
    cJSON_Delete(v);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    static const char *const known[] = {"train2014", "val2014", "test-dev2015", "test2015", NULL};
    for (int i = 0; known[i]; i++)
        if (strstr(base, known[i])) {
            snprintf(out, n, "%s", known[i]);
            return 0;
        }
    return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS,
                      "no data_subtype in the file or its name (set sources.%s.data_subtype, e.g. train2014)",
                      ctx->src->name);
}

/* The most frequent of the ten answers (ties: the first seen) — used when multiple_choice_answer is missing. */
static const char *majority(const cJSON *answers) {
    const char *best = NULL;
    int best_n = 0;
    const cJSON *a, *b;
    cJSON_ArrayForEach(a, answers) {
        const char *s = hb_jstr(a, "answer");
        if (!s) continue;
        int n = 0;
        cJSON_ArrayForEach(b, answers) {
            const char *t = hb_jstr(b, "answer");
            n += t && !strcmp(s, t);
        }
        if (n > best_n) best = s, best_n = n;
    }
    return best;
}

static int run(hb_src_ctx *ctx, hb_err *err) {
    char *qpath = NULL, *apath = NULL;
    hb_jsplit *qs = NULL, *as = NULL;
    int mode = 0, rc;
    char subtype[64];
    if ((rc = hb_src_opt_enum(ctx, "answer", ANSWER_MODES, &mode, err))) return rc;
    if ((rc = hb_src_file(ctx, "questions", &qpath, err)) || (rc = hb_src_file(ctx, "annotations", &apath, err))) goto done;
    if ((rc = subtype_of(ctx, qpath, subtype, sizeof subtype, err))) goto done;
    if ((rc = hb_jsplit_open(&qs, qpath, "questions", err)) || (rc = hb_jsplit_open(&as, apath, "annotations", err)))
        goto done;
    const char *qshown = hb_src_display(ctx, qpath), *ashown = hb_src_display(ctx, apath);
    uint64_t total = hb_jsplit_size(qs) + hb_jsplit_size(as);
    if (ctx->sink.progress) ctx->sink.progress(ctx->sink.user, 0, total);
    while (!ctx->stop) {
        hb_jrec qr, ar;
        if ((rc = hb_jsplit_next(qs, &qr, err))) break;
        if ((rc = hb_jsplit_next(as, &ar, err))) break;
        if (!qr.data || !ar.data) {
            if (qr.data || ar.data)
                rc = hb_err_set(err, HB_EFORMAT, qr.data ? apath : qpath, HB_NOPOS, HB_NOPOS,
                                "has fewer records than %s: the questions and annotations files must be the pair of "
                                "one split", qr.data ? qshown : ashown);
            break;
        }
        cJSON *q = NULL, *a = NULL;
        if ((rc = hb_src_parse(ctx, &qr, qshown, &q, err))) break;
        ctx->records--; /* one record is the pair */
        if (q && (rc = hb_src_parse(ctx, &ar, ashown, &a, err))) {
            cJSON_Delete(q);
            break;
        }
        if (!q || !a) {
            cJSON_Delete(q);
            cJSON_Delete(a);
            hb_arena_reset(&ctx->scratch);
            continue;
        }
        long long qid, aqid, img;
        const char *question = hb_jstr(q, "question");
        const cJSON *answers = cJSON_GetObjectItemCaseSensitive(a, "answers");
        if (hb_jint(q, "question_id", &qid) || hb_jint(a, "question_id", &aqid) || hb_jint(q, "image_id", &img) || !question) {
            rc = hb_src_reject(ctx, qshown, qr.index, qr.offset, err,
                               "needs integer question_id and image_id and a string question");
        } else if (qid != aqid) {
            rc = hb_err_set(err, HB_EFORMAT, ashown, ar.index, ar.offset,
                            "question_id %lld here but %lld at the same position of %s: the two files must be in the "
                            "official order (do not sort them)", aqid, qid, qshown);
        } else {
            /* Honeybee's layout: one flat folder (image_prefix: train2014/ for the COCO download's folders) */
            const char *image = hb_arena_printf(&ctx->scratch, "COCO_%s_%012lld.jpg", subtype, img);
            const char *group = hb_arena_printf(&ctx->scratch, "%lld", img);
            const char *mc = hb_jstr(a, "multiple_choice_answer");
            if (!mc && answers) {
                mc = majority(answers);
                if (mc) hb_src_note(ctx, "answer.majority_of_answers");
            }
            hb_src_item it = {.group = group, .image = image, .file = qshown, .record = qr.index, .offset = qr.offset};
            if (!mc) {
                rc = hb_src_reject(ctx, ashown, ar.index, ar.offset, err, "no multiple_choice_answer and no answers");
            } else if (mode == 0) {
                it.key = hb_arena_printf(&ctx->scratch, "%lld", qid);
                hb_src_fields(ctx, &it.ex, "question", question, "answer", mc, "answer_type", hb_jstr(a, "answer_type"),
                              "question_type", hb_jstr(a, "question_type"), NULL);
                it.ex.answer_idx = -1;
                it.ex.record = qr.index;
                rc = hb_src_emit(ctx, &it, err);
            } else { /* every distinct answer, in the order first given */
                const cJSON *x, *y;
                int k = 0;
                cJSON_ArrayForEach(x, answers) {
                    const char *s = hb_jstr(x, "answer");
                    int seen = !s;
                    cJSON_ArrayForEach(y, answers) {
                        if (y == x || seen) break;
                        const char *t = hb_jstr(y, "answer");
                        seen = t && !strcmp(s, t);
                    }
                    if (seen) continue;
                    it.key = hb_arena_printf(&ctx->scratch, "%lld/%d", qid, k++);
                    hb_src_fields(ctx, &it.ex, "question", question, "answer", s, "answer_type",
                                  hb_jstr(a, "answer_type"), "question_type", hb_jstr(a, "question_type"), NULL);
                    it.ex.answer_idx = -1;
                    it.ex.record = qr.index;
                    if ((rc = hb_src_emit(ctx, &it, err))) break;
                }
            }
        }
        cJSON_Delete(q);
        cJSON_Delete(a);
        hb_arena_reset(&ctx->scratch);
        if (rc) break;
        if (ctx->sink.progress && (qr.index & 1023) == 0)
            ctx->sink.progress(ctx->sink.user, hb_jsplit_tell(qs) + hb_jsplit_tell(as), total);
    }
done:
    hb_jsplit_close(qs);
    hb_jsplit_close(as);
    free(qpath);
    free(apath);
    return rc;
}

const hb_converter hb_conv_vqav2 = {
    .name = "vqav2",
    .summary = "VQAv2 questions + annotations (answer: multiple_choice_answer, or every distinct answer)",
    .file_roles = ROLES,
    .options = OPTIONS,
    .fields = FIELDS,
    .nturn = 10,
    .dedup = "none",
    .image_paths = 1,
    .run = run,
};
