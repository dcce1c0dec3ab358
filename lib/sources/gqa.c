/* GQA: the official {split}_balanced_questions.json (or *_all_questions*.json), an object keyed by question id, read
 * whole and streamed (raw-formats.md §2, spec-data.md §1.4). No hand-made "minimal" copy is needed.
 * Dependencies: sources.h (hb_src_*), json/json.h (typed getters). */
#include "sources.h"

#include <stdlib.h>

static const char *const ROLES[] = {"questions", NULL};
static const char *const FIELDS[] = {"question", "answer", "full_answer", NULL};

static int record(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err) {
    const char *shown = user;
    char img[64];
    const char *q = hb_jstr(j, "question"), *a = hb_jstr(j, "answer");
    if (!rec->key) return hb_src_reject(ctx, shown, rec->index, rec->offset, err, "records must be keyed by question id");
    /* imageId is a string ("2375429", "n578564"); hand-made files sometimes hold a number */
    if (!hb_jid(j, "imageId", img, sizeof img)) return hb_src_reject(ctx, shown, rec->index, rec->offset, err, "no imageId");
    if (!q) return hb_src_reject(ctx, shown, rec->index, rec->offset, err, "no question");
    if (!a) return hb_src_reject(ctx, shown, rec->index, rec->offset, err, "no answer (a test or challenge file?)");
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "imageId"))) hb_src_note(ctx, "imageId.number");
    hb_src_item it = {
        .key = rec->key,
        .group = img,
        .image = hb_arena_printf(&ctx->scratch, "%s.jpg", img),
        .file = shown,
        .record = rec->index,
        .offset = rec->offset,
    };
    hb_src_fields(ctx, &it.ex, "question", q, "answer", a, "full_answer", hb_jstr(j, "fullAnswer"), NULL);
    it.ex.answer_idx = -1;
    it.ex.record = rec->index;
    return hb_src_emit(ctx, &it, err);
}

static int run(hb_src_ctx *ctx, hb_err *err) {
    char **paths;
    size_t n;
    int rc = hb_src_files(ctx, "questions", &paths, &n, err);
    for (size_t i = 0; !rc && i < n && !ctx->stop; i++)
        rc = hb_src_foreach(ctx, paths[i], "", record, (void *)hb_src_display(ctx, paths[i]), err);
    hb_src_files_free(paths, n);
    return rc;
}

const hb_converter hb_conv_gqa = {
    .name = "gqa",
    .summary = "GQA {split}_balanced_questions.json / *_all_questions*.json (a list of files is read in order)",
    .file_roles = ROLES,
    .fields = FIELDS,
    .nturn = 10,
    .dedup = "answer",
    .image_paths = 1,
    .run = run,
};
