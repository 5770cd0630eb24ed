/* GEMM ceilings on this machine, side by side in one process: y[M][N] = x[M][K] W[N][K]^T, the
 * linear-layer product. Backends: OpenBLAS (linked, its own threads), BLIS and oneDNN (dlopen'd
 * when installed: libblis4-openmp, libdnnl2.6), and tidepool's tp_linear_fwd in f32 / bf16 / int8
 * on its own pool (bf16 / int8 count 2*M*N*K "FLOP" too, so the columns compare directly).
 *
 *   gemm_bench [--threads 2] [--quick] [--json FILE]
 *
 * Prints one line per (backend, shape): GFLOP/s median (min-max) of 5 timings. */
#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/threadpool.h"
#include "gemm_ref.h"
#include "kernels/cpu.h"
#include "kernels/kernels.h"

typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    const char *backend;
    int m, n, k;
    double med, lo, hi;
} row;

static row rows[64];
static int n_rows;

typedef void (*run_fn)(void *ctx);

static const char *only; /* --only: run the backends whose name contains this */

static void measure(const char *backend, int m, int n, int k, run_fn fn, void *ctx, int quick) {
    if (only && !strstr(backend, only)) return;
    double flop = 2.0 * m * n * k, t[5];
    fn(ctx); /* warm-up */
    double t0 = now();
    fn(ctx);
    double one = now() - t0;
    int reps = (int)((quick ? 0.05 : 0.25) / (one > 1e-6 ? one : 1e-6)) + 1;
    for (int r = 0; r < 5; r++) {
        t0 = now();
        for (int i = 0; i < reps; i++)
            fn(ctx);
        t[r] = flop * reps / (now() - t0) / 1e9;
    }
    qsort(t, 5, sizeof t[0], cmp_d);
    printf("%-22s %5d x %5d x %5d  %7.1f GFLOP/s (%.1f-%.1f)\n", backend, m, k, n, t[2], t[0],
           t[4]);
    fflush(stdout);
    if (n_rows < 64) rows[n_rows++] = (row){backend, m, n, k, t[2], t[0], t[4]};
}

typedef struct {
    sgemm_fn sgemm;
    dnnl_sgemm_fn dnnl;
    const float *x, *w;
    float *y;
    int m, n, k;
    tp_linear *lin;
    tp_pool *pool;
} ctx_t;

static void run_cblas(void *v) {
    ctx_t *c = v;
    c->sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->m, c->n, c->k, 1.0f, c->x, c->k, c->w,
             c->k, 0.0f, c->y, c->n);
}

static void run_dnnl(void *v) {
    ctx_t *c = v;
    c->dnnl('N', 'T', c->m, c->n, c->k, 1.0f, c->x, c->k, c->w, c->k, 0.0f, c->y, c->n);
}

static void run_tp(void *v) {
    ctx_t *c = v;
    tp_linear_fwd(c->pool, c->lin, c->x, c->m, c->y);
}

int main(int argc, char **argv) {
    int threads = 2, quick = 0, one_shape[3] = {0, 0, 0};
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc &&
                 sscanf(argv[++i], "%dx%dx%d", &one_shape[0], &one_shape[1], &one_shape[2]) != 3)
            one_shape[0] = 0;
    }
    /* M x K x N: the square ceiling, bert-base layer shapes at 512 tokens (one sorted batch of 32
     * workload sentences) and at 4096 tokens (the shared bench's shapes, MiniLM width). */
    static const int shapes[][3] = {
        {2048, 2048, 2048}, {512, 768, 2304},  {512, 768, 768},   {512, 768, 3072},
        {512, 3072, 768},   {4096, 384, 1152}, {4096, 1536, 384}, {16, 384, 1536},
    };
    int n_shapes = quick ? 3 : (int)(sizeof shapes / sizeof shapes[0]);
    if (one_shape[0] > 0) n_shapes = 1;
    void *blis = dlopen("/usr/lib/x86_64-linux-gnu/blis-openmp/libblis.so.4",
                        RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!blis) blis = dlopen("libblis.so.4", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    sgemm_fn blis_sgemm = blis ? (sgemm_fn)(uintptr_t)dlsym(blis, "cblas_sgemm") : NULL;
    if (blis) {
        void (*set)(long) = (void (*)(long))(uintptr_t)dlsym(blis, "bli_thread_set_num_threads");
        if (set) set(threads);
    }
    dnnl_sgemm_fn dnnl_sgemm = bench_dnnl_sgemm();
    tp_pool *pool = tp_pool_create(threads);
    printf("# cpu level %s, bf16 %d, vnni %d, threads %d\n", tp_cpu_level_name(tp_cpu_level_get()),
           tp_cpu_has_bf16(), tp_cpu_has_vnni(), threads);
    for (int s = 0; s < n_shapes; s++) {
        const int *sh = one_shape[0] > 0 ? one_shape : shapes[s];
        int m = sh[0], k = sh[1], n = sh[2];
        float *x = malloc((size_t)m * k * 4), *w = malloc((size_t)n * k * 4),
              *y = malloc((size_t)m * n * 4);
        if (!x || !w || !y) return 1;
        bench_gemm_inputs(x, (size_t)m * k, w, (size_t)n * k);
        ctx_t c = {.x = x, .w = w, .y = y, .m = m, .n = n, .k = k, .pool = pool};
        openblas_set_num_threads(threads);
        c.sgemm = (sgemm_fn)cblas_sgemm;
        measure("openblas", m, n, k, run_cblas, &c, quick);
        if (blis_sgemm) {
            c.sgemm = blis_sgemm;
            measure("blis", m, n, k, run_cblas, &c, quick);
        }
        if (dnnl_sgemm) {
            c.dnnl = dnnl_sgemm;
            measure("onednn", m, n, k, run_dnnl, &c, quick);
        }
        static const char *names[] = {"tidepool-f32", "tidepool-bf16", "tidepool-int8"};
        for (int kind = TP_LIN_F32; kind <= TP_LIN_INT8; kind++) {
            tp_linear l = {.w = w, .n = n, .k = k};
            if (tp_linear_prepare(&l, (tp_lin_kind)kind, NULL) != TP_OK) continue;
            c.lin = &l;
            measure(names[kind], m, n, k, run_tp, &c, quick);
            if (kind == TP_LIN_F32 && !quick) {
                tp_cpu_level lv = tp_cpu_level_get();
                tp_cpu_force(TP_CPU_GENERIC);
                measure("tidepool-f32-generic", m, n, k, run_tp, &c, quick);
                tp_cpu_force(lv);
            }
            tp_linear_release(&l);
        }
        free(x);
        free(w);
        free(y);
    }
    if (json) {
        FILE *f = fopen(json, "w");
        if (f) {
            fprintf(f, "[\n");
            for (int i = 0; i < n_rows; i++)
                fprintf(
                    f,
                    "  {\"backend\": \"%s\", \"m\": %d, \"k\": %d, \"n\": %d, \"gflops\": %.2f, "
                    "\"min\": %.2f, \"max\": %.2f}%s\n",
                    rows[i].backend, rows[i].m, rows[i].k, rows[i].n, rows[i].med, rows[i].lo,
                    rows[i].hi, i + 1 < n_rows ? "," : "");
            fprintf(f, "]\n");
            fclose(f);
        }
    }
    tp_pool_free(pool);
    return 0;
}
