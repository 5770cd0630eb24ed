#include "server/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Routes with their own label; anything else counts as "other". */
static const char *const endpoints[] = {
    "/v1/embeddings", "/pooling",   "/classify", "/score",      "/v1/score",  "/rerank",
    "/v1/rerank",     "/v2/rerank", "/tokenize", "/detokenize", "/v1/models", "/health",
    "/ping",          "/version",   "/metrics",  "other",
};
#define N_ENDPOINTS (sizeof endpoints / sizeof endpoints[0])
static const int statuses[] = {200, 400, 401, 404, 405, 413, 429, 499, 500, 503};
#define N_STATUSES (sizeof statuses / sizeof statuses[0])

#define MAX_BUCKETS 16
typedef struct hist {
    const char *name, *help;
    int n;
    double le[MAX_BUCKETS];
    uint64_t count[MAX_BUCKETS + 1]; /* last: +Inf */
    double sum;
    uint64_t total;
} hist;

struct tp_metrics {
    pthread_mutex_t mu;
    uint64_t requests[N_ENDPOINTS][N_STATUSES + 1]; /* last column: any other status */
    uint64_t prompt_tokens;
    hist h[TP_H_COUNT];
};

static void hist_init(hist *h, const char *name, const char *help, const double *le, int n) {
    h->name = name;
    h->help = help;
    h->n = n;
    memcpy(h->le, le, (size_t)n * sizeof *le);
}

tp_metrics *tp_metrics_create(void) {
    tp_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->mu, NULL);
    static const double secs[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    static const double seqs[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    static const double toks[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
    int ns = (int)(sizeof secs / sizeof secs[0]);
    hist_init(&m->h[TP_H_QUEUE], "tidepool_queue_seconds",
              "Time from submission to the first batch that ran the request", secs, ns);
    hist_init(&m->h[TP_H_TOKENIZE], "tidepool_tokenize_seconds", "Time spent tokenizing a request",
              secs, ns);
    hist_init(&m->h[TP_H_INFERENCE], "tidepool_inference_seconds",
              "Time from the first batch to the last sequence of a request", secs, ns);
    hist_init(&m->h[TP_H_REQUEST], "tidepool_request_seconds",
              "Time to answer a request, body received to reply built", secs, ns);
    hist_init(&m->h[TP_H_BATCH_SEQS], "tidepool_batch_size", "Sequences per forward pass", seqs,
              (int)(sizeof seqs / sizeof seqs[0]));
    hist_init(&m->h[TP_H_BATCH_TOKENS], "tidepool_batch_tokens", "Tokens per forward pass", toks,
              (int)(sizeof toks / sizeof toks[0]));
    return m;
}

void tp_metrics_free(tp_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void tp_metrics_request(tp_metrics *m, const char *endpoint, int status, size_t prompt_tokens) {
    size_t e = N_ENDPOINTS - 1;
    for (size_t i = 0; endpoint && i < N_ENDPOINTS - 1; i++)
        if (!strcmp(endpoint, endpoints[i])) e = i;
    size_t s = N_STATUSES;
    for (size_t i = 0; i < N_STATUSES; i++)
        if (statuses[i] == status) s = i;
    pthread_mutex_lock(&m->mu);
    m->requests[e][s]++;
    m->prompt_tokens += prompt_tokens;
    pthread_mutex_unlock(&m->mu);
}

void tp_metrics_observe(tp_metrics *m, tp_hist_id id, double v) {
    hist *h = &m->h[id];
    pthread_mutex_lock(&m->mu);
    int b = 0;
    while (b < h->n && v > h->le[b])
        b++;
    h->count[b]++;
    h->sum += v;
    h->total++;
    pthread_mutex_unlock(&m->mu);
}

int tp_metrics_render(tp_metrics *m, const tp_metrics_gauges *g, tp_sbuf *o) {
    pthread_mutex_lock(&m->mu);
    tp_sbuf_puts(o, "# HELP tidepool_requests_total HTTP requests answered, by endpoint and "
                    "status.\n# TYPE tidepool_requests_total counter\n");
    for (size_t e = 0; e < N_ENDPOINTS; e++)
        for (size_t s = 0; s <= N_STATUSES; s++) {
            if (!m->requests[e][s]) continue;
            if (s < N_STATUSES)
                tp_sbuf_printf(o, "tidepool_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
                               endpoints[e], statuses[s], (unsigned long long)m->requests[e][s]);
            else
                tp_sbuf_printf(o,
                               "tidepool_requests_total{endpoint=\"%s\",status=\"other\"} %llu\n",
                               endpoints[e], (unsigned long long)m->requests[e][s]);
        }
    tp_sbuf_printf(o,
                   "# HELP tidepool_prompt_tokens_total Tokens run through the model.\n"
                   "# TYPE tidepool_prompt_tokens_total counter\n"
                   "tidepool_prompt_tokens_total %llu\n",
                   (unsigned long long)m->prompt_tokens);
    tp_sbuf_printf(o,
                   "# HELP tidepool_queue_depth Sequences waiting for a batch.\n"
                   "# TYPE tidepool_queue_depth gauge\ntidepool_queue_depth %zu\n"
                   "# HELP tidepool_queue_requests Requests with sequences waiting for a batch.\n"
                   "# TYPE tidepool_queue_requests gauge\ntidepool_queue_requests %zu\n"
                   "# HELP tidepool_queue_tokens Tokens waiting for a batch.\n"
                   "# TYPE tidepool_queue_tokens gauge\ntidepool_queue_tokens %zu\n"
                   "# HELP tidepool_requests_in_flight Requests being processed.\n"
                   "# TYPE tidepool_requests_in_flight gauge\ntidepool_requests_in_flight %zu\n"
                   "# HELP tidepool_batches_total Forward passes run.\n"
                   "# TYPE tidepool_batches_total counter\ntidepool_batches_total %llu\n",
                   g->queued_seqs, g->queued_requests, g->queued_tokens, g->in_flight,
                   (unsigned long long)g->batches);
    for (int i = 0; i < TP_H_COUNT; i++) {
        const hist *h = &m->h[i];
        tp_sbuf_printf(o, "# HELP %s %s.\n# TYPE %s histogram\n", h->name, h->help, h->name);
        uint64_t cum = 0;
        for (int b = 0; b < h->n; b++) {
            cum += h->count[b];
            tp_sbuf_printf(o, "%s_bucket{le=\"%g\"} %llu\n", h->name, h->le[b],
                           (unsigned long long)cum);
        }
        cum += h->count[h->n];
        tp_sbuf_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", h->name,
                       (unsigned long long)cum, h->name, h->sum, h->name,
                       (unsigned long long)h->total);
    }
    pthread_mutex_unlock(&m->mu);
    return !o->oom;
}
