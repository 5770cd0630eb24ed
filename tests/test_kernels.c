/* Every kernel against a plain scalar reference written here (double accumulation), on random
 * inputs with ragged sizes, at every dispatch level the CPU has (tp_cpu_force), with and without
 * a thread pool. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"

/* ---- helpers ------------------------------------------------------------------------------------
 */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float frand(void) { /* uniform [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float *rand_vec(size_t n, float scale) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = frand() * scale;
    return v;
}

static const tp_cpu_level levels[] = {TP_CPU_GENERIC, TP_CPU_AVX2, TP_CPU_AVX512, TP_CPU_AMX};
#define N_LEVELS 4

/* Forces level; returns 0 when the hardware does not have it (skip). */
static int use_level(tp_cpu_level l) {
    return tp_cpu_force(l) == l;
}

static void restore_level(void) {
    tp_cpu_force(TP_CPU_AMX);
}

static double ref_act(double v, tp_epi_act act) {
    switch (act) {
    case TP_EPI_GELU_ERF:
        return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
    case TP_EPI_GELU_TANH:
        return 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    case TP_EPI_RELU:
        return v > 0 ? v : 0;
    case TP_EPI_SILU:
        return v / (1.0 + exp(-v));
    default:
        return v;
    }
}

/* ---- linear -------------------------------------------------------------------------------------
 */

static float bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}

/* Symmetric per-row int8 quantization, as the contract says: q = round(v / (amax / 127)). */
static void quant_rows(const float *x, int rows, int k, float *q, float *scale) {
    for (int i = 0; i < rows; i++) {
        float amax = 0;
        for (int p = 0; p < k; p++)
            amax = fmaxf(amax, fabsf(x[(size_t)i * k + p]));
        float s = amax > 0 ? amax / 127.0f : 1.0f, inv = 1.0f / s;
        for (int p = 0; p < k; p++) {
            float v = nearbyintf(x[(size_t)i * k + p] * inv);
            q[(size_t)i * k + p] = v < -127 ? -127 : v > 127 ? 127 : v;
        }
        scale[i] = s;
    }
}

/* Reference of the *kind's* arithmetic: inputs rounded as the kind rounds them, exact sums. */
static void ref_linear_kind(tp_lin_kind kind, const float *w, const float *b, int n, int k,
                            const float *x, int m, double *y, double *mag, tp_epi_act act,
                            const float *res) {
    float *xr = malloc((size_t)m * k * sizeof *xr + 4),
          *wr = malloc((size_t)n * k * sizeof *wr + 4);
    float *xs = malloc((size_t)m * sizeof *xs + 4), *ws = malloc((size_t)n * sizeof *ws + 4);
    assert_true(xr && wr && xs && ws);
    for (int i = 0; i < m; i++)
        xs[i] = 1;
    for (int j = 0; j < n; j++)
        ws[j] = 1;
    if (kind == TP_LIN_INT8) {
        quant_rows(x, m, k, xr, xs);
        quant_rows(w, n, k, wr, ws);
    } else {
        for (size_t i = 0; i < (size_t)m * k; i++)
            xr[i] = kind == TP_LIN_BF16 ? bf16_round(x[i]) : x[i];
        for (size_t i = 0; i < (size_t)n * k; i++)
            wr[i] = kind == TP_LIN_BF16 ? bf16_round(w[i]) : w[i];
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0, a = 0;
            for (int p = 0; p < k; p++) {
                double t = (double)xr[(size_t)i * k + p] * wr[(size_t)j * k + p];
                s += t;
                a += fabs(t);
            }
            s = s * xs[i] * ws[j] + (b ? b[j] : 0);
            a = a * xs[i] * ws[j] + (b ? fabs(b[j]) : 0);
            double v = ref_act(s, act);
            if (res) v += res[(size_t)i * n + j];
            y[(size_t)i * n + j] = v;
            mag[(size_t)i * n + j] = a;
        }
    free(xr);
    free(wr);
    free(xs);
    free(ws);
}

