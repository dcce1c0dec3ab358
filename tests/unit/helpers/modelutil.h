/* Helpers for the model tests: open a fixture model (tests/fixtures/model/<name>) on the CPU backend, run a step,
 * compare tensors against the PyTorch references with a relative error per tensor.
 * Dependencies: model/model.h, model/tools.h, kernels/ops.h, testutil.h. */
#ifndef HB_MODELUTIL_H
#define HB_MODELUTIL_H

#include "kernels/ops.h"
#include "model/model.h"
#include "model/tools.h"

typedef struct {
    hb_ops *ops;
    hb_model_cfg cfg;
    hb_model *m;
    hb_batch_file bf;
} mu_fixture;

/* Path of tests/fixtures/model/<rel> (malloc'd). */
char *mu_path(const char *rel);
/* Opens fixture `name` ("a", "b"): config, batch, weights, a model for stage with limits from the batch. Fails the
 * test on any error. */
void mu_open(mu_fixture *f, const char *name, hb_stage stage, int threads, int all_logits, int64_t head_chunk);
void mu_close(mu_fixture *f);
/* max |a - r| / max |r| (0/0 = 0). */
double mu_rel_err(const float *a, const float *r, int64_t n);
/* Downloads a parameter's gradient into a malloc'd array. */
float *mu_grad(mu_fixture *f, const hb_param *p);
float *mu_weights(mu_fixture *f, const hb_param *p);

#endif
