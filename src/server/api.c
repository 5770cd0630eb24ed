#include "server/api.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "server/request.h"
#include "server/sbuf.h"

struct tp_app {
    tp_engine *engine;
    const tp_model_info *info;
    const tp_tokenizer *tok;
    tp_sched *sched;
    tp_metrics *metrics;
    tp_app_opts o;
    char *model_name, *model_dir, *api_key;
    long created;
    atomic_size_t in_flight;
    atomic_int draining;
    atomic_uint_fast64_t id_counter;
    uint64_t id_seed;
};

/* ---------------------------------------------------------------------------------------- */
/* Responses                                                                                */
/* ---------------------------------------------------------------------------------------- */

static const char *error_type(int status) {
    switch (status) {
    case 400:
        return "BadRequestError";
    case 401:
        return "AuthenticationError";
    case 404:
        return "NotFoundError";
    case 405:
        return "MethodNotAllowedError";
    case 413:
        return "RequestTooLargeError";
    case 429:
        return "RateLimitError";
    case 499:
        return "ClientClosedRequest";
    case 503:
        return "ServiceUnavailableError";
    default:
        return "InternalServerError";
    }
}

static void set_body(tp_http_resp *rs, tp_sbuf *b, const char *content_type) {
    size_t len = 0;
    char *d = tp_sbuf_take(b, &len);
    if (!d) {
        /* Out of memory building the body: a static-sized error instead. */
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":"
                                  "\"InternalServerError\",\"param\":null,\"code\":500}}";
        rs->status = 500;
        d = strdup(oom);
        len = d ? sizeof oom - 1 : 0;
        content_type = "application/json";
    }
    free(rs->body);
    rs->body = d;
    rs->len = len;
    rs->content_type = content_type;
}

