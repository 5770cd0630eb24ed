/* Tokenizer unit tests: truncation (strategies, directions, pairs), load errors, invalid input,
 * random bytes, concurrent encodes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static tp_tokenizer *load(const char *rel) {
    tp_tokenizer *t = NULL;
    tp_error err = {0};
    tp_status st = tp_tokenizer_load(tu_data(rel), NULL, &t, &err);
    if (st != TP_OK) fail_msg("load %s: %s", rel, err.msg);
    return t;
}

static void encode(const tp_tokenizer *t, const char *a, const char *b, const tp_encode_opts *o,
                   tp_encoding *e) {
    tp_error err = {0};
    tp_status st = tp_tokenizer_encode(t, a, strlen(a), b, b ? strlen(b) : 0, o, e, &err);
    if (st != TP_OK) fail_msg("encode: %s", err.msg);
}

/* ---- truncation --------------------------------------------------------------------------- */

static const char *TEXT_A = "the quick brown fox jumps over the lazy dog and keeps on running";
static const char *TEXT_B = "a short pair text";

typedef struct raw {
    int32_t *a, *b;
    size_t na, nb;
} raw;

static void raw_ids(const tp_tokenizer *t, raw *r) {
    tp_encode_opts o;
    tp_encode_opts_default(&o);
    o.add_special = 0;
    tp_encoding e = {0};
    encode(t, TEXT_A, NULL, &o, &e);
    r->na = e.len;
    r->a = malloc(e.len * sizeof *r->a);
    memcpy(r->a, e.ids, e.len * sizeof *r->a);
    encode(t, TEXT_B, NULL, &o, &e);
    r->nb = e.len;
    r->b = malloc(e.len * sizeof *r->b);
    memcpy(r->b, e.ids, e.len * sizeof *r->b);
    tp_encoding_free(&e);
}

/* Checks e == [CLS] a[a0..a0+na) [SEP] (b[b0..b0+nb) [SEP]) for the BERT template. */
static void check_bert(const tp_tokenizer *t, const tp_encoding *e, const raw *r, size_t a0,
                       size_t na, size_t b0, size_t nb, int pair) {
    int32_t cls = tp_tokenizer_token_to_id(t, "[CLS]"), sep = tp_tokenizer_token_to_id(t, "[SEP]");
    size_t want = na + 2 + (pair ? nb + 1 : 0);
    assert_int_equal(e->len, want);
    size_t k = 0;
    assert_int_equal(e->ids[k], cls);
    assert_int_equal(e->special[k++], 1);
    for (size_t i = 0; i < na; i++, k++) {
        assert_int_equal(e->ids[k], r->a[a0 + i]);
        assert_int_equal(e->type_ids[k], 0);
        assert_int_equal(e->special[k], 0);
    }
    assert_int_equal(e->ids[k++], sep);
    if (!pair) return;
    for (size_t i = 0; i < nb; i++, k++) {
        assert_int_equal(e->ids[k], r->b[b0 + i]);
        assert_int_equal(e->type_ids[k], 1);
    }
    assert_int_equal(e->ids[k], sep);
    assert_int_equal(e->type_ids[k], 1);
}

