/* AVX-512 GEMM micro-kernels over the packed weight panels of gemm.h, plus the fused epilogue
 * (bias, activation, residual) and the activation conversions for bf16 / int8.
 *
 * One micro-kernel shape serves all three dtypes: MR (<= 12) rows of A times one panel of 32
 * output channels, 24 zmm accumulators. Each step broadcasts one 32-bit word of an A row (an f32,
 * a bf16 pair or a u8 quad) and multiplies it into two 64-byte B vectors (vfmadd231ps,
 * vdpbf16ps or vpdpbusd). A rows are read in place (row stride lda), or, for f32 layers whose A
 * is reused across many panels, from tiles packed once per call ([k][MR]); B panels are contiguous.
 * f32 layers with A in place use a second shape, 6 rows x two panels (64 columns), also 24
 * accumulators, which reads A half as often (tp_avx512_tile_f32_wide).
 *
 * Everything here is compiled for AVX-512 through target attributes and is only called after
 * runtime detection (kernels/cpu.c), so the rest of the binary still runs on AVX2-only CPUs. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/kernels.h"

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define T512BF __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16")))
#define T512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512vnni")))
#define INLINE static inline __attribute__((always_inline))

#define MR TP_MR

/* ---- vector math ---------------------------------------------------------------------------- */

/* exp(x), ~1 ulp on [-87, 88] (Cephes expf polynomial, scalef for 2^n). */
INLINE T512 __m512 exp512(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    __m512 r2 = _mm512_mul_ps(r, r);
    p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* c[5] t^5 + ... + c[0] by Horner's rule. */
INLINE T512 __m512 poly5(__m512 t, const float c[6]) {
    __m512 p = _mm512_set1_ps(c[5]);
    for (int i = 4; i >= 0; i--)
        p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(c[i]));
    return p;
}

/* erf(x) as x * P(x^2) / Q(x^2) on [-4, 4] (|erf(4)| = 1 - 1.5e-8, so clamping is exact in
 * float32). P and Q (degree 5 each) are our own weighted least-squares fit to erf on [0, 4]:
 * 2.1e-8 max |error| in exact arithmetic, 3.0e-7 evaluated in float32 (bench/RESULTS.md). Q >= 1
 * on the range. No exp and no division (rcp14 + one Newton step), about half the work of the
 * exp-based form, which mattered in the GELU epilogue of every FFN-up GEMM. */
INLINE T512 __m512 erf512(__m512 x) {
    static const float P[6] = {1.128378987312317f,     0.1962514966726303f,
                               0.05346785858273506f,   0.004003765061497688f,
                               0.0002880458487197757f, 1.974833594431402e-06f};
    static const float Q[6] = {1.0f,
                               0.5072545409202576f,
                               0.11647750437259674f,
                               0.015444661490619183f,
                               0.001216392032802105f,
                               3.748113158508204e-05f};
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-4.0f)), _mm512_set1_ps(4.0f));
    __m512 t = _mm512_mul_ps(x, x);
    __m512 p = poly5(t, P), q = poly5(t, Q);
    __m512 r = _mm512_rcp14_ps(q); /* q >= 1: one Newton step gives ~full precision */
    r = _mm512_mul_ps(r, _mm512_fnmadd_ps(q, r, _mm512_set1_ps(2.0f)));
    return _mm512_mul_ps(_mm512_mul_ps(x, p), r);
}

INLINE T512 __m512 tanh512(__m512 x) {
    /* tanh(x) = 1 - 2 / (exp(2x) + 1); for tiny |x| use x (avoids cancellation) */
    __m512 e = exp512(_mm512_add_ps(x, x));
    __m512 y =
        _mm512_sub_ps(_mm512_set1_ps(1.0f),
                      _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
    __mmask16 small = _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(1e-3f), _CMP_LT_OQ);
    /* tanh(x) ~ x - x^3/3 near 0 */
    __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
    __m512 ys = _mm512_fnmadd_ps(x3, _mm512_set1_ps(1.0f / 3.0f), x);
    return _mm512_mask_blend_ps(small, y, ys);
}

INLINE T512 __m512 act512(__m512 v, int act) {
    switch (act) {
    case TP_EPI_GELU_ERF:
        return _mm512_mul_ps(
            _mm512_mul_ps(v, _mm512_set1_ps(0.5f)),
            _mm512_add_ps(_mm512_set1_ps(1.0f),
                          erf512(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)))));
    case TP_EPI_GELU_TANH: {
        __m512 v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
        __m512 in = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f),
                                  _mm512_fmadd_ps(v3, _mm512_set1_ps(0.044715f), v));
        return _mm512_mul_ps(_mm512_mul_ps(v, _mm512_set1_ps(0.5f)),
                             _mm512_add_ps(_mm512_set1_ps(1.0f), tanh512(in)));
    }
    case TP_EPI_RELU:
        return _mm512_max_ps(v, _mm512_setzero_ps());
    case TP_EPI_SILU:
        return _mm512_div_ps(
            v, _mm512_add_ps(_mm512_set1_ps(1.0f), exp512(_mm512_sub_ps(_mm512_setzero_ps(), v))));
    default:
        return v;
    }
}

