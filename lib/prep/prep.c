/* hb_prep_run: the sources of a recipe, one after the other, each through its converter, the planner and the
 * builder; then the manifest (merged with the entries of sources not rebuilt, and across --shard slices).
 * Dependencies: prep_impl.h, sources/sources.h (hb_src_run), shard/shard.h (hb_manifest_*),
 * recipe/yaml.h (hb_cfg_*), core/core.h (hb_progress, hb_mkdir_p). */
#include "prep_impl.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recipe/yaml.h"

int hb_prep_settings_of(const hb_recipe *r, const hb_recipe_source *s, hb_prep_settings *out, hb_err *err) {
    const hb_converter *c = hb_converter_find(s->dataset);
    if (!c) return hb_src_check(r, s, 0, err); /* names the converters and the closest one */
    out->template_key = s->template_key ? s->template_key : s->name;
    if (c->conversation) {
        out->nturn = 1;
        out->dedup = "none";
        out->normalize = 1;
        return 0;
    }
    long long nt = c->nturn;
    const char *dd = c->dedup;
    int dn = 1;
    if (r->defaults) { /* the recipe's defaults apply to every templated source */
        int rc = hb_cfg_int(r->defaults, "nturn", 0, r->path, "defaults", &nt, err);
        if (!rc) rc = hb_cfg_str(r->defaults, "dedup", 0, r->path, "defaults", &dd, err);
        if (!rc) rc = hb_cfg_bool(r->defaults, "dedup_normalize", 0, r->path, "defaults", &dn, err);
        if (rc) return rc;
    }
    out->nturn = s->nturn != HB_NTURN_DEFAULT ? s->nturn : (int)nt;
    out->dedup = s->dedup ? s->dedup : dd;
    out->normalize = s->dedup_normalize >= 0 ? s->dedup_normalize : dn;
    return 0;
}

static void free_psrc(hb_psrc *s) {
    hb_pbuf_free(&s->bufs[0]);
    hb_pbuf_free(&s->bufs[1]);
    hb_arena_free(&s->tmp);
    free(s->group_last);
    free(s->group_heads);
    hb_idmap_free(&s->groups);
    hb_idmap_free(&s->ids);
    for (size_t i = 0; i < s->n_files; i++) free(s->files[i]);
    free(s->files);
    for (size_t i = 0; i < s->st.n_reasons; i++) free(s->st.reasons[i].reason);
    free(s->st.reasons);
    for (size_t i = 0; i < s->st.n_notes; i++) free(s->st.notes[i].reason);
    free(s->st.notes);
    free(s->st.first_missing);
}

/* Every image of the source is missing: most likely the root or image_prefix is wrong. Say where hb looked, and
 * name the prefix when a folder of the root holds the first missing image. */
static void missing_hint(const hb_psrc *s) {
    const char *root = s->src->images, *img = s->st.first_missing;
    if (!root) return; /* images read from archives the converter streams (webdataset) */
    hb_log("%s: no image was found: the first was looked up as %s/%s (sources.%s.images + image_prefix + the "
           "record's path)", s->src->name, root, img, s->src->name);
    DIR *d = hb_path_is_dir(root) ? opendir(root) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *sub = hb_path_join(root, e->d_name), *cand = hb_path_join(sub, img);
        int hit = hb_path_is_dir(sub) && hb_path_exists(cand);
        free(sub), free(cand);
        if (hit) {
            hb_log("%s: %s/%s/%s exists: set sources.%s.image_prefix: \"%s/%s\"", s->src->name, root, e->d_name, img,
                   s->src->name, e->d_name, s->src->image_prefix);
            break;
        }
    }
    if (d) closedir(d);
}

static void summary_line(const hb_psrc *s) {
    char a[32], b[32], c[32], d[32];
    uint64_t dropped = s->st.missing_image + s->st.bad_sample + s->st.no_supervision;
    char extra[200] = "";
    if (s->st.rejected || dropped)
        snprintf(extra, sizeof extra, "; %s record%s rejected, %s sample%s dropped (see %s.rejects.jsonl)",
                 hb_fmt_count(s->st.rejected, c, sizeof c), s->st.rejected == 1 ? "" : "s",
                 hb_fmt_count(dropped, d, sizeof d), dropped == 1 ? "" : "s", s->src->name);
    hb_log("%s: %s record%s -> %s sample%s written%s, %.1fs", s->src->name, hb_fmt_count(s->st.records, a, sizeof a),
           s->st.records == 1 ? "" : "s", hb_fmt_count(s->st.samples_written, b, sizeof b),
           s->st.samples_written == 1 ? "" : "s", extra, s->st.seconds);
    if (s->st.missing_image) hb_log("%s: %s samples dropped for missing or unreadable images", s->src->name,
                                    hb_fmt_count(s->st.missing_image, d, sizeof d));
    if (s->st.first_missing && s->st.missing_image == s->st.samples_slice) missing_hint(s);
    if (s->src->no_images && !s->p->o->no_images && !s->p->o->inputs_only && s->st.images_ref)
        hb_log("%s: built without images (images: none): its samples hold image positions but no image, so hb-train "
               "cannot train on them", s->src->name);
    if (!s->st.samples_written && s->st.samples_slice == s->st.samples_total)
        hb_log("%s: warning: no samples (see %s.rejects.jsonl and %s.stats.json)", s->src->name, s->src->name,
               s->src->name);
}

