#include "sched/sched.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

#define DEFAULT_QUEUE_SEQS 65536

struct tp_sched {
    tp_engine *engine;
    tp_sched_opts opts;
    pthread_mutex_t mu;
    pthread_cond_t work; /* signalled when a job is queued or on stop */
    pthread_t thread;
    int stop;
    tp_job *head, *tail; /* FIFO of jobs with sequences left to dispatch */
    size_t queued_jobs, queued_seqs, queued_tokens;
    uint64_t batches;
    tp_sched_batch_fn on_batch;
    void *on_batch_ctx;

    /* Batcher-owned scratch, sized for the largest batch. */
    size_t cap;
    tp_seq *bseqs;
    tp_result *bres;
    tp_job **bjob;
    size_t *bidx;
};

double tp_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int same_key(const tp_job *a, const tp_job *b) {
    return a->task == b->task && a->ropts.normalize == b->ropts.normalize &&
           a->ropts.use_activation == b->ropts.use_activation &&
           a->ropts.dimensions == b->ropts.dimensions;
}

static size_t job_tokens_left(const tp_job *j) {
    size_t t = 0;
    for (size_t i = j->next; i < j->n_seqs; i++)
        t += (size_t)j->seqs[i].len;
    return t;
}

static void unlink_job(tp_sched *s, tp_job *j) {
    if (j->qprev)
        j->qprev->qnext = j->qnext;
    else
        s->head = j->qnext;
    if (j->qnext)
        j->qnext->qprev = j->qprev;
    else
        s->tail = j->qprev;
    j->qprev = j->qnext = NULL;
    j->queued = 0;
    s->queued_jobs--;
}

static void finish_if_done(tp_job *j) {
    if (j->finished || j->inflight) return;
    if (j->done == j->n_seqs || (j->cancelled && !j->queued)) {
        j->finished = 1;
        if (j->t_first > 0) j->infer_s = tp_now() - j->t_first;
        pthread_cond_broadcast(&j->cond);
    }
}

static int grow(tp_sched *s, size_t n) {
    if (n <= s->cap) return 1;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n)
        cap *= 2;
    tp_seq *a = realloc(s->bseqs, cap * sizeof *a);
    if (a) s->bseqs = a;
    tp_result *b = realloc(s->bres, cap * sizeof *b);
    if (b) s->bres = b;
    tp_job **c = realloc(s->bjob, cap * sizeof *c);
    if (c) s->bjob = c;
    size_t *d = realloc(s->bidx, cap * sizeof *d);
    if (d) s->bidx = d;
    if (!a || !b || !c || !d) return 0;
    s->cap = cap;
    return 1;
}

/* Picks the next batch under the lock. Returns its size (0: nothing to do). */
static size_t pick_batch(tp_sched *s, tp_task *task, tp_run_opts *ropts, size_t *tokens) {
    tp_job *first = s->head;
    if (!first) return 0;
    *task = first->task;
    *ropts = first->ropts;
    size_t budget = (size_t)s->opts.max_batch_tokens;
    size_t max_seqs = s->opts.max_batch_seqs > 0 ? (size_t)s->opts.max_batch_seqs : (size_t)-1;
    size_t n = 0, tok = 0;
    double now = tp_now();
    tp_job *j = first;
    while (j && n < max_seqs) {
        tp_job *next = j->qnext;
        if (same_key(j, first)) {
            while (j->next < j->n_seqs && n < max_seqs) {
                size_t len = (size_t)j->seqs[j->next].len;
                /* A sequence longer than the budget still runs, alone. */
                if (n > 0 && tok + len > budget) break;
                if (!grow(s, n + 1)) break;
                if (j->t_first == 0) {
                    j->t_first = now;
                    j->queue_s = now - j->t_submit;
                }
                s->bseqs[n] = j->seqs[j->next];
                s->bjob[n] = j;
                s->bidx[n] = j->next;
                memset(&s->bres[n], 0, sizeof s->bres[n]);
                j->next++;
                j->inflight++;
                tok += len;
                n++;
                s->queued_seqs--;
                s->queued_tokens -= len;
            }
            if (j->next == j->n_seqs) unlink_job(s, j);
            if (n > 0 && tok >= budget) break;
        }
        j = next;
    }
    *tokens = tok;
    return n;
}

