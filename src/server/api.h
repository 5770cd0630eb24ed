/* The HTTP API, independent of the HTTP library: one call turns a request (method, path, body,
 * Authorization header) into a response (status, JSON body). server.c adapts it to
 * libmicrohttpd; tests can call it directly.
 *
 * Thread-safety: tp_app_handle runs on many threads at once (one per connection). Everything
 * that reaches the engine's forward pass goes through the scheduler. */
#ifndef TP_SERVER_API_H
#define TP_SERVER_API_H

#include <stddef.h>

#include "sched/sched.h"
#include "server/metrics.h"
#include "tidepool.h"

typedef struct tp_app tp_app;

typedef struct tp_app_opts {
    const char *model_name; /* served model name (the "model" field) */
    const char *model_dir;  /* reported as the model's root */
    const char *api_key;    /* NULL: no authentication */
    int auto_truncate;      /* cut over-long inputs instead of answering 400 */
    int max_concurrent;     /* requests processed at once before 429; <= 0: 512 */
    size_t max_inputs;      /* items per request (inputs, documents); 0: 100000 */
} tp_app_opts;

/* The app borrows engine, sched and metrics; they must outlive it. */
tp_status tp_app_create(tp_engine *engine, tp_sched *sched, tp_metrics *metrics,
                        const tp_app_opts *opts, tp_app **out, tp_error *err);
void tp_app_free(tp_app *a);

/* After this, new requests are answered 503 (with Connection: close); in-flight ones finish. */
void tp_app_set_draining(tp_app *a);
size_t tp_app_in_flight(tp_app *a);

typedef struct tp_http_req {
    const char *method;
    const char *path; /* without the query string */
    const char *body; /* may be NULL when body_len == 0 */
    size_t body_len;
    int body_too_large;        /* the body exceeded the limit and was dropped */
    size_t body_limit;         /* for the 413 message */
    const char *authorization; /* the Authorization header or NULL */
    /* Returns 1 once the client has gone away; polled while the request waits in the queue. */
    int (*gone)(void *ctx);
    void *gone_ctx;
} tp_http_req;

typedef struct tp_http_resp {
    int status;
    char *body; /* malloc'd (the caller frees), never NULL after tp_app_handle */
    size_t len;
    const char *content_type;
    const char *allow;                   /* for 405: the Allow header */
    int close;                           /* ask the client to close the connection */
    double queue_s, tokenize_s, infer_s; /* timing, for x-*-time headers; < 0: not measured */
} tp_http_resp;

void tp_app_handle(tp_app *a, const tp_http_req *rq, tp_http_resp *rs);

#endif