T512 void tp_avx512_act(float *x, size_t n, int act) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, act512(_mm512_loadu_ps(x + i), act));
    if (i < n) {
        __mmask16 mk = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, mk, act512(_mm512_maskz_loadu_ps(mk, x + i), act));
    }
}

/* ---- epilogue ---------------------------------------------------------------------------------
 */

INLINE T512 void store_row(float *y, const float *res, __m512 v0, __m512 v1, __m512 b0, __m512 b1,
                           int act, __mmask16 k0, __mmask16 k1) {
    v0 = _mm512_add_ps(v0, b0);
    v1 = _mm512_add_ps(v1, b1);
    if (act) {
        v0 = act512(v0, act);
        v1 = act512(v1, act);
    }
    if (res) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(k0, res));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(k1, res + 16));
    }
    _mm512_mask_storeu_ps(y, k0, v0);
    _mm512_mask_storeu_ps(y + 16, k1, v1);
}

static inline void col_masks(int nvalid, __mmask16 *k0, __mmask16 *k1) {
    *k0 = nvalid >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nvalid) - 1);
    int r = nvalid - 16;
    *k1 = r >= 16 ? (__mmask16)0xFFFF : r <= 0 ? 0 : (__mmask16)((1u << r) - 1);
}

/* ---- f32 ----------------------------------------------------------------------------------------
 */

/* MR rows x one 32-column panel over the whole k, then the epilogue. A element (i, p) is at
 * a[i * ri + p * rp]: rows in place (ri = lda, rp = 1) or a packed tile (ri = 1, rp = MR). */
