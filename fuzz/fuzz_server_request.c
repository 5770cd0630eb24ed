/* libFuzzer target: the HTTP API (src/server/api.c) on arbitrary request bodies, end to end with a
 * real model: JSON parsing, validation, tokenization, scheduling, the forward pass and response
 * serialization. The first byte picks the route; the rest is the body.
 *
 * The model folder comes from $TP_FUZZ_MODEL (default: tests/data/models/bert-embed relative to
 * the working directory). Run from the repository root:
 *   ./build-fuzz/fuzz_server_request -max_len=4096 fuzz-corpus/ */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"
#include "server/api.h"
#include "server/metrics.h"
#include "server/request.h"

static tp_engine *engine;
static tp_sched *sched;
static tp_metrics *metrics;
static tp_app *app;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = getenv("TP_FUZZ_MODEL");
    if (!dir) dir = "tests/data/models/bert-embed";
    tp_engine_opts eo;
    tp_engine_opts_default(&eo);
    eo.n_threads = 1;
    eo.max_batch_tokens = 2048;
    tp_error err;
    if (tp_engine_load(dir, &eo, &engine, &err) != TP_OK) {
        fprintf(stderr, "fuzz_server_request: cannot load %s: %s\n", dir, err.msg);
        abort();
    }
    tp_sched_opts so = {2048, 0, 0};
    metrics = tp_metrics_create();
    tp_app_opts ao = {0};
    ao.model_name = "m";
    ao.model_dir = dir;
    ao.max_inputs = 256;
    if (!metrics || tp_sched_create(engine, &so, &sched, &err) != TP_OK ||
        tp_app_create(engine, sched, metrics, &ao, &app, &err) != TP_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const paths[] = {
        "/v1/embeddings", "/pooling",    "/classify", "/score",   "/rerank",
        "/tokenize",      "/detokenize", "/v1/score", "/metrics", "/v1/models",
    };
    if (size < 1) return 0;
    size_t n_paths = sizeof paths / sizeof paths[0];
    tp_http_req rq = {0};
    rq.method = data[0] >= 0x80 ? "GET" : "POST";
    rq.path = paths[data[0] % n_paths];
    rq.body = (const char *)data + 1;
    rq.body_len = size - 1;
    rq.body_limit = 1 << 20;
    tp_http_resp rs;
    tp_app_handle(app, &rq, &rs);
    if (rs.status < 200 || rs.status > 599 || !rs.body) abort();
    /* Every answer is JSON except the text endpoints. */
    if (rs.len && rs.content_type && !strncmp(rs.content_type, "application/json", 16)) {
        json_error_t e;
        json_t *j = json_loadb(rs.body, rs.len, 0, &e);
        if (!j) abort();
        if (rs.status != 200 && !json_is_object(json_object_get(j, "error"))) abort();
        json_decref(j);
    }
    free(rs.body);
    return 0;
}
