/* Persistent thread pool with a parallel-for. The calling thread takes part in the work, so a
 * pool of n threads starts n-1 workers. Workers spin briefly between jobs (the forward pass issues
 * many small jobs back to back) and then sleep on a condition variable. */
#ifndef TP_CORE_THREADPOOL_H
#define TP_CORE_THREADPOOL_H

#include <stddef.h>

typedef struct tp_pool tp_pool;

/* fn(ctx, task, thread) for task in [0, n_tasks); thread in [0, n_threads). */
typedef void (*tp_pool_fn)(void *ctx, int task, int thread);

tp_pool *tp_pool_create(int n_threads); /* n_threads <= 0: online CPUs */
void tp_pool_free(tp_pool *p);
int tp_pool_size(const tp_pool *p);
/* Runs all tasks and returns when they are done. Not re-entrant: one caller at a time.
 * p may be NULL: runs serially on the caller. */
void tp_pool_run(tp_pool *p, tp_pool_fn fn, void *ctx, int n_tasks);
int tp_cpu_count(void);

#endif