static void check_linear(tp_pool *pool, tp_lin_kind kind, int m, int n, int k, int bias,
                         tp_epi_act act, int with_res) {
    float *w = rand_vec((size_t)n * k, 0.5f), *b = bias ? rand_vec((size_t)n, 0.5f) : NULL;
    float *x = rand_vec((size_t)m * k, 1.0f);
    float *res = with_res ? rand_vec((size_t)m * n, 1.0f) : NULL;
    float *y = malloc((size_t)m * n * sizeof *y);
    double *ref = malloc((size_t)m * n * sizeof *ref), *mag = malloc((size_t)m * n * sizeof *mag);
    assert_true(y && ref && mag);
    tp_linear l = {.w = w, .b = b, .n = n, .k = k};
    tp_error err;
    assert_int_equal(tp_linear_prepare(&l, kind, &err), TP_OK);
    ref_linear_kind(kind, w, b, n, k, x, m, ref, mag, act, res);
    for (int li = 0; li < N_LEVELS; li++) {
        if (!use_level(levels[li])) continue;
        for (size_t i = 0; i < (size_t)m * n; i++)
            y[i] = NAN;
        if (act == TP_EPI_NONE && !with_res)
            tp_linear_fwd(pool, &l, x, m, y);
        else
            tp_linear_fwd_ex(pool, &l, x, m, y, act, res);
        for (size_t i = 0; i < (size_t)m * n; i++) {
            /* f32 summation order differs between paths: allow a few ulps of the magnitude */
            double tol = 1e-5 + 2e-6 * sqrt((double)k) * mag[i];
            double d = fabs((double)y[i] - ref[i]);
            if (!(d <= tol))
                fail_msg("linear kind %d level %s m=%d n=%d k=%d bias=%d act=%d res=%d: y[%zu]=%g "
                         "ref=%g (tol %g)",
                         (int)kind, tp_cpu_level_name(levels[li]), m, n, k, bias, (int)act,
                         with_res, i, (double)y[i], ref[i], tol);
        }
    }
    restore_level();
    tp_linear_release(&l);
    free(w);
    free(b);
    free(x);
    free(res);
    free(y);
    free(ref);
    free(mag);
}

static const int lin_shapes[][3] = {
    {1, 1, 1},
    {1, 37, 13},
    {5, 32, 64},
    {13, 33, 7},
    {12, 64, 384},
    {29, 100, 75},
    {37, 130, 257},
    {1, 384, 384},
    {100, 96, 128},
    {7, 3, 5},
    {24, 65, 130},
    {61, 200, 96},
    {3, 2, 768},
    {130, 31, 33},
    {32, 64, 64},
    {16, 32, 32},
    {17, 40, 100},
    {48, 96, 200},
    /* n >= 2k (f32 A packed in tiles), ragged rows, m > 768 (row blocks of 384) and m > 1536
     * (more than one packed chunk) */
    {25, 70, 24},
    {37, 130, 40},
    {800, 66, 17},
    {791, 40, 20},
    {1601, 50, 9},
    /* f32 on a pool: the last panel groups split into row slices (packed A, in-place A, and the
     * last of several row blocks) */
    {200, 300, 100},
    {250, 400, 300},
    {1000, 200, 96},
};

static void test_linear_kind(tp_lin_kind kind) {
    tp_pool *pools[2] = {NULL, tp_pool_create(3)};
    assert_non_null(pools[1]);
    for (size_t s = 0; s < sizeof lin_shapes / sizeof lin_shapes[0]; s++)
        for (int pi = 0; pi < 2; pi++) {
            const int *sh = lin_shapes[s];
            check_linear(pools[pi], kind, sh[0], sh[1], sh[2], (int)(s % 3 != 1), TP_EPI_NONE, 0);
            check_linear(pools[pi], kind, sh[0], sh[1], sh[2], 1, (tp_epi_act)(1 + s % 4),
                         (int)(s & 1));
        }
    tp_pool_free(pools[1]);
}

static void test_linear_f32(void **state) {
    (void)state;
    test_linear_kind(TP_LIN_F32);
}

static void test_linear_bf16(void **state) {
    (void)state;
    test_linear_kind(TP_LIN_BF16);
}

static void test_linear_int8(void **state) {
    (void)state;
    test_linear_kind(TP_LIN_INT8);
}

