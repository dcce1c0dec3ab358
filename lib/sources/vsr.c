/* VSR (Visual Spatial Reasoning): the official JSON Lines splits and data files (raw-formats.md §4, spec-data.md
 * §1.6). The caption becomes a yes/no question with lib/text/vsr (robust by default, or honeybee-compat).
 * Dependencies: sources.h (hb_src_*), text/vsr.h (hb_vsr_rewrite), json/json.h (typed getters). */
#include "sources.h"

#include <stdlib.h>
#include <string.h>

#include "text/vsr.h"

static const char *const ROLES[] = {"data", NULL};
static const char *const OPTIONS[] = {"rewrite", "image_path", NULL};
static const char *const FIELDS[] = {"question", "question_interro", "answer", "caption", "relation", NULL};
static const char *const REWRITES[] = {"robust", "honeybee-compat", NULL};
static const char *const IMAGE_PATHS[] = {"link", "image", NULL};

typedef struct {
    const char *shown;
    int file_idx, n_files;
    hb_vsr_mode mode;
    int by_name; /* 1: the bare `image` name (a merged trainval folder); 0: the last two parts of image_link */
    hb_buf q;
} opts;

static int record(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err) {
    opts *o = user;
    const char *cap = hb_jstr(j, "caption"), *name = hb_jstr(j, "image"), *link = hb_jstr(j, "image_link");
    const cJSON *lab = cJSON_GetObjectItemCaseSensitive(j, "label");
    long long label = -1;
    if (cJSON_IsBool(lab)) label = cJSON_IsTrue(lab);
    else hb_jint(j, "label", &label);
    if (!cap) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "no caption");
    if (label != 0 && label != 1) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "label must be 0 or 1");
    const char *image = NULL;
    if (!o->by_name && link) { /* http://images.cocodataset.org/train2017/000000296471.jpg -> train2017/000000296471.jpg */
        const char *end = link + strlen(link), *p = end;
        int slashes = 0;
        while (p > link && slashes < 2)
            if (*--p == '/') slashes++;
        if (slashes == 2) image = p + 1;
    }
    if (!image) {
        if (!o->by_name && name) hb_src_note(ctx, "image.no_link");
        image = name;
    }
    if (!image) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "no image or image_link");
    hb_vsr_rule rule = hb_vsr_rewrite(cap, o->mode, &o->q);
    char note[48];
    snprintf(note, sizeof note, "rewrite.%s", hb_vsr_rule_name(rule));
    hb_src_note(ctx, note);
    hb_src_item it = {
        .key = o->n_files > 1 ? hb_arena_printf(&ctx->scratch, "%d.%lld", o->file_idx, (long long)rec->index)
                              : hb_arena_printf(&ctx->scratch, "%lld", (long long)rec->index),
        .group = image,
        .image = image,
        .file = o->shown,
        .record = rec->index,
        .offset = rec->offset,
    };
    hb_src_fields(ctx, &it.ex, "question", cap, "question_interro", hb_arena_strdup(&ctx->scratch, (const char *)o->q.data),
                  "answer", label ? "yes" : "no", "caption", cap, "relation", hb_jstr(j, "relation"), NULL);
    it.ex.answer_idx = -1;
    it.ex.record = rec->index;
    return hb_src_emit(ctx, &it, err);
}

static int run(hb_src_ctx *ctx, hb_err *err) {
    opts o = {0};
    int mode = 0, ip = 0, rc;
    char **paths;
    size_t n;
    if ((rc = hb_src_opt_enum(ctx, "rewrite", REWRITES, &mode, err))) return rc;
    if ((rc = hb_src_opt_enum(ctx, "image_path", IMAGE_PATHS, &ip, err))) return rc;
    o.mode = mode ? HB_VSR_COMPAT : HB_VSR_ROBUST;
    o.by_name = ip == 1;
    if ((rc = hb_src_files(ctx, "data", &paths, &n, err))) return rc;
    o.n_files = (int)n;
    for (size_t i = 0; !rc && i < n && !ctx->stop; i++) {
        o.file_idx = (int)i;
        o.shown = hb_src_display(ctx, paths[i]);
        rc = hb_src_foreach(ctx, paths[i], NULL, record, &o, err);
    }
    hb_buf_free(&o.q);
    hb_src_files_free(paths, n);
    return rc;
}

const hb_converter hb_conv_vsr = {
    .name = "vsr",
    .summary = "VSR JSON Lines (random/zeroshot splits, validated/raw files; rewrite: robust|honeybee-compat)",
    .file_roles = ROLES,
    .options = OPTIONS,
    .fields = FIELDS,
    .nturn = 1,
    .dedup = "none",
    .image_paths = 1,
    .run = run,
};
