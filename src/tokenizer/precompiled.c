/* SentencePiece "precompiled_charsmap" normalizer.
 *
 * Blob layout (after base64): u32 LE trie_size (bytes) | trie units (u32 LE, darts-clone double
 * array) | NUL-separated replacement strings. A trie value is an offset into the strings.
 * Like HF tokenizers, the text is walked by extended grapheme clusters: a cluster shorter than 6
 * bytes is looked up whole, otherwise (or when not found) char by char; the first (shortest)
 * matching prefix of a chunk gives its replacement. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/tokenizer_internal.h"

struct tk_precompiled {
    uint32_t *units;
    size_t n_units;
    char *norm;
    size_t norm_len;
};

static int b64val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

tp_status tk_precompiled_load(const char *b64, size_t n, tk_precompiled **out, tp_error *err) {
    *out = NULL;
    unsigned char *raw = malloc(n / 4 * 3 + 4);
    if (!raw) return tp_fail(err, TP_NOMEM, "out of memory");
    size_t len = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b64[i];
        if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
        int v = b64val(c);
        if (v < 0) {
            free(raw);
            return tp_fail(err, TP_FORMAT, "tokenizer.json: Precompiled: bad base64");
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[len++] = (unsigned char)(acc >> bits);
        }
    }
    if (len < 4) {
        free(raw);
        return tp_fail(err, TP_FORMAT, "tokenizer.json: Precompiled: charsmap too short");
    }
    uint32_t tsize =
        (uint32_t)raw[0] | (uint32_t)raw[1] << 8 | (uint32_t)raw[2] << 16 | (uint32_t)raw[3] << 24;
    if (tsize % 4 || (size_t)tsize > len - 4 || tsize == 0) {
        free(raw);
        return tp_fail(err, TP_FORMAT, "tokenizer.json: Precompiled: bad trie size");
    }
    tk_precompiled *p = calloc(1, sizeof *p);
    if (!p) {
        free(raw);
        return tp_fail(err, TP_NOMEM, "out of memory");
    }
    p->n_units = tsize / 4;
    p->units = malloc(tsize);
    p->norm_len = len - 4 - tsize;
    p->norm = malloc(p->norm_len + 1);
    if (!p->units || !p->norm) {
        free(raw);
        tk_precompiled_free(p);
        return tp_fail(err, TP_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < p->n_units; i++) {
        const unsigned char *u = raw + 4 + i * 4;
        p->units[i] =
            (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    memcpy(p->norm, raw + 4 + tsize, p->norm_len);
    p->norm[p->norm_len] = 0;
    free(raw);
    *out = p;
    return TP_OK;
}

void tk_precompiled_free(tk_precompiled *p) {
    if (!p) return;
    free(p->units);
    free(p->norm);
    free(p);
}

static inline size_t unit_offset(uint32_t u) {
    return (size_t)((u >> 10) << ((u & (1u << 9)) >> 6));
}

/* First (shortest) prefix of key that is in the trie: returns its value or -1. */
static long first_prefix(const tk_precompiled *p, const char *key, size_t n) {
    size_t pos = 0;
    uint32_t unit = p->units[0];
    pos ^= unit_offset(unit);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c == 0) break;
        pos ^= c;
        if (pos >= p->n_units) return -1;
        unit = p->units[pos];
        if ((unit & ((1u << 31) | 0xFFu)) != c) return -1;
        pos ^= unit_offset(unit);
        if (pos >= p->n_units) return -1;
        if ((unit >> 8) & 1) return (long)(p->units[pos] & ((1u << 31) - 1));
    }
    return -1;
}

/* Appends the replacement of chunk when the trie has one; returns 1 if replaced, -1 on nomem. */
static int transform(const tk_precompiled *p, const char *s, size_t n, tk_buf *out) {
    long v = first_prefix(p, s, n);
    if (v < 0 || (size_t)v >= p->norm_len) return 0;
    const char *r = p->norm + v;
    return tk_buf_add(out, r, strlen(r)) ? -1 : 1;
}

static size_t first_grapheme(const char *s, size_t n) {
    size_t l;
    utf8proc_int32_t state = 0;
    uint32_t prev = tk_u8dec(s, &l);
    size_t e = l;
    while (e < n) {
        uint32_t c = tk_u8dec(s + e, &l);
        if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)c, &state))
            break;
        prev = c;
        e += l;
    }
    return e;
}

int tk_precompiled_drops_first(const tk_precompiled *p, const char *s, size_t n) {
    size_t e = first_grapheme(s, n);
    long v = e < 6 ? first_prefix(p, s, e) : -1;
    if (v < 0) v = first_prefix(p, s, tk_u8len((unsigned char)s[0]));
    return v >= 0 && (size_t)v < p->norm_len && p->norm[v] == 0;
}

int tk_precompiled_run(const tk_precompiled *p, const char *s, size_t n, tk_buf *out) {
    size_t i = 0;
    while (i < n) {
        /* One extended grapheme cluster [i, e). */
        size_t l;
        utf8proc_int32_t state = 0;
        uint32_t prev = tk_u8dec(s + i, &l);
        size_t e = i + l;
        while (e < n) {
            uint32_t c = tk_u8dec(s + e, &l);
            if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)c,
                                                 &state))
                break;
            prev = c;
            e += l;
        }
        if (e - i < 6) {
            int r = transform(p, s + i, e - i, out);
            if (r < 0) return -1;
            if (r) {
                i = e;
                continue;
            }
        }
        while (i < e) {
            size_t cl = tk_u8len((unsigned char)s[i]);
            int r = transform(p, s + i, cl, out);
            if (r < 0) return -1;
            if (!r && tk_buf_add(out, s + i, cl)) return -1;
            i += cl;
        }
    }
    return 0;
}
