/* lib/image decoding and resizing against Pillow (fixtures from tests/ref/gen_image_fixtures.py), and every class of
 * bad image: empty, truncated, corrupt, unsupported, over the pixel limit, plus random mutations of every case. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "image/image.h"
#include "image/image_internal.h"

/* ---- fixtures ---- */
static cJSON *load_json(const char *rel) {
    char *p = tu_repo(rel);
    size_t n;
    uint8_t *d = tu_read(p, &n);
    cr_assert(d, "cannot read %s", p);
    cJSON *j = cJSON_ParseWithLength((const char *)d, n);
    cr_assert(j, "bad JSON in %s", p);
    free(d);
    free(p);
    return j;
}

static uint8_t *load_blob(const char *rel, size_t expect) {
    char *p = tu_repo(rel);
    size_t n;
    uint8_t *z = tu_read(p, &n);
    cr_assert(z, "cannot read %s", p);
    uint8_t *out = malloc(expect + 1);
    uLongf got = expect;
    cr_assert_eq(uncompress(out, &got, z, n), Z_OK, "cannot inflate %s", p);
    cr_assert_eq(got, expect);
    free(z);
    free(p);
    return out;
}

static int jint(const cJSON *o, const char *k) { return cJSON_GetObjectItem(o, k)->valueint; }

static uint8_t *read_case(const cJSON *c, size_t *n) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/image/%s", cJSON_GetObjectItem(c, "file")->valuestring);
    char *p = tu_repo(rel);
    uint8_t *d = tu_read(p, n);
    cr_assert(d, "cannot read %s", p);
    free(p);
    return d;
}

/* The pseudo-random images of resize.json (same LCG as the generator). */
static void lcg(uint64_t seed, uint8_t *out, size_t n) {
    uint64_t s = 0x9E3779B97F4A7C15ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (uint8_t)(s >> 56);
    }
}

static uint32_t crc(const uint8_t *p, size_t n) { return (uint32_t)crc32(0L, p, (uInt)n); }

/* Max and mean absolute difference per channel (RGB interleaved). */
static void diff_stats(const uint8_t *a, const uint8_t *b, size_t pixels, int *maxd, double *meand) {
    double sum[3] = {0, 0, 0};
    *maxd = 0;
    for (size_t i = 0; i < pixels; i++)
        for (int c = 0; c < 3; c++) {
            int d = abs((int)a[3 * i + c] - (int)b[3 * i + c]);
            sum[c] += d;
            if (d > *maxd) *maxd = d;
        }
    *meand = 0;
    for (int c = 0; c < 3; c++)
        if (sum[c] / (double)pixels > *meand) *meand = sum[c] / (double)pixels;
}

/* ---- resize ---- */
Test(image, resize_matches_pillow_in_every_shape_order_and_kernel, .timeout = 120) {
    cJSON *j = load_json("tests/fixtures/image/resize.json");
    uint8_t *blob = load_blob("tests/fixtures/image/resize.bin.z", (size_t)jint(j, "bytes"));
    cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        uint32_t w = jint(c, "w"), h = jint(c, "h"), ch = jint(c, "ch"), ow = jint(c, "ow"), oh = jint(c, "oh");
        uint8_t *in = malloc((size_t)w * h * ch), *out = malloc((size_t)ow * oh * ch);
        lcg((uint64_t)jint(c, "seed"), in, (size_t)w * h * ch);
        for (int scalar = 0; scalar < 2; scalar++) {
            hb_resize_force_scalar = scalar;
            for (int legacy = 0; legacy < 2; legacy++) {
                hb_image_opts o = {.legacy_resize = legacy};
                hb_err e;
                cr_assert_eq(hb_image_resize(in, w, h, ch, out, ow, oh, &o, &e), 0, "%s", e.reason);
                uint32_t want = (uint32_t)cJSON_GetObjectItem(c, legacy ? "crc_legacy" : "crc")->valuedouble;
                cJSON *off = cJSON_GetObjectItem(c, "offset");
                if (off && !legacy)
                    for (size_t i = 0; i < (size_t)ow * oh * ch; i++)
                        cr_assert_eq(out[i], blob[off->valueint + i], "%ux%ux%u -> %ux%u: byte %zu is %u, Pillow %u",
                                     w, h, ch, ow, oh, i, out[i], blob[off->valueint + i]);
                cr_assert_eq(crc(out, (size_t)ow * oh * ch), want, "%ux%ux%u -> %ux%u (%s order, %s kernels) differs from Pillow",
                             w, h, ch, ow, oh, legacy ? "legacy" : "Pillow 13", scalar ? "scalar" : "vector");
            }
        }
        hb_resize_force_scalar = 0;
        free(in);
        free(out);
        n++;
    }
    cr_assert_geq(n, 80);
    free(blob);
    cJSON_Delete(j);
}

