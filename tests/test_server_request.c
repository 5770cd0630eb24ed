/* Request parsing and response encoding of the HTTP server (no model needed). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "server/request.h"
#include "server/sbuf.h"
#include "testutil.h"

static json_t *js(const char *text) {
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    return j;
}

static tp_status parse_input(const char *text, tp_inputs *in, tp_error *err) {
    json_t *j = js(text);
    tp_status st = tp_inputs_parse(json_object_get(j, "input"), "input", 100, 1000, in, err);
    /* strings are borrowed: keep the document alive by leaking one ref into the struct's life;
     * tests below only look at numbers and lengths after freeing, or copy first. */
    json_decref(j);
    return st;
}

static void test_inputs_shapes(void **state) {
    (void)state;
    tp_inputs in;
    tp_error err;
    json_t *j = js("{\"input\":\"hello\"}");
    assert_int_equal(tp_inputs_parse(json_object_get(j, "input"), "input", 10, 0, &in, &err),
                     TP_OK);
    assert_int_equal(in.n, 1);
    assert_false(in.is_tokens);
    assert_string_equal(in.text[0], "hello");
    assert_int_equal(in.text_len[0], 5);
    tp_inputs_free(&in);
    json_decref(j);

    j = js("{\"input\":[\"a\",\"bc\",\"\"]}");
    assert_int_equal(tp_inputs_parse(json_object_get(j, "input"), "input", 10, 0, &in, &err),
                     TP_OK);
    assert_int_equal(in.n, 3);
    assert_int_equal(in.text_len[1], 2);
    assert_int_equal(in.text_len[2], 0);
    tp_inputs_free(&in);
    json_decref(j);

    assert_int_equal(parse_input("{\"input\":[1,2,3]}", &in, &err), TP_OK);
    assert_true(in.is_tokens);
    assert_int_equal(in.n, 1);
    assert_int_equal(in.ids_len[0], 3);
    assert_int_equal(in.ids[0][2], 3);
    tp_inputs_free(&in);

    assert_int_equal(parse_input("{\"input\":[[1,2],[3]]}", &in, &err), TP_OK);
    assert_true(in.is_tokens);
    assert_int_equal(in.n, 2);
    assert_int_equal(in.ids_len[1], 1);
    assert_int_equal(in.ids[1][0], 3);
    tp_inputs_free(&in);
}

static void test_inputs_errors(void **state) {
    (void)state;
    tp_inputs in;
    tp_error err;
    const char *bad[] = {
        "{\"input\":[]}",          /* empty */
        "{}",                      /* missing */
        "{\"input\":5}",           /* wrong type */
        "{\"input\":{\"a\":1}}",   /* object */
        "{\"input\":[\"a\",1]}",   /* mixed */
        "{\"input\":[[1],\"a\"]}", /* mixed */
        "{\"input\":[1,\"a\"]}",   /* mixed ids */
        "{\"input\":[[1],[]]}",    /* empty token list */
        "{\"input\":[1,-1]}",      /* negative id */
        "{\"input\":[1,1000]}",    /* out of vocabulary */
        "{\"input\":[1.5]}",       /* not an integer */
        "{\"input\":[true]}",      /* bool */
        "{\"input\":[null]}",      /* null item */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tp_error_clear(&err);
        tp_status st = parse_input(bad[i], &in, &err);
        if (st != TP_INVALID) fail_msg("case %zu (%s): status %d", i, bad[i], st);
        assert_true(strlen(err.msg) > 0);
        assert_non_null(strstr(err.msg, "input"));
    }
    /* too many items */
    json_t *j = json_array();
    for (int i = 0; i < 101; i++)
        json_array_append_new(j, json_string("x"));
    assert_int_equal(tp_inputs_parse(j, "input", 100, 0, &in, &err), TP_INVALID);
    assert_non_null(strstr(err.msg, "at most 100"));
    json_decref(j);
}

