/* lib/image archives and image roots: zip (stored, deflated, zip64) and tar read in place, names, unsafe entries,
 * broken archives, concurrent reads; folder roots and their path checks. Archives are written here with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "image/image.h"

typedef struct {
    const char *name;
    const uint8_t *data;
    size_t len;
    int type; /* 0 file, 1 directory, 2 symlink */
} item;

static void write_archive(const char *path, const char *format, const char *filter, const item *it, int n) {
    struct archive *a = archive_write_new();
    if (!strcmp(format, "zip-store")) {
        archive_write_set_format_zip(a);
        archive_write_set_options(a, "zip:compression=store");
    } else if (!strcmp(format, "zip")) {
        archive_write_set_format_zip(a);
    } else {
        archive_write_set_format_pax_restricted(a);
    }
    if (filter) archive_write_add_filter_by_name(a, filter);
    cr_assert_eq(archive_write_open_filename(a, path), ARCHIVE_OK, "%s", archive_error_string(a));
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, it[i].name);
        archive_entry_set_perm(e, 0644);
        if (it[i].type == 1) {
            archive_entry_set_filetype(e, AE_IFDIR);
        } else if (it[i].type == 2) {
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, "target.jpg");
        } else {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, (la_int64_t)it[i].len);
        }
        cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK, "%s", archive_error_string(a));
        if (it[i].type == 0 && it[i].len) cr_assert_eq(archive_write_data(a, it[i].data, it[i].len), (la_ssize_t)it[i].len);
        archive_entry_free(e);
    }
    cr_assert_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static uint8_t *fixture(const char *name, size_t *n) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/image/cases/%s", name);
    char *p = tu_repo(rel);
    uint8_t *d = tu_read(p, n);
    cr_assert(d, "%s", p);
    free(p);
    return d;
}

static void expect_entry(hb_archive *a, const char *name, const uint8_t *data, size_t len) {
    int64_t k = hb_archive_find(a, name);
    cr_assert_geq(k, 0, "%s: no '%s'", hb_archive_path(a), name);
    hb_buf b = {0};
    hb_err e;
    cr_assert_eq(hb_archive_read(a, (size_t)k, &b, 0, &e), 0, "%s", e.reason);
    cr_assert_eq(b.len, len, "'%s': %zu bytes, want %zu", name, b.len, len);
    cr_assert(!len || !memcmp(b.data, data, len), "'%s': bytes differ", name);
    hb_buf_free(&b);
}

Test(archive, zip_and_tar_entries_read_back_exactly) {
    char *dir = tu_mkdtemp();
    size_t n1, n2, n3;
    uint8_t *j = fixture("jpeg_420.jpg", &n1), *p = fixture("png_rgb.png", &n2), *g = fixture("gif_pillow.gif", &n3);
    char longname[300];
    memset(longname, 'x', 200);
    strcpy(longname + 200, "/deep/name.png");
    item it[] = {{"train2014/a.jpg", j, n1, 0}, {"train2014/sub/b.png", p, n2, 0}, {"train2014/sub/", NULL, 0, 1},
                 {"train2014/c.gif", g, n3, 0}, {"train2014/empty.jpg", (const uint8_t *)"", 0, 0}};
    const char *formats[] = {"zip", "zip-store", "tar"};
    for (int f = 0; f < 3; f++) {
        char *path = hb_path_join(dir, f == 2 ? "x.tar" : f ? "s.zip" : "d.zip");
        write_archive(path, formats[f], NULL, it, 5);
        hb_archive *a;
        hb_err e;
        cr_assert_eq(hb_archive_open(&a, path, &e), 0, "%s: %s", formats[f], e.reason);
        cr_assert_str_eq(hb_archive_kind(a), f == 2 ? "tar" : "zip");
        cr_assert_eq(hb_archive_count(a), 4, "%s: %zu entries (directories are left out)", formats[f], hb_archive_count(a));
        expect_entry(a, "train2014/a.jpg", j, n1);
        expect_entry(a, "train2014/sub/b.png", p, n2);
        expect_entry(a, "c.gif", g, n3);               /* the single top-level folder is optional */
        expect_entry(a, "./sub//b.png", p, n2);        /* names are normalised */
        expect_entry(a, "train2014/empty.jpg", NULL, 0);
        cr_assert_eq(hb_archive_find(a, "train2014/nope.jpg"), -1);
        cr_assert_eq(hb_archive_find(a, "../train2014/a.jpg"), -1);
        /* a size limit */
        hb_buf b = {0};
        cr_assert_eq(hb_archive_read(a, (size_t)hb_archive_find(a, "a.jpg"), &b, 100, &e), HB_ERANGE);
        hb_buf_free(&b);
        hb_archive_close(a);
        free(path);
    }
    /* pax long names in tar */
    item t2[] = {{longname, p, n2, 0}};
    char *path = hb_path_join(dir, "long.tar");
    write_archive(path, "tar", NULL, t2, 1);
    hb_archive *a;
    cr_assert_eq(hb_archive_open(&a, path, NULL), 0);
    expect_entry(a, longname, p, n2);
    hb_archive_close(a);
    free(path);
    free(j);
    free(p);
    free(g);
    tu_rmtree(dir);
    free(dir);
}

