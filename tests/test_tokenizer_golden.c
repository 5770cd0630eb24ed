/* Golden test: ids, ids without special tokens, pair ids + type ids and decoded text must match
 * the HF tokenizers reference exactly, for every trained and real tokenizer. The large real
 * tokenizers come from the cache filled by tests/fetch-tokenizers.sh; a missing file fails.
 * TP_GOLDEN_ONLY=name runs one tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct golden {
    const char *name;
    const char *where; /* "trained", "real", "cache"; variants: a path under tests/data */
    json_t *override;  /* variants: top-level keys replacing the base tokenizer's */
} golden;

static const golden GOLDENS[] = {
    {"bert_base_uncased", "trained", NULL},
    {"wp", "trained", NULL},
    {"wp_cased", "trained", NULL},
    {"uni", "trained", NULL},
    {"llama", "trained", NULL},
    {"qwen", "trained", NULL},
    {"qwen_eos", "trained", NULL},
    {"modernbert", "trained", NULL},
    {"bert-base-uncased", "real", NULL},
    {"roberta-style", "real", NULL},
    {"xlmr-precompiled", "real", NULL},
    {"gpt2", "real", NULL},
    {"llama2", "real", NULL},
    {"llama3", "cache", NULL},
    {"qwen2_5", "cache", NULL},
    {"qwen3", "cache", NULL},
    {"deepseek_v3", "cache", NULL},
};

#define MAX_SHOWN 4

