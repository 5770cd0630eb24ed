/* BPE: a word starts as one symbol per char (byte-fallback <0xXX> pieces or unk when the char is
 * not in the vocab), then the adjacent pair with the lowest merge rank (leftmost on ties) is
 * merged until no pair has a rank — HF's heap-driven merge_word/merge_all.
 *
 * Cache: a lock-striped, direct-mapped table of short words -> ids, shared by all threads. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

#define CACHE_SLOTS (1u << 15)
#define CACHE_STRIPES 64u
#define CACHE_KEY 30
#define CACHE_IDS 8

typedef struct cache_ent {
    uint32_t hash;
    uint8_t klen; /* 0: empty */
    uint8_t nids;
    char key[CACHE_KEY];
    int32_t ids[CACHE_IDS];
} cache_ent;

typedef struct bpe {
    tk_pmap merges; /* (a << 32 | b) -> (rank, merged id) */
    char *prefix, *suffix;
    size_t prefix_len, suffix_len;
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_ids[256];
    cache_ent *cache;
    pthread_mutex_t locks[CACHE_STRIPES];
} bpe;

typedef struct sym {
    int32_t id, prev, next;
    uint32_t len;
} sym;

typedef struct hent {
    int32_t rank, pos, new_id;
} hent;

tp_status tk_load_vocab_object(json_t *vocab, tk_vocab *v, tp_error *err);

