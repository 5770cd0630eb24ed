/* `tidepool tokenize` / `detokenize` through the CLI binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char dir[] = "/tmp/tp_cli_tok_XXXXXX";

static const char *write_input(const char *name, const char *content) {
    static char path[8][512];
    static int slot;
    char *p = path[slot++ & 7];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return p;
}

static int run(const char *args, char **out) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s", TP_CLI_PATH, args);
    return tu_run(cmd, out);
}

static json_t *line_json(const char *out, int n) {
    const char *p = out;
    for (int i = 0; i < n && p; i++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    assert_non_null(p);
    const char *e = strchr(p, '\n');
    json_error_t je;
    json_t *j = json_loadb(p, e ? (size_t)(e - p) : strlen(p), 0, &je);
    if (!j) fail_msg("bad output line %d: %s", n, out);
    return j;
}

static void expect_ids(json_t *line, const tp_encoding *e) {
    json_t *ids = json_object_get(line, "ids"), *ty = json_object_get(line, "type_ids");
    assert_int_equal(json_array_size(ids), e->len);
    assert_int_equal(json_array_size(ty), e->len);
    for (size_t i = 0; i < e->len; i++) {
        assert_int_equal(json_integer_value(json_array_get(ids, i)), e->ids[i]);
        assert_int_equal(json_integer_value(json_array_get(ty, i)), e->type_ids[i]);
    }
}

static void test_tokenize_file(void **state) {
    (void)state;
    const char *tok = tu_data("tokenizers-trained/wp.tokenizer.json");
    const char *in =
        write_input("a.jsonl", "\"Hello, World!\"\n"
                               "{\"text\": \"first part\", \"pair\": \"second part\"}\n"
                               "{\"text\": \"caf\\u00e9 \\u4e2d\\u6587\"}\n");
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "tokenize --tokenizer %s --input %s", tok, in);
    assert_int_equal(run(args, &out), 0);
    tp_tokenizer *t;
    tp_error err;
    assert_int_equal(tp_tokenizer_load(tok, NULL, &t, &err), TP_OK);
    tp_encoding e = {0};
    assert_int_equal(tp_tokenizer_encode(t, "Hello, World!", 13, NULL, 0, NULL, &e, &err), TP_OK);
    json_t *j = line_json(out, 0);
    expect_ids(j, &e);
    json_decref(j);
    assert_int_equal(tp_tokenizer_encode(t, "first part", 10, "second part", 11, NULL, &e, &err),
                     TP_OK);
    j = line_json(out, 1);
    expect_ids(j, &e);
    json_decref(j);
    free(out);

    /* --no-special and --max-length */
    assert_int_equal(tp_tokenizer_encode(t, "Hello, World!", 13, NULL, 0, NULL, &e, &err), TP_OK);
    snprintf(args, sizeof args, "tokenize --tokenizer %s --input %s --no-special --max-length 2",
             tok, in);
    assert_int_equal(run(args, &out), 0);
    j = line_json(out, 0);
    assert_int_equal(json_array_size(json_object_get(j, "ids")), 2);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "ids"), 0)), e.ids[1]);
    json_decref(j);
    free(out);

    /* detokenize round trip */
    char ids[256];
    assert_int_equal(tp_tokenizer_encode(t, "first part", 10, NULL, 0, NULL, &e, &err), TP_OK);
    snprintf(ids, sizeof ids, "{\"ids\": [%d, %d, %d, %d]}\n[%d]\n", e.ids[0], e.ids[1], e.ids[2],
             e.ids[3], e.ids[1]);
    const char *din = write_input("d.jsonl", ids);
    snprintf(args, sizeof args, "detokenize --tokenizer %s --skip-special --input %s", tok, din);
    assert_int_equal(run(args, &out), 0);
    j = line_json(out, 0);
    assert_string_equal(json_string_value(json_object_get(j, "text")), "first part");
    json_decref(j);
    free(out);
    tp_encoding_free(&e);
    tp_tokenizer_free(t);
}

static void test_model_dir_truncates(void **state) {
    (void)state;
    /* bert-embed: sentence_bert_config.json max_seq_length = 128 */
    size_t n = 400 * 6 + 16;
    char *text = malloc(n);
    strcpy(text, "\"");
    for (int i = 0; i < 400; i++)
        strcat(text, "word ");
    strcat(text, "\"\n");
    const char *in = write_input("long.jsonl", text);
    free(text);
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "tokenize %s --input %s", tu_data("models/bert-embed"), in);
    assert_int_equal(run(args, &out), 0);
    json_t *j = line_json(out, 0);
    assert_int_equal(json_array_size(json_object_get(j, "ids")), 128);
    json_decref(j);
    free(out);
    snprintf(args, sizeof args, "tokenize %s --max-length 0 --input %s",
             tu_data("models/bert-embed"), in);
    assert_int_equal(run(args, &out), 0);
    j = line_json(out, 0);
    assert_true(json_array_size(json_object_get(j, "ids")) > 128);
    json_decref(j);
    free(out);
}

static void test_bad_lines(void **state) {
    (void)state;
    const char *tok = tu_data("tokenizers-trained/wp.tokenizer.json");
    const char *bad[] = {"\"ok\"\n{\"nope\": 1}\n", "\"ok\"\nnot json\n", "\"ok\"\n\"\\udc00\"\n",
                         "\"ok\"\n{\"text\": \"a\", \"pair\": 3}\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *in = write_input("bad.jsonl", bad[i]);
        char args[4096], *out = NULL;
        snprintf(args, sizeof args, "tokenize --tokenizer %s --input %s 2>&1", tok, in);
        int rc = run(args, &out);
        assert_int_not_equal(rc, 0);
        if (!strstr(out, "bad.jsonl:2:")) fail_msg("error does not name line 2: %s", out);
        free(out);
    }
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "tokenize --tokenizer /nonexistent.json 2>&1 </dev/null");
    assert_int_not_equal(run(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "tokenize 2>&1 </dev/null");
    assert_int_not_equal(run(args, &out), 0);
    free(out);
}

static int setup(void **state) {
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize_file),
        cmocka_unit_test(test_model_dir_truncates),
        cmocka_unit_test(test_bad_lines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
