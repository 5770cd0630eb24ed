/* Shared by the bench drivers (gemm_bench.c, tp_bench.c): oneDNN's sgemm, dlopen'd when
 * libdnnl.so.2 is installed, and the deterministic GEMM inputs both fill the same way. */
#ifndef TP_BENCH_GEMM_REF_H
#define TP_BENCH_GEMM_REF_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

typedef int (*dnnl_sgemm_fn)(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha,
                             const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                             float *c, int64_t ldc);

/* NULL when oneDNN is not installed. */
static inline dnnl_sgemm_fn bench_dnnl_sgemm(void) {
    void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    return h ? (dnnl_sgemm_fn)(uintptr_t)dlsym(h, "dnnl_sgemm") : NULL;
}

/* x [nx] and w [nw] in [-0.5, 0.5), the same values in every run. */
static inline void bench_gemm_inputs(float *x, size_t nx, float *w, size_t nw) {
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < nw; i++)
        w[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
}

#endif