/* Low precision stays close to f32 on a realistic layer (what the accuracy targets rely on). */
static void test_linear_lowp_vs_f32(void **state) {
    (void)state;
    int m = 40, n = 96, k = 384;
    float *w = rand_vec((size_t)n * k, 0.05f), *b = rand_vec((size_t)n, 0.05f);
    float *x = rand_vec((size_t)m * k, 1.0f);
    float *y32 = malloc((size_t)m * n * 4), *y = malloc((size_t)m * n * 4);
    assert_true(y32 && y);
    tp_linear l32 = {.w = w, .b = b, .n = n, .k = k};
    assert_int_equal(tp_linear_prepare(&l32, TP_LIN_F32, NULL), TP_OK);
    tp_linear_fwd(NULL, &l32, x, m, y32);
    for (int kind = TP_LIN_BF16; kind <= TP_LIN_INT8; kind++) {
        tp_linear l = {.w = w, .b = b, .n = n, .k = k};
        assert_int_equal(tp_linear_prepare(&l, (tp_lin_kind)kind, NULL), TP_OK);
        tp_linear_fwd(NULL, &l, x, m, y);
        double dot = 0, na = 0, nb = 0;
        for (size_t i = 0; i < (size_t)m * n; i++) {
            dot += (double)y[i] * y32[i];
            na += (double)y[i] * y[i];
            nb += (double)y32[i] * y32[i];
        }
        double cos = dot / sqrt(na * nb);
        assert_true(cos > (kind == TP_LIN_BF16 ? 0.9999 : 0.999));
        tp_linear_release(&l);
    }
    tp_linear_release(&l32);
    free(w);
    free(b);
    free(x);
    free(y32);
    free(y);
}

/* LayerNorm writing a packed copy of its output, and a linear layer reading that copy
 * (tp_linear_fwd_xp): bit-identical to LayerNorm then tp_linear_fwd_ex at every level, on one
 * thread and on a pool, for layers that take a packed input (n >= 2k) and ones that do not. */
static void test_layernorm_pack_linear(void **state) {
    (void)state;
    static const int shapes[][3] = {{1, 64, 16},    {13, 96, 48},  {40, 200, 100},
                                    {250, 300, 96}, {800, 70, 24}, {37, 50, 60}};
    tp_pool *pools[2] = {NULL, tp_pool_create(2)};
    assert_non_null(pools[1]);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *w = rand_vec((size_t)n * k, 0.5f), *b = rand_vec((size_t)n, 0.5f);
        float *x = rand_vec((size_t)m * k, 1.0f), *r = rand_vec((size_t)m * k, 1.0f);
        float *g = rand_vec((size_t)k, 1.0f), *be = rand_vec((size_t)k, 0.5f);
        float *x1 = malloc((size_t)m * k * sizeof *x1), *x2 = malloc((size_t)m * k * sizeof *x2);
        float *xp = malloc(tp_linear_packed_floats(m, k) * sizeof *xp);
        float *y1 = malloc((size_t)m * n * sizeof *y1), *y2 = malloc((size_t)m * n * sizeof *y2);
        assert_true(x1 && x2 && xp && y1 && y2);
        tp_linear l = {.w = w, .b = b, .n = n, .k = k};
        assert_int_equal(tp_linear_prepare(&l, TP_LIN_F32, NULL), TP_OK);
        for (int li = 0; li < N_LEVELS; li++) {
            if (!use_level(levels[li])) continue;
            assert_int_equal(tp_linear_takes_packed(&l), levels[li] >= TP_CPU_AVX512 && n >= 2 * k);
            for (int pi = 0; pi < 2; pi++)
                for (int with_r = 0; with_r < 2; with_r++) {
                    memcpy(x1, x, (size_t)m * k * sizeof *x1);
                    memcpy(x2, x, (size_t)m * k * sizeof *x2);
                    const float *rr = with_r ? r : NULL;
                    float *pk = tp_linear_takes_packed(&l) ? xp : NULL;
                    if (rr)
                        tp_add_layernorm(pools[pi], x1, rr, g, be, m, k, 1e-5f);
                    else
                        tp_layernorm(pools[pi], x1, g, be, m, k, 1e-5f);
                    tp_add_layernorm_pack(pools[pi], x2, rr, g, be, m, k, 1e-5f, pk);
                    assert_memory_equal(x1, x2, (size_t)m * k * sizeof *x1);
                    tp_linear_fwd_ex(pools[pi], &l, x1, m, y1, TP_EPI_GELU_ERF, NULL);
                    tp_linear_fwd_xp(pools[pi], &l, x2, pk, m, y2, TP_EPI_GELU_ERF, NULL);
                    if (memcmp(y1, y2, (size_t)m * n * sizeof *y1))
                        fail_msg("packed input differs: level %s m=%d n=%d k=%d pool=%d r=%d",
                                 tp_cpu_level_name(levels[li]), m, n, k, pi, with_r);
                }
        }
        restore_level();
        tp_linear_release(&l);
        free(w);
        free(b);
        free(x);
        free(r);
        free(g);
        free(be);
        free(x1);
        free(x2);
        free(xp);
        free(y1);
        free(y2);
    }
    tp_pool_free(pools[1]);
}