/* Remove this source's shards left from an earlier run that wrote more of them. */
static void remove_stale(hb_psrc *s) {
    char *base = hb_prep_out_name(s->p, s->src->name, "");
    for (uint32_t k = s->shard_no;; k++) {
        char path[1100];
        snprintf(path, sizeof path, "%s-%05u.hbs", base, k);
        if (unlink(path) != 0) break;
    }
    free(base);
}

static int build_source(hb_prep *p, const hb_recipe_source *src, hb_prep_summary *sum, hb_err *err) {
    hb_psrc s;
    memset(&s, 0, sizeof s);
    s.p = p;
    s.src = src;
    hb_arena_init(&s.bufs[0].arena, 1 << 20);
    hb_arena_init(&s.bufs[1].arena, 1 << 20);
    s.in = &s.bufs[0];
    hb_arena_init(&s.tmp, 0);
    int rc = hb_prep_settings_of(p->r, src, &s.set, err);
    if (rc) goto done;
    s.dataset = s.set.template_key;
    const hb_converter *conv = hb_converter_find(src->dataset);
    s.grouped = !conv->conversation && s.set.nturn != 1;
    if ((rc = hb_prep_images_root(p, &s, err))) goto done;
    char *rej = hb_prep_out_name(p, src->name, ".rejects.jsonl");
    rc = hb_afile_open(&s.rejects, rej, err);
    free(rej);
    if (rc) goto done;
    s.rejects_open = 1;
    if (p->o->inputs_only) {
        char *in = hb_prep_out_name(p, src->name, ".inputs.jsonl");
        rc = hb_afile_open(&s.inputs, in, err);
        free(in);
        if (rc) goto done;
        s.inputs_open = 1;
    }
    double t0 = hb_now();
    char label[80];
    snprintf(label, sizeof label, "%s (KiB read)", src->name);
    s.prog = hb_progress_start(label, 0, "KiB");
    hb_src_sink sink;
    hb_psrc_sink(&s, &sink);
    hb_src_ctx ctx;
    rc = hb_src_run(p->r, src, &sink, &ctx, err);
    s.st.records = (uint64_t)ctx.records;
    s.st.input_bytes += s.prog_last_total;
    if (s.grouped) { /* everything read: group, then build in batches */
        if (!rc) {
            hb_psrc_plan(&s, s.in);
            rc = hb_psrc_flush(&s, s.in, err);
        }
        if (!rc) rc = hb_psrc_drain(&s, s.in, err);
    } else { /* the last batch, then wait for the builder (always: it may still run after an error) */
        if (!rc) rc = hb_psrc_submit(&s, err);
        hb_err e2;
        int rc2 = hb_psrc_collect(&s, &e2);
        if (!rc && rc2) {
            rc = rc2;
            *err = e2;
        }
    }
    if (!rc) rc = hb_psrc_close_output(&s, err);
    hb_progress_done(s.prog);
    s.prog = NULL;
    s.st.seconds = hb_now() - t0;
    if (!rc && s.inputs_open) {
        s.inputs_open = 0;
        rc = hb_afile_commit(&s.inputs, err);
    }
    if (!rc) {
        s.rejects_open = 0;
        rc = hb_afile_commit(&s.rejects, err);
    }
    if (!rc) rc = hb_psrc_write_stats(&s, err);
    if (!rc) {
        remove_stale(&s);
        if (!p->o->quiet) summary_line(&s);
        sum->records += s.st.records;
        sum->items += s.st.items;
        sum->rejected += s.st.rejected;
        sum->samples += s.st.samples_written;
        sum->tokens += s.st.tokens;
        sum->dropped += s.st.missing_image + s.st.bad_sample + s.st.no_supervision;
        sum->input_bytes += s.st.input_bytes;
    }
done:
    if (s.prog) hb_progress_done(s.prog);
    if (s.sw_open) hb_sample_writer_abort(&s.sw);
    if (s.rejects_open) hb_afile_abort(&s.rejects);
    if (s.inputs_open) hb_afile_abort(&s.inputs);
    if (rc) hb_err_prefix(err, "source %s", src->name);
    free_psrc(&s);
    return rc;
}

