#include "server/sbuf.h"

#include "core/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tp_sbuf_init(tp_sbuf *b) {
    memset(b, 0, sizeof *b);
}

void tp_sbuf_free(tp_sbuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

char *tp_sbuf_take(tp_sbuf *b, size_t *len) {
    char *d = b->oom ? NULL : b->data;
    if (len) *len = d ? b->len : 0;
    if (!d) free(b->data);
    memset(b, 0, sizeof *b);
    return d;
}

static int reserve(tp_sbuf *b, size_t extra) {
    if (b->oom) return 0;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = 1;
        return 0;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = 1;
        return 0;
    }
    b->data = d;
    b->cap = cap;
    return 1;
}

void tp_sbuf_put(tp_sbuf *b, const char *s, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void tp_sbuf_puts(tp_sbuf *b, const char *s) {
    tp_sbuf_put(b, s, strlen(s));
}

void tp_sbuf_printf(tp_sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        tp_sbuf_put(b, tmp, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tp_sbuf_float(tp_sbuf *b, float x) {
    if (!isfinite(x)) {
        tp_sbuf_put(b, "null", 4);
        return;
    }
    char tmp[32];
    int n = 0;
    for (int p = 6; p <= 9; p++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", p, (double)x);
        if (p == 9 || strtof(tmp, NULL) == x) break;
    }
    tp_sbuf_put(b, tmp, (size_t)n);
}

void tp_sbuf_floats(tp_sbuf *b, const float *x, size_t n) {
    tp_sbuf_put(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) tp_sbuf_put(b, ",", 1);
        tp_sbuf_float(b, x[i]);
    }
    tp_sbuf_put(b, "]", 1);
}

void tp_sbuf_json_str(tp_sbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (!reserve(b, n + 2)) return;
    tp_sbuf_put(b, "\"", 1);
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20 || c == 0x7f) {
            u[0] = '\\';
            u[1] = 'u';
            u[2] = '0';
            u[3] = '0';
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
        } else if (c >= 0x80) {
            /* valid UTF-8 passes through; an invalid byte becomes U+FFFD so the output is
             * always valid JSON (messages may quote parts of a malformed request) */
            size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (len > 1 && i + len <= n && tp_utf8_valid(s + i, len)) {
                i += len - 1;
                continue;
            }
            esc = "\\ufffd";
        } else
            continue;
        tp_sbuf_put(b, s + run, i - run);
        if (esc)
            tp_sbuf_puts(b, esc);
        else
            tp_sbuf_put(b, u, 6);
        run = i + 1;
    }
    tp_sbuf_put(b, s + run, n - run);
    tp_sbuf_put(b, "\"", 1);
}

void tp_sbuf_base64(tp_sbuf *b, const void *data, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    size_t out = (n + 2) / 3 * 4;
    if (!reserve(b, out)) return;
    char *o = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = '=';
    }
    b->len += out;
    b->data[b->len] = 0;
}

void tp_sbuf_floats_base64(tp_sbuf *b, const float *x, size_t n) {
    /* Serialize explicitly as little-endian so the wire format does not depend on the host. */
    if (n > SIZE_MAX / 4) {
        b->oom = 1;
        return;
    }
    unsigned char *tmp = malloc(n * 4 + 1);
    if (!tmp) {
        b->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        tmp[4 * i] = (unsigned char)u;
        tmp[4 * i + 1] = (unsigned char)(u >> 8);
        tmp[4 * i + 2] = (unsigned char)(u >> 16);
        tmp[4 * i + 3] = (unsigned char)(u >> 24);
    }
    tp_sbuf_put(b, "\"", 1);
    tp_sbuf_base64(b, tmp, n * 4);
    tp_sbuf_put(b, "\"", 1);
    free(tmp);
}
