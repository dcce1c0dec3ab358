/* BMP decoding through stb_image (uncompressed and bit-field BMPs: 1, 4, 8, 16, 24 and 32 bits per pixel). The
 * header is checked here first, because stb_image reads past the end of a short buffer as zeros: a file shorter than
 * its pixel array is truncated (Pillow: "image file is truncated"). RLE-compressed and embedded JPEG/PNG BMPs are
 * unsupported. Alpha is dropped, as convert("RGB") drops it.
 *
 * Dependencies: image_internal.h (hb_sink, hb_img_fail, hb_img_check_size), stb_image.h (stbi_load_from_memory,
 * compiled here with only the BMP loader). */
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MAX_DIMENSIONS (1 << 20)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb_image.h>
#pragma GCC diagnostic pop

static uint32_t le32(const uint8_t *p) { return hb_le32(p); }

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
    if (n > INT32_MAX) return hb_img_fail(info, HB_IMG_TOO_LARGE, err, "bmp: file over 2 GiB");
    int iw, ih, comps;
    uint8_t *img = stbi_load_from_memory(p, (int)n, &iw, &ih, &comps, 3);
    if (!img) return hb_img_fail(info, HB_IMG_CORRUPT, err, "bmp: %s", stbi_failure_reason());
    if ((uint32_t)iw != info->width || (uint32_t)ih != info->height) {
        stbi_image_free(img);
        return hb_img_fail(info, HB_IMG_CORRUPT, err, "bmp: decoded size %dx%d differs from the header", iw, ih);
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
