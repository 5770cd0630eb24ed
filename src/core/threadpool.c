#include "core/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* A job is published by bumping `gen`. Tasks are claimed from `next`, which holds the job's
 * generation in its high 32 bits and the next task index in its low 32 bits, so a worker that wakes
 * late (descheduled on a busy machine) can never claim a task of a later job with a stale view.
 * The caller waits for `done` == n_tasks, not for every worker to check in: when a worker is not
 * running, the caller and the other workers simply take its share. */
struct tp_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;                 /* bumped for every job */
    _Atomic unsigned long long next; /* gen << 32 | next task index */
    atomic_int done;                 /* tasks finished in the current job */
    atomic_int stop;
    tp_pool_fn fn;
    void *ctx;
    atomic_int n_tasks;
};

typedef struct {
    tp_pool *p;
    int id;
} worker_arg;

int tp_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

/* Claims and runs tasks of job `g` until none are left. */
static void drain(tp_pool *p, unsigned g, int thread) {
    for (;;) {
        unsigned long long v = atomic_load(&p->next);
        if ((unsigned)(v >> 32) != g) return;
        int t = (int)(v & 0xffffffffu);
        if (t >= atomic_load(&p->n_tasks)) return;
        if (!atomic_compare_exchange_weak(&p->next, &v, v + 1)) continue;
        p->fn(p->ctx, t, thread);
        atomic_fetch_add(&p->done, 1);
    }
}

static void *worker(void *arg) {
    worker_arg *wa = arg;
    tp_pool *p = wa->p;
    int id = wa->id;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop)) {
            if (++spins < 20000) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        drain(p, g, id);
    }
}

tp_pool *tp_pool_create(int n_threads) {
    if (n_threads <= 0) n_threads = tp_cpu_count();
    tp_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    int started = 1;
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (!p->threads) goto fail;
        for (int i = 1; i < n_threads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (!wa) goto fail;
            wa->p = p;
            wa->id = i;
            if (pthread_create(&p->threads[i - 1], NULL, worker, wa) != 0) {
                free(wa);
                goto fail;
            }
            started++;
        }
    }
    return p;
fail:
    p->n = started; /* the workers started so far are joined by tp_pool_free */
    tp_pool_free(p);
    return NULL;
}

void tp_pool_free(tp_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->threads) {
        for (int i = 0; i < p->n - 1; i++)
            if (p->threads[i]) pthread_join(p->threads[i], NULL);
        free(p->threads);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

int tp_pool_size(const tp_pool *p) {
    return p ? p->n : 1;
}

void tp_pool_run(tp_pool *p, tp_pool_fn fn, void *ctx, int n_tasks) {
    if (n_tasks <= 0) return;
    if (!p || p->n == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    /* No task of the previous job is running (the caller waited for all of them), but a late
     * worker may still be inside drain() with the previous generation: it may have loaded `next`
     * (the exhausted old index) and be about to compare it with n_tasks. Moving `next` to the new
     * generation first makes its compare-exchange fail, so it can never claim an index of this
     * job against the new n_tasks (which ran a task twice and miscounted `done`). */
    unsigned g = atomic_load(&p->gen) + 1;
    atomic_store(&p->next, (unsigned long long)g << 32);
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->n_tasks, n_tasks);
    atomic_store(&p->done, 0);
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->gen, g);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    drain(p, g, 0);
    for (int spins = 0; atomic_load(&p->done) < n_tasks; spins++) {
        if (spins < 2000)
            cpu_relax();
        else
            sched_yield(); /* a worker holding a task was descheduled: give it the core */
    }
}
