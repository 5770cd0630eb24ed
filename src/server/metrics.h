/* Server metrics, rendered in the Prometheus text exposition format (version 0.0.4).
 * Every update takes one mutex: the counters are touched a few times per request, far below
 * the cost of the request itself. */
#ifndef TP_SERVER_METRICS_H
#define TP_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "server/sbuf.h"

typedef struct tp_metrics tp_metrics;

typedef enum tp_hist_id {
    TP_H_QUEUE = 0,    /* seconds from submit to the first sequence in a batch */
    TP_H_TOKENIZE,     /* seconds spent tokenizing one request */
    TP_H_INFERENCE,    /* seconds from first dispatch to the last sequence done */
    TP_H_REQUEST,      /* seconds for the whole request, parse to reply */
    TP_H_BATCH_SEQS,   /* sequences per forward */
    TP_H_BATCH_TOKENS, /* tokens per forward */
    TP_H_COUNT
} tp_hist_id;

tp_metrics *tp_metrics_create(void);
void tp_metrics_free(tp_metrics *m);

/* endpoint: a route path ("/v1/embeddings") or NULL for an unknown route. */
void tp_metrics_request(tp_metrics *m, const char *endpoint, int status, size_t prompt_tokens);
void tp_metrics_observe(tp_metrics *m, tp_hist_id h, double v);

typedef struct tp_metrics_gauges {
    size_t queued_requests;
    size_t queued_seqs;
    size_t queued_tokens;
    size_t in_flight;
    uint64_t batches;
} tp_metrics_gauges;

/* Appends the exposition text; returns 0 on out-of-memory. */
int tp_metrics_render(tp_metrics *m, const tp_metrics_gauges *g, tp_sbuf *out);

#endif
