/* Image roots: a folder or an archive that the relative image paths of samples resolve against. Paths are
 * normalised and refused when absolute or when they climb out with "..": a sample can name only files under its
 * root. Reads go to memory; nothing is written.
 *
 * Dependencies: image.h (hb_imgroot, hb_archive, hb_image_path_normalize), core/core.h (hb_buf, hb_err),
 * <fcntl.h>/<unistd.h>/<sys/stat.h> (open, fstat, read). */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hb_imgroot {
    char *path;
    hb_archive *ar; /* NULL for a folder */
};

int hb_imgroot_open(hb_imgroot **out, const char *path, hb_err *err) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return hb_err_errno(err, errno == ENOENT ? HB_ENOTFOUND : HB_EIO, path, "image root");
    hb_imgroot *r = hb_xcalloc(1, sizeof *r);
    r->path = hb_xstrdup(path);
    if (!S_ISDIR(st.st_mode)) {
        int code = hb_archive_open(&r->ar, path, err);
        if (code) {
            hb_err_prefix(err, "image root is neither a folder nor a readable zip/tar");
            hb_imgroot_close(r);
            return code;
        }
    }
    *out = r;
    return 0;
}

void hb_imgroot_close(hb_imgroot *r) {
    if (!r) return;
    hb_archive_close(r->ar);
    free(r->path);
    free(r);
}

const char *hb_imgroot_path(const hb_imgroot *r) { return r->path; }
int hb_imgroot_is_archive(const hb_imgroot *r) { return r->ar != NULL; }

static int reject(int *why, int reason, hb_err *err, hb_code code, const char *file, const char *fmt, const char *arg) {
    *why = reason;
    return hb_err_set(err, code, file, HB_NOPOS, HB_NOPOS, fmt, arg);
}

static int read_file(const char *full, hb_buf *out, uint64_t max_bytes, int *why, hb_err *err) {
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        *why = e == ENOENT || e == ENOTDIR ? HB_IMG_MISSING : HB_IMG_UNREADABLE;
        return hb_err_errno(err, e == ENOENT || e == ENOTDIR ? HB_ENOTFOUND : HB_EIO, full, "cannot open image");
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return reject(why, HB_IMG_UNREADABLE, err, HB_EIO, full, "%s", "not a regular file");
    }
    if (max_bytes && (uint64_t)st.st_size > max_bytes) {
        close(fd);
        *why = HB_IMG_TOO_LARGE;
        return hb_err_set(err, HB_ERANGE, full, HB_NOPOS, HB_NOPOS, "file of %lld bytes is over the limit of %llu",
                          (long long)st.st_size, (unsigned long long)max_bytes);
    }
    hb_buf_clear(out);
    hb_buf_reserve(out, (size_t)st.st_size + 1);
    for (;;) {
        if (out->cap - out->len < 4096) hb_buf_reserve(out, 1 << 16);
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int code = hb_err_errno(err, HB_EIO, full, "read failed");
            close(fd);
            *why = HB_IMG_UNREADABLE;
            return code;
        }
        if (n == 0) break;
        out->len += (size_t)n;
        if (max_bytes && out->len > max_bytes) {
            close(fd);
            return reject(why, HB_IMG_TOO_LARGE, err, HB_ERANGE, full, "%s", "file grew over the size limit while read");
        }
    }
    close(fd);
    return 0;
}

int hb_imgroot_read(hb_imgroot *r, const char *relpath, hb_buf *out, uint64_t max_bytes, int *why, hb_err *err) {
    *why = HB_IMG_OK;
    hb_buf_clear(out);
    char *rel = hb_xstrdup(relpath ? relpath : "");
    int code = 0;
    if (hb_image_path_normalize(rel) != HB_IMG_OK) {
        code = reject(why, HB_IMG_UNSAFE_PATH, err, HB_EINVAL, r->path,
                      "image path '%s' is empty, absolute or leaves the image root with '..'", relpath ? relpath : "");
    } else if (!r->ar) {
        char *full = hb_path_join(r->path, rel);
        code = read_file(full, out, max_bytes, why, err);
        free(full);
    } else {
        int64_t k = hb_archive_find(r->ar, rel);
        if (k < 0) {
            code = reject(why, HB_IMG_MISSING, err, HB_ENOTFOUND, r->path, "no entry '%s' in the archive", rel);
        } else if (hb_archive_unsafe(r->ar, (size_t)k)) {
            code = reject(why, HB_IMG_UNSAFE_PATH, err, HB_EINVAL, r->path,
                          "archive entry for '%s' has an absolute or '..' path", rel);
        } else if ((code = hb_archive_read(r->ar, (size_t)k, out, max_bytes, err))) {
            *why = code == HB_ERANGE         ? HB_IMG_TOO_LARGE
                   : code == HB_EUNSUPPORTED ? HB_IMG_UNSUPPORTED
                   : code == HB_EFORMAT      ? HB_IMG_CORRUPT
                                             : HB_IMG_UNREADABLE;
        }
    }
    free(rel);
    return code;
}
