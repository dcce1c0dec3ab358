/* RefCOCO / RefCOCO+ / RefCOCOg in both forms (raw-formats.md §7, spec-data.md §1.9):
 *  - "refcoco-mdetr": MDETR's finetune_{refcoco,refcoco+,refcocog}_{split}.json (what Honeybee reads): images[i]
 *    is one expression, annotations[i] its box, paired by position (two splitters walk the file in lockstep);
 *  - "refcoco-refer": the official refer release, refs(unc|umd|google).p (read by the safe pickle reader) joined
 *    with instances.json for the boxes and image sizes.
 * Each expression is one example {phrase, bbox}: the box is COCO x, y, w, h in pixels, formatted by hb_src_bbox.
 * Dependencies: sources.h (hb_src_*, hb_pickle_load, hb_idmap), json/json.h (hb_jsplit, typed getters). */
#include "sources.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const FIELDS[] = {"phrase", "bbox", NULL};
static const char *const MROLES[] = {"data", NULL};
static const char *const BOX_OPTIONS[] = {"bbox_decimals", "bbox_clamp", "bbox_format", NULL};

static int box_of(const cJSON *o, double b[4]) {
    const cJSON *bb = cJSON_GetObjectItemCaseSensitive(o, "bbox");
    if (cJSON_GetArraySize(bb) != 4) return -1;
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetArrayItem(bb, i);
        if (!cJSON_IsNumber(v)) return -1;
        b[i] = v->valuedouble;
    }
    return 0;
}

/* ---- MDETR ---- */
static int mdetr_file(hb_src_ctx *ctx, const char *path, hb_err *err) {
    hb_jsplit *is = NULL, *as = NULL;
    const char *shown = hb_src_display(ctx, path);
    int rc;
    if ((rc = hb_jsplit_open(&is, path, "images", err)) || (rc = hb_jsplit_open(&as, path, "annotations", err))) goto done;
    if (ctx->sink.progress) ctx->sink.progress(ctx->sink.user, 0, hb_jsplit_size(is));
    while (!ctx->stop) {
        hb_jrec ir, ar;
        if ((rc = hb_jsplit_next(is, &ir, err)) || (rc = hb_jsplit_next(as, &ar, err))) break;
        if (!ir.data || !ar.data) {
            if (ir.data || ar.data)
                rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS,
                                "images and annotations differ in length (they are paired by position)");
            break;
        }
        cJSON *im = NULL, *an = NULL;
        if ((rc = hb_src_parse(ctx, &ir, shown, &im, err))) break;
        ctx->records--; /* one record is the pair */
        if (im && (rc = hb_src_parse(ctx, &ar, shown, &an, err))) {
            cJSON_Delete(im);
            break;
        }
        if (im && an) {
            long long id, aid;
            double W, H, b[4];
            const char *file = hb_jstr(im, "file_name"), *cap = hb_jstr(im, "caption");
            if (hb_jint(im, "id", &id) || hb_jint(an, "image_id", &aid) || !file || !cap || hb_jnum(im, "width", &W) ||
                hb_jnum(im, "height", &H) || box_of(an, b)) {
                rc = hb_src_reject(ctx, shown, ir.index, ir.offset, err,
                                   "needs images[i] {id, file_name, caption, width, height} and annotations[i] {image_id, bbox}");
            } else if (id != aid) {
                rc = hb_err_set(err, HB_EFORMAT, path, ar.index, ar.offset,
                                "annotations[%lld].image_id is %lld but images[%lld].id is %lld (paired by position)",
                                (long long)ar.index, aid, (long long)ir.index, id);
            } else {
                const char *box = hb_src_bbox(ctx, b[0], b[1], b[2], b[3], W, H);
                const char *image = file; /* Honeybee: the COCO train2014 folder is the root */
                hb_src_item it = {.key = hb_arena_printf(&ctx->scratch, "%lld", id),
                                  .group = image,
                                  .image = image,
                                  .file = shown,
                                  .record = ir.index,
                                  .offset = ir.offset};
                if (!box) rc = hb_src_reject(ctx, shown, ir.index, ir.offset, err, "image size is not positive");
                else {
                    hb_src_fields(ctx, &it.ex, "phrase", cap, "bbox", box, NULL);
                    it.ex.answer_idx = -1;
                    it.ex.record = ir.index;
                    rc = hb_src_emit(ctx, &it, err);
                }
            }
        }
        cJSON_Delete(im);
        cJSON_Delete(an);
        hb_arena_reset(&ctx->scratch);
        if (rc) break;
        if (ctx->sink.progress && (ir.index & 1023) == 0)
            ctx->sink.progress(ctx->sink.user, hb_jsplit_tell(as), hb_jsplit_size(as));
    }
    if (!rc && ctx->sink.progress) ctx->sink.progress(ctx->sink.user, hb_jsplit_size(is), hb_jsplit_size(is));
