/* GIF decoding (the first frame), with the rules Pillow follows when it opens a GIF and converts it to RGB:
 *   - the canvas is the logical screen, grown to hold the first frame if the frame reaches past it;
 *   - canvas pixels outside the frame hold the transparent index when a graphic control extension gives one,
 *     else index 0; transparency is then ignored by convert("RGB") (the palette colour shows);
 *   - colours come from the frame's local palette, else the global one; an index past the palette is black;
 *     with no palette at all, index i is gray i;
 *   - an LZW stream that ends (EOI or end of file) before the frame is full is truncated, and so is a file that ends
 *     inside a data sub-block; extra pixels are ignored; a missing block terminator or trailer after a complete frame
 *     is accepted.
 * Written here rather than taken from stb_image, whose GIF loader composites transparency (it cannot match Pillow).
 *
 * Dependencies: image_internal.h (hb_sink, hb_img_fail, hb_img_check_size), core/core.h (hb_xmalloc). */
#include "image_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t n, pos;
} rd;

static int rd_u8(rd *r, uint8_t *v) {
    if (r->pos >= r->n) return -1;
    *v = r->p[r->pos++];
    return 0;
}

static int rd_u16(rd *r, uint32_t *v) {
    if (r->n - r->pos < 2) return -1;
    *v = (uint32_t)r->p[r->pos] | (uint32_t)r->p[r->pos + 1] << 8;
    r->pos += 2;
    return 0;
}

/* Skip data sub-blocks up to and including the zero-length terminator. */
static int skip_blocks(rd *r) {
    for (;;) {
        uint8_t len;
        if (rd_u8(r, &len)) return -1;
        if (len == 0) return 0;
        if (r->n - r->pos < len) return -1;
        r->pos += len;
    }
}

/* LZW state over the data sub-blocks of one image. */
typedef struct {
    rd *r;
    uint32_t block_left;
    int ended;          /* no more data: terminator or end of file */
    int eof;            /* the file ended inside the data */
    uint32_t bits, nbits;
} bitrd;

static int next_byte(bitrd *b, uint8_t *v) {
    while (b->block_left == 0) {
        uint8_t len;
        if (b->ended || rd_u8(b->r, &len)) {
            if (!b->ended) b->eof = 1;
            b->ended = 1;
            return -1;
        }
        if (len == 0) {
            b->ended = 1;
            return -1;
        }
        b->block_left = len;
    }
    if (rd_u8(b->r, v)) {
        b->eof = b->ended = 1;
        return -1;
    }
    b->block_left--;
    return 0;
}

static int read_code(bitrd *b, uint32_t width, uint32_t *code) {
    while (b->nbits < width) {
        uint8_t v;
        if (next_byte(b, &v)) return -1;
        b->bits |= (uint32_t)v << b->nbits;
        b->nbits += 8;
    }
    *code = b->bits & ((1u << width) - 1);
    b->bits >>= width;
    b->nbits -= width;
    return 0;
}

/* Decodes fw*fh indices into idx. Returns the number of pixels produced (< fw*fh when the stream ended early), or -1
 * for an invalid code. */
static int64_t lzw_decode(rd *r, uint32_t min_size, uint8_t *idx, uint64_t total, int *eof) {
    enum { MAXC = 4096 };
    uint16_t *prefix = hb_xmalloc(sizeof(uint16_t) * MAXC);
    uint8_t *suffix = hb_xmalloc(MAXC), *stack = hb_xmalloc(MAXC + 1);
    uint8_t *first = hb_xmalloc(MAXC);
    uint32_t clear = 1u << min_size, eoi = clear + 1, next = clear + 2, width = min_size + 1;
    for (uint32_t i = 0; i < clear; i++) {
        prefix[i] = 0xFFFF;
        suffix[i] = (uint8_t)i;
        first[i] = (uint8_t)i;
    }
    bitrd b = {.r = r};
    uint64_t out = 0;
    int64_t result = -1;
    uint32_t prev = 0xFFFFFFFFu, code;
    while (out < total) {
        if (read_code(&b, width, &code)) break;
        if (code == clear) {
            next = clear + 2;
            width = min_size + 1;
            prev = 0xFFFFFFFFu;
            continue;
        }
        if (code == eoi) break;
        uint32_t cur = code, sp = 0;
        if (prev == 0xFFFFFFFFu) {
            if (code >= clear) goto done; /* the first code after a clear must be a literal */
        } else if (code > next || (code == next && next >= MAXC)) {
            goto done;
        }
        if (prev != 0xFFFFFFFFu && code == next) { /* KwKwK: prev's string + its first byte */
            stack[sp++] = first[prev];
            cur = prev;
        }
        while (cur >= clear) {
            stack[sp++] = suffix[cur];
            cur = prefix[cur];
        }
        stack[sp++] = (uint8_t)cur;
        if (prev != 0xFFFFFFFFu && next < MAXC) {
            prefix[next] = (uint16_t)prev;
            suffix[next] = (uint8_t)cur;
            first[next] = first[prev];
            next++;
            if (next == (1u << width) && width < 12) width++;
        }
        prev = code;
        while (sp > 0 && out < total) idx[out++] = stack[--sp];
    }
    result = (int64_t)out;
    /* Pillow reads whole data sub-blocks: one cut short by the end of the file is truncated even when the frame
     * is already complete. */
    if (out == total && b.block_left > r->n - r->pos) b.eof = 1, result = (int64_t)out - 1;
done:
    *eof = b.eof;
    free(prefix);
    free(suffix);
    free(stack);
    free(first);
    return result;
}