static void test_truncation(void **state) {
    (void)state;
    tp_tokenizer *t = load("tokenizers-trained/wp.tokenizer.json");
    raw r;
    raw_ids(t, &r);
    assert_true(r.na >= 12 && r.nb >= 3 && r.nb < r.na);
    tp_encoding e = {0};
    tp_encode_opts o;
    tp_encode_opts_default(&o);

    /* single, right and left; max_length counts [CLS] and [SEP] */
    o.max_length = 8;
    encode(t, TEXT_A, NULL, &o, &e);
    check_bert(t, &e, &r, 0, 6, 0, 0, 0);
    o.direction = TP_TRUNC_LEFT;
    encode(t, TEXT_A, NULL, &o, &e);
    check_bert(t, &e, &r, r.na - 6, 6, 0, 0, 0);
    o.direction = TP_TRUNC_RIGHT;

    /* no truncation needed */
    o.max_length = 1000;
    encode(t, TEXT_A, NULL, &o, &e);
    check_bert(t, &e, &r, 0, r.na, 0, 0, 0);

    /* max_length below the special count: only the specials remain */
    o.max_length = 1;
    encode(t, TEXT_A, NULL, &o, &e);
    check_bert(t, &e, &r, 0, 0, 0, 0, 0);

    /* without special tokens nothing is reserved */
    o.max_length = 5;
    o.add_special = 0;
    encode(t, TEXT_A, NULL, &o, &e);
    assert_int_equal(e.len, 5);
    assert_memory_equal(e.ids, r.a, 5 * sizeof(int32_t));
    o.add_special = 1;

    /* pair, longest_first: only the longer one is cut while the shorter fits */
    size_t budget = 2 * r.nb + 2; /* eff = max - 3; the longer keeps more than the shorter */
    o.max_length = budget + 3;
    encode(t, TEXT_A, TEXT_B, &o, &e);
    check_bert(t, &e, &r, 0, budget - r.nb, 0, r.nb, 1);
    o.direction = TP_TRUNC_LEFT;
    encode(t, TEXT_A, TEXT_B, &o, &e);
    check_bert(t, &e, &r, r.na - (budget - r.nb), budget - r.nb, 0, r.nb, 1);
    o.direction = TP_TRUNC_RIGHT;
    /* both cut: eff = 2*nb - 1 -> n1 = eff/2 rounded so the longer gets the extra token */
    size_t eff = 2 * (r.nb - 1) + 1;
    o.max_length = eff + 3;
    encode(t, TEXT_A, TEXT_B, &o, &e);
    check_bert(t, &e, &r, 0, eff / 2 + eff % 2, 0, eff / 2, 1);

    /* only_first / only_second */
    o.strategy = TP_TRUNC_ONLY_FIRST;
    o.max_length = r.nb + 4 + 3;
    encode(t, TEXT_A, TEXT_B, &o, &e);
    check_bert(t, &e, &r, 0, 4, 0, r.nb, 1);
    o.strategy = TP_TRUNC_ONLY_SECOND;
    o.max_length = r.na + 2 + 3;
    o.direction = TP_TRUNC_LEFT;
    encode(t, TEXT_A, TEXT_B, &o, &e);
    check_bert(t, &e, &r, 0, r.na, r.nb - 2, 2, 1);
    o.direction = TP_TRUNC_RIGHT;

    /* impossible: the target sequence is too short, or missing */
    tp_error err = {0};
    o.max_length = 4;
    assert_int_equal(
        tp_tokenizer_encode(t, TEXT_A, strlen(TEXT_A), TEXT_B, strlen(TEXT_B), &o, &e, &err),
        TP_INVALID);
    assert_non_null(strstr(err.msg, "too short"));
    o.max_length = 5;
    assert_int_equal(tp_tokenizer_encode(t, TEXT_A, strlen(TEXT_A), NULL, 0, &o, &e, &err),
                     TP_INVALID);
    assert_non_null(strstr(err.msg, "second"));
    o.strategy = TP_TRUNC_ONLY_FIRST;
    o.max_length = 8;
    encode(t, TEXT_A, NULL, &o, &e);
    check_bert(t, &e, &r, 0, 6, 0, 0, 0);

    tp_encoding_free(&e);
    free(r.a);
    free(r.b);
    tp_tokenizer_free(t);
}

/* ---- errors ------------------------------------------------------------------------------- */

static const char *MODEL = "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\","
                           "\"vocab\":{\"[UNK]\":0,\"a\":1,\"##b\":2}}";

static void expect_load_error(const char *json, tp_status code, const char *needle) {
    tp_tokenizer *t = NULL;
    tp_error err = {0};
    tp_status st = tp_tokenizer_load_json(json, strlen(json), &t, &err);
    if (st != code || !strstr(err.msg, needle))
        fail_msg("load of %s: status %d msg '%s' (want %d, '%s')", json, st, err.msg, code, needle);
    assert_null(t);
}