done:
    hb_jsplit_close(is);
    hb_jsplit_close(as);
    return rc;
}

static int run_mdetr(hb_src_ctx *ctx, hb_err *err) {
    char **paths;
    size_t n;
    int rc = hb_src_files(ctx, "data", &paths, &n, err);
    for (size_t i = 0; !rc && i < n && !ctx->stop; i++) rc = mdetr_file(ctx, paths[i], err);
    hb_src_files_free(paths, n);
    return rc;
}

const hb_converter hb_conv_refcoco_mdetr = {
    .name = "refcoco-mdetr",
    .summary = "RefCOCO/RefCOCO+/RefCOCOg as MDETR finetune_*.json (what Honeybee reads)",
    .file_roles = MROLES,
    .options = BOX_OPTIONS,
    .fields = FIELDS,
    .nturn = 1,
    .dedup = "none",
    .image_paths = 1,
    .run = run_mdetr,
};

/* ---- refer: refs(*).p + instances.json ---- */
static const char *const RROLES[] = {"refs", "instances", NULL};
static const char *const ROPTIONS[] = {"split", "sentence", "bbox_decimals", "bbox_clamp", "bbox_format", NULL};
static const char *const SENTENCES[] = {"sent", "raw", NULL};

typedef struct {
    hb_idmap images, anns;         /* id -> index */
    double *img_wh, *ann_box;      /* [W, H] per image; [x, y, w, h, image_id] per annotation */
    char **img_file;
    size_t n_img, n_ann;
} instances;

static int load_instances(hb_src_ctx *ctx, const char *path, instances *in, hb_err *err) {
    hb_jsplit *s;
    int rc = hb_jsplit_open(&s, path, "images", err);
    size_t cap = 0;
    while (!rc) {
        hb_jrec r;
        cJSON *j;
        if ((rc = hb_jsplit_next(s, &r, err)) || !r.data) break;
        if ((rc = hb_jrec_parse(&r, path, &j, err))) break;
        long long id;
        double W, H;
        const char *fn = hb_jstr(j, "file_name");
        if (hb_jint(j, "id", &id) || hb_jnum(j, "width", &W) || hb_jnum(j, "height", &H)) {
            cJSON_Delete(j);
            rc = hb_err_set(err, HB_EFORMAT, path, r.index, r.offset, "images[] needs id, width and height");
            break;
        }
        if (in->n_img == cap) {
            cap = cap ? cap * 2 : 1024;
            in->img_wh = hb_xrealloc(in->img_wh, cap * 2 * sizeof *in->img_wh);
            in->img_file = hb_xrealloc(in->img_file, cap * sizeof *in->img_file);
        }
        in->img_wh[2 * in->n_img] = W;
        in->img_wh[2 * in->n_img + 1] = H;
        in->img_file[in->n_img] = fn ? hb_xstrdup(fn) : NULL;
        hb_idmap_put(&in->images, (uint64_t)id, in->n_img++);
        cJSON_Delete(j);
    }
    hb_jsplit_close(s);
    if (rc || (rc = hb_jsplit_open(&s, path, "annotations", err))) return rc;
    cap = 0;
    while (!rc) {
        hb_jrec r;
        cJSON *j;
        if ((rc = hb_jsplit_next(s, &r, err)) || !r.data) break;
        if ((rc = hb_jrec_parse(&r, path, &j, err))) break;
        long long id, img;
        double b[4];
        if (hb_jint(j, "id", &id) || hb_jint(j, "image_id", &img) || box_of(j, b)) {
            cJSON_Delete(j);
            rc = hb_err_set(err, HB_EFORMAT, path, r.index, r.offset, "annotations[] needs id, image_id and bbox");
            break;
        }
        if (in->n_ann == cap) {
            cap = cap ? cap * 2 : 1024;
            in->ann_box = hb_xrealloc(in->ann_box, cap * 5 * sizeof *in->ann_box);
        }
        memcpy(in->ann_box + 5 * in->n_ann, b, sizeof b);
        in->ann_box[5 * in->n_ann + 4] = (double)img;
        hb_idmap_put(&in->anns, (uint64_t)id, in->n_ann++);
        cJSON_Delete(j);
    }
    hb_jsplit_close(s);
    (void)ctx;
    return rc;
}

static void free_instances(instances *in) {
    for (size_t i = 0; i < in->n_img; i++) free(in->img_file[i]);
    free(in->img_file);
    free(in->img_wh);
    free(in->ann_box);
    hb_idmap_free(&in->images);
    hb_idmap_free(&in->anns);
}

