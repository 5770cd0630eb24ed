/* Linear layers: weights packed once at load (gemm.h formats), forward passes split into tasks of
 * output-channel panels on our own pool so both cores work on every layer.
 *
 * Dispatch (kernels/cpu.c): at the AVX-512 level the own micro-kernels run (f32 FMA, bf16 with
 * AVX512-BF16, int8 with AVX512-VNNI); below it, or when the extension is missing, each panel is
 * expanded to f32 and multiplied by OpenBLAS (single-threaded inside each task), with the same
 * rounding of the inputs (bf16 rounding, int8 quantization), so every level computes the same
 * function up to f32 summation order. */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

/* ---- per-calling-thread scratch (grows, never shrinks; freed when the thread exits) --------- */

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

typedef struct {
    void *p;
    size_t cap;
} scratch_buf;

static void scratch_free(void *v) {
    scratch_buf *s = v;
    if (s) free(s->p);
    free(s);
}

static void scratch_init(void) {
    pthread_key_create(&scratch_key, scratch_free);
}

/* 64-byte aligned; NULL on OOM. */
static void *scratch_get(size_t bytes) {
    pthread_once(&scratch_once, scratch_init);
    scratch_buf *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        pthread_setspecific(scratch_key, s);
    }
    if (s->cap < bytes) {
        free(s->p);
        s->cap = 0;
        s->p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!s->p) return NULL;
        s->cap = bytes;
    }
    return s->p;
}

/* ---- packing ----------------------------------------------------------------------------------
 */

static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void *alloc64(size_t bytes) {
    void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (p) memset(p, 0, (bytes + 63) & ~(size_t)63);
    return p;
}

static void packed_free(tp_packed *P) {
    if (!P) return;
    free(P->wf);
    free(P->wb);
    free(P->wq);
    free(P->bias);
    free(P->wscale);
    free(P->wcomp);
    free(P);
}

tp_status tp_linear_prepare(tp_linear *l, tp_lin_kind kind, tp_error *err) {
    if (kind != TP_LIN_F32 && kind != TP_LIN_BF16 && kind != TP_LIN_INT8)
        return tp_fail(err, TP_UNSUPPORTED, "linear: unknown weight kind %d", (int)kind);
    if (!l->w || l->n <= 0 || l->k <= 0)
        return tp_fail(err, TP_INVALID, "linear: bad shape [%d][%d]", l->n, l->k);
    tp_linear_release(l);
    tp_packed *P = calloc(1, sizeof *P);
    if (!P) return tp_fail(err, TP_NOMEM, "out of memory");
    int n = l->n, k = l->k;
    P->kind = kind;
    P->n = n;
    P->k = k;
    P->np = (n + TP_NR - 1) / TP_NR;
    size_t npad = (size_t)P->np * TP_NR;
    P->kp = kind == TP_LIN_F32 ? k : kind == TP_LIN_BF16 ? (k + 31) & ~31 : (k + 63) & ~63;
    P->bias = alloc64(npad * sizeof(float));
    if (!P->bias) goto oom;
    if (l->b) memcpy(P->bias, l->b, (size_t)n * sizeof(float));
    if (kind == TP_LIN_F32) {
        P->wf = alloc64(npad * (size_t)k * sizeof(float));
        if (!P->wf) goto oom;
        for (int j = 0; j < n; j++) {
            const float *wr = l->w + (size_t)j * k;
            float *dst = P->wf + (size_t)(j / TP_NR) * k * TP_NR + j % TP_NR;
            for (int p = 0; p < k; p++)
                dst[(size_t)p * TP_NR] = wr[p];
        }
    } else if (kind == TP_LIN_BF16) {
        P->wb = alloc64(npad * (size_t)P->kp * sizeof(uint16_t));
        if (!P->wb) goto oom;
        for (int j = 0; j < n; j++) {
            const float *wr = l->w + (size_t)j * k;
            uint16_t *dst = P->wb + (size_t)(j / TP_NR) * P->kp * TP_NR + (size_t)(j % TP_NR) * 2;
            for (int p = 0; p < k; p++)
                dst[(size_t)(p / 2) * 2 * TP_NR + (p & 1)] = f32_to_bf16(wr[p]);
        }
    } else {
        P->wq = alloc64(npad * (size_t)P->kp);
        P->wscale = alloc64(npad * sizeof(float));
        P->wcomp = alloc64(npad * sizeof(int32_t));
        if (!P->wq || !P->wscale || !P->wcomp) goto oom;
        for (int j = 0; j < n; j++) {
            const float *wr = l->w + (size_t)j * k;
            float amax = 0;
            for (int p = 0; p < k; p++)
                amax = fabsf(wr[p]) > amax ? fabsf(wr[p]) : amax;
            float scale = amax > 0 ? amax / 127.0f : 1.0f, inv = 1.0f / scale;
            int8_t *dst = P->wq + (size_t)(j / TP_NR) * P->kp * TP_NR + (size_t)(j % TP_NR) * 4;
            int32_t sum = 0;
            for (int p = 0; p < k; p++) {
                int q = (int)nearbyintf(wr[p] * inv);
                q = q < -127 ? -127 : q > 127 ? 127 : q;
                dst[(size_t)(p / 4) * 4 * TP_NR + (p & 3)] = (int8_t)q;
                sum += q;
            }
            P->wscale[j] = scale;
            P->wcomp[j] = 128 * sum;
        }
    }
    l->kind = kind;
    l->packed = P;
    return TP_OK;
oom:
    packed_free(P);
    return tp_fail(err, TP_NOMEM, "out of memory packing a [%d][%d] linear layer", n, k);
}

