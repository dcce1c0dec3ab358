/* Visual Genome (raw-formats.md §8, spec-data.md §1.10):
 *  - "vg-regions": region_descriptions.json + image_data.json as grounding examples {phrase, bbox} (Honeybee's
 *    vgloc), boxes normalised by the image_data width and height;
 *  - "vg-qa": question_answers.json as VQA examples {question, answer}.
 * Images are {image_id}.jpg in one flat folder (Honeybee) or VG_100K[_2]/{image_id}.jpg as downloaded
 * (image_layout: url, which needs image_data.json for the folder).
 * Dependencies: sources.h (hb_src_*, hb_idmap), json/json.h (typed getters). */
#include "sources.h"

#include <stdlib.h>
#include <string.h>

static const char *const LAYOUTS[] = {"flat", "url", NULL};

typedef struct {
    hb_idmap ids;   /* image id -> index */
    double *wh;     /* [W, H] per image */
    uint8_t *dir2;  /* 1 when the url names VG_100K_2 */
    size_t n, cap;
    const char *shown;
} image_data;

static int image_record(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err) {
    image_data *d = user;
    long long id;
    double W = 0, H = 0;
    if (hb_jint(j, "image_id", &id) && hb_jint(j, "id", &id)) /* older versions say "id" */
        return hb_src_reject(ctx, d->shown, rec->index, rec->offset, err, "image_data: no image_id");
    hb_jnum(j, "width", &W);
    hb_jnum(j, "height", &H);
    const char *url = hb_jstr(j, "url");
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 4096;
        d->wh = hb_xrealloc(d->wh, d->cap * 2 * sizeof *d->wh);
        d->dir2 = hb_xrealloc(d->dir2, d->cap);
    }
    d->wh[2 * d->n] = W;
    d->wh[2 * d->n + 1] = H;
    d->dir2[d->n] = url && strstr(url, "/VG_100K_2/") ? 1 : 0;
    hb_idmap_put(&d->ids, (uint64_t)id, d->n++);
    return 0;
}

static int load_image_data(hb_src_ctx *ctx, image_data *d, hb_err *err) {
    char *path;
    int rc = hb_src_file(ctx, "image_data", &path, err);
    if (rc) return rc;
    d->shown = hb_src_display(ctx, path);
    ctx->uncounted = 1; /* metadata: does not count against the source's limit */
    rc = hb_src_foreach(ctx, path, "", image_record, d, err);
    ctx->uncounted = 0;
    free(path);
    return rc;
}

static void free_image_data(image_data *d) {
    hb_idmap_free(&d->ids);
    free(d->wh);
    free(d->dir2);
}

static const char *image_path(hb_src_ctx *ctx, const image_data *d, int url_layout, long long id) {
    uint64_t i;
    if (url_layout && hb_idmap_get(&d->ids, (uint64_t)id, &i))
        return hb_arena_printf(&ctx->scratch, "%s/%lld.jpg", d->dir2[i] ? "VG_100K_2" : "VG_100K", id);
    return hb_arena_printf(&ctx->scratch, "%lld.jpg", id);
}

/* ---- regions ---- */
static const char *const RROLES[] = {"regions", "image_data", NULL};
static const char *const ROPTIONS[] = {"image_layout", "strip_phrase", "bbox_decimals", "bbox_clamp", "bbox_format", NULL};
static const char *const RFIELDS[] = {"phrase", "bbox", NULL};

typedef struct {
    const char *shown;
    image_data d;
    int url_layout, strip;
} ropts;

static int region_record(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err) {
    ropts *o = user;
    long long id;
    const cJSON *regions = cJSON_GetObjectItemCaseSensitive(j, "regions");
    if ((hb_jint(j, "id", &id) && hb_jint(j, "image_id", &id)) || !cJSON_IsArray(regions))
        return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "needs id and a regions list");
    uint64_t ii;
    if (!hb_idmap_get(&o->d.ids, (uint64_t)id, &ii))
        return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "image %lld is not in image_data.json", id);
    double W = o->d.wh[2 * ii], H = o->d.wh[2 * ii + 1];
    const char *image = image_path(ctx, &o->d, o->url_layout, id);
    const char *group = hb_arena_printf(&ctx->scratch, "%lld", id);
    const cJSON *r;
    int k = -1;
    cJSON_ArrayForEach(r, regions) {
        k++;
        long long rid, rimg;
        double x, y, w, h;
        const char *phrase = hb_jstr(r, "phrase");
        int rc = 0;
        if (hb_jint(r, "region_id", &rid) || !phrase || hb_jnum(r, "x", &x) || hb_jnum(r, "y", &y) ||
            hb_jnum(r, "width", &w) || hb_jnum(r, "height", &h))
            rc = hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "region %d needs region_id, phrase, x, y, width, height", k);
        else if (!hb_jint(r, "image_id", &rimg) && rimg != id) /* Honeybee asserts this */
            rc = hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "region %lld names image %lld inside image %lld", rid, rimg, id);
        else {
            const char *p = o->strip ? hb_src_strip(ctx, phrase) : phrase;
            const char *box = hb_src_bbox(ctx, x, y, w, h, W, H);
            if (*p && strlen(p) != strlen(phrase)) hb_src_note(ctx, "phrase.stripped");
            if (!*p) rc = hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "region %lld has an empty phrase", rid);
            else if (!box) rc = hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "image %lld has no positive size in image_data.json", id);
            else {
                if (x < 0 || y < 0 || x + w > W || y + h > H) hb_src_note(ctx, "bbox.outside_image");
                hb_src_item it = {.key = hb_arena_printf(&ctx->scratch, "%lld", rid),
                                  .group = group,
                                  .image = image,
                                  .file = o->shown,
                                  .record = rec->index,
                                  .offset = rec->offset};
                hb_src_fields(ctx, &it.ex, "phrase", p, "bbox", box, NULL);
                it.ex.answer_idx = -1;
                it.ex.record = rec->index;
                rc = hb_src_emit(ctx, &it, err);
            }
        }
        if (rc) return rc;
    }
    return 0;
}

