/* Small helpers: whole-file reads, UTF-8 validation, checked allocation. */
#ifndef TP_CORE_UTIL_H
#define TP_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "tidepool.h"

/* Reads a whole file (up to max_bytes) into a malloc'd NUL-terminated buffer. */
tp_status tp_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len,
                       tp_error *err);
int tp_file_exists(const char *path);
/* Joins dir and name into buf (returns 0 when it does not fit). */
int tp_path_join(char *buf, size_t cap, const char *dir, const char *name);
/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int tp_utf8_valid(const char *s, size_t n);

void *tp_xcalloc(size_t n, size_t size); /* calloc that checks n*size overflow */

#endif
