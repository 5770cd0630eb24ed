/* Decoders: a list of token strings -> a list of strings, chained; the result is their
 * concatenation. Semantics of HF tokenizers' decode_chain for each type. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "tokenizer/tokenizer_internal.h"

typedef enum {
    D_WORDPIECE,
    D_BYTELEVEL,
    D_METASPACE,
    D_BPE,
    D_BYTEFALLBACK,
    D_FUSE,
    D_STRIP,
    D_REPLACE,
    D_SEQ,
} dec_kind;

struct tk_dec {
    dec_kind kind;
    char *a; /* prefix / suffix / replacement / pattern literal */
    size_t a_len;
    char *b; /* Replace content */
    size_t b_len;
    uint32_t cp; /* Strip content / Metaspace replacement */
    int cleanup, never, start, stop;
    tk_regex re;
    tk_dec **subs;
    size_t n_subs;
};

void tk_dec_free(tk_dec *d) {
    if (!d) return;
    free(d->a);
    free(d->b);
    tk_regex_free(&d->re);
    for (size_t i = 0; i < d->n_subs; i++)
        tk_dec_free(d->subs[i]);
    free(d->subs);
    free(d);
}

static char *jdup(json_t *v, size_t *len, const char *def) {
    const char *s = json_is_string(v) ? json_string_value(v) : def;
    size_t n = json_is_string(v) ? json_string_length(v) : (def ? strlen(def) : 0);
    if (!s) return NULL;
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    *len = n;
    return p;
}

static int one_cp(json_t *v, uint32_t *cp) {
    if (!json_is_string(v) || json_string_length(v) == 0) return 0;
    size_t l;
    *cp = tk_u8dec(json_string_value(v), &l);
    return l == json_string_length(v);
}

tp_status tk_dec_load(json_t *j, tk_dec **out, tp_error *err) {
    *out = NULL;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) return tp_fail(err, TP_FORMAT, "tokenizer.json: decoder without a type");
    tk_dec *d = calloc(1, sizeof *d);
    if (!d) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_status st = TP_OK;
    if (!strcmp(type, "WordPiece")) {
        d->kind = D_WORDPIECE;
        d->a = jdup(json_object_get(j, "prefix"), &d->a_len, "##");
        json_t *c = json_object_get(j, "cleanup");
        d->cleanup = json_is_boolean(c) ? json_is_true(c) : 1;
        if (!d->a) st = tp_fail(err, TP_NOMEM, "out of memory");
    } else if (!strcmp(type, "ByteLevel")) {
        d->kind = D_BYTELEVEL;
        tk_bytelevel_init();
    } else if (!strcmp(type, "Metaspace")) {
        d->kind = D_METASPACE;
        if (!one_cp(json_object_get(j, "replacement"), &d->cp))
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Metaspace decoder: bad replacement");
        const char *sc = json_string_value(json_object_get(j, "prepend_scheme"));
        if (sc)
            d->never = !strcmp(sc, "never");
        else
            d->never = !json_is_true(json_object_get(j, "add_prefix_space"));
    } else if (!strcmp(type, "BPEDecoder")) {
        d->kind = D_BPE;
        d->a = jdup(json_object_get(j, "suffix"), &d->a_len, "</w>");
        if (!d->a) st = tp_fail(err, TP_NOMEM, "out of memory");
    } else if (!strcmp(type, "ByteFallback")) {
        d->kind = D_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        d->kind = D_FUSE;
    } else if (!strcmp(type, "Strip")) {
        d->kind = D_STRIP;
        if (!one_cp(json_object_get(j, "content"), &d->cp))
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Strip decoder: bad content");
        d->start = (int)json_integer_value(json_object_get(j, "start"));
        d->stop = (int)json_integer_value(json_object_get(j, "stop"));
    } else if (!strcmp(type, "Replace")) {
        d->kind = D_REPLACE;
        json_t *pat = json_object_get(j, "pattern");
        json_t *ps = json_object_get(pat, "String"), *pr = json_object_get(pat, "Regex");
        d->b = jdup(json_object_get(j, "content"), &d->b_len, NULL);
        if (!d->b)
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Replace decoder without content");
        else if (json_is_string(ps)) {
            d->a = jdup(ps, &d->a_len, NULL);
            if (!d->a) st = tp_fail(err, TP_NOMEM, "out of memory");
        } else if (json_is_string(pr))
            st = tk_regex_compile(&d->re, json_string_value(pr), json_string_length(pr),
                                  "Replace decoder", err);
        else
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Replace decoder without a pattern");
    } else if (!strcmp(type, "Sequence")) {
        d->kind = D_SEQ;
        json_t *arr = json_object_get(j, "decoders");
        if (!json_is_array(arr)) {
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Sequence decoder without a list");
        } else {
            d->subs = calloc(json_array_size(arr) + 1, sizeof *d->subs);
            if (!d->subs) st = tp_fail(err, TP_NOMEM, "out of memory");
            size_t i;
            json_t *v;
            json_array_foreach(arr, i, v) {
                if (st != TP_OK) break;
                tk_dec *c;
                st = tk_dec_load(v, &c, err);
                if (st != TP_OK) break;
                if (c->kind != D_SEQ) {
                    d->subs[d->n_subs++] = c;
                    continue;
                }
                /* flatten a nested Sequence */
                tk_dec **subs = realloc(
                    d->subs, (json_array_size(arr) + d->n_subs + c->n_subs + 1) * sizeof *subs);
                if (!subs) {
                    tk_dec_free(c);
                    st = tp_fail(err, TP_NOMEM, "out of memory");
                    break;
                }
                d->subs = subs;
                memcpy(subs + d->n_subs, c->subs, c->n_subs * sizeof *subs);
                d->n_subs += c->n_subs;
                c->n_subs = 0;
                tk_dec_free(c);
            }
        }
    } else {
        st = tp_fail(err, TP_UNSUPPORTED, "tokenizer.json: unsupported decoder type '%.64s'", type);
    }
    if (st != TP_OK) {
        tk_dec_free(d);
        return st;
    }
    *out = d;
    return TP_OK;
}

