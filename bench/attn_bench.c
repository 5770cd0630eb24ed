/* Attention kernel timing: tp_attention over one packed batch of 32 sequences (lengths len - 1,
 * len, len + 1 in turn), the shape of one layer of a sorted workload batch. Random Q/K/V.
 *
 *   attn_bench [--hd 64] [--len 16] [--heads 12] [--threads 1]
 *
 * Prints the best of 30 timings (each the mean of 50 calls) per layer-batch, and a checksum of the
 * output so that two builds can be compared for the same result. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/threadpool.h"
#include "kernels/kernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int hd = 64, len = 16, nh = 12, threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--hd"))
            hd = v;
        else if (!strcmp(argv[i], "--len"))
            len = v;
        else if (!strcmp(argv[i], "--heads"))
            nh = v;
        else if (!strcmp(argv[i], "--threads"))
            threads = v;
        else {
            fprintf(stderr, "attn_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (hd < 1 || len < 2 || nh < 1 || threads < 1) {
        fprintf(stderr, "attn_bench: bad sizes\n");
        return 2;
    }
    enum { NS = 32 };
    int h = nh * hd, off[NS + 1];
    off[0] = 0;
    for (int s = 0; s < NS; s++)
        off[s + 1] = off[s] + len + s % 3 - 1;
    int n = off[NS];
    float *qkv = malloc((size_t)n * 3 * h * sizeof(float));
    float *out = malloc((size_t)n * h * sizeof(float));
    float *scratch = malloc(tp_attention_scratch(len + 1, threads) * sizeof(float));
    tp_pool *pool = tp_pool_create(threads);
    if (!qkv || !out || !scratch || !pool) {
        fprintf(stderr, "attn_bench: out of memory\n");
        return 1;
    }
    srand(1);
    for (size_t i = 0; i < (size_t)n * 3 * h; i++)
        qkv[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    tp_attn_args a = tp_attn_fused_qkv(qkv, nh, hd, out, off, NS);
    double best = 1e30;
    for (int r = 0; r < 30; r++) {
        double t = now();
        for (int i = 0; i < 50; i++)
            tp_attention(pool, &a, scratch);
        t = (now() - t) / 50;
        best = t < best ? t : best;
    }
    double cs = 0;
    for (size_t i = 0; i < (size_t)n * h; i++)
        cs += out[i];
    printf("hd %d, len ~%d, %d heads, %d threads: %.1f us per layer-batch (%d tokens), checksum "
           "%.6f\n",
           hd, len, nh, threads, best * 1e6, n, cs);
    tp_pool_free(pool);
    free(qkv);
    free(out);
    free(scratch);
    return 0;
}
