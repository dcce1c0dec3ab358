/* lib/image ingest: folder + zip + tar roots, cross-source dedup, every reject class reported once and sorted,
 * byte-identical stores for any thread count, abort; and hb-inspect image on the result. */
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
#include "shard/imgstore.h"
#include "shard/shard.h"

#define S 32

static uint8_t *fixture(const char *name, size_t *n) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/image/cases/%s", name);
    char *p = tu_repo(rel);
    uint8_t *d = tu_read(p, n);
    cr_assert(d, "%s", p);
    free(p);
    return d;
}

static void archive_add(struct archive *a, const char *name, const uint8_t *d, size_t n) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)n);
    cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK);
    if (n) archive_write_data(a, d, n);
    archive_entry_free(e);
}

/* The test world: roots and the bad files in them. */
typedef struct {
    char *tmp, *cases, *zip, *tar, *bad, *out;
} world;

static void make_world(world *w) {
    w->tmp = tu_mkdtemp();
    w->cases = tu_repo("tests/fixtures/image/cases");
    w->zip = hb_path_join(w->tmp, "coco.zip");
    w->tar = hb_path_join(w->tmp, "00000.tar");
    w->bad = hb_path_join(w->tmp, "bad");
    w->out = hb_path_join(w->tmp, "out");
    size_t n1, n2, n3;
    uint8_t *j = fixture("jpeg_420.jpg", &n1), *p = fixture("png_rgb.png", &n2), *g = fixture("gif_pillow.gif", &n3);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    cr_assert_eq(archive_write_open_filename(a, w->zip), ARCHIVE_OK);
    archive_add(a, "train2014/COCO_1.jpg", j, n1);       /* same bytes as cases/jpeg_420.jpg */
    archive_add(a, "train2014/COCO_2.png", p, n2);       /* same bytes as cases/png_rgb.png */
    archive_add(a, "train2014/trunc.jpg", j, n1 / 2);    /* truncated */
    archive_add(a, "train2014/../escape.jpg", j, n1);    /* zip slip */
    archive_write_close(a);
    archive_write_free(a);
    a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    cr_assert_eq(archive_write_open_filename(a, w->tar), ARCHIVE_OK);
    archive_add(a, "000000001.jpg", j, n1); /* same bytes again */
    archive_add(a, "000000002.gif", g, n3);
    archive_write_close(a);
    archive_write_free(a);
    hb_mkdir_p(w->bad, NULL);
    char *f;
    f = hb_path_join(w->bad, "empty.jpg"), tu_write(f, "", 0), free(f);
    f = hb_path_join(w->bad, "text.jpg"), tu_write(f, "this is not an image\n", 21), free(f);
    f = hb_path_join(w->bad, "trunc.png"), tu_write(f, p, n2 - 40), free(f);
    uint8_t *bomb = malloc(n2);
    memcpy(bomb, p, n2);
    bomb[16] = 0, bomb[17] = 0, bomb[18] = 0xC3, bomb[19] = 0x50; /* width 50000 */
    bomb[20] = 0, bomb[21] = 0, bomb[22] = 0xC3, bomb[23] = 0x50; /* height 50000 */
    uint32_t crc = (uint32_t)crc32(0L, bomb + 12, 17); /* over "IHDR" and its data */
    bomb[29] = (uint8_t)(crc >> 24), bomb[30] = (uint8_t)(crc >> 16), bomb[31] = (uint8_t)(crc >> 8), bomb[32] = (uint8_t)crc;
    f = hb_path_join(w->bad, "bomb.png"), tu_write(f, bomb, n2), free(f);
    f = hb_path_join(w->bad, "pic.webp.jpg"), tu_write(f, "RIFF\x24\0\0\0WEBPVP8 \0\0\0\0", 20), free(f);
    free(bomb);
    free(j), free(p), free(g);
}

static void free_world(world *w) {
    tu_rmtree(w->tmp);
    free(w->tmp), free(w->cases), free(w->zip), free(w->tar), free(w->bad), free(w->out);
}

typedef struct {
    int root; /* 0 cases, 1 zip, 2 tar, 3 bad */
    const char *path;
    int why;
} request;