/* ---- helpers ------------------------------------------------------------------------------ */

#define TOK(pl, i) ((pl)->text.p + (pl)->v[i].off)
#define TLEN(pl, i) ((size_t)(pl)->v[i].len)

/* Replace-all of a literal into out. */
static int replace_lit(const char *s, size_t n, const char *a, size_t an, const char *b, size_t bn,
                       tk_buf *out) {
    size_t pos = 0;
    if (an == 0) return tk_buf_add(out, s, n);
    while (pos < n) {
        const char *hit = memmem(s + pos, n - pos, a, an);
        if (!hit) break;
        size_t at = (size_t)(hit - s);
        if (tk_buf_add(out, s + pos, at - pos) || tk_buf_add(out, b, bn)) return -1;
        pos = at + an;
    }
    return tk_buf_add(out, s + pos, n - pos);
}

/* Rust String::from_utf8_lossy: each maximal invalid prefix becomes one U+FFFD. */
static int lossy_utf8(const unsigned char *s, size_t n, tk_buf *out) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            size_t k = i;
            while (k < n && s[k] < 0x80)
                k++;
            if (tk_buf_add(out, (const char *)s + i, k - i)) return -1;
            i = k;
            continue;
        }
        size_t w = (c >= 0xC2 && c <= 0xDF)   ? 2
                   : (c >= 0xE0 && c <= 0xEF) ? 3
                   : (c >= 0xF0 && c <= 0xF4) ? 4
                                              : 0;
        size_t k = 1;
        if (w) {
            unsigned lo = 0x80, hi = 0xBF;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
            else if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
            if (i + 1 < n && s[i + 1] >= lo && s[i + 1] <= hi) {
                k = 2;
                while (k < w && i + k < n && (s[i + k] & 0xC0) == 0x80)
                    k++;
            }
        }
        if (w && k == w) {
            if (tk_buf_add(out, (const char *)s + i, w)) return -1;
        } else if (tk_buf_add(out, "\xEF\xBF\xBD", 3)) {
            return -1;
        }
        i += k;
    }
    return 0;
}

static int push(tk_pieces *o, const char *s, size_t n) {
    return tk_pieces_push(o, s, n, -1, 0);
}