size_t tp_linear_bytes(const tp_linear *l) {
    const tp_packed *P = l->packed;
    if (!P) return (size_t)l->n * (size_t)l->k * sizeof(float);
    size_t np = (size_t)P->np * TP_NR;
    size_t el = P->kind == TP_LIN_F32 ? 4 : P->kind == TP_LIN_BF16 ? 2 : 1;
    return np * (size_t)P->kp * el;
}

void tp_linear_release(tp_linear *l) {
    packed_free(l->packed);
    l->packed = NULL;
}

/* ---- activations ------------------------------------------------------------------------------
 */

float tp_ref_act(float v, tp_epi_act act) {
    switch (act) {
    case TP_EPI_GELU_ERF:
        return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case TP_EPI_GELU_TANH:
        return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    case TP_EPI_RELU:
        return v > 0 ? v : 0;
    case TP_EPI_SILU:
        return v / (1.0f + expf(-v));
    default:
        return v;
    }
}

void tp_epi_act_inplace(float *x, size_t n, tp_epi_act act) {
    if (act == TP_EPI_NONE) return;
    if (tp_cpu_level_get() >= TP_CPU_AVX512) {
        tp_avx512_act(x, n, act);
        return;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = tp_ref_act(x[i], act);
}

void tp_ref_linear(const float *w, const float *b, int n, int k, const float *x, int m, float *y,
                   tp_epi_act act, const float *res) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = b ? b[j] : 0;
            for (int p = 0; p < k; p++)
                s += (double)x[(size_t)i * k + p] * w[(size_t)j * k + p];
            float v = tp_ref_act((float)s, act);
            if (res) v += res[(size_t)i * n + j];
            y[(size_t)i * n + j] = v;
        }
}

/* ---- forward ----------------------------------------------------------------------------------
 */

enum { PATH_GENERIC, PATH_AVX512, PATH_AMX };

