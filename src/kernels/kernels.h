/* Compute kernels. Shapes are row-major; "m" is the number of tokens in a packed batch.
 * Every fast kernel keeps a plain scalar reference (tp_ref_*) that tests compare against. */
#ifndef TP_KERNELS_H
#define TP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "tidepool.h"

/* A linear layer y = x W^T + b with W in the Hugging Face layout [n_out][n_in].
 * `w` points at f32 weights (mmapped or converted, not owned). tp_linear_prepare may build a
 * backend-specific copy (packed, bf16, int8) in `packed`, owned by the struct. */
typedef enum { TP_LIN_F32 = 0, TP_LIN_BF16, TP_LIN_INT8 } tp_lin_kind;

typedef struct tp_linear {
    const float *w; /* [n][k] */
    const float *b; /* [n] or NULL */
    int n, k;
    tp_lin_kind kind;
    void *packed;
} tp_linear;

/* Converts / packs the weights for `kind`. Called once at load. */
tp_status tp_linear_prepare(tp_linear *l, tp_lin_kind kind, tp_error *err);
void tp_linear_release(tp_linear *l);
/* Bytes of weights the forward pass reads (the packed copy once prepared). */
size_t tp_linear_bytes(const tp_linear *l);
/* y[m][n] = x[m][k] W^T + b. y must not alias x.
 * After tp_linear_prepare succeeds, the forward pass reads only the prepared copy (l->packed) and
 * l->b is copied too: the owner may drop or madvise the pages behind l->w and l->b. */
void tp_linear_fwd(tp_pool *pool, const tp_linear *l, const float *x, int m, float *y);

/* Activations fused into the linear epilogue (also accepted by tp_epi_act_inplace). */
typedef enum {
    TP_EPI_NONE = 0,
    TP_EPI_GELU_ERF,  /* exact erf GELU (HF "gelu") */
    TP_EPI_GELU_TANH, /* "gelu_new" / "gelu_pytorch_tanh" */
    TP_EPI_RELU,
    TP_EPI_SILU,
} tp_epi_act;

/* y = act(x W^T + b) + res, fused in the GEMM epilogue. res is [m][n] (row stride n) or NULL;
 * it must not alias x or y (y holds partial sums). Same numerics as tp_linear_fwd followed by the
 * activation and the add. */
void tp_linear_fwd_ex(tp_pool *pool, const tp_linear *l, const float *x, int m, float *y,
                      tp_epi_act act, const float *res);
/* Whether tp_linear_fwd_xp uses an input packed by the caller on this CPU (f32 layers with
 * n >= 2k on AVX-512: QKV, FFN-up), which tp_add_layernorm_pack can write. */
int tp_linear_takes_packed(const tp_linear *l);
/* Floats of a packed input of m rows of k. */
size_t tp_linear_packed_floats(int m, int k);
/* tp_linear_fwd_ex with the input also given packed in tiles of TP_MR rows (k floats per row,
 * ceil(m / TP_MR) * TP_MR rows, as tp_add_layernorm_pack writes them), which saves the packing
 * pass; xp is ignored (may be NULL) when tp_linear_takes_packed(l) is 0. Same results. */
void tp_linear_fwd_xp(tp_pool *pool, const tp_linear *l, const float *x, const float *xp, int m,
                      float *y, tp_epi_act act, const float *res);
/* Activation over n floats (vectorized where the CPU allows). */
void tp_epi_act_inplace(float *x, size_t n, tp_epi_act act);

/* Scalar references (tests compare the fast paths against these). */
void tp_ref_linear(const float *w, const float *b, int n, int k, const float *x, int m, float *y,
                   tp_epi_act act, const float *res);
float tp_ref_act(float v, tp_epi_act act);

/* Plain GEMM: C[m][n] = A[m][k] * B[n][k]^T (+ C when accumulate). Used for attention. */
void tp_gemm_nt(const float *a, int lda, const float *b, int ldb, float *c, int ldc, int m, int n,
                int k, int accumulate);
/* C[m][n] = A[m][k] * B[k][n] */
void tp_gemm_nn(const float *a, int lda, const float *b, int ldb, float *c, int ldc, int m, int n,
                int k);

/* In-place row-wise norms over n columns, m rows. */
void tp_layernorm(tp_pool *pool, float *x, const float *g, const float *b, int m, int n, float eps);
/* x = LayerNorm(x + r) */
void tp_add_layernorm(tp_pool *pool, float *x, const float *r, const float *g, const float *b,
                      int m, int n, float eps);
/* tp_add_layernorm (r may be NULL), and when xp is not NULL the result also packed for
 * tp_linear_fwd_xp (AVX-512 only: pass NULL unless tp_linear_takes_packed). */
void tp_add_layernorm_pack(tp_pool *pool, float *x, const float *r, const float *g, const float *b,
                           int m, int n, float eps, float *xp);
/* y = RMSNorm(x) * g (y may alias x). `offset` is added to g (Gemma-style 1+g) — 0 normally. */
void tp_rmsnorm(float *y, const float *x, const float *g, int m, int n, float eps);

void tp_gelu_erf(float *x, size_t n);  /* exact erf GELU */
void tp_gelu_tanh(float *x, size_t n); /* tanh approximation */
void tp_relu(float *x, size_t n);
void tp_silu(float *x, size_t n);
void tp_tanh_inplace(float *x, size_t n);
/* out[i] = act(gate[i]) * up[i] for rows with interleaved halves: in is [m][2f] as
 * [gate | up] (GeGLU/SwiGLU); out is [m][f]. act: 0 silu, 1 gelu_erf, 2 gelu_tanh. */
void tp_glu(const float *in, float *out, int m, int f, int act);
void tp_softmax_row(float *x, int n);

/* Rotary embedding (HF "rotate_half" layout) on x[m][n_heads][head_dim] in place, for positions
 * pos[m]. rot_dim <= head_dim (partial rotary). */
void tp_rope(float *x, int m, int n_heads, int head_dim, int rot_dim, const int32_t *pos,
             float theta, int stride);

/* Packed varlen attention. q: [tokens][n_heads*hd] with row stride q_stride (likewise k, v with
 * n_kv_heads), out: [tokens][n_heads*hd] (stride out_stride). Sequences are [off[s], off[s+1]).
 * causal: token i sees j <= i. window > 0: |i - j| <= window/2 (ModernBERT local attention).
 * scratch needs tp_attention_scratch(max_len, n_threads) floats. */
typedef struct tp_attn_args {
    const float *q, *k, *v;
    int q_stride, k_stride, v_stride;
    float *out;
    int out_stride;
    const int32_t *off;
    int n_seq;
    int n_heads, n_kv_heads, head_dim;
    float scale;
    int causal;
    int window;
} tp_attn_args;

/* Arguments for the common encoder case: q, k, v side by side in one fused-QKV buffer
 * qkv[tokens][3 * n_heads * head_dim], as many kv heads as heads, scale 1/sqrt(head_dim), not
 * causal, no window (set those fields after). */
tp_attn_args tp_attn_fused_qkv(const float *qkv, int n_heads, int head_dim, float *out,
                               const int32_t *off, int n_seq);
size_t tp_attention_scratch(int max_len, int n_threads);
void tp_attention(tp_pool *pool, const tp_attn_args *a, float *scratch);

#endif