static void test_linear_unprepared_and_m0(void **state) {
    (void)state;
    float w[6] = {1, 2, 3, 4, 5, 6}, b[2] = {0.5f, -1}, x[3] = {1, -1, 2}, y[2];
    tp_linear l = {.w = w, .b = b, .n = 2, .k = 3};
    tp_linear_fwd(NULL, &l, x, 1, y); /* not prepared: reference path */
    assert_float_equal(y[0], 1 - 2 + 6 + 0.5f, 1e-6);
    assert_float_equal(y[1], 4 - 5 + 12 - 1, 1e-6);
    assert_int_equal(tp_linear_prepare(&l, TP_LIN_F32, NULL), TP_OK);
    tp_linear_fwd(NULL, &l, x, 0, y); /* m = 0 is a no-op */
    tp_linear_release(&l);
    tp_linear bad = {.w = w, .n = 0, .k = 3};
    tp_error err;
    assert_int_equal(tp_linear_prepare(&bad, TP_LIN_F32, &err), TP_INVALID);
}

/* ---- element-wise -------------------------------------------------------------------------------
 */

static void test_activations(void **state) {
    (void)state;
    size_t sizes[] = {0, 1, 7, 16, 33, 1000};
    for (int li = 0; li < N_LEVELS; li++) {
        if (!use_level(levels[li])) continue;
        for (size_t si = 0; si < 6; si++) {
            size_t n = sizes[si];
            float *x = rand_vec(n, 6.0f), *y = malloc((n + 1) * 4);
            assert_non_null(y);
            if (n > 2) x[0] = 0, x[1] = -1e-6f, x[2] = 30.0f;
            for (int a = TP_EPI_GELU_ERF; a <= TP_EPI_SILU; a++) {
                memcpy(y, x, n * 4);
                tp_epi_act_inplace(y, n, (tp_epi_act)a);
                for (size_t i = 0; i < n; i++)
                    if (!(fabs(y[i] - ref_act(x[i], (tp_epi_act)a)) <= 2e-6 * (1 + fabs(x[i]))))
                        fail_msg("act %d level %d x=%g y=%g ref=%g", a, li, (double)x[i],
                                 (double)y[i], ref_act(x[i], (tp_epi_act)a));
            }
            /* the named entry points */
            void (*fns[4])(float *, size_t) = {tp_gelu_erf, tp_gelu_tanh, tp_relu, tp_silu};
            for (int a = 0; a < 4; a++) {
                memcpy(y, x, n * 4);
                fns[a](y, n);
                for (size_t i = 0; i < n; i++)
                    assert_true(fabs(y[i] - ref_act(x[i], (tp_epi_act)(a + 1))) <=
                                2e-6 * (1 + fabs(x[i])));
            }
            memcpy(y, x, n * 4);
            tp_tanh_inplace(y, n);
            for (size_t i = 0; i < n; i++)
                assert_true(fabs(y[i] - tanh(x[i])) <= 2e-6);
            free(x);
            free(y);
        }
    }
    restore_level();
}