Test(image, pass_order_rule) {
    /* Pillow 13: vertical first iff the height shrinks by more than twice the width's reduction */
    cr_assert(hb_resize_vertical_first(427, 640, 224, 224, 0));
    cr_assert(!hb_resize_vertical_first(480, 640, 224, 224, 0));
    cr_assert(!hb_resize_vertical_first(427, 640, 224, 224, 1));
    cr_assert(!hb_resize_vertical_first(640, 427, 224, 224, 0));
    cr_assert(!hb_resize_vertical_first(100, 50, 224, 224, 0)); /* upscale */
}

/* ---- formats ---- */
Test(image, every_format_variant_decodes_and_prepares_as_pillow, .timeout = 60) {
    cJSON *j = load_json("tests/fixtures/image/formats.json");
    uint8_t *blob = load_blob("tests/fixtures/image/formats.bin.z", (size_t)jint(j, "bytes"));
    cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        size_t len;
        uint8_t *d = read_case(c, &len);
        uint32_t w = jint(c, "width"), h = jint(c, "height");
        hb_image_info info;
        uint8_t *rgb;
        hb_err e;
        cr_assert_eq(hb_image_decode(d, len, NULL, &info, &rgb, &e), 0, "%s: %s", name, e.reason);
        cr_assert_eq(info.width, w, "%s", name);
        cr_assert_eq(info.height, h, "%s", name);
        cr_assert_str_eq(hb_imgfmt_name(info.format), cJSON_GetObjectItem(c, "format")->valuestring, "%s", name);
        int maxd;
        double meand;
        diff_stats(rgb, blob + jint(c, "decode"), (size_t)w * h, &maxd, &meand);
        cr_assert_eq(maxd, 0, "%s (Pillow mode %s): decode differs from convert(\"RGB\") by up to %d (mean %.3f)", name,
                     cJSON_GetObjectItem(c, "mode")->valuestring, maxd, meand);
        free(rgb);
        cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(c, "prepare")) {
            uint32_t pw = jint(p, "width"), ph = jint(p, "height");
            uint8_t *out = malloc((size_t)pw * ph * 3);
            cr_assert_eq(hb_image_prepare(d, len, pw, ph, NULL, &info, out, &e), 0, "%s: %s", name, e.reason);
            diff_stats(out, blob + jint(p, "offset"), (size_t)pw * ph, &maxd, &meand);
            cr_assert_eq(maxd, 0, "%s: prepare %ux%u differs from Pillow by up to %d", name, pw, ph, maxd);
            free(out);
        }
        free(d);
        n++;
    }
    cr_assert_geq(n, 40);
    free(blob);
    cJSON_Delete(j);
}

/* ---- the real JPEGs ---- */
static uint8_t *read_shared(const char *rel, size_t *n) {
    char *p = tu_shared(rel);
    uint8_t *d = tu_read(p, n);
    cr_assert(d, "cannot read %s (HB_SHARED)", p);
    free(p);
    return d;
}

