/* Pillow's antialiased bicubic resize (Image.resize(size, Image.BICUBIC)), bit for bit, as a streaming resizer.
 *
 * What Pillow does (src/libImaging/Resample.c, the facts this file reproduces):
 *   - per axis, scale = in/out, filterscale = max(scale, 1), support = 2 * filterscale (bicubic, a = -0.5);
 *     output o has centre (o + 0.5) * scale and reads inputs [(int)(centre - support + 0.5),
 *     (int)(centre + support + 0.5)) clipped to the image, weights filter((i - centre + 0.5) / filterscale)
 *     normalised to sum 1, then rounded half away from zero to 22-bit fixed point;
 *   - two passes, each output value (2^21 + sum(pixel * weight)) >> 22 clipped to 0..255, so the intermediate image
 *     is uint8; a pass whose size does not change is skipped;
 *   - the horizontal pass runs first (Pillow <= 12 always; Pillow 13 unless hb_resize_vertical_first says otherwise).
 * Integer sums are exact in any order, so the AVX2 kernels give the same bytes as the scalar ones and as Pillow.
 *
 * Streaming: rows arrive one at a time from a decoder. Horizontal first: each row is resized horizontally on arrival
 * and kept ([rows][out_w][ch]); the vertical pass runs at the end. Vertical first: each row is added into the int32
 * accumulators of the (at most a handful of) output rows whose windows contain it; an output row is finished,
 * clipped and resized horizontally as soon as its window is complete.
 *
 * Dependencies: image_internal.h (hb_resizer, hb_resample_axis), core/core.h (hb_xmalloc, hb_err), <math.h> (ceil),
 * <immintrin.h> (AVX2 kernels on x86-64, chosen at run time with __builtin_cpu_supports). */
#include "image_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HB_HAVE_AVX2_KERNELS 1
#endif

int hb_resize_force_scalar = 0;

#define HALF (1 << (HB_RESAMPLE_BITS - 1))

static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

int hb_resample_axis_init(hb_resample_axis *ax, uint32_t in_n, uint32_t out_n, hb_err *err) {
    memset(ax, 0, sizeof *ax);
    if (in_n == 0 || out_n == 0 || in_n > (1u << 30) || out_n > (1u << 30))
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "resize: bad size %u -> %u", in_n, out_n);
    /* Pillow passes the box as floats: in1 - in0 is computed in float, then widened. */
    double scale = (double)((float)in_n - 0.0f) / out_n;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    uint64_t ksize = (uint64_t)ceil(support) * 2 + 1;
    if (ksize * out_n > (1ull << 31))
        return hb_err_set(err, HB_ERANGE, NULL, HB_NOPOS, HB_NOPOS, "resize: %u -> %u needs too many coefficients",
                          in_n, out_n);
    ax->out_n = out_n;
    ax->ksize = (uint32_t)ksize;
    ax->start = hb_xmalloc(sizeof(int32_t) * out_n);
    ax->len = hb_xmalloc(sizeof(int32_t) * out_n);
    ax->coef = hb_xcalloc(ksize * out_n, sizeof(int32_t));
    double *w = hb_xmalloc(sizeof(double) * ksize);
    double inv = 1.0 / filterscale;
    for (uint32_t o = 0; o < out_n; o++) {
        double center = 0.0 + (o + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > (int)in_n) xmax = (int)in_n;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = bicubic((x + xmin - center + 0.5) * inv);
            ww += w[x];
        }
        int32_t *k = ax->coef + (size_t)o * ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << HB_RESAMPLE_BITS)) : (int32_t)(0.5 + v * (1 << HB_RESAMPLE_BITS));
        }
        ax->start[o] = xmin;
        ax->len[o] = xmax;
    }
    free(w);
    return 0;
}

void hb_resample_axis_free(hb_resample_axis *ax) {
    free(ax->start);
    free(ax->len);
    free(ax->coef);
    memset(ax, 0, sizeof *ax);
}

int hb_resize_vertical_first(uint32_t in_w, uint32_t in_h, uint32_t out_w, uint32_t out_h, int legacy) {
    if (legacy || out_w == in_w || out_h == in_h) return 0;
    return out_h < in_h && (int64_t)in_h - out_h > 2 * ((int64_t)in_w - out_w);
}