typedef struct {
    const tp_packed *P;
    const float *x; /* f32 input [m][k] */
    int m;
    float *y;
    tp_epi e;
    int group;    /* panels per task */
    int n_groups; /* panel groups */
    int mb;       /* rows per task (AVX-512 / AMX paths) */
    int path;
    /* the last tail_groups panel groups of the last row block run as tail_split row slices each
     * (f32 AVX-512; 0 / 1: not split) */
    int tail_groups, tail_split;
    /* converted A */
    uint16_t *xb; /* bf16 [m][kp] (avx512) */
    uint8_t *xq;  /* u8 [m][kp] (avx512) */
    float *xf;    /* generic: rounded / quantized f32 [m][k] */
    float *xs;    /* int8 row scales [m] */
    float *xp;    /* f32 A packed in tiles of TP_MR rows (avx512), or NULL */
    /* generic per-thread slices: panel [k][NR] + out [m][NR] floats */
    float *slices;
    size_t slice_floats;
} lin_ctx;

static void convert_task(void *vctx, int task, int thread) {
    (void)thread;
    lin_ctx *c = vctx;
    const tp_packed *P = c->P;
    int r0 = task * 16, r1 = r0 + 16 < c->m ? r0 + 16 : c->m;
    for (int i = r0; i < r1; i++) {
        const float *xr = c->x + (size_t)i * P->k;
        if (c->path != PATH_GENERIC) {
            if (P->kind == TP_LIN_BF16)
                tp_avx512_to_bf16(xr, P->k, P->kp, c->xb + (size_t)i * P->kp);
            else
                c->xs[i] = tp_avx512_quant_row(xr, P->k, P->kp, c->xq + (size_t)i * P->kp);
        } else if (P->kind == TP_LIN_BF16) {
            for (int p = 0; p < P->k; p++)
                c->xf[(size_t)i * P->k + p] = bf16_to_f32(f32_to_bf16(xr[p]));
        } else {
            float amax = 0;
            for (int p = 0; p < P->k; p++)
                amax = fabsf(xr[p]) > amax ? fabsf(xr[p]) : amax;
            float scale = amax > 0 ? amax / 127.0f : 1.0f, inv = 1.0f / scale;
            for (int p = 0; p < P->k; p++) {
                float q = nearbyintf(xr[p] * inv);
                c->xf[(size_t)i * P->k + p] = q < -127 ? -127 : q > 127 ? 127 : q;
            }
            c->xs[i] = scale;
        }
    }
}

/* Generic: expand panel p to f32 [k][NR], multiply with OpenBLAS, apply the epilogue. */
static void generic_panel(lin_ctx *c, int p, float *panel, float *out) {
    const tp_packed *P = c->P;
    int k = P->k;
    const float *b = panel;
    if (P->kind == TP_LIN_F32) {
        b = P->wf + (size_t)p * k * TP_NR;
    } else if (P->kind == TP_LIN_BF16) {
        const uint16_t *src = P->wb + (size_t)p * P->kp * TP_NR;
        for (int q = 0; q < k; q++)
            for (int j = 0; j < TP_NR; j++)
                panel[(size_t)q * TP_NR + j] =
                    bf16_to_f32(src[(size_t)(q / 2) * 2 * TP_NR + j * 2 + (q & 1)]);
    } else {
        const int8_t *src = P->wq + (size_t)p * P->kp * TP_NR;
        for (int q = 0; q < k; q++)
            for (int j = 0; j < TP_NR; j++)
                panel[(size_t)q * TP_NR + j] = src[(size_t)(q / 4) * 4 * TP_NR + j * 4 + (q & 3)];
    }
    const float *a = P->kind == TP_LIN_F32 ? c->x : c->xf;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->m, TP_NR, k, 1.0f, a, k, b, TP_NR,
                0.0f, out, TP_NR);
    int c0 = p * TP_NR, nv = P->n - c0 < TP_NR ? P->n - c0 : TP_NR;
    for (int i = 0; i < c->m; i++) {
        float *yr = c->y + (size_t)i * P->n + c0;
        const float *rr = c->e.res ? c->e.res + (size_t)i * c->e.ldres + c0 : NULL;
        for (int j = 0; j < nv; j++) {
            float v = out[(size_t)i * TP_NR + j];
            if (P->kind == TP_LIN_INT8) v *= c->xs[i] * P->wscale[c0 + j];
            v = tp_ref_act(v + P->bias[c0 + j], (tp_epi_act)c->e.act);
            yr[j] = rr ? v + rr[j] : v;
        }
    }
}

