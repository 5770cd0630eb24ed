/* tidepool — inference engine for transformer pooling models.
 *
 * Public C API. Conventions:
 *  - every fallible call returns a tp_status and fills a caller-owned tp_error (may be NULL);
 *  - objects are opaque handles with *_load / *_free pairs;
 *  - the library never prints and never exits.
 */
#ifndef TIDEPOOL_H
#define TIDEPOOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TP_VERSION "0.1.0"

/* Append-only. */
typedef enum tp_status {
    TP_OK = 0,
    TP_NOMEM,
    TP_IO,
    TP_FORMAT,
    TP_UNSUPPORTED,
    TP_INVALID,
    TP_TOO_LONG,
    TP_OVERLOADED,
    TP_CANCELLED,
    TP_INTERNAL,
} tp_status;

typedef struct tp_error {
    tp_status code;
    char msg[1024]; /* one line: "<file or what>: <problem>" */
} tp_error;

const char *tp_status_str(tp_status s);

/* ------------------------------------------------------------------------------------------ */
/* Tokenizer (tokenizer.json)                                                                 */
/* ------------------------------------------------------------------------------------------ */

typedef struct tp_tokenizer tp_tokenizer;

typedef enum tp_trunc_strategy {
    TP_TRUNC_LONGEST_FIRST = 0,
    TP_TRUNC_ONLY_FIRST,
    TP_TRUNC_ONLY_SECOND,
} tp_trunc_strategy;

typedef enum tp_trunc_dir {
    TP_TRUNC_RIGHT = 0,
    TP_TRUNC_LEFT,
} tp_trunc_dir;

typedef struct tp_encode_opts {
    int add_special;            /* 1: run the post-processor (special tokens, type ids) */
    size_t max_length;          /* 0: no truncation; else the total length incl. special tokens */
    tp_trunc_strategy strategy; /* for pairs */
    tp_trunc_dir direction;
} tp_encode_opts;

/* An encoding owns its arrays; reuse one across calls to avoid allocation. */
typedef struct tp_encoding {
    int32_t *ids;
    int32_t *type_ids;
    uint8_t *special; /* 1 where the token is a special token added by the post-processor */
    size_t len;
    size_t cap;
} tp_encoding;

void tp_encode_opts_default(tp_encode_opts *o); /* add_special=1, no truncation */

/* Loads tokenizer.json. `config_path` (tokenizer_config.json) may be NULL; when given, flags that
 * change encoding as transformers applies them (add_bos_token/add_eos_token) are honoured. */
tp_status tp_tokenizer_load(const char *path, const char *config_path, tp_tokenizer **out,
                            tp_error *err);
/* Same, from an in-memory tokenizer.json (not NUL-terminated). */
tp_status tp_tokenizer_load_json(const char *json, size_t len, tp_tokenizer **out, tp_error *err);
void tp_tokenizer_free(tp_tokenizer *t);

/* Thread-safe: a loaded tokenizer may encode from many threads at once.
 * `pair` may be NULL. Text must be valid UTF-8 (else TP_INVALID). */
tp_status tp_tokenizer_encode(const tp_tokenizer *t, const char *text, size_t len, const char *pair,
                              size_t pair_len, const tp_encode_opts *opts, tp_encoding *out,
                              tp_error *err);
void tp_encoding_free(tp_encoding *e);

/* Decodes ids to text; *out is malloc'd and NUL-terminated (caller frees). */
tp_status tp_tokenizer_decode(const tp_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                              char **out, size_t *out_len, tp_error *err);

int32_t tp_tokenizer_token_to_id(const tp_tokenizer *t, const char *token); /* -1: unknown */
const char *tp_tokenizer_id_to_token(const tp_tokenizer *t, int32_t id);    /* NULL: unknown */
size_t tp_tokenizer_vocab_size(const tp_tokenizer *t); /* incl. added tokens */

/* ------------------------------------------------------------------------------------------ */
/* Engine: model folder = weights + config + tokenizer + pooling/head                          */
/* ------------------------------------------------------------------------------------------ */

typedef struct tp_engine tp_engine;

typedef enum tp_task {
    TP_TASK_EMBED = 1 << 0,          /* sentence embedding (pooled, Dense, Normalize) */
    TP_TASK_CLASSIFY = 1 << 1,       /* class probabilities */
    TP_TASK_SCORE = 1 << 2,          /* one relevance score per (text, pair) */
    TP_TASK_TOKEN_EMBED = 1 << 3,    /* per-token hidden states (ALL) */
    TP_TASK_TOKEN_CLASSIFY = 1 << 4, /* per-token head outputs (reward, STEP) */
} tp_task;

