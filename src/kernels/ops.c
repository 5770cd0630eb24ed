/* Element-wise and row-wise kernels (plain C; the compiler vectorizes the inner loops). */
#include <math.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

typedef struct {
    float *x;
    const float *r, *g, *b;
    int m, n;
    float eps;
    float *xp; /* packed copy of the result in TP_MR-row tiles, or NULL */
    int rows;  /* rows per task: TP_MR when packing */
} ln_ctx;

static void ln_row(float *x, const float *r, const float *g, const float *b, int n, float eps) {
    double sum = 0;
    if (r)
        for (int j = 0; j < n; j++)
            x[j] += r[j];
    for (int j = 0; j < n; j++)
        sum += x[j];
    float mean = (float)(sum / n);
    double var = 0;
    for (int j = 0; j < n; j++) {
        float d = x[j] - mean;
        var += (double)d * d;
    }
    float inv = 1.0f / sqrtf((float)(var / n) + eps);
    for (int j = 0; j < n; j++) {
        float y = (x[j] - mean) * inv * g[j];
        x[j] = b ? y + b[j] : y;
    }
}

#define LN_ROWS 16

/* Rows [task * c->rows, ...): normalized, then (xp, AVX-512 only) packed as one TP_MR-row tile
 * while they are still in L1. */
static void ln_task(void *vctx, int task, int thread) {
    (void)thread;
    ln_ctx *c = vctx;
    int r0 = task * c->rows, r1 = r0 + c->rows < c->m ? r0 + c->rows : c->m;
    if (tp_cpu_level_get() >= TP_CPU_AVX512) {
        for (int i = r0; i < r1; i++)
            tp_avx512_ln_row(c->x + (size_t)i * c->n, c->r ? c->r + (size_t)i * c->n : NULL, c->g,
                             c->b, c->n, c->eps);
        if (c->xp) tp_avx512_pack_a(c->x, c->n, r0, r1 - r0, c->xp + (size_t)r0 * c->n);
        return;
    }
    for (int i = r0; i < r1; i++)
        ln_row(c->x + (size_t)i * c->n, c->r ? c->r + (size_t)i * c->n : NULL, c->g, c->b, c->n,
               c->eps);
}

void tp_add_layernorm_pack(tp_pool *pool, float *x, const float *r, const float *g, const float *b,
                           int m, int n, float eps, float *xp) {
    if (tp_cpu_level_get() < TP_CPU_AVX512) xp = NULL;
    int rows = xp ? TP_MR : LN_ROWS;
    ln_ctx c = {x, r, g, b, m, n, eps, xp, rows};
    tp_pool_run(pool, ln_task, &c, (m + rows - 1) / rows);
}

void tp_layernorm(tp_pool *pool, float *x, const float *g, const float *b, int m, int n,
                  float eps) {
    tp_add_layernorm_pack(pool, x, NULL, g, b, m, n, eps, NULL);
}

void tp_add_layernorm(tp_pool *pool, float *x, const float *r, const float *g, const float *b,
                      int m, int n, float eps) {
    tp_add_layernorm_pack(pool, x, r, g, b, m, n, eps, NULL);
}

void tp_rmsnorm(float *y, const float *x, const float *g, int m, int n, float eps) {
    for (int i = 0; i < m; i++) {
        const float *xr = x + (size_t)i * n;
        float *yr = y + (size_t)i * n;
        double ss = 0;
        for (int j = 0; j < n; j++)
            ss += (double)xr[j] * xr[j];
        float inv = 1.0f / sqrtf((float)(ss / n) + eps);
        for (int j = 0; j < n; j++)
            yr[j] = xr[j] * inv * g[j];
    }
}

/* The activations dispatch through tp_epi_act_inplace (AVX-512 polynomial versions when the CPU
 * has them, libm otherwise). */
void tp_gelu_erf(float *x, size_t n) {
    tp_epi_act_inplace(x, n, TP_EPI_GELU_ERF);
}

void tp_gelu_tanh(float *x, size_t n) {
    tp_epi_act_inplace(x, n, TP_EPI_GELU_TANH);
}

void tp_relu(float *x, size_t n) {
    tp_epi_act_inplace(x, n, TP_EPI_RELU);
}

void tp_silu(float *x, size_t n) {
    tp_epi_act_inplace(x, n, TP_EPI_SILU);
}

void tp_tanh_inplace(float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = tanhf(x[i]);
}

void tp_glu(const float *in, float *out, int m, int f, int act) {
    for (int i = 0; i < m; i++) {
        const float *g = in + (size_t)i * 2 * f, *u = g + f;
        float *o = out + (size_t)i * f;
        for (int j = 0; j < f; j++) {
            float v = g[j], a;
            if (act == 0)
                a = v / (1.0f + expf(-v));
            else if (act == 1)
                a = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
            else
                a = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
            o[j] = a * u[j];
        }
    }
}

void tp_softmax_row(float *x, int n) {
    float mx = -INFINITY;
    for (int j = 0; j < n; j++)
        mx = x[j] > mx ? x[j] : mx;
    double s = 0;
    for (int j = 0; j < n; j++) {
        x[j] = expf(x[j] - mx);
        s += x[j];
    }
    float inv = (float)(1.0 / s);
    for (int j = 0; j < n; j++)
        x[j] *= inv;
}

void tp_rope(float *x, int m, int n_heads, int head_dim, int rot_dim, const int32_t *pos,
             float theta, int stride) {
    int half = rot_dim / 2;
    for (int i = 0; i < m; i++) {
        for (int d = 0; d < half; d++) {
            /* HF computes inv_freq in float32: 1 / theta^(2d/rot_dim) */
            float inv_freq = 1.0f / powf(theta, (float)(2 * d) / (float)rot_dim);
            float ang = (float)pos[i] * inv_freq;
            float c = cosf(ang), s = sinf(ang);
            for (int h = 0; h < n_heads; h++) {
                float *v = x + (size_t)i * stride + (size_t)h * head_dim;
                float a = v[d], b = v[d + half];
                v[d] = a * c - b * s;
                v[d + half] = b * c + a * s;
            }
        }
    }
}