static char *dupn(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

tp_status tk_bpe_load(json_t *j, tk_model *m, tp_error *err) {
    bpe *b = calloc(1, sizeof *b);
    if (!b) return tp_fail(err, TP_NOMEM, "out of memory");
    m->impl = b;
    for (unsigned i = 0; i < CACHE_STRIPES; i++)
        pthread_mutex_init(&b->locks[i], NULL);
    tp_status st = tk_load_vocab_object(json_object_get(j, "vocab"), &m->vocab, err);
    if (st != TP_OK) return st;
    const tk_smap *v = &m->vocab.map;
    json_t *x;
    if ((x = json_object_get(j, "continuing_subword_prefix")) && json_is_string(x)) {
        b->prefix = dupn(json_string_value(x), json_string_length(x));
        b->prefix_len = json_string_length(x);
    }
    if ((x = json_object_get(j, "end_of_word_suffix")) && json_is_string(x)) {
        b->suffix = dupn(json_string_value(x), json_string_length(x));
        b->suffix_len = json_string_length(x);
    }
    b->fuse_unk = json_is_true(json_object_get(j, "fuse_unk"));
    b->byte_fallback = json_is_true(json_object_get(j, "byte_fallback"));
    b->ignore_merges = json_is_true(json_object_get(j, "ignore_merges"));
    const char *unk = json_string_value(json_object_get(j, "unk_token"));
    if (unk) m->unk_id = tk_smap_get(v, unk, strlen(unk));
    for (int i = 0; i < 256; i++) {
        char code[8];
        snprintf(code, sizeof code, "<0x%02X>", i);
        b->byte_ids[i] = tk_smap_get(v, code, 6);
    }
    json_t *merges = json_object_get(j, "merges");
    size_t nm = json_is_array(merges) ? json_array_size(merges) : 0;
    if (tk_pmap_init(&b->merges, nm)) return tp_fail(err, TP_NOMEM, "out of memory");
    tk_buf tmp = {0};
    for (size_t r = 0; r < nm; r++) {
        json_t *e = json_array_get(merges, r);
        const char *a, *bb;
        size_t al, bl;
        if (json_is_string(e)) {
            const char *s = json_string_value(e);
            const char *sp = strchr(s, ' ');
            if (!sp) {
                tk_buf_free(&tmp);
                return tp_fail(err, TP_FORMAT, "tokenizer.json: BPE merge %zu is not 'a b'", r);
            }
            a = s;
            al = (size_t)(sp - s);
            bb = sp + 1;
            bl = json_string_length(e) - al - 1;
        } else if (json_is_array(e) && json_array_size(e) == 2 &&
                   json_is_string(json_array_get(e, 0)) && json_is_string(json_array_get(e, 1))) {
            a = json_string_value(json_array_get(e, 0));
            al = json_string_length(json_array_get(e, 0));
            bb = json_string_value(json_array_get(e, 1));
            bl = json_string_length(json_array_get(e, 1));
        } else {
            tk_buf_free(&tmp);
            return tp_fail(err, TP_FORMAT, "tokenizer.json: BPE merge %zu is malformed", r);
        }
        int32_t ia = tk_smap_get(v, a, al), ib = tk_smap_get(v, bb, bl);
        size_t skip = b->prefix_len <= bl ? b->prefix_len : bl;
        tmp.len = 0;
        if (tk_buf_add(&tmp, a, al) || tk_buf_add(&tmp, bb + skip, bl - skip)) {
            tk_buf_free(&tmp);
            return tp_fail(err, TP_NOMEM, "out of memory");
        }
        int32_t in = tk_smap_get(v, tmp.p, tmp.len);
        if (ia < 0 || ib < 0 || in < 0) {
            tk_buf_free(&tmp);
            return tp_fail(err, TP_FORMAT,
                           "tokenizer.json: BPE merge %zu uses a token not in the vocab", r);
        }
        if (tk_pmap_put(&b->merges, (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, (int32_t)r, in)) {
            tk_buf_free(&tmp);
            return tp_fail(err, TP_NOMEM, "out of memory");
        }
    }
    tk_buf_free(&tmp);
    b->cache = calloc(CACHE_SLOTS, sizeof *b->cache);
    if (!b->cache) return tp_fail(err, TP_NOMEM, "out of memory");
    return TP_OK;
}

void tk_bpe_free(tk_model *m) {
    bpe *b = m->impl;
    if (!b) return;
    tk_pmap_free(&b->merges);
    free(b->prefix);
    free(b->suffix);
    free(b->cache);
    for (unsigned i = 0; i < CACHE_STRIPES; i++)
        pthread_mutex_destroy(&b->locks[i]);
    free(b);
    m->impl = NULL;
}

/* ---- heap of candidate merges, min by (rank, pos) ----------------------------------------- */

static inline int hless(const hent *a, const hent *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void hpush(hent *h, size_t *n, hent e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hless(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static hent hpop(hent *h, size_t *n) {
    hent top = h[0], last = h[--*n];
    size_t i = 0, cnt = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= cnt) break;
        if (c + 1 < cnt && hless(&h[c + 1], &h[c])) c++;
        if (!hless(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (cnt) h[i] = last;
    return top;
}

static int add_sym(tk_ws *w, size_t *ns, int32_t id, uint32_t len) {
    size_t need = (*ns + 1) * (sizeof(sym) + 2 * sizeof(hent));
    if (need > w->bpe_cap) {
        size_t cap = w->bpe_cap ? w->bpe_cap : 4096;
        while (cap < need)
            cap *= 2;
        void *p = realloc(w->bpe_syms, cap);
        if (!p) return -1;
        w->bpe_syms = p;
        w->bpe_cap = cap;
    }
    sym *s = w->bpe_syms;
    s[*ns] = (sym){id, (int32_t)*ns - 1, (int32_t)*ns + 1, len};
    (*ns)++;
    return 0;
}

static int merge_word(const tk_model *m, const char *s, size_t n, tk_ids *out, tk_ws *w) {
    const bpe *b = m->impl;
    const tk_smap *v = &m->vocab.map;
    size_t ns = 0;
    int32_t unk_id = -1;
    uint32_t unk_len = 0;
    tk_buf *key = &w->tmp;
    for (size_t i = 0; i < n;) {
        size_t l = tk_u8len((unsigned char)s[i]);
        if (i + l > n) l = n - i;
        const char *ks = s + i;
        size_t kn = l;
        int first = i == 0, last = i + l == n;
        if ((!first && b->prefix) || (last && b->suffix)) {
            key->len = 0;
            if ((!first && b->prefix && tk_buf_add(key, b->prefix, b->prefix_len)) ||
                tk_buf_add(key, s + i, l) ||
                (last && b->suffix && tk_buf_add(key, b->suffix, b->suffix_len)))
                return -1;
            ks = key->p;
            kn = key->len;
        }
        int32_t id = tk_smap_get(v, ks, kn);
        if (id >= 0) {
            if (unk_id >= 0) {
                if (add_sym(w, &ns, unk_id, unk_len)) return -1;
                unk_id = -1;
            }
            if (add_sym(w, &ns, id, (uint32_t)l)) return -1;
        } else {
            int done = 0;
            if (b->byte_fallback) {
                size_t k;
                for (k = 0; k < kn && b->byte_ids[(unsigned char)ks[k]] >= 0; k++) {
                }
                if (k == kn) {
                    /* ks may point into key, which add_sym does not touch */
                    for (k = 0; k < kn; k++)
                        if (add_sym(w, &ns, b->byte_ids[(unsigned char)ks[k]], 1)) return -1;
                    done = 1;
                }
            }
            if (!done && m->unk_id >= 0) {
                if (unk_id >= 0 && b->fuse_unk) {
                    unk_len += (uint32_t)l;
                } else {
                    if (unk_id >= 0 && add_sym(w, &ns, unk_id, unk_len)) return -1;
                    unk_id = m->unk_id;
                    unk_len = (uint32_t)l;
                }
            }
        }
        i += l;
    }
    if (unk_id >= 0 && add_sym(w, &ns, unk_id, unk_len)) return -1;
    if (ns == 0) return 0;
    sym *sy = w->bpe_syms;
    sy[ns - 1].next = -1;
    hent *h = (hent *)(sy + ns);
    size_t hn = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
        const tk_pmap_ent *e =
            tk_pmap_get(&b->merges, (uint64_t)(uint32_t)sy[i].id << 32 | (uint32_t)sy[i + 1].id);
        if (e) hpush(h, &hn, (hent){e->a, (int32_t)i, e->b});
    }
    /* Each merge pushes at most 2 entries and removes a symbol: 2*ns bounds the heap. */
    while (hn) {
        hent top = hpop(h, &hn);
        sym *cur = &sy[top.pos];
        if (cur->len == 0 || cur->next < 0) continue;
        sym *right = &sy[cur->next];
        const tk_pmap_ent *e =
            tk_pmap_get(&b->merges, (uint64_t)(uint32_t)cur->id << 32 | (uint32_t)right->id);
        if (!e || e->b != top.new_id) continue;
        cur->id = top.new_id;
        cur->len += right->len;
        right->len = 0;
        cur->next = right->next;
        if (right->next >= 0) sy[right->next].prev = top.pos;
        if (cur->prev >= 0) {
            const tk_pmap_ent *pe = tk_pmap_get(
                &b->merges, (uint64_t)(uint32_t)sy[cur->prev].id << 32 | (uint32_t)cur->id);
            if (pe) hpush(h, &hn, (hent){pe->a, cur->prev, pe->b});
        }
        if (cur->next >= 0) {
            const tk_pmap_ent *ne = tk_pmap_get(&b->merges, (uint64_t)(uint32_t)cur->id << 32 |
                                                                (uint32_t)sy[cur->next].id);
            if (ne) hpush(h, &hn, (hent){ne->a, top.pos, ne->b});
        }
    }
    for (size_t i = 0; i < ns; i++)
        if (sy[i].len && tk_ids_push(out, sy[i].id)) return -1;
    return 0;
}

int tk_bpe_tokenize(const tk_model *m, const char *s, size_t n, tk_ids *out, tk_ws *w) {
    bpe *b = m->impl;
    if (n == 0) return 0;
    if (b->ignore_merges) {
        int32_t id = tk_smap_get(&m->vocab.map, s, n);
        if (id >= 0) return tk_ids_push(out, id);
    }
    uint32_t h = 0;
    cache_ent *ce = NULL;
    pthread_mutex_t *lk = NULL;
    if (n <= CACHE_KEY) {
        h = tk_hash(s, n);
        ce = &b->cache[h & (CACHE_SLOTS - 1)];
        lk = &b->locks[h & (CACHE_STRIPES - 1)];
        pthread_mutex_lock(lk);
        if (ce->klen == n && ce->hash == h && !memcmp(ce->key, s, n)) {
            int32_t ids[CACHE_IDS];
            uint8_t k = ce->nids;
            memcpy(ids, ce->ids, k * sizeof *ids);
            pthread_mutex_unlock(lk);
            for (uint8_t i = 0; i < k; i++)
                if (tk_ids_push(out, ids[i])) return -1;
            return 0;
        }
        pthread_mutex_unlock(lk);
    }
    size_t mark = out->n;
    if (merge_word(m, s, n, out, w)) return -1;
    size_t got = out->n - mark;
    if (ce && got <= CACHE_IDS) {
        pthread_mutex_lock(lk);
        ce->hash = h;
        ce->klen = (uint8_t)n;
        ce->nids = (uint8_t)got;
        memcpy(ce->key, s, n);
        memcpy(ce->ids, out->v + mark, got * sizeof(int32_t));
        pthread_mutex_unlock(lk);
    }
    return 0;
}
