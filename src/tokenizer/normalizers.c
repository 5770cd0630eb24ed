/* Normalizers: string -> string transforms run on the text between added tokens. Semantics follow
 * HF tokenizers (offsets are not tracked: tidepool only needs ids). Nested Sequences are flattened
 * at load so a run needs only two ping-pong buffers. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/tokenizer_internal.h"

typedef enum {
    N_BERT,
    N_NFC,
    N_NFD,
    N_NFKC,
    N_NFKD,
    N_LOWER,
    N_STRIP_ACCENTS,
    N_STRIP,
    N_REPLACE,
    N_PREPEND,
    N_PRECOMPILED,
    N_BYTELEVEL,
    N_SEQ,
} norm_kind;

struct tk_norm {
    norm_kind kind;
    int clean_text, chinese, strip_accents,
        lowercase; /* Bert; strip_accents -1: follows lowercase */
    int strip_left, strip_right;
    tk_regex re; /* Replace (regex) */
    char *lit;   /* Replace (string) / Prepend */
    size_t lit_len;
    char *content; /* Replace */
    size_t content_len;
    tk_precompiled *pc;
    tk_norm **subs;
    size_t n_subs;
};

void tk_norm_free(tk_norm *n) {
    if (!n) return;
    tk_regex_free(&n->re);
    free(n->lit);
    free(n->content);
    tk_precompiled_free(n->pc);
    for (size_t i = 0; i < n->n_subs; i++)
        tk_norm_free(n->subs[i]);
    free(n->subs);
    free(n);
}

static int jbool(json_t *o, const char *k, int def) {
    json_t *v = json_object_get(o, k);
    if (json_is_boolean(v)) return json_is_true(v);
    return def;
}

static char *jstrdup(json_t *v, size_t *len) {
    if (!json_is_string(v)) return NULL;
    size_t n = json_string_length(v);
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, json_string_value(v), n);
    p[n] = 0;
    if (len) *len = n;
    return p;
}

/* Appends the flattened components of `j` to parent->subs. */
static tp_status load_into(json_t *j, tk_norm *parent, tp_error *err);

static tp_status load_one(json_t *j, tk_norm **out, tp_error *err) {
    *out = NULL;
    if (!json_is_object(j))
        return tp_fail(err, TP_FORMAT, "tokenizer.json: normalizer is not an object");
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) return tp_fail(err, TP_FORMAT, "tokenizer.json: normalizer without a type");
    tk_norm *n = calloc(1, sizeof *n);
    if (!n) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_status st = TP_OK;
    if (!strcmp(type, "BertNormalizer")) {
        n->kind = N_BERT;
        n->clean_text = jbool(j, "clean_text", 1);
        n->chinese = jbool(j, "handle_chinese_chars", 1);
        n->lowercase = jbool(j, "lowercase", 1);
        json_t *sa = json_object_get(j, "strip_accents");
        n->strip_accents = json_is_boolean(sa) ? json_is_true(sa) : -1;
    } else if (!strcmp(type, "NFC")) {
        n->kind = N_NFC;
    } else if (!strcmp(type, "NFD")) {
        n->kind = N_NFD;
    } else if (!strcmp(type, "NFKC")) {
        n->kind = N_NFKC;
    } else if (!strcmp(type, "NFKD")) {
        n->kind = N_NFKD;
    } else if (!strcmp(type, "Lowercase")) {
        n->kind = N_LOWER;
    } else if (!strcmp(type, "StripAccents")) {
        n->kind = N_STRIP_ACCENTS;
    } else if (!strcmp(type, "Strip")) {
        n->kind = N_STRIP;
        n->strip_left = jbool(j, "strip_left", 1);
        n->strip_right = jbool(j, "strip_right", 1);
    } else if (!strcmp(type, "Replace")) {
        n->kind = N_REPLACE;
        json_t *pat = json_object_get(j, "pattern");
        json_t *ps = json_object_get(pat, "String"), *pr = json_object_get(pat, "Regex");
        n->content = jstrdup(json_object_get(j, "content"), &n->content_len);
        if (!n->content) {
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Replace normalizer without content");
        } else if (json_is_string(ps)) {
            n->lit = jstrdup(ps, &n->lit_len);
            if (!n->lit) st = tp_fail(err, TP_NOMEM, "out of memory");
        } else if (json_is_string(pr)) {
            st = tk_regex_compile(&n->re, json_string_value(pr), json_string_length(pr),
                                  "Replace normalizer", err);
        } else {
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Replace normalizer without a pattern");
        }
    } else if (!strcmp(type, "Prepend")) {
        n->kind = N_PREPEND;
        n->lit = jstrdup(json_object_get(j, "prepend"), &n->lit_len);
        if (!n->lit) st = tp_fail(err, TP_FORMAT, "tokenizer.json: Prepend without 'prepend'");
    } else if (!strcmp(type, "Precompiled")) {
        n->kind = N_PRECOMPILED;
        json_t *cm = json_object_get(j, "precompiled_charsmap");
        if (json_is_string(cm) && json_string_length(cm) > 0)
            st = tk_precompiled_load(json_string_value(cm), json_string_length(cm), &n->pc, err);
    } else if (!strcmp(type, "ByteLevel")) {
        n->kind = N_BYTELEVEL;
        tk_bytelevel_init();
    } else if (!strcmp(type, "Sequence")) {
        n->kind = N_SEQ;
        json_t *arr = json_object_get(j, "normalizers");
        if (!json_is_array(arr)) {
            st = tp_fail(err, TP_FORMAT, "tokenizer.json: Sequence normalizer without a list");
        } else {
            size_t i;
            json_t *v;
            json_array_foreach(arr, i, v) {
                if ((st = load_into(v, n, err)) != TP_OK) break;
            }
        }
    } else {
        st = tp_fail(err, TP_UNSUPPORTED, "tokenizer.json: unsupported normalizer type '%.64s'",
                     type);
    }
    if (st != TP_OK) {
        tk_norm_free(n);
        return st;
    }
    *out = n;
    return TP_OK;
}

