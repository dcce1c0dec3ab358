/* BMP decoding: palette BMPs (1, 4 and 8 bits per pixel) here, 16, 24 and 32-bit (and bit-field) BMPs through
 * stb_image. The header is checked first, because stb_image reads past the end of a short buffer as zeros: a file
 * shorter than its pixel array is truncated (Pillow: "image file is truncated"). Palette BMPs are decoded here because
 * stb_image reads its palette table uninitialised for indices past the palette, where Pillow gives black.
 * RLE-compressed and embedded JPEG/PNG BMPs are unsupported. Alpha is dropped, as convert("RGB") drops it.
 *
 * Dependencies: image_internal.h (hb_sink, hb_img_fail, hb_img_check_size), stb_image.h (stbi_load_from_memory,
 * compiled here with only the BMP loader). */
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC /* private to this file: other modules may compile their own copy */
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MAX_DIMENSIONS (1 << 20)
/* stb declares its whole API static here; the unused parts are reported at the end of the file */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb_image.h>
#pragma GCC diagnostic pop

static uint32_t le32(const uint8_t *p) { return hb_le32(p); }

/* 16-bit BMPs: stb_image widens an n-bit channel by repeating its bits, Pillow (BGR;15 / BGR;16) by v * 255 / (2^n - 1)
 * rounded down. The top n bits of stb's value are v, so a table per channel gives Pillow's value. */
static void pillow_16bit(uint8_t *img, size_t pixels, const uint32_t masks[3]) {
    uint8_t lut[3][256];
    for (int c = 0; c < 3; c++) {
        int bits = __builtin_popcount(masks[c]);
        for (int v = 0; v < 256; v++)
            lut[c][v] = bits > 0 && bits < 8 ? (uint8_t)((v >> (8 - bits)) * 255 / ((1 << bits) - 1)) : (uint8_t)v;
    }
    for (size_t i = 0; i < pixels; i++)
        for (int c = 0; c < 3; c++) img[3 * i + c] = lut[c][img[3 * i + c]];
}

/* 1/4/8-bit BI_RGB: palette of biClrUsed (else 2^bpp) BGR(X) entries after the header, rows bottom-up unless the
 * height is negative, indices packed most significant bits first, rows padded to 4 bytes. */
static int decode_palette(const uint8_t *p, size_t n, uint32_t hsize, uint32_t off, uint32_t w, uint32_t h, int topdown,
                          uint32_t bpp, hb_image_info *info, hb_sink *s, hb_err *err) {
    uint32_t colors = hsize >= 40 ? le32(p + 46) : 0;
    if (colors > 256) return hb_img_fail(info, HB_IMG_CORRUPT, err, "bmp: palette of %u colours", colors); /* Pillow too */
    if (colors == 0 || colors > (1u << bpp)) colors = 1u << bpp; /* larger counts: the extra entries are never used */
    uint32_t esize = hsize == 12 ? 3 : 4;
    size_t pal_off = 14 + (size_t)hsize;
    if (pal_off + (size_t)colors * esize > n)
        return hb_img_fail(info, HB_IMG_TRUNCATED, err, "bmp: file ends inside the palette");
    uint8_t lut[256][3];
    memset(lut, 0, sizeof lut); /* an index past the palette is black, as in Pillow */
    for (uint32_t i = 0; i < colors; i++) {
        const uint8_t *e = p + pal_off + (size_t)i * esize;
        lut[i][0] = e[2], lut[i][1] = e[1], lut[i][2] = e[0];
    }
    int code = hb_sink_begin(s, w, h, 3, err);
    if (code) return hb_img_fail(info, HB_IMG_CORRUPT, err, "bmp: %s", err ? err->reason : "cannot start");
    size_t stride = ((size_t)w * bpp + 31) / 32 * 4;
    uint32_t mask = (1u << bpp) - 1;
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *src = p + off + stride * (topdown ? y : h - 1 - y);
        uint8_t *row = hb_sink_row(s);
        for (uint32_t x = 0; x < w; x++) {
            size_t bit = (size_t)x * bpp;
            uint32_t v = (uint32_t)(src[bit / 8] >> (8 - bpp - bit % 8)) & mask;
            memcpy(row + 3 * x, lut[v], 3);
        }
        hb_sink_push(s);
    }
    return 0;
}

