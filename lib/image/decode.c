/* Format detection, the decoders' common output (hb_sink), and the public decode / prepare entry points.
 * Dependencies: image_internal.h (decoders, hb_resizer), core/core.h (hb_err, hb_xmalloc), <stdarg.h>. */
#include "image_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *hb_imgfmt_name(int fmt) {
    switch (fmt) {
    case HB_IMGFMT_JPEG: return "jpeg";
    case HB_IMGFMT_PNG: return "png";
    case HB_IMGFMT_GIF: return "gif";
    case HB_IMGFMT_BMP: return "bmp";
    default: return "unknown";
    }
}

const char *hb_img_reject_name(int reason) {
    static const char *const names[HB_IMG_N_REASONS] = {"ok",        "missing", "unsafe-path", "empty",     "unsupported",
                                                        "truncated", "corrupt", "too-large",   "unreadable"};
    return reason >= 0 && reason < HB_IMG_N_REASONS ? names[reason] : "unknown";
}

hb_imgfmt hb_image_sniff(const uint8_t *p, size_t n) {
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return HB_IMGFMT_JPEG;
    if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return HB_IMGFMT_PNG;
    if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) return HB_IMGFMT_GIF;
    if (n >= 2 && p[0] == 'B' && p[1] == 'M') return HB_IMGFMT_BMP;
    return HB_IMGFMT_UNKNOWN;
}

/* Names of formats hb recognises but does not decode, for a clearer reject. */
static const char *other_format(const uint8_t *p, size_t n) {
    if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4)) return "WebP";
    if (n >= 4 && (!memcmp(p, "II*\0", 4) || !memcmp(p, "MM\0*", 4))) return "TIFF";
    if (n >= 12 && !memcmp(p + 4, "ftyp", 4)) return "HEIF/AVIF";
    if (n >= 4 && !memcmp(p, "\0\0\1\0", 4)) return "ICO";
    if (n >= 2 && p[0] == 0xFF && p[1] == 0x0A) return "JPEG XL";
    if (n >= 5 && (!memcmp(p, "<?xml", 5) || !memcmp(p, "<svg", 4))) return "SVG/XML";
    if (n >= 5 && (!memcmp(p, "<!DOC", 5) || !memcmp(p, "<html", 5))) return "HTML";
    return NULL;
}