INLINE T512 void ukr_f32(const int mr, const float *a, size_t ri, size_t rp, const float *b, int k,
                         float *y, size_t ldy, const float *bias, const tp_epi *e, const float *res,
                         int nvalid) {
    __m512 acc[MR][2];
    __mmask16 k0, k1;
    col_masks(nvalid, &k0, &k1);
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int p = 0; p < k; p++) {
        __m512 b0 = _mm512_load_ps(b + (size_t)p * TP_NR);
        __m512 b1 = _mm512_load_ps(b + (size_t)p * TP_NR + 16);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(a[i * ri + (size_t)p * rp]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    __m512 bb0 = _mm512_load_ps(bias), bb1 = _mm512_load_ps(bias + 16);
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        store_row(y + i * ldy, res ? res + i * (size_t)e->ldres : NULL, acc[i][0], acc[i][1], bb0,
                  bb1, e->act, k0, k1);
}

#define DISPATCH_MR(KER, rows, ...)                                                                \
    switch (rows) {                                                                                \
    case 12:                                                                                       \
        KER(12, __VA_ARGS__);                                                                      \
        break;                                                                                     \
    case 11:                                                                                       \
        KER(11, __VA_ARGS__);                                                                      \
        break;                                                                                     \
    case 10:                                                                                       \
        KER(10, __VA_ARGS__);                                                                      \
        break;                                                                                     \
    case 9:                                                                                        \
        KER(9, __VA_ARGS__);                                                                       \
        break;                                                                                     \
    case 8:                                                                                        \
        KER(8, __VA_ARGS__);                                                                       \
        break;                                                                                     \
    case 7:                                                                                        \
        KER(7, __VA_ARGS__);                                                                       \
        break;                                                                                     \
    case 6:                                                                                        \
        KER(6, __VA_ARGS__);                                                                       \
        break;                                                                                     \
    case 5:                                                                                        \
        KER(5, __VA_ARGS__);                                                                       \
        break;                                                                                     \
    case 4:                                                                                        \
        KER(4, __VA_ARGS__);                                                                       \
        break;                                                                                     \
    case 3:                                                                                        \
        KER(3, __VA_ARGS__);                                                                       \
        break;                                                                                     \
    case 2:                                                                                        \
        KER(2, __VA_ARGS__);                                                                       \
        break;                                                                                     \
    default:                                                                                       \
        KER(1, __VA_ARGS__);                                                                       \
        break;                                                                                     \
    }

/* k is not cut into chunks: chunks of KC = 192..768 with partial sums through y were measured
 * slower or no better (bench/RESULTS.md, rounds 2, 5 and 9), so each tile runs the whole k.
 * x is either rows in place (xp == 0: x [m][ldx]) or packed tiles (xp == 1: tp_avx512_pack_a). */
INLINE T512 void tile_f32(const tp_packed *P, const float *x, int ldx, int xp, int m0, int m1,
                          int p0, int p1, float *y, int ldy, const tp_epi *e) {
    /* The next panel's weights come from memory (a layer's weights are never cached across
     * batches): prefetch them into L2, a slice per row tile of this panel. With few row tiles the
     * bursts cost more than they hide (batch-1 latency got worse). */
    int ntiles = (m1 - m0 + MR - 1) / MR;
    size_t nlines = (size_t)P->k * TP_NR * sizeof(float) / 64;
    size_t per = (nlines + (size_t)ntiles - 1) / (size_t)ntiles;
    for (int p = p0; p < p1; p++) {
        int c0 = p * TP_NR, nvalid = P->n - c0 < TP_NR ? P->n - c0 : TP_NR;
        const float *b = P->wf + (size_t)p * P->k * TP_NR;
        const char *nb =
            p + 1 < p1 && ntiles >= 8 ? (const char *)(b + (size_t)P->k * TP_NR) : NULL;
        size_t line = 0;
        for (int i = m0; i < m1; i += MR) {
            int rows = m1 - i < MR ? m1 - i : MR;
            if (nb)
                for (size_t q = 0; q < per && line < nlines; q++, line++)
                    _mm_prefetch(nb + line * 64, _MM_HINT_T1);
            const float *a = x + (size_t)i * (xp ? P->k : ldx);
            float *yy = y + (size_t)i * ldy + c0;
            const float *res = e->res ? e->res + (size_t)i * e->ldres + c0 : NULL;
            if (xp) {
                DISPATCH_MR(ukr_f32, rows, a, 1, MR, b, P->k, yy, (size_t)ldy, P->bias + c0, e, res,
                            nvalid);
            } else {
                DISPATCH_MR(ukr_f32, rows, a, (size_t)ldx, 1, b, P->k, yy, (size_t)ldy,
                            P->bias + c0, e, res, nvalid);
            }
        }
    }
}

T512 void tp_avx512_tile_f32(const tp_packed *P, const float *x, int ldx, int m0, int m1, int p0,
                             int p1, float *y, int ldy, const tp_epi *e) {
    tile_f32(P, x, ldx, 0, m0, m1, p0, p1, y, ldy, e);
}

/* 6 rows x two panels (64 columns), 24 accumulators: per k, 4 B vectors and 6 broadcasts. Reads
 * each A row half as often as the 12 x 32 kernel, each B panel twice as often. */
INLINE T512 void ukr_f32w(const int mr, const float *a, size_t lda, const float *b, const float *b2,
                          int k, float *y, size_t ldy, const float *bias, const tp_epi *e,
                          const float *res, int nv0, int nv1) {
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = _mm512_setzero_ps();
    for (int p = 0; p < k; p++) {
        __m512 b0 = _mm512_load_ps(b + (size_t)p * TP_NR);
        __m512 b1 = _mm512_load_ps(b + (size_t)p * TP_NR + 16);
        __m512 b2v = _mm512_load_ps(b2 + (size_t)p * TP_NR);
        __m512 b3v = _mm512_load_ps(b2 + (size_t)p * TP_NR + 16);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(a[i * lda + (size_t)p]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(av, b2v, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(av, b3v, acc[i][3]);
        }
    }
    __mmask16 k0, k1, k2, k3;
    col_masks(nv0, &k0, &k1);
    col_masks(nv1, &k2, &k3);
    __m512 bb0 = _mm512_load_ps(bias), bb1 = _mm512_load_ps(bias + 16);
    __m512 bb2 = _mm512_load_ps(bias + 32), bb3 = _mm512_load_ps(bias + 48);
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        const float *r = res ? res + i * (size_t)e->ldres : NULL;
        store_row(y + i * ldy, r, acc[i][0], acc[i][1], bb0, bb1, e->act, k0, k1);
        store_row(y + i * ldy + TP_NR, r ? r + TP_NR : NULL, acc[i][2], acc[i][3], bb2, bb3, e->act,
                  k2, k3);
    }
}

T512 void tp_avx512_tile_f32_wide(const tp_packed *P, const float *x, int ldx, int m0, int m1,
                                  int p0, int p1, float *y, int ldy, const tp_epi *e) {
    int p = p0;
    for (; p + 1 < p1; p += 2) {
        int c0 = p * TP_NR;
        int nv0 = P->n - c0 < TP_NR ? P->n - c0 : TP_NR;
        int nv1 = P->n - c0 - TP_NR < TP_NR ? P->n - c0 - TP_NR : TP_NR;
        const float *b = P->wf + (size_t)p * P->k * TP_NR, *b2 = b + (size_t)P->k * TP_NR;
        for (int i = m0; i < m1; i += 6) {
            const float *a = x + (size_t)i * ldx;
            float *yy = y + (size_t)i * ldy + c0;
            const float *res = e->res ? e->res + (size_t)i * e->ldres + c0 : NULL;
            switch (m1 - i < 6 ? m1 - i : 6) {
#define WIDE(R)                                                                                    \
    case R:                                                                                        \
        ukr_f32w(R, a, (size_t)ldx, b, b2, P->k, yy, (size_t)ldy, P->bias + c0, e, res, nv0, nv1); \
        break;
                WIDE(6)
                WIDE(5)
                WIDE(4)
                WIDE(3)
                WIDE(2)
                WIDE(1)
#undef WIDE
            }
        }
    }
    if (p < p1) /* an odd panel: the 12 x 32 kernel (a call, so that its registers stay its own) */
        tp_avx512_tile_f32(P, x, ldx, m0, m1, p, p1, y, ldy, e);
}

T512 void tp_avx512_tile_f32_packed(const tp_packed *P, const float *xp, int m0, int m1, int p0,
                                    int p1, float *y, int ldy, const tp_epi *e) {
    tile_f32(P, xp, 0, 1, m0, m1, p0, p1, y, ldy, e);
}

T512 void tp_avx512_pack_a(const float *x, int k, int r0, int rows, float *ap) {
    /* 16 k at a time: rows to a [MR][16] block, then out in k-major order (rows past `rows`: 0) */
    float blk[MR][16];
    for (int p = 0; p < k; p += 16) {
        int kl = k - p < 16 ? k - p : 16;
        __mmask16 mk = (__mmask16)(kl == 16 ? 0xFFFFu : (1u << kl) - 1);
        for (int i = 0; i < MR; i++)
            _mm512_storeu_ps(blk[i], i < rows
                                         ? _mm512_maskz_loadu_ps(mk, x + (size_t)(r0 + i) * k + p)
                                         : _mm512_setzero_ps());
        for (int q = 0; q < kl; q++)
            for (int i = 0; i < MR; i++)
                ap[(size_t)(p + q) * MR + i] = blk[i][q];
    }
}

/* ---- bf16 ---------------------------------------------------------------------------------------
 */

INLINE T512BF void ukr_bf16(const int mr, const uint32_t *a, size_t lda, const uint16_t *b, int kw,
                            float *y, size_t ldy, const float *bias, const tp_epi *e,
                            const float *res, int nvalid) {
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int p = 0; p < kw; p++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(b + (size_t)p * 2 * TP_NR));
        __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(b + (size_t)p * 2 * TP_NR + 32));
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[i * lda + (size_t)p]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
        }
    }
    __mmask16 k0, k1;
    col_masks(nvalid, &k0, &k1);
    __m512 bb0 = _mm512_load_ps(bias), bb1 = _mm512_load_ps(bias + 16);
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        store_row(y + i * ldy, res ? res + i * (size_t)e->ldres : NULL, acc[i][0], acc[i][1], bb0,
                  bb1, e->act, k0, k1);
}

