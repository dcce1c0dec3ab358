/* JPEG decoding through libjpeg(-turbo), the way Pillow's JpegDecoder does it: ISLOW integer DCT, fancy upsampling,
 * output in RGB for YCbCr/RGB files, gray for 1-component files, and CMYK with Adobe (inverted) polarity for
 * 4-component files, which then go to RGB with Pillow's cmyk2rgb. A file whose data runs out while rows are still
 * being decoded is truncated (Pillow: "image file is truncated"; libjpeg reads ahead, so a file missing only its
 * end-of-image marker is truncated too); once every row is out, Pillow stops caring about what follows, and so does
 * hb. libjpeg's other warnings (corrupt data it can step over) are accepted, as Pillow accepts them.
 *
 * Dependencies: image_internal.h (hb_sink, hb_img_fail, hb_img_check_size), <jpeglib.h>/<jerror.h> (libjpeg API,
 * message codes), <setjmp.h> (libjpeg reports fatal errors through error_exit, which must not return). */
#include "image_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* TurboJPEG refuses progressive files with more scans than this (TJFLAG_LIMITSCANS); a scan bomb is corrupt. */
#define MAX_SCANS 500

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;    /* the data ended before the last row was decoded (JWRN_JPEG_EOF) */
    int rows_done;    /* every row is out: running out of data now only cuts what follows the image */
    int fatal_code;   /* msg_code of the fatal error */
    char fatal[JMSG_LENGTH_MAX];
} jerr_t;

static void on_error(j_common_ptr c) {
    jerr_t *e = (jerr_t *)c->err;
    e->fatal_code = e->pub.msg_code;
    (*c->err->format_message)(c, e->fatal);
    longjmp(e->jump, 1);
}

static void on_message(j_common_ptr c, int level) {
    jerr_t *e = (jerr_t *)c->err;
    if (level < 0 && e->pub.msg_code == JWRN_JPEG_EOF && !e->rows_done) e->truncated = 1;
    if (level < 0) e->pub.num_warnings++;
}

static void on_progress(j_common_ptr c) {
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number > MAX_SCANS) {
        c->err->msg_code = JERR_NOTIMPL;
        jerr_t *e = (jerr_t *)c->err;
        e->fatal_code = -1;
        snprintf(e->fatal, sizeof e->fatal, "more than %d progressive scans", MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

/* Pillow's cmyk2rgb: with nk = 255 - k, each channel is clip(nk - round(c * nk / 255)) (MULDIV255). */
static void cmyk_to_rgb(const uint8_t *in, uint8_t *out, uint32_t w) {
    for (uint32_t x = 0; x < w; x++) {
        /* Adobe polarity: libjpeg hands over inverted values ("CMYK;I" in Pillow). */
        int c = 255 - in[4 * x], m = 255 - in[4 * x + 1], y = 255 - in[4 * x + 2], k = 255 - in[4 * x + 3];
        int nk = 255 - k, t;
        t = c * nk + 128;
        int r = nk - (((t >> 8) + t) >> 8);
        t = m * nk + 128;
        int g = nk - (((t >> 8) + t) >> 8);
        t = y * nk + 128;
        int b = nk - (((t >> 8) + t) >> 8);
        out[3 * x] = (uint8_t)(r < 0 ? 0 : r);
        out[3 * x + 1] = (uint8_t)(g < 0 ? 0 : g);
        out[3 * x + 2] = (uint8_t)(b < 0 ? 0 : b);
    }
}

static int unsupported_code(int code) {
    return code == JERR_BAD_PRECISION || code == JERR_NOT_COMPILED || code == JERR_CONVERSION_NOTIMPL ||
           code == JERR_BAD_J_COLORSPACE || code == JERR_NOTIMPL;
}

/* The scale libjpeg may apply in fast mode: the largest 1/d with ceil(w/d) >= out_w and ceil(h/d) >= out_h. */
static unsigned fast_denom(uint32_t w, uint32_t h, uint32_t out_w, uint32_t out_h) {
    for (unsigned d = 8; d > 1; d /= 2)
        if ((w + d - 1) / d >= out_w && (h + d - 1) / d >= out_h) return d;
    return 1;
}

int hb_decode_jpeg(const uint8_t *p, size_t n, const hb_image_opts *o, hb_image_info *info, hb_sink *s, hb_err *err) {
    struct jpeg_decompress_struct c;
    struct jpeg_progress_mgr prog = {.progress_monitor = on_progress};
    jerr_t e;
    memset(&e, 0, sizeof e);
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = on_error;
    e.pub.emit_message = on_message;
    /* volatile: read after longjmp */
    uint8_t *volatile cmyk = NULL;
    if (setjmp(e.jump)) {
        free(cmyk);
        jpeg_destroy_decompress(&c);
        int why = e.fatal_code > 0 && unsupported_code(e.fatal_code) ? HB_IMG_UNSUPPORTED : HB_IMG_CORRUPT;
        if (e.truncated) why = HB_IMG_TRUNCATED;
        return hb_img_fail(info, why, err, "jpeg: %s", e.fatal);
    }
    jpeg_create_decompress(&c);
    c.progress = &prog;
    jpeg_mem_src(&c, p, (unsigned long)n);
    jpeg_read_header(&c, TRUE);
    info->width = c.image_width;
    info->height = c.image_height;
    int code = hb_img_check_size(info, o, c.image_width, c.image_height, err);
    if (code) {
        jpeg_destroy_decompress(&c);
        return code;
    }
    uint32_t ch;
    switch (c.jpeg_color_space) {
    case JCS_GRAYSCALE: c.out_color_space = JCS_GRAYSCALE; ch = 1; break;
    case JCS_YCbCr:
    case JCS_RGB: c.out_color_space = JCS_RGB; ch = 3; break;
    case JCS_CMYK:
    case JCS_YCCK: c.out_color_space = JCS_CMYK; ch = 3; break;
    default:
        jpeg_destroy_decompress(&c);
        return hb_img_fail(info, HB_IMG_UNSUPPORTED, err, "jpeg: %d-component colour space %d", c.num_components,
                           (int)c.jpeg_color_space);
    }
    c.dct_method = JDCT_ISLOW;
    c.do_fancy_upsampling = TRUE;
    if (o && o->fast && s->resize) {
        c.scale_num = 1;
        c.scale_denom = fast_denom(c.image_width, c.image_height, s->out_w, s->out_h);
    }
    jpeg_start_decompress(&c);
    if ((code = hb_sink_begin(s, c.output_width, c.output_height, ch, err))) {
        jpeg_destroy_decompress(&c);
        return hb_img_fail(info, HB_IMG_CORRUPT, err, "%s", err ? err->reason : "jpeg: cannot start");
    }
    int is_cmyk = c.out_color_space == JCS_CMYK;
    if (is_cmyk) cmyk = hb_xmalloc((size_t)c.output_width * 4);
    while (c.output_scanline < c.output_height) {
        uint8_t *row = is_cmyk ? cmyk : hb_sink_row(s);
        JSAMPROW rp = row;
        if (jpeg_read_scanlines(&c, &rp, 1) != 1) break;
        if (is_cmyk) cmyk_to_rgb(cmyk, hb_sink_row(s), c.output_width);
        hb_sink_push(s);
        if (e.truncated) break;
    }
    e.rows_done = c.output_scanline == c.output_height;
    if (!e.truncated) jpeg_finish_decompress(&c);
    free(cmyk);
    cmyk = NULL;
    jpeg_destroy_decompress(&c);
    if (e.truncated) return hb_img_fail(info, HB_IMG_TRUNCATED, err, "jpeg: premature end of data (image file is truncated)");
    return 0;
}