static inline uint8_t clip8(int32_t v) {
    v >>= HB_RESAMPLE_BITS; /* arithmetic shift, as Pillow's lookup index */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* ---- scalar kernels (any CPU) ---- */

static void hpass_scalar(const uint8_t *row, uint8_t *out, const hb_resample_axis *ax, uint32_t ch) {
    for (uint32_t o = 0; o < ax->out_n; o++) {
        const uint8_t *p = row + (size_t)ax->start[o] * ch;
        const int32_t *k = ax->coef + (size_t)o * ax->ksize;
        int32_t n = ax->len[o];
        for (uint32_t c = 0; c < ch; c++) {
            int32_t acc = HALF;
            for (int32_t t = 0; t < n; t++) acc += p[t * ch + c] * k[t];
            out[o * ch + c] = clip8(acc);
        }
    }
}

static void acc_add_scalar(int32_t *acc, const uint8_t *src, size_t n, int32_t k) {
    for (size_t i = 0; i < n; i++) acc[i] += src[i] * k;
}

static void acc_clip_scalar(const int32_t *acc, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = clip8(acc[i]);
}

/* ---- AVX2 kernels ---- */
#ifdef HB_HAVE_AVX2_KERNELS
/* RGB with 16-bit multiply-adds, four taps per 256-bit vector. A weight k (22-bit fixed point) is split into
 * kh = k >> 11 and kl = k & 2047, both int16, so sum(p * k) = 2^11 * sum(p * kh) + sum(p * kl) exactly (mod 2^32,
 * and the true sum fits in int32). Each 128-bit lane holds two taps of one output pixel as int16 pairs
 * [R_t R_t+1 G_t G_t+1 B_t B_t+1 0 0]; vpmaddwd multiplies them by [kh_t kh_t+1] (or kl) and adds each pair.
 * The row is padded, so the 16-byte loads past the last pixel read zeros or bytes that meet zero weights. */
/* The weighted sum of output o as 8 int32 lanes: low 128 bits taps (t, t+1) of each group, high 128 bits (t+2, t+3),
 * per channel R, G, B, pad; kh sums already shifted into place. */
__attribute__((target("avx2"))) static inline __m256i hsum_rgb(const uint8_t *p, const __m256i *k, uint32_t groups,
                                                              __m256i shuf) {
    __m256i ah = _mm256_setzero_si256(), al = _mm256_setzero_si256();
    for (uint32_t g = 0; g < groups; g++) {
        __m256i px = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(p + 12 * g))), shuf);
        ah = _mm256_add_epi32(ah, _mm256_madd_epi16(px, _mm256_loadu_si256(k + 2 * g)));
        al = _mm256_add_epi32(al, _mm256_madd_epi16(px, _mm256_loadu_si256(k + 2 * g + 1)));
    }
    return _mm256_add_epi32(_mm256_slli_epi32(ah, 11), al);
}

__attribute__((target("avx2"))) static void hpass_rgb_avx2(const uint8_t *row, uint8_t *out, const hb_resizer *r) {
    const hb_resample_axis *ax = &r->h;
    const __m256i shuf = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, /* taps t, t+1 */
                                          6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1 /* t+2, t+3 */);
    const __m256i half = _mm256_set1_epi32(HALF);
    const __m256i *k = (const __m256i *)r->hpair;
    uint32_t o = 0, n = ax->out_n;
    for (; o + 2 <= n; o += 2) { /* two outputs share the reduction, rounding and packing */
        const uint32_t *off = r->hpair_off + o;
        __m256i a = hsum_rgb(row + (size_t)ax->start[o] * 3, k + off[0], (off[1] - off[0]) / 2, shuf);
        __m256i b = hsum_rgb(row + (size_t)ax->start[o + 1] * 3, k + off[1], (off[2] - off[1]) / 2, shuf);
        __m256i v = _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
        v = _mm256_srai_epi32(_mm256_add_epi32(v, half), HB_RESAMPLE_BITS);
        v = _mm256_packs_epi32(v, v);
        v = _mm256_packus_epi16(v, v); /* bytes 0-2: output o; bytes 16-18: output o + 1 */
        uint32_t pa = (uint32_t)_mm256_extract_epi32(v, 0), pb = (uint32_t)_mm256_extract_epi32(v, 4);
        memcpy(out + 3 * o, &pa, 3);
        memcpy(out + 3 * o + 3, &pb, 3);
    }
    for (; o < n; o++) {
        const uint32_t *off = r->hpair_off + o;
        __m256i a = hsum_rgb(row + (size_t)ax->start[o] * 3, k + off[0], (off[1] - off[0]) / 2, shuf);
        __m128i v = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        v = _mm_srai_epi32(_mm_add_epi32(v, _mm_set1_epi32(HALF)), HB_RESAMPLE_BITS);
        v = _mm_packs_epi32(v, v);
        uint32_t px4 = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(v, v));
        memcpy(out + 3 * o, &px4, 3);
    }
}