static void test_glu(void **state) {
    (void)state;
    int shapes[][2] = {{1, 1}, {3, 17}, {5, 64}, {2, 100}};
    for (int li = 0; li < N_LEVELS; li++) {
        if (!use_level(levels[li])) continue;
        for (int s = 0; s < 4; s++) {
            int m = shapes[s][0], f = shapes[s][1];
            float *in = rand_vec((size_t)m * 2 * f, 4.0f), *out = malloc((size_t)m * f * 4);
            assert_non_null(out);
            for (int act = 0; act < 3; act++) {
                tp_glu(in, out, m, f, act);
                tp_epi_act ea = act == 0   ? TP_EPI_SILU
                                : act == 1 ? TP_EPI_GELU_ERF
                                           : TP_EPI_GELU_TANH;
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < f; j++) {
                        double g = in[(size_t)i * 2 * f + j], u = in[(size_t)i * 2 * f + f + j];
                        double r = ref_act(g, ea) * u;
                        assert_true(fabs(out[(size_t)i * f + j] - r) <= 1e-5 * (1 + fabs(r)));
                    }
            }
            free(in);
            free(out);
        }
    }
    restore_level();
}

static void test_softmax(void **state) {
    (void)state;
    int sizes[] = {1, 2, 15, 16, 17, 100, 513};
    for (int li = 0; li < N_LEVELS; li++) {
        if (!use_level(levels[li])) continue;
        for (int s = 0; s < 7; s++) {
            int n = sizes[s];
            float *x = rand_vec((size_t)n, 20.0f), *y = malloc((size_t)n * 4);
            assert_non_null(y);
            memcpy(y, x, (size_t)n * 4);
            tp_softmax_row(y, n);
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < n; j++)
                mx = fmax(mx, x[j]);
            for (int j = 0; j < n; j++)
                sum += exp(x[j] - mx);
            for (int j = 0; j < n; j++)
                assert_true(fabs(y[j] - exp(x[j] - mx) / sum) <= 1e-6);
            free(x);
            free(y);
        }
    }
    restore_level();
}

/* ---- norms --------------------------------------------------------------------------------------
 */

static void ref_layernorm(const float *x, const float *r, const float *g, const float *b, int n,
                          double eps, double *out) {
    double mean = 0, var = 0;
    for (int j = 0; j < n; j++)
        mean += (double)x[j] + (r ? r[j] : 0);
    mean /= n;
    for (int j = 0; j < n; j++) {
        double d = (double)x[j] + (r ? r[j] : 0) - mean;
        var += d * d;
    }
    var /= n;
    for (int j = 0; j < n; j++)
        out[j] = ((double)x[j] + (r ? r[j] : 0) - mean) / sqrt(var + eps) * g[j] + (b ? b[j] : 0);
}

static void test_layernorm(void **state) {
    (void)state;
    int shapes[][2] = {{1, 1}, {1, 7}, {3, 16}, {17, 33}, {40, 384}, {5, 768}, {2, 1000}};
    tp_pool *pool = tp_pool_create(2);
    for (int li = 0; li < N_LEVELS; li++) {
        if (!use_level(levels[li])) continue;
        for (int s = 0; s < 7; s++)
            for (int with_r = 0; with_r < 2; with_r++)
                for (int with_b = 0; with_b < 2; with_b++) {
                    int m = shapes[s][0], n = shapes[s][1];
                    float *x = rand_vec((size_t)m * n, 3.0f), *r = rand_vec((size_t)m * n, 3.0f);
                    float *g = rand_vec((size_t)n, 1.0f), *b = rand_vec((size_t)n, 1.0f);
                    for (int i = 0; i < m * n; i++)
                        x[i] += 5.0f; /* non-zero mean */
                    float *y = malloc((size_t)m * n * 4);
                    double *ref = malloc((size_t)n * sizeof *ref);
                    assert_true(y && ref);
                    memcpy(y, x, (size_t)m * n * 4);
                    float eps = n == 1 ? 1e-5f : 1e-12f;
                    if (with_r)
                        tp_add_layernorm(pool, y, r, g, with_b ? b : NULL, m, n, eps);
                    else
                        tp_layernorm(pool, y, g, with_b ? b : NULL, m, n, eps);
                    for (int i = 0; i < m; i++) {
                        ref_layernorm(x + (size_t)i * n, with_r ? r + (size_t)i * n : NULL, g,
                                      with_b ? b : NULL, n, eps, ref);
                        for (int j = 0; j < n; j++)
                            if (!(fabs(y[(size_t)i * n + j] - ref[j]) <= 2e-5))
                                fail_msg("layernorm level %d m=%d n=%d r=%d b=%d: %g vs %g", li, m,
                                         n, with_r, with_b, (double)y[(size_t)i * n + j], ref[j]);
                    }
                    free(x);
                    free(r);
                    free(g);
                    free(b);
                    free(y);
                    free(ref);
                }
    }
    restore_level();
    tp_pool_free(pool);
}

