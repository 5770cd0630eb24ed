/* Poolers and sentence-transformers heads (Dense, Normalize), and activations over logits. */
#ifndef TP_POOL_H
#define TP_POOL_H

#include "io/modeldir.h"
#include "io/safetensors.h"
#include "kernels/kernels.h"

/* Pools one sequence of hidden states h[len][dim] (rows of the packed batch) with each mode in
 * turn, concatenating into out[n_modes * dim]. The first `prompt_len` tokens are masked out of
 * every mode but CLS when include_prompt is 0 (sentence-transformers Pooling semantics, including
 * its results when nothing is left unmasked). */
void tp_pool_sequence(const float *h, int len, int dim, int prompt_len, int include_prompt,
                      const tp_pool_mode *modes, int n_modes, float *out);

void tp_l2_normalize(float *x, int n);
/* Applies an activation in place over n values (softmax over the whole row). */
void tp_apply_act(tp_act act, float *x, int n);

/* The sentence-transformers modules after pooling. */
typedef struct tp_st_head {
    int n_dense;
    tp_weights *w[TP_MAX_DENSE];
    tp_linear lin[TP_MAX_DENSE];
    tp_act act[TP_MAX_DENSE];
    int in_dim, out_dim;
} tp_st_head;

/* Loads the Dense modules of md (in order); in_dim is the pooled size. */
tp_status tp_st_head_load(tp_st_head *hd, const tp_modeldir *md, int in_dim, tp_error *err);
void tp_st_head_free(tp_st_head *hd);
/* x[in_dim] -> out[out_dim]; tmp holds at least max(dense sizes) floats. */
void tp_st_head_apply(const tp_st_head *hd, const float *x, float *out, float *tmp);

#endif