static int ids_equal(const int32_t *a, size_t n, json_t *arr) {
    if (!json_is_array(arr) || json_array_size(arr) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (json_integer_value(json_array_get(arr, i)) != a[i]) return 0;
    return 1;
}

static void show(const char *what, const char *text, const int32_t *got, size_t n, json_t *want) {
    fprintf(stderr, "  MISMATCH %s for %.200s\n    got: [", what, text);
    for (size_t i = 0; i < n && i < 64; i++)
        fprintf(stderr, "%s%d", i ? "," : "", got[i]);
    char *w = json_dumps(want, JSON_COMPACT);
    fprintf(stderr, "%s]\n    want: %.600s\n", n > 64 ? ",..." : "", w ? w : "?");
    free(w);
}

static void run_golden(const golden *g, int *failed) {
    char tok_path[4096], gold_path[4096];
    if (g->override) {
        snprintf(tok_path, sizeof tok_path, "%s/%s", TP_TEST_DATA, g->where);
    } else if (!strcmp(g->where, "trained")) {
        snprintf(tok_path, sizeof tok_path, "%s/tokenizers-trained/%s.tokenizer.json", TP_TEST_DATA,
                 g->name);
        snprintf(gold_path, sizeof gold_path, "%s/tokenizers-trained/%s.golden.json", TP_TEST_DATA,
                 g->name);
    } else {
        snprintf(tok_path, sizeof tok_path, "%s/%s/tokenizer.json",
                 !strcmp(g->where, "real") ? TP_TEST_DATA "/tokenizers-real" : TP_TEST_CACHE,
                 g->name);
        snprintf(gold_path, sizeof gold_path, "%s/tokenizers-real/%s.golden.json", TP_TEST_DATA,
                 g->name);
    }
    tp_tokenizer *t = NULL;
    tp_error err = {0};
    tp_status lst;
    if (g->override) {
        /* variant: the base tokenizer with top-level components replaced */
        snprintf(gold_path, sizeof gold_path, "%s/tokenizers-variants/%s.golden.json", TP_TEST_DATA,
                 g->name);
        json_error_t je0;
        json_t *base = json_load_file(tok_path, 0, &je0);
        char *js = NULL;
        if (base && !json_object_update(base, g->override)) js = json_dumps(base, JSON_COMPACT);
        lst = js ? tp_tokenizer_load_json(js, strlen(js), &t, &err) : TP_FORMAT;
        if (!js) snprintf(err.msg, sizeof err.msg, "cannot build variant from %.200s", tok_path);
        free(js);
        json_decref(base);
    } else {
        lst = tp_tokenizer_load(tok_path, NULL, &t, &err);
    }
    if (lst != TP_OK) {
        fprintf(stderr, "%s: cannot load %s: %s%s\n", g->name, tok_path, err.msg,
                !strcmp(g->where, "cache") ? " (run tests/fetch-tokenizers.sh)" : "");
        *failed = 1;
        return;
    }
    json_error_t je;
    json_t *gold = json_load_file(gold_path, JSON_ALLOW_NUL, &je);
    if (!gold) {
        fprintf(stderr, "%s: cannot load %s: %s\n", g->name, gold_path, je.text);
        tp_tokenizer_free(t);
        *failed = 1;
        return;
    }
    json_t *cases = json_object_get(gold, "cases"), *pairs = json_object_get(gold, "pair_cases");
    size_t nc = json_array_size(cases), np = json_array_size(pairs);
    size_t ok_ids = 0, ok_ns = 0, ok_pairs = 0, ok_dec = 0, shown = 0;
    tp_encoding enc = {0};
    tp_encode_opts with, without;
    tp_encode_opts_default(&with);
    tp_encode_opts_default(&without);
    without.add_special = 0;
    for (size_t i = 0; i < nc; i++) {
        json_t *c = json_array_get(cases, i);
        json_t *jt = json_object_get(c, "text");
        const char *text = json_string_value(jt);
        size_t len = json_string_length(jt);
        if (tp_tokenizer_encode(t, text, len, NULL, 0, &with, &enc, &err) != TP_OK) {
            fprintf(stderr, "  encode failed: %s\n", err.msg);
            continue;
        }
        if (ids_equal(enc.ids, enc.len, json_object_get(c, "ids")))
            ok_ids++;
        else if (shown++ < MAX_SHOWN)
            show("ids", text, enc.ids, enc.len, json_object_get(c, "ids"));
        /* decode the reference ids */
        json_t *want_ids = json_object_get(c, "ids");
        size_t nw = json_array_size(want_ids);
        int32_t *wv = malloc((nw + 1) * sizeof *wv);
        for (size_t k = 0; k < nw; k++)
            wv[k] = (int32_t)json_integer_value(json_array_get(want_ids, k));
        char *dec = NULL;
        size_t dlen = 0;
        if (tp_tokenizer_decode(t, wv, nw, 1, &dec, &dlen, &err) == TP_OK) {
            json_t *wd = json_object_get(c, "decoded");
            if (dlen == json_string_length(wd) && !memcmp(dec, json_string_value(wd), dlen)) {
                ok_dec++;
            } else if (shown++ < MAX_SHOWN) {
                fprintf(stderr,
                        "  MISMATCH decoded for %.200s\n    got:  %.300s\n    want: %.300s\n", text,
                        dec, json_string_value(wd));
            }
        }
        free(dec);
        free(wv);
        if (tp_tokenizer_encode(t, text, len, NULL, 0, &without, &enc, &err) != TP_OK) continue;
        if (ids_equal(enc.ids, enc.len, json_object_get(c, "ids_no_special")))
            ok_ns++;
        else if (shown++ < MAX_SHOWN)
            show("ids_no_special", text, enc.ids, enc.len, json_object_get(c, "ids_no_special"));
    }
    for (size_t i = 0; i < np; i++) {
        json_t *c = json_array_get(pairs, i);
        json_t *jt = json_object_get(c, "text"), *jp = json_object_get(c, "pair");
        if (tp_tokenizer_encode(t, json_string_value(jt), json_string_length(jt),
                                json_string_value(jp), json_string_length(jp), &with, &enc,
                                &err) != TP_OK) {
            fprintf(stderr, "  pair encode failed: %s\n", err.msg);
            continue;
        }
        int a = ids_equal(enc.ids, enc.len, json_object_get(c, "ids"));
        int b = ids_equal(enc.type_ids, enc.len, json_object_get(c, "type_ids"));
        if (a && b)
            ok_pairs++;
        else if (shown++ < MAX_SHOWN)
            show(a ? "pair type_ids" : "pair ids", json_string_value(jt),
                 a ? enc.type_ids : enc.ids, enc.len, json_object_get(c, a ? "type_ids" : "ids"));
    }
    printf("%s: %zu/%zu ids, %zu/%zu no_special, %zu/%zu pairs, %zu/%zu decoded\n", g->name, ok_ids,
           nc, ok_ns, nc, ok_pairs, np, ok_dec, nc);
    fflush(stdout);
    if (ok_ids != nc || ok_ns != nc || ok_pairs != np || ok_dec != nc) *failed = 1;
    tp_encoding_free(&enc);
    json_decref(gold);
    tp_tokenizer_free(t);
}

static void test_goldens(void **state) {
    (void)state;
    const char *only = getenv("TP_GOLDEN_ONLY");
    int failed = 0;
    for (size_t i = 0; i < sizeof GOLDENS / sizeof GOLDENS[0]; i++) {
        if (only && strcmp(only, GOLDENS[i].name)) continue;
        int f = 0;
        run_golden(&GOLDENS[i], &f);
        if (f) fprintf(stderr, "%s: FAILED\n", GOLDENS[i].name);
        failed |= f;
    }
    /* Variants (tests/data/tokenizers-variants/variants.json): components no shipped tokenizer
     * uses, checked against HF on the same base vocabularies. */
    json_error_t je;
    json_t *specs = json_load_file(TP_TEST_DATA "/tokenizers-variants/variants.json", 0, &je);
    if (!specs) {
        fprintf(stderr, "cannot load variants.json: %s\n", je.text);
        failed = 1;
    }
    size_t i;
    json_t *sp;
    json_array_foreach(specs, i, sp) {
        golden g = {json_string_value(json_object_get(sp, "name")),
                    json_string_value(json_object_get(sp, "base")),
                    json_object_get(sp, "override")};
        if (!g.name || !g.where || !json_is_object(g.override)) {
            failed = 1;
            continue;
        }
        if (only && strcmp(only, g.name)) continue;
        int f = 0;
        run_golden(&g, &f);
        if (f) fprintf(stderr, "%s: FAILED\n", g.name);
        failed |= f;
    }
    json_decref(specs);
    assert_int_equal(failed, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_goldens)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