static void test_rmsnorm(void **state) {
    (void)state;
    int shapes[][2] = {{1, 1}, {3, 16}, {17, 33}, {4, 896}};
    for (int li = 0; li < N_LEVELS; li++) {
        if (!use_level(levels[li])) continue;
        for (int s = 0; s < 4; s++)
            for (int alias = 0; alias < 2; alias++) {
                int m = shapes[s][0], n = shapes[s][1];
                float *x = rand_vec((size_t)m * n, 3.0f), *g = rand_vec((size_t)n, 1.0f);
                float *y = malloc((size_t)m * n * 4), *x0 = malloc((size_t)m * n * 4);
                assert_true(y && x0);
                memcpy(x0, x, (size_t)m * n * 4);
                if (alias) {
                    tp_rmsnorm(x, x, g, m, n, 1e-6f);
                    memcpy(y, x, (size_t)m * n * 4);
                } else {
                    tp_rmsnorm(y, x, g, m, n, 1e-6f);
                }
                for (int i = 0; i < m; i++) {
                    double ss = 0;
                    for (int j = 0; j < n; j++)
                        ss += (double)x0[i * n + j] * x0[i * n + j];
                    double inv = 1 / sqrt(ss / n + 1e-6);
                    for (int j = 0; j < n; j++)
                        assert_true(fabs(y[i * n + j] - x0[i * n + j] * inv * g[j]) <= 1e-5);
                }
                free(x);
                free(g);
                free(y);
                free(x0);
            }
    }
    restore_level();
}

/* ---- rope ---------------------------------------------------------------------------------------
 */

static void test_rope(void **state) {
    (void)state;
    int cfg[][4] = {{3, 2, 8, 8}, {5, 3, 64, 64}, {4, 2, 64, 32}, {1, 1, 2, 2}, {7, 4, 128, 128}};
    for (int li = 0; li < N_LEVELS; li++) {
        if (!use_level(levels[li])) continue;
        for (int c = 0; c < 5; c++) {
            int m = cfg[c][0], nh = cfg[c][1], hd = cfg[c][2], rd = cfg[c][3];
            int stride = nh * hd + 5; /* rows wider than the heads (q inside a fused qkv) */
            float *x = rand_vec((size_t)m * stride, 1.0f), *y = malloc((size_t)m * stride * 4);
            int32_t *pos = malloc((size_t)m * sizeof *pos);
            assert_true(y && pos);
            for (int i = 0; i < m; i++)
                pos[i] = i * 37 + 3;
            memcpy(y, x, (size_t)m * stride * 4);
            float theta = 10000.0f;
            tp_rope(y, m, nh, hd, rd, pos, theta, stride);
            for (int i = 0; i < m; i++) {
                for (int h = 0; h < nh; h++) {
                    const float *v = x + (size_t)i * stride + (size_t)h * hd;
                    const float *o = y + (size_t)i * stride + (size_t)h * hd;
                    int half = rd / 2;
                    for (int d = 0; d < hd; d++) {
                        double r;
                        if (d >= rd) {
                            r = v[d];
                        } else {
                            int dd = d < half ? d : d - half;
                            double invf = 1.0 / pow(theta, (2.0 * dd) / rd);
                            double ang = pos[i] * invf, cs = cos(ang), sn = sin(ang);
                            r = d < half ? v[d] * cs - v[d + half] * sn
                                         : v[d] * cs + v[d - half] * sn;
                        }
                        /* angles up to ~250 rad: f32 argument rounding allows ~1e-4 */
                        if (!(fabs(o[d] - r) <= 3e-4))
                            fail_msg("rope c=%d i=%d h=%d d=%d: %g vs %g", c, i, h, d, (double)o[d],
                                     r);
                    }
                }
                for (int t = nh * hd; t < stride; t++)
                    assert_true(y[(size_t)i * stride + t] == x[(size_t)i * stride + t]);
            }
            free(x);
            free(y);
            free(pos);
        }
    }
    restore_level();
}

/* ---- attention ----------------------------------------------------------------------------------
 */

