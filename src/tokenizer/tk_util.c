/* Shared plumbing of the tokenizer: buffers, hash maps, a byte trie, UTF-8 + Unicode predicates
 * (matching Rust's char methods, which HF tokenizers uses), PCRE2 wrapper, per-call scratch and
 * the GPT-2 byte-level alphabet. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/tokenizer_internal.h"

/* ---- buffers ------------------------------------------------------------------------------ */

int tk_buf_reserve(tk_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int tk_buf_add(tk_buf *b, const char *s, size_t n) {
    if (tk_buf_reserve(b, n)) return -1;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int tk_buf_addcp(tk_buf *b, uint32_t cp) {
    char tmp[4];
    return tk_buf_add(b, tmp, tk_u8enc(cp, tmp));
}

void tk_buf_free(tk_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

int tk_ids_push(tk_ids *a, int32_t x) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        int32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

void tk_ids_free(tk_ids *a) {
    free(a->v);
    memset(a, 0, sizeof *a);
}

int tk_pieces_push(tk_pieces *p, const char *s, size_t n, int32_t id, int first) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        tk_piece *v = realloc(p->v, cap * sizeof *v);
        if (!v) return -1;
        p->v = v;
        p->cap = cap;
    }
    tk_piece *pc = &p->v[p->n];
    pc->off = (uint32_t)p->text.len;
    pc->len = (uint32_t)n;
    pc->id = id;
    pc->first = (uint8_t)first;
    if (tk_buf_add(&p->text, s, n)) return -1;
    p->n++;
    return 0;
}

void tk_pieces_reset(tk_pieces *p) {
    p->n = 0;
    p->text.len = 0;
}

void tk_pieces_free(tk_pieces *p) {
    free(p->v);
    tk_buf_free(&p->text);
    memset(p, 0, sizeof *p);
}

/* ---- string map --------------------------------------------------------------------------- */

uint32_t tk_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int smap_alloc(tk_smap *m, size_t cap) {
    m->ents = malloc(cap * sizeof *m->ents);
    if (!m->ents) return -1;
    for (size_t i = 0; i < cap; i++)
        m->ents[i].val = INT32_MIN;
    m->mask = cap - 1;
    return 0;
}

int tk_smap_init(tk_smap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    return smap_alloc(m, cap);
}

static int smap_grow(tk_smap *m) {
    tk_smap_ent *old = m->ents;
    size_t oldcap = m->mask + 1;
    if (smap_alloc(m, oldcap * 2)) {
        m->ents = old;
        return -1;
    }
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].val == INT32_MIN) continue;
        size_t j = old[i].hash & m->mask;
        while (m->ents[j].val != INT32_MIN)
            j = (j + 1) & m->mask;
        m->ents[j] = old[i];
    }
    free(old);
    return 0;
}

int tk_smap_put(tk_smap *m, const char *k, size_t n, int32_t val) {
    if ((m->n + 1) * 4 > (m->mask + 1) * 3 && smap_grow(m)) return -1;
    uint32_t h = tk_hash(k, n);
    size_t j = h & m->mask;
    while (m->ents[j].val != INT32_MIN) {
        tk_smap_ent *e = &m->ents[j];
        if (e->hash == h && e->klen == n && !memcmp(m->keys.p + e->koff, k, n)) {
            e->val = val;
            return 0;
        }
        j = (j + 1) & m->mask;
    }
    size_t off = m->keys.len;
    if (tk_buf_add(&m->keys, k, n) || tk_buf_add(&m->keys, "", 1)) return -1;
    m->ents[j] = (tk_smap_ent){h, (uint32_t)n, (uint32_t)off, val};
    m->n++;
    return 0;
}

int32_t tk_smap_get(const tk_smap *m, const char *k, size_t n) {
    if (!m->ents) return -1;
    uint32_t h = tk_hash(k, n);
    size_t j = h & m->mask;
    while (m->ents[j].val != INT32_MIN) {
        const tk_smap_ent *e = &m->ents[j];
        if (e->hash == h && e->klen == n && !memcmp(m->keys.p + e->koff, k, n)) return e->val;
        j = (j + 1) & m->mask;
    }
    return -1;
}

