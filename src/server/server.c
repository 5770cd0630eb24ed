#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "sched/sched.h"
#include "server/api.h"
#include "server/metrics.h"

/* Bodies larger than this are refused as soon as the headers arrive (the connection is closed);
 * smaller over-limit bodies are read and dropped so that the client sees the 413. */
#define HARD_BODY_LIMIT ((size_t)256 << 20)

struct tp_server {
    tp_server_opts o;
    char *model_name;
    tp_engine *engine;
    tp_sched *sched;
    tp_metrics *metrics;
    tp_app *app;
    struct MHD_Daemon *d;
    int port;
    int stopped;
    /* Requests from their first header callback to MHD's completion notice, i.e. until the
     * response has been written out; shutdown waits for this, not just for the handlers. */
    atomic_size_t active;
    pthread_mutex_t log_mu;
    char last_log[512];
    double last_log_t;
    unsigned long log_repeats;
};

/* Per-request state, from the first header callback to the completion notice. */
typedef struct conn_ctx {
    char *body;
    size_t len, cap;
    int too_large;
} conn_ctx;

static void logf_(tp_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(tp_server *s, const char *fmt, ...) {
    if (!s->o.log) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->o.log(s->o.log_ctx, msg);
}

/* libmicrohttpd's messages, with repeats folded: under overload the same line ("Server reached
 * connection limit") can come thousands of times a second. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    tp_server *s = cls;
    if (!s->o.log) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    pthread_mutex_lock(&s->log_mu);
    double now = tp_now();
    if (!strcmp(msg, s->last_log) && now - s->last_log_t < 10) {
        s->log_repeats++;
    } else {
        if (s->log_repeats) {
            char rep[600];
            snprintf(rep, sizeof rep, "%s (repeated %lu more times)", s->last_log, s->log_repeats);
            s->o.log(s->o.log_ctx, rep);
        }
        s->o.log(s->o.log_ctx, msg);
        snprintf(s->last_log, sizeof s->last_log, "%s", msg);
        s->last_log_t = now;
        s->log_repeats = 0;
    }
    pthread_mutex_unlock(&s->log_mu);
}

/* The client is gone when its socket reports EOF or an error. Pipelined bytes (a next request
 * on a keep-alive connection) mean it is still there. */
static int client_gone(void *p) {
    struct MHD_Connection *c = p;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    char b;
    ssize_t r = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0) return 1;
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return 1;
    return 0;
}

static enum MHD_Result send_response(struct MHD_Connection *c, tp_http_resp *rs) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(rs->len, rs->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(rs->body);
        return MHD_NO;
    }
    rs->body = NULL;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            rs->content_type ? rs->content_type : "application/json");
    if (rs->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rs->allow);
    if (rs->close) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    char v[32];
    if (rs->queue_s >= 0) {
        snprintf(v, sizeof v, "%.3f", rs->queue_s * 1e3);
        MHD_add_response_header(resp, "x-queue-time", v);
    }
    if (rs->tokenize_s >= 0) {
        snprintf(v, sizeof v, "%.3f", rs->tokenize_s * 1e3);
        MHD_add_response_header(resp, "x-tokenization-time", v);
    }
    if (rs->infer_s >= 0) {
        snprintf(v, sizeof v, "%.3f", rs->infer_s * 1e3);
        MHD_add_response_header(resp, "x-inference-time", v);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)rs->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    tp_server *s = cls;
    conn_ctx *cc = *con_cls;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc) return MHD_NO;
        *con_cls = cc;
        atomic_fetch_add(&s->active, 1);
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            unsigned long long n = strtoull(cl, NULL, 10);
            if (n > s->o.max_request_bytes) cc->too_large = 1;
            if (n > HARD_BODY_LIMIT) {
                /* Answer now; MHD closes the connection instead of reading the body. */
                tp_http_req rq = {0};
                rq.method = method;
                rq.path = url;
                rq.body_too_large = 1;
                rq.body_limit = s->o.max_request_bytes;
                rq.authorization =
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
                tp_http_resp rs;
                tp_app_handle(s->app, &rq, &rs);
                rs.close = 1;
                return send_response(c, &rs);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cc->too_large) return MHD_YES;
        if (n > s->o.max_request_bytes - cc->len) {
            cc->too_large = 1;
            free(cc->body);
            cc->body = NULL;
            cc->len = cc->cap = 0;
            return MHD_YES;
        }
        if (cc->len + n + 1 > cc->cap) {
            size_t cap = cc->cap ? cc->cap : 4096;
            while (cap < cc->len + n + 1)
                cap *= 2;
            char *b = realloc(cc->body, cap);
            if (!b) return MHD_NO;
            cc->body = b;
            cc->cap = cap;
        }
        memcpy(cc->body + cc->len, upload_data, n);
        cc->len += n;
        return MHD_YES;
    }
    tp_http_req rq = {0};
    rq.method = method;
    rq.path = url;
    rq.body = cc->body;
    rq.body_len = cc->len;
    rq.body_too_large = cc->too_large;
    rq.body_limit = s->o.max_request_bytes;
    rq.authorization =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    rq.gone = client_gone;
    rq.gone_ctx = c;
    tp_http_resp rs;
    tp_app_handle(s->app, &rq, &rs);
    free(cc->body);
    cc->body = NULL;
    cc->len = cc->cap = 0;
    return send_response(c, &rs);
}

