/* Architecture interface. One file per family implements a loader registered in registry.c.
 * A model owns its weights view (tp_weights, shared read-only by all workers) and runs the
 * forward pass for a packed batch: sequences back to back, no padding. */
#ifndef TP_MODELS_MODEL_H
#define TP_MODELS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "io/modeldir.h"
#include "io/safetensors.h"
#include "kernels/kernels.h"
#include "tidepool.h"

typedef struct tp_batch {
    const int32_t *ids;      /* [n_tok] */
    const int32_t *type_ids; /* [n_tok] (zeros when the input had none) */
    const int32_t *off;      /* [n_seq + 1]: sequence s is tokens [off[s], off[s+1]) */
    int n_seq;
    int n_tok;
    int max_len; /* longest sequence */
} tp_batch;

/* Which rows the classification head reads. */
typedef enum {
    TP_HEAD_NONE = 0, /* no classification head */
    TP_HEAD_CLS,      /* first token of each sequence */
    TP_HEAD_LAST,     /* last token */
    TP_HEAD_MEAN,     /* mean over the sequence */
    TP_HEAD_TOKENS,   /* every token (reward models, PRM) */
} tp_head_input;

typedef struct tp_model tp_model;

typedef struct tp_model_ops {
    void (*free)(tp_model *m);
    /* floats of scratch the forward pass needs for a batch of n_tok tokens whose longest
     * sequence is max_len, with n_threads threads. */
    size_t (*scratch_floats)(const tp_model *m, int n_tok, int max_len, int n_threads);
    /* hidden[n_tok][hidden_size] = last hidden state (after the final norm, as HF returns it). */
    tp_status (*forward)(tp_model *m, tp_pool *pool, const tp_batch *b, float *hidden,
                         float *scratch, tp_error *err);
    /* Classification head: in[rows][hidden_size] -> out[rows][num_labels] (raw logits).
     * NULL when the model has no head. */
    tp_status (*head)(tp_model *m, tp_pool *pool, const float *in, int rows, float *out,
                      tp_error *err);
} tp_model_ops;

struct tp_model {
    const tp_model_ops *ops;
    tp_weights *w; /* owned */
    int hidden_size;
    int n_layers;
    int n_heads;
    int vocab_size;
    int max_positions; /* longest sequence the position embeddings allow (0: unbounded) */
    int num_labels;    /* head outputs, 0 when no head */
    tp_head_input head_input;
    int is_decoder;   /* causal LM body: default pooling LAST */
    tp_pool_mode default_pooling; /* TP_POOL_NONE: engine default (LAST for decoders, else CLS) */
    int token_softmax;            /* TOKEN_CLASSIFY default: softmax each token's logits (PRM) */
    const char *head_activation; /* NULL: engine default (sigmoid for 1 label, else softmax) */
    int pad_token_id;
};

typedef struct tp_model_load_opts {
    const tp_engine_opts *engine;
    json_t *hf_overrides; /* parsed --hf-overrides or NULL (borrowed) */
    tp_lin_kind lin_kind;
} tp_model_load_opts;

typedef tp_status (*tp_model_loader)(const tp_modeldir *md, tp_weights *w,
                                     const tp_model_load_opts *o, tp_model **out, tp_error *err);

/* Picks the loader from config.json `architectures` (then `model_type`). On success the model
 * owns w. On failure w is still the caller's. Unknown architectures get a message listing what is
 * supported. */
tp_status tp_model_load(const tp_modeldir *md, tp_weights *w, const tp_model_load_opts *o,
                        tp_model **out, tp_error *err);
void tp_model_free(tp_model *m);

/* Finds which of `prefixes` (NULL-terminated; "" = none) the checkpoint's tensor names use, by
 * looking for `probe`, and sets it on w. Fails with a message naming the folder and the probe. */
tp_status tp_model_use_prefix(const tp_modeldir *md, tp_weights *w, const char *const *prefixes,
                              const char *probe, tp_error *err);

/* Helpers for loaders: fetch a float32 tensor of the given shape ("%d" in name is formatted). */
tp_status tp_model_tensor(tp_weights *w, const float **out, tp_error *err, int ndim, int64_t d0,
                          int64_t d1, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* What a linear layer does in the network; picks its precision under --quantize int8. */
typedef enum {
    TP_LIN_ROLE_QKV,      /* attention q/k/v projections (fused or not) */
    TP_LIN_ROLE_ATTN_OUT, /* attention output projection */
    TP_LIN_ROLE_FFN_UP,   /* FFN up / gate projections */
    TP_LIN_ROLE_FFN_DOWN, /* FFN down projection (input: the wide activation) */
    TP_LIN_ROLE_HEAD,     /* pooler / classifier / score head after the last layer */
} tp_lin_role;

/* The kind of the linear layer `role` in transformer layer `layer` of `n_layers` (layer is
 * ignored for TP_LIN_ROLE_HEAD). f32 and bf16 apply everywhere; int8 keeps the layers the
 * ranking of scores is most sensitive to in f32 (see docs/engine.md, "Reduced precision"). */
tp_lin_kind tp_lin_kind_for(const tp_model_load_opts *o, int layer, int n_layers, tp_lin_role role);

/* A linear layer from "<name>.weight" [n][k] and optional "<name>.bias", prepared as `kind`. */
tp_status tp_model_linear(tp_weights *w, tp_linear *l, int n, int k, int bias, tp_lin_kind kind,
                          tp_error *err, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

#endif
