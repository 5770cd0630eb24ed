/* Scheduler: many threads submit jobs of mixed sizes; every job completes once, with the results
 * its sequences get when run alone; cancellation and backpressure. Uses the bert-embed fixture. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"
#include "testutil.h"

static tp_engine *engine;
static json_t *golden;
static size_t n_cases;
static tp_encoding *encs;
static tp_result *alone; /* result of each golden case run alone */

static int setup(void **state) {
    (void)state;
    tp_engine_opts eo;
    tp_engine_opts_default(&eo);
    eo.n_threads = 1;
    tp_error err;
    if (tp_engine_load(tu_data("models/bert-embed"), &eo, &engine, &err) != TP_OK) {
        fprintf(stderr, "load: %s\n", err.msg);
        return -1;
    }
    golden = tu_json(tu_data("models/bert-embed/golden.json"));
    json_t *cases = json_object_get(golden, "cases");
    n_cases = json_array_size(cases);
    encs = calloc(n_cases, sizeof *encs);
    alone = calloc(n_cases, sizeof *alone);
    tp_tokenize_opts to;
    tp_tokenize_opts_default(&to);
    to.truncate = 1;
    for (size_t i = 0; i < n_cases; i++) {
        const char *t = json_string_value(json_object_get(json_array_get(cases, i), "input"));
        if (tp_engine_tokenize(engine, t, strlen(t), NULL, 0, &to, &encs[i], NULL, &err) != TP_OK)
            return -1;
        tp_seq s = {encs[i].ids, encs[i].type_ids, (int32_t)encs[i].len, 0};
        tp_run_opts ro;
        tp_run_opts_default(&ro);
        if (tp_engine_run(engine, TP_TASK_EMBED, &s, 1, &ro, &alone[i], &err) != TP_OK) return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (size_t i = 0; i < n_cases; i++) {
        tp_encoding_free(&encs[i]);
        tp_result_free(&alone[i]);
    }
    free(encs);
    free(alone);
    json_decref(golden);
    tp_engine_free(engine);
    return 0;
}

static void test_golden_through_sched(void **state) {
    (void)state;
    tp_sched_opts so = {64, 0, 0}; /* small budget: the job is split into many batches */
    tp_sched *s;
    tp_error err;
    assert_int_equal(tp_sched_create(engine, &so, &s, &err), TP_OK);
    tp_seq *seqs = calloc(n_cases, sizeof *seqs);
    tp_result *res = calloc(n_cases, sizeof *res);
    for (size_t i = 0; i < n_cases; i++)
        seqs[i] = (tp_seq){encs[i].ids, encs[i].type_ids, (int32_t)encs[i].len, 0};
    tp_job j;
    tp_job_init(&j, TP_TASK_EMBED, NULL, seqs, n_cases, res);
    assert_int_equal(tp_sched_submit(s, &j, &err), TP_OK);
    assert_true(tp_sched_wait(s, &j, -1));
    assert_int_equal(j.status, TP_OK);
    json_t *cases = json_object_get(golden, "cases");
    for (size_t i = 0; i < n_cases; i++) {
        const json_t *emb = json_object_get(json_array_get(cases, i), "embedding");
        assert_int_equal(res[i].cols, (int)json_array_size(emb));
        double d = tu_max_abs_diff(res[i].data, (size_t)res[i].cols, emb);
        if (d > 1e-4) fail_msg("case %zu: max diff %g", i, d);
        tp_result_free(&res[i]);
    }
    tp_job_destroy(&j);
    tp_sched_stats st;
    tp_sched_get_stats(s, &st);
    assert_true(st.batches > 1);
    assert_int_equal(st.queued_seqs, 0);
    free(seqs);
    free(res);
    tp_sched_free(s);
}

typedef struct worker {
    tp_sched *s;
    unsigned seed;
    int jobs;
    int failures;
} worker;

static void *worker_main(void *p) {
    worker *w = p;
    for (int k = 0; k < w->jobs; k++) {
        size_t n = 1 + rand_r(&w->seed) % 12;
        size_t *pick = calloc(n, sizeof *pick);
        tp_seq *seqs = calloc(n, sizeof *seqs);
        tp_result *res = calloc(n, sizeof *res);
        for (size_t i = 0; i < n; i++) {
            pick[i] = (size_t)rand_r(&w->seed) % n_cases;
            seqs[i] =
                (tp_seq){encs[pick[i]].ids, encs[pick[i]].type_ids, (int32_t)encs[pick[i]].len, 0};
        }
        tp_job j;
        tp_job_init(&j, TP_TASK_EMBED, NULL, seqs, n, res);
        tp_error err;
        if (tp_sched_submit(w->s, &j, &err) != TP_OK || !tp_sched_wait(w->s, &j, -1) ||
            j.status != TP_OK)
            w->failures++;
        else
            for (size_t i = 0; i < n; i++) {
                const tp_result *a = &alone[pick[i]];
                if (res[i].cols != a->cols) {
                    w->failures++;
                    continue;
                }
                for (int c = 0; c < a->cols; c++)
                    if (fabsf(res[i].data[c] - a->data[c]) > 1e-5f) {
                        w->failures++;
                        break;
                    }
            }
        for (size_t i = 0; i < n; i++)
            if (res[i].data) tp_result_free(&res[i]);
        tp_job_destroy(&j);
        free(pick);
        free(seqs);
        free(res);
    }
    return NULL;
}

static void test_concurrent_jobs(void **state) {
    (void)state;
    tp_sched_opts so = {256, 0, 0};
    tp_sched *s;
    tp_error err;
    assert_int_equal(tp_sched_create(engine, &so, &s, &err), TP_OK);
    enum { N = 8 };
    worker w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){s, (unsigned)(i * 7919 + 1), 25, 0};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    int failures = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        failures += w[i].failures;
    }
    assert_int_equal(failures, 0);
    tp_sched_free(s);
}