Test(archive, unsafe_duplicate_and_non_file_entries) {
    char *dir = tu_mkdtemp();
    item it[] = {{"../evil.jpg", (const uint8_t *)"EVIL", 4, 0},
                 {"/abs/x.jpg", (const uint8_t *)"ABS", 3, 0},
                 {"ok/../../up.jpg", (const uint8_t *)"UP", 2, 0},
                 {"ok/a.jpg", (const uint8_t *)"first", 5, 0},
                 {"ok/a.jpg", (const uint8_t *)"second", 6, 0},
                 {"ok/link.jpg", NULL, 0, 2}};
    for (int f = 0; f < 2; f++) {
        char *path = hb_path_join(dir, f ? "u.tar" : "u.zip");
        write_archive(path, f ? "tar" : "zip", NULL, it, 6);
        hb_archive *a;
        hb_err e;
        cr_assert_eq(hb_archive_open(&a, path, &e), 0, "%s", e.reason);
        int unsafe = 0;
        for (size_t i = 0; i < hb_archive_count(a); i++) {
            unsafe += hb_archive_unsafe(a, i);
            cr_assert_neq(hb_archive_name(a, i)[0], '/');
            cr_assert_null(strstr(hb_archive_name(a, i), ".."));
        }
        cr_assert_eq(unsafe, 3);
        hb_buf b = {0};
        int64_t k = hb_archive_find(a, "evil.jpg");
        cr_assert_geq(k, 0);
        cr_assert_eq(hb_archive_read(a, (size_t)k, &b, 0, &e), HB_EINVAL);
        expect_entry(a, "ok/a.jpg", (const uint8_t *)"second", 6); /* the later entry wins */
        cr_assert_eq(hb_archive_find(a, "ok/link.jpg"), -1);       /* symlinks are not images */
        /* through an image root the reasons are named */
        hb_imgroot *r;
        cr_assert_eq(hb_imgroot_open(&r, path, &e), 0);
        int why;
        cr_assert_neq(hb_imgroot_read(r, "evil.jpg", &b, 0, &why, &e), 0);
        cr_assert_eq(why, HB_IMG_UNSAFE_PATH);
        cr_assert_neq(hb_imgroot_read(r, "abs/x.jpg", &b, 0, &why, &e), 0);
        cr_assert_eq(why, HB_IMG_UNSAFE_PATH);
        cr_assert_neq(hb_imgroot_read(r, "../evil.jpg", &b, 0, &why, &e), 0);
        cr_assert_eq(why, HB_IMG_UNSAFE_PATH);
        cr_assert_neq(hb_imgroot_read(r, "missing.jpg", &b, 0, &why, &e), 0);
        cr_assert_eq(why, HB_IMG_MISSING);
        cr_assert_eq(hb_imgroot_read(r, "ok/a.jpg", &b, 0, &why, &e), 0);
        cr_assert_eq(b.len, 6);
        hb_imgroot_close(r);
        hb_buf_free(&b);
        hb_archive_close(a);
        free(path);
    }
    tu_rmtree(dir);
    free(dir);
}

/* ---- a zip64 archive written by hand: the central directory's sizes and offset in the zip64 extra field, the
 * counts in the zip64 end record ---- */
static void le16(hb_buf *b, uint16_t v) { hb_buf_put_u16(b, v); }
static void le32(hb_buf *b, uint32_t v) { hb_buf_put_u32(b, v); }
static void le64(hb_buf *b, uint64_t v) { hb_buf_put_u64(b, v); }