static void pack_task(void *vctx, int task, int thread) {
    (void)thread;
    lin_ctx *c = vctx;
    int r0 = task * TP_MR, rows = c->m - r0 < TP_MR ? c->m - r0 : TP_MR;
    tp_avx512_pack_a(c->x, c->P->k, r0, rows, c->xp + (size_t)r0 * c->P->k);
}

static void gemm_task(void *vctx, int task, int thread) {
    lin_ctx *c = vctx;
    const tp_packed *P = c->P;
    int gi = task % c->n_groups, mi = task / c->n_groups;
    int m0 = mi * c->mb, m1 = m0 + c->mb < c->m ? m0 + c->mb : c->m;
    int n_rb = (c->m + c->mb - 1) / c->mb, first_slice = n_rb * c->n_groups - c->tail_groups;
    if (c->tail_split > 1 && task >= first_slice) { /* a row slice of one of the last groups */
        int t = task - first_slice, part = t % c->tail_split;
        int rb0 = (n_rb - 1) * c->mb, tiles = (c->m - rb0 + TP_MR - 1) / TP_MR;
        gi = c->n_groups - c->tail_groups + t / c->tail_split;
        m0 = rb0 + tiles * part / c->tail_split * TP_MR;
        m1 = rb0 + tiles * (part + 1) / c->tail_split * TP_MR;
        m1 = m1 < c->m ? m1 : c->m;
        if (m0 >= m1) return;
    }
    int p0 = gi * c->group, p1 = p0 + c->group < P->np ? p0 + c->group : P->np;
    if (c->path == PATH_AMX) {
        tp_epi e = c->e;
        if (e.res) e.res += (size_t)m0 * e.ldres;
        float *y = c->y + (size_t)m0 * P->n;
        if (P->kind == TP_LIN_BF16)
            tp_amx_tile_bf16(P, c->xb + (size_t)m0 * P->kp, m1 - m0, p0, p1, y, P->n, &e);
        else
            tp_amx_tile_int8(P, c->xq + (size_t)m0 * P->kp, c->xs + m0, m1 - m0, p0, p1, y, P->n,
                             &e);
        return;
    }
    if (c->path == PATH_AVX512) {
        if (P->kind == TP_LIN_F32 && c->xp)
            tp_avx512_tile_f32_packed(P, c->xp, m0, m1, p0, p1, c->y, P->n, &c->e);
        else if (P->kind == TP_LIN_F32)
            tp_avx512_tile_f32_wide(P, c->x, P->k, m0, m1, p0, p1, c->y, P->n, &c->e);
        else if (P->kind == TP_LIN_BF16)
            tp_avx512_tile_bf16(P, c->xb, m0, m1, p0, p1, c->y, P->n, &c->e);
        else
            tp_avx512_tile_int8(P, c->xq, c->xs, m0, m1, p0, p1, c->y, P->n, &c->e);
        return;
    }
    float *panel = c->slices + (size_t)thread * c->slice_floats;
    float *out = panel + (size_t)P->k * TP_NR;
    for (int p = p0; p < p1; p++)
        generic_panel(c, p, panel, out);
}

static void blas_single(void) {
    openblas_set_num_threads(1); /* OpenBLAS threads would fight our pool */
}

int tp_linear_takes_packed(const tp_linear *l) {
    const tp_packed *P = l->packed;
    return P && P->kind == TP_LIN_F32 && tp_cpu_level_get() >= TP_CPU_AVX512 && P->n >= 2 * P->k;
}

size_t tp_linear_packed_floats(int m, int k) {
    return (size_t)(m + TP_MR - 1) / TP_MR * TP_MR * (size_t)k;
}

