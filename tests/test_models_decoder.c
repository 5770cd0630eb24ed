/* Decoder models (Qwen2/Qwen3/Llama/Mistral) beyond the golden comparison in
 * test_models_golden.c: inputs longer than the position range, unsupported rope scaling, and the
 * default poolers of reward / process-reward heads. Config variants are copies of a fixture folder
 * (symlinks + an edited config.json) made under the build directory at run time. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static void mkdir_p(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(buf, 0755);
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST) fail_msg("mkdir %s: %s", buf, strerror(errno));
}

/* TP_TEST_CACHE/decoder/<variant>: every entry of fixture <src> linked, config.json replaced by
 * the fixture's config updated with the JSON object `patch`. Returns a static path. */
static const char *make_variant(const char *src, const char *variant, const char *patch) {
    static char dir[4096];
    char from[4096], to[4096 + 64];
    snprintf(dir, sizeof dir, "%s/decoder/%s", TP_TEST_CACHE, variant);
    mkdir_p(dir);
    snprintf(from, sizeof from, "%s/models/%s", TP_TEST_DATA, src);
    DIR *d = opendir(from);
    if (!d) fail_msg("cannot open %s", from);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "config.json")) continue;
        char a[4096 + 256], b[4096 + 256];
        snprintf(a, sizeof a, "%s/%s", from, de->d_name);
        snprintf(b, sizeof b, "%s/%s", dir, de->d_name);
        unlink(b);
        if (symlink(a, b)) fail_msg("symlink %s: %s", b, strerror(errno));
    }
    closedir(d);
    snprintf(from, sizeof from, "%s/models/%s/config.json", TP_TEST_DATA, src);
    json_t *cfg = tu_json(from);
    json_error_t je;
    json_t *p = json_loads(patch, 0, &je);
    if (!json_is_object(p)) fail_msg("bad patch %s: %s", patch, je.text);
    json_object_update(cfg, p);
    snprintf(to, sizeof to, "%s/config.json", dir);
    if (json_dump_file(cfg, to, JSON_INDENT(2))) fail_msg("cannot write %s", to);
    json_decref(p);
    json_decref(cfg);
    return dir;
}

static tp_engine *load(const char *dir, const char *pooler_config, int max_length) {
    tp_engine_opts eo;
    tp_engine_opts_default(&eo);
    eo.n_threads = 2;
    eo.pooler_config = pooler_config;
    eo.max_length = max_length;
    return tu_engine(dir, &eo);
}

static void expect_load_fails(const char *dir, int max_length, tp_status want,
                              const char *want_msg) {
    tp_engine_opts eo;
    tp_engine_opts_default(&eo);
    eo.n_threads = 1;
    eo.max_length = max_length;
    tp_engine *e = NULL;
    tp_error err = {0};
    tp_status s = tp_engine_load(dir, &eo, &e, &err);
    if (s != want || !strstr(err.msg, want_msg))
        fail_msg("%s: status %d (%s), want %d with '%s'", dir, s, err.msg, want, want_msg);
    assert_null(e);
}

static char *long_text(int words) {
    char *t = malloc((size_t)words * 5 + 1);
    assert_non_null(t);
    for (int i = 0; i < words; i++)
        memcpy(t + (size_t)i * 5, "word ", 5);
    t[(size_t)words * 5] = 0;
    return t;
}

/* Runs `len` tokens of id 5 as one embedding; returns the status. */
static tp_status run_len(tp_engine *e, int len, tp_error *err) {
    int32_t *ids = malloc((size_t)len * sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < len; i++)
        ids[i] = 5;
    tp_seq sq = {ids, NULL, len, 0};
    tp_result r = {0};
    tp_status s = tp_engine_run(e, TP_TASK_EMBED, &sq, 1, NULL, &r, err);
    tp_result_free(&r);
    free(ids);
    return s;
}