T512BF void tp_avx512_tile_bf16(const tp_packed *P, const uint16_t *xb, int m0, int m1, int p0,
                                int p1, float *y, int ldy, const tp_epi *e) {
    int kw = P->kp / 2;
    for (int p = p0; p < p1; p++) {
        const uint16_t *b = P->wb + (size_t)p * P->kp * TP_NR;
        int c0 = p * TP_NR, nvalid = P->n - c0 < TP_NR ? P->n - c0 : TP_NR;
        for (int i = m0; i < m1; i += MR) {
            int rows = m1 - i < MR ? m1 - i : MR;
            const uint32_t *a = (const uint32_t *)(const void *)(xb + (size_t)i * P->kp);
            float *yy = y + (size_t)i * ldy + c0;
            const float *res = e->res ? e->res + (size_t)i * e->ldres + c0 : NULL;
            DISPATCH_MR(ukr_bf16, rows, a, (size_t)kw, b, kw, yy, (size_t)ldy, P->bias + c0, e, res,
                        nvalid);
        }
    }
}

T512 void tp_avx512_to_bf16(const float *x, int k, int kp, uint16_t *out) {
    /* round to nearest even: (u + 0x7fff + ((u >> 16) & 1)) >> 16; inputs are finite */
    int i = 0;
    for (; i + 16 <= k; i += 16) {
        __m512i u = _mm512_castps_si512(_mm512_loadu_ps(x + i));
        __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
        u = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb);
        _mm256_storeu_si256((__m256i *)(void *)(out + i),
                            _mm512_cvtepi32_epi16(_mm512_srli_epi32(u, 16)));
    }
    for (; i < k; i++) {
        uint32_t u;
        memcpy(&u, x + i, 4);
        out[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    for (; i < kp; i++)
        out[i] = 0;
}

/* ---- int8 ---------------------------------------------------------------------------------------
 */

INLINE T512VNNI void ukr_int8(const int mr, const uint32_t *a, size_t lda, const int8_t *b, int kw,
                              float *y, size_t ldy, const float *xs, const float *ws,
                              const int32_t *wc, const float *bias, const tp_epi *e,
                              const float *res, int nvalid) {
    __m512i acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_si512();
    for (int p = 0; p < kw; p++) {
        __m512i b0 = _mm512_load_si512((const void *)(b + (size_t)p * 4 * TP_NR));
        __m512i b1 = _mm512_load_si512((const void *)(b + (size_t)p * 4 * TP_NR + 64));
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512i av = _mm512_set1_epi32((int)a[i * lda + (size_t)p]);
            acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], av, b0);
            acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], av, b1);
        }
    }
    __mmask16 k0, k1;
    col_masks(nvalid, &k0, &k1);
    __m512 bb0 = _mm512_load_ps(bias), bb1 = _mm512_load_ps(bias + 16);
    __m512 s0 = _mm512_load_ps(ws), s1 = _mm512_load_ps(ws + 16);
    __m512i c0 = _mm512_load_si512((const void *)wc),
            c1 = _mm512_load_si512((const void *)(wc + 16));
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        __m512 sx = _mm512_set1_ps(xs[i]);
        __m512 v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][0], c0)),
                                  _mm512_mul_ps(s0, sx));
        __m512 v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][1], c1)),
                                  _mm512_mul_ps(s1, sx));
        store_row(y + i * ldy, res ? res + i * (size_t)e->ldres : NULL, v0, v1, bb0, bb1, e->act,
                  k0, k1);
    }
}