static void ref_attention(const tp_attn_args *a, double *out /* [tokens][n_heads*hd] */) {
    int hd = a->head_dim, group = a->n_heads / a->n_kv_heads, half = a->window / 2;
    int ow = a->n_heads * hd;
    for (int s = 0; s < a->n_seq; s++) {
        int base = a->off[s], len = a->off[s + 1] - base;
        double *p = malloc((size_t)(len ? len : 1) * sizeof *p);
        assert_non_null(p);
        for (int h = 0; h < a->n_heads; h++) {
            int kh = h / group;
            for (int i = 0; i < len; i++) {
                const float *q = a->q + (size_t)(base + i) * a->q_stride + (size_t)h * hd;
                double mx = -INFINITY;
                for (int j = 0; j < len; j++) {
                    int vis = (!a->causal || j <= i) &&
                              (a->window <= 0 || (j >= i - half && j <= i + half));
                    if (!vis) {
                        p[j] = -INFINITY;
                        continue;
                    }
                    const float *k = a->k + (size_t)(base + j) * a->k_stride + (size_t)kh * hd;
                    double d = 0;
                    for (int t = 0; t < hd; t++)
                        d += (double)q[t] * k[t];
                    p[j] = d * a->scale;
                    mx = fmax(mx, p[j]);
                }
                double sum = 0;
                for (int j = 0; j < len; j++) {
                    p[j] = p[j] == -INFINITY ? 0 : exp(p[j] - mx);
                    sum += p[j];
                }
                for (int t = 0; t < hd; t++) {
                    double o = 0;
                    for (int j = 0; j < len; j++)
                        o += p[j] * a->v[(size_t)(base + j) * a->v_stride + (size_t)kh * hd + t];
                    out[(size_t)(base + i) * ow + (size_t)h * hd + t] = o / sum;
                }
            }
        }
        free(p);
    }
}

static void check_attention(tp_pool *pool, const int *lens, int n_seq, int nh, int nkv, int hd,
                            int causal, int window) {
    int32_t *off = malloc((size_t)(n_seq + 1) * sizeof *off);
    assert_non_null(off);
    off[0] = 0;
    int max_len = 0;
    for (int s = 0; s < n_seq; s++) {
        off[s + 1] = off[s] + lens[s];
        max_len = lens[s] > max_len ? lens[s] : max_len;
    }
    int T = off[n_seq];
    /* fused qkv rows, as the models lay them out */
    int qs = (nh + 2 * nkv) * hd + 3;
    float *qkv = rand_vec((size_t)(T ? T : 1) * qs, 2.0f);
    int os = nh * hd + 1;
    float *out = malloc((size_t)(T ? T : 1) * os * 4);
    double *ref = malloc((size_t)(T ? T : 1) * nh * hd * sizeof *ref);
    int nt = tp_pool_size(pool);
    float *scratch = malloc(tp_attention_scratch(max_len, nt) * 4);
    assert_true(out && ref && scratch);
    tp_attn_args a = {.q = qkv,
                      .k = qkv + nh * hd,
                      .v = qkv + (nh + nkv) * hd,
                      .q_stride = qs,
                      .k_stride = qs,
                      .v_stride = qs,
                      .out = out,
                      .out_stride = os,
                      .off = off,
                      .n_seq = n_seq,
                      .n_heads = nh,
                      .n_kv_heads = nkv,
                      .head_dim = hd,
                      .scale = 1.0f / sqrtf((float)hd),
                      .causal = causal,
                      .window = window};
    ref_attention(&a, ref);
    for (int li = 0; li < N_LEVELS; li++) {
        if (!use_level(levels[li])) continue;
        for (size_t i = 0; i < (size_t)T * os; i++)
            out[i] = NAN;
        tp_attention(pool, &a, scratch);
        for (int t = 0; t < T; t++)
            for (int c = 0; c < nh * hd; c++) {
                double d = fabs(out[(size_t)t * os + c] - ref[(size_t)t * nh * hd + c]);
                if (!(d <= 2e-5))
                    fail_msg("attention level %d nseq=%d nh=%d nkv=%d hd=%d causal=%d window=%d "
                             "t=%d c=%d: %g vs %g",
                             li, n_seq, nh, nkv, hd, causal, window, t, c,
                             (double)out[(size_t)t * os + c], ref[(size_t)t * nh * hd + c]);
            }
    }
    restore_level();
    free(off);
    free(qkv);
    free(out);
    free(ref);
    free(scratch);
}

