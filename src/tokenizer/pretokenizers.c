/* Pre-tokenizers: split normalized text into words. Each splitter finds "matches" (by a char
 * predicate: every matching char is its own match; or by a regex) and a split behavior decides
 * how matches and the text between them become pieces, exactly as HF's
 * NormalizedString::split. Empty pieces are dropped. Nested Sequences are flattened at load. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

typedef enum { B_REMOVED, B_ISOLATED, B_MERGED_PREV, B_MERGED_NEXT, B_CONTIGUOUS } behavior;

typedef enum {
    P_BERT,
    P_WHITESPACE,
    P_WHITESPACE_SPLIT,
    P_PUNCT,
    P_DIGITS,
    P_METASPACE,
    P_BYTELEVEL,
    P_SPLIT,
    P_CHAR_DELIM,
    P_SEQ,
} pretok_kind;

enum { SCHEME_ALWAYS, SCHEME_FIRST, SCHEME_NEVER };

struct tk_pretok {
    pretok_kind kind;
    behavior beh;
    int individual_digits;
    uint32_t repl; /* Metaspace replacement / CharDelimiterSplit delimiter */
    char repl_s[4];
    size_t repl_len;
    int scheme, split;
    int add_prefix_space, use_regex;
    int invert;
    tk_regex re;
    tk_pretok **subs;
    size_t n_subs;
};

static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

void tk_pretok_free(tk_pretok *p) {
    if (!p) return;
    tk_regex_free(&p->re);
    for (size_t i = 0; i < p->n_subs; i++)
        tk_pretok_free(p->subs[i]);
    free(p->subs);
    free(p);
}

static int jbool(json_t *o, const char *k, int def) {
    json_t *v = json_object_get(o, k);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

static int parse_behavior(json_t *v, behavior *b) {
    const char *s = json_string_value(v);
    if (!s) return 0;
    if (!strcmp(s, "Removed"))
        *b = B_REMOVED;
    else if (!strcmp(s, "Isolated"))
        *b = B_ISOLATED;
    else if (!strcmp(s, "MergedWithPrevious"))
        *b = B_MERGED_PREV;
    else if (!strcmp(s, "MergedWithNext"))
        *b = B_MERGED_NEXT;
    else if (!strcmp(s, "Contiguous"))
        *b = B_CONTIGUOUS;
    else
        return -1;
    return 1;
}

static int one_char(json_t *v, uint32_t *cp, char *s, size_t *len) {
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 4) return 0;
    const char *str = json_string_value(v);
    size_t l;
    *cp = tk_u8dec(str, &l);
    if (l != json_string_length(v)) return 0;
    memcpy(s, str, l);
    *len = l;
    return 1;
}

static tp_status load_into(json_t *j, tk_pretok *parent, tp_error *err);