Test(image, real_jpegs_bit_exact_at_224_and_336_in_both_orders, .timeout = 60) {
    cJSON *j = load_json("tests/fixtures/image/real.json");
    cJSON *im;
    int n = 0;
    cJSON_ArrayForEach(im, cJSON_GetObjectItem(j, "images")) {
        const char *file = cJSON_GetObjectItem(im, "file")->valuestring;
        size_t len;
        uint8_t *d = read_shared(file, &len);
        for (uint32_t S = 224; S <= 336; S += 112) {
            char key[8];
            snprintf(key, sizeof key, "%u", S);
            for (int legacy = 0; legacy < 2; legacy++) {
                uint8_t *out = malloc((size_t)S * S * 3);
                hb_image_opts o = {.legacy_resize = legacy};
                hb_image_info info;
                hb_err e;
                cr_assert_eq(hb_image_prepare(d, len, S, S, &o, &info, out, &e), 0, "%s: %s", file, e.reason);
                uint32_t want = (uint32_t)cJSON_GetObjectItem(cJSON_GetObjectItem(im, legacy ? "crc_legacy" : "crc"), key)->valuedouble;
                cr_assert_eq(crc(out, (size_t)S * S * 3), want, "%s at %u (%s order) is not bit-exact with Pillow", file, S,
                             legacy ? "legacy" : "Pillow 13");
                free(out);
            }
        }
        free(d);
        n++;
    }
    cr_assert_geq(n, 10);
    cJSON_Delete(j);
}

Test(image, real_jpegs_within_tolerance_of_pillow) {
    /* the acceptance bound: mean |diff| <= 0.5/255 and max <= 2/255 per channel */
    cJSON *j = load_json("tests/fixtures/image/real.json");
    cJSON *im;
    cJSON_ArrayForEach(im, cJSON_GetObjectItem(j, "images")) {
        const char *file = cJSON_GetObjectItem(im, "file")->valuestring;
        size_t len, plen;
        uint8_t *d = read_shared(file, &len);
        char rel[512];
        snprintf(rel, sizeof rel, "tests/fixtures/image/%s",
                 cJSON_GetObjectItem(cJSON_GetObjectItem(im, "png"), "112")->valuestring);
        char *pp = tu_repo(rel);
        uint8_t *png = tu_read(pp, &plen);
        cr_assert(png);
        hb_image_info info;
        uint8_t *want, out[112 * 112 * 3];
        hb_err e;
        cr_assert_eq(hb_image_decode(png, plen, NULL, &info, &want, &e), 0, "%s", e.reason);
        cr_assert_eq(hb_image_prepare(d, len, 112, 112, NULL, &info, out, &e), 0, "%s", e.reason);
        int maxd;
        double meand;
        diff_stats(out, want, 112 * 112, &maxd, &meand);
        cr_assert(maxd <= 2 && meand <= 0.5, "%s: max %d mean %.3f", file, maxd, meand);
        free(want);
        free(png);
        free(pp);
        free(d);
    }
    cJSON_Delete(j);
}

Test(image, fast_mode_scales_in_the_dct_domain_with_bounded_error) {
    cJSON *j = load_json("tests/fixtures/image/formats.json");
    cJSON *c, *big = NULL;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) if (!strcmp(cJSON_GetObjectItem(c, "name")->valuestring, "jpeg_big")) big = c;
    cr_assert(big);
    size_t len;
    uint8_t *d = read_case(big, &len);
    /* 160x120 to 64x48: libjpeg decodes at 1/2 (80x60), then the bicubic resize */
    uint8_t exact[64 * 48 * 3], fast[64 * 48 * 3];
    hb_image_opts o = {.fast = 1};
    hb_image_info info;
    hb_err e;
    cr_assert_eq(hb_image_prepare(d, len, 64, 48, NULL, &info, exact, &e), 0);
    cr_assert_eq(hb_image_prepare(d, len, 64, 48, &o, &info, fast, &e), 0);
    cr_assert_eq(info.width, 160); /* the original size is reported, not the scaled one */
    int maxd;
    double meand;
    diff_stats(exact, fast, 64 * 48, &maxd, &meand);
    cr_assert(maxd > 0, "fast mode gave the exact result: the DCT scaling did not happen");
    /* this synthetic image has a sawtooth in blue that DCT scaling aliases; real photos stay near 1/255
     * (docs/images.md): the bound here only catches a broken fast path (wrong channels, offsets, garbage) */
    cr_assert(meand < 12.0, "fast mode is too far from exact: mean %.3f", meand);
    /* a target the image cannot be scaled down to: fast mode is exact */
    uint8_t big_exact[100 * 100 * 3], big_fast[100 * 100 * 3];
    cr_assert_eq(hb_image_prepare(d, len, 100, 100, NULL, &info, big_exact, &e), 0);
    cr_assert_eq(hb_image_prepare(d, len, 100, 100, &o, &info, big_fast, &e), 0);
    cr_assert_arr_eq(big_exact, big_fast, sizeof big_exact);
    free(d);
    cJSON_Delete(j);
}

