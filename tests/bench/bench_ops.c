/* tests/bench/bench_ops.c — times hot kernels/ops.h ops on the CPU backend (compiled and run by bench_ops.sh, which
 * runs the same shapes in PyTorch and prints the ratio). Output: one line per case, "name<TAB>shape<TAB>ms" with the
 * median of the repetitions. Usage: bench_ops THREADS REPS
 *
 * Cases (a small LLaMA-like config, width 512, 2,048 tokens; and CLIP-like bidirectional attention):
 *   linear      x [2048, 512] · W [2048, 512]ᵀ forward, data and weight gradients
 *   attn_causal B=8 T=256 H=8 D=64, forward + backward
 *   attn_full   B=4 T=257 H=16 D=64 (CLIP ViT-L/14 heads), forward + backward
 *   rmsnorm     [2048, 512] forward + backward
 *   xent        logits [512, 32000], forward + dlogits
 */
#include "kernels/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hb_ops *o;
static hb_ops_arena *arena;

static hb_tensor tensor(int64_t n, float scale, uint64_t seed) {
    hb_tensor t;
    hb_err e;
    if (hb_ops_alloc(arena, &t, HB_F32, n, "bench", &e)) {
        fprintf(stderr, "bench_ops: %s\n", e.reason);
        exit(1);
    }
    float *h = malloc((size_t)n * sizeof(float));
    hb_rng r = hb_rng_make(seed, 1);
    for (int64_t i = 0; i < n; i++) h[i] = (float)((hb_rng_uniform(&r) * 2 - 1) * scale);
    hb_ops_upload(o, &t, 0, h, HB_F32, n);
    free(h);
    return t;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef void (*bench_fn)(void *);

static void run(const char *name, const char *shape, bench_fn fn, void *u, int reps) {
    double t[64];
    fn(u); /* warm-up */
    for (int i = 0; i < reps; i++) {
        double t0 = hb_now();
        fn(u);
        hb_err e;
        if (hb_ops_sync(o, &e)) {
            fprintf(stderr, "bench_ops: %s: %s\n", name, e.reason);
            exit(1);
        }
        t[i] = (hb_now() - t0) * 1e3;
    }
    qsort(t, (size_t)reps, sizeof(double), cmp);
    printf("%s\t%s\t%.3f\n", name, shape, t[reps / 2]);
    fflush(stdout);
}

typedef struct {
    hb_tensor x, w, y, dy, dx, dw;
    int64_t rows, n_out, n_in;
} lin_t;
static void lin(void *u) {
    lin_t *l = u;
    hb_ops_linear_fwd(o, &l->y, &l->x, &l->w, NULL, l->rows, l->n_out, l->n_in, 0);
    hb_ops_linear_bwd_data(o, &l->dx, &l->dy, &l->w, l->rows, l->n_out, l->n_in, 0);
    hb_ops_linear_bwd_weight(o, &l->dw, NULL, &l->dy, &l->x, l->rows, l->n_out, l->n_in);
}

typedef struct {
    hb_tensor qkv, out, lse, dout, dqkv;
    int64_t B, T, H, D;
    int causal;
} attn_t;
static void attn(void *u) {
    attn_t *a = u;
    float scale = 0.125f;
    hb_ops_attn_fwd(o, &a->out, &a->lse, &a->qkv, NULL, a->B, a->T, a->H, a->D, scale, a->causal);
    hb_ops_attn_bwd(o, &a->dqkv, &a->dout, &a->out, &a->lse, &a->qkv, NULL, a->B, a->T, a->H, a->D, scale, a->causal);
}

typedef struct {
    hb_tensor x, w, y, rstd, dy, dx, dw;
    int64_t rows, C;
} rms_t;
static void rms(void *u) {
    rms_t *r = u;
    hb_ops_rmsnorm_fwd(o, &r->y, &r->rstd, &r->x, &r->w, r->rows, r->C, 1e-5f);
    hb_ops_rmsnorm_bwd(o, &r->dx, &r->dw, &r->dy, &r->x, &r->rstd, &r->w, r->rows, r->C, 0);
}

typedef struct {
    hb_tensor z, dz, t, loss;
    int64_t rows, V;
} xent_t;
static void xent(void *u) {
    xent_t *x = u;
    hb_ops_xent_fwd_bwd(o, &x->dz, &x->loss, &x->z, &x->t, x->rows, x->V, 1.0f / (float)x->rows);
}

static void attn_case(const char *name, int64_t B, int64_t T, int64_t H, int64_t D, int causal, int reps) {
    hb_err e;
    if (hb_ops_attn_prepare(o, B, T, H, D, causal, &e)) {
        fprintf(stderr, "bench_ops: %s\n", e.reason);
        exit(1);
    }
    attn_t a = {tensor(B * T * 3 * H * D, 1, 3), tensor(B * T * H * D, 0, 4), tensor(B * H * T, 0, 5),
                tensor(B * T * H * D, 1, 6), tensor(B * T * 3 * H * D, 0, 7), B, T, H, D, causal};
    char shape[96];
    snprintf(shape, sizeof shape, "B=%lld T=%lld H=%lld D=%lld", (long long)B, (long long)T, (long long)H,
             (long long)D);
    run(name, shape, attn, &a, reps);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, reps = argc > 2 ? atoi(argv[2]) : 5;
    if (reps < 1 || reps > 64) reps = 5;
    hb_err e;
    o = hb_ops_open("cpu", &(hb_ops_opts){.threads = threads}, &e);
    arena = o ? hb_ops_arena_new(o, "bench", 1LL << 30, &e) : NULL;
    if (!arena) {
        fprintf(stderr, "bench_ops: %s\n", e.reason);
        return 1;
    }
    fprintf(stderr, "bench_ops: %s\n", hb_ops_describe(o));
    lin_t l = {tensor(2048 * 512, 1, 1), tensor(2048 * 512, 0.05f, 2), tensor(2048 * 2048, 0, 0),
               tensor(2048 * 2048, 1, 8), tensor(2048 * 512, 0, 0), tensor(2048 * 512, 0, 0), 2048, 2048, 512};
    run("linear", "rows=2048 in=512 out=2048", lin, &l, reps);
    attn_case("attn_causal", 8, 256, 8, 64, 1, reps);
    attn_case("attn_full", 4, 257, 16, 64, 0, reps);
    rms_t r = {tensor(2048 * 512, 1, 9), tensor(512, 1, 10), tensor(2048 * 512, 0, 0), tensor(2048, 0, 0),
               tensor(2048 * 512, 1, 11), tensor(2048 * 512, 0, 0), tensor(512, 0, 0), 2048, 512};
    run("rmsnorm", "rows=2048 C=512", rms, &r, reps);
    int32_t *ti = malloc(512 * sizeof(int32_t));
    for (int i = 0; i < 512; i++) ti[i] = (i * 7919) % 32000;
    xent_t x = {tensor(512 * 32000, 4, 12), tensor(512 * 32000, 0, 0), {0}, tensor(512, 0, 0), 512, 32000};
    if (hb_ops_alloc(arena, &x.t, HB_I32, 512, "targets", &e)) return 1;
    hb_ops_upload(o, &x.t, 0, ti, HB_I32, 512);
    free(ti);
    run("xent", "rows=512 V=32000", xent, &x, reps);
    hb_ops_close(o);
    return 0;
}