int hb_img_fail(hb_image_info *info, int reject, hb_err *err, const char *fmt, ...) {
    info->reject = reject;
    char buf[sizeof err->reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    hb_code code = reject == HB_IMG_UNSUPPORTED ? HB_EUNSUPPORTED
                   : reject == HB_IMG_TOO_LARGE ? HB_ERANGE
                   : reject == HB_IMG_MISSING   ? HB_ENOTFOUND
                   : reject == HB_IMG_UNREADABLE ? HB_EIO
                                                 : HB_EFORMAT;
    return hb_err_set(err, code, NULL, HB_NOPOS, HB_NOPOS, "%s", buf);
}

int hb_img_check_size(hb_image_info *info, const hb_image_opts *o, uint32_t w, uint32_t h, hb_err *err) {
    if (w == 0 || h == 0) return hb_img_fail(info, HB_IMG_CORRUPT, err, "%s: zero image size %ux%u", hb_imgfmt_name(info->format), w, h);
    uint64_t limit = o && o->max_pixels ? o->max_pixels : HB_IMAGE_MAX_PIXELS;
    if ((uint64_t)w * h > limit)
        return hb_img_fail(info, HB_IMG_TOO_LARGE, err, "%s: %ux%u is %llu pixels, over the limit of %llu",
                           hb_imgfmt_name(info->format), w, h, (unsigned long long)w * h, (unsigned long long)limit);
    return 0;
}

/* ---- sink ---- */

int hb_sink_begin(hb_sink *s, uint32_t w, uint32_t h, uint32_t ch, hb_err *err) {
    s->w = w;
    s->h = h;
    s->ch = ch;
    s->y = 0;
    if (s->resize) return hb_resizer_init(&s->rs, w, h, ch, s->out_w, s->out_h, s->legacy, err);
    s->full = hb_xmalloc((size_t)w * h * 3 + 16);
    if (ch == 1) s->scratch = hb_xmalloc((size_t)w + 16);
    return 0;
}

uint8_t *hb_sink_row(hb_sink *s) {
    if (s->resize) return hb_resizer_row(&s->rs);
    if (s->ch == 1) return s->scratch;
    return s->full + (size_t)s->y * s->w * 3;
}

void hb_sink_push(hb_sink *s) {
    if (s->y >= s->h) return;
    if (s->resize) {
        hb_resizer_push(&s->rs);
    } else if (s->ch == 1) {
        uint8_t *o = s->full + (size_t)s->y * s->w * 3;
        for (uint32_t x = 0; x < s->w; x++) o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = s->scratch[x];
    }
    s->y++;
}

static void sink_free(hb_sink *s) {
    if (s->resize) hb_resizer_free(&s->rs);
    free(s->scratch);
    s->scratch = NULL;
}

static int run_decoder(const uint8_t *p, size_t n, const hb_image_opts *o, hb_image_info *info, hb_sink *s,
                       hb_err *err) {
    memset(info, 0, sizeof *info);
    if (n == 0) return hb_img_fail(info, HB_IMG_EMPTY, err, "empty file (0 bytes)");
    info->format = hb_image_sniff(p, n);
    switch (info->format) {
    case HB_IMGFMT_JPEG: return hb_decode_jpeg(p, n, o, info, s, err);
    case HB_IMGFMT_PNG: return hb_decode_png(p, n, o, info, s, err);
    case HB_IMGFMT_GIF: return hb_decode_gif(p, n, o, info, s, err);
    case HB_IMGFMT_BMP: return hb_decode_bmp(p, n, o, info, s, err);
    default: {
        const char *other = other_format(p, n);
        if (n < 1024 && hb_is_lfs_pointer(p, n))
            return hb_img_fail(info, HB_IMG_UNSUPPORTED, err,
                               "a Git LFS pointer, not the image (cloned without git-lfs: run `git lfs pull`)");
        if (other) return hb_img_fail(info, HB_IMG_UNSUPPORTED, err, "%s images are not supported", other);
        return hb_img_fail(info, HB_IMG_UNSUPPORTED, err,
                           "not an image hb can read (first bytes %02x %02x %02x %02x; expected JPEG, PNG, GIF or BMP)",
                           p[0], n > 1 ? p[1] : 0, n > 2 ? p[2] : 0, n > 3 ? p[3] : 0);
    }
    }
}

int hb_image_decode(const uint8_t *p, size_t n, const hb_image_opts *opts, hb_image_info *info, uint8_t **rgb,
                    hb_err *err) {
    hb_sink s;
    memset(&s, 0, sizeof s);
    *rgb = NULL;
    int code = run_decoder(p, n, opts, info, &s, err);
    if (!code && s.y != s.h)
        code = hb_img_fail(info, HB_IMG_CORRUPT, err, "%s: decoder produced %u of %u rows", hb_imgfmt_name(info->format), s.y, s.h);
    sink_free(&s);
    if (code) {
        free(s.full);
        return code;
    }
    *rgb = s.full;
    return 0;
}

int hb_image_prepare(const uint8_t *p, size_t n, uint32_t out_w, uint32_t out_h, const hb_image_opts *opts,
                     hb_image_info *info, uint8_t *out, hb_err *err) {
    if (out_w == 0 || out_h == 0)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "prepare: bad output size %ux%u", out_w, out_h);
    hb_sink s;
    memset(&s, 0, sizeof s);
    s.resize = 1;
    s.out_w = out_w;
    s.out_h = out_h;
    s.legacy = opts && opts->legacy_resize;
    int code = run_decoder(p, n, opts, info, &s, err);
    if (!code && s.y != s.h)
        code = hb_img_fail(info, HB_IMG_CORRUPT, err, "%s: decoder produced %u of %u rows", hb_imgfmt_name(info->format), s.y, s.h);
    if (!code) hb_resizer_finish(&s.rs, out, 3);
    sink_free(&s);
    return code;
}