static tp_status load_into(json_t *j, tk_norm *parent, tp_error *err) {
    tk_norm *c;
    tp_status st = load_one(j, &c, err);
    if (st != TP_OK) return st;
    size_t add = c->kind == N_SEQ ? c->n_subs : 1;
    tk_norm **subs = realloc(parent->subs, (parent->n_subs + add) * sizeof *subs);
    if (!subs) {
        tk_norm_free(c);
        return tp_fail(err, TP_NOMEM, "out of memory");
    }
    parent->subs = subs;
    if (c->kind == N_SEQ) {
        memcpy(subs + parent->n_subs, c->subs, c->n_subs * sizeof *subs);
        parent->n_subs += c->n_subs;
        c->n_subs = 0;
        tk_norm_free(c);
    } else {
        subs[parent->n_subs++] = c;
    }
    return TP_OK;
}

tp_status tk_norm_load(json_t *j, tk_norm **out, tp_error *err) {
    return load_one(j, out, err);
}

void tk_norm_bert_override(tk_norm *nm, int lowercase, int strip_accents, int chinese) {
    if (!nm) return;
    if (nm->kind == N_SEQ) {
        for (size_t i = 0; i < nm->n_subs; i++)
            tk_norm_bert_override(nm->subs[i], lowercase, strip_accents, chinese);
        return;
    }
    if (nm->kind != N_BERT) return;
    if (lowercase >= 0) nm->lowercase = lowercase;
    if (strip_accents >= -1 && strip_accents != -2) nm->strip_accents = strip_accents;
    if (chinese >= 0) nm->chinese = chinese;
}

/* ---- runs --------------------------------------------------------------------------------- */