__attribute__((target("avx2"))) static void acc_add_avx2(int32_t *acc, const uint8_t *src, size_t n, int32_t k) {
    __m256i kv = _mm256_set1_epi32(k);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i px = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(src + i)));
        __m256i a = _mm256_loadu_si256((const __m256i *)(acc + i));
        _mm256_storeu_si256((__m256i *)(acc + i), _mm256_add_epi32(a, _mm256_mullo_epi32(px, kv)));
    }
    for (; i < n; i++) acc[i] += src[i] * k;
}

/* Two taps at once: halves the accumulator traffic of the vertical pass. */
__attribute__((target("avx2"))) static void acc_add2_avx2(int32_t *acc, const uint8_t *s0, const uint8_t *s1, size_t n,
                                                         int32_t k0, int32_t k1) {
    __m256i kv0 = _mm256_set1_epi32(k0), kv1 = _mm256_set1_epi32(k1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(acc + i));
        __m256i x0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(s0 + i)));
        __m256i x1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(s1 + i)));
        a = _mm256_add_epi32(a, _mm256_mullo_epi32(x0, kv0));
        a = _mm256_add_epi32(a, _mm256_mullo_epi32(x1, kv1));
        _mm256_storeu_si256((__m256i *)(acc + i), a);
    }
    for (; i < n; i++) acc[i] += s0[i] * k0 + s1[i] * k1;
}

__attribute__((target("avx2"))) static void acc_clip_avx2(const int32_t *acc, uint8_t *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i a = _mm_srai_epi32(_mm_loadu_si128((const __m128i *)(acc + i)), HB_RESAMPLE_BITS);
        __m128i b = _mm_srai_epi32(_mm_loadu_si128((const __m128i *)(acc + i + 4)), HB_RESAMPLE_BITS);
        __m128i w16 = _mm_packs_epi32(a, b);
        _mm_storel_epi64((__m128i *)(out + i), _mm_packus_epi16(w16, w16));
    }
    for (; i < n; i++) out[i] = clip8(acc[i]);
}
#endif