/* ---- detection ---- */
Test(image, format_comes_from_the_bytes_not_the_name) {
    cr_assert_eq(hb_image_sniff((const uint8_t *)"\xFF\xD8\xFF\xE0", 4), HB_IMGFMT_JPEG);
    cr_assert_eq(hb_image_sniff((const uint8_t *)"\x89PNG\r\n\x1a\n", 8), HB_IMGFMT_PNG);
    cr_assert_eq(hb_image_sniff((const uint8_t *)"GIF87a", 6), HB_IMGFMT_GIF);
    cr_assert_eq(hb_image_sniff((const uint8_t *)"BM", 2), HB_IMGFMT_BMP);
    cr_assert_eq(hb_image_sniff((const uint8_t *)"\xFF\xD8", 2), HB_IMGFMT_UNKNOWN);
    char *p = tu_repo("tests/fixtures/image/cases/png_named_jpg.jpg");
    size_t n;
    uint8_t *d = tu_read(p, &n), *rgb;
    hb_image_info info;
    cr_assert_eq(hb_image_decode(d, n, NULL, &info, &rgb, NULL), 0);
    cr_assert_eq(info.format, HB_IMGFMT_PNG);
    free(rgb);
    free(d);
    free(p);
}

/* ---- bad images ---- */
static int reject_of(const uint8_t *p, size_t n, const hb_image_opts *o) {
    hb_image_info info;
    uint8_t out[16 * 16 * 3], *rgb = NULL;
    hb_err e;
    int a = hb_image_prepare(p, n, 16, 16, o, &info, out, &e);
    int ra = a ? info.reject : HB_IMG_OK;
    cr_assert(!a || (ra != HB_IMG_OK && e.reason[0]), "an error without a reject reason or message");
    int b = hb_image_decode(p, n, o, &info, &rgb, &e);
    int rb = b ? info.reject : HB_IMG_OK;
    free(rgb);
    cr_assert_eq(ra, rb, "prepare and decode disagree (%s vs %s)", hb_img_reject_name(ra), hb_img_reject_name(rb));
    return ra;
}

static uint8_t *case_bytes(const char *name, size_t *n) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/image/cases/%s", name);
    char *p = tu_repo(rel);
    uint8_t *d = tu_read(p, n);
    cr_assert(d, "%s", p);
    free(p);
    return d;
}