static void test_errors(void **state) {
    (void)state;
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"normalizer\":{\"type\":\"Foo\"},%s}", MODEL);
    expect_load_error(buf, TP_UNSUPPORTED, "normalizer type 'Foo'");
    snprintf(buf, sizeof buf, "{\"pre_tokenizer\":{\"type\":\"Bar\"},%s}", MODEL);
    expect_load_error(buf, TP_UNSUPPORTED, "pre_tokenizer type 'Bar'");
    snprintf(buf, sizeof buf, "{\"decoder\":{\"type\":\"Baz\"},%s}", MODEL);
    expect_load_error(buf, TP_UNSUPPORTED, "decoder type 'Baz'");
    snprintf(buf, sizeof buf, "{\"post_processor\":{\"type\":\"Qux\"},%s}", MODEL);
    expect_load_error(buf, TP_UNSUPPORTED, "post_processor type 'Qux'");
    snprintf(buf, sizeof buf,
             "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},"
             "{\"type\":\"Nope\"}]},%s}",
             MODEL);
    expect_load_error(buf, TP_UNSUPPORTED, "normalizer type 'Nope'");
    expect_load_error("{\"model\":{\"type\":\"Magic\"}}", TP_UNSUPPORTED, "model type 'Magic'");
    expect_load_error("{\"model\": ", TP_FORMAT, "invalid JSON");
    expect_load_error("[1,2]", TP_FORMAT, "not an object");
    expect_load_error("{}", TP_FORMAT, "model");
    snprintf(buf, sizeof buf,
             "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},"
             "\"behavior\":\"Isolated\"},%s}",
             MODEL);
    expect_load_error(buf, TP_FORMAT, "regex");

    /* a minimal tokenizer works */
    snprintf(buf, sizeof buf, "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},%s}", MODEL);
    tp_tokenizer *t = NULL;
    tp_error err = {0};
    assert_int_equal(tp_tokenizer_load_json(buf, strlen(buf), &t, &err), TP_OK);
    tp_encoding e = {0};
    encode(t, "ab a zz", NULL, NULL, &e);
    assert_int_equal(e.len, 4);
    assert_int_equal(e.ids[0], 1);
    assert_int_equal(e.ids[1], 2);
    assert_int_equal(e.ids[2], 1);
    assert_int_equal(e.ids[3], 0);
    assert_int_equal(tp_tokenizer_vocab_size(t), 3);
    assert_string_equal(tp_tokenizer_id_to_token(t, 2), "##b");
    assert_null(tp_tokenizer_id_to_token(t, 99));
    assert_int_equal(tp_tokenizer_token_to_id(t, "nope"), -1);

    /* invalid UTF-8 input */
    const char bad[] = "ok \xC3\x28 then";
    assert_int_equal(tp_tokenizer_encode(t, bad, sizeof bad - 1, NULL, 0, NULL, &e, &err),
                     TP_INVALID);
    assert_non_null(strstr(err.msg, "UTF-8"));
    assert_int_equal(tp_tokenizer_encode(t, "a", 1, "\xFF", 1, NULL, &e, &err), TP_INVALID);
    assert_int_equal(tp_tokenizer_encode(t, "\xED\xA0\x80", 3, NULL, 0, NULL, &e, &err),
                     TP_INVALID); /* surrogate */
    tp_encoding_free(&e);
    tp_tokenizer_free(t);

    /* missing file */
    assert_int_equal(tp_tokenizer_load("/nonexistent/tokenizer.json", NULL, &t, &err), TP_IO);
}

/* ---- random input ------------------------------------------------------------------------- */

static const char *ALL[] = {
    "tokenizers-trained/wp.tokenizer.json",
    "tokenizers-trained/uni.tokenizer.json",
    "tokenizers-trained/llama.tokenizer.json",
    "tokenizers-trained/qwen.tokenizer.json",
    "tokenizers-trained/modernbert.tokenizer.json",
    "tokenizers-real/xlmr-precompiled/tokenizer.json",
};