static tp_status load_one(json_t *j, tk_pretok **out, tp_error *err) {
    *out = NULL;
    if (!json_is_object(j))
        return tp_fail(err, TP_FORMAT, "tokenizer.json: pre_tokenizer is not an object");
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) return tp_fail(err, TP_FORMAT, "tokenizer.json: pre_tokenizer without a type");
    tk_pretok *p = calloc(1, sizeof *p);
    if (!p) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_status st = TP_OK;
    if (!strcmp(type, "BertPreTokenizer")) {
        p->kind = P_BERT;
    } else if (!strcmp(type, "Whitespace")) {
        p->kind = P_WHITESPACE;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        p->kind = P_WHITESPACE_SPLIT;
    } else if (!strcmp(type, "Punctuation")) {
        p->kind = P_PUNCT;
        p->beh = B_ISOLATED;
        if (parse_behavior(json_object_get(j, "behavior"), &p->beh) < 0)
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Punctuation: unknown behavior");
    } else if (!strcmp(type, "Digits")) {
        p->kind = P_DIGITS;
        p->individual_digits = jbool(j, "individual_digits", 0);
    } else if (!strcmp(type, "Metaspace")) {
        p->kind = P_METASPACE;
        if (!one_char(json_object_get(j, "replacement"), &p->repl, p->repl_s, &p->repl_len)) {
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Metaspace: bad replacement");
        }
        p->split = jbool(j, "split", 1);
        const char *sc = json_string_value(json_object_get(j, "prepend_scheme"));
        if (sc) {
            if (!strcmp(sc, "always"))
                p->scheme = SCHEME_ALWAYS;
            else if (!strcmp(sc, "first"))
                p->scheme = SCHEME_FIRST;
            else if (!strcmp(sc, "never"))
                p->scheme = SCHEME_NEVER;
            else
                st = tp_fail(err, TP_FORMAT, "tokenizer.json: Metaspace: bad prepend_scheme");
        } else {
            p->scheme = jbool(j, "add_prefix_space", 1) ? SCHEME_ALWAYS : SCHEME_NEVER;
        }
    } else if (!strcmp(type, "ByteLevel")) {
        p->kind = P_BYTELEVEL;
        p->add_prefix_space = jbool(j, "add_prefix_space", 1);
        p->use_regex = jbool(j, "use_regex", 1);
        tk_bytelevel_init();
        if (p->use_regex)
            st = tk_regex_compile(&p->re, GPT2_RE, sizeof GPT2_RE - 1, "ByteLevel", err);
    } else if (!strcmp(type, "Split")) {
        p->kind = P_SPLIT;
        json_t *pat = json_object_get(j, "pattern");
        json_t *ps = json_object_get(pat, "String"), *pr = json_object_get(pat, "Regex");
        p->invert = jbool(j, "invert", 0);
        if (parse_behavior(json_object_get(j, "behavior"), &p->beh) != 1)
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Split: missing or unknown behavior");
        else if (json_is_string(pr))
            st = tk_regex_compile(&p->re, json_string_value(pr), json_string_length(pr),
                                  "Split pre-tokenizer", err);
        else if (json_is_string(ps))
            st = tk_regex_literal(&p->re, json_string_value(ps), json_string_length(ps), err);
        else
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Split pre-tokenizer without a pattern");
    } else if (!strcmp(type, "CharDelimiterSplit")) {
        p->kind = P_CHAR_DELIM;
        if (!one_char(json_object_get(j, "delimiter"), &p->repl, p->repl_s, &p->repl_len))
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: CharDelimiterSplit: bad delimiter");
    } else if (!strcmp(type, "Sequence")) {
        p->kind = P_SEQ;
        json_t *arr = json_object_get(j, "pretokenizers");
        if (!json_is_array(arr)) {
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Sequence pre_tokenizer without a list");
        } else {
            size_t i;
            json_t *v;
            json_array_foreach(arr, i, v) {
                if ((st = load_into(v, p, err)) != TP_OK) break;
            }
        }
    } else {
        st = tp_fail(err, TP_UNSUPPORTED, "tokenizer.json: unsupported pre_tokenizer type '%.64s'",
                     type);
    }
    if (st != TP_OK) {
        tk_pretok_free(p);
        return st;
    }
    *out = p;
    return TP_OK;
}

static tp_status load_into(json_t *j, tk_pretok *parent, tp_error *err) {
    tk_pretok *c;
    tp_status st = load_one(j, &c, err);
    if (st != TP_OK) return st;
    size_t add = c->kind == P_SEQ ? c->n_subs : 1;
    tk_pretok **subs = realloc(parent->subs, (parent->n_subs + add) * sizeof *subs);
    if (!subs) {
        tk_pretok_free(c);
        return tp_fail(err, TP_NOMEM, "out of memory");
    }
    parent->subs = subs;
    if (c->kind == P_SEQ) {
        memcpy(subs + parent->n_subs, c->subs, c->n_subs * sizeof *subs);
        parent->n_subs += c->n_subs;
        c->n_subs = 0;
        tk_pretok_free(c);
    } else {
        subs[parent->n_subs++] = c;
    }
    return TP_OK;
}