static void reply_error(tp_http_resp *rs, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void reply_error(tp_http_resp *rs, int status, const char *param, const char *fmt, ...) {
    char msg[1536]; /* room for an engine message (tp_error.msg) and our context */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tp_sbuf b;
    tp_sbuf_init(&b);
    tp_sbuf_puts(&b, "{\"error\":{\"message\":");
    tp_sbuf_json_str(&b, msg, strlen(msg));
    tp_sbuf_printf(&b, ",\"type\":\"%s\",\"param\":", error_type(status));
    if (param)
        tp_sbuf_json_str(&b, param, strlen(param));
    else
        tp_sbuf_puts(&b, "null");
    tp_sbuf_printf(&b, ",\"code\":%d}}", status);
    rs->status = status;
    set_body(rs, &b, "application/json");
}

static int status_http(tp_status st) {
    switch (st) {
    case TP_OK:
        return 200;
    case TP_INVALID:
    case TP_TOO_LONG:
    case TP_UNSUPPORTED:
        return 400;
    case TP_OVERLOADED:
        return 429;
    case TP_CANCELLED:
        return 503;
    default:
        return 500;
    }
}

static void reply_status(tp_http_resp *rs, tp_status st, const char *param, const tp_error *e) {
    reply_error(rs, status_http(st), param, "%s", e && e->msg[0] ? e->msg : tp_status_str(st));
}

static void new_id(tp_app *a, const char *prefix, char *buf, size_t cap) {
    uint64_t x = a->id_seed + atomic_fetch_add(&a->id_counter, 1) * 0x9E3779B97F4A7C15ull;
    /* splitmix64: ids look random but never repeat within a process */
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    uint64_t z2 = (z ^ x) * 0xD6E8FEB86659FD93ull;
    z2 ^= z2 >> 32;
    snprintf(buf, cap, "%s-%016llx%016llx", prefix, (unsigned long long)z, (unsigned long long)z2);
}

/* {"id":"<prefix>-...","object":"list","created":T,"model":"..." */
static void head(tp_app *a, tp_sbuf *b, const char *prefix, int with_object) {
    char id[64];
    new_id(a, prefix, id, sizeof id);
    tp_sbuf_printf(b, "{\"id\":\"%s\",", id);
    if (with_object) tp_sbuf_printf(b, "\"object\":\"list\",\"created\":%ld,", (long)time(NULL));
    tp_sbuf_puts(b, "\"model\":");
    tp_sbuf_json_str(b, a->model_name, strlen(a->model_name));
}

static void usage(tp_sbuf *b, size_t tokens) {
    tp_sbuf_printf(b, "\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}", tokens, tokens);
}

/* ---------------------------------------------------------------------------------------- */
/* Tasks                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static const struct {
    tp_task task;
    const char *name;
} task_names[] = {
    {TP_TASK_EMBED, "embed"},
    {TP_TASK_CLASSIFY, "classify"},
    {TP_TASK_SCORE, "score"},
    {TP_TASK_TOKEN_EMBED, "token_embed"},
    {TP_TASK_TOKEN_CLASSIFY, "token_classify"},
};

static const char *task_name(tp_task t) {
    for (size_t i = 0; i < sizeof task_names / sizeof task_names[0]; i++)
        if (task_names[i].task == t) return task_names[i].name;
    return "?";
}

static void tasks_list(unsigned tasks, char *buf, size_t cap) {
    buf[0] = 0;
    size_t used = 0;
    for (size_t i = 0; i < sizeof task_names / sizeof task_names[0]; i++) {
        if (!(tasks & task_names[i].task)) continue;
        int n = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", task_names[i].name);
        if (n < 0 || (size_t)n >= cap - used) break;
        used += (size_t)n;
    }
    if (!used) snprintf(buf, cap, "none");
}

static int need_task(tp_app *a, tp_task t, const char *endpoint, tp_http_resp *rs) {
    if (a->info->tasks & (unsigned)t) return 1;
    char list[128];
    tasks_list(a->info->tasks, list, sizeof list);
    reply_error(rs, 400, NULL,
                "The model \"%s\" does not support the task \"%s\" needed by %s; it supports: %s",
                a->model_name, task_name(t), endpoint, list);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Tokenization and running                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* Reward models (ALL pooling) and process-reward models (STEP) output per token. */
static int token_level_pooling(const tp_app *a) {
    const char *p = a->info->pooling ? a->info->pooling : "";
    return !strcmp(p, "ALL") || !strcmp(p, "STEP");
}

/* The sequences of one request. */
typedef struct work {
    size_t n;
    tp_encoding *enc; /* n, for text inputs (owned arrays) */
    tp_seq *seqs;     /* n */
    tp_result *res;   /* n */
    size_t tokens;
} work;

static int work_init(work *w, size_t n) {
    memset(w, 0, sizeof *w);
    w->n = n;
    w->enc = calloc(n ? n : 1, sizeof *w->enc);
    w->seqs = calloc(n ? n : 1, sizeof *w->seqs);
    w->res = calloc(n ? n : 1, sizeof *w->res);
    return w->enc && w->seqs && w->res;
}

static void work_free(work *w) {
    if (w->enc)
        for (size_t i = 0; i < w->n; i++)
            tp_encoding_free(&w->enc[i]);
    if (w->res)
        for (size_t i = 0; i < w->n; i++)
            if (w->res[i].data) tp_result_free(&w->res[i]);
    free(w->enc);
    free(w->seqs);
    free(w->res);
    memset(w, 0, sizeof *w);
}

/* Resolves truncation options; 0 and a 400 reply on bad values. */
static int trunc_opts(tp_app *a, const tp_req_opts *o, int *truncate, int *max_len,
                      tp_http_resp *rs) {
    int model_max = a->info->max_length;
    *truncate = 0;
    *max_len = model_max;
    if (o->has_truncate) {
        if (o->truncate_prompt_tokens > model_max) {
            reply_error(rs, 400, "truncate_prompt_tokens",
                        "truncate_prompt_tokens value (%d) is greater than max_model_len (%d). "
                        "Please request a smaller truncation size.",
                        o->truncate_prompt_tokens, model_max);
            return 0;
        }
        *truncate = 1;
        if (o->truncate_prompt_tokens > 0) *max_len = o->truncate_prompt_tokens;
    } else if (a->o.auto_truncate) {
        *truncate = 1;
    }
    return 1;
}

static void too_long(tp_app *a, tp_http_resp *rs, size_t item, size_t len, const char *what) {
    reply_error(rs, 400, "input",
                "This model's maximum context length is %d tokens. However, input %zu has %zu "
                "tokens (%s). Please reduce the length of the input, or set "
                "truncate_prompt_tokens to truncate it.",
                a->info->max_length, item, len, what);
}

/* Tokenizes text[i] (with pair[i] when pair != NULL) into w->seqs[i]. */
static int tokenize_texts(tp_app *a, const tp_http_req *rq, const tp_req_opts *o,
                          const char *const *text, const size_t *text_len, const char *const *pair,
                          const size_t *pair_len, size_t n, work *w, tp_http_resp *rs) {
    int truncate, max_len;
    if (!trunc_opts(a, o, &truncate, &max_len, rs)) return 0;
    tp_tokenize_opts to;
    tp_tokenize_opts_default(&to);
    to.add_special = o->add_special_tokens;
    to.truncate = truncate;
    to.max_length = max_len;
    to.direction = o->truncation_side >= 0 ? (tp_trunc_dir)o->truncation_side : TP_TRUNC_RIGHT;
    if (o->prompt_name) {
        to.prompt = tp_engine_prompt(a->engine, o->prompt_name);
        if (!to.prompt) {
            reply_error(rs, 400, "prompt_name", "Unknown prompt_name \"%s\" for this model",
                        o->prompt_name);
            return 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if ((i & 1023) == 1023 && rq->gone && rq->gone(rq->gone_ctx)) {
            reply_error(rs, 499, NULL, "client closed the connection; work dropped");
            return 0;
        }
        tp_error err;
        tp_error_clear(&err);
        int32_t plen = 0;
        tp_status st = tp_engine_tokenize(a->engine, text[i], text_len[i], pair ? pair[i] : NULL,
                                          pair ? pair_len[i] : 0, &to, &w->enc[i], &plen, &err);
        if (st == TP_TOO_LONG) {
            reply_error(rs, 400, "input",
                        "Input %zu is longer than this model's maximum context length (%d "
                        "tokens): %s. Please reduce the length of the input, or set "
                        "truncate_prompt_tokens to truncate it.",
                        i, a->info->max_length, err.msg);
            return 0;
        }
        if (st != TP_OK) {
            reply_error(rs, status_http(st), "input", "input %zu: %s", i,
                        err.msg[0] ? err.msg : tp_status_str(st));
            return 0;
        }
        if (w->enc[i].len == 0) {
            reply_error(rs, 400, "input", "input %zu has no tokens", i);
            return 0;
        }
        w->seqs[i].ids = w->enc[i].ids;
        w->seqs[i].type_ids = w->enc[i].type_ids;
        w->seqs[i].len = (int32_t)w->enc[i].len;
        w->seqs[i].prompt_len = plen;
        w->tokens += w->enc[i].len;
    }
    return 1;
}

/* Token-id inputs run as given (no special tokens added, as vLLM does). */
static int token_inputs(tp_app *a, const tp_req_opts *o, const tp_inputs *in, work *w,
                        tp_http_resp *rs) {
    int truncate, max_len;
    if (!trunc_opts(a, o, &truncate, &max_len, rs)) return 0;
    /* truncate_prompt_tokens keeps the last k tokens (vLLM); --auto-truncate keeps the first. */
    int left = o->truncation_side >= 0 ? o->truncation_side == TP_TRUNC_LEFT : o->has_truncate;
    for (size_t i = 0; i < in->n; i++) {
        const int32_t *ids = in->ids[i];
        size_t len = in->ids_len[i];
        if (len > (size_t)max_len) {
            if (!truncate) {
                too_long(a, rs, i, len, "token ids");
                return 0;
            }
            if (left) ids += len - (size_t)max_len;
            len = (size_t)max_len;
        }
        w->seqs[i].ids = ids;
        w->seqs[i].type_ids = NULL;
        w->seqs[i].len = (int32_t)len;
        w->seqs[i].prompt_len = 0;
        w->tokens += len;
    }
    return 1;
}

static int prepare_inputs(tp_app *a, const tp_http_req *rq, const tp_req_opts *o,
                          const tp_inputs *in, work *w, tp_http_resp *rs) {
    if (!work_init(w, in->n)) {
        reply_error(rs, 500, NULL, "out of memory");
        return 0;
    }
    if (in->is_tokens) return token_inputs(a, o, in, w, rs);
    return tokenize_texts(a, rq, o, in->text, in->text_len, NULL, NULL, in->n, w, rs);
}

/* Runs every sequence of w through the scheduler and waits; 0 and an error reply on failure. */
static int run_work(tp_app *a, const tp_http_req *rq, tp_task task, const tp_run_opts *ro, work *w,
                    tp_http_resp *rs) {
    tp_job job;
    tp_job_init(&job, task, ro, w->seqs, w->n, w->res);
    tp_error err;
    tp_error_clear(&err);
    tp_status st = tp_sched_submit(a->sched, &job, &err);
    if (st != TP_OK) {
        tp_job_destroy(&job);
        reply_status(rs, st, NULL, &err);
        return 0;
    }
    int gone = 0;
    while (!tp_sched_wait(a->sched, &job, 50)) {
        if (rq->gone && rq->gone(rq->gone_ctx)) {
            tp_sched_cancel(a->sched, &job);
            gone = 1;
            break;
        }
    }
    rs->queue_s = job.queue_s;
    rs->infer_s = job.infer_s;
    tp_metrics_observe(a->metrics, TP_H_QUEUE, job.queue_s);
    tp_metrics_observe(a->metrics, TP_H_INFERENCE, job.infer_s);
    st = job.status;
    err = job.err;
    tp_job_destroy(&job);
    if (gone) {
        /* Nobody reads this; 499 (nginx's "client closed request") marks it in the metrics. */
        reply_error(rs, 499, NULL, "client closed the connection; work dropped");
        return 0;
    }
    if (st != TP_OK) {
        reply_status(rs, st, NULL, &err);
        return 0;
    }
    for (size_t i = 0; i < w->n; i++)
        if (!w->res[i].data || w->res[i].rows <= 0 || w->res[i].cols <= 0) {
            reply_error(rs, 500, NULL, "the engine returned no result for sequence %zu", i);
            return 0;
        }
    return 1;
}

static void run_opts_from(const tp_req_opts *o, tp_run_opts *ro) {
    tp_run_opts_default(ro);
    /* Newer vLLM spells an embedding's normalization use_activation; normalize wins. */
    ro->normalize = o->normalize >= 0 ? o->normalize : o->use_activation;
    ro->use_activation = o->use_activation;
    ro->dimensions = o->dimensions;
}

static int check_dimensions(tp_app *a, const tp_req_opts *o, tp_http_resp *rs) {
    if (!o->dimensions) return 1;
    if (!a->info->is_matryoshka) {
        reply_error(rs, 400, "dimensions",
                    "Model \"%s\" does not support matryoshka representation, changing output "
                    "dimensions will lead to poor results.",
                    a->model_name);
        return 0;
    }
    if (o->dimensions > a->info->out_dim) {
        reply_error(rs, 400, "dimensions", "dimensions must be between 1 and %d", a->info->out_dim);
        return 0;
    }
    return 1;
}

static int check_model(tp_app *a, const tp_req_opts *o, tp_http_resp *rs) {
    if (o->model && strcmp(o->model, a->model_name) != 0) {
        reply_error(rs, 404, "model", "The model `%s` does not exist.", o->model);
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Endpoints                                                                                */
/* ---------------------------------------------------------------------------------------- */

typedef struct ctx {
    tp_app *a;
    const tp_http_req *rq;
    tp_http_resp *rs;
    json_t *root;
    size_t tokens; /* prompt tokens, for metrics */
} ctx;

static int common_opts(ctx *c, tp_req_opts *o) {
    const char *param = NULL;
    tp_error err;
    tp_error_clear(&err);
    tp_status st = tp_req_opts_parse(c->root, o, &param, &err);
    if (st != TP_OK) {
        reply_status(c->rs, st, param, &err);
        return 0;
    }
    return check_model(c->a, o, c->rs);
}

static int parse_inputs(ctx *c, const char *name, tp_inputs *in) {
    tp_error err;
    tp_error_clear(&err);
    json_t *v = json_object_get(c->root, name);
    if (v && json_is_null(v)) v = NULL;
    tp_status st = tp_inputs_parse(v, name, c->a->o.max_inputs, c->a->info->vocab_size, in, &err);
    if (st != TP_OK) {
        reply_status(c->rs, st, name, &err);
        return 0;
    }
    return 1;
}

static void write_vector(tp_sbuf *b, const tp_result *r, int base64, int token_level) {
    size_t n = (size_t)r->rows * (size_t)r->cols;
    if (base64) {
        tp_sbuf_floats_base64(b, r->data, n);
        return;
    }
    if (!token_level) {
        tp_sbuf_floats(b, r->data, n);
        return;
    }
    tp_sbuf_put(b, "[", 1);
    for (int32_t i = 0; i < r->rows; i++) {
        if (i) tp_sbuf_put(b, ",", 1);
        tp_sbuf_floats(b, r->data + (size_t)i * (size_t)r->cols, (size_t)r->cols);
    }
    tp_sbuf_put(b, "]", 1);
}

static void do_embeddings(ctx *c) {
    tp_app *a = c->a;
    tp_req_opts o;
    if (!common_opts(c, &o)) return;
    if (!need_task(a, TP_TASK_EMBED, "/v1/embeddings", c->rs)) return;
    if (!check_dimensions(a, &o, c->rs)) return;
    tp_inputs in;
    if (!parse_inputs(c, "input", &in)) return;
    work w;
    double t0 = tp_now();
    int ok = prepare_inputs(a, c->rq, &o, &in, &w, c->rs);
    c->rs->tokenize_s = tp_now() - t0;
    tp_metrics_observe(a->metrics, TP_H_TOKENIZE, c->rs->tokenize_s);
    tp_run_opts ro;
    run_opts_from(&o, &ro);
    if (ok && run_work(a, c->rq, TP_TASK_EMBED, &ro, &w, c->rs)) {
        tp_sbuf b;
        tp_sbuf_init(&b);
        head(a, &b, "embd", 1);
        tp_sbuf_puts(&b, ",\"data\":[");
        for (size_t i = 0; i < w.n; i++) {
            tp_sbuf_printf(
                &b, "%s{\"index\":%zu,\"object\":\"embedding\",\"embedding\":", i ? "," : "", i);
            write_vector(&b, &w.res[i], o.base64, 0);
            tp_sbuf_put(&b, "}", 1);
        }
        tp_sbuf_puts(&b, "],");
        usage(&b, w.tokens);
        tp_sbuf_put(&b, "}", 1);
        c->rs->status = 200;
        set_body(c->rs, &b, "application/json");
        c->tokens = w.tokens;
    }
    work_free(&w);
    tp_inputs_free(&in);
}

static int pooling_task(tp_app *a, const char *name, tp_task *t, tp_http_resp *rs) {
    unsigned m = a->info->tasks;
    if (!name || !strcmp(name, "encode")) {
        /* Token-level poolers (reward models: ALL, process reward: STEP) default to their
         * per-token output; everything else to its sequence-level output. */
        if (token_level_pooling(a) && (m & TP_TASK_TOKEN_CLASSIFY))
            *t = TP_TASK_TOKEN_CLASSIFY;
        else if (m & TP_TASK_EMBED)
            *t = TP_TASK_EMBED;
        else if (m & TP_TASK_CLASSIFY)
            *t = TP_TASK_CLASSIFY;
        else if (m & TP_TASK_TOKEN_EMBED)
            *t = TP_TASK_TOKEN_EMBED;
        else
            *t = TP_TASK_TOKEN_CLASSIFY;
        return 1;
    }
    static const struct {
        const char *name;
        tp_task t;
    } map[] = {
        {"embed", TP_TASK_EMBED},
        {"embedding", TP_TASK_EMBED},
        {"classify", TP_TASK_CLASSIFY},
        {"token_embed", TP_TASK_TOKEN_EMBED},
        {"token_classify", TP_TASK_TOKEN_CLASSIFY},
        {"reward", TP_TASK_TOKEN_CLASSIFY},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(name, map[i].name)) {
            *t = map[i].t;
            return 1;
        }
    char list[128];
    tasks_list(m & ~(unsigned)TP_TASK_SCORE, list, sizeof list);
    reply_error(rs, 400, "task",
                "Unknown pooling task \"%s\"; this model supports: %s (use /score for scores)",
                name, list);
    return 0;
}

static void do_pooling(ctx *c) {
    tp_app *a = c->a;
    tp_req_opts o;
    if (!common_opts(c, &o)) return;
    tp_task task;
    if (!pooling_task(a, o.task, &task, c->rs)) return;
    if (!need_task(a, task, "/pooling", c->rs)) return;
    if (task == TP_TASK_EMBED && !check_dimensions(a, &o, c->rs)) return;
    tp_inputs in;
    if (!parse_inputs(c, "input", &in)) return;
    work w;
    double t0 = tp_now();
    int ok = prepare_inputs(a, c->rq, &o, &in, &w, c->rs);
    c->rs->tokenize_s = tp_now() - t0;
    tp_metrics_observe(a->metrics, TP_H_TOKENIZE, c->rs->tokenize_s);
    tp_run_opts ro;
    run_opts_from(&o, &ro);
    if (task != TP_TASK_EMBED) ro.dimensions = 0;
    int token_level = task == TP_TASK_TOKEN_EMBED || task == TP_TASK_TOKEN_CLASSIFY;
    if (ok && run_work(a, c->rq, task, &ro, &w, c->rs)) {
        tp_sbuf b;
        tp_sbuf_init(&b);
        head(a, &b, "pool", 1);
        tp_sbuf_puts(&b, ",\"data\":[");
        for (size_t i = 0; i < w.n; i++) {
            tp_sbuf_printf(&b, "%s{\"index\":%zu,\"object\":\"pooling\",\"data\":", i ? "," : "",
                           i);
            write_vector(&b, &w.res[i], o.base64, token_level);
            tp_sbuf_put(&b, "}", 1);
        }
        tp_sbuf_puts(&b, "],");
        usage(&b, w.tokens);
        tp_sbuf_put(&b, "}", 1);
        c->rs->status = 200;
        set_body(c->rs, &b, "application/json");
        c->tokens = w.tokens;
    }
    work_free(&w);
    tp_inputs_free(&in);
}

static void do_classify(ctx *c) {
    tp_app *a = c->a;
    tp_req_opts o;
    if (!common_opts(c, &o)) return;
    if (!need_task(a, TP_TASK_CLASSIFY, "/classify", c->rs)) return;
    tp_inputs in;
    if (!parse_inputs(c, "input", &in)) return;
    work w;
    double t0 = tp_now();
    int ok = prepare_inputs(a, c->rq, &o, &in, &w, c->rs);
    c->rs->tokenize_s = tp_now() - t0;
    tp_metrics_observe(a->metrics, TP_H_TOKENIZE, c->rs->tokenize_s);
    tp_run_opts ro;
    run_opts_from(&o, &ro);
    ro.dimensions = 0;
    ro.normalize = -1;
    if (ok && run_work(a, c->rq, TP_TASK_CLASSIFY, &ro, &w, c->rs)) {
        tp_sbuf b;
        tp_sbuf_init(&b);
        head(a, &b, "classify", 1);
        tp_sbuf_puts(&b, ",\"data\":[");
        for (size_t i = 0; i < w.n; i++) {
            const tp_result *r = &w.res[i];
            size_t n = (size_t)r->rows * (size_t)r->cols;
            size_t best = 0;
            for (size_t k = 1; k < n; k++)
                if (r->data[k] > r->data[best]) best = k;
            tp_sbuf_printf(&b, "%s{\"index\":%zu,\"label\":", i ? "," : "", i);
            const char *label =
                a->info->labels && (int)best < a->info->num_labels ? a->info->labels[best] : NULL;
            if (label)
                tp_sbuf_json_str(&b, label, strlen(label));
            else
                tp_sbuf_printf(&b, "\"LABEL_%zu\"", best);
            tp_sbuf_puts(&b, ",\"probs\":");
            tp_sbuf_floats(&b, r->data, n);
            tp_sbuf_printf(&b, ",\"num_classes\":%zu}", n);
        }
        tp_sbuf_puts(&b, "],");
        usage(&b, w.tokens);
        tp_sbuf_put(&b, "}", 1);
        c->rs->status = 200;
        set_body(c->rs, &b, "application/json");
        c->tokens = w.tokens;
    }
    work_free(&w);
    tp_inputs_free(&in);
}

static double cosine(const float *x, const float *y, size_t n) {
    double xy = 0, xx = 0, yy = 0;
    for (size_t i = 0; i < n; i++) {
        xy += (double)x[i] * y[i];
        xx += (double)x[i] * x[i];
        yy += (double)y[i] * y[i];
    }
    double d = sqrt(xx) * sqrt(yy);
    return d > 0 ? xy / d : 0;
}

/* Scores pairs (a[i or 0], b[i]) for i < nb: a cross-encoder runs each pair; an embedding model
 * embeds every text once and scores the cosine. scores[nb] is filled. */
static int score_pairs(ctx *c, const tp_req_opts *o, const tp_strs *A, const tp_strs *B,
                       double *scores, const char *endpoint) {
    tp_app *a = c->a;
    tp_run_opts ro;
    run_opts_from(o, &ro);
    ro.dimensions = 0;
    work w;
    memset(&w, 0, sizeof w);
    int ok = 0;
    double t0 = tp_now();
    /* A model with a one-label head is a cross-encoder; the engine also reports SCORE for
     * embedding models, whose score (cosine) is computed here from two embeddings. */
    int cross =
        (a->info->tasks & TP_TASK_SCORE) && a->info->num_labels == 1 && !token_level_pooling(a);
    if (cross) {
        size_t n = B->n;
        const char **qa = malloc(n * sizeof *qa);
        size_t *ql = malloc(n * sizeof *ql);
        if (!qa || !ql || !work_init(&w, n)) {
            free(qa);
            free(ql);
            work_free(&w);
            reply_error(c->rs, 500, NULL, "out of memory");
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            size_t k = A->n == 1 ? 0 : i;
            qa[i] = A->s[k];
            ql[i] = A->len[k];
        }
        ok = tokenize_texts(a, c->rq, o, qa, ql, B->s, B->len, n, &w, c->rs);
        free(qa);
        free(ql);
        c->rs->tokenize_s = tp_now() - t0;
        tp_metrics_observe(a->metrics, TP_H_TOKENIZE, c->rs->tokenize_s);
        ro.normalize = -1;
        if (ok) ok = run_work(a, c->rq, TP_TASK_SCORE, &ro, &w, c->rs);
        if (ok)
            for (size_t i = 0; i < n; i++)
                scores[i] = w.res[i].data[0];
    } else if (a->info->tasks & TP_TASK_EMBED) {
        size_t n = A->n + B->n;
        const char **t = malloc(n * sizeof *t);
        size_t *tl = malloc(n * sizeof *tl);
        if (!t || !tl || !work_init(&w, n)) {
            free(t);
            free(tl);
            work_free(&w);
            reply_error(c->rs, 500, NULL, "out of memory");
            return 0;
        }
        memcpy(t, A->s, A->n * sizeof *t);
        memcpy(t + A->n, B->s, B->n * sizeof *t);
        memcpy(tl, A->len, A->n * sizeof *tl);
        memcpy(tl + A->n, B->len, B->n * sizeof *tl);
        ok = tokenize_texts(a, c->rq, o, t, tl, NULL, NULL, n, &w, c->rs);
        free(t);
        free(tl);
        c->rs->tokenize_s = tp_now() - t0;
        tp_metrics_observe(a->metrics, TP_H_TOKENIZE, c->rs->tokenize_s);
        if (ok) ok = run_work(a, c->rq, TP_TASK_EMBED, &ro, &w, c->rs);
        if (ok)
            for (size_t i = 0; i < B->n; i++) {
                const tp_result *x = &w.res[A->n == 1 ? 0 : i], *y = &w.res[A->n + i];
                size_t dim = (size_t)x->rows * (size_t)x->cols;
                size_t dy = (size_t)y->rows * (size_t)y->cols;
                scores[i] = cosine(x->data, y->data, dim < dy ? dim : dy);
            }
    } else {
        char list[128];
        tasks_list(a->info->tasks, list, sizeof list);
        reply_error(c->rs, 400, NULL,
                    "The model \"%s\" cannot score text pairs (%s needs a cross-encoder or an "
                    "embedding model); it supports: %s",
                    a->model_name, endpoint, list);
        return 0;
    }
    if (ok) c->tokens = w.tokens;
    work_free(&w);
    return ok;
}

static void do_score(ctx *c, const char *endpoint) {
    tp_app *a = c->a;
    tp_req_opts o;
    if (!common_opts(c, &o)) return;
    tp_score_req r;
    const char *param = NULL;
    tp_error err;
    tp_error_clear(&err);
    tp_status st = tp_score_req_parse(c->root, a->o.max_inputs, &r, &param, &err);
    if (st != TP_OK) {
        reply_status(c->rs, st, param, &err);
        return;
    }
    double *scores = calloc(r.b.n, sizeof *scores);
    if (!scores)
        reply_error(c->rs, 500, NULL, "out of memory");
    else if (score_pairs(c, &o, &r.a, &r.b, scores, endpoint)) {
        tp_sbuf b;
        tp_sbuf_init(&b);
        head(a, &b, "score", 1);
        tp_sbuf_puts(&b, ",\"data\":[");
        for (size_t i = 0; i < r.b.n; i++) {
            tp_sbuf_printf(&b, "%s{\"index\":%zu,\"object\":\"score\",\"score\":", i ? "," : "", i);
            tp_sbuf_float(&b, (float)scores[i]);
            tp_sbuf_put(&b, "}", 1);
        }
        tp_sbuf_puts(&b, "],");
        usage(&b, c->tokens);
        tp_sbuf_put(&b, "}", 1);
        c->rs->status = 200;
        set_body(c->rs, &b, "application/json");
    }
    free(scores);
    tp_score_req_free(&r);
}

typedef struct ranked {
    size_t index;
    double score;
} ranked;

static int by_score_desc(const void *x, const void *y) {
    const ranked *p = x, *q = y;
    if (p->score > q->score) return -1;
    if (p->score < q->score) return 1;
    return p->index < q->index ? -1 : p->index > q->index;
}

static void do_rerank(ctx *c, const char *endpoint) {
    tp_app *a = c->a;
    tp_req_opts o;
    if (!common_opts(c, &o)) return;
    tp_rerank_req r;
    const char *param = NULL;
    tp_error err;
    tp_error_clear(&err);
    tp_status st = tp_rerank_req_parse(c->root, a->o.max_inputs, &r, &param, &err);
    if (st != TP_OK) {
        reply_status(c->rs, st, param, &err);
        return;
    }
    tp_strs q = {1, &r.query, &r.query_len};
    double *scores = calloc(r.docs.n, sizeof *scores);
    ranked *rk = calloc(r.docs.n, sizeof *rk);
    if (!scores || !rk)
        reply_error(c->rs, 500, NULL, "out of memory");
    else if (score_pairs(c, &o, &q, &r.docs, scores, endpoint)) {
        for (size_t i = 0; i < r.docs.n; i++) {
            rk[i].index = i;
            rk[i].score = scores[i];
        }
        qsort(rk, r.docs.n, sizeof *rk, by_score_desc);
        size_t top = r.top_n > 0 && (size_t)r.top_n < r.docs.n ? (size_t)r.top_n : r.docs.n;
        tp_sbuf b;
        tp_sbuf_init(&b);
        head(a, &b, "rerank", 0);
        tp_sbuf_printf(&b, ",\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}", c->tokens,
                       c->tokens);
        tp_sbuf_puts(&b, ",\"results\":[");
        for (size_t i = 0; i < top; i++) {
            size_t k = rk[i].index;
            tp_sbuf_printf(&b, "%s{\"index\":%zu,", i ? "," : "", k);
            if (r.return_documents) {
                tp_sbuf_puts(&b, "\"document\":{\"text\":");
                tp_sbuf_json_str(&b, r.docs.s[k], r.docs.len[k]);
                tp_sbuf_puts(&b, "},");
            }
            tp_sbuf_puts(&b, "\"relevance_score\":");
            tp_sbuf_float(&b, (float)rk[i].score);
            tp_sbuf_put(&b, "}", 1);
        }
        tp_sbuf_puts(&b, "]}");
        c->rs->status = 200;
        set_body(c->rs, &b, "application/json");
    }
    free(scores);
    free(rk);
    tp_rerank_req_free(&r);
}

static void do_tokenize(ctx *c) {
    tp_app *a = c->a;
    tp_req_opts o;
    if (!common_opts(c, &o)) return;
    json_t *p = json_object_get(c->root, "prompt");
    if (!p || !json_is_string(p)) {
        reply_error(c->rs, 400, "prompt",
                    json_object_get(c->root, "messages")
                        ? "chat 'messages' are not supported; give 'prompt' (a string)"
                        : (p ? "'prompt' must be a string" : "'prompt' is required"));
        return;
    }
    json_t *ts = json_object_get(c->root, "return_token_strs");
    if (ts && !json_is_null(ts) && !json_is_boolean(ts)) {
        reply_error(c->rs, 400, "return_token_strs", "'return_token_strs' must be a boolean");
        return;
    }
    int strs = ts && json_is_true(ts);
    tp_encode_opts eo;
    tp_encode_opts_default(&eo);
    eo.add_special = o.add_special_tokens;
    tp_encoding enc = {0};
    tp_error err;
    tp_error_clear(&err);
    double t0 = tp_now();
    tp_status st = tp_tokenizer_encode(a->tok, json_string_value(p), json_string_length(p), NULL, 0,
                                       &eo, &enc, &err);
    c->rs->tokenize_s = tp_now() - t0;
    if (st != TP_OK) {
        reply_status(c->rs, st, "prompt", &err);
        tp_encoding_free(&enc);
        return;
    }
    tp_sbuf b;
    tp_sbuf_init(&b);
    tp_sbuf_printf(&b, "{\"count\":%zu,\"max_model_len\":%d,\"tokens\":[", enc.len,
                   a->info->max_length);
    for (size_t i = 0; i < enc.len; i++)
        tp_sbuf_printf(&b, "%s%d", i ? "," : "", enc.ids[i]);
    tp_sbuf_puts(&b, "],\"token_strs\":");
    if (strs) {
        tp_sbuf_put(&b, "[", 1);
        for (size_t i = 0; i < enc.len; i++) {
            const char *s = tp_tokenizer_id_to_token(a->tok, enc.ids[i]);
            if (i) tp_sbuf_put(&b, ",", 1);
            if (s)
                tp_sbuf_json_str(&b, s, strlen(s));
            else
                tp_sbuf_puts(&b, "null");
        }
        tp_sbuf_put(&b, "]", 1);
    } else {
        tp_sbuf_puts(&b, "null");
    }
    tp_sbuf_put(&b, "}", 1);
    c->rs->status = 200;
    set_body(c->rs, &b, "application/json");
    tp_encoding_free(&enc);
}

static void do_detokenize(ctx *c) {
    tp_app *a = c->a;
    tp_req_opts o;
    if (!common_opts(c, &o)) return;
    json_t *t = json_object_get(c->root, "tokens");
    if (!t || !json_is_array(t)) {
        reply_error(c->rs, 400, "tokens",
                    t ? "'tokens' must be a list of token ids" : "'tokens' is required");
        return;
    }
    tp_inputs in;
    int32_t *ids = NULL;
    size_t n = json_array_size(t);
    if (n > 0) {
        if (!parse_inputs(c, "tokens", &in)) return;
        if (!in.is_tokens || in.n != 1 || json_is_array(json_array_get(t, 0))) {
            tp_inputs_free(&in);
            reply_error(c->rs, 400, "tokens", "'tokens' must be a list of token ids");
            return;
        }
        ids = in.ids[0];
    }
    char *text = NULL;
    size_t len = 0;
    tp_error err;
    tp_error_clear(&err);
    tp_status st = tp_tokenizer_decode(a->tok, ids, n, 0, &text, &len, &err);
    if (st != TP_OK)
        reply_status(c->rs, st, "tokens", &err);
    else {
        tp_sbuf b;
        tp_sbuf_init(&b);
        tp_sbuf_puts(&b, "{\"prompt\":");
        tp_sbuf_json_str(&b, text, len);
        tp_sbuf_put(&b, "}", 1);
        c->rs->status = 200;
        set_body(c->rs, &b, "application/json");
    }
    free(text);
    if (n > 0) tp_inputs_free(&in);
}

static void do_models(ctx *c) {
    tp_app *a = c->a;
    tp_sbuf b;
    tp_sbuf_init(&b);
    tp_sbuf_puts(&b, "{\"object\":\"list\",\"data\":[{\"id\":");
    tp_sbuf_json_str(&b, a->model_name, strlen(a->model_name));
    tp_sbuf_printf(&b, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"tidepool\",\"root\":",
                   a->created);
    tp_sbuf_json_str(&b, a->model_dir, strlen(a->model_dir));
    tp_sbuf_printf(&b, ",\"parent\":null,\"max_model_len\":%d,\"permission\":[]}]}",
                   a->info->max_length);
    c->rs->status = 200;
    set_body(c->rs, &b, "application/json");
}

static void do_empty(ctx *c) {
    tp_sbuf b;
    tp_sbuf_init(&b);
    tp_sbuf_puts(&b, "");
    c->rs->status = 200;
    set_body(c->rs, &b, "text/plain");
}

static void do_version(ctx *c) {
    tp_sbuf b;
    tp_sbuf_init(&b);
    tp_sbuf_puts(&b, "{\"version\":\"" TP_VERSION "\"}");
    c->rs->status = 200;
    set_body(c->rs, &b, "application/json");
}

static void do_metrics(ctx *c) {
    tp_sched_stats st;
    tp_sched_get_stats(c->a->sched, &st);
    tp_metrics_gauges g = {st.queued_jobs, st.queued_seqs, st.queued_tokens, tp_app_in_flight(c->a),
                           st.batches};
    tp_sbuf b;
    tp_sbuf_init(&b);
    tp_metrics_render(c->a->metrics, &g, &b);
    c->rs->status = 200;
    set_body(c->rs, &b, "text/plain; version=0.0.4; charset=utf-8");
}

static void do_embeddings_r(ctx *c) {
    do_embeddings(c);
}
static void do_score_r(ctx *c) {
    do_score(c, c->rq->path);
}
static void do_rerank_r(ctx *c) {
    do_rerank(c, c->rq->path);
}

typedef struct route {
    const char *path;
    const char *methods; /* "GET", "POST" or "GET, POST" */
    int json;            /* POST body is a JSON object */
    int auth;            /* needs the API key when one is set */
    int limited;         /* counts against --max-concurrent-requests */
    void (*fn)(ctx *c);
} route;

static const route routes[] = {
    {"/v1/embeddings", "POST", 1, 1, 1, do_embeddings_r},
    {"/pooling", "POST", 1, 1, 1, do_pooling},
    {"/classify", "POST", 1, 1, 1, do_classify},
    {"/score", "POST", 1, 1, 1, do_score_r},
    {"/v1/score", "POST", 1, 1, 1, do_score_r},
    {"/rerank", "POST", 1, 1, 1, do_rerank_r},
    {"/v1/rerank", "POST", 1, 1, 1, do_rerank_r},
    {"/v2/rerank", "POST", 1, 1, 1, do_rerank_r},
    {"/tokenize", "POST", 1, 1, 1, do_tokenize},
    {"/detokenize", "POST", 1, 1, 1, do_detokenize},
    {"/v1/models", "GET", 0, 1, 0, do_models},
    {"/health", "GET", 0, 0, 0, do_empty},
    {"/ping", "GET, POST", 0, 0, 0, do_empty},
    {"/version", "GET", 0, 0, 0, do_version},
    {"/metrics", "GET", 0, 0, 0, do_metrics},
};

static int method_allowed(const char *methods, const char *m) {
    if (!strcmp(m, "HEAD")) m = "GET";
    size_t n = strlen(m);
    for (const char *p = methods; (p = strstr(p, m)); p += n)
        if ((p == methods || p[-1] == ' ') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}

/* Constant-time comparison of the Authorization header with "Bearer <key>". */
static int auth_ok(const tp_app *a, const char *hdr) {
    if (!a->api_key) return 1;
    if (!hdr || strncmp(hdr, "Bearer ", 7) != 0) return 0;
    const char *got = hdr + 7;
    size_t gl = strlen(got), kl = strlen(a->api_key);
    unsigned char diff = (unsigned char)(gl != kl);
    for (size_t i = 0; i < kl; i++)
        diff |= (unsigned char)(a->api_key[i] ^ (i < gl ? got[i] : 0));
    return diff == 0;
}

void tp_app_handle(tp_app *a, const tp_http_req *rq, tp_http_resp *rs) {
    memset(rs, 0, sizeof *rs);
    rs->queue_s = rs->tokenize_s = rs->infer_s = -1;
    double t0 = tp_now();
    const route *r = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(rq->path, routes[i].path)) r = &routes[i];
    ctx c = {a, rq, rs, NULL, 0};
    int counted = 0;
    if (!r) {
        reply_error(rs, 404, NULL, "Not Found: %s", rq->path);
        goto done;
    }
    if (r->auth && !auth_ok(a, rq->authorization)) {
        reply_error(rs, 401, NULL,
                    "Unauthorized: a valid API key is required "
                    "(Authorization: Bearer <key>)");
        goto done;
    }
    if (!method_allowed(r->methods, rq->method)) {
        rs->allow = r->methods;
        reply_error(rs, 405, NULL, "Method Not Allowed: %s %s (allowed: %s)", rq->method, r->path,
                    r->methods);
        goto done;
    }
    if (rq->body_too_large) {
        rs->close = 1;
        reply_error(rs, 413, NULL, "Request body too large (limit %zu bytes)", rq->body_limit);
        goto done;
    }
    if (r->limited) {
        size_t n = atomic_fetch_add(&a->in_flight, 1) + 1;
        counted = 1;
        if (atomic_load(&a->draining)) {
            rs->close = 1;
            reply_error(rs, 503, NULL, "The server is shutting down");
            goto done;
        }
        if (n > (size_t)a->o.max_concurrent) {
            reply_error(rs, 429, NULL,
                        "Too many concurrent requests (limit %d); retry after a short wait",
                        a->o.max_concurrent);
            goto done;
        }
    }
    if (r->json && strcmp(rq->method, "POST") == 0) {
        json_error_t jerr;
        c.root = json_loadb(rq->body ? rq->body : "", rq->body_len, 0, &jerr);
        if (!c.root) {
            reply_error(rs, 400, NULL, "Invalid JSON in the request body: %s (line %d, column %d)",
                        jerr.text, jerr.line, jerr.column);
            goto done;
        }
        if (!json_is_object(c.root)) {
            reply_error(rs, 400, NULL, "The request body must be a JSON object");
            goto done;
        }
    }
    r->fn(&c);
    if (!rs->body) reply_error(rs, 500, NULL, "no response");
done:
    if (counted) atomic_fetch_sub(&a->in_flight, 1);
    json_decref(c.root);
    tp_metrics_request(a->metrics, r ? r->path : NULL, rs->status,
                       rs->status == 200 ? c.tokens : 0);
    tp_metrics_observe(a->metrics, TP_H_REQUEST, tp_now() - t0);
}

tp_status tp_app_create(tp_engine *engine, tp_sched *sched, tp_metrics *metrics,
                        const tp_app_opts *opts, tp_app **out, tp_error *err) {
    *out = NULL;
    tp_app *a = calloc(1, sizeof *a);
    if (!a) return tp_fail(err, TP_NOMEM, "out of memory");
    a->engine = engine;
    a->info = tp_engine_info(engine);
    a->tok = tp_engine_tokenizer(engine);
    a->sched = sched;
    a->metrics = metrics;
    a->o = *opts;
    if (a->o.max_concurrent <= 0) a->o.max_concurrent = 512;
    if (a->o.max_inputs == 0) a->o.max_inputs = 100000;
    a->model_name = strdup(opts->model_name ? opts->model_name : "model");
    a->model_dir = strdup(opts->model_dir ? opts->model_dir : "");
    a->api_key = opts->api_key && opts->api_key[0] ? strdup(opts->api_key) : NULL;
    if (!a->model_name || !a->model_dir || (opts->api_key && opts->api_key[0] && !a->api_key)) {
        tp_app_free(a);
        return tp_fail(err, TP_NOMEM, "out of memory");
    }
    a->o.model_name = a->model_name;
    a->o.model_dir = a->model_dir;
    a->o.api_key = a->api_key;
    a->created = (long)time(NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    a->id_seed = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^
                 ((uint64_t)getpid() << 32);
    *out = a;
    return TP_OK;
}

void tp_app_free(tp_app *a) {
    if (!a) return;
    free(a->model_name);
    free(a->model_dir);
    free(a->api_key);
    free(a);
}

void tp_app_set_draining(tp_app *a) {
    atomic_store(&a->draining, 1);
}

size_t tp_app_in_flight(tp_app *a) {
    return atomic_load(&a->in_flight);
}