static void test_attention(void **state) {
    (void)state;
    tp_pool *pools[2] = {NULL, tp_pool_create(2)};
    int lens1[] = {1};
    int lens2[] = {5, 1, 17, 64, 65, 3};
    int lens3[] = {150, 9, 130};
    int lens4[] = {16, 16, 8, 31};
    int lens5[] = {16, 16, 8, 31, 70, 3, 12}; /* 168 units: several per pool task, a short last */
    for (int pi = 0; pi < 2; pi++) {
        tp_pool *p = pools[pi];
        check_attention(p, lens1, 1, 2, 2, 8, 0, 0);
        check_attention(p, lens2, 6, 4, 4, 16, 0, 0);   /* bidirectional, varlen */
        check_attention(p, lens2, 6, 4, 4, 16, 1, 0);   /* causal */
        check_attention(p, lens3, 3, 3, 3, 64, 0, 0);   /* longer than one query block */
        check_attention(p, lens3, 3, 4, 2, 32, 1, 0);   /* causal GQA */
        check_attention(p, lens3, 3, 2, 2, 64, 0, 16);  /* ModernBERT local window */
        check_attention(p, lens4, 4, 12, 12, 64, 0, 0); /* BERT shape */
        check_attention(p, lens4, 4, 8, 1, 64, 1, 0);   /* MQA */
        check_attention(p, lens5, 7, 12, 12, 64, 0, 0); /* batch of BERT shape */
        check_attention(p, lens2, 6, 6, 2, 24, 0, 7);   /* window, GQA, odd head dim */
    }
    tp_pool_free(pools[1]);
}

/* ---- thread pool -------------------------------------------------------------------------------
 */

typedef struct {
    int *hits;
    int n_threads;
    int bad_thread;
} pool_ctx;

static void pool_fn(void *vctx, int task, int thread) {
    pool_ctx *c = vctx;
    __atomic_fetch_add(&c->hits[task], 1, __ATOMIC_RELAXED);
    if (thread < 0 || thread >= c->n_threads) c->bad_thread = 1;
}

/* Many small jobs back to back (as a forward pass issues them): every task runs exactly once. */
static void test_pool(void **state) {
    (void)state;
    for (int nt = 1; nt <= 4; nt++) {
        tp_pool *p = tp_pool_create(nt);
        assert_non_null(p);
        assert_int_equal(tp_pool_size(p), nt);
        int hits[257];
        for (int job = 0; job < 2000; job++) {
            int n = job % 257;
            memset(hits, 0, sizeof hits);
            pool_ctx c = {hits, nt, 0};
            tp_pool_run(p, pool_fn, &c, n);
            for (int t = 0; t < n; t++)
                assert_int_equal(hits[t], 1);
            assert_false(c.bad_thread);
        }
        tp_pool_free(p);
    }
}

static void test_cpu_force(void **state) {
    (void)state;
    const tp_cpu_features *f = tp_cpu_features_get();
    assert_non_null(f);
    assert_int_equal(tp_cpu_force(TP_CPU_GENERIC), TP_CPU_GENERIC);
    assert_int_equal(tp_cpu_level_get(), TP_CPU_GENERIC);
    assert_false(tp_cpu_has_bf16());
    assert_false(tp_cpu_has_vnni());
    tp_cpu_level top = tp_cpu_force(TP_CPU_AMX);
    assert_true(top >= TP_CPU_GENERIC && top <= TP_CPU_AMX);
    if (top >= TP_CPU_AVX512) assert_true(f->avx512f);
    if (top == TP_CPU_AMX) assert_true(f->amx_tile && tp_cpu_has_amx());
    print_message("cpu: %s (bf16 %d, vnni %d, amx %d)\n", tp_cpu_level_name(top), f->avx512_bf16,
                  f->avx512_vnni, f->amx_tile);
    assert_non_null(tp_cpu_level_name(top));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_force),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_linear_f32),
        cmocka_unit_test(test_linear_bf16),
        cmocka_unit_test(test_linear_int8),
        cmocka_unit_test(test_linear_lowp_vs_f32),
        cmocka_unit_test(test_linear_unprepared_and_m0),
        cmocka_unit_test(test_layernorm_pack_linear),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_glu),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_attention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
