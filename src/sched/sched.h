/* Request scheduler: a queue of tokenized sequences and one batcher thread that packs sequences
 * from many requests into batches under a token budget and runs them on one engine.
 *
 * tp_engine_run is not re-entrant, so the batcher is the only thread that calls it. Request
 * threads build a tp_job (their sequences, already tokenized), submit it, and wait for it; the
 * batcher fills job->results and signals the job when every sequence is done. A job is split over
 * as many batches as its sequences need (big client batches are split, never rejected).
 *
 * Batches hold one task and one set of run options (normalize / activation / dimensions): the
 * oldest queued job decides the batch's key, later jobs with the same key fill the remaining
 * budget in arrival order (FIFO, so no job starves). */
#ifndef TP_SCHED_H
#define TP_SCHED_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tidepool.h"

typedef struct tp_sched tp_sched;

typedef struct tp_sched_opts {
    int max_batch_tokens;  /* token budget per forward (sum of sequence lengths) */
    int max_batch_seqs;    /* sequences per forward; 0: no limit beyond tokens */
    size_t max_queue_seqs; /* queued sequences before submit answers TP_OVERLOADED; 0: default */
} tp_sched_opts;

/* One request's work. The caller owns the job and everything it points to; between submit and
 * the moment tp_sched_wait returns 1 (or tp_sched_cancel returns) the scheduler reads seqs and
 * writes results, status, err and the timing fields, and the caller must not touch them. */
typedef struct tp_job {
    tp_task task;
    tp_run_opts ropts;
    const tp_seq *seqs; /* n_seqs sequences; their arrays stay valid until the job is done */
    size_t n_seqs;
    tp_result *results; /* n_seqs slots, zeroed by the caller; filled by the batcher (engine
                           allocations: the caller frees them with tp_result_free) */

    /* Outputs. */
    tp_status status; /* first failure, or TP_OK */
    tp_error err;
    double queue_s; /* submit -> first sequence dispatched */
    double infer_s; /* first dispatch -> last sequence done */

    /* Scheduler state (private). */
    size_t next;     /* next sequence to dispatch */
    size_t done;     /* sequences finished */
    size_t inflight; /* sequences in the running batch */
    int queued, cancelled, finished;
    double t_submit, t_first;
    pthread_cond_t cond;
    struct tp_job *qprev, *qnext;
} tp_job;

typedef struct tp_sched_stats {
    size_t queued_jobs;
    size_t queued_seqs;
    size_t queued_tokens;
    uint64_t batches;
} tp_sched_stats;

/* Called by the batcher after every forward (outside the scheduler lock). */
typedef void (*tp_sched_batch_fn)(void *ctx, size_t n_seqs, size_t n_tokens, double seconds);

tp_status tp_sched_create(tp_engine *engine, const tp_sched_opts *opts, tp_sched **out,
                          tp_error *err);
/* Stops the batcher after its running batch: queued jobs finish with TP_CANCELLED and later
 * submits are refused. The scheduler stays valid for wait/cancel until tp_sched_free. */
void tp_sched_stop(tp_sched *s);
/* Stops (if needed) and frees; no thread may use the scheduler any more. */
void tp_sched_free(tp_sched *s);
void tp_sched_on_batch(tp_sched *s, tp_sched_batch_fn fn, void *ctx);

/* Prepares a job for submission (zeroes the private state, inits its condition variable). */
void tp_job_init(tp_job *j, tp_task task, const tp_run_opts *ropts, const tp_seq *seqs, size_t n,
                 tp_result *results);
void tp_job_destroy(tp_job *j);

/* Queues a job. TP_OVERLOADED when the queue is full (a job is always admitted into an empty
 * queue, however big), TP_CANCELLED when the scheduler is stopping. A job with no sequences
 * completes at once. */
tp_status tp_sched_submit(tp_sched *s, tp_job *j, tp_error *err);
/* Waits up to timeout_ms (< 0: forever) for the job; 1 when it is finished. */
int tp_sched_wait(tp_sched *s, tp_job *j, int timeout_ms);
/* Drops a job's queued sequences and waits for its running batch, if any, to finish; after it
 * returns the scheduler no longer touches the job. The job ends with TP_CANCELLED unless it had
 * already finished. */
void tp_sched_cancel(tp_sched *s, tp_job *j);
void tp_sched_get_stats(tp_sched *s, tp_sched_stats *st);

double tp_now(void); /* monotonic seconds */

#endif
