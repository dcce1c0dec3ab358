/* Helpers for the kernels/ops.h tests (tests/unit/test_ops*.c): a CPU context with one roomy arena, host<->tensor
 * shortcuts, seeded random data, comparisons against double-precision references, and the finite-difference
 * gradient checker.
 *
 * The gradient check (ou_fd_check) of an op with inputs x_i and outputs y_k:
 *   L = Σ_k Σ G_k ⊙ y_k with random upstream gradients G_k (or fixed ones), summed in double;
 *   analytic: upload G_k into the output-gradient tensors, run the op's backward, read each input's gradient;
 *   numeric:  for sampled coordinates j of each differentiable input, the 4-point stencil
 *             (−L(x+2h) + 8L(x+h) − 8L(x−h) + L(x−2h)) / 12h, each L from the op's own fp32 forward;
 *   pass when |fd − an| <= rtol·max(|an|, |fd|) + atol with
 *     rtol = 2e-3 (fp32 backward ~1e-6 relative; stencil truncation O(h⁴) ~1e-8 for h = 1e-2 on O(1) inputs; the
 *            margin is for curvature: SiLU/softmax derivatives vary on the scale of h·f⁗ only),
 *     atol = (18/12h)·u·(8·R + M), the rounding noise of the stencil: u = 2⁻²⁴, R = sqrt(Σ_k (G_k·y_k)²) over the
 *            outputs the perturbation changed (each fp32 output carries a few ulps of error; 18/12h is the
 *            stencil's weight sum over h), M = max_k |G_k·y_k| (the resolution floor: a change below one ulp of the
 *            largest term cannot show in L, so smaller gradients are unresolvable, e.g. a key that only an
 *            exponentially small attention weight sees).
 *   A wrong factor of 1% in any gradient fails it. Gradients that accumulate (+=) are checked to double on a second
 *   backward; gradients that overwrite (=) are poisoned with NaN first, so an unwritten element fails.
 *
 * Dependencies: kernels/ops.h, core/core.h (hb_rng), <criterion/criterion.h> (in opsutil.c).
 */
#ifndef HB_OPSUTIL_H
#define HB_OPSUTIL_H

#include "kernels/ops.h"

/* A CPU context (threads from HB_THREADS/OMP, or n when > 0) with a committed 64 MiB arena. */
typedef struct {
    hb_ops *o;
    hb_ops_arena *a;
} ou_ctx;

ou_ctx ou_open(int threads);
void ou_close(ou_ctx *c);
/* A fresh tensor of n elements (zero-filled), optionally set from host data. */
hb_tensor ou_tensor(ou_ctx *c, hb_dtype dt, int64_t n, const char *name);
hb_tensor ou_from(ou_ctx *c, const float *data, int64_t n, const char *name);
hb_tensor ou_from_i32(ou_ctx *c, const int32_t *data, int64_t n, const char *name);
void ou_set(ou_ctx *c, const hb_tensor *t, const float *data, int64_t n);
/* Download into a malloc'd host array (asserts no sticky error). */
float *ou_get(ou_ctx *c, const hb_tensor *t, int64_t n);
/* Asserts the context has no sticky error (prints it). */
void ou_ok(ou_ctx *c, const char *where);

/* Seeded data: n values ~ N(mean, std²) (malloc'd), uniform in [lo, hi), or integers in [lo, hi). */
float *ou_randn(uint64_t seed, int64_t n, float mean, float std);
float *ou_uniform(uint64_t seed, int64_t n, float lo, float hi);
int32_t *ou_randint(uint64_t seed, int64_t n, int32_t lo, int32_t hi);

/* Asserts |got − want| <= atol + rtol·|want| elementwise; reports the worst element. want in double. */
void ou_expect_close(const char *what, const float *got, const double *want, int64_t n, double rtol, double atol);
/* Same for float references (e.g. PyTorch fixtures). */
void ou_expect_closef(const char *what, const float *got, const float *want, int64_t n, double rtol, double atol);

/* ---------------------------------------------------------------------------------------------------------------
 * Finite-difference gradient check
 * ------------------------------------------------------------------------------------------------------------- */
typedef struct {
    const char *name;
    const hb_tensor *t; /* the op's input tensor */
    float *host;        /* its values (the checker perturbs and re-uploads them) */
    int64_t n;
    const hb_tensor *grad; /* its gradient tensor, or NULL when not checked */
    int accumulates;       /* 1: the op adds into grad (+=); 0: it overwrites it (=) */
    int in_place;          /* grad is also the output-gradient tensor (RoPE): no poisoning, no second run */
    float h;               /* finite-difference step (0: 1e-2) */
} ou_fd_in;

typedef struct {
    const char *name;
    const hb_tensor *t;     /* an output of the forward */
    int64_t n;
    const hb_tensor *grad;  /* where the backward reads its upstream gradient; NULL: not part of L */
    const float *G;         /* fixed upstream gradient (NULL: random) */
} ou_fd_out;

typedef struct {
    ou_ctx *c;
    const char *op;
    ou_fd_in in[8];
    int n_in;
    ou_fd_out out[6];
    int n_out;
    void (*fwd)(void *u);
    void (*bwd)(void *u);
    void *u;
    int max_coords; /* sampled coordinates per input (0: 40) */
    uint64_t seed;
} ou_fd;

/* Runs the check described above; asserts (with the op, input, coordinate and values) on failure. Returns the
 * worst |fd − an| / tolerance seen, for margins. */
double ou_fd_check(ou_fd *f);

#endif
