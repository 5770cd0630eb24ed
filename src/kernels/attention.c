/* Packed varlen attention: one task per (sequence, head, block of 64 queries). Scores for a block
 * fit [64][len] floats of per-thread scratch (the AVX-512 kernel uses [len][16] of it per 16
 * queries), so memory stays linear in the sequence length. */
#include <math.h>

#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

#define QBLK 64

size_t tp_attention_scratch(int max_len, int n_threads) {
    return (size_t)QBLK * (size_t)(max_len > 0 ? max_len : 1) *
           (size_t)(n_threads > 0 ? n_threads : 1);
}

static void attn_block(const tp_attn_args *a, int s, int h, int qb, float *S) {
    int base = a->off[s], len = a->off[s + 1] - a->off[s];
    int q0 = qb * QBLK;
    if (q0 >= len) return;
    int nq = len - q0 < QBLK ? len - q0 : QBLK;
    int group = a->n_heads / a->n_kv_heads;
    int kh = h / group, hd = a->head_dim;
    /* keys a query block can see: causal limits the right end */
    int kend = a->causal ? q0 + nq : len;
    const float *q = a->q + (size_t)(base + q0) * a->q_stride + (size_t)h * hd;
    const float *k = a->k + (size_t)base * a->k_stride + (size_t)kh * hd;
    const float *v = a->v + (size_t)base * a->v_stride + (size_t)kh * hd;
    float *o = a->out + (size_t)(base + q0) * a->out_stride + (size_t)h * hd;
    int half = a->window / 2;
    if (hd <= TP_ATT_MAX_HD && tp_cpu_level_get() >= TP_CPU_AVX512) {
        /* own AVX-512 path (OpenBLAS 0.3.21 runs its SSE kernels on Sapphire Rapids) */
        int lo[QBLK], hi[QBLK];
        for (int i = 0; i < nq; i++) {
            int qi = q0 + i;
            lo[i] = 0;
            hi[i] = kend;
            if (a->causal && qi + 1 < hi[i]) hi[i] = qi + 1;
            if (a->window > 0) {
                if (qi - half > lo[i]) lo[i] = qi - half;
                if (qi + half + 1 < hi[i]) hi[i] = qi + half + 1;
            }
        }
        tp_avx512_attn_block(q, a->q_stride, k, a->k_stride, v, a->v_stride, o, a->out_stride, nq,
                             kend, hd, a->scale, lo, hi, S);
        return;
    }
    tp_gemm_nt(q, a->q_stride, k, a->k_stride, S, kend, nq, kend, hd, 0);
    for (int i = 0; i < nq; i++) {
        float *row = S + (size_t)i * kend;
        int qi = q0 + i;
        int lo = 0, hi = kend; /* visible keys [lo, hi) */
        if (a->causal && qi + 1 < hi) hi = qi + 1;
        if (a->window > 0) {
            if (qi - half > lo) lo = qi - half;
            if (qi + half + 1 < hi) hi = qi + half + 1;
        }
        float mx = -INFINITY;
        for (int j = lo; j < hi; j++) {
            row[j] *= a->scale;
            mx = row[j] > mx ? row[j] : mx;
        }
        double sum = 0;
        for (int j = 0; j < kend; j++) {
            if (j < lo || j >= hi) {
                row[j] = 0;
                continue;
            }
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        float inv = (float)(1.0 / sum);
        for (int j = lo; j < hi; j++)
            row[j] *= inv;
    }
    tp_gemm_nn(S, kend, v, a->v_stride, o, a->out_stride, nq, hd, kend);
}

typedef struct {
    const tp_attn_args *a;
    float *scratch;
    size_t per_thread;
    int nblk;  /* query blocks per (seq, head) for the longest sequence */
    int units; /* (seq, head, query block) units */
    int per;   /* units per task */
} ctx_t;

static void attn_task(void *vctx, int task, int thread) {
    ctx_t *c = vctx;
    const tp_attn_args *a = c->a;
    int u1 = (task + 1) * c->per < c->units ? (task + 1) * c->per : c->units;
    for (int u = task * c->per; u < u1; u++) {
        int qb = u % c->nblk;
        int rest = u / c->nblk;
        attn_block(a, rest / a->n_heads, rest % a->n_heads, qb,
                   c->scratch + (size_t)thread * c->per_thread);
    }
}

tp_attn_args tp_attn_fused_qkv(const float *qkv, int n_heads, int head_dim, float *out,
                               const int32_t *off, int n_seq) {
    int h = n_heads * head_dim;
    return (tp_attn_args){.q = qkv,
                          .k = qkv + h,
                          .v = qkv + 2 * h,
                          .q_stride = 3 * h,
                          .k_stride = 3 * h,
                          .v_stride = 3 * h,
                          .out = out,
                          .out_stride = h,
                          .off = off,
                          .n_seq = n_seq,
                          .n_heads = n_heads,
                          .n_kv_heads = n_heads,
                          .head_dim = head_dim,
                          .scale = 1.0f / sqrtf((float)head_dim)};
}

void tp_attention(tp_pool *pool, const tp_attn_args *a, float *scratch) {
    int max_len = 0;
    for (int s = 0; s < a->n_seq; s++) {
        int l = a->off[s + 1] - a->off[s];
        max_len = l > max_len ? l : max_len;
    }
    if (max_len == 0) return;
    ctx_t c = {a, scratch, (size_t)QBLK * (size_t)max_len, (max_len + QBLK - 1) / QBLK, 0, 1};
    c.units = a->n_seq * a->n_heads * c.nblk;
    /* A unit of a short sequence takes a few microseconds, about what claiming it from the pool
     * costs across cores: hand them out in runs of several units, about 16 tasks per thread (a
     * batch of 32 sentences: 384 units in 32 tasks; 11% of the attention's thread time went to
     * claiming and waiting on bert-base before). */
    int nt = tp_pool_size(pool);
    if (nt > 1) c.per = c.units / (16 * nt) > 1 ? c.units / (16 * nt) : 1;
    tp_pool_run(pool, attn_task, &c, (c.units + c.per - 1) / c.per);
}
