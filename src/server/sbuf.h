/* A growable byte buffer for building response bodies. On allocation failure the buffer goes
 * into a sticky error state (oom = 1) and later appends do nothing, so builders check once at
 * the end. */
#ifndef TP_SERVER_SBUF_H
#define TP_SERVER_SBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct tp_sbuf {
    char *data; /* NUL-terminated while not oom */
    size_t len;
    size_t cap;
    int oom;
} tp_sbuf;

void tp_sbuf_init(tp_sbuf *b);
void tp_sbuf_free(tp_sbuf *b);
/* Hands the malloc'd data to the caller (NULL when oom) and resets the buffer. */
char *tp_sbuf_take(tp_sbuf *b, size_t *len);

void tp_sbuf_put(tp_sbuf *b, const char *s, size_t n);
void tp_sbuf_puts(tp_sbuf *b, const char *s);
void tp_sbuf_printf(tp_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Shortest decimal that reads back as the same float32; NaN/Inf as null. */
void tp_sbuf_float(tp_sbuf *b, float x);
/* [x0,x1,...] */
void tp_sbuf_floats(tp_sbuf *b, const float *x, size_t n);
/* A JSON string literal with escapes; s[0..n) must be UTF-8. */
void tp_sbuf_json_str(tp_sbuf *b, const char *s, size_t n);
/* Standard base64 (RFC 4648, with padding) of n bytes. */
void tp_sbuf_base64(tp_sbuf *b, const void *data, size_t n);
/* Base64 of n floats as little-endian float32 (OpenAI's encoding_format=base64). */
void tp_sbuf_floats_base64(tp_sbuf *b, const float *x, size_t n);

#endif
