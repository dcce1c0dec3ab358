/* PNG decoding through libpng, to RGB as Pillow's convert("RGB") gives it:
 *   gray 1/2/4-bit scaled to 8 bits (x255, x85, x17); gray 16-bit ("I;16") clipped to 255, not scaled;
 *   gray+alpha and RGBA: alpha dropped (not composited); 16-bit RGB(A) and gray+alpha: the high byte;
 *   palette: looked up (an index past the palette is black), transparency ignored; gAMA, iCCP, sBIT ignored.
 * libpng checks every chunk CRC and the zlib checksum; a stream that ends before the last row is truncated. What comes
 * after the image data (text chunks, IEND) is not needed: damage there is ignored, as Pillow ignores it.
 * Also the PNG writer used by hb-inspect.
 *
 * Dependencies: image_internal.h (hb_sink, hb_img_fail, hb_img_check_size), <png.h> (libpng 1.6), <setjmp.h>,
 * core/core.h (hb_afile for the atomic writer). */
#include "image_internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t n, pos;
    int truncated;
    char msg[160];
} png_src;

static void src_read(png_structp png, png_bytep out, size_t len) {
    png_src *s = png_get_io_ptr(png);
    if (len > s->n - s->pos) {
        s->truncated = 1;
        png_error(png, "unexpected end of file");
    }
    memcpy(out, s->p + s->pos, len);
    s->pos += len;
}

static void on_error(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* A 16-bit gray row (big-endian) to 8 bits the way Pillow converts "I;16" to L or RGB: values over 255 clip. */
static void gray16_row(const uint8_t *in, uint8_t *out, uint32_t w) {
    for (uint32_t x = 0; x < w; x++) {
        unsigned v = (unsigned)in[2 * x] << 8 | in[2 * x + 1];
        out[x] = (uint8_t)(v > 255 ? 255 : v);
    }
}

int hb_decode_png(const uint8_t *p, size_t n, const hb_image_opts *o, hb_image_info *info, hb_sink *s, hb_err *err) {
    png_src src = {.p = p, .n = n};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    if (!png) return hb_img_fail(info, HB_IMG_CORRUPT, err, "png: cannot create a reader");
    png_infop pi = png_create_info_struct(png);
    uint8_t *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    volatile int rows_done = 0;
    if (!pi || setjmp(png_jmpbuf(png))) {
        free(buf);
        free(rows);
        png_destroy_read_struct(&png, pi ? &pi : NULL, NULL);
        /* Pillow stops at the image data: chunks after it that are cut or damaged (even a missing IEND) are ignored */
        if (rows_done) return 0;
        int why = src.truncated ? HB_IMG_TRUNCATED : HB_IMG_CORRUPT;
        return hb_img_fail(info, why, err, "png: %s", src.msg[0] ? src.msg : "cannot decode");
    }
    png_set_read_fn(png, &src, src_read);
    /* Pillow refuses a file whose chunks before the image data have a bad CRC, ancillary ones included (libpng would
     * only warn about those); it does not check IDAT's CRC, which hb does (a damaged checksum means damaged data). */
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    png_read_info(png, pi);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, pi, &w, &h, &depth, &color, &interlace, NULL, NULL);
    info->width = w;
    info->height = h;
    int code = hb_img_check_size(info, o, w, h, err);
    if (code) {
        png_destroy_read_struct(&png, &pi, NULL);
        return code;
    }
    int gray16 = 0;
    uint32_t ch;
    switch (color) {
    case PNG_COLOR_TYPE_GRAY:
        ch = 1;
        if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (depth == 16) gray16 = 1;
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        ch = 1;
        png_set_strip_alpha(png);
        if (depth == 16) png_set_strip_16(png);
        break;
    case PNG_COLOR_TYPE_PALETTE:
        ch = 3;
        png_set_palette_to_rgb(png); /* also turns a tRNS chunk into alpha, which is then dropped */
        if (png_get_valid(png, pi, PNG_INFO_tRNS)) png_set_strip_alpha(png);
        break;
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_RGB_ALPHA:
        ch = 3;
        if (color == PNG_COLOR_TYPE_RGB_ALPHA) png_set_strip_alpha(png);
        if (depth == 16) png_set_strip_16(png);
        break;
    default:
        png_destroy_read_struct(&png, &pi, NULL);
        return hb_img_fail(info, HB_IMG_CORRUPT, err, "png: colour type %d", color);
    }
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, pi);
    size_t rowbytes = png_get_rowbytes(png, pi);
    size_t need = gray16 ? (size_t)w * 2 : (size_t)w * ch;
    if (rowbytes != need) {
        png_destroy_read_struct(&png, &pi, NULL);
        return hb_img_fail(info, HB_IMG_CORRUPT, err, "png: unexpected row size %zu (expected %zu)", rowbytes, need);
    }
    if ((code = hb_sink_begin(s, w, h, ch, err))) {
        png_destroy_read_struct(&png, &pi, NULL);
        return hb_img_fail(info, HB_IMG_CORRUPT, err, "png: %s", err ? err->reason : "cannot start");
    }
    if (passes == 1) {
        if (gray16) buf = hb_xmalloc(rowbytes);
        for (uint32_t y = 0; y < h; y++) {
            uint8_t *dst = hb_sink_row(s);
            png_read_row(png, gray16 ? buf : dst, NULL);
            if (gray16) gray16_row(buf, dst, w);
            hb_sink_push(s);
        }
    } else {
        /* Interlaced: Adam7 needs the whole image before any row is final. */
        buf = hb_xmalloc(rowbytes * h);
        rows = hb_xmalloc(sizeof(png_bytep) * h);
        for (uint32_t y = 0; y < h; y++) rows[y] = buf + rowbytes * y;
        png_read_image(png, rows);
        for (uint32_t y = 0; y < h; y++) {
            uint8_t *dst = hb_sink_row(s);
            if (gray16) gray16_row(rows[y], dst, w);
            else memcpy(dst, rows[y], rowbytes);
            hb_sink_push(s);
        }
    }
    rows_done = 1;
    png_read_end(png, NULL);
    free(buf);
    free(rows);
    buf = NULL;
    rows = NULL;
    png_destroy_read_struct(&png, &pi, NULL);
    return 0;
}