void tp_linear_fwd_ex(tp_pool *pool, const tp_linear *l, const float *x, int m, float *y,
                      tp_epi_act act, const float *res) {
    tp_linear_fwd_xp(pool, l, x, NULL, m, y, act, res);
}

void tp_linear_fwd_xp(tp_pool *pool, const tp_linear *l, const float *x, const float *xp, int m,
                      float *y, tp_epi_act act, const float *res) {
    static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
    pthread_once(&blas_once, blas_single);
    if (m <= 0) return;
    const tp_packed *P = l->packed;
    if (!P) { /* not prepared: plain reference (slow, but never wrong) */
        tp_ref_linear(l->w, l->b, l->n, l->k, x, m, y, act, res);
        return;
    }
    lin_ctx c = {.P = P, .x = x, .m = m, .y = y, .e = {act, res, P->n}};
    int avx512 = tp_cpu_level_get() >= TP_CPU_AVX512;
    if (P->kind == TP_LIN_BF16) avx512 = tp_cpu_has_bf16();
    if (P->kind == TP_LIN_INT8) avx512 = tp_cpu_has_vnni();
    c.path = avx512 ? PATH_AVX512 : PATH_GENERIC;
    if (P->kind != TP_LIN_F32 && tp_cpu_has_amx()) c.path = PATH_AMX;
    int m_alloc = c.path == PATH_AMX ? (m + 31) & ~31 : m; /* AMX reads whole 16-row tiles */
    int nt = tp_pool_size(pool);
    /* scratch: converted A, then per-thread slices (generic) */
    size_t a_bytes = 0;
    if (P->kind != TP_LIN_F32) {
        if (c.path != PATH_GENERIC)
            a_bytes = (size_t)m_alloc * P->kp * (P->kind == TP_LIN_BF16 ? 2 : 1);
        else
            a_bytes = (size_t)m * P->k * sizeof(float);
        a_bytes = (a_bytes + 63) & ~(size_t)63;
        a_bytes += ((size_t)m * sizeof(float) + 63) & ~(size_t)63;
    }
    /* Tasks are groups of panels over blocks of rows (row-block major): the weights stream from
     * memory once per row block, the A rows of a block stay in L2/L3. Batches up to ~768 tokens
     * are one block. f32 layers run about 8 tasks per thread, which balances the cores when the
     * VM takes one of them away for a while (4 per thread: about 3% slower on bert-base, paired;
     * bench/RESULTS.md round 11); the AMX layers about 4 (8 made int8 3% slower); tiny layers
     * run on one.
     * (The generic path hands whole columns to OpenBLAS: one row block.) */
    c.mb = c.path == PATH_GENERIC || m <= 768 ? m : 384; /* 384: a multiple of TP_MR */
    /* f32 A is packed into tiles (one pass, both threads) when it is reused across many weight
     * panels: n >= 2k, i.e. QKV and FFN-up. The tile kernel then reads one contiguous stream
     * instead of TP_MR strided rows (+8% on those GEMMs); for attn-out and FFN-down the pass
     * costs about what it saves (bench/RESULTS.md, round 9). Packed in chunks of up to four row
     * blocks (1536 rows), so the scratch stays small on long batches; one block per chunk cost
     * about 1% (more joins), whole batches 12 MiB of peak RSS in `tidepool embed` on bert-base. */
    int f32_avx512 = P->kind == TP_LIN_F32 && c.path == PATH_AVX512;
    int pack_a = tp_linear_takes_packed(l);
    int pack_here = pack_a && !xp; /* else the caller packed it (or A is read in place) */
    /* rows per pass: unpacked or caller-packed A is one pass over all rows */
    int chunk = pack_here ? 4 * c.mb : m;
    if (pack_here)
        a_bytes =
            (size_t)(((m < chunk ? m : chunk) + TP_MR - 1) / TP_MR) * TP_MR * P->k * sizeof(float);
    if (c.path == PATH_GENERIC) {
        c.slice_floats = ((size_t)P->k * TP_NR + (size_t)m * TP_NR + 15) & ~(size_t)15;
    }
    unsigned char *s = scratch_get(a_bytes + (size_t)nt * c.slice_floats * sizeof(float) + 64);
    if (!s) { /* out of memory for scratch: fall back to the reference */
        tp_ref_linear(l->w, l->b, l->n, l->k, x, m, y, act, res);
        return;
    }
    if (P->kind != TP_LIN_F32) {
        size_t xs_off = a_bytes - (((size_t)m * sizeof(float) + 63) & ~(size_t)63);
        c.xs = (float *)(void *)(s + xs_off);
        if (c.path != PATH_GENERIC) {
            c.xb = (uint16_t *)(void *)s;
            c.xq = s;
            size_t row = (size_t)P->kp * (P->kind == TP_LIN_BF16 ? 2 : 1);
            memset(s + (size_t)m * row, 0, (size_t)(m_alloc - m) * row); /* padding rows */
        } else {
            c.xf = (float *)(void *)s;
        }
        tp_pool_run((long)m * P->k > 32768 ? pool : NULL, convert_task, &c, (m + 15) / 16);
    }
    c.slices = (float *)(void *)(s + a_bytes);
    /* one thread: one run over all panels (one prefetch chain) */
    int tasks = nt > 1 ? nt * (P->kind == TP_LIN_F32 ? 8 : 4) : 1;
    if ((long)m * P->n * P->k < 64L * 64 * 64) tasks = 1;
    if (tasks > P->np) tasks = P->np;
    c.group = (P->np + tasks - 1) / tasks;
    /* the f32 wide kernel takes panels in pairs: keep each task's group even (an odd group
     * leaves each task a lone panel for the 12 x 32 kernel; +2% on bert-base, round 10) */
    if (f32_avx512 && !pack_a && (c.group & 1) && P->np > 1) c.group++;
    c.n_groups = (P->np + c.group - 1) / c.group;
    if (pack_a) c.xp = pack_here ? (float *)(void *)s : (float *)(uintptr_t)xp;
    for (int r = 0; r < m; r += chunk) { /* per pass: pack its rows, then row blocks x panels */
        lin_ctx cb = c;
        cb.m = m - r < chunk ? m - r : chunk;
        cb.x = x + (size_t)r * P->k;
        cb.y = y + (size_t)r * P->n;
        if (res) cb.e.res = res + (size_t)r * P->n;
        if (pack_here)
            tp_pool_run((long)cb.m * P->k > 32768 ? pool : NULL, pack_task, &cb,
                        (cb.m + TP_MR - 1) / TP_MR);
        int tasks_run = cb.n_groups * ((cb.m + c.mb - 1) / c.mb);
        /* The pool hands out tasks in order, so the two threads finish a layer one task apart at
         * worst (on average half a task: 2.3% of the f32 GEMM time on bert-base, measured). The
         * last three panel groups therefore run as up to four row slices each (slices of at least
         * 8 row tiles, which keeps the next-panel prefetch on): the last tasks are the smallest
         * and the wait at the join shrinks to about a third (paired: bert-base +1 to +3%). Slices
         * are whole row tiles, so every output is computed exactly as before. */
        int last_rows = cb.m - (cb.m - 1) / c.mb * c.mb;
        int split = (last_rows + TP_MR - 1) / TP_MR / 8;
        if (f32_avx512 && nt > 1 && split >= 2 && cb.n_groups >= 6) {
            cb.tail_groups = 3;
            cb.tail_split = split < 4 ? split : 4;
            tasks_run += cb.tail_groups * (cb.tail_split - 1);
        }
        tp_pool_run(pool, gemm_task, &cb, tasks_run);
    }
}

void tp_linear_fwd(tp_pool *pool, const tp_linear *l, const float *x, int m, float *y) {
    tp_linear_fwd_ex(pool, l, x, m, y, TP_EPI_NONE, NULL);
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
