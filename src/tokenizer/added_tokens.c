/* Added tokens (tokenizer.json "added_tokens"). Tokens with normalized=false are matched in the
 * raw input; the text between them is normalized, then tokens with normalized=true are matched in
 * the normalized text (their content normalized at load). Matching is leftmost-longest over
 * non-overlapping matches (Aho-Corasick semantics, as HF), with single_word / lstrip / rstrip. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

static int cmp_id(const void *a, const void *b) {
    const tk_added *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int jb(json_t *o, const char *k) {
    return json_is_true(json_object_get(o, k));
}

tp_status tk_added_load(json_t *arr, const tk_norm *nm, const tk_model *model, tk_added_vocab *av,
                        tp_error *err) {
    memset(av, 0, sizeof *av);
    av->max_id = -1;
    if (tk_trie_init(&av->raw) || tk_trie_init(&av->norm) || tk_smap_init(&av->by_content, 16))
        return tp_fail(err, TP_NOMEM, "out of memory");
    if (!arr || json_is_null(arr)) return TP_OK;
    if (!json_is_array(arr))
        return tp_fail(err, TP_FORMAT, "tokenizer.json: added_tokens is not a list");
    size_t n = json_array_size(arr);
    av->v = calloc(n ? n : 1, sizeof *av->v);
    if (!av->v) return tp_fail(err, TP_NOMEM, "out of memory");
    /* Ids are assigned as HF's AddedVocabulary::add_tokens does when it reads the file (the "id"
     * fields are not trusted): in file order, empty and repeated contents skipped, a content in
     * the model vocab takes that id, else max(added ids) + 1, starting at the model vocab size. */
    size_t model_size = model->kind == TK_UNIGRAM ? model->vocab.n : model->vocab.map.n;
    tk_smap seen;
    if (tk_smap_init(&seen, n)) return tp_fail(err, TP_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        json_t *c = json_object_get(e, "content");
        if (!json_is_string(c)) {
            tk_smap_free(&seen);
            return tp_fail(err, TP_FORMAT, "tokenizer.json: added token %zu is malformed", i);
        }
        size_t len = json_string_length(c);
        const char *str = json_string_value(c);
        if (len == 0 || tk_smap_get(&seen, str, len) >= 0) continue;
        int32_t id = tk_smap_get(&model->vocab.map, str, len);
        if (id < 0) {
            if (av->max_id < 0)
                id = (int32_t)model_size;
            else if ((size_t)av->max_id >= model_size || model_size == 0)
                id = av->max_id + 1;
            else
                id = (int32_t)model_size;
        }
        tk_added *t = &av->v[av->n++];
        t->len = len;
        t->content = malloc(len + 1);
        if (!t->content || tk_smap_put(&seen, str, len, id)) {
            tk_smap_free(&seen);
            return tp_fail(err, TP_NOMEM, "out of memory");
        }
        memcpy(t->content, str, len);
        t->content[len] = 0;
        t->id = id;
        t->special = (uint8_t)jb(e, "special");
        t->single_word = (uint8_t)jb(e, "single_word");
        t->lstrip = (uint8_t)jb(e, "lstrip");
        t->rstrip = (uint8_t)jb(e, "rstrip");
        json_t *nz = json_object_get(e, "normalized");
        t->normalized = (uint8_t)(json_is_boolean(nz) ? json_is_true(nz) : !t->special);
        if (t->id > av->max_id) av->max_id = t->id;
    }
    tk_smap_free(&seen);
    qsort(av->v, av->n, sizeof *av->v, cmp_id);
    tk_ws w;
    tk_buf nb = {0};
    if (tk_ws_init(&w)) {
        tk_ws_free(&w);
        return tp_fail(err, TP_NOMEM, "out of memory");
    }
    tp_status st = TP_OK;
    for (size_t i = 0; i < av->n && st == TP_OK; i++) {
        tk_added *t = &av->v[i];
        if (tk_smap_put(&av->by_content, t->content, t->len, (int32_t)i)) {
            st = tp_fail(err, TP_NOMEM, "out of memory");
            break;
        }
        if (!t->normalized) {
            if (tk_trie_add(&av->raw, t->content, t->len, (int32_t)i))
                st = tp_fail(err, TP_NOMEM, "out of memory");
            av->has_raw = 1;
            continue;
        }
        if (tk_norm_run(nm, t->content, t->len, &nb, &w, NULL) ||
            tk_trie_add(&av->norm, nb.p, nb.len, (int32_t)i)) {
            st = tp_fail(err, TP_NOMEM, "out of memory");
            break;
        }
        av->has_norm = 1;
        /* HF keeps the normalized content: id_to_token and decode return it. */
        char *nc = malloc(nb.len + 1);
        if (!nc) {
            st = tp_fail(err, TP_NOMEM, "out of memory");
            break;
        }
        memcpy(nc, nb.p ? nb.p : "", nb.len);
        nc[nb.len] = 0;
        free(t->content);
        t->content = nc;
        t->len = nb.len;
    }
    tk_buf_free(&nb);
    tk_ws_free(&w);
    return st;
}

void tk_added_free(tk_added_vocab *av) {
    for (size_t i = 0; i < av->n; i++)
        free(av->v[i].content);
    free(av->v);
    tk_trie_free(&av->raw);
    tk_trie_free(&av->norm);
    tk_smap_free(&av->by_content);
    memset(av, 0, sizeof *av);
}

const tk_added *tk_added_by_id(const tk_added_vocab *av, int32_t id) {
    size_t lo = 0, hi = av->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (av->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < av->n && av->v[lo].id == id ? &av->v[lo] : NULL;
}

static int is_word(uint32_t c) {
    return c == '_' || tk_is_alnum(c);
}

static int push_text(tk_pieces *out, const char *s, size_t a, size_t b, int first) {
    if (b <= a) return 0;
    return tk_pieces_push(out, s + a, b - a, -1, first && a == 0);
}

int tk_added_split(const tk_added_vocab *av, const tk_trie *tr, const char *s, size_t n, int first,
                   tk_pieces *out) {
    size_t pos = 0, last = 0; /* last: end of the previous accepted token */
    while (pos < n) {
        int32_t idx;
        size_t ml = tk_trie_longest(tr, s + pos, n - pos, &idx);
        if (!ml) {
            pos += tk_u8len((unsigned char)s[pos]);
            continue;
        }
        const tk_added *t = &av->v[idx];
        size_t start = pos, stop = pos + ml;
        pos = stop;
        if (t->single_word) {
            int ok_l = 1, ok_r = 1;
            if (start > 0) {
                size_t k = start - 1, l;
                while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
                    k--;
                ok_l = !is_word(tk_u8dec(s + k, &l));
            }
            if (stop < n) {
                size_t l;
                ok_r = !is_word(tk_u8dec(s + stop, &l));
            }
            if (!ok_l || !ok_r) continue;
        }
        if (t->lstrip) {
            size_t k = start;
            while (k > last) {
                size_t q = k - 1, l;
                while (q > 0 && ((unsigned char)s[q] & 0xC0) == 0x80)
                    q--;
                if (!tk_is_whitespace(tk_u8dec(s + q, &l))) break;
                k = q;
            }
            start = k;
        }
        if (t->rstrip) {
            while (stop < n) {
                size_t l;
                if (!tk_is_whitespace(tk_u8dec(s + stop, &l))) break;
                stop += l;
            }
            pos = stop;
        }
        if (push_text(out, s, last, start, first)) return -1;
        if (tk_pieces_push(out, s + start, stop - start, t->id, first && start == 0)) return -1;
        last = stop;
    }
    return push_text(out, s, last, n, first);
}
