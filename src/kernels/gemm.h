/* Internal to kernels/: the packed weight formats built by tp_linear_prepare and the tile kernels
 * that consume them. Every format keeps W^T in column panels of TP_NR output channels so that one
 * micro-kernel step reads TP_NR contiguous values per k (or k pair / k quad). */
#ifndef TP_KERNELS_GEMM_H
#define TP_KERNELS_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

#define TP_NR 32 /* output channels per panel (two 512-bit vectors) */

typedef struct tp_packed {
    tp_lin_kind kind;
    int n, k;
    int np;         /* panels: ceil(n / TP_NR) */
    int kp;         /* k padded: k (f32), multiple of 32 (bf16) / 64 (int8), zeros */
    float *wf;      /* f32:  [np][k][TP_NR] */
    uint16_t *wb;   /* bf16: [np][kp/2][TP_NR][2] */
    int8_t *wq;     /* int8: [np][kp/4][TP_NR][4] */
    float *bias;    /* [np*TP_NR], zero-padded (zeros when the layer has no bias) */
    float *wscale;  /* int8: per-channel scale [np*TP_NR] */
    int32_t *wcomp; /* int8: 128 * sum_k wq[j][k], compensates the u8 offset of activations */
} tp_packed;

/* Epilogue applied to each output element: y = act(acc + bias) + res. */
typedef struct tp_epi {
    int act;          /* tp_epi_act */
    const float *res; /* [m][ldres] or NULL */
    int ldres;
} tp_epi;

/* Tiles: rows [m0, m1), panels [p0, p1). A operands:
 *  f32:  x [m][ldx] floats;
 *  bf16: xb [m][kp] bf16 (k padded with zeros);
 *  int8: xq [m][kp] u8 (= s8 + 128, padding 128), xs [m] row scales. */
void tp_avx512_tile_f32(const tp_packed *P, const float *x, int ldx, int m0, int m1, int p0, int p1,
                        float *y, int ldy, const tp_epi *e);
/* Packed f32 A: rows [r0, r0 + rows) (rows <= TP_MR) of x [m][k] as one tile [k][TP_MR], rows past
 * `rows` zero. tp_avx512_tile_f32_packed reads tile t (rows t*TP_MR ...) at xp + t * k * TP_MR;
 * m0 must be a multiple of TP_MR. */
#define TP_MR 12
void tp_avx512_pack_a(const float *x, int k, int r0, int rows, float *ap);
void tp_avx512_tile_f32_packed(const tp_packed *P, const float *xp, int m0, int m1, int p0, int p1,
                               float *y, int ldy, const tp_epi *e);
/* The same product with a 6-row x 64-column (two panel) micro-kernel; an odd last panel goes to
 * tp_avx512_tile_f32. Used for f32 layers whose input is not packed (n < 2k). */
void tp_avx512_tile_f32_wide(const tp_packed *P, const float *x, int ldx, int m0, int m1, int p0,
                             int p1, float *y, int ldy, const tp_epi *e);
void tp_avx512_tile_bf16(const tp_packed *P, const uint16_t *xb, int m0, int m1, int p0, int p1,
                         float *y, int ldy, const tp_epi *e);
void tp_avx512_tile_int8(const tp_packed *P, const uint8_t *xq, const float *xs, int m0, int m1,
                         int p0, int p1, float *y, int ldy, const tp_epi *e);
/* AMX versions (rows [0, m)): A rows readable up to m rounded up to 32; kp multiple of 32 / 64. */
void tp_amx_tile_bf16(const tp_packed *P, const uint16_t *xb, int m, int p0, int p1, float *y,
                      int ldy, const tp_epi *e);
void tp_amx_tile_int8(const tp_packed *P, const uint8_t *xq, const float *xs, int m, int p0, int p1,
                      float *y, int ldy, const tp_epi *e);
/* x -> bf16 rows (round to nearest even), k padded to kp with zeros. */
void tp_avx512_to_bf16(const float *x, int k, int kp, uint16_t *out);
/* x -> u8 rows (s8 + 128) with symmetric per-row scale; returns the scale. */
float tp_avx512_quant_row(const float *x, int k, int kp, uint8_t *out);
/* x = LayerNorm(x + r) * g + b for one row (r, b may be NULL). */
void tp_avx512_ln_row(float *x, const float *r, const float *g, const float *b, int n, float eps);
/* Vectorized activations on n floats (used by the generic-level epilogue too when AVX-512 is on).
 */
void tp_avx512_act(float *x, size_t n, int act);

/* Attention for one (sequence, head, query block); see attention.c. hd <= TP_ATT_MAX_HD. */
#define TP_ATT_MAX_HD 512
void tp_avx512_attn_block(const float *q, int qs, const float *k, int ks, const float *v, int vs,
                          float *o, int os, int nq, int kend, int hd, float scale, const int *lo,
                          const int *hi, float *S);

#endif