static const char *const CLEAN[][2] = {
    {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},
    {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
    {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
};

static int cleanup(const char *s, size_t n, tk_buf *a, tk_buf *b) {
    a->len = 0;
    if (tk_buf_add(a, s, n)) return -1;
    for (size_t r = 0; r < sizeof CLEAN / sizeof CLEAN[0]; r++) {
        b->len = 0;
        if (replace_lit(a->p, a->len, CLEAN[r][0], strlen(CLEAN[r][0]), CLEAN[r][1],
                        strlen(CLEAN[r][1]), b))
            return -1;
        tk_buf t = *a;
        *a = *b;
        *b = t;
    }
    return 0;
}

/* Runs one decoder: in -> out. */
static int run_one(const tk_dec *d, tk_pieces *in, tk_pieces *out) {
    tk_pieces_reset(out);
    size_t n = in->n;
    tk_buf t1 = {0}, t2 = {0};
    int rc = 0;
    switch (d->kind) {
    case D_WORDPIECE:
        for (size_t i = 0; i < n && !rc; i++) {
            const char *s = TOK(in, i);
            size_t l = TLEN(in, i);
            t2.len = 0;
            if (i != 0) {
                if (l >= d->a_len && !memcmp(s, d->a, d->a_len))
                    rc = tk_buf_add(&t2, s + d->a_len, l - d->a_len);
                else
                    rc = tk_buf_add(&t2, " ", 1) || tk_buf_add(&t2, s, l);
            } else {
                rc = tk_buf_add(&t2, s, l);
            }
            if (rc) break;
            if (d->cleanup) {
                tk_buf cur = {0};
                rc = tk_buf_add(&cur, t2.p, t2.len) || cleanup(cur.p, cur.len, &t1, &t2) ||
                     push(out, t1.p, t1.len);
                tk_buf_free(&cur);
            } else {
                rc = push(out, t2.p, t2.len);
            }
        }
        break;
    case D_BYTELEVEL:
        for (size_t i = 0; i < n && !rc; i++) {
            const char *s = TOK(in, i);
            size_t l = TLEN(in, i), mark = t1.len;
            for (size_t k = 0; k < l && !rc;) {
                size_t cl;
                int b = tk_bytelevel_byte(tk_u8dec(s + k, &cl));
                if (b < 0) {
                    t1.len = mark;
                    rc = tk_buf_add(&t1, s, l);
                    break;
                }
                char ch = (char)b;
                rc = tk_buf_add(&t1, &ch, 1);
                k += cl;
            }
        }
        if (!rc)
            rc = lossy_utf8((const unsigned char *)t1.p, t1.len, &t2) || push(out, t2.p, t2.len);
        break;
    case D_METASPACE:
        for (size_t i = 0; i < n && !rc; i++) {
            const char *s = TOK(in, i);
            size_t l = TLEN(in, i);
            t1.len = 0;
            for (size_t k = 0; k < l && !rc;) {
                size_t cl;
                uint32_t c = tk_u8dec(s + k, &cl);
                if (c == d->cp) {
                    if (!(i == 0 && !d->never)) rc = tk_buf_add(&t1, " ", 1);
                } else {
                    rc = tk_buf_add(&t1, s + k, cl);
                }
                k += cl;
            }
            if (!rc) rc = push(out, t1.p ? t1.p : "", t1.len);
        }
        break;
    case D_BPE:
        for (size_t i = 0; i < n && !rc; i++) {
            t1.len = 0;
            rc = replace_lit(TOK(in, i), TLEN(in, i), d->a, d->a_len, i + 1 == n ? "" : " ",
                             i + 1 == n ? 0 : 1, &t1) ||
                 push(out, t1.p ? t1.p : "", t1.len);
        }
        break;
    case D_BYTEFALLBACK: {
        size_t i = 0;
        while (i < n && !rc) {
            const char *s = TOK(in, i);
            size_t l = TLEN(in, i);
            int is_byte = l == 6 && !memcmp(s, "<0x", 3) && s[5] == '>';
            if (!is_byte) {
                rc = push(out, s, l);
                i++;
                continue;
            }
            t1.len = 0;
            size_t cnt = 0;
            while (i < n) {
                s = TOK(in, i);
                l = TLEN(in, i);
                if (!(l == 6 && !memcmp(s, "<0x", 3) && s[5] == '>')) break;
                char hex[3] = {s[3], s[4], 0};
                char *end;
                long v = strtol(hex, &end, 16);
                if (*end || hex[0] == '+' || hex[0] == '-' || hex[0] == ' ') break;
                char ch = (char)v;
                if ((rc = tk_buf_add(&t1, &ch, 1))) break;
                cnt++;
                i++;
            }
            if (rc) break;
            if (cnt == 0) { /* looked like a byte token but was not hex */
                rc = push(out, s, l);
                i++;
                continue;
            }
            if (tp_utf8_valid(t1.p, t1.len)) {
                rc = push(out, t1.p, t1.len);
            } else {
                for (size_t k = 0; k < cnt && !rc; k++)
                    rc = push(out, "\xEF\xBF\xBD", 3);
            }
        }
        break;
    }
    case D_FUSE:
        for (size_t i = 0; i < n && !rc; i++)
            rc = tk_buf_add(&t1, TOK(in, i), TLEN(in, i));
        if (!rc) rc = push(out, t1.p ? t1.p : "", t1.len);
        break;
    case D_STRIP:
        for (size_t i = 0; i < n && !rc; i++) {
            const char *s = TOK(in, i);
            size_t l = TLEN(in, i), a = 0, b = l, cl;
            for (int k = 0; k < d->start && a < l; k++) {
                if (tk_u8dec(s + a, &cl) != d->cp) break;
                a += cl;
            }
            for (int k = 0; k < d->stop && b > a; k++) {
                size_t q = b - 1;
                while (q > a && ((unsigned char)s[q] & 0xC0) == 0x80)
                    q--;
                if (tk_u8dec(s + q, &cl) != d->cp) break;
                b = q;
            }
            rc = push(out, s + a, b - a);
        }
        break;
    case D_REPLACE:
        for (size_t i = 0; i < n && !rc; i++) {
            const char *s = TOK(in, i);
            size_t l = TLEN(in, i);
            t1.len = 0;
            if (d->a) {
                rc = replace_lit(s, l, d->a, d->a_len, d->b, d->b_len, &t1);
            } else {
                tk_ws w;
                if (tk_ws_init(&w)) rc = -1;
                size_t pos = 0, from = 0, ms, me;
                while (!rc && tk_regex_next(&d->re, &w, s, l, from, &ms, &me)) {
                    rc = tk_buf_add(&t1, s + pos, ms - pos) || tk_buf_add(&t1, d->b, d->b_len);
                    pos = me;
                    if (me == ms) {
                        if (ms >= l) break;
                        size_t cl2 = tk_u8len((unsigned char)s[ms]);
                        rc = rc || tk_buf_add(&t1, s + ms, cl2);
                        pos = from = ms + cl2;
                    } else {
                        from = me;
                    }
                }
                if (!rc) rc = tk_buf_add(&t1, s + pos, l - pos);
                tk_ws_free(&w);
            }
            if (!rc) rc = push(out, t1.p ? t1.p : "", t1.len);
        }
        break;
    case D_SEQ:
        break;
    }
    tk_buf_free(&t1);
    tk_buf_free(&t2);
    return rc ? -1 : 0;
}

int tk_dec_run(const tk_dec *d, tk_pieces *toks, tk_buf *out, tk_pieces *tmp) {
    tk_pieces *cur = toks;
    if (d) {
        const tk_dec *const *list = d->kind == D_SEQ ? (const tk_dec *const *)d->subs : &d;
        size_t cnt = d->kind == D_SEQ ? d->n_subs : 1;
        for (size_t i = 0; i < cnt; i++) {
            tk_pieces *dst = cur == toks ? tmp : toks;
            if (run_one(list[i], cur, dst)) return -1;
            cur = dst;
        }
    }
    out->len = 0;
    if (tk_buf_reserve(out, 1)) return -1;
    out->p[0] = 0;
    for (size_t i = 0; i < cur->n; i++) {
        if (!d && i > 0 && tk_buf_add(out, " ", 1)) return -1;
        if (tk_buf_add(out, TOK(cur, i), TLEN(cur, i))) return -1;
    }
    return 0;
}