static void test_cancel_and_overload(void **state) {
    (void)state;
    /* A queue of 4 sequences: a second job does not fit behind a big first one. */
    tp_sched_opts so = {16, 1, 4};
    tp_sched *s;
    tp_error err;
    assert_int_equal(tp_sched_create(engine, &so, &s, &err), TP_OK);
    enum { M = 200 };
    tp_seq *seqs = calloc(M, sizeof *seqs);
    tp_result *res = calloc(M, sizeof *res);
    for (size_t i = 0; i < M; i++)
        seqs[i] = (tp_seq){encs[i % n_cases].ids, NULL, (int32_t)encs[i % n_cases].len, 0};
    tp_job big;
    tp_job_init(&big, TP_TASK_EMBED, NULL, seqs, M, res);
    assert_int_equal(tp_sched_submit(s, &big, &err), TP_OK); /* admitted: queue was empty */
    tp_job small;
    tp_result r1 = {0};
    tp_job_init(&small, TP_TASK_EMBED, NULL, seqs, 1, &r1);
    tp_status st = tp_sched_submit(s, &small, &err);
    if (st == TP_OK) {
        /* the big job already drained below the limit: fine, wait for it */
        assert_true(tp_sched_wait(s, &small, -1));
        tp_result_free(&r1);
    } else {
        assert_int_equal(st, TP_OVERLOADED);
    }
    tp_job_destroy(&small);
    tp_sched_cancel(s, &big);
    assert_true(big.finished);
    if (big.done < M) assert_int_equal(big.status, TP_CANCELLED);
    for (size_t i = 0; i < M; i++)
        if (res[i].data) tp_result_free(&res[i]);
    tp_job_destroy(&big);
    tp_sched_stats stt;
    tp_sched_get_stats(s, &stt);
    assert_int_equal(stt.queued_seqs, 0);
    assert_int_equal(stt.queued_tokens, 0);
    assert_int_equal(stt.queued_jobs, 0);

    /* After stop, submits are refused and queued work is failed. */
    tp_sched_stop(s);
    tp_job late;
    tp_job_init(&late, TP_TASK_EMBED, NULL, seqs, 1, &r1);
    assert_int_equal(tp_sched_submit(s, &late, &err), TP_CANCELLED);
    tp_job_destroy(&late);
    tp_sched_free(s);
    free(seqs);
    free(res);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_through_sched),
        cmocka_unit_test(test_concurrent_jobs),
        cmocka_unit_test(test_cancel_and_overload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