void tk_smap_free(tk_smap *m) {
    free(m->ents);
    tk_buf_free(&m->keys);
    memset(m, 0, sizeof *m);
}

/* ---- pair map ----------------------------------------------------------------------------- */

static inline size_t mix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

static int pmap_alloc(tk_pmap *m, size_t cap) {
    m->ents = malloc(cap * sizeof *m->ents);
    if (!m->ents) return -1;
    for (size_t i = 0; i < cap; i++)
        m->ents[i].key = UINT64_MAX;
    m->mask = cap - 1;
    return 0;
}

int tk_pmap_init(tk_pmap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    return pmap_alloc(m, cap);
}

int tk_pmap_put(tk_pmap *m, uint64_t key, int32_t a, int32_t b) {
    if ((m->n + 1) * 4 > (m->mask + 1) * 3) {
        tk_pmap_ent *old = m->ents;
        size_t oldcap = m->mask + 1;
        if (pmap_alloc(m, oldcap * 2)) {
            m->ents = old;
            return -1;
        }
        for (size_t i = 0; i < oldcap; i++) {
            if (old[i].key == UINT64_MAX) continue;
            size_t j = mix64(old[i].key) & m->mask;
            while (m->ents[j].key != UINT64_MAX)
                j = (j + 1) & m->mask;
            m->ents[j] = old[i];
        }
        free(old);
    }
    size_t j = mix64(key) & m->mask;
    while (m->ents[j].key != UINT64_MAX) {
        if (m->ents[j].key == key) {
            m->ents[j].a = a;
            m->ents[j].b = b;
            return 0;
        }
        j = (j + 1) & m->mask;
    }
    m->ents[j] = (tk_pmap_ent){key, a, b};
    m->n++;
    return 0;
}

const tk_pmap_ent *tk_pmap_get(const tk_pmap *m, uint64_t key) {
    if (!m->ents) return NULL;
    size_t j = mix64(key) & m->mask;
    while (m->ents[j].key != UINT64_MAX) {
        if (m->ents[j].key == key) return &m->ents[j];
        j = (j + 1) & m->mask;
    }
    return NULL;
}

void tk_pmap_free(tk_pmap *m) {
    free(m->ents);
    memset(m, 0, sizeof *m);
}

/* ---- trie --------------------------------------------------------------------------------- */

static int trie_new_node(tk_trie *t) {
    if (t->n_nodes == t->cap_nodes) {
        size_t cap = t->cap_nodes ? t->cap_nodes * 2 : 64;
        int32_t *v = realloc(t->val, cap * sizeof *v);
        if (!v) return -1;
        t->val = v;
        t->cap_nodes = cap;
    }
    t->val[t->n_nodes] = -1;
    return (int)t->n_nodes++;
}

int tk_trie_init(tk_trie *t) {
    memset(t, 0, sizeof *t);
    if (tk_pmap_init(&t->edges, 64)) return -1;
    return trie_new_node(t) < 0 ? -1 : 0;
}

int tk_trie_add(tk_trie *t, const char *s, size_t n, int32_t val) {
    if (n == 0) return 0;
    t->first[(unsigned char)s[0] >> 3] |= (uint8_t)(1u << (s[0] & 7));
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = ((uint64_t)node << 8) | (unsigned char)s[i];
        const tk_pmap_ent *e = tk_pmap_get(&t->edges, key);
        if (e) {
            node = e->a;
            continue;
        }
        int child = trie_new_node(t);
        if (child < 0 || tk_pmap_put(&t->edges, key, child, 0)) return -1;
        node = child;
    }
    if (t->val[node] < 0) t->val[node] = val;
    return 0;
}

size_t tk_trie_longest(const tk_trie *t, const char *s, size_t n, int32_t *val) {
    if (!n || !(t->first[(unsigned char)s[0] >> 3] & (1u << (s[0] & 7)))) return 0;
    int32_t node = 0;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        const tk_pmap_ent *e = tk_pmap_get(&t->edges, ((uint64_t)node << 8) | (unsigned char)s[i]);
        if (!e) break;
        node = e->a;
        if (t->val[node] >= 0) {
            best = i + 1;
            *val = t->val[node];
        }
    }
    return best;
}

void tk_trie_free(tk_trie *t) {
    tk_pmap_free(&t->edges);
    free(t->val);
    memset(t, 0, sizeof *t);
}