static void check_too_long(tp_engine *e, int max_len, int max_pos) {
    tp_error err = {0};
    assert_int_equal(tp_engine_info(e)->max_length, max_len);
    char *text = long_text(4 * max_pos);
    tp_encoding enc = {0};
    tp_tokenize_opts to;
    tp_tokenize_opts_default(&to);
    tp_status s = tp_engine_tokenize(e, text, strlen(text), NULL, 0, &to, &enc, NULL, &err);
    if (s != TP_OK) fail_msg("truncating tokenize: %s", err.msg);
    assert_int_equal((int)enc.len, max_len); /* truncated, special tokens included */
    to.truncate = 0;
    assert_int_equal(tp_engine_tokenize(e, text, strlen(text), NULL, 0, &to, &enc, NULL, &err),
                     TP_TOO_LONG);
    tp_encoding_free(&enc);
    free(text);
    /* ids handed to the engine directly: up to the position limit runs, one more is refused */
    if (run_len(e, max_pos, &err) != TP_OK) fail_msg("%d tokens: %s", max_pos, err.msg);
    assert_int_equal(run_len(e, max_pos + 1, &err), TP_TOO_LONG);
    assert_int_equal(run_len(e, 4 * max_pos, &err), TP_TOO_LONG);
}

static void test_too_long(void **state) {
    (void)state;
    char dir[4096];
    /* qwen2-embed: 512 positions, max_seq_length 256 */
    snprintf(dir, sizeof dir, "%s/models/qwen2-embed", TP_TEST_DATA);
    tp_engine *e = load(dir, NULL, 0);
    check_too_long(e, 256, 512);
    tp_engine_free(e);
    /* a position range below the configured max length wins */
    const char *small =
        make_variant("qwen2-embed", "qwen2-embed-16pos", "{\"max_position_embeddings\": 16}");
    e = load(small, NULL, 0);
    check_too_long(e, 16, 16);
    tp_engine_free(e);
    expect_load_fails(small, 32, TP_INVALID, "exceeds");
    /* llama (a different tokenizer: <s> ... </s>) */
    small = make_variant("llama-embed", "llama-embed-24pos", "{\"max_position_embeddings\": 24}");
    e = load(small, NULL, 0);
    check_too_long(e, 24, 24);
    tp_engine_free(e);
}

static void test_rope_scaling(void **state) {
    (void)state;
    const char *d = make_variant("qwen2-embed", "qwen2-embed-yarn",
                                 "{\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0, "
                                 "\"original_max_position_embeddings\": 128}}");
    expect_load_fails(d, 0, TP_UNSUPPORTED, "'yarn'");
    d = make_variant("llama-embed", "llama-embed-llama3",
                     "{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}}");
    expect_load_fails(d, 0, TP_UNSUPPORTED, "'llama3'");
    /* transformers 5 layout */
    d = make_variant("qwen3-embed", "qwen3-embed-linear",
                     "{\"rope_scaling\": null, \"rope_parameters\": {\"rope_type\": \"linear\", "
                     "\"rope_theta\": 1000000.0, \"factor\": 2.0}}");
    expect_load_fails(d, 0, TP_UNSUPPORTED, "'linear'");
    /* 'default' is plain rope */
    d = make_variant("qwen2-embed", "qwen2-embed-default-rope",
                     "{\"rope_scaling\": {\"rope_type\": \"default\"}}");
    tp_engine_free(load(d, NULL, 0));
}

/* Defaults of the reward heads: reward = ALL, raw; PRM = STEP + softmax over every token until a
 * step_tag_id is configured; returned_token_ids picks columns. */