T512VNNI void tp_avx512_tile_int8(const tp_packed *P, const uint8_t *xq, const float *xs, int m0,
                                  int m1, int p0, int p1, float *y, int ldy, const tp_epi *e) {
    int kw = P->kp / 4;
    for (int p = p0; p < p1; p++) {
        const int8_t *b = P->wq + (size_t)p * P->kp * TP_NR;
        int c0 = p * TP_NR, nvalid = P->n - c0 < TP_NR ? P->n - c0 : TP_NR;
        for (int i = m0; i < m1; i += MR) {
            int rows = m1 - i < MR ? m1 - i : MR;
            const uint32_t *a = (const uint32_t *)(const void *)(xq + (size_t)i * P->kp);
            float *yy = y + (size_t)i * ldy + c0;
            const float *res = e->res ? e->res + (size_t)i * e->ldres + c0 : NULL;
            DISPATCH_MR(ukr_int8, rows, a, (size_t)kw, b, kw, yy, (size_t)ldy, xs + i,
                        P->wscale + c0, P->wcomp + c0, P->bias + c0, e, res, nvalid);
        }
    }
}

T512 float tp_avx512_quant_row(const float *x, int k, int kp, uint8_t *out) {
    __m512 mx = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= k; i += 16)
        mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
    float amax = _mm512_reduce_max_ps(mx);
    for (; i < k; i++)
        amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    float scale = amax > 0 ? amax / 127.0f : 1.0f;
    float inv = 1.0f / scale;
    __m512 vi = _mm512_set1_ps(inv);
    i = 0;
    for (; i + 16 <= k; i += 16) {
        __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vi)); /* nearest */
        q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(-127)), _mm512_set1_epi32(127));
        q = _mm512_add_epi32(q, _mm512_set1_epi32(128));
        _mm_storeu_si128((__m128i *)(void *)(out + i), _mm512_cvtepi32_epi8(q));
    }
    for (; i < k; i++) {
        int q = (int)nearbyintf(x[i] * inv);
        q = q < -127 ? -127 : q > 127 ? 127 : q;
        out[i] = (uint8_t)(q + 128);
    }
    for (; i < kp; i++)
        out[i] = 128;
    return scale;
}

/* ---- AMX (bf16 / int8) --------------------------------------------------------------------------
 */
/* Blocks of 32 rows x one 32-channel panel: tiles 0-3 accumulate C (2 x 2 blocks of 16 x 16), tiles
 * 4-5 hold two 16-row slices of A, tiles 6-7 the two 16-channel halves of the B panel, whose
 * packed layouts ([kp/2][32][2] bf16, [kp/4][32][4] int8) are already the tiles' VNNI row order
 * (row stride 128 bytes). A rows must be readable up to a multiple of 32 rows (the caller pads
 * them) and kp is a multiple of 32 (bf16) / 64 (int8), so no tile ever needs a partial shape. */

#define TAMX                                                                                       \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16,avx512vnni,amx-tile," \
                          "amx-bf16,amx-int8")))

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_cfg;

static TAMX void amx_config(void) {
    amx_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
}

/* Blocking: for each block of 32 rows, the panels are taken in groups of AMX_PG and k in chunks
 * of AMX_KSTEPS tile steps (512 bytes of every A row: 256 bf16 / 512 int8). Within a chunk the
 * two A tiles of every step stay in L1 (16 KiB per chunk) while the group's B panels stream from
 * L2 once, so each tdp needs one tile load from L2 instead of two. The C tiles of the group's
 * panels are parked between chunks in cacc (raw f32 / s32 sums); the epilogue runs on them after
 * the last chunk. */
#define AMX_PG 8
#define AMX_KSTEPS 8

/* C tiles c0, c1 += A tile a times the B tiles 6 and 7 (tile numbers must be constants). */
#define AMX_DP2(kind, c0, c1, a)                                                                   \
    do {                                                                                           \
        if ((kind) == 1) {                                                                         \
            _tile_dpbf16ps(c0, a, 6);                                                              \
            _tile_dpbf16ps(c1, a, 7);                                                              \
        } else {                                                                                   \
            _tile_dpbusd(c0, a, 6);                                                                \
            _tile_dpbusd(c1, a, 7);                                                                \
        }                                                                                          \
    } while (0)

