/* The engine's state, shared by engine.c (load, tokenize) and run.c (forward + heads). */
#ifndef TP_ENGINE_INTERNAL_H
#define TP_ENGINE_INTERNAL_H

#include "core/threadpool.h"
#include "io/modeldir.h"
#include "models/model.h"
#include "pool/pool.h"
#include "tidepool.h"

struct tp_engine {
    tp_modeldir md;
    tp_tokenizer *tok;
    tp_model *model;
    tp_st_head head;
    tp_pool *pool;
    tp_model_info info;
    char **labels; /* info.labels storage */
    char pooling_name[64];

    /* pooling (sentence level) */
    tp_pool_mode modes[TP_MAX_POOL_MODES];
    int n_modes;
    int include_prompt;
    int normalize;
    tp_act cls_act;    /* CLASSIFY activation */
    tp_act score_act;  /* SCORE activation (1 label) */
    int token_softmax; /* TOKEN_CLASSIFY: softmax each token's logits */
    int step_tag_id;   /* STEP pooling: keep tokens with this id (-1: off) */
    int returned_token_ids[16];
    int n_returned;

    int max_batch_tokens;
    /* run.c: split a batch across the threads by sequence when every part gets at least
     * part_min_tokens tokens (tests lower it to force the split on tiny fixtures) */
    int batch_parallel;
    int part_min_tokens;
    void *parts; /* run.c's per-part state, allocated on first use */
    /* per-run buffers, grown on demand and kept */
    float *scratch;
    size_t scratch_cap;
    float *hidden;
    size_t hidden_cap;
    int32_t *ids, *types, *off;
    size_t ids_cap, off_cap;
};

tp_status tp_engine_parse_pooler_config(tp_engine *e, const char *json, tp_error *err);

#endif