/* ---- writer ---- */

typedef struct {
    hb_afile f;
    hb_err *err;
    int failed;
    char msg[160];
} png_dst;

static void dst_write(png_structp png, png_bytep data, size_t len) {
    png_dst *d = png_get_io_ptr(png);
    if (!d->failed && hb_afile_write(&d->f, data, len, d->err)) d->failed = 1;
}

static void dst_flush(png_structp png) { (void)png; }

static void on_write_error(png_structp png, png_const_charp msg) {
    png_dst *d = png_get_error_ptr(png);
    snprintf(d->msg, sizeof d->msg, "%s", msg);
    png_longjmp(png, 1);
}

int hb_image_write_png(const char *path, const uint8_t *rgb, uint32_t w, uint32_t h, hb_err *err) {
    png_dst d = {.err = err};
    int code = hb_afile_open(&d.f, path, err);
    if (code) return code;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &d, on_write_error, on_warning);
    png_infop pi = png ? png_create_info_struct(png) : NULL;
    if (!png || !pi || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, pi ? &pi : NULL);
        hb_afile_abort(&d.f);
        return hb_err_set(err, HB_EIO, path, HB_NOPOS, HB_NOPOS, "png: %s", d.msg[0] ? d.msg : "cannot write");
    }
    png_set_write_fn(png, &d, dst_write, dst_flush);
    png_set_IHDR(png, pi, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, pi);
    for (uint32_t y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &pi);
    if (d.failed) {
        hb_afile_abort(&d.f);
        return HB_EIO;
    }
    return hb_afile_commit(&d.f, err);
}