/* kind 1: bf16, kind 2: int8. a: A rows (bf16 or u8) with lda bytes per row. */
static TAMX void amx_tile(const tp_packed *P, int kind, const uint8_t *a, size_t lda,
                          const float *xs, int m, int p0, int p1, float *y, int ldy,
                          const tp_epi *e) {
    amx_config();
    _Alignas(64) int32_t cacc[AMX_PG][32][32];
    const int kstep = kind == 1 ? 32 : 64; /* k per tile step; one step is 64 bytes of an A row */
    const int nsteps = P->kp / kstep;
    for (int i = 0; i < m; i += 32) {
        int rows = m - i < 32 ? m - i : 32;
        const uint8_t *ai = a + (size_t)i * lda;
        for (int pg = p0; pg < p1; pg += AMX_PG) {
            int pe = p1 - pg < AMX_PG ? p1 : pg + AMX_PG;
            for (int s0 = 0; s0 < nsteps; s0 += AMX_KSTEPS) {
                int s1 = nsteps - s0 < AMX_KSTEPS ? nsteps : s0 + AMX_KSTEPS;
                for (int p = pg; p < pe; p++) {
                    int32_t(*cb)[32] = cacc[p - pg];
                    const uint8_t *b = kind == 1
                                           ? (const uint8_t *)(P->wb + (size_t)p * P->kp * TP_NR)
                                           : (const uint8_t *)(P->wq + (size_t)p * P->kp * TP_NR);
                    if (s0 == 0) {
                        _tile_zero(0);
                        _tile_zero(1);
                        _tile_zero(2);
                        _tile_zero(3);
                    } else {
                        _tile_loadd(0, &cb[0][0], 128);
                        _tile_loadd(1, &cb[0][16], 128);
                        _tile_loadd(2, &cb[16][0], 128);
                        _tile_loadd(3, &cb[16][16], 128);
                    }
                    for (int st = s0; st < s1; st++) {
                        const uint8_t *bk = b + (size_t)st * 16 * 128;
                        _tile_loadd(6, bk, 128);
                        _tile_loadd(7, bk + 64, 128);
                        _tile_loadd(4, ai + (size_t)st * 64, (long)lda);
                        AMX_DP2(kind, 0, 1, 4);
                        if (rows > 16) {
                            _tile_loadd(5, ai + 16 * lda + (size_t)st * 64, (long)lda);
                            AMX_DP2(kind, 2, 3, 5);
                        }
                    }
                    _tile_stored(0, &cb[0][0], 128);
                    _tile_stored(1, &cb[0][16], 128);
                    _tile_stored(2, &cb[16][0], 128);
                    _tile_stored(3, &cb[16][16], 128);
                }
            }
            for (int p = pg; p < pe; p++) {
                int32_t(*cb)[32] = cacc[p - pg];
                int c0 = p * TP_NR, nvalid = P->n - c0 < TP_NR ? P->n - c0 : TP_NR;
                __mmask16 k0, k1;
                col_masks(nvalid, &k0, &k1);
                __m512 bb0 = _mm512_load_ps(P->bias + c0), bb1 = _mm512_load_ps(P->bias + c0 + 16);
                for (int r = 0; r < rows; r++) {
                    __m512 v0, v1;
                    if (kind == 1) {
                        v0 = _mm512_castsi512_ps(_mm512_load_si512((const void *)&cb[r][0]));
                        v1 = _mm512_castsi512_ps(_mm512_load_si512((const void *)&cb[r][16]));
                    } else {
                        __m512 sx = _mm512_set1_ps(xs[i + r]);
                        __m512i w0 = _mm512_load_si512((const void *)(P->wcomp + c0));
                        __m512i w1 = _mm512_load_si512((const void *)(P->wcomp + c0 + 16));
                        v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(
                                               _mm512_load_si512((const void *)&cb[r][0]), w0)),
                                           _mm512_mul_ps(_mm512_load_ps(P->wscale + c0), sx));
                        v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(
                                               _mm512_load_si512((const void *)&cb[r][16]), w1)),
                                           _mm512_mul_ps(_mm512_load_ps(P->wscale + c0 + 16), sx));
                    }
                    size_t row = (size_t)(i + r);
                    store_row(y + row * ldy + c0, e->res ? e->res + row * e->ldres + c0 : NULL, v0,
                              v1, bb0, bb1, e->act, k0, k1);
                }
            }
        }
    }
    _tile_release();
}

void tp_amx_tile_bf16(const tp_packed *P, const uint16_t *xb, int m, int p0, int p1, float *y,
                      int ldy, const tp_epi *e) {
    amx_tile(P, 1, (const uint8_t *)xb, (size_t)P->kp * 2, NULL, m, p0, p1, y, ldy, e);
}

void tp_amx_tile_int8(const tp_packed *P, const uint8_t *xq, const float *xs, int m, int p0, int p1,
                      float *y, int ldy, const tp_epi *e) {
    amx_tile(P, 2, xq, (size_t)P->kp, xs, m, p0, p1, y, ldy, e);
}

/* ---- LayerNorm row ------------------------------------------------------------------------------
 */