/* ---- the manifest ---- */
static int source_rebuilt(const hb_prep *p, const char *name);

/* Whether the old manifest's info lists name under "without_images". */
static int listed_without_images(const hb_manifest *old, const char *name) {
    cJSON *info = old && old->extra_json ? cJSON_Parse(old->extra_json) : NULL;
    const cJSON *x, *list = cJSON_GetObjectItemCaseSensitive(info, "without_images");
    int found = 0;
    cJSON_ArrayForEach(x, list) found |= cJSON_IsString(x) && !strcmp(x->valuestring, name);
    cJSON_Delete(info);
    return found;
}

/* The manifest's info: recipe, seed, lengths, the image store, and "without_images": the sources whose samples were
 * built without their images (--no-images, images: none), which hb-mix will not plan for training. old: the previous
 * manifest (--only), whose entry stands for the sources not rebuilt. */
static char *info_json(const hb_prep *p, const hb_manifest *old) {
    const hb_recipe *r = p->r;
    hb_buf b = {0};
    hb_buf_puts(&b, "{\"recipe\": ");
    hb_buf_put_json_str(&b, r->name, strlen(r->name));
    hb_buf_printf(&b, ", \"seed\": %llu, \"max_length\": %d, \"visual_tokens\": %d, \"image_size\": %d",
                  (unsigned long long)r->seed, r->max_length, r->visual_tokens, r->image_size);
    if (p->o->no_images) hb_buf_puts(&b, ", \"no_images\": true");
    else hb_buf_printf(&b, ", \"image_store\": \"images/%d.hbs\"", p->r->image_size);
    int n = 0;
    for (size_t i = 0; i < r->n_sources; i++) {
        const hb_recipe_source *s = &r->sources[i];
        int without = source_rebuilt(p, s->name) ? p->o->no_images || s->no_images : listed_without_images(old, s->name);
        if (!without) continue;
        hb_buf_puts(&b, n++ ? ", " : ", \"without_images\": [");
        hb_buf_put_json_str(&b, s->name, strlen(s->name));
    }
    hb_buf_puts(&b, n ? "]}" : "}");
    char *s = hb_xstrdup(hb_buf_cstr(&b));
    hb_buf_free(&b);
    return s;
}

static int source_rebuilt(const hb_prep *p, const char *name) {
    if (p->o->only) return !strcmp(p->o->only, name);
    return hb_recipe_find(p->r, name) != NULL;
}

/* The final manifest, in recipe order: this run's shards for the sources it built, the previous manifest's entries
 * for the others (--only). */
static int write_manifest(hb_prep *p, hb_manifest *fresh, hb_err *err) {
    hb_manifest old = {0}, out = {0};
    int have_old = p->o->only && hb_manifest_load(&old, p->o->outdir, NULL) == 0;
    out.tool = hb_xstrdup("hb-prep " HB_VERSION);
    out.recipe_hash = hb_xstrdup(p->r->hash);
    out.extra_json = info_json(p, have_old ? &old : NULL);
    for (size_t k = 0; k < p->r->n_sources; k++) {
        const char *name = p->r->sources[k].name;
        const hb_manifest *from = source_rebuilt(p, name) ? fresh : have_old ? &old : NULL;
        for (size_t i = 0; from && i < from->n_shards; i++)
            if (!strcmp(from->shards[i].source, name)) hb_manifest_add(&out, &from->shards[i]);
    }
    int rc = hb_manifest_write(&out, p->o->outdir, err);
    hb_manifest_free(&old);
    hb_manifest_free(&out);
    return rc;
}

/* --shard i/N: this slice's manifest goes to OUTDIR/.parts/I-of-N/; the slice that finds every part present
 * writes the merged manifest.json (all parts agree on it, so concurrent finishers write the same bytes). */
