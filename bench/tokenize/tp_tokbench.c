/* Tokenizer throughput: encodes every line of a JSONL corpus ({"text": ...}) with special tokens,
 * on N threads (lines interleaved), one warm-up pass then the best of R timed passes.
 * usage: tp_tokbench TOKENIZER_JSON CORPUS_JSONL [THREADS=1] [REPEATS=3]
 * Prints one JSON line: tokens, bytes, seconds, tokens_per_s, mb_per_s. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tidepool.h"

typedef struct corpus {
    char **text;
    size_t *len;
    size_t n, bytes;
} corpus;

typedef struct job {
    const tp_tokenizer *t;
    const corpus *c;
    int tid, nthreads;
    size_t tokens;
} job;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *run(void *p) {
    job *j = p;
    tp_encoding e = {0};
    tp_error err;
    j->tokens = 0;
    for (size_t i = (size_t)j->tid; i < j->c->n; i += (size_t)j->nthreads) {
        if (tp_tokenizer_encode(j->t, j->c->text[i], j->c->len[i], NULL, 0, NULL, &e, &err) !=
            TP_OK) {
            fprintf(stderr, "encode: %s\n", err.msg);
            exit(1);
        }
        j->tokens += e.len;
    }
    tp_encoding_free(&e);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKENIZER_JSON CORPUS_JSONL [THREADS] [REPEATS]\n", argv[0]);
        return 2;
    }
    int nt = argc > 3 ? atoi(argv[3]) : 1, reps = argc > 4 ? atoi(argv[4]) : 3;
    if (nt < 1 || nt > 256 || reps < 1) return 2;
    tp_tokenizer *t;
    tp_error err;
    if (tp_tokenizer_load(argv[1], NULL, &t, &err) != TP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    corpus c = {0};
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, f)) > 0) {
        json_t *j = json_loadb(line, (size_t)got, JSON_ALLOW_NUL, NULL);
        json_t *tx = json_object_get(j, "text");
        if (json_is_string(tx)) {
            if (c.n == cap) {
                cap = cap ? cap * 2 : 1024;
                c.text = realloc(c.text, cap * sizeof *c.text);
                c.len = realloc(c.len, cap * sizeof *c.len);
            }
            c.len[c.n] = json_string_length(tx);
            c.text[c.n] = malloc(c.len[c.n] + 1);
            memcpy(c.text[c.n], json_string_value(tx), c.len[c.n] + 1);
            c.bytes += c.len[c.n];
            c.n++;
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    job jobs[256];
    pthread_t th[256];
    double best = 1e30;
    size_t tokens = 0;
    for (int r = 0; r <= reps; r++) { /* pass 0 warms caches */
        double t0 = now();
        for (int i = 0; i < nt; i++) {
            jobs[i] = (job){t, &c, i, nt, 0};
            pthread_create(&th[i], NULL, run, &jobs[i]);
        }
        tokens = 0;
        for (int i = 0; i < nt; i++) {
            pthread_join(th[i], NULL);
            tokens += jobs[i].tokens;
        }
        double dt = now() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    printf("{\"impl\":\"tidepool\",\"threads\":%d,\"lines\":%zu,\"tokens\":%zu,\"bytes\":%zu,"
           "\"seconds\":%.4f,\"tokens_per_s\":%.0f,\"mb_per_s\":%.2f}\n",
           nt, c.n, tokens, c.bytes, best, (double)tokens / best, (double)c.bytes / best / 1e6);
    for (size_t i = 0; i < c.n; i++)
        free(c.text[i]);
    free(c.text);
    free(c.len);
    tp_tokenizer_free(t);
    return 0;
}