static void test_opts(void **state) {
    (void)state;
    tp_req_opts o;
    tp_error err;
    const char *param = NULL;
    json_t *j = js("{\"model\":\"m\",\"encoding_format\":\"base64\",\"dimensions\":8,"
                   "\"truncate_prompt_tokens\":-1,\"add_special_tokens\":false,"
                   "\"normalize\":false,\"use_activation\":true,\"user\":\"u\","
                   "\"unknown_field\":[1,2,{}],\"truncation_side\":\"left\"}");
    assert_int_equal(tp_req_opts_parse(j, &o, &param, &err), TP_OK);
    assert_string_equal(o.model, "m");
    assert_true(o.base64);
    assert_int_equal(o.dimensions, 8);
    assert_true(o.has_truncate);
    assert_int_equal(o.truncate_prompt_tokens, -1);
    assert_int_equal(o.add_special_tokens, 0);
    assert_int_equal(o.normalize, 0);
    assert_int_equal(o.use_activation, 1);
    assert_int_equal(o.truncation_side, TP_TRUNC_LEFT);
    json_decref(j);

    /* defaults, and null = absent */
    j = js("{\"dimensions\":null,\"encoding_format\":null}");
    assert_int_equal(tp_req_opts_parse(j, &o, &param, &err), TP_OK);
    assert_int_equal(o.dimensions, 0);
    assert_false(o.base64);
    assert_false(o.has_truncate);
    assert_int_equal(o.add_special_tokens, 1);
    assert_int_equal(o.normalize, -1);
    assert_int_equal(o.use_activation, -1);
    json_decref(j);

    static const struct {
        const char *json, *param;
    } bad[] = {
        {"{\"encoding_format\":\"hex\"}", "encoding_format"},
        {"{\"encoding_format\":1}", "encoding_format"},
        {"{\"dimensions\":\"8\"}", "dimensions"},
        {"{\"dimensions\":0}", "dimensions"},
        {"{\"dimensions\":-3}", "dimensions"},
        {"{\"truncate_prompt_tokens\":-2}", "truncate_prompt_tokens"},
        {"{\"truncate_prompt_tokens\":0}", "truncate_prompt_tokens"},
        {"{\"truncate_prompt_tokens\":1.5}", "truncate_prompt_tokens"},
        {"{\"add_special_tokens\":\"yes\"}", "add_special_tokens"},
        {"{\"normalize\":1}", "normalize"},
        {"{\"model\":7}", "model"},
        {"{\"user\":[]}", "user"},
        {"{\"truncation_side\":\"middle\"}", "truncation_side"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = js(bad[i].json);
        param = NULL;
        tp_status st = tp_req_opts_parse(j, &o, &param, &err);
        if (st != TP_INVALID) fail_msg("case %s: status %d", bad[i].json, st);
        assert_non_null(param);
        assert_string_equal(param, bad[i].param);
        json_decref(j);
    }
}

static void test_score_rerank(void **state) {
    (void)state;
    tp_score_req r;
    tp_error err;
    const char *param;
    json_t *j = js("{\"text_1\":\"q\",\"text_2\":[\"a\",\"b\",\"c\"]}");
    assert_int_equal(tp_score_req_parse(j, 100, &r, &param, &err), TP_OK);
    assert_int_equal(r.a.n, 1);
    assert_int_equal(r.b.n, 3);
    tp_score_req_free(&r);
    json_decref(j);

    j = js("{\"queries\":[\"q1\",\"q2\"],\"documents\":[\"a\",\"b\"]}");
    assert_int_equal(tp_score_req_parse(j, 100, &r, &param, &err), TP_OK);
    assert_int_equal(r.a.n, 2);
    assert_string_equal(r.a.s[1], "q2");
    tp_score_req_free(&r);
    json_decref(j);

    const char *bad[] = {
        "{\"queries\":[\"q1\",\"q2\"],\"documents\":[\"a\",\"b\",\"c\"]}",
        "{\"queries\":[],\"documents\":[\"a\"]}",
        "{\"queries\":\"q\"}",
        "{\"text_1\":1,\"text_2\":\"a\"}",
        "{}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = js(bad[i]);
        if (tp_score_req_parse(j, 100, &r, &param, &err) != TP_INVALID) fail_msg("%s", bad[i]);
        json_decref(j);
    }

    tp_rerank_req rr;
    j = js("{\"query\":\"q\",\"documents\":[\"a\",{\"text\":\"b\"}],\"top_n\":1,"
           "\"return_documents\":false}");
    assert_int_equal(tp_rerank_req_parse(j, 100, &rr, &param, &err), TP_OK);
    assert_int_equal(rr.docs.n, 2);
    assert_string_equal(rr.docs.s[1], "b");
    assert_int_equal(rr.top_n, 1);
    assert_int_equal(rr.return_documents, 0);
    tp_rerank_req_free(&rr);
    json_decref(j);
    const char *rbad[] = {
        "{\"documents\":[\"a\"]}",
        "{\"query\":\"q\",\"documents\":\"a\"}",
        "{\"query\":\"q\",\"documents\":[]}",
        "{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":-1}",
        "{\"query\":[\"q\"],\"documents\":[\"a\"]}",
    };
    for (size_t i = 0; i < sizeof rbad / sizeof rbad[0]; i++) {
        j = js(rbad[i]);
        if (tp_rerank_req_parse(j, 100, &rr, &param, &err) != TP_INVALID) fail_msg("%s", rbad[i]);
        json_decref(j);
    }
}

