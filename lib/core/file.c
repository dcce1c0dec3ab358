/* Whole-file reads, directories and atomic output files (temp file, fsync, rename, fsync of the directory).
 * Dependencies: core.h, <fcntl.h>/<unistd.h> (open, fsync, unlink, getpid), <sys/stat.h> (mkdir, stat),
 * <errno.h>, <libgen.h> (dirname). */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int hb_file_read_all(const char *path, uint8_t **out, size_t *len, hb_err *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return hb_err_errno(err, errno == ENOENT ? HB_ENOTFOUND : HB_EIO, path, "cannot open");
    hb_buf b = {0};
    uint8_t chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) hb_buf_append(&b, chunk, n);
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        hb_buf_free(&b);
        return hb_err_errno(err, HB_EIO, path, "read failed");
    }
    hb_buf_cstr(&b);
    if (!b.data) b.data = hb_xcalloc(1, 1);
    *out = b.data;
    *len = b.len;
    return 0;
}

int hb_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int hb_path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *hb_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    while (a > 1 && dir[a - 1] == '/') a--;
    char *p = hb_xmalloc(a + b + 2);
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

void hb_path_normalize(char *path) {
    int abs = path[0] == '/';
    char *segs[512];
    int n = 0, kept_up = 0; /* kept_up: leading ".." segments of a relative path */
    char *save = NULL;
    char *copy = hb_xstrdup(path);
    for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, ".")) continue;
        if (!strcmp(t, "..")) {
            if (n > kept_up) n--;
            else if (!abs && n < 512) segs[n++] = t, kept_up++;
            continue;
        }
        if (n < 512) segs[n++] = t;
    }
    char *o = path;
    if (abs) *o++ = '/';
    for (int i = 0; i < n; i++) {
        size_t l = strlen(segs[i]);
        if (i) *o++ = '/';
        memmove(o, segs[i], l);
        o += l;
    }
    if (o == path) *o++ = '.';
    *o = 0;
    free(copy);
}

char *hb_path_resolve(const char *base_dir, const char *rel) {
    char *p = rel[0] == '/' || !base_dir || !*base_dir ? hb_xstrdup(rel) : hb_path_join(base_dir, rel);
    hb_path_normalize(p);
    return p;
}

int hb_mkdir_p(const char *path, hb_err *err) {
    char *tmp = hb_xstrdup(path);
    size_t n = strlen(tmp);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST) {
                hb_err_errno(err, HB_EIO, tmp, "cannot create directory");
                free(tmp);
                return HB_EIO;
            }
            tmp[i] = c;
        }
    }
    free(tmp);
    if (!hb_path_is_dir(path)) return hb_err_set(err, HB_EIO, path, HB_NOPOS, HB_NOPOS, "exists and is not a directory");
    return 0;
}

static void fsync_dir_of(const char *path) {
    char *copy = hb_xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int hb_afile_open(hb_afile *f, const char *path, hb_err *err) {
    memset(f, 0, sizeof *f);
    size_t n = strlen(path) + 32;
    char *tmp = hb_xmalloc(n);
    /* pid + a time-derived counter keeps concurrent writers (threads, processes) off each other's temp files. */
    static unsigned counter;
    unsigned c = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    snprintf(tmp, n, "%s.tmp.%d.%u", path, (int)getpid(), c);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        int code = hb_err_errno(err, HB_EIO, path, "cannot create temporary file %s", tmp);
        free(tmp);
        return code;
    }
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return hb_err_errno(err, HB_EIO, path, "fdopen");
    }
    f->path = hb_xstrdup(path);
    f->tmp_path = tmp;
    return 0;
}

int hb_afile_write(hb_afile *f, const void *p, size_t n, hb_err *err) {
    if (f->failed) return hb_err_set(err, HB_EIO, f->path, HB_NOPOS, HB_NOPOS, "%s", f->failure);
    if (n && fwrite(p, 1, n, f->fp) != n) {
        f->failed = 1;
        snprintf(f->failure, sizeof f->failure, "write failed: %s", strerror(errno));
        return hb_err_set(err, HB_EIO, f->path, HB_NOPOS, hb_afile_tell(f), "%s", f->failure);
    }
    return 0;
}

int64_t hb_afile_tell(const hb_afile *f) { return f->fp ? (int64_t)ftello(f->fp) : -1; }

static void afile_release(hb_afile *f) {
    free(f->path);
    free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    f->fp = NULL;
}

int hb_afile_commit(hb_afile *f, hb_err *err) {
    if (!f->fp) return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS, "atomic file is not open");
    int code = 0;
    if (f->failed) code = hb_err_set(err, HB_EIO, f->path, HB_NOPOS, HB_NOPOS, "%s", f->failure);
    else if (fflush(f->fp) != 0) code = hb_err_errno(err, HB_EIO, f->path, "flush failed");
    else if (fsync(fileno(f->fp)) != 0) code = hb_err_errno(err, HB_EIO, f->path, "fsync failed");
    if (fclose(f->fp) != 0 && !code) code = hb_err_errno(err, HB_EIO, f->path, "close failed");
    f->fp = NULL;
    if (!code && rename(f->tmp_path, f->path) != 0) code = hb_err_errno(err, HB_EIO, f->path, "rename failed");
    if (code) unlink(f->tmp_path);
    else fsync_dir_of(f->path);
    afile_release(f);
    return code;
}

void hb_afile_abort(hb_afile *f) {
    if (!f->fp && !f->tmp_path) return;
    if (f->fp) fclose(f->fp);
    if (f->tmp_path) unlink(f->tmp_path);
    afile_release(f);
}

int hb_write_file_atomic(const char *path, const void *p, size_t n, hb_err *err) {
    hb_afile f;
    int code = hb_afile_open(&f, path, err);
    if (code) return code;
    if ((code = hb_afile_write(&f, p, n, err))) {
        hb_afile_abort(&f);
        return code;
    }
    return hb_afile_commit(&f, err);
}