/* Accent stripping (NFD, drop Mn) and lowercasing of one char. */
static int bert_char(const tk_norm *nm, int strip, uint32_t c, tk_buf *out) {
    if (c < 0x80) {
        char ch = (char)c;
        if (nm->lowercase && ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        return tk_buf_add(out, &ch, 1);
    }
    if (strip) {
        utf8proc_int32_t d[32];
        int bc = 0;
        utf8proc_ssize_t k =
            utf8proc_decompose_char((utf8proc_int32_t)c, d, 32, UTF8PROC_DECOMPOSE, &bc);
        if (k < 0 || k > 32) {
            d[0] = (utf8proc_int32_t)c;
            k = 1;
        }
        for (utf8proc_ssize_t q = 0; q < k; q++) {
            uint32_t e = (uint32_t)d[q];
            if (tk_is_mark_nonspacing(e)) continue;
            if (nm->lowercase ? tk_lower_cp(out, e) : tk_buf_addcp(out, e)) return -1;
        }
        return 0;
    }
    return nm->lowercase ? tk_lower_cp(out, c) : tk_buf_addcp(out, c);
}

static int run_bert(const tk_norm *nm, const char *s, size_t n, tk_buf *out) {
    int strip = nm->strip_accents < 0 ? nm->lowercase : nm->strip_accents;
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t c = tk_u8dec(s + i, &l);
        i += l;
        if (nm->clean_text) {
            if (c == 0 || c == 0xFFFD || tk_is_control(c)) continue;
            if (c == '\t' || c == '\n' || c == '\r' || tk_is_whitespace(c)) c = ' ';
        }
        int cjk = nm->chinese && c >= 0x3400 && tk_is_cjk(c);
        if (cjk && tk_buf_add(out, " ", 1)) return -1;
        if (bert_char(nm, strip, c, out)) return -1;
        if (cjk && tk_buf_add(out, " ", 1)) return -1;
    }
    return 0;
}

static int all_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}

static int run_nf(norm_kind k, const char *s, size_t n, tk_buf *out) {
    if (all_ascii(s, n)) return tk_buf_add(out, s, n);
    int opt = UTF8PROC_STABLE;
    switch (k) {
    case N_NFC:
        opt |= UTF8PROC_COMPOSE;
        break;
    case N_NFD:
        opt |= UTF8PROC_DECOMPOSE;
        break;
    case N_NFKC:
        opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
        break;
    default:
        opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
        break;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst,
                                      (utf8proc_option_t)opt);
    if (r < 0) {
        free(dst);
        return tk_buf_add(out, s, n); /* cannot happen on valid UTF-8 */
    }
    int rc = tk_buf_add(out, (const char *)dst, (size_t)r);
    free(dst);
    return rc;
}

static int run_replace(const tk_norm *nm, const char *s, size_t n, tk_buf *out, tk_ws *w) {
    size_t pos = 0;
    if (nm->lit) {
        if (nm->lit_len == 0) return tk_buf_add(out, s, n);
        while (pos < n) {
            const char *hit = memmem(s + pos, n - pos, nm->lit, nm->lit_len);
            if (!hit) break;
            size_t at = (size_t)(hit - s);
            if (tk_buf_add(out, s + pos, at - pos) || tk_buf_add(out, nm->content, nm->content_len))
                return -1;
            pos = at + nm->lit_len;
        }
        return tk_buf_add(out, s + pos, n - pos);
    }
    size_t from = 0, ms, me;
    while (from <= n && tk_regex_next(&nm->re, w, s, n, from, &ms, &me)) {
        if (tk_buf_add(out, s + pos, ms - pos) || tk_buf_add(out, nm->content, nm->content_len))
            return -1;
        pos = me;
        if (me == ms) {
            if (ms >= n) break;
            size_t l = tk_u8len((unsigned char)s[ms]);
            if (tk_buf_add(out, s + ms, l)) return -1;
            pos = ms + l;
            from = pos;
        } else {
            from = me;
        }
    }
    return tk_buf_add(out, s + pos, n - pos);
}

/* Whether the first char of s keeps an alignment starting at its original offset through this
 * normalizer (HF NormalizedString alignments). Metaspace prepend_scheme "first" depends on it:
 * a removed first char, or a multi-char match replaced at the start, moves the start away. */
