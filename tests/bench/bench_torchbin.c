/* bench_torchbin: time hb_st_open on a checkpoint (a .bin, an index or a directory) and the conversion of every
 * tensor to f32, each tensor into its own new buffer, all kept (as a dict of float tensors would be), then the
 * conversion once more into those (now mapped) buffers, as a load into preallocated model memory does. Prints
 *   hb open_s convert_s total_s again_s tensors params sum
 * with the best of `reps` runs, and the sum of every value (double) so the reference can check the same work.
 * Dependencies: model/safetensors.h, core/core.h.   Usage: bench_torchbin PATH [reps] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/core.h"
#include "model/safetensors.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_torchbin PATH [reps]\n");
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    double best_open = 1e30, best_conv = 1e30, best_total = 1e30, best_again = 1e30, sum = 0;
    size_t count = 0;
    int64_t params = 0;
    for (int r = 0; r < reps; r++) {
        hb_err e;
        hb_st *st;
        double t0 = now();
        if (hb_st_open(argv[1], &st, &e)) {
            fprintf(stderr, "bench_torchbin: %s: %s\n", e.file, e.reason);
            return 1;
        }
        double t1 = now();
        count = hb_st_count(st);
        float **bufs = malloc(count * sizeof *bufs);
        params = 0;
        for (size_t i = 0; i < count; i++) {
            const hb_st_tensor *t = hb_st_at(st, i);
            bufs[i] = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
            if (hb_st_read_f32(st, t, bufs[i], t->numel, &e)) {
                fprintf(stderr, "bench_torchbin: %s\n", e.reason);
                return 1;
            }
            params += t->numel;
        }
        double t2 = now();
        for (size_t i = 0; i < count; i++) {
            const hb_st_tensor *t = hb_st_at(st, i);
            if (hb_st_read_f32(st, t, bufs[i], t->numel, &e)) return 1;
        }
        double t3 = now();
        sum = 0;
        for (size_t i = 0; i < count; i++) {
            const hb_st_tensor *t = hb_st_at(st, i);
            for (int64_t k = 0; k < t->numel; k++) sum += bufs[i][k];
            free(bufs[i]);
        }
        free(bufs);
        hb_st_close(st);
        if (t1 - t0 < best_open) best_open = t1 - t0;
        if (t2 - t1 < best_conv) best_conv = t2 - t1;
        if (t2 - t0 < best_total) best_total = t2 - t0;
        if (t3 - t2 < best_again) best_again = t3 - t2;
    }
    printf("hb %.4f %.4f %.4f %.4f %zu %lld %.6e\n", best_open, best_conv, best_total, best_again, count,
           (long long)params, sum);
    return 0;
}
