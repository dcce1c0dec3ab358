/* The images of a run through lib/image's ingest: every image a sample needs is read from its source's root (a
 * folder or a zip/tar archive) or from the bytes a converter read (webdataset members), hashed (XXH3-128 of the
 * file bytes, what samples reference), decoded, verified and resized once, and stored once in <dir>/images/<S>.hbs.
 * A rejected image drops the samples that need it (a line each in the source's rejects) and is listed once, with
 * its reason, in images.rejects.jsonl.
 *
 * Where the store goes: a full run ingests straight into the output directory. A run that builds part of it (--only,
 * --shard i/N) ingests into a staging directory, and the store of the output directory becomes the union of what
 * is there and the new images (content-addressed, so a union is always right); with slices the slice that writes
 * the merged manifest merges every slice's store.
 * Dependencies: prep_impl.h, image/image.h (hb_ingest_*), shard/imgstore.h (hb_imgstore_merge). */
#include "prep_impl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/image.h"
#include "shard/imgstore.h"

static void on_reject(void *ctx, const char *file, const char *entry, int reason, const char *detail) {
    hb_prep *p = ctx;
    if (!p->img_rejects_open) return;
    hb_buf b = {0};
    hb_buf_puts(&b, "{\"file\": ");
    hb_buf_put_json_str(&b, file ? file : "", file ? strlen(file) : 0);
    hb_buf_puts(&b, ", \"entry\": ");
    hb_buf_put_json_str(&b, entry ? entry : "", entry ? strlen(entry) : 0);
    hb_buf_puts(&b, ", \"reason\": ");
    const char *r = hb_img_reject_name(reason);
    hb_buf_put_json_str(&b, r, strlen(r));
    hb_buf_puts(&b, ", \"detail\": ");
    hb_buf_put_json_str(&b, detail ? detail : "", detail ? strlen(detail) : 0);
    hb_buf_puts(&b, "}\n");
    hb_err e;
    if (hb_afile_write(&p->img_rejects, b.data, b.len, &e)) p->img_rejects.failed = 1;
    hb_buf_free(&b);
}

/* The directory whose images/ the ingest writes. */
static char *ingest_dir(const hb_prep *p) {
    char sub[64];
    if (p->o->n_slices > 1) snprintf(sub, sizeof sub, ".parts/%d-of-%d", p->o->slice, p->o->n_slices);
    else if (p->o->only) snprintf(sub, sizeof sub, ".staging-%d", (int)getpid());
    else return hb_xstrdup(p->o->outdir);
    return hb_path_join(p->o->outdir, sub);
}

int hb_prep_images_open(hb_prep *p, hb_err *err) {
    if (p->o->no_images || p->o->inputs_only) return 0;
    char *rej = hb_prep_out_name(p, "images", ".rejects.jsonl");
    int rc = hb_afile_open(&p->img_rejects, rej, err);
    free(rej);
    if (rc) return rc;
    p->img_rejects_open = 1;
    p->ingest_dir = ingest_dir(p);
    hb_ingest_opts io = {.size = (uint32_t)p->r->image_size, .on_reject = on_reject, .ctx = p};
    hb_ingest *g;
    if ((rc = hb_ingest_open(&g, p->ingest_dir, &io, err))) return rc;
    p->ingest = g;
    return 0;
}

int hb_prep_images_root(hb_prep *p, hb_psrc *s, hb_err *err) {
    s->root_id = -1;
    if (!p->ingest || !s->src->images || s->src->no_images) return 0;
    int rc = hb_ingest_add_root(p->ingest, s->src->images, &s->root_id, err);
    if (rc) hb_err_prefix(err, "sources.%s.images", s->src->name);
    else hb_ingest_name_root(p->ingest, s->root_id, hb_jstr(s->src->node, "images")); /* as the recipe writes it */
    return rc;
}

const char *hb_prep_image_of(hb_psrc *s, const hb_pitem *f, hb_hash128 *hash, hb_arena *a, int *fatal, hb_err *err) {
    hb_prep *p = s->p;
    int why = HB_IMG_OK, rc;
    *fatal = 0;
    if (f->archive) { /* bytes the converter read from its archive (possibly none: an empty member) */
        char *origin = hb_arena_printf(a, "%s//%s", f->archive, f->image);
        rc = hb_ingest_bytes(p->ingest, origin, f->img_data, f->img_len, hash, &why, err);
    } else
        rc = hb_ingest_image(p->ingest, f->root, f->image, hash, &why, err);
    if (rc && why == HB_IMG_OK) { /* the store cannot be written: stop the run */
        *fatal = 1;
        return "image store failure";
    }
    if (why == HB_IMG_OK) return NULL;
    return hb_arena_printf(a, "image %s: %s%s%s", hb_img_reject_name(why), f->archive ? f->archive : "",
                           f->archive ? "//" : "", f->image);
}

