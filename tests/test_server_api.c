/* The HTTP API without sockets: tp_app_handle on the bert-embed fixture (routing, auth, limits,
 * errors, golden embeddings, base64). The node tests drive the same code over HTTP. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"
#include "server/api.h"
#include "server/metrics.h"
#include "testutil.h"

static tp_engine *engine;
static tp_sched *sched;
static tp_metrics *metrics;
static tp_app *app;
static json_t *golden;

static int setup(void **state) {
    (void)state;
    tp_engine_opts eo;
    tp_engine_opts_default(&eo);
    eo.n_threads = 1;
    tp_error err;
    if (tp_engine_load(tu_data("models/bert-embed"), &eo, &engine, &err) != TP_OK) return -1;
    tp_sched_opts so = {1024, 0, 0};
    metrics = tp_metrics_create();
    if (tp_sched_create(engine, &so, &sched, &err) != TP_OK) return -1;
    tp_app_opts ao = {0};
    ao.model_name = "bert-embed";
    ao.model_dir = "tests/data/models/bert-embed";
    ao.api_key = "sekrit";
    ao.max_inputs = 1000;
    if (tp_app_create(engine, sched, metrics, &ao, &app, &err) != TP_OK) return -1;
    golden = tu_json(tu_data("models/bert-embed/golden.json"));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tp_app_free(app);
    tp_sched_free(sched);
    tp_metrics_free(metrics);
    tp_engine_free(engine);
    json_decref(golden);
    return 0;
}

/* Runs one request; returns the parsed body (NULL for non-JSON) and the status. */
static json_t *call(const char *method, const char *path, const char *body, const char *auth,
                    int *status) {
    tp_http_req rq = {0};
    rq.method = method;
    rq.path = path;
    rq.body = body;
    rq.body_len = body ? strlen(body) : 0;
    rq.body_limit = 1 << 20;
    rq.authorization = auth;
    tp_http_resp rs;
    tp_app_handle(app, &rq, &rs);
    *status = rs.status;
    assert_non_null(rs.body);
    json_t *j = NULL;
    if (rs.content_type && !strncmp(rs.content_type, "application/json", 16)) {
        json_error_t e;
        j = json_loadb(rs.body, rs.len, 0, &e);
        if (!j) fail_msg("response is not JSON: %.*s", (int)rs.len, rs.body);
    }
    free(rs.body);
    return j;
}

static void assert_error(json_t *j, int status) {
    assert_non_null(j);
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_object(e));
    assert_int_equal(json_object_size(j), 1);
    assert_int_equal(json_object_size(e), 4);
    assert_true(json_is_string(json_object_get(e, "message")));
    assert_true(json_is_string(json_object_get(e, "type")));
    json_t *p = json_object_get(e, "param");
    assert_true(p && (json_is_null(p) || json_is_string(p)));
    assert_int_equal(json_integer_value(json_object_get(e, "code")), status);
}

static const char *AUTH = "Bearer sekrit";

static void test_embeddings_golden(void **state) {
    (void)state;
    json_t *cases = json_object_get(golden, "cases");
    json_t *body = json_object();
    json_t *input = json_array();
    for (size_t i = 0; i < 5; i++)
        json_array_append(input, json_object_get(json_array_get(cases, i), "input"));
    json_object_set_new(body, "input", input);
    json_object_set_new(body, "model", json_string("bert-embed"));
    char *text = json_dumps(body, 0);
    int st;
    json_t *j = call("POST", "/v1/embeddings", text, AUTH, &st);
    assert_int_equal(st, 200);
    json_t *data = json_object_get(j, "data");
    assert_int_equal(json_array_size(data), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *emb = json_object_get(json_array_get(data, i), "embedding");
        json_t *want = json_object_get(json_array_get(cases, i), "embedding");
        assert_int_equal(json_array_size(emb), json_array_size(want));
        for (size_t k = 0; k < json_array_size(emb); k++)
            assert_true(fabs(json_number_value(json_array_get(emb, k)) -
                             json_number_value(json_array_get(want, k))) < 1e-4);
    }
    assert_string_equal(json_string_value(json_object_get(j, "object")), "list");
    json_decref(j);
    free(text);
    json_decref(body);
}