tp_status tk_pretok_load(json_t *j, tk_pretok **out, tp_error *err) {
    return load_one(j, out, err);
}

void tk_pretok_bytelevel_override(tk_pretok *p, int add_prefix_space) {
    if (!p || add_prefix_space < 0) return;
    if (p->kind == P_BYTELEVEL) p->add_prefix_space = add_prefix_space;
    for (size_t i = 0; i < p->n_subs; i++)
        tk_pretok_bytelevel_override(p->subs[i], add_prefix_space);
}

/* ---- splitting ---------------------------------------------------------------------------- */

typedef struct span {
    size_t s, e;
    int m;
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
} spans;

static int spans_push(spans *a, size_t s, size_t e, int m) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        span *v = realloc(a->v, cap * sizeof *v);
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = (span){s, e, m};
    return 0;
}

static int emit(tk_pieces *out, const char *src, size_t s, size_t e, int first) {
    if (e <= s) return 0;
    return tk_pieces_push(out, src + s, e - s, -1, first && s == 0);
}

/* Applies a split behavior to a list of (offsets, is_match) covering src. */
static int apply_behavior(behavior b, const spans *m, const char *src, int first, tk_pieces *out) {
    size_t n = m->n;
    const span *v = m->v;
    switch (b) {
    case B_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!v[i].m && emit(out, src, v[i].s, v[i].e, first)) return -1;
        return 0;
    case B_ISOLATED:
        for (size_t i = 0; i < n; i++)
            if (emit(out, src, v[i].s, v[i].e, first)) return -1;
        return 0;
    case B_MERGED_PREV: {
        int have = 0, prev_m = 0;
        size_t ps = 0, pe = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].m && !prev_m && have) {
                pe = v[i].e;
            } else {
                if (have && emit(out, src, ps, pe, first)) return -1;
                ps = v[i].s;
                pe = v[i].e;
                have = 1;
            }
            prev_m = v[i].m;
        }
        return have ? emit(out, src, ps, pe, first) : 0;
    }
    case B_MERGED_NEXT: {
        /* A match merges into the following element when that one is not a match. */
        int carry = 0;
        size_t cs = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].m && i + 1 < n && !v[i + 1].m) {
                if (!carry) cs = v[i].s;
                carry = 1;
                /* consecutive matches: HF pushes the earlier one alone */
                continue;
            }
            size_t s = carry ? cs : v[i].s;
            carry = 0;
            if (emit(out, src, s, v[i].e, first)) return -1;
        }
        return 0;
    }
    case B_CONTIGUOUS: {
        int have = 0, prev_m = 0;
        size_t ps = 0, pe = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].m == prev_m && have) {
                pe = v[i].e;
            } else {
                if (have && emit(out, src, ps, pe, first)) return -1;
                ps = v[i].s;
                pe = v[i].e;
                have = 1;
            }
            prev_m = v[i].m;
        }
        return have ? emit(out, src, ps, pe, first) : 0;
    }
    }
    return -1;
}

typedef int (*char_pred)(uint32_t c, const tk_pretok *p);

static int pred_ws(uint32_t c, const tk_pretok *p) {
    (void)p;
    return tk_is_whitespace(c);
}
static int pred_bert_punct(uint32_t c, const tk_pretok *p) {
    (void)p;
    return tk_is_bert_punct(c);
}
static int pred_numeric(uint32_t c, const tk_pretok *p) {
    (void)p;
    return tk_is_numeric(c);
}
static int pred_char(uint32_t c, const tk_pretok *p) {
    return c == p->repl;
}

static int find_chars(const char *s, size_t n, char_pred f, const tk_pretok *p, spans *m) {
    m->n = 0;
    size_t last = 0;
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t c = tk_u8dec(s + i, &l);
        if (f(c, p)) {
            if (last < i && spans_push(m, last, i, 0)) return -1;
            if (spans_push(m, i, i + l, 1)) return -1;
            last = i + l;
        }
        i += l;
    }
    if (last < n && spans_push(m, last, n, 0)) return -1;
    return 0;
}