static const request REQ[] = {
    {0, "jpeg_420.jpg", HB_IMG_OK},          {0, "png_rgb.png", HB_IMG_OK},
    {0, "gif_pillow.gif", HB_IMG_OK},        {0, "bmp_rgb.bmp", HB_IMG_OK},
    {0, "jpeg_cmyk.jpg", HB_IMG_OK},         {0, "./png_rgb.png", HB_IMG_OK},
    {1, "COCO_1.jpg", HB_IMG_OK},            {1, "train2014/COCO_2.png", HB_IMG_OK},
    {1, "trunc.jpg", HB_IMG_TRUNCATED},      {1, "escape.jpg", HB_IMG_UNSAFE_PATH},
    {1, "COCO_404.jpg", HB_IMG_MISSING},     {2, "000000001.jpg", HB_IMG_OK},
    {2, "000000002.gif", HB_IMG_OK},         {3, "empty.jpg", HB_IMG_EMPTY},
    {3, "text.jpg", HB_IMG_UNSUPPORTED},     {3, "trunc.png", HB_IMG_TRUNCATED},
    {3, "bomb.png", HB_IMG_TOO_LARGE},       {3, "pic.webp.jpg", HB_IMG_UNSUPPORTED},
    {3, "../bad/empty.jpg", HB_IMG_UNSAFE_PATH}, {3, "nope.jpg", HB_IMG_MISSING},
};
#define NREQ (sizeof REQ / sizeof *REQ)

typedef struct {
    char lines[64][600];
    int n;
} report;

static void on_reject(void *ctx, const char *file, const char *entry, int reason, const char *detail) {
    report *r = ctx;
    cr_assert(detail && detail[0], "a reject without a detail");
    if (r->n < 64) snprintf(r->lines[r->n++], 600, "%s|%s|%s", file, entry, hb_img_reject_name(reason));
}

typedef struct {
    hb_ingest *g;
    int roots[4];
    int start, step, reps;
    int bad;
    hb_hash128 hash[NREQ];
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    for (int rep = 0; rep < a->reps; rep++)
        for (size_t i = 0; i < NREQ; i++) {
            size_t k = (a->start + i * (size_t)a->step) % NREQ;
            hb_hash128 h;
            int why;
            hb_err e;
            if (hb_ingest_image(a->g, a->roots[REQ[k].root], REQ[k].path, &h, &why, &e)) a->bad++;
            if (why != REQ[k].why) a->bad++;
            if (!rep && a->start == 0) a->hash[k] = h;
        }
    return NULL;
}

/* Runs the requests on `threads` threads (each its own order, each request three times); returns the stats. */
static hb_ingest_stats run(world *w, const char *out, int threads, report *rep, hb_hash128 *hashes) {
    hb_ingest_opts o = {.size = S, .on_reject = on_reject, .ctx = rep};
    hb_ingest *g;
    hb_err e;
    cr_assert_eq(hb_ingest_open(&g, out, &o, &e), 0, "%s", e.reason);
    int roots[4];
    const char *paths[4] = {w->cases, w->zip, w->tar, w->bad};
    for (int i = 0; i < 4; i++) cr_assert_eq(hb_ingest_add_root(g, paths[i], &roots[i], &e), 0, "%s", e.reason);
    int again;
    cr_assert_eq(hb_ingest_add_root(g, w->zip, &again, &e), 0);
    cr_assert_eq(again, roots[1]);
    pthread_t th[8];
    worker_arg a[8];
    for (int t = 0; t < threads; t++) {
        a[t] = (worker_arg){.g = g, .start = t * 5, .step = t % 2 ? 7 : 1, .reps = 3};
        memcpy(a[t].roots, roots, sizeof roots);
        pthread_create(&th[t], NULL, worker, &a[t]);
    }
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < threads; t++) cr_assert_eq(a[t].bad, 0, "thread %d got wrong results", t);
    if (hashes) memcpy(hashes, a[0].hash, sizeof a[0].hash);
    hb_ingest_stats st;
    cr_assert_eq(hb_ingest_finish(g, &st, &e), 0, "%s", e.reason);
    return st;
}