static void test_sbuf(void **state) {
    (void)state;
    tp_sbuf b;
    tp_sbuf_init(&b);
    tp_sbuf_json_str(&b, "a\"b\\c\n\x01\x7f\xc3\xa9", 10);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\\u007f\xc3\xa9\"");
    tp_sbuf_free(&b);

    /* invalid UTF-8 (a lone continuation byte, a truncated sequence, 0xf8) becomes U+FFFD, so
     * an error message that quotes a malformed request is still valid JSON */
    tp_sbuf_init(&b);
    tp_sbuf_json_str(&b, "x\xa3y\xde\xf8\xe2\x82", 7);
    assert_string_equal(b.data, "\"x\\ufffdy\\ufffd\\ufffd\\ufffd\\ufffd\"");
    json_error_t je;
    json_t *parsed = json_loadb(b.data, b.len, JSON_DECODE_ANY, &je);
    assert_non_null(parsed);
    json_decref(parsed);
    tp_sbuf_free(&b);

    /* base64 known vectors (RFC 4648) */
    const char *vec[][2] = {{"", ""},
                            {"f", "Zg=="},
                            {"fo", "Zm8="},
                            {"foo", "Zm9v"},
                            {"foob", "Zm9vYg=="},
                            {"fooba", "Zm9vYmE="},
                            {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < 7; i++) {
        tp_sbuf_init(&b);
        tp_sbuf_base64(&b, vec[i][0], strlen(vec[i][0]));
        assert_string_equal(b.data ? b.data : "", vec[i][1]);
        tp_sbuf_free(&b);
    }
    /* 1.0f little-endian = 00 00 80 3f */
    float one = 1.0f;
    tp_sbuf_init(&b);
    tp_sbuf_floats_base64(&b, &one, 1);
    assert_string_equal(b.data, "\"AACAPw==\"");
    tp_sbuf_free(&b);

    /* floats round-trip exactly */
    float xs[] = {0.1f, -1.0f / 3.0f, 1e-8f, 3.4028235e38f, 0.0f, 123456.789f, 0.0549917f};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        tp_sbuf_init(&b);
        tp_sbuf_float(&b, xs[i]);
        assert_true(strtof(b.data, NULL) == xs[i]);
        tp_sbuf_free(&b);
    }
    tp_sbuf_init(&b);
    tp_sbuf_float(&b, NAN);
    assert_string_equal(b.data, "null");
    tp_sbuf_free(&b);
    tp_sbuf_init(&b);
    tp_sbuf_floats(&b, xs, 2);
    assert_string_equal(b.data, "[0.1,-0.33333334]");
    tp_sbuf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inputs_shapes), cmocka_unit_test(test_inputs_errors),
        cmocka_unit_test(test_opts),          cmocka_unit_test(test_score_rerank),
        cmocka_unit_test(test_sbuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