/* ---- UTF-8 / Unicode ---------------------------------------------------------------------- */

size_t tk_u8enc(uint32_t cp, char *o) {
    unsigned char *out = (unsigned char *)o;
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t tk_u8count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

int tk_is_whitespace(uint32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 9 && c <= 13);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static inline utf8proc_category_t cat(uint32_t c) {
    return utf8proc_category((utf8proc_int32_t)c);
}

int tk_is_punct(uint32_t c) {
    utf8proc_category_t k = cat(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

int tk_is_bert_punct(uint32_t c) {
    if (c < 0x80)
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
               (c >= 123 && c <= 126);
    return tk_is_punct(c);
}

int tk_is_numeric(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = cat(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

int tk_is_alnum(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
    utf8proc_category_t k = cat(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

int tk_is_word_char(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c == '_';
    if (c == 0x200C || c == 0x200D) return 1; /* Rust regex \w includes Join_Control */
    utf8proc_category_t k = cat(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_ME) || k == UTF8PROC_CATEGORY_ND ||
           k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC || (c >= 0x24B6 && c <= 0x24E9);
}

int tk_is_control(uint32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    utf8proc_category_t k = cat(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CN ||
           k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CS;
}

int tk_is_mark_nonspacing(uint32_t c) {
    return c >= 0x300 && cat(c) == UTF8PROC_CATEGORY_MN;
}

int tk_is_mark(uint32_t c) {
    if (c < 0x300) return 0;
    utf8proc_category_t k = cat(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}

int tk_is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

int tk_lower_cp(tk_buf *out, uint32_t c) {
    if (c < 0x80) {
        char ch = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        return tk_buf_add(out, &ch, 1);
    }
    if (c == 0x130) return tk_buf_add(out, "i\xCC\x87", 3); /* İ -> i + COMBINING DOT ABOVE */
    return tk_buf_addcp(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
}

/* ---- regex -------------------------------------------------------------------------------- */

/* HF runs its regexes on Oniguruma, whose Unicode \w is the Word property (letters, marks,
 * decimal digits, Nl, connector punctuation) and \s the White_Space property.
 * PCRE2's UCP \w lacks the marks, so the shorthands are spelled out. */
#define ONIG_W "\\p{L}\\p{M}\\p{Nd}\\p{Nl}\\p{Pc}"
#define ONIG_S                                                                                     \
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{"   \
    "202F}\\x{205F}\\x{3000}"

static int translate_pattern(const char *p, size_t n, tk_buf *o) {
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[i + 1];
            const char *set = d == 'w' || d == 'W' ? ONIG_W : d == 's' || d == 'S' ? ONIG_S : NULL;
            int neg = d == 'W' || d == 'S';
            if (set && !(in_class && neg)) {
                if (!in_class && (tk_buf_add(o, neg ? "[^" : "[", neg ? 2 : 1))) return -1;
                if (tk_buf_add(o, set, strlen(set))) return -1;
                if (!in_class && tk_buf_add(o, "]", 1)) return -1;
            } else if (tk_buf_add(o, p + i, 2)) {
                return -1;
            }
            i++;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            if (tk_buf_add(o, "[", 1)) return -1;
            /* a ']' right after '[' or '[^' is literal */
            if (i + 1 < n && p[i + 1] == '^') {
                if (tk_buf_add(o, "^", 1)) return -1;
                i++;
            }
            if (i + 1 < n && p[i + 1] == ']') {
                if (tk_buf_add(o, "]", 1)) return -1;
                i++;
            }
            continue;
        }
        if (in_class && c == '[' && i + 1 < n && p[i + 1] == ':') {
            /* POSIX class [:name:] inside a class */
            size_t k = i + 2;
            while (k + 1 < n && !(p[k] == ':' && p[k + 1] == ']'))
                k++;
            if (k + 1 < n) {
                if (tk_buf_add(o, p + i, k + 2 - i)) return -1;
                i = k + 1;
                continue;
            }
        }
        if (in_class && c == ']') in_class = 0;
        if (tk_buf_add(o, &c, 1)) return -1;
    }
    return 0;
}

tp_status tk_regex_compile(tk_regex *r, const char *pat, size_t n, const char *what,
                           tp_error *err) {
    int ec;
    PCRE2_SIZE eo;
    tk_buf tr = {0};
    if (translate_pattern(pat, n, &tr)) {
        tk_buf_free(&tr);
        return tp_fail(err, TP_NOMEM, "out of memory");
    }
    r->code = pcre2_compile((PCRE2_SPTR)(tr.p ? tr.p : ""), tr.len, PCRE2_UTF | PCRE2_UCP, &ec, &eo,
                            NULL);
    tk_buf_free(&tr);
    if (!r->code) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return tp_fail(err, TP_FORMAT, "tokenizer.json: %s: bad regex at offset %zu: %s", what,
                       (size_t)eo, (const char *)msg);
    }
    pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE); /* optional speed-up */
    return TP_OK;
}

tp_status tk_regex_literal(tk_regex *r, const char *lit, size_t n, tp_error *err) {
    int ec;
    PCRE2_SIZE eo;
    r->code = pcre2_compile((PCRE2_SPTR)lit, n, PCRE2_UTF | PCRE2_LITERAL, &ec, &eo, NULL);
    if (!r->code) return tp_fail(err, TP_FORMAT, "tokenizer.json: bad literal pattern");
    pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE);
    return TP_OK;
}

void tk_regex_free(tk_regex *r) {
    if (r->code) pcre2_code_free(r->code);
    r->code = NULL;
}

int tk_regex_next(const tk_regex *r, tk_ws *w, const char *s, size_t n, size_t from, size_t *ms,
                  size_t *me) {
    if (from > n) return 0;
    int rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, w->md, w->mctx);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        /* JIT stack exhausted or similar: retry with the interpreter. */
        rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, w->md,
                         w->mctx);
    }
    if (rc < 0) return 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
    *ms = ov[0];
    *me = ov[1];
    if (*me < *ms) *me = *ms; /* \K oddities */
    return 1;
}

/* ---- workspace ---------------------------------------------------------------------------- */

int tk_ws_init(tk_ws *w) {
    memset(w, 0, sizeof *w);
    w->md = pcre2_match_data_create(16, NULL);
    w->mctx = pcre2_match_context_create(NULL);
    w->jit = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    if (!w->md || !w->mctx) return -1;
    if (w->jit) pcre2_jit_stack_assign(w->mctx, NULL, w->jit);
    return 0;
}

void tk_ws_free(tk_ws *w) {
    if (w->md) pcre2_match_data_free(w->md);
    if (w->mctx) pcre2_match_context_free(w->mctx);
    if (w->jit) pcre2_jit_stack_free(w->jit);
    for (int i = 0; i < 3; i++) {
        tk_buf_free(&w->nb[i]);
        tk_pieces_free(&w->pp[i]);
    }
    tk_buf_free(&w->tmp);
    tk_buf_free(&w->tmp2);
    tk_ids_free(&w->itmp);
    tk_ids_free(&w->seq[0]);
    tk_ids_free(&w->seq[1]);
    tk_buf_free(&w->norm_out);
    free(w->bpe_syms);
    free(w->uni_lat);
    memset(w, 0, sizeof *w);
}

/* ---- byte-level alphabet ------------------------------------------------------------------ */

char tk_bytelevel_str_[256][3];
uint8_t tk_bytelevel_len_[256];
static int16_t bytelevel_rev[512];
static pthread_once_t bytelevel_once = PTHREAD_ONCE_INIT;

static void bytelevel_build(void) {
    int extra = 0;
    for (int i = 0; i < 512; i++)
        bytelevel_rev[i] = -1;
    for (int b = 0; b < 256; b++) {
        uint32_t cp;
        if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))
            cp = (uint32_t)b;
        else
            cp = (uint32_t)(256 + extra++);
        char tmp[4];
        size_t n = tk_u8enc(cp, tmp);
        memcpy(tk_bytelevel_str_[b], tmp, n);
        tk_bytelevel_len_[b] = (uint8_t)n;
        bytelevel_rev[cp] = (int16_t)b;
    }
}

void tk_bytelevel_init(void) {
    pthread_once(&bytelevel_once, bytelevel_build);
}

int tk_bytelevel_byte(uint32_t cp) {
    return cp < 512 ? bytelevel_rev[cp] : -1;
}