/* MHD's request-completed notice: frees the per-request state. Work of a request whose client
 * disconnected is dropped earlier, by client_gone() while the request waits for its batch. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    tp_server *s = cls;
    (void)c;
    (void)toe;
    conn_ctx *cc = *con_cls;
    if (!cc) return;
    free(cc->body);
    free(cc);
    *con_cls = NULL;
    atomic_fetch_sub(&s->active, 1);
}

void tp_server_opts_default(tp_server_opts *o) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8000;
    o->max_batch_tokens = 16384;
    o->max_concurrent = 512;
    o->max_request_bytes = (size_t)16 << 20;
}

static const char *base_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t i = n;
    while (i > 0 && dir[i - 1] != '/')
        i--;
    static __thread char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)(n - i), dir + i);
    return buf;
}

static void on_batch(void *ctx, size_t n_seqs, size_t n_tokens, double seconds) {
    (void)seconds;
    tp_metrics *m = ctx;
    tp_metrics_observe(m, TP_H_BATCH_SEQS, (double)n_seqs);
    tp_metrics_observe(m, TP_H_BATCH_TOKENS, (double)n_tokens);
}

tp_status tp_server_start(tp_engine *engine, const tp_server_opts *opts, tp_server **out,
                          tp_error *err) {
    *out = NULL;
    tp_status st = TP_OK;
    tp_server *s = calloc(1, sizeof *s);
    if (!s) return tp_fail(err, TP_NOMEM, "out of memory");
    s->o = *opts;
    s->engine = engine;
    pthread_mutex_init(&s->log_mu, NULL);
    if (!s->o.host) s->o.host = "127.0.0.1";
    if (s->o.max_batch_tokens <= 0) s->o.max_batch_tokens = 16384;
    if (s->o.max_concurrent <= 0) s->o.max_concurrent = 512;
    if (s->o.max_request_bytes == 0) s->o.max_request_bytes = (size_t)16 << 20;
    const char *dir = s->o.model_dir ? s->o.model_dir : "";
    s->model_name =
        strdup(s->o.model_name && s->o.model_name[0] ? s->o.model_name : base_name(dir));
    s->metrics = tp_metrics_create();
    if (!s->model_name || !s->metrics) {
        st = tp_fail(err, TP_NOMEM, "out of memory");
        goto fail;
    }

    const tp_model_info *info = tp_engine_info(engine);
    tp_sched_opts so = {0};
    so.max_batch_tokens = s->o.max_batch_tokens;
    if (info && info->max_length > so.max_batch_tokens) so.max_batch_tokens = info->max_length;
    if ((st = tp_sched_create(engine, &so, &s->sched, err)) != TP_OK) goto fail;
    tp_sched_on_batch(s->sched, on_batch, s->metrics);

    tp_app_opts ao = {0};
    ao.model_name = s->model_name;
    ao.model_dir = dir;
    ao.api_key = s->o.api_key;
    ao.auto_truncate = s->o.auto_truncate;
    ao.max_concurrent = s->o.max_concurrent;
    ao.max_inputs = s->o.max_inputs;
    if ((st = tp_app_create(engine, s->sched, s->metrics, &ao, &s->app, err)) != TP_OK) goto fail;

    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", s->o.port);
    int gai = getaddrinfo(s->o.host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        st = tp_fail(err, TP_INVALID, "cannot resolve host '%s': %s", s->o.host, gai_strerror(gai));
        goto fail;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* Connections beyond the concurrency limit are still accepted so that they get a 429
     * instead of a refused connection. */
    unsigned conn_limit = (unsigned)s->o.max_concurrent + 1024;
    s->d = MHD_start_daemon(
        flags, (uint16_t)s->o.port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        s, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_LIMIT, conn_limit, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        st = tp_fail(err, TP_IO, "cannot listen on %s:%d (address in use or not permitted?)",
                     s->o.host, s->o.port);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->o.port;
    logf_(s, "serving %s on http://%s:%d", s->model_name, s->o.host, s->port);
    *out = s;
    return TP_OK;
fail:
    tp_server_free(s);
    return st;
}

int tp_server_port(const tp_server *s) {
    return s->port;
}

size_t tp_server_stop(tp_server *s, double grace_s) {
    if (s->stopped) return 0;
    s->stopped = 1;
    size_t left = 0;
    if (s->d) {
        MHD_socket fd = MHD_quiesce_daemon(s->d);
        if (fd != MHD_INVALID_SOCKET) close(fd);
        tp_app_set_draining(s->app);
        double t0 = tp_now();
        /* A request is done when its response has been sent (on_completed), which comes after
         * the handler returns: stopping the daemon between the two would drop the response.
         * `active` spans every request whose handler is running, so it is all there is to wait
         * for. */
        while ((left = atomic_load(&s->active)) > 0 && tp_now() - t0 < grace_s) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (left) logf_(s, "%zu requests still in flight after %.0f s; closing", left, grace_s);
    }
    /* Stopping the batcher first fails whatever is still queued, so no handler thread stays
     * blocked when MHD joins the connection threads; the scheduler itself is freed later. */
    if (s->sched) tp_sched_stop(s->sched);
    if (s->d) MHD_stop_daemon(s->d);
    s->d = NULL;
    return left;
}

void tp_server_free(tp_server *s) {
    if (!s) return;
    if (s->d) tp_server_stop(s, 0);
    tp_sched_free(s->sched);
    tp_app_free(s->app);
    tp_metrics_free(s->metrics);
    free(s->model_name);
    pthread_mutex_destroy(&s->log_mu);
    free(s);
}
