/* Fuzz zip and tar indexing (lib/image/archive.c: the zip central directory parsed by hb, tar headers by
 * libarchive) and entry reads on arbitrary file bytes; then an image root over the same file.
 * Seeds: tests/fuzz/corpus/archive (small zip/tar files, stored and deflated, with unsafe names; the webdataset
 * example). */
#include "fuzz.h"
#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *path = fz_write("x.archive", data, size);
    hb_err e;
    hb_err_clear(&e);
    hb_archive *a;
    int rc = hb_archive_open(&a, path, &e);
    if (rc) {
        fz_check_err(rc, &e);
    } else {
        size_t n = hb_archive_count(a);
        hb_buf b = {0};
        for (size_t i = 0; i < n && i < 32; i++) {
            const char *name = hb_archive_name(a, i);
            FZ_ASSERT(name != NULL, "entry %zu has no name", i);
            int64_t k = hb_archive_find(a, name);
            FZ_ASSERT(hb_archive_unsafe(a, i) || k >= 0, "entry %zu '%s' not found by its name", i, name);
            hb_err_clear(&e);
            rc = hb_archive_read(a, i, &b, 1 << 20, &e);
            if (rc) fz_check_err(rc, &e);
            else FZ_ASSERT(b.len == hb_archive_size(a, i) || hb_archive_size(a, i) > (1 << 20), "entry %zu: read %zu bytes, index says %llu", i, b.len,
                           (unsigned long long)hb_archive_size(a, i));
        }
        hb_archive_find(a, "../x");
        hb_archive_find(a, "a/b.jpg");
        hb_buf_free(&b);
        hb_archive_close(a);
    }
    hb_imgroot *r;
    hb_err_clear(&e);
    rc = hb_imgroot_open(&r, path, &e);
    if (rc) {
        fz_check_err(rc, &e);
    } else {
        hb_buf b = {0};
        int why;
        hb_imgroot_read(r, "a.jpg", &b, 1 << 20, &why, &e);
        hb_imgroot_read(r, "x/../../y.jpg", &b, 1 << 20, &why, &e);
        hb_buf_free(&b);
        hb_imgroot_close(r);
    }
    free(path);
    return 0;
}