/* Union of the stores of dirs (those that have one) into out's store (hb_imgstore_merge). */
static int merge_stores(const char *const *dirs, size_t n, const char *out, uint32_t size, hb_err *err) {
    const char **have = hb_xcalloc(n + 1, sizeof *have);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char *path = hb_imgstore_path(dirs[i], size);
        if (hb_path_exists(path)) have[k++] = dirs[i];
        free(path);
    }
    int rc = hb_imgstore_merge(out, size, have, k, NULL, err);
    free(have);
    return rc;
}

static void remove_store(const char *dir, uint32_t size) {
    char *a = hb_imgstore_path(dir, size), *b = hb_imgstore_index_path(dir, size);
    unlink(a);
    unlink(b);
    free(a);
    free(b);
    char *d = hb_path_join(dir, HB_IMGSTORE_DIR);
    rmdir(d);
    free(d);
    rmdir(dir);
}

int hb_prep_images_finish(hb_prep *p, hb_err *err) {
    if (!p->ingest) return 0;
    hb_ingest_stats st;
    int rc = hb_ingest_finish(p->ingest, &st, err);
    p->ingest = NULL;
    if (rc) return rc;
    p->img_rejects_open = 0;
    if ((rc = hb_afile_commit(&p->img_rejects, err))) return rc;
    /* images.stats.json: what this run ingested */
    hb_buf b = {0};
    hb_buf_printf(&b, "{\n  \"image_size\": %d,\n  \"requests\": %llu,\n  \"paths\": %llu,\n  \"stored\": %llu,"
                      "\n  \"duplicates\": %llu,\n  \"rejected\": %llu,\n  \"rejected_by_reason\": {",
                  p->r->image_size, (unsigned long long)st.requests, (unsigned long long)st.paths,
                  (unsigned long long)st.stored, (unsigned long long)st.duplicates, (unsigned long long)st.rejected);
    int first = 1;
    for (int k = 1; k < HB_IMG_N_REASONS; k++)
        if (st.by_reason[k]) {
            hb_buf_printf(&b, "%s\"%s\": %llu", first ? "" : ", ", hb_img_reject_name(k), (unsigned long long)st.by_reason[k]);
            first = 0;
        }
    hb_buf_printf(&b, "},\n  \"bytes_read\": %llu,\n  \"store_bytes\": %llu\n}\n", (unsigned long long)st.bytes_read,
                  (unsigned long long)st.store_bytes);
    char *sp = hb_prep_out_name(p, "images", ".stats.json");
    rc = hb_write_file_atomic(sp, b.data, b.len, err);
    free(sp);
    hb_buf_free(&b);
    if (rc) return rc;
    if (p->o->only && p->o->n_slices <= 1) { /* the new images joined with the directory's store */
        const char *dirs[2] = {p->o->outdir, p->ingest_dir};
        rc = merge_stores(dirs, 2, p->o->outdir, (uint32_t)p->r->image_size, err);
        if (!rc) remove_store(p->ingest_dir, (uint32_t)p->r->image_size);
    }
    return rc;
}

int hb_prep_images_merge_slices(hb_prep *p, hb_err *err) {
    if (p->o->no_images) return 0;
    int n = p->o->n_slices;
    const char **dirs = hb_xcalloc((size_t)n + 1, sizeof *dirs);
    char **own = hb_xcalloc((size_t)n, sizeof *own);
    size_t k = 0;
    if (p->o->only) dirs[k++] = p->o->outdir;
    for (int i = 0; i < n; i++) {
        char sub[64];
        snprintf(sub, sizeof sub, ".parts/%d-of-%d", i, n);
        dirs[k++] = own[i] = hb_path_join(p->o->outdir, sub);
    }
    int rc = merge_stores(dirs, k, p->o->outdir, (uint32_t)p->r->image_size, err);
    for (int i = 0; i < n; i++) free(own[i]);
    free(own);
    free(dirs);
    return rc;
}

void hb_prep_images_abort(hb_prep *p) {
    if (p->ingest) hb_ingest_abort(p->ingest);
    p->ingest = NULL;
    if (p->img_rejects_open) hb_afile_abort(&p->img_rejects);
    p->img_rejects_open = 0;
    if (p->ingest_dir && p->o->only && p->o->n_slices <= 1) remove_store(p->ingest_dir, (uint32_t)p->r->image_size);
    free(p->ingest_dir);
    p->ingest_dir = NULL;
}