static void test_errors(void **state) {
    (void)state;
    static const struct {
        const char *method, *path, *body, *auth;
        int status;
    } cases[] = {
        {"POST", "/v1/embeddings", "{\"input\":\"a\"}", NULL, 401},
        {"POST", "/v1/embeddings", "{\"input\":\"a\"}", "Bearer nope", 401},
        {"POST", "/v1/embeddings", "{\"input\":\"a\"}", "sekrit", 401},
        {"GET", "/v1/embeddings", NULL, "Bearer sekrit", 405},
        {"GET", "/nope", NULL, NULL, 404},
        {"POST", "/v1/embeddings", "{", "Bearer sekrit", 400},
        {"POST", "/v1/embeddings", "[1]", "Bearer sekrit", 400},
        {"POST", "/v1/embeddings", "{\"input\":[]}", "Bearer sekrit", 400},
        {"POST", "/v1/embeddings", "{\"input\":\"a\",\"dimensions\":4}", "Bearer sekrit", 400},
        {"POST", "/v1/embeddings", "{\"input\":\"a\",\"model\":\"other\"}", "Bearer sekrit", 404},
        {"POST", "/classify", "{\"input\":\"a\"}", "Bearer sekrit", 400},
        {"POST", "/pooling", "{\"input\":\"a\",\"task\":\"bogus\"}", "Bearer sekrit", 400},
        {"POST", "/score", "{\"text_1\":[\"a\",\"b\"],\"text_2\":[\"c\"]}", "Bearer sekrit", 400},
        {"POST", "/detokenize", "{\"tokens\":[-5]}", "Bearer sekrit", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st;
        json_t *j = call(cases[i].method, cases[i].path, cases[i].body, cases[i].auth, &st);
        if (st != cases[i].status)
            fail_msg("case %zu (%s %s): %d, want %d", i, cases[i].method, cases[i].path, st,
                     cases[i].status);
        assert_error(j, st);
        json_decref(j);
    }
    /* open routes */
    int st;
    json_t *j = call("GET", "/health", NULL, NULL, &st);
    assert_int_equal(st, 200);
    json_decref(j);
    j = call("GET", "/version", NULL, NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "version")), TP_VERSION);
    json_decref(j);
}

static void test_body_too_large(void **state) {
    (void)state;
    tp_http_req rq = {0};
    rq.method = "POST";
    rq.path = "/v1/embeddings";
    rq.body_too_large = 1;
    rq.body_limit = 10;
    rq.authorization = AUTH;
    tp_http_resp rs;
    tp_app_handle(app, &rq, &rs);
    assert_int_equal(rs.status, 413);
    assert_true(rs.close);
    free(rs.body);
}

static void test_base64_and_tokens(void **state) {
    (void)state;
    int st;
    json_t *f = call("POST", "/v1/embeddings", "{\"input\":[101,7592,102]}", AUTH, &st);
    assert_int_equal(st, 200);
    json_t *b = call("POST", "/v1/embeddings",
                     "{\"input\":[[101,7592,102]],\"encoding_format\":\"base64\"}", AUTH, &st);
    assert_int_equal(st, 200);
    json_t *fe = json_object_get(json_array_get(json_object_get(f, "data"), 0), "embedding");
    const char *s = json_string_value(
        json_object_get(json_array_get(json_object_get(b, "data"), 0), "embedding"));
    assert_non_null(s);
    assert_int_equal(strlen(s), (json_array_size(fe) * 4 + 2) / 3 * 4);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(f, "usage"), "prompt_tokens")), 3);
    json_decref(f);
    json_decref(b);
}

static void test_draining(void **state) {
    (void)state;
    /* Last test: after draining starts, inference requests get 503 and health still answers. */
    tp_app_set_draining(app);
    int st;
    json_t *j = call("POST", "/v1/embeddings", "{\"input\":\"a\"}", AUTH, &st);
    assert_int_equal(st, 503);
    assert_error(j, 503);
    json_decref(j);
    j = call("GET", "/health", NULL, NULL, &st);
    assert_int_equal(st, 200);
    json_decref(j);
    assert_int_equal(tp_app_in_flight(app), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embeddings_golden), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_body_too_large),    cmocka_unit_test(test_base64_and_tokens),
        cmocka_unit_test(test_draining),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
