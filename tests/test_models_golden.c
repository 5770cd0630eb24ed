/* Golden tests for every model fixture: ids exactly equal to the HF tokenizer's, outputs within
 * 1e-4 of transformers / sentence-transformers, and batch invariance (all cases in one packed
 * batch give the same results as each case alone, <= 1e-5, both with the batch split across the
 * threads by sequence and with every operation split instead; the two are bit-identical). Numbers
 * in tests/data/models/<name>/ golden.json were computed by the reference libraries (see
 * tests/data/models/README.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "testutil.h"

#define TOL 1e-4
#define BATCH_TOL 1e-5

typedef struct fixture {
    const char *name;
    const char *pooler_config; /* engine options the golden was produced with */
    const char *hf_overrides;
    const char *field; /* golden field compared (NULL: the task's) */
    const char *label; /* test name when a fixture runs under several configs (NULL: name) */
} fixture;

/* vLLM's Qwen3-Reranker recipe; the golden's classifier_from_token is ["\u0120no", "y"] (tiny
 * vocab: "y" stands in for "yes"). */
#define QWEN3_RERANKER_TOKENS "\"classifier_from_token\": [\"\\u0120no\", \"y\"]"

static const fixture fixtures[] = {
    {.name = "bert-embed"},
    {.name = "bert-embed-cls-dense"},
    {.name = "bert-cross-encoder"},
    {.name = "bert-classifier"},
    {.name = "xlmr-embed"},
    {.name = "xlmr-reranker"},
    {.name = "distilbert-classifier"},
    {.name = "modernbert-embed"},
    /* transformers 5 config layout: rope_parameters per layer type and layer_types win over the
     * legacy keys (set to wrong values here) */
    {.name = "modernbert-embed",
     .hf_overrides = "{\"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\", "
                     "\"rope_theta\": 160000.0}, \"sliding_attention\": {\"rope_type\": "
                     "\"default\", \"rope_theta\": 10000.0}}, \"layer_types\": "
                     "[\"full_attention\", \"sliding_attention\", \"sliding_attention\"], "
                     "\"global_rope_theta\": 1.0, \"local_rope_theta\": 1.0, "
                     "\"global_attn_every_n_layers\": 1}",
     .label = "modernbert-embed-rope-parameters"},
    {.name = "qwen2-embed"},
    {.name = "qwen3-embed"},
    {.name = "llama-embed"},
    {.name = "qwen2-classifier"},
    {.name = "qwen2-reward"}, /* default: ALL pooling, raw per-token rewards */
    /* PRM: vLLM users pass the step tag in --pooler-config; default STEP + softmax */
    {.name = "qwen2-prm",
     .pooler_config = "{\"pooling_type\": \"STEP\", \"step_tag_id\": 3}",
     .field = "step_probs"},
    {.name = "qwen2-prm", .pooler_config = "{\"softmax\": false}", .label = "qwen2-prm-raw"},
    {.name = "qwen3-reranker",
     .hf_overrides = "{\"architectures\": [\"Qwen3ForSequenceClassification\"], "
                     "\"is_original_qwen3_reranker\": true, " QWEN3_RERANKER_TOKENS "}"},
    {.name = "qwen3-reranker",
     .hf_overrides = "{" QWEN3_RERANKER_TOKENS "}",
     .label = "qwen3-reranker-causallm"},
};

static int32_t *ids_of(const json_t *arr, size_t *n) {
    *n = json_array_size(arr);
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = (int32_t)json_integer_value(json_array_get(arr, i));
    return v;
}

static int ids_equal(const tp_encoding *e, const json_t *arr) {
    if (e->len != json_array_size(arr)) return 0;
    for (size_t i = 0; i < e->len; i++)
        if (e->ids[i] != json_integer_value(json_array_get(arr, i))) return 0;
    return 1;
}

static int type_ids_equal(const tp_encoding *e, const json_t *arr) {
    if (e->len != json_array_size(arr)) return 0;
    for (size_t i = 0; i < e->len; i++)
        if (e->type_ids[i] != json_integer_value(json_array_get(arr, i))) return 0;
    return 1;
}

/* Task of the golden -> what the engine runs and which golden field is compared. */
static tp_task task_of(const char *t) {
    if (!strcmp(t, "embed")) return TP_TASK_EMBED;
    if (!strcmp(t, "score") || !strcmp(t, "yesno")) return TP_TASK_SCORE;
    if (!strcmp(t, "classify")) return TP_TASK_CLASSIFY;
    return TP_TASK_TOKEN_CLASSIFY; /* reward, prm */
}