Test(ingest, folders_zip_and_tar_dedup_and_rejects, .timeout = 60) {
    world w;
    make_world(&w);
    report rep = {0};
    hb_hash128 hashes[NREQ];
    hb_ingest_stats st = run(&w, w.out, 1, &rep, hashes);
    cr_assert_eq(st.requests, 3 * NREQ);
    cr_assert_eq(st.paths, NREQ - 1); /* "./png_rgb.png" is "png_rgb.png" */
    cr_assert_eq(st.stored, 5);       /* jpeg_420, png_rgb, gif_pillow, bmp_rgb, jpeg_cmyk; zip and tar add nothing new */
    cr_assert_eq(st.duplicates, 4);   /* COCO_1, COCO_2, 000000001, 000000002 */
    cr_assert_eq(st.rejected, 10);
    cr_assert_eq(st.by_reason[HB_IMG_MISSING], 2);
    cr_assert_eq(st.by_reason[HB_IMG_UNSAFE_PATH], 2);
    cr_assert_eq(st.by_reason[HB_IMG_TRUNCATED], 2);
    cr_assert_eq(st.by_reason[HB_IMG_UNSUPPORTED], 2);
    cr_assert_eq(st.by_reason[HB_IMG_TOO_LARGE], 1);
    cr_assert_eq(st.by_reason[HB_IMG_EMPTY], 1);
    /* the report: once per rejected (file, entry), sorted */
    cr_assert_eq(rep.n, 10);
    for (int i = 1; i < rep.n; i++) cr_assert_lt(strcmp(rep.lines[i - 1], rep.lines[i]), 0, "%s / %s", rep.lines[i - 1], rep.lines[i]);
    const char *want[] = {"/coco.zip|COCO_404.jpg|missing", "/coco.zip|escape.jpg|unsafe-path",
                          "/coco.zip|trunc.jpg|truncated", "/bad/bomb.png||too-large", "/bad/empty.jpg||empty"};
    for (int k = 0; k < 5; k++) {
        int found = 0;
        for (int i = 0; i < rep.n; i++) {
            size_t a = strlen(rep.lines[i]), b = strlen(want[k]);
            found |= a >= b && !strcmp(rep.lines[i] + a - b, want[k]);
        }
        cr_assert(found, "no report line %s", want[k]);
    }
    /* hashes are XXH3-128 of the file bytes; the same bytes from three sources give one hash */
    size_t n;
    uint8_t *j = fixture("jpeg_420.jpg", &n);
    hb_hash128 hj = hb_hash128_of(j, n);
    cr_assert(hb_hash128_eq(hashes[0], hj));
    cr_assert(hb_hash128_eq(hashes[6], hj));
    cr_assert(hb_hash128_eq(hashes[11], hj));
    cr_assert(hb_hash128_eq(hashes[8], (hb_hash128){0, 0}), "a rejected image has no hash");
    /* the stored pixels are hb_image_prepare's, and the origin is the smallest path that named them */
    hb_imgstore *s;
    hb_err e;
    cr_assert_eq(hb_imgstore_open(&s, w.out, 0, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_imgstore_count(s), 5);
    uint8_t px[S * S * 3], want_px[S * S * 3];
    hb_image_meta m;
    cr_assert_eq(hb_imgstore_get(s, hj, px, &m, &e), 0, "%s", e.reason);
    hb_image_info info;
    cr_assert_eq(hb_image_prepare(j, n, S, S, NULL, &info, want_px, &e), 0);
    cr_assert_arr_eq(px, want_px, sizeof px);
    cr_assert_eq(m.width, 37);
    cr_assert_eq(m.format, HB_IMGFMT_JPEG);
    char origins[3][1024];
    snprintf(origins[0], 1024, "%s//jpeg_420.jpg", w.cases);
    snprintf(origins[1], 1024, "%s//COCO_1.jpg", w.zip);
    snprintf(origins[2], 1024, "%s//000000001.jpg", w.tar);
    const char *least = origins[0];
    for (int k = 1; k < 3; k++)
        if (strcmp(origins[k], least) < 0) least = origins[k];
    cr_assert_str_eq(m.origin, least);
    hb_imgstore_close(s);
    cr_assert_eq(hb_imgstore_verify(w.out, S, &e), 0, "%s", e.reason);
    free(j);
    free_world(&w);
}

Test(ingest, same_store_and_report_for_any_thread_count, .timeout = 120) {
    world w;
    make_world(&w);
    char *o1 = hb_path_join(w.tmp, "o1"), *o4 = hb_path_join(w.tmp, "o4");
    report r1 = {0}, r4 = {0};
    hb_ingest_stats s1 = run(&w, o1, 1, &r1, NULL), s4 = run(&w, o4, 4, &r4, NULL);
    cr_assert_eq(s1.stored, s4.stored);
    cr_assert_eq(s1.duplicates, s4.duplicates);
    cr_assert_eq(s1.rejected, s4.rejected);
    cr_assert_eq(r1.n, r4.n);
    for (int i = 0; i < r1.n; i++) cr_assert_str_eq(r1.lines[i], r4.lines[i]);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cmp '%s/images/32.hbs' '%s/images/32.hbs' && cmp '%s/images/32.hbi' '%s/images/32.hbi'", o1, o4, o1,
             o4);
    cr_assert_eq(tu_run(cmd, NULL), 0, "1-thread and 4-thread stores differ");
    free(o1), free(o4);
    free_world(&w);
}

