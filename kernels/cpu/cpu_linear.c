/* kernels/cpu/cpu_linear.c — linear layers on the CPU: forward, data gradient and weight gradient as OpenBLAS
 * sgemm calls, bias gradients as a deterministic column sum.
 *
 *   forward      y [rows, n_out]  (= or +=)  x [rows, n_in] · w[n_out, n_in]ᵀ + b      sgemm NT
 *   bwd_data     d_x [rows, n_in] (= or +=)  d_y [rows, n_out] · w                       sgemm NN
 *   bwd_weight   d_w [n_out, n_in] += d_yᵀ · x                                           sgemm TN, beta 1
 *                d_b [n_out]       += Σ_rows d_y                                         hb_cpu_colsum
 *
 * OpenBLAS splits GEMMs over output blocks only, so each output element is the same sum in the same order for any
 * thread count (tests/unit/test_ops_determinism.c checks it).
 *
 * Dependencies:
 *   kernels/cpu/cpu.h   accessors, hb_cpu_colsum
 *   <cblas.h>           cblas_sgemm, openblas_get/set_num_threads
 */
#include "kernels/cpu/cpu.h"

#include <cblas.h>

/* OpenBLAS's thread count is global to the process; make it ours (several contexts may differ). */
static void blas_threads(const hb_ops *o) {
    if (openblas_get_num_threads() != o->threads) openblas_set_num_threads(o->threads);
}

void hb_cpu_linear_fwd(hb_ops *o, T_ y, T_ x, T_ w, T_ b, int64_t rows, int64_t n_out, int64_t n_in, int acc) {
    float *py = F(y);
    float beta = acc ? 1.0f : 0.0f;
    if (b) { /* put the bias in first, then let sgemm accumulate onto it (PyTorch's addmm does the same) */
        const float *pb = F(b);
#pragma omp parallel for num_threads(hb_cpu_nt(o, rows * n_out)) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            float *row = py + r * n_out;
            if (acc)
                for (int64_t j = 0; j < n_out; j++) row[j] += pb[j];
            else
                for (int64_t j = 0; j < n_out; j++) row[j] = pb[j];
        }
        beta = 1.0f;
    }
    blas_threads(o);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)n_out, (blasint)n_in, 1.0f, F(x),
                (blasint)n_in, F(w), (blasint)n_in, beta, py, (blasint)n_out);
}

void hb_cpu_linear_bwd_data(hb_ops *o, T_ d_x, T_ d_y, T_ w, int64_t rows, int64_t n_out, int64_t n_in, int acc) {
    blas_threads(o);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)rows, (blasint)n_in, (blasint)n_out, 1.0f, F(d_y),
                (blasint)n_out, F(w), (blasint)n_in, acc ? 1.0f : 0.0f, F(d_x), (blasint)n_in);
}

void hb_cpu_linear_bwd_weight(hb_ops *o, T_ d_w, T_ d_b, T_ d_y, T_ x, int64_t rows, int64_t n_out, int64_t n_in) {
    if (d_w) {
        blas_threads(o);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)n_out, (blasint)n_in, (blasint)rows, 1.0f,
                    F(d_y), (blasint)n_out, F(x), (blasint)n_in, 1.0f, F(d_w), (blasint)n_in);
    }
    if (d_b) hb_cpu_colsum(o, F(d_b), F(d_y), rows, n_out, n_out);
}
