/* Captioning pairs in webdataset tar shards (COYO-700M and BLIP-CapFilt as img2dataset writes them; Honeybee's
 * coyo100m and blip) (raw-formats.md §11, spec-data.md §1.13). Members with the same key (the member path up to
 * the first '.' of its file name) form one sample; the caption is the .txt member (or the "caption" of the .json
 * member), the image the first .jpg/.jpeg/.png/.webp/.bmp/.gif member, whose bytes are read while the tar streams.
 * Dependencies: sources.h (hb_src_*), <archive.h>/<archive_entry.h> (libarchive), <glob.h> (shard patterns). */
#include "sources.h"

#include <archive.h>
#include <archive_entry.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *const ROLES[] = {"shards", NULL};
static const char *const OPTIONS[] = {"caption", "max_caption_bytes", NULL};
static const char *const FIELDS[] = {"caption", NULL};
static const char *const CAPTION_FROM[] = {"txt", "json", NULL};

typedef struct {
    hb_buf key, caption, json, image, image_name;
    int has_caption, has_json, has_image;
    int64_t record, offset;
} sample;

static void sample_reset(sample *s) {
    hb_buf_clear(&s->key);
    hb_buf_clear(&s->caption);
    hb_buf_clear(&s->json);
    hb_buf_clear(&s->image);
    hb_buf_clear(&s->image_name);
    s->has_caption = s->has_json = s->has_image = 0;
}

static void sample_free(sample *s) {
    hb_buf_free(&s->key);
    hb_buf_free(&s->caption);
    hb_buf_free(&s->json);
    hb_buf_free(&s->image);
    hb_buf_free(&s->image_name);
}

static int is_image_ext(const char *ext) {
    static const char *const E[] = {"jpg", "jpeg", "png", "webp", "bmp", "gif", NULL};
    for (int i = 0; E[i]; i++)
        if (!strcasecmp(ext, E[i])) return 1;
    return 0;
}

typedef struct {
    const char *path, *shown, *stem;
    int from_json;
    long long max_caption;
} opts;

static int flush(hb_src_ctx *ctx, const opts *o, sample *s, hb_err *err) {
    if (!s->key.len) return 0;
    hb_src_count_record(ctx);
    const char *key = hb_buf_cstr(&s->key);
    const char *cap = NULL;
    if (!o->from_json && s->has_caption) cap = hb_buf_cstr(&s->caption);
    else if (s->has_json) {
        cJSON *j = cJSON_ParseWithLength((const char *)s->json.data, s->json.len);
        const char *c = j ? hb_jstr(j, "caption") : NULL;
        if (c) cap = hb_arena_strdup(&ctx->scratch, c);
        cJSON_Delete(j);
        if (!o->from_json && cap) hb_src_note(ctx, "caption.from_json");
    }
    int rc = 0;
    if (!cap) rc = hb_src_reject(ctx, o->shown, s->record, s->offset, err, "sample %s has no caption (.txt or .json)", key);
    else if (!s->has_image) rc = hb_src_reject(ctx, o->shown, s->record, s->offset, err, "sample %s has no image member", key);
    else if (!*hb_src_strip(ctx, cap))
        rc = hb_src_reject(ctx, o->shown, s->record, s->offset, err, "sample %s has an empty caption", key);
    else {
        hb_src_item it = {
            .key = hb_arena_printf(&ctx->scratch, "%s/%s", o->stem, key),
            .image = hb_buf_cstr(&s->image_name),
            .image_archive = o->path,
            .image_data = s->image.data,
            .image_len = s->image.len,
            .file = o->shown,
            .record = s->record,
            .offset = s->offset,
        };
        hb_src_fields(ctx, &it.ex, "caption", cap, NULL);
        it.ex.answer_idx = -1;
        it.ex.record = s->record;
        rc = hb_src_emit(ctx, &it, err);
    }
    hb_arena_reset(&ctx->scratch);
    sample_reset(s);
    return rc;
}

