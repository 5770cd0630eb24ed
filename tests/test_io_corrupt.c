/* Corrupt and malformed model files: each gets a clear error naming the file and the problem,
 * never a crash (this suite also runs under ASan/UBSan in CI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/modeldir.h"
#include "io/safetensors.h"
#include "testutil.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int slot;
    char *b = buf[slot++ & 3];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* A safetensors file from a header string and a data size. */
static void write_st(const char *path, const char *header, size_t data_bytes, long fake_len) {
    size_t hl = strlen(header);
    size_t total = 8 + hl + data_bytes;
    unsigned char *buf = calloc(1, total);
    unsigned long long len = fake_len >= 0 ? (unsigned long long)fake_len : hl;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(len >> (8 * i));
    memcpy(buf + 8, header, hl);
    write_file(path, buf, total);
    free(buf);
}

static void expect_open_error(const char *path, tp_status want, const char *needle) {
    tp_weights *w = NULL;
    tp_error err = {0};
    tp_status s = tp_weights_open_file(path, &w, &err);
    assert_null(w);
    if (s != want || !strstr(err.msg, needle))
        fail_msg("%s: got status %d '%s', want %d containing '%s'", path, s, err.msg, want, needle);
    assert_non_null(strstr(err.msg, path)); /* names the file */
}

static void test_valid_file_loads(void **state) {
    (void)state;
    const char *p = tmp_path("ok.safetensors");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, -1);
    tp_weights *w = NULL;
    tp_error err = {0};
    assert_int_equal(tp_weights_open_file(p, &w, &err), TP_OK);
    const float *f;
    int64_t shape[2] = {2, 2};
    assert_int_equal(tp_weights_f32(w, "a", 2, shape, &f, &err), TP_OK);
    int64_t bad[2] = {4, 1};
    assert_int_equal(tp_weights_f32(w, "a", 2, bad, &f, &err), TP_FORMAT);
    assert_non_null(strstr(err.msg, "shape"));
    assert_int_equal(tp_weights_f32(w, "missing", 1, shape, &f, &err), TP_FORMAT);
    assert_non_null(strstr(err.msg, "missing"));
    tp_weights_free(w);
}

static void test_truncated(void **state) {
    (void)state;
    const char *p = tmp_path("trunc.safetensors");
    write_file(p, "\x10\x00\x00", 3);
    expect_open_error(p, TP_FORMAT, "truncated");
    /* data shorter than the offsets claim */
    const char *q = tmp_path("trunc2.safetensors");
    write_st(q, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, -1);
    expect_open_error(q, TP_FORMAT, "past end of data");
}

static void test_header_too_long(void **state) {
    (void)state;
    const char *p = tmp_path("hlen.safetensors");
    write_st(p, "{}", 0, 1L << 40);
    expect_open_error(p, TP_FORMAT, "larger than the file");
}

static void test_overlapping(void **state) {
    (void)state;
    const char *p = tmp_path("overlap.safetensors");
    write_st(p,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
             24, -1);
    expect_open_error(p, TP_FORMAT, "overlapping");
}

static void test_dtype_mismatch(void **state) {
    (void)state;
    const char *p = tmp_path("dtype.safetensors");
    write_st(p, "{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, -1);
    expect_open_error(p, TP_FORMAT, "mismatch");
    const char *q = tmp_path("dtype2.safetensors");
    write_st(q, "{\"a\":{\"dtype\":\"Q7\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, -1);
    expect_open_error(q, TP_FORMAT, "unknown dtype");
}

static void test_bad_header_json(void **state) {
    (void)state;
    const char *p = tmp_path("json.safetensors");
    write_st(p, "{\"a\": [", 0, -1);
    expect_open_error(p, TP_FORMAT, "JSON");
    const char *q = tmp_path("shape.safetensors");
    write_st(q, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, -1);
    expect_open_error(q, TP_FORMAT, "bad shape");
    const char *r = tmp_path("offs.safetensors");
    write_st(r, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, -1);
    expect_open_error(r, TP_FORMAT, "data_offsets");
}

static void test_missing_file(void **state) {
    (void)state;
    tp_weights *w = NULL;
    tp_error err = {0};
    assert_int_equal(tp_weights_open_file(tmp_path("nope.safetensors"), &w, &err), TP_IO);
    assert_non_null(strstr(err.msg, "nope.safetensors"));
}

/* A model folder copied from the bert-embed fixture with one file replaced. */
static const char *model_copy(const char *name, const char *file, const char *content) {
    const char *dir = tmp_path(name);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/models/bert-embed' '%s'", dir,
             TP_TEST_DATA, dir);
    assert_int_equal(system(cmd), 0);
    if (file) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, file);
        write_file(p, content, strlen(content));
    }
    return dir;
}

static void expect_engine_error(const char *dir, tp_status want, const char *needle) {
    tp_engine *e = NULL;
    tp_error err = {0};
    tp_status s = tp_engine_load(dir, NULL, &e, &err);
    assert_null(e);
    if (s != want || !strstr(err.msg, needle))
        fail_msg("%s: got %d '%s', want %d with '%s'", dir, s, err.msg, want, needle);
}

static void test_model_folder_errors(void **state) {
    (void)state;
    expect_engine_error(model_copy("m_badcfg", "config.json", "{\"architectures\": [}"),
                        TP_FORMAT, "config.json: invalid JSON");
    expect_engine_error(model_copy("m_arch", "config.json",
                                   "{\"architectures\": [\"FooModel\"], \"model_type\": \"foo\"}"),
                        TP_UNSUPPORTED, "unsupported architecture 'FooModel'");
    expect_engine_error(model_copy("m_arch2", "config.json",
                                   "{\"architectures\": [\"FooModel\"], \"model_type\": \"foo\"}"),
                        TP_UNSUPPORTED, "BertModel"); /* lists what is supported */
    expect_engine_error(model_copy("m_weights", "model.safetensors", "\x05\x00"), TP_FORMAT,
                        "model.safetensors: truncated");
    expect_engine_error(model_copy("m_pool", "1_Pooling/config.json", "{\"pooling_mode\": \"x\"}"),
                        TP_UNSUPPORTED, "pooling_mode");
    expect_engine_error(model_copy("m_modules", "modules.json", "[{\"type\": \"a.b.Weird\"}]"),
                        TP_UNSUPPORTED, "a.b.Weird");
    expect_engine_error(tmp_path("does-not-exist"), TP_IO, "config.json");
    /* config with wrong dimensions for the weights */
    const char *d = model_copy("m_dims", NULL, NULL);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "sed -i 's/\"hidden_size\": 32/\"hidden_size\": 48/' '%s/config.json'",
             d);
    assert_int_equal(system(cmd), 0);
    expect_engine_error(d, TP_FORMAT, "shape");
    /* the untouched copy loads */
    tp_engine *e = NULL;
    tp_error err = {0};
    assert_int_equal(tp_engine_load(model_copy("m_ok", NULL, NULL), NULL, &e, &err), TP_OK);
    tp_engine_free(e);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tp-corrupt-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_file_loads), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_header_too_long),  cmocka_unit_test(test_overlapping),
        cmocka_unit_test(test_dtype_mismatch),   cmocka_unit_test(test_bad_header_json),
        cmocka_unit_test(test_missing_file),     cmocka_unit_test(test_model_folder_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
