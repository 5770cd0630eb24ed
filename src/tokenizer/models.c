/* Model dispatch and the shared token <-> id vocabulary. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

int tk_vocab_index(tk_vocab *v) {
    size_t n = 0;
    const tk_smap *m = &v->map;
    for (size_t i = 0; i <= m->mask; i++)
        if (m->ents[i].val != INT32_MIN && (size_t)m->ents[i].val + 1 > n)
            n = (size_t)m->ents[i].val + 1;
    if (n < v->n) n = v->n;
    free(v->tokens);
    v->tokens = calloc(n ? n : 1, sizeof *v->tokens);
    if (!v->tokens) return -1;
    v->n = n;
    for (size_t i = 0; i <= m->mask; i++) {
        const tk_smap_ent *e = &m->ents[i];
        if (e->val == INT32_MIN || e->val < 0) continue;
        /* keys are NUL-terminated inside the map's key arena */
        if (!v->tokens[e->val]) v->tokens[e->val] = m->keys.p + e->koff;
    }
    return 0;
}

void tk_vocab_free(tk_vocab *v) {
    tk_smap_free(&v->map);
    free(v->tokens);
    memset(v, 0, sizeof *v);
}

tp_status tk_model_load(json_t *j, tk_model **out, tp_error *err) {
    *out = NULL;
    if (!json_is_object(j)) return tp_fail(err, TP_FORMAT, "tokenizer.json: missing 'model'");
    const char *type = json_string_value(json_object_get(j, "type"));
    tk_model *m = calloc(1, sizeof *m);
    if (!m) return tp_fail(err, TP_NOMEM, "out of memory");
    m->unk_id = -1;
    tp_status st;
    if (!type) {
        /* Old files omit the type: guess from the fields, as HF does. */
        if (json_object_get(j, "merges"))
            type = "BPE";
        else if (json_is_array(json_object_get(j, "vocab")))
            type = "Unigram";
        else if (json_object_get(j, "continuing_subword_prefix"))
            type = "WordPiece";
        else
            type = "";
    }
    if (!strcmp(type, "WordPiece")) {
        m->kind = TK_WORDPIECE;
        st = tk_wordpiece_load(j, m, err);
    } else if (!strcmp(type, "BPE")) {
        m->kind = TK_BPE;
        st = tk_bpe_load(j, m, err);
    } else if (!strcmp(type, "Unigram")) {
        m->kind = TK_UNIGRAM;
        st = tk_unigram_load(j, m, err);
    } else if (!strcmp(type, "WordLevel")) {
        m->kind = TK_WORDLEVEL;
        st = tk_wordpiece_load(j, m, err); /* same vocab + unk layout */
    } else {
        st = tp_fail(err, TP_UNSUPPORTED, "tokenizer.json: unsupported model type '%.64s'", type);
    }
    if (st != TP_OK) {
        tk_model_free(m);
        return st;
    }
    *out = m;
    return TP_OK;
}

void tk_model_free(tk_model *m) {
    if (!m) return;
    switch (m->kind) {
    case TK_WORDPIECE:
    case TK_WORDLEVEL:
        tk_wordpiece_free(m);
        break;
    case TK_BPE:
        tk_bpe_free(m);
        break;
    case TK_UNIGRAM:
        tk_unigram_free(m);
        break;
    }
    tk_vocab_free(&m->vocab);
    free(m);
}

int tk_model_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out, tk_ws *w) {
    switch (m->kind) {
    case TK_WORDPIECE:
        return tk_wordpiece_tokenize(m, s, n, out, w);
    case TK_WORDLEVEL: {
        int32_t id = tk_smap_get(&m->vocab.map, s, n);
        if (id < 0) id = m->unk_id;
        return id >= 0 ? tk_ids_push(out, id) : 0;
    }
    case TK_BPE:
        return tk_bpe_tokenize(m, s, n, out, w);
    case TK_UNIGRAM:
        return tk_unigram_tokenize(m, s, n, out, w);
    }
    return -1;
}