int hb_decode_gif(const uint8_t *p, size_t n, const hb_image_opts *o, hb_image_info *info, hb_sink *s, hb_err *err) {
    rd r = {p, n, 6};
    uint32_t sw, sh;
    uint8_t flags, bg, aspect;
    if (rd_u16(&r, &sw) || rd_u16(&r, &sh) || rd_u8(&r, &flags) || rd_u8(&r, &bg) || rd_u8(&r, &aspect))
        return hb_img_fail(info, HB_IMG_TRUNCATED, err, "gif: file ends inside the header");
    uint8_t gpal[768] = {0};
    uint32_t gcount = 0;
    if (flags & 0x80) {
        gcount = 2u << (flags & 7);
        if (n - r.pos < 3 * gcount) return hb_img_fail(info, HB_IMG_TRUNCATED, err, "gif: file ends inside the palette");
        memcpy(gpal, p + r.pos, 3 * gcount);
        r.pos += 3 * gcount;
    }
    int transparency = -1;
    for (;;) {
        uint8_t tag;
        if (rd_u8(&r, &tag)) return hb_img_fail(info, HB_IMG_TRUNCATED, err, "gif: file ends before the first image");
        if (tag == 0x3B) return hb_img_fail(info, HB_IMG_CORRUPT, err, "gif: no image in the file");
        if (tag == 0x21) {
            uint8_t label;
            if (rd_u8(&r, &label)) return hb_img_fail(info, HB_IMG_TRUNCATED, err, "gif: file ends inside an extension");
            if (label == 0xF9 && r.pos + 6 <= n && p[r.pos] == 4) {
                uint8_t packed = p[r.pos + 1];
                transparency = (packed & 1) ? p[r.pos + 4] : -1;
            }
            if (skip_blocks(&r)) return hb_img_fail(info, HB_IMG_TRUNCATED, err, "gif: file ends inside an extension");
            continue;
        }
        if (tag != 0x2C) return hb_img_fail(info, HB_IMG_CORRUPT, err, "gif: unexpected block 0x%02x at byte %zu", tag, r.pos - 1);
        break;
    }
    uint32_t fx, fy, fw, fh;
    uint8_t iflags;
    if (rd_u16(&r, &fx) || rd_u16(&r, &fy) || rd_u16(&r, &fw) || rd_u16(&r, &fh) || rd_u8(&r, &iflags))
        return hb_img_fail(info, HB_IMG_TRUNCATED, err, "gif: file ends inside the image descriptor");
    uint8_t lpal[768] = {0};
    const uint8_t *pal = gpal;
    uint32_t count = gcount;
    if (iflags & 0x80) {
        count = 2u << (iflags & 7);
        if (n - r.pos < 3 * count) return hb_img_fail(info, HB_IMG_TRUNCATED, err, "gif: file ends inside the palette");
        memcpy(lpal, p + r.pos, 3 * count);
        r.pos += 3 * count;
        pal = lpal;
    }
    uint32_t cw = sw > fx + fw ? sw : fx + fw, chh = sh > fy + fh ? sh : fy + fh;
    info->width = cw;
    info->height = chh;
    int code = hb_img_check_size(info, o, cw, chh, err);
    if (code) return code;
    uint8_t min_size;
    if (rd_u8(&r, &min_size)) return hb_img_fail(info, HB_IMG_TRUNCATED, err, "gif: file ends before the image data");
    if (min_size < 1 || min_size > 11) return hb_img_fail(info, HB_IMG_CORRUPT, err, "gif: LZW code size %u", min_size);
    uint64_t total = (uint64_t)fw * fh;
    uint8_t *idx = hb_xmalloc(total ? total : 1);
    int eof = 0;
    int64_t got = total ? lzw_decode(&r, min_size, idx, total, &eof) : 0;
    if (got < 0) {
        free(idx);
        return hb_img_fail(info, HB_IMG_CORRUPT, err, "gif: invalid LZW code in the image data");
    }
    if ((uint64_t)got < total) {
        free(idx);
        return hb_img_fail(info, HB_IMG_TRUNCATED, err, "gif: image data ends after %lld of %llu pixels%s", (long long)got,
                           (unsigned long long)total, eof ? " (end of file)" : "");
    }
    /* RGB of every palette index (black past the palette; gray ramp when there is no palette). */
    uint8_t lut[256 * 3];
    for (uint32_t i = 0; i < 256; i++) {
        for (int c = 0; c < 3; c++)
            lut[3 * i + c] = count == 0 ? (uint8_t)i : i < count ? pal[3 * i + c] : 0;
    }
    /* Frame row for each canvas row (interlaced frames store rows in 4 passes). */
    uint32_t *src_row = hb_xmalloc(sizeof(uint32_t) * (fh ? fh : 1));
    if (iflags & 0x40) {
        static const uint32_t start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        uint32_t k = 0;
        for (int pass = 0; pass < 4; pass++)
            for (uint32_t y = start[pass]; y < fh; y += step[pass]) src_row[y] = k++;
    } else {
        for (uint32_t y = 0; y < fh; y++) src_row[y] = y;
    }
    if ((code = hb_sink_begin(s, cw, chh, 3, err))) {
        free(idx);
        free(src_row);
        return hb_img_fail(info, HB_IMG_CORRUPT, err, "gif: %s", err ? err->reason : "cannot start");
    }
    uint8_t fill = (uint8_t)(transparency >= 0 ? transparency : 0);
    for (uint32_t y = 0; y < chh; y++) {
        uint8_t *row = hb_sink_row(s);
        for (uint32_t x = 0; x < cw; x++) {
            uint8_t v = fill;
            if (y >= fy && y < fy + fh && x >= fx && x < fx + fw) v = idx[(size_t)src_row[y - fy] * fw + (x - fx)];
            memcpy(row + 3 * x, lut + 3 * v, 3);
        }
        hb_sink_push(s);
    }
    free(idx);
    free(src_row);
    return 0;
}