Test(ingest, bytes_api_abort_and_options) {
    world w;
    make_world(&w);
    hb_ingest_opts o = {.size = S};
    hb_ingest *g;
    hb_err e;
    cr_assert_eq(hb_ingest_open(&g, w.out, &o, &e), 0);
    size_t n;
    uint8_t *p = fixture("png_p.png", &n);
    hb_hash128 h;
    int why;
    cr_assert_eq(hb_ingest_bytes(g, "shard-00000.tar//000000007.png", p, n, &h, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_OK);
    cr_assert(hb_hash128_eq(h, hb_hash128_of(p, n)));
    cr_assert_eq(hb_ingest_bytes(g, "x//y.jpg", (const uint8_t *)"nope", 4, &h, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_UNSUPPORTED);
    cr_assert_eq(hb_ingest_image(g, 7, "a.jpg", &h, &why, &e), HB_EINVAL); /* no such root */
    hb_ingest_abort(g);
    /* abort leaves nothing behind: no store, no spill */
    char cmd[1200], *ls;
    snprintf(cmd, sizeof cmd, "ls -A '%s/images'", w.out);
    tu_run(cmd, &ls);
    cr_assert_str_eq(ls, "");
    free(ls);
    /* a pixel limit and a file-size limit from the options */
    hb_ingest_opts lim = {.size = S, .image = {.max_pixels = 100}, .max_file_bytes = 1 << 20};
    cr_assert_eq(hb_ingest_open(&g, w.out, &lim, &e), 0);
    cr_assert_eq(hb_ingest_bytes(g, "big", p, n, &h, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_TOO_LARGE);
    hb_ingest_stats st;
    cr_assert_eq(hb_ingest_finish(g, &st, &e), 0);
    cr_assert_eq(st.stored, 0);
    hb_ingest_opts bad = {.size = 0};
    cr_assert_eq(hb_ingest_open(&g, w.out, &bad, &e), HB_EINVAL);
    cr_assert_eq(hb_ingest_open(&g, w.out, &o, &e), 0);
    int root;
    cr_assert_eq(hb_ingest_add_root(g, "/nonexistent/images.zip", &root, &e), HB_ENOTFOUND);
    cr_assert(strstr(e.file, "images.zip"), "%s", e.file);
    hb_ingest_abort(g);
    free(p);
    free_world(&w);
}

Test(ingest, hb_inspect_image_writes_a_samples_image, .timeout = 60) {
    world w;
    make_world(&w);
    report rep = {0};
    hb_hash128 hashes[NREQ];
    run(&w, w.out, 2, &rep, hashes);
    /* one sample with two images, one without */
    char *shard = hb_path_join(w.out, "demo-00000.hbs");
    hb_sample_writer sw;
    hb_err e;
    cr_assert_eq(hb_sample_writer_open(&sw, shard, NULL, &e), 0);
    hb_hash128 two[2] = {hashes[1], hashes[2]};
    int32_t tok[3] = {1, -1, 2};
    uint8_t mask[3] = {0, 0, 1};
    hb_sample s = {.id = "demo/0", .source = "demo", .source_file = "x.json", .choices = "{}", .n_images = 2, .images = two,
                   .n_tokens = 3, .tokens = tok, .loss_mask = mask};
    cr_assert_eq(hb_sample_writer_add(&sw, &s, &e), 0);
    hb_sample t = s;
    t.id = "demo/1";
    t.n_images = 0;
    cr_assert_eq(hb_sample_writer_add(&sw, &t, &e), 0);
    cr_assert_eq(hb_sample_writer_close(&sw, NULL, &e), 0);
    char *bin = tu_bin("hb-inspect"), *png = hb_path_join(w.tmp, "x.png"), cmd[4096], *out;
    snprintf(cmd, sizeof cmd, "'%s' image '%s' demo/0 --image 1 -o '%s'", bin, w.out, png);
    cr_assert_eq(tu_run(cmd, &out), 0, "%s", cmd);
    cr_assert(strstr(out, "demo/0 image 2/2") && strstr(out, "gif"), "%s", out);
    free(out);
    size_t n;
    uint8_t *d = tu_read(png, &n), *rgb;
    hb_image_info info;
    cr_assert_eq(hb_image_decode(d, n, NULL, &info, &rgb, &e), 0);
    cr_assert_eq(info.width, S);
    hb_imgstore *st;
    cr_assert_eq(hb_imgstore_open(&st, w.out, S, &e), 0);
    uint8_t px[S * S * 3];
    cr_assert_eq(hb_imgstore_get(st, hashes[2], px, NULL, &e), 0);
    cr_assert_arr_eq(rgb, px, sizeof px);
    hb_imgstore_close(st);
    free(rgb);
    free(d);
    /* by index; errors name the problem and exit 1; usage errors exit 2 */
    snprintf(cmd, sizeof cmd, "'%s' image '%s' 0 -o '%s'", bin, w.out, png);
    cr_assert_eq(tu_run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "'%s' image '%s' demo/1 -o '%s' 2>&1", bin, w.out, png);
    cr_assert_eq(tu_run(cmd, &out), 1);
    cr_assert(strstr(out, "has no image"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' image '%s' demo/9 -o '%s' 2>&1", bin, w.out, png);
    cr_assert_eq(tu_run(cmd, &out), 1);
    cr_assert(strstr(out, "demo/9"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' image '%s' 5 -o '%s' 2>&1", bin, w.out, png);
    cr_assert_eq(tu_run(cmd, &out), 1);
    cr_assert(strstr(out, "no sample 5"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' image '%s' demo/0 2>/dev/null", bin, w.out);
    cr_assert_eq(tu_run(cmd, NULL), 2);
    free(bin), free(png), free(shard);
    free_world(&w);
}

/* A named root: the store's origins and the rejects use the name (a recipe's spelling), not the path it was opened
 * by, so the outputs do not depend on the working directory. */
Test(ingest, named_roots_name_origins_and_rejects) {
    world w;
    make_world(&w);
    report rep = {0};
    hb_ingest_opts o = {.size = S, .on_reject = on_reject, .ctx = &rep};
    hb_ingest *g;
    hb_err e;
    cr_assert_eq(hb_ingest_open(&g, w.out, &o, &e), 0, "%s", e.reason);
    int root, zip;
    cr_assert_eq(hb_ingest_add_root(g, w.cases, &root, &e), 0, "%s", e.reason);
    cr_assert_eq(hb_ingest_add_root(g, w.zip, &zip, &e), 0, "%s", e.reason);
    hb_ingest_name_root(g, root, "../data/cases");
    hb_ingest_name_root(g, root, "ignored: the first name sticks");
    hb_ingest_name_root(g, zip, "coco.zip");
    hb_hash128 h;
    int why;
    cr_assert_eq(hb_ingest_image(g, root, "jpeg_420.jpg", &h, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_OK);
    cr_assert_eq(hb_ingest_image(g, root, "nope.jpg", &h, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_MISSING);
    cr_assert_eq(hb_ingest_image(g, zip, "COCO_404.jpg", &h, &why, &e), 0);
    cr_assert_eq(why, HB_IMG_MISSING);
    hb_ingest_stats st;
    cr_assert_eq(hb_ingest_finish(g, &st, &e), 0, "%s", e.reason);
    cr_assert_eq(rep.n, 2);
    cr_assert_str_eq(rep.lines[0], "../data/cases/nope.jpg||missing");
    cr_assert_str_eq(rep.lines[1], "coco.zip|COCO_404.jpg|missing");
    size_t n;
    uint8_t *j = fixture("jpeg_420.jpg", &n);
    hb_imgstore *s;
    cr_assert_eq(hb_imgstore_open(&s, w.out, 0, &e), 0, "%s", e.reason);
    uint8_t px[S * S * 3];
    hb_image_meta m;
    cr_assert_eq(hb_imgstore_get(s, hb_hash128_of(j, n), px, &m, &e), 0, "%s", e.reason);
    cr_assert_str_eq(m.origin, "../data/cases//jpeg_420.jpg");
    hb_imgstore_close(s);
    free(j);
    free_world(&w);
}