Test(archive, zip64_central_directory) {
    size_t n;
    uint8_t *d = fixture("png_p.png", &n);
    const char *name = "z64/image.png";
    uint16_t nlen = (uint16_t)strlen(name);
    uint32_t c = (uint32_t)crc32(0L, d, (uInt)n);
    hb_buf z = {0};
    le32(&z, 0x04034b50), le16(&z, 45), le16(&z, 0), le16(&z, 0), le16(&z, 0), le16(&z, 0), le32(&z, c);
    le32(&z, 0xFFFFFFFF), le32(&z, 0xFFFFFFFF), le16(&z, nlen), le16(&z, 20);
    hb_buf_append(&z, name, nlen);
    le16(&z, 1), le16(&z, 16), le64(&z, n), le64(&z, n);
    hb_buf_append(&z, d, n);
    uint64_t cd = z.len;
    le32(&z, 0x02014b50), le16(&z, 45), le16(&z, 45), le16(&z, 0), le16(&z, 0), le16(&z, 0), le16(&z, 0), le32(&z, c);
    le32(&z, 0xFFFFFFFF), le32(&z, 0xFFFFFFFF), le16(&z, nlen), le16(&z, 28), le16(&z, 0), le16(&z, 0), le16(&z, 0);
    le32(&z, 0), le32(&z, 0xFFFFFFFF);
    hb_buf_append(&z, name, nlen);
    le16(&z, 1), le16(&z, 24), le64(&z, n), le64(&z, n), le64(&z, 0);
    uint64_t cd_size = z.len - cd, z64 = z.len;
    le32(&z, 0x06064b50), le64(&z, 44), le16(&z, 45), le16(&z, 45), le32(&z, 0), le32(&z, 0), le64(&z, 1), le64(&z, 1);
    le64(&z, cd_size), le64(&z, cd);
    le32(&z, 0x07064b50), le32(&z, 0), le64(&z, z64), le32(&z, 1);
    le32(&z, 0x06054b50), le16(&z, 0), le16(&z, 0), le16(&z, 0xFFFF), le16(&z, 0xFFFF), le32(&z, 0xFFFFFFFF);
    le32(&z, 0xFFFFFFFF), le16(&z, 0);
    char *dir = tu_mkdtemp(), *path = hb_path_join(dir, "z64.zip");
    cr_assert_eq(tu_write(path, z.data, z.len), 0);
    hb_archive *a;
    hb_err e;
    cr_assert_eq(hb_archive_open(&a, path, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_archive_count(a), 1);
    expect_entry(a, "image.png", d, n);
    hb_archive_close(a);
    hb_buf_free(&z);
    free(d);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

Test(archive, broken_and_compressed_archives_are_refused_clearly) {
    char *dir = tu_mkdtemp();
    size_t n;
    uint8_t *j = fixture("jpeg_444.jpg", &n);
    item it[] = {{"a.jpg", j, n, 0}, {"b.jpg", j, n, 0}};
    char *zp = hb_path_join(dir, "a.zip"), *tp = hb_path_join(dir, "a.tar"), *gz = hb_path_join(dir, "a.tar.gz");
    write_archive(zp, "zip", NULL, it, 2);
    write_archive(tp, "tar", NULL, it, 2);
    write_archive(gz, "tar", "gzip", it, 2);
    hb_archive *a;
    hb_err e;
    /* compressed tar */
    cr_assert_eq(hb_archive_open(&a, gz, &e), HB_EUNSUPPORTED);
    cr_assert(strstr(e.reason, "gzip") && strstr(e.reason, "decompress"), "%s", e.reason);
    /* truncated zip: the central directory is gone */
    size_t zn;
    uint8_t *zd = tu_read(zp, &zn);
    char *cut = hb_path_join(dir, "cut.zip");
    tu_write(cut, zd, zn / 2);
    cr_assert_eq(hb_archive_open(&a, cut, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "central directory") || strstr(e.reason, "end-of-central"), "%s", e.reason);
    cr_assert(strstr(e.file, "cut.zip"));
    /* a corrupt byte inside the first entry's compressed data: CRC or inflate error, reported as corrupt */
    zd[60] ^= 0xFF;
    tu_write(cut, zd, zn);
    cr_assert_eq(hb_archive_open(&a, cut, &e), 0, "%s", e.reason);
    hb_buf b = {0};
    cr_assert_neq(hb_archive_read(a, (size_t)hb_archive_find(a, "a.jpg"), &b, 0, &e), 0);
    cr_assert_eq(b.len, 0);
    hb_archive_close(a);
    hb_imgroot *r;
    cr_assert_eq(hb_imgroot_open(&r, cut, &e), 0);
    int why;
    cr_assert_neq(hb_imgroot_read(r, "a.jpg", &b, 0, &why, &e), 0);
    cr_assert(why == HB_IMG_CORRUPT || why == HB_IMG_UNSUPPORTED, "%s", hb_img_reject_name(why));
    cr_assert_eq(hb_imgroot_read(r, "b.jpg", &b, 0, &why, &e), 0, "the other entry still reads: %s", e.reason);
    hb_imgroot_close(r);
    /* a local header that names another file than the central directory says is there */
    zd[60] ^= 0xFF;
    cr_assert_eq(memcmp(zd + 30, "a.jpg", 5), 0);
    zd[30] = 'x';
    tu_write(cut, zd, zn);
    cr_assert_eq(hb_archive_open(&a, cut, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_archive_read(a, (size_t)hb_archive_find(a, "a.jpg"), &b, 0, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "x.jpg"), "%s", e.reason);
    hb_archive_close(a);
    /* truncated tar: cut in the middle of the second entry */
    size_t tn;
    uint8_t *td = tu_read(tp, &tn);
    tu_write(cut, td, 512 + n + 700);
    cr_assert_neq(hb_archive_open(&a, cut, &e), 0);
    cr_assert(strstr(e.reason, "tar"), "%s", e.reason);
    /* not an archive at all */
    tu_write(cut, "hello, this is text and no archive", 34);
    cr_assert_neq(hb_archive_open(&a, cut, &e), 0);
    cr_assert_neq(hb_imgroot_open(&r, cut, &e), 0);
    hb_buf_free(&b);
    free(zd);
    free(td);
    free(j);
    free(zp);
    free(tp);
    free(gz);
    free(cut);
    tu_rmtree(dir);
    free(dir);
}

typedef struct {
    hb_archive *a;
    const uint8_t *want[3];
    size_t len[3];
    int bad;
} thread_arg;

static void *reader(void *p) {
    thread_arg *t = p;
    hb_buf b = {0};
    static const char *names[3] = {"a.jpg", "b.png", "c.gif"};
    for (int it = 0; it < 60; it++) {
        int k = it % 3;
        if (hb_archive_read(t->a, (size_t)hb_archive_find(t->a, names[k]), &b, 0, NULL) || b.len != t->len[k] ||
            memcmp(b.data, t->want[k], b.len))
            __atomic_add_fetch(&t->bad, 1, __ATOMIC_RELAXED);
    }
    hb_buf_free(&b);
    return NULL;
}

Test(archive, concurrent_reads_from_one_archive, .timeout = 60) {
    char *dir = tu_mkdtemp();
    size_t n1, n2, n3;
    uint8_t *j = fixture("jpeg_420.jpg", &n1), *p = fixture("png_rgb.png", &n2), *g = fixture("gif_pillow.gif", &n3);
    item it[] = {{"a.jpg", j, n1, 0}, {"b.png", p, n2, 0}, {"c.gif", g, n3, 0}};
    for (int f = 0; f < 2; f++) {
        char *path = hb_path_join(dir, f ? "t.tar" : "t.zip");
        write_archive(path, f ? "tar" : "zip", NULL, it, 3);
        thread_arg t = {.want = {j, p, g}, .len = {n1, n2, n3}};
        cr_assert_eq(hb_archive_open(&t.a, path, NULL), 0);
        pthread_t th[4];
        for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, reader, &t);
        for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
        cr_assert_eq(t.bad, 0);
        hb_archive_close(t.a);
        free(path);
    }
    free(j);
    free(p);
    free(g);
    tu_rmtree(dir);
    free(dir);
}

Test(archive, folder_roots_and_path_rules) {
    char buf[64];
    const char *ok[][2] = {{"a/b.jpg", "a/b.jpg"}, {"./a//b.jpg", "a/b.jpg"}, {"a/./b/", "a/b"}, {"x..y.jpg", "x..y.jpg"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(buf, sizeof buf, "%s", ok[i][0]);
        cr_assert_eq(hb_image_path_normalize(buf), HB_IMG_OK, "%s", ok[i][0]);
        cr_assert_str_eq(buf, ok[i][1]);
    }
    const char *bad[] = {"", "/etc/passwd", "../x.jpg", "a/../../x.jpg", "a/..", "..\\x.jpg", "C:\\x.jpg", "./", "\\\\srv\\x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(buf, sizeof buf, "%s", bad[i]);
        cr_assert_eq(hb_image_path_normalize(buf), HB_IMG_UNSAFE_PATH, "'%s' accepted", bad[i]);
    }
    hb_imgroot *r;
    hb_err e;
    char *root = tu_repo("tests/fixtures/image/cases");
    cr_assert_eq(hb_imgroot_open(&r, root, &e), 0, "%s", e.reason);
    cr_assert(!hb_imgroot_is_archive(r));
    hb_buf b = {0};
    int why;
    cr_assert_eq(hb_imgroot_read(r, "png_rgb.png", &b, 0, &why, &e), 0, "%s", e.reason);
    cr_assert_gt(b.len, 100);
    cr_assert_neq(hb_imgroot_read(r, "nope.png", &b, 0, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_MISSING);
    cr_assert(strstr(e.file, "nope.png"), "the error names the file: %s", e.file);
    cr_assert_neq(hb_imgroot_read(r, "../formats.json", &b, 0, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_UNSAFE_PATH);
    cr_assert_neq(hb_imgroot_read(r, "/etc/hostname", &b, 0, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_UNSAFE_PATH);
    cr_assert_neq(hb_imgroot_read(r, "png_rgb.png/x", &b, 0, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_MISSING);
    cr_assert_neq(hb_imgroot_read(r, "png_rgb.png", &b, 10, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_TOO_LARGE);
    hb_imgroot_close(r);
    char *dir = tu_mkdtemp();
    char *sub = hb_path_join(dir, "sub.jpg");
    hb_mkdir_p(sub, NULL);
    cr_assert_eq(hb_imgroot_open(&r, dir, &e), 0);
    cr_assert_neq(hb_imgroot_read(r, "sub.jpg", &b, 0, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_UNREADABLE);
    hb_imgroot_close(r);
    cr_assert_eq(hb_imgroot_open(&r, "/nonexistent/root", &e), HB_ENOTFOUND);
    hb_buf_free(&b);
    free(sub);
    tu_rmtree(dir);
    free(dir);
    free(root);
}

/* Every byte of a zip's central directory and end records, and of a tar's headers, flipped: opening and reading
 * fail cleanly or succeed, never crash (run under ASan by make test SAN=1) or hand back wrong bytes silently. */
Test(archive, flipped_bytes_in_directories_and_headers, .timeout = 120) {
    char *dir = tu_mkdtemp();
    size_t n;
    uint8_t *j = fixture("gif_offset.gif", &n);
    item it[] = {{"d/a.gif", j, n, 0}, {"d/b.gif", j, n / 2, 0}, {"d/c.gif", j, 0, 0}};
    char *zp = hb_path_join(dir, "a.zip"), *tp = hb_path_join(dir, "a.tar"), *mp = hb_path_join(dir, "m");
    write_archive(zp, "zip-store", NULL, it, 3);
    write_archive(tp, "tar", NULL, it, 3);
    int opened = 0, refused = 0;
    for (int f = 0; f < 2; f++) {
        size_t len;
        uint8_t *orig = tu_read(f ? tp : zp, &len), *d = malloc(len);
        /* zip: the central directory and end record (the last ~200 bytes); tar: the three 512-byte headers */
        size_t starts[3] = {0, 512 + ((n + 511) / 512) * 512, 0};
        starts[2] = starts[1] + 512 + ((n / 2 + 511) / 512) * 512;
        for (int region = 0; region < (f ? 3 : 1); region++) {
            size_t from = f ? starts[region] : len - 200, to = f ? starts[region] + 512 : len;
            for (size_t at = from; at < to && at < len; at++) {
                memcpy(d, orig, len);
                d[at] ^= (uint8_t)(1u << (at % 8));
                tu_write(mp, d, len);
                hb_archive *a;
                if (hb_archive_open(&a, mp, NULL) != 0) {
                    refused++;
                    continue;
                }
                opened++;
                hb_buf b = {0};
                for (size_t i = 0; i < hb_archive_count(a); i++)
                    if (hb_archive_read(a, i, &b, 1 << 20, NULL) == 0 && !strcmp(hb_archive_name(a, i), "d/a.gif"))
                        cr_assert(b.len == n && !memcmp(b.data, j, n), "flip at %zu: d/a.gif reads back wrong bytes", at);
                hb_buf_free(&b);
                hb_archive_close(a);
            }
        }
        free(d);
        free(orig);
    }
    cr_assert_gt(opened, 0);
    cr_assert_gt(refused, 0);
    free(j), free(zp), free(tp), free(mp);
    tu_rmtree(dir);
    free(dir);
}
