/* The HTTP server: libmicrohttpd in thread-per-connection mode in front of tp_app (api.h), with
 * one scheduler (one batcher thread) per engine. See docs/server.md for the design. */
#ifndef TP_SERVER_H
#define TP_SERVER_H

#include <stddef.h>

#include "tidepool.h"

typedef struct tp_server tp_server;

typedef struct tp_server_opts {
    const char *host;       /* default "127.0.0.1" */
    int port;               /* 0: any free port (see tp_server_port) */
    const char *model_name; /* served model name; default: the folder's base name */
    const char *model_dir;
    const char *api_key;      /* NULL: no authentication */
    int max_batch_tokens;     /* token budget per forward; 0: 16384 */
    int max_concurrent;       /* requests in processing before 429; 0: 512 */
    size_t max_request_bytes; /* request body limit; 0: 16 MiB */
    int auto_truncate;        /* truncate over-long inputs instead of 400 */
    size_t max_inputs;        /* inputs per request; 0: 100000 */
    /* Log sink for startup and library errors; NULL: silent. */
    void (*log)(void *ctx, const char *msg);
    void *log_ctx;
} tp_server_opts;

void tp_server_opts_default(tp_server_opts *o);

/* Starts listening; the engine is borrowed and must outlive the server. */
tp_status tp_server_start(tp_engine *engine, const tp_server_opts *opts, tp_server **out,
                          tp_error *err);
int tp_server_port(const tp_server *s);
/* Graceful stop: stop accepting connections, answer new requests on open connections with 503,
 * wait up to grace_s seconds for in-flight requests, then close everything. Returns the number
 * of requests still in flight when the grace period ran out (0 normally). */
size_t tp_server_stop(tp_server *s, double grace_s);
void tp_server_free(tp_server *s); /* stops first if needed */

#endif
