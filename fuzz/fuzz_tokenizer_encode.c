/* libFuzzer: encode arbitrary bytes (valid UTF-8 or not) with real tokenizers of every model
 * family, with and without a pair and truncation; decode the result. Byte 0 picks the tokenizer
 * and options, the rest is split into text and pair. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tidepool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *FILES[] = {
    "tokenizers-trained/wp.tokenizer.json",
    "tokenizers-trained/uni.tokenizer.json",
    "tokenizers-trained/llama.tokenizer.json",
    "tokenizers-trained/qwen.tokenizer.json",
    "tokenizers-trained/modernbert.tokenizer.json",
    "tokenizers-real/xlmr-precompiled/tokenizer.json",
    "tokenizers-trained/wp_cased.tokenizer.json",
    "tokenizers-real/roberta-style/tokenizer.json",
};
#define N_TOK (sizeof FILES / sizeof FILES[0])
static tp_tokenizer *toks[N_TOK];

static void load_all(void) {
    for (size_t i = 0; i < N_TOK; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", TP_TEST_DATA, FILES[i]);
        tp_error err;
        if (tp_tokenizer_load(path, NULL, &toks[i], &err) != TP_OK) {
            fprintf(stderr, "fuzz_tokenizer_encode: %s\n", err.msg);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!toks[0]) load_all();
    if (size < 2) return 0;
    uint8_t sel = data[0], opt = data[1];
    const tp_tokenizer *t = toks[sel % N_TOK];
    const char *text = (const char *)data + 2;
    size_t n = size - 2, split = n;
    if (opt & 1) split = n / 2;
    tp_encode_opts o;
    tp_encode_opts_default(&o);
    o.add_special = !(opt & 2);
    o.max_length = (opt & 4) ? (size_t)(opt >> 4) : 0;
    o.strategy = (tp_trunc_strategy)((opt >> 3) % 3);
    o.direction = (opt & 0x80) ? TP_TRUNC_LEFT : TP_TRUNC_RIGHT;
    tp_encoding e = {0};
    tp_error err;
    if (tp_tokenizer_encode(t, text, split, (opt & 1) ? text + split : NULL, n - split, &o, &e,
                            &err) == TP_OK) {
        char *d = NULL;
        size_t dl;
        if (tp_tokenizer_decode(t, e.ids, e.len, sel & 0x80, &d, &dl, &err) == TP_OK) free(d);
    }
    tp_encoding_free(&e);
    return 0;
}