static int use_simd(void) {
#ifdef HB_HAVE_AVX2_KERNELS
    return !hb_resize_force_scalar && __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

/* ---- dispatch ---- */

static void hpass(const hb_resizer *r, const uint8_t *row, uint8_t *out) {
#ifdef HB_HAVE_AVX2_KERNELS
    if (r->simd && r->ch == 3) {
        hpass_rgb_avx2(row, out, r);
        return;
    }
#endif
    hpass_scalar(row, out, &r->h, r->ch);
}

static void acc_add(const hb_resizer *r, int32_t *acc, const uint8_t *src, size_t n, int32_t k) {
#ifdef HB_HAVE_AVX2_KERNELS
    if (r->simd) {
        acc_add_avx2(acc, src, n, k);
        return;
    }
#endif
    acc_add_scalar(acc, src, n, k);
}

static void acc_clip(const hb_resizer *r, const int32_t *acc, uint8_t *out, size_t n) {
#ifdef HB_HAVE_AVX2_KERNELS
    if (r->simd) {
        acc_clip_avx2(acc, out, n);
        return;
    }
#endif
    acc_clip_scalar(acc, out, n);
}

/* One output row of the vertical pass over rows src[0..taps) (stride bytes apart), n values per row. */
static void vpass_row(const hb_resizer *r, const uint8_t *src, size_t stride, size_t n, const int32_t *k, int32_t taps,
                      int32_t *acc, uint8_t *out) {
    for (size_t i = 0; i < n; i++) acc[i] = HALF;
    int32_t t = 0;
#ifdef HB_HAVE_AVX2_KERNELS
    if (r->simd)
        for (; t + 2 <= taps; t += 2) acc_add2_avx2(acc, src + (size_t)t * stride, src + (size_t)(t + 1) * stride, n, k[t], k[t + 1]);
#endif
    for (; t < taps; t++) acc_add(r, acc, src + (size_t)t * stride, n, k[t]);
    acc_clip(r, acc, out, n);
}

/* ---- the streaming resizer ---- */

int hb_resizer_init(hb_resizer *r, uint32_t in_w, uint32_t in_h, uint32_t ch, uint32_t out_w, uint32_t out_h,
                    int legacy, hb_err *err) {
    memset(r, 0, sizeof *r);
    if (ch != 1 && ch != 3) return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "resize: %u channels", ch);
    r->in_w = in_w;
    r->in_h = in_h;
    r->ch = ch;
    r->out_w = out_w;
    r->out_h = out_h;
    r->need_h = out_w != in_w;
    r->need_v = out_h != in_h;
    r->vfirst = hb_resize_vertical_first(in_w, in_h, out_w, out_h, legacy);
    r->simd = use_simd();
    int code = hb_resample_axis_init(&r->v, in_h, out_h, err);
    if (!code && r->need_h) code = hb_resample_axis_init(&r->h, in_w, out_w, err);
    if (code) {
        hb_resizer_free(r);
        return code;
    }
    uint32_t kpad = r->need_h ? r->h.ksize : 0;
    r->row_cap = (size_t)in_w * ch + 3 * (size_t)kpad + 32;
    r->row = hb_xcalloc(r->row_cap, 1);
    if (r->need_h && ch == 3 && r->simd) {
        /* Per output: its taps in groups of 4, each group two 256-bit rows of int16 (kh pairs, then kl pairs),
         * lane layout [t, t+1] x 4 in the low 128 bits and [t+2, t+3] x 4 in the high 128 bits. hpair_off counts
         * 32-byte rows / 1 (in units of 8 int32). */
        r->hpair_off = hb_xmalloc(sizeof(uint32_t) * (out_w + 1));
        uint32_t total = 0;
        for (uint32_t o = 0; o < out_w; o++) {
            r->hpair_off[o] = total;
            total += 2 * (((uint32_t)r->h.len[o] + 3) / 4);
        }
        r->hpair_off[out_w] = total;
        r->hpair = hb_xcalloc((size_t)total * 8 + 8, sizeof(int32_t));
        for (uint32_t o = 0; o < out_w; o++) {
            int16_t *dst = (int16_t *)(r->hpair + (size_t)r->hpair_off[o] * 8);
            const int32_t *k = r->h.coef + (size_t)o * r->h.ksize;
            uint32_t len = (uint32_t)r->h.len[o], groups = (len + 3) / 4;
            for (uint32_t g = 0; g < groups; g++) {
                int16_t *kh = dst + 32 * g, *kl = kh + 16;
                for (uint32_t j = 0; j < 4; j++) {
                    uint32_t t = 4 * g + j;
                    int32_t kv = t < len ? k[t] : 0;
                    int16_t hi = (int16_t)(kv >> 11), lo = (int16_t)(kv & 2047);
                    uint32_t lane = j / 2, pos = j % 2; /* 128-bit lane, position in the pair */
                    for (uint32_t c = 0; c < 4; c++) {
                        kh[8 * lane + 2 * c + pos] = hi;
                        kl[8 * lane + 2 * c + pos] = lo;
                    }
                }
            }
        }
    }
    uint32_t tw = r->need_h ? out_w : in_w;
    r->tmp_stride = (size_t)tw * ch;
    if (r->vfirst) {
        /* The most output rows whose windows share one input row: the accumulator ring's size. */
        uint32_t most = 1;
        for (uint32_t a = 0, b = 0; a < out_h; a++) {
            while (b < out_h && r->v.start[b] < r->v.start[a] + r->v.len[a]) b++;
            if (b - a > most) most = b - a;
        }
        r->n_acc = most;
        r->acc = hb_xmalloc(sizeof(int32_t) * ((size_t)in_w * ch * most + 8));
        r->vrow = hb_xcalloc((size_t)in_w * ch + 3 * (size_t)kpad + 32, 1);
        r->tmp = hb_xmalloc(r->tmp_stride * out_h + 8);
    } else {
        /* Rows the vertical pass reads: from the first window's start to the last window's end. */
        r->y_first = (uint32_t)r->v.start[0];
        r->y_last = (uint32_t)(r->v.start[out_h - 1] + r->v.len[out_h - 1]);
        r->tmp = hb_xmalloc(r->tmp_stride * (r->y_last - r->y_first) + 8);
    }
    return 0;
}