Test(image, empty_and_unsupported_are_rejected_with_their_reason) {
    cr_assert_eq(reject_of((const uint8_t *)"", 0, NULL), HB_IMG_EMPTY);
    const char *webp = "RIFF\x24\0\0\0WEBPVP8 ";
    cr_assert_eq(reject_of((const uint8_t *)webp, 16, NULL), HB_IMG_UNSUPPORTED);
    cr_assert_eq(reject_of((const uint8_t *)"II*\0\x08\0\0\0", 8, NULL), HB_IMG_UNSUPPORTED);
    cr_assert_eq(reject_of((const uint8_t *)"<html>not an image</html>", 25, NULL), HB_IMG_UNSUPPORTED);
    cr_assert_eq(reject_of((const uint8_t *)"\xFF\xD8", 2, NULL), HB_IMG_UNSUPPORTED);
    /* a Git LFS pointer where the image should be (a dataset cloned without git-lfs) says so */
    const char *lfs = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 105175\n";
    hb_image_info li;
    uint8_t *lrgb = NULL;
    hb_err le;
    cr_assert_neq(hb_image_decode((const uint8_t *)lfs, strlen(lfs), NULL, &li, &lrgb, &le), 0);
    cr_assert(li.reject == HB_IMG_UNSUPPORTED && strstr(le.reason, "Git LFS pointer"), "%s", le.reason);
    free(lrgb);
    /* 12-bit JPEG: the precision byte of the SOF marker */
    size_t n;
    uint8_t *d = case_bytes("jpeg_420.jpg", &n);
    for (size_t i = 2; i + 4 < n; i++)
        if (d[i] == 0xFF && d[i + 1] == 0xC0) {
            d[i + 4] = 12;
            break;
        }
    cr_assert_eq(reject_of(d, n, NULL), HB_IMG_UNSUPPORTED);
    free(d);
    /* RLE-compressed BMP */
    d = case_bytes("bmp_p.bmp", &n);
    d[30] = 1;
    cr_assert_eq(reject_of(d, n, NULL), HB_IMG_UNSUPPORTED);
    free(d);
}

