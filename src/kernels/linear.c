/* Linear layers and GEMM on OpenBLAS. Our own pool splits the output columns so both cores work
 * on every layer; OpenBLAS itself runs single-threaded inside each task. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/kernels.h"

tp_status tp_linear_prepare(tp_linear *l, tp_lin_kind kind, tp_error *err) {
    if (kind != TP_LIN_F32)
        return tp_fail(err, TP_UNSUPPORTED, "linear: only f32 weights are supported");
    l->kind = kind;
    return TP_OK;
}

void tp_linear_release(tp_linear *l) {
    free(l->packed);
    l->packed = NULL;
}

typedef struct {
    const tp_linear *l;
    const float *x;
    float *y;
    int m, chunk;
} lin_ctx;

static void lin_task(void *vctx, int task, int thread) {
    (void)thread;
    lin_ctx *c = vctx;
    const tp_linear *l = c->l;
    int n0 = task * c->chunk, n1 = n0 + c->chunk < l->n ? n0 + c->chunk : l->n;
    if (n0 >= n1) return;
    float *y = c->y + n0;
    if (l->b)
        for (int i = 0; i < c->m; i++) memcpy(y + (size_t)i * l->n, l->b + n0, (size_t)(n1 - n0) * 4);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->m, n1 - n0, l->k, 1.0f, c->x, l->k,
                l->w + (size_t)n0 * l->k, l->k, l->b ? 1.0f : 0.0f, y, l->n);
}

void tp_linear_fwd(tp_pool *pool, const tp_linear *l, const float *x, int m, float *y) {
    static int blas_single = 0;
    if (!blas_single) {
        openblas_set_num_threads(1);
        blas_single = 1;
    }
    int nt = tp_pool_size(pool);
    int tasks = nt;
    if ((long)m * l->n * l->k < 64 * 64 * 64) tasks = 1;
    int chunk = (l->n + tasks - 1) / tasks;
    chunk = (chunk + 15) & ~15;
    lin_ctx c = {l, x, y, m, chunk};
    tp_pool_run(pool, lin_task, &c, (l->n + chunk - 1) / chunk);
}

void tp_gemm_nt(const float *a, int lda, const float *b, int ldb, float *c, int ldc, int m, int n,
                int k, int accumulate) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, lda, b, ldb,
                accumulate ? 1.0f : 0.0f, c, ldc);
}

void tp_gemm_nn(const float *a, int lda, const float *b, int ldb, float *c, int ldc, int m, int n,
                int k) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c,
                ldc);
}
