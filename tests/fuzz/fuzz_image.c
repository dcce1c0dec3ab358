/* Fuzz the image decoders (lib/image: JPEG via libjpeg-turbo, PNG via libpng, GIF and BMP; the format is sniffed
 * from the bytes) on arbitrary bytes, with a small pixel limit so that a header claiming a huge image is refused
 * instead of allocated. Byte 0 picks the call: hb_image_decode, or hb_image_prepare (streaming decode + Pillow
 * bicubic resize) to a small size, exact or with the JPEG DCT-scaling fast path.
 * Seeds: tests/fuzz/corpus/image (tests/fixtures/image/cases: every format variant the tests cover). */
#include "fuzz.h"
#include "image/image.h"

#define MAX_PIXELS (512u * 512u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0];
    data++, size--;
    hb_image_opts o = {.max_pixels = MAX_PIXELS, .fast = (mode >> 1) & 1, .legacy_resize = (mode >> 2) & 1};
    hb_image_info info;
    hb_err e;
    hb_err_clear(&e);
    int rc;
    if (!(mode & 1)) {
        uint8_t *rgb = NULL;
        rc = hb_image_decode(data, size, &o, &info, &rgb, &e);
        if (rc == 0) {
            FZ_ASSERT(info.reject == HB_IMG_OK && rgb, "decoded without pixels");
            FZ_ASSERT((uint64_t)info.width * info.height <= MAX_PIXELS && info.width && info.height, "%ux%u", info.width,
                      info.height);
            /* touch every pixel: the buffer must be as large as claimed */
            unsigned sum = 0;
            for (size_t i = 0; i < (size_t)info.width * info.height * 3; i++) sum += rgb[i];
            (void)sum;
            free(rgb);
        }
    } else {
        uint32_t w = 1 + ((mode >> 3) & 7) * 5, h = 1 + (mode >> 6) * 9;
        uint8_t *out = malloc((size_t)w * h * 3);
        rc = hb_image_prepare(data, size, w, h, &o, &info, out, &e);
        free(out);
    }
    if (rc) {
        fz_check_err(rc, &e);
        FZ_ASSERT(info.reject != HB_IMG_OK && info.reject < HB_IMG_N_REASONS, "failed with reject %d", info.reject);
    }
    return 0;
}