static const char *field_of(const char *t) {
    if (!strcmp(t, "embed")) return "embedding";
    if (!strcmp(t, "score") || !strcmp(t, "yesno")) return "score";
    if (!strcmp(t, "classify")) return "probs";
    return "token_logits";
}

static double diff_result(const tp_result *r, const json_t *want) {
    if (json_is_number(want)) {
        if (r->rows * r->cols != 1) return 1e30;
        return fabs(r->data[0] - json_number_value(want));
    }
    if (json_is_array(want) && json_is_array(json_array_get(want, 0))) { /* [[...], ...] */
        size_t rows = json_array_size(want), k = 0;
        double m = 0;
        if ((size_t)r->rows != rows) return 1e30;
        for (size_t i = 0; i < rows; i++) {
            json_t *row = json_array_get(want, i);
            double d = tu_max_abs_diff(r->data + k, (size_t)r->cols, row);
            k += (size_t)r->cols;
            m = d > m ? d : m;
        }
        return m;
    }
    return tu_max_abs_diff(r->data, (size_t)r->rows * (size_t)r->cols, want);
}

static void check_fixture(const fixture *fx) {
    char dir[2048], gpath[4096];
    snprintf(dir, sizeof dir, "%s/models/%s", TP_TEST_DATA, fx->name);
    snprintf(gpath, sizeof gpath, "%s/golden.json", dir);
    json_t *g = tu_json(gpath);
    const char *task_name = json_string_value(json_object_get(g, "task"));
    assert_non_null(task_name);
    tp_task task = task_of(task_name);
    const char *field = fx->field ? fx->field : field_of(task_name);

    tp_engine_opts eo;
    tp_engine_opts_default(&eo);
    eo.n_threads = 2;
    eo.pooler_config = fx->pooler_config;
    eo.hf_overrides = fx->hf_overrides;
    tp_engine *e = tu_engine(dir, &eo);
    tp_error err = {0};
    tp_status st;
    const tp_model_info *info = tp_engine_info(e);
    int want_max = (int)json_integer_value(json_object_get(g, "max_length"));
    if (want_max && info->max_length != want_max)
        fail_msg("%s: max_length %d, golden says %d", fx->name, info->max_length, want_max);

    json_t *cases = json_object_get(g, "cases");
    size_t n = json_array_size(cases);
    tp_seq *seqs = calloc(n, sizeof *seqs);
    tp_result *alone = calloc(n, sizeof *alone), *batch = calloc(n, sizeof *batch);
    int32_t **idbuf = calloc(n, sizeof *idbuf), **tybuf = calloc(n, sizeof *tybuf);
    int id_fail = 0, out_fail = 0, hid_fail = 0, batch_fail = 0;
    double worst = 0, worst_batch = 0;
    tp_encoding enc = {0};
    tp_run_opts ro;
    tp_run_opts_default(&ro);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(cases, i);
        const char *text = json_string_value(json_object_get(c, "input"));
        const char *pair = json_string_value(json_object_get(c, "pair"));
        json_t *want_ids = json_object_get(c, "input_ids");
        json_t *want_types = json_object_get(c, "token_type_ids");
        tp_tokenize_opts to;
        tp_tokenize_opts_default(&to);
        st = tp_engine_tokenize(e, text, strlen(text), pair, pair ? strlen(pair) : 0, &to, &enc,
                                NULL, &err);
        if (st != TP_OK || !ids_equal(&enc, want_ids) ||
            (want_types && !type_ids_equal(&enc, want_types))) {
            if (id_fail++ < 3)
                print_message("%s case %zu: ids differ (status %d %s, %zu vs %zu tokens)\n",
                              fx->name, i, st, err.msg, enc.len, json_array_size(want_ids));
        }
        /* The model runs on the golden ids, so tokenizer and model are judged separately. */
        size_t len;
        idbuf[i] = ids_of(want_ids, &len);
        if (want_types) {
            size_t tl;
            tybuf[i] = ids_of(want_types, &tl);
        }
        seqs[i] = (tp_seq){idbuf[i], tybuf[i], (int32_t)len, 0};
        st = tp_engine_run(e, task, &seqs[i], 1, &ro, &alone[i], &err);
        if (st != TP_OK) fail_msg("%s case %zu: run failed: %s", fx->name, i, err.msg);
        double d = diff_result(&alone[i], json_object_get(c, field));
        worst = d > worst ? d : worst;
        if (!(d <= TOL) && out_fail++ < 3)
            print_message("%s case %zu: %s differs by %g\n", fx->name, i, field, d);
        json_t *hs = json_object_get(c, "hidden_states");
        if (hs) {
            tp_result tr = {0};
            st = tp_engine_run(e, TP_TASK_TOKEN_EMBED, &seqs[i], 1, &ro, &tr, &err);
            if (st != TP_OK) fail_msg("%s case %zu: token run failed: %s", fx->name, i, err.msg);
            double dh = tu_max_abs_diff(tr.data, (size_t)tr.rows * (size_t)tr.cols, hs);
            if (!(dh <= TOL) && hid_fail++ < 3)
                print_message("%s case %zu: hidden_states differ by %g\n", fx->name, i, dh);
            tp_result_free(&tr);
        }
        /* Logits too, when the golden has them (raw head outputs). */
        json_t *logits = json_object_get(c, "logits");
        if (logits && (task == TP_TASK_CLASSIFY || task == TP_TASK_SCORE)) {
            tp_run_opts raw = ro;
            raw.use_activation = 0;
            tp_result lr = {0};
            st = tp_engine_run(e, task, &seqs[i], 1, &raw, &lr, &err);
            if (st != TP_OK) fail_msg("%s case %zu: raw run failed: %s", fx->name, i, err.msg);
            double dl = tu_max_abs_diff(lr.data, (size_t)lr.cols, logits);
            if (!(dl <= TOL) && out_fail++ < 3)
                print_message("%s case %zu: logits differ by %g\n", fx->name, i, dl);
            tp_result_free(&lr);
        }
        /* yes/no rerankers: the raw score is logit(yes) - logit(no) */
        json_t *lno = json_object_get(c, "logit_no"), *lyes = json_object_get(c, "logit_yes");
        if (lno && lyes) {
            tp_run_opts raw = ro;
            raw.use_activation = 0;
            tp_result lr = {0};
            st = tp_engine_run(e, task, &seqs[i], 1, &raw, &lr, &err);
            if (st != TP_OK) fail_msg("%s case %zu: raw run failed: %s", fx->name, i, err.msg);
            double dl = fabs(lr.data[0] - (json_number_value(lyes) - json_number_value(lno)));
            if (!(dl <= TOL) && out_fail++ < 3)
                print_message("%s case %zu: logit_yes - logit_no differs by %g\n", fx->name, i, dl);
            tp_result_free(&lr);
        }
    }
    /* batch invariance: all cases in one packed batch */
    st = tp_engine_run(e, task, seqs, n, &ro, batch, &err);
    if (st != TP_OK) fail_msg("%s: batch run failed: %s", fx->name, err.msg);
    for (size_t i = 0; i < n; i++) {
        double m = 0;
        if (batch[i].rows != alone[i].rows || batch[i].cols != alone[i].cols) m = 1e30;
        for (int k = 0; m < 1e30 && k < alone[i].rows * alone[i].cols; k++) {
            double d = fabs(batch[i].data[k] - alone[i].data[k]);
            m = d > m ? d : m;
        }
        worst_batch = m > worst_batch ? m : worst_batch;
        if (!(m <= BATCH_TOL)) batch_fail++;
    }
    /* The same batch forced through each threading mode of run.c: split by sequence even with
     * a handful of tokens per part, and never split (each operation across the threads). */
    tp_result *bp = calloc(n, sizeof *bp), *op = calloc(n, sizeof *op);
    int mode_fail = 0;
    int saved_bp = e->batch_parallel, saved_min = e->part_min_tokens;
    e->batch_parallel = 1;
    e->part_min_tokens = 1;
    st = tp_engine_run(e, task, seqs, n, &ro, bp, &err);
    if (st != TP_OK) fail_msg("%s: batch-parallel run failed: %s", fx->name, err.msg);
    e->batch_parallel = 0;
    st = tp_engine_run(e, task, seqs, n, &ro, op, &err);
    if (st != TP_OK) fail_msg("%s: op-parallel run failed: %s", fx->name, err.msg);
    e->batch_parallel = saved_bp;
    e->part_min_tokens = saved_min;
    for (size_t i = 0; i < n; i++) {
        size_t cnt = (size_t)alone[i].rows * (size_t)alone[i].cols;
        int same_shape = bp[i].rows == alone[i].rows && bp[i].cols == alone[i].cols &&
                         op[i].rows == alone[i].rows && op[i].cols == alone[i].cols;
        if (!same_shape || memcmp(bp[i].data, op[i].data, cnt * sizeof(float)) != 0) {
            if (mode_fail++ < 3)
                print_message("%s case %zu: batch-parallel and op-parallel results differ\n",
                              fx->name, i);
            continue;
        }
        for (size_t k = 0; k < cnt; k++)
            if (!(fabs(bp[i].data[k] - alone[i].data[k]) <= BATCH_TOL)) {
                if (mode_fail++ < 3)
                    print_message("%s case %zu: batch-parallel differs from alone by %g\n",
                                  fx->name, i, fabs(bp[i].data[k] - alone[i].data[k]));
                break;
            }
    }
    for (size_t i = 0; i < n; i++) {
        tp_result_free(&bp[i]);
        tp_result_free(&op[i]);
    }
    free(bp);
    free(op);
    /* prompt cases (sentence-transformers prompts) */
    int prompt_fail = 0;
    size_t n_prompt = 0;
    json_t *pcases = json_object_get(g, "prompt_cases");
    for (size_t i = 0; i < json_array_size(pcases); i++) {
        json_t *c = json_array_get(pcases, i);
        const char *text = json_string_value(json_object_get(c, "input"));
        const char *pname = json_string_value(json_object_get(c, "prompt_name"));
        tp_tokenize_opts to;
        tp_tokenize_opts_default(&to);
        to.prompt = tp_engine_prompt(e, pname);
        if (!to.prompt) fail_msg("%s: prompt '%s' not found", fx->name, pname);
        int32_t plen = 0;
        st = tp_engine_tokenize(e, text, strlen(text), NULL, 0, &to, &enc, &plen, &err);
        if (st != TP_OK) fail_msg("%s prompt case %zu: %s", fx->name, i, err.msg);
        tp_seq sq = {enc.ids, enc.type_ids, (int32_t)enc.len, plen};
        tp_result r = {0};
        st = tp_engine_run(e, TP_TASK_EMBED, &sq, 1, &ro, &r, &err);
        if (st != TP_OK) fail_msg("%s prompt case %zu: %s", fx->name, i, err.msg);
        double d = tu_max_abs_diff(r.data, (size_t)r.cols, json_object_get(c, "embedding"));
        if (!(d <= TOL) && prompt_fail++ < 3)
            print_message("%s prompt case %zu: embedding differs by %g\n", fx->name, i, d);
        tp_result_free(&r);
        n_prompt++;
    }
    print_message("%s: %zu/%zu ids, %zu/%zu %s (max diff %.2g), %zu/%zu batch-invariant (max "
                  "%.2g), %d threading-mode failures, %d hidden-state failures, %zu/%zu prompt "
                  "cases\n",
                  fx->label ? fx->label : fx->name, n - (size_t)id_fail, n, n - (size_t)out_fail, n,
                  field, worst, n - (size_t)batch_fail, n, worst_batch, mode_fail, hid_fail,
                  n_prompt - (size_t)prompt_fail, n_prompt);
    for (size_t i = 0; i < n; i++) {
        tp_result_free(&alone[i]);
        tp_result_free(&batch[i]);
        free(idbuf[i]);
        free(tybuf[i]);
    }
    free(seqs);
    free(alone);
    free(batch);
    free(idbuf);
    free(tybuf);
    tp_encoding_free(&enc);
    tp_engine_free(e);
    json_decref(g);
    assert_int_equal(id_fail, 0);
    assert_int_equal(out_fail, 0);
    assert_int_equal(hid_fail, 0);
    assert_int_equal(batch_fail, 0);
    assert_int_equal(mode_fail, 0);
    assert_int_equal(prompt_fail, 0);
}

static void test_fixture(void **state) {
    check_fixture((const fixture *)*state);
}

int main(void) {
    struct CMUnitTest tests[sizeof fixtures / sizeof fixtures[0]];
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        tests[i] = (struct CMUnitTest){fixtures[i].label ? fixtures[i].label : fixtures[i].name,
                                       test_fixture, NULL, NULL, (void *)&fixtures[i]};
    }
    return _cmocka_run_group_tests("models_golden", tests, sizeof fixtures / sizeof fixtures[0],
                                   NULL, NULL);
}
