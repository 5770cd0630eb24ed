/* Model-folder resolution: config.json plus the sentence-transformers files (modules.json,
 * Pooling, Dense, Normalize, sentence_bert_config.json, config_sentence_transformers.json) and
 * tokenizer_config.json. Both the classic and the sentence-transformers 6 layouts load. */
#ifndef TP_IO_MODELDIR_H
#define TP_IO_MODELDIR_H

#include <jansson.h>

#include "tidepool.h"

typedef enum {
    TP_POOL_NONE = 0,
    TP_POOL_CLS,
    TP_POOL_MEAN,
    TP_POOL_MAX,
    TP_POOL_MEAN_SQRT_LEN,
    TP_POOL_WEIGHTEDMEAN,
    TP_POOL_LAST,
    TP_POOL_ALL,
    TP_POOL_STEP,
} tp_pool_mode;

typedef enum {
    TP_ACT_IDENTITY = 0,
    TP_ACT_TANH,
    TP_ACT_RELU,
    TP_ACT_GELU,
    TP_ACT_GELU_TANH,
    TP_ACT_SIGMOID,
    TP_ACT_SILU,
    TP_ACT_SOFTMAX,
} tp_act;

#define TP_MAX_POOL_MODES 6
#define TP_MAX_DENSE 4

typedef struct tp_dense_module {
    char path[4096]; /* folder holding model.safetensors (or pytorch weights, unsupported) */
    int in_features, out_features;
    int bias;
    tp_act act;
} tp_dense_module;

typedef struct tp_modeldir {
    char dir[4096];
    json_t *config; /* config.json (owned) */
    const char *architecture; /* architectures[0] or "" */
    const char *model_type;   /* or "" */

    int has_st; /* modules.json present */
    tp_pool_mode pool_modes[TP_MAX_POOL_MODES]; /* ST pooling modes, concatenated in ST order */
    int n_pool_modes;
    int include_prompt;
    int normalize; /* ST Normalize module present */
    tp_dense_module dense[TP_MAX_DENSE];
    int n_dense;

    int max_seq_length;   /* sentence_bert_config.json, 0 when absent */
    int model_max_length; /* tokenizer_config.json, 0 when absent or absurd */
    json_t *prompts;      /* config_sentence_transformers.json "prompts" (owned ref) or NULL */
    char default_prompt_name[128];
    json_t *st_config;    /* config_sentence_transformers.json (owned) or NULL */

    char tokenizer_path[4096];
    char tokenizer_config_path[4096]; /* "" when absent */
} tp_modeldir;

tp_status tp_modeldir_open(const char *dir, tp_modeldir *md, tp_error *err);
void tp_modeldir_close(tp_modeldir *md);

/* config.json accessors with defaults. */
int tp_cfg_int(const tp_modeldir *md, const char *key, int def);
double tp_cfg_num(const tp_modeldir *md, const char *key, double def);
const char *tp_cfg_str(const tp_modeldir *md, const char *key, const char *def);
int tp_cfg_bool(const tp_modeldir *md, const char *key, int def);

/* Parses an activation name ("tanh", "torch.nn.modules.activation.Tanh", "gelu", ...).
 * Returns 0 when unknown. */
int tp_act_parse(const char *name, tp_act *out);
const char *tp_pool_mode_name(tp_pool_mode m);
/* Parses "CLS", "mean", "lasttoken", ...; returns TP_POOL_NONE when unknown. */
tp_pool_mode tp_pool_mode_parse(const char *name);

#endif