static void *batcher(void *arg) {
    tp_sched *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && !s->head)
            pthread_cond_wait(&s->work, &s->mu);
        if (s->stop) break;
        tp_task task;
        tp_run_opts ropts;
        size_t tokens = 0;
        size_t n = pick_batch(s, &task, &ropts, &tokens);
        if (n == 0) {
            /* Out of memory for the batch arrays: fail the oldest job rather than spin. */
            tp_job *j = s->head;
            if (j) {
                s->queued_seqs -= j->n_seqs - j->next;
                s->queued_tokens -= job_tokens_left(j);
                unlink_job(s, j);
                j->status = TP_NOMEM;
                tp_fail(&j->err, TP_NOMEM, "out of memory");
                j->cancelled = 1;
                finish_if_done(j);
            }
            continue;
        }
        pthread_mutex_unlock(&s->mu);

        tp_error err;
        tp_error_clear(&err);
        double t0 = tp_now();
        tp_status st = tp_engine_run(s->engine, task, s->bseqs, n, &ropts, s->bres, &err);
        if (st != TP_OK && n > 1) {
            /* Isolate the failing sequence: one bad input must not fail its neighbours. */
            for (size_t i = 0; i < n; i++) {
                tp_result_free(&s->bres[i]);
                memset(&s->bres[i], 0, sizeof s->bres[i]);
            }
            st = TP_OK;
            for (size_t i = 0; i < n; i++) {
                tp_error e1;
                tp_error_clear(&e1);
                tp_status st1 =
                    tp_engine_run(s->engine, task, &s->bseqs[i], 1, &ropts, &s->bres[i], &e1);
                if (st1 != TP_OK) {
                    tp_job *j = s->bjob[i];
                    pthread_mutex_lock(&s->mu);
                    if (j->status == TP_OK) {
                        j->status = st1;
                        j->err = e1;
                    }
                    pthread_mutex_unlock(&s->mu);
                }
            }
        }
        double dt = tp_now() - t0;
        if (s->on_batch) s->on_batch(s->on_batch_ctx, n, tokens, dt);

        pthread_mutex_lock(&s->mu);
        s->batches++;
        for (size_t i = 0; i < n; i++) {
            tp_job *j = s->bjob[i];
            if (st != TP_OK && j->status == TP_OK) {
                j->status = st;
                j->err = err;
            }
            if (j->cancelled)
                tp_result_free(&s->bres[i]);
            else
                j->results[s->bidx[i]] = s->bres[i];
            j->inflight--;
            j->done++;
        }
        for (size_t i = 0; i < n; i++)
            finish_if_done(s->bjob[i]);
    }
    /* Stopping: fail whatever is still queued. */
    while (s->head) {
        tp_job *j = s->head;
        s->queued_seqs -= j->n_seqs - j->next;
        s->queued_tokens -= job_tokens_left(j);
        unlink_job(s, j);
        if (j->status == TP_OK) {
            j->status = TP_CANCELLED;
            tp_fail(&j->err, TP_CANCELLED, "server is shutting down");
        }
        j->cancelled = 1;
        finish_if_done(j);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

tp_status tp_sched_create(tp_engine *engine, const tp_sched_opts *opts, tp_sched **out,
                          tp_error *err) {
    *out = NULL;
    tp_sched *s = calloc(1, sizeof *s);
    if (!s) return tp_fail(err, TP_NOMEM, "out of memory");
    s->engine = engine;
    s->opts = *opts;
    if (s->opts.max_batch_tokens <= 0) s->opts.max_batch_tokens = 16384;
    if (s->opts.max_queue_seqs == 0) s->opts.max_queue_seqs = DEFAULT_QUEUE_SEQS;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    if (!grow(s, 256)) goto fail;
    if (pthread_create(&s->thread, NULL, batcher, s) != 0) goto fail;
    *out = s;
    return TP_OK;
fail:
    free(s->bseqs);
    free(s->bres);
    free(s->bjob);
    free(s->bidx);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return tp_fail(err, TP_NOMEM, "cannot start the batcher thread");
}

void tp_sched_stop(tp_sched *s) {
    pthread_mutex_lock(&s->mu);
    int was = s->stop;
    s->stop = 1;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    if (!was) pthread_join(s->thread, NULL);
}

void tp_sched_free(tp_sched *s) {
    if (!s) return;
    tp_sched_stop(s);
    free(s->bseqs);
    free(s->bres);
    free(s->bjob);
    free(s->bidx);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void tp_sched_on_batch(tp_sched *s, tp_sched_batch_fn fn, void *ctx) {
    pthread_mutex_lock(&s->mu);
    s->on_batch = fn;
    s->on_batch_ctx = ctx;
    pthread_mutex_unlock(&s->mu);
}

void tp_job_init(tp_job *j, tp_task task, const tp_run_opts *ropts, const tp_seq *seqs, size_t n,
                 tp_result *results) {
    memset(j, 0, sizeof *j);
    j->task = task;
    if (ropts)
        j->ropts = *ropts;
    else
        tp_run_opts_default(&j->ropts);
    j->seqs = seqs;
    j->n_seqs = n;
    j->results = results;
    pthread_cond_init(&j->cond, NULL);
}

void tp_job_destroy(tp_job *j) {
    pthread_cond_destroy(&j->cond);
}

tp_status tp_sched_submit(tp_sched *s, tp_job *j, tp_error *err) {
    size_t tokens = 0;
    for (size_t i = 0; i < j->n_seqs; i++)
        tokens += (size_t)j->seqs[i].len;
    pthread_mutex_lock(&s->mu);
    if (s->stop) {
        pthread_mutex_unlock(&s->mu);
        return tp_fail(err, TP_CANCELLED, "server is shutting down");
    }
    if (s->queued_seqs > 0 && s->queued_seqs + j->n_seqs > s->opts.max_queue_seqs) {
        pthread_mutex_unlock(&s->mu);
        return tp_fail(err, TP_OVERLOADED, "the request queue is full (%zu sequences queued)",
                       s->queued_seqs);
    }
    j->t_submit = tp_now();
    if (j->n_seqs == 0) {
        j->finished = 1;
        pthread_mutex_unlock(&s->mu);
        return TP_OK;
    }
    j->queued = 1;
    j->qprev = s->tail;
    j->qnext = NULL;
    if (s->tail)
        s->tail->qnext = j;
    else
        s->head = j;
    s->tail = j;
    s->queued_jobs++;
    s->queued_seqs += j->n_seqs;
    s->queued_tokens += tokens;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    return TP_OK;
}

int tp_sched_wait(tp_sched *s, tp_job *j, int timeout_ms) {
    pthread_mutex_lock(&s->mu);
    if (timeout_ms < 0) {
        while (!j->finished)
            pthread_cond_wait(&j->cond, &s->mu);
    } else if (!j->finished) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!j->finished) {
            if (pthread_cond_timedwait(&j->cond, &s->mu, &ts) == ETIMEDOUT) break;
        }
    }
    int f = j->finished;
    pthread_mutex_unlock(&s->mu);
    return f;
}

void tp_sched_cancel(tp_sched *s, tp_job *j) {
    pthread_mutex_lock(&s->mu);
    if (!j->finished) {
        j->cancelled = 1;
        if (j->status == TP_OK) {
            j->status = TP_CANCELLED;
            tp_fail(&j->err, TP_CANCELLED, "request cancelled");
        }
        if (j->queued) {
            s->queued_seqs -= j->n_seqs - j->next;
            s->queued_tokens -= job_tokens_left(j);
            unlink_job(s, j);
        }
        finish_if_done(j);
        while (!j->finished)
            pthread_cond_wait(&j->cond, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

void tp_sched_get_stats(tp_sched *s, tp_sched_stats *st) {
    pthread_mutex_lock(&s->mu);
    st->queued_jobs = s->queued_jobs;
    st->queued_seqs = s->queued_seqs;
    st->queued_tokens = s->queued_tokens;
    st->batches = s->batches;
    pthread_mutex_unlock(&s->mu);
}