static int read_member(struct archive *a, hb_buf *out, long long max, int *too_big) {
    const void *buf;
    size_t n;
    la_int64_t off;
    int r;
    hb_buf_clear(out);
    *too_big = 0;
    while ((r = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
        if (max > 0 && (long long)(out->len + n) > max) *too_big = 1;
        else hb_buf_append(out, buf, n);
    }
    return r == ARCHIVE_EOF ? 0 : -1;
}

static int one_tar(hb_src_ctx *ctx, const opts *o, hb_err *err) {
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_filter_all(a); /* .tar.gz / .tar.zst shards too */
    if (archive_read_open_filename(a, o->path, 1 << 20) != ARCHIVE_OK) {
        int rc = hb_err_set(err, HB_EIO, o->path, HB_NOPOS, HB_NOPOS, "cannot open tar: %s", archive_error_string(a));
        archive_read_free(a);
        return rc;
    }
    struct stat st;
    uint64_t size = stat(o->path, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (ctx->sink.progress) ctx->sink.progress(ctx->sink.user, 0, size);
    sample s = {0};
    int64_t ordinal = 0;
    int rc = 0;
    struct archive_entry *e;
    int r = ARCHIVE_EOF;
    while (!ctx->stop && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        if (hb_interrupted()) {
            rc = hb_err_set(err, HB_EINTR, o->path, s.record, s.offset, "interrupted (signal %d)", hb_interrupted());
            break;
        }
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        const char *name = archive_entry_pathname(e);
        if (!name) continue;
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        const char *dot = strchr(base, '.');
        if (!dot || dot == base) continue; /* no key.ext: not a sample member (e.g. an index) */
        size_t klen = (size_t)(dot - name);
        if (s.key.len != klen || memcmp(s.key.data, name, klen)) {
            if ((rc = flush(ctx, o, &s, err))) break;
            if (ctx->stop) break;
            hb_buf_append(&s.key, name, klen);
            s.record = ordinal++;
            s.offset = (int64_t)archive_read_header_position(a);
        }
        const char *ext = dot + 1;
        int too_big = 0, rr = 0;
        if (!strcasecmp(ext, "txt") && !s.has_caption) {
            rr = read_member(a, &s.caption, o->max_caption, &too_big);
            s.has_caption = !too_big;
        } else if (!strcasecmp(ext, "json") && !s.has_json) {
            rr = read_member(a, &s.json, 1 << 20, &too_big);
            s.has_json = !too_big;
        } else if (is_image_ext(ext) && !s.has_image) {
            rr = read_member(a, &s.image, 0, &too_big);
            s.has_image = 1;
            hb_buf_puts(&s.image_name, name);
        }
        if (rr) {
            rc = hb_err_set(err, HB_EFORMAT, o->path, s.record, s.offset, "cannot read member %s: %s", name,
                            archive_error_string(a));
            break;
        }
        if (too_big) hb_src_note(ctx, "member.too_big");
        if (ctx->sink.progress && (ordinal & 255) == 0)
            ctx->sink.progress(ctx->sink.user, (uint64_t)archive_filter_bytes(a, -1), size);
    }
    if (!rc && !ctx->stop && r != ARCHIVE_EOF)
        rc = hb_err_set(err, HB_EFORMAT, o->path, HB_NOPOS, HB_NOPOS, "bad tar: %s (truncated?)", archive_error_string(a));
    if (!rc) rc = flush(ctx, o, &s, err);
    sample_free(&s);
    archive_read_free(a);
    return rc;
}

static int run(hb_src_ctx *ctx, hb_err *err) {
    int from = 0, rc;
    long long max_cap = 1 << 20;
    if ((rc = hb_src_opt_enum(ctx, "caption", CAPTION_FROM, &from, err)) ||
        (rc = hb_src_opt_int(ctx, "max_caption_bytes", &max_cap, err)))
        return rc;
    /* shard paths may be glob patterns (e.g. coyo/NNNNN.tar via a star pattern), expanded in sorted order */
    const cJSON *f = ctx->src->files;
    const cJSON *list = cJSON_IsObject(f) ? cJSON_GetObjectItemCaseSensitive(f, "shards") : f;
    const char *pats[512];
    size_t np = 0;
    if (cJSON_IsString(list)) pats[np++] = list->valuestring;
    else if (cJSON_IsArray(list)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, list) if (cJSON_IsString(x) && np < 512) pats[np++] = x->valuestring;
    }
    if (!np)
        return hb_err_set(err, HB_EINVAL, ctx->recipe->path, HB_NOPOS, HB_NOPOS,
                          "sources.%s.files: tar shard paths or patterns", ctx->src->name);
    for (size_t k = 0; k < np && !rc && !ctx->stop; k++) {
        char *p = hb_recipe_path(ctx->recipe, pats[k]);
        if (hb_path_is_dir(p)) { /* a folder of shards (Honeybee: <root>/<data_name>/[star].tar) */
            char *q = hb_path_join(p, "*.tar");
            free(p);
            p = q;
        }
        glob_t g;
        int gr = glob(p, 0, NULL, &g);
        if (gr == GLOB_NOMATCH)
            rc = hb_err_set(err, HB_ENOTFOUND, p, HB_NOPOS, HB_NOPOS,
                            "missing raw file (no tar matches; named by sources.%s.files)", ctx->src->name);
        else if (gr)
            rc = hb_err_set(err, HB_EIO, p, HB_NOPOS, HB_NOPOS, "cannot expand the pattern");
        else {
            for (size_t i = 0; i < g.gl_pathc && !rc && !ctx->stop; i++) {
                const char *base = strrchr(g.gl_pathv[i], '/') ? strrchr(g.gl_pathv[i], '/') + 1 : g.gl_pathv[i];
                char stem[256];
                snprintf(stem, sizeof stem, "%s", base);
                char *dot = strchr(stem, '.');
                if (dot) *dot = 0;
                opts o = {.path = g.gl_pathv[i], .shown = hb_src_display(ctx, g.gl_pathv[i]), .stem = stem,
                          .from_json = from == 1, .max_caption = max_cap};
                rc = one_tar(ctx, &o, err);
            }
            globfree(&g);
        }
        free(p);
    }
    return rc;
}

const hb_converter hb_conv_webdataset = {
    .name = "webdataset",
    .summary = "captioning pairs in webdataset tar shards (COYO, BLIP-CapFilt via img2dataset); glob patterns allowed",
    .file_roles = ROLES,
    .options = OPTIONS,
    .fields = FIELDS,
    .nturn = 1,
    .dedup = "none",
    .folders = 1,
    .run = run,
};
