/* hb-inspect image: a sample's preprocessed image out of an output directory's image store, as a PNG.
 * Dependencies: image.h (hb_image_write_png, hb_imgfmt_name), shard/shard.h (hb_shard_paths, hb_shard_get_sample),
 * shard/imgstore.h (hb_imgstore_get), core/core.h. */
#include "image.h"

#include "shard/imgstore.h"
#include "shard/shard.h"

#include <stdlib.h>
#include <string.h>

/* Finds the sample: by index when SAMPLE is a number without '/', else by id. Fills *s (arena-owned). */
static int find_sample(const char *dir, const char *want, hb_sample *s, hb_arena *a, hb_err *err) {
    long long index = -1;
    if (!strchr(want, '/') && hb_parse_i64(want, &index) == 0 && index < 0)
        return hb_err_set(err, HB_EINVAL, dir, HB_NOPOS, HB_NOPOS, "sample index %lld is negative", index);
    char **paths;
    size_t n;
    int code = hb_shard_paths(dir, &paths, &n, err);
    if (code) return code;
    long long seen = 0;
    int found = 0;
    for (size_t i = 0; i < n && !found && !code; i++) {
        hb_shard *sh;
        if ((code = hb_shard_open(&sh, paths[i], err))) break;
        if (strcmp(hb_shard_schema(sh), HB_SCHEMA_SAMPLE) != 0) {
            hb_shard_close(sh);
            continue;
        }
        uint64_t count = hb_shard_count(sh);
        if (index >= 0) {
            if ((uint64_t)(index - seen) < count) {
                code = hb_shard_get_sample(sh, (uint64_t)(index - seen), s, a, err);
                found = !code;
            }
            seen += (long long)count;
        } else {
            for (uint64_t k = 0; k < count && !found && !code; k++) {
                code = hb_shard_get_sample(sh, k, s, a, err);
                found = !code && !strcmp(s->id, want);
            }
        }
        hb_shard_close(sh);
    }
    hb_shard_paths_free(paths, n);
    if (code) return code;
    if (!found) {
        if (index >= 0)
            return hb_err_set(err, HB_ENOTFOUND, dir, index, HB_NOPOS, "no sample %lld (the directory holds %lld)", index, seen);
        return hb_err_set(err, HB_ENOTFOUND, dir, HB_NOPOS, HB_NOPOS, "no sample with id '%s'", want);
    }
    return 0;
}

int hb_inspect_image(const char *dir, const char *sample, uint32_t image_index, uint32_t size, const char *out_png,
                     FILE *info, hb_err *err) {
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_sample s;
    int code = find_sample(dir, sample, &s, &a, err);
    if (!code && image_index >= s.n_images)
        code = s.n_images == 0
                   ? hb_err_set(err, HB_ENOTFOUND, dir, HB_NOPOS, HB_NOPOS, "sample '%s' has no image", s.id)
                   : hb_err_set(err, HB_ERANGE, dir, HB_NOPOS, HB_NOPOS, "sample '%s' has %u images; --image %u is out of range",
                                s.id, s.n_images, image_index);
    hb_imgstore *st = NULL;
    if (!code) code = hb_imgstore_open(&st, dir, size, err);
    uint8_t *px = NULL;
    hb_image_meta meta;
    if (!code) {
        uint32_t S = hb_imgstore_size(st);
        px = hb_xmalloc((size_t)S * S * 3);
        code = hb_imgstore_get(st, s.images[image_index], px, &meta, err);
        if (!code) code = hb_image_write_png(out_png, px, S, S, err);
        if (!code && info) {
            char hex[33];
            hb_hash128_hex(meta.hash, hex);
            fprintf(info, "%s image %u/%u %s %ux%u %s from %s -> %s (%ux%u)\n", s.id, image_index + 1, s.n_images, hex,
                    meta.width, meta.height, hb_imgfmt_name(meta.format), meta.origin[0] ? meta.origin : "?", out_png, S, S);
        }
    }
    free(px);
    hb_imgstore_close(st);
    hb_arena_free(&a);
    return code;
}