static void test_reward_defaults(void **state) {
    (void)state;
    char dir[4096];
    tp_error err = {0};
    snprintf(dir, sizeof dir, "%s/models/qwen2-reward", TP_TEST_DATA);
    tp_engine *e = load(dir, NULL, 0);
    assert_string_equal(tp_engine_info(e)->pooling, "ALL");
    /* per-token heads have no sequence-level result */
    assert_int_equal(tp_engine_info(e)->tasks & (TP_TASK_CLASSIFY | TP_TASK_SCORE), 0);
    int32_t one[3] = {5, 6, 7};
    tp_seq s1 = {one, NULL, 3, 0};
    tp_result r1 = {0};
    assert_int_equal(tp_engine_run(e, TP_TASK_CLASSIFY, &s1, 1, NULL, &r1, &err), TP_UNSUPPORTED);
    if (tp_engine_run(e, TP_TASK_TOKEN_CLASSIFY, &s1, 1, NULL, &r1, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r1.rows, 3);
    assert_int_equal(r1.cols, 1);
    tp_result_free(&r1);
    tp_engine_free(e);

    snprintf(dir, sizeof dir, "%s/models/qwen2-prm", TP_TEST_DATA);
    char gpath[4200];
    snprintf(gpath, sizeof gpath, "%s/golden.json", dir);
    json_t *g = tu_json(gpath);
    json_t *c = json_array_get(json_object_get(g, "cases"), 0);
    json_t *want_ids = json_object_get(c, "input_ids"), *probs = json_object_get(c, "step_probs");
    size_t n = json_array_size(want_ids);
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)json_integer_value(json_array_get(want_ids, i));
    tp_seq sq = {ids, NULL, (int32_t)n, 0};
    tp_result r = {0};

    e = load(dir, NULL, 0);
    assert_string_equal(tp_engine_info(e)->pooling, "STEP");
    if (tp_engine_run(e, TP_TASK_TOKEN_CLASSIFY, &sq, 1, NULL, &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.rows, (int)n);
    assert_int_equal(r.cols, 2);
    for (int t = 0; t < r.rows; t++)
        assert_true(fabsf(r.data[2 * t] + r.data[2 * t + 1] - 1) < 1e-5);
    tp_result_free(&r);
    tp_engine_free(e);

    e = load(dir, "{\"pooling_type\": \"STEP\", \"step_tag_id\": 3, \"returned_token_ids\": [1]}",
             0);
    if (tp_engine_run(e, TP_TASK_TOKEN_CLASSIFY, &sq, 1, NULL, &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.rows, (int)json_array_size(probs));
    assert_int_equal(r.cols, 1);
    for (int t = 0; t < r.rows; t++) {
        double want = json_number_value(json_array_get(json_array_get(probs, (size_t)t), 1));
        assert_true(fabs(r.data[t] - want) < 1e-4);
    }
    tp_result_free(&r);
    tp_engine_free(e);
    free(ids);
    json_decref(g);
}

/* Mistral = the Llama body (+ sliding-window attention): llama-embed relabelled as Mistral gives
 * the Llama golden; with sliding_window 4 (HF: key j visible from query i when i - 4 < j <= i) the
 * first 4 rows are unchanged and later rows differ. */
static void test_mistral_window(void **state) {
    (void)state;
    char gpath[4200];
    tp_error err = {0};
    snprintf(gpath, sizeof gpath, "%s/models/llama-embed/golden.json", TP_TEST_DATA);
    json_t *g = tu_json(gpath);
    json_t *c = json_array_get(json_object_get(g, "cases"), 0);
    json_t *want_ids = json_object_get(c, "input_ids"), *hs = json_object_get(c, "hidden_states");
    size_t n = json_array_size(want_ids);
    assert_true(n > 6);
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)json_integer_value(json_array_get(want_ids, i));
    tp_seq sq = {ids, NULL, (int32_t)n, 0};
    tp_result r = {0};
    const char *d = make_variant("llama-embed", "mistral-embed",
                                 "{\"architectures\": [\"MistralModel\"], \"model_type\": "
                                 "\"mistral\", \"sliding_window\": null}");
    tp_engine *e = load(d, NULL, 0);
    if (tp_engine_run(e, TP_TASK_EMBED, &sq, 1, NULL, &r, &err)) fail_msg("%s", err.msg);
    assert_true(tu_max_abs_diff(r.data, (size_t)r.cols, json_object_get(c, "embedding")) < 1e-4);
    tp_result_free(&r);
    tp_engine_free(e);

    d = make_variant("llama-embed", "mistral-embed-window4",
                     "{\"architectures\": [\"MistralModel\"], \"model_type\": \"mistral\", "
                     "\"sliding_window\": 4}");
    e = load(d, NULL, 0);
    if (tp_engine_run(e, TP_TASK_TOKEN_EMBED, &sq, 1, NULL, &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.rows, (int)n);
    int h = r.cols;
    for (int t = 0; t < r.rows; t++) {
        double m = 0;
        for (int j = 0; j < h; j++) {
            double dd = fabs(r.data[(size_t)t * h + j] -
                             json_number_value(json_array_get(hs, (size_t)t * h + (size_t)j)));
            m = dd > m ? dd : m;
        }
        if (t < 4)
            assert_true(m < 1e-4);
        else
            assert_true(m > 1e-3);
    }
    tp_result_free(&r);
    tp_engine_free(e);
    free(ids);
    json_decref(g);
}

/* A copy of <dir>/model.safetensors with "lm_head.weight" appended: a copy of the bytes of
 * `src_tensor` (same dtype and shape), so an untied head must reproduce the tied results. */
static void add_lm_head(const char *dir, const char *src_tensor) {
    char path[4200], out[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size);
    assert_true(fread(buf, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | buf[i];
    json_error_t je;
    json_t *hdr = json_loadb((const char *)buf + 8, (size_t)hl, 0, &je);
    json_t *src = json_object_get(hdr, src_tensor);
    assert_non_null(src);
    json_t *offs = json_object_get(src, "data_offsets");
    size_t b0 = (size_t)json_integer_value(json_array_get(offs, 0));
    size_t b1 = (size_t)json_integer_value(json_array_get(offs, 1));
    size_t data_len = (size_t)size - 8 - (size_t)hl;
    json_t *lm = json_deep_copy(src);
    json_array_set_new(json_object_get(lm, "data_offsets"), 0, json_integer((json_int_t)data_len));
    json_array_set_new(json_object_get(lm, "data_offsets"), 1,
                       json_integer((json_int_t)(data_len + b1 - b0)));
    json_object_set_new(hdr, "lm_head.weight", lm);
    char *h = json_dumps(hdr, JSON_COMPACT);
    size_t nh = strlen(h), pad = (8 - nh % 8) % 8;
    snprintf(out, sizeof out, "%s/model.safetensors", dir);
    unlink(out); /* a symlink to the fixture */
    f = fopen(out, "wb");
    assert_non_null(f);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((nh + pad) >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(h, 1, nh, f);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', f);
    const unsigned char *data = buf + 8 + hl;
    fwrite(data, 1, data_len, f);
    fwrite(data + b0, 1, b1 - b0, f);
    fclose(f);
    free(h);
    json_decref(hdr);
    free(buf);
}

static double score_of(const char *dir, const int32_t *ids, int n) {
    tp_engine *e = load(dir, NULL, 0);
    tp_seq sq = {ids, NULL, n, 0};
    tp_result r = {0};
    tp_error err = {0};
    if (tp_engine_run(e, TP_TASK_SCORE, &sq, 1, NULL, &r, &err)) fail_msg("%s", err.msg);
    double v = r.data[0];
    tp_result_free(&r);
    tp_engine_free(e);
    return v;
}

/* classifier_from_token with an untied lm_head (rows read from the mapping, F32 and BF16) gives
 * the same score as the tied embeddings. */
static void test_yesno_untied(void **state) {
    (void)state;
    char gpath[4200];
    snprintf(gpath, sizeof gpath, "%s/models/qwen3-reranker/golden.json", TP_TEST_DATA);
    json_t *g = tu_json(gpath);
    json_t *c = json_array_get(json_object_get(g, "cases"), 0);
    json_t *want_ids = json_object_get(c, "input_ids");
    int n = (int)json_array_size(want_ids);
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++)
        ids[i] = (int32_t)json_integer_value(json_array_get(want_ids, (size_t)i));
    const char *tokens = "\"classifier_from_token\": [\"\\u0120no\", \"y\"]";
    char patch[256];
    snprintf(patch, sizeof patch, "{%s, \"tie_word_embeddings\": false}", tokens);
    const char *d = make_variant("qwen3-reranker", "qwen3-reranker-untied", patch);
    add_lm_head(d, "model.embed_tokens.weight");
    double s = score_of(d, ids, n);
    assert_true(fabs(s - json_number_value(json_object_get(c, "score"))) < 1e-4);
    /* bf16 checkpoint (qwen2-embed), ids < its vocab of 3000 */
    snprintf(patch, sizeof patch, "{%s}", tokens);
    double tied = score_of(make_variant("qwen2-embed", "qwen2-yesno-tied", patch), ids, n);
    snprintf(patch, sizeof patch, "{%s, \"tie_word_embeddings\": false}", tokens);
    d = make_variant("qwen2-embed", "qwen2-yesno-untied", patch);
    add_lm_head(d, "embed_tokens.weight");
    assert_true(fabs(score_of(d, ids, n) - tied) < 1e-6);
    /* untied without an lm_head tensor */
    expect_load_fails(make_variant("qwen2-embed", "qwen2-yesno-nohead", patch), 0, TP_FORMAT,
                      "lm_head");
    free(ids);
    json_decref(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_too_long),        cmocka_unit_test(test_rope_scaling),
        cmocka_unit_test(test_reward_defaults), cmocka_unit_test(test_mistral_window),
        cmocka_unit_test(test_yesno_untied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