static int run_regions(hb_src_ctx *ctx, hb_err *err) {
    ropts o = {.strip = 1};
    int layout = 0, rc;
    char *path = NULL;
    if ((rc = hb_src_opt_enum(ctx, "image_layout", LAYOUTS, &layout, err)) || (rc = hb_src_opt_bool(ctx, "strip_phrase", &o.strip, err)))
        return rc;
    o.url_layout = layout == 1;
    if ((rc = hb_src_file(ctx, "regions", &path, err)) || (rc = load_image_data(ctx, &o.d, err))) goto done;
    o.shown = hb_src_display(ctx, path);
    rc = hb_src_foreach(ctx, path, "", region_record, &o, err);
done:
    free_image_data(&o.d);
    free(path);
    return rc;
}

const hb_converter hb_conv_vg_regions = {
    .name = "vg-regions",
    .summary = "Visual Genome region_descriptions.json + image_data.json as grounding (Honeybee's vgloc)",
    .file_roles = RROLES,
    .options = ROPTIONS,
    .fields = RFIELDS,
    .nturn = 1,
    .dedup = "none",
    .image_paths = 1,
    .run = run_regions,
};

/* ---- question answers ---- */
static const char *const QROLES[] = {"data", "image_data", NULL};
static const char *const QOPTIONS[] = {"image_layout", NULL};
static const char *const QFIELDS[] = {"question", "answer", NULL};

typedef struct {
    const char *shown;
    image_data d;
    int url_layout;
} qopts;

static int qa_record(hb_src_ctx *ctx, const hb_jrec *rec, cJSON *j, void *user, hb_err *err) {
    qopts *o = user;
    long long id;
    const cJSON *qas = cJSON_GetObjectItemCaseSensitive(j, "qas");
    if ((hb_jint(j, "id", &id) && hb_jint(j, "image_id", &id)) || !cJSON_IsArray(qas))
        return hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "needs id and a qas list");
    const char *image = image_path(ctx, &o->d, o->url_layout, id);
    const char *group = hb_arena_printf(&ctx->scratch, "%lld", id);
    const cJSON *qa;
    int k = -1;
    cJSON_ArrayForEach(qa, qas) {
        k++;
        long long qid;
        const char *q = hb_jstr(qa, "question"), *a = hb_jstr(qa, "answer");
        int rc;
        if (hb_jint(qa, "qa_id", &qid) || !q || !a)
            rc = hb_src_reject(ctx, o->shown, rec->index, rec->offset, err, "qa %d needs qa_id, question and answer", k);
        else {
            hb_src_item it = {.key = hb_arena_printf(&ctx->scratch, "%lld", qid),
                              .group = group,
                              .image = image,
                              .file = o->shown,
                              .record = rec->index,
                              .offset = rec->offset};
            hb_src_fields(ctx, &it.ex, "question", q, "answer", a, NULL);
            it.ex.answer_idx = -1;
            it.ex.record = rec->index;
            rc = hb_src_emit(ctx, &it, err);
        }
        if (rc) return rc;
    }
    return 0;
}

static int run_qa(hb_src_ctx *ctx, hb_err *err) {
    qopts o = {0};
    int layout = 0, rc;
    char *path = NULL;
    if ((rc = hb_src_opt_enum(ctx, "image_layout", LAYOUTS, &layout, err))) return rc;
    o.url_layout = layout == 1;
    if ((rc = hb_src_file(ctx, "data", &path, err))) goto done;
    if (o.url_layout && (rc = load_image_data(ctx, &o.d, err))) goto done;
    o.shown = hb_src_display(ctx, path);
    rc = hb_src_foreach(ctx, path, "", qa_record, &o, err);
done:
    free_image_data(&o.d);
    free(path);
    return rc;
}

const hb_converter hb_conv_vg_qa = {
    .name = "vg-qa",
    .summary = "Visual Genome question_answers.json as VQA",
    .file_roles = QROLES,
    .options = QOPTIONS,
    .fields = QFIELDS,
    .nturn = 10,
    .image_paths = 1,
    .dedup = "none",
    .run = run_qa,
};