static int write_part_manifest(hb_prep *p, hb_err *err) {
    char sub[64];
    snprintf(sub, sizeof sub, ".parts/%d-of-%d", p->o->slice, p->o->n_slices);
    char *dir = hb_path_join(p->o->outdir, sub);
    int rc = hb_mkdir_p(dir, err);
    if (!rc) {
        p->manifest.tool = hb_xstrdup("hb-prep " HB_VERSION);
        p->manifest.recipe_hash = hb_xstrdup(p->r->hash);
        rc = hb_manifest_write(&p->manifest, dir, err);
    }
    free(dir);
    if (rc) return rc;
    hb_manifest all = {0};
    for (int i = 0; i < p->o->n_slices; i++) {
        snprintf(sub, sizeof sub, ".parts/%d-of-%d", i, p->o->n_slices);
        char *d = hb_path_join(p->o->outdir, sub);
        hb_manifest part;
        int ok = hb_manifest_load(&part, d, NULL) == 0 && !strcmp(part.recipe_hash, p->r->hash);
        free(d);
        if (!ok) { /* not every slice is done (or one is from another recipe): the last one merges */
            hb_manifest_free(&part);
            hb_manifest_free(&all);
            if (!p->o->quiet) hb_log("slice %d of %d done; manifest.json is written by the last slice to finish",
                                     p->o->slice, p->o->n_slices);
            return 0;
        }
        for (size_t k = 0; k < part.n_shards; k++) hb_manifest_add(&all, &part.shards[k]);
        hb_manifest_free(&part);
    }
    rc = hb_prep_images_merge_slices(p, err);
    if (!rc) rc = write_manifest(p, &all, err);
    if (!rc && !p->o->quiet) hb_log("all %d slices present: wrote %s/manifest.json and the image store", p->o->n_slices, p->o->outdir);
    hb_manifest_free(&all);
    return rc;
}

int hb_prep_run(const hb_recipe *r, const hb_prep_opts *o, hb_prep_summary *sum, hb_err *err) {
    hb_prep p;
    memset(&p, 0, sizeof p);
    memset(sum, 0, sizeof *sum);
    p.r = r;
    p.o = o;
    if (o->n_slices > 1 && (o->slice < 0 || o->slice >= o->n_slices))
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "--shard %d/%d: i must be in [0, N)", o->slice, o->n_slices);
    if (o->only && !hb_recipe_find(r, o->only))
        return hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS, "--only %s: no such source in the recipe", o->only);
    if (!r->n_sources) return hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS, "the recipe has no sources");
    /* every source to build is checked before anything is written: a typo in the last source costs seconds, not
     * the hours of building the ones before it */
    int rc = 0;
    for (size_t i = 0; i < r->n_sources && !rc; i++) {
        const hb_recipe_source *src = &r->sources[i];
        hb_prep_settings set;
        if (o->only && strcmp(o->only, src->name)) continue;
        rc = hb_src_check(r, src, !o->no_images && !o->inputs_only, err);
        if (!rc) rc = hb_prep_settings_of(r, src, &set, err);
    }
    if (rc) return rc;
    int created = !hb_path_exists(o->outdir); /* removed again if the run fails before writing anything into it */
    if ((rc = hb_prep_open_text(&p, err))) goto done;
    for (size_t i = 0; i < r->n_sources && !rc; i++) {
        const hb_recipe_source *src = &r->sources[i];
        hb_prep_settings set;
        if (o->only && strcmp(o->only, src->name)) continue;
        if (!(rc = hb_prep_settings_of(r, src, &set, err))) rc = hb_prep_check_source(&p, src, set.template_key, err);
    }
    if (rc || (rc = hb_mkdir_p(o->outdir, err))) goto done;
    if ((rc = hb_prep_images_open(&p, err))) goto done;
    for (size_t i = 0; i < r->n_sources && !rc; i++) { /* every image root opened (archives indexed) up front */
        hb_psrc s = {.p = &p, .src = &r->sources[i]};
        if (!o->only || !strcmp(o->only, r->sources[i].name)) rc = hb_prep_images_root(&p, &s, err);
    }
    if (rc) goto done;
    double t0 = hb_now();
    for (size_t i = 0; i < r->n_sources && !rc; i++) {
        if (o->only && strcmp(o->only, r->sources[i].name)) continue;
        rc = build_source(&p, &r->sources[i], sum, err);
    }
    if (!rc) rc = hb_prep_images_finish(&p, err);
    sum->seconds = hb_now() - t0;
    if (!rc && !o->inputs_only) rc = o->n_slices > 1 ? write_part_manifest(&p, err) : write_manifest(&p, &p.manifest, err);
done:
    if (p.workers)
        for (int k = 0; k < (o->jobs > 0 ? o->jobs : 1); k++) hb_prep_worker_free(&p.workers[k]);
    free(p.workers);
    free(p.results);
    hb_prep_images_abort(&p);
    hb_prep_close_text(&p);
    hb_manifest_free(&p.manifest);
    if (rc && created) { /* a directory this run made and left empty goes again (rmdir fails on anything else) */
        char *img = hb_path_join(o->outdir, "images");
        rmdir(img);
        rmdir(o->outdir);
        free(img);
    }
    return rc;
}