static int first_survives(const tk_norm *nm, const char *s, size_t n, tk_ws *w) {
    size_t l;
    uint32_t c = tk_u8dec(s, &l);
    switch (nm->kind) {
    case N_BERT: {
        if (nm->clean_text && (c == 0 || c == 0xFFFD || tk_is_control(c))) return 0;
        int strip = nm->strip_accents < 0 ? nm->lowercase : nm->strip_accents;
        if (!strip || c < 0x300) return 1;
        utf8proc_int32_t d[32];
        int bc = 0;
        utf8proc_ssize_t k =
            utf8proc_decompose_char((utf8proc_int32_t)c, d, 32, UTF8PROC_DECOMPOSE, &bc);
        for (utf8proc_ssize_t q = 0; q < k && q < 32; q++)
            if (!tk_is_mark_nonspacing((uint32_t)d[q])) return 1;
        return k <= 0;
    }
    case N_STRIP_ACCENTS:
        return !tk_is_mark(c);
    case N_STRIP:
        return !(nm->strip_left && tk_is_whitespace(c));
    case N_REPLACE: {
        size_t ms = 0, me = 0;
        if (nm->lit) {
            if (nm->lit_len == 0 || n < nm->lit_len || memcmp(s, nm->lit, nm->lit_len)) return 1;
            me = nm->lit_len;
        } else if (!tk_regex_next(&nm->re, w, s, n, 0, &ms, &me) || ms != 0 || me == 0) {
            return 1;
        }
        return nm->content_len > 0 && me == l;
    }
    case N_PRECOMPILED:
        return !nm->pc || !tk_precompiled_drops_first(nm->pc, s, n);
    default:
        return 1;
    }
}

static int run_one(const tk_norm *nm, const char *s, size_t n, tk_buf *out, tk_ws *w) {
    switch (nm->kind) {
    case N_BERT:
        return run_bert(nm, s, n, out);
    case N_NFC:
    case N_NFD:
    case N_NFKC:
    case N_NFKD:
        return run_nf(nm->kind, s, n, out);
    case N_LOWER:
        for (size_t i = 0; i < n;) {
            size_t l;
            uint32_t c = tk_u8dec(s + i, &l);
            i += l;
            if (tk_lower_cp(out, c)) return -1;
        }
        return 0;
    case N_STRIP_ACCENTS:
        for (size_t i = 0; i < n;) {
            size_t l;
            uint32_t c = tk_u8dec(s + i, &l);
            if (!tk_is_mark(c) && tk_buf_add(out, s + i, l)) return -1;
            i += l;
        }
        return 0;
    case N_STRIP: {
        size_t a = 0, b = n, l;
        if (nm->strip_left)
            while (a < b && tk_is_whitespace(tk_u8dec(s + a, &l)))
                a += l;
        if (nm->strip_right)
            while (b > a) {
                size_t k = b - 1;
                while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80)
                    k--;
                if (!tk_is_whitespace(tk_u8dec(s + k, &l))) break;
                b = k;
            }
        return tk_buf_add(out, s + a, b - a);
    }
    case N_REPLACE:
        return run_replace(nm, s, n, out, w);
    case N_PREPEND:
        if (n == 0) return 0;
        return tk_buf_add(out, nm->lit, nm->lit_len) || tk_buf_add(out, s, n) ? -1 : 0;
    case N_PRECOMPILED:
        if (!nm->pc) return tk_buf_add(out, s, n);
        return tk_precompiled_run(nm->pc, s, n, out);
    case N_BYTELEVEL:
        for (size_t i = 0; i < n; i++) {
            unsigned char b = (unsigned char)s[i];
            if (tk_buf_add(out, tk_bytelevel_str_[b], tk_bytelevel_len_[b])) return -1;
        }
        return 0;
    case N_SEQ:
        break;
    }
    return -1;
}

int tk_norm_run(const tk_norm *nm, const char *s, size_t n, tk_buf *out, tk_ws *w, int *lead) {
    out->len = 0;
    if (tk_buf_reserve(out, n)) return -1;
    out->p[0] = 0;
    if (!nm) return tk_buf_add(out, s, n);
    if (nm->kind != N_SEQ) {
        if (lead && *lead && n && !first_survives(nm, s, n, w)) *lead = 0;
        return run_one(nm, s, n, out, w);
    }
    if (nm->n_subs == 0) return tk_buf_add(out, s, n);
    const char *cur = s;
    size_t cur_n = n;
    for (size_t i = 0; i < nm->n_subs; i++) {
        tk_buf *dst = i + 1 == nm->n_subs ? out : &w->nb[i & 1];
        dst->len = 0;
        if (tk_buf_reserve(dst, cur_n)) return -1;
        dst->p[0] = 0;
        if (lead && *lead && cur_n && !first_survives(nm->subs[i], cur, cur_n, w)) *lead = 0;
        if (run_one(nm->subs[i], cur, cur_n, dst, w)) return -1;
        cur = dst->p;
        cur_n = dst->len;
    }
    return 0;
}