Test(image, truncated_files_of_every_format_are_rejected_as_truncated, .timeout = 60) {
    const char *names[] = {"jpeg_420.jpg", "jpeg_progressive.jpg", "jpeg_cmyk.jpg", "png_rgb.png", "png_interlaced.png",
                           "png_p.png", "gif_pillow.gif", "gif_interlaced.gif", "bmp_rgb.bmp", "bmp_4.bmp"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        size_t n;
        uint8_t *d = case_bytes(names[k], &n);
        /* GIF: Pillow accepts a file that lacks only its trailer and block terminator */
        size_t last = strstr(names[k], ".gif") ? n - 2 : n;
        if (strstr(names[k], ".png")) last = n - 12; /* up to the IEND chunk */
        for (size_t cut = 16; cut < last; cut += cut < 64 ? 1 : 7) {
            int r = reject_of(d, cut, NULL);
            cr_assert_eq(r, HB_IMG_TRUNCATED, "%s cut to %zu of %zu bytes: %s", names[k], cut, n, hb_img_reject_name(r));
        }
        if (strstr(names[k], ".jpg")) /* only the end-of-image marker missing: Pillow says truncated too */
            cr_assert_eq(reject_of(d, n - 2, NULL), HB_IMG_TRUNCATED);
        if (strstr(names[k], ".png")) /* only (part of) IEND missing: the pixels are complete, Pillow accepts it */
            for (size_t cut = 1; cut <= 12; cut++) cr_assert_eq(reject_of(d, n - cut, NULL), HB_IMG_OK, "%s without its last %zu bytes", names[k], cut);
        cr_assert_eq(reject_of(d, n, NULL), HB_IMG_OK, "%s whole", names[k]);
        free(d);
    }
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

Test(image, corrupt_data_is_rejected_as_corrupt) {
    size_t n;
    /* PNG: IHDR checksum */
    uint8_t *d = case_bytes("png_rgb.png", &n);
    d[29] ^= 0x55;
    cr_assert_eq(reject_of(d, n, NULL), HB_IMG_CORRUPT);
    free(d);
    /* PNG: a byte of the compressed data (zlib or CRC catches it) */
    d = case_bytes("png_rgb.png", &n);
    d[n - 30] ^= 0x55;
    cr_assert_eq(reject_of(d, n, NULL), HB_IMG_CORRUPT);
    free(d);
    /* JPEG: a Huffman table turned to garbage */
    d = case_bytes("jpeg_420.jpg", &n);
    for (size_t i = 2; i + 40 < n; i++)
        if (d[i] == 0xFF && d[i + 1] == 0xC4) {
            memset(d + i + 5, 0xFF, 16);
            break;
        }
    cr_assert_eq(reject_of(d, n, NULL), HB_IMG_CORRUPT);
    free(d);
    /* GIF: an LZW code past the table right after the clear code */
    d = case_bytes("gif_offset.gif", &n);
    size_t at = 13 + 768 + 10; /* header, global palette, image descriptor */
    cr_assert_eq(d[at], 8);    /* LZW minimum code size */
    d[at + 2] = 0x00;          /* first data byte: low bits of the 2nd code */
    d[at + 3] = 0xFF;          /* 9-bit codes: clear (256), then 0x1FE > next */
    d[at + 4] = 0xFF;
    int r = reject_of(d, n, NULL);
    cr_assert(r == HB_IMG_CORRUPT, "bad LZW: %s", hb_img_reject_name(r));
    free(d);
    /* GIF without any image */
    cr_assert_eq(reject_of((const uint8_t *)"GIF89a\x01\0\x01\0\0\0\0\x3b", 14, NULL), HB_IMG_CORRUPT);
    /* BMP with a zero width */
    d = case_bytes("bmp_rgb.bmp", &n);
    memset(d + 18, 0, 4);
    cr_assert_eq(reject_of(d, n, NULL), HB_IMG_CORRUPT);
    free(d);
}

Test(image, decompression_bombs_are_rejected_before_decoding) {
    size_t n;
    /* PNG: 50000 x 50000 in the IHDR (CRC recomputed) */
    uint8_t *d = case_bytes("png_rgb.png", &n);
    put_be32(d + 16, 50000);
    put_be32(d + 20, 50000);
    put_be32(d + 29, (uint32_t)crc32(0L, d + 12, 17));
    cr_assert_eq(reject_of(d, n, NULL), HB_IMG_TOO_LARGE);
    free(d);
    /* JPEG: 60000 x 50000 in the SOF */
    d = case_bytes("jpeg_420.jpg", &n);
    for (size_t i = 2; i + 9 < n; i++)
        if (d[i] == 0xFF && d[i + 1] == 0xC0) {
            d[i + 5] = 50000 >> 8, d[i + 6] = 50000 & 255, d[i + 7] = 60000 >> 8, d[i + 8] = 60000 & 255;
            break;
        }
    cr_assert_eq(reject_of(d, n, NULL), HB_IMG_TOO_LARGE);
    free(d);
    /* GIF: 65535 x 65535 screen */
    d = case_bytes("gif_pillow.gif", &n);
    memset(d + 6, 0xFF, 4);
    cr_assert_eq(reject_of(d, n, NULL), HB_IMG_TOO_LARGE);
    free(d);
    /* BMP: 100000 x 100000 */
    d = case_bytes("bmp_rgb.bmp", &n);
    d[18] = 0xA0, d[19] = 0x86, d[20] = 0x01, d[21] = 0;
    d[22] = 0xA0, d[23] = 0x86, d[24] = 0x01, d[25] = 0;
    cr_assert_eq(reject_of(d, n, NULL), HB_IMG_TOO_LARGE);
    free(d);
    /* a configured limit */
    d = case_bytes("png_rgb.png", &n);
    hb_image_opts o = {.max_pixels = 37 * 29 - 1};
    cr_assert_eq(reject_of(d, n, &o), HB_IMG_TOO_LARGE);
    o.max_pixels = 37 * 29;
    cr_assert_eq(reject_of(d, n, &o), HB_IMG_OK);
    free(d);
}

Test(image, random_mutations_of_every_case_never_crash, .timeout = 120) {
    cJSON *j = load_json("tests/fixtures/image/formats.json");
    cJSON *c;
    hb_rng r = hb_rng_make(42, 6);
    int counts[HB_IMG_N_REASONS] = {0};
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        size_t n;
        uint8_t *orig = read_case(c, &n);
        uint8_t *d = malloc(n + 64);
        for (int it = 0; it < 60; it++) {
            memcpy(d, orig, n);
            size_t len = n;
            int flips = 1 + (int)hb_rng_below(&r, 8);
            for (int f = 0; f < flips; f++) {
                size_t at = (size_t)hb_rng_below(&r, len);
                switch (hb_rng_below(&r, 3)) {
                case 0: d[at] ^= (uint8_t)(1u << hb_rng_below(&r, 8)); break;
                case 1: d[at] = (uint8_t)hb_rng_u64(&r); break;
                default: d[at] = hb_rng_below(&r, 2) ? 0xFF : 0x00; break;
                }
            }
            if (hb_rng_below(&r, 4) == 0) len = 1 + (size_t)hb_rng_below(&r, n);
            counts[reject_of(d, len, NULL)]++;
        }
        free(d);
        free(orig);
    }
    /* the mutations must have produced both accepted images and rejects of several kinds */
    cr_assert_gt(counts[HB_IMG_OK], 0);
    cr_assert_gt(counts[HB_IMG_CORRUPT] + counts[HB_IMG_TRUNCATED], 0);
    cJSON_Delete(j);
}

