/* Request bodies (vLLM / OpenAI shapes) parsed from JSON into plain structs. No engine here:
 * these functions only check shapes and types, so they are unit-tested without a model.
 *
 * Conventions: a JSON null is the same as an absent field (pydantic Optional); unknown fields are
 * ignored; a field of the wrong type is TP_INVALID with *param set to the field's name. Strings
 * are borrowed from the parsed document, which must outlive the struct. */
#ifndef TP_SERVER_REQUEST_H
#define TP_SERVER_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tidepool.h"

/* input: str | [str] | [int] | [[int]] */
typedef struct tp_inputs {
    size_t n;
    int is_tokens;
    const char **text; /* n, when !is_tokens */
    size_t *text_len;
    int32_t **ids; /* n token-id lists, when is_tokens (owned) */
    size_t *ids_len;
} tp_inputs;

/* Parses `v` as an input field named `field`. max_items bounds the list; max_id bounds token
 * ids (exclusive; 0: no bound). Empty lists are TP_INVALID. */
tp_status tp_inputs_parse(const json_t *v, const char *field, size_t max_items, int64_t max_id,
                          tp_inputs *out, tp_error *err);
void tp_inputs_free(tp_inputs *in);

/* Options shared by the pooling endpoints. */
typedef struct tp_req_opts {
    const char *model;          /* NULL: not given */
    int has_truncate;           /* truncate_prompt_tokens given */
    int truncate_prompt_tokens; /* -1: the model's max length; k > 0: k tokens */
    int truncation_side;        /* -1: default; 0 right; 1 left (tp_trunc_dir) */
    int add_special_tokens;     /* default 1 */
    int normalize;              /* -1: model default */
    int use_activation;         /* -1: model default */
    int dimensions;             /* 0: full */
    int base64;                 /* encoding_format == "base64" */
    const char *task;           /* /pooling "task", NULL: default */
    const char *prompt_name;    /* sentence-transformers prompt name, NULL: none */
} tp_req_opts;

/* Reads the optional fields above from a request object (any endpoint). */
tp_status tp_req_opts_parse(const json_t *root, tp_req_opts *o, const char **param, tp_error *err);

/* A list of strings given as str | [str] (score/rerank). `docs_objects` also accepts objects
 * with a "text" field in the list (Jina/Cohere documents). */
typedef struct tp_strs {
    size_t n;
    const char **s;
    size_t *len;
} tp_strs;

tp_status tp_strs_parse(const json_t *v, const char *field, int allow_single, int docs_objects,
                        size_t max_items, tp_strs *out, tp_error *err);
void tp_strs_free(tp_strs *s);

/* Score request: (text_1, text_2) | (queries, documents) | (data_1, data_2). Lengths must be
 * 1:N (broadcast) or N:N. */
typedef struct tp_score_req {
    tp_strs a, b;
} tp_score_req;

tp_status tp_score_req_parse(const json_t *root, size_t max_items, tp_score_req *out,
                             const char **param, tp_error *err);
void tp_score_req_free(tp_score_req *r);

/* Rerank request: query, documents, top_n (0: all), return_documents (default 1). */
typedef struct tp_rerank_req {
    const char *query;
    size_t query_len;
    tp_strs docs;
    int top_n;
    int return_documents;
} tp_rerank_req;

tp_status tp_rerank_req_parse(const json_t *root, size_t max_items, tp_rerank_req *out,
                              const char **param, tp_error *err);
void tp_rerank_req_free(tp_rerank_req *r);

#endif