typedef struct tp_engine_opts {
    int n_threads;             /* 0: all cores */
    int max_length;            /* 0: the model's */
    const char *dtype;         /* NULL or "f32" | "bf16" */
    const char *quantize;      /* NULL or "int8" */
    const char *pooler_config; /* JSON object (vLLM --pooler-config) or NULL */
    const char *hf_overrides;  /* JSON object (vLLM --hf-overrides) or NULL */
    int max_batch_tokens;      /* scratch is sized for this many tokens per forward; 0: default */
} tp_engine_opts;

void tp_engine_opts_default(tp_engine_opts *o);

typedef struct tp_model_info {
    const char *architecture; /* e.g. "BertModel" */
    const char *model_type;   /* e.g. "bert" */
    int hidden_size;
    int n_layers;
    int n_heads;
    int vocab_size;
    int max_length;   /* effective max tokens per sequence (ST max_seq_length, ...) */
    int out_dim;      /* sentence embedding size after Dense modules */
    int num_labels;   /* classifier outputs (0 when no head) */
    const char *pooling; /* "MEAN", "CLS", "LAST", ... */
    int normalize;
    const char *dtype;        /* compute dtype: "f32", "bf16", "int8" */
    const char *weight_dtype; /* dtype in the checkpoint */
    unsigned tasks;           /* bitmask of tp_task the model supports */
    const char *const *labels; /* num_labels names (id2label), or NULL */
    int is_matryoshka;
} tp_model_info;

tp_status tp_engine_load(const char *model_dir, const tp_engine_opts *opts, tp_engine **out,
                         tp_error *err);
void tp_engine_free(tp_engine *e);
const tp_model_info *tp_engine_info(const tp_engine *e);
const tp_tokenizer *tp_engine_tokenizer(const tp_engine *e);
/* Prompt text for a sentence-transformers prompt name, NULL when unknown. */
const char *tp_engine_prompt(const tp_engine *e, const char *name);

typedef struct tp_tokenize_opts {
    int add_special;        /* default 1 */
    int truncate;           /* 1: cut to max_length; 0: longer input is TP_TOO_LONG */
    int max_length;         /* 0: the engine's max length */
    tp_trunc_dir direction; /* default right */
    const char *prompt;     /* text prepended to `text` (resolved prompt), or NULL */
} tp_tokenize_opts;

void tp_tokenize_opts_default(tp_tokenize_opts *o);

/* Tokenizes for this model (its max length, its special tokens). *prompt_len (may be NULL)
 * receives how many leading tokens belong to the prompt. Thread-safe. */
tp_status tp_engine_tokenize(const tp_engine *e, const char *text, size_t len, const char *pair,
                             size_t pair_len, const tp_tokenize_opts *opts, tp_encoding *out,
                             int32_t *prompt_len, tp_error *err);

/* One tokenized sequence. Arrays are borrowed for the duration of the call. */
typedef struct tp_seq {
    const int32_t *ids;
    const int32_t *type_ids; /* NULL: all zeros */
    int32_t len;
    int32_t prompt_len; /* leading prompt tokens (excluded from pooling when include_prompt=false) */
} tp_seq;

typedef struct tp_run_opts {
    int normalize;      /* -1: model default, 0/1 override (embed) */
    int use_activation; /* -1: model default, 0: raw logits (classify/score) */
    int dimensions;     /* 0: full; else Matryoshka truncation + re-normalize */
} tp_run_opts;

void tp_run_opts_default(tp_run_opts *o);

/* A result: rows x cols float32, malloc'd by the engine; free with tp_result_free.
 * EMBED: 1 x out_dim. CLASSIFY: 1 x num_labels (probabilities). SCORE: 1 x 1.
 * TOKEN_EMBED: len x hidden. TOKEN_CLASSIFY: len x labels (or steps x labels for STEP). */
typedef struct tp_result {
    float *data;
    int32_t rows;
    int32_t cols;
} tp_result;

void tp_result_free(tp_result *r);

/* Runs n sequences as packed batches (no padding) and fills results[0..n). Not re-entrant for
 * one engine: callers serialize (the server's scheduler owns one engine per worker). */
tp_status tp_engine_run(tp_engine *e, tp_task task, const tp_seq *seqs, size_t n,
                        const tp_run_opts *opts, tp_result *results, tp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TIDEPOOL_H */