static uint32_t rng(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

static size_t put_utf8(uint32_t cp, unsigned char *o) {
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static void test_random_input(void **state) {
    (void)state;
    uint64_t seed = 12345;
    unsigned char buf[1200];
    for (size_t k = 0; k < sizeof ALL / sizeof ALL[0]; k++) {
        tp_tokenizer *t = load(ALL[k]);
        tp_encoding e = {0};
        tp_error err = {0};
        for (int it = 0; it < 300; it++) {
            size_t n = rng(&seed) % 256;
            if (it & 1) { /* raw bytes: must be either OK or TP_INVALID */
                for (size_t i = 0; i < n; i++)
                    buf[i] = (unsigned char)rng(&seed);
            } else { /* random valid UTF-8 mixing ASCII, specials and all planes */
                size_t len = 0;
                while (len + 4 < n) {
                    uint32_t r = rng(&seed) % 8, cp;
                    if (r < 3)
                        cp = 0x20 + rng(&seed) % 0x5F;
                    else if (r < 4)
                        cp = rng(&seed) % 0x20;
                    else if (r < 6)
                        cp = rng(&seed) % 0x3000;
                    else
                        cp = rng(&seed) % 0x110000;
                    if (cp >= 0xD800 && cp < 0xE000) cp = 0x2581;
                    len += put_utf8(cp, buf + len);
                }
                n = len;
            }
            size_t pn = n / 2;
            while (!(it & 1) && pn > 0 && (buf[pn] & 0xC0) == 0x80)
                pn--;
            tp_status st =
                tp_tokenizer_encode(t, (const char *)buf, n, (const char *)buf, pn, NULL, &e, &err);
            assert_true(st == TP_OK || st == TP_INVALID);
            if (!(it & 1)) assert_int_equal(st, TP_OK);
            if (st == TP_OK) {
                char *d = NULL;
                size_t dl;
                assert_int_equal(tp_tokenizer_decode(t, e.ids, e.len, it & 2, &d, &dl, &err),
                                 TP_OK);
                free(d);
            }
        }
        /* decoding arbitrary ids (including unknown ones) never fails */
        int32_t ids[64];
        for (int i = 0; i < 64; i++)
            ids[i] = (int32_t)(rng(&seed) % 5000) - 10;
        char *d = NULL;
        assert_int_equal(tp_tokenizer_decode(t, ids, 64, 0, &d, NULL, &err), TP_OK);
        free(d);
        tp_encoding_free(&e);
        tp_tokenizer_free(t);
    }
}

/* ---- threads ------------------------------------------------------------------------------ */

typedef struct job {
    const tp_tokenizer *t;
    json_t *cases;
    int32_t **want;
    size_t *want_n;
    int bad;
} job;

static void *worker(void *p) {
    job *j = p;
    tp_encoding e = {0};
    tp_error err = {0};
    for (int rep = 0; rep < 3; rep++) {
        for (size_t i = 0; i < json_array_size(j->cases); i++) {
            json_t *c = json_object_get(json_array_get(j->cases, i), "text");
            if (tp_tokenizer_encode(j->t, json_string_value(c), json_string_length(c), NULL, 0,
                                    NULL, &e, &err) != TP_OK ||
                e.len != j->want_n[i] || memcmp(e.ids, j->want[i], e.len * sizeof(int32_t)))
                j->bad++;
        }
    }
    tp_encoding_free(&e);
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    const char *names[] = {"qwen", "uni", "wp"};
    for (size_t k = 0; k < 3; k++) {
        char tp[256], gp[256];
        snprintf(tp, sizeof tp, "tokenizers-trained/%s.tokenizer.json", names[k]);
        snprintf(gp, sizeof gp, "tokenizers-trained/%s.golden.json", names[k]);
        tp_tokenizer *t = load(tp);
        json_error_t je;
        json_t *g = json_load_file(tu_data(gp), JSON_ALLOW_NUL, &je);
        assert_non_null(g);
        json_t *cases = json_object_get(g, "cases");
        size_t n = json_array_size(cases);
        int32_t **want = calloc(n, sizeof *want);
        size_t *want_n = calloc(n, sizeof *want_n);
        for (size_t i = 0; i < n; i++) {
            json_t *ids = json_object_get(json_array_get(cases, i), "ids");
            want_n[i] = json_array_size(ids);
            want[i] = malloc((want_n[i] + 1) * sizeof(int32_t));
            for (size_t q = 0; q < want_n[i]; q++)
                want[i][q] = (int32_t)json_integer_value(json_array_get(ids, q));
        }
        enum { NT = 4 };
        pthread_t th[NT];
        job jobs[NT];
        for (int i = 0; i < NT; i++) {
            jobs[i] = (job){t, cases, want, want_n, 0};
            assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
        }
        for (int i = 0; i < NT; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(jobs[i].bad, 0);
        }
        for (size_t i = 0; i < n; i++)
            free(want[i]);
        free(want);
        free(want_n);
        json_decref(g);
        tp_tokenizer_free(t);
    }
}

/* ---- tokenizer_config.json ---------------------------------------------------------------- */

static void test_config(void **state) {
    (void)state;
    /* llama2 (LlamaTokenizer): add_eos_token switched on through a config file */
    char cfg[] = "/tmp/tp_tok_cfg_XXXXXX";
    int fd = mkstemp(cfg);
    assert_true(fd >= 0);
    const char *c = "{\"tokenizer_class\":\"LlamaTokenizer\",\"add_bos_token\":true,"
                    "\"add_eos_token\":true,\"bos_token\":\"<s>\",\"eos_token\":\"</s>\"}";
    assert_int_equal(write(fd, c, strlen(c)), (ssize_t)strlen(c));
    close(fd);
    tp_tokenizer *t = NULL;
    tp_error err = {0};
    assert_int_equal(
        tp_tokenizer_load(tu_data("tokenizers-real/llama2/tokenizer.json"), cfg, &t, &err), TP_OK);
    unlink(cfg);
    tp_encoding e = {0};
    encode(t, "Hello", NULL, NULL, &e);
    assert_true(e.len >= 3);
    assert_int_equal(e.ids[0], tp_tokenizer_token_to_id(t, "<s>"));
    assert_int_equal(e.ids[e.len - 1], tp_tokenizer_token_to_id(t, "</s>"));
    assert_int_equal(e.special[0], 1);
    assert_int_equal(e.special[e.len - 1], 1);
    tp_encode_opts o;
    tp_encode_opts_default(&o);
    o.max_length = 3;
    encode(t, "Hello world again", NULL, &o, &e);
    assert_int_equal(e.len, 3);
    tp_encoding_free(&e);
    tp_tokenizer_free(t);

    /* bert-base-uncased with its config is unchanged */
    assert_int_equal(
        tp_tokenizer_load(tu_data("tokenizers-real/bert-base-uncased/tokenizer.json"),
                          tu_data("tokenizers-real/bert-base-uncased/tokenizer_config.json"), &t,
                          &err),
        TP_OK);
    encode(t, "Hello World", NULL, NULL, &e);
    assert_int_equal(e.len, 4);
    assert_int_equal(e.ids[1], 7592); /* hello */
    tp_encoding_free(&e);
    tp_tokenizer_free(t);
}

/* ---- pre-tokenizer split behaviors (examples from the HF docs) --------------------------- */

static const char *WL_VOCAB =
    "{\"type\":\"WordLevel\",\"unk_token\":\"?\",\"vocab\":{\"?\":0,\"the\":1,\"-\":2,\"final\":3,"
    "\"countdown\":4,\"the-\":5,\"final-\":6,\"-final\":7,\"-countdown\":8,\"--\":9,\"Call \":10,"
    "\"1\":11,\"2\":12,\"3\":13,\" please\":14,\"Hey\":15,\"friend\":16,\"!\":17,\"Hey friend\":18,"
    "\"123\":19}}";

static void expect_pretok(const char *pretok, const char *text, const int32_t *want, size_t n) {
    char json[2048];
    snprintf(json, sizeof json, "{\"pre_tokenizer\":%s,\"model\":%s}", pretok, WL_VOCAB);
    tp_tokenizer *t = NULL;
    tp_error err = {0};
    if (tp_tokenizer_load_json(json, strlen(json), &t, &err) != TP_OK) fail_msg("%s", err.msg);
    tp_encoding e = {0};
    encode(t, text, NULL, NULL, &e);
    if (e.len != n || memcmp(e.ids, want, n * sizeof *want)) {
        fprintf(stderr, "pre_tokenizer %s on '%s': got", pretok, text);
        for (size_t i = 0; i < e.len; i++)
            fprintf(stderr, " %d", e.ids[i]);
        fprintf(stderr, "\n");
        fail();
    }
    tp_encoding_free(&e);
    tp_tokenizer_free(t);
}

#define SPLIT(b)                                                                                   \
    "{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"" b "\",\"invert\":false}"

static void test_pretok_behaviors(void **state) {
    (void)state;
    const char *s = "the-final--countdown";
    expect_pretok(SPLIT("Removed"), s, (const int32_t[]){1, 3, 4}, 3);
    expect_pretok(SPLIT("Isolated"), s, (const int32_t[]){1, 2, 3, 2, 2, 4}, 6);
    expect_pretok(SPLIT("MergedWithPrevious"), s, (const int32_t[]){5, 6, 2, 4}, 4);
    expect_pretok(SPLIT("MergedWithNext"), s, (const int32_t[]){1, 7, 2, 8}, 4);
    expect_pretok(SPLIT("Contiguous"), s, (const int32_t[]){1, 2, 3, 9, 4}, 5);
    expect_pretok("{\"type\":\"Digits\",\"individual_digits\":true}", "Call 123 please",
                  (const int32_t[]){10, 11, 12, 13, 14}, 5);
    expect_pretok("{\"type\":\"Digits\",\"individual_digits\":false}", "Call 123 please",
                  (const int32_t[]){10, 19, 14}, 3);
    expect_pretok("{\"type\":\"Whitespace\"}", "Hey friend!", (const int32_t[]){15, 16, 17}, 3);
    expect_pretok("{\"type\":\"WhitespaceSplit\"}", "Hey friend!", (const int32_t[]){15, 0}, 2);
    expect_pretok("{\"type\":\"Punctuation\"}", "Hey friend!!", (const int32_t[]){18, 17, 17}, 3);
    /* invert: the matches are the pieces, the rest is the delimiter */
    expect_pretok("{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[a-z]+\"},\"behavior\":\"Removed\","
                  "\"invert\":true}",
                  s, (const int32_t[]){1, 3, 4}, 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncation),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_random_input), cmocka_unit_test(test_threads),
        cmocka_unit_test(test_config),       cmocka_unit_test(test_pretok_behaviors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