/* x = LayerNorm(x + r) * g + b over n columns (r, b may be NULL); two passes, f32 vector sums. */
T512 void tp_avx512_ln_row(float *x, const float *r, const float *g, const float *b, int n,
                           float eps) {
    __m512 s = _mm512_setzero_ps();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_loadu_ps(x + j);
        if (r) {
            v = _mm512_add_ps(v, _mm512_loadu_ps(r + j));
            _mm512_storeu_ps(x + j, v);
        }
        s = _mm512_add_ps(s, v);
    }
    __mmask16 tail = (__mmask16)((1u << (n - j)) - 1);
    if (j < n) {
        __m512 v = _mm512_maskz_loadu_ps(tail, x + j);
        if (r) {
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(tail, r + j));
            _mm512_mask_storeu_ps(x + j, tail, v);
        }
        s = _mm512_add_ps(s, v);
    }
    float mean = _mm512_reduce_add_ps(s) / (float)n;
    __m512 vm = _mm512_set1_ps(mean), q = _mm512_setzero_ps();
    for (j = 0; j + 16 <= n; j += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + j), vm);
        q = _mm512_fmadd_ps(d, d, q);
    }
    if (j < n) {
        __m512 d = _mm512_maskz_sub_ps(tail, _mm512_maskz_loadu_ps(tail, x + j), vm);
        q = _mm512_fmadd_ps(d, d, q);
    }
    float inv = 1.0f / sqrtf(_mm512_reduce_add_ps(q) / (float)n + eps);
    __m512 vi = _mm512_set1_ps(inv);
    for (j = 0; j + 16 <= n; j += 16) {
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm), vi),
                                 _mm512_loadu_ps(g + j));
        if (b) v = _mm512_add_ps(v, _mm512_loadu_ps(b + j));
        _mm512_storeu_ps(x + j, v);
    }
    if (j < n) {
        __m512 v =
            _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + j), vm), vi),
                          _mm512_maskz_loadu_ps(tail, g + j));
        if (b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(tail, b + j));
        _mm512_mask_storeu_ps(x + j, tail, v);
    }
}

/* ---- attention block ----------------------------------------------------------------------------
 *
 * Queries go in the 16 vector lanes: S^T = K Q^T is built key by key, each a vector of 16 query
 * scores, so the row softmax (max, exp, sum over keys) is plain vector arithmetic across keys
 * with no horizontal reductions, and short sequences (the common case) waste no lanes on keys. */

/* In-register transpose of a 16 x 16 f32 block: r[i] holds row i on entry, column i on exit.
 * Pairs of rows interleave (ps, then pd), then 128-bit lanes regroup. */
INLINE T512 void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* u[4i + c] lane L: column c + 4L of rows 4i .. 4i + 3 */
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int c = 0; c < 4; c++) {
        __m512 v0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44);
        __m512 v1 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44);
        __m512 v2 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);
        __m512 v3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
        t[c] = _mm512_shuffle_f32x4(v0, v1, 0x88);
        t[c + 4] = _mm512_shuffle_f32x4(v0, v1, 0xDD);
        t[c + 8] = _mm512_shuffle_f32x4(v2, v3, 0x88);
        t[c + 12] = _mm512_shuffle_f32x4(v2, v3, 0xDD);
    }
    for (int i = 0; i < 16; i++)
        r[i] = t[i];
}

/* qt[d][i] = Q[i][d] for the nr (<= 16) query rows of a sub-block (zeros for i >= nr). */
INLINE T512 void transpose_queries(const float *q, int qs, int nr, int hd, float (*qt)[16]) {
    for (int d0 = 0; d0 < hd; d0 += 16) {
        int nd = hd - d0 < 16 ? hd - d0 : 16;
        __mmask16 dm = (__mmask16)((1u << nd) - 1);
        __m512 r[16];
        for (int i = 0; i < 16; i++)
            r[i] =
                i < nr ? _mm512_maskz_loadu_ps(dm, q + (size_t)i * qs + d0) : _mm512_setzero_ps();
        transpose16(r);
        for (int c = 0; c < nd; c++)
            _mm512_store_ps(qt[d0 + c], r[c]);
    }
}

/* st[r][i] = scale * K[r] . Q[i] for R keys (rows of k): broadcast-FMA over d like the GEMM. */
INLINE T512 void qk_keys(const int R, const float *k, int ks, int hd, float (*qt)[16], float *st,
                         __m512 scale) {
    __m512 acc[8];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        acc[r] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d++) {
        __m512 qv = _mm512_load_ps(qt[d]);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(k[(size_t)r * ks + d]), qv, acc[r]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        _mm512_storeu_ps(st + (size_t)r * 16, _mm512_mul_ps(acc[r], scale));
}

/* O rows [0, R) x NT vectors of the head = P V over nj keys; P[i][j] is pt[j * 16 + i]. */
INLINE T512 void pv_rows(const int R, const int NT, const float *pt, int nj, const float *v, int vs,
                         float *o, int os, const __mmask16 *dm) {
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int j = 0; j < nj; j++) {
        const float *vr = v + (size_t)j * vs;
        __m512 vv[4];
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++)
            vv[t] = _mm512_maskz_loadu_ps(dm[t], vr + 16 * t);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m512 p = _mm512_set1_ps(pt[(size_t)j * 16 + r]);
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++)
                acc[r][t] = _mm512_fmadd_ps(p, vv[t], acc[r][t]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++)
            _mm512_mask_storeu_ps(o + (size_t)r * os + 16 * t, dm[t], acc[r][t]);
}

