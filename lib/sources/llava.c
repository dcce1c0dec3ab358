/* LLaVA data (raw-formats.md §9, spec-data.md §1.11):
 *  - "llava-instruct": LLaVA-Instruct-150K's conversation_58k / detail_23k / complex_reasoning_77k /
 *    llava_instruct_150k (and other files of the same shape, e.g. LLaVA-1.5's mix), as conversations; the
 *    renderer applies Honeybee's image-marker rules;
 *  - "llava-pretrain": LLaVA-Pretrain blip_laion_cc_sbu_558k.json, as captions (mode: caption, Honeybee's
 *    captioning) or as its conversations (mode: conversation).
 * Images are the record's `image` as written (COCO train2017 basenames; {shard}/{key}.jpg for the 558k set).
 * Dependencies: sources.h (hb_src_*, hb_src_turns), json/json.h (typed getters). */
#include "sources.h"

#include <stdlib.h>
#include <string.h>

static const char *const ROLES[] = {"data", NULL};

typedef struct {
    const char *shown, *stem;
    int caption; /* llava-pretrain: the gpt turn as {caption} */
    int stem_in_key;
} opts;

static const cJSON *turns_of(hb_src_ctx *ctx, const cJSON *j) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "conversations");
    if (!c && (c = cJSON_GetObjectItemCaseSensitive(j, "conversatons"))) hb_src_note(ctx, "key.conversatons_typo");
    return c;
}

static int record(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err) {
    const opts *o = user;
    char id[128], why[128];
    if (!hb_jid(j, "id", id, sizeof id)) snprintf(id, sizeof id, "%lld", (long long)rec->index), hb_src_note(ctx, "id.missing");
    uint32_t n;
    const hb_turn *t = hb_src_turns(ctx, turns_of(ctx, j), &n, why, sizeof why);
    if (!t) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "%s", why);
    const char *img = hb_jstr(j, "image");
    hb_src_item it = {
        .key = o->stem_in_key ? hb_arena_printf(&ctx->scratch, "%s/%s", o->stem, id) : hb_arena_strdup(&ctx->scratch, id),
        .image = img,
        .file = o->shown,
        .record = rec->index,
        .offset = rec->offset,
    };
    if (!img) hb_src_note(ctx, "text_only");
    if (o->caption) {
        const char *cap = NULL;
        for (uint32_t i = 0; i < n && !cap; i++)
            if (t[i].role == HB_ROLE_AI) cap = t[i].text;
        if (!cap) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "no gpt turn to use as the caption");
        if (!img) return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "a caption without an image");
        hb_src_fields(ctx, &it.ex, "caption", cap, NULL);
        it.ex.answer_idx = -1;
        it.ex.record = rec->index;
    } else {
        it.conv = t;
        it.n_conv = n;
    }
    return hb_src_emit(ctx, &it, err);
}

static int run_with(hb_src_ctx *ctx, int caption, hb_err *err) {
    char **paths;
    size_t n;
    int rc = hb_src_files(ctx, "data", &paths, &n, err);
    for (size_t i = 0; !rc && i < n && !ctx->stop; i++) {
        const char *base = strrchr(paths[i], '/') ? strrchr(paths[i], '/') + 1 : paths[i];
        char stem[256];
        snprintf(stem, sizeof stem, "%s", base);
        char *dot = strrchr(stem, '.');
        if (dot) *dot = 0;
        /* ids repeat across the 150K files (the same COCO image has a conversation, a detail and a reasoning
         * record), so for several files the key carries the file's stem */
        opts o = {.shown = hb_src_display(ctx, paths[i]), .stem = stem, .caption = caption, .stem_in_key = n > 1};
        rc = hb_src_foreach(ctx, paths[i], "", record, &o, err);
    }
    hb_src_files_free(paths, n);
    return rc;
}

static int run_instruct(hb_src_ctx *ctx, hb_err *err) { return run_with(ctx, 0, err); }

static const char *const POPTIONS[] = {"mode", NULL};
static const char *const MODES[] = {"caption", "conversation", NULL};
static const char *const PFIELDS[] = {"caption", NULL};

static int run_pretrain(hb_src_ctx *ctx, hb_err *err) {
    int mode = 0;
    int rc = hb_src_opt_enum(ctx, "mode", MODES, &mode, err);
    return rc ? rc : run_with(ctx, mode == 0, err);
}

const hb_converter hb_conv_llava_instruct = {
    .name = "llava-instruct",
    .summary = "LLaVA-Instruct-150K files (a list is read in order) as conversations",
    .file_roles = ROLES,
    .conversation = 1,
    .run = run_instruct,
};

/* In caption mode the source is templated (captioning), so it groups like the other templated sources. */
const hb_converter hb_conv_llava_pretrain = {
    .name = "llava-pretrain",
    .summary = "LLaVA-Pretrain blip_laion_cc_sbu_558k.json (mode: caption | conversation)",
    .file_roles = ROLES,
    .options = POPTIONS,
    .fields = PFIELDS,
    .nturn = 1,
    .dedup = "none",
    .image_paths = 1,
    .run = run_pretrain,
};