Test(image, damaged_files_never_accepted_where_pillow_refuses_and_same_pixels_where_both_accept, .timeout = 60) {
    cJSON *j = load_json("tests/fixtures/image/mutations.json");
    cJSON *c;
    int both = 0, both_refuse = 0, stricter = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) {
        size_t n;
        uint8_t *d = read_case(c, &n);
        cJSON *ed;
        cJSON_ArrayForEach(ed, cJSON_GetObjectItem(c, "edits")) d[cJSON_GetArrayItem(ed, 0)->valueint] = (uint8_t)cJSON_GetArrayItem(ed, 1)->valueint;
        size_t len = (size_t)jint(c, "length");
        const char *verdict = cJSON_GetObjectItem(c, "pillow")->valuestring;
        hb_image_info info;
        uint8_t *rgb;
        hb_err e;
        int pillow_ok = !strcmp(verdict, "ok");
        if (hb_image_decode(d, len, NULL, &info, &rgb, &e) == 0) {
            cr_assert(pillow_ok, "%s (edited): hb accepts what Pillow refuses (%s)", cJSON_GetObjectItem(c, "file")->valuestring, verdict);
            cr_assert_eq(info.width, (uint32_t)jint(c, "width"));
            cr_assert_eq(info.height, (uint32_t)jint(c, "height"));
            cr_assert_eq(crc(rgb, (size_t)info.width * info.height * 3), (uint32_t)cJSON_GetObjectItem(c, "crc")->valuedouble,
                         "%s (edited): pixels differ from Pillow's", cJSON_GetObjectItem(c, "file")->valuestring);
            free(rgb);
            both++;
        } else if (pillow_ok) {
            stricter++; /* e.g. a damaged IDAT checksum: Pillow does not check it, hb does (docs/images.md) */
        } else {
            both_refuse++;
        }
        free(d);
    }
    cr_assert_gt(both, 150);
    cr_assert_gt(both_refuse, 200);
    cr_assert_lt(stricter, 40, "hb refuses %d damaged files Pillow opens", stricter);
    cJSON_Delete(j);
}

Test(image, png_writer_round_trips) {
    char *dir = tu_mkdtemp();
    char *path = hb_path_join(dir, "x.png");
    uint8_t px[5 * 3 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 37);
    hb_err e;
    cr_assert_eq(hb_image_write_png(path, px, 5, 3, &e), 0, "%s", e.reason);
    size_t n;
    uint8_t *d = tu_read(path, &n), *rgb;
    hb_image_info info;
    cr_assert_eq(hb_image_decode(d, n, NULL, &info, &rgb, &e), 0);
    cr_assert_eq(info.width, 5);
    cr_assert_eq(info.height, 3);
    cr_assert_arr_eq(rgb, px, sizeof px);
    free(rgb);
    free(d);
    free(path);
    tu_rmtree(dir);
    free(dir);
}