static int find_regex(const tk_regex *re, tk_ws *w, const char *s, size_t n, int invert, spans *m) {
    m->n = 0;
    size_t prev = 0, from = 0, ms, me;
    while (from <= n && tk_regex_next(re, w, s, n, from, &ms, &me)) {
        if (prev < ms && spans_push(m, prev, ms, invert)) return -1;
        if (spans_push(m, ms, me, !invert)) return -1;
        prev = me;
        if (me == ms) {
            if (ms >= n) break;
            from = ms + tk_u8len((unsigned char)s[ms]);
        } else {
            from = me;
        }
    }
    if (prev < n && spans_push(m, prev, n, invert)) return -1;
    return 0;
}

/* Whitespace: \w+|[^\w\s]+ (matches kept, the rest dropped). */
static int split_whitespace(const char *s, size_t n, int first, tk_pieces *out) {
    size_t i = 0;
    while (i < n) {
        size_t l;
        uint32_t c = tk_u8dec(s + i, &l);
        if (tk_is_whitespace(c)) {
            i += l;
            continue;
        }
        int word = tk_is_word_char(c);
        size_t st = i;
        i += l;
        while (i < n) {
            c = tk_u8dec(s + i, &l);
            if (tk_is_whitespace(c) || tk_is_word_char(c) != word) break;
            i += l;
        }
        if (emit(out, s, st, i, first)) return -1;
    }
    return 0;
}

static int bytelevel_map(const char *s, size_t n, tk_buf *o) {
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (tk_buf_add(o, tk_bytelevel_str_[b], tk_bytelevel_len_[b])) return -1;
    }
    return 0;
}

