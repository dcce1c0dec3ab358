/* ShareGPT / Vicuna text-only conversations: ShareGPT_V3/V4.3_unfiltered_cleaned_split.json and LLaVA-1.5's
 * llava_v1_5_sharegpt40k.json (Honeybee's vicuna40k) (raw-formats.md §10, spec-data.md §1.12). The renderer
 * drops a non-human first turn and turns "<image>" into "image"; here records without an id, with an empty
 * conversation, an unknown role (Honeybee aborts the whole load on one) or a non-string value are rejected.
 * Dependencies: sources.h (hb_src_*, hb_src_turns), json/json.h (typed getters). */
#include "sources.h"

#include <stdlib.h>

static const char *const ROLES[] = {"data", NULL};

static int record(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err) {
    const char *shown = user;
    char id[128], why[128];
    if (!hb_jid(j, "id", id, sizeof id)) return hb_src_reject(ctx, shown, rec->index, rec->offset, err, "no id");
    uint32_t n;
    const hb_turn *t = hb_src_turns(ctx, cJSON_GetObjectItemCaseSensitive(j, "conversations"), &n, why, sizeof why);
    if (!t) return hb_src_reject(ctx, shown, rec->index, rec->offset, err, "%s", why);
    if (t[0].role != HB_ROLE_HUMAN) hb_src_note(ctx, "first_turn_not_human");
    hb_src_item it = {
        .key = hb_arena_strdup(&ctx->scratch, id),
        .file = shown,
        .record = rec->index,
        .offset = rec->offset,
        .conv = t,
        .n_conv = n,
    };
    return hb_src_emit(ctx, &it, err);
}

static int run(hb_src_ctx *ctx, hb_err *err) {
    char **paths;
    size_t n;
    int rc = hb_src_files(ctx, "data", &paths, &n, err);
    for (size_t i = 0; !rc && i < n && !ctx->stop; i++)
        rc = hb_src_foreach(ctx, paths[i], "", record, (void *)hb_src_display(ctx, paths[i]), err);
    hb_src_files_free(paths, n);
    return rc;
}

const hb_converter hb_conv_sharegpt = {
    .name = "sharegpt",
    .summary = "ShareGPT (raw cleaned splits or LLaVA-1.5's 40K subset), text-only conversations",
    .file_roles = ROLES,
    .conversation = 1,
    .run = run,
};
