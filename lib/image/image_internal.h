/* lib/image internals shared by the decoders and the resizer; not part of the public API (image.h is).
 *
 * The decoders hand rows to a streaming resizer: the horizontal pass runs on each row as it is decoded, so only the
 * horizontally resized rows [in_h][out_w][ch] are kept, never the decoded image (unless a caller asks for it).
 *
 * Dependencies: image.h (hb_image_opts, hb_image_info), core/core.h (hb_err). */
#ifndef HB_IMAGE_INTERNAL_H
#define HB_IMAGE_INTERNAL_H

#include "image.h"

/* Fixed-point precision of Pillow's 8-bit resampling coefficients: 32 - 8 - 2 bits. */
#define HB_RESAMPLE_BITS 22

/* Pillow's coefficients for one axis: out_n windows, window o reads input positions [start[o], start[o] + len[o])
 * with weights coef[o * ksize + t] (t < ksize; zero past len[o]). */
typedef struct {
    uint32_t out_n, ksize;
    int32_t *start, *len;
    int32_t *coef;
} hb_resample_axis;

int hb_resample_axis_init(hb_resample_axis *ax, uint32_t in_n, uint32_t out_n, hb_err *err);
void hb_resample_axis_free(hb_resample_axis *ax);

/* Which pass runs first. Pillow <= 12 always resized horizontally first; Pillow 13 runs the vertical pass first
 * when the height shrinks by more than twice as many pixels as the width (out_h < in_h and
 * in_h - out_h > 2 * (in_w - out_w)). The order changes the rounding of the uint8 intermediate. */
int hb_resize_vertical_first(uint32_t in_w, uint32_t in_h, uint32_t out_w, uint32_t out_h, int legacy);

/* Test hook: 1 forces the portable scalar kernels instead of the AVX2 ones (they must give the same bytes). */
extern int hb_resize_force_scalar;

/* A streaming resize of an image with ch (1 or 3) channels from in_w x in_h to out_w x out_h. */
typedef struct {
    uint32_t in_w, in_h, out_w, out_h, ch;
    int need_h, need_v;        /* Pillow skips a pass whose size does not change */
    int vfirst;                /* vertical pass first (hb_resize_vertical_first) */
    int simd;                  /* AVX2 kernels */
    hb_resample_axis h, v;
    int32_t *hpair;            /* horizontal weights for the AVX2 RGB kernel, split into int16 halves (resize.c) */
    uint32_t *hpair_off;       /* per output: start of its weights in hpair, in 32-byte rows; [out_w] = total */
    uint32_t y_first, y_last;  /* input rows the vertical pass reads */
    uint32_t next_y;           /* rows pushed so far */
    size_t tmp_stride;         /* bytes per row of tmp */
    uint8_t *tmp;              /* horizontal first: rows [y_first, y_last) after the horizontal pass;
                                  vertical first: the finished output rows [out_h][out_w*ch] */
    int32_t *acc;              /* vertical first: accumulators of the output rows still open, a ring of n_acc rows */
    uint32_t n_acc;
    uint32_t next_open, next_close; /* vertical first: first output row not yet started / not yet finished */
    uint8_t *vrow;             /* vertical first: one vertically resized row before the horizontal pass */
    uint8_t *row;              /* padded buffer the decoder writes the next input row into */
    size_t row_cap;
} hb_resizer;

/* legacy: 1 = always horizontal first (Pillow <= 12, the Honeybee release). */
int hb_resizer_init(hb_resizer *r, uint32_t in_w, uint32_t in_h, uint32_t ch, uint32_t out_w, uint32_t out_h,
                    int legacy, hb_err *err);
/* The buffer for the next input row (in_w*ch bytes, plus padding the kernels may read). */
static inline uint8_t *hb_resizer_row(hb_resizer *r) { return r->row; }
/* Consume the row written into hb_resizer_row(r). Rows come in order, in_h of them. */
void hb_resizer_push(hb_resizer *r);
/* Consume an external row (in_w*ch bytes; copied when the kernel needs padding). */
void hb_resizer_push_row(hb_resizer *r, const uint8_t *row);
/* Vertical pass into out ([out_h][out_w][out_ch]); out_ch 3 from ch 1 replicates the gray value (as Pillow's
 * convert("RGB") of an L image before the resize would give). */
void hb_resizer_finish(hb_resizer *r, uint8_t *out, uint32_t out_ch);
void hb_resizer_free(hb_resizer *r);

/* A decoder's output: either rows into a resizer (prepare) or a whole RGB image (decode). */
typedef struct {
    int resize;           /* 1: rows go through rs to out_w x out_h; 0: into full */
    int legacy;           /* hb_image_opts.legacy_resize */
    uint32_t out_w, out_h;
    hb_resizer rs;        /* set up by hb_sink_begin when resize */
    uint8_t *full;        /* [h][w][3], allocated by hb_sink_begin when !resize (the caller frees it) */
    uint32_t w, h, ch;    /* set by hb_sink_begin */
    uint32_t y;           /* rows pushed */
    uint8_t *scratch;     /* one gray row before it is spread to RGB (!resize, ch 1) */
} hb_sink;

/* Called by a decoder once the size and channel count (1 gray, 3 RGB) are known. */
int hb_sink_begin(hb_sink *s, uint32_t w, uint32_t h, uint32_t ch, hb_err *err);
/* Where to write the next row (w*ch bytes). */
uint8_t *hb_sink_row(hb_sink *s);
void hb_sink_push(hb_sink *s);

/* Per-format decoders: fill info (format, width, height) first, check the pixel limit, then stream rows into the
 * sink. On failure they set info->reject and fill err. */
int hb_decode_jpeg(const uint8_t *p, size_t n, const hb_image_opts *o, hb_image_info *info, hb_sink *s, hb_err *err);
int hb_decode_png(const uint8_t *p, size_t n, const hb_image_opts *o, hb_image_info *info, hb_sink *s, hb_err *err);
int hb_decode_gif(const uint8_t *p, size_t n, const hb_image_opts *o, hb_image_info *info, hb_sink *s, hb_err *err);
int hb_decode_bmp(const uint8_t *p, size_t n, const hb_image_opts *o, hb_image_info *info, hb_sink *s, hb_err *err);

/* Set info->reject and the error in one go. */
int hb_img_fail(hb_image_info *info, int reject, hb_err *err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Checks w, h against the pixel limit (and zero sizes). */
int hb_img_check_size(hb_image_info *info, const hb_image_opts *o, uint32_t w, uint32_t h, hb_err *err);

#endif