#define PV_NT(R, nt, ...)                                                                          \
    switch (nt) {                                                                                  \
    case 4:                                                                                        \
        pv_rows(R, 4, __VA_ARGS__);                                                                \
        break;                                                                                     \
    case 3:                                                                                        \
        pv_rows(R, 3, __VA_ARGS__);                                                                \
        break;                                                                                     \
    case 2:                                                                                        \
        pv_rows(R, 2, __VA_ARGS__);                                                                \
        break;                                                                                     \
    default:                                                                                       \
        pv_rows(R, 1, __VA_ARGS__);                                                                \
        break;                                                                                     \
    }

/* One (sequence, head, query block): S = scale * Q K^T, row softmax over the visible keys
 * [lo_i, hi_i) (zeros outside), O = P V. q / k / v / o point at the block's first row of this
 * head; keys are [0, kend). Works on sub-blocks of 16 queries; S ([16][kend] floats or more) holds
 * the sub-block's scores as [key][16 queries]. hd <= TP_ATT_MAX_HD. */
T512 void tp_avx512_attn_block(const float *q, int qs, const float *k, int ks, const float *v,
                               int vs, float *o, int os, int nq, int kend, int hd, float scale,
                               const int *lo, const int *hi, float *S) {
    _Alignas(64) float qt[TP_ATT_MAX_HD][16];
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int i0 = 0; i0 < nq; i0 += 16) {
        int nr = nq - i0 < 16 ? nq - i0 : 16;
        __mmask16 lanes = (__mmask16)((1u << nr) - 1);
        /* keys any of these queries sees: [j0, j1) */
        int j0 = kend, j1 = 0;
        for (int i = 0; i < nr; i++) {
            j0 = lo[i0 + i] < j0 ? lo[i0 + i] : j0;
            j1 = hi[i0 + i] > j1 ? hi[i0 + i] : j1;
        }
        if (j1 > kend) j1 = kend;
        if (j0 >= j1) continue; /* cannot happen: every query sees at least itself */
        transpose_queries(q + (size_t)i0 * qs, qs, nr, hd, qt);
        int nj = j1 - j0, j = 0;
        const float *kj = k + (size_t)j0 * ks;
        for (; j + 8 <= nj; j += 8) /* S[j][i]: key j0 + j, query i0 + i */
            qk_keys(8, kj + (size_t)j * ks, ks, hd, qt, S + (size_t)j * 16, vscale);
        for (; j < nj; j++)
            qk_keys(1, kj + (size_t)j * ks, ks, hd, qt, S + (size_t)j * 16, vscale);
        /* softmax across keys, lane-wise; unused lanes see every key (finite, ignored) */
        __m512i vlo = _mm512_mask_loadu_epi32(_mm512_set1_epi32(j0), lanes, lo + i0);
        __m512i vhi = _mm512_mask_loadu_epi32(_mm512_set1_epi32(j1), lanes, hi + i0);
        __m512 mx = _mm512_set1_ps(-INFINITY);
        for (j = 0; j < nj; j++) {
            __m512i vj = _mm512_set1_epi32(j0 + j);
            __mmask16 see = _mm512_cmple_epi32_mask(vlo, vj) & _mm512_cmplt_epi32_mask(vj, vhi);
            mx = _mm512_mask_max_ps(mx, see, mx, _mm512_loadu_ps(S + (size_t)j * 16));
        }
        __m512 sum = _mm512_setzero_ps();
        for (j = 0; j < nj; j++) {
            __m512i vj = _mm512_set1_epi32(j0 + j);
            __mmask16 see = _mm512_cmple_epi32_mask(vlo, vj) & _mm512_cmplt_epi32_mask(vj, vhi);
            __m512 e = _mm512_maskz_mov_ps(
                see, exp512(_mm512_sub_ps(_mm512_loadu_ps(S + (size_t)j * 16), mx)));
            _mm512_storeu_ps(S + (size_t)j * 16, e);
            sum = _mm512_add_ps(sum, e);
        }
        __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
        for (j = 0; j < nj; j++)
            _mm512_storeu_ps(S + (size_t)j * 16,
                             _mm512_mul_ps(_mm512_loadu_ps(S + (size_t)j * 16), inv));
        /* O = P V: 4 rows x up to 64 columns of the head per register tile */
        for (int d0 = 0; d0 < hd; d0 += 64) {
            __mmask16 dm[4];
            int nt = (hd - d0 + 15) / 16 < 4 ? (hd - d0 + 15) / 16 : 4;
            for (int t = 0; t < 4; t++) {
                int rem = hd - d0 - 16 * t;
                dm[t] = rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1);
            }
            int i = 0;
            for (; i + 4 <= nr; i += 4)
                PV_NT(4, nt, S + i, nj, v + (size_t)j0 * vs + d0, vs,
                      o + (size_t)(i0 + i) * os + d0, os, dm);
            for (; i < nr; i++)
                PV_NT(1, nt, S + i, nj, v + (size_t)j0 * vs + d0, vs,
                      o + (size_t)(i0 + i) * os + d0, os, dm);
        }
    }
}
