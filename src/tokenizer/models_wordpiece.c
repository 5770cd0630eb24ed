/* WordPiece: greedy longest-match-first over a word; continuation pieces carry a prefix ("##").
 * A word longer than max_input_chars_per_word chars, or one that cannot be covered, becomes the
 * single unk token. (Also loads WordLevel, which shares the vocab + unk layout.) */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

typedef struct wordpiece {
    char *prefix;
    size_t prefix_len;
    size_t max_chars;
} wordpiece;

tp_status tk_load_vocab_object(json_t *vocab, tk_vocab *v, tp_error *err);

tp_status tk_load_vocab_object(json_t *vocab, tk_vocab *v, tp_error *err) {
    if (!json_is_object(vocab))
        return tp_fail(err, TP_FORMAT, "tokenizer.json: model.vocab is not an object");
    if (tk_smap_init(&v->map, json_object_size(vocab)))
        return tp_fail(err, TP_NOMEM, "out of memory");
    const char *k;
    json_t *val;
    size_t n = json_object_size(vocab);
    json_object_foreach(vocab, k, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) > INT32_MAX - 1)
            return tp_fail(err, TP_FORMAT, "tokenizer.json: vocab id of '%.40s' is not valid", k);
        if (json_integer_value(val) >= (json_int_t)(n * 4 + 1000000))
            return tp_fail(err, TP_FORMAT, "tokenizer.json: vocab id of '%.40s' is too large", k);
        if (tk_smap_put(&v->map, k, strlen(k), (int32_t)json_integer_value(val)))
            return tp_fail(err, TP_NOMEM, "out of memory");
    }
    if (tk_vocab_index(v)) return tp_fail(err, TP_NOMEM, "out of memory");
    return TP_OK;
}

tp_status tk_wordpiece_load(json_t *j, tk_model *m, tp_error *err) {
    wordpiece *wp = calloc(1, sizeof *wp);
    if (!wp) return tp_fail(err, TP_NOMEM, "out of memory");
    m->impl = wp;
    tp_status st = tk_load_vocab_object(json_object_get(j, "vocab"), &m->vocab, err);
    if (st != TP_OK) return st;
    const char *pre = json_string_value(json_object_get(j, "continuing_subword_prefix"));
    if (m->kind == TK_WORDLEVEL) pre = "";
    if (!pre) pre = "##";
    wp->prefix = strdup(pre);
    if (!wp->prefix) return tp_fail(err, TP_NOMEM, "out of memory");
    wp->prefix_len = strlen(pre);
    json_t *mx = json_object_get(j, "max_input_chars_per_word");
    wp->max_chars =
        json_is_integer(mx) && json_integer_value(mx) > 0 ? (size_t)json_integer_value(mx) : 100;
    const char *unk = json_string_value(json_object_get(j, "unk_token"));
    if (unk) m->unk_id = tk_smap_get(&m->vocab.map, unk, strlen(unk));
    return TP_OK;
}

void tk_wordpiece_free(tk_model *m) {
    wordpiece *wp = m->impl;
    if (!wp) return;
    free(wp->prefix);
    free(wp);
    m->impl = NULL;
}

int tk_wordpiece_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out, tk_ws *w) {
    const wordpiece *wp = m->impl;
    if (n == 0) return 0;
    if (tk_u8count(s, n) > wp->max_chars) return m->unk_id >= 0 ? tk_ids_push(out, m->unk_id) : 0;
    size_t mark = out->n, start = 0;
    tk_buf *key = &w->tmp;
    while (start < n) {
        /* key = (prefix if not first) + s[start..n) */
        key->len = 0;
        if (start > 0 && tk_buf_add(key, wp->prefix, wp->prefix_len)) return -1;
        size_t base = key->len;
        if (tk_buf_add(key, s + start, n - start)) return -1;
        size_t end = n;
        int32_t id = -1;
        while (start < end) {
            id = tk_smap_get(&m->vocab.map, key->p, base + (end - start));
            if (id >= 0) break;
            do
                end--;
            while (end > start && ((unsigned char)s[end] & 0xC0) == 0x80);
        }
        if (id < 0) {
            out->n = mark;
            return m->unk_id >= 0 ? tk_ids_push(out, m->unk_id) : 0;
        }
        if (tk_ids_push(out, id)) return -1;
        start = end;
    }
    return 0;
}