static int run_refer(hb_src_ctx *ctx, hb_err *err) {
    const char *split = "train";
    int sent_mode = 0, rc;
    char *rpath = NULL, *ipath = NULL;
    cJSON *refs = NULL;
    instances in = {0};
    if ((rc = hb_src_opt_str(ctx, "split", &split, err)) || (rc = hb_src_opt_enum(ctx, "sentence", SENTENCES, &sent_mode, err)))
        return rc;
    if ((rc = hb_src_file(ctx, "refs", &rpath, err)) || (rc = hb_src_file(ctx, "instances", &ipath, err))) goto done;
    struct stat st1, st2;
    uint64_t size = (stat(rpath, &st1) == 0 ? (uint64_t)st1.st_size : 0) + (stat(ipath, &st2) == 0 ? (uint64_t)st2.st_size : 0);
    if (ctx->sink.progress) ctx->sink.progress(ctx->sink.user, 0, size);
    if ((rc = load_instances(ctx, ipath, &in, err))) goto done;
    if ((rc = hb_pickle_load(rpath, &refs, err))) goto done;
    if (!cJSON_IsArray(refs)) {
        rc = hb_err_set(err, HB_EFORMAT, rpath, HB_NOPOS, HB_NOPOS, "expected a list of refs");
        goto done;
    }
    const char *shown = hb_src_display(ctx, rpath);
    long long idx = -1;
    const cJSON *ref;
    cJSON_ArrayForEach(ref, refs) {
        idx++;
        if (ctx->stop) break;
        hb_src_count_record(ctx);
        hb_arena_reset(&ctx->scratch);
        const char *sp = hb_jstr(ref, "split");
        long long ann, img;
        const cJSON *sents = cJSON_GetObjectItemCaseSensitive(ref, "sentences");
        if (!sp || hb_jint(ref, "ann_id", &ann) || hb_jint(ref, "image_id", &img) || !cJSON_IsArray(sents)) {
            if ((rc = hb_src_reject(ctx, shown, idx, -1, err, "a ref needs split, ann_id, image_id and sentences"))) break;
            continue;
        }
        if (strcmp(split, "all") && strcmp(sp, split)) {
            hb_src_note(ctx, "split.other");
            continue;
        }
        uint64_t ai, ii;
        if (!hb_idmap_get(&in.anns, (uint64_t)ann, &ai) || !hb_idmap_get(&in.images, (uint64_t)img, &ii)) {
            if ((rc = hb_src_reject(ctx, shown, idx, -1, err, "ann_id %lld / image_id %lld not in instances.json", ann, img)))
                break;
            continue;
        }
        const double *b = in.ann_box + 5 * ai;
        const char *box = hb_src_bbox(ctx, b[0], b[1], b[2], b[3], in.img_wh[2 * ii], in.img_wh[2 * ii + 1]);
        const char *image = in.img_file[ii] ? hb_arena_strdup(&ctx->scratch, in.img_file[ii])
                                            : hb_arena_printf(&ctx->scratch, "COCO_train2014_%012lld.jpg", img);
        if (!box) {
            if ((rc = hb_src_reject(ctx, shown, idx, -1, err, "image %lld has no positive size", img))) break;
            continue;
        }
        const cJSON *s;
        cJSON_ArrayForEach(s, sents) {
            long long sid;
            const char *text = hb_jstr(s, sent_mode ? "raw" : "sent");
            if (!text || hb_jint(s, "sent_id", &sid)) {
                if ((rc = hb_src_reject(ctx, shown, idx, -1, err, "a sentence needs sent_id and %s", sent_mode ? "raw" : "sent")))
                    break;
                continue;
            }
            hb_src_item it = {.key = hb_arena_printf(&ctx->scratch, "%lld", sid),
                              .group = image,
                              .image = image,
                              .file = shown,
                              .record = idx,
                              .offset = -1};
            hb_src_fields(ctx, &it.ex, "phrase", text, "bbox", box, NULL);
            it.ex.answer_idx = -1;
            it.ex.record = idx;
            if ((rc = hb_src_emit(ctx, &it, err))) break;
        }
        if (rc) break;
    }
    if (!rc && ctx->sink.progress) ctx->sink.progress(ctx->sink.user, size, size);
done:
    cJSON_Delete(refs);
    free_instances(&in);
    free(rpath);
    free(ipath);
    return rc;
}

const hb_converter hb_conv_refcoco_refer = {
    .name = "refcoco-refer",
    .summary = "RefCOCO/RefCOCO+/RefCOCOg official refs(unc|umd|google).p + instances.json (split: train|val|...|all)",
    .file_roles = RROLES,
    .options = ROPTIONS,
    .fields = FIELDS,
    .nturn = 1,
    .image_paths = 1,
    .dedup = "none",
    .run = run_refer,
};