int hb_decode_bmp(const uint8_t *p, size_t n, const hb_image_opts *o, hb_image_info *info, hb_sink *s, hb_err *err) {
    if (n < 26) return hb_img_fail(info, HB_IMG_TRUNCATED, err, "bmp: file ends inside the header");
    uint32_t off = le32(p + 10), hsize = le32(p + 14);
    int64_t w, h;
    uint32_t bpp, comp = 0;
    if (hsize == 12) {
        w = hb_le16(p + 18);
        h = hb_le16(p + 20);
        bpp = hb_le16(p + 24);
    } else if (hsize >= 40 && hsize <= 124) {
        if (n < 34) return hb_img_fail(info, HB_IMG_TRUNCATED, err, "bmp: file ends inside the header");
        w = (int32_t)le32(p + 18);
        h = (int32_t)le32(p + 22);
        bpp = hb_le16(p + 28);
        comp = le32(p + 30);
    } else {
        return hb_img_fail(info, HB_IMG_UNSUPPORTED, err, "bmp: header of %u bytes", hsize);
    }
    int topdown = h < 0;
    if (h < 0) h = -h;
    if (w <= 0 || h == 0) return hb_img_fail(info, HB_IMG_CORRUPT, err, "bmp: image size %lldx%lld", (long long)w, (long long)h);
    info->width = (uint32_t)(w > UINT32_MAX ? UINT32_MAX : w);
    info->height = (uint32_t)(h > UINT32_MAX ? UINT32_MAX : h);
    int code = hb_img_check_size(info, o, info->width, info->height, err);
    if (code) return code;
    if (comp == 1 || comp == 2) return hb_img_fail(info, HB_IMG_UNSUPPORTED, err, "bmp: RLE compression");
    if (comp != 0 && comp != 3 && comp != 6)
        return hb_img_fail(info, HB_IMG_UNSUPPORTED, err, "bmp: compression type %u", comp);
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
        return hb_img_fail(info, HB_IMG_UNSUPPORTED, err, "bmp: %u bits per pixel", bpp);
    uint64_t stride = ((uint64_t)w * bpp + 31) / 32 * 4;
    if (off < 14 + hsize || (uint64_t)off + stride * (uint64_t)h > n)
        return hb_img_fail(info, HB_IMG_TRUNCATED, err, "bmp: file of %zu bytes ends inside the pixel data (%llu needed)", n,
                           (unsigned long long)off + stride * (uint64_t)h);
    if (bpp <= 8 && comp == 0) return decode_palette(p, n, hsize, off, info->width, info->height, topdown, bpp, info, s, err);
    if (n > INT32_MAX) return hb_img_fail(info, HB_IMG_TOO_LARGE, err, "bmp: file over 2 GiB");
    int iw, ih, comps;
    uint8_t *img = stbi_load_from_memory(p, (int)n, &iw, &ih, &comps, 3);
    if (!img) return hb_img_fail(info, HB_IMG_CORRUPT, err, "bmp: %s", stbi_failure_reason());
    if ((uint32_t)iw != info->width || (uint32_t)ih != info->height) {
        stbi_image_free(img);
        return hb_img_fail(info, HB_IMG_CORRUPT, err, "bmp: decoded size %dx%d differs from the header", iw, ih);
    }
    if (bpp == 16) {
        /* BI_RGB is 5-5-5; bit fields follow a 40-byte header, or sit at the same offsets inside a V4/V5 header */
        uint32_t masks[3] = {0x7C00, 0x03E0, 0x001F};
        if (comp == 3 && hsize >= 40 && n >= 66)
            for (int c = 0; c < 3; c++) masks[c] = le32(p + 54 + 4 * c);
        pillow_16bit(img, (size_t)iw * ih, masks);
    }
    if ((code = hb_sink_begin(s, (uint32_t)iw, (uint32_t)ih, 3, err))) {
        stbi_image_free(img);
        return hb_img_fail(info, HB_IMG_CORRUPT, err, "bmp: %s", err ? err->reason : "cannot start");
    }
    for (int y = 0; y < ih; y++) {
        memcpy(hb_sink_row(s), img + (size_t)y * iw * 3, (size_t)iw * 3);
        hb_sink_push(s);
    }
    stbi_image_free(img);
    return 0;
}
