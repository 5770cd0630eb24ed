/* libFuzzer: tokenizer.json parsing. Any input must load or fail with a status, and a loaded
 * tokenizer must encode and decode without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tidepool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tp_tokenizer *t = NULL;
    tp_error err;
    if (tp_tokenizer_load_json((const char *)data, size, &t, &err) != TP_OK) return 0;
    static const char *texts[] = {"Hello, world! <s> [CLS] caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 42",
                                  "", "   ", "a"};
    tp_encoding e = {0};
    tp_encode_opts o;
    tp_encode_opts_default(&o);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        o.max_length = i * 3;
        if (tp_tokenizer_encode(t, texts[i], strlen(texts[i]), texts[0], 5, &o, &e, &err) ==
            TP_OK) {
            char *d = NULL;
            if (tp_tokenizer_decode(t, e.ids, e.len, (int)(i & 1), &d, NULL, &err) == TP_OK)
                free(d);
        }
    }
    int32_t ids[] = {0, 1, 2, 3, 100, -1, 1 << 30};
    char *d = NULL;
    if (tp_tokenizer_decode(t, ids, 7, 0, &d, NULL, &err) == TP_OK) free(d);
    (void)tp_tokenizer_vocab_size(t);
    (void)tp_tokenizer_id_to_token(t, 1);
    tp_encoding_free(&e);
    tp_tokenizer_free(t);
    return 0;
}
