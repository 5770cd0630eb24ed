/* Unigram (SentencePiece): Viterbi over the lattice of vocab pieces found by prefix search from
 * each char position; a char no piece covers costs (min_score - 10) as unk. Consecutive unk
 * pieces are fused, then each piece string maps to its id (byte fallback <0xXX> or unk). */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

typedef struct unigram {
    double *scores;
    size_t n;
    double min_score;
    int byte_fallback;
    int32_t byte_ids[256];
    tk_trie trie; /* piece -> id */
} unigram;

typedef struct node {
    double score;
    int32_t start; /* -1: unreached */
    int32_t id;
} node;

tp_status tk_unigram_load(json_t *j, tk_model *m, tp_error *err) {
    unigram *u = calloc(1, sizeof *u);
    if (!u) return tp_fail(err, TP_NOMEM, "out of memory");
    m->impl = u;
    json_t *vocab = json_object_get(j, "vocab");
    if (!json_is_array(vocab))
        return tp_fail(err, TP_FORMAT, "tokenizer.json: Unigram vocab is not a list");
    u->n = json_array_size(vocab);
    u->scores = malloc((u->n ? u->n : 1) * sizeof *u->scores);
    if (!u->scores || tk_smap_init(&m->vocab.map, u->n) || tk_trie_init(&u->trie))
        return tp_fail(err, TP_NOMEM, "out of memory");
    u->min_score = DBL_MAX;
    for (size_t i = 0; i < u->n; i++) {
        json_t *e = json_array_get(vocab, i);
        json_t *p = json_array_get(e, 0), *s = json_array_get(e, 1);
        if (!json_is_string(p) || !json_is_number(s))
            return tp_fail(err, TP_FORMAT, "tokenizer.json: Unigram vocab entry %zu is malformed",
                           i);
        u->scores[i] = json_number_value(s);
        if (u->scores[i] < u->min_score) u->min_score = u->scores[i];
        if (tk_smap_put(&m->vocab.map, json_string_value(p), json_string_length(p), (int32_t)i))
            return tp_fail(err, TP_NOMEM, "out of memory");
    }
    /* Duplicate pieces resolve to the last id (as HF's token_to_ids map does). */
    for (size_t i = 0; i < u->n; i++) {
        json_t *p = json_array_get(json_array_get(vocab, i), 0);
        const char *ps = json_string_value(p);
        size_t pn = json_string_length(p);
        if (tk_trie_add(&u->trie, ps, pn, tk_smap_get(&m->vocab.map, ps, pn)))
            return tp_fail(err, TP_NOMEM, "out of memory");
    }
    if (u->n == 0) u->min_score = 0;
    m->vocab.n = u->n;
    if (tk_vocab_index(&m->vocab)) return tp_fail(err, TP_NOMEM, "out of memory");
    json_t *unk = json_object_get(j, "unk_id");
    if (json_is_integer(unk)) {
        if (json_integer_value(unk) < 0 || (size_t)json_integer_value(unk) >= u->n)
            return tp_fail(err, TP_FORMAT, "tokenizer.json: Unigram unk_id out of range");
        m->unk_id = (int32_t)json_integer_value(unk);
    }
    u->byte_fallback = json_is_true(json_object_get(j, "byte_fallback"));
    for (int i = 0; i < 256; i++) {
        char code[8];
        snprintf(code, sizeof code, "<0x%02X>", i);
        u->byte_ids[i] = tk_smap_get(&m->vocab.map, code, 6);
    }
    return TP_OK;
}

void tk_unigram_free(tk_model *m) {
    unigram *u = m->impl;
    if (!u) return;
    free(u->scores);
    tk_trie_free(&u->trie);
    free(u);
    m->impl = NULL;
}

/* Emits the ids of one piece string s[a..b). */
static int emit_piece(const tk_model *m, const unigram *u, const char *s, size_t len, tk_ids *out) {
    int32_t id = tk_smap_get(&m->vocab.map, s, len);
    if (id >= 0) return tk_ids_push(out, id);
    if (u->byte_fallback) {
        size_t k;
        for (k = 0; k < len && u->byte_ids[(unsigned char)s[k]] >= 0; k++) {
        }
        if (k == len) {
            for (k = 0; k < len; k++)
                if (tk_ids_push(out, u->byte_ids[(unsigned char)s[k]])) return -1;
            return 0;
        }
    }
    return m->unk_id >= 0 ? tk_ids_push(out, m->unk_id) : 0;
}

int tk_unigram_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out, tk_ws *w) {
    const unigram *u = m->impl;
    if (n == 0) return 0;
    if (n >= INT32_MAX) return -1;
    size_t need = (n + 1) * sizeof(node);
    if (need > w->uni_cap) {
        void *p = realloc(w->uni_lat, need);
        if (!p) return -1;
        w->uni_lat = p;
        w->uni_cap = need;
    }
    node *best = w->uni_lat;
    for (size_t i = 0; i <= n; i++)
        best[i] = (node){0, -1, -1};
    best[0].start = 0;
    double unk_score = u->min_score - 10.0;
    const tk_trie *t = &u->trie;
    for (size_t st = 0; st < n;) {
        size_t cl = tk_u8len((unsigned char)s[st]);
        if (st + cl > n) cl = n - st;
        double base = best[st].score;
        int single = 0;
        int32_t nd = 0;
        if (t->first[(unsigned char)s[st] >> 3] & (1u << (s[st] & 7))) {
            for (size_t i = st; i < n; i++) {
                const tk_pmap_ent *e =
                    tk_pmap_get(&t->edges, ((uint64_t)nd << 8) | (unsigned char)s[i]);
                if (!e) break;
                nd = e->a;
                int32_t id = t->val[nd];
                if (id < 0) continue;
                size_t end = i + 1;
                double cand = base + u->scores[id];
                if (best[end].start < 0 || cand > best[end].score)
                    best[end] = (node){cand, (int32_t)st, id};
                if (end - st == cl) single = 1;
            }
        }
        if (!single && m->unk_id >= 0) {
            size_t end = st + cl;
            double cand = base + unk_score;
            if (best[end].start < 0 || cand > best[end].score)
                best[end] = (node){cand, (int32_t)st, m->unk_id};
        }
        st += cl;
    }
    if (best[n].start < 0) return 0; /* no unk id and uncovered text */
    /* Backtrack into (start, end) pairs, stored reversed in itmp. */
    tk_ids *seg = &w->itmp;
    seg->n = 0;
    for (size_t e = n; e > 0;) {
        size_t st = (size_t)best[e].start;
        if (tk_ids_push(seg, (int32_t)st) || tk_ids_push(seg, (int32_t)e)) return -1;
        if (st >= e) return -1;
        e = st;
    }
    /* Forward: fuse consecutive unk pieces. */
    size_t k = seg->n;
    size_t unk_a = 0, unk_b = 0;
    int in_unk = 0;
    while (k >= 2) {
        size_t a = (size_t)seg->v[k - 2], b = (size_t)seg->v[k - 1];
        k -= 2;
        int is_unk = m->unk_id >= 0 && best[b].id == m->unk_id;
        if (is_unk) {
            if (!in_unk) unk_a = a;
            unk_b = b;
            in_unk = 1;
            continue;
        }
        if (in_unk) {
            if (emit_piece(m, u, s + unk_a, unk_b - unk_a, out)) return -1;
            in_unk = 0;
        }
        if (emit_piece(m, u, s + a, b - a, out)) return -1;
    }
    if (in_unk && emit_piece(m, u, s + unk_a, unk_b - unk_a, out)) return -1;
    return 0;
}