static void push_vertical_first(hb_resizer *r, uint32_t y) {
    size_t n = (size_t)r->in_w * r->ch;
    const hb_resample_axis *v = &r->v;
    while (r->next_open < r->out_h && (uint32_t)v->start[r->next_open] <= y) {
        int32_t *a = r->acc + (size_t)(r->next_open % r->n_acc) * n;
        for (size_t i = 0; i < n; i++) a[i] = HALF;
        r->next_open++;
    }
    for (uint32_t yy = r->next_close; yy < r->next_open; yy++)
        acc_add(r, r->acc + (size_t)(yy % r->n_acc) * n, r->row, n, v->coef[(size_t)yy * v->ksize + (y - (uint32_t)v->start[yy])]);
    while (r->next_close < r->next_open && (uint32_t)(v->start[r->next_close] + v->len[r->next_close]) <= y + 1) {
        uint32_t yy = r->next_close++;
        acc_clip(r, r->acc + (size_t)(yy % r->n_acc) * n, r->vrow, n);
        hpass(r, r->vrow, r->tmp + (size_t)yy * r->tmp_stride);
    }
}

void hb_resizer_push(hb_resizer *r) {
    uint32_t y = r->next_y++;
    if (y >= r->in_h) return;
    if (r->vfirst) {
        push_vertical_first(r, y);
        return;
    }
    if (y < r->y_first || y >= r->y_last) return;
    uint8_t *dst = r->tmp + (size_t)(y - r->y_first) * r->tmp_stride;
    if (!r->need_h) memcpy(dst, r->row, r->tmp_stride);
    else hpass(r, r->row, dst);
}

void hb_resizer_push_row(hb_resizer *r, const uint8_t *row) {
    memcpy(r->row, row, (size_t)r->in_w * r->ch);
    hb_resizer_push(r);
}

void hb_resizer_finish(hb_resizer *r, uint8_t *out, uint32_t out_ch) {
    size_t n = r->tmp_stride; /* out_w * ch */
    uint8_t *line = out_ch == r->ch ? NULL : hb_xmalloc(n);
    int32_t *acc = r->vfirst ? NULL : hb_xmalloc(sizeof(int32_t) * n + 64);
    for (uint32_t yy = 0; yy < r->out_h; yy++) {
        uint8_t *dst = line ? line : out + (size_t)yy * r->out_w * out_ch;
        if (r->vfirst || !r->need_v) {
            memcpy(dst, r->tmp + (size_t)yy * r->tmp_stride, n);
        } else {
            const uint8_t *src = r->tmp + (size_t)(r->v.start[yy] - (int32_t)r->y_first) * r->tmp_stride;
            vpass_row(r, src, r->tmp_stride, n, r->v.coef + (size_t)yy * r->v.ksize, r->v.len[yy], acc, dst);
        }
        if (line) { /* gray -> RGB */
            uint8_t *o = out + (size_t)yy * r->out_w * 3;
            for (uint32_t x = 0; x < r->out_w; x++) o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = line[x];
        }
    }
    free(acc);
    free(line);
}

void hb_resizer_free(hb_resizer *r) {
    hb_resample_axis_free(&r->h);
    hb_resample_axis_free(&r->v);
    free(r->hpair);
    free(r->hpair_off);
    free(r->tmp);
    free(r->acc);
    free(r->vrow);
    free(r->row);
    memset(r, 0, sizeof *r);
}

int hb_image_resize(const uint8_t *in, uint32_t w, uint32_t h, uint32_t ch, uint8_t *out, uint32_t out_w,
                    uint32_t out_h, const hb_image_opts *opts, hb_err *err) {
    hb_resizer r;
    int code = hb_resizer_init(&r, w, h, ch, out_w, out_h, opts && opts->legacy_resize, err);
    if (code) return code;
    for (uint32_t y = 0; y < h; y++) hb_resizer_push_row(&r, in + (size_t)y * w * ch);
    hb_resizer_finish(&r, out, ch);
    hb_resizer_free(&r);
    return 0;
}
