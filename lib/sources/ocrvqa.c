/* OCR-VQA: the official dataset.json, an object keyed by book id with parallel question/answer lists and an
 * integer split (1 train, 2 val, 3 test) (raw-formats.md §3, spec-data.md §1.5).
 * Dependencies: sources.h (hb_src_*), json/json.h (typed getters). */
#include "sources.h"

#include <stdlib.h>
#include <string.h>

static const char *const ROLES[] = {"dataset", NULL};
static const char *const OPTIONS[] = {"split", "image_ext", NULL};
static const char *const FIELDS[] = {"question", "answer", "title", "genre", NULL};
static const char *const SPLITS[] = {"all", "train", "val", "test", NULL};
static const char *const EXTS[] = {"url", "jpg", NULL};

typedef struct {
    const char *shown;
    int split;   /* 0 = all, else the split number */
    int ext_jpg; /* 1: {key}.jpg (LLaVA-1.5 saves every cover as .jpg); 0: the extension of imageURL (Honeybee) */
} opts;

static int record(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err) {
    const opts *o = user;
    long long split;
    if (!rec->key) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "records must be keyed by book id");
    if (hb_jint(j, "split", &split)) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "no integer split");
    if (o->split && split != o->split) {
        hb_src_note(ctx, "split.other"); /* a record of another split: skipped, counted */
        return 0;
    }
    const cJSON *qs = cJSON_GetObjectItemCaseSensitive(j, "questions"), *as = cJSON_GetObjectItemCaseSensitive(j, "answers");
    if (!cJSON_IsArray(qs) || !cJSON_IsArray(as))
        return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "questions and answers must be lists");
    int nq = cJSON_GetArraySize(qs), na = cJSON_GetArraySize(as);
    if (nq != na)
        return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "%d questions but %d answers", nq, na);
    const char *ext = ".jpg";
    if (!o->ext_jpg) {
        const char *url = hb_jstr(j, "imageURL");
        const char *slash = url ? strrchr(url, '/') : NULL, *dot = slash ? strrchr(slash, '.') : NULL;
        if (dot && strlen(dot) <= 6 && !strchr(dot, '?')) ext = dot;
        else hb_src_note(ctx, "image.no_extension_in_url");
    }
    hb_src_item it = {
        .group = rec->key,
        .image = hb_arena_printf(&ctx->scratch, "%s%s", rec->key, ext),
        .file = o->shown,
        .record = rec->index,
        .offset = rec->offset,
    };
    const cJSON *q = qs->child, *a = as->child;
    for (int k = 0; q && a; k++, q = q->next, a = a->next) {
        if (!cJSON_IsString(q) || !cJSON_IsString(a)) {
            int rc = hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "question/answer %d is not a string", k);
            if (rc) return rc;
            continue;
        }
        it.key = hb_arena_printf(&ctx->scratch, "%s/%d", rec->key, k);
        hb_src_fields(ctx, &it.ex, "question", q->valuestring, "answer", a->valuestring, "title", hb_jstr(j, "title"),
                      "genre", hb_jstr(j, "genre"), NULL);
        it.ex.answer_idx = -1;
        it.ex.record = rec->index;
        int rc = hb_src_emit(ctx, &it, err);
        if (rc) return rc;
    }
    return 0;
}

static int run(hb_src_ctx *ctx, hb_err *err) {
    opts o = {.split = 1};
    int split = 1, ext = 0, rc;
    char *path;
    if ((rc = hb_src_opt_enum(ctx, "split", SPLITS, &split, err))) return rc;
    if ((rc = hb_src_opt_enum(ctx, "image_ext", EXTS, &ext, err))) return rc;
    o.split = split;
    o.ext_jpg = ext == 1;
    if ((rc = hb_src_file(ctx, "dataset", &path, err))) return rc;
    o.shown = hb_src_display(ctx, path);
    rc = hb_src_foreach(ctx, path, "", record, &o, err);
    free(path);
    return rc;
}

const hb_converter hb_conv_ocrvqa = {
    .name = "ocrvqa",
    .summary = "OCR-VQA dataset.json (split: train|val|test|all; image_ext: url|jpg)",
    .file_roles = ROLES,
    .options = OPTIONS,
    .fields = FIELDS,
    .nturn = 10,
    .dedup = "none",
    .image_paths = 1,
    .run = run,
};