/* Splits one text piece into out. */
static int split_piece(const tk_pretok *p, const char *s, size_t n, int first, tk_pieces *out,
                       tk_ws *w, spans *m) {
    switch (p->kind) {
    case P_BERT: {
        /* whitespace (removed), then punctuation (isolated) inside each part */
        if (find_chars(s, n, pred_ws, p, m)) return -1;
        size_t cnt = m->n;
        for (size_t k = 0; k < cnt; k++) {
            if (m->v[k].m) continue;
            size_t a = m->v[k].s, e = m->v[k].e, last = a;
            for (size_t i = a; i < e;) {
                size_t l;
                uint32_t c = tk_u8dec(s + i, &l);
                if (tk_is_bert_punct(c)) {
                    if (emit(out, s, last, i, first) || emit(out, s, i, i + l, first)) return -1;
                    last = i + l;
                }
                i += l;
            }
            if (emit(out, s, last, e, first)) return -1;
        }
        return 0;
    }
    case P_WHITESPACE:
        return split_whitespace(s, n, first, out);
    case P_WHITESPACE_SPLIT:
        if (find_chars(s, n, pred_ws, p, m)) return -1;
        return apply_behavior(B_REMOVED, m, s, first, out);
    case P_CHAR_DELIM:
        if (find_chars(s, n, pred_char, p, m)) return -1;
        return apply_behavior(B_REMOVED, m, s, first, out);
    case P_PUNCT:
        if (find_chars(s, n, pred_bert_punct, p, m)) return -1;
        return apply_behavior(p->beh, m, s, first, out);
    case P_DIGITS:
        if (find_chars(s, n, pred_numeric, p, m)) return -1;
        return apply_behavior(p->individual_digits ? B_ISOLATED : B_CONTIGUOUS, m, s, first, out);
    case P_SPLIT:
        if (find_regex(&p->re, w, s, n, p->invert, m)) return -1;
        return apply_behavior(p->beh, m, s, first, out);
    case P_METASPACE: {
        tk_buf *t = &w->tmp2;
        t->len = 0;
        if (tk_buf_reserve(t, n + 4)) return -1;
        int prepend = 0;
        int starts =
            (n > 0 && s[0] == ' ') || (n >= p->repl_len && !memcmp(s, p->repl_s, p->repl_len));
        if (p->scheme == SCHEME_ALWAYS && !starts) prepend = 1;
        if (p->scheme == SCHEME_FIRST && !starts && first) prepend = 1;
        if (prepend && tk_buf_add(t, p->repl_s, p->repl_len)) return -1;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ' ') {
                if (tk_buf_add(t, p->repl_s, p->repl_len)) return -1;
            } else {
                size_t k = i;
                while (k < n && s[k] != ' ')
                    k++;
                if (tk_buf_add(t, s + i, k - i)) return -1;
                i = k - 1;
            }
        }
        if (!p->split) return emit(out, t->p, 0, t->len, first);
        if (find_chars(t->p, t->len, pred_char, p, m)) return -1;
        return apply_behavior(B_MERGED_NEXT, m, t->p, first, out);
    }
    case P_BYTELEVEL: {
        tk_buf *t = &w->tmp2;
        t->len = 0;
        if (tk_buf_reserve(t, n + 1)) return -1;
        if (p->add_prefix_space && (n == 0 || s[0] != ' ') && tk_buf_add(t, " ", 1)) return -1;
        if (tk_buf_add(t, s, n)) return -1;
        size_t start = out->n;
        if (p->use_regex) {
            if (find_regex(&p->re, w, t->p, t->len, 0, m) ||
                apply_behavior(B_ISOLATED, m, t->p, first, out))
                return -1;
        } else if (emit(out, t->p, 0, t->len, first)) {
            return -1;
        }
        /* Map the bytes of the new pieces in place (rewriting out's text tail). */
        size_t text_start = start < out->n ? out->v[start].off : out->text.len;
        size_t tail = out->text.len - text_start;
        tk_buf *raw = &w->tmp;
        raw->len = 0;
        if (tk_buf_add(raw, out->text.p + text_start, tail)) return -1;
        out->text.len = text_start;
        for (size_t k = start; k < out->n; k++) {
            size_t off = out->v[k].off - text_start, len = out->v[k].len;
            out->v[k].off = (uint32_t)out->text.len;
            if (bytelevel_map(raw->p + off, len, &out->text)) return -1;
            out->v[k].len = (uint32_t)(out->text.len - out->v[k].off);
        }
        return 0;
    }
    case P_SEQ:
        break;
    }
    return -1;
}

static int run_one(const tk_pretok *p, tk_pieces *in, tk_pieces *out, tk_ws *w, spans *m) {
    tk_pieces_reset(out);
    for (size_t i = 0; i < in->n; i++) {
        tk_piece pc = in->v[i];
        const char *s = in->text.p + pc.off;
        if (pc.id >= 0) {
            if (tk_pieces_push(out, s, pc.len, pc.id, pc.first)) return -1;
            continue;
        }
        if (split_piece(p, s, pc.len, pc.first, out, w, m)) return -1;
    }
    return 0;
}

int tk_pretok_run(const tk_pretok *p, tk_pieces *in, tk_pieces *out, tk_ws *w) {
    spans m = {0};
    int rc = 0;
    if (p->kind != P_SEQ) {
        rc = run_one(p, in, out, w, &m);
    } else if (p->n_subs == 0) {
        tk_pieces_reset(out);
        for (size_t i = 0; i < in->n && !rc; i++)
            rc = tk_pieces_push(out, in->text.p + in->v[i].off, in->v[i].len, in->v[i].id,
                                in->v[i].first);
    } else {
        /* ping-pong: in -> pp[2] -> in -> ... -> out (in is consumed) */
        tk_pieces *cur = in;
        for (size_t k = 0; k < p->n_subs && !rc; k++) {
            tk_pieces *dst = k + 1 == p->n_subs ? out : (k & 1) ? in : &w->pp[2];
            rc = run_one(p->subs[k], cur, dst, w, &m);
            cur = dst;
        }
    }
    free(m.v);
    return rc;
}
