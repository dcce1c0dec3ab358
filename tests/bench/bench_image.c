/* bench_image: decode + resize to S×S of a list of image files, one core, with hb's exact and fast paths and with
 * stb_image as the JPEG decoder (the baseline the issue names). Files are read into memory first; the timed loop is
 * decode + convert + resize only, as in the Pillow reference of bench_image.sh. Best of R rounds, in process CPU
 * time (the machine is shared: CPU time is what one core spends, whatever else runs).
 *   bench_image MODE S R OUT.raw FILE...      MODE: exact | fast | stb ; OUT.raw gets the N outputs back to back
 *   bench_image store S R DIR FILE...         ingest the files (paths relative to .) into an image store in DIR (one
 *                                             thread), then read every
 *                                             image back by hash (what the trainer does per sample); prints two lines
 * Prints: "<mode> <images> <seconds> <images/s>".
 * Dependencies: image/image.h (hb_image_prepare, hb_image_resize, hb_ingest), shard/imgstore.h (hb_imgstore_get),
 * stb_image.h (JPEG only, for the baseline). */
#include "image/image.h"
#include "shard/imgstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
/* stb declares its whole API static here; the unused parts are reported at the end of the file */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <stb_image.h>
#pragma GCC diagnostic pop

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Ingest every file, then get every image back (in a scrambled order), best of rounds for each. */
static int bench_store(uint32_t S, int rounds, const char *dir, char **files, int n) {
    double best_in = 1e30, best_get = 1e30;
    hb_hash128 *h = malloc(sizeof *h * (size_t)n);
    uint8_t *px = malloc((size_t)S * S * 3);
    for (int r = 0; r < rounds; r++) {
        hb_ingest_opts o = {.size = S};
        hb_ingest *g;
        hb_err e;
        int root, why;
        double t0 = cpu_seconds();
        if (hb_ingest_open(&g, dir, &o, &e) || hb_ingest_add_root(g, ".", &root, &e)) return fprintf(stderr, "%s\n", e.reason), 1;
        for (int i = 0; i < n; i++)
            if (hb_ingest_image(g, root, files[i], &h[i], &why, &e) || why) {
                fprintf(stderr, "bench_image: %s: %s\n", files[i], hb_img_reject_name(why));
                return 1;
            }
        if (hb_ingest_finish(g, NULL, &e)) return fprintf(stderr, "%s\n", e.reason), 1;
        double t1 = cpu_seconds();
        hb_imgstore *st;
        if (hb_imgstore_open(&st, dir, S, &e)) return fprintf(stderr, "%s\n", e.reason), 1;
        for (int i = 0; i < n; i++)
            if (hb_imgstore_get(st, h[(size_t)i * 7919 % (size_t)n], px, NULL, &e)) return fprintf(stderr, "%s\n", e.reason), 1;
        double t2 = cpu_seconds();
        hb_imgstore_close(st);
        if (t1 - t0 < best_in) best_in = t1 - t0;
        if (t2 - t1 < best_get) best_get = t2 - t1;
    }
    printf("ingest %d %.4f %.1f\n", n, best_in, n / best_in);
    printf("get %d %.4f %.1f\n", n, best_get, n / best_get);
    free(h);
    free(px);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: bench_image exact|fast|stb S ROUNDS OUT.raw FILE...\n");
        return 2;
    }
    const char *mode = argv[1];
    uint32_t S = (uint32_t)atoi(argv[2]);
    int rounds = atoi(argv[3]), n = argc - 5;
    if (!strcmp(mode, "store")) return bench_store(S, rounds, argv[4], argv + 5, n);
    uint8_t **data = malloc(sizeof *data * (size_t)n);
    size_t *len = malloc(sizeof *len * (size_t)n);
    for (int i = 0; i < n; i++) {
        hb_err e;
        if (hb_file_read_all(argv[5 + i], &data[i], &len[i], &e)) {
            fprintf(stderr, "bench_image: %s\n", e.reason);
            return 1;
        }
    }
    size_t one = (size_t)S * S * 3;
    uint8_t *out = malloc(one * (size_t)n);
    hb_image_opts o = {.fast = !strcmp(mode, "fast")};
    int stb = !strcmp(mode, "stb");
    double best = 1e30;
    for (int r = 0; r < rounds; r++) {
        double t0 = cpu_seconds();
        for (int i = 0; i < n; i++) {
            hb_err e;
            int code;
            if (stb) {
                int w, h, c;
                uint8_t *px = stbi_load_from_memory(data[i], (int)len[i], &w, &h, &c, 3);
                code = px ? hb_image_resize(px, (uint32_t)w, (uint32_t)h, 3, out + one * i, S, S, NULL, &e) : 1;
                stbi_image_free(px);
            } else {
                hb_image_info info;
                code = hb_image_prepare(data[i], len[i], S, S, &o, &info, out + one * i, &e);
            }
            if (code) {
                fprintf(stderr, "bench_image: %s: failed\n", argv[5 + i]);
                return 1;
            }
        }
        double t = cpu_seconds() - t0;
        if (t < best) best = t;
    }
    FILE *f = fopen(argv[4], "wb");
    if (!f || fwrite(out, one, (size_t)n, f) != (size_t)n || fclose(f)) {
        fprintf(stderr, "bench_image: cannot write %s\n", argv[4]);
        return 1;
    }
    printf("%s %d %.4f %.1f\n", mode, n, best, n / best);
    for (int i = 0; i < n; i++) free(data[i]);
    free(data);
    free(len);
    free(out);
    return 0;
}
